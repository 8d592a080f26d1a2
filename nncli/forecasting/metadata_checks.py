"""Checks of the values a forecaster's model file holds, before any forecast reads them.

The digests prove only that a file is as written; an edited file resealed passes them. Every
value the forecasts read (transform, lookbacks, horizon, quantiles, members, per-series
scaling and calendar, calibration) is checked here: a bad one is a ModelFileError (exit 4)
naming its field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path


# The longest lookback and horizon any file may claim: far beyond a real model (lookbacks
# are tens to hundreds of steps), and small enough that no window or calendar overflows.
MAX_STEPS = 100_000


def check_forecast_metadata(path: Path, meta: dict[str, Any]) -> None:
    """Refuse (ModelFileError, exit 4, naming the field) a value the forecasts would read
    from the file and could not use: a transform, lookback, horizon, quantile, member,
    scaling, frequency or calibration that is missing, of the wrong type or out of range.
    The digests prove only that the file is as written; an edited file resealed passes them."""
    from nncli.artifacts import MetadataFields
    from nncli.forecasting.architectures import ARCHITECTURES
    from nncli.forecasting.options import PanelSpec
    from nncli.forecasting.transforms import TRANSFORMS

    fields = MetadataFields(path)
    fields.choice(fields.get(meta, "transform", "transform"), "transform", TRANSFORMS)
    fields.text(fields.get(meta, "model_id", "model_id"), "model_id")
    panel = fields.mapping(fields.get(meta, "panel", "panel"), "panel")
    known = set(PanelSpec.__dataclass_fields__)
    for key in panel:
        if key not in known:
            raise fields.bad(
                f"panel.{key}", panel[key], f"panel holds only {', '.join(sorted(known))}"
            )
    for key in ("time_col", "target"):
        fields.text(fields.get(panel, key, f"panel.{key}"), f"panel.{key}")
    fields.text(panel.get("group_col"), "panel.group_col", optional=True)
    for index, name in enumerate(fields.items(panel.get("covariates", []), "panel.covariates")):
        fields.text(name, f"panel.covariates[{index}]")
    fields.flag(panel.get("wide", False), "panel.wide")
    architecture = fields.mapping(fields.get(meta, "architecture", "architecture"), "architecture")
    horizon = _check_architecture(fields, architecture, ARCHITECTURES)
    n_covariates = len(panel.get("covariates", []))
    series = fields.mapping(fields.get(meta, "series", "series"), "series")
    if not series:
        raise fields.bad("series", series, "it must name at least one series")
    for name, info in series.items():
        _check_series(fields, f"series[{name!r}]", info, horizon, n_covariates)
    calibration = meta.get("calibration")
    if calibration:
        calibration = fields.mapping(calibration, "calibration")
        fields.numbers(
            fields.get(calibration, "margins", "calibration.margins"),
            "calibration.margins",
            horizon,
        )
        if calibration.get("margins_combined"):
            fields.numbers(calibration["margins_combined"], "calibration.margins_combined", horizon)
        if "combine" in calibration:
            fields.choice(calibration["combine"], "calibration.combine", ("ets", "none"))


def _check_architecture(fields: Any, architecture: dict[str, Any], known: Any) -> int:
    """The architecture's lookback, horizon, quantiles and members checked; the horizon."""
    lookback = fields.integer(
        fields.get(architecture, "lookback", "architecture.lookback"),
        "architecture.lookback",
        1,
        MAX_STEPS,
    )
    horizon = fields.integer(
        fields.get(architecture, "horizon", "architecture.horizon"),
        "architecture.horizon",
        1,
        MAX_STEPS,
    )
    quantiles = _check_quantiles(
        fields,
        fields.get(architecture, "quantiles", "architecture.quantiles"),
        "architecture.quantiles",
    )
    n_features = fields.integer(
        fields.get(architecture, "n_features", "architecture.n_features"),
        "architecture.n_features",
        1,
    )
    arch = fields.choice(architecture.get("arch", "lstm"), "architecture.arch", tuple(known))
    if "window_norm" in architecture:
        fields.flag(architecture["window_norm"], "architecture.window_norm")
    season = 1
    if "anchor" in architecture:
        anchor = fields.choice(architecture["anchor"], "architecture.anchor", ("naive", "seasonal"))
        season = fields.integer(architecture.get("season", 1), "architecture.season", 1, lookback)
        if anchor == "seasonal" and season < 2:
            raise fields.bad("architecture.season", season, "a seasonal anchor needs 2 or more")
    if "dropout" in architecture:
        fields.number(architecture["dropout"], "architecture.dropout", 0, 1, "[)")
    if "members" not in architecture:
        return horizon
    members = fields.items(architecture["members"], "architecture.members", nonempty=True)
    shared = {
        "horizon": horizon,
        "quantiles": quantiles,
        "n_features": n_features,
        "arch": arch,
    }
    longest = max(
        _check_member(fields, index, member, shared, (known[arch].min_lookback, lookback), season)
        for index, member in enumerate(members)
    )
    if longest != lookback:
        raise fields.bad(
            "architecture.lookback",
            lookback,
            f"it must be the longest member's lookback, {longest}",
        )
    return horizon


