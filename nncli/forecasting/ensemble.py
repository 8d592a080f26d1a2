"""The forecaster's ensemble: which members to train, training them on one set of windows,
and calibrating the result on the validation windows.

Members differ by lookback and seed (nhits: 3h, 2h, 5h x 2 seeds by default); every window is
built with the longest lookback and each member reads its newest L steps
(`nncli.models.ensemble.MemberEnsemble`). After training, the validation windows decide,
in this order:

1. the "no harm" shrink (naive anchor only): the median is pulled toward "no change" unless
   a Diebold-Mariano test says the network beats it (`statistical.choose_shrink`);
2. the combination with ETS (`--combine`): the mean of the network's median and an ETS
   forecast (fitted per series at forecast time, run forward over a backtest's origins),
   the other quantiles moved with it; `auto` keeps it only where it beats the network alone
   on validation;
3. the conformal margins per horizon step (`statistical.conformal_margins`) that make the
   interval between the lowest and highest quantile cover its nominal share; where ETS was
   tried (whether or not the median uses it) the interval is the wider of the network's and
   the combination's calibrated intervals.

All of it is recorded in the model file's metadata ("architecture", "calibration") and
applied by every forecast (`ForecastModel`), so predict, backtest, run and the verdict see
the same forecaster. Defaults measured in benchmarks/RESULTS-forecast-candidates.md.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from nncli.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np
    import torch
    from torch import nn

    from nncli.forecasting.options import ForecastOptions
    from nncli.forecasting.series import Series
    from nncli.forecasting.transforms import Transform
    from nncli.models.ensemble import MemberEnsemble
    from nncli.training.config import TrainingConfig
    from nncli.training.loop import Callback, History

# nhits trains in "epochs" of at least this many mini-batches of NHITS_BATCH windows (small
# series have fewer windows than one batch): validation and early stopping every 25 steps,
# as measured; --epochs 30 --patience 5 then mean at most 750 steps, 125 without progress.
STEPS_PER_EPOCH = 25
# ... except where the training windows fill fewer than this many batches: there 25 batches
# are 5-90 passes over the windows, and the median member's best epoch was the first or
# second on 10 of the benchmark's 14 such series (the earliest stops allowed). Judged every
# 5 batches instead, woolyrnq went 0.901 -> 0.795 (seasonal naive: 0.884) and the
# benchmark's geo-mean 0.997 -> 0.987 (RESULTS-forecast-product.md).
SHORT_STEPS_PER_EPOCH = 5
NHITS_BATCH = 256
MIN_EPOCHS_TO_JUDGE = 5  # "still improving" is warned about from this budget on
MIN_TRAIN_WINDOWS = 16  # a default nhits lookback that leaves fewer is dropped
SHRINK_ALPHA = 0.1  # Diebold-Mariano level at which validation skill keeps the median
# ETS is fitted on at most this many of a series' newest rows before its first origin (one
# fit costs 0.1-1 s there; a full 4,000-row history with STL took several seconds), then
# run forward; calibration fits it once per series, on at most ETS_CALIBRATION_SERIES series
# of a panel.
ETS_FIT_MAX_ROWS = 1000
ETS_CALIBRATION_SERIES = 12
# --combine auto keeps network + ETS when it is at least this much better on validation
# (or significantly better; see keeps_combination).
COMBINE_MIN_GAIN = 0.05


@dataclass
class MemberPlan:
    """One member: the lookback it reads and its seed."""

    lookback: int
    seed: int


def plan_members(options: ForecastOptions, lookbacks: list[int]) -> list[MemberPlan]:
    """Member i reads lookbacks[i mod n] with seed + i div n (6 members over 3 lookbacks:
    each lookback with two seeds)."""
    count = options.member_count()
    return [
        MemberPlan(lookbacks[i % len(lookbacks)], options.training.seed + i // len(lookbacks))
        for i in range(count)
    ]


def fitting_lookbacks(panel: list[Series], options: ForecastOptions) -> list[int]:
    """The members' lookbacks; nhits' default ones that leave the longest series fewer than
    MIN_TRAIN_WINDOWS training windows are dropped (the shortest is kept regardless)."""
    lookbacks = options.member_lookbacks()
    if options.lookback is not None or len(lookbacks) == 1:
        return lookbacks
    longest = max(len(series) for series in panel)
    fits = [
        lookback
        for lookback in lookbacks
        if longest >= replace(options, lookback=lookback).min_length() + MIN_TRAIN_WINDOWS
    ]
    return fits or [min(lookbacks)]


def choose_anchor(
    options: ForecastOptions, heads: list[Series], lookbacks: list[int]
) -> tuple[str, int]:
    """nhits' anchor and its season: seasonal when every series has the same season m,
    2 <= m <= the shortest lookback, and (auto) seasonal naive beats naive on the training
    data of at least half the series; else naive (season 1). `heads` are each series'
    training parts."""
    import numpy as np

    from nncli.forecasting.statistical import prefers_seasonal_naive, series_season

    if not options.architecture.anchored or options.anchor == "naive":
        return "naive", 1
    seasons = {series_season(head.timestamps, options.season) for head in heads}
    season = seasons.pop() if len(seasons) == 1 else 1
    fits = 2 <= season <= min(lookbacks)
    if options.anchor == "seasonal":
        if not fits:
            raise UsageError(
                f"--anchor seasonal needs one season of 2 to {min(lookbacks)} steps "
                f"(the shortest lookback) for every series, not {season}",
                hint="set --season, or use --anchor auto",
            )
        return "seasonal", season
    if not fits:
        return "naive", 1
    log = options.target_transform.positive_levels
    votes = [
        prefers_seasonal_naive(np.log(head.levels) if log else head.levels, options.horizon, season)
        for head in heads
    ]
    return ("seasonal", season) if 2 * sum(votes) >= len(votes) else ("naive", 1)


def build_member(
    options: ForecastOptions, n_features: int, plan: MemberPlan, anchor: str, season: int
) -> tuple[nn.Module, dict[str, Any]]:
    """A freshly seeded member network and the config that rebuilds it."""
    from nncli.devices import build_within_memory
    from nncli.training.loop import seed_everything

    config: dict[str, Any] = {
        "n_features": n_features,
        "lookback": plan.lookback,
        "horizon": options.horizon,
        "quantiles": sorted(options.quantiles),
        "hidden_size": options.width,
        "num_layers": options.depth,
        "dropout": options.dropout,
        "arch": options.arch,
    }
    if options.architecture.anchored:
        config.update(anchor=anchor, season=season)
    seed_everything(plan.seed)
    sizes = f"--hidden-size {options.width} --layers {options.depth}"
    network = build_within_memory(
        lambda: rebuild_member(config, options.window_norm), sizes, options.training.device
    )
    return network, config


def rebuild_member(config: dict[str, Any], window_norm: bool) -> nn.Module:
    """The member network a saved config describes (untrained)."""
    from nncli.forecasting.architectures import forecast_architecture

    return forecast_architecture(str(config["arch"])).rebuild(config, window_norm)


def rebuild_ensemble(architecture: dict[str, Any]) -> MemberEnsemble:
    """The ensemble network an "architecture" entry with "members" describes."""
    from nncli.models.ensemble import MemberEnsemble, anchor_index_for

    members = architecture["members"]
    window_norm = bool(architecture.get("window_norm", False))
    season = int(architecture.get("season", 1)) if architecture.get("anchor") == "seasonal" else 1
    return MemberEnsemble(
        [rebuild_member(m["config"], window_norm) for m in members],
        [int(m["lookback"]) for m in members],
        list(architecture["quantiles"]).index(0.5),
        anchor_index_for(int(architecture["lookback"]), int(architecture["horizon"]), season),
    )


@dataclass
class MemberData:
    """Every series' windows (built with the longest lookback), concatenated."""

    train_x: torch.Tensor  # [N, L, F]
    train_y: torch.Tensor  # [N, H]
    valid_x: torch.Tensor
    valid_y: torch.Tensor


