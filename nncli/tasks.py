"""What differs between classification and regression, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def class_indices(labels: pd.Series, classes: list[str]) -> np.ndarray:
    """Each label's position in `classes`; -1 for a label the model does not know."""
    import numpy as np
    import pandas as pd

    from nncli.data.preprocessing import category_strings

    return (
        pd.Index(classes, dtype=object)
        .get_indexer(category_strings(labels).astype(object))
        .astype(np.int64)
    )


def label_sort_key(label: str) -> tuple[int, float, str]:
    """Numeric labels in numeric order, then text labels alphabetically."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def score(task: str, outputs: np.ndarray, truth: np.ndarray, n_classes: int) -> dict[str, Any]:
    """The task's metrics of `outputs` (probabilities or predictions) against `truth`."""
    from nncli.metrics import classification_metrics, regression_metrics

    if task == "classification":
        return classification_metrics(truth, outputs, n_classes)
    return regression_metrics(truth, outputs)
