"""What differs between classification and regression, in one place (as skorch splits its
classifier from its regressor).

`task_for(name)` returns the `Task` for "classification" or "regression" (`TASKS`,
`TASK_NAMES`); callers ask it instead of testing the task's name. A task knows:

- its `name`, its `primary_metric` and which direction is better (`higher_is_better`,
  `better`, `worsening`, `best_of`), and the `metric_columns` a metrics table shows;
- the target: `read_target` (every row's truth and the target's metadata, e.g. the sorted
  classes), `fit_target` (adds the training rows' mean and std for regression), `truth`
  (new rows' labels against a trained target; `unknown` marks labels the model does not
  know), `check_target` (a model file's target is complete), `stratify_by` (the labels a
  stratified split keeps balanced);
- the network's side: `n_outputs`, `loss` (cross-entropy, optionally class-weighted, or
  MSE), `encode` (truth -> training tensor: class indices or standardised values),
  `decode` (raw outputs -> softmax probabilities or predictions in target units) and the
  `validation_metric` early stopping reports;
- the judging: `score` (every metric), `fast_scores` (primary metric and log loss without
  scikit-learn, for permutation loops), `fit_baselines`, `overfitting_warning`, the
  `breakdown` of an evaluation (confusion and per-class scores, or per-row points) and the
  `prediction_columns` that `predict` writes.

`Target` is the model file's `metadata["target"]`: {"name", "classes"} for classification,
{"name", "mean", "std"} for regression. Heavy libraries are imported inside the methods, so
importing this module stays cheap (the CLI imports it at start-up).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from nncli.errors import DataError

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import pandas as pd
    import torch
    from torch import nn

    from nncli.baselines import BaselineData
    from nncli.data.loading import CsvOptions

OVERFITTING_HINT = "try more --dropout, --weight-decay or a smaller --hidden"
# The model file's metadata["target"]: {"name", "classes"} or {"name", "mean", "std"}.
Target = dict[str, Any]
# Metric name -> value (None where undefined, e.g. ROC-AUC on one class).
Metrics = dict[str, Any]


def class_indices(
    labels: pd.Series, classes: list[str], path: Path | None = None, csv: CsvOptions | None = None
) -> np.ndarray:
    """Each label's position in `classes`; -1 for a label the model does not know.

    Labels match as written (`labels_as_written`: 'TRUE', '1.0', ' a', read from `path`
    with the options `csv`).
    """
    from nncli.data.labels import labels_as_written

    return written_class_indices(labels_as_written(labels, path, csv), classes)


def written_class_indices(written: pd.Series, classes: list[str]) -> np.ndarray:
    """Each label text's position in `classes` (-1: unknown). A label that matches no class
    exactly matches the class spelling the same value (`label_key`: 'TRUE' and 'true', '1.0'
    and '1', ' a' and 'a'), as models trained before labels kept their spelling stored them.
    """
    import numpy as np
    import pandas as pd

    indices = pd.Index(classes, dtype=object).get_indexer(written.astype(object))
    unmatched = (indices < 0) & written.notna().to_numpy()
    keys = [label_key(label) for label in classes]
    if unmatched.any() and len(set(keys)) == len(keys):
        spelled = written[unmatched].astype(str)
        distinct = pd.unique(spelled)  # the key of each distinct spelling, not of each row
        loose = pd.Index(keys, dtype=object).get_indexer([label_key(text) for text in distinct])
        indices[unmatched] = pd.Series(loose, index=distinct).loc[spelled].to_numpy()
    return np.asarray(indices, dtype=np.int64)


def label_key(label: str) -> str:
    """A label's value whatever its spelling: '1.0', '1' and ' 1' give '1'; 'TRUE' gives
    'true'; other text loses its surrounding spaces."""
    text = label.strip()
    if text.lower() in {"true", "false"}:
        return text.lower()
    try:
        number = float(text)
    except ValueError:
        return text
    if number.is_integer() and abs(number) < 2**63:
        return str(int(number))
    return repr(number)


def label_sort_key(label: str) -> tuple[int, float, str]:
    """Numeric labels in numeric order, then text labels alphabetically."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


@dataclass
class Breakdown:
    """The per-class or per-row detail of an evaluation, beside its metrics."""

    confusion_matrix: list[list[int]] | None = None
    classes: list[str] = field(default_factory=list)
    per_class: dict[str, dict[str, float]] | None = None
    # Regression only: (actual, predicted) per row, for `evaluate --plot`.
    points: tuple[list[float], list[float]] | None = None


