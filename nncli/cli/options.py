"""Every command's flags, built from the library's option declarations, and the TOML config.

A command is a plain function registered with `command(group)`. Each parameter annotated with
an options dataclass (`TabularOptions`, `ForecastOptions`, ...) becomes that dataclass's flags,
read from the fields declared with `nncli.options.option`; the command receives the dataclass
built and validated. Every command also gets --json, --quiet, --debug and --config, runs
inside `command_session` (one-line errors, exit codes) and may ask for the run's `ui: Ui`.

Precedence, highest first: command-line flags, NNCLI_* environment variables, the --config
TOML file, built-in defaults. (Click resolves flags > envvar > default_map > default; the
eager --config option fills the default_map before any other option is read.)
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import shlex
import typing
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

from nncli.config import read_config
from nncli.errors import UsageError
from nncli.options import (
    HelpNote,
    OptionSpec,
    check_options,
    flag_name,
    help_notes,
    metavar_of,
    spec_of,
    with_default,
)

CommandT = TypeVar("CommandT", bound=Callable[..., Any])


def load_config(ctx: typer.Context, param: Any, value: Path | None) -> Path | None:
    """Make the TOML file's values this command's defaults, checked (see `nncli.config`)."""
    if value is None or ctx.resilient_parsing:
        return value
    hints = typing.get_type_hints(ctx.command.callback) if ctx.command.callback else {}
    annotations = {name: hints[name] for name in _option_names(ctx.command)}
    commands = dict(_commands(ctx.find_root().command, ()))
    found = read_config(value, tuple(ctx.command_path.split()[1:]), annotations, commands)
    ctx.default_map = {**(ctx.default_map or {}), **found.values}
    ctx.meta["nncli.config_origins"] = found.origins  # option name -> the file's key
    return value


def _option_names(command: Any) -> list[str]:
    return [p.name for p in command.params if p.name and p.name not in ("config", "ctx")]


def _commands(group: Any, prefix: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], list[str]]]:
    for name, sub in getattr(group, "commands", {}).items():
        if hasattr(sub, "commands"):
            yield from _commands(sub, (*prefix, name))
        else:
            yield (*prefix, name), _option_names(sub)


def value_origin(ctx: Any, name: str) -> str | None:
    """Where the value of option `name` (or flag) came from, if not the command line:
    `NNCLI_EPOCHS=abc` or the config file's key, for errors to blame; else None."""
    name = name.removeprefix("--").replace("-", "_")
    source = ctx.get_parameter_source(name)
    if source is not None and source.name == "ENVIRONMENT":
        envvar = next((p.envvar for p in ctx.command.params if p.name == name), None)
        return f"{envvar}={shlex.quote(os.environ.get(str(envvar), ''))}"
    if source is not None and source.name == "DEFAULT_MAP":
        return ctx.meta.get("nncli.config_origins", {}).get(name)
    return None


def usage_message(exc: Any) -> str:
    """A Click usage error on one line, blaming the flag, NNCLI_* variable or config key
    that gave the bad value (Click names the variable even when the flag gave it)."""
    ctx, param, origin = vars(exc).get("ctx"), vars(exc).get("param"), None
    source = ctx.get_parameter_source(param.name) if ctx and param and param.name else None
    if source is not None and source.name != "DEFAULT" and param.param_type_name == "option":
        exc.param_hint, origin = f"'{param.opts[0]}'", value_origin(ctx, param.name)
    message = exc.format_message()
    return " ".join((f"{origin}: {message}" if origin else message).split())


