"""The default tabular network: numeric embeddings, then a weight-sharing ensemble of k MLPs.

Ingredients (each switchable by a `TabMConfig` field), and where they come from:
- Piecewise-linear numeric embeddings, "ple" (the default for regression): per feature, a
  linear embedding of x plus a learned map of its piecewise-linear encoding over 48 quantile
  bins of the training rows, zero at initialisation (rtdl_num_embeddings'
  `PiecewiseLinearEmbeddings`, version "B", `d_embedding=16`, `n_bins=48`, as
  yandex-research/tabm's README pairs it with TabM; Gorishniy et al. 2022, "On Embeddings
  for Numerical Features in Tabular Deep Learning"). The bins are buffers (`fit_inputs`).
- Periodic numeric embeddings, "pbld" (the default for classification) / "plr": per
  feature, `cos(2π w x + b)` with 16 random frequencies w ~ N(0, 0.1), a per-feature linear map to 3 values, and the raw value kept
  beside them (RealMLP's PBLD: pytabkit `PLREmbeddingsLayerCosBias`, `num_emb_type='pbld'`,
  `plr_sigma=0.1, plr_hidden_1=16, plr_hidden_2=4`; PLR from the same 2022 paper).
- Categoricals: one-hot up to `max_one_hot` categories (unknown bucket included), learned
  embeddings above (RealMLP: `max_one_hot_cat_size=9`, `embedding_size=8`).
- Robust scaling of the (standardised) numeric inputs: (x - median) / IQR, then the smooth
  clip x / sqrt(1 + (x / 3)^2), fitted on the training rows and kept as buffers (RealMLP's
  `RobustScaleFactory` + `smooth_clip`); missing-value indicators pass through.
- A learnable per-feature scale in front of the first layer (RealMLP's `add_front_scale`).
- A TabM ensemble of k members (Gorishniy et al. 2024, "TabM: Advancing Tabular Deep Learning
  with Parameter-Efficient Ensembling"; yandex-research/tabm `tabm.py`):
  "mini" = one shared MLP after a per-member elementwise scaling of the input (TabM-mini,
  `MLPBackboneMiniEnsemble` + `ElementwiseAffine`, random-sign or normal init), "batch" =
  BatchEnsemble in every layer (`LinearBatchEnsemble`: per-member r, s and bias, r random
  at the first layer and ones after it). Each member has its own output head
  (`LinearEnsemble`). Training: the loss is the mean of the members' losses, so `forward`
  returns `[B, k, outputs]`. Inference: the mean of the members' probabilities (classification)
  or values (regression), so `forward` in eval mode returns `[B, outputs]`.
- Parametric activations `x + w (f(x) - x)` with w per neuron, initialised to 1 (RealMLP's
  `use_parametric_act`).

In eval mode classification outputs are `log(mean_k softmax(z_k))`: valid logits whose
softmax is exactly the ensemble's mean probability, so code that applies softmax to a
network's outputs (predict, export parity, explain) works unchanged.

Only matmul, elementwise ops, clamp, cos, logsumexp and log_softmax: traceable by
TorchScript and exportable to ONNX opset 17.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from nncli.data.robust_scaling import SMOOTH_CLIP_BOUND

if TYPE_CHECKING:
    import numpy as np

from nncli.models.feedforward import ACTIVATIONS

TABM_ACTIVATIONS: dict[str, type[nn.Module]] = {**ACTIVATIONS, "selu": nn.SELU, "mish": nn.Mish}
NUMERIC_EMBEDDINGS = ("none", "pbld", "plr", "ple")
# Values per numeric feature each embedding gives (`build_tabm` sets them; "none": the value).
EMBEDDING_DIMS = {"ple": 16, "pbld": 4, "plr": 4}


def default_numeric_embedding(task: str) -> str:
    """`--numeric-embedding` left out: piecewise-linear for regression, periodic for classes.

    Measured on the 15-table benchmark (benchmarks/RESULTS-tabular-candidates.md, run 3):
    piecewise-linear is 0.974x periodic's error on the regression tables; on the
    classification tables it is level (0.995x) and slower on wide tables (16 values per
    feature, not 4), and it lost a penguin of the sample data's 52.
    """
    return "ple" if task == "regression" else "pbld"


ENSEMBLE_KINDS = ("mini", "batch")
OUTPUT_KINDS = ("logits", "values")


@dataclass
class TabMConfig:
    """Everything needed to rebuild the network; saved in the model file."""

    n_numeric: int
    n_outputs: int
    output_kind: str = "logits"  # "logits": classification (CE); "values": regression
    categorical_cardinalities: list[int] = field(default_factory=list)  # unknown bucket incl.
    max_one_hot: int = 9  # categoricals with at most this many codes are one-hot encoded
    categorical_embedding_dim: int = 8  # the others get a learned embedding of this size
    # "none" | "ple" | "pbld" | "plr"; `build_tabm` picks by task (default_numeric_embedding)
    numeric_embedding: str = "ple"
    n_frequencies: int = 16  # "pbld" / "plr"
    frequency_sigma: float = 0.1
    numeric_embedding_dim: int = EMBEDDING_DIMS["ple"]  # per feature ("pbld": the raw x incl.)
    n_bins: int = 48  # "ple": at most this many quantile bins per feature (absent: older files)
    front_scale: bool = True
    # Median/IQR scaling + smooth clip of the numeric inputs, fitted on the training rows
    # (`fit_inputs`); False in files written before it existed.
    robust_scaling: bool = False
    hidden_sizes: list[int] = field(default_factory=lambda: [256, 256])
    activation: str = "relu"
    parametric_activation: bool = False
    dropout: float = 0.1
    k: int = 8  # ensemble members; 1 = a single MLP
    ensemble: str = "mini"  # "mini" | "batch"
    ensemble_init: str = "random-signs"  # "random-signs" | "normal" (first-layer scaling)
    temperature: float = 1.0  # eval-mode logits are divided by it (post-hoc calibration)

    def __post_init__(self) -> None:
        if self.numeric_embedding not in NUMERIC_EMBEDDINGS:
            raise ValueError(f"numeric_embedding must be one of {NUMERIC_EMBEDDINGS}")
        if self.ensemble not in ENSEMBLE_KINDS:
            raise ValueError(f"ensemble must be one of {ENSEMBLE_KINDS}")
        if self.output_kind not in OUTPUT_KINDS:
            raise ValueError(f"output_kind must be one of {OUTPUT_KINDS}")
        if self.activation not in TABM_ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(TABM_ACTIVATIONS)}")
        if self.k < 1 or not self.hidden_sizes or self.n_outputs < 1:
            raise ValueError("k, hidden_sizes and n_outputs must be positive")
        if not self.temperature > 0:
            raise ValueError("temperature must be positive")
        if self.numeric_embedding == "pbld" and self.numeric_embedding_dim < 2:
            raise ValueError("pbld needs numeric_embedding_dim >= 2 (the raw value is one)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TabMConfig:
        """Rebuild from a model file; unknown keys or wrong types raise TypeError/ValueError."""
        known = {f: data[f] for f in cls.__dataclass_fields__ if f in data}
        unknown = set(data) - set(known)
        if unknown:
            raise ValueError(f"unknown TabM settings: {sorted(unknown)}")
        return cls(**known)


class PeriodicEmbeddings(nn.Module):
    """Per-feature periodic embeddings: [B, n] -> [B, n * d].

    "pbld": cos(2π w x + b) with F frequencies, a per-feature linear map to d - 1 values, and
    the raw x appended (d values per feature). "plr": [cos(2π w x), sin(2π w x)] with F / 2
    frequencies, a per-feature linear map to d values, ReLU.
    """

    def __init__(self, n_features: int, config: TabMConfig) -> None:
        super().__init__()
        self.kind = config.numeric_embedding
        n_freq = config.n_frequencies if self.kind == "pbld" else config.n_frequencies // 2
        d_out = config.numeric_embedding_dim - (1 if self.kind == "pbld" else 0)
        self.frequencies = nn.Parameter(config.frequency_sigma * torch.randn(n_features, n_freq))
        # Uniform in [-π, π] rather than [0, 2π]: smaller values under weight decay (RealMLP).
        self.phases = nn.Parameter(math.pi * (2 * torch.rand(n_features, n_freq) - 1))
        if self.kind != "pbld":
            self.phases.requires_grad_(False)
        d_periodic = config.n_frequencies if self.kind == "pbld" else 2 * n_freq
        bound = d_periodic**-0.5
        self.weight = nn.Parameter(
            torch.empty(n_features, d_periodic, d_out).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(torch.empty(n_features, 1, d_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [B, n]
        angles = 2 * math.pi * x.unsqueeze(-1) * self.frequencies  # [B, n, F]
        if self.kind == "pbld":
            periodic = torch.cos(angles + self.phases)  # [B, n, F]
        else:
            periodic = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)  # [B, n, 2F]
        # One small linear map per feature, as a batched matmul over the feature axis.
        mapped = torch.matmul(periodic.transpose(0, 1), self.weight) + self.bias  # [n, B, d']
        mapped = mapped.transpose(0, 1)  # [B, n, d']
        if self.kind == "plr":
            mapped = torch.relu(mapped)
        else:
            mapped = torch.cat([mapped, x.unsqueeze(-1)], dim=-1)  # [B, n, d]
        return mapped.flatten(1)  # [B, n * d]


def copy_into_buffers(buffers: tuple[torch.Tensor, ...], values: tuple[np.ndarray, ...]) -> None:
    """Fill fitted buffers (float32) in place from NumPy arrays of their shapes."""
    for buffer, value in zip(buffers, values, strict=True):
        buffer.copy_(torch.from_numpy(value.astype("float32")))


class PiecewiseLinearEmbeddings(nn.Module):
    """Per-feature piecewise-linear embeddings over quantile bins: [B, n] -> [B, n * d].

    `x w0 + b0` (a linear embedding) plus `ple(x) W`, where `ple(x)` is the encoding
    `[1, ..., 1, (x - left) / width, 0, ..., 0]` over the feature's bins and W starts at
    zero, so the network starts from linear embeddings and learns the bends. The encoding is
    `clamp(x * edge_weight + edge_bias)` in rtdl's layout: a feature's first bins in the first
    slots, its last bin always in the last slot (open above; the first slot is open below),
    zeros between. A feature with a single bin keeps its last slot unclamped.
    """

    edge_weight: torch.Tensor  # buffers, fitted by `fit_bins` (through `TabM.fit_inputs`)
    edge_bias: torch.Tensor
    single_bin: torch.Tensor

    def __init__(self, n_features: int, config: TabMConfig) -> None:
        super().__init__()
        d, n_bins = config.numeric_embedding_dim, config.n_bins
        bound = d**-0.5
        self.linear_weight = nn.Parameter(torch.empty(n_features, d).uniform_(-bound, bound))
        self.linear_bias = nn.Parameter(torch.empty(n_features, d).uniform_(-bound, bound))
        self.weight = nn.Parameter(torch.zeros(n_features, n_bins, d))
        edge_weight = torch.zeros(n_features, n_bins)
        edge_weight[:, -1] = 1.0  # until fitted: one bin, [0, 1]
        self.register_buffer("edge_weight", edge_weight)
        self.register_buffer("edge_bias", torch.zeros(n_features, n_bins))
        self.register_buffer("single_bin", torch.ones(n_features, 1))

    @torch.no_grad()
    def fit_bins(self, numeric: np.ndarray) -> None:
        """Bins between the quantiles of each training feature (repeated quantiles merged)."""
        import numpy as np

        n_bins = self.edge_weight.shape[1]
        # NumPy, not torch.quantile, which refuses inputs over 2**24 values.
        quantiles = np.quantile(numeric.astype(np.float64), np.linspace(0, 1, n_bins + 1), axis=0)
        edge_weight = np.zeros(tuple(self.edge_weight.shape))
        edge_bias = np.zeros_like(edge_weight)
        single_bin = np.zeros((len(edge_weight), 1))
        for feature, column in enumerate(quantiles.T):
            edges = np.unique(column)
            if len(edges) == 1:  # a constant column: one bin of width 1
                edges = np.append(edges, edges[0] + 1)
            width = np.diff(edges)
            slots = [*range(len(width) - 1), n_bins - 1]  # the last bin in the last slot
            edge_weight[feature, slots] = 1 / width
            edge_bias[feature, slots] = -edges[:-1] / width
            single_bin[feature] = len(width) == 1
        copy_into_buffers(
            (self.edge_weight, self.edge_bias, self.single_bin),
            (edge_weight, edge_bias, single_bin),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [B, n]
        column = x.unsqueeze(-1)  # [B, n, 1]
        linear = column * self.linear_weight + self.linear_bias  # [B, n, d]
        encoded = column * self.edge_weight + self.edge_bias  # [B, n, T]
        last = encoded[..., -1:]
        last = self.single_bin * last + (1 - self.single_bin) * last.clamp_min(0.0)
        encoded = torch.cat(
            [encoded[..., :1].clamp_max(1.0), encoded[..., 1:-1].clamp(0.0, 1.0), last], dim=-1
        )
        # One [T, d] map per feature, as a batched matmul over the feature axis.
        bends = torch.matmul(encoded.transpose(0, 1), self.weight).transpose(0, 1)  # [B, n, d]
        return (linear + bends).flatten(1)  # [B, n * d]


class CategoricalEncoding(nn.Module):
    """One-hot for small vocabularies, embeddings for large ones: [B, n_cat] -> [B, D_cat]."""

    def __init__(self, config: TabMConfig) -> None:
        super().__init__()
        small = [c for c in config.categorical_cardinalities if c <= config.max_one_hot]
        self.one_hot_columns = [
            i for i, c in enumerate(config.categorical_cardinalities) if c <= config.max_one_hot
        ]
        self.embedded_columns = [
            i for i, c in enumerate(config.categorical_cardinalities) if c > config.max_one_hot
        ]
        # A code c of one-hot column j lights position offsets[j] + c of the one-hot block.
        offsets = [0]
        for cardinality in small[:-1]:
            offsets.append(offsets[-1] + cardinality)
        self.register_buffer("offsets", torch.tensor(offsets, dtype=torch.long), persistent=False)
        self.register_buffer("positions", torch.arange(sum(small)), persistent=False)
        self.embeddings = nn.ModuleList(
            nn.Embedding(config.categorical_cardinalities[i], config.categorical_embedding_dim)
            for i in self.embedded_columns
        )
        self.width = sum(small) + len(self.embedded_columns) * config.categorical_embedding_dim
        self.offsets: torch.Tensor
        self.positions: torch.Tensor

    def forward(self, categorical: torch.Tensor) -> torch.Tensor:
        # categorical: [B, n_cat] int64
        parts: list[torch.Tensor] = []
        if self.one_hot_columns:
            codes = categorical[:, self.one_hot_columns] + self.offsets  # [B, n_small]
            # Comparison instead of F.one_hot: plain Equal + ReduceMax in ONNX.
            hot = torch.eq(codes.unsqueeze(-1), self.positions)  # [B, n_small, D_small]
            parts.append(hot.any(dim=1).to(torch.float32))  # [B, D_small]
        for index, embedding in zip(self.embedded_columns, self.embeddings, strict=True):
            parts.append(embedding(categorical[:, index]))  # [B, dim]
        return torch.cat(parts, dim=1)


class ParametricActivation(nn.Module):
    """`x + w (f(x) - x)`, w per neuron starting at 1 (so it starts as f)."""

    def __init__(self, activation: nn.Module, width: int) -> None:
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated: torch.Tensor = self.activation(x)
        return x + (activated - x) * self.weight


class LinearBatchEnsemble(nn.Module):
    """k linear layers sharing one weight: y_k = ((x_k * r_k) W^T) * s_k + b_k. [B,k,i]->[B,k,o]."""

    def __init__(self, d_in: int, d_out: int, k: int, random_r: str | None) -> None:
        super().__init__()
        bound = d_in**-0.5
        self.weight = nn.Parameter(torch.empty(d_out, d_in).uniform_(-bound, bound))
        self.r = nn.Parameter(_scaling_init(torch.empty(k, d_in), random_r))
        self.s = nn.Parameter(torch.ones(k, d_out))
        # All members start from the same bias (TabM's note: a shared bias + k zero offsets).
        self.bias = nn.Parameter(torch.empty(d_out).uniform_(-bound, bound).repeat(k, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [B, k, d_in] -> [B, k, d_out]
        return torch.matmul(x * self.r, self.weight.t()) * self.s + self.bias


class LinearEnsemble(nn.Module):
    """k independent linear heads: [B, k, d] -> [B, k, o]."""

    def __init__(self, d_in: int, d_out: int, k: int) -> None:
        super().__init__()
        bound = d_in**-0.5
        self.weight = nn.Parameter(torch.empty(k, d_in, d_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(k, d_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x.transpose(0, 1), self.weight).transpose(0, 1) + self.bias


def _scaling_init(tensor: torch.Tensor, kind: str | None) -> torch.Tensor:
    """TabM's member scalings: ±1 at random, N(0, 1), or ones (None)."""
    with torch.no_grad():
        if kind is None:
            return tensor.fill_(1.0)
        if kind == "normal":
            return tensor.normal_()
        if kind == "random-signs":
            return tensor.bernoulli_(0.5).mul_(2).sub_(1)
    raise ValueError(f"unknown ensemble_init {kind!r}")


