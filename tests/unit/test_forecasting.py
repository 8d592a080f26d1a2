"""Forecasting building blocks: transforms, windows, calendars, series checks, history file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from nncli.errors import DataError, StaleDataError
from nncli.forecasting.calendar import future_timestamps, infer_frequency
from nncli.forecasting.predict import append_history, check_freshness, parse_age
from nncli.forecasting.series import PanelSpec, load_panel
from nncli.forecasting.transforms import TRANSFORMS, get_transform
from nncli.forecasting.windows import make_future, make_windows, window_origins
from nncli.reporting import CollectingReporter

PRICES = np.array([100.0, 101.5, 99.8, 102.3, 104.0, 103.1, 105.7, 107.2])


@pytest.mark.parametrize("name", TRANSFORMS)
def test_transform_then_invert_returns_the_series(name: str) -> None:
    transform = get_transform(name)
    steps = transform.step_values(PRICES)
    rebuilt = (
        transform.invert_steps(PRICES[0], steps[1:])
        if name != "none"
        else transform.invert_steps(0, steps)
    )
    expected = PRICES[1:] if name != "none" else PRICES
    np.testing.assert_allclose(rebuilt, expected, rtol=1e-12)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_cumulative_change_inverts_exactly_also_for_quantiles(name: str) -> None:
    origins = PRICES[:3]
    future = np.stack([PRICES[1:4], PRICES[2:5], PRICES[3:6]])
    transform = get_transform(name)
    change = transform.cumulative_change(origins, future)
    np.testing.assert_allclose(transform.invert_cumulative(origins, change), future, rtol=1e-12)
    # Monotone: a higher change is a higher level, so quantiles map to level quantiles.
    stacked = np.stack([change - 0.01, change, change + 0.01], axis=-1)
    levels = transform.invert_cumulative(origins, stacked)
    assert np.all(np.diff(levels, axis=-1) > 0)


def test_log_return_values() -> None:
    steps = get_transform("log-return").step_values(PRICES)
    assert np.isnan(steps[0])
    assert steps[1] == pytest.approx(np.log(101.5 / 100.0))


def test_windows_are_views_and_never_see_the_future() -> None:
    length, lookback, horizon = 50, 7, 3
    index = torch.arange(length, dtype=torch.float64)
    windows = make_windows(index[:, None], lookback)  # [N, L, 1]
    future = make_future(index, horizon)  # [T-H, H]
    assert windows.shape == (length - lookback + 1, lookback, 1)
    assert windows.data_ptr() == index.data_ptr()  # a view: no copy was made
    for origin in window_origins(length, lookback, horizon):
        window = windows[origin - lookback + 1, :, 0]
        targets = future[origin]
        assert window[-1] == origin  # the window ends at the origin ...
        assert window.max() < targets.min()  # ... and no input is at or after the first target
        assert targets.tolist() == [origin + k for k in range(1, horizon + 1)]


def test_unfold_windows_match_a_python_loop() -> None:
    rng = np.random.default_rng(0)
    features = torch.from_numpy(rng.normal(size=(40, 3)))
    windows = make_windows(features, 5)
    looped = torch.stack([features[i : i + 5] for i in range(40 - 5 + 1)])
    assert torch.equal(windows, looped)


def test_a_friday_origin_forecasts_monday_first() -> None:
    friday = pd.Timestamp("2024-05-03")
    assert friday.day_name() == "Friday"
    stamps = future_timestamps(friday, "B", 3)
    assert [s.day_name() for s in stamps] == ["Monday", "Tuesday", "Wednesday"]
    assert stamps[0] == pd.Timestamp("2024-05-06")


def test_frequencies_are_inferred(sample_data: Path) -> None:
    panel = load_panel(sample_data / "stocks.csv", PanelSpec("date", "adj_close", "ticker"))
    assert {infer_frequency(s.timestamps) for s in panel} == {"B"}
    hourly = pd.date_range("2024-01-01", periods=48, freq="h")
    assert infer_frequency(hourly) == "h"
    assert list(future_timestamps(hourly[-1], "h", 2)) == list(
        pd.date_range(hourly[-1], periods=3, freq="h")[1:]
    )


def test_stock_panel_loads_four_series(sample_data: Path) -> None:
    panel = load_panel(
        sample_data / "stocks.csv", PanelSpec("date", "adj_close", "ticker", ["volume"])
    )
    assert [s.name for s in panel] == ["AAPL", "GOOG", "IBM", "MSFT"]
    assert len(panel[0]) == 3270 and len(panel[1]) == 2148
    assert panel[0].covariates.shape == (3270, 1)
    assert all(s.timestamps.is_monotonic_increasing for s in panel)


def _write(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "series.csv"
    frame.to_csv(path, index=False)
    return path


def test_duplicate_timestamps_name_the_series(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "date": ["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-01"],
            "ticker": ["A", "A", "A", "B"],
            "price": [1.0, 2.0, 3.0, 4.0],
        }
    )
    with pytest.raises(DataError, match=r"series 'A' has more than one row at 2024-01-02"):
        load_panel(_write(tmp_path, frame), PanelSpec("date", "price", "ticker"))


def test_unsorted_rows_are_sorted_and_short_series_left_out(tmp_path: Path) -> None:
    dates = pd.date_range("2024-01-01", periods=30, freq="D").strftime("%Y-%m-%d").tolist()
    frame = pd.DataFrame(
        {
            "date": dates[::-1] + dates[:3],
            "ticker": ["LONG"] * 30 + ["SHORT"] * 3,
            "price": [*list(range(30, 0, -1)), 1.0, 2.0, 3.0],
        }
    )
    reporter = CollectingReporter()
    panel = load_panel(
        _write(tmp_path, frame),
        PanelSpec("date", "price", "ticker"),
        reporter=reporter,
        min_length=10,
    )
    assert [s.name for s in panel] == ["LONG"]
    assert panel[0].levels[0] == 1 and panel[0].levels[-1] == 30
    assert any("'LONG': rows were not in time order" in note for note in reporter.notes)
    assert any("series 'SHORT' has 3 usable rows" in w for w in reporter.warnings)


def test_unreadable_time_value_names_the_row(tmp_path: Path) -> None:
    frame = pd.DataFrame({"date": ["2024-01-01", "soon", "2024-01-03"], "price": [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match=r"unreadable value 'soon' at data row 2"):
        load_panel(_write(tmp_path, frame), PanelSpec("date", "price"))


def test_wide_files_become_one_series_per_column(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"date": ["2024-01-01", "2024-01-02", "2024-01-03"], "AAA": [1.0, 2, 3], "BBB": [4.0, 5, 6]}
    )
    panel = load_panel(_write(tmp_path, frame), PanelSpec("date", "value", wide=True))
    assert [(s.name, s.levels.tolist()) for s in panel] == [("AAA", [1, 2, 3]), ("BBB", [4, 5, 6])]


def _forecasts(origin: str, value: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series": ["A", "A"],
            "origin": [origin, origin],
            "step": [1, 2],
            "timestamp": ["t1", "t2"],
            "forecast": [value, value],
            "lower": [0.0, 0.0],
            "upper": [9.0, 9.0],
            "model_id": ["m", "m"],
        }
    )


def test_history_append_is_idempotent_and_keeps_earlier_rows(tmp_path: Path) -> None:
    history = tmp_path / "history.csv"
    assert append_history(history, _forecasts("2024-01-01", 1.0)) == 2
    first = history.read_bytes()
    assert append_history(history, _forecasts("2024-01-01", 1.0)) == 0
    assert history.read_bytes() == first
    # A rerun with a different value for the same key never rewrites the past.
    assert append_history(history, _forecasts("2024-01-01", 5.0)) == 0
    assert append_history(history, _forecasts("2024-01-02", 2.0)) == 2
    frame = pd.read_csv(history)
    assert len(frame) == 4 and frame["forecast"].tolist() == [1.0, 1.0, 2.0, 2.0]


def test_freshness_check(sample_data: Path) -> None:
    panel = load_panel(sample_data / "stocks.csv", PanelSpec("date", "adj_close", "ticker"))
    check_freshness(panel, 3, pd.Timestamp("2013-03-03").to_pydatetime())
    with pytest.raises(StaleDataError, match="2013-03-01"):
        check_freshness(panel, 3, pd.Timestamp("2013-03-10").to_pydatetime())
    assert parse_age("36h") == 1.5 and parse_age("2w") == 14 and parse_age("3") == 3


# --- transforms as objects -------------------------------------------------------------------


@pytest.mark.parametrize("name", TRANSFORMS)
def test_registry_round_trips_by_name(name: str) -> None:
    transform = get_transform(name)
    assert transform.name == name and get_transform(transform) is transform
    assert transform.first_valid == (0 if name == "none" else 1)
    steps = transform.step_values(PRICES)
    # The per-step values inverted from the origin rebuild every later level ...
    start = transform.first_valid
    origin = PRICES[start - 1] if start else 0.0
    np.testing.assert_allclose(transform.invert_steps(origin, steps[start:]), PRICES[start:])
    # ... and the cumulative change of each future level inverts back to it.
    future = PRICES[None, 1:]
    change = transform.cumulative_change(PRICES[:1], future)
    np.testing.assert_allclose(transform.invert_cumulative(PRICES[:1], change), future)


def test_unknown_transform_is_a_usage_error() -> None:
    from nncli.errors import UsageError

    with pytest.raises(UsageError, match="--transform must be one of log-return, diff, pct, none"):
        get_transform("log")


def test_ratio_transforms_refuse_non_positive_levels() -> None:
    levels = np.array([3.0, 0.0, 2.0])
    for name in TRANSFORMS:
        transform = get_transform(name)
        if transform.positive_levels:
            with pytest.raises(DataError, match="position 2 is not positive"):
                transform.check_levels(levels, "s")
        else:
            transform.check_levels(levels, "s")


def test_forecast_architectures_match_the_networks() -> None:
    from nncli.forecasting.options import FORECAST_ARCHITECTURES
    from nncli.models.recurrent import ARCHITECTURES

    assert ("nhits", *ARCHITECTURES) == FORECAST_ARCHITECTURES


# --- options, verdicts and quality gates ------------------------------------------------------


def _scores(network: float, naive: float, drift: float | None = None) -> dict:
    scores = {"network": {"mase": network}, "naive": {"mase": naive}}
    if drift is not None:
        scores["drift"] = {"mase": drift}
    return scores


def test_forecast_options_are_checked_from_their_declarations() -> None:
    from nncli.errors import UsageError
    from nncli.forecasting.options import ForecastOptions
    from nncli.training.config import TrainingConfig

    spec = PanelSpec("date", "value")
    with pytest.raises(UsageError, match="--epochs must be at least 1, not -3"):
        ForecastOptions(spec, training=TrainingConfig(epochs=-3)).validate()
    with pytest.raises(UsageError, match=r"include 0\.5"):
        ForecastOptions(spec, quantiles=[0.1, 0.9]).validate()
    with pytest.raises(UsageError, match=r"--valid-size must be in \(0, 0\.5\)"):
        ForecastOptions(spec, valid_size=0.5).validate()
    ForecastOptions(spec).validate()


def test_backtest_options_need_a_window_length_for_fixed_windows() -> None:
    from nncli.errors import UsageError
    from nncli.forecasting.options import BacktestOptions

    with pytest.raises(UsageError, match="--window fixed needs --train-window"):
        BacktestOptions(window="fixed").validate()
    BacktestOptions(window="fixed", train_window=100).validate()


def test_no_gate_requested_passes() -> None:
    from nncli.forecasting.gates import check_gates
    from nncli.forecasting.options import QualityGates

    result = check_gates(_scores(2.0, 1.0), QualityGates())
    assert result.passed and result.message == "passed"
    result.raise_if_failed()


def test_the_naive_gate_fails_when_the_network_is_not_better() -> None:
    from nncli.errors import QualityGateError
    from nncli.forecasting.gates import check_gates
    from nncli.forecasting.options import QualityGates

    gates = QualityGates(fail_if_worse_than_naive=True)
    assert check_gates(_scores(0.9, 1.0), gates).passed
    result = check_gates(_scores(1.0, 1.0), gates, what="live")
    assert result.message == (
        "quality gate failed: live MASE 1.000 is not below the naive forecast's 1.000"
    )
    with pytest.raises(QualityGateError, match="not below the naive"):
        result.raise_if_failed()


def test_the_max_mase_gate_and_both_gates_at_once() -> None:
    from nncli.forecasting.gates import check_gates
    from nncli.forecasting.options import QualityGates

    assert check_gates(_scores(0.5, 1.0), QualityGates(max_mase=0.5)).passed
    result = check_gates(_scores(0.6, 1.0), QualityGates(max_mase=0.5))
    assert result.message == "quality gate failed: backtest MASE 0.600 > --max-mase 0.5"
    both = check_gates(_scores(1.2, 1.0), QualityGates(fail_if_worse_than_naive=True, max_mase=1))
    assert len(both.failures) == 2


def test_the_best_baseline_gate_names_the_baseline_that_won() -> None:
    from nncli.forecasting.gates import check_gates
    from nncli.forecasting.options import QualityGates

    gates = QualityGates(fail_if_worse_than_baseline=True)
    seasonal = {**_scores(0.9, 1.0, drift=1.1), "seasonal naive (m=12)": {"mase": 0.7}}
    result = check_gates(seasonal, gates)
    assert result.message == (
        "quality gate failed: backtest MASE 0.900 is not below the best baseline's, "
        "seasonal naive (m=12) 0.700"
    )
    assert check_gates(seasonal, QualityGates(fail_if_worse_than_naive=True)).passed
    assert check_gates(_scores(0.6, 1.0, drift=0.8), gates).passed


def test_gates_pass_when_nothing_can_be_scored_yet() -> None:
    from nncli.forecasting.gates import check_gates
    from nncli.forecasting.options import QualityGates

    strict = QualityGates(fail_if_worse_than_naive=True, max_mase=0.1)
    assert check_gates({}, strict).passed  # no forecast has matured
    assert not check_gates({"network": {"mase": 0.5}}, strict).passed  # no naive: max-mase only


@pytest.mark.parametrize(
    ("scores", "beats", "best", "fragment"),
    [
        (
            _scores(0.8, 1.0, 0.9),
            True,
            "drift",
            "The LSTM beats every baseline on MASE: 0.800 vs 0.900 for drift, the best.",
        ),
        (
            _scores(0.95, 1.0, 0.9),
            False,
            "drift",
            "Drift beats the LSTM on MASE: 0.900 vs 0.950; "
            "the LSTM does beat the naive forecast (1.000).",
        ),
        (
            _scores(1.1, 1.0, 0.9),
            False,
            "drift",
            "Drift beats the LSTM on MASE: 0.900 vs 1.100.",
        ),
        (
            _scores(1.1, 1.0, 1.2),
            False,
            "naive",
            "The naive forecast beats the LSTM on MASE: 1.000 vs 1.100.",
        ),
        (
            _scores(0.9, 1.0),
            True,
            "naive",
            "The LSTM beats the naive forecast on MASE: 0.900 vs 1.000.",
        ),
        (  # a 0.5 % edge is within the tolerance: level, no ✓
            _scores(0.995, 1.0, 1.2),
            False,
            "naive",
            "The LSTM is level with the naive forecast, the best baseline, on MASE: "
            "0.995 vs 1.000, within 1%.",
        ),
    ],
)
def test_the_verdict_names_the_baseline_that_won(scores, beats, best, fragment) -> None:
    from nncli.forecasting.gates import compare_with_baselines

    comparison = compare_with_baselines(scores)
    assert comparison.beats_baselines is beats and comparison.best_baseline == best
    assert comparison.verdict("LSTM") == fragment


@pytest.mark.parametrize("zone", ["Etc/GMT+12", "Etc/GMT-14"])
def test_every_forecast_command_reads_the_same_utc_clock(
    zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`forecast predict --max-age` and the scheduled job share one 'now' (UTC, naive), so a
    host's time zone cannot make the same data fresh for one and stale for the other."""
    import time
    from datetime import UTC, datetime

    from nncli.forecasting.options import PredictFreshness

    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        now = PredictFreshness(max_age_days=1.0).now()
        utc = datetime.now(UTC).replace(tzinfo=None)
        assert now.tzinfo is None and abs((utc - now).total_seconds()) < 60
        assert abs((datetime.now() - now).total_seconds()) > 11 * 3600  # local differs
        fixed = datetime(2024, 6, 1)
        assert PredictFreshness(max_age_days=1.0, as_of=fixed).now() == fixed
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
