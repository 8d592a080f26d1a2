"""Where studies live: a local journal file by default, or any Optuna RDB URL.

The default is Optuna's JournalStorage with a file backend: it needs no server and its
file lock lets many processes on one machine share a study (SQLite's single writer lock
gives "database is locked" errors under several workers). For many machines, pass a
PostgreSQL or MySQL URL: Optuna's RDB storage is the distributed engine, with heartbeats
so that a trial whose worker died is failed and retried. The journal has no heartbeat; it
records each trial's worker (PID, host, process start) instead, and a trial whose worker
died on this host is failed and retried by a surviving worker, or when the storage is next
opened. A damaged journal line is an error naming the file and the line; a last line cut short
by a crash mid-write is set aside (never deleted) and the journal goes on.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import warnings
from collections.abc import Callable, Generator, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.errors import DataError, UsageError
from nncli.files import process_exists

if TYPE_CHECKING:
    import optuna
    from optuna.storages import RDBStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock, JournalStorage

RDB_SCHEMES = ("postgresql", "postgres", "mysql", "sqlite")


def default_journal_path() -> Path:
    """$NNCLI_HOME/studies.journal, else $XDG_DATA_HOME/nncli/…, else ~/.local/share/nncli/…."""
    home = os.environ.get("NNCLI_HOME")
    if home:
        return Path(home).expanduser() / "studies.journal"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data).expanduser() / "nncli" / "studies.journal"


def resolve_storage_url(url: str | None) -> str:
    """The storage to use: the flag, then NNCLI_STORAGE, then OPTUNA_STORAGE, then the journal."""
    url = url or os.environ.get("NNCLI_STORAGE") or os.environ.get("OPTUNA_STORAGE")
    return url or f"journal:{default_journal_path()}"


def redact(url: str) -> str:
    """The URL without its password, for logs and model files."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def is_rdb(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0] in RDB_SCHEMES


def storage_files(url: str) -> list[Path]:
    """The local files a storage URL keeps its studies in (the journal, an SQLite database);
    an output path equal to one of them is refused, so an export never replaces the studies."""
    if url.startswith("sqlite:///"):
        return [Path(url.removeprefix("sqlite:///")).expanduser()]
    if is_rdb(url) or ("://" in url and not url.startswith("journal:")):
        return []
    return [Path(url.removeprefix("journal:")).expanduser()]


def open_storage(
    url: str, heartbeat_seconds: int = 10, warn: Callable[[str], None] | None = None
) -> optuna.storages.BaseStorage:
    """Open the storage; RDB storages get heartbeats and retry of trials whose worker died.
    `warn` receives a one-line warning (a torn journal line set aside)."""
    if is_rdb(url):
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
        else:
            kwargs["engine_kwargs"] = {"pool_pre_ping": True}
        try:
            import optuna.storages as storages

            with warnings.catch_warnings():  # Optuna marks heartbeat retries experimental
                warnings.simplefilter("ignore")
                # Optuna 4.9 renamed the retry callback; older releases only know the first name.
                if hasattr(storages, "RetryHeartbeatStaleTrialCallback"):
                    kwargs["heartbeat_stale_trial_callback"] = (
                        storages.RetryHeartbeatStaleTrialCallback(max_retry=3)
                    )
                else:
                    kwargs["failed_trial_callback"] = storages.RetryFailedTrialCallback(max_retry=3)
                return heartbeat_recording_rdb_class()(
                    url,
                    heartbeat_interval=heartbeat_seconds,
                    grace_period=3 * heartbeat_seconds,
                    **kwargs,
                )
        except ModuleNotFoundError as exc:
            raise UsageError(
                f"--storage {redact(url)}: the database driver is missing ({exc.name})",
                hint="pip install 'nncli[postgres]' (psycopg) or the driver for your database",
            ) from exc
        except Exception as exc:  # sqlalchemy/optuna raise many kinds for a bad URL or server
            detail = re.sub(r"\(Background on this error at:[^)]*\)", "", str(exc))
            raise UsageError(
                f"--storage {redact(url)}: cannot open the study storage ({type(exc).__name__}: "
                f"{' '.join(detail.split())[:300]})",
                hint="check the URL, that the server runs and accepts the user",
            ) from exc
    if "://" in url and not url.startswith("journal:"):
        raise UsageError(
            f"--storage {redact(url)}: unknown storage scheme",
            hint="use postgresql://…, mysql://…, sqlite:///file.db or journal:/path/file.journal",
        )
    return open_journal(Path(url.removeprefix("journal:")).expanduser(), warn)


