"""Safe file handling: atomic writes, fingerprints, and refusing to overwrite the input."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from nncli.errors import DataError, UsageError


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_input_file(path: Path, what: str = "data file") -> Path:
    """Fail with a clear DataError unless `path` is a readable regular file."""
    if not path.exists():
        raise DataError(f"{path}: no such {what}", hint="check the path and the working directory")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a {what}", hint="pass the CSV file inside it")
    if not os.access(path, os.R_OK):
        raise DataError(f"{path}: permission denied", hint="make the file readable (chmod u+r)")
    return path


def check_output_path(output: Path, *inputs: Path) -> Path:
    """Refuse an output path that would overwrite an input or cannot be written."""
    for source in inputs:
        with contextlib.suppress(OSError):
            if output.resolve() == source.resolve():
                raise UsageError(
                    f"{output}: the output path is the input file; refusing to overwrite the data",
                    hint="choose another output path",
                )
    parent = output.parent if str(output.parent) else Path()
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"{output}: {parent} is a file, not a directory", hint="fix the path")
    if not parent.is_dir():
        raise UsageError(f"{output}: directory {parent} does not exist", hint="create it first")
    if output.is_dir():
        raise UsageError(f"{output}: is a directory", hint="give a file name")
    # Try it rather than trust os.access: root passes access checks on read-only mounts,
    # and a refusal now is better than after an hour of training.
    try:
        probe, probe_name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".probe", dir=parent)
        os.close(probe)
        Path(probe_name).unlink()
    except OSError as exc:
        raise UsageError(
            f"{output}: directory {parent} is not writable ({exc.strerror or exc})",
            hint="choose another path",
        ) from exc
    return output


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write to a temporary file beside `path` and rename it over `path` only on success.

    Readers never see a half-written file, and an error or a signal mid-write leaves any
    earlier file at `path` untouched.
    """
    directory = path.parent if str(path.parent) else Path()
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise _unwritable(path, exc) from exc
    tmp_path = Path(tmp_name)
    try:
        text_mode = "b" not in mode
        with os.fdopen(
            fd, mode, encoding=encoding if text_mode else None, newline="" if text_mode else None
        ) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes 0600 files; give the result the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        tmp_path.chmod(0o666 & ~umask)
        tmp_path.replace(path)
    except BaseException as exc:
        tmp_path.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
            raise _unwritable(path, exc) from exc
        raise


# Failures of the output's storage, not bugs: full disk, quota, read-only mount, refusal.
_STORAGE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}
)


def _unwritable(path: Path, exc: OSError) -> UsageError:
    return UsageError(
        f"{path}: cannot write the file ({exc.strerror or exc}); nothing partial was left",
        hint="free space or choose another path",
    )


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Atomically replace `path` with `data`."""
    with atomic_writer(path, "wb", encoding=None) as handle:
        handle.write(data)
