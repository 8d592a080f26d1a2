"""Where studies live: a local journal file by default, or any Optuna RDB URL.

The default is Optuna's JournalStorage with a file backend: it needs no server and its
file lock lets many processes on one machine share a study (SQLite's single writer lock
gives "database is locked" errors under several workers). For many machines, pass a
PostgreSQL or MySQL URL: Optuna's RDB storage is the distributed engine, with heartbeats
so that a trial whose worker died is failed and retried.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.errors import UsageError

if TYPE_CHECKING:
    import optuna

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


def open_storage(url: str, heartbeat_seconds: int = 10) -> optuna.storages.BaseStorage:
    """Open the storage; RDB storages get heartbeats and retry of trials whose worker died."""
    from optuna.storages import RDBStorage
    from optuna.storages.journal import JournalFileBackend, JournalStorage

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
    return JournalStorage(JournalFileBackend(str(path)))
