"""`nncli explain` and `nncli export` through the CLI: streams, --json shapes, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from nncli.errors import ExitCode


@pytest.mark.slow
def test_explain_json_shape(cli, penguins_model: Path, sample_data: Path) -> None:
    document = cli.json(
        "explain", penguins_model, sample_data / "penguins.csv", "--repeats", "2", "--seed", "3"
    )
    assert document["ok"] is True and document["kind"] == "tabular"
    assert document["task"] == "classification" and document["metric"] == "log_loss"
    assert set(document["baseline"]) == {"log_loss"}
    assert document["samples"] == 344 and document["repeats"] == 2 and document["seed"] == 3
    features = document["features"]
    assert [f["rank"] for f in features] == list(range(1, len(features) + 1))
    assert {f["feature"] for f in features} == {
        "island",
        "bill_length_mm",
        "bill_depth_mm",
        "flipper_length_mm",
        "body_mass_g",
        "sex",
        "year",
    }
    for feature in features:
        assert set(feature) >= {
            "feature",
            "kind",
            "importance_mean",
            "importance_std",
            "importances",
            "noise_band",
            "within_noise",
        }
        assert len(feature["importances"]) == 2
    means = [f["importance_mean"] for f in features]
    assert means == sorted(means, reverse=True)
    assert any("trained on" in warning for warning in document["warnings"])


def test_explain_renders_a_ranked_table(cli, autompg_model: Path, sample_data: Path) -> None:
    result = cli("explain", autompg_model, sample_data / "autompg.csv", "--repeats", "2")
    assert "permutation importance: rise in RMSE" in result.stdout
    assert "unshuffled: rmse" in result.stdout and "█" in result.stdout
    assert "shuffled across the 398 rows; mean and std over 2 shuffles" in result.stdout
    assert "shuffling each feature 2 time(s)" in result.stderr


@pytest.mark.slow
def test_explain_bad_input_is_one_line(
    cli, penguins_model: Path, sample_data: Path, tmp_path: Path
) -> None:
    frame = pd.read_csv(sample_data / "penguins.csv").drop(columns=["island"])
    data = tmp_path / "no-island.csv"
    frame.to_csv(data, index=False)
    result = cli("explain", penguins_model, data, code=ExitCode.BAD_DATA)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "column 'island' is missing" in errors[0]
    assert result.stdout == ""
    result = cli("explain", penguins_model, data, "--repeats", "0", code=ExitCode.USAGE)
    assert "--repeats must be at least 1" in result.stderr
    result = cli("explain", tmp_path / "none.nncli", data, code=ExitCode.BAD_MODEL)
    assert "no such model file" in result.stderr


def test_export_json_and_files(cli, penguins_model: Path, sample_data: Path, tmp_path) -> None:
    output = tmp_path / "penguins.onnx"
    document = cli.json(
        "export", penguins_model, "-o", output, "--data", sample_data / "penguins.csv"
    )
    assert document["ok"] is True and document["format"] == "onnx" and document["opset"] == 17
    assert document["path"] == str(output) and output.exists()
    assert document["preprocessing_path"] == str(tmp_path / "penguins.onnx.preprocessing.json")
    assert document["parity"]["max_abs_diff"] <= 1e-5 and document["parity"]["source"] == "data"
    assert [i["name"] for i in document["inputs"]] == ["numeric", "categorical"]
    assert document["outputs"][0]["name"] == "logits"
    spec = json.loads(Path(document["preprocessing_path"]).read_text())
    assert spec["model_id"] == document["model_id"]


def test_export_torchscript_prints_a_summary(cli, penguins_model: Path, tmp_path) -> None:
    output = tmp_path / "penguins.pt"
    result = cli("export", penguins_model, "--format", "torchscript", "-o", output)
    assert f"wrote {output} (TorchScript" in result.stdout
    assert "input  numeric: float32 [batch," in result.stdout
    assert "✓ parity with nncli on 256 random sample rows (torch.jit.load)" in result.stdout
    assert output.exists() and output.with_name("penguins.pt.preprocessing.json").exists()


def test_export_bad_options(cli, penguins_model: Path, tmp_path: Path) -> None:
    result = cli("export", penguins_model, "--format", "tflite", code=ExitCode.USAGE)
    assert "--format must be one of onnx, torchscript" in result.stderr
    result = cli("export", penguins_model, "-o", penguins_model, code=ExitCode.USAGE)
    assert "refusing to overwrite" in result.stderr
    document = cli.json("export", tmp_path / "missing.nncli", code=ExitCode.BAD_MODEL)
    assert document["ok"] is False and document["exit_code"] == ExitCode.BAD_MODEL


def test_help_lists_the_new_commands(cli) -> None:
    result = cli("--help")
    assert "explain" in result.stdout and "export" in result.stdout


def test_explain_a_forecaster_with_custom_lag_blocks(cli, tmp_path: Path) -> None:
    import numpy as np

    from nncli.forecasting.model import ForecastOptions, save_forecast_model, train_forecaster
    from nncli.forecasting.series import PanelSpec, load_panel
    from nncli.training.loop import TrainingConfig

    rng = np.random.default_rng(0)
    data = tmp_path / "series.csv"
    pd.DataFrame(
        {
            "date": pd.bdate_range("2022-01-03", periods=150).strftime("%Y-%m-%d"),
            "price": 100 * np.exp(np.cumsum(rng.normal(0, 0.01, size=150))),
            "volume": rng.integers(100, 200, size=150),
        }
    ).to_csv(data, index=False)
    spec = PanelSpec("date", "price", covariates=["volume"])
    options = ForecastOptions(
        panel=spec, arch="mlp", lookback=8, horizon=2, hidden_size=8,
        training=TrainingConfig(epochs=2),
    )  # fmt: skip
    model, _ = train_forecaster(load_panel(data, spec), options)
    path = tmp_path / "series.nncli"
    save_forecast_model(path, model, {})
    document = cli.json("explain", path, data, "--lag-blocks", "2,4", "--repeats", "2")
    assert document["kind"] == "forecast" and document["metric"] == "scaled_mae"
    lags = {f["feature"]: f["lags"] for f in document["features"]}
    assert lags == {
        "price (log-return) lags 1-2": [1, 2],
        "price (log-return) lags 3-4": [3, 4],
        "price (log-return) lags 5-8": [5, 8],
        "volume lags 1-8": [1, 8],
    }
    result = cli("explain", path, data, "--lag-blocks", "4,2", code=ExitCode.USAGE)
    assert "--lag-blocks needs increasing positive upper lags" in result.stderr
