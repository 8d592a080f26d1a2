"""The tabular journey as a library: train, evaluate and predict with an MLP on a CSV table.

CSV -> schema -> preprocessing (fitted on train) -> tensors -> MLP -> training -> metrics next
to baselines -> model file. The CLI commands are thin wrappers over these functions.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from nncli.artifacts import ModelFile, load_model_file, provenance, save_model_file
from nncli.data.loading import CsvOptions, read_csv, require_columns, require_rows
from nncli.data.preprocessing import Preprocessor, fit_preprocessor, numeric_values, transform
from nncli.data.schema import MODEL_INPUT_KINDS, ColumnKind, infer_schema, infer_task
from nncli.data.splits import split_rows
from nncli.errors import DataError, UsageError
from nncli.files import file_sha256
from nncli.metrics import PRIMARY_METRIC, better
from nncli.reporting import CollectingReporter, Reporter
from nncli.training.loop import Callback, History, TrainingConfig

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import pandas as pd
    import torch

    from nncli.data.preprocessing import EncodedFeatures
    from nncli.models.feedforward import MLP
    from nncli.models.rbf import RBFNetwork

TASKS = ("classification", "regression")
NetworkT = TypeVar("NetworkT", bound="torch.nn.Module")
MIN_TRAINING_ROWS = 10  # fewer cannot fill a training, a validation and a test split
TABULAR_ARCHITECTURES = ("mlp", "rbf")


@dataclass
class TabularOptions:
    """What to learn and how; every field maps to a `nncli train` option."""

    target: str
    task: str | None = None
    drop: list[str] = field(default_factory=list)
    id_columns: list[str] = field(default_factory=list)
    split: str = "auto"
    split_col: str | None = None
    time_col: str | None = None
    valid_size: float = 0.15
    test_size: float = 0.15
    hidden_sizes: list[int] = field(default_factory=lambda: [128, 64])
    activation: str = "relu"
    dropout: float = 0.1
    batch_norm: bool = False
    arch: str = "mlp"  # or "rbf": a radial-basis-function network
    centres: int | None = None  # RBF units [default: the first --hidden width]
    class_weights: bool = False
    max_categories: int = 1000
    training: TrainingConfig = field(default_factory=TrainingConfig)
    csv: CsvOptions = field(default_factory=CsvOptions)

    def validate(self) -> None:
        """Reject impossible settings before any data is read."""
        from nncli.models.feedforward import ACTIVATIONS

        t = self.training
        if self.task is not None and self.task not in TASKS:
            raise UsageError(f"--task must be one of {', '.join(TASKS)}, not {self.task!r}")
        if t.epochs < 1:
            raise UsageError(f"--epochs must be at least 1, not {t.epochs}")
        if t.batch_size is not None and t.batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, not {t.batch_size}")
        if t.patience < 1:
            raise UsageError(f"--patience must be at least 1, not {t.patience}")
        if not t.learning_rate > 0:
            raise UsageError(f"--lr must be positive, not {t.learning_rate}")
        if t.weight_decay < 0:
            raise UsageError(f"--weight-decay must be zero or positive, not {t.weight_decay}")
        if not 0 <= self.dropout < 1:
            raise UsageError(f"--dropout must be in [0, 1), not {self.dropout}")
        if not self.hidden_sizes or any(size < 1 for size in self.hidden_sizes):
            raise UsageError("--hidden needs positive layer widths, e.g. --hidden 128,64")
        if self.activation not in ACTIVATIONS:
            raise UsageError(
                f"--activation must be one of {', '.join(ACTIVATIONS)}, not {self.activation!r}"
            )
        if self.arch not in TABULAR_ARCHITECTURES:
            raise UsageError(
                f"--arch must be one of {', '.join(TABULAR_ARCHITECTURES)}, not {self.arch!r}"
            )
        if self.centres is not None and self.centres < 1:
            raise UsageError(f"--centres must be at least 1, not {self.centres}")
        if self.max_categories < 1:
            raise UsageError("--max-categories must be at least 1")
        if self.split not in ("auto", "stratified", "random", "time", "column"):
            raise UsageError(
                f"--split must be auto, stratified, random, time or column, not {self.split!r}"
            )


@dataclass
class TabularModel:
    """A trained (or loaded) tabular network with everything needed to use it."""

    network: MLP | RBFNetwork
    preprocessor: Preprocessor
    metadata: dict[str, Any]

    @property
    def task(self) -> str:
        return str(self.metadata["task"])

    @property
    def classes(self) -> list[str]:
        return list(self.metadata["target"].get("classes", []))

    @property
    def target_name(self) -> str:
        return str(self.metadata["target"]["name"])

    def outputs(self, encoded: EncodedFeatures) -> np.ndarray:
        """Class probabilities [rows, classes] or predictions in target units [rows]."""
        import torch

        from nncli.training.loop import predict_batches

        inputs = [torch.from_numpy(encoded.numeric), torch.from_numpy(encoded.categorical)]
        raw = predict_batches(self.network, inputs)
        if self.task == "classification":
            return torch.softmax(raw, dim=1).numpy()
        target = self.metadata["target"]
        return (raw[:, 0] * target["std"] + target["mean"]).numpy()


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


def _class_indices(labels: pd.Series, classes: list[str]) -> np.ndarray:
    import numpy as np
    import pandas as pd

    from nncli.data.preprocessing import category_strings

    return (
        pd.Index(classes, dtype=object)
        .get_indexer(category_strings(labels).astype(object))
        .astype(np.int64)
    )


def _score(task: str, outputs: np.ndarray, truth: np.ndarray, n_classes: int) -> dict[str, Any]:
    from nncli.metrics import classification_metrics, regression_metrics

    if task == "classification":
        return classification_metrics(truth, outputs, n_classes)
    return regression_metrics(truth, outputs)


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

        classes = sorted(category_strings(frame[target]).unique().tolist(), key=_label_sort_key)
        if len(classes) < 2:
            raise DataError(
                f"{path}: target {target!r} has a single class ({classes[0]!r})",
                hint="classification needs at least two classes",
            )
        labels_all = _class_indices(frame[target], classes)
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
        name: _score(task, model.outputs(encoded[name]), truth[name], n_outputs) for name in scored
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
    model_id = _weights_digest(state)
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


def _label_sort_key(label: str) -> tuple[int, float, str]:
    """Numeric labels in numeric order, then text labels alphabetically."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


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


