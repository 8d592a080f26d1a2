"""Training a tabular network and scoring it next to baselines.

`train_tabular` runs the named steps in order, each usable on its own:
`prepare_table` (labelled rows, task, features, split, preprocessing, encoded parts) ->
`build_network` -> `fit_network` -> `score_against_baselines` (metrics, baselines, verdict)
-> `model_metadata`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from nncli.artifacts import provenance, weights_digest
from nncli.baselines import BaselineData, BaselineWorker
from nncli.data.loading import read_csv, require_columns, require_rows
from nncli.data.preprocessing import fit_preprocessor, transform
from nncli.data.schema import MODEL_INPUT_KINDS, ColumnKind, infer_schema, infer_task
from nncli.data.splits import split_rows
from nncli.devices import resolve_device
from nncli.errors import DataError
from nncli.files import file_sha256
from nncli.reporting import CollectingReporter, Reporter
from nncli.tabular.architectures import architecture_named
from nncli.tabular.model import TabularModel
from nncli.tabular.options import FINAL_REFIT_MAX_ROWS, MIN_TRAINING_ROWS, TabularOptions
from nncli.tasks import Task, task_for

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import pandas as pd
    import torch

    from nncli.data.preprocessing import EncodedFeatures, Preprocessor
    from nncli.data.schema import ColumnInfo
    from nncli.tabular.architectures import Network, NetworkConfig
    from nncli.training.loop import Callback, History

PARTS = ("train", "valid", "test")


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
    valid_errors: np.ndarray  # each validation row's error (Task.row_errors), for comparisons

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


@dataclass
class WarningLog:
    """A reporter that passes everything on and keeps the warnings (for `TrainReport`)."""

    reporter: Reporter
    warnings: list[str] = field(default_factory=list)

    def info(self, message: str) -> None:
        self.reporter.info(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.reporter.warn(message)


@dataclass
class FeatureColumns:
    """Which columns the network reads, and what happens to the others."""

    schema: list[ColumnInfo]
    kinds: dict[str, ColumnKind]  # the model's input columns
    ignored: dict[str, str]  # column -> its kind, for columns no model can use
    id_columns: list[str]


@dataclass
class PreparedTable:
    """A table ready to learn from: task, features, split, encoded parts and their truth."""

    path: Path
    frame: pd.DataFrame  # the rows with a target value
    task: Task
    task_reason: str
    target: dict[str, Any]  # the model file's "target": name, classes or mean and std
    features: FeatureColumns
    preprocessor: Preprocessor
    split_sizes: dict[str, Any]
    encoded: dict[str, EncodedFeatures]  # per part: train, valid, test
    truth: dict[str, np.ndarray]  # per part: class indices or values in target units


@dataclass
class Scores:
    """The network's metrics per part, the baselines' test metrics and the verdict."""

    metrics: dict[str, dict[str, Any]]
    baselines: dict[str, dict[str, Any]]
    verdict: str
    beats_baselines: bool
    valid_errors: np.ndarray


def verdict(
    task: Task, test_metrics: dict[str, Any], baselines: dict[str, dict[str, Any]]
) -> tuple[str, bool]:
    """The sentence judging the network against its best baseline, and whether it won."""
    metric = task.primary_metric
    network = test_metrics[metric]
    best_name = task.best_of(baselines)
    best_value = baselines[best_name][metric]
    if task.better(network, best_value):
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
    reporter = reporter or CollectingReporter()
    log = WarningLog(reporter)
    options.validate()
    options = replace(
        options, training=replace(options.training, device=resolve_device(options.training.device))
    )
    # Started first: the baselines' process imports scikit-learn while this one reads and trains.
    from nncli.training.loop import every_fit

    with BaselineWorker() if score_test else contextlib.nullcontext() as baselines:
        if frame is None:
            frame = read_csv(path, options.csv, reporter=reporter)
        table = prepare_table(path, frame, options, log, refit_on_train_and_valid)
        # The saved network's training rows: train+validation after a final refit. The
        # baselines learn from the same rows.
        refit_table = (
            None
            if refit_on_train_and_valid or not score_test
            else final_refit_table(path, frame, options, table, log)
        )
        final = table if refit_table is None else refit_table
        refit: FinalRefit | None = None
        if baselines is not None:
            baselines.fit(
                final.task.name, baseline_data(final), final.target, options.training.seed
            )
        network, config = build_network(options, table, log)
        history = fit_network(network, table, options, callbacks, refit_on_train_and_valid)
        model = TabularModel(
            network, table.preprocessor, {"task": table.task.name, "target": table.target}
        )
        # Training and validation scores are the early-stopped network's; the test scores,
        # after a final refit, the refitted one's.
        seed = options.training.seed
        scores = score_against_baselines(
            model, table, seed, score_test=score_test and refit_table is None, baselines=baselines
        )
        if refit_table is not None:
            refit = refit_final_network(refit_table, options, history, log, every_fit(callbacks))
            network, config, model = refit.network, refit.config, refit.model
            scores = add_test_scores(scores, model, final, seed, baselines)
    overfitting = table.task.overfitting_warning(scores.metrics["train"], scores.metrics["valid"])
    if overfitting:
        log.warn(overfitting)
    model.metadata = model_metadata(final, options, config, history, scores, network)
    if refit is not None:
        model.metadata["training"]["final_refit"] = refit.record()
    return TrainReport(
        model=model,
        history=history,
        task_reason=table.task_reason,
        test_metrics=scores.metrics.get("test", {}),
        train_metrics=scores.metrics["train"],
        valid_metrics=scores.metrics["valid"],
        baselines=scores.baselines,
        verdict=scores.verdict,
        beats_baselines=scores.beats_baselines,
        split_sizes=table.split_sizes,
        warnings=log.warnings,
        valid_errors=scores.valid_errors,
    )


def final_refit_table(
    path: Path, frame: pd.DataFrame, options: TabularOptions, table: PreparedTable, log: Reporter
) -> PreparedTable | None:
    """The train+validation table the saved network is refitted on, or None where
    --final-refit says no (auto: more than `FINAL_REFIT_MAX_ROWS` such rows)."""
    rows = len(table.truth["train"]) + len(table.truth["valid"])
    if not options.wants_final_refit(rows):
        if options.epoch_folds > 1:
            log.warn(
                f"--epoch-folds {options.epoch_folds} unused: no final refit above "
                f"{FINAL_REFIT_MAX_ROWS:,} train+validation rows ({rows:,} here) unless "
                "--final-refit always"
            )
        return None
    if options.epoch_folds > 1:  # refused before any training, not after it
        from nncli.tabular.folds import check_fold_rows

        check_fold_rows(rows, options.epoch_folds)
    return prepare_table(path, frame, options, CollectingReporter(), True)


WHOLE_BUDGET = 10**9  # patience that never stops a fold before its planned epochs


@dataclass
class FinalRefit:
    """The network retrained on train+validation, and how its epoch count was chosen."""

    network: Network
    config: NetworkConfig
    model: TabularModel
    epochs: int
    rows: int
    fold_best_epochs: list[int] = field(default_factory=list)  # --epoch-folds: each fold's

    def record(self) -> dict[str, Any]:
        """The model file's `training.final_refit`."""
        record: dict[str, Any] = {"epochs": self.epochs, "rows": self.rows}
        if self.fold_best_epochs:
            record |= {
                "folds": len(self.fold_best_epochs),
                "fold_best_epochs": self.fold_best_epochs,
            }
        return record


