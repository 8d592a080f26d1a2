"""A few corpus cases through a real `nncli` process: what a shell script or cron job sees
(exit status, exactly one stderr line, nothing on stdout, no traceback)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

NNCLI = shutil.which("nncli", path=str(Path(sys.executable).parent)) or shutil.which("nncli")
pytestmark = pytest.mark.skipif(NNCLI is None, reason="the nncli console script is not installed")


def run(*args: object) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "NO_COLOR": "1"}
    return subprocess.run(
        [str(NNCLI), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "command", "code", "fragment"),
    [
        ("latin1", "inspect", 3, "is not valid utf-8 — pass --encoding"),
        ("ragged", "inspect", 3, "malformed CSV: data row 10 (line 11) has 5 fields, the header 4"),
        ("mixed_dates", "forecast predict", 3, "mixes date formats"),
        ("huge", "predict", 3, "beyond the float32 range"),
    ],
)
def test_bad_input_in_a_real_process(
    corpus, table_model: Path, series_model: Path, case, command, code, fragment
) -> None:
    data = corpus(case, "series" if command.startswith("forecast") else "table")
    args = {
        "inspect": ["inspect", data],
        "predict": ["predict", table_model, data],
        "forecast predict": ["forecast", "predict", series_model, data],
    }[command]
    result = run(*args)
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {data}: ")
    assert fragment in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_gzipped_csv_predicts_in_a_real_process(corpus, table_model: Path) -> None:
    result = run("predict", table_model, corpus("gzipped"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "prediction" and len(result.stdout.splitlines()) == 61
