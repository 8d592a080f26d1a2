"""What one kind of search brings to the study machinery: the `SearchDomain` protocol (tables
in `tuning/tabular.py`, series in `tuning/forecast.py`) and the pieces its trials and refit use.

The study, budget, worker and report code never asks which domain it runs: it asks the
domain object for its space, its trial's objective, its first trial and its refit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pathlib import Path

    import optuna

    from nncli.training.config import TrainingConfig
    from nncli.training.loop import EpochRecord, History
    from nncli.tuning.options import SearchOptions
    from nncli.tuning.space import ParamSpec


class TrialOptions(Protocol):
    """A domain's training options: whatever else they hold, a training configuration."""

    @property
    def training(self) -> TrainingConfig: ...


class SearchDomain(Protocol):
    """One kind of search (a table's networks, a series' forecasters), as a study runs it."""

    @property
    def name(self) -> str:
        """The study's `nncli_kind`: a study made by one domain refuses every other."""
        ...

    @property
    def command(self) -> tuple[str, ...]:
        """The command's words: its config table is ``[<words>.space]``."""
        ...

    @property
    def options(self) -> TrialOptions:
        """The training options every trial starts from."""
        ...

    @property
    def default_space(self) -> dict[str, ParamSpec]:
        """The search space before the config file's overrides."""
        ...

    @property
    def searched_options(self) -> dict[str, str]:
        """Flag -> option path ('training.learning_rate') of each option the space draws."""
        ...

    @property
    def default_pick(self) -> str:
        """Which trial `--save-best` keeps when `--pick` is not given."""
        ...

    def check_search(self, search: SearchOptions) -> None:
        """A UsageError for a search option this domain cannot honour."""

    def validate(self) -> None:
        """A UsageError for a setting of the domain's own (beyond its training options)."""

    def fingerprint(self, data: Path, space: dict[str, ParamSpec]) -> dict[str, Any]:
        """What trials on `data` are comparable on besides its digest (target, loss, ...),
        after reading and checking the data as a trial would."""
        ...

    def queue_defaults(
        self, study: optuna.Study, space: dict[str, ParamSpec], fingerprint: dict[str, Any] | None
    ) -> None:
        """Queue the new study's first trial, where the domain starts from known defaults."""

    def trial_options(self, params: dict[str, Any]) -> Any:
        """Training options for one point of the space."""
        ...

    def objective(self, data: Path, space: dict[str, ParamSpec]) -> Callable[[optuna.Trial], float]:
        """One trial's training on `data`: its validation loss, reported for pruning."""
        ...

    def refit(
        self, data: Path, best: RefitPlan, defaults: RefitPlan | None, path: Path, reporter: Any
    ) -> dict[str, Any]:
        """Retrain `best` (or, given `defaults`, whichever wins the domain's pick), save it
        with its provenance at `path`, and return what the refit scored."""
        ...


@dataclass
class RefitPlan:
    """What the refit of a study's best trial trains, and the provenance it records."""

    params: dict[str, Any]  # the whole point of the space: fixed parameters and drawn ones
    epochs: int  # the best trial's best epoch: a refit on all rows has no validation to stop on
    provenance: dict[str, Any]
    on_all: bool  # --refit all: train+validation for `epochs`; else as the trial trained

    def options_for(self, options: Any) -> Any:
        """The trial's training options, for `epochs` epochs when refitting on all rows."""
        if not self.on_all:
            return options
        return replace(options, training=replace(options.training, epochs=self.epochs))


class PruningCallback:
    """Reports each epoch's validation loss to Optuna and stops unpromising trials."""

    def __init__(self, trial: optuna.Trial, step_offset: int = 0) -> None:
        self.trial = trial
        self.step_offset = step_offset

    def on_epoch_end(self, record: EpochRecord, history: History) -> None:
        import optuna

        self.trial.report(record.valid_loss, self.step_offset + record.epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {record.epoch}")


class SilentReporter:
    """A reporter for a trial's training: its progress lines would drown the search's."""

    def info(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass
