"""SIGINT and SIGTERM as exceptions that cannot be lost.

A signal's exception can be swallowed: when the handler runs inside a weakref callback or a
`__del__` (importlib's module-lock callback, say), Python prints "Exception ignored" and goes
on. The handler therefore also records the signal, and every commit point (the atomic
rename, the end of a command) calls `raise_if_signalled` before making anything final.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from nncli.errors import TerminatedError

_received_signal: int | None = None


def note_signal(signum: int) -> None:
    """Record that SIGINT or SIGTERM arrived, so a swallowed exception is raised again."""
    global _received_signal
    _received_signal = signum


def clear_signal() -> None:
    """Forget a recorded signal (at the start and end of a command run)."""
    global _received_signal
    _received_signal = None


def _error_for(signum: int) -> BaseException:
    if signum == signal.SIGTERM:
        return TerminatedError("terminated by SIGTERM; nothing partial was written")
    return KeyboardInterrupt()


def raise_if_signalled() -> None:
    """Raise the error for a signal that arrived earlier, if one did."""
    if _received_signal is not None:
        raise _error_for(_received_signal)


def _raise_for_signal(signum: int, frame: Any) -> NoReturn:
    note_signal(signum)  # kept in case the exception below is swallowed
    raise _error_for(signum)


def _quiet_unraisable(default: Callable[[Any], None]) -> Callable[[Any], None]:
    """An unraisable hook silent about a swallowed signal exception: it was recorded, and
    the next commit point raises it again."""

    def hook(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, (KeyboardInterrupt, TerminatedError)):
            default(unraisable)

    return hook


@contextmanager
def signals_as_errors() -> Iterator[None]:
    """Within the block, SIGINT raises KeyboardInterrupt and SIGTERM TerminatedError, and a
    signal still pending when the block ends is raised there."""
    clear_signal()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = (
        {sig: signal.signal(sig, _raise_for_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        if in_main_thread
        else {}
    )
    previous_unraisable = sys.unraisablehook
    sys.unraisablehook = _quiet_unraisable(previous_unraisable)
    try:
        yield
        raise_if_signalled()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sys.unraisablehook = previous_unraisable
        clear_signal()
