"""A small fit loop cut into steps (fit → epoch → train step; infer), skorch-style.

Inputs are pre-built tensors; each epoch shuffles a permutation of row indices and slices
mini-batches out of the tensors, which is what a hand-written loop does and several times
faster than a per-row DataLoader.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

# Re-exported: callers have long imported TrainingConfig from here.
from nncli.training.config import TrainingConfig as TrainingConfig
from nncli.training.optimizer import AdamW
from nncli.training.threads import ThreadGovernor, batch_work

Inputs = Sequence[torch.Tensor]


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
    """Called after every epoch; may raise to stop training (e.g. an Optuna prune)."""

    def on_epoch_end(self, record: EpochRecord, history: History) -> None: ...


def auto_batch_size(rows: int) -> int:
    """About 16+ steps per epoch on small tables, 1024-row batches on large ones."""
    return int(min(1024, max(32, rows // 16)))


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch (and numpy) and return a generator for shuffling."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def train_epoch(
    model: nn.Module,
    optimizer: AdamW,
    loss_fn: nn.Module,
    inputs: Inputs,
    targets: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    precision: str = "fp32",
) -> float:
    """One pass over the training rows in shuffled mini-batches; returns the mean loss.

    With `precision="bf16"` the forward pass runs under bfloat16 autocast and the loss is
    computed in float32 on its outputs; weights and optimiser state stay float32.
    """
    model.train()
    autocast = torch.autocast(targets.device.type, torch.bfloat16, enabled=precision == "bf16")
    n_rows = targets.shape[0]
    order = torch.randperm(n_rows, generator=generator).to(targets.device)
    total = torch.zeros((), device=targets.device)
    for start in range(0, n_rows, batch_size):
        index = order[start : start + batch_size]
        batch_inputs = [tensor[index] for tensor in inputs]
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            outputs = model(*batch_inputs)
        loss = loss_fn(outputs.float(), targets[index])
        loss.backward()
        optimizer.step()
        total += loss.detach() * index.shape[0]
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
    """Raw model outputs for all rows, in large batches, without autograd."""
    model.eval()
    n_rows = inputs[0].shape[0]
    outputs = [
        model(*[tensor[start : start + batch_size] for tensor in inputs])
        for start in range(0, n_rows, batch_size)
    ]
    return torch.cat(outputs) if outputs else torch.empty(0)


def fit(
    model: nn.Module,
    loss_fn: nn.Module,
    train: tuple[Inputs, torch.Tensor],
    valid: tuple[Inputs, torch.Tensor],
    config: TrainingConfig,
    valid_metric: Callable[[torch.Tensor, torch.Tensor], float],
    metric_name: str,
    callbacks: Sequence[Callback] = (),
) -> History:
    """Train with AdamW and early stopping on validation loss; restores the best weights."""
    config = config.filled()
    assert config.learning_rate is not None and config.patience is not None  # for mypy
    generator = seed_everything(config.seed)
    device = torch.device(config.device)
    if config.precision == "bf16":
        check_bf16(device)
    model.to(device)
    train_inputs = [tensor.to(device) for tensor in train[0]]
    train_targets = train[1].to(device)
    valid_inputs = [tensor.to(device) for tensor in valid[0]]
    valid_targets = valid[1].to(device)
    optimizer = AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay or 0.0
    )
    batch_size = config.batch_size or auto_batch_size(train_targets.shape[0])
    parameters = sum(p.numel() for p in model.parameters())
    sequence = train_inputs[0].shape[1] if train_inputs[0].dim() == 3 else 1
    threads = ThreadGovernor(config.threads, batch_work(parameters, batch_size, sequence))
    history = History(metric_name=metric_name, planned_epochs=config.epochs)
    best_loss = math.inf
    best_state: dict[str, torch.Tensor] = {}
    for epoch in range(1, config.epochs + 1):
        threads.adjust()
        train_loss = train_epoch(
            model,
            optimizer,
            loss_fn,
            train_inputs,
            train_targets,
            batch_size,
            generator,
            config.precision,
        )
        outputs = predict_batches(model, valid_inputs)
        valid_loss = float(loss_fn(outputs, valid_targets))
        record = EpochRecord(epoch, train_loss, valid_loss, valid_metric(outputs, valid_targets))
        history.records.append(record)
        if valid_loss < best_loss - 1e-7:
            best_loss = valid_loss
            history.best_epoch = epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        for callback in callbacks:
            callback.on_epoch_end(record, history)
        if not math.isfinite(train_loss):
            break
        if epoch - history.best_epoch >= config.patience:
            history.stopped_early = True
            break
    if best_state:
        model.load_state_dict(best_state)
    else:  # every epoch diverged: keep the last weights so callers can report it
        history.best_epoch = len(history.records)
    return history
