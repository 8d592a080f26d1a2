"""The model file: one safetensors file whose header carries nncli's JSON metadata.

Layout (the safetensors format): 8 bytes little-endian header length, a JSON header that
describes the tensors and holds `__metadata__ = {"nncli": "<JSON document>"}`, then the raw
tensor bytes. Loading parses JSON and copies numbers; nothing is unpickled, so a model file
cannot run code.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import stat
import struct
import sys
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from nncli import __version__
from nncli.errors import ModelFileError
from nncli.files import atomic_write_bytes

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import torch

NetworkT = TypeVar("NetworkT", bound="torch.nn.Module")

FORMAT_NAME = "nncli-model"
FORMAT_VERSION = 1
_METADATA_KEY = "nncli"
_TENSORS_DIGEST_KEY = "nncli_tensors_sha256"
_SEAL_DIGEST_KEY = "nncli_metadata_sha256"
# A real header is a few KiB to a few MiB (category vocabularies); a bigger one is refused
# before it is parsed, and so is metadata nested deeper than any nncli writes.
MAX_HEADER_BYTES = 64 * 1024 * 1024
MAX_METADATA_DEPTH = 64


@dataclass
class ModelFile:
    """A loaded model file: its metadata and its tensors (on the CPU)."""

    path: Path
    metadata: dict[str, Any]
    tensors: dict[str, torch.Tensor] | dict[str, np.ndarray]  # arrays: see load_model_file

    @property
    def kind(self) -> str:
        return str(self.metadata["kind"])

    @property
    def model_id(self) -> str:
        return str(self.metadata["model_id"])


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that shape a model's numbers."""
    from importlib.metadata import version

    import numpy
    import pandas
    import torch

    return {
        "nncli": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "scikit-learn": version("scikit-learn"),  # not imported: a second for a string
    }


def provenance() -> dict[str, Any]:
    """When, where and by which command a model was made."""
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": ["nncli", *sys.argv[1:]] if Path(sys.argv[0]).name == "nncli" else sys.argv,
        "versions": library_versions(),
        "platform": platform.platform(),
    }


def save_model_file(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
    """Write tensors + metadata atomically; the file appears only when complete.

    The header also carries two SHA-256 digests, verified on every load: one of the tensors
    (names, dtypes, shapes and bytes) and one sealing the metadata to those tensors, so a
    flipped bit anywhere that matters is refused instead of silently changing predictions.
    """
    from safetensors.torch import save

    document = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **metadata}
    cpu_tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}
    text = json.dumps(document, allow_nan=False)
    unsealed = save(cpu_tensors, metadata={_METADATA_KEY: text})
    header, body = _split(unsealed)
    tensors_digest = _tensors_sha256(header, body)
    digests = {
        _TENSORS_DIGEST_KEY: tensors_digest,
        _SEAL_DIGEST_KEY: _seal_sha256(text, tensors_digest),
    }
    payload = save(cpu_tensors, metadata={_METADATA_KEY: text, **digests})
    atomic_write_bytes(path, payload)


def _split(data: bytes) -> tuple[dict[str, Any], bytes]:
    """The safetensors header (parsed) and the tensor bytes after it, of a payload we wrote."""
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]), data[8 + length :]


def _tensors_sha256(header: dict[str, Any], body: bytes) -> str:
    """SHA-256 of the tensor layout (names, dtypes, shapes, offsets) and the tensor bytes."""
    layout = {name: spec for name, spec in header.items() if name != "__metadata__"}
    digest = hashlib.sha256(json.dumps(layout, sort_keys=True).encode())
    digest.update(body)
    return digest.hexdigest()


def _seal_sha256(metadata_text: str, tensors_digest: str) -> str:
    """SHA-256 binding the metadata, exactly as stored, to the tensors it describes."""
    return hashlib.sha256(f"{tensors_digest}\n{metadata_text}".encode()).hexdigest()


def _bad(path: Path, problem: str, hint: str | None = None) -> ModelFileError:
    return ModelFileError(
        f"{path}: {problem}",
        hint=hint or "pass a file written by 'nncli train' or 'nncli forecast train'",
    )


