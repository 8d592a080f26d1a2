"""`tune` reads its data the way `train` does: the same data, split and series options.

A trial must see the rows `train` would see, so every option that shapes the data (which
columns, how the CSV is read, how rows are split, which series) exists on the tuning command
with the same flag, NNCLI_* variable, panel and default. Options that only `train` has are
listed below with the reason; any other gap fails.
"""

from __future__ import annotations

from typing import Any

import pytest
import typer

from nncli.cli import app

ROOT = typer.main.get_command(app)

# Panels of the options that decide which rows and columns a model learns from.
DATA_PANELS = {"Data", "Split", "Series"}
# Unpanelled options that shape the data too (the target, the task, the seed of the split).
DATA_OPTIONS = {"--target", "--task", "--seed"}
# What `train` has and `tune` does not, and why.
TRAIN_ONLY = {
    "--out": "tune saves its best model with --save-best",
    "--plot": "a trial draws no training curves; `nncli train` the best parameters to plot",
}
# `nncli train`'s final refit (tables only): a trial is the early-stopped network, and
# tune's --refit says how --save-best retrains.
TABLE_TRAIN_ONLY = {
    "--final-refit": "tune's --refit says how the kept configuration is retrained",
    "--epoch-folds": "folds choose train's final refit's epoch count; tune has no final refit",
}

PAIRS = [(("train",), ("tune",)), (("forecast", "train"), ("forecast", "tune"))]


def options_of(path: tuple[str, ...]) -> dict[str, Any]:
    command = ROOT
    for name in path:
        command = command.commands[name]
    return {p.opts[0]: p for p in command.params if p.param_type_name == "option"}


def shapes_data(option: Any) -> bool:
    return option.rich_help_panel in DATA_PANELS or option.opts[0] in DATA_OPTIONS


@pytest.mark.parametrize("train, tune", PAIRS, ids=lambda p: " ".join(p))
def test_tune_has_every_data_and_split_option_of_train(
    train: tuple[str, ...], tune: tuple[str, ...]
) -> None:
    trained, tuned = options_of(train), options_of(tune)
    data_options = {flag for flag, option in trained.items() if shapes_data(option)}
    assert data_options >= {"--sep", "--time-col"}, data_options  # the panels still exist
    missing = sorted(data_options - tuned.keys())
    assert not missing, f"'nncli {' '.join(tune)}' lacks {missing} of 'nncli {' '.join(train)}'"
    for flag in sorted(data_options):
        a, b = trained[flag], tuned[flag]
        assert (a.opts, a.envvar, a.rich_help_panel, a.multiple) == (
            b.opts,
            b.envvar,
            b.rich_help_panel,
            b.multiple,
        ), flag
        assert a.default == b.default, (
            f"{flag}: train's default {a.default!r}, tune's {b.default!r}"
        )


@pytest.mark.parametrize("train, tune", PAIRS, ids=lambda p: " ".join(p))
def test_every_other_train_option_is_on_tune_or_explained(
    train: tuple[str, ...], tune: tuple[str, ...]
) -> None:
    gap = options_of(train).keys() - options_of(tune).keys()
    explained = TRAIN_ONLY | (TABLE_TRAIN_ONLY if train == ("train",) else {})
    assert gap == explained.keys(), f"unexplained: {sorted(gap ^ explained.keys())}"


def test_series_options_are_on_every_series_command() -> None:
    """backtest and run read the series as forecast train does."""
    series = {
        f for f, o in options_of(("forecast", "train")).items() if o.rich_help_panel == "Series"
    }
    for path in (("forecast", "backtest"), ("forecast", "run"), ("forecast", "tune")):
        assert series <= options_of(path).keys(), path
