"""`inspect`, `train`, `evaluate` and `predict`: the tabular commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nncli.cli.options import (
    ConfigOpt,
    DataArg,
    DebugOpt,
    EncodingOpt,
    JsonOpt,
    ModelArg,
    QuietOpt,
    SepOpt,
    command,
    csv_options,
)
from nncli.cli.runtime import command_session
from nncli.output import Ui, make_table
from nncli.tabular.options import TabularOptions

if TYPE_CHECKING:
    from nncli.data.loading import CsvOptions
    from nncli.data.schema import InspectReport
    from nncli.tabular.evaluate import EvaluationReport
    from nncli.tabular.train import TrainReport
    from nncli.training.loop import EpochRecord, History

INSPECT_TABLE_ROWS = 200
METRIC_LABELS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "bal. acc.",
    "f1_macro": "macro F1",
    "roc_auc": "ROC-AUC",
    "log_loss": "log loss",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
    "mape": "MAPE",
}
MODEL = "Model"
TRAINING = "Training"
SPLIT = "Split"

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
TargetOpt = Annotated[
    str,
    typer.Option(
        "--target", "-t", envvar="NNCLI_TARGET", help="Column to predict.", show_default=False
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


def inspect(
    data: DataArg,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            "-t",
            envvar="NNCLI_TARGET",
            help="Column to predict: adds its balance, the task and leakage checks.",
        ),
    ] = None,
    time_col: Annotated[
        str | None,
        typer.Option(
            "--time-col",
            envvar="NNCLI_TIME_COL",
            help="Time column: --plot draws each series' history and return distribution.",
        ),
    ] = None,
    group_col: Annotated[
        str | None,
        typer.Option(
            "--group-col",
            envvar="NNCLI_GROUP_COL",
            help="Column naming the series (with --time-col), e.g. ticker.",
        ),
    ] = None,
    plot: PlotOpt = None,
    sep: SepOpt = None,
    encoding: EncodingOpt = "utf-8",
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Show column kinds, missing values, the target's balance and data warnings."""
    with command_session(json, quiet, debug) as ui:
        from nncli.data.loading import read_csv, require_columns
        from nncli.data.schema import inspect_table

        if plot is not None:
            from nncli.plots import check_plot_path

            check_plot_path(plot, data)
        frame = read_csv(data, csv_options(sep, encoding), reporter=ui)
        if target is not None:
            require_columns(frame, data, [target], "target")
        named = [c for c in (time_col, group_col) if c]
        require_columns(frame, data, named, "named")
        report = inspect_table(frame, data, target)
        for message in report.warnings:
            ui.warn(message)
        if plot is not None:
            csv = csv_options(sep, encoding)
            _plot_inspect(ui, frame, report, plot, data, csv, (time_col, group_col, target))
        if json:
            ui.emit_json(report.to_dict())
        else:
            _render_inspect(ui, report, frame if ui.out.is_terminal else None)


def _plot_inspect(
    ui: Ui,
    frame: Any,
    report: InspectReport,
    plot: Path,
    data: Path,
    csv: CsvOptions,
    columns: tuple[str | None, str | None, str | None],
) -> None:
    """The column grid, or with --time-col each series' history and returns."""
    from nncli import plots

    time_col, group_col, target = columns
    if time_col is None:
        plots.plot_columns(frame, report, plot)
    else:
        from nncli.data.schema import ColumnKind
        from nncli.forecasting.series import PanelSpec, load_panel

        value = target or next(
            (
                c.name
                for c in report.columns
                if c.kind is ColumnKind.NUMERIC and c.name not in (time_col, group_col)
            ),
            None,
        )
        if value is None:
            from nncli.errors import DataError

            raise DataError(f"{data}: no numeric column to draw over time", hint="pass --target")
        # load_panel re-reads the file, with the checks a series needs (sorting, duplicates).
        panel = load_panel(data, PanelSpec(time_col, value, group_col), csv, reporter=ui)
        plots.plot_series(panel, plot, value=value, source=data.name)
    ui.info(f"wrote {plot}")


