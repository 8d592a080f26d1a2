"""Exporting a network to ONNX or TorchScript, the shared kernel: the bytes, the parity check
and the preprocessing spec written beside them.

Only the network is exported: the preprocessing (imputation, scaling, vocabularies) and the
output post-processing (softmax and class labels, target or per-series de-scaling, inverse
transforms) stay outside the graph, spelled out in a JSON file written next to it
(`<PATH>.preprocessing.json`, also embedded in an ONNX file's metadata) whose
`consumer_steps` say exactly what a consumer must apply. Before anything is written, the
exported network runs on sample inputs (with onnxruntime, or torch.jit.load) and must match
the PyTorch network to within `PARITY_TOLERANCE` (times the largest output when that exceeds
1); otherwise nothing is written (exit code 5).

What the graph is (its inputs, sample, reference outputs and consumer steps) belongs to each
domain: `nncli.tabular.export` and `nncli.forecasting.export` build an `ExportGraph`;
`nncli.api.export_model` picks one and hands it to `write_export`.

Light at import (the CLI reads `ExportOptions` when it starts): torch only inside functions.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.data.loading import CsvOptions
from nncli.errors import NncliError, QualityGateError, UsageError
from nncli.options import AtLeast, OneOf, check_options, option
from nncli.reporting import Reporter

if TYPE_CHECKING:
    import torch
    from torch import nn

FORMATS = ("onnx", "torchscript")
SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt"}
DEFAULT_OPSET = 17
MIN_OPSET = 17
PARITY_TOLERANCE = 1e-5
PARITY_ROWS = 256
EXPORT_FORMAT = "nncli-export"
EXPORT_FORMAT_VERSION = 1
ONNX_METADATA_KEY = "nncli.preprocessing"


@dataclass
class ExportOptions:
    """What to export and how; every field is a `nncli export` option."""

    format: str = option(
        "onnx",
        help="onnx (needs the onnx extra) or torchscript.",
        short="-f",
        check=OneOf(FORMATS),
        parse=str.lower,
    )
    output: Path | None = option(
        None,
        help="File to write (default: the model's name with .onnx or .pt); the "
        "preprocessing spec goes to <file>.preprocessing.json.",
        short="-o",
        hidden_default=True,
    )
    data: Path | None = option(
        None,
        help="CSV whose first 256 rows (or windows) make the parity sample (default: "
        "random valid inputs).",
        hidden_default=True,
    )
    opset: int = option(DEFAULT_OPSET, help="ONNX opset (at least 17).", check=AtLeast(MIN_OPSET))
    csv: CsvOptions = field(default_factory=CsvOptions)

    def validate(self) -> None:
        """Reject impossible settings before any file is read."""
        check_options(self)


@dataclass
class Parity:
    """How closely the exported network matched the PyTorch one."""

    max_abs_diff: float
    rows: int
    source: str  # "data" (encoded rows / windows of --data) or "random" (valid random inputs)
    tolerance: float = PARITY_TOLERANCE  # 1e-5 × max(1, largest |output|)
    runtime: str = ""


@dataclass
class ExportReport:
    """The outcome of `export_model`: the files written and the parity check."""

    format: str
    path: Path
    preprocessing_path: Path
    model_id: str
    kind: str
    exporter: str
    opset: int | None
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    parity: Parity
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (paths as text)."""
        document = asdict(self)
        document["path"] = str(self.path)
        document["preprocessing_path"] = str(self.preprocessing_path)
        return document


@dataclass
class ExportGraph:
    """A module to export, its named inputs (a sample batch) and the reference outputs."""

    module: nn.Module
    input_names: list[str]
    output_name: str
    sample: list[torch.Tensor]
    # The PyTorch network on the same inputs, exactly as nncli runs it.
    reference: Callable[..., torch.Tensor]
    inputs: list[dict[str, Any]]  # described for consumers: name, dtype, shape, features
    outputs: list[dict[str, Any]]
    spec: dict[str, Any]  # the domain's part of the preprocessing spec, consumer_steps included
    source: str  # "data" or "random"


@dataclass
class ExportTarget:
    """Where an export goes: the network file and its preprocessing spec beside it."""

    model_path: Path
    path: Path
    spec_path: Path


def default_export_path(model_path: Path, export_format: str) -> Path:
    """`penguins.nncli` -> `penguins.onnx` (or `penguins.pt` for TorchScript)."""
    return model_path.with_suffix(SUFFIXES[export_format])


def preprocessing_path(path: Path) -> Path:
    """The JSON spec beside an exported network: `<PATH>.preprocessing.json`."""
    return path.with_name(path.name + ".preprocessing.json")


