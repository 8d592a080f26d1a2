"""Accuracy benchmark: nncli's tabular network vs gradient boosting, linear models and sklearn's MLP.

    python benchmarks/tabular_accuracy.py --quick                      # smoke run
    python benchmarks/tabular_accuracy.py --out /tmp/tab.jsonl         # all tables, 3 seeds
    python benchmarks/tabular_accuracy.py --candidate default --candidate no-embeddings \
        --models nncli --out /tmp/tab.jsonl                            # compare configurations
    python benchmarks/tabular_accuracy.py --summarize /tmp/tab.jsonl   # markdown tables

Each table (see `tabular_datasets.py`): a fixed 80/20 split per seed (stratified for
classification); every model is fitted on the same 80 % and scored on the same 20 %.
nncli carves its validation rows (20 % of the training part) from the 80 %; the baselines
use scikit-learn defaults (HistGradientBoosting's own early stopping included).
Metrics: accuracy (error = 1 - accuracy) and RMSE; the error ratio to HistGradientBoosting
per table (mean over seeds) and its geometric mean over tables; seconds per fit.
Results are appended to a JSON-lines file one fit at a time, so an interrupted run resumes.
Everything runs on one thread (torch, OpenMP, BLAS) so timings compare like with like.
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
import time  # noqa: E402
import warnings  # noqa: E402
from collections import defaultdict  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tabular_datasets import QUICK_TABLES, TABLES, TableSpec, feature_kinds, load_table  # noqa: E402

from nncli.data.robust_scaling import apply_robust_scaler, fit_robust_scaler  # noqa: E402

MAX_CATEGORIES = 1000
# Candidate configurations of nncli's new network: (TabMConfig fields, TabMFitConfig fields).
CANDIDATES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "default": ({}, {}),
    "no-embeddings": ({"numeric_embedding": "none"}, {}),
    "plr": ({"numeric_embedding": "plr", "numeric_embedding_dim": 8}, {}),
    "k1": ({"k": 1}, {}),
    "k16": ({"k": 16}, {}),
    "batch-ensemble": ({"ensemble": "batch"}, {}),
    "no-front-scale": ({"front_scale": False}, {}),
    "param-act": ({"parametric_activation": True}, {}),
    "warmup-cos": ({}, {"lr_schedule": "warmup_cos"}),
    "constant-lr": ({}, {"lr_schedule": "constant"}),
    "no-label-smoothing": ({}, {"label_smoothing": 0.0}),
    "standard-scaling": ({"_scaling": "standard"}, {}),
    "wide3": ({"hidden_sizes": [256, 256, 256]}, {}),
    "narrow": ({"hidden_sizes": [128, 128]}, {}),
    "k4": ({"k": 4}, {}),
    "small-batch": ({}, {"batch_size": 0}),
    "no-dropout": ({"dropout": 0.0}, {}),
    "lr2e-3": ({}, {"lr": 2e-3}),
    "lr8e-3": ({}, {"lr": 8e-3}),
    "lr16e-3": ({}, {"lr": 1.6e-2}),
    "lr8e-3-e128": ({}, {"lr": 8e-3, "max_epochs": 128, "row_epochs": 200_000}),
    "e128": ({}, {"max_epochs": 128, "row_epochs": 200_000}),
    "wd": ({}, {"weight_decay": 0.02, "weight_decay_schedule": "flat_cos"}),
    "sched-dropout": ({"dropout": 0.15}, {"dropout_schedule": "flat_cos"}),
    "realmlp-like": (
        {"hidden_sizes": [256, 256, 256], "parametric_activation": True, "dropout": 0.15},
        {"dropout_schedule": "flat_cos"},
    ),
    # The old nncli default network, trained by this loop: a reference point.
    "plain-mlp": (
        {
            "numeric_embedding": "none",
            "k": 1,
            "front_scale": False,
            "hidden_sizes": [128, 64],
            "_scaling": "standard",
        },
        {"lr": 1e-3, "lr_schedule": "constant", "label_smoothing": 0.0, "betas": (0.9, 0.999)},
    ),
}


# ----------------------------------------------------------------------------- splitting
def split_rows(frame: pd.DataFrame, spec: TableSpec, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed 80/20 row split for `seed`, stratified for classification."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(frame))
    stratify = frame[spec.target].astype(str) if spec.task == "classification" else None
    train, test = train_test_split(rows, test_size=0.2, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(test)


def class_codes(train_y: pd.Series, test_y: pd.Series) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Class labels as integers from the training labels' sorted values."""
    labels = sorted(train_y.astype(str).unique())
    lookup = {label: i for i, label in enumerate(labels)}
    train = train_y.astype(str).map(lookup).to_numpy(dtype=np.int64)
    test = test_y.astype(str).map(lambda v: lookup.get(v, -1)).to_numpy(dtype=np.int64)
    return train, test, labels


