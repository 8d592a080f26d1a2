"""A radial-basis-function (RBF) network for tables: embeddings, Gaussian units, a linear layer.

Each of K units has a learnable centre c_k (a prototype point in the input space) and width
σ_k, and responds with exp(-||x - c_k||² / (2 σ_k²)): near 1 close to its centre, near 0 far
away. The output is a linear combination of those responses. Centres start on training rows
picked k-means++ style (spread out over the data), so every unit begins where the data is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from nncli.models.embeddings import TabularNetwork, TabularNetworkConfig


@dataclass
class RBFConfig(TabularNetworkConfig):
    """Everything needed to rebuild the network; saved in the model file."""

    n_centres: int = 32


def kmeans_plus_plus(points: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k rows of `points` [N, D], each drawn with probability ∝ squared distance to those chosen.

    With k > N the rows repeat (jittered by the caller's training); duplicates are harmless.
    """
    n_rows = points.shape[0]
    first = int(torch.randint(n_rows, (1,), generator=generator))
    chosen = [first]
    nearest = ((points - points[first]) ** 2).sum(dim=1)  # [N] squared distance to the chosen
    for _ in range(1, k):
        total = float(nearest.sum())
        if total <= 0:  # every row already chosen (or all identical): sample uniformly
            index = int(torch.randint(n_rows, (1,), generator=generator))
        else:
            index = int(torch.multinomial(nearest / total, 1, generator=generator))
        chosen.append(index)
        nearest = torch.minimum(nearest, ((points - points[index]) ** 2).sum(dim=1))
    return points[chosen].clone()


class RBFNetwork(TabularNetwork):
    """Gaussian units over numeric features and categorical embeddings, then a linear layer.

    A row's point in the RBF input space is `embed(numeric, categorical)`.
    """

    config: RBFConfig

    def __init__(self, config: RBFConfig) -> None:
        super().__init__(config)
        width = config.input_width
        # Until init_centres sees data: standard-normal centres (inputs are standardised) and
        # widths of the typical distance between two such points, sqrt(2 * width).
        self.centres = nn.Parameter(torch.randn(config.n_centres, width))
        self.log_widths = nn.Parameter(
            torch.full((config.n_centres,), 0.5 * math.log(2.0 * max(width, 1)))
        )
        self.output = nn.Linear(config.n_centres, config.n_outputs)

    def activations(
        self, numeric: torch.Tensor, categorical: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Each unit's Gaussian response to each row: [B, n_centres] in (0, 1]."""
        points = self.embed(numeric, categorical)  # [B, D]
        # ||x - c||² = ||x||² - 2 x·c + ||c||²: one matrix product instead of a [B, K, D] tensor.
        squared = (
            (points * points).sum(dim=1, keepdim=True)
            - 2 * points @ self.centres.T
            + (self.centres * self.centres).sum(dim=1)
        ).clamp_min(0.0)
        variance = torch.exp(2 * self.log_widths)  # σ² per centre: [K]
        return torch.exp(-squared / (2 * variance))

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor | None = None
    ) -> torch.Tensor:
        # numeric: [B, n_numeric] float32; categorical: [B, n_categorical] int64 -> [B, n_outputs]
        outputs: torch.Tensor = self.output(self.activations(numeric, categorical))
        return outputs

    @torch.no_grad()
    def init_centres(
        self, numeric: torch.Tensor, categorical: torch.Tensor | None, generator: torch.Generator
    ) -> None:
        """Place the centres on training rows (k-means++ style) and size the widths from them.

        Each width starts at the distance to the nearest other centre (or the median of those
        distances when centres coincide), so neighbouring units overlap without all
        responding to every row.
        """
        if numeric.shape[0] == 0:
            return
        points = self.embed(numeric, categorical)
        centres = kmeans_plus_plus(points, self.config.n_centres, generator)
        self.centres.copy_(centres)
        if self.config.n_centres < 2:
            spread = float(points.std(dim=0).norm()) or 1.0
            self.log_widths.fill_(math.log(spread))
            return
        distances = torch.cdist(centres, centres)
        distances.fill_diagonal_(float("inf"))
        nearest = distances.min(dim=1).values
        positive = nearest[nearest > 1e-6]
        fallback = float(positive.median()) if len(positive) else 1.0
        widths = torch.where(nearest > 1e-6, nearest, torch.full_like(nearest, fallback))
        self.log_widths.copy_(torch.log(widths))