class TabM(nn.Module):
    """Numeric embeddings + categorical encoding -> k-member ensemble MLP -> k heads."""

    robust_centre: torch.Tensor  # buffers, with config.robust_scaling
    robust_scale: torch.Tensor
    robust_clip_mask: torch.Tensor

    def __init__(self, config: TabMConfig) -> None:
        super().__init__()
        self.config = config
        k = config.k
        if config.robust_scaling and config.n_numeric > 0:
            # Identity until fitted; clip_mask is 0 for missing-value indicators (left as 0/1).
            self.register_buffer("robust_centre", torch.zeros(config.n_numeric))
            self.register_buffer("robust_scale", torch.ones(config.n_numeric))
            self.register_buffer("robust_clip_mask", torch.ones(config.n_numeric))
        self.numeric_embeddings: PiecewiseLinearEmbeddings | PeriodicEmbeddings | None = None
        if config.numeric_embedding == "ple" and config.n_numeric > 0:
            self.numeric_embeddings = PiecewiseLinearEmbeddings(config.n_numeric, config)
        elif config.numeric_embedding != "none" and config.n_numeric > 0:
            self.numeric_embeddings = PeriodicEmbeddings(config.n_numeric, config)
        d_numeric = config.n_numeric * (
            config.numeric_embedding_dim if self.numeric_embeddings is not None else 1
        )
        self.categorical = CategoricalEncoding(config) if config.categorical_cardinalities else None
        width = d_numeric + (self.categorical.width if self.categorical is not None else 0)
        if width == 0:
            raise ValueError("the network has no input features")
        self.scale = nn.Parameter(torch.ones(width)) if config.front_scale else None
        # TabM-mini: the only per-member parameters before the heads are this scaling.
        self.member_scale = (
            nn.Parameter(_scaling_init(torch.empty(k, width), config.ensemble_init))
            if config.ensemble == "mini" and k > 1
            else None
        )
        blocks: list[nn.Module] = []
        for index, hidden in enumerate(config.hidden_sizes):
            if config.ensemble == "batch" and k > 1:
                first_r = config.ensemble_init if index == 0 else None
                linear: nn.Module = LinearBatchEnsemble(width, hidden, k, first_r)
            else:
                linear = nn.Linear(width, hidden)
            activation = TABM_ACTIVATIONS[config.activation]()
            if config.parametric_activation:
                activation = ParametricActivation(activation, hidden)
            blocks.append(nn.Sequential(linear, activation, nn.Dropout(config.dropout)))
            width = hidden
        self.blocks = nn.Sequential(*blocks)
        self.head = LinearEnsemble(width, config.n_outputs, k)

    def set_dropout(self, p: float) -> None:
        """Change every dropout rate (for a scheduled dropout)."""
        for module in self.modules():
            if isinstance(module, nn.Dropout):
                module.p = p

    def member_outputs(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        """Each member's raw outputs (logits or standardised values): [B, k, n_outputs]."""
        # numeric: [B, n_numeric] float32; categorical: [B, n_cat] int64
        parts: list[torch.Tensor] = []
        if self.config.n_numeric > 0:
            if self.config.robust_scaling:
                numeric = self.robust_inputs(numeric)
            if self.numeric_embeddings is not None:
                parts.append(self.numeric_embeddings(numeric))  # [B, n_numeric * d]
            else:
                parts.append(numeric)
        if self.categorical is not None:
            parts.append(self.categorical(categorical))  # [B, D_cat]
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]  # [B, D]
        if self.scale is not None:
            x = x * self.scale
        x = x.unsqueeze(1).expand(-1, self.config.k, -1)  # [B, k, D]
        if self.member_scale is not None:
            x = x * self.member_scale
        x = self.blocks(x)  # [B, k, hidden]
        outputs: torch.Tensor = self.head(x)  # [B, k, n_outputs]
        return outputs

    def forward(
        self, numeric: torch.Tensor, categorical: torch.Tensor | None = None
    ) -> torch.Tensor:
        # training: [B, k, n_outputs] (one loss per member); eval: [B, n_outputs] (the mean)
        if categorical is None:
            categorical = numeric.new_zeros((numeric.shape[0], 0), dtype=torch.long)
        outputs = self.member_outputs(numeric, categorical)
        if self.training:
            return outputs
        mean = ensemble_mean(outputs, self.config.output_kind)
        if self.config.output_kind == "logits" and self.config.temperature != 1.0:
            # Calibration lives in the network, so predict, explain and export all see it.
            mean = mean / self.config.temperature
        return mean

    def robust_inputs(self, numeric: torch.Tensor) -> torch.Tensor:
        """(x - median) / IQR, then the smooth clip x / sqrt(1 + (x / 3)^2), per feature."""
        scaled = (numeric - self.robust_centre) * self.robust_scale
        clipped = scaled / torch.sqrt(1 + (scaled / SMOOTH_CLIP_BOUND) ** 2)
        mask = self.robust_clip_mask
        return clipped * mask + scaled * (1 - mask)

    @torch.no_grad()
    def fit_inputs(self, numeric: np.ndarray, indicators: list[int]) -> None:
        """Fit what the network takes from the training rows before it trains, in the order
        the inputs meet them: the robust scaling (median and IQR of each feature, by
        `nncli.data.robust_scaling`'s rule, RealMLP's; `indicators`, the missing-value
        indicator positions, stay as they are), then the piecewise-linear embeddings' bins on
        the scaled inputs. Parts the network does not have are skipped."""
        import numpy as np

        from nncli.data.robust_scaling import fit_robust_scaler

        if self.config.n_numeric == 0:
            return
        if self.config.robust_scaling:
            columns = fit_robust_scaler(numeric).columns
            median = np.array([column.median for column in columns])
            scale = np.array([column.scale for column in columns])
            mask = np.ones(self.config.n_numeric)
            median[indicators], scale[indicators], mask[indicators] = 0.0, 1.0, 0.0
            copy_into_buffers(
                (self.robust_centre, self.robust_scale, self.robust_clip_mask),
                (median, scale, mask),
            )
        if isinstance(self.numeric_embeddings, PiecewiseLinearEmbeddings):
            x = torch.from_numpy(numeric).float().to(self.numeric_embeddings.edge_bias.device)
            if self.config.robust_scaling:
                x = self.robust_inputs(x)
            self.numeric_embeddings.fit_bins(x.cpu().numpy())

    def fold_output_scale(self, scale: float, shift: float) -> None:
        """Make every member's output `scale * output + shift` (a regression target's units).

        The ensemble mean of regression outputs is linear, so folding the scale into the
        heads changes the units of the prediction and nothing else.
        """
        with torch.no_grad():
            self.head.weight.mul_(scale)
            self.head.bias.mul_(scale).add_(shift)