def _read_regular_file(path: Path) -> bytes:
    """The file's bytes, read only if it is a regular file and never past its stated size.

    `os.stat` comes before any open, so a FIFO never blocks the read and a symlink to
    /dev/zero or /dev/urandom is never read; the descriptor is checked again after opening
    (O_NONBLOCK) in case the path was swapped in between.
    """
    try:
        status = path.stat()
    except FileNotFoundError:
        raise _bad(path, "no such model file", hint="check the path") from None
    except OSError as exc:
        raise _bad(path, f"cannot read the model file ({exc.strerror})") from exc
    if stat.S_ISDIR(status.st_mode):
        raise _bad(path, "is a directory, not a model file")
    if not stat.S_ISREG(status.st_mode):
        raise _bad(path, "is not a regular file (a device, FIFO or socket); refusing to read it")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _bad(path, f"cannot read the model file ({exc.strerror})") from exc
    with os.fdopen(fd, "rb") as handle:
        opened = os.fstat(handle.fileno())
        if not stat.S_ISREG(opened.st_mode):
            raise _bad(
                path, "is not a regular file (a device, FIFO or socket); refusing to read it"
            )
        try:
            return handle.read(opened.st_size)
        except OSError as exc:
            raise _bad(path, f"cannot read the model file ({exc.strerror})") from exc


def _refuse_constant(token: str) -> float:
    raise ValueError(f"non-finite number {token} in the metadata")


def _metadata_defect(document: Any) -> str | None:
    """Why the parsed metadata cannot be trusted (too deep, a non-finite number), or None."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_METADATA_DEPTH:
            return f"metadata nested deeper than {MAX_METADATA_DEPTH} levels"
        if isinstance(value, float) and not math.isfinite(value):
            return "a non-finite number (NaN or infinity) in its metadata"
        if isinstance(value, dict):
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
    return None


def _parse_header(path: Path, data: bytes) -> tuple[dict[str, Any], int]:
    """The safetensors header of `data` and its length, or ModelFileError."""
    if len(data) < 8:
        raise _bad(path, "not an nncli model file (too short)")
    (header_length,) = struct.unpack("<Q", data[:8])
    if header_length > len(data) - 8:
        raise _bad(path, "not an nncli model file, or truncated (bad header length)")
    if header_length > MAX_HEADER_BYTES:
        raise _bad(path, f"header larger than {MAX_HEADER_BYTES >> 20} MiB; refusing to parse it")
    try:
        header = json.loads(data[8 : 8 + header_length], parse_constant=_refuse_constant)
    except RecursionError:
        raise _bad(path, "corrupt model file (metadata nested too deeply)") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad(path, "not an nncli model file (no nncli metadata in its header)") from exc
    if not isinstance(header, dict):
        raise _bad(path, "not an nncli model file (no nncli metadata in its header)")
    return header, header_length


# The networks nncli wrote before it sealed its model files (91a215f): the tabular MLP
# (files from before `name` was recorded have none) and RBF network, and the single
# forecasters (no "members"). TabM and N-HITS came with the digests, and so did every
# ensemble ("members") and its "calibration": a file of theirs without digests had them
# deleted, which would otherwise let an edited file load as a "pre-digest" one.
_UNSEALED_TABULAR = frozenset({"mlp", "rbf"})
_UNSEALED_FORECASTERS = frozenset({"lstm", "gru", "rnn", "tcn", "mlp"})


def always_sealed(document: dict[str, Any]) -> bool:
    """Whether a file with this metadata was always written with its SHA-256 digests (its
    kind and architecture came after them), so a copy without them is refused."""
    architecture = document.get("architecture")
    if not isinstance(architecture, dict):
        return True  # no nncli ever wrote such a file
    if document.get("kind") == "tabular":
        return architecture.get("name", "mlp") not in _UNSEALED_TABULAR
    if document.get("kind") == "forecast":
        return (
            "members" in architecture
            or "calibration" in document
            or architecture.get("arch") not in _UNSEALED_FORECASTERS
        )
    return True


def _verify_digests(path: Path, header: dict[str, Any], body: bytes) -> bool:
    """Check the SHA-256 digests, if the file has them; return whether it has. Files written
    before nncli sealed its model files have none and still load (their weights are checked
    against their model id), but only for the networks that existed then (`always_sealed`)."""
    stored = header.get("__metadata__") or {}
    tensors_digest = stored.get(_TENSORS_DIGEST_KEY)
    seal = stored.get(_SEAL_DIGEST_KEY)
    if tensors_digest is None and seal is None:
        return False
    ends = [
        offsets[1]
        for name, spec in header.items()
        if name != "__metadata__" and isinstance(spec, dict)
        for offsets in [spec.get("data_offsets")]
        if isinstance(offsets, list) and len(offsets) == 2 and isinstance(offsets[1], int)
    ]
    if ends and max(ends) != len(body):
        raise _bad(
            path, f"corrupt or truncated tensors ({len(body)} bytes where {max(ends)} belong)"
        )
    if _tensors_sha256(header, body) != tensors_digest:
        raise _bad(
            path,
            "corrupt model file: its weights do not match their SHA-256 checksum",
            hint="the file was damaged (disk, copy or transfer); restore it or train again",
        )
    if _seal_sha256(str(stored.get(_METADATA_KEY)), tensors_digest) != seal:
        raise _bad(
            path,
            "corrupt or edited model file: its metadata does not match its weights "
            "(SHA-256 checksum)",
            hint="restore the file or train again",
        )
    return True


def read_metadata(path: Path) -> tuple[dict[str, Any], bytes]:
    """Validate the file's framing and checksums; return its nncli metadata and raw bytes."""
    data = _read_regular_file(path)
    header, header_length = _parse_header(path, data)
    try:
        text = header["__metadata__"][_METADATA_KEY]
        document = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise _bad(path, "corrupt model file (metadata nested too deeply)") from None
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        if "non-finite" in str(exc):
            raise _bad(path, "a non-finite number (NaN or infinity) in its metadata") from exc
        raise _bad(path, "not an nncli model file (no nncli metadata in its header)") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise _bad(path, "not an nncli model file (wrong format tag)")
    version = document.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise _bad(
            path,
            f"model format version {version} is newer than this nncli understands ({FORMAT_VERSION})",
            hint="upgrade nncli (pip install -U nncli)",
        )
    # After the version check: a newer format may seal its files differently.
    sealed = _verify_digests(path, header, data[8 + header_length :])
    defect = _metadata_defect(document)
    if defect is not None:
        raise _bad(path, f"corrupt model file ({defect})")
    if not sealed and always_sealed(document):
        raise _bad(
            path,
            "corrupt or edited model file: its SHA-256 digests are missing, and every file "
            "of its kind is written with them",
            hint="restore the file or train again",
        )
    return document, data


