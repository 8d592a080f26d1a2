"""Seasonal naive and ETS next to naive and drift in every forecast command, and the verdict
that names the best of them (`forecast train`, `backtest`, `score`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nncli.artifacts import read_metadata
from nncli.errors import ExitCode

# --arch lstm explicitly: the default architecture may change; one epoch keeps the network poor.
FAST = [
    "--time-col",
    "month",
    "-t",
    "sunspots",
    "--arch",
    "lstm",
    "--lookback",
    "24",
    "--horizon",
    "12",
    "--hidden-size",
    "8",
    "--epochs",
    "1",
    "--seed",
    "0",
]
SEASONAL_NAIVE = "seasonal naive (m=12)"


@pytest.fixture(scope="module")
def monthly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A strongly seasonal monthly series (not a price: a count with a yearly cycle)."""
    rng = np.random.default_rng(0)
    t = np.arange(240)
    values = 100 + 40 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, len(t))
    stamps = pd.date_range("2000-01-01", periods=len(t), freq="MS")
    path = tmp_path_factory.mktemp("monthly") / "monthly.csv"
    pd.DataFrame({"month": stamps.strftime("%Y-%m-%d"), "sunspots": values}).to_csv(
        path, index=False
    )
    return path


@pytest.fixture(scope="module")
def trained(monthly: Path) -> tuple[Path, dict]:
    from tests.conftest import Cli

    path = monthly.parent / "monthly.nncli"
    document = Cli().json("forecast", "train", monthly, *FAST, "--out", path)
    return path, document


def test_train_names_the_seasonal_winner_and_records_the_season(trained) -> None:
    path, document = trained
    metadata, _ = read_metadata(path)
    assert metadata["season"] == {"option": None, "per_series": {"sunspots": 12}}
    assert document["season"] == metadata["season"]
    comparison = document["comparison"]
    assert {"naive", "drift", SEASONAL_NAIVE, "ETS"} == set(comparison["baselines"])
    assert document["best_baseline"] in (SEASONAL_NAIVE, "ETS")
    assert comparison["outcome"] == "loses" and document["beats_baselines"] is False
    assert comparison["dm_statistic"] > 0 and 0 <= comparison["dm_p_value"] < 0.05
    best = document["best_baseline"]
    assert document["verdict"].startswith(f"{best[0].upper()}{best[1:]} beats the LSTM on")
    assert {"ETS", SEASONAL_NAIVE} <= set(metadata["metrics"]["validation"])


@pytest.mark.slow
def test_train_table_says_who_won_in_neutral_words(cli, monthly: Path, tmp_path: Path) -> None:
    result = cli("forecast", "train", monthly, *FAST, "--out", tmp_path / "m.nncli")
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("✗ ") and "beats the LSTM on validation MASE" in last
    assert "(DM p" in last and "✓" not in result.stdout
    assert "ETS" in result.stdout and SEASONAL_NAIVE in result.stdout
    assert "season m=12 (from the frequency" in result.stderr
    for word in ("price", "return", "random walk"):
        assert word not in result.stdout.lower()


@pytest.mark.slow
def test_season_override_and_season_one(cli, monthly: Path, tmp_path: Path) -> None:
    quarterly = cli.json(
        "forecast", "train", monthly, *FAST, "--season", "4", "--out", tmp_path / "q"
    )
    assert "seasonal naive (m=4)" in quarterly["validation"]
    assert quarterly["season"] == {"option": 4, "per_series": {"sunspots": 4}}
    flat = cli.json("forecast", "train", monthly, *FAST, "--season", "1", "--out", tmp_path / "f")
    assert set(flat["validation"]) == {"network", "naive", "drift", "ETS"}
    assert flat["season"]["per_series"] == {"sunspots": 1}


@pytest.mark.slow
def test_backtest_gate_uses_the_best_baseline(cli, monthly: Path) -> None:
    args = ["forecast", "backtest", monthly, *FAST, "--folds", "2"]
    document = cli.json(*args)
    assert {"network", "naive", "drift", SEASONAL_NAIVE, "ETS"} == set(document["overall"])
    assert document["seasons"] == {"sunspots": 12}
    assert document["best_baseline"] in (SEASONAL_NAIVE, "ETS")
    assert document["comparison"]["dm_p_value"] is not None
    table = cli(*args).stdout
    assert "ETS" in table.split("per series (MASE)")[1] and table.splitlines()[-1].startswith("✗")
    gate = cli(*args, "--fail-if-worse-than-baseline", code=ExitCode.QUALITY_GATE)
    assert f"is not below the best baseline's, {document['best_baseline']}" in gate.stderr


@pytest.mark.slow
def test_score_uses_the_models_seasons_and_every_baseline(
    cli, trained, monthly: Path, tmp_path: Path
) -> None:
    model, _ = trained
    frame = pd.read_csv(monthly)
    ledger = tmp_path / "ledger.csv"
    for cut in (24, 12):  # two forecasts made a year apart, both matured since
        history = tmp_path / f"upto-{cut}.csv"
        frame.iloc[:-cut].to_csv(history, index=False)
        cli("forecast", "predict", model, history, "--append", ledger, "--quiet")
    document = cli.json("forecast", "score", ledger, monthly, "--model", model, code=None)
    assert document["matured_rows"] == 24 and document["season"]["per_series"] == {"sunspots": 12}
    assert {"network", "naive", "drift", SEASONAL_NAIVE, "ETS"} == set(document["overall"])
    assert document["best_baseline"] in (SEASONAL_NAIVE, "ETS")
    assert "beats the live forecasts on MASE over 24 matured points" in document["verdict"]
    flat = cli.json("forecast", "score", ledger, monthly, "--model", model, "--season", "1")
    assert SEASONAL_NAIVE not in flat["overall"] and flat["season"]["per_series"] == {"sunspots": 1}
    gate = cli(
        "forecast", "score", ledger, monthly, "--model", model, "--fail-if-worse-than-baseline",
        code=ExitCode.QUALITY_GATE,
    )  # fmt: skip
    assert "live MASE" in gate.stderr
