"""Appends to a forecast history: concurrent writers all land, earlier rows stay byte for byte.

Ten `nncli forecast predict --append` processes run at once on one history, each forecasting
from a different newest day (so each has its own rows); every row must arrive exactly once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from nncli.errors import ExitCode
from nncli.forecasting.predict import FORECAST_COLUMNS, append_history
from tests.robustness.conftest import series_lines, write_lines

WRITERS = 10
HORIZON = 3  # the series model's horizon


def _nncli(*args: object) -> subprocess.Popen[str]:
    env = {**os.environ, "NNCLI_NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-m", "nncli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.slow
def test_ten_parallel_appends_each_land_exactly_once(series_model: Path, tmp_path: Path) -> None:
    lines = series_lines()
    inputs = [
        write_lines(tmp_path / f"upto{index}.csv", lines[: len(lines) - index])
        for index in range(WRITERS)
    ]
    history = tmp_path / "history.csv"
    writers = [
        _nncli("forecast", "predict", series_model, data, "--append", history, "-o", os.devnull)
        for data in inputs
    ]
    for writer in writers:
        _, stderr = writer.communicate(timeout=300)
        assert writer.returncode == 0, stderr
        assert f"added {HORIZON} new row(s)" in stderr
    frame = pd.read_csv(history, dtype=str)
    keys = list(frame[["series", "origin", "step"]].itertuples(index=False, name=None))
    assert len(keys) == WRITERS * HORIZON == len(set(keys))
    origins = {line.split(",")[0] for line in lines[len(lines) - WRITERS :]}
    assert set(frame["origin"]) == origins
    assert list(frame.columns) == FORECAST_COLUMNS


def _forecasts(origin: str, value: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series": ["A"],
            "origin": [origin],
            "step": [1],
            "timestamp": ["2024-01-02"],
            "forecast": [value],
            "lower": [value - 1],
            "upper": [value + 1],
            "model_id": ["m"],
        }
    )


def test_earlier_rows_are_copied_byte_for_byte(tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    earlier = (
        "series,origin,step,timestamp,forecast,lower,upper,model_id\n"
        "A,2024-01-01,1,2024-01-02,0.1234567890123456,1523456789.12,1.50,abc\n"
        "NA,2024-01-01,1,2024-01-02,1e-3,  2 ,3,007\n"
    )
    history.write_text(earlier)
    assert append_history(history, _forecasts("2024-01-03", 2.0)) == 1
    text = history.read_text()
    assert text.startswith(earlier)
    assert text[len(earlier) :] == "A,2024-01-03,1,2024-01-02,2,1,3,m\n"
    # A series literally named NA is its own series: its key is matched, not dropped.
    named_na = _forecasts("2024-01-01", 9.0).assign(series="NA")
    assert append_history(history, named_na) == 0
    assert history.read_text() == text


def test_a_history_without_a_final_newline_or_with_crlf_keeps_its_bytes(tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    earlier = b"series,origin,step,timestamp,forecast,lower,upper,model_id\r\nB,o,1,t,1.0,0,2,m"
    history.write_bytes(earlier)
    assert append_history(history, _forecasts("o2", 2.0)) == 1
    assert history.read_bytes() == earlier + b"\r\nA,o2,1,2024-01-02,2,1,3,m\r\n"


def test_a_non_numeric_step_names_the_file_and_line(tmp_path: Path) -> None:
    from nncli.errors import DataError

    history = tmp_path / "history.csv"
    history.write_text(
        "series,origin,step,timestamp,forecast,lower,upper,model_id\nA,o,1,t,1,0,2,m\nA,o,x,t,1,0,2,m\n"
    )
    try:
        append_history(history, _forecasts("o2", 2.0))
    except DataError as error:
        assert error.exit_code == ExitCode.BAD_DATA
        assert f"{history}: line 3: step 'x'" in error.one_line()
    else:
        raise AssertionError("a bad step was accepted")


def test_output_and_append_naming_one_file_are_refused(
    cli, series_model: Path, tmp_path: Path
) -> None:
    data = write_lines(tmp_path / "series.csv", series_lines())
    history = tmp_path / "history.csv"
    history.write_text("series,origin,step,timestamp,forecast,lower,upper,model_id\n")
    before = history.read_bytes()
    alias = tmp_path / "alias.csv"
    alias.symlink_to(history)
    for other in (history, alias):
        result = cli(
            "forecast", "predict", series_model, data, "-o", other, "--append", history, code=None
        )
        assert result.exit_code == ExitCode.USAGE, result.stderr
        assert "--output and --append name the same file" in result.stderr
    assert history.read_bytes() == before
