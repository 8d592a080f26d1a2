"""Permutation importance of a tabular model: one entry per original input column.

A column is scored by how much the task's primary metric worsens when its values are
shuffled across the labelled rows (accuracy falls, RMSE rises); classifiers also report the
rise in log loss, a finer signal on small data. The loop itself is `nncli.explain`'s.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from nncli.explain import (
    FEW_SAMPLES,
    ExplainOptions,
    ExplainReport,
    FeatureGroup,
    checked,
    draw_permutations,
    permutation_importances,
)

if TYPE_CHECKING:
    from pathlib import Path

    from nncli.data.preprocessing import EncodedFeatures
    from nncli.reporting import Reporter
    from nncli.tabular.model import TabularModel

# How each primary metric reads in the report's one-sentence description.
METRIC_WORDS = {"accuracy": "accuracy", "rmse": "RMSE ({target} units)"}


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
    task = model.task_rules
    # Losses rise as the model gets worse, whichever way its metric points.
    sign = -1.0 if task.higher_is_better else 1.0
    # The preprocessing works row by row with statistics fixed in training, so shuffling a
    # raw column and encoding it equals shuffling its encoded block: encode once, shuffle
    # blocks in place and put them back (no re-encoding, no copy of the table per shuffle).
    inputs = EncodedFeatures(encoded.numeric.copy(), encoded.categorical.copy())

    def losses() -> list[float]:
        primary, log_loss = task.fast_scores(model.outputs(inputs), truth)
        return [sign * primary, log_loss]

    base, features = permutation_importances(
        _column_groups(model, inputs), draw_permutations(rows, options), losses
    )
    baseline = {task.primary_metric: sign * base[0]}
    if not math.isnan(base[1]):
        baseline["log_loss"] = base[1]
    return ExplainReport(
        kind="tabular",
        task=task.name,
        metric=task.primary_metric,
        description=_description(model, task.higher_is_better, baseline, rows, options),
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


def _description(
    model: TabularModel,
    higher_is_better: bool,
    baseline: dict[str, float],
    rows: int,
    options: ExplainOptions,
) -> str:
    """One sentence on how to read the importances."""
    metric = next(iter(baseline))
    words = METRIC_WORDS.get(metric, metric).format(target=model.target_name)
    change = "drop" if higher_is_better else "rise"
    log_loss = " (and the rise in log loss)" if "log_loss" in baseline else ""
    return (
        f"importance = the {change} in {words}{log_loss} when a column's values are shuffled "
        f"across the {rows} rows; mean and std over {options.repeats} shuffles"
    )