def steps_per_epoch(n_windows: int, batch_size: int | None) -> int:
    """Mini-batches per nhits "epoch" (one validation and early-stopping check) for
    `n_windows` training windows in batches of `batch_size` (None: NHITS_BATCH)."""
    short = n_windows < SHORT_STEPS_PER_EPOCH * (batch_size or NHITS_BATCH)
    return SHORT_STEPS_PER_EPOCH if short else STEPS_PER_EPOCH


def train_member(
    network: nn.Module,
    data: MemberData,
    plan: MemberPlan,
    options: ForecastOptions,
    training: TrainingConfig,
    callbacks: Sequence[Callback] = (),
    label: str = "",
) -> History:
    """Fit one member on the newest `plan.lookback` steps of every window."""
    from nncli.models.recurrent import PinballLoss
    from nncli.training.loop import fit

    start = int(data.train_x.shape[1]) - plan.lookback
    train_x, train_y = data.train_x[:, start:], data.train_y
    config = replace(training, seed=plan.seed)
    if options.architecture.step_budget:
        config = replace(config, batch_size=training.batch_size or NHITS_BATCH)
        assert config.batch_size is not None
        # An "epoch" is at least `steps_per_epoch` batches: small data is repeated
        # (reshuffled each pass), so the step budget, not the series' length, sets the time.
        steps = steps_per_epoch(len(train_x), config.batch_size)
        repeat = math.ceil(steps * config.batch_size / len(train_x))
        if repeat > 1:
            train_x, train_y = train_x.repeat(repeat, 1, 1), train_y.repeat(repeat, 1)
    median = sorted(options.quantiles).index(0.5)

    def valid_mae(outputs: torch.Tensor, targets: torch.Tensor) -> float:
        return float((outputs[:, :, median] - targets).abs().mean())

    history = fit(
        network,
        PinballLoss(sorted(options.quantiles)),
        ([train_x], train_y),
        ([data.valid_x[:, start:]], data.valid_y),
        config,
        valid_mae,
        "scaled MAE",
        callbacks,
        label=label,
    )
    network.cpu().eval()
    return history


