"""The one training loop, cut into steps (fit → epoch → train step; infer), skorch-style.

Every network nncli trains (TabM, the MLP, the RBF network, every forecaster) goes through
`fit`. What differs between networks is a `Recipe`, not another loop: parameter groups with
their own learning-rate and weight-decay factors, per-step schedules (learning rate, weight
decay, dropout), how an epoch's validation loss is computed and which epoch is kept.

Inputs are pre-built tensors; each epoch shuffles a permutation of row indices and slices
mini-batches out of the tensors, which is what a hand-written loop does and several times
faster than a per-row DataLoader. The device and the precision are handled here, once, for
every network.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from nncli.training.config import BATCH_STEPS, LARGEST_BATCH, SMALLEST_BATCH

# Re-exported: callers have long imported TrainingConfig from here.
from nncli.training.config import TrainingConfig as TrainingConfig
from nncli.training.optimizer import AdamW
from nncli.training.schedule import lr_multiplier, progress
from nncli.training.threads import ThreadGovernor, batch_work

Inputs = Sequence[torch.Tensor]
# (validation outputs, validation targets) -> a number
ValidationScore = Callable[[torch.Tensor, torch.Tensor], float]


@dataclass
class EpochRecord:
    """One epoch's losses and validation metric."""

    epoch: int
    train_loss: float
    valid_loss: float
    valid_metric: float


@dataclass
class History:
    """What happened during fit."""

    records: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    metric_name: str = ""
    planned_epochs: int = 0  # the most epochs training may run (0: not known)
    label: str = ""  # which fit of a command this is, for progress ("member 2/6", "refit")

    @property
    def best(self) -> EpochRecord:
        return self.records[self.best_epoch - 1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "best_epoch": self.best_epoch,
            "epochs_run": len(self.records),
            "stopped_early": self.stopped_early,
            "metric": self.metric_name,
            "epochs": [asdict(record) for record in self.records],
        }


class Callback(Protocol):
    """Called after every epoch of the fit that selects the model; may raise to stop
    training (e.g. an Optuna prune). A callback with `follows_every_fit = True` (a progress
    bar) also sees a command's later fits (a refit, folds, ensemble members), each with its
    own `History` and `label`."""

    def on_epoch_end(self, record: EpochRecord, history: History) -> None: ...


def every_fit(callbacks: Sequence[Callback]) -> tuple[Callback, ...]:
    """The callbacks that follow a command's later fits too (progress, not pruning)."""
    return tuple(c for c in callbacks if getattr(c, "follows_every_fit", False))


@dataclass
class ParameterGroup:
    """Parameters that share a learning-rate factor and a weight-decay factor."""

    parameters: list[nn.Parameter]
    lr_factor: float = 1.0
    weight_decay_factor: float = 1.0


# (validation outputs, targets) -> the key the kept epoch maximises (compared as tuples)
Selection = Callable[[torch.Tensor, torch.Tensor], tuple[float, ...]]


@dataclass
class Recipe:
    """How a network trains in the one loop; the defaults are plain AdamW at a constant
    learning rate, keeping the epoch with the lowest validation loss."""

    betas: tuple[float, float] = (0.9, 0.999)
    # None: every parameter in one group
    parameter_groups: Callable[[nn.Module], list[ParameterGroup]] | None = None
    lr_schedule: str = "constant"  # `nncli.training.schedule`, over the planned steps
    weight_decay_schedule: str = "constant"
    dropout_schedule: str = "constant"  # needs the network's `set_dropout(p)`
    # The loss an epoch reports on the validation rows; None: the training loss function.
    valid_loss: ValidationScore | None = None
    # The key of the kept epoch; None: the lowest validation loss (by more than 1e-7).
    selection: Selection | None = None
    # Reseed torch's global generator (dropout's) before the first epoch; False: dropout
    # continues the stream the seeded build left (TabM's benchmarked numbers were made so).
    reseed: bool = True


def auto_batch_size(
    rows: int, *, steps: int = BATCH_STEPS, largest: int = LARGEST_BATCH, power_of_two: bool = False
) -> int:
    """About `steps` mini-batches per epoch on small data, within SMALLEST_BATCH..`largest`
    rows; `power_of_two` rounds to the nearest power of two first (help: `batch_rule`)."""
    size = 2 ** round(math.log2(max(rows, 1) / steps)) if power_of_two else rows // steps
    return int(min(largest, max(SMALLEST_BATCH, size)))


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch (and numpy) and return a generator for shuffling."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


