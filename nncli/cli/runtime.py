"""One command run: build its Ui, turn every failure into one line and an exit code."""

from __future__ import annotations

import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer

from nncli.errors import ExitCode, NncliError
from nncli.files import storage_error
from nncli.output import Ui, discard_stdout
from nncli.signals import signals_as_errors


def _fail(ui: Ui, message: str, code: ExitCode) -> NoReturn:
    """Print the one error line (and, with --json, an error document) and exit."""
    ui.error(message)
    try:
        ui.finish_json(message, int(code))
    except OSError:  # stdout itself refuses (a full disk): the error line has said it all
        discard_stdout()
    raise typer.Exit(int(code)) from None


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
