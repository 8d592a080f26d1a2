"""Writing a result table (predictions, forecasts) as CSV, JSON Lines, JSON or Parquet, to a
file (atomically) or to stdout.

JSON values are JSON's own: numbers as numbers (with the digits the CSV writes), missing as
null, booleans as true/false, dates and times as ISO 8601 text; keys in column order.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from nncli.data.stdin import is_stdin
from nncli.errors import UsageError
from nncli.options import OneOf, option

if TYPE_CHECKING:
    import pandas as pd

TABLE_FORMATS = ("csv", "jsonl", "json", "parquet")
SUFFIX_FORMATS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass(frozen=True)
class PredictionOutput:
    """Where and how a command writes its table of predictions or forecasts.

    With --json, stdout holds the one JSON document (the rows inside it); the table then goes
    to --output alone, so asking for it on stdout as well (--format, `-o -`) is refused.
    """

    output: Path | None = option(
        None,
        help="File to write, atomically (default: stdout, as is '-'); a .csv, .jsonl, .json "
        "or .parquet name picks --format.",
        short="-o",
        panel="Output",
        hidden_default=True,
    )
    format: str | None = option(
        None,
        help="csv, jsonl (one JSON object per line), json (one array of objects) or parquet "
        "(default: from the --output name, else csv).",
        panel="Output",
        check=OneOf(TABLE_FORMATS),
        parse=str.lower,
        hidden_default=True,
    )

    @property
    def file(self) -> Path | None:
        """The file to write, or None for stdout."""
        return None if self.output is None or is_stdin(self.output) else self.output

    @property
    def table_format(self) -> str:
        """--format, else the one the output file's suffix names, else csv."""
        if self.format is not None:
            return self.format
        return SUFFIX_FORMATS.get(self.file.suffix.lower(), "csv") if self.file else "csv"

    def check(self, *inputs: Path, json_mode: bool = False) -> None:
        """Before any work: the file overwrites no input, stdout can take the table, the
        format can be written."""
        from nncli.files import check_output_path

        if self.file is not None:
            check_output_path(self.file, *inputs)
        elif json_mode and (self.format is not None or self.output is not None):
            raise UsageError(
                "--json prints one JSON document on stdout (the rows inside it); the table "
                "cannot go to stdout as well",
                hint="give --output FILE for the table, or leave out --json",
            )
        elif self.table_format == "parquet" and sys.stdout.isatty():
            raise UsageError(
                "--format parquet: refusing to write binary Parquet to a terminal",
                hint="redirect stdout (> out.parquet) or give --output FILE",
            )
        if self.table_format == "parquet":
            from nncli.data.columnar import require_pyarrow

            require_pyarrow("--format parquet")

    def write(self, table: pd.DataFrame, float_format: str) -> None:
        """Write `table` in its format: atomically to the file, or to stdout."""
        from nncli.files import atomic_writer

        kind = self.table_format
        if kind == "parquet":
            from nncli.data.columnar import write_parquet

            if self.file is None:
                sys.stdout.flush()
            write_parquet(table, self.file or sys.stdout.buffer)
        elif self.file is None:
            write_table(table, kind, sys.stdout, float_format)
        else:
            with atomic_writer(self.file) as handle:
                write_table(table, kind, handle, float_format)


def write_table(table: pd.DataFrame, kind: str, handle: IO[str], float_format: str) -> None:
    """`table` (without its index) as csv, jsonl or json text; floats with `float_format`."""
    if kind == "csv":
        table.to_csv(handle, index=False, float_format=float_format, lineterminator="\n")
        return
    if kind not in ("jsonl", "json"):
        raise UsageError(f"cannot write a table as {kind!r} text", hint="csv, jsonl or json")
    before, between, after = ("", "\n", "\n") if kind == "jsonl" else ("[\n", ",\n", "\n]\n")
    written = False
    for row in json_rows(table, float_format):
        handle.write((between if written else before) + row)
        written = True
    handle.write(after if written else ("" if kind == "jsonl" else "[]\n"))


def json_rows(table: pd.DataFrame, float_format: str) -> Iterator[str]:
    """Each row of `table` as the text of one JSON object, keys in column order."""
    keys = [json.dumps(str(name)) + ": " for name in table.columns]
    cells = [_json_cells(table.iloc[:, i], float_format) for i in range(table.shape[1])]
    for row in zip(*cells, strict=True):
        yield "{" + ", ".join(key + cell for key, cell in zip(keys, row, strict=True)) + "}"


def _json_cells(column: pd.Series, float_format: str) -> list[str]:
    """The column's cells as JSON text; numpy number columns on a fast path."""
    values = column.tolist()
    kind = column.dtype.kind
    if kind == "f":
        return [float_format % v if math.isfinite(v) else "null" for v in values]
    if kind in "iu":
        return [str(v) for v in values]
    if kind == "b":
        return ["true" if v else "false" for v in values]
    return [_json_value(v, float_format) for v in values]


def _json_value(value: Any, float_format: str) -> str:
    """One cell of a text, nullable or date column as JSON text."""
    import datetime

    import pandas as pd

    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_format % value if math.isfinite(value) else "null"
    if value is None or value is pd.NA or value is pd.NaT:
        return "null"
    if isinstance(value, datetime.date | datetime.time):
        return json.dumps(value.isoformat())
    if hasattr(value, "item"):  # a numpy scalar in a column of objects
        return _json_value(value.item(), float_format)
    return json.dumps(str(value))
