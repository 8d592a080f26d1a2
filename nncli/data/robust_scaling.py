"""Robust numeric scaling fitted on the training split: median-centre, IQR scale, smooth clip.

RealMLP's numeric preprocessing (Holzmüller et al., "Better by Default", 2024; pytabkit's
`MedianCenterFactory`, `RobustScaleFactory` and `smooth_clip_func`):

    z = (x - median) / IQR                    IQR = q75 - q25
    IQR == 0  ->  IQR = (max - min) / 2        a mostly-constant column keeps its outliers
    max == min ->  scale 0                     a constant column becomes all zeros
    out = z / sqrt(1 + (z / 3) ** 2)           smooth clip: ~z near 0, bounded by ±3

Unlike mean/std standardisation, a handful of huge values (prices, counts, incomes) neither
squash the bulk of the column to ~0 nor produce inputs of 50 that saturate the network.
Missing values are imputed with the median, i.e. 0 after centring (the preprocessor's
missing-value indicator column carries the fact that a value was missing).

The fitted spec is plain numbers (`to_dict` / `from_dict`), stored in the model file like the
`Preprocessor`; pure numpy, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# RealMLP's smooth-clip bound: values are squashed smoothly towards ±3.
SMOOTH_CLIP_BOUND = 3.0


@dataclass
class RobustColumn:
    """How one numeric column is centred and scaled."""

    name: str
    median: float
    scale: float  # multiply after centring; 0 for a constant column


@dataclass
class RobustScaler:
    """The fitted robust scaling of the numeric columns, in column order."""

    columns: list[RobustColumn] = field(default_factory=list)
    smooth_clip: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [
                {"name": c.name, "median": c.median, "scale": c.scale} for c in self.columns
            ],
            "smooth_clip": self.smooth_clip,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RobustScaler:
        """Rebuild from a model file; wrong types raise TypeError or ValueError."""
        columns = []
        for column in data["columns"]:
            median, scale = float(column["median"]), float(column["scale"])
            if not (np.isfinite(median) and np.isfinite(scale)):
                raise ValueError(f"robust scaling of {column['name']!r} is not finite")
            columns.append(RobustColumn(str(column["name"]), median, scale))
        smooth_clip = data.get("smooth_clip", True)
        if not isinstance(smooth_clip, bool):
            raise TypeError("smooth_clip must be true or false")
        return cls(columns=columns, smooth_clip=smooth_clip)


def smooth_clip(values: np.ndarray, bound: float = SMOOTH_CLIP_BOUND) -> np.ndarray:
    """`x / sqrt(1 + (x / bound)^2)`: the identity near 0, bounded by ±bound."""
    return values / np.sqrt(1.0 + np.square(values / bound))


def fit_robust_scaler(
    values: np.ndarray, names: list[str] | None = None, *, smooth_clip: bool = True
) -> RobustScaler:
    """Fit median and IQR scale per column of `values` ([rows, columns], NaN = missing)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"expected a [rows, columns] array, got shape {values.shape}")
    names = names if names is not None else [f"x{i}" for i in range(values.shape[1])]
    if len(names) != values.shape[1]:
        raise ValueError(f"{len(names)} names for {values.shape[1]} columns")
    columns = []
    for index, name in enumerate(names):
        column = values[:, index]
        present = column[~np.isnan(column)]
        if present.size == 0:
            columns.append(RobustColumn(name, 0.0, 0.0))
            continue
        q25, median, q75 = np.quantile(present, [0.25, 0.5, 0.75])
        spread = float(q75 - q25)
        if spread <= 0.0:
            spread = 0.5 * float(present.max() - present.min())
        scale = 1.0 / spread if spread > 0.0 and np.isfinite(spread) else 0.0
        columns.append(RobustColumn(name, float(median), float(scale)))
    return RobustScaler(columns=columns, smooth_clip=smooth_clip)


def apply_robust_scaler(scaler: RobustScaler, values: np.ndarray) -> np.ndarray:
    """Centre, scale and (optionally) smooth-clip; missing values become 0. float32 out."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(scaler.columns):
        raise ValueError(f"expected [rows, {len(scaler.columns)}] values, got shape {values.shape}")
    medians = np.array([c.median for c in scaler.columns], dtype=np.float64)  # [columns]
    scales = np.array([c.scale for c in scaler.columns], dtype=np.float64)  # [columns]
    scaled = (values - medians) * scales  # [rows, columns]
    scaled = np.where(np.isnan(scaled), 0.0, scaled)
    if scaler.smooth_clip:
        scaled = smooth_clip(scaled)
    return scaled.astype(np.float32)
