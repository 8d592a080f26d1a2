"""`--arch tabm`: the TabM ensemble trained, saved, loaded, predicted, evaluated and exported."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nncli.api import export_model
from nncli.export import ExportOptions, preprocessing_path
from nncli.models.tabm import TabM
from nncli.tabular.model import load_tabular_model, save_tabular_model
from nncli.tabular.options import TabularOptions
from nncli.tabular.predict import predict_tabular
from nncli.tabular.train import TrainReport, train_tabular
from nncli.training.loop import TrainingConfig
from tests.conftest import SAMPLE_DATA

PENGUINS = SAMPLE_DATA / "penguins.csv"
AUTOMPG = SAMPLE_DATA / "autompg.csv"
# Few epochs and a narrow trunk, one fit (no final refit): enough to learn these tables, quick
# enough for a test.
SMALL = {
    "hidden_sizes": [64, 32],
    "training": TrainingConfig(epochs=20, seed=0),
    "final_refit": "never",
}


def _train_and_save(tmp: Path, path: Path, **options: object) -> tuple[TrainReport, Path]:
    report = train_tabular(path, TabularOptions(arch="tabm", **SMALL, **options))  # type: ignore[arg-type]
    model_path = tmp / f"{path.stem}.nncli"
    save_tabular_model(model_path, report.model)
    return report, model_path


@pytest.fixture(scope="module")
def penguins_tabm(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainReport, Path]:
    return _train_and_save(tmp_path_factory.mktemp("tabm"), PENGUINS, target="species")


@pytest.fixture(scope="module")
def autompg_tabm(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainReport, Path]:
    return _train_and_save(tmp_path_factory.mktemp("tabm"), AUTOMPG, target="mpg", drop=["name"])


@pytest.mark.slow
def test_tabm_classifies_penguins(penguins_tabm: tuple[TrainReport, Path]) -> None:
    report, _ = penguins_tabm
    assert isinstance(report.model.network, TabM)
    assert report.test_metrics["accuracy"] >= 0.9
    assert 1 <= report.history.best_epoch <= len(report.history.records) <= 20
    best = report.history.best
    assert np.isfinite(best.train_loss) and np.isfinite(best.valid_loss)
    architecture = report.model.metadata["architecture"]
    assert architecture["name"] == "tabm" and architecture["k"] == 8
    assert architecture["temperature"] > 0


@pytest.mark.slow
def test_tabm_regresses_autompg(autompg_tabm: tuple[TrainReport, Path]) -> None:
    report, _ = autompg_tabm
    # The target's std is about 7.8 mpg; the linear baseline reaches about 3.5.
    assert report.test_metrics["rmse"] <= 4.0
    assert report.model.metadata["training"]["learning_rate"] == 8e-3  # regression's default
    # The history's metric is in target units, like the MLP's.
    assert report.history.best.valid_metric == pytest.approx(report.valid_metrics["rmse"], rel=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["penguins", "autompg"])
def test_tabm_model_file_round_trips(
    which: str,
    penguins_tabm: tuple[TrainReport, Path],
    autompg_tabm: tuple[TrainReport, Path],
) -> None:
    report, model_path = penguins_tabm if which == "penguins" else autompg_tabm
    data = PENGUINS if which == "penguins" else AUTOMPG
    loaded = load_tabular_model(model_path)
    assert isinstance(loaded.network, TabM)
    assert loaded.metadata["architecture"] == report.model.metadata["architecture"]
    proba = which == "penguins"  # --proba is a usage error on a regression model
    before = predict_tabular(report.model, data, proba=proba)
    after = predict_tabular(loaded, data, proba=proba)
    pd.testing.assert_frame_equal(before, after)


@pytest.mark.slow
def test_cli_predict_and_evaluate_a_tabm_model(
    cli, penguins_tabm: tuple[TrainReport, Path]
) -> None:
    _, model_path = penguins_tabm
    predictions = cli("predict", model_path, PENGUINS, "--quiet")
    assert predictions.stdout.splitlines()[0] == "prediction"
    evaluated = cli.json("evaluate", model_path, PENGUINS)
    assert evaluated["metrics"]["accuracy"] >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("export_format", ["onnx", "torchscript"])
@pytest.mark.parametrize("which", ["penguins", "autompg"])
def test_tabm_export_matches_nncli(
    which: str,
    export_format: str,
    penguins_tabm: tuple[TrainReport, Path],
    autompg_tabm: tuple[TrainReport, Path],
    tmp_path: Path,
) -> None:
    _, model_path = penguins_tabm if which == "penguins" else autompg_tabm
    data = PENGUINS if which == "penguins" else AUTOMPG
    output = tmp_path / f"net.{export_format}"
    for source in (data, None):  # real rows, then random inputs
        report = export_model(model_path, ExportOptions(export_format, output, source))
        # A fitted temperature below 1 scales the logits up, and float32 rounding with them:
        # the exporter's own tolerance is relative to the outputs' size.
        assert report.parity.max_abs_diff <= min(report.parity.tolerance, 1e-4)
    spec = json.loads(preprocessing_path(output).read_text())
    assert spec["network_format"] == export_format


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["numeric", "categorical"])
def test_tabm_exports_a_table_with_one_kind_of_column(kind: str, tmp_path: Path) -> None:
    frame = pd.read_csv(PENGUINS).dropna(subset=["species"])
    keep = (
        ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]
        if kind == "numeric"
        else ["island", "sex"]
    )
    data = tmp_path / "one_kind.csv"
    frame[[*keep, "species"]].to_csv(data, index=False)
    options = TabularOptions(
        target="species",
        arch="tabm",
        hidden_sizes=[16],
        training=TrainingConfig(epochs=2),
        final_refit="never",
    )
    model_path = tmp_path / "one_kind.nncli"
    save_tabular_model(model_path, train_tabular(data, options).model)
    for export_format in ("onnx", "torchscript"):
        report = export_model(model_path, ExportOptions(export_format, data=data))
        assert report.parity.max_abs_diff <= 1e-5


@pytest.mark.slow
def test_each_tabm_ingredient_can_be_switched_off(cli, tmp_path: Path) -> None:
    """`--members 1 --numeric-embedding none --no-front-scale --label-smoothing 0`: the file
    records a single-member TabM without embeddings or front scale, trained without label
    smoothing (so no temperature scaling), and it still predicts."""
    model_path = tmp_path / "plain.nncli"
    cli(
        "train", PENGUINS, "-t", "species", "--arch", "tabm", "--hidden", "32,16",
        "--epochs", "5", "--members", "1", "--numeric-embedding", "none",
        "--no-front-scale", "--label-smoothing", "0", "-o", model_path, "-q",
    )  # fmt: skip
    model = load_tabular_model(model_path)
    architecture = model.metadata["architecture"]
    assert architecture["k"] == 1 and architecture["numeric_embedding"] == "none"
    assert architecture["front_scale"] is False and architecture["temperature"] == 1.0
    assert model.metadata["training"]["label_smoothing"] == 0.0
    assert isinstance(model.network, TabM) and model.network.config.k == 1
    assert len(predict_tabular(model, PENGUINS)) == len(pd.read_csv(PENGUINS))


@pytest.mark.parametrize(
    "flag", [["--members", "4"], ["--numeric-embedding", "plr"], ["--no-front-scale"],
             ["--label-smoothing", "0.2"], ["--lr-schedule", "constant"]],
)  # fmt: skip
def test_tabm_switches_need_arch_tabm(cli, flag: list[str], tmp_path: Path) -> None:
    out = tmp_path / "m.nncli"
    result = cli("train", PENGUINS, "-t", "species", "--arch", "mlp", *flag, "-o", out, code=2)
    assert f"{flag[0]} applies to --arch tabm only, not --arch mlp" in result.stderr
    assert not out.exists()


@pytest.mark.slow
def test_tabm_trains_on_the_threads_asked_for() -> None:
    """`--threads 1` reaches the TabM loop (it ran on torch's default count before)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        options = TabularOptions(
            target="species",
            arch="tabm",
            hidden_sizes=[16],
            training=TrainingConfig(epochs=2, seed=0, threads=1),
        )
        train_tabular(PENGUINS, options)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