def refit_final_network(
    table: PreparedTable,
    options: TabularOptions,
    history: History,
    log: Reporter,
    progress: tuple[Callback, ...] = (),
) -> FinalRefit:
    """The network retrained on `table` (train+validation) for the best epoch count of the
    early-stopped one (or, with --epoch-folds, of the folds' mean validation curve): 25 %
    more rows to learn from, and the epoch count validation chose
    (benchmarks/RESULTS-tabular-candidates.md, run 4: 13 of 15 tables at least as accurate
    as gradient boosting instead of 9)."""
    epochs, fold_best_epochs = max(1, history.best_epoch), list[int]()
    if options.epoch_folds > 1:
        epochs, fold_best_epochs = cross_validated_epochs(table, options, log, progress)
    rows = len(table.truth["train"])
    log.info(f"retraining on train+validation ({rows} rows) for {epochs} epochs")
    refit = replace(options, training=replace(options.training, epochs=epochs))
    # Built silently: the size warning was given once, for the rows the first network saw.
    network, config = build_network(refit, table, CollectingReporter())
    fit_network(network, table, refit, progress, fixed_epochs=True, label="refit")
    meta = {"task": table.task.name, "target": table.target}
    model = TabularModel(network, table.preprocessor, meta)
    return FinalRefit(network, config, model, epochs, rows, fold_best_epochs)