def ensemble_mean(outputs: torch.Tensor, output_kind: str) -> torch.Tensor:
    """[B, k, o] member outputs -> [B, o]: log of the mean probability, or the mean value."""
    if output_kind == "logits":
        log_probabilities = torch.log_softmax(outputs, dim=-1)  # [B, k, o]
        return torch.logsumexp(log_probabilities, dim=1) - math.log(outputs.shape[1])
    return outputs.mean(dim=1)


def ensemble_loss(
    outputs: torch.Tensor,
    target: torch.Tensor,
    output_kind: str,
    label_smoothing: float = 0.0,
    class_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """The mean of the k members' losses. outputs [B, k, o]; target [B] (class) or [B, o];
    `class_weights` [o] weigh each class's rows (cross-entropy's `weight`)."""
    k = outputs.shape[1]
    if output_kind == "logits":
        return nn.functional.cross_entropy(
            outputs.flatten(0, 1),  # [B * k, o]
            target.repeat_interleave(k),  # [B * k]
            weight=class_weights,
            label_smoothing=label_smoothing,
        )
    target = target.reshape(outputs.shape[0], 1, -1)  # [B, 1, o]
    return nn.functional.mse_loss(outputs, target.expand_as(outputs))


def parameter_groups(model: TabM) -> dict[str, list[nn.Parameter]]:
    """Parameters by role, so a loop can give each its own lr factor and weight decay.

    "weights": shared and head matrices (decayed); "embeddings": numeric and categorical
    embeddings; "scales": front scale, member scalings and activation weights;
    "biases": everything one-dimensional that is not a scale.
    """
    groups: dict[str, list[nn.Parameter]] = {
        "weights": [],
        "embeddings": [],
        "scales": [],
        "biases": [],
    }
    activation_weights = {
        id(module.weight) for module in model.modules() if isinstance(module, ParametricActivation)
    }
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if name.startswith(("numeric_embeddings.", "categorical.")):
            groups["embeddings"].append(parameter)
        elif (
            name in ("scale", "member_scale")
            or name.endswith((".r", ".s"))
            or id(parameter) in activation_weights
        ):
            groups["scales"].append(parameter)
        elif name.endswith("bias"):
            groups["biases"].append(parameter)
        else:
            groups["weights"].append(parameter)
    return groups


class EnsembleLoss(nn.Module):
    """The mean of the k members' losses (`ensemble_loss`), as a loss module for the loop."""

    class_weights: torch.Tensor | None

    def __init__(
        self,
        output_kind: str,
        label_smoothing: float = 0.0,
        class_weights: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.output_kind = output_kind
        self.label_smoothing = label_smoothing
        self.register_buffer("class_weights", class_weights)  # moves with the loss's device

    def forward(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # outputs: [B, k, o] (training mode); target: [B] class indices or [B, o] values
        return ensemble_loss(
            outputs, target, self.output_kind, self.label_smoothing, self.class_weights
        )


class OneInputTabM(nn.Module):
    """A TabM network fed one encoded block; the absent block is empty (width 0)."""

    def __init__(self, network: nn.Module, numeric_input: bool) -> None:
        super().__init__()
        self.network = network
        self.numeric_input = numeric_input

    def forward(self, block: torch.Tensor) -> torch.Tensor:
        # block: [B, n_numeric] float32 or [B, n_categorical] int64 -> [B, outputs]
        if self.numeric_input:
            numeric_outputs: torch.Tensor = self.network(
                block, block.new_zeros((block.shape[0], 0), dtype=torch.int64)
            )
            return numeric_outputs
        outputs: torch.Tensor = self.network(block.new_zeros((block.shape[0], 0)).float(), block)
        return outputs


def temperature_for(logits: torch.Tensor, target: torch.Tensor, accuracy: float) -> float:
    """The temperature fitted on (logits, target) (`fit_temperature`), or 1 when they hold no
    errors: then log loss falls as T -> 0, the "best" temperature is just the search's lower
    bound, and it ruins the log loss on unseen rows (penguins: test log loss 0.25 at T = 0.05
    vs 0.10 at T = 1)."""
    return 1.0 if accuracy >= 1.0 else fit_temperature(logits, target)


def fit_temperature(logits: torch.Tensor, target: torch.Tensor) -> float:
    """The T in softmax(logits / T) that minimises log loss on (logits, target): temperature
    scaling after training undoes label smoothing's under-confidence (accuracy unchanged).

    Golden-section search over log T in [-3, 3]; the loss is convex in 1/T.
    """

    def loss(log_t: float) -> float:
        scaled = logits / math.exp(log_t)
        return torch.nn.functional.cross_entropy(scaled, target).item()

    low, high = -3.0, 3.0
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    loss_a, loss_b = loss(a), loss(b)
    for _ in range(40):
        if loss_a < loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - ratio * (high - low)
            loss_a = loss(a)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + ratio * (high - low)
            loss_b = loss(b)
    return math.exp((low + high) / 2)
