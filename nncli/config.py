"""The --config TOML file: read, checked against the commands' options, each value traced.

Top-level keys apply to every command that has such an option; a table named after a command
(``[train]``, ``[forecast.train]``) applies to that command only and may hold only its options
(and, for a `tune` command, its ``[tune.space]`` table). A value of the wrong type is a usage
error that names the file, the key and the type expected: TOML's `true` is not an epoch count,
and a table is not a learning rate. Every value keeps its origin (``f.toml [train] epochs``),
so a value refused later is blamed on the file, not on a flag the user never typed.

This module knows nothing of the CLI: the CLI passes each option's Python annotation.
"""

from __future__ import annotations

import json
import tomllib
import types
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from nncli.errors import UsageError

Command = tuple[str, ...]  # e.g. ("forecast", "train")

# Tables a command's table may hold besides its options: the search space of `tune` commands.
EXTRA_TABLES = {"tune": ("space",)}


@dataclass(frozen=True)
class ConfigValues:
    """The file's values for one command (as its options take them) and where each came from."""

    values: dict[str, Any]
    origins: dict[str, str]  # name -> "f.toml [train] epochs"


def toml_text(value: Any) -> str:
    """A value as it reads in TOML (`true`, `"ten"`, a table), for error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)  # numbers; Python writes nan and inf as TOML does


# A config file is a few dozen lines; anything this big is not one (nor is a device).
MAX_CONFIG_BYTES = 1 << 20


def read_toml(path: Path) -> dict[str, Any]:
    """The file's TOML document; an unreadable or invalid file is a usage error naming it."""
    try:
        return tomllib.loads(_read_config_bytes(path).decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: the config file is not UTF-8 text ({exc.reason})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from exc


def _read_config_bytes(path: Path) -> bytes:
    """The file's bytes, read only if it is a regular file of at most MAX_CONFIG_BYTES.

    As for model files (`nncli.artifacts`), `stat` comes before any open, so /dev/zero or
    /dev/urandom is never read (it would be read until memory runs out) and a FIFO never
    blocks; the descriptor is checked again after opening, and no more than the cap is read.
    """
    import os
    import stat

    try:
        status = path.stat()
    except FileNotFoundError as exc:
        raise UsageError(f"{path}: no such config file") from exc
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the config file ({exc.strerror})") from exc
    if stat.S_ISDIR(status.st_mode):
        raise UsageError(f"{path}: the config file is a directory")
    if not stat.S_ISREG(status.st_mode):
        if _is_dev_null(status):
            return b""  # `--config /dev/null`: the usual way to say "no values"
        raise _not_regular(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:  # one handler for the open and the read: both are "cannot read"
        with os.fdopen(os.open(path, flags), "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise _not_regular(path)
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the config file ({exc.strerror})") from exc
    too_large = f"the config file is larger than {MAX_CONFIG_BYTES >> 20} MiB; refusing to read it"
    if len(data) <= MAX_CONFIG_BYTES:
        return data
    raise UsageError(f"{path}: {too_large}", hint="pass the TOML file of option values")


def _is_dev_null(status: Any) -> bool:
    import os

    try:
        null = Path(os.devnull).stat()
    except OSError:
        return False
    return (status.st_rdev, status.st_mode) == (null.st_rdev, null.st_mode)


def _not_regular(path: Path) -> UsageError:
    return UsageError(
        f"{path}: the config file is not a regular file (a device, FIFO or socket); "
        "refusing to read it",
        hint="pass a TOML file (a process substitution such as <(...) is a pipe: write it "
        "to a file first)",
    )


def read_config(
    path: Path,
    command: Command,
    annotations: Mapping[str, Any],
    commands: Mapping[Command, Collection[str]],
) -> ConfigValues:
    """The values `path` gives `command`, whose options are `annotations` (name -> Python type).

    `commands` maps every command to its option names, so that a table or key no command
    knows (a typo) is refused rather than silently ignored.
    """
    data = read_toml(path)
    _check_layout(data, (), path, commands)
    base = path.resolve().parent
    found = ConfigValues({}, {})
    for key, item in data.items():  # top-level keys: for every command that has the option
        name = key.replace("-", "_")
        if name in annotations:
            _take(found, name, item, annotations[name], f"{path} {key}", base)
    section: Any = data
    for part in command:
        section = section.get(part, {})
    for key, item in section.items():
        name = key.replace("-", "_")
        if name in annotations:
            where = f"{path} [{'.'.join(command)}] {key}"
            _take(found, name, item, annotations[name], where, base)
    return found


def _check_layout(
    table: dict[str, Any], prefix: Command, path: Path, commands: Mapping[Command, Collection[str]]
) -> None:
    """Every table names a command (or a command's extra table), every key is an option of
    its command (top-level keys: of some command), a group's table holds only tables."""
    known = {name for names in commands.values() for name in names}
    for key, item in table.items():
        inner, name = (*prefix, key), key.replace("-", "_")
        is_command = any(each[: len(inner)] == inner for each in commands)
        extra = EXTRA_TABLES.get(prefix[-1], ()) if prefix in commands else ()
        if not is_command and name in commands.get(prefix, () if prefix else known):
            continue  # an option: its value's type is checked when its command runs
        if isinstance(item, dict) and is_command:
            _check_layout(item, inner, path, commands)
        elif isinstance(item, dict) and key in extra:
            continue
        elif isinstance(item, dict):
            raise UsageError(
                f"{path}: unknown table [{'.'.join(inner)}]: there is no command "
                f"'nncli {' '.join(inner)}'",
                hint="name a command's table, e.g. [train] or [forecast.train]",
            )
        elif prefix in commands:
            options = ", ".join(sorted(n.replace("_", "-") for n in commands[prefix]))
            raise UsageError(
                f"{path} [{'.'.join(prefix)}]: unknown option {key!r} for "
                f"'nncli {' '.join(prefix)}'",
                hint=f"known: {options}",
            )
        elif prefix:
            raise UsageError(
                f"{path} [{'.'.join(prefix)}] {key}: a group's table holds its commands' "
                "tables, not options",
                hint=f"move it to e.g. [{'.'.join(prefix)}.train], or to the top of the file",
            )
        else:
            raise UsageError(f"{path}: unknown option {key!r}: no command has it")


def _take(
    found: ConfigValues, name: str, item: Any, annotation: Any, origin: str, base: Path
) -> None:
    found.values[name] = config_value(item, annotation, origin, base)
    found.origins[name] = origin


def _plain(annotation: Any) -> tuple[Any, bool]:
    """(the type, whether it is a list) of an annotation such as `int | None` or `list[str]`."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    if typing.get_origin(annotation) is list:
        return typing.get_args(annotation)[0], True
    return annotation, False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def config_value(item: Any, annotation: Any, origin: str, base: Path) -> Any:
    """`item` from the file as the option of type `annotation` takes it; a value of another
    type is a usage error naming `origin` and the type expected."""
    kind, is_list = _plain(annotation)
    scalar = isinstance(item, str) or _is_number(item)
    if is_list:
        items = item if isinstance(item, list) else [item]
        if all(isinstance(one, str) or _is_number(one) for one in items):
            return [str(one) for one in items]
        expected = "a list of strings"
    elif kind is bool:
        if isinstance(item, bool):
            return item
        expected = "true or false"
    elif kind is int:
        if isinstance(item, int) and not isinstance(item, bool):
            return item
        expected = "an integer"
    elif kind is float:
        if _is_number(item):
            return float(item)
        expected = "a number"
    elif kind is Path:
        if isinstance(item, str) and item:
            candidate = Path(item).expanduser()
            return str(candidate if candidate.is_absolute() else base / candidate)
        expected = "a path (a non-empty string)"
    elif kind is datetime:
        if isinstance(item, str | datetime | date) and not isinstance(item, time):
            return item.isoformat(sep=" ") if isinstance(item, datetime) else str(item)
        expected = "a date or date-time"
    else:  # text, parsed by the option itself (--hidden 64,32, --max-age 3d)
        if scalar:
            return str(item)
        if isinstance(item, list) and all(isinstance(one, str) or _is_number(one) for one in item):
            return ",".join(str(one) for one in item)
        expected = "a string"
    shown = "" if isinstance(item, dict | list) else f" = {toml_text(item)}"
    raise UsageError(
        f"{origin}{shown}: expected {expected}, not {_kind_of(item)}",
        hint="fix the value in the config file",
    )


# What a TOML value is, in words (bool before int: TOML's true is a Python int too).
_KINDS = (
    (bool, "a boolean"),
    (str, "a string"),
    (int, "an integer"),
    (float, "a number"),
    (dict, "a table"),
    (list, "a list"),
)


def _kind_of(value: Any) -> str:
    return next((name for kind, name in _KINDS if isinstance(value, kind)), "a date or time")