def _weights_digest(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def save_tabular_model(path: Path, model: TabularModel) -> None:
    """Write the model file (atomically)."""
    save_model_file(path, dict(model.network.state_dict()), model.metadata)


def load_tabular_model(path: Path) -> TabularModel:
    """Load a tabular model file and rebuild its network on the CPU."""
    from nncli.errors import ModelFileError
    from nncli.models.feedforward import MLP, MLPConfig
    from nncli.models.rbf import RBFConfig, RBFNetwork

    loaded: ModelFile = load_model_file(path, expect_kind="tabular")
    meta = loaded.metadata
    try:
        architecture = {k: v for k, v in meta["architecture"].items() if k != "name"}
        name = meta["architecture"].get("name", "mlp")
        if name not in TABULAR_ARCHITECTURES:
            raise ValueError(f"unknown architecture {name!r}")
        build: Callable[[], MLP | RBFNetwork] = (
            (lambda: RBFNetwork(RBFConfig(**architecture)))
            if name == "rbf"
            else (lambda: MLP(MLPConfig(**architecture)))
        )
        network = network_matching(build, loaded.tensors)
        preprocessor = Preprocessor.from_dict(meta["preprocessing"])
        _check_metadata_matches_network(meta, preprocessor, architecture)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise ModelFileError(
            f"{path}: the model file's metadata is incomplete or does not match its weights ({exc})",
            hint="retrain the model with this version of nncli",
        ) from exc
    network.eval()
    return TabularModel(network, preprocessor, meta)


def network_matching(build: Callable[[], NetworkT], tensors: dict[str, torch.Tensor]) -> NetworkT:
    """The network `build` makes, loaded with `tensors`, or ValueError if their shapes differ.

    The shapes are compared on torch's meta device first, which allocates nothing: a model
    file whose metadata claims a 10^9-wide layer fails here instead of exhausting memory.
    """
    import torch

    with torch.device("meta"):
        expected = {name: tuple(t.shape) for name, t in build().state_dict().items()}
    found = {name: tuple(t.shape) for name, t in tensors.items()}
    if expected != found:
        names = sorted(set(expected) ^ set(found)) or sorted(
            name for name in expected if expected[name] != found[name]
        )
        raise ValueError(
            f"the weights do not match the architecture (first difference: {names[0]!r})"
        )
    network = build()
    network.load_state_dict(tensors)
    return network


def _check_metadata_matches_network(
    meta: dict[str, Any], preprocessor: Preprocessor, architecture: dict[str, Any]
) -> None:
    """Raise ValueError when the preprocessing or the labels disagree with the network's sizes."""
    cardinalities = [spec.cardinality for spec in preprocessor.categorical]
    if preprocessor.n_numeric_features != architecture["n_numeric"] or cardinalities != list(
        architecture["categorical_cardinalities"]
    ):
        raise ValueError("the preprocessing does not match the network's inputs")
    expected_outputs = len(meta["target"]["classes"]) if meta["task"] == "classification" else 1
    if meta["task"] not in TASKS or expected_outputs != architecture["n_outputs"]:
        raise ValueError("the task or its classes do not match the network's outputs")
    if meta["task"] == "regression":
        _ = float(meta["target"]["mean"]), float(meta["target"]["std"])
    _ = meta["target"]["name"], meta["schema"]["input_columns"], meta["schema"]["id_columns"]


def _check_input_columns(
    model: TabularModel, frame: pd.DataFrame, path: Path, reporter: Reporter
) -> None:
    needed = model.metadata["schema"]["input_columns"]
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: column {missing[0]!r} is missing"
            + (
                f" (and {len(missing) - 1} more: {', '.join(missing[1:4])})"
                if len(missing) > 1
                else ""
            ),
            hint=f"the model was trained with columns: {', '.join(needed)}",
        )
    known = {*needed, model.target_name, *model.metadata["schema"]["id_columns"]}
    extra = [str(c) for c in frame.columns if c not in known]
    if extra:
        reporter.info(
            f"ignoring {len(extra)} column(s) the model does not use: {', '.join(extra[:10])}"
        )