def test_tabm_honours_the_optimiser_options_and_calls_back_every_epoch() -> None:
    """--lr, --weight-decay and --patience reach TabM's loop (and the model file); the
    callbacks (progress bar, Optuna's pruning) see every epoch with the best so far."""
    seen: list[tuple[int, int, int]] = []

    class Recorder:
        def on_epoch_end(self, record, history) -> None:  # type: ignore[no-untyped-def]
            seen.append((record.epoch, history.best_epoch, history.planned_epochs))

    training = TrainingConfig(epochs=30, seed=0, learning_rate=1e-7, weight_decay=0.01)
    frozen = train_tabular(
        PENGUINS,
        TabularOptions(target="species", arch="tabm", hidden_sizes=[64, 32], training=training),
    )
    recorded = frozen.model.metadata["training"]
    assert (recorded["learning_rate"], recorded["weight_decay"]) == (1e-7, 0.01)
    impatient = replace(SMALL["training"], epochs=30, patience=1)
    options = TabularOptions(
        target="species", arch="tabm", hidden_sizes=[64, 32], training=impatient
    )
    learned = train_tabular(PENGUINS, options, callbacks=(Recorder(),))
    # At lr 1e-7 nothing is learned; at TabM's own 4e-3 it is.
    assert frozen.test_metrics["accuracy"] + 0.2 < learned.test_metrics["accuracy"]
    assert learned.model.metadata["training"]["learning_rate"] == 4e-3
    # --patience 1 stops one epoch after the best (TabM's own: 35% of the 30 planned).
    runs = len(learned.history.records)
    assert runs == learned.history.best_epoch + 1 < 30
    assert learned.model.metadata["training"]["patience"] == 1
    assert [epoch for epoch, _, _ in seen] == list(range(1, runs + 1))
    assert seen[-1][1] == learned.history.best_epoch and seen[-1][2] == 30


@pytest.mark.slow
def test_robust_scaling_learns_a_threshold_on_a_heavy_tailed_column(tmp_path: Path) -> None:
    """x spans e^-15..e^15: mean/std squash the bulk to ~0, so without robust scaling the
    network cannot see whether x > 1; with median/IQR + smooth clip it can. (With periodic
    embeddings: the default piecewise-linear ones bin by quantiles and learn it either way.)"""
    rng = np.random.default_rng(0)
    x = np.exp(rng.normal(0, 5, 600))
    frame = pd.DataFrame({"x": x, "noise": rng.normal(size=600)})
    frame["y"] = np.where(x > 1, "big", "small")
    path = tmp_path / "heavy.csv"
    frame.to_csv(path, index=False)
    accuracy = {}
    for robust in (True, False):
        options = TabularOptions(
            target="y",
            numeric_embedding="pbld",
            no_robust_scaling=not robust,
            training=TrainingConfig(epochs=30, seed=0),
        )
        accuracy[robust] = train_tabular(path, options).test_metrics["accuracy"]
    assert accuracy[True] >= 0.95 and accuracy[False] <= 0.75, accuracy
    ple = TabularOptions(
        target="y",
        numeric_embedding="ple",
        no_robust_scaling=True,
        training=TrainingConfig(epochs=30),
    )
    assert train_tabular(path, ple).test_metrics["accuracy"] >= 0.95
