"""Walk-forward (rolling-origin) evaluation of a forecaster against the baselines.

Each fold has an origin; the model (when retrained) and all its preprocessing see only the
data up to that origin, forecasts the next H steps, and is scored on what happened. The
baselines (naive, drift, seasonal naive, ETS) are computed from the same history at the same
origins; ETS is chosen and fitted per series at the first fold and run forward after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from nncli.errors import DataError
from nncli.forecasting.architectures import display_name, forecaster_notes, labelled
from nncli.forecasting.baselines import PanelBaselines, panel_seasons
from nncli.forecasting.gates import compare_with_baselines
from nncli.forecasting.model import ForecastModel, train_forecaster
from nncli.forecasting.options import BacktestOptions as BacktestOptions  # its old home
from nncli.forecasting.options import ForecastOptions
from nncli.forecasting.scoring import NETWORK, ForecastPoints, add_forecasts, mase_scale, score
from nncli.reporting import CollectingReporter, Reporter

if TYPE_CHECKING:
    from nncli.forecasting.series import Series


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
    # The forecaster's name in the tables and the verdict, with what validation chose in
    # the folds' models: "N-HITS (random walk chosen: no skill on validation, in 2 of 3 folds)".
    forecaster: str
    overall: dict[str, dict[str, Any]]
    per_fold: list[dict[str, Any]]
    per_series: dict[str, dict[str, dict[str, Any]]]
    verdict: str
    beats_naive: bool
    forecasts: list[FoldForecast] = field(default_factory=list)
    beats_baselines: bool = False
    best_baseline: str = "naive"
    comparison: dict[str, Any] = field(default_factory=dict)  # BaselineComparison.to_dict()
    seasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Every field but the forecasts themselves (those are for --plot)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "forecasts"}


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
    options.validate()
    horizon = forecast_options.horizon
    stride = options.stride or horizon
    usable = _long_enough(panel, forecast_options, options, reporter)
    origins = {s.name: fold_origins(s, options.folds, stride, horizon) for s in usable}
    seasons = panel_seasons(usable, forecast_options.season)
    tally = _Tally(PanelBaselines(seasons, reporter))
    per_fold: list[dict[str, Any]] = []
    model: ForecastModel | None = None
    chosen: list[list[str]] = []  # what validation chose for each fold's model
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
        fold_points = tally.score_fold(model, fold, history, horizon)
        chosen.append(forecaster_notes(model.metadata))
        per_fold.append(
            {
                "fold": fold + 1,
                "forecaster": labelled(display_name(model.metadata), chosen[-1:]),
                "origin": max(s.timestamps[origins[s.name][fold]] for s in usable).isoformat(),
                "retrained": fold % options.retrain_every == 0,
                "scores": {name: score(p) for name, p in fold_points.items()},
            }
        )
    # Windows of one series are `stride` apart: they share errors when the stride is short.
    lag = 1 if stride >= horizon else len(usable) * -(-horizon // stride)
    name = forecast_options.architecture.display
    return tally.report(forecast_options.arch, labelled(name, chosen), per_fold, lag)


def _long_enough(
    panel: list[Series],
    forecast_options: ForecastOptions,
    options: BacktestOptions,
    reporter: Reporter,
) -> list[Series]:
    """The series long enough for every fold; the others are left out with a warning."""
    horizon = forecast_options.horizon
    stride = options.stride or horizon
    needed = forecast_options.min_length() + stride * (options.folds - 1) + horizon
    for series in panel:
        if len(series) < needed:
            reporter.warn(
                f"series {series.name!r} has {len(series)} rows; {options.folds} folds need {needed}; "
                "it is left out of the backtest"
            )
    usable = [s for s in panel if len(s) >= needed]
    if not usable:
        raise DataError(
            f"no series is long enough for {options.folds} folds (each needs {needed} rows)",
            hint="lower --folds, --stride, --lookback or --horizon",
        )
    return usable


@dataclass
class _Tally:
    """Forecast points gathered across folds: overall, per series, and every forecast."""

    baselines: PanelBaselines
    points: dict[str, ForecastPoints] = field(default_factory=dict)
    per_series: dict[str, dict[str, ForecastPoints]] = field(default_factory=dict)
    forecasts: list[FoldForecast] = field(default_factory=list)

    def score_fold(
        self,
        model: ForecastModel,
        fold: int,
        history: list[tuple[Series, Series, int]],
        horizon: int,
    ) -> dict[str, ForecastPoints]:
        """Forecast every series at this fold's origin; add the network's and the baselines'
        points to the tallies and return this fold's own."""
        trained = set(model.metadata["series"])
        candidates = [(s, h, o) for s, h, o in history if h.name in trained]
        predicted = model.forecast_many(
            [h for _, h, _ in candidates], [len(h) - 1 for _, h, _ in candidates]
        )
        median = model.quantiles.index(0.5)
        fold_points: dict[str, ForecastPoints] = {}
        for (series, seen, origin), levels in zip(candidates, predicted, strict=True):
            actual = series.levels[origin + 1 : origin + 1 + horizon]
            start = origin + 1 - len(seen)  # a fixed window starts after the series does
            rivals = self.baselines.at(series.name, series.levels, [origin], horizon, start)
            models = {NETWORK: levels[:, median]} | {k: v[0] for k, v in rivals.items()}
            buckets = [self.points, fold_points, self.per_series.setdefault(series.name, {})]
            scale = mase_scale(seen.levels, self.baselines.seasons.get(series.name, 1))
            add_forecasts(
                buckets, models, actual, seen.levels[-1], scale, (levels[:, 0], levels[:, -1])
            )
            self.forecasts.append(
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
        return fold_points

    def report(
        self, arch: str, forecaster: str, per_fold: list[dict[str, Any]], lag: int
    ) -> BacktestReport:
        """Scores over every fold, and the verdict naming the `forecaster`."""
        overall = {name: score(p) for name, p in self.points.items()}
        per_series = {
            name: {model_name: score(p) for model_name, p in by_model.items()}
            for name, by_model in self.per_series.items()
        }
        comparison = compare_with_baselines(overall, self.points, lag)
        return BacktestReport(
            arch,
            forecaster,
            overall,
            per_fold,
            per_series,
            comparison.verdict(forecaster),
            comparison.beats_naive,
            self.forecasts,
            comparison.beats_baselines,
            comparison.best_baseline,
            comparison.to_dict(),
            self.baselines.seasons,
        )


class _Quiet:
    """Passes warnings on but drops per-fold training notes."""

    def __init__(self, inner: Reporter) -> None:
        self.inner = inner

    def info(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        self.inner.warn(message)
