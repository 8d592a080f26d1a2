"""Every command that reads a CSV reads the same table as Parquet or Feather, with the same
results; a damaged file and a missing pyarrow are one line and a documented exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("pyarrow")

from nncli.errors import ExitCode
from tests.cli.test_forecast_commands import SERIES
from tests.conftest import REPO, SAMPLE_DATA, Cli

KINDS = ("parquet", "feather")
TINY = ["--epochs", "5", "--hidden", "16", "--patience", "5", "--seed", "5"]
TINY += ["--final-refit", "never"]  # `train` fits its network once
SHORT = ["--lookback", "10", "--horizon", "3", "--hidden-size", "4", "--epochs", "1", "--seed", "1"]


@pytest.fixture(scope="module")
def penguins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """penguins.csv and its Parquet and Feather copies (written by pandas from the CSV)."""
    folder = tmp_path_factory.mktemp("columnar")
    frame = pd.read_csv(SAMPLE_DATA / "penguins.csv")
    paths = {"csv": SAMPLE_DATA / "penguins.csv"}
    paths["parquet"] = folder / "penguins.parquet"
    paths["feather"] = folder / "penguins.feather"
    frame.to_parquet(paths["parquet"], index=False)
    frame.to_feather(paths["feather"])
    return paths


def without_paths(document: dict) -> dict:
    """The JSON document less the fields that name the input file."""
    return {key: value for key, value in document.items() if key not in {"path", "data"}}


def test_inspect_gives_the_same_report(cli: Cli, penguins: dict[str, Path]) -> None:
    expected = without_paths(cli.json("inspect", penguins["csv"], "--target", "species"))
    for kind in KINDS:
        document = cli.json("inspect", penguins[kind], "--target", "species")
        assert without_paths(document) == expected
        assert document["path"] == str(penguins[kind])


@pytest.mark.slow
def test_train_predict_evaluate_explain_match_the_csv(
    cli: Cli, penguins: dict[str, Path], tmp_path: Path
) -> None:
    """The same training on the CSV and on its Parquet copy makes the same model: the same
    metrics and, on every copy, the same predictions, to the digit."""
    models, metrics = {}, {}
    for kind in ("csv", "parquet"):
        models[kind] = tmp_path / f"{kind}.nncli"
        trained = cli.json("train", penguins[kind], "-t", "species", "-o", models[kind], *TINY)
        metrics[kind] = trained["metrics"]
    assert metrics["parquet"] == metrics["csv"]
    expected = cli("predict", models["csv"], penguins["csv"], "--proba").stdout
    assert expected.count("\n") == 345
    for kind in KINDS:
        assert cli("predict", models["parquet"], penguins[kind], "--proba").stdout == expected
    evaluated = cli.json("evaluate", models["csv"], penguins["csv"])["metrics"]
    assert cli.json("evaluate", models["csv"], penguins["feather"])["metrics"] == evaluated
    explained = cli.json("explain", models["csv"], penguins["csv"], "--repeats", "1")
    features = cli.json("explain", models["parquet"], penguins["parquet"], "--repeats", "1")
    assert features["features"] == explained["features"]


@pytest.mark.slow
def test_forecast_train_and_predict_on_parquet(cli: Cli, tmp_path: Path) -> None:
    frame = pd.read_csv(SAMPLE_DATA / "stocks.csv").groupby("ticker").tail(60)
    frame = frame[frame["ticker"].isin(["AAPL", "IBM"])]
    csv, parquet = tmp_path / "prices.csv", tmp_path / "prices.parquet"
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet, index=False)
    forecasts = {}
    for path in (csv, parquet):
        model = tmp_path / f"{path.suffix[1:]}.nncli"
        cli("forecast", "train", path, *SERIES, *SHORT, "--out", model)
        forecasts[path.suffix] = cli("forecast", "predict", model, path).stdout
    assert forecasts[".parquet"] == forecasts[".csv"]
    assert forecasts[".csv"].count("\n") == 1 + 2 * 3  # header, 2 tickers x horizon 3


@pytest.mark.parametrize("kind", KINDS)
def test_a_truncated_file_is_exit_3_and_one_line(
    cli: Cli, penguins: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    whole = penguins[kind].read_bytes()
    cut = tmp_path / f"cut.{kind}"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    for args in (("inspect", cut), ("train", cut, "-t", "species")):
        result = cli(*args, code=ExitCode.BAD_DATA)
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {cut}: cannot read the ")


@pytest.mark.slow
def test_without_pyarrow_a_parquet_input_names_the_extra(penguins: dict[str, Path]) -> None:
    """A real process in which `import pyarrow` fails, as it does when the extra is absent."""
    wrapper = (
        "import sys; sys.modules['pyarrow'] = None; "
        "from nncli.cli import main; sys.argv = ['nncli', *sys.argv[1:]]; main()"
    )
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    env = {name: value for name, value in env.items() if not name.startswith("NNCLI_")}

    def run(*args: Path | str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", wrapper, *map(str, args)]
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)

    result = run("inspect", penguins["parquet"], "--json")
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"error: {penguins['parquet']}: reading a Parquet file needs pyarrow" in result.stderr
    assert "pip install 'nncli[parquet]'" in result.stderr
    assert json.loads(result.stdout)["exit_code"] == ExitCode.USAGE
    assert run("inspect", penguins["csv"]).returncode == 0  # CSV needs no pyarrow
