"""Choosing the torch device, with a clear error when the asked-for one is absent, and
refusing a network too large for the memory it would train in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from nncli.errors import UsageError

if TYPE_CHECKING:
    import torch


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
        check_gpu_index(name, torch.cuda.device_count())
        return name
    raise UsageError(f"--device must be cpu, cuda, cuda:N or auto, not {name!r}")


def check_gpu_index(name: str, count: int) -> None:
    """`cuda:N` names one of the GPUs here, or it is a usage error (not torch's traceback)."""
    if name == "cuda":
        return
    prefix, _, index = name.partition(":")
    if prefix != "cuda" or not index.isdigit():
        raise UsageError(f"--device must be cpu, cuda, cuda:N or auto, not {name!r}")
    if int(index) >= count:
        known = ", ".join(f"cuda:{i}" for i in range(count))
        raise UsageError(
            f"--device {name}: this machine has {count} CUDA device(s) ({known})",
            hint="use --device cuda for the first one",
        )


# The most parameters nncli builds: 200 million (about 4 GB to train with AdamW) is far beyond
# what a table or a price history can fit, and a width typo (--hidden 100000,100000) is not.
MAX_PARAMETERS = 200_000_000
# float32 weights, their gradients, AdamW's two moments and the best weights kept for early
# stopping: five copies of every parameter.
TRAINING_BYTES_PER_PARAMETER = 20
# The torch functions that allocate a network's parameters, with the size as first argument(s).
_FACTORIES = frozenset({"empty", "zeros", "ones", "full", "rand", "randn"})

ModuleT = TypeVar("ModuleT", bound="torch.nn.Module")


class _OverBudgetError(Exception):
    def __init__(self, total: int) -> None:
        super().__init__(total)
        self.total = total


def build_within_memory(
    build: Callable[[], ModuleT], settings: str, device: str = "cpu"
) -> ModuleT:
    """`build()`, stopped before it allocates more parameters than train in the memory here
    (or than `MAX_PARAMETERS`): an oversized network is a usage error naming its size and
    the limit, never an out-of-memory crash. `settings` names the options that set the size
    (e.g. "--hidden 100000,100000")."""
    free = free_memory(device)
    fits = MAX_PARAMETERS if free is None else free // TRAINING_BYTES_PER_PARAMETER
    try:
        with _counting_mode()(min(MAX_PARAMETERS, fits)):
            return build()
    except _OverBudgetError as exc:
        limit = (
            f"nncli's limit is {MAX_PARAMETERS:,}"
            if fits >= MAX_PARAMETERS
            else f"the {_gigabytes(free or 0)} of free memory train at most {fits:,}"
        )
        raise UsageError(
            f"{settings}: the network would have more than {exc.total:,} parameters, about "
            f"{_gigabytes(exc.total * TRAINING_BYTES_PER_PARAMETER)} to train; {limit}",
            hint="use narrower or fewer layers",
        ) from None


def _counting_mode() -> type:
    import torch

    class CountingMode(torch.overrides.TorchFunctionMode):
        """Adds up the elements of the tensors a constructor asks for and raises
        `_OverBudgetError` before the one that would pass `budget` is allocated."""

        def __init__(self, budget: int) -> None:
            super().__init__()
            self.budget, self.total = budget, 0

        def __torch_function__(
            self, func: Any, types: Any, args: Any = (), kwargs: Any = None
        ) -> Any:
            kwargs = kwargs or {}
            if getattr(func, "__name__", "") in _FACTORIES:
                self.total += _elements(func.__name__, args, kwargs)
                if self.total > self.budget:
                    raise _OverBudgetError(self.total)
            return func(*args, **kwargs)

    return CountingMode


def _elements(name: str, args: Any, kwargs: Any) -> int:
    """How many elements a factory call such as `torch.empty((64, 8))` asks for."""
    size = kwargs.get(
        "size", args[0] if name == "full" or (args and not isinstance(args[0], int)) else args
    )
    count = 1
    try:
        for dimension in size:
            count *= int(dimension)
    except (TypeError, ValueError):  # a size torch itself will refuse
        return 0
    return count


def free_memory(device: str = "cpu") -> int | None:
    """Bytes of memory available to a new network on `device` (None when unknown): the CPU's
    available memory, and for a GPU the smaller of that and the GPU's free memory."""
    import os

    free: int | None = None
    try:
        with Path("/proc/meminfo").open(encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
    except (OSError, ValueError):
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, AttributeError):
            free = None
    if device.startswith("cuda"):
        import torch

        try:
            gpu = int(torch.cuda.mem_get_info(torch.device(device))[0])
        except (RuntimeError, ValueError, AssertionError):  # no such GPU: the loop says so
            return free
        free = gpu if free is None else min(free, gpu)
    return free


def _gigabytes(size: int) -> str:
    return f"{size / 1e9:,.1f} GB"
