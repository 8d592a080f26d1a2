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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.data.columnar import is_columnar, read_columnar
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
        return read_columnar(path, options, reporter=reporter, dtype=dtype, kind=kind)
    arguments = parser_arguments(path, options, reporter)
    frame = _parse(path, arguments, dtype, options.encoding)
    skip = set(dtype or ())
    frame = _missing_words_in_numeric_columns(path, frame, arguments, options, skip)
    frame.columns = [str(name).strip() for name in frame.columns]
    if options.decimal is None and options.thousands is None:
        refuse_locale_numbers(path, frame, skip)
    return frame


def parser_arguments(
    path: Path, options: CsvOptions, reporter: Reporter | None = None
) -> dict[str, Any]:
    """pandas' `read_csv` arguments for the CSV at `path` read with `options`: the encoding
    checked, the compression recognised by its bytes, the separator sniffed, the header checked."""
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
    return {
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
