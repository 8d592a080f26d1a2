"""One run at a time: a lock file held with flock, recording who holds it.

The kernel releases an flock when its process dies, so a killed run can never block the
next one forever. The file also records the holder's PID and start time; a clean exit
empties it, so a later run that finds a PID of a process that no longer exists knows the
previous run died, and says so.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nncli.errors import FileWriteError, LockedError, UsageError
from nncli.files import STORAGE_ERRNOS, process_exists, real_path
from nncli.reporting import Reporter


def _read_holder(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 4096)
    try:
        holder = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


@contextmanager
def job_lock(path: Path, reporter: Reporter, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the lock at `path` for the block; LockedError (exit 7) if another run holds it."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno in STORAGE_ERRNOS:  # a full disk, a quota, a read-only mount
            raise _unwritable_record(path, exc) from exc
        raise UsageError(f"{path}: cannot create the lock file ({exc.strerror})") from exc
    try:
        deadline = time.monotonic() + max(0.0, wait_seconds)
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _read_holder(fd)
                who = f"PID {holder.get('pid', '?')} on {holder.get('host', '?')}, since {holder.get('started', '?')}"
                if time.monotonic() >= deadline:
                    raise LockedError(
                        f"{path}: another run holds the lock ({who})",
                        hint="it is still running; pass --wait SECONDS to wait for it",
                    ) from None
                if not announced:
                    reporter.info(
                        f"waiting up to {wait_seconds:g} s for the run holding {path} ({who})"
                    )
                    announced = True
                time.sleep(0.2)
        previous = _read_holder(fd)
        pid = previous.get("pid")
        same_host = previous.get("host") == socket.gethostname()
        if isinstance(pid, int) and same_host and pid != os.getpid() and not process_exists(pid):
            reporter.warn(
                f"{path}: stale lock from PID {pid} (started {previous.get('started', '?')}); "
                "that run died without finishing; taking over"
            )
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, json.dumps(record).encode())
            os.fsync(fd)
        except OSError as exc:  # a full disk: nothing has been done yet, and nothing will be
            with suppress(OSError):
                os.ftruncate(fd, 0)  # no half-written record for the next run to puzzle over
            raise _unwritable_record(path, exc) from exc
        try:
            yield
        finally:
            with suppress(OSError):  # the kernel drops the flock anyway; the run's own error wins
                os.ftruncate(fd, 0)  # a clean release leaves no holder behind
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _unwritable_record(path: Path, exc: OSError) -> FileWriteError:
    return FileWriteError(
        f"{path}: cannot write the lock record ({exc.strerror or exc}); nothing was done",
        hint="free space there, or give --lock a path on another disk",
    )


def sidecar_lock_path(path: Path) -> Path:
    """The lock file that guards appends to `path`: `.NAME.lock` beside the file `path` really
    is (symlinks followed), so an append through a link and one through the real name take
    the same lock.

    The lock cannot live on `path` itself: an append replaces that file atomically (a new
    inode), and a lock held on the old inode would not exclude the next writer.
    """
    real = real_path(path)
    return real.with_name(f".{real.name}.lock")


@contextmanager
def append_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock for a read-modify-write of `path`, waiting for other writers.

    Concurrent `forecast predict --append` runs (and the scheduled job's ledger) take turns,
    so no run's rows are lost to another's rename. The kernel drops the lock if the holder dies.
    """
    import fcntl

    lock_path = sidecar_lock_path(path)
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise FileWriteError(
            f"{lock_path}: cannot create the lock file for {path.name} ({exc.strerror or exc})",
            hint="make the directory writable",
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock
