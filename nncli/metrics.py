"""Metrics, thin over scikit-learn. Pure functions of labels/targets and predictions."""

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
    from sklearn import metrics

    labels = list(range(n_classes))
    predicted = proba.argmax(axis=1)
    proba = np.clip(proba.astype(np.float64), 1e-15, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    result: dict[str, float | None] = {
        "accuracy": float(metrics.accuracy_score(y_true, predicted)),
        "balanced_accuracy": float(_balanced_accuracy(y_true, predicted)),
        "f1_macro": float(
            metrics.f1_score(y_true, predicted, average="macro", labels=labels, zero_division=0)
        ),
        "log_loss": float(metrics.log_loss(y_true, proba, labels=labels)),
        "roc_auc": None,
    }
    present = np.unique(y_true)
    if len(present) >= 2:
        if n_classes == 2:
            result["roc_auc"] = float(metrics.roc_auc_score(y_true, proba[:, 1]))
        elif len(present) == n_classes:
            result["roc_auc"] = float(
                metrics.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels)
            )
    return result


def _balanced_accuracy(y_true: np.ndarray, predicted: np.ndarray) -> float:
    import warnings

    from sklearn import metrics

    with warnings.catch_warnings():  # sklearn warns when a predicted class is absent from y_true
        warnings.simplefilter("ignore", UserWarning)
        return float(metrics.balanced_accuracy_score(y_true, predicted))


def confusion(y_true: np.ndarray, predicted: np.ndarray, n_classes: int) -> list[list[int]]:
    """The confusion matrix, rows = true class, columns = predicted class."""
    from sklearn import metrics

    matrix = metrics.confusion_matrix(y_true, predicted, labels=list(range(n_classes)))
    return [[int(cell) for cell in row] for row in matrix]


def per_class_scores(
    y_true: np.ndarray, predicted: np.ndarray, classes: list[str]
) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each class, keyed by its label."""
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, predicted, labels=list(range(len(classes))), zero_division=0
    )
    return {
        label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for label, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    }


def regression_metrics(y_true: np.ndarray, predicted: np.ndarray) -> dict[str, float | None]:
    """RMSE, MAE, R² and MAPE (MAPE is None when a true value is zero)."""
    import numpy as np
    from sklearn import metrics

    y_true = np.asarray(y_true, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    mape: float | None = None
    if np.all(np.abs(y_true) > 1e-12):
        mape = float(metrics.mean_absolute_percentage_error(y_true, predicted))
    return {
        "rmse": float(metrics.root_mean_squared_error(y_true, predicted)),
        "mae": float(metrics.mean_absolute_error(y_true, predicted)),
        "r2": float(metrics.r2_score(y_true, predicted)) if len(y_true) > 1 else None,
        "mape": mape,
    }


def summarize_metrics(metrics: dict[str, Any]) -> str:
    """A compact `name=value` line for logs."""
    return ", ".join(f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, float))
