"""Training a tabular network and scoring it next to baselines."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from nncli.artifacts import provenance, weights_digest
from nncli.data.loading import read_csv, require_columns, require_rows
from nncli.data.preprocessing import fit_preprocessor, numeric_values, transform
from nncli.data.schema import MODEL_INPUT_KINDS, ColumnKind, infer_schema, infer_task
from nncli.data.splits import split_rows
from nncli.devices import resolve_device
from nncli.errors import DataError
from nncli.files import file_sha256
from nncli.metrics import PRIMARY_METRIC, better
from nncli.reporting import CollectingReporter, Reporter
from nncli.tabular.model import TabularModel
from nncli.tabular.options import MIN_TRAINING_ROWS, TabularOptions
from nncli.tasks import class_indices, label_sort_key, score
from nncli.training.loop import Callback, History

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd
    import torch

    from nncli.models.feedforward import MLP
    from nncli.models.rbf import RBFNetwork

@dataclass
class TrainReport:
    """The outcome of `train_tabular`: the model and the honest numbers."""

    model: TabularModel
    history: History
    task_reason: str
    test_metrics: dict[str, Any]
    train_metrics: dict[str, Any]
    valid_metrics: dict[str, Any]
    baselines: dict[str, dict[str, Any]]
    verdict: str
    beats_baselines: bool
    split_sizes: dict[str, Any]
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model.metadata["model_id"],
            "task": self.model.task,
            "task_reason": self.task_reason,
            "target": self.model.target_name,
            "split": self.split_sizes,
            "metrics": {
                "test": self.test_metrics,
                "valid": self.valid_metrics,
                "train": self.train_metrics,
            },
            "baselines": self.baselines,
            "verdict": self.verdict,
            "beats_baselines": self.beats_baselines,
            "best_epoch": self.history.best_epoch,
            "epochs_run": len(self.history.records),
            "stopped_early": self.history.stopped_early,
        }




def _verdict(
    task: str, test_metrics: dict[str, Any], baselines: dict[str, dict[str, Any]]
) -> tuple[str, bool]:
    metric, _ = PRIMARY_METRIC[task]
    network = test_metrics[metric]
    best_name = min(
        baselines,
        key=lambda name: (
            -baselines[name][metric] if PRIMARY_METRIC[task][1] else baselines[name][metric]
        ),
    )
    best_value = baselines[best_name][metric]
    if better(task, network, best_value):
        return (
            f"The network beats every baseline on test {metric}: {network:.4f} vs "
            f"{best_value:.4f} for {best_name}.",
            True,
        )
    return (
        f"The network does NOT beat {best_name} on test {metric} ({network:.4f} vs {best_value:.4f}); "
        "prefer the simpler model or try other settings.",
        False,
    )


def train_tabular(
    path: Path,
    options: TabularOptions,
    *,
    reporter: Reporter | None = None,
    callbacks: tuple[Callback, ...] = (),
    frame: pd.DataFrame | None = None,
    refit_on_train_and_valid: bool = False,
    score_test: bool = True,
) -> TrainReport:
    """Train an MLP on a CSV table and score it on a held-out test split next to baselines.

    `frame` passes the already-read table (tuning reads the CSV once). With
    `refit_on_train_and_valid` the network trains on train+validation for exactly
    `training.epochs` epochs (no early stopping): the refit of a tuned configuration.
    `score_test=False` skips the test split and the baselines (a tuning trial must never
    look at the test rows).
    """
    import numpy as np
    import torch
    from torch import nn

    from nncli.baselines import tabular_baselines
    from nncli.models.feedforward import MLP, MLPConfig, embedding_size
    from nncli.models.rbf import RBFConfig, RBFNetwork
    from nncli.training.loop import fit, seed_everything

    reporter = reporter or CollectingReporter()
    warnings: list[str] = []

    def warn(message: str) -> None:
        warnings.append(message)
        reporter.warn(message)

    options.validate()
    options = replace(
        options, training=replace(options.training, device=resolve_device(options.training.device))
    )
    if frame is None:
        frame = read_csv(path, options.csv, reporter=reporter)
    require_rows(frame, path)
    named = [c for c in (options.split_col, options.time_col) if c]
    require_columns(frame, path, [options.target], "target")
    require_columns(frame, path, [*options.drop, *options.id_columns, *named], "named")
    target = options.target
    missing_target = int(frame[target].isna().sum())
    if missing_target == len(frame):
        raise DataError(
            f"{path}: target column {target!r} has no values (all missing)",
            hint="choose another --target, or fill in the labels",
        )
    if missing_target:
        warn(f"{missing_target} row(s) with a missing {target!r} were left out")
        # Keep the file's row labels: later errors ("text at data row 12") name file rows.
        frame = frame[frame[target].notna()]
    if len(frame) < MIN_TRAINING_ROWS:
        raise DataError(
            f"{path}: only {len(frame)} row(s) with a {target!r} value; training needs at "
            f"least {MIN_TRAINING_ROWS} (some to train, some to validate, some to test)",
            hint="add rows",
        )
    choice = infer_task(frame[target], target)
    task = options.task or choice.task
    task_reason = choice.reason if options.task is None else f"--task {task} given"
    reporter.info(f"task: {task} ({task_reason})")

    excluded = {target, *options.drop, *options.id_columns, *named}
    schema = infer_schema(frame.drop(columns=list(excluded)))
    kinds = {c.name: c.kind for c in schema if c.kind in MODEL_INPUT_KINDS}
    ignored = {c.name: str(c.kind) for c in schema if c.kind not in MODEL_INPUT_KINDS}
    if ignored:
        reporter.info(
            "not used as features: "
            + ", ".join(f"{name} ({kind})" for name, kind in ignored.items())
        )
    if not kinds:
        raise DataError(
            f"{path}: no usable feature columns besides the target",
            hint="nncli uses numeric, categorical and boolean columns",
        )
    id_columns = list(options.id_columns) + [n for n, k in ignored.items() if k == ColumnKind.ID]

    if task == "classification":
        from nncli.data.preprocessing import category_strings

        classes = sorted(category_strings(frame[target]).unique().tolist(), key=label_sort_key)
        if len(classes) < 2:
            raise DataError(
                f"{path}: target {target!r} has a single class ({classes[0]!r})",
                hint="classification needs at least two classes",
            )
        labels_all = class_indices(frame[target], classes)
    else:
        classes = []
        labels_all = numeric_values(frame[target], path, target).to_numpy(np.float64)

    split = split_rows(
        frame,
        method=options.split,
        seed=options.training.seed,
        valid_size=options.valid_size,
        test_size=options.test_size,
        labels=frame[target].astype(str) if task == "classification" else None,
        time_col=options.time_col,
        split_col=options.split_col,
        path=path,
    )
    sizes: dict[str, Any] = {
        "train": len(split.train),
        "valid": len(split.valid),
        "test": len(split.test),
        "method": split.method,
    }
    reporter.info(
        f"split ({split.method}): {sizes['train']} train, {sizes['valid']} validation, {sizes['test']} test rows"
    )
    if refit_on_train_and_valid:
        # The refit trains on everything but the test rows and stops at a fixed epoch count.
        split.train = np.sort(np.concatenate([split.train, split.valid]))
        split.valid = split.train
    parts = {
        name: frame.iloc[rows]
        for name, rows in (("train", split.train), ("valid", split.valid), ("test", split.test))
    }
    preprocessor = fit_preprocessor(
        parts["train"], kinds, path=path, max_categories=options.max_categories
    )
    encoded = {name: transform(preprocessor, part, path=path) for name, part in parts.items()}
    truth = {
        "train": labels_all[split.train],
        "valid": labels_all[split.valid],
        "test": labels_all[split.test],
    }

    if task == "classification":
        n_outputs = len(classes)
        target_meta: dict[str, Any] = {"name": target, "classes": classes}
        counts = np.bincount(truth["train"], minlength=n_outputs).astype(np.float64)
        weight = None
        if options.class_weights:
            weight = torch.tensor(
                counts.sum() / (n_outputs * np.maximum(counts, 1)), dtype=torch.float32
            )
        loss_fn: nn.Module = nn.CrossEntropyLoss(weight=weight)
        tensor_targets = {k: torch.from_numpy(v) for k, v in truth.items()}
    else:
        n_outputs = 1
        mean, std = float(truth["train"].mean()), float(truth["train"].std()) or 1.0
        target_meta = {"name": target, "mean": mean, "std": std}
        loss_fn = nn.MSELoss()
        tensor_targets = {
            k: torch.from_numpy(((v - mean) / std).astype(np.float32)).unsqueeze(1)
            for k, v in truth.items()
        }

    cardinalities = [spec.cardinality for spec in preprocessor.categorical]
    config: MLPConfig | RBFConfig
    network: MLP | RBFNetwork
    if options.arch == "rbf":
        config = RBFConfig(
            n_numeric=preprocessor.n_numeric_features,
            n_outputs=n_outputs,
            categorical_cardinalities=cardinalities,
            embedding_dims=[embedding_size(c) for c in cardinalities],
            n_centres=options.centres or options.hidden_sizes[0],
        )
        generator = seed_everything(options.training.seed)
        network = RBFNetwork(config)
        network.init_centres(
            torch.from_numpy(encoded["train"].numeric),
            torch.from_numpy(encoded["train"].categorical),
            generator,
        )
    else:
        config = MLPConfig(
            n_numeric=preprocessor.n_numeric_features,
            n_outputs=n_outputs,
            categorical_cardinalities=cardinalities,
            embedding_dims=[embedding_size(c) for c in cardinalities],
            hidden_sizes=list(options.hidden_sizes),
            activation=options.activation,
            dropout=options.dropout,
            batch_norm=options.batch_norm,
        )
        seed_everything(options.training.seed)
        network = MLP(config)
    parameters = sum(p.numel() for p in network.parameters())
    if sizes["train"] < 50 or parameters > 50 * sizes["train"]:
        warn(
            f"only {sizes['train']} training rows for {parameters} parameters; the network may "
            "overfit (try a smaller --hidden or more data)"
        )

    metric_name, _ = PRIMARY_METRIC[task]
    target_std = target_meta.get("std", 1.0)

    def valid_metric(outputs: torch.Tensor, targets: torch.Tensor) -> float:
        if task == "classification":
            return float((outputs.argmax(dim=1) == targets).float().mean())
        return float(torch.sqrt(torch.mean((outputs - targets) ** 2))) * target_std

    def tensors(name: str) -> list[torch.Tensor]:
        return [
            torch.from_numpy(encoded[name].numeric),
            torch.from_numpy(encoded[name].categorical),
        ]

    training_config = options.training
    if refit_on_train_and_valid:  # a fixed number of epochs: no early stopping
        training_config = replace(training_config, patience=training_config.epochs + 1)
    history = fit(
        network,
        loss_fn,
        (tensors("train"), tensor_targets["train"]),
        (tensors("valid"), tensor_targets["valid"]),
        training_config,
        valid_metric,
        metric_name,
        callbacks,
    )
    network.cpu()
    if not np.isfinite(history.best.train_loss):
        raise DataError(
            f"{path}: training diverged (the loss became NaN or infinite)",
            hint="lower --lr, or check the data for extreme values",
        )

    model = TabularModel(network, preprocessor, {"task": task, "target": target_meta})
    scored = ("train", "valid", "test") if score_test else ("train", "valid")
    scores = {
        name: score(task, model.outputs(encoded[name]), truth[name], n_outputs) for name in scored
    }
    baselines: dict[str, dict[str, Any]] = {}
    verdict, beats = "not scored on the test split", False
    if score_test:
        baselines = tabular_baselines(
            task,
            encoded["train"].one_hot(cardinalities),
            truth["train"],
            encoded["test"].one_hot(cardinalities),
            truth["test"],
            n_outputs,
            options.training.seed,
        )
        verdict, beats = _verdict(task, scores["test"], baselines)
    gap_warning = _overfitting_warning(task, scores["train"], scores["valid"])
    if gap_warning:
        warn(gap_warning)

    state = network.state_dict()
    model_id = weights_digest(state)
    model.metadata = {
        "kind": "tabular",
        "model_id": model_id,
        "task": task,
        "task_reason": task_reason,
        "target": target_meta,
        "schema": {
            "columns": [c.to_dict() for c in schema if c.name in kinds],
            "input_columns": preprocessor.input_columns,
            "id_columns": id_columns,
            "ignored_columns": ignored,
            "dropped_columns": list(options.drop),
        },
        "preprocessing": preprocessor.to_dict(),
        "architecture": {"name": options.arch, **config.to_dict()},
        "training": {
            **options.training.to_dict(),
            "class_weights": options.class_weights,
            "split": sizes,
            "valid_size": options.valid_size,
            "test_size": options.test_size,
            "max_categories": options.max_categories,
        },
        "history": history.to_dict(),
        "metrics": {**scores, "baselines": baselines, "verdict": verdict},
        "data": {
            "path": str(path),
            "name": path.name,
            "sha256": file_sha256(path),
            "rows": len(frame),
        },
        "seed": options.training.seed,
        **provenance(),
    }
    return TrainReport(
        model=model,
        history=history,
        task_reason=task_reason,
        test_metrics=scores.get("test", {}),
        train_metrics=scores["train"],
        valid_metrics=scores["valid"],
        baselines=baselines,
        verdict=verdict,
        beats_baselines=beats,
        split_sizes=sizes,
        warnings=warnings,
    )




def _overfitting_warning(task: str, train: dict[str, Any], valid: dict[str, Any]) -> str | None:
    if task == "classification":
        gap = train["accuracy"] - valid["accuracy"]
        if gap > 0.1:
            return (
                f"overfitting: train accuracy {train['accuracy']:.3f} vs validation "
                f"{valid['accuracy']:.3f}; try more --dropout, --weight-decay or a smaller --hidden"
            )
    elif valid["rmse"] > 1.5 * train["rmse"] > 0:
        return (
            f"overfitting: train RMSE {train['rmse']:.4g} vs validation {valid['rmse']:.4g}; "
            "try more --dropout, --weight-decay or a smaller --hidden"
        )
    return None


