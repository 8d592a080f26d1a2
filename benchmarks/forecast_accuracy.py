"""Forecast accuracy on real public series, under the M-competition protocol.

Each series is cut into a history and K non-overlapping windows of the horizon at its end.
Every method forecasts each window from the data before it: the network is trained once on
the history (inputs at later origins include the earlier windows' actuals; no retraining),
the statistical methods are refitted at each origin. MASE uses the in-sample seasonal-naive
scale of the history (season from the frequency: monthly 12, quarterly 4, ...).

"default" is the product: `nncli forecast train`'s default options through the library
(`train_forecaster`, then `ForecastModel.forecast_many` at each window), only the horizon,
transform (log-return for positive multiplicative series, else diff) and season set.
`--product-only` runs just the baselines and it.

Candidate (the policy as first measured, kept for ablations): an N-BEATS/N-HITS-style network with per-window normalisation
(`nncli.models.nbeats`), an ensemble over seeds and lookbacks (2h, 3h, 5h), its median
shrunk toward "no change" unless validation shows skill, 80 % intervals conformalised per
horizon step on the validation windows; optionally combined with ETS (the mean of both).
Baselines: naive, seasonal naive, drift, ETS, ARIMA (`nncli.forecasting.statistical`).

Every series ships inside a PyPI package (statsmodels, pmdarima); nothing is downloaded.

    .venv/bin/python benchmarks/forecast_accuracy.py --quick          # 3 series
    .venv/bin/python benchmarks/forecast_accuracy.py --json out.json  # all series
    .venv/bin/python benchmarks/forecast_accuracy.py --product-only   # baselines + product
"""

from __future__ import annotations

import os

# One thread for BLAS as for torch: on a shared 2-core machine, oversubscribed BLAS threads
# make statsmodels' fits ~10x slower. Set before numpy is imported.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nncli.forecasting.naive import drift, naive, seasonal_naive  # noqa: E402
from nncli.forecasting.scoring import mase_scale  # noqa: E402
from nncli.forecasting.statistical import (  # noqa: E402
    apply_margins,
    choose_shrink,
    conformal_margins,
    diebold_mariano,
    fit_arima,
    fit_ets,
    infer_season,
    prefers_seasonal_naive,
)
from nncli.models.nbeats import NBeatsConfig, NBeatsForecaster  # noqa: E402
from nncli.models.recurrent import PinballLoss  # noqa: E402
from nncli.training.optimizer import AdamW  # noqa: E402

QUICK = ("airpassengers", "woolyrnq", "msft")


# --- the series --------------------------------------------------------------------------


@dataclass
class Task:
    """One series and how it is evaluated (chosen before any result was seen)."""

    name: str
    source: str
    kind: str  # seasonal / non-seasonal / price / cycle
    values: np.ndarray
    timestamps: pd.DatetimeIndex
    horizon: int
    windows: int
    log: bool  # model log levels (positive levels with multiplicative change)
    season: int = 1

    @property
    def history_length(self) -> int:
        return len(self.values) - self.horizon * self.windows


def _pmdarima(name: str) -> np.ndarray:
    import pmdarima.datasets as datasets

    values = np.asarray(getattr(datasets, f"load_{name}")(), dtype=np.float64)
    return values[: np.flatnonzero(np.isfinite(values))[-1] + 1]  # ausbeer ends with a NaN


def _monthly(start: str, n: int) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="MS")


def _quarterly(start: str, n: int) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="QS")


def _yearly(start: str, n: int) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="YS")


