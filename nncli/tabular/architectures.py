"""The tabular networks, one registry entry each: the only place that asks "which one?".

An entry knows how to build its network for a table, rebuild it from a model file, run it
without torch (its NumPy twin, if any), wrap it for a one-input export, train it (the one
loop's settings and `Recipe`), calibrate it after training, record its settings, and what
a search may vary. Adding an architecture: a network in `nncli/models/<name>.py`, a subclass
of `TabularArchitecture` here and one line in `ARCHITECTURES`.

Light at import (the CLI reads `ARCHITECTURES` for its choices): torch and the networks are
imported inside the methods.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import torch
    from torch import nn

    from nncli.models.feedforward import MLP, MLPConfig
    from nncli.models.rbf import RBFConfig, RBFNetwork
    from nncli.models.tabm import TabM, TabMConfig
    from nncli.tabular.options import TabularOptions
    from nncli.tabular.train import PreparedTable
    from nncli.training.config import TrainingConfig
    from nncli.training.loop import History, Recipe

    Network = MLP | RBFNetwork | TabM
    Part = tuple[list[torch.Tensor], torch.Tensor]  # (inputs, targets) of one split part
    NetworkConfig = MLPConfig | RBFConfig | TabMConfig


@dataclass
class TrainingPlan:
    """How the one loop trains a network: settings (the planned epoch budget in `epochs`),
    the recipe and the loss."""

    config: TrainingConfig
    recipe: Recipe
    loss: nn.Module


class TabularArchitecture:
    """The base entry: a network trained as the plain loop trains (AdamW, constant learning
    rate, the epoch with the lowest validation loss kept)."""

    name: ClassVar[str]
    display: ClassVar[str]  # the network's name in help, titles and tables: "TabM"
    summary: ClassVar[str]  # what it is, for --arch's help
    # The TabularOptions fields of `ARCHITECTURE_OPTIONS` this network uses; the others are
    # refused with it (an option never silently does nothing).
    takes: ClassVar[frozenset[str]] = frozenset()
    # Search-space parameters only this architecture uses.
    tunable: ClassVar[frozenset[str]] = frozenset()

    def build(self, options: TabularOptions, table: PreparedTable) -> tuple[Network, Any]:
        """The seeded, untrained network for the table and the config that rebuilds it."""
        raise NotImplementedError

    def rebuild(self, architecture: dict[str, Any]) -> Network:
        """The untrained network a model file's "architecture" entry (less its name) describes."""
        raise NotImplementedError

    def numpy_twin(self, metadata: dict[str, Any]) -> type | None:
        """The NumPy network that runs this model file without torch, if one does."""
        return None

    def one_input_module(self, network: nn.Module, numeric_input: bool) -> nn.Module:
        """The network wrapped to take only its numeric or only its categorical block."""
        from nncli.models.feedforward import OneInputMLP

        return OneInputMLP(network, numeric_input)

    def size_flags(self, options: TabularOptions) -> str:
        """The options that set the network's size, for an oversized network's error."""
        return "--hidden " + ",".join(str(size) for size in options.hidden_sizes)

    def training_plan(
        self, options: TabularOptions, table: PreparedTable, fixed_epochs: bool = False
    ) -> TrainingPlan:
        """The loop's settings for this network on the table (`fixed_epochs`: a refit that
        runs exactly `--epochs` epochs)."""
        from nncli.training.loop import Recipe

        config = options.training.filled()
        if fixed_epochs:
            config = replace(config, patience=config.epochs + 1)
        loss = table.task.loss(
            table.target, table.truth["train"], class_weights=options.class_weights
        )
        return TrainingPlan(config, Recipe(), loss)

    def after_fit(
        self, options: TabularOptions, network: nn.Module, valid: Part, history: History
    ) -> None:
        """What the network learns from the validation rows after training (nothing here)."""

    def training_record(
        self, options: TabularOptions, task: str, history: History
    ) -> dict[str, Any]:
        """The model file's training settings, each left-out option as this network used it."""
        return options.training.filled().to_dict()

    def search_options(self, base: TabularOptions, params: dict[str, Any]) -> dict[str, Any]:
        """The TabularOptions fields a search point sets for this architecture."""
        return {}

    def default_trial(self, task: str | None, train_rows: int | None) -> dict[str, Any]:
        """The search parameters of `nncli train`'s defaults for this network, as far as they
        are known (the task and training rows may not be)."""
        return {}

    def help_defaults(self, options: TabularOptions) -> dict[str, str]:
        """What this network uses, by flag, where `options` (a command's defaults) leave a
        setting out, in words for the help's "(default: ...)"."""
        from nncli.options import show_rate
        from nncli.training.config import batch_rule

        filled = options.training.filled()
        assert filled.learning_rate is not None and filled.weight_decay is not None
        return {
            "--epochs": str(filled.epochs),
            "--batch-size": batch_rule("rows"),
            "--lr": show_rate(filled.learning_rate),
            "--weight-decay": show_rate(filled.weight_decay),
            "--patience": str(filled.patience),
        }


