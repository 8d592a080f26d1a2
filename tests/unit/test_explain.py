"""Permutation importance: the signal wins, shuffles are reproducible, inputs are validated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nncli.api import load_model, model_id, model_kind
from nncli.data.preprocessing import EncodedFeatures, transform
from nncli.errors import DataError, ExitCode, ModelFileError, UsageError
from nncli.explain import (
    ExplainOptions,
    ExplainReport,
    FeatureGroup,
    draw_permutations,
    permutation_importances,
)
from nncli.forecasting.explain import explain_forecast, lag_blocks
from nncli.forecasting.model import ForecastModel, ForecastOptions, train_forecaster
from nncli.forecasting.series import PanelSpec, load_panel
from nncli.reporting import CollectingReporter
from nncli.tabular.explain import explain_tabular
from nncli.tabular.model import TabularModel
from nncli.tabular.options import TabularOptions
from nncli.tabular.train import train_tabular
from nncli.training.loop import TrainingConfig

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "main-51c24c7"


def _signal_table(task: str, rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """Only x0 carries the target; x1..x4 are noise, x5 noise with blanks, c a noise category."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(6)})
    frame.loc[rng.random(rows) < 0.1, "x5"] = np.nan  # gives x5 a missing-value indicator
    frame["c"] = rng.choice(["red", "green", "blue"], size=rows)
    if task == "classification":
        frame["y"] = np.where(frame["x0"] > 0, "pos", "neg")
    else:
        frame["y"] = 3.0 * frame["x0"] + 0.1 * rng.normal(size=rows)
    return frame


def _train(path: Path, task: str) -> TabularModel:
    options = TabularOptions(
        target="y",
        task=task,
        hidden_sizes=[32, 16],
        dropout=0.0,
        training=TrainingConfig(epochs=60, patience=15, learning_rate=3e-3),
        final_refit="never",  # one fit: these tests are about explaining, not the refit
    )
    return train_tabular(path, options).model


@pytest.fixture(scope="module", params=["classification", "regression"])
def signal_model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("explain") / f"{request.param}.csv"
    _signal_table(request.param).to_csv(path, index=False)
    return _train(path, request.param), path


@pytest.mark.slow
def test_the_signal_column_ranks_first_by_a_clear_margin(signal_model) -> None:
    from sklearn.metrics import roc_auc_score

    model, path = signal_model
    # Fresh rows from the same process: importance on data the model did not train on.
    fresh = path.with_name(f"fresh-{path.name}")
    _signal_table(model.task, seed=1).to_csv(fresh, index=False)
    # The task's default metric (None), then its others.
    metrics = {"classification": [None, "accuracy", "roc_auc"], "regression": [None, "mae"]}
    for metric in metrics[model.task]:
        report = explain_tabular(model, fresh, ExplainOptions(repeats=5, seed=0, metric=metric))
        first, second = report.features[0], report.features[1]
        means = [(f.feature, f.mean) for f in report.features]
        assert first.feature == "x0", (metric, means)
        assert first.mean > (0.3 if model.task == "classification" else 1.0), (metric, means)
        assert first.mean > 5 * max(second.mean, 0.0), (metric, means)
        assert {f.feature for f in report.features} == {"x0", "x1", "x2", "x3", "x4", "x5", "c"}
        assert report.samples == 400 and all(len(f.values) == 5 for f in report.features)
        # The noise band (2 std over the shuffles) tells the signal from the noise columns;
        # a noise column the network leans on a hair (TabM: c at 0.05 % of x0) is negligible.
        assert not first.within_noise, metric
        negligible = [f.within_noise or f.mean < 0.01 * first.mean for f in report.features[1:]]
        assert all(negligible) and sum(f.within_noise for f in report.features) >= 5, metric
        assert first.noise_band == pytest.approx(2 * first.std) and first.noise_band > 0
        default = {"classification": "log_loss", "regression": "rmse"}[model.task]
        assert report.metric == (metric or default) and list(report.baseline) == [report.metric]
    if model.task == "classification":  # the last report: ROC-AUC, as scikit-learn has it
        frame = pd.read_csv(fresh)
        proba = model.outputs(transform(model.preprocessor, frame))[:, 1]
        expected = roc_auc_score(frame["y"] == "pos", proba)
        assert report.baseline["roc_auc"] == pytest.approx(expected, abs=1e-12)


