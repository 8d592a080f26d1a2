"""Options declared once, on the dataclass that carries them into the library.

Each option is a dataclass field made by `option(...)`: its default, its help text, its
command-line flag and panel, and the constraint its value must meet. `check_options` validates
a whole options object (nested dataclasses included) from those declarations, and the CLI
builds every command's flags from the same fields (`nncli.cli.options`), so an option is
written in exactly one place. (The idea is scikit-learn's `_parameter_constraints`.)

This module imports nothing heavy and nothing from the CLI.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from nncli.errors import UsageError

OPTION_KEY = "nncli.option"
LARGEST_INTEGER = 2**63 - 1  # torch and numpy hold counts and sizes in 64 bits


def show_number(number: float) -> str:
    """A bound as a person writes it: 4294967295, 0.5, 1e-08 (not 4.29497e+09)."""
    if float(number).is_integer() and abs(number) < 1e16:
        return str(int(number))
    return f"{number:g}"


class Check:
    """A constraint on one option's value; `problem` says what is wrong, or None."""

    def problem(self, value: Any) -> str | None:
        raise NotImplementedError


@dataclass(frozen=True)
class AtLeast(Check):
    """A number no smaller than `low` (None is allowed: it means 'automatic')."""

    low: float

    def problem(self, value: Any) -> str | None:
        if value is None or (isinstance(value, int | float) and value >= self.low):
            return None
        return f"must be at least {show_number(self.low)}, not {value}"


@dataclass(frozen=True)
class Positive(Check):
    """A number greater than zero."""

    def problem(self, value: Any) -> str | None:
        if value is None or (isinstance(value, int | float) and value > 0):
            return None
        return f"must be positive, not {value}"


@dataclass(frozen=True)
class NonNegative(Check):
    """A finite number, zero or more."""

    def problem(self, value: Any) -> str | None:
        if value is None or (
            isinstance(value, int | float) and math.isfinite(value) and value >= 0
        ):
            return None
        return f"must be zero or positive, not {value}"


@dataclass(frozen=True)
class Within(Check):
    """A number in an interval; `closed` says which ends belong to it ('[)', '()', '[]')."""

    low: float
    high: float
    closed: str = "[)"

    def problem(self, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, int | float):
            above = value >= self.low if self.closed[0] == "[" else value > self.low
            below = value <= self.high if self.closed[1] == "]" else value < self.high
            if above and below:
                return None
        low, high = show_number(self.low), show_number(self.high)
        return f"must be in {self.closed[0]}{low}, {high}{self.closed[1]}, not {value}"


@dataclass(frozen=True)
class OneOf(Check):
    """One of a fixed set of names."""

    choices: tuple[str, ...]

    def problem(self, value: Any) -> str | None:
        if value is None or value in self.choices:
            return None
        return f"must be one of {', '.join(self.choices)}, not {value!r}"


@dataclass(frozen=True)
class OptionSpec:
    """How an option appears on the command line; stored in the field's metadata."""

    help: str
    flag: str | None = None  # default: --name-with-dashes
    short: str | None = None
    panel: str | None = None
    check: Check | None = None
    # For values a shell cannot type directly (lists): text -> value, and value -> text.
    parse: Callable[[str], Any] | None = None
    show: Callable[[Any], str] | None = None
    repeatable: bool = False  # a list given as the flag many times (--drop a --drop b)
    envvar: bool = True
    hidden_default: bool = False  # the default is 'automatic' and says so in the help
    cli: bool = True  # False: a library-only field with no flag


@dataclass(frozen=True)
class HelpNote:
    """How the commands of one options class describe an option it shares with other
    classes (a training setting of tables and of series): its help there, and what its
    "(default: ...)" says there. With a `default`, the help shows no `[default: X]`: the
    value used depends on more than the flag's own default (the network, the domain).

    An options class gives its notes by flag from a classmethod `help_notes()`; the CLI
    reads those of every options class in a command, the outermost winning."""

    help: str | None = None
    default: str | None = None


def with_default(help: str, default: str) -> str:
    """`help` with "(default: ...)" added before its closing full stop."""
    body, stop = (help[:-1], ".") if help.endswith(".") else (help, "")
    return f"{body} (default: {default}){stop}"


