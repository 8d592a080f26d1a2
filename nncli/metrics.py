"""Metrics as pure NumPy functions of labels/targets and predictions.

They compute what scikit-learn's functions of the same names compute (a unit test checks
them against scikit-learn on random inputs), without importing scikit-learn: its import
(with SciPy's statistics) costs a second or more, which is most of a small table's run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, n_classes: int
) -> dict[str, float | None]:
    """Accuracy, balanced accuracy, macro F1, ROC-AUC (OvR for multiclass) and log loss.

    `y_true` holds class indices, `proba` is [rows, n_classes]. ROC-AUC is None when the
    labels hold a single class.
    """
    import numpy as np

    y_true = np.asarray(y_true, dtype=np.int64)
    predicted = proba.argmax(axis=1)
    proba = np.clip(proba.astype(np.float64), 1e-15, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    matrix = _confusion_matrix(y_true, predicted, n_classes)
    support = matrix.sum(axis=1)
    recall = np.divide(np.diag(matrix), support, out=np.zeros(n_classes), where=support > 0)
    result: dict[str, float | None] = {
        "accuracy": float((predicted == y_true).mean()),
        "balanced_accuracy": float(recall[support > 0].mean()),
        "f1_macro": float(_precision_recall_f1(matrix)[2].mean()),
        "log_loss": float(-np.log(proba[np.arange(len(y_true)), y_true]).mean()),
        "roc_auc": None,
    }
    present = np.unique(y_true)
    if len(present) >= 2:
        if n_classes == 2:
            result["roc_auc"] = _binary_auc(y_true == 1, proba[:, 1])
        elif len(present) == n_classes:
            aucs = [_binary_auc(y_true == c, proba[:, c]) for c in range(n_classes)]
            result["roc_auc"] = float(np.mean(aucs))
    return result


def _confusion_matrix(y_true: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    import numpy as np

    flat = np.asarray(y_true, dtype=np.int64) * n_classes + np.asarray(predicted, dtype=np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _precision_recall_f1(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall and F1 of a confusion matrix; 0 where undefined."""
    import numpy as np

    hits = np.diag(matrix).astype(np.float64)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    zeros = np.zeros_like(hits)
    precision = np.divide(hits, predicted, out=zeros.copy(), where=predicted > 0)
    recall = np.divide(hits, actual, out=zeros.copy(), where=actual > 0)
    denominator = predicted + actual  # 2tp + fp + fn
    f1 = np.divide(2 * hits, denominator, out=zeros.copy(), where=denominator > 0)
    return precision, recall, f1


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve: the Mann-Whitney statistic, ties counted as one half."""
    import numpy as np

    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score), dtype=np.float64)
    sorted_scores = score[order]
    # Average ranks over runs of equal scores.
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(score)]])
    run_rank = (starts + ends + 1) / 2.0  # 1-based average rank of each run
    ranks[order] = np.repeat(run_rank, ends - starts)
    n_pos = int(positive.sum())
    n_neg = len(score) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def confusion(y_true: np.ndarray, predicted: np.ndarray, n_classes: int) -> list[list[int]]:
    """The confusion matrix, rows = true class, columns = predicted class."""
    matrix = _confusion_matrix(y_true, predicted, n_classes)
    return [[int(cell) for cell in row] for row in matrix]


def per_class_scores(
    y_true: np.ndarray, predicted: np.ndarray, classes: list[str]
) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each class, keyed by its label."""
    matrix = _confusion_matrix(y_true, predicted, len(classes))
    precision, recall, f1 = _precision_recall_f1(matrix)
    support = matrix.sum(axis=1)
    return {
        label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for label, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    }


def regression_metrics(y_true: np.ndarray, predicted: np.ndarray) -> dict[str, float | None]:
    """RMSE, MAE, R² and MAPE (MAPE is None when a true value is zero)."""
    import numpy as np

    y_true = np.asarray(y_true, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    error = predicted - y_true
    mape: float | None = None
    if np.all(np.abs(y_true) > 1e-12):
        mape = float(np.mean(np.abs(error) / np.abs(y_true)))
    r2: float | None = None
    if len(y_true) > 1:
        residual, total = float(np.sum(error**2)), float(np.sum((y_true - y_true.mean()) ** 2))
        # As scikit-learn: a constant truth scores 1 when predicted exactly, else 0.
        r2 = 1.0 - residual / total if total > 0 else (1.0 if residual == 0 else 0.0)
    return {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "r2": r2,
        "mape": mape,
    }


def summarize_metrics(metrics: dict[str, Any]) -> str:
    """A compact `name=value` line for logs."""
    return ", ".join(f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, float))
