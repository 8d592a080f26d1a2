"""Training a global sequence forecaster over one or many series, and using it.

Data flow: levels -> per-step transform -> per-series scaling (fitted on the training part
only) -> windows (unfold views) -> network -> quantiles of the cumulative change -> levels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.errors import DataError
from nncli.forecasting.options import ForecastOptions as ForecastOptions  # its old home
from nncli.forecasting.series import Series
from nncli.forecasting.transforms import Transform, get_transform
from nncli.reporting import CollectingReporter, Reporter
from nncli.training.loop import Callback, History

if TYPE_CHECKING:
    import numpy as np
    import torch
    from torch import nn

    from nncli.forecasting import ensemble as ensemble_module
    from nncli.models.recurrent import SequenceForecaster


@dataclass
class SeriesScaling:
    """Per-series standardisation of inputs and targets, fitted on the training part."""

    mean: float
    std: float
    covariate_mean: list[float]
    covariate_std: list[float]


def _safe_std(values: np.ndarray) -> float:
    import numpy as np

    std = float(np.nanstd(values))
    return std if np.isfinite(std) and std > 1e-12 else 1.0


def _step_scale(steps: np.ndarray, mean: float) -> float:
    """The target's scale: its spread, else its size (a steady drift), else a tiny number.

    A constant series has no step at all; a scale of 1 would turn the network's untrained
    noise into whole units of change (42 forecast as 52), a tiny one forecasts the constant.
    """
    import numpy as np

    size = float(np.sqrt(np.nanmean(np.square(steps - mean))))
    for scale in (float(np.nanstd(steps)), size):
        if np.isfinite(scale) and scale > 1e-12:
            return scale
    return 1e-12


def fit_scaling(series: Series, transform: str | Transform, end: int) -> SeriesScaling:
    """Scaling statistics from indices [0, end) only."""
    import numpy as np

    method = get_transform(transform)
    steps = method.step_values(series.levels[:end])
    covariates = series.covariates[:end]
    mean = float(np.nanmean(steps)) if method.centred else 0.0
    return SeriesScaling(
        mean=mean,
        std=_step_scale(steps, mean),
        covariate_mean=[float(np.mean(c)) for c in covariates.T],
        covariate_std=[_safe_std(c) for c in covariates.T],
    )


def series_features(
    series: Series, transform: str | Transform, scaling: SeriesScaling
) -> np.ndarray:
    """Scaled per-step inputs [T, 1 + covariates] as float32 (row 0 is NaN for returns)."""
    import numpy as np

    steps = (get_transform(transform).step_values(series.levels) - scaling.mean) / scaling.std
    columns = [steps[:, None]]
    if series.covariates.shape[1]:
        mean = np.asarray(scaling.covariate_mean)
        std = np.asarray(scaling.covariate_std)
        columns.append((series.covariates - mean) / std)
    return np.concatenate(columns, axis=1).astype(np.float32)


def build_samples(
    series: Series,
    transform: str | Transform,
    scaling: SeriesScaling,
    lookback: int,
    horizon: int,
    origins: np.ndarray,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Input windows [N, L, F] and scaled cumulative targets [N, H] for the given origins."""
    import numpy as np
    import torch

    from nncli.forecasting.windows import make_future, make_windows

    features = torch.from_numpy(series_features(series, transform, scaling))
    windows = make_windows(features, lookback)[torch.as_tensor(origins - lookback + 1)]
    future = make_future(torch.from_numpy(series.levels), horizon)[torch.as_tensor(origins)].numpy()
    change = get_transform(transform).cumulative_change(series.levels[origins], future)
    targets = ((change - scaling.mean) / scaling.std).astype(np.float32)
    return windows, torch.from_numpy(targets)


