"""Ctrl-C and SIGTERM in the middle of `forecast train` and of `predict -o` writing a large
file: exit 130 / 143, the one-line message, and no partial or temporary file left behind.

(`train` is covered the same way in tests/integration/test_subprocess.py.)
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.robustness.conftest import series_lines, write_lines

NNCLI = shutil.which("nncli", path=str(Path(sys.executable).parent)) or shutil.which("nncli")
pytestmark = pytest.mark.skipif(NNCLI is None, reason="the nncli console script is not installed")
SIGNALS = [(signal.SIGINT, 130), (signal.SIGTERM, 143)]


def start(*args: object, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(NNCLI), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
    )


def finish(process: subprocess.Popen[str], signum: int, code: int) -> str:
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == code, err
    assert "nothing partial was written" in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: ")
    return err


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_signal_during_forecast_training_leaves_no_model_file(
    tmp_path: Path, signum: int, code: int
) -> None:
    data = tmp_path / "series.csv"
    lines = series_lines()
    # Newest row first: the "sorted by 'date'" note then marks the moment before training.
    write_lines(data, [lines[0], *reversed(lines[1:])])
    process = start(
        "forecast",
        "train",
        data,
        "--time-col",
        "date",
        "--target",
        "value",
        "--arch",
        "mlp",
        "--lookback",
        "10",
        "--horizon",
        "3",
        "--epochs",
        "100000",
        "--patience",
        "100000",
        "--batch-size",
        "4",
        "--out",
        tmp_path / "m.nncli",
        cwd=tmp_path,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if "sorted by 'date'" in line or not line:
            break
    time.sleep(1.0)  # into the epochs
    finish(process, signum, code)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["series.csv"]


@pytest.fixture(scope="module")
def large_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A million rows in the base table's columns: a few seconds of CSV writing to interrupt."""
    rng = random.Random(0)
    path = tmp_path_factory.mktemp("large") / "large.csv"
    choices = [f"{rng.random():.3f},{rng.randint(0, 9)},{rng.choice('xyz')}\n" for _ in range(4096)]
    with path.open("w") as handle:
        handle.write("a,b,cat\n")
        handle.write("".join(choices[i % 4096] for i in range(1_000_000)))
    return path


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_signal_while_predict_writes_leaves_no_partial_output(
    table_model: Path, large_table: Path, tmp_path: Path, signum: int, code: int
) -> None:
    out = tmp_path / "pred.csv"
    process = start("predict", table_model, large_table, "-o", out, "--proba", cwd=tmp_path)
    # The atomic writer's temporary file appears when writing starts: signal right then.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if any(p.name.startswith(".pred.csv.") for p in tmp_path.iterdir()):
            break
        time.sleep(0.005)
    if process.poll() is not None:
        pytest.skip("predict finished before the signal could be sent mid-write")
    finish(process, signum, code)
    assert list(tmp_path.iterdir()) == []  # neither pred.csv nor its temporary file
