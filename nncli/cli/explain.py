"""`nncli explain MODEL DATA`: permutation feature importance for tabular and forecast models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from nncli.cli.options import (
    ConfigOpt,
    DataArg,
    DebugOpt,
    EncodingOpt,
    JsonOpt,
    ModelArg,
    QuietOpt,
    SeedOpt,
    SepOpt,
    csv_options,
)
from nncli.cli.runtime import command_session
from nncli.output import Ui, format_cell, make_table

if TYPE_CHECKING:
    from nncli.explain import ExplainReport

BAR_WIDTH = 12
SERIES = "Forecast models"
METRIC_TITLES = {
    "accuracy": "drop in accuracy",
    "rmse": "rise in RMSE",
    "scaled_mae": "rise in scaled MAE",
}


def explain(
    model: ModelArg,
    data: DataArg,
    repeats: Annotated[
        int,
        typer.Option(
            "--repeats",
            envvar="NNCLI_REPEATS",
            help="Shuffles per feature; the table shows their mean and std.",
        ),
    ] = 5,
    lag_blocks: Annotated[
        str | None,
        typer.Option(
            "--lag-blocks",
            envvar="NNCLI_LAG_BLOCKS",
            help="Upper lags of the target's lag blocks (default: 5,20,60, then doubling).",
            show_default=False,
            rich_help_panel=SERIES,
        ),
    ] = None,
    windows: Annotated[
        int | None,
        typer.Option(
            "--windows",
            envvar="NNCLI_WINDOWS",
            help="Newest forecast origins per series (default: the model's validation share).",
            show_default=False,
            rich_help_panel=SERIES,
        ),
    ] = None,
    seed: SeedOpt = 0,
    sep: SepOpt = None,
    encoding: EncodingOpt = "utf-8",
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Rank the inputs by permutation importance: how much worse the model gets when each is shuffled."""
    with command_session(json, quiet, debug) as ui:
        from nncli.explain import ExplainOptions, explain_model

        options = ExplainOptions(
            repeats=repeats,
            seed=seed,
            lag_blocks=_parse_lags(lag_blocks) if lag_blocks else None,
            windows=windows,
            csv=csv_options(sep, encoding),
        )
        options.validate()
        with ui.status(f"shuffling each feature {repeats} time(s)"):
            report, metadata = explain_model(model, data, options, reporter=ui)
        if json:
            ui.emit_json({"ok": True, "model_id": metadata.get("model_id"), **report.to_dict()})
        else:
            _render(ui, report)


def _parse_lags(text: str) -> list[int]:
    """'5,20,60' -> [5, 20, 60] (the library checks they increase)."""
    from nncli.errors import UsageError

    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError as exc:
        raise UsageError(
            f"--lag-blocks {text!r}: use comma-separated whole lags, e.g. 5,20,60"
        ) from exc


def _number(value: float | None) -> str:
    """Four decimals, or scientific notation for the tiny effects 0.0000 would hide."""
    if value is not None and value != 0 and abs(value) < 5e-4:
        return f"{value:.2e}"
    return format_cell(value)


def _bar(value: float, largest: float) -> str:
    """A bar proportional to the importance; nothing for zero or negative ones."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = round(BAR_WIDTH * 8 * value / largest)
    full, rest = divmod(eighths, 8)
    return "█" * full + ("" if rest == 0 else " ▏▎▍▌▋▊▉"[rest])


def _render(ui: Ui, report: ExplainReport) -> None:
    classification = report.task == "classification"
    columns = ["#", "feature", "importance", "± std"]
    if classification:
        columns.append("log loss +")
    columns.append("")
    # Bars are relative to the largest importance, but never to one under 1% of the
    # unshuffled score: a model that uses nothing must not show a full bar for noise.
    reference = abs(report.baseline.get(report.metric, 0.0))
    largest = max([0.01 * reference, *(item.mean for item in report.features)])
    rows = []
    for rank, item in enumerate(report.features, start=1):
        row: list[object] = [rank, item.feature, _number(item.mean), _number(item.std)]
        if classification:
            row.append(_number(item.log_loss_mean))
        row.append(_bar(item.mean, largest))
        rows.append(row)
    # Short: Rich wraps a title at the table's width; the counts are in the note below.
    title = f"permutation importance: {METRIC_TITLES.get(report.metric, report.metric)}"
    table = make_table(title, columns, rows, numeric_from=2)
    table.columns[0].justify = "right"
    table.columns[-1].justify = "left"
    table.columns[-1].no_wrap = True
    table.columns[-1].overflow = "crop"
    ui.print(table)
    baseline = ", ".join(
        f"{name.replace('_', ' ')} {format_cell(value)}" for name, value in report.baseline.items()
    )
    ui.print(
        f"unshuffled: {baseline}. {report.description[0].upper()}{report.description[1:]}. "
        "Near 0: the model does not use the feature here, or a correlated feature carries the "
        "same information; below 0: noise."
    )


def register(app: typer.Typer) -> None:
    """Add `explain` to the root app."""
    app.command()(explain)