def load_tasks(names: tuple[str, ...] | None = None) -> list[Task]:
    """Every benchmark series, loaded from the installed packages."""
    from statsmodels import datasets as sm
    from statsmodels.datasets import elec_equip

    builders: dict[str, Any] = {}

    def task(name: str, source: str, kind: str, horizon: int, windows: int, log: bool):
        def register(load):
            builders[name] = (source, kind, horizon, windows, log, load)
            return load

        return register

    @task("airpassengers", "pmdarima", "seasonal", 12, 2, True)
    def _():
        y = _pmdarima("airpassengers")
        return y, _monthly("1949-01", len(y))

    @task("wineind", "pmdarima", "seasonal", 12, 2, True)
    def _():
        y = _pmdarima("wineind")
        return y, _monthly("1980-01", len(y))

    @task("elec_equip", "statsmodels", "seasonal", 12, 3, True)
    def _():
        frame = elec_equip.load().data
        return frame.iloc[:, 0].to_numpy(np.float64), pd.DatetimeIndex(frame.index)

    @task("co2_monthly", "statsmodels", "seasonal", 12, 4, True)
    def _():
        weekly = sm.co2.load_pandas().data["co2"]
        monthly = weekly.resample("MS").mean().interpolate()
        return monthly.to_numpy(np.float64), pd.DatetimeIndex(monthly.index)

    @task("elnino", "statsmodels", "seasonal", 12, 4, True)
    def _():
        frame = sm.elnino.load_pandas().data
        y = frame.drop(columns="YEAR").to_numpy(np.float64).ravel()
        return y, _monthly(f"{int(frame.YEAR.iloc[0])}-01", len(y))

    @task("sunspots_monthly", "pmdarima", "cycle", 12, 4, False)
    def _():
        y = _pmdarima("sunspots")
        return y, _monthly("1749-01", len(y))

    @task("woolyrnq", "pmdarima", "seasonal", 8, 2, True)
    def _():
        y = _pmdarima("woolyrnq")
        return y, _quarterly("1965-01", len(y))

    @task("ausbeer", "pmdarima", "seasonal", 8, 3, True)
    def _():
        y = _pmdarima("ausbeer")
        return y, _quarterly("1956-01", len(y))

    @task("austres", "pmdarima", "non-seasonal", 8, 2, True)
    def _():
        y = _pmdarima("austres")
        return y, _quarterly("1971-04", len(y))

    for column, log in (("realgdp", True), ("unemp", False), ("tbilrate", False)):
        kind = "price" if column == "tbilrate" else "non-seasonal"

        @task(column, "statsmodels macrodata", kind, 8, 3, log)
        def _(column=column):
            y = sm.macrodata.load_pandas().data[column].to_numpy(np.float64)
            return y, _quarterly("1959-01", len(y))

    @task("nile", "statsmodels", "non-seasonal", 6, 3, True)
    def _():
        y = sm.nile.load_pandas().data["volume"].to_numpy(np.float64)
        return y, _yearly("1871", len(y))

    @task("sunspots_yearly", "statsmodels", "cycle", 6, 4, False)
    def _():
        y = sm.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(np.float64)
        return y, _yearly("1700", len(y))

    @task("lynx", "pmdarima", "cycle", 6, 3, True)
    def _():
        y = _pmdarima("lynx")
        return y, _yearly("1821", len(y))

    @task("msft", "pmdarima", "price", 14, 8, True)
    def _():
        from pmdarima.datasets import load_msft

        frame = load_msft().tail(2520)  # the last ten years of trading days
        return frame["Close"].to_numpy(np.float64), pd.DatetimeIndex(frame["Date"])

    @task("taylor", "pmdarima", "seasonal", 48, 4, True)
    def _():
        y = _pmdarima("taylor")
        return y, pd.date_range("2000-06-05", periods=len(y), freq="30min")

    tasks = []
    for name, (source, kind, horizon, windows, log, load) in builders.items():
        if names and name not in names:
            continue
        values, timestamps = load()
        season = infer_season(timestamps)
        tasks.append(Task(name, source, kind, values, timestamps, horizon, windows, log, season))
    return tasks


# --- the candidate network ----------------------------------------------------------------


@dataclass
class NetSettings:
    """The candidate's defaults (what the benchmark recommends for the library)."""

    lookback_multiples: tuple[int, ...] = (2, 3, 5)
    seeds: tuple[int, ...] = (0, 1)
    hidden_size: int = 128
    num_layers: int = 2
    pool_sizes: tuple[int, ...] = (4, 2, 1)
    downsample: tuple[int, ...] = (4, 2, 1)
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    max_steps: int = 600
    batch_size: int = 256
    lr: float = 1e-3
    eval_every: int = 25
    patience: int = 8  # evaluations without improvement
    min_train_windows: int = 16
    shrink_alpha: float = 0.1  # DM level at which validation skill keeps the median
    anchor: str = "auto"  # "auto": seasonal when seasonal naive beats naive in-sample
    # True: conformal margins from the second half of the validation windows, which no
    # decision saw (measured: no better coverage, worse point accuracy; see the results).
    calibration_split: bool = False
    coverage: float = 0.8
    product_only: bool = False  # only the baselines and the product's default


