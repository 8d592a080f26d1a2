"""`-` as DATA (the table piped in on stdin) and --format csv|jsonl|json|parquet for the
predictions of `predict` and the forecasts of `forecast predict`."""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from nncli.cli import app
from nncli.data.writing import write_table

NNCLI = shutil.which("nncli", path=str(Path(sys.executable).parent)) or shutil.which("nncli")
needs_nncli = pytest.mark.skipif(NNCLI is None, reason="the nncli console script is not installed")
SERIES = ["--time-col", "date", "--target", "adj_close", "--group-col", "ticker"]
TINY = ["--lookback", "10", "--horizon", "3", "--hidden-size", "8", "--epochs", "1"]
TINY += ["--ensemble", "1", "--combine", "none"]  # one network: these tests are about I/O


def invoke(*args: Any, input: bytes | None = None, code: int = 0) -> Any:
    """nncli in-process, `input` on its stdin; stdout and stderr apart."""
    result = CliRunner().invoke(app, [str(a) for a in args], input=input)
    assert result.exit_code == code, (
        f"exit {result.exit_code} != {code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


def run(*args: Any, tmp: Path, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    """The installed nncli as a real process, its temporary files in `tmp`."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "NO_COLOR": "1", "TMPDIR": str(tmp)}
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    if "input" not in kwargs:
        streams["stdin"] = subprocess.DEVNULL
    return subprocess.run(
        [str(NNCLI), *map(str, args)], env=env, timeout=300, **{**streams, **kwargs}
    )


@pytest.fixture(scope="module")
def prices(tmp_path_factory: pytest.TempPathFactory, sample_data: Path) -> Path:
    """The newest 80 trading days of each ticker in the sample prices."""
    path = tmp_path_factory.mktemp("pipes") / "prices.csv"
    frame = pd.read_csv(sample_data / "stocks.csv")
    frame.groupby("ticker", group_keys=False).tail(80).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def forecaster(prices: Path) -> Path:
    path = prices.parent / "prices.nncli"
    invoke("forecast", "train", prices, *SERIES, *TINY, "--out", path, "--quiet")
    return path


def command_line(name: str, request: pytest.FixtureRequest, sample_data: Path) -> list[Any]:
    """The command `name` with DATA as the placeholder `{}`."""
    model = request.getfixturevalue("forecaster" if name == "forecast" else "penguins_model")
    return {
        "predict": ["predict", model, "{}", "--proba"],
        "evaluate": ["evaluate", model, "{}", "--json"],
        "explain": ["explain", model, "{}", "--repeats", "1", "--json"],
        "forecast": ["forecast", "predict", model, "{}"],
    }[name]


def with_data(line: list[Any], data: Any) -> list[Any]:
    return [data if part == "{}" else part for part in line]


def without_warnings(stdout: str) -> Any:
    """stdout, or its JSON document less the warnings (they name the input)."""
    if not stdout.startswith("{"):
        return stdout
    document = json.loads(stdout)
    document.pop("warnings", None)
    return document


@pytest.mark.parametrize("name", ["predict", "evaluate", "explain", "forecast"])
def test_stdin_gives_what_the_file_gives(
    name: str, request: pytest.FixtureRequest, sample_data: Path, prices: Path
) -> None:
    data = prices if name == "forecast" else sample_data / "penguins.csv"
    line = command_line(name, request, sample_data)
    from_file = invoke(*with_data(line, data))
    piped = invoke(*with_data(line, "-"), input=data.read_bytes())
    assert from_file.stdout.strip()
    assert without_warnings(piped.stdout) == without_warnings(from_file.stdout)
    assert "nncli-stdin-" not in piped.stdout + piped.stderr  # the copy is never named
    if name in ("evaluate", "explain"):  # penguins.csv is the model's training file
        assert f"{data} is the file the model was trained on" in from_file.stderr
        assert "<stdin> is the file the model was trained on" in piped.stderr


def test_compressed_stdin_is_recognised_by_its_bytes(
    penguins_model: Path, sample_data: Path
) -> None:
    data = sample_data / "penguins.csv"
    plain = invoke("predict", penguins_model, data)
    piped = invoke("predict", penguins_model, "-", input=gzip.compress(data.read_bytes()))
    assert piped.stdout == plain.stdout
    assert "<stdin>: gzip-compressed; reading it decompressed" in piped.stderr


def test_empty_or_bad_stdin_is_the_usual_data_error(penguins_model: Path, forecaster: Path) -> None:
    for line in (["predict", penguins_model, "-"], ["forecast", "predict", forecaster, "-"]):
        empty = invoke(*line, input=b"", code=3)
        assert empty.stderr == (
            "error: <stdin>: the file is empty — expected a header line and data rows\n"
        )
        assert empty.stdout == ""
    wrong = invoke("predict", penguins_model, "-", input=b"a,b\n1,2\n", code=3)
    assert wrong.stderr.startswith("error: <stdin>: ") and wrong.stderr.count("\n") == 1


def test_model_cannot_come_from_stdin(penguins_model: Path, sample_data: Path) -> None:
    for data in (sample_data / "penguins.csv", "-"):
        result = invoke("predict", "-", data, input=b"x", code=2)
        assert result.stderr.startswith("error: MODEL cannot be '-'")
        assert result.stderr.count("\n") == 1 and result.stdout == ""


@pytest.mark.slow
@needs_nncli
def test_a_terminal_on_stdin_or_parquet_to_a_terminal_is_refused(
    penguins_model: Path, sample_data: Path, tmp_path: Path
) -> None:
    primary, secondary = os.openpty()
    try:
        typed = run("predict", penguins_model, "-", tmp=tmp_path, stdin=secondary)
        shown = run(
            "predict", penguins_model, sample_data / "penguins.csv", "--format", "parquet",
            tmp=tmp_path, stdout=secondary,
        )  # fmt: skip
    finally:
        os.close(primary)
        os.close(secondary)
    assert typed.returncode == 2, typed.stderr
    assert typed.stderr.decode() == (
        "error: DATA is '-' but stdin is a terminal — pipe the table in "
        "(cat data.csv | nncli …) or give its path\n"
    )
    assert shown.returncode == 2, shown.stderr
    assert b"refusing to write binary Parquet to a terminal" in shown.stderr
    assert list(tmp_path.glob("nncli-stdin-*")) == []


@pytest.mark.slow
@needs_nncli
def test_the_copy_of_stdin_is_removed_after_success_failure_and_sigterm(
    penguins_model: Path, sample_data: Path, tmp_path: Path
) -> None:
    data = (sample_data / "penguins.csv").read_bytes()
    piped = run("predict", penguins_model, "-", tmp=tmp_path, input=data)
    assert piped.returncode == 0 and piped.stdout.startswith(b"prediction\n")
    bad = run("predict", penguins_model, "-", tmp=tmp_path, input=b"a,b\n1,2\n")
    assert bad.returncode == 3 and bad.stderr.startswith(b"error: <stdin>: ")
    assert list(tmp_path.glob("nncli-stdin-*")) == []
    # SIGTERM while the copy is being made (the writer has not finished).
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    with subprocess.Popen(
        [str(NNCLI), "predict", str(penguins_model), "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    ) as process:  # fmt: skip
        assert process.stdin is not None
        process.stdin.write(data[:500])
        process.stdin.flush()
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("nncli-stdin-*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(tmp_path.glob("nncli-stdin-*")), "the copy was never started"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert stderr.startswith(b"error: terminated by SIGTERM")
    assert list(tmp_path.glob("nncli-stdin-*")) == []


def read_back(text: str, kind: str) -> pd.DataFrame:
    """A csv, jsonl or json table as a frame; JSON keys must come in one order."""
    if kind == "csv":  # a model id of digits only is still an id
        return pd.read_csv(io.StringIO(text), dtype={"model_id": str})
    records = (
        [json.loads(line) for line in text.splitlines()] if kind == "jsonl" else json.loads(text)
    )
    assert len({tuple(record) for record in records}) == 1  # every row: the columns in order
    return pd.DataFrame.from_records(records, columns=list(records[0]))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["jsonl", "json"])
def test_json_formats_hold_what_the_csv_holds(
    kind: str, penguins_model: Path, forecaster: Path, sample_data: Path, prices: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    for line in (
        ["predict", penguins_model, sample_data / "penguins.csv", "--proba"],
        ["forecast", "predict", forecaster, prices],
    ):
        csv = read_back(invoke(*line).stdout, "csv")
        on_stdout = invoke(*line, "--format", kind).stdout
        pd.testing.assert_frame_equal(read_back(on_stdout, kind), csv)
        named = tmp_path / f"{line[0]}.{kind}"  # the suffix picks the format
        message = invoke(*line, "-o", named).stderr
        assert f"to {named} ({kind})" in message
        assert named.read_text() == on_stdout
    assert (on_stdout.startswith("[\n{") and on_stdout.endswith("}\n]\n")) == (kind == "json")


def test_json_values_are_json_native_in_column_order() -> None:
    table = pd.DataFrame(
        {
            "id": ["a", None],
            "n": [1, 2],
            "x": [0.123456789, math.nan],
            "when": pd.to_datetime(["2024-01-02 03:04:05", None]),
            "flag": [True, False],
        }
    )
    handle = io.StringIO()
    write_table(table, "jsonl", handle, "%.7g")
    assert handle.getvalue() == (
        '{"id": "a", "n": 1, "x": 0.1234568, "when": "2024-01-02T03:04:05", "flag": true}\n'
        '{"id": null, "n": 2, "x": null, "when": null, "flag": false}\n'
    )
    empty = io.StringIO()
    write_table(table.iloc[:0], "json", empty, "%.7g")
    assert json.loads(empty.getvalue()) == []


def test_json_flag_and_a_table_on_stdout_are_refused_together(
    penguins_model: Path, sample_data: Path, tmp_path: Path
) -> None:
    data = sample_data / "penguins.csv"
    for extra in (["--format", "jsonl"], ["-o", "-"]):
        refused = invoke("predict", penguins_model, data, "--json", *extra, code=2)
        assert json.loads(refused.stdout)["exit_code"] == 2
        assert "--json prints one JSON document on stdout" in refused.stderr
    out = tmp_path / "rows.txt"
    summary = json.loads(
        invoke("predict", penguins_model, data, "--json", "-o", out, "--format", "jsonl").stdout
    )
    assert summary["format"] == "jsonl" and summary["output"] == str(out)
    assert json.loads(out.read_text().splitlines()[0]) == {"prediction": "Adelie"}


def test_dash_output_is_stdout(
    penguins_model: Path, sample_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = sample_data / "penguins.csv"
    assert invoke("predict", penguins_model, data, "-o", "-").stdout == (
        invoke("predict", penguins_model, data).stdout
    )
    assert not (tmp_path / "-").exists()


@pytest.mark.slow
def test_parquet_to_a_file_and_to_stdout(
    penguins_model: Path, forecaster: Path, sample_data: Path, prices: Path, tmp_path: Path
) -> None:
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow (pip install 'nncli[parquet]')")
    for line in (
        ["predict", penguins_model, sample_data / "penguins.csv", "--proba"],
        ["forecast", "predict", forecaster, prices],
    ):
        csv = read_back(invoke(*line).stdout, "csv")
        piped = invoke(*line, "--format", "parquet").stdout_bytes
        assert piped.startswith(b"PAR1")
        back = pd.read_parquet(io.BytesIO(piped))
        pd.testing.assert_frame_equal(back, csv, check_dtype=False, rtol=1e-6)
        named = tmp_path / "table.parquet"
        invoke(*line, "-o", named)
        back = pd.read_parquet(named)
        pd.testing.assert_frame_equal(back, csv, check_dtype=False, rtol=1e-6)