@dataclass
class ForecastModel:
    """A trained forecaster with its per-series scaling and calendar."""

    network: nn.Module  # a MemberEnsemble, or a SequenceForecaster from an older file
    metadata: dict[str, Any]

    @property
    def transform(self) -> str:
        return str(self.metadata["transform"])

    @property
    def target_transform(self) -> Transform:
        """The transform object named in the metadata."""
        return get_transform(self.transform)

    @property
    def lookback(self) -> int:
        return int(self.metadata["architecture"]["lookback"])

    @property
    def horizon(self) -> int:
        return int(self.metadata["architecture"]["horizon"])

    @property
    def quantiles(self) -> list[float]:
        return list(self.metadata["architecture"]["quantiles"])

    def scaling(self, name: str) -> SeriesScaling:
        try:
            return SeriesScaling(**self.metadata["series"][name]["scaling"])
        except KeyError as exc:
            known = ", ".join(self.metadata["series"])
            raise DataError(
                f"series {name!r} was not seen in training (known: {known})",
                hint="retrain with this series, or drop it from the input",
            ) from exc

    def forecast(self, series: Series, origin: int) -> np.ndarray:
        """Levels [H, Q] for the steps after index `origin`, quantiles sorted ascending."""

        return self.forecast_many([series], [origin])[0]

    def forecast_origins(self, series: Series, origins: np.ndarray) -> np.ndarray:
        """Levels [N, H, Q] at many origins of one series, from one pass over its features.

        Per-step features and the model's fixed scaling make the features of a prefix equal to
        the prefix of the features, so each window is a slice of the same `unfold` view: the
        same forecasts as `forecast_many` on each prefix, without rebuilding them per origin.
        """
        import numpy as np
        import torch

        from nncli.forecasting.windows import make_windows
        from nncli.training.loop import predict_batches

        origins = np.asarray(origins, dtype=np.int64)
        if len(origins) and origins.min() - self.lookback + 1 < self.target_transform.first_valid:
            raise DataError(f"series {series.name!r}: a forecast origin has too little history")
        scaling = self.scaling(series.name)
        features = torch.from_numpy(series_features(series, self.transform, scaling))
        windows = make_windows(features, self.lookback)[
            torch.as_tensor(origins - self.lookback + 1)
        ]
        raw = predict_batches(self.network, [windows]).numpy().astype(np.float64)
        return self._levels(series, origins, raw)

    def forecast_many(self, panel: list[Series], origins: list[int]) -> list[np.ndarray]:
        """One [H, Q] level forecast per (series, origin), computed in one batch."""
        import numpy as np
        import torch

        from nncli.forecasting.windows import make_windows
        from nncli.training.loop import predict_batches

        windows = []
        for series, origin in zip(panel, origins, strict=True):
            first_valid = self.target_transform.first_valid
            if origin - self.lookback + 1 < first_valid:
                raise DataError(
                    f"series {series.name!r} has {origin + 1} rows before the forecast origin; "
                    f"the model needs {self.lookback + first_valid}",
                )
            scaling = self.scaling(series.name)
            features = torch.from_numpy(
                series_features(series.head(origin + 1), self.transform, scaling)
            )
            windows.append(make_windows(features, self.lookback)[-1])
        raw = predict_batches(self.network, [torch.stack(windows)]).numpy().astype(np.float64)
        return [
            self._levels(series, np.asarray([origin]), raw[index : index + 1])[0]
            for index, (series, origin) in enumerate(zip(panel, origins, strict=True))
        ]

    def _levels(self, series: Series, origins: np.ndarray, raw: np.ndarray) -> np.ndarray:
        """Levels [N, H, Q] from the network's scaled quantiles [N, H, Q] at `origins`:
        calibrated (ETS combination, conformal margins) when the model was, inverted, and
        kept at zero or above for a series whose training values were all positive."""
        import numpy as np

        from nncli.forecasting.ensemble import (
            apply_calibration,
            ets_scaled_changes,
            wider_interval,
        )

        scaling = self.scaling(series.name)
        raw = np.sort(raw, axis=2)
        calibration = self.metadata.get("calibration")
        if calibration:
            ets = None
            if calibration.get("combine") == "ets" or wider_interval(calibration):
                season = int(self.metadata["series"][series.name].get("season", 1))
                ets = ets_scaled_changes(
                    series.levels,
                    origins,
                    self.horizon,
                    season,
                    self.target_transform,
                    scaling.mean,
                    scaling.std,
                )
            raw = apply_calibration(raw, calibration, self.quantiles.index(0.5), ets)
        change = raw * scaling.std + scaling.mean  # [N, H, Q]
        levels = np.sort(
            self.target_transform.invert_cumulative(series.levels[origins], change), axis=2
        )
        if self.metadata["series"][series.name].get("positive"):
            levels = np.maximum(levels, 0.0)
        return levels  # quantiles never cross


def _split_origins(length: int, options: ForecastOptions) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation origins of one series; a gap of H keeps their targets apart."""
    import numpy as np

    from nncli.forecasting.windows import window_origins

    origins = np.asarray(
        window_origins(length, options.window_length, options.horizon, options.first_valid)
    )
    n_valid = max(1, round(len(origins) * options.valid_size))
    valid = origins[-n_valid:]
    train = origins[origins <= valid[0] - options.horizon]
    return train, valid


@dataclass
class TrainingWindows:
    """Every series' training and validation windows, and the per-series metadata."""

    train_x: list[torch.Tensor] = field(default_factory=list)
    train_y: list[torch.Tensor] = field(default_factory=list)
    valid_x: list[torch.Tensor] = field(default_factory=list)
    valid_y: list[torch.Tensor] = field(default_factory=list)
    series: dict[str, Any] = field(default_factory=dict)
    valid_origins: dict[str, np.ndarray] = field(default_factory=dict)  # per series, in order
    train_ends: dict[str, int] = field(default_factory=dict)  # rows training's targets saw


