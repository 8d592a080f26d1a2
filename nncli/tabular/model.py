"""A trained tabular network: its file, its inputs, its outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nncli.artifacts import load_model_file, network_matching, save_model_file
from nncli.data.preprocessing import Preprocessor, transform
from nncli.errors import DataError
from nncli.tabular.options import TABULAR_ARCHITECTURES, TASKS

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from nncli.data.preprocessing import EncodedFeatures
    from nncli.models.feedforward import MLP
    from nncli.models.rbf import RBFNetwork
    from nncli.reporting import Reporter

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



def save_tabular_model(path: Path, model: TabularModel) -> None:
    """Write the model file (atomically)."""
    save_model_file(path, dict(model.network.state_dict()), model.metadata)


def load_tabular_model(path: Path) -> TabularModel:
    """Load a tabular model file and rebuild its network on the CPU."""
    from nncli.errors import ModelFileError
    from nncli.models.feedforward import MLP, MLPConfig
    from nncli.models.rbf import RBFConfig, RBFNetwork

    loaded = load_model_file(path, expect_kind="tabular")
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


