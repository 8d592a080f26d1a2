"""Pictures for `--plot FILE.png`, grouped by what they draw.

- `figures`: the --plot checks, one figure style, atomic saving (shared by all below);
- `training`: loss curves; `classification`: the confusion matrix; `regression`: predicted
  against actual; `series`: each series' history, a backtest's folds, a forecast;
  `columns`: a table's columns as a grid of charts, and terminal sparklines.

Each `plot_*` function takes the data a library function already returned (a History
dict, an EvaluationReport's numbers, a backtest's FoldForecasts, forecast rows and the
panel) and a path; none of them trains or scores anything. matplotlib (an optional extra)
is imported only inside them, so importing this package stays cheap.
"""

from nncli.plots.classification import plot_confusion_matrix
from nncli.plots.columns import distribution_sparklines, plot_columns
from nncli.plots.figures import (
    INSTALL_HINT,
    PLOT_FORMATS,
    check_plot_path,
    new_figure,
    require_matplotlib,
    save_figure,
)
from nncli.plots.regression import plot_predicted_vs_actual
from nncli.plots.series import (
    interval_label,
    plot_backtest,
    plot_forecast,
    plot_series,
    step_returns,
)
from nncli.plots.training import plot_training

__all__ = [
    "INSTALL_HINT",
    "PLOT_FORMATS",
    "check_plot_path",
    "distribution_sparklines",
    "interval_label",
    "new_figure",
    "plot_backtest",
    "plot_columns",
    "plot_confusion_matrix",
    "plot_forecast",
    "plot_predicted_vs_actual",
    "plot_series",
    "plot_training",
    "require_matplotlib",
    "save_figure",
    "step_returns",
]
