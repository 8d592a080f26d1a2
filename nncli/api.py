"""The verbs that work on any model file, and the one place that asks which kind it holds.

`load_model(path)` reads the kind from the file's metadata and returns a `TabularModel` or a
`ForecastModel`; both satisfy the `Model` protocol. `explain_model` and `export_model` load
through it and pick the domain's function from a table keyed by that kind, so a new kind of
model is one loader here and one entry per verb table, nothing else.

Light at import: each domain is imported only when a file of its kind is used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from nncli.errors import ModelFileError
from nncli.reporting import CollectingReporter, Reporter

if TYPE_CHECKING:
    from pathlib import Path

    from torch import nn

    from nncli.explain import ExplainOptions, ExplainReport
    from nncli.export import ExportGraph, ExportOptions, ExportReport
    from nncli.forecasting.model import ForecastModel
    from nncli.models.numpy_mlp import NumpyMLP
    from nncli.models.numpy_tabm import NumpyTabM
    from nncli.tabular.model import TabularModel

KINDS = ("tabular", "forecast")


class Model(Protocol):
    """What every loaded nncli model offers, whatever its kind.

    The kind ("tabular" or "forecast") and the weights-derived model id are in `metadata`;
    read them with `model_kind` and `model_id`.
    """

    @property
    def network(self) -> nn.Module | NumpyMLP | NumpyTabM: ...  # NumPy: to predict without torch

    @property
    def metadata(self) -> dict[str, Any]: ...


def model_kind(model: Model) -> str:
    """The model's kind, as its file records it: "tabular" or "forecast"."""
    return str(model.metadata["kind"])


def model_id(model: Model) -> str:
    """The model's id, derived from its weights ("" for a model not saved yet)."""
    return str(model.metadata.get("model_id", ""))


def _loaders() -> dict[str, Callable[[Path], TabularModel | ForecastModel]]:
    from nncli.forecasting.model import load_forecast_model
    from nncli.tabular.model import load_tabular_model

    return {"tabular": load_tabular_model, "forecast": load_forecast_model}


def load_model(path: Path) -> TabularModel | ForecastModel:
    """Load any nncli model file; a file that is not one (or of an unknown kind) is a
    ModelFileError (exit code 4)."""
    from nncli.artifacts import read_metadata

    metadata, _ = read_metadata(path)
    kind = metadata.get("kind")
    loader = _loaders().get(str(kind))
    if loader is None:
        raise ModelFileError(
            f"{path}: not a model nncli knows (kind {kind!r}, not one of {', '.join(KINDS)})",
            hint="pass a file written by 'nncli train' or 'nncli forecast train'",
        )
    return loader(path)


def explain_model(
    path: Path,
    data: Path,
    options: ExplainOptions | None = None,
    *,
    reporter: Reporter | None = None,
) -> tuple[ExplainReport, dict[str, Any]]:
    """Load a model file and rank its inputs by permutation importance on DATA; returns the
    report and the model's metadata."""
    from nncli.explain import ExplainOptions
    from nncli.forecasting.explain import explain_forecast
    from nncli.tabular.explain import explain_tabular

    options = options or ExplainOptions()
    options.validate()
    explainers: dict[str, Callable[..., ExplainReport]] = {
        "tabular": explain_tabular,
        "forecast": explain_forecast,
    }
    model = load_model(path)
    report = explainers[model_kind(model)](model, data, options, reporter=reporter)
    return report, model.metadata


def export_model(
    path: Path,
    options: ExportOptions | None = None,
    *,
    reporter: Reporter | None = None,
) -> ExportReport:
    """Export a model file's network, check it against PyTorch, then write it and its
    preprocessing spec atomically (nothing is written when the check fails)."""
    from nncli.export import ExportOptions, prepare_export, write_export
    from nncli.forecasting.export import forecast_graph
    from nncli.tabular.export import tabular_graph

    options = options or ExportOptions()
    reporter = reporter or CollectingReporter()
    target = prepare_export(path, options)
    graphs: dict[str, Callable[..., ExportGraph]] = {
        "tabular": tabular_graph,
        "forecast": forecast_graph,
    }
    model = load_model(path)
    graph = graphs[model_kind(model)](model, options, reporter)
    return write_export(graph, model.metadata, options, target, reporter)