def collect_windows(
    panel: list[Series], options: ForecastOptions, reporter: Reporter, refit_on_all: bool = False
) -> TrainingWindows:
    """Windows of every long-enough series; scaling is fitted on each series' training part
    only. Series too short for one window and its validation are left out with a warning."""
    import numpy as np

    from nncli.forecasting.statistical import series_season

    transform = options.target_transform
    windows = TrainingWindows()
    skipped: list[str] = []
    for series in panel:
        transform.check_levels(series.levels, series.name)
        empty = np.zeros(0, dtype=np.int64)
        train_origins, valid_origins = (
            _split_origins(len(series), options)
            if len(series) >= options.min_length()
            else (empty, empty)
        )
        if refit_on_all and len(train_origins):
            # The refit of a tuned configuration: every window trains, for a fixed epoch count.
            train_origins = np.concatenate([train_origins, valid_origins])
        if len(train_origins) == 0:
            skipped.append(
                f"series {series.name!r} has {len(series)} rows, fewer than the "
                f"{options.min_length()} needed for lookback {options.window_length} + horizon "
                f"{options.horizon} + validation; it is left out"
            )
            continue
        # Scaling sees only what the last training origin could see.
        scaling = fit_scaling(series, transform, int(train_origins[-1]) + 1)
        shape = (options.window_length, options.horizon)
        x, y = build_samples(series, transform, scaling, *shape, train_origins)
        windows.train_x.append(x)
        windows.train_y.append(y)
        x, y = build_samples(series, transform, scaling, *shape, valid_origins)
        windows.valid_x.append(x)
        windows.valid_y.append(y)
        windows.series[series.name] = _series_metadata(series, scaling)
        windows.series[series.name].update(
            season=series_season(series.timestamps, options.season),
            positive=bool(np.all(series.levels[: int(train_origins[-1]) + 1] > 0)),
        )
        windows.valid_origins[series.name] = valid_origins
        windows.train_ends[series.name] = int(train_origins[-1]) + options.horizon + 1
    if not windows.series:
        longest = max(len(s) for s in panel)
        raise DataError(
            f"no series has the {options.min_length()} rows that lookback {options.window_length} and "
            f"horizon {options.horizon} need (the longest has {longest})",
            hint="lower --lookback or --horizon, or use more history",
        )
    for message in skipped:
        reporter.warn(message)
    return windows


def _series_metadata(series: Series, scaling: SeriesScaling) -> dict[str, Any]:
    from nncli.forecasting.calendar import infer_frequency

    return {
        "scaling": asdict(scaling),
        "rows": len(series),
        "first_timestamp": series.timestamps[0].isoformat(),
        "last_timestamp": series.timestamps[-1].isoformat(),
        "frequency": infer_frequency(series.timestamps),
    }


def build_network(options: ForecastOptions, n_features: int) -> SequenceForecaster:
    """A freshly seeded single recurrent/TCN/MLP network for `n_features` inputs per step
    (without per-window normalisation; `train_forecaster` builds its members itself)."""
    from nncli.devices import build_within_memory
    from nncli.models.recurrent import SequenceConfig, SequenceForecaster
    from nncli.training.loop import seed_everything

    config = SequenceConfig(
        arch=options.arch,
        n_features=n_features,
        lookback=options.window_length,
        horizon=options.horizon,
        quantiles=sorted(options.quantiles),
        hidden_size=options.width,
        num_layers=options.depth,
        dropout=options.dropout,
    )
    seed_everything(options.training.seed)
    sizes = f"--hidden-size {options.width} --layers {options.depth}"
    return build_within_memory(lambda: SequenceForecaster(config), sizes, options.training.device)


