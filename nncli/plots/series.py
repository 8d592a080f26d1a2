"""Time-series pictures: each series' history and returns, a backtest's folds, a forecast."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nncli.errors import DataError
from nncli.plots.figures import (
    ACTUAL_COLOUR,
    BASELINE_COLOURS,
    NETWORK_COLOUR,
    axes_grid,
    new_figure,
    save_figure,
    style_axes,
)

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from nncli.forecasting.backtest import FoldForecast
    from nncli.forecasting.series import Series

MAX_SERIES_PANELS = 12


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

    `arch` names the forecaster as the backtest's tables do ("N-HITS"); `panel` adds the actual history before the first origin (`context` steps; default three
    horizons) and between folds.
    """
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
        f"walk-forward backtest: {arch} vs baselines, {folds} fold(s){shown}", fontsize=13
    )
    baseline_names = sorted({name for f in forecasts for name in f.baselines})
    colours = {
        name: BASELINE_COLOURS[i % len(BASELINE_COLOURS)] for i, name in enumerate(baseline_names)
    }
    for axes, name in zip(axes_grid(figure, len(names), columns), names, strict=False):
        style_axes(axes)
        items = sorted(by_series[name], key=lambda f: f.fold)
        series = known.get(name)
        if series is not None:
            _draw_actual_context(axes, series, items, context)
        for item in items:
            _draw_fold(axes, item, series, colours, arch, interval)
        axes.set_title(name, loc="left", fontsize=11)
        _date_axis(axes)
    _shared_legend(figure)
    return save_figure(figure, path)


def _draw_actual_context(
    axes: Axes, series: Series, items: list[FoldForecast], context: int | None
) -> None:
    """The actual levels from `context` steps (default three horizons) before the first
    origin to the last forecast step."""
    import numpy as np

    horizon = len(items[0].timestamps)
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


def _draw_fold(
    axes: Axes,
    item: FoldForecast,
    series: Series | None,
    colours: dict[str, str],
    arch: str,
    interval: str,
) -> None:
    """One fold: its interval, its forecast and the baselines, each joined to the level at
    the origin when the series is known (else the fold's own actuals are drawn)."""
    import numpy as np

    when = _dates(item.timestamps)
    if series is None:
        axes.plot(when, item.actual, color=ACTUAL_COLOUR, linewidth=1.3, label="actual")
    origin = _dates([item.origin])
    anchor: list[float] = []
    when_joined = when
    if series is not None:
        # Join each forecast to the last value it was made from.
        stamps = series.timestamps.to_numpy(dtype="datetime64[ns]")
        anchor = [float(series.levels[int(np.searchsorted(stamps, origin[0]))])]
        when_joined = np.concatenate([origin, when])
    axes.fill_between(
        when_joined,
        [*anchor, *item.lower],
        [*anchor, *item.upper],
        color=NETWORK_COLOUR,
        alpha=0.2,
        linewidth=0,
        label=f"{arch} {interval}",
    )
    axes.plot(
        when_joined,
        [*anchor, *item.forecast],
        color=NETWORK_COLOUR,
        linewidth=1.6,
        label=f"{arch} forecast",
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


def _shared_legend(figure: Figure) -> None:
    """One legend under all panels, each label once."""
    handles, labels = figure.axes[0].get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    figure.legend(
        list(unique.values()),
        list(unique.keys()),
        loc="outside lower center",
        ncols=min(len(unique), 6),
        frameon=False,
    )


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
    for axes, name in zip(axes_grid(figure, len(names), columns), names, strict=False):
        style_axes(axes)
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
    style_axes(history_axes)
    style_axes(returns_axes)
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