def _check_weights(
    path: Path, document: dict[str, Any], tensors: dict[str, torch.Tensor] | dict[str, np.ndarray]
) -> None:
    """Refuse non-finite weights, and weights that do not give the file's model id."""
    import numpy as np

    for name in sorted(tensors):
        array = _as_array(tensors[name])
        if np.issubdtype(array.dtype, np.floating) and not bool(np.isfinite(array).all()):
            raise _bad(path, f"corrupt model file (non-finite weights in {name!r})")
    model_id = document.get("model_id")
    if isinstance(model_id, str) and model_id != weights_digest(tensors):
        raise _bad(
            path,
            f"corrupt model file: its weights do not give its model id {model_id}",
            hint="the file was damaged or edited; restore it or train again",
        )


def load_model_file(
    path: Path,
    expect_kind: str | None = None,
    *,
    as_arrays: Callable[[dict[str, Any]], bool] | None = None,
) -> ModelFile:
    """Load and validate a model file; any defect is a ModelFileError (exit code 4).

    The tensors are torch tensors, or NumPy arrays when `as_arrays(metadata)` says so (the
    caller runs the network without torch, and torch is then not imported at all)."""
    from safetensors import SafetensorError

    document, data = read_metadata(path)
    try:
        if as_arrays is not None and as_arrays(document):
            from safetensors.numpy import load as load_arrays

            tensors: dict[str, torch.Tensor] | dict[str, np.ndarray] = load_arrays(data)
        else:
            from safetensors.torch import load

            tensors = load(data)
    except (SafetensorError, ValueError, RuntimeError, TypeError) as exc:
        raise _bad(path, f"corrupt or truncated tensors ({' '.join(str(exc).split())})") from exc
    if expect_kind is not None and document.get("kind") != expect_kind:
        commands = {"tabular": "nncli predict", "forecast": "nncli forecast predict"}
        raise _bad(
            path,
            f"this is a {document.get('kind')} model, not a {expect_kind} model",
            hint=f"use {commands.get(str(document.get('kind')), 'the matching command')}",
        )
    _check_weights(path, document, tensors)
    return ModelFile(path, document, tensors)


