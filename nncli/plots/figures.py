"""What every picture shares: the --plot checks, one figure style, and atomic saving.

matplotlib is an optional extra (`pip install 'nncli[plot]'`) imported only inside these
functions, and used through `matplotlib.figure.Figure` with the Agg renderer: no pyplot, no
global backend switch, no window. Every picture is written atomically (a temporary file,
then a rename), so a failure never leaves a half-written image behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nncli.errors import UsageError
from nncli.files import atomic_writer, check_output_path

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PLOT_FORMATS = ("png", "svg", "pdf")
INSTALL_HINT = "pip install 'nncli[plot]'"
DPI = 100
NETWORK_COLOUR = "#1f77b4"
ACTUAL_COLOUR = "#222222"
BASELINE_COLOURS = ("#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")


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


def style_axes(axes: Axes) -> None:
    """nncli's look: a light grid behind the data, no top or right frame."""
    axes.grid(True, color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def axes_grid(figure: Figure, panels: int, columns: int) -> list[Axes]:
    """`panels` axes in a grid of `columns` columns; the unused cells are hidden."""
    rows = -(-panels // columns)
    axes = figure.subplots(rows, columns, squeeze=False).ravel().tolist()
    for unused in axes[panels:]:
        unused.set_visible(False)
    return axes[:panels]
