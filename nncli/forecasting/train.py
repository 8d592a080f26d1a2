"""Training a forecaster and judging it: the one path `forecast train`, `forecast run`,
tuning's refit and the demo share.

train -> holdout scores against the naive and drift forecasts -> verdict -> metadata with
provenance. Saving the model afterwards (`save_forecast_model`) only writes the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.forecasting.gates import BaselineComparison, compare_with_baselines
from nncli.forecasting.model import ForecastModel, holdout_scores, train_forecaster
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
    scores: dict[str, dict[str, Any]]  # model name ("network", "naive", "drift") -> metrics
    comparison: BaselineComparison
    verdict: str

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model.metadata["model_id"],
            "series": list(self.model.metadata["series"]),
            "validation": self.scores,
            "verdict": self.verdict,
            "beats_naive": self.beats_naive,
            "beats_baselines": self.beats_baselines,
            "best_baseline": self.best_baseline,
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
    reporter = reporter or CollectingReporter()
    model, history = train_forecaster(
        panel, options, reporter=reporter, callbacks=callbacks, refit_on_all=refit_on_all
    )
    scores = holdout_scores(model, panel, options)
    comparison = compare_with_baselines(scores)
    on = "validation MASE" + (" (windows seen in the refit)" if refit_on_all else "")
    verdict = comparison.verdict(options.arch.upper(), on=on).removesuffix(".")
    verdict = f"{verdict}; {BACKTEST_HINT}"
    metrics: dict[str, Any] = (
        {REFIT_SCORES: scores} if refit_on_all else {"validation": scores, "verdict": verdict}
    )
    provenance = model_provenance(data_path, options.training.seed)
    model = ForecastModel(model.network, {**model.metadata, "metrics": metrics, **provenance})
    return ForecastTrainReport(model, history, scores, comparison, verdict)


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