def require_onnx() -> None:
    """Fail with one line when the optional ONNX libraries are not installed."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            f"ONNX export needs the optional onnx libraries ({exc.name} is not installed)",
            hint="pip install 'nncli[onnx]', or use --format torchscript",
        ) from exc


def prepare_export(model_path: Path, options: ExportOptions) -> ExportTarget:
    """Check the options, the runtime and both output paths before anything is loaded."""
    from nncli.files import check_output_path

    options.validate()
    if options.format == "onnx":
        require_onnx()
    output = options.output or default_export_path(model_path, options.format)
    inputs = [model_path] + ([options.data] if options.data is not None else [])
    spec_path = preprocessing_path(output)
    check_output_path(output, *inputs)
    check_output_path(spec_path, *inputs)
    return ExportTarget(model_path, output, spec_path)


# --- exporting and checking --------------------------------------------------------------


@contextlib.contextmanager
def quiet_exporter() -> Iterator[None]:
    """Keep torch's exporters off stdout (it carries data, e.g. --json) and silence their
    warnings: deprecation notices and the LSTM batch-size hint (our batch axis is dynamic and
    the parity check runs other batch sizes) are for torch's developers, not for users."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        yield


def onnx_bytes(graph: ExportGraph, opset: int, reporter: Reporter) -> tuple[bytes, str]:
    """The ONNX model and the exporter that made it: the TorchScript-based exporter first
    (robust dynamic batch axes), the torch.export-based one when it is gone or fails."""
    try:
        return _torchscript_based_onnx(graph, opset), "torch.onnx (TorchScript-based)"
    except Exception as legacy_error:
        reporter.warn(
            f"the TorchScript-based ONNX exporter failed ({type(legacy_error).__name__}); "
            "trying the torch.export-based one"
        )
    try:
        return _torch_export_based_onnx(graph, opset), "torch.onnx (torch.export-based)"
    except Exception as exc:
        raise NncliError(
            f"ONNX export failed with both of torch's exporters ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:200]})",
            hint="try --format torchscript, or run again with --debug and report it",
        ) from exc


def _example(graph: ExportGraph) -> tuple[torch.Tensor, ...]:
    return tuple(tensor[:2] for tensor in graph.sample)


def _torchscript_based_onnx(graph: ExportGraph, opset: int) -> bytes:
    import torch

    axes = {name: {0: "batch"} for name in [*graph.input_names, graph.output_name]}
    with quiet_exporter(), tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "network.onnx"
        torch.onnx.export(
            graph.module,
            _example(graph),
            target,
            input_names=graph.input_names,
            output_names=[graph.output_name],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )
        return target.read_bytes()


def _torch_export_based_onnx(graph: ExportGraph, opset: int) -> bytes:
    import torch

    batch = torch.export.Dim("batch")
    with quiet_exporter():
        program = torch.onnx.export(
            graph.module,
            _example(graph),
            input_names=graph.input_names,
            output_names=[graph.output_name],
            dynamic_shapes=tuple({0: batch} for _ in graph.input_names),
            opset_version=max(opset, 18),
            dynamo=True,
            verbose=False,
        )
    assert program is not None
    return bytes(program.model_proto.SerializeToString())


def torchscript_bytes(graph: ExportGraph) -> tuple[bytes, str]:
    """The traced TorchScript module and the exporter that made it."""
    import torch

    buffer = io.BytesIO()
    # torch.jit is deprecated in favour of torch.export (a warning); the file still runs.
    with quiet_exporter():
        traced = torch.jit.trace(graph.module, _example(graph), check_trace=False)
        torch.jit.save(traced, buffer)
    return buffer.getvalue(), "torch.jit.trace"


def run_onnx(data: bytes, graph: ExportGraph, batch: list[torch.Tensor]) -> Any:
    """The exported ONNX network's output on `batch`, run by onnxruntime on the CPU."""
    import onnxruntime

    session_options = onnxruntime.SessionOptions()
    session_options.log_severity_level = 3  # errors only: no optimiser chatter on stderr
    session = onnxruntime.InferenceSession(
        data, sess_options=session_options, providers=["CPUExecutionProvider"]
    )
    feeds = {name: tensor.numpy() for name, tensor in zip(graph.input_names, batch, strict=True)}
    return session.run([graph.output_name], feeds)[0]


def run_torchscript(data: bytes, batch: list[torch.Tensor]) -> Any:
    """The exported TorchScript network's output on `batch`."""
    import torch

    with quiet_exporter():
        loaded = torch.jit.load(io.BytesIO(data), map_location="cpu")
    with torch.inference_mode():
        return loaded(*batch).numpy()


