"""The honest comparisons: majority class / mean, and a linear model on the same split.

Each baseline is fitted on the training rows' (design, truth) and scored on the test rows'.
`Task.fit_baselines` picks the set for its task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nncli.metrics import classification_metrics, regression_metrics

if TYPE_CHECKING:
    from nncli.tasks import Rows


def classification_baselines(
    train: Rows, test: Rows, n_classes: int, seed: int
) -> dict[str, dict[str, Any]]:
    """The majority class and a logistic regression, scored on the test rows."""
    import warnings

    import numpy as np
    from sklearn.dummy import DummyClassifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    (train_design, train_truth), (test_design, test_truth) = train, test
    results: dict[str, dict[str, Any]] = {}
    for name, model in (
        ("majority class", DummyClassifier(strategy="prior")),
        ("logistic regression", LogisticRegression(max_iter=2000, random_state=seed)),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(train_design, train_truth)
        proba = np.zeros((test_design.shape[0], n_classes))  # shape: the design may be sparse
        proba[:, model.classes_] = model.predict_proba(test_design)
        results[name] = classification_metrics(test_truth, proba, n_classes)
    return results


def regression_baselines(train: Rows, test: Rows) -> dict[str, dict[str, Any]]:
    """The training mean and a ridge regression, scored on the test rows."""
    from sklearn.dummy import DummyRegressor
    from sklearn.linear_model import Ridge

    (train_design, train_truth), (test_design, test_truth) = train, test
    results: dict[str, dict[str, Any]] = {}
    for name, model in (
        ("mean", DummyRegressor(strategy="mean")),
        ("linear regression", Ridge(alpha=1.0)),
    ):
        model.fit(train_design, train_truth)
        results[name] = regression_metrics(test_truth, model.predict(test_design))
    return results
