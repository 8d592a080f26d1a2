"""Choosing the torch device, with a clear error when the asked-for one is absent."""

from __future__ import annotations

from nncli.errors import UsageError


def resolve_device(name: str) -> str:
    """'auto' picks CUDA when present; 'cuda' without a GPU is a usage error."""
    import torch

    name = name.strip().lower()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return name
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(
                f"--device {name}: CUDA is not available on this machine", hint="use --device cpu"
            )
        return name
    raise UsageError(f"--device must be cpu, cuda, cuda:N or auto, not {name!r}")
