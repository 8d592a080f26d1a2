"""Pictures for `--plot FILE.png`: training curves, evaluation, backtests, forecasts, data.

matplotlib is an optional extra (`pip install 'nncli[plot]'`) imported only inside these
functions, and used through `matplotlib.figure.Figure` with the Agg renderer: no pyplot, no
global backend switch, no window. Every picture is written atomically (a temporary file,
then a rename), so a failure never leaves a half-written image behind.

Each `plot_*` function takes the data a library function already returned (a History
dict, an EvaluationReport's numbers, a backtest's FoldForecasts, forecast rows and the
panel) and a path; none of them trains or scores anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.errors import DataError, UsageError
from nncli.files import atomic_writer, check_output_path
from nncli.output import sparkline

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from nncli.data.schema import InspectReport
    from nncli.forecasting.backtest import FoldForecast
    from nncli.forecasting.series import Series

PLOT_FORMATS = ("png", "svg", "pdf")
INSTALL_HINT = "pip install 'nncli[plot]'"
DPI = 100
NETWORK_COLOUR = "#1f77b4"
ACTUAL_COLOUR = "#222222"
BASELINE_COLOURS = ("#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")
MAX_COLUMN_PANELS = 24
MAX_SERIES_PANELS = 12
MAX_CATEGORY_BARS = 10


def require_matplotlib() -> None:
    """Fail with a one-line usage error (and the install hint) when matplotlib is missing."""
    try:
        import matplotlib
        import matplotlib.figure  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            "--plot needs matplotlib, which is not installed", hint=INSTALL_HINT
        ) from exc


def check_plot_path(path: Path, *inputs: Path) -> Path:
    """Check `--plot` before any work: matplotlib present, a known suffix, a writable place."""
    require_matplotlib()
    if path.suffix.lower().lstrip(".") not in PLOT_FORMATS:
        raise UsageError(
            f"--plot {path}: unknown picture type {path.suffix or '(no suffix)'!r}",
            hint="end the file name in .png, .svg or .pdf",
        )
    return check_output_path(path, *inputs)


def new_figure(width: float, height: float) -> Figure:
    """A figure of width x height inches at 100 dpi, laid out without overlaps."""
    require_matplotlib()
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    figure.set_facecolor("white")
    return figure


def save_figure(figure: Figure, path: Path) -> Path:
    """Render `figure` to `path` atomically; the type follows the suffix (.png by default)."""
    kind = path.suffix.lower().lstrip(".")
    with atomic_writer(path, "wb", encoding=None) as handle:
        figure.savefig(handle, format=kind if kind in PLOT_FORMATS else "png", dpi=DPI)
    return path


def _style(axes: Axes) -> None:
    axes.grid(True, color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _grid(figure: Figure, panels: int, columns: int) -> list[Axes]:
    """`panels` axes in a grid of `columns` columns; the unused cells are hidden."""
    rows = -(-panels // columns)
    axes = figure.subplots(rows, columns, squeeze=False).ravel().tolist()
    for unused in axes[panels:]:
        unused.set_visible(False)
    return axes[:panels]


# ---------------------------------------------------------------------------------------------
# Terminal pictures (no matplotlib; sparkline itself lives in nncli.output)


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


# ---------------------------------------------------------------------------------------------
# nncli train / forecast train


def plot_training(history: Mapping[str, Any], path: Path, *, title: str) -> Path:
    """Train and validation loss per epoch (best epoch marked), and the validation metric.

    `history` is `History.to_dict()` (also stored as the model file's `history`).
    """
    import numpy as np

    records = history.get("epochs", [])
    if not records:
        raise DataError("no epochs were recorded; nothing to plot")
    epochs = np.array([r["epoch"] for r in records])
    train_loss = np.array([r["train_loss"] for r in records], dtype=np.float64)
    valid_loss = np.array([r["valid_loss"] for r in records], dtype=np.float64)
    metric = np.array([r["valid_metric"] for r in records], dtype=np.float64)
    best = int(history.get("best_epoch") or epochs[np.nanargmin(valid_loss)])
    best_index = int(np.flatnonzero(epochs == best)[0])

    figure = new_figure(10, 7)
    from matplotlib.ticker import MaxNLocator  # after new_figure checked matplotlib is there

    figure.suptitle(title, fontsize=13)
    loss_axes, metric_axes = figure.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 1]}
    )
    _style(loss_axes)
    _style(metric_axes)
    marker = "o" if len(epochs) <= 40 else None
    loss_axes.plot(epochs, train_loss, color="#ff7f0e", marker=marker, ms=3, label="training loss")
    loss_axes.plot(
        epochs, valid_loss, color=NETWORK_COLOUR, marker=marker, ms=3, label="validation loss"
    )
    finite = np.concatenate([train_loss, valid_loss])
    finite = finite[np.isfinite(finite)]
    if len(finite) and finite.min() > 0 and finite.max() / finite.min() > 30:
        loss_axes.set_yscale("log")  # early epochs would flatten everything else
    for axes in (loss_axes, metric_axes):
        axes.axvline(best, color="#2ca02c", linestyle="--", linewidth=1.2)
    loss_axes.plot(
        [best],
        [valid_loss[best_index]],
        marker="*",
        ms=15,
        color="#2ca02c",
        linestyle="none",
        label=f"best epoch {best} (validation loss {valid_loss[best_index]:.4g})",
    )
    if history.get("stopped_early") and epochs[-1] > best:
        loss_axes.axvspan(
            best,
            epochs[-1],
            color="#999999",
            alpha=0.12,
            label=f"early stop: {epochs[-1] - best} epochs without improvement",
        )
    loss_axes.set_ylabel("loss")
    loss_axes.legend(loc="best", framealpha=0.92, edgecolor="#cccccc")
    metric_name = str(history.get("metric") or "metric")
    metric_axes.plot(epochs, metric, color="#9467bd", marker=marker, ms=3)
    metric_axes.plot([best], [metric[best_index]], marker="*", ms=13, color="#2ca02c")
    metric_axes.set_ylabel(f"validation\n{metric_name}")
    metric_axes.set_xlabel("epoch")
    metric_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    return save_figure(figure, path)


# ---------------------------------------------------------------------------------------------
# nncli evaluate


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]], classes: Sequence[str], path: Path, *, title: str
) -> Path:
    """A heatmap of the confusion matrix: counts, coloured by the share of each true class."""
    import numpy as np

    counts = np.asarray(matrix, dtype=np.int64)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = max(6.0, min(16.0, 2.5 + 0.9 * len(classes)))
    figure = new_figure(size + 1.2, size)
    axes = figure.subplots()
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    colourbar = figure.colorbar(image, ax=axes, shrink=0.8)
    colourbar.set_label("share of the true class")
    ticks = np.arange(len(classes))
    axes.set_xticks(ticks, [str(c) for c in classes], rotation=30 if len(classes) > 4 else 0)
    axes.set_yticks(ticks, [str(c) for c in classes])
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    font = 12 if len(classes) <= 6 else 9
    for (row, column), count in np.ndenumerate(counts):
        colour = "white" if shares[row, column] > 0.55 else "black"
        axes.text(
            column,
            row,
            f"{count}\n{shares[row, column]:.0%}",
            ha="center",
            va="center",
            color=colour,
            fontsize=font,
        )
    return save_figure(figure, path)


def plot_predicted_vs_actual(
    actual: Sequence[float],
    predicted: Sequence[float],
    path: Path,
    *,
    title: str,
    target: str,
    metrics: Mapping[str, Any] | None = None,
) -> Path:
    """Predicted against actual values with the diagonal a perfect model would sit on."""
    import numpy as np

    truth = np.asarray(actual, dtype=np.float64)
    guess = np.asarray(predicted, dtype=np.float64)
    figure = new_figure(8, 7.5)
    axes = figure.subplots()
    _style(axes)
    low = float(np.nanmin([truth.min(), guess.min()]))
    high = float(np.nanmax([truth.max(), guess.max()]))
    pad = 0.04 * (high - low or 1.0)
    low, high = low - pad, high + pad
    axes.plot(
        [low, high],
        [low, high],
        color="#555555",
        linestyle="--",
        linewidth=1,
        label="predicted = actual",
    )
    axes.scatter(
        truth,
        guess,
        s=22 if len(truth) <= 2000 else 6,
        alpha=0.65 if len(truth) <= 2000 else 0.3,
        color=NETWORK_COLOUR,
        edgecolors="none",
        label=f"{len(truth)} rows",
    )
    axes.set_xlim(low, high)
    axes.set_ylim(low, high)
    axes.set_aspect("equal")
    axes.set_xlabel(f"actual {target}")
    axes.set_ylabel(f"predicted {target}")
    axes.set_title(title)
    if metrics:
        lines = [
            f"{label} {metrics[key]:.4g}"
            for key, label in (("rmse", "RMSE"), ("mae", "MAE"), ("r2", "R²"))
            if isinstance(metrics.get(key), int | float)
        ]
        axes.text(
            0.03,
            0.97,
            "\n".join(lines),
            transform=axes.transAxes,
            va="top",
            ha="left",
            fontsize=11,
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#cccccc"},
        )
    axes.legend(loc="lower right", frameon=False)
    return save_figure(figure, path)


# ---------------------------------------------------------------------------------------------
# nncli forecast backtest / predict


def _dates(values: Sequence[Any]) -> np.ndarray:
    import numpy as np

    return np.asarray([np.datetime64(str(v)[:26]) for v in values], dtype="datetime64[ns]")


def _date_axis(axes: Axes) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(minticks=3, maxticks=7)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _series_columns(count: int) -> int:
    return 1 if count <= 2 else 2


def plot_backtest(
    forecasts: Sequence[FoldForecast],
    path: Path,
    *,
    arch: str,
    panel: Sequence[Series] = (),
    interval: str = "interval",
    context: int | None = None,
) -> Path:
    """Small multiples, one per series: actuals, each fold's forecast and interval, baselines.

    `panel` adds the actual history before the first origin (`context` steps; default three
    horizons) and between folds.
    """
    import numpy as np

    by_series: dict[str, list[FoldForecast]] = {}
    for forecast in forecasts:
        by_series.setdefault(forecast.series, []).append(forecast)
    if not by_series:
        raise DataError("the backtest produced no forecasts; nothing to plot")
    names = sorted(by_series)[:MAX_SERIES_PANELS]
    known = {s.name: s for s in panel}
    columns = _series_columns(len(names))
    rows = -(-len(names) // columns)
    figure = new_figure(7.5 * columns if columns > 1 else 12, max(4.5, 3.6 * rows + 0.8))
    folds = max(f.fold for f in forecasts)
    shown = (
        "" if len(by_series) <= len(names) else f" (first {len(names)} of {len(by_series)} series)"
    )
    figure.suptitle(
        f"walk-forward backtest: {arch.upper()} vs baselines, {folds} fold(s){shown}", fontsize=13
    )
    baseline_names = sorted({name for f in forecasts for name in f.baselines})
    colours = {
        name: BASELINE_COLOURS[i % len(BASELINE_COLOURS)] for i, name in enumerate(baseline_names)
    }
    for axes, name in zip(_grid(figure, len(names), columns), names, strict=False):
        _style(axes)
        items = sorted(by_series[name], key=lambda f: f.fold)
        horizon = len(items[0].timestamps)
        series = known.get(name)
        if series is not None:
            first_origin = np.datetime64(items[0].origin[:26])
            stamps = series.timestamps.to_numpy(dtype="datetime64[ns]")
            start = int(np.searchsorted(stamps, first_origin)) - (context or 3 * horizon)
            end = int(np.searchsorted(stamps, np.datetime64(items[-1].timestamps[-1][:26]))) + 1
            start = max(0, start)
            axes.plot(
                stamps[start:end],
                series.levels[start:end],
                color=ACTUAL_COLOUR,
                linewidth=1.3,
                label="actual",
            )
        for item in items:
            when = _dates(item.timestamps)
            if series is None:
                axes.plot(when, item.actual, color=ACTUAL_COLOUR, linewidth=1.3, label="actual")
            origin = _dates([item.origin])
            if series is not None:
                # Join each forecast to the last value it was made from.
                index = int(
                    np.searchsorted(series.timestamps.to_numpy(dtype="datetime64[ns]"), origin[0])
                )
                anchor = [float(series.levels[index])]
                when_joined = np.concatenate([origin, when])
            else:
                anchor, when_joined = [], when
            axes.fill_between(
                when_joined,
                [*anchor, *item.lower],
                [*anchor, *item.upper],
                color=NETWORK_COLOUR,
                alpha=0.2,
                linewidth=0,
                label=f"{arch.upper()} {interval}",
            )
            axes.plot(
                when_joined,
                [*anchor, *item.forecast],
                color=NETWORK_COLOUR,
                linewidth=1.6,
                label=f"{arch.upper()} forecast",
            )
            for baseline, values in item.baselines.items():
                axes.plot(
                    when_joined,
                    [*anchor, *values],
                    color=colours[baseline],
                    linestyle="--",
                    linewidth=1,
                    label=baseline,
                )
            axes.axvline(origin[0], color="#bbbbbb", linewidth=0.7, linestyle=":")
        axes.set_title(name, loc="left", fontsize=11)
        _date_axis(axes)
    first = figure.axes[0]
    handles, labels = first.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    figure.legend(
        list(unique.values()),
        list(unique.keys()),
        loc="outside lower center",
        ncols=min(len(unique), 6),
        frameon=False,
    )
    return save_figure(figure, path)


def plot_forecast(
    forecasts: pd.DataFrame,
    panel: Sequence[Series],
    path: Path,
    *,
    history: int | None = None,
    interval: str = "interval",
) -> Path:
    """Per series: the recent history, then the forecast with its interval as a fan.

    `forecasts` holds `forecast_next`'s rows; `history` is how many past steps to show
    (default: four horizons, at least 30).
    """
    import numpy as np

    if forecasts.empty:
        raise DataError("there are no forecasts to plot")
    known = {s.name: s for s in panel}
    names = [str(n) for n in dict.fromkeys(forecasts["series"].astype(str)) if str(n) in known]
    if not names:
        raise DataError("none of the forecast series is in the data; nothing to plot")
    names = names[:MAX_SERIES_PANELS]
    columns = _series_columns(len(names))
    rows = -(-len(names) // columns)
    figure = new_figure(7.5 * columns if columns > 1 else 11, max(4.5, 3.6 * rows + 0.8))
    origin_text = str(forecasts["origin"].max())
    figure.suptitle(f"forecast from {origin_text}: recent history and the next steps", fontsize=13)
    for axes, name in zip(_grid(figure, len(names), columns), names, strict=False):
        _style(axes)
        series = known[name]
        rows_of = forecasts[forecasts["series"].astype(str) == name].sort_values("step")
        horizon = len(rows_of)
        past = history or max(30, 4 * horizon)
        stamps = series.timestamps.to_numpy(dtype="datetime64[ns]")[-past:]
        levels = series.levels[-past:]
        axes.plot(stamps, levels, color=ACTUAL_COLOUR, linewidth=1.3, label="history")
        when = np.concatenate([stamps[-1:], _dates(rows_of["timestamp"].tolist())])
        median = np.concatenate([levels[-1:], rows_of["forecast"].to_numpy(np.float64)])
        lower = np.concatenate([levels[-1:], rows_of["lower"].to_numpy(np.float64)])
        upper = np.concatenate([levels[-1:], rows_of["upper"].to_numpy(np.float64)])
        axes.fill_between(
            when, lower, upper, color=NETWORK_COLOUR, alpha=0.22, linewidth=0, label=interval
        )
        axes.plot(
            when,
            median,
            color=NETWORK_COLOUR,
            linewidth=1.8,
            marker="o",
            ms=3.5,
            label="forecast (median)",
        )
        axes.axvline(stamps[-1], color="#999999", linewidth=0.8, linestyle=":")
        axes.set_title(name, loc="left", fontsize=11)
        _date_axis(axes)
    handles, labels = figure.axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False)
    return save_figure(figure, path)


# ---------------------------------------------------------------------------------------------
# nncli inspect


def plot_columns(frame: pd.DataFrame, report: InspectReport, path: Path) -> Path:
    """One panel per usable column: a histogram (numeric) or the top categories (bar chart)."""
    import numpy as np
    import pandas as pd

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
    from matplotlib.ticker import MaxNLocator  # after new_figure checked matplotlib is there

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
    for axes, column in zip(_grid(figure, len(columns), grid_columns), columns, strict=False):
        _style(axes)
        values = frame[column.name]
        colour = "#ff7f0e" if column.name == target else NETWORK_COLOUR
        if column.kind is ColumnKind.NUMERIC:
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
                axes.hist(
                    numbers, bins=bins, color=colour, alpha=0.85, edgecolor="white", linewidth=0.4
                )
            axes.set_ylabel("rows", fontsize=8)
        else:
            counts = values.dropna().astype(str).value_counts()
            top = counts.head(MAX_CATEGORY_BARS)
            labels = [label if len(label) <= 18 else label[:17] + "…" for label in top.index]
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
        name = column.name if len(column.name) <= 28 else column.name[:27] + "…"
        title = f"{name} ({column.kind}{', target' if column.name == target else ''})"
        if column.missing:
            title += f"\n{column.missing} missing"
        axes.set_title(title, fontsize=10, loc="left")
        axes.tick_params(labelsize=8)
    return save_figure(figure, path)


def step_returns(levels: np.ndarray) -> tuple[np.ndarray, str]:
    """Per-step log returns when every level is positive, else plain differences."""
    import numpy as np

    if len(levels) and (levels > 0).all():
        return np.diff(np.log(levels)), "log return"
    return np.diff(levels), "difference"


def plot_series(panel: Sequence[Series], path: Path, *, value: str, source: str) -> Path:
    """Each series' history, and the distribution of its per-step returns."""
    import numpy as np

    if not panel:
        raise DataError(f"{source}: no series to plot")
    shown = list(panel)[:MAX_SERIES_PANELS]
    figure = new_figure(12, 8.5)
    extra = "" if len(panel) <= len(shown) else f" (first {len(shown)} of {len(panel)} series)"
    figure.suptitle(f"{source}: {value} per series{extra}", fontsize=13)
    history_axes, returns_axes = figure.subplots(2, 1, gridspec_kw={"height_ratios": [1.4, 1]})
    _style(history_axes)
    _style(returns_axes)
    all_returns = []
    kinds = set()
    for series in shown:
        returns, kind = step_returns(series.levels)
        kinds.add(kind)
        all_returns.append(returns[np.isfinite(returns)])
    joined = np.concatenate(all_returns) if all_returns else np.zeros(0)
    # Shared bins, clipped to the central 99.8 % so a single crash does not squash the rest.
    low, high = np.quantile(joined, [0.001, 0.999]) if len(joined) else (0.0, 1.0)
    bins = np.linspace(low, high, 60) if high > low else 30
    log_scale = (
        all((s.levels > 0).all() for s in shown)
        and max(float(s.levels.max() / s.levels.min()) for s in shown) > 20
    )
    for index, (series, returns) in enumerate(zip(shown, all_returns, strict=True)):
        colour = f"C{index % 10}"
        history_axes.plot(
            series.timestamps.to_numpy(dtype="datetime64[ns]"),
            series.levels,
            color=colour,
            linewidth=1.0,
            label=series.name,
        )
        if len(returns):
            returns_axes.hist(
                np.clip(returns, low, high),
                bins=bins,
                histtype="step",
                linewidth=1.4,
                color=colour,
                density=True,
                label=f"{series.name}: sd {returns.std():.3g}",
            )
    if log_scale:
        from matplotlib.ticker import FuncFormatter

        history_axes.set_yscale("log")  # levels spanning decades read better as growth rates
        history_axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    history_axes.set_ylabel(value + (" (log scale)" if log_scale else ""))
    _date_axis(history_axes)
    history_axes.legend(loc="upper left", frameon=False, ncols=min(4, len(shown)))
    kind = kinds.pop() if len(kinds) == 1 else "step change"
    returns_axes.set_xlabel(
        f"per-step {kind} of {value} (the outer 0.1% on each side are counted in the end bins)"
    )
    returns_axes.set_ylabel("density")
    returns_axes.axvline(0, color="#888888", linewidth=0.8)
    returns_axes.legend(loc="upper right", frameon=False, fontsize=9)
    return save_figure(figure, path)


def interval_label(quantiles: Sequence[float]) -> str:
    """'80% interval (q0.1–q0.9)' from the trained quantiles."""
    low, high = min(quantiles), max(quantiles)
    return f"{high - low:.0%} interval (q{low:g}–q{high:g})"
