"""Target transforms and their exact inverses, one object per transform.

The network reads per-step transformed values (e.g. daily log returns) and predicts, for
each horizon step k, the *cumulative* transformed change from the forecast origin
(log(p[t+k] / p[t]) for log returns). Every transform's cumulative form is monotone in the
future level, so quantiles map to price quantiles exactly and the point forecast inverts to
a level without drift.

A new transform is one `Transform` subclass here and one line in `_REGISTRY`; the option's
choices, the model and the backtest all read it from `get_transform(name)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from nncli.errors import DataError, UsageError

if TYPE_CHECKING:
    import numpy as np


class Transform:
    """How levels become per-step model inputs and cumulative targets, and back.

    `first_valid` is the first index with a defined per-step value (a return needs a
    predecessor); `positive_levels` says whether the levels must be strictly positive;
    `centred` says whether per-series scaling subtracts the mean (only raw levels are
    centred: changes keep zero as 'no change').
    """

    name: ClassVar[str]
    first_valid: ClassVar[int] = 1
    positive_levels: ClassVar[bool] = False
    centred: ClassVar[bool] = False
    step_formula: ClassVar[str]  # s[t] from the levels p, for people and exported models
    level_formula: ClassVar[str]  # a level from the origin's level and a cumulative change

    def check_levels(self, levels: np.ndarray, series: str) -> None:
        """Refuse levels this transform cannot take (e.g. a zero price for log returns)."""
        import numpy as np

        if self.positive_levels and np.any(levels <= 0):
            position = int(np.flatnonzero(levels <= 0)[0])
            raise DataError(
                f"series {series!r}: value {float(levels[position]):g} at position {position + 1} is not positive",
                hint=f"--transform {self.name} needs positive prices; use --transform diff or none",
            )

    def step_values(self, levels: np.ndarray) -> np.ndarray:
        """Per-step transformed values [T]; element 0 is NaN when it has no predecessor."""
        import numpy as np

        levels = np.asarray(levels, dtype=np.float64)
        out = np.full_like(levels, np.nan)
        out[1:] = self._steps(levels)
        return out

    def invert_steps(self, origin_level: float, steps: np.ndarray) -> np.ndarray:
        """Levels after the origin from per-step values (the inverse of `step_values`)."""
        import numpy as np

        return self._level(np.asarray(origin_level, dtype=np.float64), self._accumulate(steps))

    def cumulative_change(self, origin_levels: np.ndarray, future_levels: np.ndarray) -> np.ndarray:
        """The learning target: the change from origin [N] to each future level [N, H]."""
        import numpy as np

        origin = np.asarray(origin_levels, dtype=np.float64)[:, None]
        return self._change(origin, np.asarray(future_levels, dtype=np.float64))

    def invert_cumulative(self, origin_levels: np.ndarray, changes: np.ndarray) -> np.ndarray:
        """Levels from cumulative changes [N, H, ...]: the exact inverse of `cumulative_change`."""
        import numpy as np

        changes = np.asarray(changes, dtype=np.float64)
        origin = np.asarray(origin_levels, dtype=np.float64).reshape(
            -1, *([1] * (changes.ndim - 1))
        )
        return self._level(origin, changes)

    # Each transform states its arithmetic once, on aligned arrays.
    def _accumulate(self, steps: np.ndarray) -> np.ndarray:
        """Per-step changes summed into cumulative changes from the origin."""
        import numpy as np

        return np.cumsum(np.asarray(steps, dtype=np.float64))

    def _steps(self, levels: np.ndarray) -> np.ndarray:
        """Each level's change from its predecessor [T-1]."""
        return self._change(levels[:-1], levels[1:])

    def _change(self, origin: np.ndarray, future: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _level(self, origin: np.ndarray, change: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<transform {self.name}>"


class LogReturn(Transform):
    """log(p[t] / p[t-1]): for prices, whose changes are multiplicative."""

    name = "log-return"
    positive_levels = True
    step_formula = "s[t] = ln(p[t] / p[t-1])"
    level_formula = "level = p_origin * exp(change)"

    def _steps(self, levels: np.ndarray) -> np.ndarray:
        import numpy as np

        return np.diff(np.log(levels))

    def _change(self, origin: np.ndarray, future: np.ndarray) -> np.ndarray:
        import numpy as np

        return np.log(future / origin)

    def _level(self, origin: np.ndarray, change: np.ndarray) -> np.ndarray:
        import numpy as np

        return origin * np.exp(change)


class Difference(Transform):
    """p[t] - p[t-1]: for series that may cross zero."""

    name = "diff"
    step_formula = "s[t] = p[t] - p[t-1]"
    level_formula = "level = p_origin + change"

    def _change(self, origin: np.ndarray, future: np.ndarray) -> np.ndarray:
        return future - origin

    def _level(self, origin: np.ndarray, change: np.ndarray) -> np.ndarray:
        return origin + change


class PercentChange(Transform):
    """p[t] / p[t-1] - 1: simple returns."""

    name = "pct"
    positive_levels = True
    step_formula = "s[t] = p[t] / p[t-1] - 1"
    level_formula = "level = p_origin * (1 + change)"

    def _accumulate(self, steps: np.ndarray) -> np.ndarray:
        import numpy as np

        return np.cumprod(1.0 + np.asarray(steps, dtype=np.float64)) - 1.0

    def _change(self, origin: np.ndarray, future: np.ndarray) -> np.ndarray:
        return future / origin - 1.0

    def _level(self, origin: np.ndarray, change: np.ndarray) -> np.ndarray:
        return origin * (1.0 + change)


class Levels(Transform):
    """The levels themselves: the target is the future level, not a change."""

    name = "none"
    first_valid = 0
    centred = True
    step_formula = "s[t] = p[t]"
    level_formula = "level = change"

    def step_values(self, levels: np.ndarray) -> np.ndarray:
        import numpy as np

        return np.asarray(levels, dtype=np.float64).copy()

    def invert_steps(self, origin_level: float, steps: np.ndarray) -> np.ndarray:
        import numpy as np

        return np.asarray(steps, dtype=np.float64).copy()

    def _change(self, origin: np.ndarray, future: np.ndarray) -> np.ndarray:
        return future.copy()

    def _level(self, origin: np.ndarray, change: np.ndarray) -> np.ndarray:
        return change.copy()


_REGISTRY: dict[str, Transform] = {
    transform.name: transform
    for transform in (LogReturn(), Difference(), PercentChange(), Levels())
}
TRANSFORMS = tuple(_REGISTRY)


def get_transform(name: str | Transform) -> Transform:
    """The transform called `name` (a Transform passes through); UsageError for unknown names."""
    if isinstance(name, Transform):
        return name
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UsageError(
            f"--transform must be one of {', '.join(TRANSFORMS)}, not {name!r}"
        ) from None