class Optimisers:
    """One AdamW per parameter group, with the recipe's schedules applied before each step."""

    def __init__(self, model: nn.Module, config: TrainingConfig, recipe: Recipe) -> None:
        assert config.learning_rate is not None  # filled by the caller
        groups = (
            recipe.parameter_groups(model)
            if recipe.parameter_groups is not None
            else [ParameterGroup(list(model.parameters()))]
        )
        self.model, self.recipe = model, recipe
        self.lr, self.weight_decay = config.learning_rate, config.weight_decay or 0.0
        self.groups = [
            (AdamW(group.parameters, lr=self.lr * group.lr_factor, betas=recipe.betas), group)
            for group in groups
            if group.parameters
        ]
        self.base_dropout = float(getattr(getattr(model, "config", None), "dropout", 0.0))

    def follow_schedules(self, t: float) -> None:
        """Set every group's learning rate and weight decay (and the dropout) for progress t."""
        lr_scale = lr_multiplier(self.recipe.lr_schedule, t)
        wd_scale = lr_multiplier(self.recipe.weight_decay_schedule, t)
        for optimizer, group in self.groups:
            optimizer.lr = self.lr * group.lr_factor * lr_scale
            optimizer.weight_decay = self.weight_decay * group.weight_decay_factor * wd_scale
        if self.recipe.dropout_schedule != "constant":
            dropout = self.base_dropout * lr_multiplier(self.recipe.dropout_schedule, t)
            self.model.set_dropout(dropout)  # type: ignore[operator]

    def zero_grad(self) -> None:
        for optimizer, _ in self.groups:
            optimizer.zero_grad()

    def step(self) -> None:
        for optimizer, _ in self.groups:
            optimizer.step()

    def restore_dropout(self) -> None:
        if self.recipe.dropout_schedule != "constant":
            self.model.set_dropout(self.base_dropout)  # type: ignore[operator]


@dataclass
class EpochPlan:
    """What one epoch needs besides the data: batches, precision, schedule position."""

    batch_size: int
    generator: torch.Generator
    precision: str
    total_steps: int
    step: int = 0  # optimizer steps taken so far, across epochs


def train_epoch(
    model: nn.Module,
    optimisers: Optimisers,
    loss_fn: nn.Module,
    inputs: Inputs,
    targets: torch.Tensor,
    plan: EpochPlan,
) -> float:
    """One pass over the training rows in shuffled mini-batches; returns the mean loss.

    With `precision="bf16"` the forward pass runs under bfloat16 autocast and the loss is
    computed in float32 on its outputs; weights and optimiser state stay float32.
    """
    model.train()
    autocast = (
        torch.autocast(targets.device.type, torch.bfloat16)
        if plan.precision == "bf16"
        else contextlib.nullcontext()
    )
    n_rows = targets.shape[0]
    order = torch.randperm(n_rows, generator=plan.generator).to(targets.device)
    total = torch.zeros((), device=targets.device)
    for start in range(0, n_rows, plan.batch_size):
        optimisers.follow_schedules(progress(plan.step, plan.total_steps))
        index = order[start : start + plan.batch_size]
        batch_inputs = [tensor[index] for tensor in inputs]
        optimisers.zero_grad()
        with autocast:
            outputs = model(*batch_inputs)
        loss = loss_fn(outputs.float(), targets[index])
        loss.backward()
        optimisers.step()
        total += loss.detach() * index.shape[0]
        plan.step += 1
    return float(total) / n_rows  # one device sync per epoch, not per batch


def check_bf16(device: torch.device) -> None:
    """Refuse `--precision bf16` where the hardware only emulates bfloat16 (slowly)."""
    from nncli.errors import UsageError

    if device.type == "cuda":
        supported = torch.cuda.is_bf16_supported()
    else:
        try:
            supported = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            supported = False
    if not supported:
        raise UsageError(
            f"--precision bf16 needs hardware bfloat16 ({device.type} here has none)",
            hint="leave out --precision (fp32 is the default)",
        )