def test_the_kernel_measures_worsening_with_a_noise_band() -> None:
    """A loss that reads only column 0: column 1's importance is exactly 0, within noise."""
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(200, 2))
    truth = 2.0 * inputs[:, 0].copy()

    def rmse() -> float:
        return float(np.sqrt(np.mean((2.0 * inputs[:, 0] - truth) ** 2)))

    groups = [
        FeatureGroup(name, "numeric", inputs, (slice(None), column))
        for column, name in enumerate(["used", "unused"])
    ]
    options = ExplainOptions(repeats=4, seed=1)
    base, features = permutation_importances(groups, draw_permutations(200, options), rmse)
    assert base == 0.0 and [f.feature for f in features] == ["used", "unused"]
    used, unused = features
    assert used.mean > 2.0 and not used.within_noise and len(used.values) == 4
    assert unused.values == [0.0] * 4 and unused.within_noise and unused.noise_band == 0.0
    np.testing.assert_array_equal(2.0 * inputs[:, 0], truth)  # every shuffle was put back
    entry = ExplainReport("tabular", "regression", "rmse", "", {"rmse": base}, 200, 4, 1,
                          features).to_dict()["features"][1]  # fmt: skip
    assert entry["within_noise"] is True and entry["noise_band"] == 0.0 and entry["rank"] == 2


@pytest.mark.slow
def test_the_training_file_is_flagged_and_shuffles_are_reproducible(signal_model) -> None:
    model, path = signal_model
    reporter = CollectingReporter()
    once = explain_tabular(model, path, ExplainOptions(repeats=2, seed=7), reporter=reporter)
    again = explain_tabular(model, path, ExplainOptions(repeats=2, seed=7))
    assert [f.values for f in once.features] == [f.values for f in again.features]
    assert any("the file the model was trained on" in w for w in reporter.warnings)
    document = once.to_dict()
    assert [f["rank"] for f in document["features"]] == list(range(1, 8))


@pytest.mark.slow
def test_shuffling_the_encoded_block_equals_shuffling_the_raw_column(signal_model) -> None:
    """The shortcut explain relies on: preprocessing is row-wise with fixed statistics."""
    model, path = signal_model
    frame = pd.read_csv(path)
    order = np.random.default_rng(3).permutation(len(frame))
    encoded = transform(model.preprocessor, frame)
    # x5 is the last numeric column: its value and its missing indicator (2 features).
    assert model.preprocessor.numeric[-1].missing_indicator
    for column in ("x5", "c"):
        shuffled = frame.copy()
        shuffled[column] = frame[column].to_numpy()[order]
        expected = transform(model.preprocessor, shuffled)
        numeric, categorical = encoded.numeric.copy(), encoded.categorical.copy()
        if column == "x5":
            numeric[:, -2:] = numeric[order][:, -2:]
        else:
            categorical[:, 0] = categorical[order, 0]
        np.testing.assert_array_equal(numeric, expected.numeric)
        np.testing.assert_array_equal(categorical, expected.categorical)
        np.testing.assert_array_equal(
            model.outputs(EncodedFeatures(numeric, categorical)), model.outputs(expected)
        )


@pytest.mark.slow
def test_bad_inputs_are_one_line_errors(signal_model, tmp_path: Path) -> None:
    model, path = signal_model
    frame = pd.read_csv(path)
    without_feature = tmp_path / "no-x3.csv"
    frame.drop(columns=["x3"]).to_csv(without_feature, index=False)
    with pytest.raises(DataError, match="column 'x3' is missing"):
        explain_tabular(model, without_feature)
    without_target = tmp_path / "no-y.csv"
    frame.drop(columns=["y"]).to_csv(without_target, index=False)
    with pytest.raises(DataError, match="'y'"):
        explain_tabular(model, without_target)
    with pytest.raises(UsageError, match="--repeats"):
        explain_tabular(model, path, ExplainOptions(repeats=0))
    with pytest.raises(UsageError, match="--metric must be one of accuracy, log_loss"):
        explain_tabular(model, path, ExplainOptions(metric="r2"))
    if model.task == "classification":
        one_class = tmp_path / "one-class.csv"
        frame[frame["y"] == "pos"].to_csv(one_class, index=False)
        with pytest.raises(DataError, match="ROC-AUC is undefined on these rows"):
            explain_tabular(model, one_class, ExplainOptions(metric="roc_auc"))
    with pytest.raises(UsageError, match="--lag-blocks"):
        ExplainOptions(lag_blocks=[5, 5]).validate()


@pytest.mark.slow
def test_a_metric_of_the_other_task_is_a_usage_error(signal_model) -> None:
    model, path = signal_model
    wrong = {"classification": "rmse", "regression": "log_loss"}[model.task]
    with pytest.raises(UsageError) as caught:
        explain_tabular(model, path, ExplainOptions(metric=wrong))
    assert caught.value.exit_code == ExitCode.USAGE == 2
    expected = {
        "classification": "--metric rmse judges regressors, but the model is a classifier "
        "— use one of accuracy, log_loss, roc_auc (default log_loss)",
        "regression": "--metric log_loss judges classifiers, but the model is a regressor "
        "— use one of rmse, mae (default rmse)",
    }[model.task]
    assert caught.value.one_line() == expected


