"""Optimiser and loop settings, declared once (light: no torch import)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from nncli.option_presets import TRAINING, automatic_count, seed_option, training_option
from nncli.options import AtLeast, NonNegative, OneOf, Positive, Within

MAX_THREADS = 1024  # more cannot help; OpenMP runs out of memory long before 2**31


@dataclass
class TrainingConfig:
    """Optimiser and loop settings shared by every network nncli trains."""

    epochs: int = training_option(200, help="Maximum epochs.", check=AtLeast(1))
    batch_size: int | None = automatic_count(
        help="Examples (rows or windows) per mini-batch (default: examples / 16, within 32..1024).",
        panel=TRAINING,
    )
    learning_rate: float = training_option(
        1e-3, help="AdamW learning rate.", flag="--lr", check=Positive()
    )
    weight_decay: float = training_option(1e-4, help="AdamW weight decay.", check=NonNegative())
    patience: int = training_option(
        20, help="Stop after this many epochs without a better validation loss.", check=AtLeast(1)
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
        help="fp32, or bf16: the forward pass in bfloat16 (weights stay fp32). 1.4x faster "
        "for LSTMs and 1.7-2.8x for wide MLPs on CPUs with AMX/AVX-512 BF16, slower for "
        "the default small MLP; see benchmarks/RESULTS-precision.md.",
        check=OneOf(("fp32", "bf16")),
    )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
