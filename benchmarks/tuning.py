"""Tuning throughput: trials per minute with and without pruning, and 3 local workers vs 1.

    .venv/bin/python benchmarks/tuning.py [--trials 20] [--epochs 60] [--json out.json]

Each run uses a fresh journal file in a temporary folder and the real `run_study` code path
(the same one `nncli tune` calls) on sample_data/penguins.csv.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nncli.tabular.options import TabularOptions  # noqa: E402
from nncli.training.config import TrainingConfig  # noqa: E402
from nncli.tuning.budget import budget_state  # noqa: E402
from nncli.tuning.job import TuneJob  # noqa: E402
from nncli.tuning.runner import open_study, run_study  # noqa: E402
from nncli.tuning.tabular import TabularSearch  # noqa: E402


def timed_study(
    folder: Path, trials: int, epochs: int, pruner: str, workers: int
) -> dict[str, float]:
    job = TuneJob(
        domain=TabularSearch(
            TabularOptions(
                target="species", training=TrainingConfig(epochs=epochs, patience=epochs, seed=0)
            )
        ),
        data=REPO / "sample_data" / "penguins.csv",
        study_name=f"bench-{uuid.uuid4().hex[:6]}",
        storage_url=f"journal:{folder / 'bench.journal'}",
        trials=trials,
        pruner=pruner,
        quiet=True,
    )
    start = time.perf_counter()
    run_study(job, workers=workers)
    seconds = time.perf_counter() - start
    counts = budget_state(open_study(job))
    return {
        "pruner": pruner,
        "workers": workers,
        "trials": counts["finished"],
        "pruned": counts["pruned"],
        "seconds": seconds,
        "trials_per_minute": 60 * counts["finished"] / seconds,
        "best_value": open_study(job).best_value,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for pruner, workers in (("none", 1), ("median", 1), ("none", 3)):
            results.append(timed_study(folder, args.trials, args.epochs, pruner, workers))
    print(
        f"penguins.csv, {args.trials} trials x up to {args.epochs} epochs, {os.cpu_count()} cores"
    )
    print("| pruner | workers | finished | pruned | seconds | trials/min | best val. loss |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['pruner']} | {r['workers']} | {r['trials']} | {r['pruned']} | {r['seconds']:.1f} | {r['trials_per_minute']:.1f} | {r['best_value']:.4f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
