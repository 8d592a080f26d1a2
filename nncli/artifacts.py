"""The model file: one safetensors file whose header carries nncli's JSON metadata.

Layout (the safetensors format): 8 bytes little-endian header length, a JSON header that
describes the tensors and holds `__metadata__ = {"nncli": "<JSON document>"}`, then the raw
tensor bytes. Loading parses JSON and copies numbers; nothing is unpickled, so a model file
cannot run code.
"""

from __future__ import annotations

import hashlib
import json
import platform
import struct
import sys
from collections.abc import Iterator
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

    import torch

NetworkT = TypeVar("NetworkT", bound="torch.nn.Module")

FORMAT_NAME = "nncli-model"
FORMAT_VERSION = 1
_METADATA_KEY = "nncli"
_MAX_HEADER_BYTES = 512 * 1024 * 1024


@dataclass
class ModelFile:
    """A loaded model file: its metadata and its tensors (on the CPU)."""

    path: Path
    metadata: dict[str, Any]
    tensors: dict[str, torch.Tensor]

    @property
    def kind(self) -> str:
        return str(self.metadata["kind"])

    @property
    def model_id(self) -> str:
        return str(self.metadata["model_id"])


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that shape a model's numbers."""
    import numpy
    import pandas
    import sklearn
    import torch

    return {
        "nncli": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "scikit-learn": sklearn.__version__,
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
    """Write tensors + metadata atomically; the file appears only when complete."""
    from safetensors.torch import save

    document = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **metadata}
    cpu_tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}
    payload = save(cpu_tensors, metadata={_METADATA_KEY: json.dumps(document, allow_nan=False)})
    atomic_write_bytes(path, payload)


def _bad(path: Path, problem: str, hint: str | None = None) -> ModelFileError:
    return ModelFileError(
        f"{path}: {problem}",
        hint=hint or "pass a file written by 'nncli train' or 'nncli forecast train'",
    )


def read_metadata(path: Path) -> tuple[dict[str, Any], bytes]:
    """Validate the file's framing and return its nncli metadata and raw bytes."""
    if not path.exists():
        raise _bad(path, "no such model file", hint="check the path")
    if path.is_dir():
        raise _bad(path, "is a directory, not a model file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _bad(path, f"cannot read the model file ({exc.strerror})") from exc
    if len(data) < 8:
        raise _bad(path, "not an nncli model file (too short)")
    (header_length,) = struct.unpack("<Q", data[:8])
    if header_length > min(_MAX_HEADER_BYTES, len(data) - 8):
        raise _bad(path, "not an nncli model file, or truncated (bad header length)")
    try:
        header = json.loads(data[8 : 8 + header_length])
        document = json.loads(header["__metadata__"][_METADATA_KEY])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
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
    return document, data


def load_model_file(path: Path, expect_kind: str | None = None) -> ModelFile:
    """Load and validate a model file; any defect is a ModelFileError (exit code 4)."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    document, data = read_metadata(path)
    try:
        tensors = load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise _bad(path, f"corrupt or truncated tensors ({' '.join(str(exc).split())})") from exc
    if expect_kind is not None and document.get("kind") != expect_kind:
        commands = {"tabular": "nncli predict", "forecast": "nncli forecast predict"}
        raise _bad(
            path,
            f"this is a {document.get('kind')} model, not a {expect_kind} model",
            hint=f"use {commands.get(str(document.get('kind')), 'the matching command')}",
        )
    return ModelFile(path, document, tensors)


def weights_digest(state: dict[str, torch.Tensor]) -> str:
    """A short id derived from the weights: same weights, same id."""
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def network_matching(build: Callable[[], NetworkT], tensors: dict[str, torch.Tensor]) -> NetworkT:
    """The network `build` makes, loaded with `tensors`, or ValueError if their shapes differ.

    The shapes are compared on torch's meta device first, which allocates nothing: a model
    file whose metadata claims a 10^9-wide layer fails here instead of exhausting memory.
    """
    import torch

    with torch.device("meta"), _initialisers_skipped():
        expected = {name: tuple(t.shape) for name, t in build().state_dict().items()}
    found = {name: tuple(t.shape) for name, t in tensors.items()}
    if expected != found:
        names = sorted(set(expected) ^ set(found)) or sorted(
            name for name in expected if expected[name] != found[name]
        )
        raise ValueError(
            f"the weights do not match the architecture (first difference: {names[0]!r})"
        )
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
