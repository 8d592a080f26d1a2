"""Whole-command speed: `nncli` as a user runs it, against a plain script in the same moments.

The training loop alone is as fast as a hand-written one (benchmarks/train_throughput.py);
this measures the process a user waits for — start-up, reading the CSV, preprocessing,
training, baselines, saving — on a quiet machine, beside one busy neighbour process, and on
an oversubscribed machine (several multi-threaded neighbours), as on a shared cron host.

Each comparison runs its two commands alternately, `--runs` times each, and reports the
median of each and the ratio of the medians. Peak memory comes from `/usr/bin/time -f %M`.

    python benchmarks/command_speed.py                 # everything (about 15 minutes)
    python benchmarks/command_speed.py --quick         # fewer rows and runs
    python benchmarks/command_speed.py --only startup  # help, 150-row train, predict
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _util import log, machine_busy_cpus, markdown_table  # noqa: E402

PYTHON = sys.executable
NNCLI = str(Path(PYTHON).with_name("nncli"))
SAMPLE = REPO / "sample_data"

# The plain script nncli's `train` is compared with: read, split, standardise, the same MLP
# and loop (AdamW, batch 1024, validation pass per epoch), save the weights.
PLAIN_TRAIN = """
import sys, numpy as np, pandas as pd, torch
from torch import nn
path, epochs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if threads: torch.set_num_threads(threads)
torch.manual_seed(0)
frame = pd.read_csv(path)
x = frame.drop(columns="y").to_numpy(np.float32); y = frame["y"].to_numpy(np.float32)
order = np.random.default_rng(0).permutation(len(x)); n = int(0.7 * len(x)); v = int(0.85 * len(x))
mean, std = x[order[:n]].mean(0), x[order[:n]].std(0) + 1e-8
x = torch.from_numpy((x - mean) / std); y = torch.from_numpy((y - y[order[:n]].mean()) / y[order[:n]].std())[:, None]
train, valid = torch.from_numpy(order[:n]), torch.from_numpy(order[n:v])
net = nn.Sequential(nn.Linear(x.shape[1], 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 1))
opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
for epoch in range(epochs):
    perm = train[torch.randperm(len(train))]
    for start in range(0, len(perm), 1024):
        index = perm[start:start + 1024]
        opt.zero_grad(); loss = nn.functional.mse_loss(net(x[index]), y[index]); loss.backward(); opt.step()
    with torch.inference_mode(): nn.functional.mse_loss(net(x[valid]), y[valid])
torch.save(net.state_dict(), path + ".pt")
"""
NEIGHBOURS = {
    "quiet": [],
    "one busy neighbour": ["while True: pass"],
    "oversubscribed": [
        "import torch\na = torch.randn(512, 512)\nwhile True: a @ a",
        "import torch\na = torch.randn(512, 512)\nwhile True: a @ a",
        "import numpy as np\na = np.random.rand(400, 400)\nwhile True: a @ a",
    ],
}


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one command run to completion."""
    wrapped = ["/usr/bin/time", "-f", "%M", *command]
    start = time.perf_counter()
    done = subprocess.run(wrapped, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return seconds, peak_kib / 1024


@contextlib.contextmanager
def neighbours(scenario: str) -> Iterator[None]:
    """Start the scenario's neighbour processes for the block, then stop them."""
    processes = [subprocess.Popen([PYTHON, "-c", code]) for code in NEIGHBOURS[scenario]]
    try:
        if processes:
            time.sleep(2.0)  # let them start and reach their loops
        yield
    finally:
        for process in processes:
            process.kill()
            process.wait()


def compare(name: str, first: list[str], second: list[str], runs: int) -> dict[str, object]:
    """Run the two commands alternately; medians, their ratio and the peak memories."""
    times: dict[int, list[float]] = {0: [], 1: []}
    peaks: dict[int, list[float]] = {0: [], 1: []}
    for _ in range(runs):
        for index, command in enumerate((first, second)):
            seconds, peak = timed(command)
            times[index].append(seconds)
            peaks[index].append(peak)
    a, b = statistics.median(times[0]), statistics.median(times[1])
    log(f"  {name}: {a:.2f} s vs {b:.2f} s = {a / b:.2f}x")
    return {
        "what": name,
        "nncli_s": a,
        "reference_s": b,
        "ratio": a / b,
        "nncli_peak_mib": max(peaks[0]),
        "reference_peak_mib": max(peaks[1]),
    }


def make_table_csv(path: Path, rows: int, columns: int = 50) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, columns)).astype(np.float32)
    y = x[:, :5].sum(axis=1) + 0.1 * rng.standard_normal(rows)
    header = ",".join([f"x{i}" for i in range(columns)] + ["y"])
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header=header, comments="", fmt="%.6g")


