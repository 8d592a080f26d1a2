"""Pieces every command layer shares: output paths, --plot, the loss line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nncli.output import Ui

if TYPE_CHECKING:
    from nncli.training.loop import History

OutModelOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        envvar="NNCLI_OUT",
        help="Model file to write (default: <data name>.nncli).",
        show_default=False,
    ),
]
PlotOpt = Annotated[
    Path | None,
    typer.Option(
        "--plot",
        envvar="NNCLI_PLOT",
        help="Also draw a picture to this .png/.svg/.pdf file (needs pip install 'nncli[plot]').",
        show_default=False,
        rich_help_panel="Output",
    ),
]


def default_model_path(data: Path) -> Path:
    """`sales.csv.gz` -> `sales.nncli` in the working directory."""
    name = data.name
    for suffix in (".gz", ".bz2", ".xz", ".csv", ".tsv", ".txt"):
        name = name.removesuffix(suffix)
    return Path(f"{name or 'model'}.nncli")


def show_loss_sparkline(ui: Ui, history: History) -> None:
    """On a terminal, the validation loss per epoch as one line of block characters."""
    if ui.interactive and history.records:
        import math

        from nncli.output import sparkline

        losses = [record.valid_loss for record in history.records]
        # On a log scale, so the first epochs' large losses do not flatten the rest.
        shape = [math.log(v) if v > 0 else math.nan for v in losses]
        ui.info(
            f"val loss {sparkline(shape, width=60)}  "
            f"{losses[0]:.4g} → {history.best.valid_loss:.4g} (best epoch {history.best_epoch})"
        )


def check_plot(plot: Path | None, *inputs: Path) -> None:
    """When --plot is given, check it before any work (and that it overwrites no input)."""
    if plot is not None:
        from nncli.plots import check_plot_path

        check_plot_path(plot, *inputs)


@dataclass
class TrainOutputs:
    """Where `train` writes: the model file and the --plot picture, both checked before training."""

    model_path: Path
    plot: Path | None

    @classmethod
    def check(cls, data: Path, out: Path | None, plot: Path | None) -> TrainOutputs:
        """Check `--out` (default: a file named after the data) and --plot before any work."""
        from nncli.files import check_output_path

        model_path = check_output_path(out or default_model_path(data), data)
        check_plot(plot, data, model_path)
        return cls(model_path, plot)

    def report(
        self, ui: Ui, history: History, model_id: str, *, title: str, with_metric: bool
    ) -> None:
        """On stderr: the epochs run and the best one, the file saved, the loss line; the plot."""
        best = f"; best epoch {history.best_epoch}: val loss {history.best.valid_loss:.4f}"
        if with_metric:
            best += f", val {history.metric_name} {history.best.valid_metric:.4f}"
        early = " (early stop)" if history.stopped_early else ""
        ui.info(f"trained {len(history.records)} epoch(s){early}{best}")
        ui.info(f"saved {self.model_path} (model id {model_id})")
        show_loss_sparkline(ui, history)
        if self.plot is not None:
            from nncli.plots import plot_training

            plot_training(history.to_dict(), self.plot, title=title)
            ui.info(f"wrote {self.plot}")
