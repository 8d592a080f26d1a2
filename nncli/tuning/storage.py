"""Where studies live: a local journal file by default, or any Optuna RDB URL.

The default is Optuna's JournalStorage with a file backend: it needs no server and its
file lock lets many processes on one machine share a study (SQLite's single writer lock
gives "database is locked" errors under several workers). For many machines, pass a
PostgreSQL or MySQL URL: Optuna's RDB storage is the distributed engine, with heartbeats
so that a trial whose worker died is failed and retried. The journal has no heartbeat; it
records each trial's worker (PID, host, process start) instead, and a trial whose worker
died on this host is failed and retried when the storage is next opened.
"""

from __future__ import annotations

import os
import re
import socket
import warnings
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.errors import UsageError
from nncli.files import process_exists

if TYPE_CHECKING:
    import optuna
    from optuna.storages.journal import JournalStorage

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


def open_storage(url: str, heartbeat_seconds: int = 10) -> optuna.storages.BaseStorage:
    """Open the storage; RDB storages get heartbeats and retry of trials whose worker died."""
    from optuna.storages import RDBStorage
    from optuna.storages.journal import JournalFileBackend

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
                return RDBStorage(
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
            raise UsageError(
                f"--storage {redact(url)}: cannot open the study storage ({type(exc).__name__}: "
                f"{' '.join(str(exc).split())[:200]})",
                hint="check the URL, that the server runs and accepts the user",
            ) from exc
    path = Path(url.removeprefix("journal:")).expanduser()
    if "://" in url and not url.startswith("journal:"):
        raise UsageError(
            f"--storage {redact(url)}: unknown storage scheme",
            hint="use postgresql://…, mysql://…, sqlite:///file.db or journal:/path/file.journal",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    storage = journal_storage_class()(JournalFileBackend(str(path)))
    fail_trials_of_dead_workers(storage)
    return storage


WORKER_ATTR = "nncli_worker"  # a trial's system attribute: the process that runs it
MAX_RETRIES = 3  # as the RDB storages' heartbeat retry


def this_worker() -> dict[str, Any]:
    """This process as a trial's owner: PID, host and the process's start time."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "start": process_start(os.getpid())}


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused PID apart."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat_line.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def worker_is_gone(owner: Any) -> bool:
    """Whether the recorded owner of a running trial is a process of this host that has died
    (or whose PID now belongs to another process). Owners on other hosts are never judged."""
    if not isinstance(owner, dict) or owner.get("host") != socket.gethostname():
        return False
    pid = owner.get("pid")
    if not isinstance(pid, int):
        return False
    if not process_exists(pid):
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


def fail_trials_of_dead_workers(storage: optuna.storages.BaseStorage) -> int:
    """Fail every RUNNING trial whose worker died on this host, and queue a retry of each
    (the failure then costs no budget, as with the RDB heartbeat); return how many."""
    from optuna.trial import TrialState

    failed = 0
    for study in storage.get_all_studies():
        study_id = storage.get_study_id_from_name(study.study_name)
        running = storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        for trial in running:
            if not worker_is_gone(trial.system_attrs.get(WORKER_ATTR)):
                continue
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
            try:
                if not storage.set_trial_state_values(trial_id, TrialState.FAIL):
                    continue
            except Exception:
                continue
            failed += 1
            queue_retry(storage, study_id, trial)
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
