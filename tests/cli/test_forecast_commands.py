"""`nncli forecast train|backtest|predict` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from nncli.artifacts import read_metadata
from nncli.errors import ExitCode

# Contract tests: one network, no ETS fits (the default ensemble of 6 and --combine auto
# are tested in tests/integration/test_forecast_default.py).
SMALL = [
    "--ensemble",
    "1",
    "--combine",
    "none",
    "--lookback",
    "20",
    "--horizon",
    "5",
    "--hidden-size",
    "8",
    "--epochs",
    "2",
    "--patience",
    "2",
]
SERIES = ["--time-col", "date", "--target", "adj_close", "--group-col", "ticker"]


@pytest.fixture(scope="module")
def recent_prices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The newest 300 trading days of each ticker in the sample prices."""
    frame = pd.read_csv(Path(__file__).resolve().parents[2] / "sample_data" / "stocks.csv")
    recent = frame.groupby("ticker", group_keys=False).tail(300)
    path = tmp_path_factory.mktemp("prices") / "recent.csv"
    recent.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def price_model(recent_prices: Path) -> Path:
    from tests.conftest import Cli

    path = recent_prices.parent / "prices.nncli"
    Cli()(
        "forecast", "train", recent_prices, *SERIES, "--covariate", "volume", *SMALL, "--out", path
    )
    return path


@pytest.mark.slow
def test_train_records_the_forecasting_setup(price_model: Path) -> None:
    metadata, _ = read_metadata(price_model)
    assert metadata["kind"] == "forecast" and metadata["transform"] == "log-return"
    assert metadata["architecture"]["lookback"] == 20 and metadata["architecture"]["horizon"] == 5
    assert metadata["architecture"]["quantiles"] == [0.1, 0.5, 0.9]
    assert set(metadata["series"]) == {"AAPL", "GOOG", "IBM", "MSFT"}
    aapl = metadata["series"]["AAPL"]
    assert aapl["frequency"] == "B" and aapl["last_timestamp"].startswith("2013-03-01")
    assert aapl["scaling"]["std"] > 0 and len(aapl["scaling"]["covariate_mean"]) == 1
    assert metadata["panel"]["covariates"] == ["volume"]
    assert {"network", "naive", "drift"} <= set(metadata["metrics"]["validation"])


@pytest.mark.slow
def test_train_shows_naive_baselines(cli, recent_prices: Path, tmp_path: Path) -> None:
    result = cli(
        "forecast",
        "train",
        recent_prices,
        *SERIES,
        *SMALL,
        "--arch",
        "gru",
        "--out",
        tmp_path / "m.nncli",
    )
    assert "GRU" in result.stdout and "naive" in result.stdout and "drift" in result.stdout
    assert "ETS" in result.stdout and "on validation MASE" in result.stdout


@pytest.mark.slow
def test_predict_gives_business_day_timestamps_and_appends_idempotently(
    cli, price_model: Path, recent_prices: Path, tmp_path: Path
) -> None:
    history = tmp_path / "history.csv"
    out = tmp_path / "next.csv"
    result = cli("forecast", "predict", price_model, recent_prices, "-o", out, "--append", history)
    assert "added 20 new row(s)" in result.stderr
    forecasts = pd.read_csv(out)
    assert list(forecasts.columns) == [
        "series",
        "origin",
        "step",
        "timestamp",
        "forecast",
        "lower",
        "upper",
        "model_id",
    ]
    assert len(forecasts) == 4 * 5
    aapl = forecasts[forecasts["series"] == "AAPL"]
    # 2013-03-01 is a Friday: the first forecast is for Monday 2013-03-04, no weekend rows.
    assert aapl["timestamp"].tolist() == [
        "2013-03-04",
        "2013-03-05",
        "2013-03-06",
        "2013-03-07",
        "2013-03-08",
    ]
    assert (forecasts["lower"] <= forecasts["forecast"]).all() and (
        forecasts["forecast"] <= forecasts["upper"]
    ).all()
    assert forecasts["forecast"].between(10, 1000).all()
    first = history.read_bytes()
    result = cli("forecast", "predict", price_model, recent_prices, "--append", history, "--quiet")
    assert history.read_bytes() == first
    assert result.stdout.splitlines()[0].startswith("series,origin,step")


