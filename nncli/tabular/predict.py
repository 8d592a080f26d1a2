"""Predictions for every row of a CSV."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from nncli.data.loading import CsvOptions, require_rows
from nncli.data.writing import write_table
from nncli.errors import UsageError
from nncli.reporting import CollectingReporter, Reporter
from nncli.tabular.model import TabularModel, encode_rows

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

# float32 precision: stable text, so reruns write byte-identical files.
PREDICTION_FLOAT_FORMAT = "%.7g"


def predict_tabular(
    model: TabularModel,
    path: Path,
    *,
    proba: bool = False,
    csv: CsvOptions | None = None,
    reporter: Reporter | None = None,
    partial_last_row: str = "allow",
) -> pd.DataFrame:
    """Predictions for every row of a CSV, in input order, with its ID columns kept as
    written (read as text: codes 005930 and 0700 keep their zeros). `partial_last_row`:
    what to do with a last line that has no line ending (`nncli.data.integrity`)."""
    import pandas as pd

    if proba and not model.classes:  # before reading: a usage error, whatever the data
        raise UsageError(
            f"--proba needs a classification model; this one is a {model.task} model of "
            f"{model.target_name!r}",
            hint="leave out --proba",
        )
    from nncli.data.integrity import read_whole_rows

    reporter = reporter or CollectingReporter()
    # ID columns are text, always; a column the model reads keeps its own reading.
    inputs = set(model.metadata["schema"]["input_columns"])
    text = {c: "str" for c in model.metadata["schema"]["id_columns"] if c not in inputs}
    frame = read_whole_rows(path, csv, reporter, partial_last_row, dtype=text or None)
    require_rows(frame, path)
    encoded = encode_rows(model, frame, path, reporter)
    outputs = model.outputs(encoded)
    id_columns = [c for c in model.metadata["schema"]["id_columns"] if c in frame.columns]
    result = frame[id_columns].copy() if id_columns else pd.DataFrame(index=frame.index)
    for name, values in model.task_rules.prediction_columns(
        outputs, model.target, proba=proba
    ).items():
        result[name] = values
    return result.reset_index(drop=True)


def write_predictions(predictions: pd.DataFrame, handle: IO[str], kind: str = "csv") -> None:
    """Write `predict_tabular`'s result as csv, jsonl or json text (float32 precision)."""
    write_table(predictions, kind, handle, PREDICTION_FLOAT_FORMAT)
