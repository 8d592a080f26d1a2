"""tune's pick: the best trial replaces the defaults only beyond one standard error of the
row-by-row difference on the validation rows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nncli.tuning.pick import compare_rows


def test_identical_errors_keep_the_defaults() -> None:
    errors = np.array([1.0, 4.0, 0.25, 9.0])
    comparison = compare_rows(errors, errors.copy(), "rmse")
    assert comparison.standard_errors == 0.0 and not comparison.best_wins
    assert comparison.to_dict()["kept"] == "defaults"


def test_a_gain_on_every_row_wins() -> None:
    defaults = np.array([4.0, 9.0, 16.0, 25.0])
    comparison = compare_rows(defaults - 1.0, defaults, "rmse")  # 1 less on every row: SE 0
    assert comparison.best_wins and comparison.standard_errors == float("inf")
    assert (comparison.best, comparison.defaults) == pytest.approx((12.5**0.5, 13.5**0.5))
    json.dumps(comparison.to_dict(), allow_nan=False)  # no infinity in the JSON


def test_a_gain_within_noise_keeps_the_defaults_and_a_clear_one_wins() -> None:
    rng = np.random.default_rng(0)
    defaults = rng.exponential(1.0, size=2000)
    noisy = defaults + rng.normal(-0.02, 1.0, size=2000)  # mean gain 0.02, SE about 0.022
    clear = defaults + rng.normal(-0.2, 1.0, size=2000)  # mean gain 0.2: about 9 SE
    small = compare_rows(noisy, defaults, "rmse")
    assert 0 < abs(small.standard_errors) < 1 and not small.best_wins
    assert "kept the defaults (trial 0): trial 5's" in small.sentence(5, 0)
    big = compare_rows(clear, defaults, "rmse")
    assert big.standard_errors > 5 and big.best_wins
    assert big.sentence(5, 0).startswith("trial 5 beats the defaults (trial 0)")


def test_accuracy_from_misses() -> None:
    best = np.array([0, 0, 0, 1, 0, 0, 0, 0, 0, 0], dtype=float)  # 9 of 10 right
    defaults = np.array([1, 1, 0, 1, 0, 1, 0, 0, 0, 0], dtype=float)  # 6 of 10 right
    comparison = compare_rows(best, defaults, "accuracy")
    assert (comparison.best, comparison.defaults) == pytest.approx((0.9, 0.6))
    assert comparison.mean_difference == pytest.approx(-0.3)
    # differences: -1 on three rows, 0 on seven: std 0.483, SE 0.153, 1.96 SE
    assert comparison.standard_errors == pytest.approx(1.964, abs=1e-3) and comparison.best_wins


def test_rows_that_do_not_match_are_refused() -> None:
    with pytest.raises(ValueError, match="same, non-empty rows"):
        compare_rows(np.zeros(3), np.zeros(4), "rmse")
    with pytest.raises(ValueError, match="same, non-empty rows"):
        compare_rows(np.zeros(0), np.zeros(0), "rmse")