def embedded_inputs(table: PreparedTable) -> dict[str, Any]:
    """The input and output sizes of a network with learned category embeddings (the MLP's
    and the RBF network's `TabularNetworkConfig` fields)."""
    from nncli.models.feedforward import embedding_size

    cardinalities = [spec.cardinality for spec in table.preprocessor.categorical]
    return {
        "n_numeric": table.preprocessor.n_numeric_features,
        "n_outputs": table.task.n_outputs(table.target),
        "categorical_cardinalities": cardinalities,
        "embedding_dims": [embedding_size(c) for c in cardinalities],
    }


class MLPArchitecture(TabularArchitecture):
    """The plain feedforward network (`nncli.models.feedforward`)."""

    name = "mlp"
    display = "MLP"
    summary = "the plain feedforward network"
    takes = frozenset({"activation", "dropout", "batch_norm"})

    def build(self, options: TabularOptions, table: PreparedTable) -> tuple[Network, Any]:
        from nncli.devices import build_within_memory
        from nncli.models.feedforward import MLP, MLPConfig
        from nncli.training.loop import seed_everything

        config = MLPConfig(
            **embedded_inputs(table),
            hidden_sizes=list(options.hidden_sizes),
            activation=options.activation,
            dropout=options.dropout,
            batch_norm=options.batch_norm,
        )
        seed_everything(options.training.seed)
        network = build_within_memory(
            lambda: MLP(config), self.size_flags(options), options.training.device
        )
        return network, config

    def rebuild(self, architecture: dict[str, Any]) -> Network:
        from nncli.models.feedforward import MLP, MLPConfig

        return MLP(MLPConfig(**architecture))

    def numpy_twin(self, metadata: dict[str, Any]) -> type | None:
        from nncli.models import numpy_mlp

        return numpy_mlp.NumpyMLP if numpy_mlp.supports(metadata) else None


class RBFArchitecture(TabularArchitecture):
    """Gaussian units around learned centres (`nncli.models.rbf`)."""

    name = "rbf"
    display = "RBF"
    summary = "Gaussian units around learned centres"
    takes = frozenset({"centres"})

    def build(self, options: TabularOptions, table: PreparedTable) -> tuple[Network, Any]:
        import torch

        from nncli.devices import build_within_memory
        from nncli.models.rbf import RBFConfig, RBFNetwork
        from nncli.training.loop import seed_everything

        config = RBFConfig(
            **embedded_inputs(table),
            n_centres=options.centres or options.hidden_sizes[0],
        )
        generator = seed_everything(options.training.seed)
        network = build_within_memory(
            lambda: RBFNetwork(config), self.size_flags(options), options.training.device
        )
        train = table.encoded["train"]
        network.init_centres(
            torch.from_numpy(train.numeric), torch.from_numpy(train.categorical), generator
        )
        return network, config

    def size_flags(self, options: TabularOptions) -> str:
        return f"--centres {options.centres or options.hidden_sizes[0]}"

    def help_defaults(self, options: TabularOptions) -> dict[str, str]:
        return {**super().help_defaults(options), "--centres": "the first --hidden width"}

    def rebuild(self, architecture: dict[str, Any]) -> Network:
        from nncli.models.rbf import RBFConfig, RBFNetwork

        return RBFNetwork(RBFConfig(**architecture))

    def search_options(self, base: TabularOptions, params: dict[str, Any]) -> dict[str, Any]:
        return {"centres": int(params["width"])}  # an RBF's width is its centre count


