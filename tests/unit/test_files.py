"""Output paths: devices and FIFOs are written in place, collisions refused, orphans cleaned."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from nncli.errors import (
    ExitCode,
    FileWriteError,
    TerminatedError,
    UsageError,
)
from nncli.files import (
    atomic_writer,
    check_distinct_outputs,
    check_output_path,
    remove_orphaned_temporaries,
)
from nncli.signals import clear_signal, note_signal


def test_dev_null_is_written_in_place_not_replaced() -> None:
    before = Path("/dev/null").stat()
    with atomic_writer(Path("/dev/null")) as handle:
        handle.write("a,b\n1,2\n")
    after = Path("/dev/null").stat()
    assert (after.st_ino, after.st_rdev, after.st_mode) == (
        before.st_ino,
        before.st_rdev,
        before.st_mode,
    )


def test_a_fifo_receives_the_bytes_and_stays_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    with atomic_writer(check_output_path(fifo)) as handle:
        handle.write("x\n1\n")
    reader.join(timeout=10)
    assert received == [b"x\n1\n"]
    assert fifo.is_fifo()


def test_dev_full_is_an_io_error_with_its_own_exit_code() -> None:
    with pytest.raises(FileWriteError) as caught, atomic_writer(Path("/dev/full")) as handle:
        handle.write("x" * 100_000)
    assert caught.value.exit_code == ExitCode.IO_ERROR
    assert "/dev/full" in caught.value.one_line()


def test_output_through_a_symlink_or_hard_link_to_the_input_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    (tmp_path / "link.csv").symlink_to(data)
    os.link(data, tmp_path / "hard.csv")
    for alias in ("link.csv", "hard.csv", "./data.csv"):
        with pytest.raises(UsageError, match="is the input file"):
            check_output_path(tmp_path / alias, data)
    assert data.read_text() == "a\n1\n"


def test_two_outputs_of_one_command_naming_one_file_are_refused(tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    with pytest.raises(UsageError, match="--output and --append name the same file"):
        check_distinct_outputs({"--output": history, "--append": tmp_path / "." / "history.csv"})
    check_distinct_outputs({"--output": history, "--append": None})  # one output: fine


def test_orphaned_temporaries_of_dead_writers_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    orphan = tmp_path / f".out.csv.{dead.stdout.strip()}.abc123.tmp"
    live = tmp_path / f".out.csv.{os.getpid()}.def456.tmp"
    orphan.write_text("half")
    live.write_text("writing")
    remove_orphaned_temporaries(target)
    assert not orphan.exists()
    assert live.exists()


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_writer(target) as handle:
        handle.write("new\n")
        raise RuntimeError("boom")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


@pytest.mark.parametrize(("signum", "error"), [(15, TerminatedError), (2, KeyboardInterrupt)])
def test_a_swallowed_signal_still_stops_the_rename(
    tmp_path: Path, signum: int, error: type[BaseException]
) -> None:
    # A signal landing in a weakref callback is printed as "Exception ignored" and lost;
    # the recorded signal must still keep the half-finished output from being committed.
    target = tmp_path / "pred.csv"
    target.write_text("old\n")
    note_signal(signum)
    try:
        with pytest.raises(error), atomic_writer(target) as handle:
            handle.write("new\n")
    finally:
        clear_signal()
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["pred.csv"]


def test_a_command_that_swallowed_sigterm_exits_143_not_0() -> None:
    import typer

    from nncli.cli.runtime import command_session

    with pytest.raises(typer.Exit) as exit_info, command_session(quiet=True):
        note_signal(15)  # as if the handler's exception had been swallowed
    assert exit_info.value.exit_code == ExitCode.TERMINATED
