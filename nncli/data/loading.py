"""Reading CSV files with pandas' C engine, turning every parser failure into a DataError."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.errors import DataError, UsageError
from nncli.files import check_input_file
from nncli.options import option
from nncli.reporting import Reporter

if TYPE_CHECKING:
    import pandas as pd

_OPENERS: dict[str, Callable[..., Any]] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_SEPARATORS = (",", ";", "\t", "|")


def parse_separator(text: str) -> str:
    """--sep: one character, or a name for one ('tab', 'comma', 'semicolon')."""
    sep = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";"}.get(text, text)
    if len(sep) != 1:
        raise UsageError(f"{sep!r}: --sep must be one character (or 'tab')")
    return sep


@dataclass(frozen=True)
class CsvOptions:
    """How to read a CSV: the separator (None sniffs it) and the text encoding."""

    sep: str | None = option(
        None,
        help="CSV field separator (default: sniffed from the header; 'tab' for TSV).",
        panel="Data",
        parse=parse_separator,
        hidden_default=True,
    )
    encoding: str = option("utf-8", help="Text encoding of the CSV (e.g. latin-1).", panel="Data")


def _open_text_head(path: Path, encoding: str, size: int = 65536, shown: str = "") -> str:
    opener = _OPENERS.get(path.suffix.lower())
    try:
        if opener is not None:
            with opener(path, "rb") as handle:
                raw = handle.read(size)
        else:
            with path.open("rb") as handle:
                raw = handle.read(size)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise DataError(f"{path}: cannot read the file ({exc})") from exc
    try:
        return raw.decode(encoding, errors="strict")
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 4:  # a multi-byte character cut by our read limit
            return raw[: exc.start].decode(encoding, errors="strict")
        raise DataError(
            f"{path}: byte {exc.start} is not valid {shown or encoding}",
            hint="pass --encoding with the file's encoding (e.g. --encoding latin-1)",
        ) from exc


def _header_fields(head: str, sep: str) -> list[str]:
    first_line = next(csv.reader(io.StringIO(head), delimiter=sep), [])
    return [field.strip() for field in first_line]


def sniff_separator(head: str) -> str:
    """The separator that splits the header line into the most fields (comma wins ties)."""
    header_line = head.splitlines()[0] if head else ""
    counts = {sep: len(_header_fields(header_line, sep)) for sep in _SEPARATORS}
    best = max(counts.values())
    return "," if counts[","] == best else max(counts, key=lambda sep: counts[sep])


def read_csv(
    path: Path,
    options: CsvOptions | None = None,
    *,
    reporter: Reporter | None = None,
    dtype: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Read a CSV (optionally .gz/.bz2/.xz) into a DataFrame, or raise a one-line DataError."""
    import pandas as pd

    options = options or CsvOptions()
    check_input_file(path)
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty", hint="expected a header line and data rows")
    encoding = (
        "utf-8-sig"
        if options.encoding.lower().replace("_", "-") in {"utf-8", "utf8"}
        else (options.encoding)
    )
    head = _open_text_head(path, encoding, shown=options.encoding)
    if not head.strip():
        raise DataError(f"{path}: the file is empty", hint="expected a header line and data rows")
    sep = options.sep
    if sep is None:
        sep = sniff_separator(head)
        if sep != "," and reporter is not None:
            reporter.info(f"{path}: reading with separator {sep!r} (sniffed; override with --sep)")
    header = _header_fields(head, sep)
    seen: set[str] = set()
    duplicates = sorted({name for name in header if name in seen or seen.add(name)})  # type: ignore[func-returns-value]
    if duplicates:
        raise DataError(
            f"{path}: duplicated column name(s) {', '.join(map(repr, duplicates))}",
            hint="give every column a unique name in the header line",
        )
    if len(header) == 1 and sep == "," and any(s in head.splitlines()[0] for s in ";\t|"):
        raise DataError(f"{path}: only one column found", hint="pass --sep with the delimiter")
    try:
        # The C parser in its default chunked mode: low_memory=False was measured 1.9x slower
        # on 1M x 50 numbers (benchmarks/RESULTS.md). A column whose chunks disagree in type
        # (numbers, then a stray word) comes back as objects, which numeric_values checks.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            frame = pd.read_csv(
                path,
                sep=sep,
                encoding=encoding,
                engine="c",
                dtype=dtype,
                skipinitialspace=False,
            )
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: no columns to read", hint="the file needs a header line") from exc
    except pd.errors.ParserError as exc:
        detail = " ".join(str(exc).split()).removeprefix("Error tokenizing data. C error: ")
        raise DataError(
            f"{path}: malformed CSV ({detail})",
            hint="every row needs as many fields as the header; quote fields that contain the separator",
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: the file is not valid {options.encoding}",
            hint="pass --encoding with the file's encoding (e.g. --encoding latin-1)",
        ) from exc
    except (OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the CSV ({' '.join(str(exc).split())})") from exc
    frame.columns = [str(name).strip() for name in frame.columns]
    return frame


def require_rows(frame: pd.DataFrame, path: Path, minimum: int = 1) -> None:
    """Fail when the table has fewer than `minimum` data rows."""
    if len(frame) < minimum:
        if len(frame) == 0:
            raise DataError(f"{path}: the file has a header but no data rows")
        raise DataError(f"{path}: only {len(frame)} data row(s); at least {minimum} are needed")


def _missing_column_hint(columns: list[str], name: str) -> str:
    """What to tell a user whose column `name` is not among `columns`."""
    import difflib

    same_but_case = [c for c in columns if c.lower() == name.lower()]
    if same_but_case:
        return f"did you mean {same_but_case[0]!r}?"
    # Typos: compare case-insensitively, report the real spelling.
    lowered = {c.lower(): c for c in reversed(columns)}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    if close:
        return f"did you mean {lowered[close[0]]!r}?"
    if len(columns) == 1 and any(s in columns[0] for s in ":;|\t "):
        # The whole header became one column: the delimiter was not recognised.
        return (
            f"the file was read as one column named {columns[0][:60]!r}; "
            "pass --sep with its delimiter (e.g. --sep ':')"
        )
    shown = ", ".join(columns[:20]) + (f", … ({len(columns)} in all)" if len(columns) > 20 else "")
    return f"columns are: {shown}"


def require_columns(frame: pd.DataFrame, path: Path, columns: list[str], role: str) -> None:
    """Fail naming the first column of `columns` the table lacks, suggesting a close name."""
    present = [str(c) for c in frame.columns]
    for name in columns:
        if name not in frame.columns:
            raise DataError(
                f"{path}: {role} column {name!r} not found",
                hint=_missing_column_hint(present, name),
            )
