"""TabM's NumPy forward pass (predict and evaluate of the default network without torch)
against the torch TabM in eval mode."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest
import torch

from nncli.models.numpy_tabm import TABM_FIELDS, NumpyTabM, supports
from nncli.models.tabm import TabM, TabMConfig


def trained_looking_tabm(**settings: object) -> TabM:
    """A TabM with five numbers, a one-hot and an embedded categorical column, random weights
    moved away from their initial values, in eval mode."""
    torch.manual_seed(0)
    config = TabMConfig(
        **{
            "n_numeric": 5,
            "n_outputs": 3,
            "categorical_cardinalities": [4, 12],
            "hidden_sizes": [16, 8],
            "temperature": 0.7,
            **settings,
        }  # type: ignore[arg-type]
    )
    network = TabM(config)
    skewed = np.random.default_rng(3).lognormal(size=(200, config.n_numeric)) * 10
    if config.n_numeric:
        skewed[:, 0] = np.round(skewed[:, 0] / 10)  # few distinct values: merged quantiles
        skewed[:, -1] = skewed[:, -1] > 10  # a missing-value indicator: a single bin
    network.fit_inputs(skewed, [config.n_numeric - 1] if config.n_numeric else [])
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return network.eval()


CASES = [
    {"robust_scaling": True},  # the default network (as nncli train builds it)
    {},  # piecewise-linear embeddings, 8 members, a front scale
    {"numeric_embedding": "pbld", "numeric_embedding_dim": 4, "robust_scaling": True},
    {"output_kind": "values", "n_outputs": 1, "n_bins": 5, "numeric_embedding_dim": 3},
    {"numeric_embedding": "plr", "activation": "silu"},
    {"numeric_embedding": "none", "front_scale": False, "k": 1},
    {"output_kind": "values", "n_outputs": 1, "activation": "tanh"},
    {"categorical_cardinalities": [], "k": 16},
    {"n_numeric": 0, "activation": "elu", "robust_scaling": True},
    {"numeric_embedding": "none", "robust_scaling": True, "output_kind": "values", "n_outputs": 1},
]


@pytest.mark.parametrize("settings", CASES)
def test_numpy_forward_equals_torch(settings: dict[str, object]) -> None:
    network = trained_looking_tabm(**settings)
    config = network.config
    rng = np.random.default_rng(1)
    numeric = (rng.normal(size=(300, config.n_numeric)) * 3).astype(np.float32)
    categorical = np.stack(
        [rng.integers(0, c, 300) for c in config.categorical_cardinalities] or [np.zeros(300)],
        axis=1,
    ).astype(np.int64)[:, : len(config.categorical_cardinalities)]
    with torch.no_grad():
        expected = network(torch.from_numpy(numeric), torch.from_numpy(categorical)).numpy()
    architecture = {"name": "tabm", **config.to_dict()}
    assert supports({"architecture": architecture})
    arrays = {name: t.numpy() for name, t in network.state_dict().items()}
    got = NumpyTabM(architecture, arrays)(numeric, categorical)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-5
    assert NumpyTabM(architecture, arrays)(numeric[:0], categorical[:0]).shape[0] == 0


def test_the_fields_numpy_knows_are_tabms() -> None:
    """A new TabMConfig field must be taught to the NumPy pass (or it silently runs in torch)."""
    assert {f.name for f in fields(TabMConfig)} == TABM_FIELDS


def test_settings_numpy_does_not_compute_run_in_torch() -> None:
    base = {"name": "tabm", **TabMConfig(n_numeric=2, n_outputs=2).to_dict()}
    assert supports({"architecture": base})
    assert not supports({"architecture": {**base, "activation": "gelu"}})
    assert not supports({"architecture": {**base, "parametric_activation": True}})
    assert not supports({"architecture": {**base, "ensemble": "batch"}})
    assert supports({"architecture": {**base, "ensemble": "batch", "k": 1}})
    assert not supports({"architecture": {**base, "future_field": 1}})
    older = {k: v for k, v in base.items() if k != "n_bins"}  # written before n_bins existed
    assert supports({"architecture": older})
    assert not supports({"architecture": {**base, "name": "mlp"}})


def test_weights_that_do_not_fit_are_refused_by_name() -> None:
    network = trained_looking_tabm()
    arrays = {name: t.numpy() for name, t in network.state_dict().items()}
    architecture = network.config.to_dict()
    with pytest.raises(ValueError, match=r"first difference: 'member_scale'"):
        NumpyTabM(architecture, {k: v for k, v in arrays.items() if k != "member_scale"})
    wider = {**arrays, "blocks.0.0.bias": np.zeros(17, dtype=np.float32)}
    with pytest.raises(ValueError, match=r"first difference: 'blocks\.0\.0\.bias'"):
        NumpyTabM(architecture, wider)
