"""`nncli demo`: the whole journey on the bundled sample data, offline.

Every step is an `nncli` command line, printed and then run through the same CLI from the
same argument list, so the demo shows exactly what it does: copy a line to rerun that step.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from nncli.cli.options import command
from nncli.output import Ui


def find_sample_data() -> Path | None:
    """The repository's sample_data/ folder, when nncli runs from a checkout."""
    candidate = Path(__file__).resolve().parents[2] / "sample_data"
    return candidate if (candidate / "penguins.csv").is_file() else None


def demo_steps(source: Path, out_dir: Path, epochs: int) -> list[tuple[str, list[list[str]]]]:
    """(heading, command lines) per sample table; a line is the argv that follows `nncli`."""
    steps = []
    for name, target, extra in (
        ("penguins", "species", []),
        ("autompg", "mpg", ["--drop", "name"]),
    ):
        data, model = str(source / f"{name}.csv"), str(out_dir / f"{name}.nncli")
        predictions = ["-o", str(out_dir / f"{name}-predictions.csv")]
        proba = ["--proba"] if name == "penguins" else []  # a regression has no classes
        train = ["train", data, "--target", target, *extra, "--epochs", str(epochs), "--out", model]
        lines = [["inspect", data, "--target", target], train, ["evaluate", model, data]]
        lines.append(["predict", model, data, *predictions, *proba])
        steps.append((f"{name}.csv: predict {target!r}", lines))
    data, model = str(source / "stocks.csv"), str(out_dir / "stocks.nncli")
    series = ["--time-col", "date", "--target", "adj_close", "--group-col", "ticker"]
    network = ["--arch", "lstm", "--lookback", "30", "--horizon", "5", "--hidden-size", "32"]
    fit = ["--epochs", str(max(1, min(epochs, 8))), "--patience", "3", "--out", model]
    history = ["--append", str(out_dir / "forecast-history.csv")]
    steps.append(
        (
            "stocks.csv: forecast adj_close for 4 tickers, the next 5 business days",
            [
                ["forecast", "train", data, *series, *network, *fit],
                ["forecast", "predict", model, data, *history],
            ],
        )
    )
    return steps


def demo(
    ui: Ui,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Folder holding penguins.csv, autompg.csv and stocks.csv (default: the checkout's sample_data/).",
            show_default=False,
        ),
    ] = None,
    out_dir: Annotated[
        Path,
        typer.Option("--out-dir", help="Where the demo writes its model files and predictions."),
    ] = Path("nncli-demo"),
    epochs: Annotated[
        int, typer.Option("--epochs", help="Maximum epochs per table (8 at most for the prices).")
    ] = 150,
) -> None:
    """Inspect, train, evaluate, predict and forecast on the sample data, offline.

    Examples:
      nncli demo --out-dir demo
    """
    from rich.markup import escape

    from nncli.cli import app
    from nncli.errors import UsageError

    source = data_dir or find_sample_data()
    if source is None or not all(
        (source / f"{n}.csv").is_file() for n in ("penguins", "autompg", "stocks")
    ):
        raise UsageError(
            "sample data not found", hint="pass --data-dir pointing at nncli's sample_data/ folder"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    cli = typer.main.get_command(app)
    quiet = ["--quiet"] if ui.quiet else []
    for heading, lines in demo_steps(source, out_dir, epochs):
        ui.print(f"\n[bold]== {escape(heading)} ==[/bold]")
        for argv in lines:
            ui.print(f"$ {escape(shlex.join(['nncli', *argv, *quiet]))}")
            code = cli.main(args=[*argv, *quiet], standalone_mode=False)
            if code:  # the command printed its one error line
                raise typer.Exit(code)
    ui.print(f"\nDone. Model files and predictions are in {escape(str(out_dir))}/.")


def register(app: typer.Typer) -> None:
    """Add the demo command."""
    command(app, "demo")(demo)
