"""The forecaster's one name (train, backtest, score) and what its export reproduces.

The name comes from the model file: the architecture's display name, with what validation
chose (the no-harm rule's random walk, the average with ETS). The export's statement of which
forecasts its graph gives is checked against nncli's own calibration (`apply_calibration`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nncli.forecasting.architectures import (
    ARCHITECTURES,
    RANDOM_WALK_NOTE,
    forecaster_label,
    labelled,
)
from nncli.forecasting.ensemble import apply_calibration
from nncli.forecasting.export import graph_reproduces
from tests.conftest import SAMPLE_DATA, Cli


def metadata(arch: str = "nhits", **calibration: Any) -> dict[str, Any]:
    return {"architecture": {"arch": arch}, "calibration": calibration or None}


@pytest.mark.parametrize(
    ("arch", "calibration", "label"),
    [
        ("nhits", {}, "N-HITS"),
        ("nhits", {"shrink": 1.0, "combine": "none"}, "N-HITS"),
        ("nhits", {"shrink": 0.5, "combine": "none"}, "N-HITS"),
        ("nhits", {"shrink": 0.0, "combine": "none"}, f"N-HITS ({RANDOM_WALK_NOTE})"),
        ("nhits", {"shrink": 1.0, "combine": "ets"}, "N-HITS (averaged with ETS)"),
        (
            "nhits",
            {"shrink": 0.0, "combine": "ets"},
            f"N-HITS ({RANDOM_WALK_NOTE}; averaged with ETS)",
        ),
        ("lstm", {"shrink": 1.0, "combine": "none"}, "LSTM"),
        ("tcn", {}, "TCN"),
    ],
)
def test_the_label_says_what_validation_chose(
    arch: str, calibration: dict[str, Any], label: str
) -> None:
    assert forecaster_label(metadata(arch, **calibration)) == label


def test_the_random_walk_label_reads_shrink_zero() -> None:
    """The no-harm rule's random walk is the shrink 0 the model file records; its median
    is then the naive forecast, which the label says instead of leaving "shrink 0" to hint it."""
    assert RANDOM_WALK_NOTE == "random walk chosen: no skill on validation"
    assert "random walk" not in forecaster_label(metadata(shrink=0.25))


def test_a_backtest_says_in_how_many_folds_a_choice_was_made() -> None:
    assert labelled("N-HITS", [[], [], []]) == "N-HITS"
    walk = [RANDOM_WALK_NOTE]
    assert labelled("N-HITS", [walk, walk]) == f"N-HITS ({RANDOM_WALK_NOTE})"
    assert labelled("N-HITS", [walk, [], walk]) == f"N-HITS ({RANDOM_WALK_NOTE}, in 2 of 3 folds)"


def test_every_forecaster_has_a_display_name() -> None:
    assert ARCHITECTURES["nhits"].display == "N-HITS"
    assert all(entry.display for entry in ARCHITECTURES.values())


# --- what an exported forecaster's graph reproduces ---------------------------------------


def graph_and_steps(raw: np.ndarray, calibration: dict[str, Any]) -> np.ndarray:
    """What a consumer gets from the graph's sorted quantiles [N, H, Q] with consumer_steps'
    calibration step: the margins moved out from the lowest and highest quantile, a negative
    one stopping at their midpoint (no ETS: it is not in the graph)."""
    out = np.array(raw)
    margins = np.asarray(calibration["margins"])
    lower, upper = out[..., 0], out[..., -1]
    middle = (lower + upper) / 2
    out[..., 0] = np.minimum(lower - margins, middle)
    out[..., -1] = np.maximum(upper + margins, middle)
    return out


@pytest.mark.parametrize(
    "calibration",
    [
        {"margins": [0.1, 0.2, -0.3]},
        {"margins": [0.1, 0.2, 0.3], "margins_combined": [0.3, 0.1, 0.5], "combine": "none"},
        {"margins": [0.1, 0.2, 0.3], "margins_combined": [0.3, 0.1, 0.5], "combine": "ets"},
    ],
)
def test_the_export_says_exactly_which_forecasts_its_graph_gives(
    calibration: dict[str, Any],
) -> None:
    rng = np.random.default_rng(0)
    raw = np.sort(rng.normal(size=(400, 3, 3)), axis=2)
    ets = rng.normal(size=(400, 3))
    needs_ets = calibration.get("combine") == "ets" or bool(calibration.get("margins_combined"))
    nncli = apply_calibration(raw, calibration, 1, ets if needs_ets else None)
    graph = graph_and_steps(raw, calibration)
    said = graph_reproduces(calibration)
    for part, index in (("lower", 0), ("median", 1), ("upper", 2)):
        same = np.allclose(graph[..., index], nncli[..., index])
        assert said[part] == same, (part, said)
    if not said["lower"]:  # nncli's interval is the wider: its lower bound lower, upper higher
        assert np.all(nncli[..., 0] <= graph[..., 0] + 1e-12)
        assert np.all(nncli[..., -1] >= graph[..., -1] - 1e-12)
        assert "lower bound can be lower and its upper bound higher" in said["note"]
    assert ("reproduces neither" in said["note"]) == (not said["median"])


@pytest.mark.slow
def test_a_forecasters_export_states_it_in_the_spec_and_on_stderr(tmp_path: Path) -> None:
    prices = pd.read_csv(SAMPLE_DATA / "stocks.csv").groupby("ticker").tail(150)
    data = tmp_path / "recent.csv"
    prices.to_csv(data, index=False)
    model = tmp_path / "m.nncli"
    series = ["--time-col", "date", "-t", "adj_close", "--group-col", "ticker"]
    small = ["--arch", "lstm", "--lookback", "20", "--hidden-size", "8", "--epochs", "2"]
    Cli()("forecast", "train", data, *series, *small, "-o", model)
    output = tmp_path / "m.pt"
    result = Cli()("export", model, "--format", "torchscript", "-o", output)
    spec = json.loads(output.with_name("m.pt.preprocessing.json").read_text(encoding="utf-8"))
    said = spec["graph_reproduces"]
    assert said == graph_reproduces(spec.get("calibration") or {})
    assert said["median"] and said["lower"] and said["upper"]  # an LSTM is not combined with ETS
    assert said["note"] in " ".join(result.stderr.split())
