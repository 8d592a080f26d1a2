"""The one error hierarchy: every failure a user can cause carries its exit code and a hint."""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Any

# Characters a terminal acts on rather than shows: C0 controls (ESC starts colour and
# title sequences, CR rewinds the line), DEL, C1 controls (0x9b is a one-byte CSI) and the
# bidirectional overrides that reorder what is shown.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Longer words (a 10,000-character column name) are cut in the middle in messages.
LONGEST_WORD = 200


def printable(text: str, keep: str = "") -> str:
    """`text` with every control character written as its escape (ESC as \\x1b), except
    those in `keep` (e.g. "\\n" for text of several lines)."""
    return _CONTROL.sub(lambda m: m.group() if m.group() in keep else repr(m.group())[1:-1], text)


def shorten(text: str, limit: int = LONGEST_WORD) -> str:
    """`text` cut in the middle past `limit` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    head, tail = limit * 2 // 3, limit // 4
    return f"{text[:head]}…[{len(text)} characters]…{text[-tail:]}"


def shorten_words(text: str, limit: int = LONGEST_WORD) -> str:
    """`text` with every run of non-space characters longer than `limit` cut by `shorten`."""
    if len(text) <= limit:
        return text
    return re.sub(f"\\S{{{limit + 1},}}", lambda m: shorten(m.group(), limit), text)


def shown(value: Any, limit: int = 80) -> str:
    """A value from the data as the user wrote it, quoted: 'TRUE', 3, 0.5 — never a numpy
    repr such as np.float64(0.5); control characters escaped, long text cut in the middle."""
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, str):
        value = value.item()  # numpy and torch scalars
    if isinstance(value, str):
        return repr(shorten(value, limit))
    return repr(value)


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