def train_ensemble(
    data: MemberData,
    options: ForecastOptions,
    lookbacks: list[int],
    anchor: tuple[str, int],
    training: TrainingConfig,
    callbacks: Sequence[Callback] = (),
) -> tuple[MemberEnsemble, dict[str, Any], list[History]]:
    """Train every member (the callbacks follow the first) and assemble the ensemble; returns
    it, its "architecture" metadata and the members' histories."""
    import numpy as np

    from nncli.errors import DataError
    from nncli.training.loop import every_fit

    n_features = int(data.train_x.shape[2])
    members, histories, configs = [], [], []
    plans = plan_members(options, lookbacks)
    for index, plan in enumerate(plans):
        network, config = build_member(options, n_features, plan, *anchor)
        # The first member's fit reports to every callback (pruning follows it); the
        # others to progress bars only.
        followers = callbacks if index == 0 else every_fit(callbacks)
        label = f"member {index + 1}/{len(plans)}" if len(plans) > 1 else ""
        history = train_member(network, data, plan, options, training, followers, label)
        if not np.isfinite(history.best.train_loss):
            raise DataError(
                "training diverged (the loss became NaN or infinite)", hint="lower --lr"
            )
        members.append(network)
        histories.append(history)
        configs.append({**asdict(plan), "config": config, "best_epoch": history.best_epoch})
    architecture = {
        "arch": options.arch,
        "lookback": max(lookbacks),
        "horizon": options.horizon,
        "quantiles": sorted(options.quantiles),
        "n_features": n_features,
        "window_norm": options.architecture.normalises_windows or options.window_norm,
        "anchor": anchor[0],
        "season": anchor[1],
        "members": configs,
    }
    ensemble = rebuild_ensemble(architecture)
    for member, trained in zip(ensemble.members, members, strict=True):
        member.load_state_dict(trained.state_dict())
    return ensemble.eval(), architecture, histories


def still_improving(histories: list[History], epochs: int) -> int:
    """How many members had their best validation loss at the last epoch of the budget (0
    for budgets under MIN_EPOCHS_TO_JUDGE: a smoke run's curve says nothing)."""
    if epochs < MIN_EPOCHS_TO_JUDGE:
        return 0
    return sum(
        1
        for history in histories
        if history.best_epoch == len(history.records) == epochs and not history.stopped_early
    )


