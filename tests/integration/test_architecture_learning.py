"""The TCN and the RBF network learn: floors on a seasonal series and on the sample tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nncli.artifacts import read_metadata
from nncli.data.preprocessing import transform
from nncli.forecasting.model import (
    holdout_scores,
    load_forecast_model,
    save_forecast_model,
    train_forecaster,
)
from nncli.forecasting.options import ForecastOptions, PanelSpec
from nncli.tabular.model import load_tabular_model, save_tabular_model
from nncli.tabular.options import TabularOptions
from nncli.tabular.train import train_tabular
from nncli.training.loop import TrainingConfig
from tests.integration.test_forecast_learning import seasonal_series


@pytest.mark.slow
def test_tcn_beats_naive_on_a_seasonal_series(tmp_path: Path) -> None:
    series = seasonal_series()
    options = ForecastOptions(
        panel=PanelSpec("date", "value"),
        arch="tcn",
        lookback=20,
        horizon=5,
        transform="none",
        hidden_size=16,
        training=TrainingConfig(epochs=15, patience=8, learning_rate=3e-3, seed=0),
    )
    model, history = train_forecaster([series], options)
    scores = holdout_scores(model, [series], options)
    assert scores["network"]["mase"] < 1.0
    assert scores["network"]["mase"] < 0.5 * scores["naive"]["mase"]
    assert 0.5 <= scores["network"]["coverage"] <= 1.0
    assert history.best_epoch >= 5
    path = tmp_path / "tcn.nncli"
    save_forecast_model(path, model, {})
    loaded = load_forecast_model(path)
    assert loaded.metadata["architecture"]["arch"] == "tcn"
    assert (loaded.forecast(series, 500) == model.forecast(series, 500)).all()


def _train_rbf(path: Path, target: str, **extra: Any) -> Any:
    options = TabularOptions(
        target=target,
        arch="rbf",
        centres=16,
        training=TrainingConfig(epochs=40, patience=10, learning_rate=1e-2, seed=0),
        **extra,
    )
    return train_tabular(path, options)


@pytest.mark.slow
def test_rbf_classifies_penguins(sample_data: Path, tmp_path: Path) -> None:
    report = _train_rbf(sample_data / "penguins.csv", "species")
    assert report.test_metrics["accuracy"] >= 0.9
    assert report.test_metrics["accuracy"] > report.baselines["majority class"]["accuracy"] + 0.3
    model_path = tmp_path / "rbf.nncli"
    save_tabular_model(model_path, report.model)
    metadata, _ = read_metadata(model_path)
    assert metadata["architecture"]["name"] == "rbf"
    assert metadata["architecture"]["n_centres"] == 16
    loaded = load_tabular_model(model_path)
    assert type(loaded.network).__name__ == "RBFNetwork"
    import pandas as pd

    frame = pd.read_csv(sample_data / "penguins.csv")
    encoded = transform(loaded.preprocessor, frame, path=sample_data / "penguins.csv")
    assert (loaded.outputs(encoded) == report.model.outputs(encoded)).all()


@pytest.mark.slow
def test_rbf_regresses_autompg(sample_data: Path) -> None:
    report = _train_rbf(sample_data / "autompg.csv", "mpg", drop=["name"])
    assert report.test_metrics["r2"] >= 0.75
    assert report.test_metrics["rmse"] < 0.6 * report.baselines["mean"]["rmse"]


@pytest.mark.slow
def test_cli_trains_an_rbf(cli: Any, sample_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "rbf.nncli"
    document = cli.json(
        "train",
        sample_data / "autompg.csv",
        "--target",
        "mpg",
        "--drop",
        "name",
        "--arch",
        "rbf",
        "--hidden",
        "24",
        "--lr",
        "0.01",
        "--epochs",
        "30",
        "--out",
        out,
    )
    assert document["ok"] and document["metrics"]["test"]["r2"] > 0.7
    assert read_metadata(out)[0]["architecture"]["n_centres"] == 24  # from --hidden
    table = cli("evaluate", out, sample_data / "autompg.csv").stdout
    assert "this data" in table
    result = cli("train", sample_data / "autompg.csv", "--target", "mpg", "--arch", "x", code=2)
    assert "--arch must be one of mlp, rbf" in result.stderr
