"""`-` as DATA: the table read from stdin, as `cat new.csv | nncli predict m.nncli -`.

stdin is copied once, byte for byte, into a private temporary file, and the loaders get that
file's path: compression and format sniffing, every schema check and every error work as for
any file, and a loader may read the file twice (labels re-read as text, the sha256 compared
with the training data's), which a pipe would not allow. The path reads as `<stdin>` in every
message, report and title. The copy is removed when the process exits, also after an error,
Ctrl-C or SIGTERM (SIGKILL leaves it in the temporary directory, named nncli-stdin-*).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from nncli.errors import DataError, FileWriteError, InterruptError, UsageError

STDIN_ARGUMENT = "-"
STDIN_NAME = "<stdin>"
_BLOCK = 1 << 20
_LIVE: set[str] = set()  # copies not removed yet; the exit hook removes what is left

_ConcretePath = type(Path())


class StdinPath(_ConcretePath):  # type: ignore[valid-type,misc]
    """The temporary copy of stdin: opened, stat'ed and hashed as that file, shown as `<stdin>`.

    Only this object is shown so (`str`, `name`); paths derived from it (`resolve()`,
    `parent`) are the plain temporary paths, so comparisons with outputs stay honest.
    """

    shown: str | None = None

    def __str__(self) -> str:
        return self.shown or super().__str__()

    def __fspath__(self) -> str:
        return super().__str__()  # what the operating system opens: the temporary file

    @property
    def name(self) -> str:
        return self.shown or super().name


def is_stdin(path: Path | str | None) -> bool:
    """Whether a command-line path means stdin (`-`)."""
    return path is not None and str(path) == STDIN_ARGUMENT


def spool_stdin(stream: IO[bytes] | None = None) -> StdinPath:
    """Copy all of stdin (or `stream`) into a private temporary file (mode 0600) removed at exit.

    A terminal on stdin is refused (a usage error): a CSV is piped in, not typed. Empty input
    is copied as an empty file, which the loaders refuse as they refuse any empty file.
    """
    from nncli.signals import signals_as_errors

    source = stream if stream is not None else _stdin_bytes()
    if source.isatty():
        raise UsageError(
            "DATA is '-' but stdin is a terminal",
            hint="pipe the table in (cat data.csv | nncli …) or give its path",
        )
    # SIGINT or SIGTERM while copying (before the command runs) still removes the copy, and
    # ends the run with its one line as anywhere else: Ctrl-C is an InterruptError here, as
    # the command-line parser would otherwise turn it into a silent exit 130.
    try:
        with signals_as_errors():
            try:
                fd, name = tempfile.mkstemp(prefix=f"nncli-stdin-{os.getpid()}-", suffix=".csv")
            except OSError as exc:
                raise _unwritable(exc) from exc
            _LIVE.add(name)
            try:
                with os.fdopen(fd, "wb") as copy:
                    _copy(source, copy)
            except BaseException:
                discard(name)
                raise
    except KeyboardInterrupt:
        raise InterruptError("interrupted; nothing partial was written") from None
    path = StdinPath(name)
    path.shown = STDIN_NAME
    return path


def _stdin_bytes() -> IO[bytes]:
    if sys.stdin is None:  # started with stdin closed (`<&-`)
        raise UsageError("DATA is '-' but stdin is closed", hint="pipe the table in")
    return sys.stdin.buffer


def _copy(source: IO[bytes], target: IO[bytes]) -> None:
    """Copy in blocks, a read failure blamed on stdin and a write failure on the disk."""
    while True:
        try:
            block = source.read(_BLOCK)
        except OSError as exc:
            raise DataError(f"{STDIN_NAME}: cannot read ({exc.strerror or exc})") from exc
        if not block:
            return
        try:
            target.write(block)
        except OSError as exc:
            raise _unwritable(exc) from exc


def _unwritable(exc: OSError) -> FileWriteError:
    return FileWriteError(
        f"{STDIN_NAME}: cannot copy stdin to {tempfile.gettempdir()} ({exc.strerror or exc})",
        hint="free space there, or set TMPDIR to a directory with room",
    )


def discard(path: Path | str) -> None:
    """Remove a copy `spool_stdin` made (a no-op for any other path, or one already removed)."""
    name = os.fspath(path)
    if name in _LIVE:
        _LIVE.discard(name)
        with contextlib.suppress(OSError):
            Path(name).unlink(missing_ok=True)


@atexit.register
def _discard_all() -> None:
    for name in list(_LIVE):
        discard(name)


@contextlib.contextmanager
def stdin_copy(stream: IO[bytes] | None = None) -> Iterator[StdinPath]:
    """`spool_stdin` for a Python caller: the copy is removed when the block ends."""
    path = spool_stdin(stream)
    try:
        yield path
    finally:
        discard(path)


def data_argument(data: Path, model: Path | None = None) -> Path:
    """The DATA a command reads: `-` becomes the copy of stdin (`spool_stdin`); MODEL `-`
    is refused, a model file being read by path, never from a pipe."""
    if is_stdin(model):
        raise UsageError(
            "MODEL cannot be '-': a model file is read from its path, not from stdin",
            hint="give the model file's path (DATA may be '-')",
        )
    return spool_stdin() if is_stdin(data) else data