def error(spec: TableSpec, truth: np.ndarray, prediction: np.ndarray) -> float:
    """1 - accuracy, or RMSE."""
    if spec.task == "classification":
        return float(np.mean(truth != prediction))
    return float(np.sqrt(np.mean((truth.astype(np.float64) - prediction) ** 2)))


# ----------------------------------------------------------------------------- baselines
def one_hot_design(train: pd.DataFrame, test: pd.DataFrame, numeric: list[str], cats: list[str]):
    """Median-imputed standardised numerics + one-hot categories (the linear models' input)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = []
    if numeric:
        numeric_pipe = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
        )
        parts.append(("numeric", numeric_pipe, numeric))
    if cats:
        encoder = OneHotEncoder(handle_unknown="ignore", max_categories=100)
        parts.append(("categorical", encoder, cats))
    transformer = ColumnTransformer(parts, sparse_threshold=0.0)
    as_text = {c: train[c].astype(str) for c in cats}
    as_text_test = {c: test[c].astype(str) for c in cats}
    x_train = transformer.fit_transform(train.assign(**as_text))
    x_test = transformer.transform(test.assign(**as_text_test))
    return x_train.astype(np.float32), x_test.astype(np.float32)


def hgb_frames(train: pd.DataFrame, test: pd.DataFrame, numeric: list[str], cats: list[str]):
    """Numerics as floats, categories as pandas categoricals (HGB's native support)."""
    x_train = pd.DataFrame(index=train.index)
    x_test = pd.DataFrame(index=test.index)
    for column in numeric:
        x_train[column] = train[column].astype(float)
        x_test[column] = test[column].astype(float)
    for column in cats:
        values = train[column].astype(str).where(train[column].notna())
        categories = values.value_counts().index[:250]  # HGB allows at most 255 categories
        dtype = pd.CategoricalDtype(sorted(categories))
        x_train[column] = values.astype(dtype)
        x_test[column] = test[column].astype(str).where(test[column].notna()).astype(dtype)
    return x_train, x_test


def fit_baseline(model: str, spec: TableSpec, train, test, numeric, cats, y_train, seed: int):
    """Fit one scikit-learn baseline; returns test predictions."""
    classification = spec.task == "classification"
    if model == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        x_train, x_test = hgb_frames(train, test, numeric, cats)
        estimator = (
            HistGradientBoostingClassifier(random_state=seed)
            if classification
            else HistGradientBoostingRegressor(random_state=seed)
        )
        return estimator.fit(x_train, y_train).predict(x_test)
    x_train, x_test = one_hot_design(train, test, numeric, cats)
    if model == "linear":
        from sklearn.linear_model import LogisticRegression, Ridge

        estimator = LogisticRegression(max_iter=2000) if classification else Ridge()
        return estimator.fit(x_train, y_train).predict(x_test)
    if model == "sklearn-mlp":
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.neural_network import MLPClassifier, MLPRegressor
        from sklearn.preprocessing import StandardScaler

        estimator = (
            MLPClassifier(random_state=seed)
            if classification
            else TransformedTargetRegressor(
                MLPRegressor(random_state=seed), transformer=StandardScaler()
            )
        )
        return estimator.fit(x_train, y_train).predict(x_test)
    raise ValueError(model)


# ----------------------------------------------------------------------------- nncli
def encode_for_network(
    train: pd.DataFrame, test: pd.DataFrame, numeric: list[str], cats: list[str], scaling: str
):
    """Numerics robust-scaled (+ missing indicators), categories as codes with 0 = unknown."""
    train_num = train[numeric].to_numpy(dtype=np.float64) if numeric else np.zeros((len(train), 0))
    test_num = test[numeric].to_numpy(dtype=np.float64) if numeric else np.zeros((len(test), 0))
    missing = np.isnan(train_num).any(axis=0)
    if scaling == "robust":
        scaler = fit_robust_scaler(train_num, numeric)
        x_train, x_test = (
            apply_robust_scaler(scaler, train_num),
            apply_robust_scaler(scaler, test_num),
        )
    else:  # the current nncli preprocessing: median imputation, mean/std standardisation
        median = np.nan_to_num(np.nanmedian(train_num, axis=0)) if numeric else np.zeros(0)
        filled = np.where(np.isnan(train_num), median, train_num)
        mean, std = filled.mean(axis=0), filled.std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)
        x_train = ((filled - mean) / std).astype(np.float32)
        x_test = ((np.where(np.isnan(test_num), median, test_num) - mean) / std).astype(np.float32)
    indicators_train = np.isnan(train_num[:, missing]).astype(np.float32)
    indicators_test = np.isnan(test_num[:, missing]).astype(np.float32)
    x_train = np.concatenate([x_train, indicators_train], axis=1)
    x_test = np.concatenate([x_test, indicators_test], axis=1)
    codes_train, codes_test, cardinalities = [], [], []
    for column in cats:
        values = train[column].astype(str).where(train[column].notna())
        vocabulary = list(values.value_counts().index[:MAX_CATEGORIES])
        index = pd.Index(vocabulary)
        codes_train.append(index.get_indexer(values) + 1)
        test_values = test[column].astype(str).where(test[column].notna())
        codes_test.append(index.get_indexer(test_values) + 1)
        cardinalities.append(len(vocabulary) + 1)
    c_train = np.stack(codes_train, axis=1) if cats else np.zeros((len(train), 0), dtype=np.int64)
    c_test = np.stack(codes_test, axis=1) if cats else np.zeros((len(test), 0), dtype=np.int64)
    return x_train, x_test, c_train.astype(np.int64), c_test.astype(np.int64), cardinalities


