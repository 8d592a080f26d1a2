"""The TCN forecaster and the RBF network: shapes, causality, centres, and round trips."""

from __future__ import annotations

import pytest
import torch

from nncli.errors import UsageError
from nncli.models.convolutional import TemporalConvNet, receptive_field, tcn_dilations
from nncli.models.rbf import RBFConfig, RBFNetwork, kmeans_plus_plus
from nncli.models.recurrent import ARCHITECTURES, SequenceConfig, SequenceForecaster
from nncli.tabular.options import TabularOptions


@pytest.mark.parametrize("lookback", [1, 5, 20, 60, 200])
def test_dilations_cover_the_lookback(lookback: int) -> None:
    dilations = tcn_dilations(lookback)
    assert dilations == [2**i for i in range(len(dilations))]
    assert receptive_field(dilations) >= lookback
    assert receptive_field(dilations[:-1]) < lookback or len(dilations) == 1
    assert len(tcn_dilations(lookback, min_blocks=6)) >= 6


def test_tcn_is_causal() -> None:
    torch.manual_seed(0)
    network = TemporalConvNet(n_features=3, channels=8, lookback=30).eval()
    inputs = torch.randn(4, 30, 3)
    for t in (0, 7, 15, 28):
        perturbed = inputs.clone()
        perturbed[:, t + 1 :, :] += torch.randn_like(perturbed[:, t + 1 :, :]) * 10
        before = network.features(inputs)  # [B, C, L]
        after = network.features(perturbed)
        assert torch.equal(before[:, :, : t + 1], after[:, :, : t + 1]), f"step {t} saw the future"
        assert not torch.allclose(before[:, :, t + 1 :], after[:, :, t + 1 :])


def test_tcn_newest_step_sees_the_whole_window() -> None:
    torch.manual_seed(0)
    network = TemporalConvNet(n_features=2, channels=8, lookback=40).eval()
    inputs = torch.randn(1, 40, 2, requires_grad=True)
    network(inputs).sum().backward()
    assert inputs.grad is not None
    assert (inputs.grad[0].abs().sum(dim=1) > 0).all()  # every lag reaches the output


def test_tcn_forecaster_shapes_and_weights_round_trip() -> None:
    assert "tcn" in ARCHITECTURES
    config = SequenceConfig("tcn", n_features=2, lookback=24, horizon=5, hidden_size=16)
    torch.manual_seed(0)
    network = SequenceForecaster(config).eval()
    windows = torch.randn(7, 24, 2)
    outputs = network(windows)
    assert outputs.shape == (7, 5, 3)
    rebuilt = SequenceForecaster(SequenceConfig(**config.to_dict())).eval()
    rebuilt.load_state_dict(network.state_dict())
    assert torch.equal(rebuilt(windows), outputs)


def test_rbf_forward_and_activations() -> None:
    config = RBFConfig(
        n_numeric=3,
        n_outputs=2,
        categorical_cardinalities=[4],
        embedding_dims=[2],
        n_centres=6,
    )
    torch.manual_seed(0)
    network = RBFNetwork(config)
    numeric = torch.randn(10, 3)
    categorical = torch.randint(0, 4, (10, 1))
    assert network(numeric, categorical).shape == (10, 2)
    responses = network.activations(numeric, categorical)
    assert responses.shape == (10, 6)
    assert ((responses > 0) & (responses <= 1)).all()
    with torch.no_grad():  # a row exactly on a centre responds with 1
        network.centres[0] = network.embed(numeric, categorical)[3]
        on_centre = float(network.activations(numeric, categorical)[3, 0])
    assert on_centre == pytest.approx(1.0, abs=1e-5)


def test_rbf_centres_start_on_training_rows_spread_over_the_clusters() -> None:
    generator = torch.Generator().manual_seed(0)
    clusters = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    points = (clusters.repeat_interleave(25, dim=0) + 0.1 * torch.randn(100, 2)).float()
    chosen = kmeans_plus_plus(points, 4, generator)
    nearest_cluster = torch.cdist(chosen, clusters).argmin(dim=1)
    assert sorted(nearest_cluster.tolist()) == [0, 1, 2, 3]  # one centre per cluster

    network = RBFNetwork(RBFConfig(n_numeric=2, n_outputs=1, n_centres=4))
    network.init_centres(points, None, torch.Generator().manual_seed(0))
    on_rows = torch.cdist(network.centres.detach(), points).min(dim=1).values
    assert torch.all(on_rows < 1e-5)
    widths = network.log_widths.exp()
    assert torch.all((widths > 5) & (widths < 15))  # about the distance between clusters


def test_rbf_with_more_centres_than_rows() -> None:
    points = torch.randn(3, 2)
    network = RBFNetwork(RBFConfig(n_numeric=2, n_outputs=1, n_centres=8))
    network.init_centres(points, None, torch.Generator().manual_seed(0))
    assert torch.isfinite(network.log_widths).all()
    assert torch.isfinite(network(points)).all()


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [({"arch": "svm"}, "--arch must be one of mlp, rbf"), ({"centres": 0}, "--centres")],
)
def test_tabular_architecture_options(changes: dict[str, object], fragment: str) -> None:
    options = TabularOptions(target="y")
    for key, value in changes.items():
        setattr(options, key, value)
    with pytest.raises(UsageError, match=fragment):
        options.validate()
