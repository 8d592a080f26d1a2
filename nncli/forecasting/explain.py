"""Permutation importance of a forecaster: one entry per covariate and per lag block of the
target.

A feature group (one input channel over a range of lags) is shuffled across the windows at
each series' newest origins; its importance is the rise in the MAE of the median forecast,
in scaled units (the cumulative change divided by each series' step std, as in training's
validation metric), so series of different price levels weigh alike. The loop itself is
`nncli.explain`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nncli.errors import DataError
from nncli.explain import (
    FEW_SAMPLES,
    ExplainOptions,
    ExplainReport,
    FeatureGroup,
    checked,
    draw_permutations,
    permutation_importances,
)

if TYPE_CHECKING:
    from pathlib import Path

    import torch

    from nncli.forecasting.model import ForecastModel
    from nncli.forecasting.series import Series
    from nncli.reporting import Reporter

# Upper lag of each target lag block; past the last one, blocks double (120, 240, ...).
DEFAULT_LAG_BLOCKS = (5, 20, 60)


def lag_blocks(lookback: int, upper_lags: list[int] | None = None) -> list[tuple[int, int]]:
    """Consecutive (first, last) lag ranges covering 1..lookback; lag 1 is the newest step."""
    uppers = list(upper_lags or DEFAULT_LAG_BLOCKS)
    while uppers[-1] < lookback:
        uppers.append(uppers[-1] * 2)
    blocks: list[tuple[int, int]] = []
    first = 1
    for upper in uppers:
        last = min(upper, lookback)
        if last >= first:
            blocks.append((first, last))
            first = last + 1
        if first > lookback:
            break
    return blocks


def explain_forecast(
    model: ForecastModel,
    data: Path,
    options: ExplainOptions | None = None,
    *,
    reporter: Reporter | None = None,
) -> ExplainReport:
    """Permutation importance of a forecaster's covariates and of lag blocks of its target."""
    import torch

    from nncli.training.loop import predict_batches

    options, reporter = checked(options, reporter)
    if options.metric is not None:
        reporter.warn("--metric applies to table models only; forecasters use scaled MAE")
    windows, targets = _newest_windows(model, data, options, reporter)
    count = int(windows.shape[0])
    if count < FEW_SAMPLES:
        reporter.warn(f"only {count} windows: the importances will be noisy (see --windows)")
    median = model.quantiles.index(0.5)

    def loss() -> float:
        # Sorted like the forecasts nncli prints (quantiles never cross), then the median.
        outputs = predict_batches(model.network, [windows]).sort(dim=-1).values
        return float((outputs[:, :, median] - targets).abs().mean())

    permutations = [torch.from_numpy(order) for order in draw_permutations(count, options)]
    base, features = permutation_importances(
        _feature_groups(model, windows, options), permutations, loss
    )
    return ExplainReport(
        kind="forecast",
        task="forecast",
        metric="scaled_mae",
        description=(
            f"importance = the rise in the median forecast's MAE, in scaled units (each series' "
            f"step std), when a feature's lags are shuffled across the {count} windows at the "
            f"newest origins; mean and std over {options.repeats} shuffles"
        ),
        baseline={"scaled_mae": base},
        samples=count,
        repeats=options.repeats,
        seed=options.seed,
        features=features,
    )


def _feature_groups(
    model: ForecastModel, windows: torch.Tensor, options: ExplainOptions
) -> list[FeatureGroup]:
    """The target's lag blocks (channel 0), then each covariate over the whole lookback."""
    panel = model.metadata["panel"]
    lookback = model.lookback
    blocks = [
        (f"{panel['target']} ({model.transform}) lags {first}-{last}", "target", 0, first, last)
        for first, last in lag_blocks(lookback, options.lag_blocks)
    ]
    blocks += [
        (f"{name} lags 1-{lookback}", "covariate", channel, 1, lookback)
        for channel, name in enumerate(panel.get("covariates", []), start=1)
    ]
    # Lag k sits at window position L - k: lags first..last are positions L-last..L-first.
    return [
        FeatureGroup(
            name,
            kind,
            windows,
            (slice(None), slice(lookback - last, lookback - first + 1), channel),
            lags=[first, last],
        )
        for name, kind, channel, first, last in blocks
    ]


def _newest_windows(
    model: ForecastModel, data: Path, options: ExplainOptions, reporter: Reporter
) -> tuple[torch.Tensor, torch.Tensor]:
    """Input windows [N, L, F] and scaled targets [N, H] at each known series' newest origins."""
    import torch

    from nncli.forecasting.series import PanelSpec, load_panel

    panel = load_panel(data, PanelSpec(**model.metadata["panel"]), options.csv, reporter=reporter)
    valid_share = float(model.metadata.get("training", {}).get("valid_size", 0.15))
    inputs, targets = [], []
    for series in panel:
        samples = _series_samples(model, series, options.windows, valid_share, reporter)
        if samples is not None:
            inputs.append(samples[0])
            targets.append(samples[1])
    if not inputs:
        raise DataError(
            f"{data}: no series the model knows has a full window "
            f"(lookback {model.lookback} + horizon {model.horizon})",
            hint=f"the model knows: {', '.join(model.metadata['series'])}",
        )
    # torch.cat copies: the shuffles write into these windows, never into the series.
    return torch.cat(inputs), torch.cat(targets)


def _series_samples(
    model: ForecastModel,
    series: Series,
    windows: int | None,
    valid_share: float,
    reporter: Reporter,
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """One series' windows and targets at its newest origins; None (with a warning) when the
    model does not know the series or it is too short for one window."""
    import numpy as np

    from nncli.forecasting.model import build_samples
    from nncli.forecasting.windows import window_origins

    if series.name not in model.metadata["series"]:
        reporter.warn(f"series {series.name!r} was not seen in training; it is skipped")
        return None
    first_valid = model.target_transform.first_valid
    origins = np.asarray(window_origins(len(series), model.lookback, model.horizon, first_valid))
    if len(origins) == 0:
        reporter.warn(
            f"series {series.name!r} has {len(series)} rows, too few for one window of "
            f"lookback {model.lookback} and horizon {model.horizon}; it is skipped"
        )
        return None
    count = windows or max(1, round(len(origins) * valid_share))
    return build_samples(
        series,
        model.transform,
        model.scaling(series.name),
        model.lookback,
        model.horizon,
        origins[-count:],
    )
