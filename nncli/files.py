"""Safe file handling: atomic writes, fingerprints, and refusing to overwrite the input.

Every output path is resolved (symlinks followed) before anything is written: an output that
is an input, or another output of the same command, is refused. A regular file is replaced
atomically (temporary file + rename) — the file a symlink names, through the link: the
temporary file is made beside the real file and renamed onto it, and the link stays a link.
Anything else — a terminal, /dev/null, a FIFO, a socket, or one of this process's own open
descriptors (/dev/stdout, /dev/fd/N, /proc/self/fd/N, whatever they point at) — is written in
place, never renamed over.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from nncli.errors import DataError, FileWriteError, UsageError
from nncli.signals import raise_if_signalled

# The errors of a storage that refuses a write (exit 8, not a bug or a bad path): no space,
# no quota left, a file too large, a read-only mount, a failing disk.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO})


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


# /proc/PID/fd/N (and a thread's /proc/PID/task/TID/fd/N), where /dev/stdout, /dev/fd/N and
# /proc/self/fd/N lead: a "magic" link to whatever the descriptor is open on (a pipe, a
# terminal, the file of a shell redirection), not a name that can be replaced.
_DESCRIPTOR_LINK = re.compile(r"/proc/(\d+)(?:/task/\d+)?/fd/(\d+)")
_MAX_LINKS = 40  # as the kernel's ELOOP limit


def own_descriptor(path: Path) -> int | None:
    """The descriptor of this process that `path` names (/dev/stdout -> /proc/self/fd/1 -> 1),
    following symlinks, or None when the path leads elsewhere."""
    current = Path(path).absolute()
    for _ in range(_MAX_LINKS):
        current = Path(os.path.realpath(current.parent)) / current.name
        match = _DESCRIPTOR_LINK.fullmatch(str(current))
        if match and int(match[1]) == os.getpid():
            return int(match[2])
        try:
            target = current.readlink()
        except OSError:  # not a link (or nothing there): the chain ends
            return None
        current = current.parent / target  # an absolute target replaces the parent
    return None


def real_path(path: Path) -> Path:
    """The file that writing `path` writes: every symlink followed (a -> b -> c gives c), also a
    dangling one (the file it names, which writing creates). A loop is refused (exit 2)."""
    real = Path(os.path.realpath(path))
    if real.is_symlink():  # realpath stops where the chain goes round
        raise UsageError(f"{path}: too many levels of symbolic links (a loop)", hint="fix the link")
    return real


def is_special_file(path: Path) -> bool:
    """True for an output written in place, never replaced: a device, FIFO or socket, or one of
    this process's open descriptors (/dev/stdout, whatever stdout is: a pipe, a terminal, or
    the file of `> out.csv`)."""
    if own_descriptor(path) is not None:
        return True
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def same_file(first: Path, second: Path) -> bool:
    """Whether two paths name one file (after symlinks; also hard links to one inode)."""
    with contextlib.suppress(OSError):
        if os.path.realpath(first) == os.path.realpath(second):  # a loop: no error here
            return True
        a, b = first.stat(), second.stat()
        return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
    return False


def check_distinct_outputs(outputs: dict[str, Path | None]) -> None:
    """Refuse two outputs of one command that name the same file (e.g. -o H.csv --append H.csv)."""
    named = [(flag, path) for flag, path in outputs.items() if path is not None]
    for index, (flag, path) in enumerate(named):
        for other_flag, other in named[index + 1 :]:
            if same_file(path, other):
                raise UsageError(
                    f"{path}: {flag} and {other_flag} name the same file; one would destroy "
                    "what the other wrote",
                    hint="give each output its own path",
                )


def check_output_path(output: Path, *inputs: Path) -> Path:
    """Refuse an output path that would overwrite an input or cannot be written."""
    for source in inputs:
        if same_file(output, source):
            raise UsageError(
                f"{output}: the output path is the input file; refusing to overwrite the data",
                hint="choose another output path",
            )
    if is_special_file(output):
        return output  # a device, FIFO or descriptor: written in place, never replaced
    real = real_path(output)
    through = f" (a link to {real})" if output.is_symlink() else ""
    parent = real.parent
    if parent.exists() and not parent.is_dir():
        raise UsageError(
            f"{output}{through}: {parent} is a file, not a directory", hint="fix the path"
        )
    if not parent.is_dir():
        raise UsageError(
            f"{output}{through}: directory {parent} does not exist", hint="create it first"
        )
    if real.is_dir():
        raise UsageError(f"{output}{through}: is a directory", hint="give a file name")
    # Try it rather than trust os.access: root passes access checks on read-only mounts,
    # and a refusal now is better than after an hour of training.
    try:
        with signals_held():  # a Ctrl-C or SIGTERM now lands after the probe is gone
            probe, probe_name = tempfile.mkstemp(
                prefix=f".{real.name}.", suffix=".probe", dir=parent
            )
            os.close(probe)
            Path(probe_name).unlink()
    except OSError as exc:
        raise UsageError(
            f"{output}: directory {parent} is not writable ({exc.strerror or exc})",
            hint="choose another path",
        ) from exc
    return output


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for a moment (on the main thread, where Python handles
    them): one that arrives meanwhile is delivered when the block ends."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write to a temporary file beside `path` and rename it over `path` only on success.

    Readers never see a half-written file, and an error or a signal mid-write leaves any
    earlier file at `path` untouched. A symlink is written through: the file it names (also
    along a chain, or not yet existing) is replaced, the link kept. A device, FIFO or one of
    this process's descriptors (`is_special_file`) is written in place.
    """
    descriptor = own_descriptor(path)
    if descriptor is not None:
        with _into_descriptor(path, descriptor, mode, encoding) as handle:
            yield handle
        return
    if is_special_file(path):
        with _in_place(path, mode, encoding) as handle:
            yield handle
        return
    target = real_path(path)
    directory = target.parent
    remove_orphaned_temporaries(target)
    tmp_path: Path | None = None
    try:
        with signals_held():  # a signal now lands once the temporary file is known here
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=directory
            )
            tmp_path = Path(tmp_name)
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
        raise_if_signalled()  # a signal whose exception was swallowed must not commit
        tmp_path.replace(target)
    except BaseException as exc:
        if tmp_path is not None:
            tmp_path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _unwritable(path, exc) from exc
        raise


