"""Nothing lost, second pass — the write side: no command replaces a file it was not asked to
write, and every refused write is one line with its exit code.

- A symlinked output (`-o`, `--append`, a link chain, a dangling link) is written through:
  the file it names gets the rows, the link stays a link, and an append through the link
  takes the same lock as one through the real name.
- `-o /dev/stdout` (and any link to this process's own descriptors) and a FIFO are written
  in place, never replaced.
- A full disk is exit 8 with one line for every write: stdout (each --format, `forecast
  predict`, `inspect`, with and without --json) and the scheduled job's lock record.
- Errors before the command runs (DATA '-' with stdin closed) still print the --json
  document; Ctrl-C while stdin is being copied prints its one line, as SIGTERM does.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nncli.errors import ExitCode
from nncli.locking import append_lock, job_lock, sidecar_lock_path
from tests.conftest import Cli
from tests.robustness.conftest import series_lines, table_lines, write_lines

REPO = Path(__file__).resolve().parents[2]
FULL = "No space left on device"


def nncli(
    *args: Any, cwd: Path, stdout: Any = subprocess.PIPE, stdin: Any = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    """This checkout's nncli as a real process (`python -m nncli`), no colour."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "TMPDIR": str(cwd)}
    return subprocess.run(
        [sys.executable, "-m", "nncli", *map(str, args)],
        cwd=cwd,
        env=env,
        stdin=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )


