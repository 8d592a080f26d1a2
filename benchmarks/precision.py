"""bf16 mixed precision on the CPU: training rows/s and accuracy, float32 vs bfloat16 autocast.

Issue 13, item 6 ("use the hardware"): CPUs with AMX / AVX-512 BF16 run bfloat16 matmuls
several times faster than float32 ones. Does `torch.autocast("cpu", dtype=torch.bfloat16)`
make nncli's training faster, and does it cost accuracy?

Precision "bf16" here is the standard mixed-precision pattern: the weights, the optimiser
state and the AdamW step stay float32; the network's forward runs under autocast (matmuls,
linear layers and the LSTM in bfloat16), its output is cast back to float32 and the loss is
computed in float32 (what autocast itself does for the losses on its float32 list; the
pinball loss is on no list, hence the explicit cast). Backward follows the forward's dtypes.
Everything else is nncli's own library code: `nncli.training.loop.train_epoch` (one epoch of
`fit`), `fit` itself, `nncli.training.optimizer.AdamW`, the networks in `nncli.models`, the
tabular preparation in `nncli.tabular.train` and the forecasting windows in
`nncli.forecasting.model`.

Part 1, throughput (rows or windows per second of one training epoch; median of --repeats
epochs per cell; float32 and bf16 alternate within each repeat, their order swapped every
repeat, each on its own identically seeded copy of the network and optimiser; one warm-up
pass per copy first; torch.set_num_threads(1) and (2)). Two clocks: wall seconds, and CPU
seconds of this process (rows/CPU-s), which a busy neighbour process barely moves at one
thread. A two-thread cell is measured only when other processes leave both cores idle
(waiting for that within --wait-budget seconds in all), else it is reported as skipped:
two threads next to a busy neighbour run 10-100x slower and measure the neighbour.
  mlp            the default tabular MLP (50 -> 128 -> 64 -> 1, ReLU, dropout 0.1), batches
                 256 and 1024, on 100,000 x 50 seeded synthetic rows (BCE-with-logits)
  mlp-512x512    a wider MLP (50 -> 512 -> 512 -> 1), batches 256 and 1024
  tabm           nncli's TabM (k=8 mini-ensemble, PBLD embeddings, 256-256), batch 256 and 1024
  lstm           the LSTM forecaster (hidden 64, lookback 60, horizon 5, 3 quantiles) on the
                 training windows of sample_data/stocks.csv (4 tickers), batches 256 and auto
  nbeats         the N-HITS network (nncli/models/nbeats.py defaults) on the same windows
Part 2, accuracy (the best weights evaluated in float32, as `nncli predict` would):
  the default tabular MLP (128-64, seeds 0-4) and the wide one (--hidden 512,512, seeds
  0-2), trained the way `nncli train` trains them (prepare_table, build_network,
  fit_network: early stopping, one thread) on real tables that need no download
  (sample_data/penguins.csv, autompg.csv; scikit-learn's bundled breast_cancer, digits,
  wine, diabetes), test accuracy and log loss or RMSE; and the LSTM and
  N-HITS forecasters on AAPL of sample_data/stocks.csv, seeds 0-2, validation pinball loss
  and median MAE (scaled log-return units). Early stopping sees bf16 validation outputs.

Run:  .venv/bin/python benchmarks/precision.py [--repeats 3] [--json out.json] [--quick]
Prints Markdown tables on stdout (progress on stderr). About 4 minutes on a quiet 2-core
machine, 8 next to busy neighbours. Results: benchmarks/RESULTS-precision.md.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _util import (  # noqa: E402
    Contention,
    log,
    machine_info,
    markdown_table,
    wait_for_quiet,
)

from nncli.training.loop import TrainingConfig, fit, seed_everything, train_epoch  # noqa: E402
from nncli.training.optimizer import AdamW  # noqa: E402
from nncli.training.threads import available_cores  # noqa: E402

PRECISIONS = ("fp32", "bf16")
SEEDS = (0, 1, 2)  # forecasters
TABLE_SEEDS = (0, 1, 2, 3, 4)  # tables: small test splits, so more seeds
CONTAMINATED = 0.25  # other processes' busy CPUs beyond the cores a run leaves them


class Autocast(nn.Module):
    """Runs `inner`'s forward under CPU bf16 autocast and returns float32 outputs."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            outputs: torch.Tensor = self.inner(*inputs)
        return outputs.float()


def with_precision(network: nn.Module, precision: str) -> nn.Module:
    return Autocast(network) if precision == "bf16" else network


