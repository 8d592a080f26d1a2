"""Metrics of a model on labelled data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from nncli.data.loading import CsvOptions, read_csv, require_columns, require_rows
from nncli.errors import DataError
from nncli.files import file_sha256
from nncli.reporting import CollectingReporter, Reporter
from nncli.tabular.model import TabularModel, encode_rows

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from nncli.data.preprocessing import EncodedFeatures


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
    reporter = reporter or CollectingReporter()
    labelled = read_labelled_rows(
        model,
        path,
        csv,
        reporter,
        training_file_note="these metrics include training rows and are optimistic; the "
        "held-out test metrics are shown beside them",
        no_labels_hint="evaluate needs labelled rows; use 'nncli predict' for unlabelled data",
    )
    outputs, truth = model.outputs(labelled.encoded), labelled.truth
    task = model.task_rules
    metrics = task.score(outputs, truth, model.target)
    breakdown = task.breakdown(outputs, truth, model.target)
    return EvaluationReport(
        task.name,
        len(truth),
        metrics,
        breakdown.confusion_matrix,
        breakdown.classes,
        breakdown.per_class,
        breakdown.points,
    )


@dataclass
class LabelledRows:
    """The rows of a CSV with a label the model knows: the rows, their truth, their inputs."""

    rows: pd.DataFrame
    truth: np.ndarray  # class indices or values in target units
    encoded: EncodedFeatures


def read_labelled_rows(
    model: TabularModel,
    path: Path,
    csv: CsvOptions | None,
    reporter: Reporter,
    *,
    training_file_note: str,
    no_labels_hint: str | None = None,
) -> LabelledRows:
    """Read a labelled CSV to score `model` on: its usable rows, their truth and inputs.

    When the file is the one the model was trained on, warns with `training_file_note`
    (what that means for the numbers); see `labelled_rows` for the rows left out.
    """
    frame = read_csv(path, csv, reporter=reporter)
    require_rows(frame, path)
    if file_sha256(path) == model.metadata.get("data", {}).get("sha256"):
        reporter.warn(f"{path} is the file the model was trained on: {training_file_note}")
    rows, truth = labelled_rows(model, frame, path, reporter, csv, no_labels_hint=no_labels_hint)
    return LabelledRows(rows, truth, encode_rows(model, rows, path, reporter))


def labelled_rows(
    model: TabularModel,
    frame: pd.DataFrame,
    path: Path,
    reporter: Reporter,
    csv: CsvOptions | None = None,
    *,
    no_labels_hint: str | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows of `frame` with a label the model knows, and their truth.

    Rows with a missing label, or (classification) a class unseen in training, are left out
    with a warning; none left is a `DataError`.
    """
    target = model.target_name
    require_columns(frame, path, [target], "target")
    labelled = frame[frame[target].notna()]
    if len(labelled) < len(frame):
        reporter.warn(
            f"{len(frame) - len(labelled)} row(s) with a missing {target!r} were left out"
        )
    if labelled.empty:
        raise DataError(
            f"{path}: target column {target!r} has no values (all missing)", hint=no_labels_hint
        )
    task = model.task_rules
    truth = task.truth(labelled[target], model.target, path, csv)
    unknown = task.unknown(truth)
    if unknown.any():
        reporter.warn(f"{int(unknown.sum())} row(s) with labels unseen in training were left out")
        labelled, truth = labelled[~unknown], truth[~unknown]
    if labelled.empty:
        raise DataError(f"{path}: no row has a label the model knows ({', '.join(model.classes)})")
    return labelled, truth