OUTPUT = "Output"

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        envvar="NNCLI_CONFIG",
        is_eager=True,
        callback=load_config,
        help="TOML file of option values (flags and NNCLI_* variables override it).",
        rich_help_panel=OUTPUT,
    ),
]
JsonOpt = Annotated[
    bool,
    typer.Option(
        "--json",
        envvar="NNCLI_JSON",
        help="Print exactly one JSON document on stdout.",
        rich_help_panel=OUTPUT,
    ),
]
QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        envvar="NNCLI_QUIET",
        help="Silence notes and warnings on stderr (errors still show).",
        rich_help_panel=OUTPUT,
    ),
]
DebugOpt = Annotated[
    bool,
    typer.Option(
        "--debug",
        envvar="NNCLI_DEBUG",
        help="Show full tracebacks on errors.",
        rich_help_panel=OUTPUT,
    ),
]
DataArg = Annotated[
    Path,
    typer.Argument(help="CSV (or .gz/.bz2/.xz), Parquet or Feather file.", show_default=False),
]
ModelArg = Annotated[
    Path, typer.Argument(help="Model file written by 'nncli train'.", show_default=False)
]


_EMPTY = inspect.Parameter.empty


def _is_options_class(annotation: Any) -> bool:
    return isinstance(annotation, type) and dataclasses.is_dataclass(annotation)


def _field_default(field: dataclasses.Field[Any], instance: Any) -> Any:
    if instance is not None:
        return getattr(instance, field.name)
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return _EMPTY


def _cli_parameter(
    field: dataclasses.Field[Any], hint: Any, default: Any, note: HelpNote | None = None
) -> inspect.Parameter:
    """The Typer parameter for one declared field, described as `note` says if given."""
    spec = spec_of(field)
    assert spec is not None
    flag = flag_name(field)
    help, show_default = spec.help, not spec.hidden_default and default is not _EMPTY
    if note is not None:
        help = note.help or help
        if note.default is not None:
            help, show_default = with_default(help, note.default), False
    name = flag.removeprefix("--").replace("-", "_")
    if spec.repeatable:
        hint, default = list[str] | None, None
    elif spec.parse is not None:
        hint = str | None if default is None else str
        if default is not _EMPTY and default is not None:
            default = spec.show(default) if spec.show else str(default)
    envvar = "NNCLI_" + name.upper() if spec.envvar and not spec.repeatable else None
    info = typer.Option(
        flag,
        *([spec.short] if spec.short else []),
        envvar=envvar,
        help=help,
        rich_help_panel=spec.panel,
        show_default=show_default,
    )
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[hint, info]
    )


Builder = Callable[[dict[str, Any]], Any]


def _expand(
    cls: type,
    instance: Any,
    parameters: dict[str, inspect.Parameter],
    notes: dict[str, HelpNote] | None = None,
) -> Builder:
    """Add `cls`'s declared fields to `parameters` (described as `notes` say, by flag);
    return a function that rebuilds an instance from the parsed command-line values."""
    notes = help_notes(cls) if notes is None else notes
    hints = typing.get_type_hints(cls)
    parts: dict[str, Builder] = {}
    for field in dataclasses.fields(cls):
        default = _field_default(field, instance)
        hint = hints[field.name]
        if _is_options_class(hint):
            parts[field.name] = _expand(
                hint, None if default is _EMPTY else default, parameters, notes
            )
            continue
        spec = spec_of(field)
        if spec is None or not spec.cli:
            if default is _EMPTY:
                raise TypeError(f"{cls.__name__}.{field.name} has no default and no flag")
            parts[field.name] = functools.partial(lambda value, _: value, default)
            continue
        parameter = _cli_parameter(field, hint, default, notes.get(flag_name(field)))
        if parameter.name in parameters:
            raise TypeError(f"option {parameter.name!r} is declared twice in one command")
        parameters[parameter.name] = parameter
        parts[field.name] = functools.partial(_read_value, parameter.name, spec)

    def build(values: dict[str, Any]) -> Any:
        return cls(**{name: part(values) for name, part in parts.items()})

    return build


def _read_value(name: str, spec: OptionSpec, values: dict[str, Any]) -> Any:
    value = values[name]
    if spec.repeatable:
        return list(value or [])
    if spec.parse is not None and isinstance(value, str):
        try:
            return spec.parse(value)
        except UsageError as exc:  # blame NNCLI_X=... or the config file, if they gave it
            origin = value_origin(values["ctx"], name)
            raise (UsageError(f"{origin}: {exc.message}", exc.hint) if origin else exc) from None
    return value


