"""The naive forecasts, from a history alone: the last value (naive), the value one season
earlier (seasonal naive) and the line through the first and last value (drift)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def naive(history: np.ndarray, horizon: int) -> np.ndarray:
    """The last value, repeated (for prices: the zero-return forecast)."""
    import numpy as np

    return np.full(horizon, history[-1], dtype=np.float64)


def seasonal_naive(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """The value one season earlier: step k repeats history[-season + (k-1) % season]."""
    import numpy as np

    if season < 1 or len(history) < season:
        return naive(history, horizon)
    last_season = history[-season:]
    return np.asarray([last_season[k % season] for k in range(horizon)], dtype=np.float64)


def drift(history: np.ndarray, horizon: int) -> np.ndarray:
    """The line through the first and last value, extended (Hyndman's drift method)."""
    import numpy as np

    if len(history) < 2:
        return naive(history, horizon)
    slope = (history[-1] - history[0]) / (len(history) - 1)
    return history[-1] + slope * np.arange(1, horizon + 1, dtype=np.float64)
