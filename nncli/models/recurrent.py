"""Sequence forecasters: RNN / LSTM / GRU over a lookback window, a temporal convolutional
network (TCN, see convolutional.py), or an MLP on flattened lags.

All emit every horizon step at once (direct multi-step) and one output per quantile.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from nncli.models import NetworkConfig
from nncli.models.convolutional import TemporalConvNet

ARCHITECTURES = ("lstm", "gru", "rnn", "tcn", "mlp")


@dataclass
class SequenceConfig(NetworkConfig):
    """Everything needed to rebuild a forecaster; saved in the model file."""

    arch: str
    n_features: int
    lookback: int
    horizon: int
    quantiles: list[float] = field(default_factory=lambda: [0.1, 0.5, 0.9])
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0


class SequenceForecaster(nn.Module):
    """[B, lookback, features] -> [B, horizon, quantiles]."""

    def __init__(self, config: SequenceConfig) -> None:
        super().__init__()
        self.config = config
        outputs = config.horizon * len(config.quantiles)
        if config.arch == "mlp":
            self.encoder: nn.Module = nn.Sequential(
                nn.Flatten(),  # [B, L*F]: the lags side by side
                nn.Linear(config.lookback * config.n_features, config.hidden_size),
                nn.ReLU(),
                nn.Dropout(config.dropout),
                nn.Linear(config.hidden_size, config.hidden_size),
                nn.ReLU(),
            )
        elif config.arch == "tcn":
            # Depth follows the lookback (dilations 1, 2, 4, … until it is covered);
            # num_layers is a minimum number of residual blocks.
            self.encoder = TemporalConvNet(
                config.n_features,
                config.hidden_size,
                config.lookback,
                config.dropout,
                min_blocks=config.num_layers,
            )
        else:
            recurrent = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[config.arch]
            self.encoder = recurrent(
                input_size=config.n_features,
                hidden_size=config.hidden_size,
                num_layers=config.num_layers,
                dropout=config.dropout if config.num_layers > 1 else 0.0,
                batch_first=True,
            )
        self.head = nn.Linear(config.hidden_size, outputs)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        # windows: [B, L, F]
        if self.config.arch in ("mlp", "tcn"):
            summary = self.encoder(windows)  # [B, hidden]
        else:
            sequence, _ = self.encoder(windows)  # [B, L, hidden]
            summary = sequence[:, -1]  # the state after the newest step: [B, hidden]
        outputs: torch.Tensor = self.head(summary)  # [B, horizon * quantiles]
        return outputs.view(-1, self.config.horizon, len(self.config.quantiles))


class PinballLoss(nn.Module):
    """Mean quantile (pinball) loss over horizon steps and quantiles."""

    quantiles: torch.Tensor  # a buffer: moves with .to(device), not a parameter

    def __init__(self, quantiles: list[float]) -> None:
        super().__init__()
        self.register_buffer("quantiles", torch.tensor(quantiles, dtype=torch.float32))

    def forward(self, predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # predicted: [B, H, Q]; target: [B, H]
        error = target.unsqueeze(-1) - predicted
        q = self.quantiles
        return torch.maximum(q * error, (q - 1) * error).mean()