def fit_nncli(candidate: str, spec: TableSpec, train, test, numeric, cats, y_train, seed: int):
    """Fit nncli's network (configuration `candidate`) and predict the test rows."""
    import torch
    from sklearn.model_selection import train_test_split

    from nncli.models.tabm import TabM, TabMConfig
    from nncli.tabular.architectures import TabMTraining, fit_tabm
    from nncli.training.config import TrainingConfig
    from nncli.training.loop import predict_batches

    model_fields, fit_fields = CANDIDATES[candidate]
    model_fields = dict(model_fields)
    scaling = model_fields.pop("_scaling", "robust")
    torch.manual_seed(seed)
    x_train, x_test, c_train, c_test, cardinalities = encode_for_network(
        train, test, numeric, cats, scaling
    )
    classification = spec.task == "classification"
    rows = np.arange(len(x_train))
    fit_rows, valid_rows = train_test_split(
        rows, test_size=0.2, random_state=seed, stratify=y_train if classification else None
    )
    config = TabMConfig(
        n_numeric=x_train.shape[1],
        n_outputs=int(y_train.max()) + 1 if classification else 1,
        output_kind="logits" if classification else "values",
        categorical_cardinalities=cardinalities,
        **model_fields,
    )
    model = TabM(config)
    if classification:
        target = torch.from_numpy(y_train)
    else:  # standardised on the fitting rows, as nncli's regression task does
        fit_y = y_train[fit_rows].astype(np.float64)
        mean, std = float(fit_y.mean()), float(fit_y.std()) or 1.0
        target = torch.from_numpy(((y_train - mean) / std).astype(np.float32)).unsqueeze(1)

    def part(r):
        return [torch.from_numpy(x_train[r]), torch.from_numpy(c_train[r])], target[r]

    # The candidates were measured at batch 256 ("small-batch": by table size, the product's).
    settings = TabMTraining(**{"batch_size": 256, **fit_fields})
    history = fit_tabm(model, part(fit_rows), part(valid_rows), settings, TrainingConfig(seed=seed))
    outputs = predict_batches(model, [torch.from_numpy(x_test), torch.from_numpy(c_test)])
    info = {"best_epoch": history.best_epoch, "epochs_run": len(history.records)}
    if classification:
        return outputs.argmax(dim=1).numpy(), info
    values = outputs[:, 0].double().numpy() * std + mean
    return np.clip(values, fit_y.min(), fit_y.max()), info