def one_error_line(stderr: str, fragment: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert fragment in lines[0] and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lines(tmp_path_factory.mktemp("writes") / "table.csv", table_lines())


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lines(tmp_path_factory.mktemp("writes") / "series.csv", series_lines())


# 1. Symlinked outputs are written through, never replaced ---------------------------------


def test_append_through_a_symlinked_ledger_writes_the_file_it_names(
    cli: Cli, series_model: Path, series: Path, tmp_path: Path
) -> None:
    real = tmp_path / "ledger-2024.csv"
    real.write_text("")
    link = tmp_path / "ledger.csv"
    link.symlink_to(real.name)
    result = cli("forecast", "predict", series_model, series, "--append", link, "--quiet")
    assert link.is_symlink() and link.readlink().as_posix() == real.name
    rows = real.read_text().splitlines()
    assert len(rows) == 4 and rows[0].startswith("series,origin,step,timestamp")
    # The lock is the real file's: an append through the real name takes the same one.
    assert (tmp_path / ".ledger-2024.csv.lock").exists()
    assert not (tmp_path / ".ledger.csv.lock").exists()
    again = cli("forecast", "predict", series_model, series, "--append", real)
    assert "added 0 new row(s)" in again.stderr and real.read_text().splitlines() == rows
    assert result.exit_code == 0


def test_an_append_through_a_link_waits_for_one_through_the_real_name(tmp_path: Path) -> None:
    real = tmp_path / "ledger-2024.csv"
    real.write_text("")
    link = tmp_path / "ledger.csv"
    link.symlink_to(real)
    assert sidecar_lock_path(link) == sidecar_lock_path(real)
    taken = threading.Event()

    def append_through_the_link() -> None:
        with append_lock(link):
            taken.set()

    with append_lock(real):
        other = threading.Thread(target=append_through_the_link)
        other.start()
        assert not taken.wait(0.5), "the link's append did not wait for the real name's lock"
    other.join(timeout=10)
    assert taken.is_set()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_output_through_a_symlink_is_written_through_and_the_link_kept(
    cli: Cli, table_model: Path, table: Path, tmp_path: Path, suffix: str
) -> None:
    dated = tmp_path / "archive" / f"2024-06-14{suffix}"
    dated.parent.mkdir()
    dated.write_bytes(b"yesterday's predictions\n")
    latest = tmp_path / f"latest{suffix}"
    latest.symlink_to(Path("archive") / dated.name)
    cli("predict", table_model, table, "-o", latest)
    assert latest.is_symlink() and latest.resolve() == dated.resolve()
    written = dated.read_bytes()
    assert written != b"yesterday's predictions\n" and len(written) > 100
    assert written.startswith(b"PAR1") if suffix == ".parquet" else written.startswith(b"pred")
    assert not list(tmp_path.glob(".*.tmp")) and not list(dated.parent.glob(".*.tmp"))


def test_a_link_chain_is_followed_to_its_last_file(
    cli: Cli, table_model: Path, table: Path, tmp_path: Path
) -> None:
    c = tmp_path / "c.csv"
    c.write_text("old\n")
    (tmp_path / "b.csv").symlink_to("c.csv")
    (tmp_path / "a.csv").symlink_to("b.csv")
    cli("predict", table_model, table, "-o", tmp_path / "a.csv")
    assert (tmp_path / "a.csv").readlink() == Path("b.csv")
    assert (tmp_path / "b.csv").readlink() == Path("c.csv")
    assert c.read_text().startswith("prediction\n") and len(c.read_text().splitlines()) == 61


def test_a_dangling_link_creates_the_file_it_names_when_its_directory_exists(
    cli: Cli, table_model: Path, table: Path, tmp_path: Path
) -> None:
    link = tmp_path / "latest.csv"
    link.symlink_to("today.csv")
    cli("predict", table_model, table, "-o", link)
    assert link.is_symlink() and (tmp_path / "today.csv").read_text().startswith("prediction\n")
    # Its directory missing: exit 2 before any work, naming where the link points.
    nowhere = tmp_path / "nowhere.csv"
    nowhere.symlink_to(tmp_path / "missing" / "x.csv")
    result = cli("predict", table_model, table, "-o", nowhere, code=ExitCode.USAGE)
    one_error_line(result.stderr, "missing does not exist")
    assert nowhere.is_symlink() and not (tmp_path / "missing").exists()
    # A link loop: exit 2, the link untouched.
    loop = tmp_path / "loop.csv"
    loop.symlink_to("loop.csv")
    result = cli("predict", table_model, table, "-o", loop, code=ExitCode.USAGE)
    one_error_line(result.stderr, "symbolic links")
    assert loop.readlink().as_posix() == "loop.csv"


# 2. Devices, FIFOs and /dev/stdout are written in place, never replaced --------------------


@pytest.fixture
def dev_stdout_restored() -> Iterator[Path]:
    """/dev/stdout, put back as the link to /proc/self/fd/1 should a test have replaced it
    (as root, the code before this fix renamed a regular file over it)."""
    dev = Path("/dev/stdout")
    yield dev
    if not dev.is_symlink() and os.geteuid() == 0:
        with contextlib.suppress(OSError):
            dev.unlink()
            dev.symlink_to("/proc/self/fd/1")


@pytest.mark.slow
def test_dash_o_dev_stdout_writes_into_the_redirected_file(
    table_model: Path, table: Path, tmp_path: Path, dev_stdout_restored: Path
) -> None:
    # A link of our own with /dev/stdout's shape, then /dev/stdout itself.
    own = tmp_path / "stdout"
    own.symlink_to("/proc/self/fd/1")
    for target in (own, dev_stdout_restored):
        out = tmp_path / "out.csv"
        with out.open("w") as handle:
            result = nncli("predict", table_model, table, "-o", target, cwd=tmp_path, stdout=handle)
        assert result.returncode == 0, result.stderr
        assert target.is_symlink() and target.readlink().as_posix() == "/proc/self/fd/1"
        assert out.read_text().startswith("prediction\n"), target
        assert len(out.read_text().splitlines()) == 61
    # `>> log.csv`: what was there stays, the rows follow it.
    log = tmp_path / "log.csv"
    log.write_text("earlier line\n")
    with log.open("a") as handle:
        result = nncli(
            "predict", table_model, table, "-o", "/dev/stdout", cwd=tmp_path, stdout=handle
        )
    assert result.returncode == 0, result.stderr
    assert log.read_text().startswith("earlier line\nprediction\n")


def test_a_fifo_gets_the_rows_and_stays_a_fifo(
    cli: Cli, table_model: Path, table: Path, tmp_path: Path
) -> None:
    fifo = tmp_path / "rows"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    cli("predict", table_model, table, "-o", fifo)
    reader.join(timeout=30)
    assert received and received[0].startswith(b"prediction\n")
    assert fifo.is_fifo()


# 7. Stdout on a full disk: exit 8, one line -------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["predict", "{model}", "{table}", "--format", "csv"],
        ["predict", "{model}", "{table}", "--format", "jsonl"],
        ["predict", "{model}", "{table}", "--format", "json"],
        ["predict", "{model}", "{table}", "--format", "parquet"],
        ["predict", "{model}", "{table}", "--json"],
        ["forecast", "predict", "{series_model}", "{series}"],
        ["inspect", "{table}"],
        ["inspect", "{table}", "--json"],
    ],
    ids=lambda args: "-".join(a.strip("{}-") for a in args if a not in ("{table}", "{series}")),
)
@pytest.mark.slow
def test_stdout_on_a_full_disk_is_exit_8_in_one_line(
    args: list[str],
    table_model: Path,
    series_model: Path,
    table: Path,
    series: Path,
    tmp_path: Path,
) -> None:
    names = {"model": table_model, "table": table, "series_model": series_model, "series": series}
    line = [str(names[a.strip("{}")]) if a.startswith("{") else a for a in args]
    with Path("/dev/full").open("w") as full:
        result = nncli(*line, cwd=tmp_path, stdout=full)
    assert result.returncode == ExitCode.IO_ERROR, result.stderr
    one_error_line(result.stderr, FULL)


