"""The MLP's NumPy forward pass (predict and evaluate without torch) against the torch MLP."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nncli.artifacts import save_model_file
from nncli.errors import ModelFileError
from nncli.models.feedforward import MLP, MLPConfig
from nncli.models.numpy_mlp import ACTIVATIONS, NumpyMLP, supports


def trained_looking_mlp(activation: str, batch_norm: bool, dropout: float) -> MLP:
    """An MLP with two categorical columns, random weights and (with batch norm) running
    statistics far from the initial 0/1, in eval mode."""
    torch.manual_seed(0)
    config = MLPConfig(
        n_numeric=5,
        n_outputs=3,
        categorical_cardinalities=[4, 7],
        embedding_dims=[3, 2],
        hidden_sizes=[16, 8],
        activation=activation,
        dropout=dropout,
        batch_norm=batch_norm,
    )
    network = MLP(config)
    for name, buffer in network.named_buffers():
        if name.endswith("running_mean"):
            buffer.copy_(torch.randn_like(buffer))
        elif name.endswith("running_var"):
            buffer.copy_(torch.rand_like(buffer) * 3 + 0.1)
    return network.eval()


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize(("batch_norm", "dropout"), [(False, 0.1), (True, 0.0), (True, 0.3)])
def test_numpy_forward_equals_torch(activation: str, batch_norm: bool, dropout: float) -> None:
    network = trained_looking_mlp(activation, batch_norm, dropout)
    rng = np.random.default_rng(1)
    numeric = (rng.normal(size=(300, 5)) * 3).astype(np.float32)
    categorical = np.stack([rng.integers(0, 4, 300), rng.integers(0, 7, 300)], axis=1)
    with torch.no_grad():
        expected = network(torch.from_numpy(numeric), torch.from_numpy(categorical)).numpy()
    arrays = {name: t.numpy() for name, t in network.state_dict().items()}
    got = NumpyMLP(network.config.to_dict(), arrays)(numeric, categorical)
    assert got.dtype == np.float32 and got.shape == (300, 3)
    assert np.abs(got - expected).max() < 1e-5


def test_numpy_forward_chunks_large_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    import nncli.models.numpy_mlp as numpy_mlp

    network = trained_looking_mlp("relu", False, 0.0)
    arrays = {name: t.numpy() for name, t in network.state_dict().items()}
    forward = NumpyMLP(network.config.to_dict(), arrays)
    numeric = np.random.default_rng(2).normal(size=(50, 5)).astype(np.float32)
    categorical = np.zeros((50, 2), dtype=np.int64)
    whole = forward(numeric, categorical)
    monkeypatch.setattr(numpy_mlp, "ROWS_PER_CHUNK", 7)
    # BLAS blocks a smaller matrix differently: the same numbers to float32 rounding
    assert np.allclose(forward(numeric, categorical), whole, rtol=1e-6, atol=1e-7)
    assert forward(numeric[:0], categorical[:0]).shape == (0, 3)


def test_only_plain_mlps_with_numpy_activations_run_without_torch() -> None:
    fields = trained_looking_mlp("relu", False, 0.1).config.to_dict()
    assert supports({"architecture": {"name": "mlp", **fields}})
    assert supports({"architecture": {**fields, "activation": "tanh"}})  # before 'name'
    assert not supports({"architecture": {"name": "mlp", **fields, "activation": "gelu"}})
    assert not supports({"architecture": {"name": "mlp", **fields, "residual": True}})
    partial = {k: v for k, v in fields.items() if k != "dropout"}  # torch's default applies
    assert not supports({"architecture": {"name": "mlp", **partial}})
    assert not supports({"architecture": {"name": "tabm"}})
    assert not supports({"architecture": {"name": "rbf"}})
    assert not supports({"architecture": "mlp"}) and not supports({})


def test_weights_that_do_not_fit_are_refused_by_name() -> None:
    network = trained_looking_mlp("relu", True, 0.0)
    arrays = {name: t.numpy() for name, t in network.state_dict().items()}
    config = network.config.to_dict()
    with pytest.raises(ValueError, match=r"first difference: 'layers\.1\.running_var'"):
        NumpyMLP(config, {k: v for k, v in arrays.items() if k != "layers.1.running_var"})
    wider = {**arrays, "layers.0.bias": np.zeros(17, dtype=np.float32)}
    with pytest.raises(ValueError, match=r"first difference: 'layers\.0\.bias'"):
        NumpyMLP(config, wider)


def test_a_model_file_whose_weights_disagree_is_exit_4_without_torch(tmp_path: Path) -> None:
    """The NumPy loader keeps the model-file contract: one ModelFileError, no traceback. A
    real MLP file (main at 51c24c7) whose every value checks out, one weight resized."""
    from safetensors.torch import load_file

    from nncli.artifacts import read_metadata
    from nncli.tabular.model import load_tabular_model

    original = Path(__file__).resolve().parents[1] / "fixtures" / "main-51c24c7" / "penguins.nncli"
    metadata = read_metadata(original)[0]
    state = load_file(str(original))
    first_bias = next(name for name in state if name.endswith("layers.0.bias"))
    state[first_bias] = torch.zeros(17)
    path = tmp_path / "bad.nncli"
    kept = {k: v for k, v in metadata.items() if "digest" not in k and k != "model_id"}
    save_model_file(path, state, kept)
    with pytest.raises(ModelFileError, match="does not match its weights"):
        load_tabular_model(path, without_torch=True)
