"""The exported graph of a forecaster: its scaled input windows, its scaled cumulative-change
quantiles and the steps a consumer applies around them. Writing and the parity check are
`nncli.export`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nncli.errors import DataError
from nncli.export import PARITY_ROWS, ExportGraph, ExportOptions

if TYPE_CHECKING:
    import torch

    from nncli.forecasting.model import ForecastModel
    from nncli.forecasting.transforms import Transform
    from nncli.reporting import Reporter


def forecast_graph(model: ForecastModel, options: ExportOptions, reporter: Reporter) -> ExportGraph:
    """The sequence network with its one 'windows' input, its sample and its spec."""
    windows, source = _parity_sample(model, options, reporter)
    meta = model.metadata
    panel = meta["panel"]
    network = model.network
    inputs = [
        {
            "name": "windows",
            "dtype": "float32",
            "shape": ["batch", model.lookback, int(windows.shape[2])],
            "features": [f"{panel['target']} ({model.transform}, scaled)"]
            + [f"{name} (scaled)" for name in panel.get("covariates", [])],
        }
    ]
    outputs = [
        {
            "name": "scaled_change_quantiles",
            "dtype": "float32",
            "shape": ["batch", model.horizon, len(model.quantiles)],
            "meaning": (
                "per horizon step and quantile, the cumulative transformed change from the "
                "origin in the series' scaled units; see consumer_steps"
            ),
        }
    ]
    spec = {
        "task": "forecast",
        "transform": model.transform,
        "panel": panel,
        "architecture": meta["architecture"],
        "quantiles": model.quantiles,
        "series": {
            name: {
                "scaling": info["scaling"],
                "frequency": info.get("frequency"),
                "last_timestamp": info.get("last_timestamp"),
                **({"positive": info["positive"]} if "positive" in info else {}),
            }
            for name, info in meta["series"].items()
        },
        "consumer_steps": consumer_steps(model.target_transform, model.lookback),
    }
    if meta.get("calibration"):
        spec["calibration"] = meta["calibration"]
        spec["consumer_steps"].insert(-1, CALIBRATION_STEP)
    reproduced = graph_reproduces(meta.get("calibration") or {})
    spec["graph_reproduces"] = reproduced
    if not all(reproduced[part] for part in FORECAST_PARTS):
        reporter.warn(reproduced["note"])
    else:
        reporter.info(reproduced["note"])
    return ExportGraph(
        network,
        ["windows"],
        "scaled_change_quantiles",
        [windows],
        lambda batch: network(batch),
        inputs,
        outputs,
        spec,
        source,
    )


CALIBRATION_STEP = (
    "Calibration (models with 'calibration'), before scaling back: subtract "
    "calibration.margins[k] from the lowest quantile of step k and add it to the highest "
    "(a negative margin stops at their midpoint). With calibration.margins_combined, nncli "
    "also fits ETS to the series at forecast time (not part of this graph) and widens the "
    "interval to cover the quantiles moved by half the gap between the median and ETS, "
    "calibrated with those margins; with calibration.combine 'ets' the forecast is that "
    "moved median too. Series marked 'positive' are clipped at zero."
)


FORECAST_PARTS = ("median", "lower", "upper")


def graph_reproduces(calibration: dict[str, Any]) -> dict[str, Any]:
    """Which of nncli's forecasts (the median, the interval's lower and upper bounds) the
    exported graph with `consumer_steps` gives, from the model's calibration: each True or
    False, and a note that says so. ETS, fitted per series at forecast time, is not in the
    graph: where nncli averages the median with it (`combine` "ets") the median differs, and
    where it was tried (`margins_combined`) nncli's interval is the wider of the network's
    and the combination's (`ensemble.apply_calibration`), so its lower bound can be lower
    and its upper bound higher than the graph's."""
    median = calibration.get("combine") != "ets"
    bounds = not calibration.get("margins_combined")
    outside = "ETS is fitted per series at forecast time, outside the graph; see consumer_steps"
    if median and bounds:
        note = (
            "the exported graph with consumer_steps reproduces nncli's forecasts: the median "
            "and both interval bounds"
        )
    elif median:
        note = (
            "the exported graph with consumer_steps reproduces nncli's median, not always its "
            "interval: nncli widens it to cover the network's average with ETS, so its lower "
            f"bound can be lower and its upper bound higher than the graph's ({outside})"
        )
    else:
        note = (
            "the exported graph reproduces neither nncli's median nor always its interval: "
            "nncli averages the median with ETS and widens the interval to cover that "
            "average, so its lower bound can be lower and its upper bound higher than the "
            f"graph's ({outside})"
        )
    return {"median": median, "lower": bounds, "upper": bounds, "note": note}


