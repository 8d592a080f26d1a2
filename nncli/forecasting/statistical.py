"""Statistical forecasts and tests every network is measured against, as pure functions.

- the season of a series from its frequency string (`season_from_frequency`, `infer_season`);
- ETS: Holt-Winters exponential smoothing (statsmodels), trend / damped / seasonal chosen by
  AICc on the history, on the log scale for positive series (multiplicative in effect), with
  STL seasonal adjustment for long seasons (m > 24, as `forecast::stlf` does) and naive as the
  fallback when every fit fails (`ets_forecast`);
- ARIMA: a bounded stepwise order search in the Hyndman-Khandakar manner (statsmodels);
- the Diebold-Mariano test with the Harvey-Leybourne-Newbold small-sample correction;
- split-conformal interval calibration per horizon step (`conformal_margins`);
- the "no harm" rule: shrink a network's median toward "no change" unless validation shows
  significant skill (`choose_shrink`).

Seasonal naive, naive and drift live in `nncli.forecasting.naive`; they are imported, not
copied. statsmodels is imported inside the functions that need it.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nncli.forecasting.naive import naive, seasonal_naive

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "ARIMAFit",
    "DieboldMariano",
    "ETSFit",
    "Shrink",
    "apply_margins",
    "arima_forecast",
    "choose_shrink",
    "conformal_margins",
    "diebold_mariano",
    "ets_forecast",
    "ets_forecasts_at",
    "fit_arima",
    "fit_ets",
    "infer_season",
    "naive",
    "prefers_seasonal_naive",
    "season_from_frequency",
    "seasonal_naive",
    "seasonal_strength",
    "series_season",
]

# Periods per cycle for each pandas offset prefix (yearly data: no season).
_SEASONS = {
    "Y": 1, "YS": 1, "YE": 1, "A": 1, "AS": 1, "BA": 1, "BY": 1, "BYS": 1, "BYE": 1,
    "Q": 4, "QS": 4, "QE": 4, "BQ": 4, "BQS": 4, "BQE": 4,
    "M": 12, "MS": 12, "ME": 12, "BM": 12, "BMS": 12, "BME": 12, "CBMS": 12, "CBME": 12,
    "SM": 24, "SMS": 24, "SME": 24,
    "W": 52,
    "B": 5, "C": 5,
    "D": 7,
}  # fmt: skip
_MINUTES_PER_DAY = 24 * 60
_SUB_DAILY_MINUTES = {"h": 60, "H": 60, "BH": 60, "min": 1, "T": 1}

# Seasons longer than this are removed with STL before ETS / ARIMA (seasonal state-space fits
# with 48 or 52 states are slow and unstable; STL + a non-seasonal model is the usual remedy).
LONG_SEASON = 24


def season_from_frequency(frequency: str) -> int:
    """Periods per natural cycle: monthly 12, quarterly 4, weekly 52, business-daily 5, daily 7,
    hourly 24, half-hourly 48, yearly (and anything finer than a minute or unknown) 1."""
    match = re.fullmatch(r"(\d*)([A-Za-z]+)(?:-.*)?", frequency.strip())
    if not match:
        return 1
    count = int(match.group(1) or 1)
    code = match.group(2)
    if code in _SUB_DAILY_MINUTES:
        per_day = _MINUTES_PER_DAY / (_SUB_DAILY_MINUTES[code] * count)
        return int(per_day) if per_day >= 2 and per_day == int(per_day) else 1
    season = _SEASONS.get(code, _SEASONS.get(code.upper(), 1))
    if count > 1 and season > 1:  # e.g. "2QS": two quarters per step -> 2 per year
        return season // count if season % count == 0 and season // count > 1 else 1
    return season


def infer_season(timestamps: pd.DatetimeIndex) -> int:
    """The season of a series from its timestamps, via `calendar.infer_frequency`."""
    from nncli.forecasting.calendar import infer_frequency

    return season_from_frequency(infer_frequency(timestamps))


def series_season(timestamps: pd.DatetimeIndex, override: int | None = None) -> int:
    """The season a forecaster uses for one series: `override` (`--season`) when given, else
    the one its frequency implies (1 when unknown)."""
    return override if override is not None else infer_season(timestamps)


def seasonal_strength(history: np.ndarray, season: int) -> float:
    """Hyndman's strength of seasonality from an STL decomposition, in [0, 1] (0 when m < 2)."""
    import numpy as np
    from statsmodels.tsa.seasonal import STL

    if season < 2 or len(history) < 2 * season + 1:
        return 0.0
    fit = STL(np.asarray(history, dtype=np.float64), period=season, robust=True).fit()
    remainder = np.var(fit.resid)
    detrended = np.var(fit.resid + fit.seasonal)
    return float(max(0.0, 1.0 - remainder / detrended)) if detrended > 0 else 0.0


