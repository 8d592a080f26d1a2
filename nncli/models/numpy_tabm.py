"""The default tabular network's (TabM's) eval-mode forward pass in NumPy: `nncli predict`
and `evaluate` of a TabM model without importing torch, as `numpy_mlp` does for the MLP.

It reads the same weights, by the same names, as `nncli.models.tabm.TabM` in eval mode:
robust scaling, numeric embeddings (piecewise-linear, pbld or plr) or raw numbers, one-hot and
embedded categoricals, the front scale, TabM-mini's member scaling, the shared MLP, the k
heads, then the ensemble mean (log of the mean probability, over the temperature; or the
mean value).
tests/unit/test_numpy_tabm.py holds it to the torch network within 1e-5. Other TabM settings
(BatchEnsemble layers, parametric activations, gelu) run in torch (`supports`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nncli.artifacts import check_weight_shapes
from nncli.data.robust_scaling import smooth_clip
from nncli.models.numpy_mlp import ACTIVATIONS

if TYPE_CHECKING:
    import numpy as np

ROWS_PER_CHUNK = 8192  # k members x the widest layer per row: bounds the activations' memory

# TabMConfig's fields: a file with fewer or more (another version's TabM) runs in torch.
TABM_FIELDS = frozenset(
    {"n_numeric", "n_outputs", "output_kind", "categorical_cardinalities", "max_one_hot"}
    | {"categorical_embedding_dim", "numeric_embedding", "n_frequencies", "frequency_sigma"}
    | {"numeric_embedding_dim", "front_scale", "robust_scaling", "hidden_sizes", "activation"}
    | {"parametric_activation", "dropout", "k", "ensemble", "ensemble_init", "temperature"}
    | {"n_bins"}
)
# Fields later versions added, with the value files written before them mean.
ADDED_FIELDS = {"n_bins": 48}


def supports(metadata: Mapping[str, Any]) -> bool:
    """Whether a model file's network can run here: a TabM-mini (or k = 1) with plain
    activations NumPy computes."""
    architecture = metadata.get("architecture")
    return (
        isinstance(architecture, dict)
        and architecture.get("name") == "tabm"
        and TABM_FIELDS - set(ADDED_FIELDS) <= set(architecture) - {"name"} <= TABM_FIELDS
        and architecture["activation"] in ACTIVATIONS
        and not architecture["parametric_activation"]
        and (architecture["ensemble"] == "mini" or int(architecture["k"]) == 1)
    )


def tabm_shapes(architecture: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """The state dict `TabM(TabMConfig(**architecture))` has: every tensor's name and shape."""
    n_numeric, k = int(architecture["n_numeric"]), int(architecture["k"])
    kind = str(architecture["numeric_embedding"])
    frequencies, dim = (
        int(architecture["n_frequencies"]),
        int(architecture["numeric_embedding_dim"]),
    )
    shapes: dict[str, tuple[int, ...]] = {}
    width = n_numeric
    if architecture["robust_scaling"] and n_numeric > 0:
        shapes |= {f"robust_{name}": (n_numeric,) for name in ("centre", "scale", "clip_mask")}
    if kind == "ple" and n_numeric > 0:
        bins = int(architecture.get("n_bins", ADDED_FIELDS["n_bins"]))
        shapes |= {
            "numeric_embeddings.linear_weight": (n_numeric, dim),
            "numeric_embeddings.linear_bias": (n_numeric, dim),
            "numeric_embeddings.weight": (n_numeric, bins, dim),
            "numeric_embeddings.edge_weight": (n_numeric, bins),
            "numeric_embeddings.edge_bias": (n_numeric, bins),
            "numeric_embeddings.single_bin": (n_numeric, 1),
        }
        width = n_numeric * dim
    elif kind != "none" and n_numeric > 0:
        drawn = frequencies if kind == "pbld" else frequencies // 2
        d_out = dim - 1 if kind == "pbld" else dim
        d_periodic = frequencies if kind == "pbld" else 2 * drawn
        shapes |= {
            "numeric_embeddings.frequencies": (n_numeric, drawn),
            "numeric_embeddings.phases": (n_numeric, drawn),
            "numeric_embeddings.weight": (n_numeric, d_periodic, d_out),
            "numeric_embeddings.bias": (n_numeric, 1, d_out),
        }
        width = n_numeric * dim
    cardinalities = [int(c) for c in architecture["categorical_cardinalities"]]
    max_one_hot, embedding_dim = (
        int(architecture["max_one_hot"]),
        int(architecture["categorical_embedding_dim"]),
    )
    large = [c for c in cardinalities if c > max_one_hot]
    for index, cardinality in enumerate(large):
        shapes[f"categorical.embeddings.{index}.weight"] = (cardinality, embedding_dim)
    width += sum(c for c in cardinalities if c <= max_one_hot) + len(large) * embedding_dim
    if architecture["front_scale"]:
        shapes["scale"] = (width,)
    if architecture["ensemble"] == "mini" and k > 1:
        shapes["member_scale"] = (k, width)
    for index, hidden in enumerate(int(h) for h in architecture["hidden_sizes"]):
        shapes |= {f"blocks.{index}.0.weight": (hidden, width), f"blocks.{index}.0.bias": (hidden,)}
        width = hidden
    outputs = int(architecture["n_outputs"])
    return shapes | {"head.weight": (k, width, outputs), "head.bias": (k, outputs)}