@dataclass
class TabMTraining:
    """How TabM trains in the one loop (RealMLP's and TabM's recipes): scheduled AdamW with
    per-group factors, an epoch budget by table size, the best epoch by the task metric,
    label smoothing then temperature scaling."""

    lr: float | None = None  # None: by task (`default_lr`)
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.0  # decoupled, on weight matrices only
    lr_schedule: str = "coslog4"
    dropout_schedule: str = "constant"  # "flat_cos": RealMLP's scheduled dropout
    weight_decay_schedule: str = "constant"
    embedding_lr_factor: float = 1.0
    scale_lr_factor: float = 1.0
    batch_size: int = 0  # 0: by table size (`batch_size_for`)
    max_epochs: int = 64  # RealMLP: 256; CPU time forbids (see `schedule.epoch_budget`)
    min_epochs: int = 16
    row_epochs: int = 100_000
    patience_fraction: float = 0.35  # stop after this share of the budget without a new best
    min_patience: int = 4  # ... but never fewer epochs than this
    patience: int | None = None  # --patience: epochs without a new best (overrides the share)
    label_smoothing: float = 0.1  # classification only
    temperature_scaling: bool = True

    def planned_epochs(self, n_rows: int) -> int:
        """The epochs planned for `n_rows` training rows."""
        from nncli.training.schedule import epoch_budget

        return epoch_budget(
            n_rows,
            max_epochs=self.max_epochs,
            min_epochs=self.min_epochs,
            row_epochs=self.row_epochs,
        )

    def effective_patience(self, epochs: int) -> int:
        """--patience, else `patience_fraction` of the planned epochs (at least `min_patience`)."""
        return self.patience or max(self.min_patience, math.ceil(self.patience_fraction * epochs))

    def plan(
        self,
        regression: bool,
        training: TrainingConfig,
        n_rows: int,
        class_weights: torch.Tensor | None = None,
    ) -> TrainingPlan:
        """The one loop's settings for a TabM on `n_rows` training rows (`regression`: its
        outputs are values, not logits); `training` gives the seed, device, threads and
        precision; `class_weights` [classes] weigh the members' cross-entropy."""
        from nncli.models.tabm import EnsembleLoss, parameter_groups
        from nncli.training.loop import ParameterGroup, Recipe, auto_batch_size

        smoothing = 0.0 if regression else self.label_smoothing
        factors = {
            "weights": (1.0, 1.0),
            "embeddings": (self.embedding_lr_factor, 0.0),
            "scales": (self.scale_lr_factor, 0.0),
            "biases": (1.0, 0.0),
        }

        def groups(model: nn.Module) -> list[ParameterGroup]:
            # Groups that share their factors share one optimiser (by default all of them:
            # a quarter of the per-step kernel launches, which dominate a small table's step).
            merged: dict[tuple[float, float], list[Any]] = {}
            for role, parameters in parameter_groups(model).items():  # type: ignore[arg-type]
                lr_factor, wd_factor = factors[role]
                merged.setdefault((lr_factor, wd_factor if self.weight_decay else 0.0), []).extend(
                    parameters
                )
            return [ParameterGroup(p, lr, wd) for (lr, wd), p in merged.items()]

        epochs = self.planned_epochs(n_rows)
        config = replace(
            training,
            learning_rate=self.lr if self.lr is not None else default_lr(regression),
            weight_decay=self.weight_decay,
            epochs=epochs,
            patience=self.effective_patience(epochs),
            batch_size=self.batch_size or auto_batch_size(n_rows, **TABM_BATCH),
        )
        recipe = Recipe(
            betas=self.betas,
            parameter_groups=groups,
            lr_schedule=self.lr_schedule,
            weight_decay_schedule=self.weight_decay_schedule,
            dropout_schedule=self.dropout_schedule,
            valid_loss=_tabm_valid_loss(calibrate=self.temperature_scaling and smoothing > 0),
            selection=_by_task_metric,
            reseed=False,
        )
        loss = EnsembleLoss("values" if regression else "logits", smoothing, class_weights)
        return TrainingPlan(config, recipe, loss)

    def calibrate(self, network: TabM, valid: Part, accuracy: float) -> None:
        """Temperature scaling on the validation rows (classification with label smoothing)."""
        from nncli.models.tabm import temperature_for
        from nncli.training.loop import predict_batches

        if network.config.output_kind != "logits" or not (
            self.temperature_scaling and self.label_smoothing > 0
        ):
            return
        device = next(network.parameters()).device
        inputs = [tensor.to(device) for tensor in valid[0]]
        logits = predict_batches(network, inputs)
        network.config.temperature = temperature_for(logits, valid[1].to(device), accuracy)


