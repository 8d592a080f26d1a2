"""Exporting a model's network to ONNX or TorchScript, checked against nncli's own outputs.

Only the network is exported: the preprocessing (imputation, scaling, vocabularies) and the
output post-processing (softmax and class labels, target or per-series de-scaling, inverse
transforms) stay outside the graph, spelled out in a JSON file written next to it
(`<PATH>.preprocessing.json`, also embedded in an ONNX file's metadata) whose
`consumer_steps` say exactly what a consumer must apply. Before anything is written, the
exported network runs on sample inputs (with onnxruntime, or torch.jit.load) and must match
the PyTorch network to within `PARITY_TOLERANCE` (times the largest output when that exceeds
1); otherwise nothing is written (exit code 5).

This module imports torch at the top (like nncli.models): only the export command loads it.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nncli.data.loading import CsvOptions
from nncli.errors import DataError, NncliError, QualityGateError, UsageError
from nncli.models.feedforward import MLP
from nncli.reporting import CollectingReporter, Reporter

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
    """What to export and how; every field maps to a `nncli export` option."""

    format: str = "onnx"
    output: Path | None = None  # default: the model file's name with .onnx / .pt
    data: Path | None = None  # rows or series for the parity sample; random inputs without it
    opset: int = DEFAULT_OPSET
    csv: CsvOptions = field(default_factory=CsvOptions)

    def validate(self) -> None:
        """Reject impossible settings before any file is read."""
        if self.format not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {self.format!r}")
        if self.opset < MIN_OPSET:
            raise UsageError(f"--opset must be at least {MIN_OPSET}, not {self.opset}")


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
        document = asdict(self)
        document["path"] = str(self.path)
        document["preprocessing_path"] = str(self.preprocessing_path)
        return document


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


# --- the graphs --------------------------------------------------------------------------


class NumericOnlyMLP(nn.Module):
    """An MLP without categorical columns, exported with its one real input."""

    def __init__(self, mlp: MLP) -> None:
        super().__init__()
        self.mlp = mlp

    def forward(self, numeric: torch.Tensor) -> torch.Tensor:
        # numeric: [B, n_numeric] float32 -> [B, outputs]
        return self.mlp.layers(numeric)


class CategoricalOnlyMLP(nn.Module):
    """An MLP without numeric columns: an ONNX input of width 0 would confuse consumers."""

    def __init__(self, mlp: MLP) -> None:
        super().__init__()
        self.mlp = mlp

    def forward(self, categorical: torch.Tensor) -> torch.Tensor:
        # categorical: [B, n_categorical] int64 -> [B, outputs]
        embedded = [emb(categorical[:, i]) for i, emb in enumerate(self.mlp.embeddings)]
        return self.mlp.layers(torch.cat(embedded, dim=1))


@dataclass
class _Graph:
    """A module to export, its named inputs (sample batch) and the reference outputs."""

    module: nn.Module
    input_names: list[str]
    output_name: str
    sample: list[torch.Tensor]
    reference: Any  # callable: the PyTorch network on the same inputs, as nncli runs it
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    spec: dict[str, Any]
    source: str


def _tabular_sample(
    model: Any, options: ExportOptions, reporter: Reporter
) -> tuple[list[torch.Tensor], str]:
    import numpy as np

    from nncli.tabular.model import encode_rows

    if options.data is not None:
        from nncli.data.loading import read_csv, require_rows

        frame = read_csv(options.data, options.csv, reporter=reporter)
        require_rows(frame, options.data)
        encoded = encode_rows(model, frame.iloc[:PARITY_ROWS], options.data, reporter)
        return [torch.from_numpy(encoded.numeric), torch.from_numpy(encoded.categorical)], "data"
    rng = np.random.default_rng(0)
    columns: list[Any] = []
    for spec in model.preprocessor.numeric:
        columns.append(rng.normal(size=PARITY_ROWS))
        if spec.missing_indicator:
            columns.append(rng.integers(0, 2, size=PARITY_ROWS))
    numeric = np.stack(columns, axis=1) if columns else np.zeros((PARITY_ROWS, 0))
    codes = [
        rng.integers(0, c.cardinality, size=PARITY_ROWS) for c in model.preprocessor.categorical
    ]
    categorical = np.stack(codes, axis=1) if codes else np.zeros((PARITY_ROWS, 0))
    return [
        torch.from_numpy(numeric.astype(np.float32)),
        torch.from_numpy(categorical.astype(np.int64)),
    ], "random"


def _numeric_feature_names(model: Any) -> list[str]:
    names = []
    for spec in model.preprocessor.numeric:
        names.append(spec.name)
        if spec.missing_indicator:
            names.append(f"{spec.name} (missing indicator)")
    return names


def _tabular_graph(model: Any, options: ExportOptions, reporter: Reporter) -> _Graph:
    network: MLP = model.network
    (numeric, categorical), source = _tabular_sample(model, options, reporter)
    has_numeric = numeric.shape[1] > 0
    has_categorical = categorical.shape[1] > 0
    module: nn.Module
    if has_numeric and has_categorical:
        module, names, sample = network, ["numeric", "categorical"], [numeric, categorical]
    elif has_numeric:
        module, names, sample = NumericOnlyMLP(network), ["numeric"], [numeric]
    else:
        module, names, sample = CategoricalOnlyMLP(network), ["categorical"], [categorical]
    inputs = []
    if has_numeric:
        inputs.append(
            {
                "name": "numeric",
                "dtype": "float32",
                "shape": ["batch", int(numeric.shape[1])],
                "features": _numeric_feature_names(model),
            }
        )
    if has_categorical:
        inputs.append(
            {
                "name": "categorical",
                "dtype": "int64",
                "shape": ["batch", int(categorical.shape[1])],
                "features": [spec.name for spec in model.preprocessor.categorical],
            }
        )
    meta = model.metadata
    if model.task == "classification":
        output_name = "logits"
        outputs = [
            {
                "name": output_name,
                "dtype": "float32",
                "shape": ["batch", len(model.classes)],
                "meaning": "unnormalised class scores in the order of target.classes",
            }
        ]
    else:
        output_name = "scaled_prediction"
        outputs = [
            {
                "name": output_name,
                "dtype": "float32",
                "shape": ["batch", 1],
                "meaning": "the prediction in standard units: multiply by target.std, add target.mean",
            }
        ]

    def reference(*batch: torch.Tensor) -> torch.Tensor:
        # The MLP exactly as nncli runs it, with an empty block for an absent input.
        rows = batch[0].shape[0]
        numeric_in = batch[0] if has_numeric else torch.zeros(rows, 0)
        categorical_in = batch[-1] if has_categorical else torch.zeros(rows, 0, dtype=torch.int64)
        return network(numeric_in, categorical_in)

    spec = {
        "task": model.task,
        "schema": meta["schema"],
        "preprocessing": meta["preprocessing"],
        "target": meta["target"],
        "consumer_steps": _tabular_steps(model.task, has_numeric, has_categorical),
    }
    return _Graph(
        module,
        names,
        output_name,
        sample,
        reference,
        inputs,
        outputs,
        spec,
        source,
    )


def _tabular_steps(task: str, has_numeric: bool, has_categorical: bool) -> list[str]:
    steps = [
        "Read the columns listed in schema.input_columns from each row (other columns are "
        "not used; a missing column is an error).",
    ]
    if has_numeric:
        steps.append(
            "Input 'numeric' (float32, [batch, n]): for each entry of preprocessing.numeric, in "
            "order, parse the cell as a number; if it is blank or NaN use its median and note "
            "missing = 1, else missing = 0; append (value - mean) / std, then, only when "
            "missing_indicator is true, append missing (0.0 or 1.0). inputs[].features names "
            "every position."
        )
    if has_categorical:
        steps.append(
            "Input 'categorical' (int64, [batch, c]): for each entry of "
            "preprocessing.categorical, in order, turn the cell into text as nncli does "
            "(strip surrounding spaces; booleans as 'true'/'false'; whole numbers without "
            "'.0', e.g. 3.0 -> '3'); its code is 1 + its position in vocabulary, or 0 (the "
            "unknown bucket) when it is blank or not in the vocabulary."
        )
    if task == "classification":
        steps.append(
            "Output 'logits' [batch, classes]: probabilities = softmax(logits, axis=1); the "
            "predicted label is target.classes[argmax]."
        )
    else:
        steps.append(
            "Output 'scaled_prediction' [batch, 1]: prediction = scaled_prediction[:, 0] * "
            "target.std + target.mean, in the target's units."
        )
    return steps


def _forecast_sample(
    model: Any, options: ExportOptions, reporter: Reporter
) -> tuple[torch.Tensor, str]:
    import numpy as np

    from nncli.forecasting.model import series_features
    from nncli.forecasting.windows import make_windows

    lookback = model.lookback
    if options.data is None:
        generator = torch.Generator().manual_seed(0)
        n_features = int(model.metadata["architecture"]["n_features"])
        return torch.randn(PARITY_ROWS, lookback, n_features, generator=generator), "random"
    from nncli.forecasting.series import PanelSpec, load_panel

    panel = load_panel(
        options.data, PanelSpec(**model.metadata["panel"]), options.csv, reporter=reporter
    )
    first_valid = 0 if model.transform == "none" else 1
    windows = []
    for series in panel:
        if series.name not in model.metadata["series"]:
            reporter.warn(f"series {series.name!r} was not seen in training; it is skipped")
            continue
        if len(series) - first_valid < lookback:
            continue
        features = torch.from_numpy(
            series_features(series, model.transform, model.scaling(series.name))
        )
        windows.append(make_windows(features[first_valid:], lookback))
    if not windows:
        raise DataError(
            f"{options.data}: no series the model knows has {lookback + first_valid} rows "
            "for one input window",
            hint=f"the model knows: {', '.join(model.metadata['series'])}",
        )
    everything = torch.cat(windows)
    # Spread the sample over every series and period rather than the first series' start.
    picks = np.unique(np.linspace(0, len(everything) - 1, PARITY_ROWS).round().astype(np.int64))
    return everything[torch.from_numpy(picks)].contiguous(), "data"


def _forecast_graph(model: Any, options: ExportOptions, reporter: Reporter) -> _Graph:
    windows, source = _forecast_sample(model, options, reporter)
    meta = model.metadata
    panel = meta["panel"]
    quantiles = model.quantiles
    network = model.network
    inputs = [
        {
            "name": "windows",
            "dtype": "float32",
            "shape": ["batch", model.lookback, int(windows.shape[2])],
            "features": [f"{panel['target']} ({model.transform}, scaled)"]
            + [f"{name} (scaled)" for name in panel.get("covariates", [])],
        }
    ]
    outputs = [
        {
            "name": "scaled_change_quantiles",
            "dtype": "float32",
            "shape": ["batch", model.horizon, len(quantiles)],
            "meaning": (
                "per horizon step and quantile, the cumulative transformed change from the "
                "origin in the series' scaled units; see consumer_steps"
            ),
        }
    ]
    spec = {
        "task": "forecast",
        "transform": model.transform,
        "panel": panel,
        "architecture": meta["architecture"],
        "quantiles": quantiles,
        "series": {
            name: {
                "scaling": info["scaling"],
                "frequency": info.get("frequency"),
                "last_timestamp": info.get("last_timestamp"),
            }
            for name, info in meta["series"].items()
        },
        "consumer_steps": _forecast_steps(model.transform, model.lookback),
    }
    return _Graph(
        network,
        ["windows"],
        "scaled_change_quantiles",
        [windows],
        lambda batch: network(batch),
        inputs,
        outputs,
        spec,
        source,
    )


def _forecast_steps(transform: str, lookback: int) -> list[str]:
    step_formula = {
        "log-return": "s[t] = ln(p[t] / p[t-1])",
        "diff": "s[t] = p[t] - p[t-1]",
        "pct": "s[t] = p[t] / p[t-1] - 1",
        "none": "s[t] = p[t]",
    }[transform]
    level_formula = {
        "log-return": "level = p_origin * exp(change)",
        "diff": "level = p_origin + change",
        "pct": "level = p_origin * (1 + change)",
        "none": "level = change",
    }[transform]
    extra = "" if transform == "none" else f" (so {lookback + 1} levels are needed)"
    return [
        "Per series (it must be one of the keys of 'series': the scaling is per series), sort "
        "the rows by panel.time_col and drop rows with a blank target; p[t] is the target "
        "(panel.target) and the covariates (panel.covariates, in order) are carried forward, "
        "then backward, over blanks.",
        f"Per-step values ({transform}): {step_formula}.",
        "Scale with the series' scaling: z[t] = (s[t] - scaling.mean) / scaling.std; "
        "covariate i: (c_i[t] - scaling.covariate_mean[i]) / scaling.covariate_std[i].",
        f"Input 'windows' (float32, [batch, {lookback}, 1 + covariates]): the newest "
        f"{lookback} rows of [z, scaled covariates], oldest first{extra}; the newest row is "
        "the forecast origin.",
        "Output 'scaled_change_quantiles' [batch, horizon, quantiles]: change = output * "
        f"scaling.std + scaling.mean; with p_origin the origin's level, {level_formula}; sort "
        "each step's quantiles ascending, as nncli does, so they never cross. The 0.5 "
        "quantile (its index in 'quantiles') is the point forecast, the outer ones the interval.",
        "Timestamps: step k is the k-th next period on the series' calendar ('frequency'; 'B' "
        "means business days, Monday to Friday).",
    ]


# --- exporting and checking --------------------------------------------------------------


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Keep torch's exporters off stdout (it carries data, e.g. --json) and silence their
    warnings: deprecation notices and the LSTM batch-size hint (our batch axis is dynamic and
    the parity check runs other batch sizes) are for torch's developers, not for users."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        yield


def _onnx_bytes(graph: _Graph, opset: int, reporter: Reporter) -> tuple[bytes, str]:
    """The ONNX model: the TorchScript-based exporter first (robust dynamic batch axes), the
    torch.export-based one when it is gone or fails."""
    example = tuple(tensor[:2] for tensor in graph.sample)
    axes = {name: {0: "batch"} for name in [*graph.input_names, graph.output_name]}
    try:
        with _quiet_exporter(), tempfile.TemporaryDirectory() as scratch:
            target = Path(scratch) / "network.onnx"
            torch.onnx.export(
                graph.module,
                example,
                target,
                input_names=graph.input_names,
                output_names=[graph.output_name],
                dynamic_axes=axes,
                opset_version=opset,
                dynamo=False,
            )
            data = target.read_bytes()
        return data, "torch.onnx (TorchScript-based)"
    except Exception as legacy_error:
        reporter.warn(
            f"the TorchScript-based ONNX exporter failed ({type(legacy_error).__name__}); "
            "trying the torch.export-based one"
        )
        batch = torch.export.Dim("batch")
        try:
            with _quiet_exporter():
                program = torch.onnx.export(
                    graph.module,
                    example,
                    input_names=graph.input_names,
                    output_names=[graph.output_name],
                    dynamic_shapes=tuple({0: batch} for _ in graph.input_names),
                    opset_version=max(opset, 18),
                    dynamo=True,
                    verbose=False,
                )
            assert program is not None
            return program.model_proto.SerializeToString(), "torch.onnx (torch.export-based)"
        except Exception as exc:
            raise NncliError(
                f"ONNX export failed with both of torch's exporters ({type(exc).__name__}: "
                f"{' '.join(str(exc).split())[:200]})",
                hint="try --format torchscript, or run again with --debug and report it",
            ) from exc


def _run_onnx(data: bytes, graph: _Graph, batch: list[torch.Tensor]) -> Any:
    import onnxruntime

    session_options = onnxruntime.SessionOptions()
    session_options.log_severity_level = 3  # errors only: no optimiser chatter on stderr
    session = onnxruntime.InferenceSession(
        data, sess_options=session_options, providers=["CPUExecutionProvider"]
    )
    feeds = {name: tensor.numpy() for name, tensor in zip(graph.input_names, batch, strict=True)}
    return session.run([graph.output_name], feeds)[0]


def _torchscript_bytes(graph: _Graph) -> tuple[bytes, str]:
    example = tuple(tensor[:2] for tensor in graph.sample)
    buffer = io.BytesIO()
    # torch.jit is deprecated in favour of torch.export (a warning); the file still runs.
    with _quiet_exporter():
        traced = torch.jit.trace(graph.module, example, check_trace=False)
        torch.jit.save(traced, buffer)
    return buffer.getvalue(), "torch.jit.trace"


def _run_torchscript(data: bytes, batch: list[torch.Tensor]) -> Any:
    with _quiet_exporter():
        loaded = torch.jit.load(io.BytesIO(data), map_location="cpu")
    with torch.inference_mode():
        return loaded(*batch).numpy()


def _max_difference(exported: Any, reference: Any) -> float:
    import numpy as np

    exported = np.asarray(exported, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if exported.shape != reference.shape:
        return float("inf")
    both_nan = np.isnan(exported) & np.isnan(reference)
    difference = np.where(both_nan, 0.0, np.abs(exported - reference))
    return float(np.max(difference, initial=0.0)) if not np.isnan(difference).any() else np.inf


def _check_parity(data: bytes, graph: _Graph, export_format: str, output: Path) -> Parity:
    """Run the exported bytes on the sample (and on one row: the batch axis is dynamic)."""
    import numpy as np

    runtime = "onnxruntime" if export_format == "onnx" else "torch.jit.load"
    worst, largest = 0.0, 0.0
    for batch in (graph.sample, [tensor[:1] for tensor in graph.sample]):
        with torch.inference_mode():
            expected = graph.reference(*batch).numpy()
        got = (
            _run_onnx(data, graph, batch)
            if export_format == "onnx"
            else _run_torchscript(data, batch)
        )
        worst = max(worst, _max_difference(got, expected))
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


def export_model(
    model_path: Path,
    options: ExportOptions | None = None,
    *,
    reporter: Reporter | None = None,
) -> ExportReport:
    """Export a model file's network, check it against PyTorch, then write it and its
    preprocessing spec atomically (nothing is written when the check fails)."""
    from nncli import __version__
    from nncli.artifacts import read_metadata
    from nncli.files import atomic_write_bytes, atomic_writer, check_output_path

    options = options or ExportOptions()
    options.validate()
    reporter = reporter or CollectingReporter()
    if options.format == "onnx":
        require_onnx()
    output = options.output or default_export_path(model_path, options.format)
    inputs = [model_path] + ([options.data] if options.data is not None else [])
    spec_path = preprocessing_path(output)
    check_output_path(output, *inputs)
    check_output_path(spec_path, *inputs)

    metadata, _ = read_metadata(model_path)
    if metadata.get("kind") == "forecast":
        from nncli.forecasting.model import load_forecast_model

        graph = _forecast_graph(load_forecast_model(model_path), options, reporter)
    else:
        from nncli.tabular.model import load_tabular_model

        graph = _tabular_graph(load_tabular_model(model_path), options, reporter)
    graph.module.eval()

    if options.format == "onnx":
        data, exporter = _onnx_bytes(graph, options.opset, reporter)
    else:
        data, exporter = _torchscript_bytes(graph)
    parity = _check_parity(data, graph, options.format, output)

    model_id = str(metadata.get("model_id", ""))
    versions = {"nncli": __version__, "torch": torch.__version__}
    if options.format == "onnx":
        import onnx
        import onnxruntime

        versions |= {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}
    document = {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "network_file": output.name,
        "network_format": options.format,
        "opset": options.opset if options.format == "onnx" else None,
        "exporter": exporter,
        "model_id": model_id,
        "kind": metadata.get("kind"),
        "source_model": str(model_path),
        "inputs": graph.inputs,
        "outputs": graph.outputs,
        **graph.spec,
        "parity": asdict(parity),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions,
    }
    text = json.dumps(document, indent=2, allow_nan=False)
    if options.format == "onnx":
        data = _with_onnx_metadata(data, text, model_id)
    atomic_write_bytes(output, data)
    with atomic_writer(spec_path) as handle:
        handle.write(text + "\n")
    return ExportReport(
        format=options.format,
        path=output,
        preprocessing_path=spec_path,
        model_id=model_id,
        kind=str(metadata.get("kind")),
        exporter=exporter,
        opset=options.opset if options.format == "onnx" else None,
        inputs=graph.inputs,
        outputs=graph.outputs,
        parity=parity,
        size_bytes=len(data),
    )


def _with_onnx_metadata(data: bytes, spec_text: str, model_id: str) -> bytes:
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
