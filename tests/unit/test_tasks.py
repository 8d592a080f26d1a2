"""The Task strategy: what differs between classification and regression."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from nncli.errors import DataError
from nncli.tasks import ClassificationTask, RegressionTask, task_for

CSV = Path("table.csv")


def test_task_for_names_each_task_and_refuses_others() -> None:
    assert isinstance(task_for("classification"), ClassificationTask)
    assert isinstance(task_for("regression"), RegressionTask)
    with pytest.raises(ValueError, match="unknown task 'ranking'"):
        task_for("ranking")


def test_better_follows_the_primary_metric_direction() -> None:
    classification, regression = task_for("classification"), task_for("regression")
    assert classification.primary_metric == "accuracy"
    assert classification.better(0.9, 0.8) and not classification.better(0.8, 0.9)
    assert regression.primary_metric == "rmse"
    assert regression.better(1.0, 2.0) and not regression.better(2.0, 1.0)
    assert regression.worsening(1.0, 1.5) == 0.5
    assert classification.worsening(0.9, 0.7) == pytest.approx(0.2)


def test_best_of_picks_the_best_primary_metric() -> None:
    scores = {"a": {"accuracy": 0.6, "rmse": 3.0}, "b": {"accuracy": 0.7, "rmse": 2.0}}
    assert task_for("classification").best_of(scores) == "b"
    assert task_for("regression").best_of(scores) == "b"
    scores["b"]["rmse"] = 4.0
    assert task_for("regression").best_of(scores) == "a"


def test_classification_reads_sorted_classes_and_decodes_probabilities() -> None:
    task = task_for("classification")
    truth, target = task.read_target(pd.Series(["b", "a", "10", "2", "a"]), CSV, "y")
    assert target == {"name": "y", "classes": ["2", "10", "a", "b"]}
    assert truth.tolist() == [3, 2, 1, 0, 2]
    assert task.fit_target(target, truth) == target
    assert task.n_outputs(target) == 4
    assert task.encode(truth, target).tolist() == truth.tolist()
    raw = np.array([[0.0, 0.0, 5.0, 0.0]], dtype=np.float32)
    proba = task.decode(raw, target)
    assert proba == pytest.approx(torch.softmax(torch.from_numpy(raw), dim=1).numpy())
    assert proba.shape == (1, 4) and proba.sum() == pytest.approx(1.0)
    assert task.prediction_columns(proba, target)["prediction"] == ["a"]
    assert list(task.prediction_columns(proba, target, proba=True)) == [
        "prediction",
        "proba_2",
        "proba_10",
        "proba_a",
        "proba_b",
    ]


def test_classification_marks_unknown_labels_and_refuses_one_class() -> None:
    task = task_for("classification")
    truth = task.truth(pd.Series(["a", "z"]), {"name": "y", "classes": ["a", "b"]}, CSV)
    assert task.unknown(truth).tolist() == [False, True]
    with pytest.raises(DataError, match="single class"):
        task.read_target(pd.Series(["a", "a"]), CSV, "y")


def test_classification_loss_is_cross_entropy_with_optional_class_weights() -> None:
    task = task_for("classification")
    target = {"name": "y", "classes": ["a", "b"]}
    train_truth = np.array([0, 0, 0, 1])
    plain = task.loss(target, train_truth)
    weighted = task.loss(target, train_truth, class_weights=True)
    assert isinstance(plain, nn.CrossEntropyLoss) and plain.weight is None
    assert isinstance(weighted, nn.CrossEntropyLoss)
    assert weighted.weight is not None
    assert weighted.weight.tolist() == pytest.approx([4 / 6, 4 / 2])


def test_regression_round_trips_through_standardised_targets() -> None:
    task = task_for("regression")
    truth, target = task.read_target(pd.Series([1.0, 2.0, 3.0, 6.0]), CSV, "y")
    target = task.fit_target(target, truth)
    assert target["mean"] == pytest.approx(3.0) and target["std"] > 0
    encoded = task.encode(truth, target)
    assert encoded.shape == (4, 1) and encoded.dtype == torch.float32
    assert float(encoded.mean()) == pytest.approx(0.0, abs=1e-6)
    assert task.decode(encoded.numpy(), target) == pytest.approx(truth, rel=1e-6)
    assert isinstance(task.loss(target, truth), nn.MSELoss)
    assert task.n_outputs(target) == 1
    assert not task.unknown(np.array([-1.0, 2.0])).any()


def test_regression_constant_target_keeps_a_unit_scale() -> None:
    task = task_for("regression")
    target = task.fit_target({"name": "y"}, np.array([5.0, 5.0]))
    assert target["std"] == 1.0


def test_validation_metric_reports_the_primary_metric_in_target_units() -> None:
    accuracy = task_for("classification").validation_metric({"name": "y", "classes": ["a", "b"]})
    assert accuracy(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0])) == 0.5
    rmse = task_for("regression").validation_metric({"name": "y", "mean": 0.0, "std": 10.0})
    assert rmse(torch.tensor([[1.0]]), torch.tensor([[0.0]])) == pytest.approx(10.0)


def test_fast_scores_agree_with_the_full_metrics() -> None:
    task = task_for("classification")
    target = {"name": "y", "classes": ["a", "b"]}
    outputs = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    truth = np.array([0, 1, 1])
    accuracy, log_loss = task.fast_scores(outputs, truth)
    full = task.score(outputs, truth, target)
    assert accuracy == pytest.approx(full["accuracy"])
    assert log_loss == pytest.approx(full["log_loss"])
    regression = task_for("regression")
    rmse, nothing = regression.fast_scores(np.array([1.0, 3.0]), np.array([2.0, 2.0]))
    assert rmse == pytest.approx(1.0) and np.isnan(nothing)
    assert rmse == pytest.approx(
        regression.score(np.array([1.0, 3.0]), np.array([2.0, 2.0]), {})["rmse"]
    )


def test_overfitting_warning_only_for_a_large_gap() -> None:
    classification, regression = task_for("classification"), task_for("regression")
    assert classification.overfitting_warning({"accuracy": 0.9}, {"accuracy": 0.85}) is None
    warning = classification.overfitting_warning({"accuracy": 1.0}, {"accuracy": 0.7})
    assert warning is not None and warning.startswith("overfitting: train accuracy 1.000")
    assert regression.overfitting_warning({"rmse": 1.0}, {"rmse": 1.2}) is None
    assert "train RMSE 1 vs validation 2" in str(
        regression.overfitting_warning({"rmse": 1.0}, {"rmse": 2.0})
    )


def test_check_target_refuses_an_incomplete_regression_target() -> None:
    task_for("classification").check_target({"name": "y", "classes": ["a", "b"]})
    task_for("regression").check_target({"name": "y", "mean": 0.0, "std": 1.0})
    with pytest.raises(KeyError):
        task_for("regression").check_target({"name": "y"})


def test_stratification_only_for_classes() -> None:
    labels = pd.Series([1, 2, 1])
    classification, regression = task_for("classification"), task_for("regression")
    stratify = classification.stratify_by(*classification.read_target(labels, CSV, "y"))
    assert stratify is not None and stratify.tolist() == ["1", "2", "1"]
    assert regression.stratify_by(*regression.read_target(labels, CSV, "y")) is None