def cross_validated_epochs(
    table: PreparedTable,
    options: TabularOptions,
    log: Reporter,
    progress: tuple[Callback, ...] = (),
) -> tuple[int, list[int]]:
    """The best epoch of the mean validation curve over `--epoch-folds` folds of the
    train+validation rows of `table`, and each fold's own best epoch (`nncli.tabular.folds`).
    Every fold trains the whole planned budget: no early stopping cuts a curve short."""
    from nncli.tabular.folds import best_mean_epoch, fold_table, fold_validation_rows

    folds = options.epoch_folds
    classes = table.truth["train"] if table.task.name == "classification" else None
    parts = fold_validation_rows(len(table.truth["train"]), folds, options.training.seed, classes)
    log.info(f"choosing the refit's epoch count on {folds} folds of train+validation")
    whole_budget = replace(options, training=replace(options.training, patience=WHOLE_BUDGET))
    metric_curves, loss_curves, fold_best_epochs = [], [], []
    for index, valid_rows in enumerate(parts, 1):
        fold = fold_table(table, valid_rows)
        network, _ = build_network(options, fold, CollectingReporter())
        history = fit_network(network, fold, whole_budget, progress, label=f"fold {index}/{folds}")
        metric_curves.append([record.valid_metric for record in history.records])
        loss_curves.append([record.valid_loss for record in history.records])
        fold_best_epochs.append(history.best_epoch)
    epochs = best_mean_epoch(metric_curves, loss_curves, table.task.higher_is_better)
    return epochs, fold_best_epochs


def prepare_table(
    path: Path,
    frame: pd.DataFrame,
    options: TabularOptions,
    reporter: Reporter,
    refit_on_train_and_valid: bool = False,
) -> PreparedTable:
    """Everything before the network: labelled rows, task, features, split and encoded parts.

    With `refit_on_train_and_valid` the training part is train+validation (and validation
    repeats it), for a refit that stops at a fixed epoch count.
    """
    import numpy as np

    frame = labelled_frame(path, frame, options, reporter)
    target = options.target
    choice = infer_task(frame[target], target, path)
    task = task_for(options.task or choice.task)
    task_reason = choice.reason if options.task is None else f"--task {task.name} given"
    reporter.info(f"task: {task.name} ({task_reason})")
    options.check_task(task.name)
    features = feature_columns(path, frame, options, reporter)
    truth_all, target_meta = task.read_target(frame[target], path, target, options.csv)
    method, time_col = options.split_plan(frame, path)
    split = split_rows(
        frame,
        method=method,
        seed=options.training.seed,
        valid_size=options.valid_size,
        test_size=options.test_size,
        labels=task.stratify_by(truth_all, target_meta),
        time_col=time_col,
        split_col=options.split_col,
        path=path,
    )
    by = f", by column {time_col!r}" if time_col else ""
    sizes: dict[str, Any] = {
        "train": len(split.train),
        "valid": len(split.valid),
        "test": len(split.test),
        "method": split.method,
    }
    reporter.info(
        f"split ({split.method}{by}): {sizes['train']} train, {sizes['valid']} validation, {sizes['test']} test rows"
    )
    if refit_on_train_and_valid:
        split.train = np.sort(np.concatenate([split.train, split.valid]))
        split.valid = split.train
    rows = {"train": split.train, "valid": split.valid, "test": split.test}
    parts = {name: frame.iloc[rows[name]] for name in PARTS}
    preprocessor = fit_preprocessor(
        parts["train"], features.kinds, path=path, max_categories=options.max_categories
    )
    truth = {name: truth_all[rows[name]] for name in PARTS}
    return PreparedTable(
        path=path,
        frame=frame,
        task=task,
        task_reason=task_reason,
        target=task.fit_target(target_meta, truth["train"]),
        features=features,
        preprocessor=preprocessor,
        split_sizes=sizes,
        encoded={name: transform(preprocessor, part, path=path) for name, part in parts.items()},
        truth=truth,
    )