def train_forecaster(
    panel: list[Series],
    options: ForecastOptions,
    *,
    reporter: Reporter | None = None,
    callbacks: tuple[Callback, ...] = (),
    refit_on_all: bool = False,
) -> tuple[ForecastModel, History]:
    """Train one global ensemble on every series' windows (`--ensemble` members over seeds
    and lookbacks, median of their quantiles), then calibrate it on the validation windows
    (shrink, ETS combination, conformal margins: `nncli.forecasting.ensemble`). Scaling is
    fitted per series on its training part only; validation uses each series' newest origins.

    With `refit_on_all` the validation windows train too, for exactly `training.epochs`
    epochs (the refit of a tuned configuration). Returns the model and the first member's
    history (every member's is in the metadata); the model's metadata carries its id.
    """
    import torch

    from nncli.artifacts import weights_digest
    from nncli.devices import resolve_device
    from nncli.forecasting import ensemble

    reporter = reporter or CollectingReporter()
    options.validate()
    training = replace(options.training.filled(), device=resolve_device(options.training.device))
    if refit_on_all:
        training = replace(training, patience=training.epochs + 1)
    lookbacks = ensemble.fitting_lookbacks(panel, options)
    sized = replace(options, lookback=max(lookbacks))
    windows = collect_windows(panel, sized, reporter, refit_on_all)
    parts = (windows.train_x, windows.train_y, windows.valid_x, windows.valid_y)
    data = ensemble.MemberData(*(torch.cat(part) for part in parts))
    used = [s for s in panel if s.name in windows.series]
    heads = [s.head(windows.train_ends[s.name]) for s in used]
    anchor, season = ensemble.choose_anchor(sized, heads, lookbacks)
    network, architecture, histories = ensemble.train_ensemble(
        data, sized, lookbacks, (anchor, season), training, callbacks
    )
    calibration = ensemble.calibrate(
        network,
        data,
        sized,
        guard=sized.architecture.anchored and anchor == "naive",
        ets_rows=lambda: _ets_rows(used, windows, sized),
    )
    _report_ensemble(reporter, architecture, calibration, histories, training.epochs)
    reporter.info(
        f"{len(windows.series)} series, {len(data.train_x)} training and "
        f"{len(data.valid_x)} validation windows"
    )
    steps = ensemble.steps_per_epoch(len(data.train_x), training.batch_size)
    metadata = {
        "kind": "forecast",
        "transform": sized.transform,
        "panel": asdict(sized.panel),
        "architecture": architecture,
        "calibration": calibration.to_dict(),
        "training": {
            **training.to_dict(),
            "valid_size": sized.valid_size,
            "combine": sized.combine,
            **({"steps_per_epoch": steps} if sized.architecture.step_budget else {}),
        },
        "series": windows.series,
        "history": histories[0].to_dict(),
        "member_histories": [h.to_dict() for h in histories[1:]],
        "model_id": weights_digest(dict(network.state_dict())),
    }
    return ForecastModel(network, metadata), histories[0]


def _ets_rows(
    used: list[Series], windows: TrainingWindows, options: ForecastOptions
) -> ensemble_module.EtsRows | None:
    """ETS at a few validation origins of each series, for --combine (None: not tried)."""
    import numpy as np

    from nncli.forecasting.ensemble import ETS_CALIBRATION_SERIES, EtsRows, ets_scaled_changes

    if options.combine == "none" or (
        options.combine == "auto" and not options.architecture.combined_with_ets
    ):
        return None
    rows, changes, offset = [], [], 0
    # One ETS fit per series, run forward over all its validation origins; at most
    # ETS_CALIBRATION_SERIES series of a large panel, spread over it.
    chosen = set(np.linspace(0, len(used) - 1, ETS_CALIBRATION_SERIES).round().astype(int))
    for index, series in enumerate(used):
        origins = windows.valid_origins[series.name]
        if index not in chosen or not len(origins):
            offset += len(origins)
            continue
        info = windows.series[series.name]
        scaling = info["scaling"]
        changes.append(
            ets_scaled_changes(
                series.levels,
                origins,
                options.horizon,
                int(info["season"]),
                options.target_transform,
                scaling["mean"],
                scaling["std"],
            )
        )
        rows.append(offset + np.arange(len(origins)))
        offset += len(origins)
    if not rows:
        return None
    return EtsRows(np.concatenate(rows), np.concatenate(changes))


def _report_ensemble(
    reporter: Reporter,
    architecture: dict[str, Any],
    calibration: ensemble_module.Calibration,
    histories: list[History],
    epochs: int,
) -> None:
    """One line on what was trained and decided; a warning when members were still improving."""
    from nncli.forecasting.architectures import RANDOM_WALK_NOTE, display_name
    from nncli.forecasting.ensemble import still_improving

    members = architecture["members"]
    lookbacks = sorted({m["lookback"] for m in members})
    anchor = architecture["anchor"] + (
        f" (season {architecture['season']})" if architecture["anchor"] == "seasonal" else ""
    )
    walk = f" ({RANDOM_WALK_NOTE})" if calibration.shrink == 0 else ""
    reporter.info(
        f"{len(members)} {display_name({'architecture': architecture})} member(s), lookbacks "
        f"{', '.join(map(str, lookbacks))}, median of their quantiles; anchor {anchor}, "
        f"shrink {calibration.shrink:g}{walk}, combine {calibration.combine}, "
        f"{calibration.coverage:.0%} interval conformalised on validation"
    )
    improving = still_improving(histories, epochs)
    if improving:
        reporter.warn(
            f"{improving} of {len(members)} member(s) still improved at the last of "
            f"{epochs} epochs; raise --epochs for a better model"
        )