@pytest.mark.slow
def test_predict_refuses_stale_data(cli, price_model: Path, recent_prices: Path) -> None:
    result = cli(
        "forecast",
        "predict",
        price_model,
        recent_prices,
        "--max-age",
        "3d",
        "--as-of",
        "2013-03-20",
        code=ExitCode.STALE_DATA,
    )
    assert "the newest row is from 2013-03-01" in result.stderr
    cli(
        "forecast",
        "predict",
        price_model,
        recent_prices,
        "--max-age",
        "3d",
        "--as-of",
        "2013-03-03",
    )


@pytest.mark.slow
def test_predict_skips_series_unseen_in_training(
    cli, price_model: Path, recent_prices: Path, tmp_path: Path
) -> None:
    frame = pd.read_csv(recent_prices)
    frame.loc[frame["ticker"] == "IBM", "ticker"] = "NEW"
    path = tmp_path / "renamed.csv"
    frame.to_csv(path, index=False)
    document = cli.json("forecast", "predict", price_model, path)
    assert "series 'NEW' was not seen in training; it is skipped" in " ".join(document["warnings"])
    assert {row["series"] for row in document["forecasts"]} == {"AAPL", "GOOG", "MSFT"}


@pytest.mark.slow
def test_model_kinds_are_not_interchangeable(
    cli, price_model: Path, penguins_model: Path, recent_prices: Path, sample_data: Path
) -> None:
    result = cli("forecast", "predict", penguins_model, recent_prices, code=ExitCode.BAD_MODEL)
    assert "this is a tabular model, not a forecast model" in result.stderr
    result = cli("predict", price_model, sample_data / "penguins.csv", code=ExitCode.BAD_MODEL)
    assert "this is a forecast model, not a tabular model" in result.stderr


@pytest.mark.slow
def test_backtest_json_and_quality_gate(cli, recent_prices: Path) -> None:
    args = ["forecast", "backtest", recent_prices, *SERIES, *SMALL, "--folds", "2", "--season", "5"]
    document = cli.json(*args)
    assert document["ok"] is True and len(document["per_fold"]) == 2
    assert {"network", "naive", "drift", "seasonal naive (m=5)"} <= set(document["overall"])
    assert set(document["per_series"]) == {"AAPL", "GOOG", "IBM", "MSFT"}
    table = cli(*args).stdout
    assert "per fold (MASE)" in table and "per series (MASE)" in table and "direction:" in table
    gate = cli(*args, "--fail-if-worse-than-naive", code=None)
    expected = ExitCode.OK if document["beats_naive"] else ExitCode.QUALITY_GATE
    assert gate.exit_code == expected
    best_gate = cli(*args, "--fail-if-worse-than-baseline", code=None)
    comparison = document["comparison"]  # the gate is strict; the ✓ wants a 1 % edge
    beaten = comparison["network_mase"] < comparison["best_mase"]
    expected = ExitCode.OK if beaten else ExitCode.QUALITY_GATE
    assert best_gate.exit_code == expected
    # The mark in front of the verdict means "beats every baseline", not only naive.
    assert table.splitlines()[-1].startswith("✓" if document["beats_baselines"] else "✗")
    strict = cli(*args, "--max-mase", "0.001", code=ExitCode.QUALITY_GATE)
    assert "backtest MASE" in strict.stderr and "> --max-mase 0.001" in strict.stderr


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--horizon", "0"], "--horizon must be at least 1"),
        (["--arch", "transformer"], "--arch must be one of"),
        (["--transform", "log"], "--transform must be one of"),
        (["--lookback", "5000"], "no series has the"),
    ],
)
def test_bad_forecast_arguments(cli, recent_prices: Path, tmp_path: Path, extra, fragment) -> None:
    result = cli(
        "forecast",
        "train",
        recent_prices,
        *SERIES,
        "--epochs",
        "1",
        *extra,
        "--out",
        tmp_path / "m.nncli",
        code=None,
    )
    assert result.exit_code in (ExitCode.USAGE, ExitCode.BAD_DATA)
    assert fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m.nncli").exists()


@pytest.mark.slow
def test_json_output_of_train(cli, recent_prices: Path, tmp_path: Path) -> None:
    result = cli(
        "forecast",
        "train",
        recent_prices,
        *SERIES,
        *SMALL,
        "--arch",
        "mlp",
        "--out",
        tmp_path / "m.nncli",
        "--json",
    )
    document = json.loads(result.stdout)
    assert document["series"] == ["AAPL", "GOOG", "IBM", "MSFT"] and "verdict" in document


def test_the_scheduled_job_takes_every_training_option(cli) -> None:
    shown = cli("forecast", "run", "--help").stdout
    for flag in ("--batch-size", "--weight-decay", "--valid-size", "--device", "--lr", "--wide"):
        assert flag in shown
