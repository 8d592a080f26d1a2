"""Random bit flips over a whole model file: every flip is refused (exit 4) or harmless.

A fixed seed picks positions over the whole file (length prefix, JSON header, metadata,
checksums, tensor bytes). A flip either makes loading fail with a ModelFileError naming the
file, or leaves what the model computes unchanged; it never silently changes predictions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nncli.errors import ExitCode, ModelFileError

FLIPS = 200


def _flipped(source: bytes, position: int, bit: int) -> bytes:
    data = bytearray(source)
    data[position] ^= 1 << bit
    return bytes(data)


def _flip_positions(size: int, seed: int) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    return [(int(rng.integers(size)), int(rng.integers(8))) for _ in range(FLIPS)]


def test_every_bit_flip_in_a_tabular_model_is_refused_or_harmless(
    penguins_model: Path, sample_data: Path, tmp_path: Path
) -> None:
    from nncli.tabular.model import load_tabular_model
    from nncli.tabular.predict import predict_tabular

    data = sample_data / "penguins.csv"
    expected = predict_tabular(load_tabular_model(penguins_model), data, proba=True)
    source = penguins_model.read_bytes()
    refused = 0
    target = tmp_path / "flipped.nncli"
    for position, bit in _flip_positions(len(source), seed=14):
        target.write_bytes(_flipped(source, position, bit))
        try:
            model = load_tabular_model(target)
        except ModelFileError as error:
            assert error.exit_code == ExitCode.BAD_MODEL
            assert error.one_line().startswith(f"{target}: ") and "\n" not in error.one_line()
            refused += 1
            continue
        got = predict_tabular(model, data, proba=True)
        assert got.equals(expected), f"flip at byte {position} bit {bit} changed predictions"
    assert refused >= FLIPS * 0.9  # almost every byte of the file is covered by a check


def test_every_bit_flip_in_a_forecaster_is_refused_or_harmless(
    series_model: Path, tmp_path: Path
) -> None:
    from nncli.forecasting.model import load_forecast_model

    original = load_forecast_model(series_model)
    weights = original.network.state_dict()
    source = series_model.read_bytes()
    target = tmp_path / "flipped.nncli"
    for position, bit in _flip_positions(len(source), seed=41):
        target.write_bytes(_flipped(source, position, bit))
        try:
            model = load_forecast_model(target)
        except ModelFileError as error:
            assert error.one_line().startswith(f"{target}: ")
            continue
        # Loaded: then it must compute exactly what the original computes.
        assert model.metadata == original.metadata, f"flip at byte {position} bit {bit}"
        state = model.network.state_dict()
        assert all(torch.equal(state[name], weights[name]) for name in weights)


@pytest.mark.parametrize("position", [0, 3, 7])
def test_a_flip_in_the_length_prefix_is_refused(penguins_model: Path, tmp_path: Path, position):
    from nncli.artifacts import load_model_file

    target = tmp_path / "prefix.nncli"
    target.write_bytes(_flipped(penguins_model.read_bytes(), position, 6))
    with pytest.raises(ModelFileError):
        load_model_file(target)
