"""Training a global sequence forecaster over one or many series, and using it.

Data flow: levels -> per-step transform -> per-series scaling (fitted on the training part
only) -> windows (unfold views) -> network -> quantiles of the cumulative change -> levels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.errors import DataError, ModelFileError, UsageError
from nncli.forecasting.series import PanelSpec, Series
from nncli.forecasting.transforms import (
    check_levels,
    check_transform,
    cumulative_change,
    invert_cumulative,
    step_values,
)
from nncli.reporting import CollectingReporter, Reporter
from nncli.training.loop import Callback, History, TrainingConfig

if TYPE_CHECKING:
    import numpy as np
    import torch

    from nncli.models.recurrent import SequenceForecaster


@dataclass
class ForecastOptions:
    """What to forecast and how; every field maps to a `nncli forecast train` option."""

    panel: PanelSpec
    arch: str = "lstm"
    lookback: int = 60
    horizon: int = 5
    transform: str = "log-return"
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    quantiles: list[float] = field(default_factory=lambda: [0.1, 0.5, 0.9])
    valid_size: float = 0.15
    training: TrainingConfig = field(default_factory=lambda: TrainingConfig(epochs=30, patience=5))

    def validate(self) -> None:
        """Reject impossible settings before any data is read."""
        from nncli.models.recurrent import ARCHITECTURES

        if self.arch not in ARCHITECTURES:
            raise UsageError(f"--arch must be one of {', '.join(ARCHITECTURES)}, not {self.arch!r}")
        check_transform(self.transform)
        if self.lookback < 1:
            raise UsageError(f"--lookback must be at least 1, not {self.lookback}")
        if self.horizon < 1:
            raise UsageError(f"--horizon must be at least 1, not {self.horizon}")
        if self.hidden_size < 1 or self.num_layers < 1:
            raise UsageError("--hidden-size and --layers must be at least 1")
        if not 0 <= self.dropout < 1:
            raise UsageError(f"--dropout must be in [0, 1), not {self.dropout}")
        if (
            not self.quantiles
            or any(not 0 < q < 1 for q in self.quantiles)
            or 0.5 not in self.quantiles
        ):
            raise UsageError("--quantiles must lie in (0, 1) and include 0.5 (the point forecast)")
        if not 0 < self.valid_size < 0.5:
            raise UsageError("--valid-size must be in (0, 0.5)")
        t = self.training
        if t.epochs < 1 or (t.batch_size is not None and t.batch_size < 1) or t.patience < 1:
            raise UsageError("--epochs, --batch-size and --patience must be at least 1")
        if not t.learning_rate > 0:
            raise UsageError(f"--lr must be positive, not {t.learning_rate}")

    @property
    def first_valid(self) -> int:
        """The first index with a defined per-step value (returns need a predecessor)."""
        return 0 if self.transform == "none" else 1

    def min_length(self, with_validation: bool = True) -> int:
        """Rows a series needs: one window, its horizon, and a few validation origins."""
        base = self.first_valid + self.lookback + self.horizon
        return base + (2 * self.horizon + 1 if with_validation else 0)


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


def fit_scaling(series: Series, transform: str, end: int) -> SeriesScaling:
    """Scaling statistics from indices [0, end) only."""
    import numpy as np

    steps = step_values(transform, series.levels[:end])
    covariates = series.covariates[:end]
    return SeriesScaling(
        mean=float(np.nanmean(steps)) if transform == "none" else 0.0,
        std=_safe_std(steps),
        covariate_mean=[float(np.mean(c)) for c in covariates.T],
        covariate_std=[_safe_std(c) for c in covariates.T],
    )


def series_features(series: Series, transform: str, scaling: SeriesScaling) -> np.ndarray:
    """Scaled per-step inputs [T, 1 + covariates] as float32 (row 0 is NaN for returns)."""
    import numpy as np

    steps = (step_values(transform, series.levels) - scaling.mean) / scaling.std
    columns = [steps[:, None]]
    if series.covariates.shape[1]:
        mean = np.asarray(scaling.covariate_mean)
        std = np.asarray(scaling.covariate_std)
        columns.append((series.covariates - mean) / std)
    return np.concatenate(columns, axis=1).astype(np.float32)


def build_samples(
    series: Series,
    transform: str,
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
    change = cumulative_change(transform, series.levels[origins], future)
    targets = ((change - scaling.mean) / scaling.std).astype(np.float32)
    return windows, torch.from_numpy(targets)


@dataclass
class ForecastModel:
    """A trained forecaster with its per-series scaling and calendar."""

    network: SequenceForecaster
    metadata: dict[str, Any]

    @property
    def transform(self) -> str:
        return str(self.metadata["transform"])

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
        if len(origins) and origins.min() - self.lookback + 1 < (
            0 if self.transform == "none" else 1
        ):
            raise DataError(f"series {series.name!r}: a forecast origin has too little history")
        scaling = self.scaling(series.name)
        features = torch.from_numpy(series_features(series, self.transform, scaling))
        windows = make_windows(features, self.lookback)[
            torch.as_tensor(origins - self.lookback + 1)
        ]
        raw = predict_batches(self.network, [windows]).numpy().astype(np.float64)
        change = raw * scaling.std + scaling.mean  # [N, H, Q]
        levels = invert_cumulative(self.transform, series.levels[origins], change)
        return np.sort(levels, axis=2)  # quantiles never cross

    def forecast_many(self, panel: list[Series], origins: list[int]) -> list[np.ndarray]:
        """One [H, Q] level forecast per (series, origin), computed in one batch."""
        import numpy as np
        import torch

        from nncli.forecasting.windows import make_windows
        from nncli.training.loop import predict_batches

        windows = []
        for series, origin in zip(panel, origins, strict=True):
            if origin - self.lookback + 1 < (0 if self.transform == "none" else 1):
                raise DataError(
                    f"series {series.name!r} has {origin + 1} rows before the forecast origin; "
                    f"the model needs {self.lookback + (self.transform != 'none')}",
                )
            scaling = self.scaling(series.name)
            features = torch.from_numpy(
                series_features(series.head(origin + 1), self.transform, scaling)
            )
            windows.append(make_windows(features, self.lookback)[-1])
        raw = predict_batches(self.network, [torch.stack(windows)]).numpy().astype(np.float64)
        results = []
        for index, (series, origin) in enumerate(zip(panel, origins, strict=True)):
            scaling = self.scaling(series.name)
            change = raw[index] * scaling.std + scaling.mean  # [H, Q]
            levels = invert_cumulative(
                self.transform, series.levels[origin : origin + 1], change[None]
            )[0]
            results.append(np.sort(levels, axis=1))  # quantiles never cross
        return results


def _split_origins(length: int, options: ForecastOptions) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation origins of one series; a gap of H keeps their targets apart."""
    import numpy as np

    from nncli.forecasting.windows import window_origins

    origins = np.asarray(
        window_origins(length, options.lookback, options.horizon, options.first_valid)
    )
    n_valid = max(1, round(len(origins) * options.valid_size))
    valid = origins[-n_valid:]
    train = origins[origins <= valid[0] - options.horizon]
    return train, valid


