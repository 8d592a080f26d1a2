"""`inspect`, `train`, `evaluate` and `predict`: the tabular commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nncli.cli.common import OutModelOpt, PlotOpt, TrainOutputs, check_plot
from nncli.cli.options import DataArg, ModelArg, command
from nncli.data.integrity import PartialLastRow
from nncli.data.loading import CsvOptions
from nncli.data.writing import PredictionOutput
from nncli.output import EpochProgress, Ui, make_table
from nncli.tabular.architectures import architecture_of
from nncli.tabular.options import InspectOptions, TabularOptions
from nncli.tasks import task_for

if TYPE_CHECKING:
    from nncli.data.schema import InspectReport
    from nncli.tabular.evaluate import EvaluationReport
    from nncli.tabular.train import TrainReport


def _data_or_stdin(ctx: typer.Context, value: Path) -> Path:
    from nncli.data.stdin import data_argument

    return data_argument(value, ctx.params.get("model"))


InputArg = Annotated[
    Path,
    typer.Argument(
        help="CSV (or .gz/.bz2/.xz), Parquet or Feather file; - reads it from stdin.",
        show_default=False,
        callback=_data_or_stdin,
    ),
]
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


def inspect(
    ui: Ui,
    data: DataArg,
    options: InspectOptions,
    plot: PlotOpt = None,
    csv: CsvOptions = CsvOptions(),
) -> None:
    """Show column kinds, missing values, the target's balance and data warnings.

    Examples:
      nncli inspect sample_data/penguins.csv --target species
    """
    from nncli.data.loading import read_csv, require_columns
    from nncli.tabular.inspect import inspect_for_training

    check_plot(plot, data)
    frame = read_csv(data, csv, reporter=ui)
    if options.target is not None:
        require_columns(frame, data, [options.target], "target")
    require_columns(frame, data, [c for c in (options.time_col, options.group_col) if c], "named")
    report = inspect_for_training(frame, data, options.target, csv=csv)
    for message in report.warnings:
        ui.warn(message)
    if plot is not None:
        _plot_inspect(ui, frame, report, plot, data, csv, options)
    if ui.json_mode:
        ui.emit_json(report.to_dict())
    else:
        render_inspect(ui, report, frame if ui.out.is_terminal else None)


def _plot_inspect(
    ui: Ui,
    frame: Any,
    report: InspectReport,
    plot: Path,
    data: Path,
    csv: CsvOptions,
    options: InspectOptions,
) -> None:
    """The column grid, or with --time-col each series' history and returns."""
    from nncli import plots

    time_col, group_col = options.time_col, options.group_col
    if time_col is None:
        plots.plot_columns(frame, report, plot)
    else:
        from nncli.data.schema import ColumnKind
        from nncli.forecasting.series import PanelSpec, load_panel

        value = options.target or next(
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


def render_inspect(ui: Ui, report: InspectReport, frame: Any = None) -> None:
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


def train(
    ui: Ui,
    data: DataArg,
    options: TabularOptions,
    out: OutModelOpt = None,
    plot: PlotOpt = None,
) -> None:
    """Train a TabM network (or --arch mlp, rbf) on a table; report test metrics next to baselines; save one model file.

    Examples:
      nncli train sample_data/penguins.csv -t species -o penguins.nncli
      nncli train sample_data/autompg.csv -t mpg --drop name -o mpg.nncli
    """
    from nncli.tabular.model import save_tabular_model
    from nncli.tabular.train import train_tabular

    outputs = TrainOutputs.check(data, out, plot)
    with EpochProgress(ui, options.training.epochs) as progress:
        report = train_tabular(data, options, reporter=ui, callbacks=(progress,))
    save_tabular_model(outputs.model_path, report.model)
    name = architecture_of(report.model.metadata).display
    title = f"training {name}: {data.name} → {options.target}"
    model_id = report.model.metadata["model_id"]
    outputs.report(ui, report.history, model_id, title=title, with_metric=True)
    if ui.json_mode:
        ui.emit_json({"ok": True, "model_path": str(outputs.model_path), **report.to_dict()})
    else:
        render_train(ui, report)


def metric_rows(task: str, named: dict[str, dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """The columns and rows of a metrics table: one row per named set of scores."""
    keys = task_for(task).metric_columns
    labels = [METRIC_LABELS.get(key, key) for key in keys]
    return ["model", *labels], [
        [name, *(scores.get(k) for k in keys)] for name, scores in named.items()
    ]


def render_train(ui: Ui, report: TrainReport) -> None:
    """The test metrics of the network and its baselines, then the verdict."""
    name = architecture_of(report.model.metadata).display
    named = {f"network ({name})": report.test_metrics, **report.baselines}
    columns, rows = metric_rows(report.model.task, named)
    sizes = report.split_sizes
    title = f"test metrics ({sizes['test']} held-out rows; {report.model.task})"
    ui.print(make_table(title, columns, rows))
    ui.print(("✓ " if report.beats_baselines else "✗ ") + report.verdict)


def evaluate(
    ui: Ui, model: ModelArg, data: InputArg, plot: PlotOpt = None, csv: CsvOptions = CsvOptions()
) -> None:
    """Score a model on labelled data: classification report, confusion matrix, ROC-AUC; or RMSE/MAE/R².

    Examples:
      nncli evaluate mpg.nncli sample_data/autompg.csv
    """
    from nncli.tabular.evaluate import evaluate_tabular
    from nncli.tabular.model import load_tabular_model

    check_plot(plot, data, model)
    loaded = load_tabular_model(model, without_torch=True)
    report = evaluate_tabular(loaded, data, csv=csv, reporter=ui)
    if plot is not None:
        _plot_evaluation(report, plot, f"{model.name} on {data.name}", loaded.target_name)
        ui.info(f"wrote {plot}")
    if ui.json_mode:
        ui.emit_json({"ok": True, "model_id": loaded.metadata["model_id"], **report.to_dict()})
    else:
        render_evaluation(ui, report, loaded.metadata.get("metrics", {}))


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


def render_evaluation(ui: Ui, report: EvaluationReport, trained: dict[str, Any]) -> None:
    """Metrics on the data beside the training test split's, per-class scores, confusion."""
    named = {"this data": report.metrics}
    if "test" in trained:
        named["training test split"] = trained["test"]
    columns, rows = metric_rows(report.task, named)
    ui.print(make_table(f"metrics on {report.rows} labelled rows", columns, rows))
    if trained.get("verdict"):  # what the baselines scored there (the model file keeps it)
        ui.print(f"at training, on its test split: {trained['verdict']}")
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
    ui: Ui,
    model: ModelArg,
    data: InputArg,
    table: PredictionOutput,
    proba: Annotated[
        bool,
        typer.Option("--proba", envvar="NNCLI_PROBA", help="Add a probability column per class."),
    ] = False,
    csv: CsvOptions = CsvOptions(),
    rows: PartialLastRow = PartialLastRow(),
) -> None:
    """Predict every row of a table, keeping its ID columns and order; CSV, JSON or Parquet.

    Examples:
      nncli predict penguins.nncli sample_data/penguins.csv -o out.csv --proba
    """
    from nncli.tabular.model import load_tabular_model
    from nncli.tabular.predict import PREDICTION_FLOAT_FORMAT, predict_tabular

    table.check(data, model, json_mode=ui.json_mode)
    loaded = load_tabular_model(model, without_torch=True)
    result = predict_tabular(
        loaded, data, proba=proba, csv=csv, reporter=ui, partial_last_row=rows.partial_last_row
    )
    summary = {"ok": True, "model_id": loaded.metadata["model_id"], "rows": len(result)}
    if ui.json_mode and table.file is None:  # the rows inside the one JSON document
        import json

        records = json.loads(result.to_json(orient="records", double_precision=7))
        ui.emit_json({**summary, "predictions": records})
        return
    table.write(result, PREDICTION_FLOAT_FORMAT)
    if table.file is not None:
        ui.info(f"wrote {len(result)} prediction(s) to {table.file} ({table.table_format})")
        if ui.json_mode:
            ui.emit_json({**summary, "output": str(table.file), "format": table.table_format})


def register(app: typer.Typer) -> None:
    """Add the tabular commands to the root app."""
    for function in (inspect, train, evaluate, predict):
        command(app)(function)
