"""Walk-forward (rolling-origin) evaluation of a forecaster against naive baselines.

Each fold has an origin; the model (when retrained) and all its preprocessing see only the
data up to that origin, forecasts the next H steps, and is scored on what happened. The
baselines are computed from the same history at the same origins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nncli.errors import DataError, UsageError
from nncli.forecasting.baselines import baseline_forecasts
from nncli.forecasting.model import ForecastModel, ForecastOptions, train_forecaster
from nncli.forecasting.scoring import ForecastPoints, mase_scale, score
from nncli.reporting import CollectingReporter, Reporter

if TYPE_CHECKING:
    from nncli.forecasting.series import Series

NETWORK = "network"


@dataclass
class BacktestOptions:
    """Folds, their spacing, the training window and the retraining schedule."""

    folds: int = 5
    stride: int | None = None  # steps between origins; default: the horizon
    window: str = "expanding"  # or "fixed"
    train_window: int | None = None  # rows per series for a fixed window
    retrain_every: int = 1  # retrain at every N-th fold, reuse the model in between
    season: int | None = None

    def validate(self, horizon: int) -> None:
        if self.folds < 1:
            raise UsageError(f"--folds must be at least 1, not {self.folds}")
        if self.stride is not None and self.stride < 1:
            raise UsageError(f"--stride must be at least 1, not {self.stride}")
        if self.window not in ("expanding", "fixed"):
            raise UsageError(f"--window must be expanding or fixed, not {self.window!r}")
        if self.window == "fixed" and not self.train_window:
            raise UsageError("--window fixed needs --train-window ROWS")
        if self.retrain_every < 1:
            raise UsageError(f"--retrain-every must be at least 1, not {self.retrain_every}")
        if self.season is not None and self.season < 1:
            raise UsageError(f"--season must be at least 1, not {self.season}")


@dataclass
class FoldForecast:
    """One series' forecast at one fold's origin, with the actuals and baselines."""

    fold: int
    series: str
    origin: str
    timestamps: list[str]
    actual: list[float]
    forecast: list[float]
    lower: list[float]
    upper: list[float]
    baselines: dict[str, list[float]]


@dataclass
class BacktestReport:
    """Per-fold, per-series and overall scores, and the verdict."""

    arch: str
    overall: dict[str, dict[str, Any]]
    per_fold: list[dict[str, Any]]
    per_series: dict[str, dict[str, dict[str, Any]]]
    verdict: str
    beats_naive: bool
    forecasts: list[FoldForecast] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "overall": self.overall,
            "per_fold": self.per_fold,
            "per_series": self.per_series,
            "verdict": self.verdict,
            "beats_naive": self.beats_naive,
        }


def fold_origins(series: Series, folds: int, stride: int, horizon: int) -> list[int]:
    """Origin indices, oldest first; the newest leaves exactly H actuals after it."""
    last = len(series) - horizon - 1
    return [last - stride * (folds - 1 - fold) for fold in range(folds)]


def walk_forward(
    panel: list[Series],
    forecast_options: ForecastOptions,
    options: BacktestOptions,
    *,
    reporter: Reporter | None = None,
) -> BacktestReport:
    """Run the rolling-origin backtest and score the network and the baselines."""
    reporter = reporter or CollectingReporter()
    forecast_options.validate()
    horizon = forecast_options.horizon
    options.validate(horizon)
    stride = options.stride or horizon
    season = options.season or 1
    needed = forecast_options.min_length() + stride * (options.folds - 1) + horizon
    usable = [s for s in panel if len(s) >= needed]
    for series in panel:
        if len(series) < needed:
            reporter.warn(
                f"series {series.name!r} has {len(series)} rows; {options.folds} folds need {needed}; "
                "it is left out of the backtest"
            )
    if not usable:
        raise DataError(
            f"no series is long enough for {options.folds} folds (each needs {needed} rows)",
            hint="lower --folds, --stride, --lookback or --horizon",
        )
    origins = {s.name: fold_origins(s, options.folds, stride, horizon) for s in usable}
    points: dict[str, ForecastPoints] = {}
    per_series_points: dict[str, dict[str, ForecastPoints]] = {}
    per_fold: list[dict[str, Any]] = []
    forecasts: list[FoldForecast] = []
    model: ForecastModel | None = None
    for fold in range(options.folds):
        history = []
        for series in usable:
            origin = origins[series.name][fold]
            start = 0
            if options.window == "fixed" and options.train_window:
                start = max(0, origin + 1 - options.train_window)
            history.append((series, series.window(start, origin + 1), origin))
        if model is None or fold % options.retrain_every == 0:
            reporter.info(f"fold {fold + 1}/{options.folds}: training on data up to each origin")
            model, _ = train_forecaster(
                [h for _, h, _ in history], forecast_options, reporter=_Quiet(reporter)
            )
        trained = set(model.metadata["series"])
        fold_points: dict[str, ForecastPoints] = {}
        candidates = [(s, h, o) for s, h, o in history if h.name in trained]
        predicted = model.forecast_many(
            [h for _, h, _ in candidates], [len(h) - 1 for _, h, _ in candidates]
        )
        quantiles = model.quantiles
        median = quantiles.index(0.5)
        for (series, seen, origin), levels in zip(candidates, predicted, strict=True):
            actual = series.levels[origin + 1 : origin + 1 + horizon]
            scale = mase_scale(seen.levels, season)
            models = {
                NETWORK: levels[:, median],
                **baseline_forecasts(seen.levels, horizon, options.season),
            }
            for name, forecast in models.items():
                lower = levels[:, 0] if name == NETWORK else None
                upper = levels[:, -1] if name == NETWORK else None
                for bucket in (
                    points.setdefault(name, ForecastPoints()),
                    fold_points.setdefault(name, ForecastPoints()),
                    per_series_points.setdefault(series.name, {}).setdefault(
                        name, ForecastPoints()
                    ),
                ):
                    bucket.add(actual, forecast, seen.levels[-1], scale, lower, upper)
            forecasts.append(
                FoldForecast(
                    fold=fold + 1,
                    series=series.name,
                    origin=series.timestamps[origin].isoformat(),
                    timestamps=[
                        t.isoformat() for t in series.timestamps[origin + 1 : origin + 1 + horizon]
                    ],
                    actual=[float(v) for v in actual],
                    forecast=[float(v) for v in levels[:, median]],
                    lower=[float(v) for v in levels[:, 0]],
                    upper=[float(v) for v in levels[:, -1]],
                    baselines={k: [float(v) for v in f] for k, f in models.items() if k != NETWORK},
                )
            )
        per_fold.append(
            {
                "fold": fold + 1,
                "origin": max(s.timestamps[origins[s.name][fold]] for s in usable).isoformat(),
                "retrained": fold % options.retrain_every == 0,
                "scores": {name: score(p) for name, p in fold_points.items()},
            }
        )
    overall = {name: score(p) for name, p in points.items()}
    per_series = {
        name: {model_name: score(p) for model_name, p in by_model.items()}
        for name, by_model in per_series_points.items()
    }
    arch = forecast_options.arch.upper()
    network_mase, naive_mase = overall[NETWORK]["mase"], overall["naive"]["mase"]
    beats = network_mase < naive_mase
    verdict = (
        f"The {arch} beats the naive forecast on MASE ({network_mase:.3f} vs {naive_mase:.3f})."
        if beats
        else f"The {arch} does not beat the naive forecast on MASE ({network_mase:.3f} vs "
        f"{naive_mase:.3f}); for prices that is the usual, honest answer."
    )
    return BacktestReport(
        forecast_options.arch, overall, per_fold, per_series, verdict, beats, forecasts
    )


class _Quiet:
    """Passes warnings on but drops per-fold training notes."""

    def __init__(self, inner: Reporter) -> None:
        self.inner = inner

    def info(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        self.inner.warn(message)