def train_forecaster(
    panel: list[Series],
    options: ForecastOptions,
    *,
    reporter: Reporter | None = None,
    callbacks: tuple[Callback, ...] = (),
    refit_on_all: bool = False,
) -> tuple[ForecastModel, History]:
    """Train one global network on every series' windows; scaling is fitted per series on its
    training part only, and validation uses each series' newest origins."""
    import numpy as np
    import torch

    from nncli.models.recurrent import PinballLoss, SequenceConfig, SequenceForecaster
    from nncli.training.loop import fit, seed_everything

    reporter = reporter or CollectingReporter()
    options.validate()
    parts: dict[str, list[torch.Tensor]] = {"xt": [], "yt": [], "xv": [], "yv": []}
    series_meta: dict[str, Any] = {}
    skipped: list[str] = []
    for series in panel:
        check_levels(options.transform, series.levels, series.name)
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
                f"{options.min_length()} needed for lookback {options.lookback} + horizon "
                f"{options.horizon} + validation; it is left out"
            )
            continue
        # Scaling sees only what the last training origin could see.
        scaling = fit_scaling(series, options.transform, int(train_origins[-1]) + 1)
        x, y = build_samples(
            series, options.transform, scaling, options.lookback, options.horizon, train_origins
        )
        parts["xt"].append(x)
        parts["yt"].append(y)
        x, y = build_samples(
            series, options.transform, scaling, options.lookback, options.horizon, valid_origins
        )
        parts["xv"].append(x)
        parts["yv"].append(y)
        series_meta[series.name] = {
            "scaling": asdict(scaling),
            "rows": len(series),
            "first_timestamp": series.timestamps[0].isoformat(),
            "last_timestamp": series.timestamps[-1].isoformat(),
            "frequency": _frequency(series),
        }
    if not series_meta:
        longest = max(len(s) for s in panel)
        raise DataError(
            f"no series has the {options.min_length()} rows that lookback {options.lookback} and "
            f"horizon {options.horizon} need (the longest has {longest})",
            hint="lower --lookback or --horizon, or use more history",
        )
    for message in skipped:
        reporter.warn(message)
    train_x, train_y = torch.cat(parts["xt"]), torch.cat(parts["yt"])
    valid_x, valid_y = torch.cat(parts["xv"]), torch.cat(parts["yv"])
    config = SequenceConfig(
        arch=options.arch,
        n_features=int(train_x.shape[2]),
        lookback=options.lookback,
        horizon=options.horizon,
        quantiles=sorted(options.quantiles),
        hidden_size=options.hidden_size,
        num_layers=options.num_layers,
        dropout=options.dropout,
    )
    seed_everything(options.training.seed)
    network = SequenceForecaster(config)
    median_index = config.quantiles.index(0.5)

    def valid_mae(outputs: torch.Tensor, targets: torch.Tensor) -> float:
        return float((outputs[:, :, median_index] - targets).abs().mean())

    training_config = options.training
    if refit_on_all:
        training_config = replace(training_config, patience=training_config.epochs + 1)
    history = fit(
        network,
        PinballLoss(config.quantiles),
        ([train_x], train_y),
        ([valid_x], valid_y),
        training_config,
        valid_mae,
        "scaled MAE",
        callbacks,
    )
    network.cpu().eval()
    if not np.isfinite(history.best.train_loss):
        raise DataError("training diverged (the loss became NaN or infinite)", hint="lower --lr")
    reporter.info(
        f"{len(series_meta)} series, {len(train_x)} training and {len(valid_x)} validation windows"
    )
    metadata = {
        "kind": "forecast",
        "transform": options.transform,
        "panel": asdict(options.panel),
        "architecture": config.to_dict(),
        "training": {**options.training.to_dict(), "valid_size": options.valid_size},
        "series": series_meta,
        "history": history.to_dict(),
    }
    return ForecastModel(network, metadata), history


