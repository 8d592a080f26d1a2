"""The exported graph of a tabular model: its encoded inputs, its raw outputs and the steps a
consumer applies around them. Writing and the parity check are `nncli.export`'s.

This module imports torch at the top (the graph and its parity sample are tensors, like
nncli.models): only the export command loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from nncli.export import PARITY_ROWS, ExportGraph, ExportOptions

if TYPE_CHECKING:
    from nncli.reporting import Reporter
    from nncli.tabular.model import TabularModel

# What a consumer does with the network's output, per task: its name, width and meaning,
# then the sentence of consumer_steps that turns it into a prediction.
OUTPUTS = {
    "classification": (
        "logits",
        "unnormalised class scores in the order of target.classes",
        "Output 'logits' [batch, classes]: probabilities = softmax(logits, axis=1); the "
        "predicted label is target.classes[argmax].",
    ),
    "regression": (
        "scaled_prediction",
        "the prediction in standard units: multiply by target.std, add target.mean, clip "
        "to [target.min, target.max]",
        "Output 'scaled_prediction' [batch, 1]: prediction = scaled_prediction[:, 0] * "
        "target.std + target.mean, in the target's units, clipped to [target.min, "
        "target.max] (the training range; absent in older model files).",
    ),
}
READ_COLUMNS_STEP = (
    "Read the columns listed in schema.input_columns from each row (other columns are "
    "not used; a missing column is an error)."
)
NUMERIC_STEP = (
    "Input 'numeric' (float32, [batch, n]): for each entry of preprocessing.numeric, in "
    "order, parse the cell as a number; if it is blank or NaN use its median and note "
    "missing = 1, else missing = 0; append (value - mean) / std, then, only when "
    "missing_indicator is true, append missing (0.0 or 1.0). inputs[].features names "
    "every position."
)
CATEGORICAL_STEP = (
    "Input 'categorical' (int64, [batch, c]): for each entry of "
    "preprocessing.categorical, in order, turn the cell into text as nncli does "
    "(strip surrounding spaces; booleans as 'true'/'false'; whole numbers without "
    "'.0', e.g. 3.0 -> '3'); its code is 1 + its position in vocabulary, or 0 (the "
    "unknown bucket) when it is blank or not in the vocabulary."
)


def _one_input_module(model: TabularModel, network: Any, numeric_input: bool) -> nn.Module:
    """The network wrapped to take only its numeric or only its categorical block."""
    from nncli.tabular.architectures import architecture_of

    return architecture_of(model.metadata).one_input_module(network, numeric_input)


def tabular_graph(model: TabularModel, options: ExportOptions, reporter: Reporter) -> ExportGraph:
    """The network with one input per non-empty encoded block, its sample and its spec."""
    network: Any = model.network
    (numeric, categorical), source = _parity_sample(model, options, reporter)
    has_numeric, has_categorical = numeric.shape[1] > 0, categorical.shape[1] > 0
    module: nn.Module
    if has_numeric and has_categorical:
        module, names, sample = network, ["numeric", "categorical"], [numeric, categorical]
    elif has_numeric:
        module, names, sample = _one_input_module(model, network, True), ["numeric"], [numeric]
    else:
        module = _one_input_module(model, network, False)
        names, sample = ["categorical"], [categorical]

    def reference(*batch: torch.Tensor) -> torch.Tensor:
        # The MLP exactly as nncli runs it, with an empty block for an absent input.
        rows = batch[0].shape[0]
        numeric_in = batch[0] if has_numeric else torch.zeros(rows, 0)
        categorical_in = batch[-1] if has_categorical else torch.zeros(rows, 0, dtype=torch.int64)
        return network(numeric_in, categorical_in)

    output_name, meaning, output_step = OUTPUTS[model.task]
    width = model.task_rules.n_outputs(model.target)
    outputs = [
        {"name": output_name, "dtype": "float32", "shape": ["batch", width], "meaning": meaning}
    ]
    steps = [READ_COLUMNS_STEP]
    steps += [NUMERIC_STEP] if has_numeric else []
    steps += [CATEGORICAL_STEP] if has_categorical else []
    spec = {
        "task": model.task,
        "schema": model.metadata["schema"],
        "preprocessing": model.metadata["preprocessing"],
        "target": model.metadata["target"],
        "consumer_steps": [*steps, output_step],
    }
    inputs = _input_descriptions(model, numeric, categorical)
    return ExportGraph(module, names, output_name, sample, reference, inputs, outputs, spec, source)


def _input_descriptions(
    model: TabularModel, numeric: torch.Tensor, categorical: torch.Tensor
) -> list[dict[str, Any]]:
    """The graph's inputs for consumers: name, dtype, shape and the feature at each position."""
    inputs = []
    if numeric.shape[1] > 0:
        inputs.append(
            {
                "name": "numeric",
                "dtype": "float32",
                "shape": ["batch", int(numeric.shape[1])],
                "features": _numeric_feature_names(model),
            }
        )
    if categorical.shape[1] > 0:
        inputs.append(
            {
                "name": "categorical",
                "dtype": "int64",
                "shape": ["batch", int(categorical.shape[1])],
                "features": [spec.name for spec in model.preprocessor.categorical],
            }
        )
    return inputs


def _numeric_feature_names(model: TabularModel) -> list[str]:
    names = []
    for spec in model.preprocessor.numeric:
        names.append(spec.name)
        if spec.missing_indicator:
            names.append(f"{spec.name} (missing indicator)")
    return names


def _parity_sample(
    model: TabularModel, options: ExportOptions, reporter: Reporter
) -> tuple[list[torch.Tensor], str]:
    """[numeric, categorical] of the first rows of --data, or valid random inputs."""
    import numpy as np

    from nncli.tabular.model import encode_rows

    if options.data is not None:
        from nncli.data.loading import read_csv, require_rows

        frame = read_csv(options.data, options.csv, reporter=reporter)
        require_rows(frame, options.data)
        encoded = encode_rows(model, frame.iloc[:PARITY_ROWS], options.data, reporter)
        return [torch.from_numpy(encoded.numeric), torch.from_numpy(encoded.categorical)], "data"
    rng = np.random.default_rng(0)
    columns: list[Any] = []
    for spec in model.preprocessor.numeric:
        columns.append(rng.normal(size=PARITY_ROWS))
        if spec.missing_indicator:
            columns.append(rng.integers(0, 2, size=PARITY_ROWS))
    numeric = np.stack(columns, axis=1) if columns else np.zeros((PARITY_ROWS, 0))
    codes = [
        rng.integers(0, c.cardinality, size=PARITY_ROWS) for c in model.preprocessor.categorical
    ]
    categorical = np.stack(codes, axis=1) if codes else np.zeros((PARITY_ROWS, 0))
    return [
        torch.from_numpy(numeric.astype(np.float32)),
        torch.from_numpy(categorical.astype(np.int64)),
    ], "random"
