"""Search spaces: sensible defaults, overridable from the TOML config, validated."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.config import toml_text
from nncli.errors import UsageError
from nncli.forecasting.architectures import ARCHITECTURES as FORECAST_ARCHITECTURES
from nncli.tabular.architectures import ARCHITECTURES as TABULAR_ARCHITECTURES

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
    # What the parameter may be at all, checked when a config overrides it (before any study
    # exists): the allowed values of a choice (empty: any of its type) and a numeric floor.
    legal: tuple[Any, ...] = ()
    minimum: float | None = None
    above_minimum: bool = False  # the floor itself excluded (a learning rate > 0)

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

    def distribution(self) -> optuna.distributions.BaseDistribution:
        """The Optuna distribution `suggest` draws from (not for a fixed parameter)."""
        from optuna import distributions

        if self.kind == "categorical":
            return distributions.CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            low, high, step = int(self.low or 0), int(self.high or 0), int(self.step or 1)
            return distributions.IntDistribution(low, high, log=self.log, step=step)
        low_f, high_f = float(self.low or 0), float(self.high or 0)
        return distributions.FloatDistribution(low_f, high_f, log=self.log, step=self.step)

    def describe(self) -> str:
        if self.kind == "fixed":
            return f"= {self.value!r}"
        if self.kind == "categorical":
            return "{" + ", ".join(map(str, self.choices)) + "}"
        return f"[{self.low:g}, {self.high:g}]" + (" log" if self.log else "")


def _int(name: str, low: int, high: int, log: bool = False) -> ParamSpec:
    return ParamSpec(name, "int", low, high, log, minimum=1)


def _float(
    name: str, low: float, high: float, log: bool = False, above_zero: bool = False
) -> ParamSpec:
    return ParamSpec(name, "float", low, high, log, minimum=0.0, above_minimum=above_zero)


def _choice(name: str, *choices: Any, legal: tuple[Any, ...] = ()) -> ParamSpec:
    numeric = isinstance(choices[0], int)
    return ParamSpec(
        name, "categorical", choices=tuple(choices), legal=legal, minimum=1 if numeric else None
    )


_TABULAR_ACTIVATIONS = ("relu", "gelu", "silu", "tanh", "leaky_relu", "elu")


TABULAR_SPACE: dict[str, ParamSpec] = {
    spec.name: spec
    for spec in (
        _choice("arch", "tabm", "mlp", "rbf", legal=tuple(TABULAR_ARCHITECTURES)),
        _int("layers", 1, 3),
        _int("width", 16, 512, log=True),
        _float("dropout", 0.0, 0.5),
        _float("lr", 1e-4, 1e-2, log=True, above_zero=True),
        _float("weight_decay", 1e-6, 1e-2, log=True),
        _choice("batch_size", 32, 64, 128, 256),
        _choice("activation", "relu", "gelu", "silu", "tanh", legal=_TABULAR_ACTIVATIONS),
        # TabM's own knobs, drawn only in trials of arch tabm:
        _choice("members", 4, 8, 16),
        _choice(
            "numeric_embedding", "ple", "pbld", "plr", "none", legal=("ple", "pbld", "plr", "none")
        ),
        _choice(
            "lr_schedule",
            "coslog4",
            "warmup_cos",
            "constant",
            legal=("coslog4", "warmup_cos", "flat_anneal", "constant"),
        ),
    )
}

FORECAST_SPACE: dict[str, ParamSpec] = {
    spec.name: spec
    for spec in (
        _choice(
            "arch",
            "lstm",
            "gru",
            "tcn",
            "mlp",
            legal=tuple(FORECAST_ARCHITECTURES),
        ),
        _choice("lookback", 20, 40, 60),
        _int("hidden_size", 16, 128, log=True),
        _int("layers", 1, 2),
        _float("dropout", 0.0, 0.3),
        _float("lr", 1e-4, 1e-2, log=True, above_zero=True),
    )
}


def _check_type(base: ParamSpec, value: Any, where: str) -> Any:
    """`value` (a fixed value, a choice or a bound) if it has the parameter's type: `width =
    "big"` or `lr = true` is refused here, not in the middle of a trial."""
    if base.kind == "categorical":
        wanted = type(base.choices[0])
    else:
        wanted = int if base.kind == "int" else float
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if wanted is str and isinstance(value, str):
        return _check_legal(base, value, where)
    if wanted is int and is_number and float(value).is_integer() and math.isfinite(value):
        return _check_legal(base, int(value), where)
    if wanted is float and is_number and math.isfinite(value):
        return _check_legal(base, value, where)
    expected = {str: "a string", int: "an integer", float: "a finite number"}[wanted]
    raise UsageError(
        f"{where}: {base.name} = {toml_text(value)}: expected {expected}",
        hint="give a value, a list of choices, or {low = ..., high = ...}",
    )


def _check_legal(base: ParamSpec, value: Any, where: str) -> Any:
    """`value` if the parameter may take it at all (`legal`, `minimum`), else a UsageError
    naming the config file's table and key, before any study or trial exists."""
    if base.legal and value not in base.legal:
        raise UsageError(
            f"{where}: {base.name} = {toml_text(value)}: must be one of "
            + ", ".join(map(str, base.legal))
        )
    low = base.minimum
    if low is not None and (value < low or (base.above_minimum and value == low)):
        bound = f"above {low:g}" if base.above_minimum else f"at least {low:g}"
        raise UsageError(f"{where}: {base.name} = {toml_text(value)}: must be {bound}")
    return value


def _override(base: ParamSpec, value: Any, where: str) -> ParamSpec:
    name = base.name
    if isinstance(value, list):
        if not value:
            raise UsageError(f"{where}: {name} = [] has no choices")
        choices = tuple(_check_type(base, choice, where) for choice in value)
        return ParamSpec(name, "categorical", choices=choices)
    if isinstance(value, Mapping):
        unknown = set(value) - {"low", "high", "log", "step", "choices", "value"}
        if unknown:
            raise UsageError(
                f"{where}: {name} has unknown key(s) {', '.join(sorted(unknown))}",
                hint="use low, high, log, step, choices or value",
            )
        if "value" in value:
            return ParamSpec(name, "fixed", value=_check_type(base, value["value"], where))
        if "choices" in value:
            return _override(base, list(value["choices"]), where)
        low = value.get("low", base.low)
        high = value.get("high", base.high)
        if base.kind not in ("int", "float") or low is None or high is None:
            raise UsageError(f"{where}: {name} is a choice; give a list of choices or a value")
        low, high = _check_type(base, low, where), _check_type(base, high, where)
        if low > high:
            raise UsageError(f"{where}: {name} needs low <= high (got {low!r}, {high!r})")
        log = value.get("log", base.log)
        if not isinstance(log, bool):
            raise UsageError(f"{where}: {name}: log = {toml_text(log)}: expected true or false")
        if log and low <= 0:
            raise UsageError(f"{where}: {name} with log = true needs low > 0")
        step = None if value.get("step") is None else _check_type(base, value["step"], where)
        return ParamSpec(name, base.kind, low, high, log, step)
    return ParamSpec(name, "fixed", value=_check_type(base, value, where))


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
        if space[name].kind != "fixed":
            try:  # e.g. a step with log = true, or a range the step does not divide
                space[name].distribution()
            except ValueError as exc:
                raise UsageError(f"{where}: {key}: {' '.join(str(exc).split())}") from exc
    return space


def describe_distribution(distribution: optuna.distributions.BaseDistribution) -> str:
    """A stored trial's distribution as `ParamSpec.describe` writes a space's parameter."""
    from optuna import distributions

    if isinstance(distribution, distributions.CategoricalDistribution):
        return "{" + ", ".join(map(str, distribution.choices)) + "}"
    if isinstance(distribution, distributions.IntDistribution | distributions.FloatDistribution):
        kind = "integers" if isinstance(distribution, distributions.IntDistribution) else "numbers"
        log = " log" if distribution.log else ""
        return f"[{distribution.low:g}, {distribution.high:g}]{log} ({kind})"
    return type(distribution).__name__


def check_space_fits(
    study: str, space: dict[str, ParamSpec], trials: list[optuna.trial.FrozenTrial]
) -> None:
    """A UsageError naming the first parameter whose distribution Optuna cannot mix with the
    one the study's trials drew from (another kind, log scale or set of choices). A range
    may change between runs; the kind of a parameter may not."""
    from optuna.distributions import check_distribution_compatibility

    recorded: dict[str, optuna.distributions.BaseDistribution] = {}
    for trial in trials:
        recorded.update(trial.distributions)
    for name, spec in space.items():
        if spec.kind == "fixed" or name not in recorded:
            continue
        try:
            check_distribution_compatibility(recorded[name], spec.distribution())
        except ValueError as exc:
            kind = "integers" if spec.kind == "int" else "numbers"
            now = spec.describe() + (f" ({kind})" if spec.kind in ("int", "float") else "")
            was = describe_distribution(recorded[name])
            raise UsageError(
                f"study {study!r}: search parameter {name!r} was {was} in its trials, now {now};"
                " Optuna cannot mix the two in one study",
                hint="keep the parameter's kind, scale and choices (a range may change), "
                "or choose another --study name",
            ) from exc


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


def sample(
    space: dict[str, ParamSpec],
    trial: optuna.Trial,
    own_knobs: Mapping[str, frozenset[str]] | None = None,
) -> dict[str, Any]:
    """One point of the space for this trial. `own_knobs` maps an architecture's name to the
    parameters only it takes: they are drawn only where that architecture is."""
    knobs = own_knobs or {}
    drawn = {"arch": space["arch"].suggest(trial)} if "arch" in space else {}
    own = knobs.get(str(drawn.get("arch")), frozenset())
    exclusive = frozenset().union(*knobs.values())
    for name, spec in space.items():
        if name not in drawn and (name not in exclusive or name in own):
            drawn[name] = spec.suggest(trial)
    return drawn


def defaults_within(space: dict[str, ParamSpec], defaults: dict[str, Any]) -> dict[str, Any]:
    """The defaults that lie inside `space` (a trial to enqueue: the rest is drawn)."""
    inside = {}
    for name, value in defaults.items():
        spec = space.get(name)
        if spec is None or spec.kind == "fixed":
            continue
        if spec.kind == "categorical":
            fits = value in spec.choices
        else:
            fits = float(spec.low or 0) <= value <= float(spec.high or 0)
        if fits:
            inside[name] = value
    return inside


# The options a table's search draws, by flag: a value given for one of them on the command
# line (or in the config's [tune] table) is replaced in every trial.
TABULAR_SEARCHED_OPTIONS = {
    "--arch": "arch",
    "--hidden": "hidden_sizes",
    "--centres": "centres",
    "--dropout": "dropout",
    "--activation": "activation",
    "--lr": "training.learning_rate",
    "--weight-decay": "training.weight_decay",
    "--batch-size": "training.batch_size",
    "--members": "members",
    "--numeric-embedding": "numeric_embedding",
    "--lr-schedule": "lr_schedule",
}


# The options a series' search draws, by flag (replaced in every trial).
FORECAST_SEARCHED_OPTIONS = {
    "--arch": "arch",
    "--lookback": "lookback",
    "--hidden-size": "hidden_size",
    "--layers": "num_layers",
    "--dropout": "dropout",
    "--lr": "training.learning_rate",
}