def _encode_for_model(
    model: TabularModel, frame: pd.DataFrame, path: Path, reporter: Reporter
) -> EncodedFeatures:
    _check_input_columns(model, frame, path, reporter)
    encoded = transform(model.preprocessor, frame, path=path)
    for name, count in encoded.unknown_counts.items():
        reporter.warn(
            f"column {name!r}: {count} row(s) hold categories unseen in training (unknown bucket)"
        )
    return encoded


def predict_tabular(
    model: TabularModel,
    path: Path,
    *,
    proba: bool = False,
    csv: CsvOptions | None = None,
    reporter: Reporter | None = None,
) -> pd.DataFrame:
    """Predictions for every row of a CSV, in input order, with its ID columns kept."""
    import pandas as pd

    reporter = reporter or CollectingReporter()
    frame = read_csv(path, csv, reporter=reporter)
    require_rows(frame, path)
    encoded = _encode_for_model(model, frame, path, reporter)
    outputs = model.outputs(encoded)
    id_columns = [c for c in model.metadata["schema"]["id_columns"] if c in frame.columns]
    result = frame[id_columns].copy() if id_columns else pd.DataFrame(index=frame.index)
    if model.task == "classification":
        classes = model.classes
        result["prediction"] = [classes[i] for i in outputs.argmax(axis=1)]
        if proba:
            for index, label in enumerate(classes):
                result[f"proba_{label}"] = outputs[:, index]
    else:
        result["prediction"] = outputs
    return result.reset_index(drop=True)


@dataclass
class EvaluationReport:
    """Metrics of a model on labelled data."""

    task: str
    rows: int
    metrics: dict[str, Any]
    confusion_matrix: list[list[int]] | None
    classes: list[str]
    per_class: dict[str, dict[str, float]] | None
    # Regression only: (actual, predicted) per row, for `evaluate --plot`; not in the JSON.
    points: tuple[list[float], list[float]] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "points"}


def evaluate_tabular(
    model: TabularModel,
    path: Path,
    *,
    csv: CsvOptions | None = None,
    reporter: Reporter | None = None,
) -> EvaluationReport:
    """Score a model on a labelled CSV (rows with a missing or unknown label are left out)."""
    import numpy as np

    from nncli.metrics import confusion

    reporter = reporter or CollectingReporter()
    frame = read_csv(path, csv, reporter=reporter)
    require_rows(frame, path)
    if file_sha256(path) == model.metadata.get("data", {}).get("sha256"):
        reporter.warn(
            f"{path} is the file the model was trained on: these metrics include training rows "
            "and are optimistic; the held-out test metrics are shown beside them"
        )
    target = model.target_name
    require_columns(frame, path, [target], "target")
    labelled = frame[frame[target].notna()]
    if len(labelled) < len(frame):
        reporter.warn(
            f"{len(frame) - len(labelled)} row(s) with a missing {target!r} were left out"
        )
    if labelled.empty:
        raise DataError(
            f"{path}: target column {target!r} has no values (all missing)",
            hint="evaluate needs labelled rows; use 'nncli predict' for unlabelled data",
        )
    if model.task == "classification":
        indices = _class_indices(labelled[target], model.classes)
        unknown = indices < 0
        if unknown.any():
            reporter.warn(
                f"{int(unknown.sum())} row(s) with labels unseen in training were left out"
            )
            labelled, indices = labelled[~unknown], indices[~unknown]
        if labelled.empty:
            raise DataError(
                f"{path}: no row has a label the model knows ({', '.join(model.classes)})"
            )
        encoded = _encode_for_model(model, labelled, path, reporter)
        outputs = model.outputs(encoded)
        metrics = _score("classification", outputs, indices, len(model.classes))
        predicted = outputs.argmax(axis=1)
        per_class = _per_class(indices, predicted, model.classes)
        return EvaluationReport(
            "classification",
            len(labelled),
            metrics,
            confusion(indices, predicted, len(model.classes)),
            model.classes,
            per_class,
        )
    truth = numeric_values(labelled[target], path, target).to_numpy(np.float64)
    encoded = _encode_for_model(model, labelled, path, reporter)
    predicted = model.outputs(encoded)
    metrics = _score("regression", predicted, truth, 1)
    points = (truth.tolist(), predicted.astype(np.float64).tolist())
    return EvaluationReport("regression", len(labelled), metrics, None, [], None, points)


def _per_class(
    truth: np.ndarray, predicted: np.ndarray, classes: list[str]
) -> dict[str, dict[str, float]]:
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=list(range(len(classes))), zero_division=0
    )
    return {
        label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for label, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    }
