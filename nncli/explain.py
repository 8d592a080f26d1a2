"""Permutation feature importance: how much worse a model gets when one input is shuffled.

Shuffling a column across rows keeps its distribution but breaks its link to the target, so
the loss in score measures how much the model relies on that column *on this data*. It is
model-agnostic and needs no retraining; it is not causal, and two correlated columns share
(and so each hide) the information they carry.

Tabular models: one entry per original input column, scored by the drop in accuracy (also
the rise in log loss) or the rise in RMSE. Forecasters: one entry per covariate and per lag
block of the target, scored by the rise in the scaled MAE of the median forecast.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.data.loading import CsvOptions
from nncli.errors import DataError, UsageError
from nncli.reporting import CollectingReporter, Reporter

if TYPE_CHECKING:
    import numpy as np
    import torch

    from nncli.data.preprocessing import EncodedFeatures
    from nncli.forecasting.model import ForecastModel
    from nncli.tabular.model import TabularModel

# Upper lag of each target lag block; past the last one, blocks double (120, 240, ...).
DEFAULT_LAG_BLOCKS = (5, 20, 60)
# Fewer rows or windows than this make the importances noisy enough to warn about.
FEW_SAMPLES = 50


@dataclass
class ExplainOptions:
    """How to measure importance; every field maps to a `nncli explain` option."""

    repeats: int = 5
    seed: int = 0
    lag_blocks: list[int] | None = None  # forecasters: upper lags of the target's lag blocks
    windows: int | None = None  # forecasters: newest origins per series [default: validation share]
    csv: CsvOptions = field(default_factory=CsvOptions)

    def validate(self) -> None:
        """Reject impossible settings before any data is read."""
        if self.repeats < 1:
            raise UsageError(f"--repeats must be at least 1, not {self.repeats}")
        if self.windows is not None and self.windows < 1:
            raise UsageError(f"--windows must be at least 1, not {self.windows}")
        if self.lag_blocks is not None:
            blocks = self.lag_blocks
            if not blocks or blocks[0] < 1 or any(b <= a for a, b in itertools.pairwise(blocks)):
                raise UsageError(
                    "--lag-blocks needs increasing positive upper lags, e.g. --lag-blocks 5,20,60"
                )


@dataclass
class FeatureImportance:
    """The score change when one feature (or feature group) is shuffled, over the repeats."""

    feature: str
    kind: str  # numeric / categorical / boolean for tables; target / covariate for series
    mean: float
    std: float
    values: list[float]
    lags: list[int] | None = None  # forecasters: [first, last] lag of the shuffled block
    # Classification only: the rise in log loss, a finer signal than accuracy on small data.
    log_loss_mean: float | None = None
    log_loss_std: float | None = None


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
        features = []
        for rank, item in enumerate(self.features, start=1):
            entry: dict[str, Any] = {
                "rank": rank,
                "feature": item.feature,
                "kind": item.kind,
                "importance_mean": item.mean,
                "importance_std": item.std,
                "importances": item.values,
            }
            if item.lags is not None:
                entry["lags"] = item.lags
            if item.log_loss_mean is not None:
                entry["log_loss_increase_mean"] = item.log_loss_mean
                entry["log_loss_increase_std"] = item.log_loss_std
            features.append(entry)
        document = asdict(self)
        document["features"] = features
        return document


def explain_model(
    model_path: Path,
    data: Path,
    options: ExplainOptions | None = None,
    *,
    reporter: Reporter | None = None,
) -> tuple[ExplainReport, dict[str, Any]]:
    """Load a tabular or forecast model file and explain it on DATA; returns the report and
    the model's metadata."""
    from nncli.artifacts import read_metadata

    options = options or ExplainOptions()
    options.validate()
    metadata, _ = read_metadata(model_path)
    if metadata.get("kind") == "forecast":
        from nncli.forecasting.model import load_forecast_model

        forecaster = load_forecast_model(model_path)
        return explain_forecast(forecaster, data, options, reporter=reporter), forecaster.metadata
    from nncli.tabular.model import load_tabular_model

    tabular = load_tabular_model(model_path)
    if options.lag_blocks is not None or options.windows is not None:
        (reporter or CollectingReporter()).warn(
            "--lag-blocks and --windows apply to forecast models only; ignored for this table"
        )
    return explain_tabular(tabular, data, options, reporter=reporter), tabular.metadata


