"""Classification pictures: the confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from nncli.plots.figures import new_figure, save_figure

if TYPE_CHECKING:
    from pathlib import Path


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
