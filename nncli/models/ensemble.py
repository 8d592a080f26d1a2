"""An ensemble of sequence forecasters as one network: each member reads the newest steps of
one long window, and the members' quantiles are combined by their element-wise median.

Every member maps [B, L_i, F] -> [B, H, Q] (cumulative changes from the origin, scaled).
The ensemble takes windows [B, L, F] with L = max(L_i) (one data path: windows are built once
with the longest lookback) and gives member i the last L_i steps. Each member's quantiles
are sorted, then the median over members is taken per (step, quantile), as the
N-BEATS/N-HITS ensembles do (Oreshkin et al. 2020). The median is then shrunk toward the
anchor forecast by the buffer `shrink` (1: as trained, 0: the anchor's forecast), the
"no harm" rule that validation sets (`nncli.forecasting.statistical.choose_shrink`).

`forward` has no data-dependent Python control flow: it exports to ONNX and TorchScript.
"""

import torch
from torch import nn


def window_path(windows: torch.Tensor) -> torch.Tensor:
    """[B, L] path of the target relative to the window's origin: x_j = -(s_{j+1} + ... + s_L),
    so x_L = 0 (the naive anchor) and x_{L-m+k} is the seasonal-naive change of step k."""
    steps = windows[:, :, 0]  # [B, L]
    return steps - steps.flip(1).cumsum(1).flip(1)


def anchor_index_for(window: int, horizon: int, season: int) -> torch.Tensor:
    """[H] positions in a window of length `window` of each step's anchor: the origin (naive)
    when `season` < 2, else the same step one season earlier (seasonal naive)."""
    steps = torch.arange(horizon, device="cpu")  # CPU under meta too (no torch._dynamo)
    if season < 2:
        return torch.full((horizon,), window - 1, device="cpu")
    return window - season + steps % season


class MemberEnsemble(nn.Module):
    """[B, L, F] -> [B, H, Q]: the median of the members' sorted quantiles, shrunk toward the
    anchor."""

    shrink: torch.Tensor  # buffers: saved with the weights
    anchor_index: torch.Tensor

    def __init__(
        self,
        members: list[nn.Module],
        lookbacks: list[int],
        median: int,
        anchor_index: torch.Tensor,
    ) -> None:
        super().__init__()
        if len(members) != len(lookbacks) or not members:
            raise ValueError("an ensemble needs one lookback per member, and a member")
        self.members = nn.ModuleList(members)
        window = max(lookbacks)
        self.starts = [window - lookback for lookback in lookbacks]  # plain ints
        self.count = len(members)
        self.median = median
        self.register_buffer("shrink", torch.ones(1, device="cpu"))
        self.register_buffer("anchor_index", anchor_index.clone())

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        # windows: [B, L, F]; member i reads windows[:, starts[i]:]
        outputs = [
            member(windows[:, start:])
            for member, start in zip(self.members, self.starts, strict=True)
        ]
        stacked = torch.stack(outputs).sort(dim=-1).values  # [M, B, H, Q], quantiles ascending
        if self.count > 1:
            stacked = stacked.sort(dim=0).values  # ordered over members
        low, high = (self.count - 1) // 2, self.count // 2
        quantiles = (stacked[low] + stacked[high]) / 2  # [B, H, Q]: the median member
        anchor = window_path(windows)[:, self.anchor_index].unsqueeze(-1)  # [B, H, 1]
        median = quantiles[:, :, self.median : self.median + 1]  # [B, H, 1]
        return quantiles - (1 - self.shrink) * (median - anchor)

    def set_shrink(self, value: float) -> None:
        """Fix the weight of the ensemble's median (1: as trained, 0: the anchor's forecast)."""
        self.shrink.fill_(float(value))
