"""A temporal convolutional network (TCN): dilated causal 1-D convolutions in residual blocks.

Dilations double per block (1, 2, 4, …) so that the receptive field grows exponentially and
covers the whole lookback with few layers; every convolution is padded on the left only, so
the output at time t never sees an input after t. Unlike a recurrent network, all time steps
are computed in parallel.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

KERNEL_SIZE = 3


def tcn_dilations(lookback: int, min_blocks: int = 1, kernel_size: int = KERNEL_SIZE) -> list[int]:
    """Dilations 1, 2, 4, … for enough residual blocks that the receptive field covers `lookback`.

    Each block holds two convolutions of the same dilation d, each widening the receptive field
    by (kernel_size - 1) * d.
    """
    dilations: list[int] = []
    while len(dilations) < min_blocks or receptive_field(dilations, kernel_size) < lookback:
        dilations.append(2 ** len(dilations))
    return dilations


def receptive_field(dilations: list[int], kernel_size: int = KERNEL_SIZE) -> int:
    """How many time steps one output of the stack can see (itself included)."""
    return 1 + sum(2 * (kernel_size - 1) * d for d in dilations)


class CausalConv1d(nn.Module):
    """Conv1d padded on the left only: [B, C_in, L] -> [B, C_out, L], causal."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, dilation: int
    ) -> None:
        super().__init__()
        self.left_padding = (kernel_size - 1) * dilation
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        outputs: torch.Tensor = self.conv(functional.pad(inputs, (self.left_padding, 0)))
        return outputs


class TemporalBlock(nn.Module):
    """Two causal convolutions with ReLU and dropout, plus a residual connection."""

    def __init__(
        self, in_channels: int, channels: int, kernel_size: int, dilation: int, dropout: float
    ) -> None:
        super().__init__()
        self.body = nn.Sequential(
            CausalConv1d(in_channels, channels, kernel_size, dilation),
            nn.ReLU(),
            nn.Dropout(dropout),
            CausalConv1d(channels, channels, kernel_size, dilation),
            nn.ReLU(),
            nn.Dropout(dropout),
        )
        # A 1x1 convolution matches the channel count for the residual when it changes.
        self.skip: nn.Module = (
            nn.Conv1d(in_channels, channels, 1) if in_channels != channels else nn.Identity()
        )

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        # inputs: [B, C_in, L] -> [B, channels, L]
        return torch.relu(self.body(inputs) + self.skip(inputs))


class TemporalConvNet(nn.Module):
    """[B, L, F] windows -> [B, channels]: the TCN's features at the newest time step."""

    def __init__(
        self,
        n_features: int,
        channels: int,
        lookback: int,
        dropout: float = 0.0,
        min_blocks: int = 1,
        kernel_size: int = KERNEL_SIZE,
    ) -> None:
        super().__init__()
        self.dilations = tcn_dilations(lookback, min_blocks, kernel_size)
        self.blocks = nn.Sequential(
            *(
                TemporalBlock(
                    n_features if index == 0 else channels,
                    channels,
                    kernel_size,
                    dilation,
                    dropout,
                )
                for index, dilation in enumerate(self.dilations)
            )
        )

    def features(self, windows: torch.Tensor) -> torch.Tensor:
        """Per-time-step features [B, channels, L]; step t depends on inputs up to t only."""
        # Convolutions want [B, F, L].
        per_step: torch.Tensor = self.blocks(windows.transpose(1, 2))
        return per_step

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        # windows: [B, L, F] -> [B, channels], read at the newest step (it sees the whole window)
        return self.features(windows)[:, :, -1]