@torch.inference_mode()
def predict_batches(model: nn.Module, inputs: Inputs, batch_size: int = 8192) -> torch.Tensor:
    """Raw model outputs for all rows, in large batches, without autograd (eval mode)."""
    model.eval()
    n_rows = inputs[0].shape[0]
    outputs = [
        model(*[tensor[start : start + batch_size] for tensor in inputs])
        for start in range(0, n_rows, batch_size)
    ]
    return torch.cat(outputs) if outputs else torch.empty(0)


class BestEpoch:
    """Keeps the weights of the best epoch by the recipe's selection rule."""

    def __init__(self, recipe: Recipe) -> None:
        self.selection = recipe.selection
        self.key: tuple[float, ...] = (-math.inf,)
        self.state: dict[str, torch.Tensor] = {}

    def offer(
        self, model: nn.Module, outputs: torch.Tensor, targets: torch.Tensor, valid_loss: float
    ) -> bool:
        """Keep the model's weights if this epoch beats the best so far; True if it did."""
        if self.selection is None:
            key: tuple[float, ...] = (-valid_loss,)
            better = key[0] > self.key[0] + 1e-7
        else:
            key = self.selection(outputs, targets)
            better = key > self.key
        if better:
            self.key = key
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return better


def fit(
    model: nn.Module,
    loss_fn: nn.Module,
    train: tuple[Inputs, torch.Tensor],
    valid: tuple[Inputs, torch.Tensor],
    config: TrainingConfig,
    valid_metric: ValidationScore,
    metric_name: str,
    callbacks: Sequence[Callback] = (),
    recipe: Recipe | None = None,
    label: str = "",
) -> History:
    """Train on `config.device` with the recipe's optimiser and schedules and early stopping
    on validation; restores the best epoch's weights (the model stays on the device).

    `config` arrives with the architecture's defaults filled (`TrainingConfig.filled`); its
    `epochs` is the planned budget the schedules run over.
    """
    recipe = recipe or Recipe()
    config = config.filled()
    assert config.patience is not None  # filled
    generator = (
        seed_everything(config.seed)
        if recipe.reseed
        else torch.Generator().manual_seed(config.seed)
    )
    device = torch.device(config.device)
    if config.precision == "bf16":
        check_bf16(device)
    model.to(device)
    loss_fn.to(device)  # class weights are a buffer of the loss
    train_inputs = [tensor.to(device) for tensor in train[0]]
    train_targets = train[1].to(device)
    valid_inputs = [tensor.to(device) for tensor in valid[0]]
    valid_targets = valid[1].to(device)
    optimisers = Optimisers(model, config, recipe)
    n_rows = int(train_targets.shape[0])
    batch_size = min(config.batch_size or auto_batch_size(n_rows), max(n_rows, 1))
    plan = EpochPlan(
        batch_size, generator, config.precision, config.epochs * math.ceil(n_rows / batch_size)
    )
    parameters = sum(p.numel() for p in model.parameters())
    sequence = train_inputs[0].shape[1] if train_inputs[0].dim() == 3 else 1
    threads = ThreadGovernor(config.threads, batch_work(parameters, batch_size, sequence))
    history = History(metric_name=metric_name, planned_epochs=config.epochs, label=label)
    best = BestEpoch(recipe)
    valid_loss_fn = recipe.valid_loss or (lambda out, target: float(loss_fn(out, target)))
    for epoch in range(1, config.epochs + 1):
        threads.adjust()
        train_loss = train_epoch(model, optimisers, loss_fn, train_inputs, train_targets, plan)
        outputs = predict_batches(model, valid_inputs)
        valid_loss = valid_loss_fn(outputs, valid_targets)
        record = EpochRecord(epoch, train_loss, valid_loss, valid_metric(outputs, valid_targets))
        history.records.append(record)
        if best.offer(model, outputs, valid_targets, valid_loss):
            history.best_epoch = epoch
        for callback in callbacks:
            callback.on_epoch_end(record, history)
        if not math.isfinite(train_loss):
            break
        if epoch - history.best_epoch >= config.patience:
            history.stopped_early = True
            break
    optimisers.restore_dropout()
    if best.state:
        model.load_state_dict(best.state)
    else:  # every epoch diverged: keep the last weights so callers can report it
        history.best_epoch = len(history.records)
    model.eval()
    return history
