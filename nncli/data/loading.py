"""Reading CSV files with pandas' C engine, turning every parser failure into a DataError."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.data.columnar import ColumnarSource, is_columnar, read_columnar
from nncli.errors import DataError, UsageError
from nncli.files import check_input_file
from nncli.options import Check, option
from nncli.reporting import Reporter

if TYPE_CHECKING:
    import pandas as pd

_OPENERS: dict[str, Callable[..., Any]] = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}
_SUFFIXES = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz"}
# Compression is recognised by the file's first bytes, whatever its name says.
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"\xfd7zXZ\x00", "xz"), (b"PK\x03\x04", "zip"))
_SEPARATORS = (",", ";", "\t", "|")
_MAX_HEADER_LINE = 16 * 1024 * 1024  # read the whole header line, up to this many bytes
# pandas' default missing-value markers, less the two that are also real names: a class
# called "None", a ticker or a country code "NA". Those stay text unless --na-values says
# otherwise, or the column is otherwise all numbers (an R export's NA).
_NAMES_THAT_LOOK_MISSING = ("NA", "None")
MISSING_MARKERS = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NULL", "NaN", "n/a", "nan", "null",
)  # fmt: skip


def parse_separator(text: str) -> str:
    """--sep: one character, or a name for one ('tab', 'comma', 'semicolon')."""
    sep = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";"}.get(text, text)
    if len(sep) != 1:
        raise UsageError(f"{sep!r}: --sep must be one character (or 'tab')")
    return sep


@dataclass(frozen=True)
class KnownEncoding(Check):
    """A text encoding Python's codecs know (utf-8, latin-1, cp1252, …)."""

    def problem(self, value: Any) -> str | None:
        import codecs

        try:
            codecs.lookup(str(value))
        except LookupError:
            return f"{value!r} is not a known text encoding (e.g. utf-8, latin-1, cp1252)"
        return None


@dataclass(frozen=True)
class NumberMark(Check):
    """One character that may mark decimals or thousands in numbers."""

    def problem(self, value: Any) -> str | None:
        if value is None or value in (".", ",", "'", " ", "_"):
            return None
        return f"must be one of . , ' _ or a space, not {value!r}"


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
    encoding: str = option(
        "utf-8",
        help="Text encoding of the CSV (e.g. latin-1).",
        panel="Data",
        check=KnownEncoding(),
    )
    decimal: str | None = option(
        None,
        help="Decimal mark of numbers: '.' or ',' (default: '.', and numbers written with a "
        "decimal comma are reported).",
        panel="Data",
        hidden_default=True,
        check=NumberMark(),
    )
    thousands: str | None = option(
        None,
        help="Thousands separator inside numbers, e.g. ',' for 1,234.5 (default: none).",
        panel="Data",
        hidden_default=True,
        check=NumberMark(),
    )
    na_values: list[str] = option(
        default_factory=list,
        help="A cell text that means missing, besides empty cells, NaN, null and N/A; 'NA' and "
        "'None' are read as text unless given here (repeatable).",
        flag="--na-values",
        panel="Data",
        repeatable=True,
    )

    def check_combination(self) -> None:
        marks = [("--sep", self.sep), ("--decimal", self.decimal), ("--thousands", self.thousands)]
        given = [(flag, mark) for flag, mark in marks if mark is not None]
        for index, (flag, mark) in enumerate(given):
            for other_flag, other in given[index + 1 :]:
                if mark == other:
                    raise UsageError(f"{flag} and {other_flag} are both {mark!r}")


def detect_compression(path: Path) -> str | None:
    """'gzip', 'bz2' or 'xz' from the file's first bytes (not its name), or None for plain text.

    A name that promises compression the bytes lack is refused rather than guessed at.
    """
    try:
        with path.open("rb") as handle:
            magic = handle.read(6)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    found = next((kind for prefix, kind in _MAGIC if magic.startswith(prefix)), None)
    if found is None and magic[:3] == b"BZh" and magic[3:4].isdigit():
        found = "bz2"
    if found == "zip":
        raise DataError(f"{path}: is a zip archive", hint="extract the CSV file from it first")
    named = _SUFFIXES.get(path.suffix.lower())
    if named is not None and found != named:
        raise DataError(
            f"{path}: cannot read the file (named {path.suffix} but not {named}-compressed)",
            hint="rename it to what it holds",
        )
    return found


