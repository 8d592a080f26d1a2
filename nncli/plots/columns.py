"""Pictures of a table's columns: a grid of histograms and bar charts, and terminal sparklines."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.errors import DataError
from nncli.output import sparkline
from nncli.plots.figures import NETWORK_COLOUR, axes_grid, new_figure, save_figure, style_axes

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from nncli.data.schema import InspectReport

MAX_COLUMN_PANELS = 24
MAX_CATEGORY_BARS = 10


def distribution_sparklines(
    frame: pd.DataFrame, columns: Sequence[str], bins: int = 12
) -> dict[str, str]:
    """A histogram of each numeric column as a sparkline (for `inspect` on a terminal)."""
    import numpy as np
    import pandas as pd

    result = {}
    for name in columns:
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64)
        values = values[np.isfinite(values)]
        if len(values) == 0:
            continue
        counts, _ = np.histogram(values, bins=bins)
        result[name] = sparkline(counts.tolist(), floor=0)
    return result


def plot_columns(frame: pd.DataFrame, report: InspectReport, path: Path) -> Path:
    """One panel per usable column: a histogram (numeric) or the top categories (bar chart)."""
    from nncli.data.schema import ColumnKind

    shown_kinds = {ColumnKind.NUMERIC, ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN}
    columns = [c for c in report.columns if c.kind in shown_kinds]
    skipped = [f"{c.name} ({c.kind})" for c in report.columns if c.kind not in shown_kinds]
    if not columns:
        raise DataError(
            f"{report.path}: no numeric, categorical or boolean column to plot",
            hint="inspect's table lists the columns' kinds",
        )
    columns = columns[:MAX_COLUMN_PANELS]
    grid_columns = min(4, len(columns))
    rows = -(-len(columns) // grid_columns)
    figure = new_figure(max(8.0, 3.6 * grid_columns), 2.9 * rows + 0.9)
    target = report.target.name if report.target is not None else None
    notes = []
    if skipped:
        named = ", ".join(skipped[:3]) + (
            f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        )
        notes.append(f"not shown: {named}")
    if len(columns) < len(report.columns) - len(skipped):
        notes.append(f"first {len(columns)} columns shown")
    figure.suptitle(
        f"{Path(report.path).name}: {report.rows} rows"
        + (f" ({'; '.join(notes)})" if notes else ""),
        fontsize=13,
    )
    for axes, column in zip(axes_grid(figure, len(columns), grid_columns), columns, strict=False):
        style_axes(axes)
        colour = "#ff7f0e" if column.name == target else NETWORK_COLOUR
        if column.kind is ColumnKind.NUMERIC:
            _draw_numbers(axes, frame[column.name], colour)
        else:
            _draw_categories(axes, frame[column.name], colour)
        name = column.name if len(column.name) <= 28 else column.name[:27] + "…"
        title = f"{name} ({column.kind}{', target' if column.name == target else ''})"
        if column.missing:
            title += f"\n{column.missing} missing"
        axes.set_title(title, fontsize=10, loc="left")
        axes.tick_params(labelsize=8)
    return save_figure(figure, path)


def _draw_numbers(axes: Axes, values: pd.Series, colour: str) -> None:
    """A histogram, or one bar per value for a few whole numbers."""
    import numpy as np
    import pandas as pd
    from matplotlib.ticker import MaxNLocator

    numbers = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    numbers = numbers[np.isfinite(numbers)]
    distinct, counts = np.unique(numbers, return_counts=True)
    if len(distinct) <= 12 and (distinct == np.round(distinct)).all():
        # A few whole numbers (cylinders, years): one bar per value, not empty bins.
        axes.bar(distinct, counts, width=0.7, color=colour, alpha=0.85)
        if len(distinct) <= 6:
            axes.set_xticks(distinct, [f"{v:g}" for v in distinct])
        else:
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        bins = int(min(40, max(5, np.sqrt(len(numbers)))))
        axes.hist(numbers, bins=bins, color=colour, alpha=0.85, edgecolor="white", linewidth=0.4)
    axes.set_ylabel("rows", fontsize=8)


def _draw_categories(axes: Axes, values: pd.Series, colour: str) -> None:
    """Horizontal bars of the most frequent categories, the rest counted in one bar."""
    import numpy as np

    counts = values.dropna().astype(str).value_counts()
    top = counts.head(MAX_CATEGORY_BARS)
    labels = [label if len(label) <= 18 else label[:17] + "…" for label in top.index]
    heights: list[Any]
    if len(counts) > MAX_CATEGORY_BARS:
        labels.append(f"{len(counts) - MAX_CATEGORY_BARS} others")
        heights = [*top.tolist(), int(counts.iloc[MAX_CATEGORY_BARS:].sum())]
    else:
        heights = top.tolist()
    positions = np.arange(len(heights))[::-1]  # the most frequent on top
    axes.barh(positions, heights, color=colour, alpha=0.85)
    axes.set_yticks(positions, labels, fontsize=8)
    axes.set_xlabel("rows", fontsize=8)
    axes.grid(False, axis="y")
