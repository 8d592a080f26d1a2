"""Forecasters learn, and the backtest never looks ahead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nncli.forecasting.backtest import walk_forward
from nncli.forecasting.model import holdout_scores, train_forecaster
from nncli.forecasting.options import BacktestOptions, ForecastOptions, PanelSpec
from nncli.forecasting.series import Series, load_panel
from nncli.training.loop import TrainingConfig


def seasonal_series(name: str = "wave", length: int = 600, seed: int = 0) -> Series:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    levels = (
        50
        + 10 * np.sin(2 * np.pi * t / 20)
        + 3 * np.sin(2 * np.pi * t / 7)
        + rng.normal(0, 0.5, length)
    )
    stamps = pd.date_range("2020-01-01", periods=length, freq="D")
    return Series(name, stamps, levels, np.zeros((length, 0)))


@pytest.mark.slow
def test_lstm_beats_naive_on_a_seasonal_series() -> None:
    series = seasonal_series()
    options = ForecastOptions(
        panel=PanelSpec("date", "value"),
        arch="lstm",
        lookback=40,
        horizon=5,
        transform="none",
        hidden_size=32,
        training=TrainingConfig(epochs=40, patience=8, learning_rate=3e-3, seed=0),
    )
    model, history = train_forecaster([series], options)
    scores = holdout_scores(model, [series], options)
    assert scores["network"]["mase"] < 1.0
    assert scores["network"]["mase"] < 0.5 * scores["naive"]["mase"]
    assert 0.5 <= scores["network"]["coverage"] <= 1.0
    assert history.best_epoch >= 5


@pytest.mark.slow
def test_backtest_folds_do_not_see_data_after_their_origin() -> None:
    series = seasonal_series(length=300)
    options = ForecastOptions(
        panel=PanelSpec("date", "value"),
        arch="gru",
        lookback=20,
        horizon=4,
        transform="diff",
        hidden_size=8,
        training=TrainingConfig(epochs=3, patience=3, seed=0),
    )
    backtest = BacktestOptions(folds=2, stride=10)
    report = walk_forward([series], options, backtest)
    first_origin = len(series) - 4 - 1 - 10
    perturbed_levels = series.levels.copy()
    perturbed_levels[first_origin + 1 :] += 25.0  # a regime change right after fold 1's origin
    perturbed = Series(series.name, series.timestamps, perturbed_levels, series.covariates)
    again = walk_forward([perturbed], options, backtest)
    fold1 = next(f for f in report.forecasts if f.fold == 1)
    fold1_again = next(f for f in again.forecasts if f.fold == 1)
    assert fold1.origin == series.timestamps[first_origin].isoformat()
    assert fold1.forecast == fold1_again.forecast and fold1.baselines == fold1_again.baselines
    assert fold1.actual != fold1_again.actual  # the perturbation is real ...
    fold2 = next(f for f in report.forecasts if f.fold == 2)
    fold2_again = next(f for f in again.forecasts if f.fold == 2)
    assert fold2.forecast != fold2_again.forecast  # ... and later folds do see it


@pytest.mark.slow
def test_real_prices_smoke(sample_data: Path) -> None:
    spec = PanelSpec("date", "adj_close", "ticker", ["volume"])
    panel = [s.window(len(s) - 260, len(s)) for s in load_panel(sample_data / "stocks.csv", spec)]
    options = ForecastOptions(
        panel=spec,
        arch="lstm",
        lookback=20,
        horizon=5,
        hidden_size=16,
        season=5,
        training=TrainingConfig(epochs=3, patience=3, seed=0),
    )
    report = walk_forward(panel, options, BacktestOptions(folds=2, retrain_every=2))
    assert set(report.per_series) == {"AAPL", "GOOG", "IBM", "MSFT"}
    overall = report.overall
    assert {"network", "naive", "drift", "seasonal naive (m=5)"} <= set(overall)
    assert overall["network"]["points"] == 2 * 4 * 5
    for key in ("mae", "rmse", "mape", "smape", "mase", "directional_accuracy", "coverage"):
        assert np.isfinite(overall["network"][key])
    assert report.per_fold[1]["retrained"] is False
    assert "ETS" in overall and report.seasons == dict.fromkeys(report.per_series, 5)
    best = report.best_baseline
    assert (best[0].upper() + best[1:] if best != "naive" else "naive forecast") in report.verdict


def test_train_forecast_judges_records_provenance_and_saving_is_pure(tmp_path: Path) -> None:
    import copy

    from nncli.artifacts import read_metadata
    from nncli.forecasting.model import save_forecast_model
    from nncli.forecasting.train import train_forecast

    series = seasonal_series(length=200)
    data = tmp_path / "wave.csv"
    data.write_text("date,value\n")  # provenance needs a file to checksum
    options = ForecastOptions(
        panel=PanelSpec("date", "value"),
        arch="mlp",
        lookback=10,
        horizon=3,
        transform="diff",
        hidden_size=8,
        training=TrainingConfig(epochs=2, patience=2, seed=0),
    )
    report = train_forecast([series], options, data_path=data)
    assert {"network", "naive", "drift", "seasonal naive (m=7)", "ETS"} <= set(report.scores)
    assert report.best_baseline in report.scores and "on validation MASE" in report.verdict
    assert report.model.metadata["season"] == {"option": None, "per_series": {"wave": 7}}
    metadata = report.model.metadata
    assert metadata["data"]["name"] == "wave.csv" and len(metadata["data"]["sha256"]) == 64
    assert metadata["seed"] == 0 and metadata["metrics"]["verdict"] == report.verdict
    assert report.to_dict()["beats_baselines"] is report.beats_baselines
    before = copy.deepcopy(metadata)
    save_forecast_model(tmp_path / "m.nncli", report.model)
    assert report.model.metadata == before  # saving has no side effect on the model
    saved, _ = read_metadata(tmp_path / "m.nncli")
    assert saved["model_id"] == metadata["model_id"] and "created_at" in saved
    refit = train_forecast([series], options, refit_on_all=True)
    assert set(refit.model.metadata["metrics"]) == {"validation (seen in the refit)"}
