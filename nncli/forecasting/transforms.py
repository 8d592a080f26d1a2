"""Target transforms and their exact inverses.

The network reads per-step transformed values (e.g. daily log returns) and predicts, for
each horizon step k, the *cumulative* transformed change from the forecast origin
(log(p[t+k] / p[t]) for log returns). Every transform's cumulative form is monotone in the
future level, so quantiles map to price quantiles exactly and the point forecast inverts to
a level without drift.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nncli.errors import DataError, UsageError

if TYPE_CHECKING:
    import numpy as np

TRANSFORMS = ("log-return", "diff", "pct", "none")


def check_transform(name: str) -> str:
    """Validate a --transform name."""
    if name not in TRANSFORMS:
        raise UsageError(f"--transform must be one of {', '.join(TRANSFORMS)}, not {name!r}")
    return name


def check_levels(name: str, levels: np.ndarray, series: str) -> None:
    """Ratio transforms need strictly positive levels."""
    import numpy as np

    if name in ("log-return", "pct") and np.any(levels <= 0):
        position = int(np.flatnonzero(levels <= 0)[0])
        raise DataError(
            f"series {series!r}: value {levels[position]!r} at position {position + 1} is not positive",
            hint=f"--transform {name} needs positive prices; use --transform diff or none",
        )


def step_values(name: str, levels: np.ndarray) -> np.ndarray:
    """Per-step transformed values; element 0 has no predecessor and is NaN (except 'none')."""
    import numpy as np

    levels = np.asarray(levels, dtype=np.float64)
    out = np.full_like(levels, np.nan)
    if name == "none":
        return levels.copy()
    if name == "log-return":
        out[1:] = np.diff(np.log(levels))
    elif name == "diff":
        out[1:] = np.diff(levels)
    elif name == "pct":
        out[1:] = levels[1:] / levels[:-1] - 1.0
    return out


def invert_steps(name: str, origin_level: float, steps: np.ndarray) -> np.ndarray:
    """Levels after the origin from per-step transformed values (the inverse of step_values)."""
    import numpy as np

    steps = np.asarray(steps, dtype=np.float64)
    if name == "none":
        return steps.copy()
    if name == "log-return":
        return origin_level * np.exp(np.cumsum(steps))
    if name == "diff":
        return origin_level + np.cumsum(steps)
    return origin_level * np.cumprod(1.0 + steps)


def cumulative_change(
    name: str, origin_levels: np.ndarray, future_levels: np.ndarray
) -> np.ndarray:
    """The learning target: the change from origin to each future level, in transform units.

    `origin_levels` is [N], `future_levels` is [N, H]. For 'none' the target is the level.
    """
    import numpy as np

    origin = np.asarray(origin_levels, dtype=np.float64)[:, None]
    future = np.asarray(future_levels, dtype=np.float64)
    if name == "log-return":
        return np.log(future / origin)
    if name == "diff":
        return future - origin
    if name == "pct":
        return future / origin - 1.0
    return future.copy()


def invert_cumulative(name: str, origin_levels: np.ndarray, changes: np.ndarray) -> np.ndarray:
    """Levels from cumulative changes: the exact inverse of `cumulative_change`.

    `changes` may carry extra trailing axes (e.g. quantiles): [N, H, ...].
    """
    import numpy as np

    changes = np.asarray(changes, dtype=np.float64)
    origin = np.asarray(origin_levels, dtype=np.float64).reshape(-1, *([1] * (changes.ndim - 1)))
    if name == "log-return":
        return origin * np.exp(changes)
    if name == "diff":
        return origin + changes
    if name == "pct":
        return origin * (1.0 + changes)
    return changes.copy()