# --- calibration ---------------------------------------------------------------------------


@dataclass
class Calibration:
    """What validation decided; stored as the model's "calibration" metadata."""

    coverage: float  # the nominal share of the interval (highest - lowest quantile)
    margins: list[float]  # per horizon step, scaled units, for the network's interval
    shrink: float = 1.0
    shrink_p_value: float | None = None
    combine: str = "none"  # "ets": average the median with ETS at forecast time
    margins_combined: list[float] | None = None  # for the network + ETS interval
    validation_mae: dict[str, float] = field(default_factory=dict)  # scaled, by candidate

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EtsRows:
    """Validation rows (indices into the pooled validation windows) and ETS's scaled
    cumulative changes [N, H] at their origins."""

    rows: np.ndarray
    changes: np.ndarray


def ets_scaled_changes(
    levels: np.ndarray,
    origins: np.ndarray,
    horizon: int,
    season: int,
    transform: Transform,
    mean: float,
    std: float,
) -> np.ndarray:
    """ETS as scaled cumulative changes [N, H] from each origin: the model is chosen and
    fitted once on the newest ETS_FIT_MAX_ROWS levels up to the earliest origin and run
    forward with its parameters fixed (`statistical.ets_forecasts_at`), so each forecast sees
    only its own history and a backtest over hundreds of origins costs one bounded fit."""
    import numpy as np

    from nncli.forecasting.statistical import ets_forecasts_at

    origins = np.asarray(origins, dtype=np.int64)
    order = np.argsort(origins, kind="stable")
    forecasts = np.empty((len(origins), horizon), dtype=np.float64)
    if len(origins):
        start = max(0, int(origins.min()) + 1 - ETS_FIT_MAX_ROWS)
        forecasts[order], _ = ets_forecasts_at(
            np.asarray(levels)[start:], origins[order] - start, horizon, season
        )
    if transform.positive_levels:
        floor = 1e-12 * np.abs(np.asarray(levels, dtype=np.float64)[origins])
        forecasts = np.maximum(forecasts, floor[:, None])
    changes = [
        transform.cumulative_change(levels[origin : origin + 1], forecast[None])[0]
        for origin, forecast in zip(origins, forecasts, strict=True)
    ]
    return (np.asarray(changes, dtype=np.float64).reshape(-1, horizon) - mean) / std


def calibrate(
    network: MemberEnsemble,
    data: MemberData,
    options: ForecastOptions,
    guard: bool,
    ets_rows: Callable[[], EtsRows | None],
) -> Calibration:
    """The shrink (when `guard`), the ETS choice and the conformal margins, from the pooled
    validation windows; sets the network's shrink buffer.

    `ets_rows()` gives ETS at the validation origins (None: not tried); `--combine auto`
    keeps network + ETS by `keeps_combination`. Where the shrink fell back to the naive
    forecast, only the shrink's own test (Diebold-Mariano at SHRINK_ALPHA) counts: choosing
    by validation MAE alone made one simulated random walk 0.96 % worse than naive."""
    import numpy as np

    from nncli.forecasting.statistical import choose_shrink, conformal_margins
    from nncli.models.ensemble import window_path
    from nncli.training.loop import predict_batches

    quantiles = sorted(options.quantiles)
    median = quantiles.index(0.5)
    coverage = quantiles[-1] - quantiles[0]
    actual = data.valid_y.numpy().astype(np.float64)
    calibration = Calibration(coverage=coverage, margins=[])
    if guard:
        outputs = predict_batches(network, [data.valid_x]).numpy().astype(np.float64)
        anchor = window_path(data.valid_x)[:, network.anchor_index].numpy().astype(np.float64)
        decision = choose_shrink(outputs[..., median], actual, anchor, alpha=SHRINK_ALPHA)
        network.set_shrink(decision.weight)
        calibration.shrink, calibration.shrink_p_value = decision.weight, decision.p_value
    outputs = predict_batches(network, [data.valid_x]).numpy().astype(np.float64)
    margins = conformal_margins(actual, outputs[..., 0], outputs[..., -1], coverage)
    calibration.margins = [float(m) for m in margins]
    ets = ets_rows()
    if ets is not None and len(ets.rows):
        network_part = outputs[ets.rows]
        combined = combine_with_ets(network_part, ets.changes, median)
        target = actual[ets.rows]
        scores = {
            "network": float(np.abs(network_part[..., median] - target).mean()),
            "network + ETS": float(np.abs(combined[..., median] - target).mean()),
        }
        calibration.validation_mae = scores
        random_walk = guard and calibration.shrink == 0.0  # by the no-harm rule
        keep = keeps_combination(
            combined[..., median], network_part[..., median], target, random_walk=random_walk
        )
        if options.combine == "ets" or keep:
            calibration.combine = "ets"
        # The interval is the wider of the network's and the combination's calibrated ones
        # also when the median stays the network's: validation errors understate test errors
        # (early stopping chose on them), and the wider one held nominal coverage on the
        # benchmark where the network's alone covered 68 % (RESULTS-forecast-candidates.md).
        margins = conformal_margins(target, combined[..., 0], combined[..., -1], coverage)
        calibration.margins_combined = [float(m) for m in margins]
    return calibration


