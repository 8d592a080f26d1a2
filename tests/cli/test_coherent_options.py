"""Options that do not apply are refused, and messages claim only what happened (issue 15).

Each case runs the CLI in-process; the trainings are tiny (a few epochs on small tables).
"""

from __future__ import annotations

import json
import random
import shlex
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from nncli.cli.demo import demo_steps
from nncli.errors import ExitCode
from nncli.tabular.options import TabularOptions

TINY = ["--epochs", "2", "--hidden", "8", "--patience", "2", "--final-refit", "never"]
SERIES = ["--time-col", "date", "--target", "adj_close", "--group-col", "ticker"]
FORECAST_TINY = ["--lookback", "20", "--horizon", "5", "--hidden-size", "8", "--epochs", "2"]
FORECAST_TINY += ["--ensemble", "1", "--combine", "none"]  # one network, no ETS fits


def usage_error(result: Any, *fragments: str) -> str:
    """The one error line of an exit-2 refusal (stderr's last), holding every fragment; nothing
    on stdout."""
    assert result.exit_code == ExitCode.USAGE, result.stderr
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == lines[-1:], result.stderr
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def dated_table(folder: Path, dates: int = 1) -> Path:
    """60 rows, shuffled in time, with `dates` date columns, two features and a class target."""
    rng = random.Random(0)
    start = date(2024, 1, 1)
    days = list(range(60))
    rng.shuffle(days)
    frame = pd.DataFrame(
        {
            "x": [rng.random() for _ in days],
            "k": [rng.choice("uvw") for _ in days],
            "y": [rng.choice("pq") for _ in days],
        }
    )
    for index in range(dates):
        name = "date" if index == 0 else f"date{index + 1}"
        frame[name] = [(start + timedelta(days=d + index)).isoformat() for d in days]
    path = folder / f"dated{dates}.csv"
    frame.to_csv(path, index=False)
    return path


# --- 1. --split time and --time-col ---------------------------------------------------------


@pytest.mark.slow
def test_split_time_uses_the_one_date_column_and_says_so(cli, tmp_path: Path) -> None:
    data = dated_table(tmp_path)
    frame = pd.read_csv(data)
    assert TabularOptions(target="y", split="time").split_plan(frame, data) == ("time", "date")
    # --time-col under the default --split auto: a time split, not an ignored flag.
    plan = TabularOptions(target="y", time_col="date").split_plan(frame, data)
    assert plan == ("time", "date")
    result = cli("train", data, "-t", "y", "--split", "time", *TINY, "--json", "-o", tmp_path / "m")
    assert "split (time, by column 'date'): 42 train, 9 validation, 9 test rows" in result.stderr
    assert json.loads(result.stdout)["split"]["method"] == "time"


@pytest.mark.parametrize(("dates", "found"), [(0, "has none"), (2, "several (date, date2)")])
def test_split_time_without_one_date_column_is_a_usage_error(
    cli, tmp_path: Path, dates: int, found: str
) -> None:
    data = dated_table(tmp_path, dates)
    result = cli("train", data, "-t", "y", "--split", "time", *TINY, code=None)
    usage_error(result, str(data), "--split time needs a time column", found, "--time-col")
    assert not (tmp_path / "model.nncli").exists()


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (["--time-col", "date", "--split", "random"], ["--time-col date", "--split random"]),
        (["--split-col", "part", "--split", "time"], ["--split-col part", "--split time"]),
        (["--time-col", "date", "--split-col", "part"], ["--time-col and --split-col"]),
        (["--split", "column"], ["--split column needs --split-col"]),
        (["--centres", "8"], ["--centres applies to --arch rbf only", "--arch tabm"]),
        (["--task", "regression", "--class-weights"], ["--class-weights needs classes"]),
    ],
)
def test_options_that_do_not_apply_are_refused_before_reading(
    cli, tmp_path: Path, flags: list[str], fragments: list[str]
) -> None:
    missing = tmp_path / "not-read.csv"  # refused before the data is opened
    usage_error(cli("train", missing, "-t", "y", *flags, code=None), *fragments)


def test_class_weights_on_an_inferred_regression_is_refused(cli, sample_data: Path) -> None:
    result = cli("train", sample_data / "autompg.csv", "-t", "mpg", "--class-weights", code=None)
    usage_error(result, "--class-weights needs classes", "'mpg' is a regression target")