# `nncli train` option sets run by `--models product` (TabularOptions fields).
# A "training" entry holds TrainingConfig fields (the seed is the benchmark's).
PRODUCT_VARIANTS: dict[str, dict[str, Any]] = {
    "mlp": {"arch": "mlp"},
    "tabm": {"arch": "tabm"},
    "tabm-256": {"arch": "tabm", "hidden_sizes": [256, 256]},
    "tabm-no-robust": {"arch": "tabm", "no_robust_scaling": True},
    "tabm-lr8e-3": {"arch": "tabm", "training": {"learning_rate": 8e-3}},
    "tabm-lr16e-3": {"arch": "tabm", "training": {"learning_rate": 1.6e-2}},
    "tabm-wd1e-3": {"arch": "tabm", "training": {"weight_decay": 1e-3}},
    "tabm-k16": {"arch": "tabm", "members": 16},
    # Run 3 (RESULTS-tabular-candidates.md): "tabm-ple" is the default since then.
    "tabm-ple": {"arch": "tabm", "numeric_embedding": "ple"},
    "tabm-pbld": {"arch": "tabm", "numeric_embedding": "pbld"},
    "tabm-lr4e-3": {"arch": "tabm", "training": {"learning_rate": 4e-3}},
    "tabm-k32": {"arch": "tabm", "members": 32},
    "tabm-512x3": {"arch": "tabm", "hidden_sizes": [512, 512, 512]},
    # Run 4: the default, then refitted on train+validation for its best epoch count (what
    # `tune --refit all` does to the kept trial): 25 % more rows, twice the training.
    "tabm-refit-all": {"arch": "tabm", "refit_all": True},
    # Run 5: the final refit's epoch count from 5 folds' mean validation curve; and two of
    # the variants tried on hitters over 10 seeds.
    "tabm-folds5": {"arch": "tabm", "epoch_folds": 5},
    "tabm-no-embedding": {"arch": "tabm", "numeric_embedding": "none"},
    "tabm-batch256": {"arch": "tabm", "training": {"batch_size": 256}},
}


def split_column_options(spec: TableSpec, train, test, split: np.ndarray, training, **options):
    """The table `nncli train` reads (the training part with `split` marking its fit and
    validation rows, then the test rows) and the options that read it that way."""
    from nncli.tabular.options import TabularOptions

    frame = pd.concat(
        [train.assign(__split__=split), test.assign(__split__="test")], ignore_index=True
    )
    settings = TabularOptions(
        target=spec.target,
        task=spec.task,
        split="column",
        split_col="__split__",
        training=training,
        **options,
    )
    return frame, settings


def fit_product(variant: str, spec: TableSpec, train, test, y_train, seed: int):
    """`nncli train`'s whole path (`train_tabular`) with default options but the variant's, on
    exactly this split: a split column marks the same fit/validation rows as `fit_nncli`
    and the benchmark's test rows. Returns the test error and the product's own
    HistGradientBoosting error on the same rows (a check on `fit_baseline`)."""
    from sklearn.model_selection import train_test_split

    from nncli.tabular.train import train_tabular
    from nncli.training.config import TrainingConfig

    classification = spec.task == "classification"
    rows = np.arange(len(train))
    _, valid_rows = train_test_split(
        rows, test_size=0.2, random_state=seed, stratify=y_train if classification else None
    )
    split = np.full(len(train), "train", dtype=object)
    split[valid_rows] = "valid"
    frame, options = split_column_options(
        spec,
        train,
        test,
        split,
        TrainingConfig(seed=seed, **PRODUCT_VARIANTS[variant].get("training", {})),
        **{
            k: v for k, v in PRODUCT_VARIANTS[variant].items() if k not in ("training", "refit_all")
        },
    )
    with tempfile.TemporaryDirectory() as folder:  # the model records the file's digest
        path = Path(folder) / f"{spec.name}.csv"
        frame.to_csv(path, index=False)
        report = train_tabular(path, options, frame=frame)
        if PRODUCT_VARIANTS[variant].get("refit_all"):
            epochs = max(1, report.history.best_epoch)
            refit = replace(options, training=replace(options.training, epochs=epochs))
            report = train_tabular(path, refit, frame=frame, refit_on_train_and_valid=True)
    metric = "accuracy" if classification else "rmse"
    hgb = next((v for k, v in report.baselines.items() if "oost" in k), None)

    def as_error(value: float) -> float:
        return 1.0 - value if classification else value

    info: dict[str, Any] = {
        "best_epoch": report.history.best_epoch,
        "epochs_run": len(report.history.records),
    }
    if hgb is not None:
        info["product_hgb_error"] = as_error(float(hgb[metric]))
    return as_error(float(report.test_metrics[metric])), info