def _open_text_head(
    path: Path, encoding: str, compression: str | None, size: int = 65536, shown: str = ""
) -> str:
    """The file's first `size` bytes as text, extended to the end of the header line."""
    opener = _OPENERS.get(compression or "")
    try:
        with opener(path, "rb") if opener is not None else path.open("rb") as handle:
            raw = handle.read(size)
            while not _header_complete(raw) and len(raw) < _MAX_HEADER_LINE:
                more = handle.read(size)
                if not more:
                    break
                raw += more
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


def _header_complete(raw: bytes) -> bool:
    """Whether `raw` holds the whole header record: a line end outside quotes (a quoted
    name may hold a line break, and a wide header may run past the first read)."""
    quotes = start = 0
    for end in re.finditer(rb"[\r\n]", raw):
        quotes += raw.count(b'"', start, end.start())
        if quotes % 2 == 0:
            return True
        start = end.start()
    return False


def _header_fields(head: str, sep: str) -> list[str]:
    # newline="": a bare '\r' ends the line, as it does for pandas' parser.
    try:
        first_line = next(csv.reader(io.StringIO(head, newline=""), delimiter=sep), [])
    except csv.Error:  # e.g. a NUL byte or an unclosed quote: pandas names the problem
        return []
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
    """Read a CSV (optionally gzip/bz2/xz, recognised by its bytes) into a DataFrame, or raise
    a one-line DataError. Numbers in a locale format the options do not declare are refused
    with the flag that reads them, never turned silently into categories."""
    options = options or CsvOptions()
    check_input_file(path)
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty", hint="expected a header line and data rows")
    kind = is_columnar(path)
    if kind is not None:  # Parquet or Feather, by its bytes: the same frame, no CSV parsing
        stamp = file_stamp(path)
        frame = read_columnar(path, options, reporter=reporter, dtype=dtype, kind=kind)
        _remember(ColumnarSource(path, kind, tuple(frame.columns), len(frame), stamp))
        return frame
    problem = KnownEncoding().problem(options.encoding)
    if problem is not None:
        raise UsageError(f"--encoding {problem}")
    encoding = (
        "utf-8-sig"
        if options.encoding.lower().replace("_", "-") in {"utf-8", "utf8"}
        else (options.encoding)
    )
    compression = detect_compression(path)
    if compression is not None and path.suffix.lower() not in _SUFFIXES and reporter is not None:
        reporter.info(f"{path}: {compression}-compressed; reading it decompressed")
    head = _open_text_head(path, encoding, compression, shown=options.encoding)
    if not head.strip():
        raise DataError(f"{path}: the file is empty", hint="expected a header line and data rows")
    sep = options.sep
    if sep is None:
        sep = sniff_separator(head)
        if sep != "," and reporter is not None:
            reporter.info(f"{path}: reading with separator {sep!r} (sniffed; override with --sep)")
    _check_header(path, head, sep)
    if sep in (options.decimal, options.thousands):
        raise UsageError(f"{path}: the field separator {sep!r} is also the number mark")
    arguments: dict[str, Any] = {
        "sep": sep,
        "encoding": encoding,
        "compression": compression,
        "engine": "c",
        "skipinitialspace": False,
        "keep_default_na": False,
        "na_values": [*MISSING_MARKERS, *options.na_values],
        "decimal": options.decimal or ".",
        "thousands": options.thousands,
    }
    stamp = file_stamp(path)
    frame = _parse(path, arguments, dtype, options.encoding)
    skip = set(dtype or ())
    frame = _missing_words_in_numeric_columns(path, frame, arguments, options, skip)
    frame.columns = [str(name).strip() for name in frame.columns]
    if options.decimal is None and options.thousands is None:
        refuse_locale_numbers(path, frame, skip)
    columns = tuple(str(name) for name in frame.columns)
    _remember(CsvSource(path, arguments, columns, len(frame), stamp))
    return frame


def file_stamp(path: Path) -> tuple[int, int]:
    """(size, modification time in ns): a file whose stamp changed is not the one read."""
    status = path.stat()
    return status.st_size, status.st_mtime_ns