def _rank(features: list[FeatureImportance]) -> list[FeatureImportance]:
    # Ties in accuracy are common on small tables; the log-loss rise breaks them.
    return sorted(features, key=lambda f: (-f.mean, -(f.log_loss_mean or 0.0), f.feature))


def _summary(values: list[float]) -> tuple[float, float]:
    import numpy as np

    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std())


def _permutations(rows: int, options: ExplainOptions) -> list[np.ndarray]:
    """The shuffles, drawn once: every feature gets the same ones (common random numbers),
    so differences between features are not differences between shuffles."""
    import numpy as np

    rng = np.random.default_rng(options.seed)
    return [rng.permutation(rows) for _ in range(options.repeats)]


# --- tabular -----------------------------------------------------------------------------


def _labelled_rows(
    model: TabularModel, data: Path, options: ExplainOptions, reporter: Reporter
) -> tuple[EncodedFeatures, np.ndarray]:
    """The rows of DATA with a usable label, their encoding and their truth."""
    import numpy as np

    from nncli.data.loading import read_csv, require_columns, require_rows
    from nncli.data.preprocessing import numeric_values
    from nncli.files import file_sha256
    from nncli.tabular.model import encode_rows
    from nncli.tasks import class_indices

    frame = read_csv(data, options.csv, reporter=reporter)
    require_rows(frame, data)
    if file_sha256(data) == model.metadata.get("data", {}).get("sha256"):
        reporter.warn(
            f"{data} is the file the model was trained on: the importances include training rows "
            "and show what the model learned, not only what generalises"
        )
    target = model.target_name
    require_columns(frame, data, [target], "target")
    labelled = frame[frame[target].notna()]
    if len(labelled) < len(frame):
        reporter.warn(
            f"{len(frame) - len(labelled)} row(s) with a missing {target!r} were left out"
        )
    if labelled.empty:
        raise DataError(f"{data}: target column {target!r} has no values")
    if model.task == "classification":
        truth = class_indices(labelled[target], model.classes)
        unknown = truth < 0
        if unknown.any():
            reporter.warn(
                f"{int(unknown.sum())} row(s) with labels unseen in training were left out"
            )
            labelled, truth = labelled[~unknown], truth[~unknown]
        if labelled.empty:
            raise DataError(
                f"{data}: no row has a label the model knows ({', '.join(model.classes)})"
            )
    else:
        truth = numeric_values(labelled[target], data, target).to_numpy(np.float64)
    encoded = encode_rows(model, labelled, data, reporter)
    return encoded, truth