def _frequency(series: Series) -> str:
    from nncli.forecasting.calendar import infer_frequency

    return infer_frequency(series.timestamps)


def save_forecast_model(path: Path, model: ForecastModel, extra: dict[str, Any]) -> None:
    """Write the forecaster's model file (atomically), with a weights-derived model id."""
    from nncli.artifacts import provenance, save_model_file
    from nncli.artifacts import weights_digest

    state = dict(model.network.state_dict())
    model.metadata.setdefault("model_id", weights_digest(state))
    model.metadata.update(extra)
    save_model_file(path, state, {**model.metadata, **provenance()})


def load_forecast_model(path: Path) -> ForecastModel:
    """Load a forecaster model file and rebuild its network on the CPU."""
    from nncli.artifacts import load_model_file
    from nncli.models.recurrent import SequenceConfig, SequenceForecaster
    from nncli.artifacts import network_matching

    loaded = load_model_file(path, expect_kind="forecast")
    meta = loaded.metadata
    try:
        config = SequenceConfig(**meta["architecture"])
        network = network_matching(lambda: SequenceForecaster(config), loaded.tensors)
        _ = meta["transform"], meta["series"].items(), meta["panel"]["time_col"]
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise ModelFileError(
            f"{path}: the model file's metadata is incomplete or does not match its weights ({exc})",
            hint="retrain the model with this version of nncli",
        ) from exc
    network.eval()
    return ForecastModel(network, meta)


def holdout_scores(
    model: ForecastModel, panel: list[Series], options: ForecastOptions, season: int = 1
) -> dict[str, dict[str, Any]]:
    """Network vs naive and drift on every series' validation origins, scored in levels."""
    from nncli.forecasting.baselines import baseline_forecasts
    from nncli.forecasting.scoring import ForecastPoints, mase_scale, score

    points: dict[str, ForecastPoints] = {}
    median = model.quantiles.index(0.5)
    for series in panel:
        if series.name not in model.metadata["series"] or len(series) < options.min_length():
            continue
        _, valid_origins = _split_origins(len(series), options)
        heads = [series.head(int(origin) + 1) for origin in valid_origins]
        predicted = model.forecast_origins(series, valid_origins)
        for head, origin, levels in zip(heads, valid_origins, predicted, strict=True):
            actual = series.levels[origin + 1 : origin + 1 + options.horizon]
            scale = mase_scale(head.levels, season)
            forecasts = {
                "network": levels[:, median],
                **baseline_forecasts(head.levels, options.horizon, None),
            }
            for name, forecast in forecasts.items():
                lower = levels[:, 0] if name == "network" else None
                upper = levels[:, -1] if name == "network" else None
                points.setdefault(name, ForecastPoints()).add(
                    actual, forecast, head.levels[-1], scale, lower, upper
                )
    return {name: score(p) for name, p in points.items()}
