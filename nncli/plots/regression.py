"""Regression pictures: predicted against actual values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nncli.plots.figures import NETWORK_COLOUR, new_figure, save_figure, style_axes

if TYPE_CHECKING:
    from pathlib import Path


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
    style_axes(axes)
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