# 8. The scheduled job's lock record on a full disk: exit 8, one line ------------------------


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A directory on a tmpfs of one page, filled: creating a file works, writing fails."""
    place = tmp_path / "full"
    place.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(place)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        with contextlib.suppress(OSError), (place / "filler").open("wb") as filler:
            while True:
                filler.write(b"x" * 4096)
                filler.flush()
        yield place
    finally:
        subprocess.run(["umount", "-l", str(place)], check=False)


def test_the_lock_record_on_a_full_disk_is_exit_8_in_one_line(
    cli: Cli, series: Path, full_disk: Path, tmp_path: Path
) -> None:
    lock = full_disk / "job.lock"
    result = cli(
        "forecast", "run", "--data", series, "--model", tmp_path / "m.nncli",
        "--ledger", tmp_path / "ledger.csv", "--time-col", "date", "--target", "value",
        "--lock", lock, "--quiet", code=ExitCode.IO_ERROR,
    )  # fmt: skip
    lines = result.stderr.strip().splitlines()  # the job's lines carry a timestamp first
    assert len(lines) == 1 and " error: " in lines[0] and "Traceback" not in result.stderr
    assert "cannot write the lock record" in lines[0] and FULL in lines[0]
    assert str(lock) in lines[0]
    assert not (tmp_path / "m.nncli").exists() and not (tmp_path / "ledger.csv").exists()
    # The real locking function, on its own: the same error, and the lock is released.
    from nncli.errors import FileWriteError
    from nncli.output import Ui

    with pytest.raises(FileWriteError, match=FULL), job_lock(full_disk / "other.lock", Ui()):
        pass
    assert (full_disk / "other.lock").read_bytes() == b""


# 11. Before the command: stdin closed with --json; Ctrl-C while stdin is copied ------------


def test_data_dash_with_stdin_closed_prints_the_json_document(
    table_model: Path, tmp_path: Path
) -> None:
    command = 'exec "$0" -m nncli predict "$1" - --json <&-'
    result = subprocess.run(
        ["sh", "-c", command, sys.executable, str(table_model)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == ExitCode.USAGE, result.stderr
    one_error_line(result.stderr, "stdin is closed")
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["exit_code"] == ExitCode.USAGE
    assert "stdin is closed" in document["error"]


@pytest.mark.parametrize(
    ("signum", "code", "message"),
    [
        (signal.SIGINT, ExitCode.INTERRUPTED, "error: interrupted; nothing partial was written"),
        (signal.SIGTERM, ExitCode.TERMINATED, "error: terminated by SIGTERM"),
    ],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_while_stdin_is_copied_prints_one_line(
    table_model: Path, tmp_path: Path, signum: int, code: int, message: str
) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "TMPDIR": str(tmp_path)}
    with subprocess.Popen(
        [sys.executable, "-m", "nncli", "predict", str(table_model), "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env, cwd=tmp_path, text=True,
    ) as process:  # fmt: skip
        assert process.stdin is not None
        process.stdin.write("a,b,cat\n0.5,1,x\n")
        process.stdin.flush()
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob("nncli-stdin-*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(tmp_path.glob("nncli-stdin-*")), "the copy of stdin was never started"
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    assert one_error_line(stderr, "").startswith(message) and stdout == ""
    assert list(tmp_path.glob("nncli-stdin-*")) == []
