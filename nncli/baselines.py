"""The honest comparisons, fitted on the same split as the network and scored on its test rows.

Classification: the majority class, a logistic regression and gradient boosting
(scikit-learn's HistGradientBoostingClassifier, defaults); regression: the training mean, a
ridge regression and HistGradientBoostingRegressor. The linear models see the numeric
features and one-hot categories; gradient boosting sees the numeric features and the
category codes as native categories. `Task.fit_baselines` picks the set for its task.

`BaselineWorker` fits them in a separate process started when training starts: importing
scikit-learn (with SciPy, a second or more) and boosting then run beside the network's
training on another core instead of after it — on a small table that import was most of
the run.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nncli.metrics import classification_metrics, regression_metrics

if TYPE_CHECKING:
    import numpy as np

    from nncli.data.preprocessing import EncodedFeatures

# HistGradientBoosting treats a column as categorical only up to this many categories.
_MAX_NATIVE_CATEGORIES = 255


@dataclass
class BaselineData:
    """The training and test rows, as the network saw them, for the baselines."""

    train: EncodedFeatures
    train_truth: np.ndarray
    test: EncodedFeatures
    test_truth: np.ndarray
    cardinalities: list[int]

    def linear_designs(self) -> tuple[Any, Any]:
        return (self.train.one_hot(self.cardinalities), self.test.one_hot(self.cardinalities))

    def boosting_designs(self) -> tuple[np.ndarray, np.ndarray, list[bool]]:
        import numpy as np

        def design(features: EncodedFeatures) -> np.ndarray:
            return np.hstack([features.numeric, features.categorical.astype(np.float32)])

        native = [size <= _MAX_NATIVE_CATEGORIES for size in self.cardinalities]
        mask = [False] * self.train.numeric.shape[1] + native
        return design(self.train), design(self.test), mask


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


def _serve(connection: Any) -> None:
    """The worker process: import scikit-learn now, then fit the one request it receives."""
    import os
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends us
    # One OpenMP thread: boosting shares the machine with the network's training, and
    # spinning OpenMP pools on an oversubscribed machine is what collapses throughput.
    os.environ["OMP_NUM_THREADS"] = "1"
    import importlib

    for module in ("sklearn.ensemble", "sklearn.linear_model"):  # the import we overlap
        importlib.import_module(module)

    from nncli.tasks import task_for

    try:
        task_name, data, target, seed = connection.recv()
    except EOFError:  # the parent finished or failed before asking
        return
    try:
        reply: tuple[str, Any] = ("ok", task_for(task_name).fit_baselines(data, target, seed))
    except Exception as exc:  # reported to the parent, which raises it
        reply = ("error", f"{type(exc).__name__}: {exc}")
    connection.send(reply)


class BaselineWorker:
    """Fits the baselines in a child process that starts importing scikit-learn at once.

    Use as a context manager; `fit` sends the request and `result` waits for the metrics.
    When scikit-learn is already imported here (a long-lived process, the test suite) or
    the child cannot start or dies, the baselines are fitted in this process instead.
    """

    def __init__(self, in_child: bool | None = None) -> None:
        """`in_child`: True or False forces where they are fitted; None decides as above."""
        self._in_child = in_child
        self._process: Any = None
        self._connection: Any = None
        self._request: tuple[str, BaselineData, Any, int] | None = None

    def __enter__(self) -> BaselineWorker:
        import sys

        if not self._in_child and (self._in_child is False or "sklearn" in sys.modules):
            return self
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._connection, child_end = context.Pipe()
        try:
            self._process = context.Process(target=_serve, args=(child_end,), daemon=True)
            self._process.start()
        except OSError:
            self._process = None
        child_end.close()
        return self

    def fit(self, task_name: str, data: BaselineData, target: Any, seed: int) -> None:
        """Start fitting (in the child, when there is one)."""
        self._request = (task_name, data, target, seed)
        if self._process is not None:
            try:
                self._connection.send(self._request)
            except OSError:
                self._stop()

    def result(self) -> dict[str, dict[str, Any]]:
        """The baselines' test metrics, waiting for the child if it is still fitting."""
        from nncli.tasks import task_for

        assert self._request is not None, "fit() first"
        if self._process is not None:
            try:
                status, payload = self._connection.recv()
            except (EOFError, OSError):
                status, payload = "died", None
            if status == "ok":
                return payload
            if status == "error":
                raise RuntimeError(f"fitting the baselines failed: {payload}")
        from threadpoolctl import threadpool_limits

        task_name, data, target, seed = self._request
        # One OpenMP thread, as the child has: beside torch in this process, more would fight
        # its threads for the cores (the demo's boosting baseline: 31 s instead of 5 s).
        with threadpool_limits(1, user_api="openmp"):
            return task_for(task_name).fit_baselines(data, target, seed)

    @property
    def child_pid(self) -> int | None:
        """The worker process's PID while there is one."""
        return self._process.pid if self._process is not None else None

    def _stop(self) -> None:
        if self._process is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            if self._process.is_alive():
                self._process.terminate()
            self._process.join(timeout=5)
            self._process = None

    def __exit__(self, *exc_info: object) -> None:
        self._stop()
