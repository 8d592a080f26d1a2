"""Parquet and Feather (Arrow IPC) tables: recognised by their bytes, read into the frame
`read_csv` gives for the same table written as CSV, and Parquet written atomically.

pyarrow is the optional extra `nncli[parquet]`; it is imported only inside these functions,
and its absence is one line naming the fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from nncli.errors import DataError, UsageError, shorten

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from nncli.data.loading import CsvOptions
    from nncli.reporting import Reporter

INSTALL_HINT = "pip install 'nncli[parquet]'"
FORMAT_NAMES = {"parquet": "Parquet", "feather": "Feather (Arrow IPC)"}
# The first bytes decide the format. Feather v2 is the Arrow IPC file format ("ARROW1");
# "FEA1" is Feather v1, which pyarrow still reads.
_MAGIC = ((b"PAR1", "parquet"), (b"ARROW1", "feather"), (b"FEA1", "feather"))
_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".feather": "feather", ".arrow": "feather"}
# An unnamed pandas index stored as a column: row labels, not data (a CSV export without
# the index has none).
_PANDAS_INDEX = re.compile(r"__index_level_\d+__")
# CSV-only options, with the value that means "not given".
_CSV_ONLY = (
    ("--sep", "sep", None),
    ("--decimal", "decimal", None),
    ("--thousands", "thousands", None),
)


def is_columnar(path: Path) -> str | None:
    """'parquet' or 'feather' from the file's first bytes, or None for anything else (a CSV).

    The suffix is only a hint: a file named .parquet/.feather/.arrow whose bytes are not
    that format is refused rather than read as text.
    """
    try:
        with path.open("rb") as handle:
            magic = handle.read(6)
    except OSError:
        return None  # the CSV reader names the problem
    found = next((kind for prefix, kind in _MAGIC if magic.startswith(prefix)), None)
    named = _SUFFIXES.get(path.suffix.lower())
    if named is not None and found is None and magic:
        raise DataError(
            f"{path}: named {path.suffix} but not a {FORMAT_NAMES[named]} file "
            "(its first bytes are not the format's signature)",
            hint="rename it to what it holds, or write it again",
        )
    return found


def require_pyarrow(what: str) -> Any:
    """The pyarrow module, or a one-line UsageError (exit 2) naming the extra to install."""
    try:
        import pyarrow
        import pyarrow.feather
        import pyarrow.parquet
    except ImportError as exc:
        raise UsageError(
            f"{what} needs pyarrow, which is not installed", hint=INSTALL_HINT
        ) from exc
    return pyarrow


def read_columnar(
    path: Path,
    options: CsvOptions | None = None,
    *,
    reporter: Reporter | None = None,
    dtype: dict[str, str] | None = None,
    kind: str | None = None,
    only: str | None = None,
) -> pd.DataFrame:
    """Read a Parquet or Feather file into the frame `read_csv` gives for the same table:
    int64/float64 numbers, text as pandas' strings, dates and times as the text a CSV holds,
    categoricals as their values, a fresh row index. Missing values are the file's nulls and
    any `--na-values` text; the CSV-only options are ignored with a note. `only`: read just
    that column (named as in the file)."""
    kind = kind or is_columnar(path)
    if kind is None:
        raise DataError(f"{path}: not a Parquet or Feather file")
    if reporter is not None and _SUFFIXES.get(path.suffix.lower()) != kind:
        reporter.info(
            f"{path}: a {FORMAT_NAMES[kind]} file (by its first bytes); reading it as one"
        )
    if options is not None:
        _note_ignored_options(path, kind, options, reporter)
    # Columns asked for as text (series names, ID columns) are cast in Arrow, where a null
    # stays missing and an integer code keeps its digits (no float64 detour through 5930.0).
    text = {name for name, type_ in (dtype or {}).items() if type_ in (str, "str", "string")}
    table = _read_table(path, kind, None if only is None else [only])
    pa = require_pyarrow(f"{path}: reading a {FORMAT_NAMES[kind]} file")
    try:
        frame = _to_frame(path, _csv_like_types(path, table, text))
    except MemoryError as exc:
        raise _too_big(path, kind) from exc
    except (pa.ArrowException, UnicodeDecodeError) as exc:  # damage a read did not notice
        raise _damaged(path, kind, exc) from exc
    if options is not None and options.na_values:
        frame = _blank_missing_words(frame, options.na_values, skip=set(dtype or ()))
    wanted = {
        name: type_
        for name, type_ in (dtype or {}).items()
        if name in frame.columns and name not in text
    }
    return frame.astype(wanted) if wanted else frame


def _note_ignored_options(
    path: Path, kind: str, options: CsvOptions, reporter: Reporter | None
) -> None:
    # A note, not an error: the same config file or NNCLI_* variables often serve CSV inputs.
    given = [flag for flag, name, unset in _CSV_ONLY if getattr(options, name) != unset]
    if options.encoding.lower().replace("_", "-") not in {"utf-8", "utf8"}:
        given.append("--encoding")
    if given and reporter is not None:
        reporter.info(
            f"{path}: a {FORMAT_NAMES[kind]} file; ignoring the CSV-only option(s) "
            f"{', '.join(given)}"
        )


def _read_table(path: Path, kind: str, columns: list[str] | None = None) -> pa.Table:
    """The file (or its `columns`) as an Arrow table, any damage a one-line DataError naming
    the file. A Parquet file whose declared rows would not fit in the memory at hand is
    refused before any is read (a few hundred KiB can declare 100 million rows)."""
    pa = require_pyarrow(f"{path}: reading a {FORMAT_NAMES[kind]} file")
    try:
        if kind == "parquet":
            with pa.parquet.ParquetFile(path) as parquet:
                check_fits_in_memory(path, parquet.metadata, parquet.schema_arrow, columns)
                return parquet.read(columns=columns)
        # memory_map=False: a mapped file cut short by another process would crash (SIGBUS).
        table = pa.feather.read_table(path, columns=columns, memory_map=False)
        # An IPC file is not checked as it is read: a damaged buffer or a column name that
        # is not UTF-8 would surface later, as a crash. Full validation reads every buffer once.
        table.validate(full=True)
        _ = [str(name) for name in table.column_names]
        return table
    except MemoryError as exc:
        raise _too_big(path, kind) from exc
    except (pa.ArrowException, OSError, ValueError, KeyError, EOFError) as exc:
        # ValueError includes UnicodeDecodeError: a name or metadata that is not UTF-8.
        raise _damaged(path, kind, exc) from exc


def _damaged(path: Path, kind: str, exc: BaseException) -> DataError:
    detail = shorten(" ".join(str(exc).split()), 160) or type(exc).__name__
    return DataError(
        f"{path}: cannot read the {FORMAT_NAMES[kind]} file ({detail})",
        hint="the file is damaged or cut short; write it again",
    )


def _too_big(path: Path, kind: str) -> DataError:
    return DataError(
        f"{path}: the {FORMAT_NAMES[kind]} file does not fit in the memory at hand "
        f"({_size(memory_at_hand())} available)",
        hint="read fewer rows (split or filter the file), or run where more memory is free",
    )


# Bytes a value takes once read, per Arrow type: in the Arrow table (numbers cast to 64 bits)
# plus in the pandas frame (a text value is a Python object: a pointer and ~50 bytes of
# header). Text's own bytes are added from the file's uncompressed size.
_NUMBER_BYTES = 8 + 8
_TEXT_BYTES = 8 + 8 + 57
_TIME_BYTES = 8 + 8 + 57 + 26  # dates and times become their ISO text


def check_fits_in_memory(
    path: Path,
    metadata: Any,
    schema: pa.Schema,
    columns: list[str] | None = None,
    available: int | None = None,
) -> None:
    """A DataError (exit 3) when the rows a Parquet file declares (its footer: row count,
    column types, uncompressed sizes) would need more memory than `available` (default: the
    memory at hand, `memory_at_hand`) once read: a decompression bomb, or simply too big."""
    import pyarrow as pa

    available = memory_at_hand() if available is None else available
    rows = int(metadata.num_rows)
    if available is None or rows == 0:
        return
    wanted = set(columns) if columns is not None else None
    per_row, uncompressed, count = 0, 0, 0
    for field in schema:
        if wanted is not None and field.name not in wanted:
            continue
        count += 1
        kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if pa.types.is_temporal(kind):
            per_row += _TIME_BYTES
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind):
            per_row += _TEXT_BYTES
        else:
            per_row += _NUMBER_BYTES
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            chunk = row_group.column(index)
            if wanted is None or chunk.path_in_schema in wanted:
                uncompressed += int(chunk.total_uncompressed_size)
    needed = rows * per_row + uncompressed
    if needed > available:
        raise DataError(
            f"{path}: the Parquet file declares {rows:,} rows of {count} column(s) "
            f"({_size(path.stat().st_size)} on disk, {_size(uncompressed)} uncompressed): "
            f"about {_size(needed)} once read, more than the {_size(available)} of memory "
            "available",
            hint="read fewer rows (split or filter the file), or run where more memory is free",
        )


def _size(size: int | None) -> str:
    if size is None:
        return "unknown"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size} bytes"


def memory_at_hand() -> int | None:
    """Bytes this process may still allocate (None when unknown): the least of the system's
    available memory, the headroom under a cgroup (container) limit, and the headroom under
    an address-space limit (`ulimit -v`)."""
    from nncli.devices import free_memory

    known = [
        size
        for size in (free_memory("cpu"), _cgroup_headroom(), _address_space_headroom())
        if size is not None
    ]
    return max(0, min(known)) if known else None


def _read_number(path: str) -> int | None:
    try:
        with Path(path).open(encoding="ascii") as handle:
            text = handle.read(64).strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() else None  # "max": no limit


def _cgroup_headroom() -> int | None:
    for limit, usage in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),  # cgroup v2
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        most, used = _read_number(limit), _read_number(usage)
        if most is not None and used is not None and most < 1 << 60:
            return most - used
    return None


def _address_space_headroom() -> int | None:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return None
    if soft == resource.RLIM_INFINITY or soft < 0:
        return None
    try:
        with Path("/proc/self/status").open(encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(soft) - int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def _csv_like_types(path: Path, table: pa.Table, text: set[str] | None = None) -> pa.Table:
    """Arrow columns cast to what pandas' CSV reader would make of the same values; the
    columns named in `text` cast to text (as a CSV reader given dtype str keeps them)."""
    import pyarrow as pa

    names = [str(name) for name in table.column_names]
    # A named pandas index comes first, where a CSV export of the frame puts it.
    try:
        index = list((table.schema.pandas_metadata or {}).get("index_columns", []))
    except (ValueError, AttributeError):  # metadata that is not pandas' JSON: no index
        index = []
    order = sorted(range(len(names)), key=lambda i: names[i] not in index)
    table = table.select([i for i in order if not _PANDAS_INDEX.fullmatch(names[i])])
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
            column = column.cast(kind)
        if str(name).strip() in (text or ()) and (
            pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_temporal(kind)
        ):
            column = column.cast(pa.string())
        elif pa.types.is_null(kind) or pa.types.is_decimal(kind) or pa.types.is_floating(kind):
            column = column.cast(pa.float64())
        elif pa.types.is_integer(kind) and kind != pa.uint64():
            column = column.cast(pa.int64())
        elif pa.types.is_nested(kind) or not (
            pa.types.is_boolean(kind)
            or pa.types.is_integer(kind)
            or pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_string_view(kind)
            or pa.types.is_temporal(kind)
        ):
            raise DataError(
                f"{path}: column {shorten(str(name))!r} holds {kind} values, which nncli "
                "cannot use",
                hint="drop the column, or store it as numbers or text",
            )
        columns.append(column)
    return pa.table(columns, names=_column_names(path, table.column_names))


def _column_names(path: Path, names: list[str]) -> list[str]:
    """Names stripped as the CSV reader strips them; empty ones as pandas names them; no two alike."""
    stripped = [str(name).strip() or f"Unnamed: {i}" for i, name in enumerate(names)]
    seen: set[str] = set()
    duplicates = sorted({name for name in stripped if name in seen or seen.add(name)})  # type: ignore[func-returns-value]
    if duplicates:
        raise DataError(
            f"{path}: duplicated column name(s) {', '.join(repr(shorten(n)) for n in duplicates)}",
            hint="give every column a unique name",
        )
    if not stripped:
        raise DataError(f"{path}: no columns to read", hint="the file holds no column")
    return stripped


def _to_frame(path: Path, table: pa.Table) -> pd.DataFrame:
    """The pandas frame, with dates and times as the text a CSV export of them holds."""
    import pandas as pd

    # self_destruct: each Arrow column is freed once converted (peak memory ~ one copy).
    frame = table.to_pandas(
        ignore_metadata=True, split_blocks=True, self_destruct=True, date_as_object=False
    )
    del table
    for name in frame.columns:
        column = frame[name]
        if column.dtype.kind in "mM" or (column.dtype == object and _holds_times(column)):
            text = column.astype(str).astype(pd.StringDtype(na_value=float("nan")))
            frame[name] = text.where(column.notna())
    return frame.reset_index(drop=True)


def _holds_times(column: pd.Series) -> bool:
    import datetime

    first = column.dropna().head(1)
    return len(first) == 1 and isinstance(first.iloc[0], datetime.time)


def _blank_missing_words(frame: pd.DataFrame, words: list[str], skip: set[str]) -> pd.DataFrame:
    """`--na-values` applied as the CSV reader applies it: a text cell equal to one of the
    words, or a number equal to one that is a number (-999), becomes missing."""
    import pandas as pd

    numbers = pd.to_numeric(pd.Series(words, dtype=object), errors="coerce").dropna().tolist()
    for name in frame.columns:
        if name in skip:
            continue
        column = frame[name]
        marks = numbers if pd.api.types.is_numeric_dtype(column) else words
        if pd.api.types.is_bool_dtype(column) or not marks:
            continue
        hit = column.isin(marks)
        if hit.any():
            frame[name] = column.where(~hit)
    return frame


def write_parquet(frame: pd.DataFrame, target: Path | IO[bytes]) -> None:
    """Write `frame` (without its index) as Parquet to a path, atomically, or to an open
    binary stream (stdout)."""
    pa = require_pyarrow("writing Parquet")
    table = _arrow_table(frame, pa)
    if isinstance(target, Path):
        from nncli.files import atomic_writer

        with atomic_writer(target, "wb", encoding=None) as handle:
            pa.parquet.write_table(table, handle)
    else:
        pa.parquet.write_table(table, target)


def _arrow_table(frame: pd.DataFrame, pa: Any) -> pa.Table:
    """The frame as an Arrow table; a text column holding other values too (an ID column
    of numbers and words) is written as text."""
    frame = frame.set_axis([str(name) for name in frame.columns], axis=1)
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        mixed = frame.select_dtypes(include="object").columns
        text = {name: frame[name].map(str, na_action="ignore") for name in mixed}
        try:
            return pa.Table.from_pandas(frame.assign(**text), preserve_index=False)
        except (pa.ArrowException, ValueError) as exc:
            raise DataError(f"cannot write the table as Parquet ({exc})") from exc
