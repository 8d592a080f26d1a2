"""Training curves: loss per epoch with the best epoch marked, and the validation metric."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nncli.errors import DataError
from nncli.plots.figures import NETWORK_COLOUR, new_figure, save_figure, style_axes

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    from matplotlib.axes import Axes


def plot_training(history: Mapping[str, Any], path: Path, *, title: str) -> Path:
    """Train and validation loss per epoch (best epoch marked), and the validation metric.

    `history` is `History.to_dict()` (also stored as the model file's `history`).
    """
    import numpy as np

    records = history.get("epochs", [])
    if not records:
        raise DataError("no epochs were recorded; nothing to plot")
    epochs = np.array([r["epoch"] for r in records])
    valid_loss = np.array([r["valid_loss"] for r in records], dtype=np.float64)
    best = int(history.get("best_epoch") or epochs[np.nanargmin(valid_loss)])
    best_index = int(np.flatnonzero(epochs == best)[0])

    figure = new_figure(10, 7)
    from matplotlib.ticker import MaxNLocator  # after new_figure checked matplotlib is there

    figure.suptitle(title, fontsize=13)
    loss_axes, metric_axes = figure.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 1]}
    )
    style_axes(loss_axes)
    style_axes(metric_axes)
    _draw_losses(loss_axes, history, epochs, best, best_index)
    marker = "o" if len(epochs) <= 40 else None
    metric = np.array([r["valid_metric"] for r in records], dtype=np.float64)
    metric_name = str(history.get("metric") or "metric")
    metric_axes.axvline(best, color="#2ca02c", linestyle="--", linewidth=1.2)
    metric_axes.plot(epochs, metric, color="#9467bd", marker=marker, ms=3)
    metric_axes.plot([best], [metric[best_index]], marker="*", ms=13, color="#2ca02c")
    metric_axes.set_ylabel(f"validation\n{metric_name}")
    metric_axes.set_xlabel("epoch")
    metric_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    return save_figure(figure, path)


def _draw_losses(
    axes: Axes, history: Mapping[str, Any], epochs: np.ndarray, best: int, best_index: int
) -> None:
    """Both loss curves, the best epoch as a star, and the early-stopping tail shaded."""
    import numpy as np

    records = history["epochs"]
    train_loss = np.array([r["train_loss"] for r in records], dtype=np.float64)
    valid_loss = np.array([r["valid_loss"] for r in records], dtype=np.float64)
    marker = "o" if len(epochs) <= 40 else None
    axes.plot(epochs, train_loss, color="#ff7f0e", marker=marker, ms=3, label="training loss")
    axes.plot(
        epochs, valid_loss, color=NETWORK_COLOUR, marker=marker, ms=3, label="validation loss"
    )
    finite = np.concatenate([train_loss, valid_loss])
    finite = finite[np.isfinite(finite)]
    if len(finite) and finite.min() > 0 and finite.max() / finite.min() > 30:
        axes.set_yscale("log")  # early epochs would flatten everything else
    axes.axvline(best, color="#2ca02c", linestyle="--", linewidth=1.2)
    axes.plot(
        [best],
        [valid_loss[best_index]],
        marker="*",
        ms=15,
        color="#2ca02c",
        linestyle="none",
        label=f"best epoch {best} (validation loss {valid_loss[best_index]:.4g})",
    )
    if history.get("stopped_early") and epochs[-1] > best:
        axes.axvspan(
            best,
            epochs[-1],
            color="#999999",
            alpha=0.12,
            label=f"early stop: {epochs[-1] - best} epochs without improvement",
        )
    axes.set_ylabel("loss")
    axes.legend(loc="best", framealpha=0.92, edgecolor="#cccccc")
