"""Options shared by every command, and the TOML config file behind them.

Precedence, highest first: command-line flags, NNCLI_* environment variables, the --config
TOML file, built-in defaults. (Click resolves flags > envvar > default_map > default; the
eager --config option fills the default_map before any other option is read.)
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer

from nncli.data.loading import CsvOptions
from nncli.errors import UsageError


def _path_parameters(ctx: typer.Context) -> set[str]:
    """Names of the command's parameters annotated as paths (read from its signature)."""
    import typing

    callback = ctx.command.callback
    if callback is None:
        return set()
    hints = typing.get_type_hints(callback)
    return {name for name, hint in hints.items() if Path in typing.get_args(hint) or hint is Path}


def _config_value(param: Any, value: Any, base: Path, is_path: bool) -> Any:
    if isinstance(value, list) and not getattr(param, "multiple", False):
        return ",".join(str(item) for item in value)
    if is_path and isinstance(value, str) and value:
        candidate = Path(value).expanduser()
        return str(candidate if candidate.is_absolute() else base / candidate)
    return value


def load_config(ctx: typer.Context, param: Any, value: Path | None) -> Path | None:
    """Read the TOML file and make its values this command's defaults.

    Top-level keys apply to every command that has such an option; a table named after the
    command (``[train]``, ``[forecast.train]``) applies to that command only and may hold
    only that command's options. Relative paths are taken relative to the config file.
    """
    if value is None or ctx.resilient_parsing:
        return value
    try:
        data = tomllib.loads(value.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise typer.BadParameter(f"{value}: no such config file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"{value}: cannot read the config file ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise typer.BadParameter(f"{value}: invalid TOML ({exc})") from exc
    params = {p.name: p for p in ctx.command.params if p.name}
    section: Any = data
    for part in ctx.command_path.split()[1:]:
        section = section.get(part, {}) if isinstance(section, dict) else {}
    if not isinstance(section, dict):
        raise typer.BadParameter(f"{value}: [{ctx.command_path}] must be a table")
    base = value.resolve().parent
    paths = _path_parameters(ctx)
    defaults: dict[str, Any] = {}
    for key, item in data.items():
        name = key.replace("-", "_")
        if not isinstance(item, dict) and name in params and name != "config":
            defaults[name] = _config_value(params[name], item, base, name in paths)
    for key, item in section.items():
        name = key.replace("-", "_")
        if isinstance(item, dict):
            continue  # a nested command's table
        if name not in params or name == "config":
            known = ", ".join(sorted(n.replace("_", "-") for n in params if n != "config"))
            raise typer.BadParameter(
                f"{value}: unknown option {key!r} for '{ctx.command_path}' (known: {known})"
            )
        defaults[name] = _config_value(params[name], item, base, name in paths)
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


def parse_sizes(text: str) -> list[int]:
    """'128,64' -> [128, 64]."""
    try:
        sizes = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError as exc:
        raise UsageError(f"{text!r} is not a comma-separated list of integers (--hidden)") from exc
    if not sizes or any(size < 1 for size in sizes):
        raise UsageError(f"{text!r}: layer widths must be positive integers")
    return sizes


def csv_options(sep: str | None, encoding: str) -> CsvOptions:
    """The CSV reading options from --sep and --encoding."""
    if sep is not None:
        sep = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";"}.get(sep, sep)
        if len(sep) != 1:
            raise UsageError(f"{sep!r}: --sep must be one character (or 'tab')")
    return CsvOptions(sep=sep, encoding=encoding)


OUTPUT = "Output"
DATA = "Data"

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
SepOpt = Annotated[
    str | None,
    typer.Option(
        "--sep",
        envvar="NNCLI_SEP",
        help="CSV field separator (default: sniffed from the header; 'tab' for TSV).",
        rich_help_panel=DATA,
    ),
]
EncodingOpt = Annotated[
    str,
    typer.Option(
        "--encoding",
        envvar="NNCLI_ENCODING",
        help="Text encoding of the CSV (e.g. latin-1).",
        rich_help_panel=DATA,
    ),
]
SeedOpt = Annotated[
    int,
    typer.Option(
        "--seed",
        envvar="NNCLI_SEED",
        help="Random seed: same data, seed and options give the same model.",
    ),
]
DataArg = Annotated[
    Path,
    typer.Argument(help="CSV file (optionally .gz/.bz2/.xz compressed).", show_default=False),
]
ModelArg = Annotated[
    Path, typer.Argument(help="Model file written by 'nncli train'.", show_default=False)
]