def _as_array(tensor: torch.Tensor | np.ndarray) -> np.ndarray:
    """A CPU NumPy view of a tensor (an array as it is)."""
    import numpy as np

    if isinstance(tensor, np.ndarray):
        return tensor
    return tensor.detach().cpu().contiguous().numpy()


def weights_digest(state: dict[str, torch.Tensor] | dict[str, np.ndarray]) -> str:
    """A short id derived from the weights: same weights, same id (tensors or arrays)."""
    import numpy as np

    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(_as_array(state[name])).tobytes())
    return digest.hexdigest()[:12]


def check_weight_shapes(expected: dict[str, tuple[int, ...]], tensors: Mapping[str, Any]) -> None:
    """ValueError naming the first tensor whose name or shape differs from `expected`."""
    found = {name: tuple(t.shape) for name, t in tensors.items()}
    if expected != found:
        names = sorted(set(expected) ^ set(found)) or sorted(
            name for name in expected if expected[name] != found[name]
        )
        raise ValueError(
            f"the weights do not match the architecture (first difference: {names[0]!r})"
        )


def network_matching(build: Callable[[], NetworkT], tensors: dict[str, torch.Tensor]) -> NetworkT:
    """The network `build` makes, loaded with `tensors`, or ValueError if their shapes differ.

    The shapes are compared on torch's meta device first, which allocates nothing: a model
    file whose metadata claims a 10^9-wide layer fails here instead of exhausting memory.
    """
    import torch

    with torch.device("meta"), _initialisers_skipped():
        expected = {name: tuple(t.shape) for name, t in build().state_dict().items()}
    check_weight_shapes(expected, tensors)
    network = build()
    network.load_state_dict(tensors)
    return network


@contextmanager
def _initialisers_skipped() -> Iterator[None]:
    """Make `torch.nn.init`'s in-place initialisers no-ops for the block.

    Initialising meta tensors computes nothing, but `normal_` on the meta device goes through
    torch's Python reference kernels, which import `torch._dynamo` (about a second of start-up
    for every `predict`). Only the shape check runs inside this block, in the main thread.
    """
    from torch.nn import init

    names = [name for name in vars(init) if name.endswith("_") and not name.startswith("_")]
    saved = {name: getattr(init, name) for name in names}
    try:
        for name in names:
            setattr(init, name, _return_first_argument)
        yield
    finally:
        for name, function in saved.items():
            setattr(init, name, function)