def save_forecast_model(
    path: Path, model: ForecastModel, extra: dict[str, Any] | None = None
) -> None:
    """Write the forecaster's model file (atomically); the model itself is left unchanged.

    `extra` adds metadata to the file only (a model trained by `train_forecast` already
    carries its provenance); the id is derived from the weights when the model has none.
    """
    from nncli.artifacts import provenance, save_model_file, weights_digest

    state = dict(model.network.state_dict())
    metadata = {**model.metadata, **(extra or {})}
    metadata.setdefault("model_id", weights_digest(state))
    save_model_file(path, state, {**metadata, **provenance()})


def load_forecast_model(path: Path) -> ForecastModel:
    """Load a forecaster model file and rebuild its network on the CPU: an ensemble when the
    architecture lists members, else (files from before ensembles) one SequenceForecaster.
    Every value the forecasts read from the metadata is checked first (`check_forecast_metadata`)."""
    from nncli.artifacts import load_model_file, load_network_model
    from nncli.forecasting.ensemble import rebuild_ensemble
    from nncli.models.recurrent import SequenceConfig, SequenceForecaster

    def assemble(network: nn.Module, meta: dict[str, Any]) -> ForecastModel:
        _ = meta["transform"], meta["series"].items(), meta["panel"]["time_col"]
        return ForecastModel(network, meta)

    def build(meta: dict[str, Any]) -> nn.Module:
        architecture = meta["architecture"]
        if "members" in architecture:
            return rebuild_ensemble(architecture)
        return SequenceForecaster(SequenceConfig(**architecture))

    from nncli.forecasting.metadata_checks import check_forecast_metadata

    loaded = load_model_file(path, expect_kind="forecast")
    check_forecast_metadata(path, loaded.metadata)
    return load_network_model(path, "forecast", build, assemble, loaded=loaded)


if TYPE_CHECKING:  # the holdout's helpers (kept here, next to the validation split)
    from nncli.forecasting.baselines import PanelBaselines
    from nncli.forecasting.scoring import ForecastPoints


def holdout_points(
    model: ForecastModel,
    panel: list[Series],
    options: ForecastOptions,
    baselines: PanelBaselines,
) -> dict[str, ForecastPoints]:
    """The network's and every baseline's forecast points on each series' validation origins,
    in levels, MASE scaled by the in-sample seasonal naive error up to each origin."""
    from nncli.forecasting.scoring import NETWORK, add_forecasts, mase_scale

    points: dict[str, ForecastPoints] = {}
    median = model.quantiles.index(0.5)
    for series in panel:
        if series.name not in model.metadata["series"] or len(series) < options.min_length():
            continue
        _, valid_origins = _split_origins(len(series), options)
        predicted = model.forecast_origins(series, valid_origins)
        rivals = baselines.at(series.name, series.levels, valid_origins, options.horizon)
        season = baselines.seasons.get(series.name, 1)
        for row, (origin, levels) in enumerate(zip(valid_origins, predicted, strict=True)):
            seen = series.levels[: origin + 1]
            forecasts = {NETWORK: levels[:, median]} | {k: v[row] for k, v in rivals.items()}
            add_forecasts(
                [points],
                forecasts,
                series.levels[origin + 1 : origin + 1 + options.horizon],
                seen[-1],
                mase_scale(seen, season),
                (levels[:, 0], levels[:, -1]),
            )
    return points


def holdout_scores(
    model: ForecastModel, panel: list[Series], options: ForecastOptions, season: int | None = None
) -> dict[str, dict[str, Any]]:
    """Network vs every baseline on every series' validation origins (see `holdout_points`);
    `season` overrides the seasons recorded in the model (else `options.season`, else the
    frequency's)."""
    from nncli.forecasting.baselines import PanelBaselines, panel_seasons, recorded_seasons
    from nncli.forecasting.scoring import score

    override = season if season is not None else options.season
    seasons = panel_seasons(panel, override, recorded_seasons(model.metadata))
    points = holdout_points(model, panel, options, PanelBaselines(seasons))
    return {name: score(p) for name, p in points.items()}
