"""ONNX and TorchScript exports: parity with nncli, the preprocessing spec, and its consumer steps."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import onnxruntime
import pandas as pd
import pytest
import torch

from nncli.api import export_model
from nncli.errors import QualityGateError, UsageError
from nncli.export import ExportOptions, preprocessing_path
from nncli.forecasting.model import (
    ForecastOptions,
    load_forecast_model,
    save_forecast_model,
    train_forecaster,
)
from nncli.forecasting.predict import forecast_next
from nncli.forecasting.series import PanelSpec, load_panel
from nncli.tabular.model import load_tabular_model, save_tabular_model
from nncli.tabular.options import TabularOptions
from nncli.tabular.predict import predict_tabular
from nncli.tabular.train import train_tabular
from nncli.training.loop import TrainingConfig

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"
PANEL = PanelSpec("date", "close", "ticker", ["volume"])


@pytest.fixture(scope="module")
def prices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic price series with a volume covariate, 120 business days each."""
    rng = np.random.default_rng(0)
    frames = []
    for ticker, start in (("AAA", 50.0), ("BBB", 200.0)):
        close = start * np.exp(np.cumsum(rng.normal(0, 0.01, size=120)))
        frames.append(
            pd.DataFrame(
                {
                    "date": pd.bdate_range("2021-01-04", periods=120).strftime("%Y-%m-%d"),
                    "ticker": ticker,
                    "close": close,
                    "volume": rng.integers(1_000, 5_000, size=120),
                }
            )
        )
    path = tmp_path_factory.mktemp("export") / "prices.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def lstm_model(prices: Path) -> Path:
    """A tiny LSTM forecaster: lookback 10, hidden 8, 2 epochs."""
    options = ForecastOptions(
        panel=PANEL,
        arch="lstm",
        lookback=10,
        horizon=3,
        hidden_size=8,
        training=TrainingConfig(epochs=2, patience=2),
    )
    model, _ = train_forecaster(load_panel(prices, PANEL), options)
    path = prices.with_name("lstm.nncli")
    save_forecast_model(path, model, {"data": {"name": prices.name}})
    return path


def _data_for(model: Path, prices: Path) -> Path:
    return prices if model.name == "lstm.nncli" else SAMPLE_DATA / "penguins.csv"


@pytest.mark.parametrize("export_format", ["onnx", "torchscript"])
@pytest.mark.parametrize("which", ["penguins", "lstm"])
def test_export_matches_nncli_to_1e_5(
    which: str, export_format: str, penguins_model: Path, lstm_model: Path, prices: Path, tmp_path
) -> None:
    model = penguins_model if which == "penguins" else lstm_model
    output = tmp_path / f"net.{export_format}"
    for data in (_data_for(model, prices), None):  # real rows or windows, then random inputs
        report = export_model(model, ExportOptions(export_format, output, data))
        assert report.parity.max_abs_diff <= 1e-5
        # 256 sample rows, or every window when there are fewer (2 series × 110 here).
        assert report.parity.rows == (256 if data is None or which == "penguins" else 220)
        assert report.parity.source == ("random" if data is None else "data")
    assert output.exists() and report.path == output
    spec = json.loads(preprocessing_path(output).read_text())
    assert spec["consumer_steps"] and spec["parity"]["max_abs_diff"] <= 1e-5
    assert spec["network_format"] == export_format and spec["model_id"] == report.model_id
    if which == "penguins":
        categories = {c["name"]: c["vocabulary"] for c in spec["preprocessing"]["categorical"]}
        assert set(categories["island"]) == {"Biscoe", "Dream", "Torgersen"}
        scalers = {c["name"]: c for c in spec["preprocessing"]["numeric"]}
        assert {"median", "mean", "std"} <= set(scalers["body_mass_g"])
        assert spec["target"]["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
        assert [i["name"] for i in spec["inputs"]] == ["numeric", "categorical"]
    else:
        assert spec["transform"] == "log-return" and spec["architecture"]["lookback"] == 10
        assert {"mean", "std", "covariate_mean", "covariate_std"} <= set(
            spec["series"]["AAA"]["scaling"]
        )
        assert spec["inputs"][0]["shape"] == ["batch", 10, 2]
        assert spec["outputs"][0]["shape"] == ["batch", 3, 3]
    # An independent run on other inputs and another batch size than the parity check's.
    batch = 7
    if which == "penguins":
        width = spec["inputs"][0]["shape"][1]
        inputs = [torch.randn(batch, width), torch.randint(0, 3, (batch, 2))]  # 3: sizes >= 2
        with torch.inference_mode():
            expected = load_tabular_model(model).network(*inputs).numpy()
    else:
        inputs = [torch.randn(batch, 10, 2)]
        with torch.inference_mode():
            expected = load_forecast_model(model).network(*inputs).numpy()
    if export_format == "onnx":
        session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        got = session.run(None, dict(zip(names, [t.numpy() for t in inputs], strict=True)))[0]
        embedded = session.get_modelmeta().custom_metadata_map["nncli.preprocessing"]
        assert json.loads(embedded) == spec
    else:
        with warnings.catch_warnings():  # torch.jit is deprecated; the file still loads
            warnings.simplefilter("ignore", DeprecationWarning)
            loaded = torch.jit.load(str(output))
        got = loaded(*inputs).detach().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def _category_text(value: object) -> str | None:
    """nncli's category spelling, as consumer_steps describe it."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def test_consumer_steps_reproduce_nncli_predictions(penguins_model: Path, tmp_path) -> None:
    """A consumer with the JSON spec, numpy and onnxruntime (no nncli) gets nncli's numbers."""
    output = tmp_path / "penguins.onnx"
    export_model(penguins_model, ExportOptions("onnx", output))
    spec = json.loads(preprocessing_path(output).read_text())
    frame = pd.read_csv(SAMPLE_DATA / "penguins.csv")
    numeric = []
    for column in spec["preprocessing"]["numeric"]:
        values = frame[column["name"]].to_numpy(np.float64)
        missing = np.isnan(values)
        numeric.append(
            (np.where(missing, column["median"], values) - column["mean"]) / column["std"]
        )
        if column["missing_indicator"]:
            numeric.append(missing.astype(np.float64))
    categorical = []
    for column in spec["preprocessing"]["categorical"]:
        index = {label: code for code, label in enumerate(column["vocabulary"], start=1)}
        categorical.append([index.get(_category_text(v), 0) for v in frame[column["name"]]])
    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    (logits,) = session.run(
        ["logits"],
        {
            "numeric": np.stack(numeric, axis=1).astype(np.float32),
            "categorical": np.array(categorical, dtype=np.int64).T,
        },
    )
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    labels = [spec["target"]["classes"][i] for i in probabilities.argmax(axis=1)]
    nncli = predict_tabular(
        load_tabular_model(penguins_model), SAMPLE_DATA / "penguins.csv", proba=True
    )
    assert labels == nncli["prediction"].tolist()
    expected = nncli[[f"proba_{c}" for c in spec["target"]["classes"]]].to_numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)