# TabM's mini-batch when --batch-size is left out (`auto_batch_size`): about 20 per epoch,
# a power of two, at most 256 rows.
TABM_BATCH: dict[str, Any] = {"steps": 20, "largest": 256, "power_of_two": True}

# Regression trains at twice classification's learning rate (RealMLP's defaults differ by
# task too); measured on the benchmark's 7 regression tables, 3 seeds: geo-mean error ratio
# to gradient boosting 1.075 at 4e-3, 1.052 at 8e-3 (benchmarks/RESULTS-tabular-candidates.md).
CLASSIFICATION_LR = 4e-3
REGRESSION_LR = 8e-3


def default_lr(regression: bool) -> float:
    """TabM's learning rate when --lr is left out: by task."""
    return REGRESSION_LR if regression else CLASSIFICATION_LR


def _by_task_metric(outputs: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
    """TabM's kept epoch: the highest accuracy, ties broken by the lower log loss, for class
    indices; the lowest RMSE for values."""
    import torch

    if target.dtype == torch.int64:
        accuracy = (outputs.argmax(dim=1) == target).float().mean().item()
        log_loss = torch.nn.functional.cross_entropy(outputs, target).item()
        return accuracy, -log_loss
    return -(outputs - target).square().mean().sqrt().item(), 0.0


def _tabm_valid_loss(calibrate: bool) -> Any:
    """The validation loss a TabM epoch reports: MSE (standardised units) for regression;
    for classes the log loss at the temperature the saved model would get (label
    smoothing's raw log loss is no match for an MLP's, and tuning compares the two)."""

    def valid_loss(outputs: torch.Tensor, target: torch.Tensor) -> float:
        import torch

        from nncli.models.tabm import temperature_for

        if target.dtype != torch.int64:
            return (outputs - target).square().mean().item()
        accuracy = (outputs.argmax(dim=1) == target).float().mean().item()
        temperature = temperature_for(outputs, target, accuracy) if calibrate else 1.0
        return torch.nn.functional.cross_entropy(outputs / temperature, target).item()

    return valid_loss


class TabMArchitecture(TabularArchitecture):
    """The default: numeric embeddings and a weight-sharing ensemble of k MLPs
    (`nncli.models.tabm`), trained on its own schedule (`TabMTraining`)."""

    name = "tabm"
    display = "TabM"
    # Light copies for help of what `nncli.models.tabm` (which imports torch) decides: its
    # `TabMConfig.k` and `default_numeric_embedding`; tests/cli/test_help_truth.py keeps
    # them equal.
    default_members = 8
    default_embeddings: ClassVar[dict[str, str]] = {"regression": "ple", "classification": "pbld"}
    summary = (
        "numeric embeddings (piecewise-linear 'ple' for regression, periodic 'pbld' for "
        f"classes) and an ensemble of {default_members} MLPs sharing weights, trained on its "
        f"own schedule (at most {TabMTraining.max_epochs} epochs, fewer on large tables)"
    )
    takes = frozenset(
        {
            "activation",
            "dropout",
            "members",
            "numeric_embedding",
            "no_front_scale",
            "no_robust_scaling",
            "label_smoothing",
            "lr_schedule",
        }
    )
    tunable = frozenset({"members", "numeric_embedding", "lr_schedule"})

    def build(self, options: TabularOptions, table: PreparedTable) -> tuple[Network, Any]:
        """The seeded TabM ensemble for the table: `TabMConfig`'s defaults (k=8, numeric
        embeddings by task: piecewise-linear over the training rows' quantiles for
        regression, periodic for classes; a front scale, one-hot or embedded categoricals)
        and robust scaling fitted on the training rows, unless `--members`,
        `--numeric-embedding`, `--no-front-scale`, `--no-robust-scaling` say otherwise,
        shaped by `--hidden`, `--activation` and `--dropout` as the MLP is."""
        from nncli.devices import build_within_memory
        from nncli.models.tabm import EMBEDDING_DIMS, TabM, TabMConfig, default_numeric_embedding
        from nncli.training.loop import seed_everything

        preprocessor = table.preprocessor
        embedding = options.numeric_embedding or default_numeric_embedding(table.task.name)
        config = TabMConfig(
            n_numeric=preprocessor.n_numeric_features,
            n_outputs=table.task.n_outputs(table.target),
            output_kind="values" if table.task.name == "regression" else "logits",
            categorical_cardinalities=[spec.cardinality for spec in preprocessor.categorical],
            hidden_sizes=list(options.hidden_sizes),
            activation=options.activation,
            dropout=options.dropout,
            k=options.members or TabMConfig.k,
            numeric_embedding=embedding,
            numeric_embedding_dim=EMBEDDING_DIMS.get(embedding, 1),
            front_scale=not options.no_front_scale,
            robust_scaling=not options.no_robust_scaling,
        )
        seed_everything(options.training.seed)
        device = options.training.device
        network = build_within_memory(lambda: TabM(config), self.size_flags(options), device)
        network.fit_inputs(table.encoded["train"].numeric, preprocessor.missing_indicator_positions)
        return network, config

    def rebuild(self, architecture: dict[str, Any]) -> Network:
        from nncli.models.tabm import TabM, TabMConfig

        return TabM(TabMConfig.from_dict(architecture))

    def numpy_twin(self, metadata: dict[str, Any]) -> type | None:
        from nncli.models import numpy_tabm

        return numpy_tabm.NumpyTabM if numpy_tabm.supports(metadata) else None

    def one_input_module(self, network: nn.Module, numeric_input: bool) -> nn.Module:
        from nncli.models.tabm import OneInputTabM

        return OneInputTabM(network, numeric_input)

    @staticmethod
    def settings(options: TabularOptions, fixed_epochs: bool = False) -> TabMTraining:
        """TabM's loop settings: its own defaults where `nncli train`'s options were left
        out. `--epochs` caps the planned budget (64); `fixed_epochs` (a refit) runs exactly
        `--epochs` epochs without early stopping."""
        training, defaults = options.training, TabMTraining()
        epochs = training.epochs
        return replace(
            defaults,
            lr=training.learning_rate,
            lr_schedule=options.lr_schedule or defaults.lr_schedule,
            weight_decay=defaults.weight_decay
            if training.weight_decay is None
            else training.weight_decay,
            patience=epochs + 1 if fixed_epochs else training.patience,
            batch_size=training.batch_size or 0,
            max_epochs=epochs if fixed_epochs else min(defaults.max_epochs, epochs),
            min_epochs=epochs if fixed_epochs else min(defaults.min_epochs, epochs),
            label_smoothing=defaults.label_smoothing
            if options.label_smoothing is None
            else options.label_smoothing,
        )

    def training_plan(
        self, options: TabularOptions, table: PreparedTable, fixed_epochs: bool = False
    ) -> TrainingPlan:
        regression = table.task.name == "regression"
        settings = self.settings(options, fixed_epochs)
        # --class-weights: the task's inverse-frequency weights (its loss holds them).
        task_loss = table.task.loss(
            table.target, table.truth["train"], class_weights=options.class_weights
        )
        weights = getattr(task_loss, "weight", None)
        return settings.plan(regression, options.training, len(table.truth["train"]), weights)

    def after_fit(
        self, options: TabularOptions, network: nn.Module, valid: Part, history: History
    ) -> None:
        """Temperature scaling on the validation rows (`TabMTraining.calibrate`)."""
        from nncli.models.tabm import TabM

        assert isinstance(network, TabM)
        self.settings(options).calibrate(network, valid, history.best.valid_metric)

    def training_record(
        self, options: TabularOptions, task: str, history: History
    ) -> dict[str, Any]:
        settings = self.settings(options)
        return {
            **options.training.to_dict(),
            "learning_rate": settings.lr
            if settings.lr is not None
            else default_lr(task == "regression"),
            "weight_decay": settings.weight_decay,
            "patience": settings.effective_patience(history.planned_epochs),
            "planned_epochs": history.planned_epochs,
            "lr_schedule": settings.lr_schedule,
            "label_smoothing": settings.label_smoothing,
        }

    def search_options(self, base: TabularOptions, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "members": params.get("members", base.members),
            "numeric_embedding": params.get("numeric_embedding", base.numeric_embedding),
            "lr_schedule": params.get("lr_schedule", base.lr_schedule),
        }

    def help_defaults(self, options: TabularOptions) -> dict[str, str]:
        """TabM's own settings (`TabMTraining`, as `settings` makes them) where the options
        leave them out."""
        from nncli.options import show_rate
        from nncli.training.config import batch_rule

        plan = self.settings(options)
        embeddings = self.default_embeddings
        return {
            "--epochs": f"{plan.min_epochs}..{plan.max_epochs} by table size (about "
            f"{plan.row_epochs:,} rows seen), capped by --epochs",
            "--batch-size": batch_rule("rows", **TABM_BATCH),
            "--lr": f"{show_rate(CLASSIFICATION_LR)} for classes, "
            f"{show_rate(REGRESSION_LR)} for regression",
            "--weight-decay": show_rate(plan.weight_decay),
            "--patience": str(plan.patience)
            if plan.patience is not None
            else f"{plan.patience_fraction:.0%} of its planned epochs, at least {plan.min_patience}",
            "--members": str(self.default_members),
            "--numeric-embedding": f"{embeddings['regression']} for regression, "
            f"{embeddings['classification']} for classification",
            "--lr-schedule": f"{plan.lr_schedule}, RealMLP's",
            "--label-smoothing": f"{plan.label_smoothing:g}, then temperature scaling on "
            "validation",
        }

    def default_trial(self, task: str | None, train_rows: int | None) -> dict[str, Any]:
        from nncli.models.tabm import TabMConfig, default_numeric_embedding
        from nncli.training.loop import auto_batch_size

        trial: dict[str, Any] = {"members": TabMConfig.k, "lr_schedule": TabMTraining.lr_schedule}
        if task:
            trial["lr"] = default_lr(task == "regression")
            trial["numeric_embedding"] = default_numeric_embedding(task)
        if train_rows:
            trial["batch_size"] = auto_batch_size(train_rows, **TABM_BATCH)
        return trial


ARCHITECTURES: dict[str, TabularArchitecture] = {
    entry.name: entry for entry in (MLPArchitecture(), RBFArchitecture(), TabMArchitecture())
}


def architecture_named(name: str) -> TabularArchitecture:
    """The registry entry of `--arch NAME` (ValueError for an unknown name)."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}") from None


# The options some architectures use and others do not (the rest apply to every network).
ARCHITECTURE_OPTIONS = frozenset().union(*(entry.takes for entry in ARCHITECTURES.values()))


def architectures_taking(option: str) -> list[str]:
    """The architectures that use a TabularOptions field (every one, for a shared option)."""
    return [name for name, entry in ARCHITECTURES.items() if option in entry.takes]


def foreign_options_reset(options: TabularOptions, arch: str) -> dict[str, Any]:
    """Every option `--arch arch` does not use, at its default: `options` made fit for it
    (a search point that changes the architecture)."""
    from dataclasses import fields

    defaults = {f.name: f.default for f in fields(options)}
    return {name: defaults[name] for name in ARCHITECTURE_OPTIONS - ARCHITECTURES[arch].takes}


def architecture_of(metadata: dict[str, Any]) -> TabularArchitecture:
    """The registry entry of a model file (files from before `name` was written: the MLP)."""
    return architecture_named(str(metadata["architecture"].get("name", "mlp")))


def fit_tabm(
    network: TabM,
    train: Part,
    valid: Part,
    settings: TabMTraining,
    training: TrainingConfig,
    metric: Any = None,
) -> History:
    """Train a TabM on tensors in the one loop and calibrate it: what `nncli train` does to
    its default network, for callers that hold tensors (the benchmarks, the tests).

    Targets: class indices [N] int64, or standardised values [N, 1] float32 (the caller
    keeps their scale). `metric(outputs, targets)` is the history's metric (default: the
    selection rule's first number: accuracy, or minus the standardised RMSE).
    """
    from nncli.training.loop import fit

    regression = network.config.output_kind == "values"
    plan = settings.plan(regression, training, int(train[1].shape[0]))
    metric = metric or (lambda outputs, targets: _by_task_metric(outputs, targets)[0])
    history = fit(network, plan.loss, train, valid, plan.config, metric, "metric", (), plan.recipe)
    settings.calibrate(network, valid, history.best.valid_metric)
    network.cpu()
    return history
