"""Forecasting speed: window building with `unfold` vs a Python loop, and LSTM seconds/epoch.

.venv/bin/python benchmarks/forecasting.py            # 200,000 windows; LSTM on the sample prices
.venv/bin/python benchmarks/forecasting.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nncli.forecasting.windows import make_windows  # noqa: E402


def best_of(repeats: int, action) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def window_benchmark(windows: int, lookback: int, features: int) -> dict[str, float]:
    series = torch.from_numpy(
        np.random.default_rng(0).normal(size=(windows + lookback - 1, features)).astype(np.float32)
    )

    def with_unfold() -> torch.Tensor:
        return make_windows(series, lookback).contiguous()  # materialised, as training uses it

    def with_loop() -> torch.Tensor:
        return torch.stack([series[i : i + lookback] for i in range(windows)])

    assert torch.equal(with_unfold(), with_loop())
    unfold_view = best_of(5, lambda: make_windows(series, lookback))
    unfold_copy = best_of(3, with_unfold)
    loop = best_of(3, with_loop)
    return {
        "windows": windows,
        "lookback": lookback,
        "features": features,
        "unfold_view_s": unfold_view,
        "unfold_materialised_s": unfold_copy,
        "python_loop_s": loop,
        "speedup_materialised": loop / unfold_copy,
    }


def lstm_benchmark(epochs: int) -> dict[str, float]:
    from nncli.forecasting.model import ForecastOptions, train_forecaster
    from nncli.forecasting.series import PanelSpec, load_panel
    from nncli.training.loop import TrainingConfig

    spec = PanelSpec("date", "adj_close", "ticker")
    panel = load_panel(REPO / "sample_data" / "stocks.csv", spec)
    options = ForecastOptions(
        panel=spec,
        arch="lstm",
        lookback=60,
        horizon=5,
        hidden_size=64,
        training=TrainingConfig(epochs=epochs, patience=epochs, seed=0),
    )
    start = time.perf_counter()
    _, history = train_forecaster(panel, options)
    seconds = time.perf_counter() - start
    return {
        "epochs": len(history.records),
        "seconds": seconds,
        "seconds_per_epoch": seconds / len(history.records),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--windows", type=int, default=200_000)
    parser.add_argument("--lookback", type=int, default=60)
    parser.add_argument("--features", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = {
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "windows": window_benchmark(args.windows, args.lookback, args.features),
        "lstm": lstm_benchmark(args.epochs),
    }
    w, lstm = result["windows"], result["lstm"]
    print(f"| windows ({w['windows']:,} x {w['lookback']} x {w['features']}) | seconds |")
    print("|---|---:|")
    print(f"| unfold view (no copy) | {w['unfold_view_s']:.6f} |")
    print(f"| unfold, materialised | {w['unfold_materialised_s']:.4f} |")
    print(f"| Python loop + stack | {w['python_loop_s']:.4f} |")
    print(f"\nunfold is {w['speedup_materialised']:.1f}x faster than the loop (materialised).")
    print(
        f"\nLSTM (hidden 64, lookback 60, horizon 5, 4 sample tickers): {lstm['seconds_per_epoch']:.2f} s/epoch over {lstm['epochs']} epochs"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
