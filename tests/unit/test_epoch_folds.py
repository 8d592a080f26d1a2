"""--epoch-folds: the folds partition train+validation, the mean curve picks the epoch, and
the options it cannot work with are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nncli.errors import ExitCode, UsageError
from nncli.tabular.folds import best_mean_epoch, fold_table, fold_validation_rows
from nncli.tabular.options import TabularOptions
from nncli.tabular.train import prepare_table
from nncli.training.loop import TrainingConfig


def test_folds_partition_the_rows_evenly_and_by_seed() -> None:
    parts = fold_validation_rows(23, 5, seed=0)
    assert sorted(np.concatenate(parts).tolist()) == list(range(23))  # each row once
    assert sorted(len(part) for part in parts) == [4, 4, 5, 5, 5]
    again = fold_validation_rows(23, 5, seed=0)
    other_seed = fold_validation_rows(23, 5, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(parts, other_seed, strict=True))


def test_folds_keep_each_class_share() -> None:
    classes = np.array([0] * 30 + [1] * 10 + [2] * 5)
    parts = fold_validation_rows(len(classes), 5, seed=0, classes=classes)
    for part in parts:
        counts = np.bincount(classes[part], minlength=3).tolist()
        assert counts == [6, 2, 1]  # 30, 10 and 5 rows dealt over 5 folds
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(classes)))


def test_too_few_rows_for_the_folds_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--epoch-folds 5 needs at least 10"):
        fold_validation_rows(9, 5, seed=0)


def test_the_mean_curve_chooses_not_any_single_fold() -> None:
    # Fold A peaks at epoch 1, fold B at epoch 4; on average epoch 3 is best (RMSE: lower).
    rmse = [[1.0, 2.0, 2.0, 3.0], [5.0, 4.0, 2.5, 1.9]]
    losses = [[0.0] * 4, [0.0] * 4]
    assert best_mean_epoch(rmse, losses, higher_is_better=False) == 3
    accuracy = [[0.9, 0.8, 0.8, 0.7], [0.5, 0.6, 0.75, 0.81]]
    assert best_mean_epoch(accuracy, losses, higher_is_better=True) == 3


def test_ties_go_to_the_lower_mean_loss_then_the_earlier_epoch() -> None:
    accuracy = [[0.9, 0.9, 0.9], [0.8, 0.8, 0.8]]
    assert best_mean_epoch(accuracy, [[0.5, 0.3, 0.4], [0.5, 0.3, 0.4]], True) == 2
    assert best_mean_epoch(accuracy, [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]], True) == 1
    # A fold cut short (it diverged) cuts every curve to its length.
    assert best_mean_epoch([[3.0, 2.0, 1.0], [3.0, 2.0]], [[0, 0, 0], [0, 0]], False) == 2


def test_a_fold_table_trains_on_the_other_folds(sample_data: Path) -> None:
    options = TabularOptions(target="species", training=TrainingConfig(seed=0))
    csv = sample_data / "penguins.csv"
    import pandas as pd

    table = prepare_table(csv, pd.read_csv(csv), options, _quiet(), True)
    everything = table.encoded["train"]
    valid_rows = fold_validation_rows(len(table.truth["train"]), 4, 0, table.truth["train"])[1]
    fold = fold_table(table, valid_rows)
    assert len(fold.truth["valid"]) == len(valid_rows)
    assert len(fold.truth["train"]) + len(valid_rows) == len(table.truth["train"])
    assert np.array_equal(fold.encoded["valid"].numeric, everything.numeric[valid_rows])
    assert np.array_equal(fold.truth["valid"], table.truth["train"][valid_rows])
    assert fold.encoded["test"] is table.encoded["test"]  # the test rows stay out of it


def _quiet():
    from nncli.reporting import CollectingReporter

    return CollectingReporter()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--epoch-folds", "5", "--final-refit", "never"], "--final-refit never turns the refit"),
        (["--epoch-folds", "3", "--split", "time", "--time-col", "year"], "time split"),
        (["--epoch-folds", "0"], "--epoch-folds must be at least 1"),
        (["--epoch-folds", "1000"], "--epoch-folds 1000 needs at least 2000 train+validation"),
    ],
)
def test_options_the_folds_cannot_work_with_are_refused(
    cli, sample_data: Path, tmp_path: Path, flags: list[str], message: str
) -> None:
    out = tmp_path / "model.pt"
    bad = cli(
        "train", sample_data / "penguins.csv", "-t", "species", "-o", out, *flags,
        code=ExitCode.USAGE,
    )  # fmt: skip
    # One line, the last (the data's rows are counted after reading it).
    assert message in bad.stderr.strip().splitlines()[-1]
    assert "Traceback" not in bad.stderr
    assert not out.exists()


def test_too_few_rows_for_the_folds_is_found_before_any_network_trains(
    sample_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nncli.tabular.train as train_module

    fits: list[int] = []
    monkeypatch.setattr(train_module, "fit_network", lambda *a, **k: fits.append(1))
    options = TabularOptions(target="species", epoch_folds=1000)
    with pytest.raises(UsageError, match="needs at least 2000 train\\+validation rows"):
        train_module.train_tabular(sample_data / "penguins.csv", options)
    assert fits == []
