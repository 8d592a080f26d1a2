"""The tabular MLP: embeddings for categories, then Linear → [BatchNorm] → activation → Dropout."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import torch
from torch import nn

from nncli.models.embeddings import TabularNetwork, TabularNetworkConfig

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
}


def embedding_size(cardinality: int) -> int:
    """A common rule of thumb (fast.ai): grows slowly with the number of categories, capped at 32."""
    return int(min(32, max(2, round(1.6 * cardinality**0.56))))


@dataclass
class MLPConfig(TabularNetworkConfig):
    """Everything needed to rebuild the network; saved in the model file."""

    hidden_sizes: list[int] = field(default_factory=lambda: [128, 64])
    activation: str = "relu"
    dropout: float = 0.1
    batch_norm: bool = False


class MLP(TabularNetwork):
    """Feedforward network over numeric features and categorical codes."""

    config: MLPConfig

    def __init__(self, config: MLPConfig) -> None:
        super().__init__(config)
        widths = [config.input_width, *config.hidden_sizes]
        layers: list[nn.Module] = []
        for width, hidden in itertools.pairwise(widths):
            layers.append(nn.Linear(width, hidden))
            if config.batch_norm:
                layers.append(nn.BatchNorm1d(hidden))
            layers.append(ACTIVATIONS[config.activation]())
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
        layers.append(nn.Linear(widths[-1], config.n_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor | None = None
    ) -> torch.Tensor:
        # numeric: [B, n_numeric] float32; categorical: [B, n_categorical] int64 -> [B, n_outputs]
        outputs: torch.Tensor = self.layers(self.embed(numeric, categorical))
        return outputs


class OneInputMLP(nn.Module):
    """An MLP fed only its numeric or only its categorical block, exported with its one real
    input (an ONNX input of width 0 would confuse consumers)."""

    def __init__(self, mlp: nn.Module, numeric_input: bool) -> None:
        super().__init__()
        self.mlp = mlp
        self.numeric_input = numeric_input

    def forward(self, block: torch.Tensor) -> torch.Tensor:
        # block: [B, n_numeric] float32 or [B, n_categorical] int64 -> [B, outputs]
        layers: nn.Module = self.mlp.layers  # type: ignore[assignment]
        if self.numeric_input:
            numeric_outputs: torch.Tensor = layers(block)
            return numeric_outputs
        embeddings: nn.ModuleList = self.mlp.embeddings  # type: ignore[assignment]
        embedded = [emb(block[:, i]) for i, emb in enumerate(embeddings)]
        outputs: torch.Tensor = layers(torch.cat(embedded, dim=1))
        return outputs