def consumer_steps(transform: Transform, lookback: int) -> list[str]:
    """What a consumer does, in words, to turn levels into the input and outputs into levels."""
    levels = lookback + transform.first_valid
    extra = "" if transform.first_valid == 0 else f" (so {levels} levels are needed)"
    return [
        "Per series (it must be one of the keys of 'series': the scaling is per series), sort "
        "the rows by panel.time_col and drop rows with a blank target; p[t] is the target "
        "(panel.target) and the covariates (panel.covariates, in order) are carried forward, "
        "then backward, over blanks.",
        f"Per-step values ({transform.name}): {transform.step_formula}.",
        "Scale with the series' scaling: z[t] = (s[t] - scaling.mean) / scaling.std; "
        "covariate i: (c_i[t] - scaling.covariate_mean[i]) / scaling.covariate_std[i].",
        f"Input 'windows' (float32, [batch, {lookback}, 1 + covariates]): the newest "
        f"{lookback} rows of [z, scaled covariates], oldest first{extra}; the newest row is "
        "the forecast origin.",
        "Output 'scaled_change_quantiles' [batch, horizon, quantiles]: change = output * "
        f"scaling.std + scaling.mean; with p_origin the origin's level, "
        f"{transform.level_formula}; sort each step's quantiles ascending, as nncli does, so "
        "they never cross. The 0.5 quantile (its index in 'quantiles') is the point forecast, "
        "the outer ones the interval.",
        "Timestamps: step k is the k-th next period on the series' calendar ('frequency'; 'B' "
        "means business days, Monday to Friday).",
    ]


def _parity_sample(
    model: ForecastModel, options: ExportOptions, reporter: Reporter
) -> tuple[torch.Tensor, str]:
    """Input windows spread over every series and period of --data, or random ones."""
    import numpy as np
    import torch

    if options.data is None:
        generator = torch.Generator().manual_seed(0)
        n_features = int(model.metadata["architecture"]["n_features"])
        shape = (PARITY_ROWS, model.lookback, n_features)
        return torch.randn(*shape, generator=generator), "random"
    everything = _all_windows(model, options, reporter)
    # Spread the sample over every series and period rather than the first series' start.
    picks = np.unique(np.linspace(0, len(everything) - 1, PARITY_ROWS).round().astype(np.int64))
    return everything[torch.from_numpy(picks)].contiguous(), "data"


def _all_windows(model: ForecastModel, options: ExportOptions, reporter: Reporter) -> torch.Tensor:
    """Every input window of every series of --data the model knows, as one tensor."""
    import torch

    from nncli.forecasting.model import series_features
    from nncli.forecasting.series import PanelSpec, load_panel
    from nncli.forecasting.windows import make_windows

    assert options.data is not None
    spec = PanelSpec(**model.metadata["panel"])
    panel = load_panel(options.data, spec, options.csv, reporter=reporter)
    first_valid = model.target_transform.first_valid
    windows = []
    for series in panel:
        if series.name not in model.metadata["series"]:
            reporter.warn(f"series {series.name!r} was not seen in training; it is skipped")
            continue
        if len(series) - first_valid < model.lookback:
            continue
        features = torch.from_numpy(
            series_features(series, model.transform, model.scaling(series.name))
        )
        windows.append(make_windows(features[first_valid:], model.lookback))
    if not windows:
        raise DataError(
            f"{options.data}: no series the model knows has {model.lookback + first_valid} rows "
            "for one input window",
            hint=f"the model knows: {', '.join(model.metadata['series'])}",
        )
    return torch.cat(windows)
