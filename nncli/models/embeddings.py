"""Categorical inputs of the tabular networks: one embedding table per category column, its
vectors placed after the numeric features."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from nncli.models import NetworkConfig


@dataclass
class TabularNetworkConfig(NetworkConfig):
    """What every tabular network's config starts with: its inputs and its outputs."""

    n_numeric: int
    n_outputs: int
    categorical_cardinalities: list[int] = field(default_factory=list)
    embedding_dims: list[int] = field(default_factory=list)

    @property
    def input_width(self) -> int:
        """Numeric features plus every embedding vector."""
        return self.n_numeric + sum(self.embedding_dims)


def category_embeddings(config: TabularNetworkConfig) -> nn.ModuleList:
    """One `nn.Embedding(cardinality, dim)` per categorical column."""
    pairs = zip(config.categorical_cardinalities, config.embedding_dims, strict=True)
    return nn.ModuleList(nn.Embedding(cardinality, dim) for cardinality, dim in pairs)


class TabularNetwork(nn.Module):
    """Base of the tabular networks: keeps the config and embeds the categorical codes."""

    def __init__(self, config: TabularNetworkConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = category_embeddings(config)

    def embed(self, numeric: torch.Tensor, categorical: torch.Tensor | None) -> torch.Tensor:
        """Each row as the network reads it: [B, n_numeric + embedding dims]."""
        if len(self.embeddings) and categorical is not None:
            embedded = [emb(categorical[:, i]) for i, emb in enumerate(self.embeddings)]
            return torch.cat([numeric, *embedded], dim=1)
        return numeric