class NumpyTabM:
    """A TabM's eval-mode forward pass over NumPy arrays; raises ValueError (as torch's
    loader does) when the weights do not match the architecture."""

    def __init__(self, architecture: Mapping[str, Any], tensors: Mapping[str, np.ndarray]) -> None:
        import numpy as np

        check_weight_shapes(tabm_shapes(architecture), tensors)
        self.weights = {name: np.asarray(a, dtype=np.float32) for name, a in tensors.items()}
        self.activation = ACTIVATIONS[str(architecture["activation"])]
        self.kind = str(architecture["numeric_embedding"])
        self.logits = architecture["output_kind"] == "logits"
        self.temperature = float(architecture["temperature"])
        self.n_blocks = len(architecture["hidden_sizes"])
        cardinalities = [int(c) for c in architecture["categorical_cardinalities"]]
        max_one_hot = int(architecture["max_one_hot"])
        self.one_hot = [(i, c) for i, c in enumerate(cardinalities) if c <= max_one_hot]
        self.embedded = [i for i, c in enumerate(cardinalities) if c > max_one_hot]

    def __call__(self, numeric: np.ndarray, categorical: np.ndarray | None = None) -> np.ndarray:
        """Eval-mode outputs [rows, n_outputs] (float32), as TabM.forward gives them."""
        import numpy as np

        chunks = [
            self._forward(
                numeric[start : start + ROWS_PER_CHUNK],
                None if categorical is None else categorical[start : start + ROWS_PER_CHUNK],
            )
            for start in range(0, len(numeric), ROWS_PER_CHUNK)
        ]
        width = self.weights["head.bias"].shape[1]
        return np.concatenate(chunks) if chunks else np.zeros((0, width), dtype=np.float32)

    def _inputs(self, numeric: np.ndarray, categorical: np.ndarray | None) -> np.ndarray:
        """The first layer's input [B, D]: embedded numbers, then one-hots, then embeddings."""
        import numpy as np

        w = self.weights
        x = np.asarray(numeric, dtype=np.float32)
        if "robust_centre" in w:  # median/IQR scaling and smooth clip, as TabM.robust_inputs
            scaled = (x - w["robust_centre"]) * w["robust_scale"]
            clipped = smooth_clip(scaled)
            mask = w["robust_clip_mask"]
            x = clipped * mask + scaled * (1 - mask)
        parts = []
        if x.shape[1] and self.kind == "ple":
            parts.append(self._piecewise_linear(x))
        elif x.shape[1] and self.kind != "none":
            angles = np.float32(2 * math.pi) * x[:, :, None] * w["numeric_embeddings.frequencies"]
            if self.kind == "pbld":
                periodic = np.cos(angles + w["numeric_embeddings.phases"])
            else:
                periodic = np.concatenate([np.cos(angles), np.sin(angles)], axis=-1)
            mapped = np.einsum("bnf,nfd->bnd", periodic, w["numeric_embeddings.weight"])
            mapped = mapped + w["numeric_embeddings.bias"][:, 0, :]
            if self.kind == "plr":
                mapped = np.maximum(mapped, np.float32(0))
            else:
                mapped = np.concatenate([mapped, x[:, :, None]], axis=-1)
            parts.append(mapped.reshape(len(x), -1))
        elif x.shape[1]:
            parts.append(x)
        codes = np.zeros((len(x), 0), dtype=np.int64) if categorical is None else categorical
        for column, cardinality in self.one_hot:
            parts.append((codes[:, column, None] == np.arange(cardinality)).astype(np.float32))
        for index, column in enumerate(self.embedded):
            parts.append(w[f"categorical.embeddings.{index}.weight"][codes[:, column]])
        return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]

    def _piecewise_linear(self, x: np.ndarray) -> np.ndarray:
        """[B, n] -> [B, n * d], as `PiecewiseLinearEmbeddings.forward`."""
        import numpy as np

        w = {k.removeprefix("numeric_embeddings."): v for k, v in self.weights.items()}
        column = x[:, :, None]
        linear = column * w["linear_weight"] + w["linear_bias"]
        encoded = column * w["edge_weight"] + w["edge_bias"]  # [B, n, T]
        single = w["single_bin"]
        last = encoded[..., -1:]
        last = single * last + (1 - single) * np.maximum(last, np.float32(0))
        encoded = np.concatenate(
            [np.minimum(encoded[..., :1], 1), np.clip(encoded[..., 1:-1], 0, 1), last], axis=-1
        )
        bends = np.einsum("bnt,ntd->bnd", encoded, w["weight"])
        result: np.ndarray = (linear + bends).reshape(len(x), -1)
        return result

    def _forward(self, numeric: np.ndarray, categorical: np.ndarray | None) -> np.ndarray:
        import numpy as np

        w = self.weights
        x = self._inputs(numeric, categorical)
        if "scale" in w:
            x = x * w["scale"]
        k = w["head.bias"].shape[0]
        members = np.broadcast_to(x[:, None, :], (len(x), k, x.shape[1]))  # [B, k, D]
        if "member_scale" in w:
            members = members * w["member_scale"]
        for index in range(self.n_blocks):
            weight, bias = w[f"blocks.{index}.0.weight"], w[f"blocks.{index}.0.bias"]
            members = self.activation(members @ weight.T + bias)
        outputs = np.einsum("bkd,kdo->bko", members, w["head.weight"]) + w["head.bias"]
        if not self.logits:
            values: np.ndarray = outputs.mean(axis=1).astype(np.float32)
            return values
        # log of the mean probability over members, as `ensemble_mean`, then the temperature
        shifted = outputs - outputs.max(axis=2, keepdims=True)
        log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
        top = log_probabilities.max(axis=1, keepdims=True)
        mean = np.log(np.exp(log_probabilities - top).sum(axis=1)) + top[:, 0] - math.log(k)
        logits: np.ndarray = (mean / np.float32(self.temperature)).astype(np.float32)
        return logits
