"""--epoch-folds: the final refit's epoch count from folds of train+validation.

One validation split of a small table is a noisy judge of when to stop: 42 validation rows
of a 263-row table put one seed's best epoch at 5 where its other folds put it at 8-41.
Averaging the validation curves of k folds (each trained for the whole planned budget, so
every epoch is averaged over every fold) and refitting for the mean curve's best epoch is
the cross-validated choice of a training length (as scikit-learn's `*CV` estimators choose
a regularisation strength).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from nncli.errors import UsageError

if TYPE_CHECKING:
    from nncli.tabular.train import PreparedTable

MIN_FOLD_ROWS = 2  # validation rows per fold: one row gives a curve of 0s and 1s


def check_fold_rows(n_rows: int, folds: int) -> None:
    """A UsageError where `n_rows` train+validation rows cannot fill `folds` folds."""
    if n_rows < folds * MIN_FOLD_ROWS:
        raise UsageError(
            f"--epoch-folds {folds} needs at least {folds * MIN_FOLD_ROWS} train+validation "
            f"rows, and the table has {n_rows}",
            hint=f"use at most --epoch-folds {max(1, n_rows // MIN_FOLD_ROWS)}",
        )


def fold_validation_rows(
    n_rows: int, folds: int, seed: int, classes: np.ndarray | None = None
) -> list[np.ndarray]:
    """Each fold's validation row indices: a seeded partition of `range(n_rows)` into
    `folds` parts of near-equal size, stratified by `classes` (class indices) when given."""
    check_fold_rows(n_rows, folds)
    rng = np.random.default_rng(seed)
    groups = (
        [np.arange(n_rows)]
        if classes is None
        else [np.flatnonzero(classes == c) for c in np.unique(classes)]
    )
    fold_of_row = np.empty(n_rows, dtype=np.int64)
    dealt = 0  # deal each class on from where the last one stopped, so fold sizes even out
    for rows in groups:
        fold_of_row[rng.permutation(rows)] = (np.arange(len(rows)) + dealt) % folds
        dealt += len(rows)
    return [np.flatnonzero(fold_of_row == fold) for fold in range(folds)]


def fold_table(table: PreparedTable, valid_rows: np.ndarray) -> PreparedTable:
    """`table` (whose training part is train+validation) with `valid_rows` of its training
    part as the validation part and the rest as the training part.

    The preprocessing stays the one fitted on train+validation: it learns no target, and
    refitting it per fold would cost more than the folds' epoch count could gain.
    """
    from nncli.data.preprocessing import EncodedFeatures

    everything = table.encoded["train"]
    train_rows = np.setdiff1d(np.arange(len(table.truth["train"])), valid_rows)

    def rows(index: np.ndarray) -> EncodedFeatures:
        return EncodedFeatures(everything.numeric[index], everything.categorical[index])

    return replace(
        table,
        encoded={**table.encoded, "train": rows(train_rows), "valid": rows(valid_rows)},
        truth={
            **table.truth,
            "train": table.truth["train"][train_rows],
            "valid": table.truth["train"][valid_rows],
        },
    )


def best_mean_epoch(
    metric_curves: list[list[float]], loss_curves: list[list[float]], higher_is_better: bool
) -> int:
    """The 1-based epoch whose validation metric, averaged over the folds, is best; ties go
    to the lower mean validation loss, then to the earlier epoch. Curves are cut to the
    shortest (every fold runs the same budget; a diverged one may stop sooner)."""
    length = min(len(curve) for curve in metric_curves)
    metric = np.mean([curve[:length] for curve in metric_curves], axis=0)
    loss = np.mean([curve[:length] for curve in loss_curves], axis=0)
    badness = -metric if higher_is_better else metric
    # lexsort sorts by its last key first: badness, then loss, then the epoch itself.
    return int(np.lexsort((np.arange(length), loss, badness))[0]) + 1