def open_journal(path: Path, warn: Callable[[str], None] | None = None) -> JournalStorage:
    """The journal file at `path` (created if missing), its torn last line set aside, and the
    running trials of workers that died on this host failed and retried."""
    if path.is_dir():
        raise UsageError(
            f"{path}: is a directory, not a study journal",
            hint=f"pass --storage journal:{path / 'studies.journal'}",
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = journal_lock_class()(str(path))
        backend = journal_backend_class()(str(path), lock_obj=lock)
        torn = set_torn_line_aside(path, lock)
    except OSError as exc:  # NNCLI_HOME a file, read-only, on a full disk, ...
        is_file = path.parent.exists() and not path.parent.is_dir()
        reason = f"{path.parent} is a file, not a directory" if is_file else exc.strerror or exc
        raise UsageError(
            f"{path}: cannot keep the study journal there ({reason})",
            hint="point NNCLI_HOME (or --storage journal:FILE) at a writable directory",
        ) from exc
    if torn and warn is not None:
        warn(torn)
    check_last_line(path)  # Optuna would skip a damaged last line, then append after it
    storage = journal_storage_class()(backend)
    fail_trials_of_dead_workers(storage)
    return storage


def journal_line_problem(line: bytes) -> str | None:
    """Why one line of a journal (with its newline) is not a journal record, or None."""
    if not line.endswith(b"\n"):
        return "it was cut short"
    try:
        record = json.loads(line)
    except ValueError:  # invalid JSON or UTF-8
        return "it is not JSON"
    if not isinstance(record, dict) or not isinstance(record.get("op_code"), int):
        return "it is JSON but not an Optuna journal record"
    return None


def damaged_journal(path: Path, line: int | None = None, problem: str | None = None) -> DataError:
    """The error for a journal with a damaged line (found by reading the file if not given)."""
    if line is None:
        with path.open("rb") as handle:
            for number, text in enumerate(handle, start=1):
                problem = journal_line_problem(text)
                if problem:
                    line = number
                    break
    where = f"line {line}" if line is not None else "a line"
    return DataError(
        f"{path}: the study journal is damaged at {where} ({problem or 'unreadable'})",
        hint="keep a copy of the file, then delete that line or restore the journal from a backup",
    )


def check_last_line(path: Path, tail_bytes: int = 1 << 20) -> None:
    """A DataError naming the line if the journal's last complete line is not a record."""
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb") as handle:
        handle.seek(max(0, size - tail_bytes))
        tail = handle.read()
    last = tail[:-1].rsplit(b"\n", 1)[-1] + b"\n"
    if tail.endswith(b"\n") and journal_line_problem(last) is not None:
        raise damaged_journal(path)


def set_torn_line_aside(path: Path, lock: Any) -> str | None:
    """Move a last line without its newline (a write cut short by a crash) to a file beside the
    journal, under the journal's lock; return the warning to show, or None if there is none."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return None
    lock.acquire()
    try:
        data = path.read_bytes()  # again, under the lock: a writer may have finished since
        keep = data.rfind(b"\n") + 1
        if keep == len(data):
            return None
        aside = path.with_name(f"{path.name}.torn-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
        with aside.open("xb") as handle:
            handle.write(data[keep:])
            handle.flush()
            os.fsync(handle.fileno())
        os.truncate(path, keep)
    finally:
        lock.release()
    line = data.count(b"\n", 0, keep) + 1
    return (
        f"{path}: line {line} was cut short (a write interrupted by a crash); "
        f"its {len(data) - keep} byte(s) were moved to {aside} and the journal goes on"
    )


@cache
def journal_lock_class() -> type[JournalFileSymlinkLock]:
    """Optuna's symlink lock of the journal, taken under a `flock` of FILE.flock.

    A worker killed while it holds the symlink lock (each epoch's report appends to the
    journal, so a SIGKILL often lands there) would stall every other worker for Optuna's
    30-second grace period. The kernel drops a dead process's flock; so under the flock, a
    symlink lock can only be a dead holder's (or a plain Optuna process's, held for
    milliseconds), and it is broken after 3 seconds instead of 30.
    """
    import fcntl

    from optuna.storages.journal import JournalFileSymlinkLock

    class FlockedSymlinkLock(JournalFileSymlinkLock):
        def __init__(self, filepath: str) -> None:
            super().__init__(filepath, grace_period=30)
            self.flock_path = filepath + ".flock"
            self.flock_fd: int | None = None

        def acquire(self) -> bool:
            fd = os.open(self.flock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:  # a file system without flock: Optuna's lock alone
                os.close(fd)
                self.grace_period = 30
                return bool(super().acquire())
            except BaseException:
                os.close(fd)
                raise
            self.flock_fd, self.grace_period = fd, 3
            try:
                return bool(super().acquire())
            except BaseException:
                self.drop_flock()
                raise

        def release(self) -> None:
            try:
                super().release()
            finally:
                self.drop_flock()

        def drop_flock(self) -> None:
            if self.flock_fd is not None:
                fd, self.flock_fd = self.flock_fd, None
                os.close(fd)  # closing the descriptor releases the flock

    return FlockedSymlinkLock


@cache
def journal_backend_class() -> type[JournalFileBackend]:
    """Optuna's journal file backend that turns a damaged line into a DataError naming the
    file and the line (Optuna's own error names neither). Built on first use."""
    from optuna.storages.journal import JournalFileBackend

    class CheckedJournalFileBackend(JournalFileBackend):
        def __init__(self, file_path: str, lock_obj: Any = None) -> None:
            super().__init__(file_path, lock_obj)
            self.journal_path = Path(file_path)

        def read_logs(self, log_number_from: int) -> Generator[dict[str, Any], None, None]:
            line = log_number_from  # Optuna's log number n is the file's line n + 1
            try:
                for record in super().read_logs(log_number_from):
                    line += 1
                    if not isinstance(record, dict) or not isinstance(record.get("op_code"), int):
                        problem = "it is JSON but not an Optuna journal record"
                        raise damaged_journal(self.journal_path, line, problem)
                    yield record
            except ValueError as exc:  # a line that is not JSON, or cut short, before others
                raise damaged_journal(self.journal_path) from exc

    return CheckedJournalFileBackend


WORKER_ATTR = "nncli_worker"  # a trial's system attribute: the process that runs it
INTERRUPTED = "nncli_interrupted"  # a trial's user attribute: failed by Ctrl-C or SIGTERM
MAX_RETRIES = 3  # as the RDB storages' heartbeat retry


def this_worker() -> dict[str, Any]:
    """This process as a trial's owner: PID, host and the process's start time."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "start": process_start(os.getpid())}


def process_stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (Linux; empty elsewhere)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return stat_line.rsplit(")", 1)[-1].split()


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused PID apart."""
    fields = process_stat(pid)
    return fields[19] if len(fields) > 19 else None


def worker_is_gone(owner: Any) -> bool:
    """Whether the recorded owner of a running trial is a process of this host that has died
    (or whose PID now belongs to another process). Owners on other hosts are never judged."""
    if not isinstance(owner, dict) or owner.get("host") != socket.gethostname():
        return False
    pid = owner.get("pid")
    if not isinstance(pid, int):
        return False
    # A killed worker stays a zombie ("Z") until its parent collects it: dead all the same.
    if not process_exists(pid) or process_stat(pid)[:1] == ["Z"]:
        return True
    started, now = owner.get("start"), process_start(pid)
    return started is not None and now is not None and started != now


@cache
def journal_storage_class() -> type[JournalStorage]:
    """Optuna's JournalStorage that records, on each trial it starts, which process runs it.

    The journal has no heartbeat: a worker killed mid-trial (SIGKILL, the OOM killer, a
    reboot) would leave its trial RUNNING forever and the study short of its budget. With
    the owner recorded, the next process to open the storage fails such a trial and queues
    a retry (see `fail_trials_of_dead_workers`). Built on first use: optuna loads lazily.
    """
    from optuna.storages.journal import JournalStorage
    from optuna.trial import FrozenTrial, TrialState

    class OwnerRecordingJournalStorage(JournalStorage):
        def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
            trial_id = super().create_new_trial(study_id, template_trial)
            if template_trial is None or template_trial.state == TrialState.RUNNING:
                self.set_trial_system_attr(trial_id, WORKER_ATTR, this_worker())
            return trial_id

        def set_trial_state_values(
            self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
        ) -> bool:
            changed = super().set_trial_state_values(trial_id, state, values)
            if changed and state == TrialState.RUNNING:  # a queued trial taken by this worker
                self.set_trial_system_attr(trial_id, WORKER_ATTR, this_worker())
            return bool(changed)

    return OwnerRecordingJournalStorage


@cache
def heartbeat_recording_rdb_class() -> type[RDBStorage]:
    """Optuna's RDBStorage that records a trial's first heartbeat the moment the trial starts.

    Optuna's heartbeat thread starts only after the sampler has drawn the new trial's
    parameters, and a RUNNING trial with no heartbeat at all is never judged stale: a worker
    killed in between (SIGKILL, the OOM killer) left the trial RUNNING forever, and every
    other worker waiting for it hung (seen in CI). Built on first use: optuna loads lazily.
    """
    from optuna.storages import RDBStorage
    from optuna.trial import FrozenTrial, TrialState

    class HeartbeatRecordingRDBStorage(RDBStorage):
        # The private one: `create_new_trial` calls it, and so does the cache Optuna wraps
        # every RDB storage in (tests/robustness/test_killed_tuning_worker.py guards it).
        def _create_new_trial(
            self, study_id: int, template_trial: FrozenTrial | None = None
        ) -> FrozenTrial:
            trial = super()._create_new_trial(study_id, template_trial)
            if self.heartbeat_interval and trial.state == TrialState.RUNNING:
                self.record_heartbeat(trial._trial_id)
            return trial

        def set_trial_state_values(
            self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
        ) -> bool:
            changed = super().set_trial_state_values(trial_id, state, values)
            if changed and state == TrialState.RUNNING and self.heartbeat_interval:
                self.record_heartbeat(trial_id)  # a queued trial (a retry) taken by this worker
            return bool(changed)

    return HeartbeatRecordingRDBStorage


def running_trials_owned(
    storage: optuna.storages.BaseStorage, study_id: int, owner_matches: Callable[[Any], bool]
) -> list[tuple[int, optuna.trial.FrozenTrial]]:
    """(trial id, trial) of the study's RUNNING trials whose recorded worker (`WORKER_ATTR`,
    None where none was recorded) passes `owner_matches`."""
    from optuna.trial import TrialState

    running = storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
    return [
        (storage.get_trial_id_from_study_id_trial_number(study_id, trial.number), trial)
        for trial in running
        if owner_matches(trial.system_attrs.get(WORKER_ATTR))
    ]


def fail_trials_of_dead_workers(
    storage: optuna.storages.BaseStorage, study_name: str | None = None
) -> int:
    """Fail every RUNNING trial (of `study_name`, or of every study) whose worker died on this
    host, and queue a retry of each (the failure then costs no budget, as with the RDB
    heartbeat); return how many."""
    from optuna.trial import TrialState

    failed = 0
    names = [study_name] if study_name else [s.study_name for s in storage.get_all_studies()]
    for name in names:
        study_id = storage.get_study_id_from_name(name)
        for trial_id, trial in running_trials_owned(storage, study_id, worker_is_gone):
            try:
                if not storage.set_trial_state_values(trial_id, TrialState.FAIL):
                    continue
            except Exception:
                continue
            failed += 1
            queue_retry(storage, study_id, trial)
    return failed


def fail_interrupted_trials(storage: optuna.storages.BaseStorage, study_name: str) -> int:
    """Fail, as interrupted (no budget spent), the journal trials this process left RUNNING:
    a signal that lands after Optuna created a trial but before the objective runs (while
    the sampler draws its parameters) escapes the objective's own handler. Returns how many."""
    from optuna.trial import TrialState

    study_id = storage.get_study_id_from_name(study_name)
    me, failed = this_worker(), 0
    for trial_id, _ in running_trials_owned(storage, study_id, lambda owner: owner == me):
        storage.set_trial_user_attr(trial_id, INTERRUPTED, True)
        failed += bool(storage.set_trial_state_values(trial_id, TrialState.FAIL))
    return failed


def queue_retry(
    storage: optuna.storages.BaseStorage, study_id: int, trial: optuna.trial.FrozenTrial
) -> None:
    """Queue the failed trial's parameters again, marked as its retry (as Optuna's
    RetryFailedTrialCallback does), unless it was retried MAX_RETRIES times already."""
    import optuna

    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    if len(history) > MAX_RETRIES:
        return
    attrs = {k: v for k, v in trial.system_attrs.items() if k != WORKER_ATTR}
    retry = optuna.trial.create_trial(
        state=optuna.trial.TrialState.WAITING,
        params=trial.params,
        distributions=trial.distributions,
        user_attrs=trial.user_attrs,
        system_attrs={**attrs, "failed_trial": trial.number, "retry_history": history},
    )
    storage.create_new_trial(study_id, template_trial=retry)
