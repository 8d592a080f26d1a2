"""Permutation feature importance, the shared kernel: how much worse a model gets when one
input is shuffled.

Shuffling a feature across samples keeps its distribution but breaks its link to the target,
so the loss in score measures how much the model relies on that feature *on this data*. It is
model-agnostic and needs no retraining; it is not causal, and two correlated features share
(and so each hide) the information they carry.

This module holds what both domains share: the options, the report types, the shuffles and
the permutation loop. What a feature is and how it is scored belongs to each domain:
`nncli.tabular.explain` (one entry per input column) and `nncli.forecasting.explain` (one
entry per covariate and per lag block of the target); `nncli.api.explain_model` picks one.

Light at import (the CLI reads `ExplainOptions` when it starts): numpy only inside functions.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from nncli.data.loading import CsvOptions
from nncli.errors import UsageError
from nncli.option_presets import automatic_count, seed_option
from nncli.options import AtLeast, Check, OneOf, check_options, option
from nncli.reporting import CollectingReporter, Reporter

if TYPE_CHECKING:
    import numpy as np

# Fewer rows or windows than this make the importances noisy enough to warn about.
FEW_SAMPLES = 50
SERIES_PANEL = "Forecast models"
# An importance within this many standard deviations (over the shuffles) of 0 is noise: the
# band of scikit-learn's user guide (mean - 2 std > 0 for a feature that matters).
NOISE_STDS = 2.0
# The metrics a table's importance can be measured in: the task each judges, and whether
# higher is better (the importance is the worsening either way, so bigger = more important).
TABLE_METRICS: dict[str, tuple[str, bool]] = {
    "accuracy": ("classification", True),
    "log_loss": ("classification", False),
    "roc_auc": ("classification", True),
    "rmse": ("regression", False),
    "mae": ("regression", False),
}
# What an importance is, by the metric it is measured in (tables' metrics and forecasters').
IMPORTANCE_TITLES = {
    "accuracy": "drop in accuracy",
    "log_loss": "rise in log loss",
    "roc_auc": "drop in ROC-AUC",
    "rmse": "rise in RMSE",
    "mae": "rise in MAE",
    "scaled_mae": "rise in scaled MAE",
}


def parse_lags(text: str) -> list[int] | None:
    """'5,20,60' -> [5, 20, 60]; empty text means the default blocks (the check says whether
    they increase)."""
    try:
        lags = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError as exc:
        raise UsageError(
            f"--lag-blocks {text!r}: use comma-separated whole lags, e.g. 5,20,60"
        ) from exc
    return lags or None


def show_lags(lags: list[int]) -> str:
    """[5, 20, 60] -> '5,20,60'."""
    return ",".join(str(lag) for lag in lags)


@dataclass(frozen=True)
class IncreasingLags(Check):
    """Upper lags of lag blocks: positive and strictly increasing (None: the defaults)."""

    def problem(self, value: Any) -> str | None:
        if value is None or (
            value and value[0] >= 1 and all(b > a for a, b in itertools.pairwise(value))
        ):
            return None
        return "needs increasing positive upper lags, e.g. --lag-blocks 5,20,60"


@dataclass
class ExplainOptions:
    """How to measure importance; every field is a `nncli explain` option."""

    repeats: int = option(
        5, help="Shuffles per feature; the table shows their mean and std.", check=AtLeast(1)
    )
    seed: int = seed_option(
        help="Random seed of the shuffles: same model, data and seed give the same importances."
    )
    metric: str | None = option(
        None,
        help="Score whose worsening is the importance: accuracy, log_loss or roc_auc for "
        "classifiers (default log_loss), rmse or mae for regressors (default rmse).",
        check=OneOf(tuple(TABLE_METRICS)),
        hidden_default=True,
    )
    # Forecasters only: the upper lags of the target's lag blocks.
    lag_blocks: list[int] | None = option(
        None,
        help="Upper lags of the target's lag blocks (default: 5,20,60, then doubling).",
        panel=SERIES_PANEL,
        check=IncreasingLags(),
        parse=parse_lags,
        show=show_lags,
        hidden_default=True,
    )
    windows: int | None = automatic_count(
        help="Newest forecast origins per series (default: the model's validation share).",
        panel=SERIES_PANEL,
    )
    csv: CsvOptions = field(default_factory=CsvOptions)

    def validate(self) -> None:
        """Reject impossible settings before any data is read."""
        check_options(self)


@dataclass
class FeatureImportance:
    """The score change when one feature (or feature group) is shuffled, over the repeats."""

    feature: str
    kind: str  # numeric / categorical / boolean for tables; target / covariate for series
    mean: float
    std: float
    values: list[float]
    lags: list[int] | None = None  # forecasters: [first, last] lag of the shuffled block

    @property
    def noise_band(self) -> float:
        """Half-width of the band around 0 that holds importances indistinguishable from
        noise: NOISE_STDS standard deviations over the shuffles."""
        return NOISE_STDS * self.std

    @property
    def within_noise(self) -> bool:
        """True when the importance is not clearly above 0 (with one shuffle there is no
        spread to measure, so only an importance of 0 or less counts as noise)."""
        return self.mean <= self.noise_band


@dataclass
class ExplainReport:
    """Ranked permutation importances and what they measure."""

    kind: str  # "tabular" or "forecast"
    task: str  # classification / regression / forecast
    metric: str  # the score whose change is the importance
    description: str  # one sentence on how to read the numbers
    baseline: dict[str, float]  # the unshuffled scores
    samples: int  # rows (tables) or windows (series) scored
    repeats: int
    seed: int
    features: list[FeatureImportance]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data, features ranked from 1."""
        document = asdict(self)
        document["features"] = [
            _feature_entry(rank, item) for rank, item in enumerate(self.features, start=1)
        ]
        return document