def startup_rows(work: Path, runs: int) -> list[dict[str, object]]:
    """`--help`, a 150-row train and a 20-row predict against a bare `import torch`."""
    import pandas as pd

    penguins = pd.read_csv(SAMPLE / "penguins.csv").sample(frac=1.0, random_state=0)
    small, rows20 = work / "penguins150.csv", work / "penguins20.csv"
    penguins.head(150).to_csv(small, index=False)
    penguins.tail(20).to_csv(rows20, index=False)
    model = work / "small.nncli"
    bare_torch = [PYTHON, "-c", "import torch"]
    train = [NNCLI, "train", str(small), "--target", "species", "-o", str(model), "-q"]
    results = [compare("train, 150-row table vs import torch", train, bare_torch, runs)]
    predict = [NNCLI, "predict", str(model), str(rows20), "-q"]
    results.append(compare("predict, 20 rows vs import torch", predict, bare_torch, runs))
    help_command = [NNCLI, "--help"]
    results.append(compare("--help vs python -c pass", help_command, [PYTHON, "-c", "pass"], runs))
    return results


def forecast_rows(work: Path, runs: int) -> list[dict[str, object]]:
    """`forecast train` and `forecast predict` on one sample series, against import torch."""
    import pandas as pd

    prices = pd.read_csv(SAMPLE / "stocks.csv")
    series = work / "aapl.csv"
    prices[prices["ticker"] == "AAPL"].to_csv(series, index=False)
    model = work / "aapl.nncli"
    train = [
        NNCLI,
        "forecast",
        "train",
        str(series),
        "--time-col",
        "date",
        "--target",
        "adj_close",
        "--lookback",
        "60",
        "--horizon",
        "5",
        "-o",
        str(model),
        "-q",
    ]
    bare_torch = [PYTHON, "-c", "import torch"]
    results = [compare("forecast train, one series vs import torch", train, bare_torch, runs)]
    predict = [NNCLI, "forecast", "predict", str(model), str(series), "-q"]
    results.append(compare("forecast predict vs import torch", predict, bare_torch, runs))
    return results


def train_rows(work: Path, rows: int, runs: int, threads: list[int]) -> list[dict[str, object]]:
    """`nncli train` against the plain script on a rows x 50 table, per scenario and threads."""
    table = work / "table.csv"
    make_table_csv(table, rows)
    results = []
    for scenario in NEIGHBOURS:
        with neighbours(scenario):
            log(f"{scenario}: machine busy {machine_busy_cpus(1.0):.2f} CPUs")
            for count in threads:
                nncli = [
                    NNCLI,
                    "train",
                    str(table),
                    "--target",
                    "y",
                    "--task",
                    "regression",
                    "--hidden",
                    "256,128",
                    "--epochs",
                    "5",
                    "--dropout",
                    "0",
                    "--patience",
                    "100",
                    "-o",
                    str(work / "big.nncli"),
                    "-q",
                ]
                if count:
                    nncli += ["--threads", str(count)]
                plain = [PYTHON, "-c", PLAIN_TRAIN, str(table), "5", str(count)]
                label = f"train {rows:,} x 50, {scenario}, threads {count or 'default'}"
                row = compare(label, nncli, plain, runs)
                row["scenario"], row["threads"] = scenario, count or "default"
                results.append(row)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50k rows, 2 runs")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--threads", default="0,1,2", help="0 = nncli's default")
    parser.add_argument("--only", choices=["startup", "forecast", "train"], default=None)
    args = parser.parse_args()
    rows, runs = (50_000, 2) if args.quick else (args.rows, args.runs)
    threads = [int(t) for t in args.threads.split(",")]
    work = Path(tempfile.mkdtemp(prefix="nncli-speed-"))
    try:
        results: list[dict[str, object]] = []
        if args.only in (None, "startup"):
            results += startup_rows(work, runs)
        if args.only in (None, "forecast"):
            results += forecast_rows(work, runs)
        if args.only in (None, "train"):
            results += train_rows(work, rows, runs, threads)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"command: python benchmarks/command_speed.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"machine: {os.cpu_count()} CPUs; medians of {runs} runs, alternating\n")
    print(
        markdown_table(
            ["what", "nncli s", "reference s", "ratio", "nncli peak MiB", "reference peak MiB"],
            [
                [
                    r["what"],
                    r["nncli_s"],
                    r["reference_s"],
                    r["ratio"],
                    r["nncli_peak_mib"],
                    r["reference_peak_mib"],
                ]
                for r in results
            ],
        )
    )


if __name__ == "__main__":
    main()