def keeps_combination(
    combined: np.ndarray, network: np.ndarray, actual: np.ndarray, *, random_walk: bool
) -> bool:
    """Whether `--combine auto` keeps network + ETS (medians [N, H]) over the network's own.

    It must beat the network on validation by at least COMBINE_MIN_GAIN of its MAE, or
    significantly (`clearly_better`); where the no-harm rule chose the random walk, only
    significantly, so that a random walk stays the random walk. Smaller gains were noise on
    the benchmark (elnino 2.2 % and nile 1.6 % better on validation, 13 % and 2 % worse on
    the test windows), larger ones held (RESULTS-forecast-product.md)."""
    import numpy as np

    significant = clearly_better(combined, network, actual)
    if random_walk:
        return significant
    network_mae = float(np.abs(network - actual).mean())
    combined_mae = float(np.abs(combined - actual).mean())
    return significant or combined_mae <= (1 - COMBINE_MIN_GAIN) * network_mae


def clearly_better(candidate: np.ndarray, incumbent: np.ndarray, actual: np.ndarray) -> bool:
    """Whether the candidate's medians [N, H] beat the incumbent's on `actual` by a
    Diebold-Mariano test at SHRINK_ALPHA (per-origin mean absolute errors, lag H - 1)."""
    import numpy as np

    from nncli.forecasting.statistical import diebold_mariano

    first, second = (np.abs(np.asarray(m) - actual).mean(axis=1) for m in (candidate, incumbent))
    return diebold_mariano(first, second, horizon=actual.shape[1]).p_first_better < SHRINK_ALPHA


def combine_with_ets(quantiles: np.ndarray, ets: np.ndarray, median: int) -> np.ndarray:
    """[..., H, Q] quantiles moved so that their median is the mean of theirs and ETS's."""
    shift = (ets - quantiles[..., median]) / 2
    return quantiles + shift[..., None]


def apply_calibration(
    raw: np.ndarray, calibration: dict[str, Any], median: int, ets: np.ndarray | None
) -> np.ndarray:
    """Calibrated scaled quantiles [N, H, Q] from the network's sorted ones: the ETS
    combination (with `ets` [N, H]) and the conformal margins on the outer quantiles."""
    import numpy as np

    from nncli.forecasting.statistical import apply_margins

    out = np.array(raw, dtype=np.float64)
    lower, upper = apply_margins(out[..., 0], out[..., -1], np.asarray(calibration["margins"]))
    if ets is not None and (calibration.get("combine") == "ets" or wider_interval(calibration)):
        combined = combine_with_ets(out, ets, median)
        margins = np.asarray(calibration.get("margins_combined") or calibration["margins"])
        low, high = apply_margins(combined[..., 0], combined[..., -1], margins)
        lower, upper = np.minimum(lower, low), np.maximum(upper, high)  # the wider interval
        if calibration.get("combine") == "ets":
            out = combined
    out[..., 0], out[..., -1] = lower, upper
    return out


def wider_interval(calibration: dict[str, Any]) -> bool:
    """Whether forecasts need ETS for the interval (the median's combination aside)."""
    return bool(calibration.get("margins_combined"))
