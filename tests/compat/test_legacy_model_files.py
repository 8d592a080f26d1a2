"""Model files written by earlier nncli versions (main at 51c24c7, c555952) still load and predict the same."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "main-51c24c7"


def test_tabular_model_from_51c24c7_predicts_as_it_did(cli, sample_data: Path) -> None:
    result = cli("predict", FIXTURES / "penguins.nncli", sample_data / "penguins.csv", "--quiet")
    expected = (FIXTURES / "penguins_predictions.csv").read_text()
    assert result.stdout == expected


def test_forecast_model_from_51c24c7_forecasts_as_it_did(cli, sample_data: Path) -> None:
    result = cli(
        "forecast", "predict", FIXTURES / "stocks.nncli", sample_data / "stocks.csv", "--quiet"
    )
    got = pd.read_csv(io.StringIO(result.stdout))
    expected = pd.read_csv(FIXTURES / "stocks_forecast.csv")
    assert list(got.columns) == list(expected.columns)
    assert got[["series", "origin", "step", "timestamp", "model_id"]].equals(
        expected[["series", "origin", "step", "timestamp", "model_id"]]
    )
    # To a millionth of the level: float32 kernels differ in the last bits between CPUs
    # (1.1e-6 on a level of 390 on one host, 0 on another).
    for column in ("forecast", "lower", "upper"):
        assert ((got[column] - expected[column]).abs() / expected[column].abs()).max() < 1e-6


# The default networks as main wrote them before the one-loop change (c555952): a TabM for
# classes, a TabM for values and an N-HITS ensemble over a panel.
FIXTURES_C555952 = Path(__file__).resolve().parents[1] / "fixtures" / "main-c555952"


def _max_relative_difference(got: pd.Series, expected: pd.Series) -> float:
    return float(((got - expected).abs() / expected.abs().clip(lower=1e-12)).max())


def test_tabm_classifier_from_c555952_predicts_as_it_did(cli, sample_data: Path) -> None:
    model = FIXTURES_C555952 / "penguins-tabm.nncli"
    result = cli("predict", model, sample_data / "penguins.csv", "--proba", "--quiet")
    got = pd.read_csv(io.StringIO(result.stdout))
    expected = pd.read_csv(FIXTURES_C555952 / "penguins-tabm_predictions.csv")
    assert list(got.columns) == list(expected.columns)
    assert got["prediction"].equals(expected["prediction"])
    for column in expected.columns[1:]:
        assert (got[column] - expected[column]).abs().max() < 1e-6


def test_tabm_regressor_from_c555952_predicts_as_it_did(cli, sample_data: Path) -> None:
    model = FIXTURES_C555952 / "autompg-tabm.nncli"
    result = cli("predict", model, sample_data / "autompg.csv", "--quiet")
    got = pd.read_csv(io.StringIO(result.stdout))
    expected = pd.read_csv(FIXTURES_C555952 / "autompg-tabm_predictions.csv")
    assert _max_relative_difference(got["prediction"], expected["prediction"]) < 1e-6


@pytest.mark.slow
def test_nhits_ensemble_from_c555952_forecasts_as_it_did(cli, sample_data: Path) -> None:
    model = FIXTURES_C555952 / "stocks-nhits.nncli"
    result = cli("forecast", "predict", model, sample_data / "stocks.csv", "--quiet")
    got = pd.read_csv(io.StringIO(result.stdout))
    expected = pd.read_csv(FIXTURES_C555952 / "stocks-nhits_forecast.csv")
    assert list(got.columns) == list(expected.columns)
    keys = ["series", "origin", "step", "timestamp", "model_id"]
    assert got[keys].equals(expected[keys])
    for column in ("forecast", "lower", "upper"):
        assert _max_relative_difference(got[column], expected[column]) < 1e-6