def test_lag_blocks_cover_the_lookback_newest_first() -> None:
    assert lag_blocks(60) == [(1, 5), (6, 20), (21, 60)]
    assert lag_blocks(10) == [(1, 5), (6, 10)]
    assert lag_blocks(3) == [(1, 3)]
    assert lag_blocks(130) == [(1, 5), (6, 20), (21, 60), (61, 120), (121, 130)]
    assert lag_blocks(10, [1, 2]) == [(1, 1), (2, 2), (3, 4), (5, 8), (9, 10)]


def _panel_csv(path: Path, kind: str) -> PanelSpec:
    """Two series. 'covariate': the next step's change is today's `signal`; `noise` is noise.
    'ar': an AR(1) level series, so its newest lags predict the next value."""
    rng = np.random.default_rng(0)
    frames = []
    for name in ("A", "B"):
        n = 300
        signal, noise = rng.normal(size=n), rng.normal(size=n)
        if kind == "covariate":
            change = np.concatenate([[0.0], signal[:-1]])
            level = 100 + np.cumsum(change)
        else:
            level = np.zeros(n)
            for t in range(1, n):
                level[t] = 0.9 * level[t - 1] + rng.normal()
        frames.append(
            pd.DataFrame(
                {
                    "date": pd.bdate_range("2020-01-01", periods=n).strftime("%Y-%m-%d"),
                    "name": name,
                    "value": level,
                    "signal": signal,
                    "noise": noise,
                }
            )
        )
    pd.concat(frames).to_csv(path, index=False)
    return PanelSpec("date", "value", "name", ["signal", "noise"] if kind == "covariate" else [])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["covariate", "ar"])
def test_forecast_importance_finds_the_informative_input(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "panel.csv"
    spec = _panel_csv(path, kind)
    options = ForecastOptions(
        panel=spec,
        arch="mlp",  # learns these linear links in a second; the windows are the same for RNNs
        lookback=10,
        horizon=1,
        transform="diff" if kind == "covariate" else "none",
        hidden_size=16,
        training=TrainingConfig(epochs=30, patience=5, learning_rate=3e-3),
    )
    model, _ = train_forecaster(load_panel(path, spec), options)
    report = explain_forecast(model, path, ExplainOptions(repeats=3, seed=0))
    names = [f.feature for f in report.features]
    first, second = report.features[0], report.features[1]
    if kind == "covariate":
        assert set(names) == {
            "value (diff) lags 1-5",
            "value (diff) lags 6-10",
            "signal lags 1-10",
            "noise lags 1-10",
        }
        assert first.feature == "signal lags 1-10" and first.kind == "covariate"
    else:
        assert set(names) == {"value (none) lags 1-5", "value (none) lags 6-10"}
        assert first.feature == "value (none) lags 1-5" and first.lags == [1, 5]
    assert first.mean > 5 * max(second.mean, 0.0), [(f.feature, f.mean) for f in report.features]
    assert report.metric == "scaled_mae" and report.baseline["scaled_mae"] > 0
    # The model's validation share (15%) of each series' origins.
    origins = 300 - options.horizon - (options.first_valid + options.lookback - 1)
    assert report.samples == 2 * round(0.15 * origins)
    reporter = CollectingReporter()
    fewer = explain_forecast(
        model, path, ExplainOptions(repeats=1, windows=5, metric="mae"), reporter=reporter
    )
    assert fewer.samples == 10 and fewer.metric == "scaled_mae"
    assert "--metric applies to table models only; forecasters use scaled MAE" in reporter.warnings


def test_load_model_returns_the_kind_the_file_records() -> None:
    table = load_model(FIXTURES / "penguins.nncli")
    assert isinstance(table, TabularModel) and model_kind(table) == "tabular"
    series = load_model(FIXTURES / "stocks.nncli")
    assert isinstance(series, ForecastModel) and model_kind(series) == "forecast"
    assert model_id(table) and model_id(series) and model_id(table) != model_id(series)


def test_load_model_refuses_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    import torch

    from nncli.artifacts import save_model_file

    not_a_model = FIXTURES / "penguins_predictions.csv"
    with pytest.raises(ModelFileError, match="not an nncli model file") as caught:
        load_model(not_a_model)
    assert caught.value.exit_code == ExitCode.BAD_MODEL == 4
    assert caught.value.one_line().startswith(f"{not_a_model}: ")
    unknown_kind = tmp_path / "other.nncli"
    save_model_file(unknown_kind, {"w": torch.zeros(1)}, {"kind": "image", "model_id": "x"})
    with pytest.raises(ModelFileError, match="kind 'image'") as caught:
        load_model(unknown_kind)
    assert caught.value.exit_code == ExitCode.BAD_MODEL