def _render_inspect(ui: Ui, report: InspectReport, frame: Any = None) -> None:
    """The column table; with the frame (a terminal), a sparkline histogram per numeric column."""
    rows = [
        [c.name, str(c.kind), c.dtype, c.missing, c.unique, c.example, c.note]
        for c in report.columns
    ]
    columns = ["column", "kind", "dtype", "missing", "unique", "example", "note"]
    if frame is not None:
        from nncli.data.schema import ColumnKind
        from nncli.plots import distribution_sparklines

        numeric = [c.name for c in report.columns if c.kind is ColumnKind.NUMERIC]
        shapes = distribution_sparklines(frame, numeric)
        columns.insert(5, "distribution")
        for row, column in zip(rows, report.columns, strict=True):
            row.insert(5, shapes.get(column.name, ""))
    shown = rows[:INSPECT_TABLE_ROWS]
    caption = None
    if len(rows) > len(shown):  # a 10,000-column table helps nobody; --json has them all
        caption = f"first {len(shown)} of {len(rows)} columns; --json lists every column"
    ui.print(
        make_table(
            f"{report.path}: {report.rows} rows × {len(report.columns)} columns",
            columns,
            shown,
            numeric_from=3,
            caption=caption,
        )
    )
    target = report.target
    if target is None:
        return
    caption = f"task: {target.task.task} ({target.task.reason}); {target.missing} missing"
    if target.classes:
        total = sum(target.classes.values())
        shares = [(label, count, f"{count / total:.1%}") for label, count in target.classes.items()]
        ui.print(
            make_table(
                f"target {target.name!r}", ["class", "rows", "share"], shares, caption=caption
            )
        )
    else:
        stats = list(target.stats.items())
        ui.print(
            make_table(f"target {target.name!r}", ["statistic", "value"], stats, caption=caption)
        )