def _feature_entry(rank: int, item: FeatureImportance) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "rank": rank,
        "feature": item.feature,
        "kind": item.kind,
        "importance_mean": item.mean,
        "importance_std": item.std,
        "importances": item.values,
        "noise_band": item.noise_band,
        "within_noise": item.within_noise,
    }
    if item.lags is not None:
        entry["lags"] = item.lags
    return entry


@dataclass
class FeatureGroup:
    """One feature to shuffle: the block `array[index]` of the model's encoded inputs.

    `array` is a numpy array or a torch tensor whose first axis runs over the samples; the
    block is shuffled along that axis, in place, and put back after each scoring.
    """

    name: str
    kind: str
    array: Any
    index: tuple[Any, ...]
    lags: list[int] | None = None


def checked(
    options: ExplainOptions | None, reporter: Reporter | None
) -> tuple[ExplainOptions, Reporter]:
    """The options checked (the defaults when None) and a reporter (a collecting one when
    None): what every explain function starts from."""
    options = options or ExplainOptions()
    options.validate()
    return options, reporter or CollectingReporter()


def draw_permutations(samples: int, options: ExplainOptions) -> list[np.ndarray]:
    """The shuffles, drawn once: every feature gets the same ones (common random numbers),
    so differences between features are not differences between shuffles."""
    import numpy as np

    rng = np.random.default_rng(options.seed)
    return [rng.permutation(samples) for _ in range(options.repeats)]


@contextlib.contextmanager
def block_shuffled(array: Any, index: tuple[Any, ...], order: Any) -> Iterator[None]:
    """Reorder `array[index]` along the sample axis by `order` for the duration of the block."""
    block = array[index]
    # A copy, not a view, since the shuffle writes over the block (torch: clone, numpy: copy).
    original = block.clone() if hasattr(block, "clone") else block.copy()
    array[index] = original[order]
    try:
        yield
    finally:
        array[index] = original


def summarise(values: list[float]) -> tuple[float, float]:
    """(mean, population std) of one feature's importances."""
    import numpy as np

    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std())


def rank(features: list[FeatureImportance]) -> list[FeatureImportance]:
    """Most important first (ties by name, so the order is reproducible)."""
    return sorted(features, key=lambda f: (-f.mean, f.feature))


def permutation_importances(
    groups: Sequence[FeatureGroup],
    permutations: Sequence[Any],
    loss: Callable[[], float],
) -> tuple[float, list[FeatureImportance]]:
    """The unshuffled loss and each group's ranked importance: the rise of the loss when the
    group is shuffled by each permutation.

    `loss` scores the model on its inputs as they are now, as a number where higher is worse
    (e.g. -accuracy, log loss, RMSE), so a bigger rise is a more important feature.
    """
    base = loss()
    features: list[FeatureImportance] = []
    for group in groups:
        rises: list[float] = []
        for order in permutations:
            with block_shuffled(group.array, group.index, order):
                rises.append(loss() - base)
        mean, std = summarise(rises)
        features.append(FeatureImportance(group.name, group.kind, mean, std, rises, group.lags))
    return base, rank(features)
