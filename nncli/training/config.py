"""Optimiser and loop settings, declared once (light: no torch import)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from nncli.options import AtLeast, NonNegative, Positive, option

TRAINING = "Training"


@dataclass
class TrainingConfig:
    """Optimiser and loop settings shared by every network nncli trains."""

    epochs: int = option(200, help="Maximum epochs.", panel=TRAINING, check=AtLeast(1))
    batch_size: int | None = option(
        None,
        help="Examples (rows or windows) per mini-batch (default: examples / 16, within 32..1024).",
        panel=TRAINING,
        check=AtLeast(1),
        hidden_default=True,
    )
    learning_rate: float = option(
        1e-3, help="AdamW learning rate.", flag="--lr", panel=TRAINING, check=Positive()
    )
    weight_decay: float = option(
        1e-4, help="AdamW weight decay.", panel=TRAINING, check=NonNegative()
    )
    patience: int = option(
        20,
        help="Stop after this many epochs without a better validation loss.",
        panel=TRAINING,
        check=AtLeast(1),
    )
    seed: int = option(
        0, help="Random seed: same data, seed and options give the same model.", check=AtLeast(0)
    )
    device: str = option("cpu", help="cpu, cuda, cuda:N or auto.", panel=TRAINING)
    threads: int | None = option(
        None,
        help="CPU threads for the network's arithmetic (default: torch's choice, one per core).",
        panel=TRAINING,
        check=AtLeast(1),
        hidden_default=True,
    )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
