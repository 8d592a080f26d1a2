"""Predictions for every row of a CSV."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nncli.data.loading import CsvOptions, read_csv, require_rows
from nncli.reporting import CollectingReporter, Reporter
from nncli.tabular.model import TabularModel, encode_rows

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

def predict_tabular(
    model: TabularModel,
    path: Path,
    *,
    proba: bool = False,
    csv: CsvOptions | None = None,
    reporter: Reporter | None = None,
) -> pd.DataFrame:
    """Predictions for every row of a CSV, in input order, with its ID columns kept."""
    import pandas as pd

    reporter = reporter or CollectingReporter()
    frame = read_csv(path, csv, reporter=reporter)
    require_rows(frame, path)
    encoded = encode_rows(model, frame, path, reporter)
    outputs = model.outputs(encoded)
    id_columns = [c for c in model.metadata["schema"]["id_columns"] if c in frame.columns]
    result = frame[id_columns].copy() if id_columns else pd.DataFrame(index=frame.index)
    if model.task == "classification":
        classes = model.classes
        result["prediction"] = [classes[i] for i in outputs.argmax(axis=1)]
        if proba:
            for index, label in enumerate(classes):
                result[f"proba_{label}"] = outputs[:, index]
    else:
        result["prediction"] = outputs
    return result.reset_index(drop=True)


