"""The honest comparisons' data and the process that fits them.

`BaselineData` is the network's split, encoded as the network saw it. The models (majority
class or mean, linear, gradient boosting) are in `nncli.baseline_models`, below `nncli.tasks`
whose `Task.fit_baselines` picks the set for its task; the worker asks a task, so it sits above.

`BaselineWorker` fits them in a separate process started when training starts: importing
scikit-learn (with SciPy, a second or more) and boosting then run beside the network's
training on another core instead of after it — on a small table that import was most of
the run.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
