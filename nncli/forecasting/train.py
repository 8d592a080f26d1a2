"""Training a forecaster and judging it: the one path `forecast train`, `forecast run`,
tuning's refit and the demo share.

train -> holdout scores against every baseline (naive, drift, seasonal naive, ETS) -> verdict
(the best baseline, a Diebold-Mariano test) -> metadata with the seasons and provenance.
Saving the model afterwards (`save_forecast_model`) only writes the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.forecasting.architectures import forecaster_label
from nncli.forecasting.gates import BaselineComparison, compare_with_baselines
from nncli.forecasting.model import ForecastModel, holdout_points, train_forecaster
from nncli.forecasting.options import ForecastOptions
from nncli.reporting import CollectingReporter, Reporter

if TYPE_CHECKING:
    from nncli.forecasting.series import Series
    from nncli.training.loop import Callback, History

BACKTEST_HINT = "run 'nncli forecast backtest' for a walk-forward answer."
REFIT_SCORES = "validation (seen in the refit)"


@dataclass
class ForecastTrainReport:
    """The outcome of `train_forecast`: the model and its honest numbers."""

    model: ForecastModel
    history: History
    scores: dict[str, dict[str, Any]]  # model name ("network", "naive", "ETS", ...) -> metrics
    comparison: BaselineComparison
    verdict: str
    seasons: dict[str, int] = field(default_factory=dict)  # series -> season m

    @property
    def beats_baselines(self) -> bool:
        """Better than every baseline on validation MASE."""
        return self.comparison.beats_baselines

    @property
    def beats_naive(self) -> bool:
        return self.comparison.beats_naive

    @property
    def best_baseline(self) -> str:
        return self.comparison.best_baseline

    @property
    def forecaster(self) -> str:
        """The forecaster's name in the tables and the verdict (`forecaster_label`)."""
        return forecaster_label(self.model.metadata)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model.metadata["model_id"],
            "forecaster": self.forecaster,
            "series": list(self.model.metadata["series"]),
            "validation": self.scores,
            "verdict": self.verdict,
            "beats_naive": self.beats_naive,
            "beats_baselines": self.beats_baselines,
            "best_baseline": self.best_baseline,
            "comparison": self.comparison.to_dict(),
            "season": self.model.metadata.get("season"),
            "best_epoch": self.history.best_epoch,
        }


def train_forecast(
    panel: list[Series],
    options: ForecastOptions,
    *,
    reporter: Reporter | None = None,
    callbacks: tuple[Callback, ...] = (),
    refit_on_all: bool = False,
    data_path: Path | None = None,
) -> ForecastTrainReport:
    """Train a forecaster on `panel`, score it against the baselines on every series' newest
    windows, and return it with the verdict; its metadata records where the data came from.

    `refit_on_all` trains on the validation windows too (tuning's refit): the scores are
    then recorded as seen in training, and the verdict says so.
    """
    from nncli.forecasting.baselines import PanelBaselines, panel_seasons
    from nncli.forecasting.scoring import score

    reporter = reporter or CollectingReporter()
    model, history = train_forecaster(
        panel, options, reporter=reporter, callbacks=callbacks, refit_on_all=refit_on_all
    )
    options = replace(options, lookback=model.lookback)  # the windows it was trained on
    seasons = panel_seasons(
        [s for s in panel if s.name in model.metadata["series"]], options.season
    )
    reporter.info(describe_seasons(seasons, options.season))
    points = holdout_points(model, panel, options, PanelBaselines(seasons, reporter))
    scores = {name: score(p) for name, p in points.items()}
    # Consecutive validation origins overlap: their errors are correlated up to H windows apart.
    comparison = compare_with_baselines(scores, points, lag=options.horizon)
    on = "validation MASE" + (" (windows seen in the refit)" if refit_on_all else "")
    verdict = comparison.verdict(forecaster_label(model.metadata), on=on).removesuffix(".")
    verdict = f"{verdict}; {BACKTEST_HINT}"
    metrics: dict[str, Any] = (
        {REFIT_SCORES: scores} if refit_on_all else {"validation": scores, "verdict": verdict}
    )
    provenance = model_provenance(data_path, options.training.seed)
    season = {"option": options.season, "per_series": seasons}
    metadata = {**model.metadata, "metrics": metrics, "season": season, **provenance}
    model = replace(model, metadata=metadata)
    return ForecastTrainReport(model, history, scores, comparison, verdict, seasons)


def describe_seasons(seasons: dict[str, int], option: int | None) -> str:
    """'season m=12 (from the frequency)', or each distinct season with its series count."""
    source = "--season" if option is not None else "from the frequency; --season overrides"
    distinct = sorted(set(seasons.values()))
    if len(distinct) == 1:
        return f"season m={distinct[0]} ({source})"
    counts = ", ".join(f"m={m}: {list(seasons.values()).count(m)} series" for m in distinct)
    return f"seasons {counts} ({source})"


def model_provenance(data_path: Path | None, seed: int) -> dict[str, Any]:
    """Which data (path, name, checksum) and seed made a model."""
    from nncli.files import file_sha256

    provenance: dict[str, Any] = {"seed": seed}
    if data_path is not None:
        provenance["data"] = {
            "path": str(data_path),
            "name": data_path.name,
            "sha256": file_sha256(data_path),
        }
    return provenance
