"""Does `nncli tune`'s best trial beat `nncli train`'s defaults? A spot-check on real tables.

    .venv/bin/python benchmarks/tune_spotcheck.py [--tables concrete diamonds ames-houses]
        [--trials 20] [--seed 0] [--out tune.jsonl]

Per table (from `tabular_datasets.py`, as `tabular_accuracy.py` loads them): the benchmark's
fixed 80/20 split for the seed, with 20 % of the training rows for validation (exactly the
rows `tabular_accuracy.py --models product` uses), written with a split column. Then
- `nncli train` with every option at its default (`train_tabular`);
- `nncli tune --trials N --pruner median` on the same file (`run_study`, a journal in a
  temporary folder; its first trial is the defaults), and its best trial retrained as
  `--save-best` does (`refit_best`): `--refit trial` (the default: as the trial trained) and
  `--refit all` (on train+validation for the trial's best epoch count), both with `--pick
  beats-defaults` (the default: the defaults stand unless the best trial beats them on the
  validation rows beyond one standard error), and the best trial as trained (`--pick best`);
both scored on the same test rows. The default tables are the three where the default loses
most to HistGradientBoosting in `RESULTS-tabular-candidates.md`: where tuning matters most.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tabular_accuracy import class_codes, split_rows
from tabular_datasets import TABLES, load_table

DEFAULT_TABLES = ["concrete", "diamonds", "ames-houses"]
PICK = "beats-defaults"  # tune's default for tables


def spot_check(name: str, trials: int, seed: int, max_rows: int) -> dict[str, object]:
    import pandas as pd
    from sklearn.model_selection import train_test_split

    from nncli.reporting import CollectingReporter
    from nncli.tabular.options import TabularOptions
    from nncli.tabular.train import train_tabular
    from nncli.training.config import TrainingConfig
    from nncli.tuning.job import TuneJob
    from nncli.tuning.refit import refit_best
    from nncli.tuning.report import summarize
    from nncli.tuning.runner import open_study, run_study
    from nncli.tuning.tabular import TabularSearch

    spec = next(t for t in TABLES if t.name == name)
    frame = load_table(spec, max_rows=max_rows)
    train_rows, test_rows = split_rows(frame, spec, seed)
    train, test = frame.iloc[train_rows], frame.iloc[test_rows]
    classification = spec.task == "classification"
    y_train = class_codes(train[spec.target], test[spec.target])[0] if classification else None
    _, valid_rows = train_test_split(
        np.arange(len(train)), test_size=0.2, random_state=seed, stratify=y_train
    )
    split = np.full(len(train), "train", dtype=object)
    split[valid_rows] = "valid"
    table = pd.concat([train.assign(__split__=split), test.assign(__split__="test")])
    options = TabularOptions(
        target=spec.target,
        task=spec.task,
        split="column",
        split_col="__split__",
        training=TrainingConfig(seed=seed),
    )
    metric = "accuracy" if classification else "rmse"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.csv"
        table.to_csv(path, index=False)
        start = time.perf_counter()
        default = train_tabular(path, options, frame=table)
        default_seconds = time.perf_counter() - start
        job = TuneJob(
            domain=TabularSearch(options),
            data=path,
            study_name=f"spot-{name}",
            storage_url=f"journal:{Path(folder) / 'tune.journal'}",
            trials=trials,
            pruner="median",
            seed=seed,
            quiet=True,
        )
        start = time.perf_counter()
        run_study(job)
        report = summarize(open_study(job), job.storage_url, space=job.space())
        refit = refit_best(
            job, report, Path(folder) / "tuned.nncli", CollectingReporter(), mode="trial", pick=PICK
        )
        tune_seconds = time.perf_counter() - start
        refit_all = refit_best(
            job,
            report,
            Path(folder) / "tuned-all.nncli",
            CollectingReporter(),
            mode="all",
            pick=PICK,
        )
        best_trial = refit_best(
            job,
            report,
            Path(folder) / "best.nncli",
            CollectingReporter(),
            mode="trial",
            pick="best",
        )
    assert report.best is not None
    return {
        "table": name,
        "seed": seed,
        "metric": metric,
        "default": default.test_metrics[metric],
        # tune's defaults for tables (--refit trial --pick beats-defaults), then --refit all.
        "tuned": refit["test_metrics"][metric],
        "tuned_refit_all": refit_all["test_metrics"][metric],
        "kept": refit.get("pick", {"kept": "best (the defaults trial)"})["kept"],
        "versus_defaults": refit.get("pick"),
        "best_trial_as_trained": best_trial["test_metrics"][metric],  # --pick best
        "hgb": next(v[metric] for k, v in default.baselines.items() if "oost" in k),
        "best_trial": report.best["number"],
        "best_params": report.best["params"],
        "trials": report.counts,
        "default_seconds": round(default_seconds, 1),
        "tune_seconds": round(tune_seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tables", nargs="+", default=DEFAULT_TABLES)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-rows", type=int, default=20_000)  # as tabular_accuracy.py
    parser.add_argument("--out", type=Path, default=Path("tune_spotcheck.jsonl"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    for name in args.tables:
        record = spot_check(name, args.trials, args.seed, args.max_rows)
        with args.out.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
