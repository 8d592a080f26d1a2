"""The Typer application: the root group, its error handling and the lazy command registry."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from nncli import __version__
from nncli.cli.options import HelpGroup, usage_message
from nncli.errors import ExitCode, NncliError


class NncliGroup(HelpGroup):
    """The root command: usage errors become one line on stderr and exit code 2."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        try:
            result = super().main(
                args=argv,
                prog_name=prog_name or "nncli",
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
            code = result if isinstance(result, int) else ExitCode.OK
            if standalone_mode:
                sys.stdout.flush()  # a closed pipe shows here, not in the exit-time flush
        except BrokenPipeError:  # `nncli predict ... | head`: the reader had enough
            if standalone_mode:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            code = ExitCode.OK
        except typer.Abort:
            code = _fail_outside(argv, "interrupted", ExitCode.INTERRUPTED)
        except NncliError as exc:  # from an argument callback: a bad --config, DATA '-'
            code = _fail_outside(argv, exc.one_line(), exc.exit_code)
        except Exception as exc:
            if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
                # Outside any command (e.g. in an option callback): still one line.
                if "--debug" in argv or os.environ.get("NNCLI_DEBUG"):
                    raise
                from nncli.files import storage_error

                refused = storage_error(exc) if isinstance(exc, OSError) else None
                if refused is not None:  # `nncli --help > /dev/full`
                    code = _fail_outside(argv, refused.one_line(), refused.exit_code)
                else:
                    message = f"unexpected {type(exc).__name__}: {exc} — run with --debug"
                    code = _fail_outside(argv, message, ExitCode.UNEXPECTED)
            else:  # a Click usage error: bad option, missing argument, bad value
                context = getattr(exc, "ctx", None)
                where = context.command_path if context is not None else "nncli"
                message = usage_message(exc)
                if message:  # empty when the help page was shown instead (`nncli` alone)
                    message = f"{message} (see '{where} --help')"
                    _fail_outside(argv, message, exc.exit_code)
                code = exc.exit_code
        if standalone_mode:
            sys.exit(int(code))
        return int(code)


def _fail_outside(argv: Sequence[str], message: str, code: int) -> int:
    from nncli.output import fail_outside_command  # Rich only on the error path

    return fail_outside_command(argv, message, code)


app = typer.Typer(
    cls=NncliGroup,
    name="nncli",
    help="Train, evaluate and ship neural networks on CSV files.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"nncli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            metavar="",
            help="Print the version.",
        ),
    ] = False,
) -> None:
    """Train, evaluate and ship neural networks on CSV files.

    Data goes to stdout, messages to stderr; --json gives one JSON document; exit codes:
    0 ok, 1 bug, 2 usage, 3 bad data, 4 bad model file, 5 quality gate, 6 stale data,
    7 locked, 8 I/O error, 130 interrupted, 143 terminated.
    """


# The module that registers each top-level command: `main` imports only the invoked one's.
COMMAND_MODULES = {
    **dict.fromkeys(("inspect", "train", "evaluate", "predict"), ("tabular",)),
    "forecast": ("forecast", "tune", "schedule"),
    **dict.fromkeys(("tune", "study"), ("tune",)),
    "demo": ("demo",),
    "explain": ("explain",),
    "export": ("export",),
}
_registered: list[str] = []
# What `nncli --help` lists, in its order, so that it imports no command module;
# tests/unit/test_command_registry.py checks the page equals the full app's.
COMMAND_SUMMARIES = {
    "inspect": "Show column kinds, missing values, the target's balance and data warnings.",
    "train": "Train a TabM network (or --arch mlp, rbf) on a table; report test metrics next to"
    " baselines; save one model file.",
    "evaluate": "Score a model on labelled data: classification report, confusion matrix,"
    " ROC-AUC; or RMSE/MAE/R².",
    "predict": "Predict every row of a table, keeping its ID columns and order; CSV, JSON or"
    " Parquet.",
    "tune": "Search TabM, MLP and RBF networks with Optuna, from train's defaults (pruning,"
    " resumable).",
    "demo": "Inspect, train, evaluate, predict and forecast on the sample data, offline.",
    "explain": "Rank the inputs by permutation importance: how much worse the model gets when"
    " each is shuffled.",
    "export": "Export the network to ONNX or TorchScript, check it against nncli (to 1e-5 ×"
    " its largest output, at least 1e-5), write the preprocessing spec.",
    "forecast": "Forecast time series with an N-HITS ensemble (or LSTM/GRU/TCN), next to naive,"
    " seasonal naive and ETS.",
    "study": "List, show and export stored Optuna studies.",
}


def register(command: str | None = None) -> typer.Typer:
    """Add `command`'s modules to the app (every module when None or unknown); idempotent."""
    import importlib

    order = ("tabular", "forecast", "tune", "schedule", "demo", "explain", "export")
    for name in COMMAND_MODULES.get(command or "", order):
        if name not in _registered:
            _registered.append(name)
            importlib.import_module(f"nncli.cli.{name}").register(app)
    return app


def main() -> None:
    """Console-script entry point: registers only the invoked command (start-up time); the
    root page (`nncli`, `nncli --help`, `--version`) lists the commands from their summaries."""
    command = next((word for word in sys.argv[1:] if not word.startswith("-")), None)
    completing = any(name.startswith("_NNCLI_COMPLETE") for name in os.environ)
    if command is not None or completing:
        typer.main.get_command(register(command)).main(prog_name="nncli")
        return
    group = typer.main.get_command(app)
    for name, summary in COMMAND_SUMMARIES.items():
        group.add_command(typer.core.TyperCommand(name, help=summary), name)  # type: ignore[attr-defined]
    group.main(prog_name="nncli")
