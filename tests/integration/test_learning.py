"""The networks learn: metric floors on the real sample data, with fixed seeds."""

from __future__ import annotations

from pathlib import Path

from nncli.tabular.options import TabularOptions
from nncli.tabular.train import train_tabular
from nncli.training.loop import TrainingConfig


def test_classifier_learns_penguin_species(sample_data: Path) -> None:
    report = train_tabular(
        sample_data / "penguins.csv",
        TabularOptions(target="species", training=TrainingConfig(epochs=150, seed=0)),
    )
    accuracy = report.test_metrics["accuracy"]
    assert accuracy >= 0.93
    assert accuracy > report.baselines["majority class"]["accuracy"] + 0.4
    assert report.test_metrics["roc_auc"] >= 0.98
    assert report.model.metadata["history"]["best_epoch"] >= 1


def test_regressor_learns_fuel_economy(sample_data: Path) -> None:
    report = train_tabular(
        sample_data / "autompg.csv",
        TabularOptions(target="mpg", drop=["name"], training=TrainingConfig(epochs=150, seed=0)),
    )
    assert report.test_metrics["r2"] >= 0.8
    assert report.test_metrics["rmse"] < 0.5 * report.baselines["mean"]["rmse"]
    assert (
        report.split_sizes["train"] + report.split_sizes["valid"] + report.split_sizes["test"]
        == 398
    )


def test_early_stopping_restores_the_best_weights(sample_data: Path) -> None:
    report = train_tabular(
        sample_data / "autompg.csv",
        TabularOptions(
            target="mpg", drop=["name"], training=TrainingConfig(epochs=300, patience=5, seed=1)
        ),
    )
    history = report.history
    assert history.stopped_early and len(history.records) == history.best_epoch + 5
    best_valid_loss = min(r.valid_loss for r in history.records)
    assert history.best.valid_loss == best_valid_loss
    # The restored weights reproduce the best epoch's validation RMSE, not the last epoch's.
    assert abs(report.valid_metrics["rmse"] - history.best.valid_metric) < 1e-3