def test_consumer_steps_reproduce_nncli_forecasts(lstm_model: Path, prices: Path, tmp_path) -> None:
    output = tmp_path / "lstm.onnx"
    export_model(lstm_model, ExportOptions("onnx", output, prices))
    spec = json.loads(preprocessing_path(output).read_text())
    lookback = spec["architecture"]["lookback"]
    median = spec["quantiles"].index(0.5)
    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    frame = pd.read_csv(prices).sort_values(["ticker", "date"])
    expected = forecast_next(load_forecast_model(lstm_model), load_panel(prices, PANEL))
    for ticker, rows in frame.groupby("ticker"):
        scaling = spec["series"][ticker]["scaling"]
        levels = rows["close"].to_numpy(np.float64)
        steps = np.log(levels[1:] / levels[:-1])  # log-return
        z = (steps - scaling["mean"]) / scaling["std"]
        volume = (rows["volume"].to_numpy(np.float64)[1:] - scaling["covariate_mean"][0]) / (
            scaling["covariate_std"][0]
        )
        window = np.stack([z, volume], axis=1)[-lookback:][None].astype(np.float32)
        (out,) = session.run(None, {"windows": window})
        change = out[0].astype(np.float64) * scaling["std"] + scaling["mean"]
        forecast = np.sort(levels[-1] * np.exp(change), axis=1)[:, median]
        nncli = expected[expected["series"] == ticker]["forecast"].to_numpy()
        np.testing.assert_allclose(forecast, nncli, rtol=1e-5)


@pytest.mark.parametrize("columns", ["numeric", "categorical"])
def test_tables_with_one_kind_of_column_export_one_input(columns: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"y": rng.normal(size=120)})
    if columns == "numeric":
        frame["a"], frame["b"] = rng.normal(size=120), rng.normal(size=120)
        frame.loc[:10, "b"] = np.nan  # a missing indicator, too
    else:
        frame["a"] = rng.choice(["x", "y", "z"], size=120)
        frame["b"] = rng.choice(["p", "q"], size=120)
    data = tmp_path / "table.csv"
    frame.to_csv(data, index=False)
    options = TabularOptions(
        target="y",
        task="regression",
        hidden_sizes=[8],
        training=TrainingConfig(epochs=2),
        final_refit="never",
    )
    model = tmp_path / "table.nncli"
    save_tabular_model(model, train_tabular(data, options).model)
    for export_format in ("onnx", "torchscript"):
        report = export_model(model, ExportOptions(export_format, data=data))
        assert [entry["name"] for entry in report.inputs] == [columns]
        assert report.outputs[0]["name"] == "scaled_prediction"
        assert report.parity.max_abs_diff <= 1e-5
    if columns == "numeric":
        assert report.inputs[0]["features"] == ["a", "b", "b (missing indicator)"]


def test_a_failed_parity_check_writes_nothing(
    penguins_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nncli.export

    output = tmp_path / "net.onnx"
    monkeypatch.setattr(nncli.export, "max_difference", lambda got, expected: 0.5)
    with pytest.raises(QualityGateError, match="parity check failed"):
        export_model(penguins_model, ExportOptions("onnx", output))
    assert list(tmp_path.iterdir()) == []


def test_bad_export_options(penguins_model: Path) -> None:
    with pytest.raises(UsageError, match="--format"):
        export_model(penguins_model, ExportOptions("tflite"))
    with pytest.raises(UsageError, match="--opset"):
        export_model(penguins_model, ExportOptions("onnx", opset=11))
    with pytest.raises(UsageError, match="refusing to overwrite"):
        export_model(penguins_model, ExportOptions("onnx", output=penguins_model))
