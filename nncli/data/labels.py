"""How label and category values are spelled as text.

`labels_as_written` gives a label column the text its file holds ('TRUE', '1.0', '007'),
reading the column again from the file named by the caller; `category_strings` spells any
value by one rule (3.0 as '3', True as 'true'), the vocabulary's spelling and the fallback.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.data.columnar import is_columnar, read_columnar
from nncli.data.loading import CsvOptions, parser_arguments
from nncli.errors import DataError, UsageError

if TYPE_CHECKING:
    import pandas as pd


def category_strings(series: pd.Series) -> pd.Series:
    """Category values as strings; whole numbers lose their '.0' so 3 and 3.0 agree."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return series.map(lambda v: None if pd.isna(v) else str(bool(v)).lower())
    if pd.api.types.is_numeric_dtype(series):
        return series.map(
            lambda v: (
                None if pd.isna(v) else (str(int(v)) if float(v).is_integer() else repr(float(v)))
            )
        )
    if len(series) and pd.api.types.infer_dtype(series, skipna=True) == "string":
        # Only text, the usual CSV column: one vectorised pass instead of a Python call per
        # value (a million-row column of categories would spend seconds in the lambda below).
        return series.str.strip().astype(object)
    # A True/False column with a blank cell is object dtype holding Python bools: spell them
    # as the bool-dtype branch does, or a file without blanks would not match the vocabulary.
    return series.map(
        lambda v: (
            None if pd.isna(v) else (str(v).lower() if isinstance(v, bool) else str(v).strip())
        )
    )


def labels_as_written(
    labels: pd.Series, path: Path | None = None, csv: CsvOptions | None = None
) -> pd.Series:
    """Each present cell of a label column as the text its file holds ('TRUE', '1.0', '007',
    ' a'), missing cells as None.

    Text columns hold that text already. A column pandas parsed as numbers or booleans is
    read again as text from `path`, the file `read_csv` read it from with the options `csv`,
    if the text there spells every parsed value; otherwise, and without a `path`, its values
    are spelled by `category_strings` (3.0 as '3', True as 'true').
    """
    present = labels.notna()
    if _is_text(labels):
        return labels.astype(object).where(present, None)
    written = None if path is None else _column_text(path, str(labels.name), csv or CsvOptions())
    if written is not None:
        column, arguments = written
        if labels.index.isin(column.index).all():
            text = column.reindex(labels.index)[present]
            spelled = _spellings(labels[present], text, arguments) if text.notna().all() else None
            if spelled is not None:
                return spelled.reindex(labels.index).where(present, None)
    return category_strings(labels)


def _column_text(path: Path, name: str, csv: CsvOptions) -> tuple[pd.Series, dict[str, Any]] | None:
    """Column `name` of every row of `path` as text (missing cells NaN), with the CSV parser
    arguments that read it; None when the file does not read so (gone, changed, no such column).

    Parquet and Feather cells are spelled as pandas writes them to a CSV ('True', '3.0', '7').
    """
    import pandas as pd

    try:
        kind = is_columnar(path)
        if kind is not None:
            frame = read_columnar(path, kind=kind, only=name)
            if list(frame.columns) != [name]:
                return None
            return frame[name].map(str, na_action="ignore").astype(object), {}
        arguments = parser_arguments(path, csv)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # read_csv strips the header's names: match the column as it does.
            frame = pd.read_csv(
                path, **arguments, usecols=lambda found: str(found).strip() == name, dtype=str
            )
    except (OSError, EOFError, ValueError, DataError, UsageError):
        return None
    if frame.shape[1] != 1:
        return None
    return frame.iloc[:, 0].astype(object), arguments


def _is_text(series: pd.Series) -> bool:
    import pandas as pd

    return len(series) == 0 or pd.api.types.infer_dtype(series, skipna=True) in {"string", "empty"}


def _agrees(parsed: pd.Series, text: pd.Series, arguments: dict[str, Any]) -> bool:
    """Whether each cell of `text` spells the value pandas parsed beside it (so the column
    read again lines up with the rows read first)."""
    import numpy as np
    import pandas as pd

    cells = text.astype(str).str.strip()
    if pd.api.types.is_bool_dtype(parsed):
        return bool((cells.str.lower() == parsed.map(str).str.lower()).all())
    if not pd.api.types.is_numeric_dtype(parsed):
        return True  # a column of mixed types (numbers in one chunk, text in another)
    if arguments.get("thousands"):
        cells = cells.str.replace(arguments["thousands"], "", regex=False)
    cells = cells.str.replace(arguments.get("decimal") or ".", ".", regex=False)
    numbers = pd.to_numeric(cells, errors="coerce").to_numpy(np.float64)
    return bool(np.allclose(numbers, parsed.to_numpy(np.float64), rtol=1e-12, equal_nan=True))


def _spellings(parsed: pd.Series, text: pd.Series, arguments: dict[str, Any]) -> pd.Series | None:
    """`text` with one spelling for each parsed value: '1' and '1.0' (or 'TRUE' and 'True')
    are one class, written as its most frequent spelling (the first in order on ties).
    None when the text does not spell the parsed values (the rows do not line up)."""
    import pandas as pd

    # The distinct (value, spelling) pairs: a few for labels, however many rows there are.
    pairs = pd.DataFrame({"value": parsed.to_numpy(), "text": text.to_numpy()})
    counts = pairs.value_counts(sort=False).reset_index(name="rows")
    if not _agrees(counts["value"], counts["text"], arguments):
        return None
    if not counts["value"].duplicated().any():
        return text
    counts = counts.sort_values(["rows", "text"], ascending=[False, True], kind="stable")
    spelling = counts.drop_duplicates("value").set_index("value")["text"]
    return pd.Series(parsed.map(spelling).to_numpy(), index=text.index, dtype=object)
