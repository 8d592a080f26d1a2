"""The one error hierarchy: every failure a user can cause carries its exit code and a hint."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit statuses scripts can rely on (documented in the README)."""

    OK = 0
    UNEXPECTED = 1  # a bug in nncli: please report it (run again with --debug)
    USAGE = 2  # bad option or argument, unwritable output path
    BAD_DATA = 3  # input CSV missing, unreadable or unsuitable
    BAD_MODEL = 4  # model file missing, corrupt, foreign or of a newer format
    QUALITY_GATE = 5  # the model did not pass a requested quality gate
    STALE_DATA = 6  # the newest input row is older than --max-age
    LOCKED = 7  # another run of the same job holds the lock
    IO_ERROR = 8  # the operating system refused a read or write (disk full, read-only, …)
    INTERRUPTED = 130  # Ctrl-C (SIGINT)
    TERMINATED = 143  # SIGTERM


class NncliError(Exception):
    """Base of every expected failure; the CLI prints it as one line and exits with its code."""

    exit_code: ExitCode = ExitCode.UNEXPECTED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and its hint on one line, as shown to the user."""
        text = " ".join(self.message.split())
        if self.hint:
            text += f" — {' '.join(self.hint.split())}"
        return text


class UsageError(NncliError):
    """An option or argument that cannot work (negative epochs, output path = input path, …)."""

    exit_code = ExitCode.USAGE


class DataError(NncliError):
    """The input data cannot be read or used as asked."""

    exit_code = ExitCode.BAD_DATA


class ModelFileError(NncliError):
    """A model file that is missing, not a model, corrupt or from an incompatible version."""

    exit_code = ExitCode.BAD_MODEL


class QualityGateError(NncliError):
    """A model or forecast failed a quality gate the user asked for."""

    exit_code = ExitCode.QUALITY_GATE


class StaleDataError(NncliError):
    """The newest data is older than the user allows."""

    exit_code = ExitCode.STALE_DATA


class LockedError(NncliError):
    """Another run holds the job's lock."""

    exit_code = ExitCode.LOCKED


class FileWriteError(NncliError):
    """The operating system refused to write an output (disk full, quota, read-only mount)."""

    exit_code = ExitCode.IO_ERROR


class InterruptError(NncliError):
    """The run was stopped by a signal; nothing partial was written."""

    exit_code = ExitCode.INTERRUPTED


class TerminatedError(NncliError):
    """The run received SIGTERM; nothing partial was written."""

    exit_code = ExitCode.TERMINATED
