"""Input that may still be being written: an unfinished last line, a file growing as we read.

A price file appended to by another process can be caught half-way through a line, and a
stream piped in (`loader | nncli … -`) can be cut mid-row when the loader dies. Reading either
as is would silently forecast or predict from a truncated number (`2024-06-14,10` for
`2024-06-14,103.4834,150`), so every command that acts on the newest rows checks:
`forecast run`, `forecast predict` and `predict`, with the same `--partial-last-row`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nncli.errors import DataError
from nncli.options import OneOf, option

if TYPE_CHECKING:
    import pandas as pd

    from nncli.data.loading import CsvOptions
    from nncli.reporting import Reporter

PARTIAL_POLICIES = ("error", "drop", "allow")
# Compressed or columnar files have no last line to judge by their last byte (gzip, xz,
# bzip2, zip, Parquet, Feather): one cut short does not decompress or read at all.
_NOT_TEXT = (b"\x1f\x8b", b"\xfd7zXZ\x00", b"BZh", b"PK\x03\x04", b"PAR1", b"ARROW1", b"FEA1")


@dataclass(frozen=True)
class PartialLastRow:
    """What to do with a last line that has no line ending (a file or stream cut mid-row)."""

    partial_last_row: str = option(
        "error",
        help="A last line without a line ending (a file still being written, a stream cut "
        "mid-row): error, drop (with a warning) or allow.",
        panel="Data",
        check=OneOf(PARTIAL_POLICIES),
    )


@dataclass(frozen=True)
class FileSnapshot:
    """Size and modification time of a file, to notice a change during a read."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileSnapshot:
        stat = path.stat()
        return cls(stat.st_size, stat.st_mtime_ns)


def last_line_is_complete(path: Path) -> bool:
    """Whether a plain-text file ends with a newline. Compressed and columnar files, told by
    their first bytes whatever their name (stdin's copy is always named .csv), are not judged."""
    if path.suffix.lower() in (".gz", ".bz2", ".xz", ".zip"):
        return True
    with path.open("rb") as handle:
        if handle.read(6).startswith(_NOT_TEXT):
            return True
        handle.seek(0, 2)
        if handle.tell() == 0:
            return True
        handle.seek(-1, 2)
        return handle.read(1) in (b"\n", b"\r")


def check_unchanged(path: Path, before: FileSnapshot) -> None:
    """Fail when the file changed while it was being read."""
    after = FileSnapshot.of(path)
    if after != before:
        raise DataError(
            f"{path}: the file changed while it was being read ({before.size} -> {after.size} bytes)",
            hint="another process is writing it; run again when it is done",
        )


def partial_line_error(path: Path) -> DataError:
    from nncli.data.stdin import STDIN_NAME

    if str(path) == STDIN_NAME:
        return DataError(
            f"{path}: the last line has no line ending; the stream may have been cut mid-row",
            hint="check the command that writes it, or pass --partial-last-row drop to skip "
            "that row",
        )
    return DataError(
        f"{path}: the last line has no line ending; the file may still be being written",
        hint="run again when the writer is done, or pass --partial-last-row drop to skip that row",
    )


def read_whole_rows(
    path: Path,
    csv: CsvOptions | None,
    reporter: Reporter,
    partial_last_row: str,
    dtype: dict[str, str] | None = None,
) -> pd.DataFrame:
    """The table (`read_csv`), with a last line still being written (or cut) refused,
    dropped with a warning, or allowed; and a file that changed during the read refused."""
    from nncli.data.loading import read_csv

    before = FileSnapshot.of(path) if path.is_file() else None
    complete = partial_last_row == "allow" or before is None or last_line_is_complete(path)
    if not complete and partial_last_row == "error":
        raise partial_line_error(path)
    frame = read_csv(path, csv, reporter=reporter, dtype=dtype)
    if before is not None and partial_last_row != "allow":
        check_unchanged(path, before)
    if not complete:
        reporter.warn(f"{path}: the last line has no line ending; that row was dropped")
        frame = frame.iloc[:-1]
    return frame