@dataclass
class Frame:
    """A series on the network's scale: z = log(y) or y, steps s = diff(z) / sd."""

    z: np.ndarray
    steps: torch.Tensor  # [n-1]: steps[i] = (z[i+1] - z[i]) / sd
    sd: float
    log: bool

    @classmethod
    def of(cls, values: np.ndarray, log: bool, train_end: int) -> Frame:
        z = np.log(values) if log else values.astype(np.float64)
        diffs = np.diff(z)
        sd = float(np.std(diffs[: train_end - 1])) or 1.0
        return cls(z, torch.from_numpy((diffs / sd).astype(np.float32)), sd, log)

    def windows(self, origins: np.ndarray, lookback: int) -> torch.Tensor:
        """[N, L, 1] inputs for origins t (steps ending at z[t])."""
        view = self.steps.unfold(0, lookback, 1)  # row j: steps j..j+L-1, ends at z[j+L]
        return view[torch.as_tensor(origins - lookback)].unsqueeze(-1)

    def targets(self, origins: np.ndarray, horizon: int) -> torch.Tensor:
        """[N, H] scaled cumulative changes z[t+k] - z[t]."""
        future = np.stack([self.z[t + 1 : t + 1 + horizon] for t in origins])
        change = (future - self.z[origins][:, None]) / self.sd
        return torch.from_numpy(change.astype(np.float32))

    def levels(self, origin: int, change: np.ndarray) -> np.ndarray:
        """Levels from scaled cumulative changes [..., H, ...] at one origin."""
        z = self.z[origin] + change * self.sd
        return np.exp(z) if self.log else z

    def anchor(self, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
        """[N, H] scaled cumulative change of seasonal naive (season > 1) or naive (zeros)."""
        if season < 2:
            return np.zeros((len(origins), horizon))
        lagged = origins[:, None] - season + 1 + np.arange(horizon) % season
        return (self.z[lagged] - self.z[origins][:, None]) / self.sd

    def change_of(self, origin: int, levels: np.ndarray) -> np.ndarray:
        """The scaled cumulative change that a level forecast [H] implies."""
        z = np.log(np.maximum(levels, 1e-12)) if self.log else levels
        return (z - self.z[origin]) / self.sd


@dataclass
class Member:
    """One trained ensemble member and what its training saw."""

    network: NBeatsForecaster
    lookback: int
    seed: int
    best_step: int
    last_step: int
    seconds: float


def train_member(
    frame: Frame,
    train_origins: np.ndarray,
    valid_origins: np.ndarray,
    lookback: int,
    horizon: int,
    seed: int,
    settings: NetSettings,
    season: int = 1,
    anchor: str = "naive",
) -> Member:
    """Train one network with AdamW and the pinball loss; keep the best validation state."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    config = NBeatsConfig(
        n_features=1,
        lookback=lookback,
        horizon=horizon,
        quantiles=list(settings.quantiles),
        hidden_size=settings.hidden_size,
        num_layers=settings.num_layers,
        pool_sizes=list(settings.pool_sizes),
        downsample=list(settings.downsample),
        season=season,
        anchor=anchor,
    )
    network = NBeatsForecaster(config)
    train_x, train_y = frame.windows(train_origins, lookback), frame.targets(train_origins, horizon)
    valid_x, valid_y = frame.windows(valid_origins, lookback), frame.targets(valid_origins, horizon)
    loss_fn = PinballLoss(list(settings.quantiles))
    optimizer = AdamW(network.parameters(), lr=settings.lr)
    generator = torch.Generator().manual_seed(seed)
    batch = min(settings.batch_size, len(train_x))
    best_loss, best_step, bad = math.inf, 0, 0
    best_state = {k: v.clone() for k, v in network.state_dict().items()}
    step = 0
    for step in range(1, settings.max_steps + 1):
        network.train()
        rows = torch.randint(len(train_x), (batch,), generator=generator)
        loss = loss_fn(network(train_x[rows]), train_y[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % settings.eval_every:
            continue
        network.eval()
        with torch.no_grad():
            valid_loss = float(loss_fn(network(valid_x), valid_y))
        if valid_loss < best_loss - 1e-6:
            best_loss, best_step, bad = valid_loss, step, 0
            best_state = {k: v.clone() for k, v in network.state_dict().items()}
        else:
            bad += 1
            if bad >= settings.patience:
                break
    network.load_state_dict(best_state)
    network.eval()
    return Member(network, lookback, seed, best_step, step, time.perf_counter() - start)


def predict_members(members: list[Member], frame: Frame, origins: np.ndarray) -> np.ndarray:
    """Each member's scaled cumulative-change quantiles: [M, N, H, Q]."""
    outputs = []
    for member in members:
        with torch.no_grad():
            outputs.append(member.network(frame.windows(origins, member.lookback)).numpy())
    return np.sort(np.stack(outputs).astype(np.float64), axis=-1)


def split_origins(task: Task, settings: NetSettings) -> np.ndarray:
    """The validation origins: the last V origins of the history whose targets lie inside it
    (V = 15 % of the history, at least h and at most 8h)."""
    h, n = task.horizon, task.history_length
    total = n - 1 - h
    count = int(np.clip(round(0.15 * n), h, 8 * h))
    count = max(1, min(count, total // 3))
    return np.arange(total - count + 1, total + 1)


def lookbacks_for(task: Task, valid_origins: np.ndarray, settings: NetSettings) -> list[int]:
    """2h, 3h, 5h, dropping those that leave fewer than `min_train_windows` windows; the
    largest that still leaves them when none of those does."""
    h = task.horizon
    last_train = int(valid_origins[0]) - h
    chosen = [m * h for m in settings.lookback_multiples]
    fits = [lb for lb in chosen if last_train - lb + 1 >= settings.min_train_windows]
    if fits:
        return fits
    fallback = last_train + 1 - settings.min_train_windows
    return [max(2, min(fallback, 2 * h))]


# --- the product ---------------------------------------------------------------------------


def product_default(task: Task, test_origins: np.ndarray) -> tuple[Forecasts, dict[str, Any]]:
    """What `nncli forecast train` + `forecast predict` give with default options (only the
    horizon, the transform and the season set, as the task says), trained once on the
    history through the library (`train_forecaster`) and forecasting each test window from
    the data before it (`ForecastModel.forecast_many`)."""
    from nncli.forecasting.model import train_forecaster
    from nncli.forecasting.options import ForecastOptions, PanelSpec
    from nncli.forecasting.series import Series

    values = np.asarray(task.values, dtype=np.float64)
    series = Series(task.name, task.timestamps, values, np.zeros((len(values), 0)))
    options = ForecastOptions(
        panel=PanelSpec("date", "value"),
        horizon=task.horizon,
        transform="log-return" if task.log else "diff",
        season=task.season,
    )
    model, _ = train_forecaster([series.head(task.history_length)], options)
    origins = [int(o) for o in test_origins]
    levels = model.forecast_many([series.head(o + 1) for o in origins], origins)
    median = model.quantiles.index(0.5)
    out = Forecasts()
    for level in levels:
        out.point.append(level[:, median])
        out.lower.append(level[:, 0])
        out.upper.append(level[:, -1])
        out.raw_lower.append(level[:, 0])  # the product reports calibrated intervals only
        out.raw_upper.append(level[:, -1])
    architecture, calibration = model.metadata["architecture"], model.metadata["calibration"]
    info = {
        "arch": architecture["arch"],
        "members": len(architecture["members"]),
        "lookbacks": sorted({m["lookback"] for m in architecture["members"]}),
        "anchor": architecture["anchor"],
        "shrink": calibration["shrink"],
        "combine": calibration["combine"],
        "best_epochs": [m["best_epoch"] for m in architecture["members"]],
    }
    return out, info


# --- evaluation ---------------------------------------------------------------------------


@dataclass
class Forecasts:
    """Level forecasts of one method at the K test origins."""

    point: list[np.ndarray] = field(default_factory=list)
    lower: list[np.ndarray] = field(default_factory=list)
    upper: list[np.ndarray] = field(default_factory=list)
    raw_lower: list[np.ndarray] = field(default_factory=list)
    raw_upper: list[np.ndarray] = field(default_factory=list)


def evaluate_task(
    task: Task, settings: NetSettings, log: Any, cache: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Every method on one series: MASE, coverage and seconds. `cache` keeps the statistical
    forecasts between runs (they do not depend on the network's settings)."""
    h, n = task.horizon, task.history_length
    values = task.values
    test_origins = np.asarray([n - 1 + k * h for k in range(task.windows)])
    scale = mase_scale(values[:n], task.season)
    frame = Frame.of(values, task.log, n)
    seconds: dict[str, float] = {}

    # Baselines, refitted at each origin.
    forecasts: dict[str, Forecasts] = {
        name: Forecasts() for name in ("naive", "seasonal naive", "drift", "ETS", "ARIMA")
    }
    for origin in test_origins:
        history = values[: origin + 1]
        forecasts["naive"].point.append(naive(history, h))
        forecasts["seasonal naive"].point.append(seasonal_naive(history, h, task.season))
        forecasts["drift"].point.append(drift(history, h))
    cached = cache.get(task.name) if cache is not None else None
    if cached is None:
        cached = {"ETS": [], "ARIMA": [], "ets_names": [], "arima_names": []}
        seconds["ETS"] = seconds["ARIMA"] = 0.0
        for origin in test_origins:
            history = values[: origin + 1]
            start = time.perf_counter()
            ets = fit_ets(history, h, task.season)
            seconds["ETS"] += time.perf_counter() - start
            start = time.perf_counter()
            arima = fit_arima(history, h, task.season, time_budget=8.0)
            seconds["ARIMA"] += time.perf_counter() - start
            cached["ETS"].append(ets.forecast.tolist())
            cached["ARIMA"].append(arima.forecast.tolist())
            cached["ets_names"].append(ets.name)
            cached["arima_names"].append(arima.name)
        cached["seconds"] = {k: seconds[k] / len(test_origins) for k in ("ETS", "ARIMA")}
        if cache is not None:
            cache[task.name] = cached
    seconds.update(cached["seconds"])
    forecasts["ETS"].point = [np.asarray(f) for f in cached["ETS"]]
    forecasts["ARIMA"].point = [np.asarray(f) for f in cached["ARIMA"]]
    ets_names, arima_names = cached["ets_names"], cached["arima_names"]
    log(f"  {task.name}: baselines done ({ets_names[-1]}, {arima_names[-1]})")

    # The product: `nncli forecast train`'s default (train_forecaster + ForecastModel).
    start = time.perf_counter()
    forecasts["default"], product = product_default(task, test_origins)
    seconds["default (train + forecast)"] = time.perf_counter() - start
    log(f"  {task.name}: product default {product}, {seconds['default (train + forecast)']:.1f}s")
    lookbacks, anchor, members, combine = product["lookbacks"], product["anchor"], [], None
    shrink_weights, shrink_p_values = {}, []
    if not settings.product_only:
        # The candidate (the benchmark's own copy of the policy, and its ablations).
        valid_origins = split_origins(task, settings)
        # Early stopping, the shrink and the ETS choice read the first half of the validation
        # origins; the conformal margins read the second half, which no decision has seen.
        n_valid = len(valid_origins)
        split = settings.calibration_split and n_valid >= 4
        stop_mask = np.arange(n_valid) < (n_valid // 2 if split else n_valid)
        conformal_mask = ~stop_mask if split else stop_mask
        lookbacks = lookbacks_for(task, valid_origins, settings)
        train_end = int(valid_origins[0]) - h + 1
        seasonal_anchor = (
            settings.anchor == "auto"
            and 1 < task.season <= min(lookbacks)
            and prefers_seasonal_naive(frame.z[: train_end + h], h, task.season)
        )
        anchor, anchor_season = ("seasonal", task.season) if seasonal_anchor else ("naive", 1)
        members: list[Member] = []
        start = time.perf_counter()
        for lookback in lookbacks:
            train_origins = np.arange(lookback, int(valid_origins[0]) - h + 1)
            for seed in settings.seeds:
                member = train_member(
                    frame,
                    train_origins,
                    valid_origins[stop_mask],
                    lookback,
                    h,
                    seed,
                    settings,
                    task.season,
                    anchor,
                )
                members.append(member)
        seconds["network (train)"] = time.perf_counter() - start
        log(
            f"  {task.name}: {len(members)} members, {anchor} anchor, lookbacks {lookbacks}, "
            "best/last steps "
            f"{[(m.best_step, m.last_step) for m in members]}, {seconds['network (train)']:.1f}s"
        )

        # Calibration (validation) and test predictions, scaled cumulative changes.
        valid_y = frame.targets(valid_origins, h).numpy().astype(np.float64)
        cal = predict_members(members, frame, valid_origins)  # [M, V, H, Q]
        test = predict_members(members, frame, test_origins)  # [M, K, H, Q]
        # ETS on a subsample of the validation origins, for the combination's calibration.
        ets_cal_origins = valid_origins[:: max(1, len(valid_origins) // 24)]
        ets_cal_index = np.searchsorted(valid_origins, ets_cal_origins)
        start = time.perf_counter()
        if "ets_cal" not in cached:
            cached["ets_cal"] = [
                fit_ets(values[: o + 1], h, task.season).forecast.tolist() for o in ets_cal_origins
            ]
        ets_cal = np.stack(
            [
                frame.change_of(o, np.asarray(f))
                for o, f in zip(ets_cal_origins, cached["ets_cal"], strict=True)
            ]
        )
        seconds["ETS (calibration)"] = time.perf_counter() - start
        ets_test = np.stack(
            [
                frame.change_of(o, f)
                for o, f in zip(test_origins, forecasts["ETS"].point, strict=True)
            ]
        )
        median = list(settings.quantiles).index(0.5)
        lookback_index = [i for i, m in enumerate(members) if m.seed == settings.seeds[0]]
        single = lookback_index[min(1, len(lookback_index) - 1)]  # the 3h member of seed 0

        def variant(
            cal_q: np.ndarray, test_q: np.ndarray, cal_y: np.ndarray, rows: np.ndarray
        ) -> Forecasts:
            """Conformalised level forecasts from quantiles [N, H, Q] on calibration and test;
            the margins come from the calibration `rows`."""
            margins = conformal_margins(
                cal_y[rows], cal_q[rows][..., 0], cal_q[rows][..., -1], settings.coverage
            )
            lower, upper = apply_margins(test_q[..., 0], test_q[..., -1], margins)
            out = Forecasts()
            for i, origin in enumerate(test_origins):
                out.point.append(frame.levels(origin, test_q[i, :, median]))
                out.lower.append(frame.levels(origin, lower[i]))
                out.upper.append(frame.levels(origin, upper[i]))
                out.raw_lower.append(frame.levels(origin, test_q[i, :, 0]))
                out.raw_upper.append(frame.levels(origin, test_q[i, :, -1]))
            return out

        def with_ets(cal_q: np.ndarray, test_q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """The mean of the network's median and ETS; the other quantiles move with it."""
            cal_q = cal_q[ets_cal_index]
            cal_shift = (ets_cal - cal_q[..., median]) / 2
            test_shift = (ets_test - test_q[..., median]) / 2
            return cal_q + cal_shift[..., None], test_q + test_shift[..., None]

        def shrunk(cal_q: np.ndarray, test_q: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
            """Quantiles with the median shrunk toward no change as validation decides."""
            decision = choose_shrink(
                cal_q[stop_mask][..., median],
                valid_y[stop_mask],
                valid_anchor[stop_mask],
                alpha=settings.shrink_alpha,
            )
            weight = decision.weight
            shrink_p_values.append(decision.p_value)
            move = 1.0 - weight
            return (
                cal_q - move * (cal_q[..., median] - valid_anchor)[..., None],
                test_q - move * (test_q[..., median] - test_anchor)[..., None],
                weight,
            )

        shrink_p_values: list[float] = []
        valid_anchor = frame.anchor(valid_origins, h, anchor_season)
        test_anchor = frame.anchor(test_origins, h, anchor_season)

        ensemble_cal, ensemble_test = np.median(cal, axis=0), np.median(test, axis=0)
        single_cal, single_test, single_weight = shrunk(cal[single], test[single])
        shrunk_cal, shrunk_test, ensemble_weight = shrunk(ensemble_cal, ensemble_test)
        shrink_weights = {"net single": single_weight, "net ensemble": ensemble_weight}
        ets_rows = conformal_mask[ets_cal_index]
        forecasts["net single"] = variant(single_cal, single_test, valid_y, conformal_mask)
        forecasts["net ensemble"] = variant(shrunk_cal, shrunk_test, valid_y, conformal_mask)
        forecasts["net ensemble, no shrink"] = variant(
            ensemble_cal, ensemble_test, valid_y, conformal_mask
        )
        forecasts["net ensemble + ETS"] = variant(
            *with_ets(shrunk_cal, shrunk_test), valid_y[ets_cal_index], ets_rows
        )
        forecasts["net ensemble, no shrink + ETS"] = variant(
            *with_ets(ensemble_cal, ensemble_test), valid_y[ets_cal_index], ets_rows
        )
        # The recommended default: the shrink guards the naive anchor (prices, no season); a
        # seasonal anchor already starts from seasonal naive, and the short validation of a
        # seasonal series has too few independent windows for the test to show skill.
        # The ETS combination is kept only where it beats the network alone on the validation
        # windows (a bad ETS, e.g. on a cycle, otherwise drags the mean down).
        guarded = anchor == "naive"
        net_cal, net_test = (shrunk_cal, shrunk_test) if guarded else (ensemble_cal, ensemble_test)
        combo_cal, _ = with_ets(net_cal, net_test)
        decide = stop_mask[ets_cal_index]
        target = valid_y[ets_cal_index][decide]
        net_mae = float(np.abs(net_cal[ets_cal_index][decide][..., median] - target).mean())
        combo_mae = float(np.abs(combo_cal[decide][..., median] - target).mean())
        combine = combo_mae <= net_mae
        forecasts["candidate, network only"] = forecasts[
            "net ensemble" if guarded else "net ensemble, no shrink"
        ]
        forecasts["candidate (network + ETS)"] = forecasts[
            "net ensemble + ETS" if guarded else "net ensemble, no shrink + ETS"
        ]
        forecasts["candidate (ETS if validation agrees)"] = forecasts[
            "candidate (network + ETS)" if combine else "candidate, network only"
        ]
        # The same point forecast with the wider of the two calibrated intervals (network alone
        # and network + ETS): the network alone under-covers where the level shifts.
        chosen, network_only = (
            forecasts["candidate (ETS if validation agrees)"],
            forecasts["candidate, network only"],
        )
        combined = forecasts["candidate (network + ETS)"]
        forecasts["candidate, wider interval"] = Forecasts(
            point=chosen.point,
            lower=[
                np.minimum(a, b) for a, b in zip(network_only.lower, combined.lower, strict=True)
            ],
            upper=[
                np.maximum(a, b) for a, b in zip(network_only.upper, combined.upper, strict=True)
            ],
            raw_lower=chosen.raw_lower,
            raw_upper=chosen.raw_upper,
        )
        log(
            f"  {task.name}: shrink weights {shrink_weights}, DM p {shrink_p_values}, "
            f"combine with ETS {combine} ({combo_mae:.3f} vs {net_mae:.3f})"
        )

    # Scores.
    actual = np.stack([values[o + 1 : o + 1 + h] for o in test_origins])  # [K, H]
    results: dict[str, Any] = {}
    for name, f in forecasts.items():
        point = np.stack(f.point)
        errors = np.abs(point - actual) / scale
        entry: dict[str, Any] = {"mase": float(errors.mean()), "errors": errors.ravel()}
        if f.lower:
            lower, upper = np.stack(f.lower), np.stack(f.upper)
            entry["coverage"] = float(np.mean((actual >= lower) & (actual <= upper)))
            raw_lower, raw_upper = np.stack(f.raw_lower), np.stack(f.raw_upper)
            entry["raw_coverage"] = float(np.mean((actual >= raw_lower) & (actual <= raw_upper)))
            entry["positive"] = bool(np.all(lower > 0)) if np.all(values > 0) else None
        results[name] = entry
    baselines = ("naive", "seasonal naive", "drift", "ETS", "ARIMA")
    best_baseline = min(baselines, key=lambda b: results[b]["mase"])
    for name in forecasts:
        if name.startswith(("net", "default", "candidate")):
            test_dm = diebold_mariano(results[name]["errors"], results[best_baseline]["errors"], h)
            results[name]["dm_vs_best"] = {
                "baseline": best_baseline,
                "statistic": test_dm.statistic,
                "p_value": test_dm.p_value,
            }
    for entry in results.values():
        entry.pop("errors")
    return {
        "series": task.name,
        "source": task.source,
        "kind": task.kind,
        "length": len(values),
        "history": n,
        "horizon": h,
        "windows": task.windows,
        "season": task.season,
        "log": task.log,
        "ets_models": ets_names,
        "arima_models": arima_names,
        "lookbacks": lookbacks,
        "anchor": anchor,
        "members": [{k: v for k, v in asdict(m).items() if k != "network"} for m in members],
        "product": product,
        "best_baseline": best_baseline,
        "shrink_weights": shrink_weights,
        "shrink_p_values": shrink_p_values,
        "combine_with_ets": combine,
        "seconds": seconds,
        "methods": results,
    }


# --- report ---------------------------------------------------------------------------------

CANDIDATES = (
    "default",
    "net single",
    "net ensemble",
    "net ensemble, no shrink",
    "net ensemble + ETS",
    "net ensemble, no shrink + ETS",
    "candidate, network only",
    "candidate (network + ETS)",
    "candidate (ETS if validation agrees)",
    "candidate, wider interval",
)


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Geometric mean of MASE relative to the better of ETS/ARIMA, and the other targets."""
    out: dict[str, Any] = {}
    methods = list(rows[0]["methods"])
    for method in methods:
        ratios = [
            r["methods"][method]["mase"]
            / min(r["methods"]["ETS"]["mase"], r["methods"]["ARIMA"]["mase"])
            for r in rows
        ]
        entry: dict[str, Any] = {
            "geomean_rel_best_ets_arima": float(np.exp(np.mean(np.log(ratios))))
        }
        seasonal = [r for r in rows if r["kind"] == "seasonal" and r["season"] > 1]
        entry["worse_than_seasonal_naive_on"] = [
            r["series"]
            for r in seasonal
            if r["methods"][method]["mase"] > r["methods"]["seasonal naive"]["mase"]
        ]
        entry["vs_random_walk_on_prices"] = {
            r["series"]: r["methods"][method]["mase"] / r["methods"]["naive"]["mase"]
            for r in rows
            if r["kind"] == "price"
        }
        covered = [r["methods"][method].get("coverage") for r in rows]
        if covered[0] is not None:
            points = [r["horizon"] * r["windows"] for r in rows]
            entry["coverage"] = float(np.average(covered, weights=points))
            entry["coverage_mean_over_series"] = float(np.mean(covered))
            entry["raw_coverage"] = float(
                np.average([r["methods"][method]["raw_coverage"] for r in rows], weights=points)
            )
        out[method] = entry
    return out


def markdown(rows: list[dict[str, Any]], totals: dict[str, Any]) -> str:
    """The per-series table and the summary, as Markdown."""
    everything = ["naive", "seasonal naive", "drift", "ETS", "ARIMA", *CANDIDATES]
    shown = [m for m in everything if m in rows[0]["methods"]]
    header = (
        "| series | kind | m | h×K | " + " | ".join(shown) + " | cov. 80 % (default) | default s |"
    )
    lines = [header, "|" + "---|" * (len(shown) + 6)]
    for r in rows:
        mase = [r["methods"][m]["mase"] for m in shown]
        best = min(mase)
        cells = [f"**{v:.3f}**" if v == best else f"{v:.3f}" for v in mase]
        lines.append(
            f"| {r['series']} | {r['kind']} | {r['season']} | {r['horizon']}×{r['windows']} | "
            + " | ".join(cells)
            + f" | {r['methods']['default']['coverage']:.0%} | "
            f"{r['seconds']['default (train + forecast)']:.0f} |"
        )
    lines += [
        "",
        "| method | geo-mean MASE / best(ETS, ARIMA) | worse than seasonal naive on | "
        "MASE / random walk (prices) | 80 % coverage (raw) |",
        "|---|---|---|---|---|",
    ]
    for method, t in totals.items():
        rw = ", ".join(f"{k} {v:.3f}" for k, v in t["vs_random_walk_on_prices"].items())
        cov = f"{t['coverage']:.1%} ({t['raw_coverage']:.1%})" if "coverage" in t else ""
        worse = ", ".join(t["worse_than_seasonal_naive_on"]) or "none"
        lines.append(
            f"| {method} | {t['geomean_rel_best_ets_arima']:.3f} | {worse} | {rw} | {cov} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--series", nargs="*", help="only these series")
    parser.add_argument("--json", type=Path, help="write every number here")
    parser.add_argument("--markdown", type=Path, help="write the tables here")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per lookback")
    parser.add_argument("--hidden", type=int, default=NetSettings.hidden_size)
    parser.add_argument("--max-steps", type=int, default=NetSettings.max_steps)
    parser.add_argument("--lr", type=float, default=NetSettings.lr)
    parser.add_argument("--pool", default="4,2,1", help="pool sizes per stack ('1,1,1': N-BEATS)")
    parser.add_argument("--lookbacks", default="2,3,5", help="multiples of the horizon")
    parser.add_argument("--anchor", default="auto", choices=("auto", "naive"))
    parser.add_argument("--shrink-alpha", type=float, default=NetSettings.shrink_alpha)
    parser.add_argument(
        "--calibration-split",
        action="store_true",
        help="stop early on half of the validation windows, calibrate on the other half",
    )
    parser.add_argument("--cache", type=Path, help="reuse ETS/ARIMA forecasts from this JSON file")
    parser.add_argument(
        "--product-only",
        action="store_true",
        help="only the baselines and the product's default (not the candidate's ablations)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    pool = tuple(int(p) for p in args.pool.split(","))
    settings = NetSettings(
        seeds=tuple(range(args.seeds)),
        hidden_size=args.hidden,
        max_steps=args.max_steps,
        lr=args.lr,
        pool_sizes=pool,
        downsample=pool,
        lookback_multiples=tuple(int(m) for m in args.lookbacks.split(",")),
        anchor=args.anchor,
        shrink_alpha=args.shrink_alpha,
        calibration_split=args.calibration_split,
        product_only=args.product_only,
    )

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    names = QUICK if args.quick else (tuple(args.series) if args.series else None)
    tasks = load_tasks(names)
    log(f"{len(tasks)} series: " + ", ".join(f"{t.name} (m={t.season})" for t in tasks))
    rows = []
    started = time.perf_counter()
    cache = None
    if args.cache:
        cache = json.loads(args.cache.read_text()) if args.cache.exists() else {}
    for task in tasks:
        rows.append(evaluate_task(task, settings, log, cache))
        if args.cache:
            args.cache.write_text(json.dumps(cache))
        r = rows[-1]
        log(
            f"{task.name}: "
            + ", ".join(f"{k} {v['mase']:.3f}" for k, v in r["methods"].items())
            + f"; coverage {r['methods']['default']['coverage']:.0%}"
        )
    totals = summary(rows)
    table = markdown(rows, totals)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    if args.json:
        document = {
            "command": " ".join(sys.argv),
            "settings": asdict(settings),
            "seconds": time.perf_counter() - started,
            "torch": torch.__version__,
            "series": rows,
            "summary": totals,
        }
        args.json.write_text(json.dumps(document, indent=1, default=float))


if __name__ == "__main__":
    main()