@dataclass(frozen=True, eq=False)
class CsvSource:
    """What `read_csv` read: enough to read one column again as the text the file holds
    (pandas reads 'TRUE' as True, '1.0' as 1.0 and '007' as 7)."""

    path: Path
    arguments: dict[str, Any]
    columns: tuple[str, ...]
    rows: int
    stamp: tuple[int, int]
    # Columns read again, by position: one re-read however often the labels are asked for.
    written: dict[int, pd.Series] = field(default_factory=dict, repr=False)

    def column_text(self, name: str) -> pd.Series | None:
        """Column `name` of every row as text (missing cells NaN); None if the file changed."""
        import pandas as pd

        if name not in self.columns:
            return None
        position = self.columns.index(name)
        if position not in self.written:
            arguments = {**self.arguments, "usecols": [position], "dtype": str}
            try:
                if file_stamp(self.path) != self.stamp:
                    return None
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    column = pd.read_csv(self.path, **arguments).iloc[:, 0]
            except (OSError, EOFError, ValueError, pd.errors.ParserError):
                return None
            if len(column) != self.rows:
                return None
            self.written[position] = column.astype(object)
        return self.written[position]


# The last few files read, newest first. Not in `frame.attrs`: pandas deep-copies attrs into
# every derived frame and column, which cost a 10,000-column table a quarter second per pass.
_REMEMBERED_SOURCES = 4
_RECENT_SOURCES: list[CsvSource | ColumnarSource] = []


def _remember(source: CsvSource | ColumnarSource) -> None:
    _RECENT_SOURCES.insert(0, source)
    del _RECENT_SOURCES[_REMEMBERED_SOURCES:]


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


def labels_as_written(labels: pd.Series, path: Path | None = None) -> pd.Series:
    """Each present cell of a label column as the text its file holds ('TRUE', '1.0', '007',
    ' a'), missing cells as None.

    Text columns hold that text already. A column pandas parsed as numbers or booleans is
    read again as text from the file `read_csv` read it from (`path`, or the latest file
    with such a column), if that file is unchanged and the text spells every parsed value;
    otherwise its values are spelled by `category_strings` (3.0 as '3', True as 'true').
    """
    from nncli.data.preprocessing import category_strings

    present = labels.notna()
    if _is_text(labels):
        return labels.astype(object).where(present, None)
    for source in list(_RECENT_SOURCES):
        if path is not None and source.path != path:
            continue
        column = source.column_text(str(labels.name))
        if column is not None and labels.index.isin(column.index).all():
            text = column.reindex(labels.index)[present]
            spelled = (
                _spellings(labels[present], text, source.arguments) if text.notna().all() else None
            )
            if spelled is not None:
                return spelled.reindex(labels.index).where(present, None)
    return category_strings(labels)


def _check_header(path: Path, head: str, sep: str) -> None:
    """Refuse duplicated column names, and a header the separator did not split."""
    header = _header_fields(head, sep)
    if header and not any(header):
        raise DataError(
            f"{path}: the header line names no column (its {len(header)} field(s) are empty)",
            hint="the first line must hold the column names",
        )
    seen: set[str] = set()
    # Empty names are not duplicates: pandas reads them as 'Unnamed: 3' (an index column).
    named = [name for name in header if name]
    duplicates = sorted({name for name in named if name in seen or seen.add(name)})  # type: ignore[func-returns-value]
    if duplicates:
        raise DataError(
            f"{path}: duplicated column name(s) {', '.join(map(repr, duplicates))}",
            hint="give every column a unique name in the header line",
        )
    if len(header) == 1 and sep == "," and any(s in head.splitlines()[0] for s in ";\t|"):
        raise DataError(f"{path}: only one column found", hint="pass --sep with the delimiter")


