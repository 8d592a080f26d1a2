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
    twin = numpy_twin(loaded.metadata) if without_torch else None
    if twin is None:
        return load_network_model(path, "tabular", build_tabular_network, _assemble, loaded=loaded)
    meta = loaded.metadata
    try:
        return _assemble(twin(_architecture(meta), loaded.tensors), meta)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise metadata_error(path, exc) from exc


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
