"""Seasons per frequency, ETS run forward with fixed parameters, the Diebold-Mariano test in
the verdict, and verdicts in words that fit any series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nncli.forecasting.baselines import (
    PanelBaselines,
    panel_seasons,
    recorded_seasons,
    seasonal_naive_name,
)
from nncli.forecasting.gates import compare_with_baselines
from nncli.forecasting.scoring import ForecastPoints, score, window_losses
from nncli.forecasting.series import Series
from nncli.forecasting.statistical import ets_forecasts_at, fit_ets
from nncli.reporting import CollectingReporter


def _series(name: str, freq: str, length: int = 120, values: np.ndarray | None = None) -> Series:
    stamps = pd.date_range("2001-01-01", periods=length, freq=freq)
    levels = values if values is not None else 50 + np.arange(length, dtype=float)
    return Series(name, stamps, levels, np.zeros((length, 0)))


@pytest.mark.parametrize(
    ("freq", "season"),
    [("MS", 12), ("QS", 4), ("W-SUN", 52), ("B", 5), ("D", 7), ("h", 24), ("YS", 1)],
)
def test_the_season_follows_the_frequency(freq: str, season: int) -> None:
    series = _series("s", freq)
    assert panel_seasons([series]) == {"s": season}
    assert panel_seasons([series], override=3) == {"s": 3}  # --season wins
    assert panel_seasons([series], override=1) == {"s": 1}  # --season 1: no seasonality


def test_a_models_recorded_seasons_come_before_the_frequency() -> None:
    metadata = {"season": {"option": 6, "per_series": {"a": 6}}, "series": {"a": {}, "b": {}}}
    recorded = recorded_seasons(metadata)
    assert recorded == {"a": 6} and recorded_seasons({"series": {"b": {"season": 4}}}) == {"b": 4}
    panel = [_series("a", "MS"), _series("b", "MS")]
    assert panel_seasons(panel, recorded=recorded) == {"a": 6, "b": 12}
    assert panel_seasons(panel, 1, recorded) == {"a": 1, "b": 1}


def test_the_seasonal_naive_row_is_named_once_per_panel() -> None:
    assert seasonal_naive_name([12, 12, 1]) == "seasonal naive (m=12)"
    assert seasonal_naive_name([12, 4]) == "seasonal naive"
    assert seasonal_naive_name([1, 1]) is None


def _seasonal(length: int = 240, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    return 100 + 20 * np.sin(2 * np.pi * t / 12) + 0.05 * t + rng.normal(0, 1, length)


@pytest.mark.slow
def test_ets_runs_forward_without_looking_ahead() -> None:
    values = _seasonal()
    origins = np.arange(180, 228)
    forecasts, fit = ets_forecasts_at(values, origins, 12, 12)
    assert forecasts.shape == (48, 12) and fit.seasonal == "add" and not fit.fallback
    # The first origin's forecast is the chosen model's own (statsmodels' step m is one
    # season older; every other step agrees).
    first = fit_ets(values[:181], 12, 12).forecast
    np.testing.assert_allclose(np.delete(forecasts[0], 11), np.delete(first, 11), rtol=1e-9)
    # What happens after an origin never moves its forecast.
    changed = values.copy()
    changed[201:] += 50
    again, _ = ets_forecasts_at(changed, origins, 12, 12, fit)
    np.testing.assert_array_equal(again[: 200 - 180 + 1], forecasts[: 200 - 180 + 1])
    assert not np.allclose(again[-1], forecasts[-1])
    actual = np.array([values[o + 1 : o + 13] for o in origins[:37]])
    assert np.abs(forecasts[:37] - actual).mean() < 2.0  # it tracks the season


def test_a_failed_ets_fit_falls_back_to_naive_and_says_so_once() -> None:
    reporter = CollectingReporter()
    baselines = PanelBaselines({"short": 1}, reporter)
    levels = np.array([5.0, np.nan, 6.0, 7.0])
    for origins in ([2], [3]):
        rows = baselines.at("short", levels, origins, 2)
        assert rows["ETS"][0].tolist() == [levels[origins[0]]] * 2
    assert len(reporter.warnings) == 1 and "ETS could not be fitted" in reporter.warnings[0]


def _points(losses: list[float]) -> ForecastPoints:
    points = ForecastPoints()
    for loss in losses:  # one window of two steps per loss; actual 0, scale 1
        points.add(np.zeros(2), np.full(2, loss), 0.0, 1.0)
    return points


def test_the_dm_test_in_the_verdict_has_the_right_sign_and_size() -> None:
    rng = np.random.default_rng(1)
    network = _points(list(np.abs(rng.normal(0.5, 0.1, 40))))
    rival = _points(list(np.abs(rng.normal(1.0, 0.1, 40))))
    assert len(window_losses(network)) == 40 and len(window_losses(network, False)) == 80
    scores = {"network": score(network), "naive": score(rival)}
    better = compare_with_baselines(scores, {"network": network, "naive": rival})
    assert better.dm_statistic is not None and better.dm_statistic < -5
    assert better.dm_p_value is not None and better.dm_p_value < 0.001
    assert better.verdict("GRU").endswith("(DM p<0.001).")
    worse = compare_with_baselines(
        {"network": scores["naive"], "naive": scores["network"]},
        {"network": rival, "naive": network},
    )
    assert worse.dm_statistic is not None and worse.dm_statistic > 5 and worse.outcome == "loses"
    same = _points(list(window_losses(network) + rng.normal(0, 0.2, 40)))
    tie = compare_with_baselines(
        {"network": score(same), "naive": scores["network"]}, {"network": same, "naive": network}
    )
    assert tie.dm_p_value is not None and tie.dm_p_value > 0.05
    assert "not significant at 5%" in tie.verdict("GRU")


def test_verdicts_name_the_winner_in_domain_neutral_words() -> None:
    cases = [(0.5, 1.0, 0.8), (0.9, 1.0, 0.8), (1.2, 1.0, 1.1), (0.999, 1.0, 1.3)]
    for network, naive, ets in cases:
        scores = {"network": {"mase": network}, "naive": {"mase": naive}, "ETS": {"mase": ets}}
        comparison = compare_with_baselines(scores)
        text = comparison.verdict("LSTM", on="validation MASE")
        for word in ("price", "return", "random walk", "stock"):
            assert word not in text.lower()
        winner = {"beats": "LSTM", "level": "LSTM", "loses": None}[comparison.outcome]
        if winner is None:
            assert text.startswith(("ETS beats the LSTM", "The naive forecast beats the LSTM"))
        assert comparison.to_dict()["baselines"] == {"naive": naive, "ETS": ets}