class Task:
    """The behaviour that depends on the learning task; see the module docstring."""

    name: ClassVar[str]
    primary_metric: ClassVar[str]
    higher_is_better: ClassVar[bool]
    metric_columns: ClassVar[tuple[str, ...]]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def better(self, value: float, reference: float) -> bool:
        """Whether `value` of the primary metric beats `reference`."""
        return value > reference if self.higher_is_better else value < reference

    def worsening(self, reference: float, value: float) -> float:
        """How much worse `value` is than `reference` (positive: worse), in metric units."""
        return reference - value if self.higher_is_better else value - reference

    def best_of(self, scores: dict[str, Metrics]) -> str:
        """The name whose primary metric is best (the first one on ties)."""
        sign = -1.0 if self.higher_is_better else 1.0
        return min(scores, key=lambda name: sign * scores[name][self.primary_metric])

    # --- the target -------------------------------------------------------------------
    def read_target(
        self, labels: pd.Series, path: Path, column: str, csv: CsvOptions | None = None
    ) -> tuple[np.ndarray, Target]:
        """Every row's truth and the target's metadata (before `fit_target`); `labels` were
        read from `path` with the options `csv`."""
        raise NotImplementedError

    def fit_target(self, target: Target, train_truth: np.ndarray) -> Target:
        """The target's metadata completed from the training rows' truth."""
        return target

    def truth(
        self, labels: pd.Series, target: Target, path: Path, csv: CsvOptions | None = None
    ) -> np.ndarray:
        """The truth of new rows, for a trained target (see `unknown`)."""
        raise NotImplementedError

    def check_target(self, target: Target) -> None:
        """Raise KeyError, TypeError or ValueError when a model file's target is incomplete."""
        _ = str(target["name"])

    def unknown(self, truth: np.ndarray) -> np.ndarray:
        """A mask of the rows whose label the trained model does not know."""
        import numpy as np

        return np.zeros(len(truth), dtype=bool)

    def stratify_by(self, truth: np.ndarray, target: Target) -> pd.Series | None:
        """The labels a stratified split keeps balanced, from `read_target`'s truth and
        target (None: nothing to stratify)."""
        return None

    # --- the network ------------------------------------------------------------------
    def n_outputs(self, target: Target) -> int:
        """How many outputs the network has."""
        raise NotImplementedError

    def loss(
        self, target: Target, train_truth: np.ndarray, *, class_weights: bool = False
    ) -> nn.Module:
        """The training loss (`class_weights`: weight classes by inverse frequency)."""
        raise NotImplementedError

    def encode(self, truth: np.ndarray, target: Target) -> torch.Tensor:
        """The truth as the training target tensor the loss compares outputs with."""
        raise NotImplementedError

    def decode(self, raw: np.ndarray, target: Target) -> np.ndarray:
        """Raw network outputs [rows, outputs] (float32) as probabilities [rows, classes] or
        predictions [rows]."""
        raise NotImplementedError

    def validation_metric(self, target: Target) -> Callable[[torch.Tensor, torch.Tensor], float]:
        """The primary metric on raw outputs and encoded targets, for early stopping's report."""
        raise NotImplementedError

    # --- judging ----------------------------------------------------------------------
    def score(self, outputs: np.ndarray, truth: np.ndarray, target: Target) -> Metrics:
        """Every metric of decoded `outputs` against `truth`."""
        raise NotImplementedError

    def fast_scores(self, outputs: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
        """(primary metric, log loss or NaN) computed directly, for loops that score often."""
        raise NotImplementedError

    def row_errors(self, outputs: np.ndarray, truth: np.ndarray) -> np.ndarray:
        """Each row's error, whose mean is the primary metric's error (1 - accuracy, or the
        squared error under the RMSE): two models compared row by row on the same rows."""
        raise NotImplementedError

    def fit_baselines(self, data: BaselineData, target: Target, seed: int) -> dict[str, Metrics]:
        """The simple models' metrics: each fitted on the training rows, scored on the test rows."""
        raise NotImplementedError

    def overfitting_warning(self, train: Metrics, valid: Metrics) -> str | None:
        """A warning when the training metrics are far better than the validation ones."""
        raise NotImplementedError

    def breakdown(self, outputs: np.ndarray, truth: np.ndarray, target: Target) -> Breakdown:
        """The per-class (confusion, precision/recall) or per-row detail of an evaluation."""
        raise NotImplementedError

    def prediction_columns(
        self, outputs: np.ndarray, target: Target, *, proba: bool = False
    ) -> dict[str, Any]:
        """The columns `predict` writes: the prediction (and, with `proba`, probabilities)."""
        raise NotImplementedError


class ClassificationTask(Task):
    """Labels: cross-entropy over class indices, softmax probabilities, accuracy."""

    name = "classification"
    primary_metric = "accuracy"
    higher_is_better = True
    metric_columns = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss")

    def read_target(
        self, labels: pd.Series, path: Path, column: str, csv: CsvOptions | None = None
    ) -> tuple[np.ndarray, Target]:
        from nncli.data.labels import labels_as_written

        # As written: 'TRUE', '1.0', '007' and ' a' are predicted back spelled so.
        written = labels_as_written(labels, path, csv)
        classes = sorted(written.dropna().unique().tolist(), key=label_sort_key)
        if len(classes) < 2:
            raise DataError(
                f"{path}: target {column!r} has a single class ({classes[0]!r})",
                hint="classification needs at least two classes",
            )
        return written_class_indices(written, classes), {"name": column, "classes": classes}

    def truth(
        self, labels: pd.Series, target: Target, path: Path, csv: CsvOptions | None = None
    ) -> np.ndarray:
        return class_indices(labels, list(target["classes"]), path, csv)

    def unknown(self, truth: np.ndarray) -> np.ndarray:
        return truth < 0

    def stratify_by(self, truth: np.ndarray, target: Target) -> pd.Series | None:
        import numpy as np
        import pandas as pd

        # Each row's class as written: the split orders classes by that text.
        return pd.Series(np.asarray(target["classes"], dtype=object)[truth])

    def n_outputs(self, target: Target) -> int:
        return len(target["classes"])

    def loss(
        self, target: Target, train_truth: np.ndarray, *, class_weights: bool = False
    ) -> nn.Module:
        import numpy as np
        import torch
        from torch import nn

        weight = None
        if class_weights:
            n_classes = self.n_outputs(target)
            counts = np.bincount(train_truth, minlength=n_classes).astype(np.float64)
            weight = torch.tensor(
                counts.sum() / (n_classes * np.maximum(counts, 1)), dtype=torch.float32
            )
        return nn.CrossEntropyLoss(weight=weight)

    def encode(self, truth: np.ndarray, target: Target) -> torch.Tensor:
        import torch

        return torch.from_numpy(truth)

    def decode(self, raw: np.ndarray, target: Target) -> np.ndarray:
        import numpy as np

        shifted = np.exp(raw - raw.max(axis=1, keepdims=True))  # softmax, as torch's
        return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32, copy=False)

    def validation_metric(self, target: Target) -> Callable[[torch.Tensor, torch.Tensor], float]:
        def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
            return float((outputs.argmax(dim=1) == targets).float().mean())

        return accuracy

    def score(self, outputs: np.ndarray, truth: np.ndarray, target: Target) -> Metrics:
        from nncli.metrics import classification_metrics

        return classification_metrics(truth, outputs, self.n_outputs(target))

    def fast_scores(self, outputs: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
        import numpy as np

        accuracy = float((outputs.argmax(axis=1) == truth).mean())
        # Clipped and renormalised as nncli.metrics.classification_metrics does.
        proba = np.clip(outputs.astype(np.float64), 1e-15, 1.0)
        proba /= proba.sum(axis=1, keepdims=True)
        log_loss = float(-np.log(proba[np.arange(len(truth)), truth]).mean())
        return accuracy, log_loss

    def row_errors(self, outputs: np.ndarray, truth: np.ndarray) -> np.ndarray:
        import numpy as np

        return (outputs.argmax(axis=1) != truth).astype(np.float64)

    def fit_baselines(self, data: BaselineData, target: Target, seed: int) -> dict[str, Metrics]:
        from nncli.baseline_models import classification_baselines

        return classification_baselines(data, self.n_outputs(target), seed)

    def overfitting_warning(self, train: Metrics, valid: Metrics) -> str | None:
        if train["accuracy"] - valid["accuracy"] > 0.1:
            return (
                f"overfitting: train accuracy {train['accuracy']:.3f} vs validation "
                f"{valid['accuracy']:.3f}; {OVERFITTING_HINT}"
            )
        return None

    def breakdown(self, outputs: np.ndarray, truth: np.ndarray, target: Target) -> Breakdown:
        from nncli.metrics import confusion, per_class_scores

        classes = list(target["classes"])
        predicted = outputs.argmax(axis=1)
        return Breakdown(
            confusion_matrix=confusion(truth, predicted, len(classes)),
            classes=classes,
            per_class=per_class_scores(truth, predicted, classes),
        )

    def prediction_columns(
        self, outputs: np.ndarray, target: Target, *, proba: bool = False
    ) -> dict[str, Any]:
        classes = list(target["classes"])
        columns: dict[str, Any] = {"prediction": [classes[i] for i in outputs.argmax(axis=1)]}
        if proba:
            for index, label in enumerate(classes):
                columns[f"proba_{label}"] = outputs[:, index]
        return columns


class RegressionTask(Task):
    """Numbers: MSE on standardised targets, de-standardised predictions, RMSE."""

    name = "regression"
    primary_metric = "rmse"
    higher_is_better = False
    metric_columns = ("rmse", "mae", "r2", "mape")

    def read_target(
        self, labels: pd.Series, path: Path, column: str, csv: CsvOptions | None = None
    ) -> tuple[np.ndarray, Target]:
        return self.truth(labels, {"name": column}, path), {"name": column}

    def fit_target(self, target: Target, train_truth: np.ndarray) -> Target:
        mean, std = float(train_truth.mean()), float(train_truth.std()) or 1.0
        # Predictions are clamped to the training range (as RealMLP does): a network
        # extrapolates linearly and without bound outside what it saw.
        low, high = float(train_truth.min()), float(train_truth.max())
        return {**target, "mean": mean, "std": std, "min": low, "max": high}

    def truth(
        self, labels: pd.Series, target: Target, path: Path, csv: CsvOptions | None = None
    ) -> np.ndarray:
        import numpy as np

        from nncli.data.preprocessing import numeric_values

        return numeric_values(labels, path, str(target["name"])).to_numpy(np.float64)

    def check_target(self, target: Target) -> None:
        _ = str(target["name"]), float(target["mean"]), float(target["std"])
        _ = float(target.get("min", 0.0)), float(target.get("max", 0.0))  # optional: older files

    def n_outputs(self, target: Target) -> int:
        return 1

    def loss(
        self, target: Target, train_truth: np.ndarray, *, class_weights: bool = False
    ) -> nn.Module:
        from torch import nn

        return nn.MSELoss()

    def encode(self, truth: np.ndarray, target: Target) -> torch.Tensor:
        import numpy as np
        import torch

        scaled = (truth - target["mean"]) / target["std"]
        return torch.from_numpy(scaled.astype(np.float32)).unsqueeze(1)

    def decode(self, raw: np.ndarray, target: Target) -> np.ndarray:
        import numpy as np

        values = raw[:, 0] * np.float32(target["std"]) + np.float32(target["mean"])
        if "min" in target and "max" in target:  # older model files have no range
            values = np.clip(values, np.float32(target["min"]), np.float32(target["max"]))
        return values.astype(np.float32, copy=False)

    def validation_metric(self, target: Target) -> Callable[[torch.Tensor, torch.Tensor], float]:
        import torch

        std = float(target["std"])

        def rmse(outputs: torch.Tensor, targets: torch.Tensor) -> float:
            return float(torch.sqrt(torch.mean((outputs - targets) ** 2))) * std

        return rmse

    def score(self, outputs: np.ndarray, truth: np.ndarray, target: Target) -> Metrics:
        from nncli.metrics import regression_metrics

        return regression_metrics(truth, outputs)

    def fast_scores(self, outputs: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
        import numpy as np

        rmse = float(np.sqrt(np.mean((outputs.astype(np.float64) - truth) ** 2)))
        return rmse, float("nan")

    def row_errors(self, outputs: np.ndarray, truth: np.ndarray) -> np.ndarray:
        import numpy as np

        return (outputs.astype(np.float64) - truth) ** 2

    def fit_baselines(self, data: BaselineData, target: Target, seed: int) -> dict[str, Metrics]:
        from nncli.baseline_models import regression_baselines

        return regression_baselines(data, seed)

    def overfitting_warning(self, train: Metrics, valid: Metrics) -> str | None:
        if valid["rmse"] > 1.5 * train["rmse"] > 0:
            return (
                f"overfitting: train RMSE {train['rmse']:.4g} vs validation "
                f"{valid['rmse']:.4g}; {OVERFITTING_HINT}"
            )
        return None

    def breakdown(self, outputs: np.ndarray, truth: np.ndarray, target: Target) -> Breakdown:
        import numpy as np

        return Breakdown(points=(truth.tolist(), outputs.astype(np.float64).tolist()))

    def prediction_columns(
        self, outputs: np.ndarray, target: Target, *, proba: bool = False
    ) -> dict[str, Any]:
        return {"prediction": outputs}


TASKS: dict[str, Task] = {task.name: task for task in (ClassificationTask(), RegressionTask())}
TASK_NAMES = tuple(TASKS)


def task_for(name: str) -> Task:
    """The `Task` named `name` ("classification" or "regression")."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r} (known: {', '.join(TASK_NAMES)})") from None