def _common_parameters() -> dict[str, inspect.Parameter]:
    aliases = {"json": JsonOpt, "quiet": QuietOpt, "debug": DebugOpt, "config": ConfigOpt}
    defaults = {"json": False, "quiet": False, "debug": False, "config": None}
    return {
        name: inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=defaults[name], annotation=alias
        )
        for name, alias in aliases.items()
    }


_HELP_READY: weakref.WeakSet[Any] = weakref.WeakSet()  # aliases are shared: escape once


def help_ready(parameter: inspect.Parameter) -> inspect.Parameter:
    """`parameter` with its help escaped (so Rich keeps `[plot]`), an argument named `DATA`."""
    from rich.markup import escape

    for info in typing.get_args(parameter.annotation)[1:]:
        if isinstance(info, typer.models.ParameterInfo) and info not in _HELP_READY:
            _HELP_READY.add(info)
            info.help = escape(info.help) if info.help else info.help
            if isinstance(info, typer.models.ArgumentInfo):
                info.metavar = info.metavar or parameter.name.upper()
    return parameter


class PlainHelpFlag:
    """Help names each value plainly (`DATA PATH`, `--epochs INT`, a flag none: see
    `metavar_of`), not `<path>` or `<bool>`; the usage line reads `DATA`, not `{DATA}`."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:  # Typer's own flags (--help, completion) included
            plain = metavar_of(param.type_descriptor.annotation)
            param.display_type = functools.partial(lambda text, ctx: text, plain)
        return params

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)  # type: ignore[misc]
        return [piece.strip("{}") for piece in pieces]


class HelpGroup(PlainHelpFlag, TyperGroup):
    """A command group with plain help (see `PlainHelpFlag`)."""


class HelpCommand(PlainHelpFlag, TyperCommand):
    """A command with plain help (see `PlainHelpFlag`)."""


def command(group: typer.Typer, name: str | None = None) -> Callable[[CommandT], CommandT]:
    """Register `function` as a command of `group`, its options dataclasses spelled out as flags.

    The function's parameters are either ordinary Typer parameters (kept as they are), an
    options dataclass (expanded into its declared flags, then built and validated), or
    `ui` (the run's `Ui`). Every command gets --json, --quiet, --debug and --config.
    """

    def register(function: CommandT) -> CommandT:
        from nncli.cli.runtime import command_session

        hints = typing.get_type_hints(function, include_extras=True)
        parameters: dict[str, inspect.Parameter] = {}
        builders: dict[str, Builder] = {}
        classes: list[type] = []
        for parameter in inspect.signature(function).parameters.values():
            hint = hints.get(parameter.name, parameter.annotation)
            if parameter.name == "ui":
                continue
            if _is_options_class(hint):
                instance = None if parameter.default is _EMPTY else parameter.default
                builders[parameter.name] = _expand(hint, instance, parameters)
                classes.append(hint)
            else:
                parameters[parameter.name] = parameter.replace(
                    kind=inspect.Parameter.KEYWORD_ONLY, annotation=hint
                )
                builders[parameter.name] = functools.partial(
                    lambda key, values: values[key], parameter.name
                )
        parameters.update(_common_parameters())
        wants_ui = "ui" in inspect.signature(function).parameters

        @functools.wraps(function)
        def run(**values: Any) -> Any:
            with command_session(values["json"], values["quiet"], values["debug"]) as ui:
                arguments = {key: build(values) for key, build in builders.items()}
                origin = functools.partial(value_origin, values["ctx"])
                for value in arguments.values():
                    if dataclasses.is_dataclass(value) and not isinstance(value, type):
                        check_options(value, origin)
                if wants_ui:
                    arguments["ui"] = ui
                return function(**arguments)

        context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        signature = inspect.Signature([*map(help_ready, parameters.values()), context])
        run.__signature__ = signature  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
        del run.__wrapped__  # Typer must read the new signature, not the function's
        run.options_classes = tuple(classes)  # type: ignore[attr-defined]  # read by tests
        group.command(name, cls=HelpCommand)(run)
        return function

    return register