def _check_member(
    fields: Any,
    index: int,
    member: Any,
    shared: dict[str, Any],
    lookbacks: tuple[int, int],
    season: int,
) -> int:
    """One ensemble member's lookback and config, as the architecture says; its lookback."""
    where = f"architecture.members[{index}]"
    member = fields.mapping(member, where)
    own = fields.integer(
        fields.get(member, "lookback", f"{where}.lookback"), f"{where}.lookback", *lookbacks
    )
    config = fields.mapping(fields.get(member, "config", f"{where}.config"), f"{where}.config")
    for key, value in {"lookback": own, **shared}.items():
        found = fields.get(config, key, f"{where}.config.{key}")
        if found != value:
            raise fields.bad(
                f"{where}.config.{key}", found, f"it must be {value!r}, as the architecture says"
            )
    if "dropout" in config:
        fields.number(config["dropout"], f"{where}.config.dropout", 0, 1, "[)")
    if "eps" in config:
        fields.number(config["eps"], f"{where}.config.eps", 0, 1, "(]")
    for key in ("pool_sizes", "downsample"):
        for position, size in enumerate(fields.items(config.get(key, []), f"{where}.config.{key}")):
            fields.integer(size, f"{where}.config.{key}[{position}]", 1, MAX_STEPS)
    if "anchor" in config:
        fields.choice(config["anchor"], f"{where}.config.anchor", ("naive", "seasonal"))
        if config.get("season", 1) != season:
            raise fields.bad(
                f"{where}.config.season",
                config.get("season"),
                f"it must be {season}, as the architecture says",
            )
    return int(own)


def _check_quantiles(fields: Any, value: Any, field: str) -> list[float]:
    quantiles = fields.numbers(value, field, low=0, high=1, closed="()")
    if not quantiles or 0.5 not in quantiles or quantiles != sorted(set(quantiles)):
        raise fields.bad(field, value, "they must rise strictly and include 0.5")
    return quantiles


def _check_series(fields: Any, where: str, info: Any, horizon: int, n_covariates: int) -> None:
    """One series' scaling, calendar and flags, as the forecasts read them."""
    import pandas as pd

    from nncli.forecasting.calendar import future_timestamps

    info = fields.mapping(info, where)
    scaling = fields.mapping(fields.get(info, "scaling", f"{where}.scaling"), f"{where}.scaling")
    fields.number(fields.get(scaling, "mean", f"{where}.scaling.mean"), f"{where}.scaling.mean")
    fields.number(
        fields.get(scaling, "std", f"{where}.scaling.std"), f"{where}.scaling.std", 0, None, "()"
    )
    fields.numbers(
        fields.get(scaling, "covariate_mean", f"{where}.scaling.covariate_mean"),
        f"{where}.scaling.covariate_mean",
        n_covariates,
    )
    fields.numbers(
        fields.get(scaling, "covariate_std", f"{where}.scaling.covariate_std"),
        f"{where}.scaling.covariate_std",
        n_covariates,
        low=0,
        closed="()",
    )
    last = fields.text(
        fields.get(info, "last_timestamp", f"{where}.last_timestamp"), f"{where}.last_timestamp"
    )
    try:
        stamp = pd.Timestamp(last)
        if pd.isna(stamp):
            raise ValueError(last)
    except (ValueError, TypeError, OverflowError) as exc:
        raise fields.bad(f"{where}.last_timestamp", last, "it must be a date-time") from exc
    frequency = fields.text(
        fields.get(info, "frequency", f"{where}.frequency"), f"{where}.frequency"
    )
    try:
        stamps = future_timestamps(stamp, str(frequency), horizon)
        _ = stamps[-1].date()  # written as text: within Python's dates (year 9999)
        steps_forward = bool(stamps[0] > stamp) and bool(stamps.is_monotonic_increasing)
    except (ValueError, TypeError, OverflowError, NotImplementedError, ArithmeticError) as exc:
        raise fields.bad(
            f"{where}.frequency",
            frequency,
            f"it must be a calendar step (e.g. B, D, W-FRI, MS, h) that {horizon} "
            "step(s) after the last timestamp stay within the year 9999",
        ) from exc
    if not steps_forward:
        raise fields.bad(f"{where}.frequency", frequency, "it must step forward in time")
    if "season" in info:
        fields.integer(info["season"], f"{where}.season", 1, MAX_STEPS)
    if "positive" in info:
        fields.flag(info["positive"], f"{where}.positive")