class LossOf(nn.Module):
    """A plain function as the `loss_fn` module that `train_epoch` and `fit` call."""

    def __init__(self, function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.function = function

    def forward(self, outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.function(outputs, target)


# --------------------------------------------------------------------------- machine


def cpu_precision_flags() -> list[str]:
    wanted = ("amx", "avx512_bf16", "avx512_fp16", "avx512f", "avx512_vnni", "avx_vnni")
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return sorted(f for f in line.split(":", 1)[1].split() if f.startswith(wanted))
    return []


def load_average() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def machine() -> dict[str, Any]:
    info = machine_info()
    info["precision_flags"] = cpu_precision_flags()
    info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    info["mkldnn_available"] = torch.backends.mkldnn.is_available()
    info["mkldnn_bf16_supported"] = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return info


def matmul_gflops(dtype: torch.dtype, threads: int, n: int = 2048) -> dict[str, float]:
    """Best of a few n x n matmuls per wall second and per CPU second of this process."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    torch.mm(a, b)
    wall, cpu = float("inf"), float("inf")
    for _ in range(5):
        cpu_start, start = time.process_time(), time.perf_counter()
        torch.mm(a, b)
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - cpu_start)
    return {"wall": 2 * n**3 / wall / 1e9, "cpu": 2 * n**3 / cpu / 1e9}


# --------------------------------------------------------------------------- throughput


@dataclass
class Workload:
    """One network on one data set, trained with `train_epoch` at several batch sizes."""

    name: str
    build: Callable[[], nn.Module]
    loss: nn.Module
    inputs: list[torch.Tensor]
    targets: torch.Tensor
    batch_sizes: list[int]
    rows: int  # rows (windows) per timed epoch: a prefix of the data


def synthetic_table(rows: int, features: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """N(0, 1) features; label = a random tanh network's score > its median."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, features), dtype=np.float32)
    w1 = rng.standard_normal((features, 64)).astype(np.float32) * np.float32(2 / features**0.5)
    score = np.tanh(x @ w1) @ rng.standard_normal(64).astype(np.float32)
    y = (score > np.median(score)).astype(np.float32).reshape(-1, 1)
    return torch.from_numpy(x), torch.from_numpy(y)


def stock_windows(tickers: list[str] | None = None, seed: int = 0) -> Any:
    """The LSTM benchmark's windows: lookback 60, horizon 5, log-return steps, per ticker."""
    from nncli.forecasting.model import ForecastOptions, collect_windows
    from nncli.forecasting.series import PanelSpec, load_panel
    from nncli.reporting import CollectingReporter

    spec = PanelSpec("date", "adj_close", "ticker")
    panel = load_panel(REPO / "sample_data" / "stocks.csv", spec)
    if tickers is not None:
        panel = [series for series in panel if series.name in tickers]
    options = ForecastOptions(
        panel=spec,
        arch="lstm",
        lookback=60,
        horizon=5,
        hidden_size=64,
        training=TrainingConfig(epochs=30, patience=5, seed=seed, threads=1),
    )
    return options, collect_windows(panel, options, CollectingReporter())


def forecasters(options: Any, n_features: int) -> dict[str, Callable[[], nn.Module]]:
    from nncli.forecasting.model import build_network
    from nncli.models.nbeats import NBeatsConfig, NBeatsForecaster

    def nbeats() -> nn.Module:
        seed_everything(options.training.seed)
        config = NBeatsConfig(n_features, options.lookback, options.horizon)
        return NBeatsForecaster(config)

    return {"lstm": lambda: build_network(options, n_features), "nbeats": nbeats}


def workloads(quick: bool) -> list[Workload]:
    from nncli.models.feedforward import MLP, MLPConfig
    from nncli.models.recurrent import PinballLoss
    from nncli.models.tabm import TabM, TabMConfig, ensemble_loss

    x, y = synthetic_table(100_000, 50)
    scale = 5 if quick else 1

    def mlp(hidden: list[int], dropout: float) -> Callable[[], nn.Module]:
        def build() -> nn.Module:
            torch.manual_seed(0)
            config = MLPConfig(n_numeric=50, n_outputs=1, hidden_sizes=hidden, dropout=dropout)
            return MLP(config)

        return build

    def tabm() -> nn.Module:
        torch.manual_seed(0)
        return TabM(TabMConfig(n_numeric=50, n_outputs=2))

    empty = torch.zeros((x.shape[0], 0), dtype=torch.long)
    labels = y[:, 0].long()
    options, windows = stock_windows()
    train_x, train_y = torch.cat(windows.train_x), torch.cat(windows.train_y)
    auto = min(1024, max(32, train_x.shape[0] // 16))  # nncli.training.loop.auto_batch_size
    built = forecasters(options, int(train_x.shape[2]))
    pinball = PinballLoss([0.1, 0.5, 0.9])
    return [
        Workload(
            "mlp 128-64",
            mlp([128, 64], 0.1),
            nn.BCEWithLogitsLoss(),
            [x],
            y,
            [256, 1024],
            100_000 // scale,
        ),
        Workload(
            "mlp 512-512",
            mlp([512, 512], 0.0),
            nn.BCEWithLogitsLoss(),
            [x],
            y,
            [256, 1024],
            50_000 // scale,
        ),
        Workload(
            "tabm k=8 256-256",
            tabm,
            LossOf(lambda o, t: ensemble_loss(o, t, "logits")),
            [x, empty],
            labels,
            [256, 1024],
            10_000 // scale,
        ),
        Workload(
            "lstm h64 L60",
            built["lstm"],
            pinball,
            [train_x],
            train_y,
            [256, auto],
            train_x.shape[0] // scale,
        ),
        Workload(
            "n-hits (nbeats.py)",
            built["nbeats"],
            pinball,
            [train_x],
            train_y,
            [256, auto],
            train_x.shape[0] // scale,
        ),
    ]


def timed_epoch(
    model: nn.Module, optimizer: AdamW, work: Workload, batch_size: int, rows: int
) -> dict[str, float]:
    """One `train_epoch` over `rows` rows: rows per wall second, rows per CPU second of this
    process, and the CPUs other processes kept busy meanwhile."""
    inputs = [tensor[:rows] for tensor in work.inputs]
    generator = torch.Generator().manual_seed(0)
    contention = Contention()
    cpu, start = time.process_time(), time.perf_counter()
    train_epoch(model, optimizer, work.loss, inputs, work.targets[:rows], batch_size, generator)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"wall": rows / wall, "cpu": rows / cpu, "others": contention.stop()}


class Quiet:
    """Waits for other processes to leave this run's threads their cores, within a budget.

    A run with T threads is clean when other processes kept fewer than (cores - T) + 0.25
    CPUs busy: one thread on two cores tolerates one busy neighbour, two threads none (an
    OpenMP barrier waits for whichever thread the scheduler preempted). A shared machine may
    never be quiet, so waiting stops after `budget` seconds in all.
    """

    def __init__(self, budget: float) -> None:
        self.left = budget
        self.cores = available_cores()

    def limit(self, threads: int) -> float:
        return max(0, self.cores - threads) + CONTAMINATED

    def wait(self, threads: int, seconds: float) -> bool:
        """Wait up to `seconds` (within the budget); True if the machine is quiet enough."""
        if self.left <= 0:
            return False
        allowed = min(seconds, self.left)
        waited = wait_for_quiet(self.limit(threads), max_wait=allowed, window=1.0)
        self.left -= waited
        return waited < allowed


def measure_cell(
    work: Workload, batch_size: int, threads: int, repeats: int, quiet: Quiet
) -> dict[str, Any]:
    """Median rows/s of `repeats` epochs per precision, fp32 and bf16 alternating."""
    cell: dict[str, Any] = {"workload": work.name, "batch_size": batch_size, "threads": threads}
    cell["rows_per_epoch"] = work.rows
    torch.set_num_threads(threads)
    if not quiet.wait(threads, 30) and threads > 1:
        # Several threads next to a busy neighbour measure the neighbour, not the network.
        cell["skipped"] = f"machine busy (> {quiet.limit(threads):.2f} CPUs used by others)"
        return cell
    base = work.build()
    models = {p: with_precision(copy.deepcopy(base), p) for p in PRECISIONS}
    optimizers = {p: AdamW(models[p].parameters(), lr=1e-3, weight_decay=1e-4) for p in PRECISIONS}
    for precision in PRECISIONS:  # warm-up: oneDNN builds its bf16 kernels on first use
        timed_epoch(models[precision], optimizers[precision], work, batch_size, 8 * batch_size)
    runs: dict[str, list[dict[str, float]]] = {p: [] for p in PRECISIONS}
    for repeat in range(repeats):
        for precision in PRECISIONS if repeat % 2 == 0 else PRECISIONS[::-1]:
            runs[precision].append(
                timed_epoch(models[precision], optimizers[precision], work, batch_size, work.rows)
            )
        busy = max(runs[p][-1]["others"] for p in PRECISIONS) >= quiet.limit(threads)
        if threads > 1 and busy and not quiet.wait(threads, 15):
            break  # a neighbour came back: stop, rather than time it for minutes
    for precision in PRECISIONS:
        for clock in ("wall", "cpu"):
            cell[f"{precision}_{clock}"] = statistics.median(r[clock] for r in runs[precision])
    cell["speedup_wall"] = cell["bf16_wall"] / cell["fp32_wall"]
    cell["speedup_cpu"] = cell["bf16_cpu"] / cell["fp32_cpu"]
    cell["other_cpus_max"] = max(r["others"] for p in PRECISIONS for r in runs[p])
    cell["clean"] = cell["other_cpus_max"] < quiet.limit(threads)
    cell["runs"] = runs
    return cell


def throughput(repeats: int, quick: bool, wait_budget: float) -> list[dict[str, Any]]:
    cells = []
    quiet = Quiet(wait_budget)
    for work in workloads(quick):
        for batch_size in work.batch_sizes:
            for threads in (1, 2):
                cell = measure_cell(work, batch_size, threads, repeats, quiet)
                head = f"  {work.name:<20} batch {batch_size:>4} threads {threads}:"
                if "skipped" in cell:
                    log(f"{head} skipped, {cell['skipped']}")
                else:
                    log(
                        f"{head} wall fp32 {cell['fp32_wall']:>9,.0f} bf16 "
                        f"{cell['bf16_wall']:>9,.0f} x{cell['speedup_wall']:.2f}; per CPU-s "
                        f"fp32 {cell['fp32_cpu']:>9,.0f} bf16 {cell['bf16_cpu']:>9,.0f} "
                        f"x{cell['speedup_cpu']:.2f} (others {cell['other_cpus_max']:.2f} CPUs)"
                    )
                cells.append(cell)
    return cells


# --------------------------------------------------------------------------- accuracy


def real_tables() -> dict[str, tuple[Path, Any, str]]:
    """name -> (path for messages, frame, target): real tables that need no download."""
    import pandas as pd
    from sklearn import datasets

    tables: dict[str, tuple[Path, Any, str]] = {}
    for name, target in (("penguins", "species"), ("autompg", "mpg")):
        path = REPO / "sample_data" / f"{name}.csv"
        tables[name] = (path, pd.read_csv(path), target)
    for name in ("breast_cancer", "digits", "wine", "diabetes"):
        bunch = getattr(datasets, f"load_{name}")(as_frame=True)
        frame = bunch.frame
        if name != "diabetes":  # class labels as text, so the task is inferred as classification
            frame["target"] = frame["target"].map(lambda v: f"class_{v}")
        tables[name] = (Path(f"sklearn-{name}.csv"), frame, "target")
    return tables


def train_table(
    path: Path, frame: Any, target: str, hidden: list[int], precision: str, seed: int
) -> dict[str, Any]:
    """`nncli train`'s preparation, network and fit (MLP), the forward in `precision`."""
    from nncli.reporting import CollectingReporter
    from nncli.tabular.model import TabularModel
    from nncli.tabular.options import TabularOptions
    from nncli.tabular.train import WarningLog, build_network, fit_network, prepare_table

    options = TabularOptions(target=target, hidden_sizes=hidden)
    options = replace(options, training=replace(options.training, seed=seed, threads=1))
    log_ = WarningLog(CollectingReporter())
    table = prepare_table(path, frame, options, log_)
    network, _ = build_network(options, table, log_)
    start = time.process_time()  # CPU seconds: a busy neighbour does not inflate them
    # The Autocast wrapper is an nn.Module like the networks fit_network expects; only its
    # `arch == "tabm"` branch looks inside, and these runs are MLPs.
    trained = with_precision(network, precision)
    history = fit_network(trained, table, options)  # type: ignore[arg-type]
    seconds = time.process_time() - start
    meta = {"task": table.task.name, "target": table.target}
    model = TabularModel(network, table.preprocessor, meta)
    metrics = table.task.score(
        model.outputs(table.encoded["test"]), table.truth["test"], table.target
    )
    key = "accuracy" if table.task.name == "classification" else "rmse"
    return {
        "task": table.task.name,
        "metric": key,
        "value": float(metrics[key]),
        "log_loss": float(metrics.get("log_loss") or "nan"),
        "epochs": len(history.records),
        "seconds": seconds,
        "rows": int(table.split_sizes["train"]),
    }


def table_accuracy(hidden: list[int], seeds: tuple[int, ...]) -> list[dict[str, Any]]:
    torch.set_num_threads(1)
    results = []
    for name, (path, frame, target) in real_tables().items():
        row: dict[str, Any] = {"table": name, "hidden": "-".join(map(str, hidden))}
        for precision in PRECISIONS:
            runs = [train_table(path, frame.copy(), target, hidden, precision, s) for s in seeds]
            row["task"], row["metric"], row["train_rows"] = (
                runs[0]["task"],
                runs[0]["metric"],
                runs[0]["rows"],
            )
            row[precision] = [r["value"] for r in runs]
            row[f"{precision}_log_loss"] = [r["log_loss"] for r in runs]
            row[f"{precision}_epochs"] = [r["epochs"] for r in runs]
            row[f"{precision}_seconds"] = sum(r["seconds"] for r in runs)
        log(
            f"  {name:<14} {row['hidden']:<8} {row['metric']}: fp32 {np.mean(row['fp32']):.4f}  "
            f"bf16 {np.mean(row['bf16']):.4f}"
        )
        results.append(row)
    return results


def forecast_accuracy(ticker: str) -> list[dict[str, Any]]:
    """Validation pinball loss and median MAE (fp32-evaluated, scaled units) of one ticker."""
    from nncli.models.recurrent import PinballLoss
    from nncli.training.loop import predict_batches

    torch.set_num_threads(1)
    results = []
    for arch in ("lstm", "nbeats"):
        row: dict[str, Any] = {"model": arch, "ticker": ticker}
        for precision in PRECISIONS:
            losses, maes, epochs, seconds = [], [], [], 0.0
            for seed in SEEDS:
                options, windows = stock_windows([ticker], seed)
                train_x, train_y = torch.cat(windows.train_x), torch.cat(windows.train_y)
                valid_x, valid_y = torch.cat(windows.valid_x), torch.cat(windows.valid_y)
                network = forecasters(options, int(train_x.shape[2]))[arch]()
                loss = PinballLoss([0.1, 0.5, 0.9])

                def valid_mae(outputs: torch.Tensor, targets: torch.Tensor) -> float:
                    return float((outputs[:, :, 1] - targets).abs().mean())

                start = time.process_time()
                history = fit(
                    with_precision(network, precision),
                    loss,
                    ([train_x], train_y),
                    ([valid_x], valid_y),
                    options.training,
                    valid_mae,
                    "scaled MAE",
                )
                seconds += time.process_time() - start
                outputs = predict_batches(network, [valid_x])  # float32, the best weights
                losses.append(float(loss(outputs, valid_y)))
                maes.append(valid_mae(outputs, valid_y))
                epochs.append(len(history.records))
            row[f"{precision}_loss"], row[f"{precision}_mae"] = losses, maes
            row[f"{precision}_epochs"], row[f"{precision}_seconds"] = epochs, seconds
        row["train_windows"], row["valid_windows"] = int(train_x.shape[0]), int(valid_x.shape[0])
        log(
            f"  {arch:<8} {ticker}: valid pinball fp32 {np.mean(row['fp32_loss']):.5f}  "
            f"bf16 {np.mean(row['bf16_loss']):.5f}"
        )
        results.append(row)
    return results


# --------------------------------------------------------------------------- report


def mean_spread(values: list[float]) -> str:
    return f"{np.mean(values):.4f} ({min(values):.4f}-{max(values):.4f})"


def throughput_row(cell: dict[str, Any]) -> list[Any]:
    head = [cell["workload"], cell["batch_size"], cell["threads"]]
    if "skipped" in cell:
        return [*head, f"skipped: {cell['skipped']}", None, None, None, None, None, None]
    flag = "" if cell["clean"] else " (busy)"
    return [
        *head,
        cell["fp32_wall"],
        cell["bf16_wall"],
        f"{cell['speedup_wall']:.2f}x{flag}",
        cell["fp32_cpu"],
        cell["bf16_cpu"],
        f"{cell['speedup_cpu']:.2f}x",
        cell["other_cpus_max"],
    ]


def table_rows(tables: list[dict[str, Any]]) -> list[list[Any]]:
    def log_loss(r: dict[str, Any]) -> str | None:
        if r["task"] != "classification":
            return None
        return f"{np.mean(r['fp32_log_loss']):.4f} / {np.mean(r['bf16_log_loss']):.4f}"

    return [
        [
            r["table"],
            r["hidden"],
            r["train_rows"],
            r["metric"],
            mean_spread(r["fp32"]),
            mean_spread(r["bf16"]),
            f"{np.mean(r['bf16']) - np.mean(r['fp32']):+.4f}",
            log_loss(r),
            f"{np.mean(r['fp32_epochs']):.0f} / {np.mean(r['bf16_epochs']):.0f}",
            f"{r['fp32_seconds']:.1f} / {r['bf16_seconds']:.1f}",
        ]
        for r in tables
    ]


def forecast_rows(forecasts: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            r["model"],
            r["ticker"],
            f"{r['train_windows']}/{r['valid_windows']}",
            mean_spread(r["fp32_loss"]),
            mean_spread(r["bf16_loss"]),
            mean_spread(r["fp32_mae"]),
            mean_spread(r["bf16_mae"]),
            f"{np.mean(r['fp32_epochs']):.0f} / {np.mean(r['bf16_epochs']):.0f}",
            f"{r['fp32_seconds']:.1f} / {r['bf16_seconds']:.1f}",
        ]
        for r in forecasts
    ]


THROUGHPUT_HEADERS = [
    "network",
    "batch",
    "threads",
    "fp32 rows/s",
    "bf16 rows/s",
    "bf16 / fp32",
    "fp32 rows/CPU-s",
    "bf16 rows/CPU-s",
    "bf16 / fp32 (CPU)",
    "others' CPUs (max)",
]
TABLE_HEADERS = [
    "table",
    "MLP",
    "train rows",
    "metric",
    "fp32 mean (min-max)",
    "bf16 mean (min-max)",
    "bf16 - fp32",
    "log loss fp32 / bf16",
    "epochs fp32 / bf16",
    "fit CPU-s fp32 / bf16",
]
FORECAST_HEADERS = [
    "forecaster",
    "ticker",
    "windows train/valid",
    "valid pinball fp32",
    "valid pinball bf16",
    "valid MAE fp32",
    "valid MAE bf16",
    "epochs fp32 / bf16",
    "fit CPU-s fp32 / bf16",
]


def report(document: dict[str, Any]) -> str:
    m = document["machine"]
    matmul = [
        [k.split("@")[0], int(k.split("@")[1]), v["wall"], v["cpu"]]
        for k, v in document["matmul"].items()
    ]
    lines = [
        f"Machine: {m['cpu_model']}, {m['nproc']} CPUs, torch {m['torch_version']} "
        f"(CPU capability {m['torch_cpu_capability']}, oneDNN bf16 "
        f"{'yes' if m['mkldnn_bf16_supported'] else 'no'}); flags: {' '.join(m['precision_flags'])}",
        f"Load at start: {document['load_start']}",
        f"Load at end:   {document['load_end']}",
        "",
        markdown_table(
            ["2048x2048 matmul", "threads", "GFLOP/s (best wall)", "GFLOP per CPU-s (best)"],
            matmul,
        ),
        "",
        markdown_table(THROUGHPUT_HEADERS, [throughput_row(c) for c in document["throughput"]]),
        "",
        markdown_table(TABLE_HEADERS, table_rows(document["tables"])),
        "",
        markdown_table(FORECAST_HEADERS, forecast_rows(document["forecasts"])),
        "",
        f"Total {document['seconds']:.0f} s.",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a fifth of the rows; no accuracy")
    parser.add_argument(
        "--wait-budget", type=float, default=90, help="seconds in all to wait for a quiet machine"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    start = time.perf_counter()
    document: dict[str, Any] = {"machine": machine(), "load_start": load_average()}
    log(f"{document['load_start']}\nmatmul limits ...")
    document["matmul"] = {
        f"{name}@{threads}": matmul_gflops(dtype, threads)
        for threads in (1, 2)
        for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16))
    }
    log("throughput ...")
    document["throughput"] = throughput(args.repeats, args.quick, args.wait_budget)
    document["tables"], document["forecasts"] = [], []
    if not args.quick:
        log("accuracy, tables ...")
        document["tables"] = table_accuracy([128, 64], TABLE_SEEDS)
        document["tables"] += table_accuracy([512, 512], TABLE_SEEDS[:3])
        log("accuracy, forecasts ...")
        document["forecasts"] = forecast_accuracy("AAPL")
    document["load_end"] = load_average()
    document["seconds"] = time.perf_counter() - start
    document["command"] = " ".join([".venv/bin/python", *sys.argv])
    document["threads_env"] = {v: os.environ.get(v) for v in ("OMP_NUM_THREADS",)}
    print(report(document))
    if args.json:
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
