"""Which configuration `tune --save-best` keeps: the best trial, or nncli's defaults where the
best trial's gain over them on the validation rows is within noise.

The best of many trials is chosen on the same validation rows it is scored on, so part of its
lead is luck (the winner's curse); on a table where the defaults are already good, the best
trial can lose to them on new rows (benchmarks/RESULTS.md: diamonds, +1.6 %). So both are
compared row by row on the validation rows (a paired comparison: the same rows, the rows'
own difficulty cancels), and the tuned configuration replaces the defaults only when its mean
per-row gain exceeds one standard error of that difference (the one-standard-error rule of
model selection: among candidates within one standard error of the best, take the simplest,
here the defaults).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# A tuned configuration must beat the defaults by this many standard errors of the mean
# per-row difference.
STANDARD_ERRORS = 1.0


@dataclass(frozen=True)
class Comparison:
    """The best trial against the defaults, row by row on the same validation rows."""

    metric: str  # "accuracy" or "rmse"
    best: float  # the metric on the validation rows
    defaults: float
    mean_difference: float  # per-row error, best minus defaults (negative: best is better)
    standard_error: float  # of `mean_difference`
    rows: int

    @property
    def standard_errors(self) -> float:
        """How many standard errors the best trial's mean gain is (positive: it is better)."""
        if self.standard_error == 0.0:
            return math.inf if self.mean_difference < 0 else 0.0
        return -self.mean_difference / self.standard_error

    @property
    def best_wins(self) -> bool:
        return self.standard_errors > STANDARD_ERRORS

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "standard_error": _finite(self.standard_error),
            "standard_errors": _finite(self.standard_errors),
            "kept": "best" if self.best_wins else "defaults",
        }

    def sentence(self, best_trial: int, defaults_trial: int) -> str:
        """One line for the person at the terminal: what was kept, and why."""
        scores = f"validation {self.metric} {self.best:.5g} vs {self.defaults:.5g}"
        noise = f"{self.standard_errors:.2f} standard errors of the row-by-row difference"
        if self.best_wins:
            return (
                f"trial {best_trial} beats the defaults (trial {defaults_trial}): {scores}, {noise}"
            )
        return (
            f"kept the defaults (trial {defaults_trial}): trial {best_trial}'s {scores} is "
            f"within noise ({noise}; a tuned trial replaces the defaults above "
            f"{STANDARD_ERRORS:g})"
        )


def compare_rows(best_errors: np.ndarray, default_errors: np.ndarray, metric: str) -> Comparison:
    """`best_errors` and `default_errors`: each validation row's error (`Task.row_errors`:
    0/1 misses for accuracy, squared errors for RMSE), the same rows in the same order."""
    import numpy as np

    if best_errors.shape != default_errors.shape or best_errors.size == 0:
        raise ValueError("the two models must be scored on the same, non-empty rows")
    difference = best_errors.astype(np.float64) - default_errors.astype(np.float64)
    rows = difference.size
    spread = float(difference.std(ddof=1)) if rows > 1 else math.inf
    return Comparison(
        metric=metric,
        best=_metric(float(best_errors.mean()), metric),
        defaults=_metric(float(default_errors.mean()), metric),
        mean_difference=float(difference.mean()),
        standard_error=spread / math.sqrt(rows),
        rows=rows,
    )


def _metric(mean_error: float, metric: str) -> float:
    return 1.0 - mean_error if metric == "accuracy" else math.sqrt(mean_error)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None  # JSON has no infinity
