"""`nncli forecast run` as cron runs it: no TTY, minimal environment, overlapping runs."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from nncli.errors import ExitCode

NNCLI = str(Path(sys.executable).parent / "nncli")
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "stocks.csv"
JOB = """
[forecast.run]
data = "data/prices.csv"
model = "models/prices.nncli"
ledger = "out/forecasts.csv"
time-col = "date"
target = "adj_close"
group-col = "ticker"
lookback = 20
horizon = 5
hidden-size = 8
ensemble = 1
combine = "none"
epochs = {epochs}
patience = {epochs}
"""


def write_prices(folder: Path, until: str | None = None, tickers: int = 4) -> Path:
    frame = pd.read_csv(SAMPLE).groupby("ticker").tail(200)
    frame = frame[frame["ticker"].isin(sorted(frame["ticker"].unique())[:tickers])]
    if until:
        frame = frame[frame["date"] <= until]
    path = folder / "data" / "prices.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def job(tmp_path: Path) -> Path:
    folder = tmp_path / "job"
    for name in ("data", "models", "out"):
        (folder / name).mkdir(parents=True)
    write_prices(folder, until="2013-02-22")
    config = folder / "job.toml"
    config.write_text(JOB.format(epochs=2))
    return config


def cron(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run nncli like cron does: `env -i` with only PATH and HOME, no TTY, no stdin."""
    env = {"PATH": f"{Path(NNCLI).parent}:/usr/bin:/bin", "HOME": str(cwd), "NO_COLOR": "1"}
    return subprocess.run(
        ["env", "-i", *(f"{k}={v}" for k, v in env.items()), NNCLI, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


@pytest.mark.slow
def test_a_cron_run_from_another_directory(job: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    first = cron("forecast", "run", "--config", str(job), "--as-of", "2013-02-24", cwd=elsewhere)
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""  # people's messages go to stderr only
    lines = first.stderr.splitlines()
    assert all(line[:4] == "2026" or line[:2] == "20" for line in lines)  # every line timestamped
    assert "training: no model yet" in first.stderr and "\x1b[" not in first.stderr
    assert lines[-1].split(" ", 1)[1].startswith("done: forecast 20 row(s)")
    folder = job.parent
    assert (folder / "models" / "prices.nncli").is_file()
    ledger = pd.read_csv(folder / "out" / "forecasts.csv")
    assert len(ledger) == 20 and set(ledger["origin"]) == {"2013-02-22"}
    assert not list(elsewhere.iterdir())  # nothing written to the working directory

    again = cron(
        "forecast", "run", "--config", str(job), "--as-of", "2013-02-24", "--json", cwd=elsewhere
    )
    summary = json.loads(again.stdout)
    assert summary["ok"] and summary["appended_rows"] == 0 and summary["retrained"] is False

    write_prices(folder)  # a week of new prices arrives
    later = cron(
        "forecast", "run", "--config", str(job), "--as-of", "2013-03-02", "--json", cwd=elsewhere
    )
    summary = json.loads(later.stdout)
    assert summary["appended_rows"] == 20 and summary["live"]["matured_rows"] == 20
    assert {"network", "naive"} <= set(summary["live"]["overall"])
    assert len(pd.read_csv(folder / "out" / "forecasts.csv")) == 40

    score = cron(
        "forecast",
        "score",
        str(folder / "out" / "forecasts.csv"),
        str(folder / "data" / "prices.csv"),
        "--model",
        str(folder / "models" / "prices.nncli"),
        "--json",
        cwd=elsewhere,
    )
    assert score.returncode == 0, score.stderr
    scored = json.loads(score.stdout)
    assert scored["matured_rows"] == 20 and scored["pending_rows"] == 20
    assert set(scored["per_series"]) == {"AAPL", "GOOG", "IBM", "MSFT"}
    for key in ("mae", "mase", "directional_accuracy", "coverage"):
        assert key in scored["overall"]["network"]
    gate = cron(
        "forecast",
        "score",
        str(folder / "out" / "forecasts.csv"),
        str(folder / "data" / "prices.csv"),
        "--model",
        str(folder / "models" / "prices.nncli"),
        "--max-mase",
        "0.0001",
        cwd=elsewhere,
    )
    assert gate.returncode == ExitCode.QUALITY_GATE and "quality gate failed" in gate.stderr

    stale = cron(
        "forecast",
        "run",
        "--config",
        str(job),
        "--as-of",
        "2013-03-20",
        "--max-age",
        "3d",
        cwd=elsewhere,
    )
    assert stale.returncode == ExitCode.STALE_DATA and "--max-age" in stale.stderr


@pytest.mark.slow
def test_retraining_keeps_the_previous_model_as_a_backup(job: Path) -> None:
    folder = job.parent
    assert (
        cron(
            "forecast", "run", "--config", str(job), "--as-of", "2013-02-24", cwd=folder
        ).returncode
        == 0
    )
    first = (folder / "models" / "prices.nncli").read_bytes()
    result = cron(
        "forecast",
        "run",
        "--config",
        str(job),
        "--as-of",
        "2013-02-24",
        "--retrain-every-runs",
        "1",
        "--seed",
        "1",
        cwd=folder,
    )
    assert result.returncode == 0, result.stderr
    assert "retraining: run 1 since the last retrain" in result.stderr
    assert (folder / "models" / "prices.nncli.prev").read_bytes() == first
    assert (folder / "models" / "prices.nncli").read_bytes() != first


@pytest.mark.slow
def test_a_half_written_data_file_is_refused_or_its_last_row_dropped(job: Path) -> None:
    folder = job.parent
    data = folder / "data" / "prices.csv"
    data.write_text(data.read_text() + "2013-02-25,AAPL,6")  # a writer caught mid-line
    result = cron("forecast", "run", "--config", str(job), cwd=folder)
    assert result.returncode == ExitCode.BAD_DATA
    assert (
        "the last line has no line ending" in result.stderr
        and "--partial-last-row drop" in result.stderr
    )
    assert not (folder / "out" / "forecasts.csv").exists()
    dropped = cron(
        "forecast", "run", "--config", str(job), "--partial-last-row", "drop", "--json", cwd=folder
    )
    assert dropped.returncode == 0, dropped.stderr
    assert "that row was dropped" in dropped.stderr
    assert json.loads(dropped.stdout)["data_last_timestamp"].startswith("2013-02-22")


@pytest.mark.slow
def test_overlapping_runs_never_both_write(job: Path) -> None:
    folder = job.parent
    slow = folder / "slow.toml"
    slow.write_text(JOB.format(epochs=100000))
    first = subprocess.Popen(
        [NNCLI, "forecast", "run", "--config", str(slow), "--as-of", "2013-02-24"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = folder / "models" / "prices.nncli.lock"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (lock.exists() and lock.read_text().strip()):
        time.sleep(0.1)
    try:
        second = cron("forecast", "run", "--config", str(job), "--as-of", "2013-02-24", cwd=folder)
        assert second.returncode == ExitCode.LOCKED, second.stderr
        assert f"PID {first.pid}" in second.stderr and "--wait" in second.stderr
        waited = cron("forecast", "run", "--config", str(job), "--wait", "1", cwd=folder)
        assert waited.returncode == ExitCode.LOCKED
        assert not (folder / "out" / "forecasts.csv").exists()
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    # The killed run left its PID in the lock file: the next run says so and takes over.
    taken = cron("forecast", "run", "--config", str(job), "--as-of", "2013-02-24", cwd=folder)
    assert taken.returncode == 0, taken.stderr
    assert f"stale lock from PID {first.pid}" in taken.stderr
    assert len(pd.read_csv(folder / "out" / "forecasts.csv")) == 20


@pytest.mark.slow
def test_killing_a_run_mid_write_never_damages_the_ledger(tmp_path: Path) -> None:
    from nncli.forecasting.predict import FORECAST_COLUMNS

    ledger = tmp_path / "ledger.csv"
    rows = 300_000
    pd.DataFrame(
        {
            "series": ["S"] * rows,
            "origin": [f"o{i}" for i in range(rows)],
            "step": [1] * rows,
            "timestamp": ["t"] * rows,
            "forecast": [1.5] * rows,
            "lower": [1.0] * rows,
            "upper": [2.0] * rows,
            "model_id": ["m"] * rows,
        }
    )[list(FORECAST_COLUMNS)].to_csv(ledger, index=False)
    original = ledger.read_bytes()
    script = (
        "import pandas as pd, sys; from pathlib import Path; "
        "from nncli.forecasting.predict import append_history; "
        "new = pd.DataFrame({'series': ['S'], 'origin': ['new'], 'step': [1], 'timestamp': ['t'], "
        "'forecast': [9.0], 'lower': [8.0], 'upper': [10.0], 'model_id': ['m']}); "
        "print('ready', flush=True); append_history(Path(sys.argv[1]), new)"
    )
    for delay in (0.05, 0.2, 0.4, 0.8):
        process = subprocess.Popen(
            [sys.executable, "-c", script, str(ledger)], stdout=subprocess.PIPE, text=True
        )
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        content = ledger.read_bytes()
        assert content == original or (
            content.startswith(original) and content[len(original) :] == b"S,new,1,t,9,8,10,m\n"
        )
        if content != original:
            shutil.copy(ledger, tmp_path / "done.csv")
            break
    frame = pd.read_csv(ledger)
    assert len(frame) in (rows, rows + 1) and list(frame.columns) == list(FORECAST_COLUMNS)
    for leftover in tmp_path.glob(".ledger.csv.*.tmp"):
        leftover.unlink()  # a SIGKILL cannot clean its temporary file; the ledger itself is whole