def _return_first_argument(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    return tensor


ModelT = TypeVar("ModelT")


def load_network_model(
    path: Path,
    kind: str,
    build: Callable[[dict[str, Any]], NetworkT],
    assemble: Callable[[NetworkT, dict[str, Any]], ModelT],
    *,
    loaded: ModelFile | None = None,
) -> ModelT:
    """Load a model file of `kind` (or use `loaded`, its torch tensors already read) and
    rebuild its network on the CPU, ready to predict.

    `build(metadata)` makes the untrained network the weights must fit; `assemble(network,
    metadata)` wraps it as the domain's model, raising on metadata it cannot use. Metadata
    that is incomplete or disagrees with the weights is a ModelFileError.
    """
    loaded = loaded or load_model_file(path, expect_kind=kind)
    meta = loaded.metadata
    try:
        network = network_matching(lambda: build(meta), loaded.tensors)  # type: ignore[arg-type]
        model = assemble(network, meta)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise metadata_error(path, exc) from exc
    network.eval()
    return model


class MetadataFields:
    """Values read from a model file's metadata, each checked as the file's own: a value a
    computation cannot use (a temperature of 0, a lookback of -3, a frequency 'bogus') is a
    ModelFileError (exit 4) naming the file and the field, never a blank forecast or a crash.

    The digests only prove the file is as it was written; a file edited and resealed (its
    digests recomputed) passes them, and nncli must not trust it further than this.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def bad(self, field: str, value: Any, problem: str) -> ModelFileError:
        from nncli.errors import shown

        found = "missing" if value is _MISSING else f"{shorten_value(shown(value))}"
        return ModelFileError(
            f"{self.path}: the model file's {field} is {found}; {problem}",
            hint="the file was edited or damaged; restore it or train again",
        )

    def get(self, mapping: Any, key: str | int, field: str) -> Any:
        """mapping[key], or the error naming `field` as missing."""
        try:
            return mapping[key]
        except (KeyError, IndexError, TypeError):
            raise self.bad(field, _MISSING, "it must be present") from None

    def mapping(self, value: Any, field: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.bad(field, value, "it must be a table (a JSON object)")
        return value

    def items(self, value: Any, field: str, *, nonempty: bool = False) -> list[Any]:
        if not isinstance(value, list) or (nonempty and not value):
            raise self.bad(
                field, value, "it must be a " + ("non-empty " if nonempty else "") + "list"
            )
        return value

    def text(self, value: Any, field: str, *, optional: bool = False) -> str | None:
        if (value is None and optional) or isinstance(value, str):
            return value
        raise self.bad(field, value, "it must be text")

    def flag(self, value: Any, field: str) -> bool:
        if not isinstance(value, bool):
            raise self.bad(field, value, "it must be true or false")
        return value

    def choice(self, value: Any, field: str, choices: Collection[str]) -> str:
        if not isinstance(value, str) or value not in choices:
            raise self.bad(field, value, f"it must be one of {', '.join(sorted(choices))}")
        return value

    def integer(
        self, value: Any, field: str, low: int | None = None, high: int | None = None
    ) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.bad(field, value, "it must be a whole number")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.bad(field, value, f"it must be {_interval(low, high, '[]')}")
        return value

    def number(
        self,
        value: Any,
        field: str,
        low: float | None = None,
        high: float | None = None,
        closed: str = "[]",
    ) -> float:
        """A finite number in the interval from `low` to `high`; `closed` says which ends
        belong to it ('[]', '(]', '()', '[)')."""
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self.bad(field, value, "it must be a number")
        number = float(value)
        below = low is not None and (number < low if closed[0] == "[" else number <= low)
        above = high is not None and (number > high if closed[1] == "]" else number >= high)
        if not math.isfinite(number) or below or above:
            raise self.bad(field, value, f"it must be {_interval(low, high, closed)}")
        return number

    def numbers(
        self, value: Any, field: str, length: int | None = None, **bounds: Any
    ) -> list[float]:
        """A list of `length` numbers, each checked as `number` with `bounds`."""
        items = self.items(value, field)
        if length is not None and len(items) != length:
            raise self.bad(field, value, f"it must hold {length} number(s), not {len(items)}")
        return [self.number(item, f"{field}[{i}]", **bounds) for i, item in enumerate(items)]


_MISSING = object()


def shorten_value(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _interval(low: float | None, high: float | None, closed: str) -> str:
    """'above 0', 'at least 1', 'at most 9', or 'in [0, 1)': the range a value must lie in."""
    if low is None and high is None:
        return "finite"
    if high is None:
        return f"{'at least' if closed[0] == '[' else 'above'} {low:g}"
    if low is None:
        return f"{'at most' if closed[1] == ']' else 'below'} {high:g}"
    return f"in {closed[0]}{low:g}, {high:g}{closed[1]}"


def metadata_error(path: Path, exc: Exception) -> ModelFileError:
    """The error for metadata that is incomplete or disagrees with the weights."""
    return ModelFileError(
        f"{path}: the model file's metadata is incomplete or does not match its weights ({exc})",
        hint="retrain the model with this version of nncli",
    )
