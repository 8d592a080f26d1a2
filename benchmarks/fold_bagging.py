"""Would bagging fold networks beat the shipped default? A measurement, not a product feature.

    .venv/bin/python benchmarks/fold_bagging.py --tables hitters --seeds 10 --out bag.jsonl
    .venv/bin/python benchmarks/fold_bagging.py --summarize bag.jsonl

Per table and seed, on `tabular_accuracy.py`'s fixed 80/20 split (same test rows):
- "default": `nncli train` as shipped (early stopping on 20 % of the training part, then the
  final refit on all of it), as `tabular_accuracy.py --models product --product tabm` runs it;
- "bag5": 5 networks, each trained with the default options on 4 of 5 folds of the training
  part (stratified for classes) and early-stopped on the fifth (`--final-refit never`); the
  prediction is the mean of their probabilities or values (cross-validation bagging, as
  AutoGluon and pytabkit's `n_cv` ensembles do);
- "bag5+refit": the mean of those 5 and the default's network (6 members);
- "half": the mean of the bag's prediction and the default's (each weighted 1/2).
With `--pair`, instead: "default", "early" (the default's early-stopped network, before its
final refit: `--final-refit never`) and "pair" (the mean of the two, the ensemble that costs
no extra training).
Errors as in `tabular_accuracy.py` (1 - accuracy, or RMSE); `--summarize` prints each
variant's mean error per table and its ratio to the default's.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import tabular_accuracy as bench  # noqa: E402

FOLDS = 5
VARIANTS = ("default", "bag5", "bag5+refit", "half", "early", "pair")


def test_outputs(spec, train, test, split: np.ndarray, seed: int, classes, **options):
    """Probabilities (columns in the benchmark's class order) or values for the test rows of
    a network `train_tabular` trains on `train` with this split column."""
    from nncli.reporting import CollectingReporter
    from nncli.tabular.model import encode_rows
    from nncli.tabular.train import train_tabular
    from nncli.training.config import TrainingConfig

    frame, settings = bench.split_column_options(
        spec, train, test, split, TrainingConfig(seed=seed), arch="tabm", **options
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{spec.name}.csv"
        frame.to_csv(path, index=False)
        model = train_tabular(path, settings, frame=frame).model
        encoded = encode_rows(model, test.drop(columns=[spec.target]), path, CollectingReporter())
    outputs = model.outputs(encoded)
    if classes is None:
        return outputs
    names = [str(c) for c in model.classes]
    return outputs[:, [names.index(str(c)) for c in classes]]


def measure(spec, frame: pd.DataFrame, seed: int, pair: bool = False) -> dict[str, float]:
    from sklearn.model_selection import train_test_split

    from nncli.tabular.folds import fold_validation_rows

    classification = spec.task == "classification"
    train_rows, test_rows = bench.split_rows(frame, spec, seed)
    train, test = frame.iloc[train_rows], frame.iloc[test_rows]
    if classification:
        y_train, y_test, classes = bench.class_codes(train[spec.target], test[spec.target])
    else:
        y_train = train[spec.target].to_numpy(dtype=np.float64)
        y_test, classes = test[spec.target].to_numpy(dtype=np.float64), None
    stratify = y_train if classification else None
    # The default's validation rows, exactly as `tabular_accuracy.fit_product` draws them.
    _, valid_rows = train_test_split(
        np.arange(len(train)), test_size=0.2, random_state=seed, stratify=stratify
    )
    split = np.full(len(train), "train", dtype=object)
    split[valid_rows] = "valid"
    default = test_outputs(spec, train, test, split, seed, classes)
    if pair:
        early = test_outputs(spec, train, test, split, seed, classes, final_refit="never")
        predictions = {"default": default, "early": early, "pair": (default + early) / 2}
    else:
        bag = []
        for fold_rows in fold_validation_rows(len(train), FOLDS, seed, stratify):
            fold_split = np.full(len(train), "train", dtype=object)
            fold_split[fold_rows] = "valid"
            bag.append(
                test_outputs(spec, train, test, fold_split, seed, classes, final_refit="never")
            )
        predictions = {
            "default": default,
            "bag5": np.mean(bag, axis=0),
            "bag5+refit": np.mean([*bag, default], axis=0),
            "half": (np.mean(bag, axis=0) + default) / 2,
        }
    return {
        name: bench.error(spec, y_test, values.argmax(axis=1) if classification else values)
        for name, values in predictions.items()
    }


def summarize(path: Path) -> str:
    errors: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    tasks = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        tasks[record["table"]] = record["task"]
        for name in VARIANTS:
            if name in record:
                errors[record["table"]][name].append(record[name])
    shown_variants = [v for v in VARIANTS if any(v in e for e in errors.values())]
    lines = [
        "| table | seeds | " + " | ".join(shown_variants) + " |",
        "|---|---|" + "---|" * len(shown_variants),
    ]
    ratios: dict[str, list[float]] = defaultdict(list)
    for table, by_variant in errors.items():
        means = {name: float(np.mean(values)) for name, values in by_variant.items()}
        cells = []
        for name in shown_variants:
            ratio = means[name] / means["default"] if means["default"] else 1.0
            ratios[name].append(ratio)
            shown = 1 - means[name] if tasks[table] == "classification" else means[name]
            cells.append(f"{shown:.4g} ({ratio:.3f})")
        lines.append(f"| {table} | {len(by_variant['default'])} | " + " | ".join(cells) + " |")
    geo = [math.exp(float(np.mean(np.log(ratios[name])))) for name in shown_variants]
    lines.append(
        "| **geo-mean error ratio to default** | | " + " | ".join(f"{g:.3f}" for g in geo) + " |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=["hitters"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default="fold_bagging.jsonl")
    parser.add_argument(
        "--pair", action="store_true", help="the early-stopped + refitted pair, not the bag"
    )
    parser.add_argument("--summarize", type=Path, help="print the markdown table of a results file")
    args = parser.parse_args()
    if args.summarize:
        print(summarize(args.summarize))
        return
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    for spec in bench.TABLES:
        if spec.name not in args.tables:
            continue
        frame = bench.load_table(spec, max_rows=20_000)
        for seed in range(args.seeds):
            record = {
                "table": spec.name,
                "task": spec.task,
                "seed": seed,
                **measure(spec, frame, seed, args.pair),
            }
            with Path(args.out).open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            print(json.dumps(record), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