def per_choice(values: dict[str, str]) -> str:
    """What each choice (an architecture) uses, each value once after the choices that use
    it, in the order given: 'tabm 4e-3; mlp, rbf 1e-3'; one value for every choice: '1e-3'."""
    groups: dict[str, list[str]] = {}
    for choice, value in values.items():
        groups.setdefault(value, []).append(choice)
    if len(groups) == 1:
        return next(iter(groups))
    return "; ".join(f"{', '.join(choices)} {value}" for value, choices in groups.items())


def show_rate(number: float) -> str:
    """A rate as help writes it: 4e-3, 1e-4, 0 (not 0.004 or 0.0001)."""
    if number == 0:
        return "0"
    mantissa, exponent = f"{number:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}" if float(f"{number:.0e}") == number else f"{number:g}"


def option(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    default_factory: Any = dataclasses.MISSING,
    **spec: Any,
) -> Any:
    """A dataclass field declared once: default, help, flag, panel and constraint."""
    metadata = {OPTION_KEY: OptionSpec(help=help, **spec)}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def spec_of(field: dataclasses.Field[Any]) -> OptionSpec | None:
    """The option declaration on a dataclass field, if it has one."""
    spec = field.metadata.get(OPTION_KEY)
    return spec if isinstance(spec, OptionSpec) else None


# How help names the value an option or argument takes; a flag (bool) takes none.
METAVARS: dict[Any, str] = {
    bool: "",
    Path: "PATH",
    int: "INT",
    float: "FLOAT",
    str: "TEXT",
    datetime: "DATETIME",
}


def metavar_of(hint: Any) -> str:
    """The plain uppercase name help shows for a value of type `hint`: PATH, INT, TEXT...
    (Optional[X] and list[X] read as X; a type not listed reads TEXT), never `<path>`."""
    while typing.get_args(hint):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return METAVARS.get(hint, "TEXT")


def flag_name(field: dataclasses.Field[Any]) -> str:
    """The field's long flag, e.g. `learning_rate` declared as --lr."""
    spec = spec_of(field)
    if spec is not None and spec.flag:
        return spec.flag
    return "--" + field.name.replace("_", "-")


def declared_fields(options: Any) -> Iterator[tuple[dataclasses.Field[Any], Any]]:
    """(field, value) for every declared option, descending into nested option dataclasses."""
    for field in dataclasses.fields(options):
        value = getattr(options, field.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield from declared_fields(value)
        elif spec_of(field) is not None:
            yield field, value


def check_options(options: Any, origin: Callable[[str], str | None] | None = None) -> None:
    """Validate every declared option of `options` (and of its nested option dataclasses),
    then the class's own cross-field rules (`check_combination`), raising a UsageError.

    Every number must be finite and every integer fit in 64 bits, whatever the declaration
    says. `origin(flag)` names where a value came from when the flag did not give it (an
    NNCLI_* variable, a config file's key); the error then blames that.
    """
    for field, value in declared_fields(options):
        spec = spec_of(field)
        if spec is None:
            continue
        problem = number_problem(value)
        if problem is None and spec.check is not None:
            problem = spec.check.problem(value)
        if problem is not None:
            flag = flag_name(field)
            where = origin(flag) if origin is not None else None
            raise UsageError(f"{where}: {flag} {problem}" if where else f"{flag} {problem}")
    for part in _option_objects(options):
        combination = getattr(part, "check_combination", None)
        if combination is not None:
            combination()


def number_problem(value: Any) -> str | None:
    """What is wrong with a number no option can take (nan, inf, beyond 64 bits), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, not {value}"
    if isinstance(value, int) and not -LARGEST_INTEGER <= value <= LARGEST_INTEGER:
        return f"must be at most {LARGEST_INTEGER} (2**63-1), not {value}"
    return None


def _option_objects(options: Any) -> Iterator[Any]:
    yield options
    for field in dataclasses.fields(options):
        value = getattr(options, field.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield from _option_objects(value)


def help_notes(cls: type) -> dict[str, HelpNote]:
    """The `HelpNote`s by flag of options class `cls` and of the options classes inside it,
    the outer ones winning (`ForecastOptions` says how its `TrainingConfig` reads)."""
    hints = typing.get_type_hints(cls)
    notes: dict[str, HelpNote] = {}
    for field in dataclasses.fields(cls):
        inner = hints[field.name]
        if isinstance(inner, type) and dataclasses.is_dataclass(inner):
            notes.update(help_notes(inner))
    own = getattr(cls, "help_notes", None)
    notes.update(own() if own is not None else {})
    return notes
