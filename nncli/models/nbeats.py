"""N-BEATS / N-HITS-style forecaster: stacks of residual MLP blocks with backcast and
forecast heads, multi-rate input pooling and interpolated forecasts (N-HITS), per-window
normalisation (RevIN-style), and quantile outputs [B, H, Q] like `SequenceForecaster`.

Reads the same inputs as the other sequence forecasters: windows [B, L, F] of per-step
transformed values (feature 0 is the target's step, e.g. a scaled log return; the others
are covariates) and predicts the cumulative change from the origin for each horizon step.
Inside, the steps are integrated into the window's path relative to its origin
(x_j = -(s_{j+1} + ... + s_L), so x_L = 0), divided by the window's own scale (the mean
absolute step), passed through the blocks, and the forecast is scaled back: one global
network serves series of any level and volatility, and "no change" is the zero output.

Ideas and structure taken from Nixtla's neuralforecast (Apache-2.0): `models/nbeats.py`
(`NBEATSBlock`, identity basis), `models/nhits.py` (`NHITSBlock`: MaxPool1d input pooling
with `ceil_mode`, forecast knots `max(h // n_freq_downsample, 1)` linearly interpolated to
h, the "level with Naive1" start of the forecast sum, residuals on the flipped input), and
`common/_scalers.py` (`TemporalNorm`: statistics per window, inverse on the output). Our
code is new: the interpolation is a fixed matrix (a buffer), not `F.interpolate`, and the
scale is a plain per-window statistic, so `forward` has no data-dependent Python control
flow and exports to ONNX opset 17 and TorchScript.

References: Oreshkin et al., N-BEATS (ICLR 2020); Challu et al., N-HITS (AAAI 2023);
Kim et al., RevIN (ICLR 2022).
"""

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass
class NBeatsConfig:
    """Everything needed to rebuild the network; saved in the model file.

    `pool_sizes` and `downsample` have one entry per stack (N-HITS: coarse stacks first);
    all ones gives plain N-BEATS (generic basis). `anchor` is the forecast the blocks
    correct: "naive" (no change, as N-HITS starts from the last value) or "seasonal" (the
    value one season before each step, read from the window); choose "seasonal" when
    seasonal naive beats naive on the training data (`statistical.prefers_seasonal_naive`).
    `shrink` is not here: it is a buffer set after training (`set_shrink`, with the weight
    that `nncli.forecasting.statistical.choose_shrink` picks on validation), saved with the
    weights. The defaults are the ones `benchmarks/forecast_accuracy.py` measured.
    """

    n_features: int
    lookback: int
    horizon: int
    quantiles: list[float] = field(default_factory=lambda: [0.1, 0.5, 0.9])
    hidden_size: int = 128
    num_layers: int = 2  # hidden layers per block
    blocks_per_stack: int = 1
    pool_sizes: list[int] = field(default_factory=lambda: [4, 2, 1])
    downsample: list[int] = field(default_factory=lambda: [4, 2, 1])
    dropout: float = 0.0
    eps: float = 1e-6
    season: int = 1
    anchor: str = "naive"  # "naive" or "seasonal": where the forecast sum starts
    arch: str = "nbeats"

    def __post_init__(self) -> None:
        if len(self.pool_sizes) != len(self.downsample):
            raise ValueError("pool_sizes and downsample need one entry per stack")
        if 0.5 not in self.quantiles:
            raise ValueError("the quantiles must include the median 0.5")
        if self.lookback < 2 or self.horizon < 1:
            raise ValueError("lookback must be at least 2 and horizon at least 1")
        if self.anchor not in ("naive", "seasonal"):
            raise ValueError("anchor must be 'naive' or 'seasonal'")
        if self.anchor == "seasonal" and not 1 < self.season <= self.lookback:
            raise ValueError("a seasonal anchor needs 1 < season <= lookback")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def interpolation_matrix(knots: int, length: int) -> torch.Tensor:
    """[knots, length] weights of linear interpolation with aligned corners at the ends
    (what `F.interpolate(mode="linear", align_corners=True)` computes), as a fixed matrix.

    Computed in NumPy: loading a model builds its network on torch's meta device first (the
    shape check), where these tensor ops would import torch._dynamo (~1 s per predict)."""
    import numpy as np

    if knots == 1:
        return torch.ones(1, length, device="cpu")
    position = np.linspace(0, knots - 1, length, dtype=np.float32)  # where each step falls
    left = np.minimum(np.floor(position), knots - 2).astype(np.int64)
    fraction = position - left
    weights = np.zeros((knots, length), dtype=np.float32)
    columns = np.arange(length)
    weights[left, columns] = 1 - fraction
    weights[left + 1, columns] += fraction
    return torch.from_numpy(weights)


def anchor_positions(config: NBeatsConfig) -> torch.Tensor:
    """[H] positions in the window's path (origin at L - 1) of each step's anchor value:
    L - m + (k mod m) for the seasonal anchor (the same step one season earlier), L - 1
    (the origin itself, a zero change) for the naive one."""
    steps = torch.arange(config.horizon, device="cpu")  # on CPU also under meta: see above
    if config.anchor == "seasonal":
        return config.lookback - config.season + steps % config.season
    return torch.full((config.horizon,), config.lookback - 1, device="cpu")


