"""`nncli explain MODEL DATA`: permutation feature importance for tabular and forecast models."""

from __future__ import annotations

import typer

from nncli.cli.options import ModelArg, command
from nncli.cli.tabular import InputArg
from nncli.explain import IMPORTANCE_TITLES, ExplainOptions, ExplainReport, FeatureImportance
from nncli.output import Ui, format_cell, make_table

BAR_WIDTH = 12


def explain(ui: Ui, model: ModelArg, data: InputArg, options: ExplainOptions) -> None:
    """Rank the inputs by permutation importance: how much worse the model gets when each is shuffled.

    Examples:
      nncli explain penguins.nncli sample_data/penguins.csv
      nncli explain penguins.nncli sample_data/penguins.csv \\
          --metric accuracy --repeats 10
    """
    from nncli.api import explain_model

    with ui.status(f"shuffling each feature {options.repeats} time(s)"):
        report, metadata = explain_model(model, data, options, reporter=ui)
    if ui.json_mode:
        ui.emit_json({"ok": True, "model_id": metadata.get("model_id"), **report.to_dict()})
    else:
        _render(ui, report)


def _number(value: float | None) -> str:
    """Four decimals, or scientific notation for the tiny effects 0.0000 would hide."""
    if value is not None and value != 0 and abs(value) < 5e-4:
        return f"{value:.2e}"
    return format_cell(value)


def _bar(item: FeatureImportance, largest: float) -> str:
    """A bar proportional to the importance; '(noise)' for one within its noise band."""
    if item.within_noise or largest <= 0:
        return "(noise)" if item.within_noise else ""
    eighths = round(BAR_WIDTH * 8 * item.mean / largest)
    full, rest = divmod(eighths, 8)
    return "█" * full + ("" if rest == 0 else " ▏▎▍▌▋▊▉"[rest])


def _render(ui: Ui, report: ExplainReport) -> None:
    columns = ["#", "feature", "importance", "± std", ""]
    # Bars are relative to the largest importance, but never to one under 1% of the
    # unshuffled score: a model that uses nothing must not show a full bar for noise.
    reference = abs(report.baseline.get(report.metric, 0.0))
    largest = max([0.01 * reference, *(item.mean for item in report.features)])
    rows = [
        [rank, item.feature, _number(item.mean), _number(item.std), _bar(item, largest)]
        for rank, item in enumerate(report.features, start=1)
    ]
    # Short: Rich wraps a title at the table's width; the counts are in the note below.
    title = f"permutation importance: {IMPORTANCE_TITLES.get(report.metric, report.metric)}"
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
        "same information; (noise): not clearly above 0 (more --repeats narrow the band)."
    )


def register(app: typer.Typer) -> None:
    """Add `explain` to the root app."""
    command(app)(explain)
