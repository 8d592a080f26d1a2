"""nncli.metrics computes what scikit-learn computes, without importing it."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn import metrics as sk

from nncli.metrics import (
    classification_metrics,
    confusion,
    per_class_scores,
    regression_metrics,
)


def _random_proba(rng: np.random.Generator, rows: int, classes: int, coarse: bool) -> np.ndarray:
    raw = rng.random((rows, classes))
    if coarse:  # many ties, as a network's rounded or saturated outputs have
        raw = np.round(raw, 1) + 1e-3
    return raw / raw.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("seed", range(12))
def test_classification_metrics_match_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_classes = int(rng.integers(2, 6))
    rows = int(rng.integers(5, 300))
    y_true = rng.integers(0, n_classes, rows)
    proba = _random_proba(rng, rows, n_classes, coarse=seed % 2 == 0)
    ours = classification_metrics(y_true, proba, n_classes)
    predicted = proba.argmax(axis=1)
    labels = list(range(n_classes))
    assert ours["accuracy"] == pytest.approx(sk.accuracy_score(y_true, predicted))
    with warnings.catch_warnings():  # scikit-learn warns when a predicted class is absent
        warnings.simplefilter("ignore")
        expected_balanced = sk.balanced_accuracy_score(y_true, predicted)
    assert ours["balanced_accuracy"] == pytest.approx(expected_balanced)
    assert ours["f1_macro"] == pytest.approx(
        sk.f1_score(y_true, predicted, average="macro", labels=labels, zero_division=0)
    )
    assert ours["log_loss"] == pytest.approx(sk.log_loss(y_true, proba, labels=labels))
    # nncli scores the clipped, renormalised probabilities (as it did through scikit-learn).
    proba = np.clip(proba, 1e-15, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    present = np.unique(y_true)
    if n_classes == 2 and len(present) == 2:
        assert ours["roc_auc"] == pytest.approx(sk.roc_auc_score(y_true, proba[:, 1]))
    elif len(present) == n_classes:
        expected = sk.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels)
        assert ours["roc_auc"] == pytest.approx(expected)
    else:
        assert ours["roc_auc"] is None


@pytest.mark.parametrize("seed", range(6))
def test_confusion_and_per_class_scores_match_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n_classes = int(rng.integers(2, 7))
    y_true = rng.integers(0, n_classes, 80)
    predicted = rng.integers(0, n_classes - 1, 80)  # one class never predicted
    labels = list(range(n_classes))
    assert (
        confusion(y_true, predicted, n_classes)
        == sk.confusion_matrix(y_true, predicted, labels=labels).tolist()
    )
    classes = [f"c{i}" for i in labels]
    scores = per_class_scores(y_true, predicted, classes)
    precision, recall, f1, support = sk.precision_recall_fscore_support(
        y_true, predicted, labels=labels, zero_division=0
    )
    for index, label in enumerate(classes):
        assert scores[label]["precision"] == pytest.approx(precision[index])
        assert scores[label]["recall"] == pytest.approx(recall[index])
        assert scores[label]["f1"] == pytest.approx(f1[index])
        assert scores[label]["support"] == support[index]


@pytest.mark.parametrize("seed", range(6))
def test_regression_metrics_match_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    y_true = rng.normal(10, 3, 50)
    predicted = y_true + rng.normal(0, 1, 50)
    ours = regression_metrics(y_true, predicted)
    assert ours["rmse"] == pytest.approx(sk.root_mean_squared_error(y_true, predicted))
    assert ours["mae"] == pytest.approx(sk.mean_absolute_error(y_true, predicted))
    assert ours["r2"] == pytest.approx(sk.r2_score(y_true, predicted))
    assert ours["mape"] == pytest.approx(sk.mean_absolute_percentage_error(y_true, predicted))


def test_regression_edge_cases_follow_scikit_learn() -> None:
    constant = np.full(5, 2.0)
    assert regression_metrics(constant, constant)["r2"] == sk.r2_score(constant, constant)
    assert regression_metrics(constant, constant + 1)["r2"] == sk.r2_score(constant, constant + 1)
    assert regression_metrics(np.array([0.0, 1.0]), np.array([0.5, 1.0]))["mape"] is None


def test_computing_metrics_does_not_import_scikit_learn() -> None:
    code = (
        "import sys, numpy as np\n"
        "from nncli.metrics import classification_metrics, regression_metrics\n"
        "classification_metrics(np.array([0, 1, 1]), np.array([[.6, .4], [.3, .7], [.2, .8]]), 2)\n"
        "regression_metrics(np.array([1., 2.]), np.array([1., 3.]))\n"
        "print('sklearn' in sys.modules, 'scipy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