# ----------------------------------------------------------------------------- driver
def run(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    names = set(args.tables or (QUICK_TABLES if args.quick else [t.name for t in TABLES]))
    seeds = [0] if args.quick else list(range(args.seeds))
    models = args.models or ["hgb", "linear", "sklearn-mlp", "nncli"]
    candidates = args.candidate or ["default"]
    out = Path(args.out)
    done = set()
    if out.exists():
        for line in out.read_text().splitlines():
            record = json.loads(line)
            done.add((record["table"], record["seed"], record["model"]))
    for spec in TABLES:
        if spec.name not in names:
            continue
        frame = load_table(spec, max_rows=args.max_rows)
        numeric, cats = feature_kinds(frame, spec.target)
        for seed in seeds:
            train_rows, test_rows = split_rows(frame, spec, seed)
            train, test = frame.iloc[train_rows], frame.iloc[test_rows]
            if spec.task == "classification":
                y_train, y_test, _ = class_codes(train[spec.target], test[spec.target])
            else:
                y_train = train[spec.target].to_numpy(dtype=np.float64)
                y_test = test[spec.target].to_numpy(dtype=np.float64)
            for model in models:
                labels = [f"nncli:{c}" for c in candidates] if model == "nncli" else [model]
                if model == "product":
                    labels = [f"product:{v}" for v in args.product or ["mlp", "tabm"]]
                for label in labels:
                    if (spec.name, seed, label) in done:
                        continue
                    start = time.perf_counter()
                    info: dict[str, Any] = {}
                    product_error = None
                    if label.startswith("product:"):
                        product_error, info = fit_product(
                            label.split(":", 1)[1], spec, train, test, y_train, seed
                        )
                        predictions = None
                    elif label.startswith("nncli:"):
                        predictions, info = fit_nncli(
                            label.split(":", 1)[1], spec, train, test, numeric, cats, y_train, seed
                        )
                    else:
                        predictions = fit_baseline(
                            model, spec, train, test, numeric, cats, y_train, seed
                        )
                    seconds = time.perf_counter() - start
                    record = {
                        "table": spec.name,
                        "task": spec.task,
                        "rows": len(frame),
                        "seed": seed,
                        "model": label,
                        "error": product_error
                        if product_error is not None
                        else error(spec, y_test, np.asarray(predictions)),
                        "seconds": round(seconds, 3),
                        **info,
                    }
                    with out.open("a") as handle:
                        handle.write(json.dumps(record) + "\n")
                    print(json.dumps(record), file=sys.stderr, flush=True)


def summarize(path: Path) -> str:
    """Markdown: per-table error (mean over seeds), ratio to HGB, seconds per fit; geo means."""
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    errors: dict[tuple[str, str], list[float]] = defaultdict(list)
    seconds: dict[tuple[str, str], list[float]] = defaultdict(list)
    meta: dict[str, tuple[str, int]] = {}
    # Compare like with like: per table, only the seeds that every model there has run.
    seeds_of: dict[tuple[str, str], set[int]] = defaultdict(set)
    for record in records:
        seeds_of[(record["table"], record["model"])].add(record["seed"])
    common: dict[str, set[int]] = {}
    for (table, _), seeds in seeds_of.items():
        common[table] = common[table] & seeds if table in common else set(seeds)
    records = [r for r in records if r["seed"] in common[r["table"]]]
    for record in records:
        key = (record["table"], record["model"])
        errors[key].append(record["error"])
        seconds[key].append(record["seconds"])
        meta[record["table"]] = (record["task"], record["rows"])
    models = sorted({m for _, m in errors}, key=lambda m: (m.startswith("nncli"), m))
    tables = [t.name for t in TABLES if t.name in meta]
    lines = [
        "Each cell: accuracy (classification) or RMSE (regression), mean over the seeds every "
        "model ran; (error ratio to HGB); seconds per fit.",
        "",
        "| table | task | rows | seeds | " + " | ".join(models) + " |",
        "|---|---|---|---|" + "---|" * len(models),
    ]
    ratios: dict[str, list[float]] = defaultdict(list)
    ratios_mlp: dict[str, list[float]] = defaultdict(list)
    for table in tables:
        task, rows = meta[table]
        hgb = np.mean(errors.get((table, "hgb"), [math.nan]))
        mlp = np.mean(errors.get((table, "sklearn-mlp"), [math.nan]))
        cells = []
        for model in models:
            if (table, model) not in errors:
                cells.append("–")
                continue
            value = float(np.mean(errors[(table, model)]))
            shown = f"{1 - value:.4f}" if task == "classification" else f"{value:.4g}"
            ratio = value / hgb if hgb > 0 else math.nan
            ratios[model].append(ratio)
            if mlp > 0:
                ratios_mlp[model].append(value / mlp)
            cells.append(f"{shown} ({ratio:.3f}) {np.mean(seconds[(table, model)]):.1f}s")
        n_seeds = len(common[table])
        lines.append(f"| {table} | {task} | {rows} | {n_seeds} | " + " | ".join(cells) + " |")

    def geo(values: list[float]) -> str:
        finite = [v for v in values if np.isfinite(v) and v > 0]
        return f"{math.exp(np.mean(np.log(finite))):.3f}" if finite else "–"

    lines.append(
        "| **geo-mean error ratio to HGB** | | | | "
        + " | ".join(geo(ratios[m]) for m in models)
        + " |"
    )
    lines.append(
        "| **geo-mean error ratio to sklearn MLP** | | | | "
        + " | ".join(geo(ratios_mlp[m]) for m in models)
        + " |"
    )
    lines.append(
        "| **tables at least as accurate as HGB** | | | | "
        + " | ".join(f"{sum(r <= 1.0 for r in ratios[m])}/{len(ratios[m])}" for m in models)
        + " |"
    )
    lines.append(
        "| **worst ratio to HGB** | | | | "
        + " | ".join(f"{max(ratios[m]):.3f}" if ratios[m] else "–" for m in models)
        + " |"
    )
    lines.append(
        "| **mean seconds per fit** | | | | "
        + " | ".join(
            f"{np.mean([s for (t, mm), v in seconds.items() if mm == m for s in v]):.1f}"
            for m in models
        )
        + " |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="four small tables, one seed")
    parser.add_argument("--tables", nargs="*", help="only these tables")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--models",
        nargs="*",
        choices=["hgb", "linear", "sklearn-mlp", "nncli", "product"],
        help="product: `nncli train` itself (train_tabular), see --product",
    )
    parser.add_argument("--candidate", action="append", choices=sorted(CANDIDATES))
    parser.add_argument(
        "--product",
        action="append",
        choices=sorted(PRODUCT_VARIANTS),
        help="the `nncli train` variants of --models product (default: mlp and tabm)",
    )
    parser.add_argument("--max-rows", type=int, default=20_000, help="sub-sample larger tables")
    parser.add_argument("--out", default="tabular_accuracy.jsonl")
    parser.add_argument("--summarize", metavar="JSONL", help="print the markdown summary and exit")
    args = parser.parse_args()
    if args.summarize:
        print(summarize(Path(args.summarize)))
        return
    run(args)
    print(summarize(Path(args.out)))


if __name__ == "__main__":
    main()