def prefers_seasonal_naive(history: np.ndarray, horizon: int, season: int) -> bool:
    """Whether seasonal naive beats naive on the history's own h-step forecasts (mean absolute
    error over every origin with a full season behind it and h values ahead)."""
    import numpy as np

    values = np.asarray(history, dtype=np.float64)
    if season < 2 or len(values) < season + horizon + 2:
        return False
    origins = np.arange(season - 1, len(values) - horizon)
    steps = np.arange(1, horizon + 1)
    future = values[origins[:, None] + steps]  # [N, H]
    naive_error = np.abs(future - values[origins][:, None]).mean()
    seasonal = values[origins[:, None] - season + 1 + (steps - 1) % season]
    return bool(np.abs(future - seasonal).mean() < naive_error)


def _stl_adjust(values: np.ndarray, season: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Seasonally adjusted values and the seasonal component of the next `horizon` steps
    (the last full season, repeated), from a robust STL decomposition."""
    import numpy as np
    from statsmodels.tsa.seasonal import STL

    seasonal = STL(values, period=season, robust=True).fit().seasonal
    last = seasonal[-season:]
    future = np.asarray([last[k % season] for k in range(horizon)])
    return values - seasonal, future


# --- ETS ---------------------------------------------------------------------------------


@dataclass
class ETSFit:
    """The chosen exponential-smoothing model and its forecast (levels, [H])."""

    forecast: np.ndarray
    trend: str | None = None
    damped: bool = False
    seasonal: str | None = None
    season: int = 1
    log: bool = False
    stl: bool = False
    aicc: float = math.inf
    fallback: str | None = None  # why the naive forecast was used instead, if it was
    candidates: dict[str, float] = field(default_factory=dict)
    # The chosen model's smoothing parameters and initial states (statsmodels' names), and for
    # STL the seasonal component over the fitted history: what `ets_forecasts_at` runs forward.
    params: dict[str, Any] = field(default_factory=dict)
    stl_seasonal: np.ndarray | None = None

    @property
    def name(self) -> str:
        """A short label such as 'ETS(A,Ad,A) log'."""
        trend = {None: "N", "add": "A"}[self.trend] + ("d" if self.damped else "")
        seasonal = "A" if self.seasonal or self.stl else "N"
        label = f"ETS(A,{trend},{seasonal})" + (" stl" if self.stl else "")
        return label + (" log" if self.log else "") if not self.fallback else "naive (fallback)"


def fit_ets(
    history: np.ndarray, horizon: int, season: int = 1, *, allow_log: bool = True
) -> ETSFit:
    """ETS with trend (none, additive, damped) and seasonality (none, additive) chosen by AICc.

    Positive series are modelled on the log scale (a multiplicative model whose forecasts
    stay positive; the back-transform is the median). Seasons longer than `LONG_SEASON` are
    removed with STL first. Short series drop the candidates they cannot identify; if no
    candidate fits, the forecast is naive and `fallback` says why.
    """
    import numpy as np

    values = np.asarray(history, dtype=np.float64)
    if len(values) < 3 or not np.all(np.isfinite(values)):
        why = "fewer than 3 values" if len(values) < 3 else "non-finite values"
        return ETSFit(forecast=naive(values, horizon), fallback=why)
    use_log = allow_log and bool(np.all(values > 0))
    work = np.log(values) if use_log else values
    stl_future = stl_seasonal = None
    if season > LONG_SEASON and len(work) >= 2 * season + 1:
        adjusted, stl_future = _stl_adjust(work, season, horizon)
        work, stl_seasonal = adjusted, work - adjusted
    seasonal_ok = stl_future is None and 1 < season <= len(work) // 2 and len(work) >= season + 6
    best: ETSFit | None = None
    candidates: dict[str, float] = {}
    for trend, damped in ((None, False), ("add", False), ("add", True)):
        if trend and len(work) < 8:
            continue
        for seasonal in (None, "add") if seasonal_ok else (None,):
            fit = _fit_holt_winters(work, horizon, trend, damped, seasonal, season)
            if fit is None:
                continue
            forecast, aicc, params = fit
            key = f"{trend or 'N'}{'d' if damped else ''},{seasonal or 'N'}"
            candidates[key] = aicc
            if best is None or aicc < best.aicc:
                best = ETSFit(forecast, trend, damped, seasonal, season, use_log, False, aicc)
                best.params = params
    if best is None:
        return ETSFit(forecast=naive(values, horizon), fallback="no ETS candidate could be fitted")
    forecast = best.forecast + (stl_future if stl_future is not None else 0.0)
    best.forecast = np.exp(forecast) if use_log else forecast
    best.stl = stl_future is not None
    best.stl_seasonal = stl_seasonal
    best.candidates = candidates
    if not np.all(np.isfinite(best.forecast)):
        return ETSFit(forecast=naive(values, horizon), fallback="the ETS forecast was not finite")
    return best


def _fit_holt_winters(
    work: np.ndarray,
    horizon: int,
    trend: str | None,
    damped: bool,
    seasonal: str | None,
    season: int,
) -> tuple[np.ndarray, float, dict[str, Any]] | None:
    """One Holt-Winters fit: its forecast, AICc and parameters, or None when statsmodels fails."""
    import numpy as np
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            model = ExponentialSmoothing(
                work,
                trend=trend,
                damped_trend=damped,
                seasonal=seasonal,
                seasonal_periods=season if seasonal else None,
                # The heuristic start values are several times faster than estimating
                # them, with the same forecasts to within noise on short series.
                initialization_method="heuristic" if len(work) >= 10 + 2 * season else "estimated",
            )
            result = model.fit(optimized=True, use_brute=True)
            forecast = np.asarray(result.forecast(horizon), dtype=np.float64)
            aicc = float(result.aicc)
    except (ValueError, np.linalg.LinAlgError, IndexError, ZeroDivisionError):
        return None
    if not np.all(np.isfinite(forecast)) or not np.isfinite(aicc):
        return None
    return forecast, aicc, dict(result.params)


def ets_forecast(history: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """The point forecast [H] of the ETS model chosen by AICc (see `fit_ets`)."""
    return fit_ets(history, horizon, season).forecast


def ets_forecasts_at(
    values: np.ndarray,
    origins: np.ndarray,
    horizon: int,
    season: int = 1,
    fit: ETSFit | None = None,
) -> tuple[np.ndarray, ETSFit]:
    """ETS forecasts [N, H] from each origin (an index into `values`), and the fit used.

    The model is chosen and fitted by AICc (`fit_ets`) on the history up to the first origin,
    or `fit` (an earlier one) is reused; later origins run that model forward with its
    parameters fixed: one filtering pass over the data, so each forecast still sees only the
    history up to its origin. A full fit per origin costs about a second on 2,000 points; this
    costs milliseconds. With STL, later origins keep the seasonal pattern estimated at the fit.
    A fit that fell back to naive gives naive forecasts, as does an origin whose forecast is
    not finite.
    """
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    origins = np.asarray(origins, dtype=np.int64)
    if fit is None:
        fit = fit_ets(values[: int(origins[0]) + 1], horizon, season)
    naive_rows = np.repeat(values[origins][:, None], horizon, axis=1)
    if fit.fallback or not fit.params or not len(origins):
        return naive_rows, fit
    seen = values[: int(origins.max()) + 1]
    with np.errstate(all="ignore"):
        work = np.log(seen) if fit.log else seen.copy()
    pattern = _stl_pattern(fit, len(work))
    states = _ets_states(work - pattern, fit)
    if states is None:
        return naive_rows, fit
    level, trend, seasonal = states
    steps = np.arange(1, horizon + 1)
    phi = float(fit.params.get("damping_trend") or 1.0) if fit.damped else 1.0
    growth = np.cumsum(phi**steps) if fit.trend else np.zeros(horizon)
    forecasts = level[origins, None] + growth * trend[origins, None]
    if fit.seasonal:
        m = fit.season
        forecasts += seasonal[origins[:, None] - m + 1 + (steps - 1) % m]
    if fit.stl:
        forecasts += _stl_pattern(fit, int(origins.max()) + horizon + 1)[origins[:, None] + steps]
    with np.errstate(all="ignore"):
        forecasts = np.exp(forecasts) if fit.log else forecasts
    finite = np.all(np.isfinite(forecasts), axis=1)
    return np.where(finite[:, None], forecasts, naive_rows), fit


def _stl_pattern(fit: ETSFit, length: int) -> np.ndarray:
    """The seasonal component of an STL fit over `length` steps: as estimated over the fitted
    history, then its last season repeated (zeros without STL)."""
    import numpy as np

    if fit.stl_seasonal is None:
        return np.zeros(length)
    known = fit.stl_seasonal[:length]
    last = fit.stl_seasonal[-fit.season :]
    extra = length - len(known)
    return np.concatenate([known, last[np.arange(max(0, extra)) % fit.season]])


def _ets_states(work: np.ndarray, fit: ETSFit) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Level, trend and seasonal state [T] after each value, from statsmodels' Holt-Winters
    filter with the fit's parameters fixed (no optimisation); None when it fails."""
    import numpy as np
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    p = fit.params
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            model = ExponentialSmoothing(
                work,
                trend=fit.trend,
                damped_trend=fit.damped,
                seasonal=fit.seasonal,
                seasonal_periods=fit.season if fit.seasonal else None,
                initialization_method="known",
                initial_level=p["initial_level"],
                initial_trend=p["initial_trend"] if fit.trend else None,
                initial_seasonal=p["initial_seasons"] if fit.seasonal else None,
            )
            result = model.fit(
                smoothing_level=p["smoothing_level"],
                smoothing_trend=p["smoothing_trend"] if fit.trend else None,
                smoothing_seasonal=p["smoothing_seasonal"] if fit.seasonal else None,
                damping_trend=p["damping_trend"] if fit.damped else None,
                optimized=False,
            )
    except (ValueError, KeyError, np.linalg.LinAlgError, IndexError, ZeroDivisionError):
        return None
    level = np.asarray(result.level, dtype=np.float64)
    trend = np.asarray(result.trend, dtype=np.float64) if fit.trend else np.zeros_like(level)
    seasonal = np.asarray(result.season, dtype=np.float64) if fit.seasonal else level * 0
    return level, trend, seasonal


# --- ARIMA -------------------------------------------------------------------------------


@dataclass
class ARIMAFit:
    """The chosen ARIMA order and its forecast (levels, [H])."""

    forecast: np.ndarray
    order: tuple[int, int, int] = (0, 1, 0)
    seasonal_order: tuple[int, int, int, int] = (0, 0, 0, 0)
    stl: bool = False
    aicc: float = math.inf
    fits: int = 0
    fallback: str | None = None

    @property
    def name(self) -> str:
        if self.fallback:
            return "naive (fallback)"
        p, d, q = self.order
        sp, sd, sq, m = self.seasonal_order
        seasonal = f"({sp},{sd},{sq})[{m}]" if m else ""
        return f"ARIMA({p},{d},{q}){seasonal}" + (" stl" if self.stl else "")


def _differences(values: np.ndarray, max_d: int = 2) -> int:
    """Number of first differences KPSS asks for (level stationarity at 5 %)."""
    import numpy as np
    from statsmodels.tsa.stattools import kpss

    d = 0
    series = values
    while d < max_d and len(series) > 10:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p_value = kpss(series, regression="c", nlags="auto")[1]
        if p_value >= 0.05:
            break
        series = np.diff(series)
        d += 1
    return d


def fit_arima(
    history: np.ndarray,
    horizon: int,
    season: int = 1,
    *,
    max_order: int = 3,
    time_budget: float = 10.0,
) -> ARIMAFit:
    """ARIMA with d from KPSS, D (`sd`) from the seasonal strength (> 0.64), and
    (p, q, sp, sq) from a stepwise AICc search (Hyndman & Khandakar 2008) that stops after
    `time_budget` seconds.

    Seasons longer than 12 are removed with STL first (seasonal ARIMA with 24+ lags is slow).
    """
    import numpy as np

    values = np.asarray(history, dtype=np.float64)
    if len(values) < 8 or not np.all(np.isfinite(values)):
        return ARIMAFit(forecast=naive(values, horizon), fallback="too few values")
    stl_future = None
    if season > 12 and len(values) >= 2 * season + 1:
        values, stl_future = _stl_adjust(values, season, horizon)
        season = 1
    seasonal = season > 1 and len(values) >= 3 * season
    sd = 1 if seasonal and seasonal_strength(values, season) > 0.64 else 0
    base = values[season:] - values[:-season] if sd else values
    d = _differences(base)
    deadline = time.monotonic() + time_budget
    tried: dict[tuple[int, int, int, int], tuple[float, np.ndarray]] = {}

    def evaluate(p: int, q: int, sp: int, sq: int) -> None:
        key = (p, q, sp, sq)
        if key in tried or time.monotonic() > deadline:
            return
        if min(key) < 0 or p > max_order or q > max_order or sp > 1 or sq > 1:
            return
        result = _fit_sarima(values, horizon, (p, d, q), (sp, sd, sq, season if seasonal else 0))
        tried[key] = result if result else (math.inf, np.empty(0))

    # Hyndman-Khandakar's starting models, cheapest first so a tight budget still gets some.
    starts = [(0, 0, 0, 0), (1, 0, 1, 0), (0, 1, 0, 1), (2, 2, 1, 1)]
    for p, q, sp, sq in starts:
        evaluate(p, q, sp if seasonal else 0, sq if seasonal else 0)
    while time.monotonic() < deadline and tried:
        best_key = min(tried, key=lambda k: tried[k][0])
        before = len(tried)
        p, q, sp, sq = best_key
        for dp, dq, dsp, dsq in (
            (1, 0, 0, 0), (-1, 0, 0, 0), (0, 1, 0, 0), (0, -1, 0, 0),
            (1, 1, 0, 0), (-1, -1, 0, 0),
            (0, 0, 1, 0), (0, 0, -1, 0), (0, 0, 0, 1), (0, 0, 0, -1),
        ):  # fmt: skip
            if (dsp or dsq) and not seasonal:
                continue
            evaluate(p + dp, q + dq, sp + dsp, sq + dsq)
        if min(tried, key=lambda k: tried[k][0]) == best_key and len(tried) >= before:
            break  # no neighbour improved on the best: the stepwise search has converged
    finite = {k: v for k, v in tried.items() if np.isfinite(v[0])}
    if not finite:
        return ARIMAFit(forecast=naive(np.asarray(history, float), horizon), fallback="no fit")
    key = min(finite, key=lambda k: finite[k][0])
    aicc, forecast = finite[key]
    if stl_future is not None:
        forecast = forecast + stl_future
    p, q, sp, sq = key
    return ARIMAFit(
        forecast=forecast,
        order=(p, d, q),
        seasonal_order=(sp, sd, sq, season) if seasonal else (0, 0, 0, 0),
        stl=stl_future is not None,
        aicc=aicc,
        fits=len(tried),
    )


def _fit_sarima(
    values: np.ndarray,
    horizon: int,
    order: tuple[int, int, int],
    seasonal_order: tuple[int, int, int, int],
) -> tuple[float, np.ndarray] | None:
    """AICc and level forecast of one (S)ARIMA fit.

    The differences are taken here and the ARMA part is fitted to the differenced series
    (with a constant, i.e. a drift, when at most one difference was taken); the forecast is
    integrated back. This is several times faster than letting the state-space model carry
    the integration, and AICc is then comparable between orders of equal (d, sd) only,
    which is all the search compares.
    """
    import numpy as np
    from statsmodels.tsa.arima.model import ARIMA

    p, d, q = order
    sp, sd, sq, m = seasonal_order
    seasonal_diffed = values[m:] - values[:-m] if sd else values
    work = np.diff(seasonal_diffed, d) if d else seasonal_diffed
    if len(work) < max(p + q + (sp + sq) * max(m, 1) + 3, 8):
        return None
    trend = "c" if d + sd <= 1 else "n"
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            model = ARIMA(work, order=(p, 0, q), seasonal_order=(sp, 0, sq, m), trend=trend)
            result = model.fit(method_kwargs={"maxiter": 60})
            forecast = np.asarray(result.forecast(horizon), dtype=np.float64)
            aicc = float(result.aicc)
    except (ValueError, np.linalg.LinAlgError, IndexError):
        return None
    if not np.all(np.isfinite(forecast)) or not np.isfinite(aicc):
        return None
    # Undo the regular differences, then the seasonal one.
    for level in range(d, 0, -1):
        base = np.diff(seasonal_diffed, level - 1) if level > 1 else seasonal_diffed
        forecast = base[-1] + np.cumsum(forecast)
    if sd:
        extended = np.concatenate([values, np.empty(horizon)])
        for step in range(horizon):
            extended[len(values) + step] = forecast[step] + extended[len(values) + step - m]
        forecast = extended[len(values) :]
    # A fit with a near-unit root can pass AICc and still explode (seen: tbilrate forecast at
    # 9,000x the naive error): refuse forecasts that leave the history's range by more than
    # ten times its width, as auto.arima refuses non-stationary or non-invertible fits.
    span = float(np.ptp(values)) or 1.0
    if np.any(np.abs(forecast - values[-1]) > 10 * span):
        return None
    return aicc, forecast


def arima_forecast(
    history: np.ndarray, horizon: int, season: int = 1, time_budget: float = 10.0
) -> np.ndarray:
    """The point forecast [H] of the ARIMA chosen by `fit_arima`."""
    return fit_arima(history, horizon, season, time_budget=time_budget).forecast


# --- Diebold-Mariano ---------------------------------------------------------------------


@dataclass
class DieboldMariano:
    """The test of equal accuracy; negative `statistic` means the first forecast is better."""

    statistic: float
    p_value: float  # two-sided
    p_first_better: float  # one-sided: H1 "the first forecast's loss is lower"
    mean_difference: float
    n: int


def diebold_mariano(
    loss_first: np.ndarray, loss_second: np.ndarray, horizon: int = 1
) -> DieboldMariano:
    """Diebold-Mariano test on the loss differential d = loss_first - loss_second.

    The variance uses the autocovariances of d up to lag `horizon - 1` (h-step forecast errors
    are MA(h-1)); the statistic gets the Harvey-Leybourne-Newbold (1997) small-sample factor
    and is compared with Student's t on n - 1 degrees of freedom. For losses pooled over the
    steps of non-overlapping windows, pass one mean loss per window and `horizon=1`.
    """
    import numpy as np
    from scipy.stats import t as student_t

    d = np.asarray(loss_first, dtype=np.float64) - np.asarray(loss_second, dtype=np.float64)
    d = d[np.isfinite(d)]
    n = len(d)
    mean = float(d.mean()) if n else 0.0
    if n < 3:
        return DieboldMariano(0.0, 1.0, 0.5, mean, n)
    h = max(1, min(horizon, n - 1))
    centred = d - mean
    gammas = [float(centred[k:] @ centred[: n - k]) / n for k in range(h)]
    variance = (gammas[0] + 2 * sum(gammas[1:])) / n
    if variance <= 0:  # the truncated long-run variance can be negative; fall back to lag 0
        variance = gammas[0] / n
    if variance <= 0:  # identical losses
        return DieboldMariano(0.0, 1.0, 0.5, mean, n)
    statistic = mean / math.sqrt(variance)
    statistic *= math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    p_two = float(2 * student_t.sf(abs(statistic), df=n - 1))
    p_first = float(student_t.cdf(statistic, df=n - 1))
    return DieboldMariano(float(statistic), p_two, p_first, mean, n)


# --- Split-conformal intervals ------------------------------------------------------------


def conformal_margins(
    actual: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    coverage: float = 0.8,
    *,
    monotone: bool = True,
) -> np.ndarray:
    """Per-horizon-step margins [H] that make [lower - m, upper + m] cover `coverage`.

    Conformalised quantile regression (Romano et al. 2019) on walk-forward calibration
    windows: `actual`, `lower`, `upper` are [N, H] (N forecast origins not used for fitting).
    The score is max(lower - y, y - upper); the margin is its ceil((N + 1) * coverage)-th
    smallest value per step. A negative margin narrows an interval that was too wide. With
    `monotone`, margins never shrink as the step grows (fewer noisy reversals between steps).
    For a point forecast, pass it as both `lower` and `upper` (absolute-residual conformal).
    Compute everything on the scale the model forecasts in (e.g. log changes), so intervals of
    a positive series stay positive after the inverse transform.
    """
    import numpy as np

    actual = np.atleast_2d(np.asarray(actual, dtype=np.float64))
    scores = np.maximum(np.asarray(lower) - actual, actual - np.asarray(upper))  # [N, H]
    margins = np.empty(scores.shape[1])
    for step in range(scores.shape[1]):
        column = np.sort(scores[:, step][np.isfinite(scores[:, step])])
        n = len(column)
        if n == 0:
            margins[step] = 0.0
            continue
        rank = math.ceil((n + 1) * coverage)  # 1-based; beyond n means "wider than all seen"
        margins[step] = column[min(rank, n) - 1]
    return np.maximum.accumulate(margins) if monotone else margins


def apply_margins(
    lower: np.ndarray, upper: np.ndarray, margins: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The calibrated interval: bounds [.., H] moved out by the per-step margins [H]; the
    bounds never cross (a negative margin stops at the interval's midpoint)."""
    import numpy as np

    new_lower = np.asarray(lower) - margins
    new_upper = np.asarray(upper) + margins
    middle = (np.asarray(lower) + np.asarray(upper)) / 2
    return np.minimum(new_lower, middle), np.maximum(new_upper, middle)


# --- No harm: shrink toward "no change" unless validation shows skill -----------------------


@dataclass
class Shrink:
    """The weight kept on a forecaster's median change, and the evidence for it."""

    weight: float  # 1: the forecaster as trained; 0: a zero-median change (the random walk)
    p_value: float  # one-sided DM p-value of `weight` against zero change on validation
    mae: dict[float, float]  # validation MAE of each candidate weight


def choose_shrink(
    median: np.ndarray,
    actual: np.ndarray,
    anchor: np.ndarray | None = None,
    grid: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0),
    alpha: float = 0.05,
) -> Shrink:
    """The weight w for the forecast anchor + w * (median - anchor), from validation.

    `median`, `actual` and `anchor` are [N, H] cumulative changes from N consecutive
    validation origins (windows not used for fitting); the anchor defaults to zero change
    (naive). The weight with the lowest MAE is kept only when a Diebold-Mariano test (lag
    H - 1 for the overlap of consecutive windows) says it beats the anchor at level `alpha`;
    otherwise the weight is 0 and the median forecast is the anchor's, which for a random
    walk and a zero anchor is the naive forecast exactly. Apply it to the other quantiles by
    moving them with the median: q - (1 - w) * (median - anchor).
    """
    import numpy as np

    median = np.asarray(median, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    base = np.zeros_like(median) if anchor is None else np.asarray(anchor, dtype=np.float64)
    per_origin = {w: np.abs(base + w * (median - base) - actual).mean(axis=1) for w in grid}
    mae = {w: float(loss.mean()) for w, loss in per_origin.items()}
    zero = np.abs(base - actual).mean(axis=1)
    best = min(mae, key=lambda w: mae[w])
    if best == 0.0:
        return Shrink(0.0, 1.0, mae)
    test = diebold_mariano(per_origin[best], zero, horizon=median.shape[1])
    weight = best if test.p_first_better < alpha else 0.0
    return Shrink(weight, test.p_first_better, mae)
