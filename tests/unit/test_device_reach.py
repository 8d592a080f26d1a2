"""`--device` reaches every network: the one loop moves parameters and batches to the asked
device, for every tabular architecture and every forecaster.

No GPU here, so the device asked for is PyTorch's "meta" device: a real device object whose
tensors have shapes and no data. The loop moves the network and the data there and runs the
forward pass; a hook on the network checks where its parameters and its batch live, then
stops training (a meta tensor has no value to report). A loop that trained on the CPU
whatever the option said, as TabM's own loop did, fails these tests.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from nncli.forecasting import ensemble
from nncli.forecasting.options import FORECAST_ARCHITECTURES, ForecastOptions, PanelSpec
from nncli.reporting import CollectingReporter
from nncli.tabular.architectures import ARCHITECTURES
from nncli.tabular.options import TabularOptions
from nncli.tabular.train import build_network, fit_network, prepare_table
from nncli.training.config import TrainingConfig


class FirstBatchSeenError(Exception):
    """Raised by the hook once it has seen the first training batch."""


def stop_at_first_batch(network: torch.nn.Module) -> list[set[str]]:
    """A forward hook that records the devices of the parameters and of the batch."""
    seen: list[set[str]] = []

    def hook(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        parameters = {p.device.type for p in module.parameters()}
        batch = {tensor.device.type for tensor in inputs if isinstance(tensor, torch.Tensor)}
        seen.extend([parameters, batch])
        raise FirstBatchSeenError

    network.register_forward_pre_hook(hook)
    return seen


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_tabular_architecture_trains_where_device_says(sample_data: Path, arch: str) -> None:
    options = TabularOptions(
        target="species", arch=arch, training=TrainingConfig(epochs=2, seed=0, device="meta")
    )
    frame_path = sample_data / "penguins.csv"
    import pandas as pd

    table = prepare_table(frame_path, pd.read_csv(frame_path), options, CollectingReporter())
    network, _ = build_network(options, table, CollectingReporter())
    seen = stop_at_first_batch(network)
    with pytest.raises(FirstBatchSeenError):
        fit_network(network, table, options)
    assert seen == [{"meta"}, {"meta"}]


@pytest.mark.parametrize("arch", FORECAST_ARCHITECTURES)
def test_every_forecaster_trains_where_device_says(arch: str) -> None:
    panel = PanelSpec(time_col="t", target="y")
    options = ForecastOptions(panel, arch=arch, horizon=3, lookback=8)
    training = replace(options.training.filled(), device="meta", epochs=2)
    generator = torch.Generator().manual_seed(0)
    data = ensemble.MemberData(
        torch.randn(64, 8, 1, generator=generator),
        torch.randn(64, 3, generator=generator),
        torch.randn(16, 8, 1, generator=generator),
        torch.randn(16, 3, generator=generator),
    )
    plan = ensemble.plan_members(options, [8])[0]
    network, _ = ensemble.build_member(options, 1, plan, "naive", 1)
    seen = stop_at_first_batch(network)
    with pytest.raises(FirstBatchSeenError):
        ensemble.train_member(network, data, plan, options, training)
    assert seen == [{"meta"}, {"meta"}]
