"""A trained tabular network: its file, its inputs, its outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nncli.artifacts import load_model_file, load_network_model, metadata_error, save_model_file
from nncli.data.preprocessing import Preprocessor, transform
from nncli.errors import DataError
from nncli.tasks import TASKS, Task, task_for

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from nncli.data.preprocessing import EncodedFeatures
    from nncli.models.feedforward import MLP
    from nncli.models.numpy_mlp import NumpyMLP
    from nncli.models.numpy_tabm import NumpyTabM
    from nncli.models.rbf import RBFNetwork
    from nncli.models.tabm import TabM
    from nncli.reporting import Reporter


@dataclass
class TabularModel:
    """A trained (or loaded) tabular network with everything needed to use it."""

    # NumpyMLP, NumpyTabM: loaded to predict without torch
    network: MLP | RBFNetwork | TabM | NumpyMLP | NumpyTabM
    preprocessor: Preprocessor
    metadata: dict[str, Any]

    @property
    def task(self) -> str:
        return str(self.metadata["task"])

    @property
    def task_rules(self) -> Task:
        """The `Task` behind `task`: decoding, metrics, which direction is better."""
        return task_for(self.task)

    @property
    def target(self) -> dict[str, Any]:
        """The target's metadata: its name and its classes, or its mean and std."""
        return dict(self.metadata["target"])

    @property
    def classes(self) -> list[str]:
        return list(self.metadata["target"].get("classes", []))

    @property
    def target_name(self) -> str:
        return str(self.metadata["target"]["name"])

    def outputs(self, encoded: EncodedFeatures) -> np.ndarray:
        """Class probabilities [rows, classes] or predictions in target units [rows]."""
        from nncli.models.numpy_mlp import NumpyMLP
        from nncli.models.numpy_tabm import NumpyTabM

        if isinstance(self.network, NumpyMLP | NumpyTabM):
            return self.task_rules.decode(
                self.network(encoded.numeric, encoded.categorical), self.target
            )
        import torch

        from nncli.training.loop import predict_batches

        inputs = [torch.from_numpy(encoded.numeric), torch.from_numpy(encoded.categorical)]
        raw = predict_batches(self.network, inputs).numpy()
        return self.task_rules.decode(raw, self.target)


def save_tabular_model(path: Path, model: TabularModel) -> None:
    """Write the model file (atomically)."""
    from nncli.models.numpy_mlp import NumpyMLP
    from nncli.models.numpy_tabm import NumpyTabM

    if isinstance(model.network, NumpyMLP | NumpyTabM):  # loaded to predict only
        raise TypeError("a model loaded without torch cannot be saved; load it normally")
    save_model_file(path, dict(model.network.state_dict()), model.metadata)


def load_tabular_model(path: Path, *, without_torch: bool = False) -> TabularModel:
    """Load a tabular model file and rebuild its network on the CPU.

    `without_torch`: a plain MLP or a TabM that NumPy computes (`numpy_mlp.supports`,
    `numpy_tabm.supports`) runs in NumPy and torch is never imported (predict's and
    evaluate's start-up); other networks load in torch as usual. Such a model only predicts
    (no training, no export)."""
    from nncli.tabular.architectures import architecture_of

    def numpy_twin(meta: dict[str, Any]) -> type | None:
        try:
            return architecture_of(meta).numpy_twin(meta)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None  # a damaged entry: the torch path names what is wrong

    loaded = load_model_file(
        path,
        expect_kind="tabular",
        as_arrays=(lambda meta: numpy_twin(meta) is not None) if without_torch else None,
    )
    check_tabular_metadata(path, loaded.metadata)
    twin = numpy_twin(loaded.metadata) if without_torch else None
    if twin is None:
        return load_network_model(path, "tabular", build_tabular_network, _assemble, loaded=loaded)
    meta = loaded.metadata
    try:
        return _assemble(twin(_architecture(meta), loaded.tensors), meta)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise metadata_error(path, exc) from exc