class NHitsBlock(nn.Module):
    """Pooled residual [B, L] (+ covariates) -> MLP -> backcast [B, L], forecast [B, H, Q]."""

    interpolate: torch.Tensor  # a buffer (real annotations here: TorchScript reads them)

    def __init__(self, config: NBeatsConfig, pool: int, downsample: int) -> None:
        super().__init__()
        lookback, horizon = config.lookback, config.horizon
        self.n_quantiles = len(config.quantiles)
        self.knots = max(horizon // downsample, 1)
        pooled = -(-lookback // pool)  # ceil: MaxPool1d with ceil_mode keeps the remainder
        covariate_inputs = (config.n_features - 1) * pooled
        self.pool = nn.MaxPool1d(kernel_size=pool, stride=pool, ceil_mode=True)
        layers: list[nn.Module] = []
        width = pooled + covariate_inputs
        for _ in range(config.num_layers):
            layers += [nn.Linear(width, config.hidden_size), nn.ReLU()]
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            width = config.hidden_size
        self.mlp = nn.Sequential(*layers)
        self.backcast = nn.Linear(width, lookback)
        self.forecast = nn.Linear(width, self.knots * self.n_quantiles)
        self.has_covariates = config.n_features > 1  # fixed per model: no data-dependent branch
        self.register_buffer("interpolate", interpolation_matrix(self.knots, horizon))  # [K, H]

    def forward(
        self, residual: torch.Tensor, covariates: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # residual: [B, L]; covariates: [B, L, F-1] (F-1 may be 0)
        inputs = self.pool(residual.unsqueeze(1)).squeeze(1)  # [B, ceil(L/pool)]
        if self.has_covariates:
            extra = self.pool(covariates.transpose(1, 2)).flatten(1)  # [B, (F-1)*ceil(L/pool)]
            inputs = torch.cat([inputs, extra], dim=1)
        hidden = self.mlp(inputs)  # [B, hidden]
        knots = self.forecast(hidden).view(-1, self.n_quantiles, self.knots)  # [B, Q, K]
        forecast = torch.matmul(knots, self.interpolate).transpose(1, 2)  # [B, H, Q]
        return self.backcast(hidden), forecast


class NBeatsForecaster(nn.Module):
    """[B, lookback, features] of per-step values -> [B, horizon, quantiles] cumulative
    changes from the origin, in the units of the input steps."""

    shrink: torch.Tensor  # buffers, see __init__
    anchor_index: torch.Tensor

    def __init__(self, config: NBeatsConfig) -> None:
        super().__init__()
        self.config = config
        # Plain attributes, so that TorchScript need not read the dataclass.
        self.median = config.quantiles.index(0.5)
        self.horizon = config.horizon
        self.n_quantiles = len(config.quantiles)
        self.eps = config.eps
        self.blocks = nn.ModuleList(
            NHitsBlock(config, pool, downsample)
            for pool, downsample in zip(config.pool_sizes, config.downsample, strict=True)
            for _ in range(config.blocks_per_stack)
        )
        # Buffers, saved with the weights. `shrink` [1]: 1 keeps the network's median, 0 gives
        # the anchor's. `anchor_index` [H]: the path position each step's anchor is read from
        # (the origin, where the path is 0, for the naive anchor).
        self.register_buffer("shrink", torch.ones(1, device="cpu"))
        self.register_buffer("anchor_index", anchor_positions(config))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        # windows: [B, L, F]
        steps = windows[:, :, 0]  # [B, L]
        covariates = windows[:, :, 1:]  # [B, L, F-1]
        # The path relative to the origin: x_j = s_j - sum_{i>=j} s_i, so x_L = 0.
        path = steps - steps.flip(1).cumsum(1).flip(1)  # [B, L]
        scale = steps.abs().mean(dim=1, keepdim=True) + self.eps  # [B, 1]
        residual = (path / scale).flip(1)  # [B, L], newest first as in N-HITS
        anchor = path[:, self.anchor_index].unsqueeze(-1)  # [B, H, 1]: naive or seasonal naive
        # [B, H, Q]: the blocks correct the anchor (N-HITS starts from the last value).
        forecast = (anchor / scale.unsqueeze(-1)).expand(-1, -1, self.n_quantiles)
        for block in self.blocks:
            backcast, block_forecast = block(residual, covariates)
            residual = residual - backcast
            forecast = forecast + block_forecast
        forecast = forecast * scale.unsqueeze(-1)  # back to the units of the steps
        # Shrink the median toward the anchor and move the other quantiles with it.
        median = forecast[:, :, self.median : self.median + 1]  # [B, H, 1]
        return forecast - (1 - self.shrink) * (median - anchor)

    def set_shrink(self, value: float) -> None:
        """Fix the weight of the network's median (1: as trained, 0: the anchor's forecast)."""
        self.shrink.fill_(float(value))


class WindowNormalised(nn.Module):
    """Per-window normalisation for any [B, L, F] -> [B, H, Q] forecaster of cumulative
    changes (the recurrent and TCN `SequenceForecaster`s): the target's steps are divided by
    the window's mean absolute step, and the outputs multiplied back by it."""

    def __init__(self, inner: nn.Module, eps: float = 1e-6) -> None:
        super().__init__()
        self.inner = inner
        self.eps = eps

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        # windows: [B, L, F]
        scale = windows[:, :, 0].abs().mean(dim=1, keepdim=True) + self.eps  # [B, 1]
        scaled = torch.cat([windows[:, :, :1] / scale.unsqueeze(-1), windows[:, :, 1:]], dim=2)
        outputs: torch.Tensor = self.inner(scaled)  # [B, H, Q]
        return outputs * scale.unsqueeze(-1)
