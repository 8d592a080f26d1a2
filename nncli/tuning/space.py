"""Search spaces: sensible defaults, overridable from the TOML config, validated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.errors import UsageError

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class ParamSpec:
    """One searched (or fixed) hyperparameter."""

    name: str
    kind: str  # "int", "float", "categorical" or "fixed"
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()
    value: Any = None

    def suggest(self, trial: optuna.Trial) -> Any:
        """Draw this parameter for a trial (a fixed one is returned as is)."""
        if self.kind == "fixed":
            return self.value
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            step = int(self.step or 1)
            return trial.suggest_int(
                self.name, int(self.low or 0), int(self.high or 0), step=step, log=self.log
            )
        return trial.suggest_float(
            self.name, float(self.low or 0), float(self.high or 0), log=self.log, step=self.step
        )

    def describe(self) -> str:
        if self.kind == "fixed":
            return f"= {self.value!r}"
        if self.kind == "categorical":
            return "{" + ", ".join(map(str, self.choices)) + "}"
        return f"[{self.low:g}, {self.high:g}]" + (" log" if self.log else "")


def _int(name: str, low: int, high: int, log: bool = False) -> ParamSpec:
    return ParamSpec(name, "int", low, high, log)


def _float(name: str, low: float, high: float, log: bool = False) -> ParamSpec:
    return ParamSpec(name, "float", low, high, log)


def _choice(name: str, *choices: Any) -> ParamSpec:
    return ParamSpec(name, "categorical", choices=tuple(choices))


TABULAR_SPACE: dict[str, ParamSpec] = {
    spec.name: spec
    for spec in (
        _choice("arch", "mlp", "rbf"),
        _int("layers", 1, 3),
        _int("width", 16, 256, log=True),
        _float("dropout", 0.0, 0.5),
        _float("lr", 1e-4, 1e-2, log=True),
        _float("weight_decay", 1e-6, 1e-2, log=True),
        _choice("batch_size", 32, 64, 128, 256),
        _choice("activation", "relu", "gelu", "silu", "tanh"),
    )
}

FORECAST_SPACE: dict[str, ParamSpec] = {
    spec.name: spec
    for spec in (
        _choice("arch", "lstm", "gru", "tcn", "mlp"),
        _choice("lookback", 20, 40, 60),
        _int("hidden_size", 16, 128, log=True),
        _int("layers", 1, 2),
        _float("dropout", 0.0, 0.3),
        _float("lr", 1e-4, 1e-2, log=True),
    )
}


def _override(base: ParamSpec, value: Any, where: str) -> ParamSpec:
    name = base.name
    if isinstance(value, list):
        if not value:
            raise UsageError(f"{where}: {name} = [] has no choices")
        return ParamSpec(name, "categorical", choices=tuple(value))
    if isinstance(value, Mapping):
        unknown = set(value) - {"low", "high", "log", "step", "choices", "value"}
        if unknown:
            raise UsageError(
                f"{where}: {name} has unknown key(s) {', '.join(sorted(unknown))}",
                hint="use low, high, log, step, choices or value",
            )
        if "value" in value:
            return ParamSpec(name, "fixed", value=value["value"])
        if "choices" in value:
            return _override(base, list(value["choices"]), where)
        low = value.get("low", base.low)
        high = value.get("high", base.high)
        if base.kind not in ("int", "float") or low is None or high is None:
            raise UsageError(f"{where}: {name} is a choice; give a list of choices or a value")
        if not isinstance(low, int | float) or not isinstance(high, int | float) or low > high:
            raise UsageError(
                f"{where}: {name} needs numbers with low <= high (got {low!r}, {high!r})"
            )
        log = bool(value.get("log", base.log))
        if log and low <= 0:
            raise UsageError(f"{where}: {name} with log = true needs low > 0")
        return ParamSpec(name, base.kind, low, high, log, value.get("step"))
    return ParamSpec(name, "fixed", value=value)


def build_space(
    defaults: dict[str, ParamSpec], overrides: Mapping[str, Any] | None, where: str
) -> dict[str, ParamSpec]:
    """The default space with the config file's overrides applied.

    In TOML: ``width = {low = 32, high = 512, log = true}`` (a range), ``activation =
    ["relu", "gelu"]`` (choices), ``layers = 2`` (fixed).
    """
    space = dict(defaults)
    for key, value in (overrides or {}).items():
        name = key.replace("-", "_")
        if name not in defaults:
            raise UsageError(
                f"{where}: unknown search parameter {key!r}",
                hint=f"known: {', '.join(defaults)}",
            )
        space[name] = _override(defaults[name], value, where)
    return space


def read_space_overrides(config: Path | None, *command: str) -> tuple[dict[str, Any], str]:
    """The ``[<command>.space]`` table of a TOML config file, and where it came from.

    `command` names the command's table, e.g. ("tune",) or ("forecast", "tune").
    """
    import tomllib

    if config is None:
        return {}, "config"
    data: Any = tomllib.loads(config.read_text(encoding="utf-8"))
    for part in command:
        data = data.get(part, {}) if isinstance(data, dict) else {}
    space = data.get("space", {}) if isinstance(data, dict) else {}
    where = f"{config} [{'.'.join((*command, 'space'))}]"
    if not isinstance(space, dict):
        raise UsageError(f"{where} must be a table of search parameters")
    return dict(space), where


def sample(space: dict[str, ParamSpec], trial: optuna.Trial) -> dict[str, Any]:
    """One point of the space for this trial."""
    return {name: spec.suggest(trial) for name, spec in space.items()}
