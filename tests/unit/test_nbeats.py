"""The N-BEATS/N-HITS forecaster: shapes, per-window normalisation, export, and that it learns
a season while doing no harm on a random walk."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch

from nncli.forecasting.statistical import choose_shrink
from nncli.models.nbeats import NBeatsConfig, NBeatsForecaster, interpolation_matrix
from nncli.models.recurrent import PinballLoss
from nncli.training.optimizer import AdamW


def _config(**overrides: object) -> NBeatsConfig:
    values: dict[str, object] = {"n_features": 1, "lookback": 24, "horizon": 6, "hidden_size": 32}
    values.update(overrides)
    return NBeatsConfig(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("n_features", [1, 3])
def test_output_is_batch_horizon_quantiles(n_features: int) -> None:
    network = NBeatsForecaster(_config(n_features=n_features)).eval()
    assert network(torch.randn(5, 24, n_features)).shape == (5, 6, 3)


def test_interpolation_matrix_matches_linear_interpolation() -> None:
    knots = torch.randn(2, 3, 4)
    expected = torch.nn.functional.interpolate(knots, size=11, mode="linear", align_corners=True)
    assert torch.allclose(knots @ interpolation_matrix(4, 11), expected, atol=1e-6)


def test_per_window_normalisation_makes_the_forecast_scale_equivariant() -> None:
    torch.manual_seed(0)
    network = NBeatsForecaster(_config()).eval()
    windows = torch.randn(4, 24, 1)
    with torch.no_grad():
        small, large = network(windows), network(1000 * windows)
    assert torch.allclose(1000 * small, large, rtol=1e-3, atol=1e-3)


def test_shrink_zero_gives_a_zero_change_median() -> None:
    network = NBeatsForecaster(_config()).eval()
    network.set_shrink(0.0)
    with torch.no_grad():
        out = network(torch.randn(8, 24, 1))
    assert torch.all(out[:, :, network.median] == 0)
    assert "shrink" in network.state_dict()  # saved with the weights


def test_seasonal_anchor_with_shrink_zero_is_seasonal_naive() -> None:
    network = NBeatsForecaster(_config(lookback=36, horizon=14, season=12, anchor="seasonal"))
    network.eval().set_shrink(0.0)
    steps = torch.randn(3, 36, 1)
    levels = steps[:, :, 0].cumsum(1)  # the window's levels; the origin is the last one
    k = torch.arange(14)
    expected = levels[:, 36 - 12 + k % 12] - levels[:, -1:]
    with torch.no_grad():
        got = network(steps)[:, :, network.median]
    assert torch.allclose(got, expected, atol=1e-5)


def test_a_seasonal_anchor_needs_the_season_in_the_window() -> None:
    with pytest.raises(ValueError, match="season"):
        _config(lookback=8, season=12, anchor="seasonal")


def test_exports_to_onnx_and_torchscript_with_parity() -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    network = NBeatsForecaster(_config(n_features=2)).eval()
    example = torch.randn(3, 24, 2)
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript-based exporter is deprecated, not gone
        warnings.simplefilter("ignore")
        torch.onnx.export(
            network,
            (example,),
            buffer,
            opset_version=17,
            input_names=["windows"],
            output_names=["quantiles"],
            dynamic_axes={"windows": {0: "batch"}},
            dynamo=False,
        )
        scripted_network = torch.jit.script(network)
    session = onnxruntime.InferenceSession(buffer.getvalue())
    other = torch.randn(7, 24, 2)
    with torch.no_grad():
        expected = network(other).numpy()
        scripted = scripted_network(other).numpy()
    (got,) = session.run(None, {"windows": other.numpy()})
    assert np.allclose(got, expected, atol=1e-5)
    assert np.allclose(scripted, expected, atol=1e-6)


# --- learning ----------------------------------------------------------------------------


def _windows(
    z: np.ndarray, origins: np.ndarray, lookback: int, horizon: int
) -> tuple[torch.Tensor, torch.Tensor]:
    steps = np.diff(z)  # steps[i] = z[i+1] - z[i]
    x = np.stack([steps[t - lookback : t] for t in origins])[..., None]
    y = np.stack([z[t + 1 : t + 1 + horizon] - z[t] for t in origins])
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


def _train(
    z: np.ndarray, train_end: int, lookback: int, horizon: int, steps: int = 300
) -> NBeatsForecaster:
    """A small fit (AdamW, pinball loss, best validation state), then the shrink rule."""
    torch.manual_seed(0)
    network = NBeatsForecaster(_config(lookback=lookback, horizon=horizon, hidden_size=64))
    origins = np.arange(lookback, train_end - horizon)
    valid, train = origins[-40:], origins[origins <= origins[-40] - horizon]
    train_x, train_y = _windows(z, train, lookback, horizon)
    valid_x, valid_y = _windows(z, valid, lookback, horizon)
    loss_fn = PinballLoss(network.config.quantiles)
    optimizer = AdamW(network.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    best, best_state = float("inf"), network.state_dict()
    for step in range(steps):
        rows = torch.randint(len(train_x), (128,), generator=generator)
        loss = loss_fn(network(train_x[rows]), train_y[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 25 == 24:
            with torch.no_grad():
                current = float(loss_fn(network(valid_x), valid_y))
            if current < best:
                best, best_state = current, {k: v.clone() for k, v in network.state_dict().items()}
    network.load_state_dict(best_state)
    network.eval()
    with torch.no_grad():
        median = network(valid_x)[:, :, network.median]
    network.set_shrink(choose_shrink(median.numpy(), valid_y.numpy()).weight)
    return network


def _test_mae(
    network: NBeatsForecaster, z: np.ndarray, origins: np.ndarray, lookback: int, horizon: int
) -> tuple[float, np.ndarray]:
    x, y = _windows(z, origins, lookback, horizon)
    with torch.no_grad():
        median = network(x)[:, :, network.median]
    return float((median - y).abs().mean()), y.numpy()


@pytest.mark.slow
def test_network_beats_seasonal_naive_on_a_seasonal_series() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    n, season, horizon, lookback = 400, 12, 12, 36
    t = np.arange(n)
    z = 0.02 * t + 5 * np.sin(2 * np.pi * t / season) + rng.normal(0, 0.5, n)
    network = _train(z, n - 60, lookback, horizon)
    assert float(network.shrink) > 0  # validation showed skill
    origins = np.arange(n - 60, n - horizon)
    mae, _ = _test_mae(network, z, origins, lookback, horizon)
    seasonal_naive = np.stack(
        [z[t - season + 1 + np.arange(horizon) % season] - z[t] for t in origins]
    )
    actual = np.stack([z[t + 1 : t + 1 + horizon] - z[t] for t in origins])
    assert mae < 0.9 * float(np.abs(seasonal_naive - actual).mean())


@pytest.mark.slow
def test_no_harm_on_a_random_walk() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(1)
    n, horizon, lookback = 700, 5, 15
    z = np.cumsum(rng.normal(0, 1, n))
    network = _train(z, n - 200, lookback, horizon, steps=200)
    origins = np.arange(n - 200, n - horizon)
    mae, actual = _test_mae(network, z, origins, lookback, horizon)
    random_walk = float(np.abs(actual).mean())  # naive: zero change
    assert mae <= 1.01 * random_walk


def test_window_normalised_wraps_a_recurrent_forecaster() -> None:
    from nncli.models.nbeats import WindowNormalised
    from nncli.models.recurrent import SequenceConfig, SequenceForecaster

    torch.manual_seed(0)
    inner = SequenceForecaster(SequenceConfig("gru", n_features=2, lookback=12, horizon=3))
    network = WindowNormalised(inner).eval()
    windows = torch.randn(4, 12, 2)
    scaled = windows.clone()
    scaled[:, :, 0] *= 50
    with torch.no_grad():
        assert network(windows).shape == (4, 3, 3)
        assert torch.allclose(50 * network(windows), network(scaled), rtol=1e-4, atol=1e-4)


# --- the ensemble of members (nncli.models.ensemble) -----------------------------------------


class _Constant(torch.nn.Module):
    """A member that forecasts a fixed [H, Q] and records the window length it was given."""

    def __init__(self, values: list[list[float]]) -> None:
        super().__init__()
        self.values = torch.tensor(values)
        self.seen: list[int] = []

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        self.seen.append(int(windows.shape[1]))
        return self.values.expand(windows.shape[0], -1, -1)


def test_the_ensemble_is_the_median_of_sorted_member_quantiles() -> None:
    from nncli.models.ensemble import MemberEnsemble, anchor_index_for

    members = [
        _Constant([[1.0, 0.0, 2.0]]),  # unsorted: the ensemble sorts each member first
        _Constant([[-1.0, 0.5, 3.0]]),
        _Constant([[0.0, 5.0, 9.0]]),
        _Constant([[0.2, 0.3, 0.4]]),
    ]
    ensemble = MemberEnsemble(members, [4, 6, 8, 8], 1, anchor_index_for(8, 1, 1)).eval()
    out = ensemble(torch.randn(2, 8, 1))
    # sorted members: [0,1,2], [-1,.5,3], [0,5,9], [.2,.3,.4] -> medians over 4 members
    expected = torch.tensor([[(0.0 + 0.0) / 2, (0.5 + 1.0) / 2, (2.0 + 3.0) / 2]])
    assert torch.allclose(out, expected.expand(2, -1, -1))
    assert [m.seen for m in members] == [[4], [6], [8], [8]]  # each reads its newest L steps


def test_an_ensemble_shrunk_to_zero_gives_the_anchor_forecast() -> None:
    from nncli.models.ensemble import MemberEnsemble, anchor_index_for

    torch.manual_seed(0)
    members = [NBeatsForecaster(_config(lookback=lb, horizon=6)) for lb in (12, 24)]
    naive = MemberEnsemble(members, [12, 24], 1, anchor_index_for(24, 6, 1)).eval()
    naive.set_shrink(0.0)
    windows = torch.randn(3, 24, 1)
    with torch.no_grad():
        assert torch.all(naive(windows)[:, :, 1] == 0)  # no change
        seasonal = MemberEnsemble(members, [12, 24], 1, anchor_index_for(24, 6, 4)).eval()
        seasonal.set_shrink(0.0)
        levels = windows[:, :, 0].cumsum(1)
        k = torch.arange(6)
        expected = levels[:, 24 - 4 + k % 4] - levels[:, -1:]
        assert torch.allclose(seasonal(windows)[:, :, 1], expected, atol=1e-5)


def test_conformal_calibration_widens_a_too_narrow_interval() -> None:
    from nncli.forecasting.ensemble import apply_calibration

    raw = np.zeros((5, 2, 3))
    raw[..., 0], raw[..., 2] = -0.1, 0.1
    calibration = {"margins": [0.5, 1.0], "combine": "none"}
    out = apply_calibration(raw, calibration, 1, None)
    assert np.allclose(out[..., 0], [-0.6, -1.1]) and np.allclose(out[..., 2], [0.6, 1.1])
    assert np.all(out[..., 1] == 0)  # the median is not moved
    with_ets = apply_calibration(raw, {**calibration, "combine": "ets"}, 1, np.ones((5, 2)))
    assert np.allclose(with_ets[..., 1], 0.5)  # the mean of the network's 0 and ETS's 1
    assert np.all(with_ets[..., 0] <= out[..., 0]) and np.all(with_ets[..., 2] >= 0.5 + 0.6)


def test_the_interval_is_the_wider_of_network_and_ets_also_without_combining() -> None:
    """Where ETS was tried but the median stays the network's, the forecast keeps the
    network's median and takes the wider of the two calibrated intervals."""
    from nncli.forecasting.ensemble import apply_calibration

    raw = np.array([[[-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]]])  # [N=1, H=2, Q=3]
    ets = np.array([[4.0, -4.0]])  # far above, then far below the network's median
    calibration = {"margins": [0.0, 0.0], "combine": "none", "margins_combined": [0.5, 0.5]}
    out = apply_calibration(raw, calibration, 1, ets)
    assert out[0, :, 1].tolist() == [0.0, 0.0]  # the network's median
    # combined step 1: median 2.0, interval [1.0, 3.0] widened by 0.5 -> [0.5, 3.5]
    assert out[0, 0, [0, 2]].tolist() == [-1.0, 3.5]
    assert out[0, 1, [0, 2]].tolist() == [-3.5, 1.0]
    combined = apply_calibration(raw, {**calibration, "combine": "ets"}, 1, ets)
    assert combined[0, :, 1].tolist() == [2.0, -2.0]
    assert combined[0, 0, [0, 2]].tolist() == [-1.0, 3.5]
    without = apply_calibration(raw, {"margins": [0.0, 0.0], "combine": "none"}, 1, ets)
    assert without.tolist() == raw.tolist()  # a model that never tried ETS ignores it


def test_combine_auto_keeps_ets_only_for_a_clear_gain() -> None:
    """`--combine auto`: a combination 3 % better on average over a few noisy validation
    origins is not kept; 10 % better is; 3 % better at every one of many origins
    (significant) is; where the no-harm rule chose the random walk, 10 % without
    significance is not."""
    from nncli.forecasting.ensemble import keeps_combination

    def case(errors: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        actual = np.zeros((len(errors), 4))
        network = actual + 1.0  # the network's error is 1 at every origin and step
        return np.asarray(errors)[:, None] + actual, network, actual

    assert not keeps_combination(*case([0.5, 1.44] * 4), random_walk=False)  # 3 %, noisy
    assert keeps_combination(*case([0.4, 1.4] * 4), random_walk=False)  # 10 %
    assert not keeps_combination(*case([0.4, 1.4] * 4), random_walk=True)
    steady = [0.97 + 0.01 * np.sin(i) for i in range(60)]  # 3 %, every origin
    assert keeps_combination(*case(steady), random_walk=False)
    assert keeps_combination(*case(steady), random_walk=True)
