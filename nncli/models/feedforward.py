"""The tabular MLP: embeddings for categories, then Linear → [BatchNorm] → activation → Dropout."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

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
class MLPConfig:
    """Everything needed to rebuild the network; saved in the model file."""

    n_numeric: int
    n_outputs: int
    categorical_cardinalities: list[int] = field(default_factory=list)
    embedding_dims: list[int] = field(default_factory=list)
    hidden_sizes: list[int] = field(default_factory=lambda: [128, 64])
    activation: str = "relu"
    dropout: float = 0.1
    batch_norm: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class MLP(nn.Module):
    """Feedforward network over numeric features and categorical codes."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = nn.ModuleList(
            nn.Embedding(cardinality, dim)
            for cardinality, dim in zip(
                config.categorical_cardinalities, config.embedding_dims, strict=True
            )
        )
        width = config.n_numeric + sum(config.embedding_dims)
        layers: list[nn.Module] = []
        for hidden in config.hidden_sizes:
            layers.append(nn.Linear(width, hidden))
            if config.batch_norm:
                layers.append(nn.BatchNorm1d(hidden))
            layers.append(ACTIVATIONS[config.activation]())
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            width = hidden
        layers.append(nn.Linear(width, config.n_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor | None = None
    ) -> torch.Tensor:
        # numeric: [B, n_numeric] float32; categorical: [B, n_categorical] int64 -> [B, n_outputs]
        if len(self.embeddings) and categorical is not None:
            embedded = [emb(categorical[:, i]) for i, emb in enumerate(self.embeddings)]
            numeric = torch.cat([numeric, *embedded], dim=1)
        outputs: torch.Tensor = self.layers(numeric)
        return outputs
