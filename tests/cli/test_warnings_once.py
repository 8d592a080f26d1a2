"""Each warning once, with the numbers of the step it is about; inspect and train agree."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest


def small_penguins(tmp_path: Path) -> Path:
    """80 penguins (three species, a few hundred training rows short of the network's size)."""
    frame = pd.read_csv(Path(__file__).resolve().parents[2] / "sample_data" / "penguins.csv")
    path = tmp_path / "small.csv"
    frame.sample(80, random_state=0).to_csv(path, index=False)
    return path


def warnings_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def test_train_with_its_final_refit_says_each_warning_once(cli, tmp_path: Path) -> None:
    path = small_penguins(tmp_path)
    result = cli("train", path, "-t", "species", "--epochs", "3", "-o", tmp_path / "m.nncli")
    warnings = warnings_in(result.stderr)
    assert warnings, result.stderr
    assert all(count == 1 for count in Counter(warnings).values()), warnings
    assert "retraining on train+validation" in result.stderr  # the refit ran, and was quiet
    size = [w for w in warnings if "training rows for" in w]
    assert len(size) == 1 and size[0].startswith("warning: only 56 training rows for ")


def test_inspect_counts_the_network_train_builds(cli, tmp_path: Path) -> None:
    path = small_penguins(tmp_path)
    out = tmp_path / "m.nncli"
    trained = cli(
        "train", path, "-t", "species", "--epochs", "1", "--final-refit", "never", "-o", out
    )
    inspected = cli.json("inspect", path, "--target", "species")
    train_size = [w for w in warnings_in(trained.stderr) if "training rows for" in w]
    inspect_size = [w for w in inspected["warnings"] if "training rows for" in w]
    assert train_size == [f"warning: {inspect_size[0]}"]


class FitRecorder:
    """A progress-like callback: follows every fit of the command, as the progress bar does."""

    follows_every_fit = True

    def __init__(self) -> None:
        self.fits: list[str] = []

    def on_epoch_end(self, record, history) -> None:  # type: ignore[no-untyped-def]
        if record.epoch == 1:
            self.fits.append(history.label)


@pytest.mark.slow
def test_progress_follows_the_final_refit_and_every_forecast_member(tmp_path: Path) -> None:
    import torch

    from nncli.forecasting import ensemble
    from nncli.forecasting.options import ForecastOptions, PanelSpec
    from nncli.tabular.options import TabularOptions
    from nncli.tabular.train import train_tabular
    from nncli.training.config import TrainingConfig

    progress = FitRecorder()
    options = TabularOptions(target="species", training=TrainingConfig(epochs=3, seed=0))
    train_tabular(small_penguins(tmp_path), options, callbacks=(progress,))
    assert progress.fits == ["", "refit"]  # the bar moves while the refit trains

    series = ForecastOptions(PanelSpec(time_col="t", target="y"), horizon=2, lookback=6)
    series = replace(series, ensemble=3, training=TrainingConfig(epochs=2, seed=0))
    generator = torch.Generator().manual_seed(0)
    data = ensemble.MemberData(
        *(torch.randn(*shape, generator=generator) for shape in [(40, 6, 1), (40, 2)] * 2)
    )
    progress = FitRecorder()
    training = series.training.filled()
    ensemble.train_ensemble(data, series, [6], ("naive", 1), training, (progress,))
    assert progress.fits == ["member 1/3", "member 2/3", "member 3/3"]


@pytest.mark.slow
def test_score_with_nothing_matured_says_so_once_on_stderr(cli, tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    model = root / "tests" / "fixtures" / "main-c555952" / "stocks-nhits.nncli"
    stocks = root / "sample_data" / "stocks.csv"
    ledger = tmp_path / "ledger.csv"
    cli("forecast", "predict", model, stocks, "--append", ledger, "-q")
    scored = cli("forecast", "score", ledger, stocks, "--model", model)
    assert scored.stdout == ""  # nothing to report as data
    assert scored.stderr.count("matured") == 1, scored.stderr
