"""Sliding windows as tensor views (`unfold`), never Python loops over time.

For a series of length T with per-step features X [T, F] and a forecast origin t (the last
observed index), the input window is X[t-L+1 .. t] and the targets are the levels at
t+1 .. t+H. No input of a window lies at or after its first target.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def window_origins(length: int, lookback: int, horizon: int, first_valid: int = 1) -> range:
    """Origins t with a full input window starting at or after `first_valid` and H future steps."""
    return range(first_valid + lookback - 1, length - horizon)


def make_windows(features: torch.Tensor, lookback: int) -> torch.Tensor:
    """All input windows of a [T, F] tensor: a [T-L+1, L, F] view (window i ends at index i+L-1)."""
    # unfold gives [T-L+1, F, L] without copying; transpose to [N, L, F].
    return features.unfold(0, lookback, 1).transpose(1, 2)


def make_future(levels: torch.Tensor, horizon: int) -> torch.Tensor:
    """For each origin t in [0, T-H), the next H levels: a [T-H, H] view (row t = levels[t+1..t+H])."""
    return levels[1:].unfold(0, horizon, 1)
