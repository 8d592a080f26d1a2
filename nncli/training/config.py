"""Optimiser and loop settings, declared once (light: no torch import)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from nncli.option_presets import (
    TRAINING,
    architecture_default,
    automatic_count,
    seed_option,
    training_option,
)
from nncli.options import AtLeast, NonNegative, OneOf, Positive, Within

# The main loop's defaults (MLP, RBF, the forecasters); TabM's are in `TabMTraining`.
DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_WEIGHT_DECAY = 1e-4
DEFAULT_PATIENCE = 20
# --batch-size left out: about BATCH_STEPS mini-batches per epoch, within
# SMALLEST_BATCH..LARGEST_BATCH examples (`nncli.training.loop.auto_batch_size`).
BATCH_STEPS = 16
SMALLEST_BATCH = 32
LARGEST_BATCH = 1024
MAX_THREADS = 1024  # more cannot help; OpenMP runs out of memory long before 2**31


@dataclass
class TrainingConfig:
    """Optimiser and loop settings shared by every network nncli trains."""

    # The help of these settings is neutral; each domain's options class says what they
    # mean there and what its networks use when one is left out (`help_notes`).
    epochs: int = training_option(200, help="Most epochs to train.", check=AtLeast(1))
    batch_size: int | None = automatic_count(
        help="Examples (rows or windows) per mini-batch.", panel=TRAINING
    )
    # None: the architecture's own default (`filled`); TabM trains on other settings.
    learning_rate: float | None = architecture_default(
        help="AdamW learning rate.", flag="--lr", check=Positive()
    )
    weight_decay: float | None = architecture_default(
        help="AdamW weight decay.", check=NonNegative()
    )
    patience: int | None = architecture_default(
        help="Stop after this many epochs without a better validation score.",
        check=AtLeast(1),
    )
    seed: int = seed_option()
    device: str = training_option("cpu", help="cpu, cuda, cuda:N or auto.")
    threads: int | None = automatic_count(
        help="CPU threads for the network's arithmetic (default: torch's choice, one per core).",
        panel=TRAINING,
        check=Within(1, MAX_THREADS, "[]"),
    )
    precision: str = training_option(
        "fp32",
        help="fp32, or bf16: the forward pass in bfloat16 (weights stay fp32); see "
        "benchmarks/RESULTS-precision.md.",
        check=OneOf(("fp32", "bf16")),
    )

    def filled(
        self,
        learning_rate: float = DEFAULT_LEARNING_RATE,
        weight_decay: float = DEFAULT_WEIGHT_DECAY,
        patience: int = DEFAULT_PATIENCE,
    ) -> TrainingConfig:
        """This config with an architecture's defaults where the user left an option out."""
        return replace(
            self,
            learning_rate=learning_rate if self.learning_rate is None else self.learning_rate,
            weight_decay=weight_decay if self.weight_decay is None else self.weight_decay,
            patience=patience if self.patience is None else self.patience,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def batch_rule(
    examples: str,
    steps: int = BATCH_STEPS,
    largest: int = LARGEST_BATCH,
    power_of_two: bool = False,
) -> str:
    """How `auto_batch_size` sizes a mini-batch, in words: 'rows / 16, within 32..1024'."""
    rounded = " as a power of two" if power_of_two else ""
    return f"{examples} / {steps}{rounded}, within {SMALLEST_BATCH}..{largest}"
