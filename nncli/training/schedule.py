"""Learning-rate (and dropout / weight-decay) schedules as pure functions of training progress.

Each schedule maps `t`, the fraction of the training budget done (0 at the first step,
approaching 1 at the last), to a multiplier of the base value. A loop sets, before each step:

    optimizer.lr = base_lr * lr_multiplier(schedule, step / total_steps)

Shapes taken from pytabkit (`pytabkit/models/training/scheduling.py`, RealMLP):
- "coslog4": 0.5 * (1 - cos(2π log2(1 + 15 t))), four cosine cycles on a log time axis,
  each twice as long as the last; RealMLP-TD's default learning-rate schedule. It starts
  at 0 (a built-in warm-up) and ends at 0.
- "flat_cos": 1 for the first half, then a cosine down to 0; RealMLP's schedule for dropout
  and weight decay.
- "flat_anneal": 1 for 60 %, then a cosine down to 1e-5.
Plus the common "warmup_cos" (linear warm-up over the first 5 %, then cosine to 0, as in TabM's
and most transformer recipes) and "constant".
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "warmup_cos", "coslog4", "flat_cos", "flat_anneal")
WARMUP_FRACTION = 0.05


def _cosine_down(t: float, start: float = 1.0, end: float = 0.0) -> float:
    """Half a cosine from `start` at t=0 to `end` at t=1."""
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * t))


def lr_multiplier(schedule: str, t: float) -> float:
    """The multiplier of the base value at progress `t` in [0, 1]."""
    t = min(max(t, 0.0), 1.0)
    if schedule == "constant":
        return 1.0
    if schedule == "warmup_cos":
        if t < WARMUP_FRACTION:
            return (t + 1e-3) / WARMUP_FRACTION
        return _cosine_down((t - WARMUP_FRACTION) / (1.0 - WARMUP_FRACTION))
    if schedule.startswith("coslog"):
        cycles = int(schedule[len("coslog") :])
        return 0.5 * (1.0 - math.cos(2.0 * math.pi * math.log2(1.0 + (2**cycles - 1) * t)))
    if schedule == "flat_cos":
        return 1.0 if t < 0.5 else _cosine_down((t - 0.5) / 0.5)
    if schedule == "flat_anneal":
        return 1.0 if t < 0.6 else _cosine_down((t - 0.6) / 0.4, 1.0, 1e-5)
    raise ValueError(f"unknown schedule {schedule!r}; choose from {', '.join(SCHEDULES)}")


def progress(step: int, total_steps: int) -> float:
    """Fraction of the budget done before `step` (0-based) of `total_steps`, mid-step."""
    return (step + 0.5) / max(total_steps, 1)


def epoch_budget(
    n_rows: int, *, max_epochs: int = 64, min_epochs: int = 16, row_epochs: int = 100_000
) -> int:
    """How many epochs to schedule for `n_rows` training rows.

    RealMLP trains 256 epochs whatever the size; on two CPU cores that is minutes for 40k
    rows. Instead the budget is about `row_epochs` rows seen, clamped to
    [min_epochs, max_epochs]: tables up to ~1,500 rows get 64 epochs, a 40k-row table 16.
    """
    return int(min(max_epochs, max(min_epochs, math.ceil(row_epochs / max(n_rows, 1)))))
