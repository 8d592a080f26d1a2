"""One command run: build its Ui, turn every failure into one line and an exit code."""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer

from nncli.errors import ExitCode, FileWriteError, NncliError
from nncli.output import Ui
from nncli.signals import signals_as_errors


def _fail(ui: Ui, message: str, code: ExitCode) -> NoReturn:
    """Print the one error line (and, with --json, an error document) and exit."""
    ui.error(message)
    try:
        ui.finish_json(message, int(code))
    except OSError:  # stdout itself refuses (a full disk): the error line has said it all
        discard_stdout()
    raise typer.Exit(int(code)) from None


def discard_stdout() -> None:
    """Point stdout at /dev/null, dropping what its buffer still holds: once stdout failed
    (a full disk), the exit-time flush must not fail again (a second message, exit 120)."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real stream (a test runner's)
        sys.stdout = Path(os.devnull).open("w", encoding="utf-8")  # noqa: SIM115
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, descriptor)
    finally:
        os.close(null)


def storage_error(exc: OSError) -> FileWriteError | None:
    """The one-line error (exit 8) for a write the storage refused (disk full, quota, …) that
    no file writer caught — a write to stdout (`> full/out.csv`) has no file name — or None
    for any other OSError, which stays a bug."""
    from nncli.files import STORAGE_ERRNOS

    if isinstance(exc, BrokenPipeError) or exc.errno not in STORAGE_ERRNOS:
        return None
    reason = exc.strerror or str(exc)
    if exc.filename is not None:
        return FileWriteError(f"{exc.filename}: cannot write ({reason})", hint="free space")
    return FileWriteError(
        f"stdout: cannot write the output ({reason}); what reached it is incomplete",
        hint="free space where stdout goes, or write with -o FILE",
    )


def _one_line_warning(ui: Ui) -> Callable[..., None]:
    """A `warnings.showwarning` that prints a library's warning as one line via `ui.warn`.

    Python's default prints the warning's file, line and source line: two lines of
    internals (numpy's RuntimeWarning, scikit-learn's ConvergenceWarning) in a user's log.
    """

    def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        ui.warn(f"{category.__name__}: {' '.join(str(message).split())}")

    return show


@contextmanager
def command_session(
    json_mode: bool = False, quiet: bool = False, debug: bool = False
) -> Iterator[Ui]:
    """Yield the run's Ui; map NncliError, Ctrl-C, SIGTERM and bugs to documented exit codes."""
    ui = Ui(json_mode=json_mode, quiet=quiet, debug=debug)
    try:
        with signals_as_errors(), warnings.catch_warnings():  # restores hooks afterwards
            if not debug:
                warnings.showwarning = _one_line_warning(ui)
            yield ui
            ui.finish_json()
            sys.stdout.flush()  # a full disk under stdout shows here, as this run's error
    except NncliError as exc:
        if debug:
            traceback.print_exc()
        _fail(ui, exc.one_line(), exc.exit_code)
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        _fail(ui, "interrupted; nothing partial was written", ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`): not an error of ours or the user's.
        discard_stdout()
        raise typer.Exit(int(ExitCode.OK)) from None
    except (typer.Exit, typer.Abort):
        raise
    except OSError as exc:
        refused = storage_error(exc)
        if refused is None:
            _unexpected(ui, exc, debug)
        if debug:
            traceback.print_exc()
        _fail(ui, refused.one_line(), refused.exit_code)
    except Exception as exc:
        _unexpected(ui, exc, debug)


def _unexpected(ui: Ui, exc: Exception, debug: bool) -> NoReturn:
    """A bug: its traceback with --debug, else one line asking for it."""
    if debug:
        raise exc
    detail = " ".join(str(exc).split())[:300]
    message = (
        f"unexpected {type(exc).__name__}: {detail} — this is a bug in nncli; "
        "run again with --debug and report the traceback"
    )
    _fail(ui, message, ExitCode.UNEXPECTED)
