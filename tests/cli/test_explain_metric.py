"""`nncli explain --metric`: the importance is the chosen metric's worsening, ranked as
scikit-learn's `permutation_importance` ranks it, with a noise band per feature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nncli.api import load_model
from nncli.data.preprocessing import transform
from nncli.errors import ExitCode
from nncli.reporting import CollectingReporter
from nncli.tabular.evaluate import read_labelled_rows
from nncli.tabular.model import TabularModel


def _estimator(model: TabularModel) -> Any:
    """nncli's model as a fitted scikit-learn estimator over the raw columns of a table."""
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

    def outputs(frame: Any) -> np.ndarray:
        return model.outputs(transform(model.preprocessor, frame))

    class Classifier(ClassifierMixin, BaseEstimator):
        classes_ = np.arange(len(model.target.get("classes", [])))

        def fit(self, frame: Any, truth: Any) -> Classifier:
            return self

        def predict_proba(self, frame: Any) -> np.ndarray:
            return outputs(frame)

        def predict(self, frame: Any) -> np.ndarray:
            return outputs(frame).argmax(axis=1)

    class Regressor(RegressorMixin, BaseEstimator):
        def fit(self, frame: Any, truth: Any) -> Regressor:
            return self

        def predict(self, frame: Any) -> np.ndarray:
            return outputs(frame)

    return Classifier() if model.task == "classification" else Regressor()


# (model fixture, data file, --metric or None for the default, scikit-learn's scorer)
CASES = {
    "penguins-default-log-loss": ("penguins_model", "penguins.csv", None, "neg_log_loss"),
    "penguins-accuracy": ("penguins_model", "penguins.csv", "accuracy", "accuracy"),
    "autompg-default-rmse": ("autompg_model", "autompg.csv", None, "neg_root_mean_squared_error"),
    "autompg-mae": ("autompg_model", "autompg.csv", "mae", "neg_mean_absolute_error"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_ranking_matches_scikit_learns_permutation_importance(
    case: str, cli, sample_data: Path, request: pytest.FixtureRequest
) -> None:
    from scipy.stats import spearmanr
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import get_scorer

    fixture, data_name, metric, scoring = CASES[case]
    path, data = request.getfixturevalue(fixture), sample_data / data_name
    flags = ["--metric", metric] if metric else []
    document = cli.json("explain", path, data, "--repeats", "10", "--seed", "0", *flags)
    expected_metric = metric or {"penguins.csv": "log_loss", "autompg.csv": "rmse"}[data_name]
    assert document["metric"] == expected_metric and list(document["baseline"]) == [expected_metric]
    ours = {f["feature"]: f["importance_mean"] for f in document["features"]}

    model = load_model(path)
    assert isinstance(model, TabularModel)
    labelled = read_labelled_rows(model, data, None, CollectingReporter(), training_file_note="")
    frame = labelled.rows.reset_index(drop=True)
    theirs = permutation_importance(
        _estimator(model), frame[list(ours)], labelled.truth,
        scoring=scoring, n_repeats=10, random_state=0,
    )  # fmt: skip
    sklearn = dict(zip(ours, theirs.importances_mean, strict=True))
    # The same rows and model: the unshuffled score is scikit-learn's (to float32 rounding).
    unshuffled = get_scorer(scoring)(_estimator(model), frame[list(ours)], labelled.truth)
    assert document["baseline"][expected_metric] == pytest.approx(abs(unshuffled), rel=1e-4)
    names = list(ours)
    top = [name for name, _ in sorted(ours.items(), key=lambda item: -item[1])[:3]]
    assert set(top) == set(sorted(sklearn, key=lambda name: -sklearn[name])[:3]), (ours, sklearn)
    rho = spearmanr([ours[n] for n in names], [sklearn[n] for n in names]).statistic
    assert rho >= 0.9, (rho, ours, sklearn)
    # Bigger = more important for every metric: the top feature's worsening is positive.
    assert ours[top[0]] > 0 and sklearn[top[0]] > 0


def test_a_metric_must_fit_the_models_task(cli, penguins_model: Path, autompg_model: Path,
                                           sample_data: Path) -> None:  # fmt: skip
    penguins, autompg = sample_data / "penguins.csv", sample_data / "autompg.csv"
    for model, data, metric, expected in [
        (penguins_model, penguins, "rmse", "--metric rmse judges regressors, but the model is "
         "a classifier — use one of accuracy, log_loss, roc_auc (default log_loss)"),
        (autompg_model, autompg, "roc_auc", "--metric roc_auc judges classifiers, but the model "
         "is a regressor — use one of rmse, mae (default rmse)"),
        (autompg_model, autompg, "r2", "--metric must be one of accuracy, log_loss, roc_auc, "
         "rmse, mae, not 'r2'"),
    ]:  # fmt: skip
        result = cli("explain", model, data, "--metric", metric, code=ExitCode.USAGE)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert errors == [f"error: {expected}"] and "Traceback" not in result.stderr
        assert result.stdout == ""
    # The declaration gives the NNCLI_* variable too; a flag overrides it.
    document = cli.json("explain", penguins_model, penguins, "--repeats", "1",
                        env={"NNCLI_METRIC": "accuracy"})  # fmt: skip
    assert document["metric"] == "accuracy" and list(document["baseline"]) == ["accuracy"]
    result = cli("explain", penguins_model, penguins, "--repeats", "1", "--metric", "roc_auc",
                 env={"NNCLI_METRIC": "rmse"})  # fmt: skip
    assert "permutation importance: drop in ROC-AUC" in result.stdout


def test_the_noise_band_is_in_the_json_and_the_table(
    cli, penguins_model: Path, sample_data: Path
) -> None:
    args = ("explain", penguins_model, sample_data / "penguins.csv", "--repeats", "4")
    document = cli.json(*args, "--metric", "accuracy")
    features = document["features"]
    for feature in features:
        assert feature["noise_band"] == pytest.approx(2 * feature["importance_std"])
        mean, band = feature["importance_mean"], feature["noise_band"]
        assert feature["within_noise"] is (mean <= band)
    assert not features[0]["within_noise"] and features[0]["importance_mean"] > 0.05
    # 'year' does not tell the species apart: shuffling it moves at most one of the 344
    # predictions (the network refitted on train+validation leans on it for one penguin).
    year = next(f for f in features if f["feature"] == "year")
    assert year["importance_mean"] <= 1 / 344 + 1e-9
    assert any(f["within_noise"] for f in features)  # sex, flipper length, island
    table = cli(*args, "--metric", "accuracy").stdout
    assert "permutation importance: drop in accuracy" in table
    for feature in features:
        line = next(row for row in table.splitlines() if f" {feature['feature']} " in row)
        assert ("(noise)" in line) is feature["within_noise"], line
        assert bool(set(line) & set("█▏▎▍▌▋▊▉")) is not feature["within_noise"], line
    assert "mean and std over 4 shuffles; noise: within 2 std of 0" in table