def max_difference(exported: Any, reference: Any) -> float:
    """The largest absolute difference (NaN where both are NaN counts as equal; a shape
    mismatch or a NaN on one side only is infinitely far)."""
    import numpy as np

    exported = np.asarray(exported, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if exported.shape != reference.shape:
        return float("inf")
    both_nan = np.isnan(exported) & np.isnan(reference)
    difference = np.where(both_nan, 0.0, np.abs(exported - reference))
    return float(np.max(difference, initial=0.0)) if not np.isnan(difference).any() else np.inf


def check_parity(data: bytes, graph: ExportGraph, export_format: str, output: Path) -> Parity:
    """Run the exported bytes on the sample (and on one row: the batch axis is dynamic)."""
    import numpy as np
    import torch

    runtime = "onnxruntime" if export_format == "onnx" else "torch.jit.load"
    worst, largest = 0.0, 0.0
    for batch in (graph.sample, [tensor[:1] for tensor in graph.sample]):
        with torch.inference_mode():
            expected = graph.reference(*batch).numpy()
        got = (
            run_onnx(data, graph, batch)
            if export_format == "onnx"
            else run_torchscript(data, batch)
        )
        worst = max(worst, max_difference(got, expected))
        largest = max(largest, float(np.nanmax(np.abs(expected), initial=0.0)))
    rows = int(graph.sample[0].shape[0])
    # 1e-5 for outputs up to 1 in size (standardised predictions, scaled forecasts); large
    # logits get the same relative margin, as float32 rounding grows with the magnitude.
    tolerance = PARITY_TOLERANCE * max(1.0, largest)
    parity = Parity(worst, rows, graph.source, tolerance, runtime)
    if not worst <= tolerance:
        raise QualityGateError(
            f"{output}: parity check failed: the exported network's outputs differ from "
            f"nncli's by up to {worst:.3g} (tolerance {tolerance:.3g}) on {rows} "
            f"{graph.source} sample rows; nothing was written",
            hint="try the other --format or another --opset, or report it with --debug",
        )
    return parity


# --- writing -----------------------------------------------------------------------------


def write_export(
    graph: ExportGraph,
    metadata: dict[str, Any],
    options: ExportOptions,
    target: ExportTarget,
    reporter: Reporter,
) -> ExportReport:
    """Export `graph`, check it against PyTorch, then write it and its preprocessing spec
    atomically (nothing is written when the check fails)."""
    from nncli.files import atomic_write_bytes, atomic_writer

    graph.module.eval()
    if options.format == "onnx":
        data, exporter = onnx_bytes(graph, options.opset, reporter)
    else:
        data, exporter = torchscript_bytes(graph)
    parity = check_parity(data, graph, options.format, target.path)
    opset = options.opset if options.format == "onnx" else None
    model_id = str(metadata.get("model_id", ""))
    document = {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "network_file": target.path.name,
        "network_format": options.format,
        "opset": opset,
        "exporter": exporter,
        "model_id": model_id,
        "kind": metadata.get("kind"),
        "source_model": str(target.model_path),
        "inputs": graph.inputs,
        "outputs": graph.outputs,
        **graph.spec,
        "parity": asdict(parity),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": export_versions(options.format),
    }
    text = json.dumps(document, indent=2, allow_nan=False)
    if options.format == "onnx":
        data = with_onnx_metadata(data, text, model_id)
    atomic_write_bytes(target.path, data)
    with atomic_writer(target.spec_path) as handle:
        handle.write(text + "\n")
    return ExportReport(
        format=options.format,
        path=target.path,
        preprocessing_path=target.spec_path,
        model_id=model_id,
        kind=str(metadata.get("kind")),
        exporter=exporter,
        opset=opset,
        inputs=graph.inputs,
        outputs=graph.outputs,
        parity=parity,
        size_bytes=len(data),
    )


def export_versions(export_format: str) -> dict[str, str]:
    """The versions of the libraries that made (and checked) the exported file."""
    import torch

    from nncli import __version__

    versions = {"nncli": __version__, "torch": torch.__version__}
    if export_format == "onnx":
        import onnx
        import onnxruntime

        versions |= {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}
    return versions


def with_onnx_metadata(data: bytes, spec_text: str, model_id: str) -> bytes:
    """Embed the preprocessing spec in the ONNX file itself, so the file describes itself;
    the graph is unchanged (the parity check ran on the same graph)."""
    import onnx

    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto)
    for key, value in ((ONNX_METADATA_KEY, spec_text), ("nncli.model_id", model_id)):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = (
        "Exported by nncli: apply the preprocessing in the 'nncli.preprocessing' metadata "
        "(consumer_steps) before running, and its output steps after."
    )
    return bytes(proto.SerializeToString())