class EpochProgress:
    """A Rich progress bar over epochs on a TTY; silent otherwise."""

    def __init__(self, ui: Ui, epochs: int) -> None:
        self.ui = ui
        self.epochs = epochs
        self.progress: Any = None

    def __enter__(self) -> EpochProgress:
        if self.ui.interactive:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.progress = Progress(
                TextColumn("epoch"),
                MofNCompleteColumn(),
                BarColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=self.ui.err,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task("", total=self.epochs)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def on_epoch_end(self, record: EpochRecord, history: History) -> None:
        if self.progress is not None:
            self.progress.update(
                self.task,
                completed=record.epoch,
                description=(
                    f"train loss {record.train_loss:.4f}  val loss {record.valid_loss:.4f}  "
                    f"val {history.metric_name} {record.valid_metric:.4f}  (best epoch {history.best_epoch})"
                ),
            )


def default_model_path(data: Path) -> Path:
    """`sales.csv.gz` -> `sales.nncli` in the working directory."""
    name = data.name
    for suffix in (".gz", ".bz2", ".xz", ".csv", ".tsv", ".txt"):
        name = name.removesuffix(suffix)
    return Path(f"{name or 'model'}.nncli")


def train(
    ui: Ui,
    data: DataArg,
    options: TabularOptions,
    out: OutModelOpt = None,
    plot: PlotOpt = None,
) -> None:
    """Train an MLP on a CSV table; report test metrics next to baselines; save one model file."""
    from nncli.files import check_output_path
    from nncli.tabular.model import save_tabular_model
    from nncli.tabular.train import train_tabular

    model_path = check_output_path(out or default_model_path(data), data)
    if plot is not None:
        from nncli.plots import check_plot_path

        check_plot_path(plot, data, model_path)
    with EpochProgress(ui, options.training.epochs) as progress:
        report = train_tabular(data, options, reporter=ui, callbacks=(progress,))
    save_tabular_model(model_path, report.model)
    history = report.history
    ui.info(
        f"trained {len(history.records)} epoch(s)"
        + (" (early stop)" if history.stopped_early else "")
        + f"; best epoch {history.best_epoch}: val loss {history.best.valid_loss:.4f}, "
        f"val {history.metric_name} {history.best.valid_metric:.4f}"
    )
    ui.info(f"saved {model_path} (model id {report.model.metadata['model_id']})")
    show_loss_sparkline(ui, history)
    if plot is not None:
        from nncli.plots import plot_training

        name = report.model.metadata["architecture"]["name"].upper()
        title = f"training {name}: {data.name} → {options.target}"
        plot_training(history.to_dict(), plot, title=title)
        ui.info(f"wrote {plot}")
    if ui.json_mode:
        ui.emit_json({"ok": True, "model_path": str(model_path), **report.to_dict()})
    else:
        render_train(ui, report)


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


def _metric_rows(task: str, named: dict[str, dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    keys = (
        ["accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss"]
        if task == "classification"
        else ["rmse", "mae", "r2", "mape"]
    )
    labels = [METRIC_LABELS.get(key, key) for key in keys]
    return ["model", *labels], [
        [name, *(scores.get(k) for k in keys)] for name, scores in named.items()
    ]


def render_train(ui: Ui, report: TrainReport) -> None:
    name = str(report.model.metadata.get("architecture", {}).get("name", "mlp")).upper()
    named = {f"network ({name})": report.test_metrics, **report.baselines}
    columns, rows = _metric_rows(report.model.task, named)
    sizes = report.split_sizes
    title = f"test metrics ({sizes['test']} held-out rows; {report.model.task})"
    ui.print(make_table(title, columns, rows))
    ui.print(("✓ " if report.beats_baselines else "✗ ") + report.verdict)


def evaluate(
    model: ModelArg,
    data: DataArg,
    plot: PlotOpt = None,
    sep: SepOpt = None,
    encoding: EncodingOpt = "utf-8",
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Score a model on labelled data: classification report, confusion matrix, ROC-AUC; or RMSE/MAE/R²."""
    with command_session(json, quiet, debug) as ui:
        from nncli.tabular.evaluate import evaluate_tabular
        from nncli.tabular.model import load_tabular_model

        if plot is not None:
            from nncli.plots import check_plot_path

            check_plot_path(plot, data, model)
        loaded = load_tabular_model(model)
        report = evaluate_tabular(loaded, data, csv=csv_options(sep, encoding), reporter=ui)
        if plot is not None:
            _plot_evaluation(report, plot, f"{model.name} on {data.name}", loaded.target_name)
            ui.info(f"wrote {plot}")
        if json:
            ui.emit_json({"ok": True, "model_id": loaded.metadata["model_id"], **report.to_dict()})
        else:
            _render_evaluation(ui, report, loaded.metadata.get("metrics", {}))


def _plot_evaluation(report: EvaluationReport, plot: Path, title: str, target: str) -> None:
    from nncli import plots

    if report.confusion_matrix is not None:
        plots.plot_confusion_matrix(
            report.confusion_matrix,
            report.classes,
            plot,
            title=f"{title}: accuracy {report.metrics['accuracy']:.3f} on {report.rows} rows",
        )
    elif report.points is not None:
        actual, predicted = report.points
        plots.plot_predicted_vs_actual(
            actual, predicted, plot, title=title, target=target, metrics=report.metrics
        )


def _render_evaluation(ui: Ui, report: EvaluationReport, trained: dict[str, Any]) -> None:
    named = {"this data": report.metrics}
    if "test" in trained:
        named["training test split"] = trained["test"]
    columns, rows = _metric_rows(report.task, named)
    ui.print(make_table(f"metrics on {report.rows} labelled rows", columns, rows))
    if report.per_class:
        rows = [
            [label, s["precision"], s["recall"], s["f1"], s["support"]]
            for label, s in report.per_class.items()
        ]
        ui.print(make_table("per class", ["class", "precision", "recall", "f1", "support"], rows))
    if report.confusion_matrix:
        rows = [
            [label, *counts]
            for label, counts in zip(report.classes, report.confusion_matrix, strict=True)
        ]
        ui.print(
            make_table(
                "confusion matrix (rows: true, columns: predicted)",
                ["true \\ predicted", *report.classes],
                rows,
            )
        )


def predict(
    model: ModelArg,
    data: DataArg,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            envvar="NNCLI_OUTPUT",
            help="CSV file to write (atomically) (default: stdout).",
            show_default=False,
        ),
    ] = None,
    proba: Annotated[
        bool,
        typer.Option("--proba", envvar="NNCLI_PROBA", help="Add a probability column per class."),
    ] = False,
    sep: SepOpt = None,
    encoding: EncodingOpt = "utf-8",
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Predict every row of a CSV, keeping its ID columns and order; CSV to a file or stdout."""
    with command_session(json, quiet, debug) as ui:
        import sys

        from nncli.files import atomic_writer, check_output_path
        from nncli.tabular.model import load_tabular_model
        from nncli.tabular.predict import predict_tabular

        if output is not None:
            check_output_path(output, data, model)
        loaded = load_tabular_model(model)
        result = predict_tabular(
            loaded, data, proba=proba, csv=csv_options(sep, encoding), reporter=ui
        )
        float_format = "%.7g"  # float32 precision, stable text for byte-identical reruns
        if output is not None:
            with atomic_writer(output) as handle:
                result.to_csv(handle, index=False, float_format=float_format, lineterminator="\n")
            ui.info(f"wrote {len(result)} prediction(s) to {output}")
            if json:
                ui.emit_json(
                    {
                        "ok": True,
                        "model_id": loaded.metadata["model_id"],
                        "rows": len(result),
                        "output": str(output),
                    }
                )
        elif json:
            import json as json_module

            records = json_module.loads(result.to_json(orient="records", double_precision=7))
            ui.emit_json(
                {
                    "ok": True,
                    "model_id": loaded.metadata["model_id"],
                    "rows": len(result),
                    "predictions": records,
                }
            )
        else:
            result.to_csv(sys.stdout, index=False, float_format=float_format, lineterminator="\n")


def register(app: typer.Typer) -> None:
    """Add the tabular commands to the root app."""
    app.command()(inspect)
    command(app)(train)
    app.command()(evaluate)
    app.command()(predict)
