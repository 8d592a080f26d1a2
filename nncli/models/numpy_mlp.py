"""The tabular MLP's forward pass in NumPy: `nncli predict` and `evaluate` of a plain MLP
without importing torch (importing torch is most of a small prediction's time).

It reads the same weights, by the same names, as `nncli.models.feedforward.MLP` in eval
mode (dropout off, batch norm from its running statistics) and computes in float32;
tests/unit/test_numpy_mlp.py holds it to the torch network within 1e-5 for every activation
it takes. Architectures or activations it does not take run in torch (`supports`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nncli.artifacts import check_weight_shapes

if TYPE_CHECKING:
    import numpy as np

BATCH_NORM_EPS = 1e-5  # torch.nn.BatchNorm1d's default, which MLP uses
LEAKY_SLOPE = 0.01  # torch.nn.LeakyReLU's default
ROWS_PER_CHUNK = 65_536  # bounds the hidden activations' memory on large files


def _relu(x: np.ndarray) -> np.ndarray:
    import numpy as np

    out: np.ndarray = np.maximum(x, np.float32(0))
    return out


def _silu(x: np.ndarray) -> np.ndarray:
    import numpy as np

    with np.errstate(over="ignore"):  # exp(-x) overflows to inf for x << 0: silu -> 0
        out: np.ndarray = (x / (1 + np.exp(-x))).astype(np.float32)
    return out


def _tanh(x: np.ndarray) -> np.ndarray:
    import numpy as np

    out: np.ndarray = np.tanh(x)
    return out


def _leaky_relu(x: np.ndarray) -> np.ndarray:
    import numpy as np

    out: np.ndarray = np.where(x >= 0, x, np.float32(LEAKY_SLOPE) * x)
    return out


def _elu(x: np.ndarray) -> np.ndarray:
    import numpy as np

    out: np.ndarray = np.where(x > 0, x, np.expm1(np.minimum(x, np.float32(0))))
    return out


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": _relu,
    "silu": _silu,
    "tanh": _tanh,
    "leaky_relu": _leaky_relu,
    "elu": _elu,
}


# MLPConfig's fields: a file with fewer or more (another version's MLP) runs in torch.
MLP_FIELDS = frozenset(
    {"n_numeric", "n_outputs", "categorical_cardinalities", "embedding_dims", "hidden_sizes"}
    | {"activation", "dropout", "batch_norm"}
)


def supports(metadata: Mapping[str, Any]) -> bool:
    """Whether a model file's network can run here: an MLP with one of ACTIVATIONS."""
    architecture = metadata.get("architecture")
    return (
        isinstance(architecture, dict)
        and architecture.get("name", "mlp") == "mlp"
        and set(architecture) - {"name"} == MLP_FIELDS
        and architecture["activation"] in ACTIVATIONS
    )


@dataclass
class Layout:
    """Where MLP's weights sit in its state dict: every tensor's name and shape, and per
    hidden layer the names of its Linear and (with batch norm) its BatchNorm1d."""

    shapes: dict[str, tuple[int, ...]]
    hidden: list[tuple[str, str | None]]
    output: str


def mlp_layout(architecture: Mapping[str, Any]) -> Layout:
    """The state dict `MLP(MLPConfig(**architecture))` has, Sequential indices included:
    per hidden layer Linear, [BatchNorm1d], activation, [Dropout], then the output Linear."""
    cardinalities = [int(c) for c in architecture["categorical_cardinalities"]]
    dims = [int(d) for d in architecture["embedding_dims"]]
    widths = [int(architecture["n_numeric"]) + sum(dims)]
    widths += [int(h) for h in architecture["hidden_sizes"]]
    batch_norm = bool(architecture["batch_norm"])
    dropout = float(architecture["dropout"]) > 0
    shapes: dict[str, tuple[int, ...]] = {
        f"embeddings.{i}.weight": (cardinality, dim)
        for i, (cardinality, dim) in enumerate(zip(cardinalities, dims, strict=True))
    }
    hidden: list[tuple[str, str | None]] = []
    index = 0
    for width, size in itertools.pairwise(widths):
        linear, norm = f"layers.{index}", f"layers.{index + 1}" if batch_norm else None
        shapes |= {f"{linear}.weight": (size, width), f"{linear}.bias": (size,)}
        if norm is not None:
            shapes |= {f"{norm}.{n}": (size,) for n in ("weight", "bias", "running_mean")}
            shapes |= {f"{norm}.running_var": (size,), f"{norm}.num_batches_tracked": ()}
        hidden.append((linear, norm))
        index += 2 + int(batch_norm) + int(dropout)  # the activation and dropout hold no weights
    output = f"layers.{index}"
    outputs = int(architecture["n_outputs"])
    shapes |= {f"{output}.weight": (outputs, widths[-1]), f"{output}.bias": (outputs,)}
    return Layout(shapes, hidden, output)


class NumpyMLP:
    """An MLP's eval-mode forward pass over NumPy arrays; raises ValueError (as torch's
    loader does) when the weights do not match the architecture."""

    def __init__(self, architecture: Mapping[str, Any], tensors: Mapping[str, np.ndarray]) -> None:
        import numpy as np

        self.activation = ACTIVATIONS[str(architecture["activation"])]
        self.layout = layout = mlp_layout(architecture)
        check_weight_shapes(layout.shapes, tensors)
        self.weights = {
            name: np.asarray(array, dtype=np.float32)
            for name, array in tensors.items()
            if not name.endswith("num_batches_tracked")
        }
        count = len(architecture["embedding_dims"])
        self.embeddings = [self.weights[f"embeddings.{i}.weight"] for i in range(count)]

    def __call__(self, numeric: np.ndarray, categorical: np.ndarray | None = None) -> np.ndarray:
        """Raw outputs [rows, n_outputs] (float32), as MLP.forward gives them."""
        import numpy as np

        chunks = []
        for start in range(0, len(numeric), ROWS_PER_CHUNK):
            rows = slice(start, start + ROWS_PER_CHUNK)
            chunks.append(
                self._forward(numeric[rows], None if categorical is None else categorical[rows])
            )
        width = self.weights[f"{self.layout.output}.bias"].shape[0]
        return np.concatenate(chunks) if chunks else np.zeros((0, width), dtype=np.float32)

    def _forward(self, numeric: np.ndarray, categorical: np.ndarray | None) -> np.ndarray:
        import numpy as np

        w = self.weights
        parts = [np.asarray(numeric, dtype=np.float32)]
        if self.embeddings and categorical is not None:
            parts += [table[categorical[:, i]] for i, table in enumerate(self.embeddings)]
        x = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        for linear, norm in self.layout.hidden:
            x = x @ w[f"{linear}.weight"].T + w[f"{linear}.bias"]
            if norm is not None:
                scale = w[f"{norm}.weight"] / np.sqrt(w[f"{norm}.running_var"] + BATCH_NORM_EPS)
                x = (x - w[f"{norm}.running_mean"]) * scale + w[f"{norm}.bias"]
            x = self.activation(x)
        out: np.ndarray = x @ w[f"{self.layout.output}.weight"].T + w[f"{self.layout.output}.bias"]
        return out.astype(np.float32, copy=False)