def _parse(
    path: Path, arguments: dict[str, Any], dtype: dict[str, str] | None, shown_encoding: str
) -> pd.DataFrame:
    """pandas' C parser over the file, every failure turned into a one-line DataError."""
    import pandas as pd

    try:
        # The C parser in its default chunked mode: low_memory=False was measured 1.9x slower
        # on 1M x 50 numbers (benchmarks/RESULTS.md). A column whose chunks disagree in type
        # (numbers, then a stray word) comes back as objects, which numeric_values checks.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            return pd.read_csv(path, dtype=dtype, **arguments)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: no columns to read", hint="the file needs a header line") from exc
    except pd.errors.ParserError as exc:
        detail = " ".join(str(exc).split()).removeprefix("Error tokenizing data. C error: ")
        raise DataError(
            f"{path}: malformed CSV: {_parser_problem(path, arguments, detail)}",
            hint="every row needs as many fields as the header; quote fields that contain the separator",
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: the file is not valid {shown_encoding}",
            hint="pass --encoding with the file's encoding (e.g. --encoding latin-1)",
        ) from exc
    except (OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the CSV ({' '.join(str(exc).split())})") from exc


_TOO_MANY_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_OPEN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")


def _parser_problem(path: Path, arguments: dict[str, Any], detail: str) -> str:
    """pandas' parser message told with the data row and the file's line, not its record."""
    found = _TOO_MANY_FIELDS.search(detail)
    if found is not None:
        expected, record, saw = (int(group) for group in found.groups())
        where = _locate_record(path, arguments, record)
        if where is not None:
            return f"data row {where[0]} (line {where[1]}) has {saw} fields, the header {expected}"
    found = _OPEN_QUOTE.search(detail)
    if found is not None:
        where = _locate_record(path, arguments, int(found.group(1)) + 1)
        if where is not None:
            return f"a quote opened in data row {where[0]} (line {where[1]}) is never closed"
    return detail


def _locate_record(path: Path, arguments: dict[str, Any], record: int) -> tuple[int, int] | None:
    """(data row, file line) where pandas' `record` starts (1-based; the header and blank
    lines count as records, line breaks inside quoted fields do not), or None."""
    opener = _OPENERS.get(arguments.get("compression") or "")
    try:
        with (
            opener(path, "rt", encoding=arguments["encoding"], newline="")
            if opener is not None
            else path.open(encoding=arguments["encoding"], newline="")
        ) as handle:
            reader = csv.reader(handle, delimiter=arguments["sep"])
            data_rows, line = -1, 1  # the header is data row 0
            for number, fields in enumerate(reader, start=1):
                if fields:
                    data_rows += 1
                if number == record:
                    return max(data_rows, 1), line
                line = reader.line_num + 1
    except (OSError, EOFError, ValueError, csv.Error, lzma.LZMAError):
        return None
    return None


def _missing_words_in_numeric_columns(
    path: Path,
    frame: pd.DataFrame,
    arguments: dict[str, Any],
    options: CsvOptions,
    skip: set[str],
) -> pd.DataFrame:
    """Columns of numbers with 'NA' or 'None' cells (an R or Python export) read again with
    those words as missing; in any other column the words stay text (a label, a name)."""
    import pandas as pd

    words = [word for word in _NAMES_THAT_LOOK_MISSING if word not in options.na_values]
    numeric = []
    for name in frame.select_dtypes(include=["object", "string"]).columns:
        if name in skip:
            continue
        column = frame[name]
        marked = column.isin(words)
        if not marked.any():
            continue
        rest = column[~marked].dropna()
        if len(rest) and pd.to_numeric(rest, errors="coerce").notna().all():
            numeric.append(name)
    if not numeric:
        return frame
    again = {**arguments, "na_values": [*arguments["na_values"], *words]}
    reread = _parse(path, again | {"usecols": numeric}, None, options.encoding)
    return frame.assign(**{str(name): reread[name] for name in numeric})


_LOCALE_EVIDENCE = 3  # fewer cells than this are too little to call a column's number format
# Numbers as locales write them, which a '.'-decimal reader would take for text.
_LOCALE_NUMBERS = (
    (r"[-+]?\d{1,3}(\.\d{3})+,\d+", "'.' separating thousands and ',' marking decimals",
     "--decimal , --thousands ."),
    (r"[-+]?\d{1,3}(,\d{3})+\.\d+", "',' separating thousands", "--thousands ,"),
    (r"[-+]?\d{1,3}(,\d{3})+", "',' separating thousands or marking decimals",
     "--thousands , (if ',' separates thousands) or --decimal , (if it marks decimals)"),
    (r"[-+]?(\d+,\d*|\d*,\d+)", "a decimal comma", "--decimal ,"),
)  # fmt: skip


def refuse_locale_numbers(path: Path, frame: pd.DataFrame, skip: set[str]) -> None:
    """A DataError naming a text column whose cells are numbers in a locale's format."""
    for name in frame.select_dtypes(include=["object", "string"]).columns:
        if name in skip:
            continue
        sample = frame[name].dropna().astype(str).str.strip().head(500)
        if len(sample) < _LOCALE_EVIDENCE:
            continue
        for pattern, meaning, flags in _LOCALE_NUMBERS:
            matches = sample.str.fullmatch(pattern)
            if matches.mean() >= 0.9:
                example = sample[matches].iloc[0]
                raise DataError(
                    f"{path}: column {name!r} holds numbers written with {meaning} "
                    f"(e.g. {example!r}); read as text they would be categories",
                    hint=f"pass {flags} (or --decimal . to keep them as text)",
                )


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