def remove_orphaned_temporaries(path: Path) -> None:
    """Delete temporary files beside `path` left by a writer that was killed (SIGKILL, power
    loss): their names carry the writer's PID, and that process no longer exists."""
    directory = path.parent if str(path.parent) else Path()
    with contextlib.suppress(OSError):
        for candidate in directory.glob(f".{glob.escape(path.name)}.*.tmp"):
            pid_text = candidate.name[len(path.name) + 2 :].split(".", 1)[0]
            if pid_text.isdigit() and not process_exists(int(pid_text)):
                candidate.unlink(missing_ok=True)


@contextlib.contextmanager
def _in_place(path: Path, mode: str, encoding: str | None) -> Iterator[IO]:
    """Write straight into a device or FIFO (`/dev/stdout`, `/dev/null`): there is nothing to
    replace atomically, and renaming over it would destroy the device node."""
    text_mode = "b" not in mode
    try:
        with path.open(
            mode, encoding=encoding if text_mode else None, newline="" if text_mode else None
        ) as handle:
            yield handle
    except OSError as exc:
        raise _unwritable(path, exc) from exc


@contextlib.contextmanager
def _into_descriptor(path: Path, descriptor: int, mode: str, encoding: str | None) -> Iterator[IO]:
    """Write into a descriptor this process already holds (`-o /dev/stdout`): through a copy
    of it, so the shell's redirection is kept as it is — `>> log.csv` still appends, and
    `> out.csv` gets the rows — where opening the name again would truncate the file."""
    text_mode = "b" not in mode
    for stream in (sys.stdout, sys.stderr):  # what was printed before comes first
        with contextlib.suppress(Exception):
            if stream is not None and stream.fileno() == descriptor:
                stream.flush()
    try:
        handle = os.fdopen(
            os.dup(descriptor),
            mode,
            encoding=encoding if text_mode else None,
            newline="" if text_mode else None,
        )
    except OSError as exc:
        raise _unwritable(path, exc) from exc
    try:
        with handle:
            yield handle
    except BrokenPipeError:
        raise  # the reader went away (`-o /dev/stdout | head`): as for stdout itself
    except OSError as exc:
        raise _unwritable(path, exc) from exc


def _unwritable(path: Path, exc: OSError) -> FileWriteError:
    return FileWriteError(
        f"{path}: cannot write the file ({exc.strerror or exc}); nothing partial was left",
        hint="free space or choose another path",
    )


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Atomically replace `path` with `data`."""
    with atomic_writer(path, "wb", encoding=None) as handle:
        handle.write(data)


def process_exists(pid: int) -> bool:
    """Whether a process with this PID exists on this machine (it may belong to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def storage_error(exc: OSError) -> FileWriteError | None:
    """The one-line error (exit 8) for a write the storage refused (disk full, quota, …) that
    no file writer caught — a write to stdout (`> full/out.csv`) has no file name — or None
    for any other OSError, which stays a bug."""
    if isinstance(exc, BrokenPipeError) or exc.errno not in STORAGE_ERRNOS:
        return None
    reason = exc.strerror or str(exc)
    if exc.filename is not None:
        return FileWriteError(f"{exc.filename}: cannot write ({reason})", hint="free space")
    return FileWriteError(
        f"stdout: cannot write the output ({reason}); what reached it is incomplete",
        hint="free space where stdout goes, or write with -o FILE",
    )