def labelled_frame(
    path: Path, frame: pd.DataFrame, options: TabularOptions, reporter: Reporter
) -> pd.DataFrame:
    """The rows with a target value, after checking the named columns exist."""
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
        reporter.warn(f"{missing_target} row(s) with a missing {target!r} were left out")
        # Keep the file's row labels: later errors ("text at data row 12") name file rows.
        frame = frame[frame[target].notna()]
    if len(frame) < MIN_TRAINING_ROWS:
        raise DataError(
            f"{path}: only {len(frame)} row(s) with a {target!r} value; training needs at "
            f"least {MIN_TRAINING_ROWS} (some to train, some to validate, some to test)",
            hint="add rows",
        )
    return frame


def feature_columns(
    path: Path, frame: pd.DataFrame, options: TabularOptions, reporter: Reporter
) -> FeatureColumns:
    """The columns the network reads: every usable column not named as target, ID or dropped."""
    named = [c for c in (options.split_col, options.time_col) if c]
    excluded = {options.target, *options.drop, *options.id_columns, *named}
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
    return FeatureColumns(schema, kinds, ignored, id_columns)


def build_network(
    options: TabularOptions, table: PreparedTable, reporter: Reporter
) -> tuple[Network, NetworkConfig]:
    """The seeded, untrained network for the table (warns when it dwarfs the training rows)."""
    network, config = architecture_named(options.arch).build(options, table)
    warning = size_warning(table.split_sizes["train"], parameter_count(network))
    if warning:
        reporter.warn(warning)
    return network, config


def parameter_count(network: Network) -> int:
    """The network's trainable and fitted parameters (what `train` warns and `inspect` says)."""
    return sum(p.numel() for p in network.parameters())


def size_warning(train_rows: int, parameters: int) -> str | None:
    """The warning when a network dwarfs its training rows (None when it does not)."""
    if train_rows < 50 or parameters > 50 * train_rows:
        return (
            f"only {train_rows} training rows for {parameters} parameters; the network may "
            "overfit (try a smaller --hidden or more data)"
        )
    return None


def network_size(path: Path, frame: pd.DataFrame, options: TabularOptions) -> tuple[int, int]:
    """(training rows, parameters) of the network `nncli train` would build for this table
    with these options: the same split, preprocessing and architecture, untrained."""
    table = prepare_table(path, frame, options, CollectingReporter())
    network, _ = architecture_named(options.arch).build(options, table)
    return table.split_sizes["train"], parameter_count(network)


def fit_network(
    network: Network,
    table: PreparedTable,
    options: TabularOptions,
    callbacks: tuple[Callback, ...] = (),
    fixed_epochs: bool = False,
    label: str = "",
) -> History:
    """Train `network` on the table's training part in the one loop, early-stopping on
    validation, on `--device`; the architecture's recipe says how (`training_plan`).

    `fixed_epochs` runs exactly `training.epochs` epochs (a refit: no early stopping).
    Leaves the network on the CPU with its best weights.
    """
    import numpy as np
    import torch

    from nncli.training.loop import fit

    task, target = table.task, table.target

    def part(name: str) -> tuple[list[torch.Tensor], torch.Tensor]:
        encoded = table.encoded[name]
        inputs = [torch.from_numpy(encoded.numeric), torch.from_numpy(encoded.categorical)]
        return inputs, task.encode(table.truth[name], target)

    architecture = architecture_named(options.arch)
    plan = architecture.training_plan(options, table, fixed_epochs)
    valid = part("valid")
    history = fit(
        network,
        plan.loss,
        part("train"),
        valid,
        plan.config,
        task.validation_metric(target),
        task.primary_metric,
        callbacks,
        plan.recipe,
        label,
    )
    if history.records:
        architecture.after_fit(options, network, valid, history)
    network.cpu()
    if not np.isfinite(history.best.train_loss):
        raise DataError(
            f"{table.path}: training diverged (the loss became NaN or infinite)",
            hint="lower --lr, or check the data for extreme values",
        )
    return history


