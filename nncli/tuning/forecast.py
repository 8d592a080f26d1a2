"""The forecasting search domain (`nncli forecast tune`): forecasters drawn from FORECAST_SPACE
(architecture, lookback, size, depth, dropout, learning rate), each trial scored on one
validation split or on walk-forward folds, and a refit of the best trial."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from nncli.data.loading import CsvOptions
from nncli.errors import UsageError
from nncli.tuning.domain import PruningCallback, RefitPlan, SilentReporter
from nncli.tuning.options import SERIES_PICK
from nncli.tuning.space import FORECAST_SEARCHED_OPTIONS, FORECAST_SPACE, ParamSpec, sample

if TYPE_CHECKING:
    from pathlib import Path

    import optuna

    from nncli.forecasting.options import ForecastOptions
    from nncli.tuning.options import SearchOptions


def forecast_options(base: ForecastOptions, params: dict[str, Any]) -> ForecastOptions:
    """Training options for one point of the forecasting search space."""
    return replace(
        base,
        arch=str(params["arch"]),
        lookback=int(params["lookback"]),
        hidden_size=int(params["hidden_size"]),
        num_layers=int(params["layers"]),
        dropout=float(params["dropout"]),
        training=replace(base.training, learning_rate=float(params["lr"])),
    )


# The options a series search draws, by flag: a value given for one of them on the command
# line (or in the config's [forecast.tune] table) is replaced in every trial.
@dataclass
class ForecastSearch:
    """A search over forecasters of the series in a file read as `csv` says, every trial
    starting from `options` and scored on `folds` walk-forward folds."""

    options: ForecastOptions
    csv: CsvOptions = field(default_factory=CsvOptions)
    folds: int = 1
    name: ClassVar[str] = "forecast"
    command: ClassVar[tuple[str, ...]] = ("forecast", "tune")
    default_space: ClassVar[dict[str, ParamSpec]] = FORECAST_SPACE
    searched_options: ClassVar[dict[str, str]] = FORECAST_SEARCHED_OPTIONS
    # Series lean on their latest windows: no defaults trial to compare with, the best is kept.
    default_pick: ClassVar[str] = SERIES_PICK

    def check_search(self, search: SearchOptions) -> None:
        """`--pick beats-defaults` compares a table's rows; a series search has no such rows."""
        if search.pick == "beats-defaults":
            raise UsageError(
                "--pick beats-defaults compares a table's validation rows row by row; a "
                "series search keeps its best trial",
                hint="leave out --pick",
            )

    def validate(self) -> None:
        """Check `folds` against its declaration (`--folds`)."""
        from nncli.options import check_options
        from nncli.tuning.options import ForecastSearchOptions

        check_options(ForecastSearchOptions(folds=self.folds))

    def fingerprint(self, data: Path, space: dict[str, ParamSpec]) -> dict[str, Any]:
        """The target, its transform and the horizon (the windows of the shortest lookback
        the space holds must exist)."""
        from nncli.forecasting.model import collect_windows
        from nncli.forecasting.series import load_panel

        base, lookback = self.options, space["lookback"]
        shortest = (
            lookback.value if lookback.kind == "fixed" else min(lookback.choices or [lookback.low])
        )
        panel = load_panel(data, base.panel, self.csv)
        collect_windows(panel, replace(base, lookback=int(shortest)), SilentReporter())
        return {"target": base.panel.target, "transform": base.transform, "horizon": base.horizon}

    def queue_defaults(
        self, study: optuna.Study, space: dict[str, ParamSpec], fingerprint: dict[str, Any] | None
    ) -> None:
        """A series search queues no first trial: every trial is drawn."""

    def trial_options(self, params: dict[str, Any]) -> ForecastOptions:
        return forecast_options(self.options, params)

    def objective(self, data: Path, space: dict[str, ParamSpec]) -> Callable[[optuna.Trial], float]:
        from nncli.forecasting.model import train_forecaster
        from nncli.forecasting.series import load_panel

        panel = load_panel(data, self.options.panel, self.csv)
        horizon, folds = self.options.horizon, self.folds

        def objective(trial: optuna.Trial) -> float:
            import optuna

            options = self.trial_options(sample(space, trial))
            if folds == 1:
                _, history = train_forecaster(
                    panel, options, reporter=SilentReporter(), callbacks=(PruningCallback(trial),)
                )
                trial.set_user_attr("best_epoch", history.best_epoch)
                return history.best.valid_loss
            # Walk forward: fold k trains on each series up to an origin k*horizon steps earlier
            # than the next; the running mean of the folds' validation losses is reported per
            # fold.
            losses, epochs = [], []
            for fold in range(folds):
                cut = (folds - 1 - fold) * horizon
                history_panel = [s.head(len(s) - cut) for s in panel]
                _, history = train_forecaster(history_panel, options, reporter=SilentReporter())
                losses.append(history.best.valid_loss)
                epochs.append(history.best_epoch)
                trial.report(sum(losses) / len(losses), fold)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after fold {fold + 1}")
            trial.set_user_attr("best_epoch", round(sum(epochs) / len(epochs)))
            return sum(losses) / len(losses)

        return objective

    def refit(
        self, data: Path, best: RefitPlan, defaults: RefitPlan | None, path: Path, reporter: Any
    ) -> dict[str, Any]:
        """`best` retrained through `forecast train`'s path (a series search has no
        defaults trial to weigh it against)."""
        from nncli.forecasting.model import save_forecast_model
        from nncli.forecasting.series import load_panel
        from nncli.forecasting.train import train_forecast

        options = best.options_for(self.trial_options(best.params))
        panel = load_panel(data, options.panel, self.csv, reporter=reporter)
        trained = train_forecast(
            panel, options, reporter=reporter, refit_on_all=best.on_all, data_path=data
        )
        save_forecast_model(path, trained.model, {"tuning": best.provenance})
        return {
            "model_path": str(path),
            "model_id": trained.model.metadata["model_id"],
            "verdict": trained.verdict,  # with "all", it says the scores come from seen windows
        }