def _tabular_scores(task: str, outputs: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(primary score, log loss) — accuracy and log loss, or RMSE and NaN — computed directly
    (not through scikit-learn) because they run once per feature and shuffle."""
    import numpy as np

    if task == "classification":
        accuracy = float((outputs.argmax(axis=1) == truth).mean())
        # Clipped and renormalised as nncli.metrics.classification_metrics does.
        proba = np.clip(outputs.astype(np.float64), 1e-15, 1.0)
        proba /= proba.sum(axis=1, keepdims=True)
        log_loss = float(-np.log(proba[np.arange(len(truth)), truth]).mean())
        return accuracy, log_loss
    rmse = float(np.sqrt(np.mean((outputs.astype(np.float64) - truth) ** 2)))
    return rmse, float("nan")


def _column_blocks(model: TabularModel) -> list[tuple[str, str, list[int], int | None]]:
    """Per input column: its name, kind, its numeric feature indices, its categorical index.

    A numeric column owns its standardised value and, when present, its missing indicator;
    a categorical column owns one code (and so its whole embedding).
    """
    blocks: list[tuple[str, str, list[int], int | None]] = []
    position = 0
    for spec in model.preprocessor.numeric:
        width = 2 if spec.missing_indicator else 1
        blocks.append((spec.name, "numeric", list(range(position, position + width)), None))
        position += width
    for index, category in enumerate(model.preprocessor.categorical):
        blocks.append((category.name, category.kind, [], index))
    return blocks


def explain_tabular(
    model: TabularModel,
    data: Path,
    options: ExplainOptions | None = None,
    *,
    reporter: Reporter | None = None,
) -> ExplainReport:
    """Permutation importance of every input column of a tabular model on labelled DATA."""
    from nncli.data.preprocessing import EncodedFeatures

    options = options or ExplainOptions()
    options.validate()
    reporter = reporter or CollectingReporter()
    encoded, truth = _labelled_rows(model, data, options, reporter)
    rows = len(truth)
    if rows < FEW_SAMPLES:
        reporter.warn(f"only {rows} labelled rows: the importances will be noisy")
    task = model.task
    base_score, base_log_loss = _tabular_scores(task, model.outputs(encoded), truth)
    permutations = _permutations(rows, options)
    # The preprocessing works row by row with statistics fixed in training, so shuffling a
    # raw column and encoding it equals shuffling its encoded block: encode once, shuffle
    # blocks in place and put them back (no re-encoding, no copy of the table per shuffle).
    numeric = encoded.numeric.copy()
    categorical = encoded.categorical.copy()
    shuffled = EncodedFeatures(numeric, categorical)
    features: list[FeatureImportance] = []
    for name, kind, numeric_columns, category_index in _column_blocks(model):
        drops: list[float] = []
        log_loss_rises: list[float] = []
        for order in permutations:
            if category_index is None:
                original = numeric[:, numeric_columns].copy()
                numeric[:, numeric_columns] = original[order]
            else:
                original = categorical[:, category_index].copy()
                categorical[:, category_index] = original[order]
            score, log_loss = _tabular_scores(task, model.outputs(shuffled), truth)
            if category_index is None:
                numeric[:, numeric_columns] = original
            else:
                categorical[:, category_index] = original
            # Importance is always "how much worse": accuracy falls, RMSE rises.
            drops.append(base_score - score if task == "classification" else score - base_score)
            log_loss_rises.append(log_loss - base_log_loss)
        mean, std = _summary(drops)
        item = FeatureImportance(name, kind, mean, std, drops)
        if task == "classification":
            item.log_loss_mean, item.log_loss_std = _summary(log_loss_rises)
        features.append(item)
    if task == "classification":
        metric = "accuracy"
        description = (
            f"importance = the drop in accuracy (and the rise in log loss) when a column's "
            f"values are shuffled across the {rows} rows; mean and std over {options.repeats} "
            "shuffles"
        )
        baseline = {"accuracy": base_score, "log_loss": base_log_loss}
    else:
        metric = "rmse"
        description = (
            f"importance = the rise in RMSE ({model.target_name} units) when a column's values "
            f"are shuffled across the {rows} rows; mean and std over {options.repeats} shuffles"
        )
        baseline = {"rmse": base_score}
    return ExplainReport(
        kind="tabular",
        task=task,
        metric=metric,
        description=description,
        baseline=baseline,
        samples=rows,
        repeats=options.repeats,
        seed=options.seed,
        features=_rank(features),
    )


# --- forecasting -------------------------------------------------------------------------


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


def _forecast_samples(
    model: ForecastModel, data: Path, options: ExplainOptions, reporter: Reporter
) -> tuple[torch.Tensor, torch.Tensor]:
    """Input windows [N, L, F] and scaled targets [N, H] at each known series' newest origins."""
    import numpy as np
    import torch

    from nncli.forecasting.model import build_samples
    from nncli.forecasting.series import PanelSpec, load_panel
    from nncli.forecasting.windows import window_origins

    spec = PanelSpec(**model.metadata["panel"])
    panel = load_panel(data, spec, options.csv, reporter=reporter)
    first_valid = 0 if model.transform == "none" else 1
    valid_share = float(model.metadata.get("training", {}).get("valid_size", 0.15))
    inputs, targets = [], []
    for series in panel:
        if series.name not in model.metadata["series"]:
            reporter.warn(f"series {series.name!r} was not seen in training; it is skipped")
            continue
        origins = np.asarray(
            window_origins(len(series), model.lookback, model.horizon, first_valid)
        )
        if len(origins) == 0:
            reporter.warn(
                f"series {series.name!r} has {len(series)} rows, too few for one window of "
                f"lookback {model.lookback} and horizon {model.horizon}; it is skipped"
            )
            continue
        count = options.windows or max(1, round(len(origins) * valid_share))
        x, y = build_samples(
            series,
            model.transform,
            model.scaling(series.name),
            model.lookback,
            model.horizon,
            origins[-count:],
        )
        inputs.append(x)
        targets.append(y)
    if not inputs:
        raise DataError(
            f"{data}: no series the model knows has a full window "
            f"(lookback {model.lookback} + horizon {model.horizon})",
            hint=f"the model knows: {', '.join(model.metadata['series'])}",
        )
    # torch.cat copies: the shuffles below write into these windows, never into the series.
    return torch.cat(inputs), torch.cat(targets)


def explain_forecast(
    model: ForecastModel,
    data: Path,
    options: ExplainOptions | None = None,
    *,
    reporter: Reporter | None = None,
) -> ExplainReport:
    """Permutation importance of a forecaster's covariates and of lag blocks of its target.

    A feature group (one input channel over a range of lags) is shuffled across the windows
    at each series' newest origins; its importance is the rise in the MAE of the median
    forecast, in scaled units (the cumulative change divided by each series' step std, as in
    training's validation metric), so series of different price levels weigh alike.
    """
    import torch

    from nncli.training.loop import predict_batches

    options = options or ExplainOptions()
    options.validate()
    reporter = reporter or CollectingReporter()
    windows, targets = _forecast_samples(model, data, options, reporter)
    count = int(windows.shape[0])
    if count < FEW_SAMPLES:
        reporter.warn(f"only {count} windows: the importances will be noisy (see --windows)")
    median = model.quantiles.index(0.5)

    def scaled_mae(inputs: torch.Tensor) -> float:
        # Sorted like the forecasts nncli prints (quantiles never cross), then the median.
        outputs = predict_batches(model.network, [inputs]).sort(dim=-1).values
        return float((outputs[:, :, median] - targets).abs().mean())

    base = scaled_mae(windows)
    panel = model.metadata["panel"]
    target_label = f"{panel['target']} ({model.transform})"
    lookback = model.lookback
    groups: list[tuple[str, str, int, tuple[int, int]]] = [
        (f"{target_label} lags {first}-{last}", "target", 0, (first, last))
        for first, last in lag_blocks(lookback, options.lag_blocks)
    ]
    groups += [
        (f"{name} lags 1-{lookback}", "covariate", channel, (1, lookback))
        for channel, name in enumerate(panel.get("covariates", []), start=1)
    ]
    permutations = [torch.from_numpy(order) for order in _permutations(count, options)]
    features: list[FeatureImportance] = []
    for name, kind, channel, (first, last) in groups:
        # Lag k sits at window position L - k: lags first..last are positions L-last..L-first.
        steps = slice(lookback - last, lookback - first + 1)
        original = windows[:, steps, channel].clone()
        rises = []
        for order in permutations:
            windows[:, steps, channel] = original[order]
            rises.append(scaled_mae(windows) - base)
        windows[:, steps, channel] = original
        mean, std = _summary(rises)
        features.append(FeatureImportance(name, kind, mean, std, rises, lags=[first, last]))
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
        features=_rank(features),
    )
