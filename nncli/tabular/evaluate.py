"""Metrics of a model on labelled data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from nncli.data.loading import CsvOptions, read_csv, require_columns, require_rows
from nncli.data.preprocessing import numeric_values
from nncli.errors import DataError
from nncli.files import file_sha256
from nncli.reporting import CollectingReporter, Reporter
from nncli.tabular.model import TabularModel, encode_rows
from nncli.tasks import class_indices, score

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

@dataclass
class EvaluationReport:
    """Metrics of a model on labelled data."""

    task: str
    rows: int
    metrics: dict[str, Any]
    confusion_matrix: list[list[int]] | None
    classes: list[str]
    per_class: dict[str, dict[str, float]] | None
    # Regression only: (actual, predicted) per row, for `evaluate --plot`; not in the JSON.
    points: tuple[list[float], list[float]] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "points"}


def evaluate_tabular(
    model: TabularModel,
    path: Path,
    *,
    csv: CsvOptions | None = None,
    reporter: Reporter | None = None,
) -> EvaluationReport:
    """Score a model on a labelled CSV (rows with a missing or unknown label are left out)."""
    import numpy as np

    from nncli.metrics import confusion

    reporter = reporter or CollectingReporter()
    frame = read_csv(path, csv, reporter=reporter)
    require_rows(frame, path)
    if file_sha256(path) == model.metadata.get("data", {}).get("sha256"):
        reporter.warn(
            f"{path} is the file the model was trained on: these metrics include training rows "
            "and are optimistic; the held-out test metrics are shown beside them"
        )
    target = model.target_name
    require_columns(frame, path, [target], "target")
    labelled = frame[frame[target].notna()]
    if len(labelled) < len(frame):
        reporter.warn(
            f"{len(frame) - len(labelled)} row(s) with a missing {target!r} were left out"
        )
    if labelled.empty:
        raise DataError(
            f"{path}: target column {target!r} has no values (all missing)",
            hint="evaluate needs labelled rows; use 'nncli predict' for unlabelled data",
        )
    if model.task == "classification":
        indices = class_indices(labelled[target], model.classes)
        unknown = indices < 0
        if unknown.any():
            reporter.warn(
                f"{int(unknown.sum())} row(s) with labels unseen in training were left out"
            )
            labelled, indices = labelled[~unknown], indices[~unknown]
        if labelled.empty:
            raise DataError(
                f"{path}: no row has a label the model knows ({', '.join(model.classes)})"
            )
        encoded = encode_rows(model, labelled, path, reporter)
        outputs = model.outputs(encoded)
        metrics = score("classification", outputs, indices, len(model.classes))
        predicted = outputs.argmax(axis=1)
        per_class = per_class_scores(indices, predicted, model.classes)
        return EvaluationReport(
            "classification",
            len(labelled),
            metrics,
            confusion(indices, predicted, len(model.classes)),
            model.classes,
            per_class,
        )
    truth = numeric_values(labelled[target], path, target).to_numpy(np.float64)
    encoded = encode_rows(model, labelled, path, reporter)
    predicted = model.outputs(encoded)
    metrics = score("regression", predicted, truth, 1)
    points = (truth.tolist(), predicted.astype(np.float64).tolist())
    return EvaluationReport("regression", len(labelled), metrics, None, [], None, points)


def per_class_scores(
    truth: np.ndarray, predicted: np.ndarray, classes: list[str]
) -> dict[str, dict[str, float]]:
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=list(range(len(classes))), zero_division=0
    )
    return {
        label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for label, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    }
