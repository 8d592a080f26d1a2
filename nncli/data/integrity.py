"""Input that may still be being written: an unfinished last line, a file growing as we read.

A price file appended to by another process can be caught half-way through a line. Reading
it as is would silently forecast from a truncated number, so scheduled jobs check.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nncli.errors import DataError

PARTIAL_POLICIES = ("error", "drop", "allow")


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
    """Whether a plain-text file ends with a newline (compressed files are not checked)."""
    if path.suffix.lower() in (".gz", ".bz2", ".xz", ".zip"):
        return True
    with path.open("rb") as handle:
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
    return DataError(
        f"{path}: the last line has no line ending; the file may still be being written",
        hint="run again when the writer is done, or pass --partial-last-row drop to skip that row",
    )