# --- 2. predict / forecast predict ----------------------------------------------------------


def test_proba_on_a_regression_model_is_a_usage_error(
    cli, autompg_model: Path, sample_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "p.csv"
    result = cli(
        "predict", autompg_model, sample_data / "autompg.csv", "--proba", "-o", out, code=None
    )
    usage_error(result, "--proba needs a classification model", "regression model of 'mpg'")
    assert not out.exists()


def test_as_of_without_max_age_is_refused_by_forecast_predict(cli, tmp_path: Path) -> None:
    result = cli(
        "forecast",
        "predict",
        tmp_path / "m",
        tmp_path / "d.csv",
        "--as-of",
        "2013-03-04",
        code=None,
    )
    usage_error(result, "--as-of", "--max-age")


# --- 3. forecast run: the first model has no predecessor ------------------------------------


@pytest.mark.slow
def test_first_forecast_run_keeps_no_previous_model(cli, sample_data: Path, tmp_path: Path) -> None:
    prices = pd.read_csv(sample_data / "stocks.csv").groupby("ticker").tail(120)
    data = tmp_path / "prices.csv"
    prices.to_csv(data, index=False)
    model, ledger = tmp_path / "job.nncli", tmp_path / "ledger.csv"
    job = ["forecast", "run", "--data", data, "--model", model, "--ledger", ledger, *SERIES]
    job += [*FORECAST_TINY, "--as-of", "2013-03-02"]
    first = cli(*job)
    assert "training: no model yet" in first.stderr
    assert "previous model" not in first.stderr and "retrain" not in first.stderr
    assert f"saved {model}\n" in first.stderr and not model.with_name("job.nncli.prev").exists()
    assert "trained (no model yet)" in first.stderr.splitlines()[-1]
    before = model.read_bytes()
    second = cli(*job, "--retrain-every-runs", "1")
    assert f"saved {model} (previous model kept as job.nncli.prev)" in second.stderr
    assert model.with_name("job.nncli.prev").read_bytes() == before
    assert "retrained (run 1 since the last retrain" in second.stderr.splitlines()[-1]


# --- 4. the demo runs exactly the commands it prints ----------------------------------------


@pytest.mark.slow
def test_demo_runs_exactly_the_commands_it_prints(cli, sample_data: Path, tmp_path: Path) -> None:
    source = tmp_path / "data"
    source.mkdir()
    for name in ("penguins", "autompg"):
        (source / f"{name}.csv").write_bytes((sample_data / f"{name}.csv").read_bytes())
    stocks = pd.read_csv(sample_data / "stocks.csv").groupby("ticker").tail(120)
    stocks.to_csv(source / "stocks.csv", index=False)
    out = tmp_path / "demo"
    result = cli("demo", "--data-dir", source, "--out-dir", out, "--epochs", "1")

    printed: list[list[str]] = []
    sections: list[list[str]] = []  # what each command wrote to stdout
    for line in result.stdout.splitlines():
        if line.startswith("$ nncli "):
            printed.append(shlex.split(line[2:])[1:])
            sections.append([])
        elif sections and not line.startswith("== ") and not line.startswith("Done."):
            sections[-1].append(line)
    expected = [argv for _, lines in demo_steps(source, out, 1) for argv in lines]
    assert printed == expected
    flags = [flag for argv in printed for flag in argv if flag.startswith("-")]
    assert {"--drop", "--epochs", "--patience", "--out", "--append"} <= set(flags)
    with_proba = [argv for argv in printed if "--proba" in argv]  # the classifier's only
    assert len(with_proba) == 1 and with_proba[0][:2] == ["predict", str(out / "penguins.nncli")]

    models = [Path(argv[argv.index("--out") + 1]) for argv in printed if "--out" in argv]
    assert [path.name for path in models if path.is_file()] == [
        "penguins.nncli",
        "autompg.nncli",
        "stocks.nncli",
    ]
    # Rerun each printed line that uses those models as a user would (the trainings are not
    # rerun, to keep the test quick): the same stdout, the same prediction files.
    for argv, section in zip(printed, sections, strict=True):
        if "train" in argv[:2]:
            continue
        written = out / "penguins-predictions.csv"
        before = written.read_bytes()
        again = cli(*argv)
        shown = [line for line in again.stdout.splitlines() if line.strip()]
        assert shown == [line for line in section if line.strip()], argv
        assert written.read_bytes() == before
