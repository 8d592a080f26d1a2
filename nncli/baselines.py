"""The honest comparisons: majority class / mean, and a linear model on the same split."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nncli.metrics import classification_metrics, regression_metrics

if TYPE_CHECKING:
    import numpy as np


def tabular_baselines(
    task: str,
    train_design: np.ndarray,
    train_target: np.ndarray,
    test_design: np.ndarray,
    test_target: np.ndarray,
    n_classes: int,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """Fit the baselines on the training rows and score them on the test rows.

    Classification targets are class indices; regression targets are in original units.
    """
    import warnings

    import numpy as np
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, Ridge

    results: dict[str, dict[str, Any]] = {}
    if task == "classification":
        for name, model in (
            ("majority class", DummyClassifier(strategy="prior")),
            ("logistic regression", LogisticRegression(max_iter=2000, random_state=seed)),
        ):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(train_design, train_target)
            proba = np.zeros((test_design.shape[0], n_classes))  # shape: the design may be sparse
            proba[:, model.classes_] = model.predict_proba(test_design)
            results[name] = classification_metrics(test_target, proba, n_classes)
    else:
        for name, model in (
            ("mean", DummyRegressor(strategy="mean")),
            ("linear regression", Ridge(alpha=1.0)),
        ):
            model.fit(train_design, train_target)
            results[name] = regression_metrics(test_target, model.predict(test_design))
    return results