def check_tabular_metadata(path: Path, meta: dict[str, Any]) -> None:
    """Refuse (ModelFileError, exit 4, naming the field) a value predictions would read from
    the file and could not use, which no weight shape betrays: a temperature of 0 (blank
    probabilities), a scaling std of 0, an unknown output kind, a dropout of 2, classes that
    repeat. The digests prove only that the file is as written; an edited file resealed
    passes them. (Sizes are checked against the weights by `network_matching`.)"""
    from nncli.artifacts import MetadataFields

    fields = MetadataFields(path)
    task = fields.choice(fields.get(meta, "task", "task"), "task", tuple(TASKS))
    target = fields.mapping(fields.get(meta, "target", "target"), "target")
    fields.text(fields.get(target, "name", "target.name"), "target.name")
    if task == "regression":
        fields.number(fields.get(target, "mean", "target.mean"), "target.mean")
        fields.number(fields.get(target, "std", "target.std"), "target.std", 0, None, "()")
        if "min" in target or "max" in target:
            low = fields.number(fields.get(target, "min", "target.min"), "target.min")
            fields.number(fields.get(target, "max", "target.max"), "target.max", low)
    else:
        classes = fields.items(
            fields.get(target, "classes", "target.classes"), "target.classes", nonempty=True
        )
        for index, label in enumerate(classes):
            fields.text(label, f"target.classes[{index}]")
        if len(set(classes)) != len(classes):
            raise fields.bad("target.classes", classes, "no class may appear twice")
    schema = fields.mapping(fields.get(meta, "schema", "schema"), "schema")
    for key in ("input_columns", "id_columns"):
        for index, name in enumerate(
            fields.items(fields.get(schema, key, f"schema.{key}"), f"schema.{key}")
        ):
            fields.text(name, f"schema.{key}[{index}]")
    preprocessing = fields.mapping(
        fields.get(meta, "preprocessing", "preprocessing"), "preprocessing"
    )
    numeric = fields.items(
        fields.get(preprocessing, "numeric", "preprocessing.numeric"), "preprocessing.numeric"
    )
    for index, spec in enumerate(numeric):
        where = f"preprocessing.numeric[{index}]"
        spec = fields.mapping(spec, where)
        for key in ("median", "mean"):
            fields.number(fields.get(spec, key, f"{where}.{key}"), f"{where}.{key}")
        fields.number(fields.get(spec, "std", f"{where}.std"), f"{where}.std", 0, None, "()")
    architecture = fields.mapping(fields.get(meta, "architecture", "architecture"), "architecture")
    if "dropout" in architecture:
        fields.number(architecture["dropout"], "architecture.dropout", 0, 1, "[)")
    if architecture.get("name") == "tabm":
        fields.number(
            fields.get(architecture, "temperature", "architecture.temperature"),
            "architecture.temperature",
            0,
            None,
            "()",
        )
        fields.integer(fields.get(architecture, "k", "architecture.k"), "architecture.k", 1)
        kind = "values" if task == "regression" else "logits"
        fields.choice(
            fields.get(architecture, "output_kind", "architecture.output_kind"),
            "architecture.output_kind",
            (kind,),
        )
        fields.choice(
            fields.get(architecture, "ensemble", "architecture.ensemble"),
            "architecture.ensemble",
            ("mini", "batch"),
        )
    if "activation" in architecture:
        fields.text(architecture["activation"], "architecture.activation")


def build_tabular_network(meta: dict[str, Any]) -> MLP | RBFNetwork | TabM:
    """The untrained network the metadata's architecture describes (its registry entry's)."""
    from nncli.tabular.architectures import architecture_of

    return architecture_of(meta).rebuild(_architecture(meta))


def _architecture(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta["architecture"].items() if k != "name"}


def _assemble(
    network: MLP | RBFNetwork | TabM | NumpyMLP | NumpyTabM, meta: dict[str, Any]
) -> TabularModel:
    preprocessor = Preprocessor.from_dict(meta["preprocessing"])
    _check_metadata_matches_network(meta, preprocessor, _architecture(meta))
    return TabularModel(network, preprocessor, meta)


def _check_metadata_matches_network(
    meta: dict[str, Any], preprocessor: Preprocessor, architecture: dict[str, Any]
) -> None:
    """Raise ValueError when the preprocessing or the labels disagree with the network's sizes."""
    cardinalities = [spec.cardinality for spec in preprocessor.categorical]
    if preprocessor.n_numeric_features != architecture["n_numeric"] or cardinalities != list(
        architecture["categorical_cardinalities"]
    ):
        raise ValueError("the preprocessing does not match the network's inputs")
    if meta["task"] not in TASKS:
        raise ValueError("the task or its classes do not match the network's outputs")
    task = task_for(meta["task"])
    if task.n_outputs(meta["target"]) != architecture["n_outputs"]:
        raise ValueError("the task or its classes do not match the network's outputs")
    task.check_target(meta["target"])
    _ = meta["schema"]["input_columns"], meta["schema"]["id_columns"]


def check_input_columns(
    model: TabularModel, frame: pd.DataFrame, path: Path, reporter: Reporter
) -> None:
    """Refuse a frame that lacks a column the model reads; note the columns it ignores."""
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


def encode_rows(
    model: TabularModel, frame: pd.DataFrame, path: Path, reporter: Reporter
) -> EncodedFeatures:
    """The model's inputs for `frame`, after checking its columns; unseen categories warned."""
    check_input_columns(model, frame, path, reporter)
    encoded = transform(model.preprocessor, frame, path=path)
    for name, count in encoded.unknown_counts.items():
        reporter.warn(
            f"column {name!r}: {count} row(s) hold categories unseen in training (unknown bucket)"
        )
    return encoded