def baseline_data(table: PreparedTable) -> BaselineData:
    """The training and test rows as the network sees them, for the baselines."""
    return BaselineData(
        train=table.encoded["train"],
        train_truth=table.truth["train"],
        test=table.encoded["test"],
        test_truth=table.truth["test"],
        cardinalities=[spec.cardinality for spec in table.preprocessor.categorical],
    )


def score_against_baselines(
    model: TabularModel,
    table: PreparedTable,
    seed: int,
    *,
    score_test: bool = True,
    baselines: BaselineWorker | None = None,
) -> Scores:
    """The model's metrics on the training and validation parts and, with `score_test`, on
    the test part beside the baselines, with the verdict (`add_test_scores`)."""
    task, target = table.task, table.target
    outputs = {name: model.outputs(table.encoded[name]) for name in ("train", "valid")}
    metrics = {name: task.score(out, table.truth[name], target) for name, out in outputs.items()}
    valid_errors = task.row_errors(outputs["valid"], table.truth["valid"])
    scores = Scores(metrics, {}, "not scored on the test split", False, valid_errors)
    return add_test_scores(scores, model, table, seed, baselines) if score_test else scores


def add_test_scores(
    scores: Scores,
    model: TabularModel,
    table: PreparedTable,
    seed: int,
    baselines: BaselineWorker | None = None,
) -> Scores:
    """`scores` with `model`'s test metrics, the baselines' and the verdict. The baselines
    come from `baselines` (a worker already fitting them) or are fitted here."""
    task, target = table.task, table.target
    test = task.score(model.outputs(table.encoded["test"]), table.truth["test"], target)
    if baselines is not None:
        baseline_metrics = baselines.result()
    else:
        baseline_metrics = task.fit_baselines(baseline_data(table), target, seed)
    sentence, beats = verdict(task, test, baseline_metrics)
    metrics = scores.metrics | {"test": test}
    return replace(
        scores, metrics=metrics, baselines=baseline_metrics, verdict=sentence, beats_baselines=beats
    )


def model_metadata(
    table: PreparedTable,
    options: TabularOptions,
    config: NetworkConfig,
    history: History,
    scores: Scores,
    network: Network,
) -> dict[str, Any]:
    """The model file's metadata: schema, preprocessing, architecture, training and scores."""
    features = table.features
    return {
        "kind": "tabular",
        "model_id": weights_digest(network.state_dict()),
        "task": table.task.name,
        "task_reason": table.task_reason,
        "target": table.target,
        "schema": {
            "columns": [c.to_dict() for c in features.schema if c.name in features.kinds],
            "input_columns": table.preprocessor.input_columns,
            "id_columns": features.id_columns,
            "ignored_columns": features.ignored,
            "dropped_columns": list(options.drop),
        },
        "preprocessing": table.preprocessor.to_dict(),
        "architecture": {"name": options.arch, **config.to_dict()},
        "training": {
            **training_settings(options, table.task.name, history),
            "class_weights": options.class_weights,
            "split": table.split_sizes,
            "valid_size": options.valid_size,
            "test_size": options.test_size,
            "max_categories": options.max_categories,
        },
        "history": history.to_dict(),
        "metrics": {**scores.metrics, "baselines": scores.baselines, "verdict": scores.verdict},
        "data": {
            "path": str(table.path),
            "name": table.path.name,
            "sha256": file_sha256(table.path),
            "rows": len(table.frame),
        },
        "seed": options.training.seed,
        **provenance(),
    }


def training_settings(options: TabularOptions, task: str, history: History) -> dict[str, Any]:
    """The training options as they were used: each left-out one as its architecture's default."""
    return architecture_named(options.arch).training_record(options, task, history)
