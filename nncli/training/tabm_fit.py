"""Fitting the TabM network: scheduled AdamW, best epoch by the target metric, calibration.

A stand-alone loop for `nncli.models.tabm.TabM` (the library's loop is being refactored; this
one shows what the new default needs from it):
- nncli's own `AdamW` (one instance per parameter group, for per-group lr factors and weight
  decay), betas (0.9, 0.95) as RealMLP and TabM use;
- the learning rate set every step from `nncli.training.schedule` over a fixed epoch budget,
  optionally dropout and weight decay on RealMLP's "flat_cos";
- the loss is the mean of the k members' losses (label smoothing for classification);
- the best epoch is chosen by the target metric on the validation rows (accuracy, ties
  broken by validation log loss; RMSE for regression), with patience-based early stopping;
- regression targets standardised for training, predictions clamped to the training range;
- after training, a temperature fitted on the validation rows undoes label smoothing's
  under-confidence (accuracy is unchanged by it).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from nncli.models.tabm import TabM, ensemble_loss, parameter_groups
from nncli.training.optimizer import AdamW
from nncli.training.schedule import epoch_budget, lr_multiplier, progress
from nncli.training.threads import ThreadGovernor, batch_work


@dataclass
class TabMFitConfig:
    """How to train a `TabM`."""

    lr: float = 4e-3  # classification; see `default_lr`
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.0  # decoupled, on weight matrices only
    lr_schedule: str = "coslog4"
    dropout_schedule: str = "constant"  # "flat_cos": RealMLP's scheduled dropout
    weight_decay_schedule: str = "constant"
    embedding_lr_factor: float = 1.0
    scale_lr_factor: float = 1.0
    batch_size: int = 256  # 0: by table size (see `auto_batch_size`)
    max_epochs: int = 64  # RealMLP: 256; CPU time forbids (see `schedule.epoch_budget`)
    min_epochs: int = 16
    row_epochs: int = 100_000
    patience_fraction: float = 0.35  # stop after this share of the budget without a new best
    patience: int | None = None  # --patience: epochs without a new best (overrides the share)
    precision: str = "fp32"  # "bf16": forward pass under bfloat16 autocast, as the main loop
    threads: int | None = None  # --threads; None: one for small batches, else the idle cores
    label_smoothing: float = 0.1  # classification only
    temperature_scaling: bool = True
    seed: int = 0


@dataclass
class TabMFitResult:
    """What training found: best epoch, the scale of the target and the temperature."""

    best_epoch: int = 0
    epochs_run: int = 0
    best_metric: float = math.nan
    temperature: float = 1.0
    target_mean: float = 0.0
    target_std: float = 1.0
    target_min: float = -math.inf
    target_max: float = math.inf
    history: list[tuple[float, float]] = field(default_factory=list)  # (train loss, metric)
    # Per epoch: validation log loss (classification) or MSE in standardised units.
    valid_losses: list[float] = field(default_factory=list)


def _optimizers(model: TabM, config: TabMFitConfig) -> list[tuple[AdamW, float, float]]:
    """(optimizer, lr factor, weight-decay factor) per distinct pair of factors: the parameter
    groups that share their factors share one optimizer (by default all of them: a quarter
    of the per-step kernel launches, which dominate a small table's step)."""
    factors = {
        "weights": (1.0, 1.0),
        "embeddings": (config.embedding_lr_factor, 0.0),
        "scales": (config.scale_lr_factor, 0.0),
        "biases": (1.0, 0.0),
    }
    merged: dict[tuple[float, float], list[torch.nn.Parameter]] = {}
    for name, params in parameter_groups(model).items():
        lr_factor, wd_factor = factors[name]
        if not config.weight_decay:
            wd_factor = 0.0  # no decay anywhere: the groups differ in nothing else
        merged.setdefault((lr_factor, wd_factor), []).extend(params)
    return [
        (AdamW(params, lr=config.lr * lr_factor, betas=config.betas), lr_factor, wd_factor)
        for (lr_factor, wd_factor), params in merged.items()
        if params
    ]


@torch.no_grad()
def predict_outputs(
    model: TabM, numeric: torch.Tensor, categorical: torch.Tensor, batch_size: int = 4096
) -> torch.Tensor:
    """The ensemble-mean outputs in eval mode: [N, n_outputs]."""
    model.eval()
    parts = [
        model(numeric[i : i + batch_size], categorical[i : i + batch_size])
        for i in range(0, len(numeric), batch_size)
    ]
    return torch.cat(parts) if parts else torch.empty(0, model.config.n_outputs)


def _score(outputs: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
    """(metric to maximise, tie-breaker to maximise) of validation outputs: accuracy and
    log loss for class indices, RMSE for values."""
    if target.dtype == torch.int64:
        accuracy = (outputs.argmax(dim=1) == target).float().mean().item()
        log_loss = torch.nn.functional.cross_entropy(outputs, target).item()
        return accuracy, -log_loss
    rmse = (outputs.squeeze(1) - target).square().mean().sqrt().item()
    return -rmse, 0.0


def _valid_loss(
    outputs: torch.Tensor, target: torch.Tensor, calibrate: bool, accuracy: float
) -> float:
    """The validation loss an epoch reports: MSE (standardised units) for regression; for
    classes the log loss at the temperature the saved model would get (`temperature_for`;
    label smoothing's raw log loss is no match for an MLP's, and tuning compares the two)."""
    if target.dtype != torch.int64:
        return (outputs.squeeze(1) - target).square().mean().item()
    temperature = temperature_for(outputs, target, accuracy) if calibrate else 1.0
    return torch.nn.functional.cross_entropy(outputs / temperature, target).item()


def planned_epochs(config: TabMFitConfig, n_rows: int) -> int:
    """The epochs `fit_tabm` plans for `n_rows` training rows under `config`."""
    return epoch_budget(
        n_rows,
        max_epochs=config.max_epochs,
        min_epochs=config.min_epochs,
        row_epochs=config.row_epochs,
    )


# Regression trains at twice classification's learning rate (RealMLP's defaults differ by
# task too); measured on the benchmark's 7 regression tables, 3 seeds: geo-mean error ratio
# to gradient boosting 1.075 at 4e-3, 1.052 at 8e-3 (benchmarks/RESULTS-tabular-candidates.md).
REGRESSION_LR = 8e-3


def default_lr(task: str) -> float:
    """TabM's learning rate when --lr is left out: by task."""
    return REGRESSION_LR if task == "regression" else TabMFitConfig.lr


def effective_patience(config: TabMFitConfig, epochs: int) -> int:
    """--patience, else `patience_fraction` of the planned epochs (at least 4)."""
    return config.patience or max(4, math.ceil(config.patience_fraction * epochs))


def fit_tabm(
    model: TabM,
    train: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    valid: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    config: TabMFitConfig,
    on_epoch: Callable[[TabMFitResult], None] | None = None,
) -> TabMFitResult:
    """Train in place and leave the best epoch's weights loaded.

    `train` and `valid` are (numeric [N, n] float32, categorical [N, c] int64, target):
    target is [N] int64 class indices, or [N] float32 values for regression (raw scale;
    standardised here). `on_epoch(result so far)` is called after every epoch (progress
    bars, Optuna's pruning: it may raise to stop training).
    """
    generator = torch.Generator().manual_seed(config.seed)
    numeric, categorical, target = train
    v_numeric, v_categorical, v_target = valid
    result = TabMFitResult()
    regression = model.config.output_kind == "values"
    if regression:
        target, v_target = _standardise_targets(result, target, v_target)
    n_rows = len(target)
    epochs = planned_epochs(config, n_rows)
    batch_size = min(config.batch_size or auto_batch_size(n_rows), n_rows)
    steps_per_epoch = math.ceil(n_rows / batch_size)
    total_steps = epochs * steps_per_epoch
    patience = effective_patience(config, epochs)
    optimizers = _optimizers(model, config)
    base_dropout = model.config.dropout
    label_smoothing = 0.0 if regression else config.label_smoothing
    calibrate = config.temperature_scaling and label_smoothing > 0
    best: tuple[float, float] = (-math.inf, -math.inf)
    best_state = copy.deepcopy(model.state_dict())
    step = 0
    governor = thread_governor(model, config, batch_size)
    autocast = torch.autocast("cpu", torch.bfloat16, enabled=config.precision == "bf16")
    for epoch in range(1, epochs + 1):
        governor.adjust()
        model.train()
        order = torch.randperm(n_rows, generator=generator)
        total_loss = 0.0
        for start in range(0, n_rows, batch_size):
            _follow_schedules(model, optimizers, config, base_dropout, progress(step, total_steps))
            rows = order[start : start + batch_size]
            with autocast:
                outputs = model(numeric[rows], categorical[rows])  # [b, k, o]
            loss = ensemble_loss(
                outputs.float(), target[rows], model.config.output_kind, label_smoothing
            )
            for optimizer, _, _ in optimizers:
                optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            for optimizer, _, _ in optimizers:
                optimizer.step()
            total_loss += loss.item() * len(rows)
            step += 1
        outputs = predict_outputs(model, v_numeric, v_categorical)
        score = _score(outputs, v_target)
        result.history.append((total_loss / n_rows, score[0]))
        result.valid_losses.append(_valid_loss(outputs, v_target, calibrate, score[0]))
        result.epochs_run = epoch
        if score > best:
            best = score
            result.best_epoch = epoch
            best_state = copy.deepcopy(model.state_dict())
        if on_epoch is not None:
            on_epoch(result)
        if epoch - result.best_epoch >= patience:
            break
    model.set_dropout(base_dropout)
    model.load_state_dict(best_state)
    result.best_metric = best[0] if not regression else -best[0] * result.target_std
    if calibrate:
        result.temperature = calibrated_temperature(model, valid, best_accuracy=best[0])
    model.eval()
    return result


def thread_governor(model: TabM, config: TabMFitConfig, batch_size: int) -> ThreadGovernor:
    """As nncli's main loop: one thread where the batch is small (threads cost more than they
    save, and a busy neighbour stalls every OpenMP barrier), else the cores left idle.

    The work is counted per row, not per member-row: TabM's many small ops gain less from
    threads than an MLP's few large ones (whole `nncli train` on 2 cores, 1 vs 2 threads:
    150 rows 3.1 vs 4.0 s, titanic 4.8 vs 5.2-6.9 s, phone-churn 7.0 vs 6.6-7.2 s).
    """
    work = batch_work(sum(p.numel() for p in model.parameters()), batch_size)
    return ThreadGovernor(config.threads, work)


def _follow_schedules(
    model: TabM,
    optimizers: list[tuple[AdamW, float, float]],
    config: TabMFitConfig,
    base_dropout: float,
    t: float,
) -> None:
    """Set the learning rate, weight decay and dropout for training progress `t` in [0, 1]."""
    lr_scale = lr_multiplier(config.lr_schedule, t)
    wd_scale = lr_multiplier(config.weight_decay_schedule, t)
    for optimizer, lr_factor, wd_factor in optimizers:
        optimizer.lr = config.lr * lr_factor * lr_scale
        optimizer.weight_decay = config.weight_decay * wd_factor * wd_scale
    if config.dropout_schedule != "constant":
        model.set_dropout(base_dropout * lr_multiplier(config.dropout_schedule, t))


def calibrated_temperature(
    model: TabM, valid: tuple[torch.Tensor, torch.Tensor, torch.Tensor], best_accuracy: float
) -> float:
    """The temperature fitted on the validation rows (`temperature_for`)."""
    numeric, categorical, target = valid
    return temperature_for(predict_outputs(model, numeric, categorical), target, best_accuracy)


def temperature_for(logits: torch.Tensor, target: torch.Tensor, accuracy: float) -> float:
    """The temperature fitted on (logits, target), or 1 when they hold no errors.

    A validation set with no errors makes log loss fall as T -> 0: the "best" temperature
    is just the search's lower bound, and it ruins the log loss on unseen rows (penguins:
    test log loss 0.25 at T = 0.05 vs 0.10 at T = 1).
    """
    return 1.0 if accuracy >= 1.0 else fit_temperature(logits, target)


def _standardise_targets(
    result: TabMFitResult, target: torch.Tensor, valid_target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Record the training target's mean, std and range in `result`; return both standardised."""
    result.target_mean = float(target.mean())
    std = float(target.std()) if len(target) > 1 else 1.0
    result.target_std = std if std > 0 else 1.0
    result.target_min, result.target_max = float(target.min()), float(target.max())
    return (
        (target - result.target_mean) / result.target_std,
        (valid_target - result.target_mean) / result.target_std,
    )


def auto_batch_size(n_rows: int) -> int:
    """256 from ~5,000 rows up; smaller below, so a small table still gets enough steps."""
    return int(min(256, max(32, 2 ** round(math.log2(max(n_rows, 1) / 20)))))


def fit_temperature(logits: torch.Tensor, target: torch.Tensor) -> float:
    """The T in softmax(logits / T) that minimises log loss on (logits, target).

    Golden-section search over log T in [-3, 3]; the loss is convex in 1/T.
    """

    def loss(log_t: float) -> float:
        scaled = logits / math.exp(log_t)
        return torch.nn.functional.cross_entropy(scaled, target).item()

    low, high = -3.0, 3.0
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    loss_a, loss_b = loss(a), loss(b)
    for _ in range(40):
        if loss_a < loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - ratio * (high - low)
            loss_a = loss(a)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + ratio * (high - low)
            loss_b = loss(b)
    return math.exp((low + high) / 2)


def predict_values(
    model: TabM,
    numeric: torch.Tensor,
    categorical: torch.Tensor,
    result: TabMFitResult,
) -> torch.Tensor:
    """Class probabilities [N, classes] (temperature applied) or values [N] (raw scale, clamped)."""
    outputs = predict_outputs(model, numeric, categorical)
    if model.config.output_kind == "logits":
        return torch.softmax(outputs / result.temperature, dim=1)
    values = outputs.squeeze(1) * result.target_std + result.target_mean
    return values.clamp(result.target_min, result.target_max)
