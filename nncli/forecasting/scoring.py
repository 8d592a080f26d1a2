"""Forecast accuracy: MAE, RMSE, MAPE, sMAPE, MASE, direction and interval coverage."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

NETWORK = "network"  # the network's key among the models scored; every other key is a baseline


@dataclass
class ForecastPoints:
    """Aligned forecast points: actuals, forecasts, origin levels and the MASE scale of each."""

    actual: list[float] = field(default_factory=list)
    forecast: list[float] = field(default_factory=list)
    origin: list[float] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)  # points per forecast window, in order

    def add(
        self,
        actual: np.ndarray,
        forecast: np.ndarray,
        origin: float,
        scale: float,
        lower: np.ndarray | None = None,
        upper: np.ndarray | None = None,
    ) -> None:
        if not len(actual):  # nothing matured: no window (window_losses counts each add)
            return
        self.actual.extend(map(float, actual))
        self.forecast.extend(map(float, forecast))
        self.origin.extend([float(origin)] * len(actual))
        self.scale.extend([float(scale)] * len(actual))
        self.sizes.append(len(actual))
        if lower is not None and upper is not None:
            self.lower.extend(map(float, lower))
            self.upper.extend(map(float, upper))

    def extend(self, other: ForecastPoints) -> None:
        for name in ("actual", "forecast", "origin", "scale", "lower", "upper", "sizes"):
            getattr(self, name).extend(getattr(other, name))


def add_forecasts(
    buckets: Iterable[dict[str, ForecastPoints]],
    forecasts: dict[str, np.ndarray],
    actual: np.ndarray,
    origin: float,
    scale: float,
    interval: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Add one window's forecast of every model to each bucket ({model: points}); the
    network's (`NETWORK`) with its `interval` (lower, upper)."""
    lower, upper = interval if interval is not None else (None, None)
    for bucket in buckets:
        for name, forecast in forecasts.items():
            points = bucket.setdefault(name, ForecastPoints())
            if name == NETWORK:
                points.add(actual, forecast, origin, scale, lower, upper)
            else:
                points.add(actual, forecast, origin, scale)


def window_losses(points: ForecastPoints, per_window: bool = True) -> np.ndarray:
    """The mean scaled absolute error (MASE's summand) of each forecast window, in order
    (or of each point): the loss series a Diebold-Mariano test compares."""
    import numpy as np

    errors = np.abs(np.asarray(points.forecast) - np.asarray(points.actual))
    errors = errors / np.asarray(points.scale)
    if not per_window or not len(errors):
        return errors
    sizes = np.asarray(points.sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return np.add.reduceat(errors, starts) / sizes


def mase_scale(history: np.ndarray, season: int = 1) -> float:
    """Mean absolute error of the in-sample (seasonal) naive forecast: MASE's denominator."""
    import numpy as np

    m = season if len(history) > season else 1
    errors = np.abs(history[m:] - history[:-m])
    scale = float(errors.mean()) if len(errors) else 1.0
    return scale if scale > 0 else 1.0


def score(points: ForecastPoints) -> dict[str, Any]:
    """All metrics over the points; direction ignores steps where the actual did not move."""
    import numpy as np
    from scipy.stats import binomtest

    actual = np.asarray(points.actual)
    forecast = np.asarray(points.forecast)
    origin = np.asarray(points.origin)
    error = forecast - actual
    result: dict[str, Any] = {
        "points": len(actual),
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mape": float(np.mean(np.abs(error) / np.abs(actual))) if np.all(actual != 0) else None,
        "smape": float(np.mean(2 * np.abs(error) / (np.abs(actual) + np.abs(forecast) + 1e-12))),
        "mase": float(np.mean(np.abs(error) / np.asarray(points.scale))),
    }
    moved = actual != origin
    actual_up = actual[moved] > origin[moved]
    predicted_up = forecast[moved] > origin[moved]
    n = int(moved.sum())
    if n:
        hits = int((actual_up == predicted_up).sum())
        up_rate = float(actual_up.mean())
        result["directional_accuracy"] = hits / n
        result["always_up_rate"] = up_rate
        result["direction_p_vs_50"] = float(binomtest(hits, n, 0.5, alternative="greater").pvalue)
        reference = min(max(up_rate, 1e-9), 1 - 1e-9)
        result["direction_p_vs_always_up"] = float(
            binomtest(hits, n, reference, alternative="greater").pvalue
        )
    if points.lower:
        lower, upper = np.asarray(points.lower), np.asarray(points.upper)
        result["coverage"] = float(np.mean((actual >= lower) & (actual <= upper)))
    return result
