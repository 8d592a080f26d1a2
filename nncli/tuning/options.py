"""What a search does: the options of `nncli tune`, `nncli forecast tune` and `nncli study`,
declared once.

The CLI imports this module when it starts, so it stays light: no optuna, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nncli.forecasting.options import ForecastOptions
from nncli.options import AtLeast, HelpNote, OneOf, Positive, option
from nncli.tabular.options import TabularOptions
from nncli.training.config import TrainingConfig

SEARCH = "Search"
PRUNERS = ("median", "hyperband", "none")
REFITS = ("trial", "all")
PICKS = ("beats-defaults", "best")


def search_option(default: Any, help: str, **spec: Any) -> Any:
    """An option of the Search panel (every option of this module is one)."""
    return option(default, help=help, panel=SEARCH, **spec)


@dataclass
class StudyStorage:
    """Where studies live: every search and every `study` command reads this."""

    # No NNCLI_STORAGE flag default: `url()` reads it after the flag, then OPTUNA_STORAGE.
    storage: str | None = search_option(
        None,
        "Optuna storage URL (postgresql://…, mysql://…, sqlite:///…, journal:/path) "
        "(default: NNCLI_STORAGE, OPTUNA_STORAGE, or the local journal file).",
        envvar=False,
        hidden_default=True,
    )

    def url(self) -> str:
        """The storage URL to open: the flag, then the environment, then the local journal."""
        from nncli.tuning.storage import resolve_storage_url

        return resolve_storage_url(self.storage)


@dataclass
class SearchOptions(StudyStorage):
    """How many trials, in which study, with which pruner and how many local workers."""

    trials: int = search_option(
        20,
        "Finished trials the study should hold in total (shared by all workers); "
        "rerun with more to add trials.",
        short="-n",
        check=AtLeast(1),
    )
    study: str | None = search_option(
        None,
        "Study name; an existing study is resumed (default: derived from the data file).",
        hidden_default=True,
    )
    pruner: str = search_option("median", "median, hyperband or none.", check=OneOf(PRUNERS))
    workers: int = search_option(1, "Local worker processes sharing the study.", check=AtLeast(1))
    timeout: float | None = search_option(
        None, "Stop starting trials after this many seconds.", hidden_default=True, check=Positive()
    )
    save_best: Path | None = option(
        None,
        help="Retrain the best configuration (as --refit says) and write this model file.",
        panel=SEARCH,
        hidden_default=True,
    )
    # "all": on six benchmark tables the kept configuration refitted on train+validation beat
    # the same configuration as its trial trained on all six, by 2-5 % (benchmarks/RESULTS.md),
    # and series lean on their latest windows.
    refit: str | None = search_option(
        None,
        "How --save-best retrains: 'all' = on train+validation for the trial's best epoch "
        "count; 'trial' = as the trial trained (training rows, early stopping on "
        "validation: the network the search scored) (default: all).",
        hidden_default=True,
        check=OneOf(REFITS),
    )

    def refit_mode(self) -> str:
        """--refit, else "all"."""
        return self.refit or "all"

    # Each domain's default (`SearchDomain.default_pick`) and help: `help_notes`.
    pick: str | None = search_option(
        None,
        "Which trial --save-best keeps: 'beats-defaults' = the best trial where it beats the "
        "defaults trial on the validation rows by more than one standard error of the "
        "row-by-row difference, else the defaults; 'best' = the best trial.",
        hidden_default=True,
        check=OneOf(PICKS),
    )

    def pick_mode(self, default: str) -> str:
        """--pick, else the search domain's default (`SearchDomain.default_pick`)."""
        return self.pick or default

    heartbeat: int = search_option(
        10,
        "Seconds between RDB heartbeats; a trial silent for 3 heartbeats is failed and retried.",
        check=AtLeast(1),
    )

    @classmethod
    def help_notes(cls) -> dict[str, HelpNote]:
        """A table's search: --pick's default is its domain's."""
        return {"--pick": HelpNote(default=TABLE_PICK)}


# What --save-best keeps when --pick is left out: a series search runs no defaults trial.
SERIES_PICK = "best"
TABLE_PICK = "beats-defaults"


@dataclass
class ForecastSearchOptions(SearchOptions):
    """A forecaster search also chooses how many walk-forward folds score each trial."""

    folds: int = search_option(
        1, "Walk-forward folds per trial (pruning across folds when > 1).", check=AtLeast(1)
    )

    @classmethod
    def help_notes(cls) -> dict[str, HelpNote]:
        """A series search keeps its best trial: it has no defaults trial to compare with."""
        help = (
            "Which trial --save-best keeps: 'best' = the best trial on the validation "
            "windows, the only choice for series ('beats-defaults' compares a table's "
            "validation rows with a defaults trial, which a series search does not run)."
        )
        return {"--pick": HelpNote(help, SERIES_PICK)}


# A search trains many networks, so each trial trains for less long than `train` would.
def _tabular_trial_training() -> TrainingConfig:
    return TrainingConfig(epochs=100, patience=10)


def _forecast_trial_training() -> TrainingConfig:
    return TrainingConfig(epochs=20, patience=5)


def drawn_by_the_search(
    notes: dict[str, HelpNote], searched: Any, table: str
) -> dict[str, HelpNote]:
    """`notes`, saying that the search draws each of the `searched` flags in every trial
    (a value given is ignored, with a warning): set it in the config's `table` instead."""
    for flag in searched:
        help = notes[flag].help if flag in notes else None
        notes[flag] = HelpNote(help, f"drawn by each trial; fix it in the config's {table} table")
    return notes


@dataclass
class TabularTrialOptions(TabularOptions):
    """`nncli train`'s options as every trial starts from them (at most 100 epochs, patience
    10 by default); the search draws the architecture and optimiser settings of its space."""

    training: TrainingConfig = field(default_factory=_tabular_trial_training)
    # `train`'s final refit is no flag of tune's: a trial is the early-stopped network, and
    # --save-best retrains as --refit says.
    final_refit: str = "never"
    epoch_folds: int = 1

    @classmethod
    def help_notes(cls) -> dict[str, HelpNote]:
        """`train`'s notes for a trial's defaults, and the options the search draws."""
        from nncli.tuning.space import TABULAR_SEARCHED_OPTIONS

        return drawn_by_the_search(super().help_notes(), TABULAR_SEARCHED_OPTIONS, "[tune.space]")


@dataclass
class ForecastTrialOptions(ForecastOptions):
    """`nncli forecast train`'s options as every trial starts from them (at most 20 epochs,
    patience 5 by default); the search draws the architecture, lookback, size and rate."""

    training: TrainingConfig = field(default_factory=_forecast_trial_training)

    @classmethod
    def help_notes(cls) -> dict[str, HelpNote]:
        """`forecast train`'s notes for a trial's defaults, and the options the search draws."""
        from nncli.tuning.space import FORECAST_SEARCHED_OPTIONS

        notes = super().help_notes()
        return drawn_by_the_search(notes, FORECAST_SEARCHED_OPTIONS, "[forecast.tune.space]")
