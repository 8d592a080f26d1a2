"""Permutation importance of a tabular model: one entry per original input column.

A column is scored by how much `--metric` worsens when its values are shuffled across the
labelled rows: log loss (the default for classifiers: it moves with every probability, where
accuracy only moves when a prediction flips), accuracy or ROC-AUC; RMSE (the default for
regressors) or MAE. The loop itself is `nncli.explain`'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from nncli.errors import DataError, UsageError
from nncli.explain import (
    FEW_SAMPLES,
    NOISE_STDS,
    TABLE_METRICS,
    ExplainOptions,
    ExplainReport,
    FeatureGroup,
    checked,
    draw_permutations,
    permutation_importances,
)

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from nncli.data.preprocessing import EncodedFeatures
    from nncli.reporting import Reporter
    from nncli.tabular.model import TabularModel
    from nncli.tasks import Task

# The metric a table is explained by when --metric is not given.
DEFAULT_METRICS = {"classification": "log_loss", "regression": "rmse"}
MODELS = {"classification": "classifier", "regression": "regressor"}
# How each metric reads in the report's one-sentence description.
METRIC_WORDS = {
    "log_loss": "log loss",
    "roc_auc": "ROC-AUC",
    "rmse": "RMSE ({target} units)",
    "mae": "MAE ({target} units)",
}
Scorer = Callable[["np.ndarray", "np.ndarray"], float]


def explain_metric(metric: str | None, task: str) -> str:
    """The metric to explain a `task` model by: `metric` when it judges that task, the task's
    default when None; a metric of the other task is a usage error."""
    if metric is None:
        return DEFAULT_METRICS[task]
    if TABLE_METRICS[metric][0] != task:
        fitting = [name for name, (judges, _) in TABLE_METRICS.items() if judges == task]
        raise UsageError(
            f"--metric {metric} judges {MODELS[TABLE_METRICS[metric][0]]}s, but the model is "
            f"a {MODELS[task]}",
            hint=f"use one of {', '.join(fitting)} (default {DEFAULT_METRICS[task]})",
        )
    return metric


def metric_scorer(metric: str, task: Task, n_outputs: int) -> Scorer:
    """score(outputs, truth) for `metric`, on decoded outputs (probabilities or values)."""
    import numpy as np

    if metric == "roc_auc":
        from nncli.metrics import classification_metrics

        def roc_auc(outputs: np.ndarray, truth: np.ndarray) -> float:
            value = classification_metrics(truth, outputs, n_outputs)["roc_auc"]
            return float("nan") if value is None else value

        return roc_auc
    if metric == "mae":
        return lambda outputs, truth: float(np.mean(np.abs(outputs.astype(np.float64) - truth)))
    # The task's fast scores: (accuracy, log loss) or (RMSE, NaN).
    position = 1 if metric == "log_loss" else 0
    return lambda outputs, truth: task.fast_scores(outputs, truth)[position]


def explain_tabular(
    model: TabularModel,
    data: Path,
    options: ExplainOptions | None = None,
    *,
    reporter: Reporter | None = None,
) -> ExplainReport:
    """Permutation importance of every input column of a tabular model on labelled DATA."""
    from nncli.data.preprocessing import EncodedFeatures
    from nncli.tabular.evaluate import read_labelled_rows

    options, reporter = checked(options, reporter)
    task = model.task_rules
    metric = explain_metric(options.metric, task.name)
    if options.lag_blocks is not None or options.windows is not None:
        reporter.warn(
            "--lag-blocks and --windows apply to forecast models only; ignored for this table"
        )
    labelled = read_labelled_rows(
        model,
        data,
        options.csv,
        reporter,
        training_file_note="the importances include training rows and show what the model "
        "learned, not only what generalises",
    )
    encoded, truth = labelled.encoded, labelled.truth
    rows = len(truth)
    if rows < FEW_SAMPLES:
        reporter.warn(f"only {rows} labelled rows: the importances will be noisy")
    score = metric_scorer(metric, task, task.n_outputs(model.target))
    # The loss rises as the model gets worse, whichever way its metric points.
    sign = -1.0 if TABLE_METRICS[metric][1] else 1.0
    # The preprocessing works row by row with statistics fixed in training, so shuffling a
    # raw column and encoding it equals shuffling its encoded block: encode once, shuffle
    # blocks in place and put them back (no re-encoding, no copy of the table per shuffle).
    inputs = EncodedFeatures(encoded.numeric.copy(), encoded.categorical.copy())

    def loss() -> float:
        return sign * score(model.outputs(inputs), truth)

    if metric == "roc_auc" and math.isnan(loss()):  # it needs every class among the rows
        raise DataError(
            f"{data}: ROC-AUC is undefined on these rows: some of the model's classes "
            f"({', '.join(model.classes)}) have no row",
            hint="use --metric log_loss or accuracy, or rows of every class",
        )
    base, features = permutation_importances(
        _column_groups(model, inputs), draw_permutations(rows, options), loss
    )
    baseline = {metric: sign * base}
    return ExplainReport(
        kind="tabular",
        task=task.name,
        metric=metric,
        description=_description(model, metric, rows, options),
        baseline=baseline,
        samples=rows,
        repeats=options.repeats,
        seed=options.seed,
        features=features,
    )


def _column_groups(model: TabularModel, inputs: EncodedFeatures) -> list[FeatureGroup]:
    """One group per input column, over the encoded arrays the model reads.

    A numeric column owns its standardised value and, when present, its missing indicator;
    a categorical column owns one code (and so its whole embedding).
    """
    groups: list[FeatureGroup] = []
    position = 0
    for spec in model.preprocessor.numeric:
        width = 2 if spec.missing_indicator else 1
        columns = list(range(position, position + width))
        groups.append(FeatureGroup(spec.name, "numeric", inputs.numeric, (slice(None), columns)))
        position += width
    for index, category in enumerate(model.preprocessor.categorical):
        groups.append(
            FeatureGroup(category.name, category.kind, inputs.categorical, (slice(None), index))
        )
    return groups


def _description(model: TabularModel, metric: str, rows: int, options: ExplainOptions) -> str:
    """One sentence on how to read the importances."""
    words = METRIC_WORDS.get(metric, metric).format(target=model.target_name)
    change = "drop" if TABLE_METRICS[metric][1] else "rise"
    return (
        f"importance = the {change} in {words} when a column's values are shuffled across the "
        f"{rows} rows; mean and std over {options.repeats} shuffles; noise: within "
        f"{NOISE_STDS:g} std of 0"
    )
