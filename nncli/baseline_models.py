"""The honest comparisons, fitted on the same split as the network and scored on its test rows.

Classification: the majority class, a logistic regression and gradient boosting
(scikit-learn's HistGradientBoostingClassifier, defaults); regression: the training mean, a
ridge regression and HistGradientBoostingRegressor. The linear models see the numeric
features and one-hot categories; gradient boosting sees the numeric features and the
category codes as native categories. `Task.fit_baselines` picks the set for its task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nncli.metrics import classification_metrics, regression_metrics

if TYPE_CHECKING:
    from nncli.baselines import BaselineData


def classification_baselines(
    data: BaselineData, n_classes: int, seed: int
) -> dict[str, dict[str, Any]]:
    """The majority class, a logistic regression and gradient boosting."""
    import warnings

    import numpy as np
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    linear_train, linear_test = data.linear_designs()
    boost_train, boost_test, categorical = data.boosting_designs()
    results: dict[str, dict[str, Any]] = {}
    for name, model, train, test in (
        ("majority class", DummyClassifier(strategy="prior"), linear_train, linear_test),
        (
            "logistic regression",
            LogisticRegression(max_iter=2000, random_state=seed),
            linear_train,
            linear_test,
        ),
        (
            "gradient boosting",
            HistGradientBoostingClassifier(categorical_features=categorical, random_state=seed),
            boost_train,
            boost_test,
        ),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(train, data.train_truth)
        proba = np.zeros((test.shape[0], n_classes))  # shape: the design may be sparse
        proba[:, model.classes_] = model.predict_proba(test)
        results[name] = classification_metrics(data.test_truth, proba, n_classes)
    return results


def regression_baselines(data: BaselineData, seed: int) -> dict[str, dict[str, Any]]:
    """The training mean, a ridge regression and gradient boosting."""
    from sklearn.dummy import DummyRegressor
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import Ridge

    linear_train, linear_test = data.linear_designs()
    boost_train, boost_test, categorical = data.boosting_designs()
    results: dict[str, dict[str, Any]] = {}
    for name, model, train, test in (
        ("mean", DummyRegressor(strategy="mean"), linear_train, linear_test),
        ("linear regression", Ridge(alpha=1.0), linear_train, linear_test),
        (
            "gradient boosting",
            HistGradientBoostingRegressor(categorical_features=categorical, random_state=seed),
            boost_train,
            boost_test,
        ),
    ):
        model.fit(train, data.train_truth)
        results[name] = regression_metrics(data.test_truth, model.predict(test))
    return results
