"""The model file: round trip, and refusal of everything that is not an nncli model."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from nncli.artifacts import FORMAT_VERSION, load_model_file, read_metadata
from nncli.errors import ExitCode, ModelFileError
from nncli.tabular.model import load_tabular_model
from nncli.tabular.predict import predict_tabular


def test_round_trip_gives_identical_predictions(
    penguins_model: Path, sample_data: Path, tmp_path: Path
) -> None:
    model = load_tabular_model(penguins_model)
    before = predict_tabular(model, sample_data / "penguins.csv", proba=True)
    from nncli.tabular.model import save_tabular_model

    copy = tmp_path / "copy.nncli"
    save_tabular_model(copy, model)
    after = predict_tabular(load_tabular_model(copy), sample_data / "penguins.csv", proba=True)
    assert before.equals(after)


def test_metadata_is_self_describing(penguins_model: Path) -> None:
    metadata, _ = read_metadata(penguins_model)
    assert metadata["format"] == "nncli-model"
    assert metadata["format_version"] == FORMAT_VERSION
    assert metadata["task"] == "classification"
    assert metadata["target"]["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    columns = {c["name"]: c["kind"] for c in metadata["schema"]["columns"]}
    assert columns["island"] == "categorical" and columns["bill_length_mm"] == "numeric"
    numeric = {spec["name"]: spec for spec in metadata["preprocessing"]["numeric"]}
    assert 30 < numeric["bill_length_mm"]["median"] < 60  # mm: fitted medians are stored
    assert numeric["body_mass_g"]["std"] > 100  # grams: statistics stored in original units
    island = next(s for s in metadata["preprocessing"]["categorical"] if s["name"] == "island")
    assert sorted(island["vocabulary"]) == ["Biscoe", "Dream", "Torgersen"]
    assert len(metadata["data"]["sha256"]) == 64
    assert metadata["seed"] == 0
    assert {"torch", "nncli", "pandas", "numpy", "python"} <= set(metadata["versions"])
    assert metadata["command"][0] in ("nncli", "pytest") or metadata["command"]
    assert metadata["architecture"]["hidden_sizes"] == [32, 16]
    assert metadata["metrics"]["test"]["accuracy"] > 0.8
    assert "baselines" in metadata["metrics"]


def _expect_bad(path: Path, fragment: str) -> None:
    with pytest.raises(ModelFileError) as caught:
        load_model_file(path)
    assert caught.value.exit_code == ExitCode.BAD_MODEL
    assert fragment in caught.value.one_line()
    assert "\n" not in caught.value.one_line()


def test_refuses_empty_random_and_truncated_files(penguins_model: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.nncli"
    empty.write_bytes(b"")
    _expect_bad(empty, "too short")
    noise = tmp_path / "noise.nncli"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    _expect_bad(noise, "not an nncli model file")
    truncated = tmp_path / "truncated.nncli"
    truncated.write_bytes(penguins_model.read_bytes()[:-100])
    _expect_bad(truncated, "corrupt or truncated")
    _expect_bad(tmp_path / "missing.nncli", "no such model file")
    _expect_bad(tmp_path, "is a directory")


def test_refuses_safetensors_without_nncli_metadata(tmp_path: Path) -> None:
    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"other": "1"})
    _expect_bad(path, "no nncli metadata")


def test_refuses_newer_format_version(penguins_model: Path, tmp_path: Path) -> None:
    data = penguins_model.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    document = json.loads(header["__metadata__"]["nncli"])
    document["format_version"] = FORMAT_VERSION + 1
    header["__metadata__"]["nncli"] = json.dumps(document)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    newer = tmp_path / "newer.nncli"
    newer.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + length :])
    _expect_bad(newer, f"format version {FORMAT_VERSION + 1} is newer")


def test_pickle_payload_is_refused_and_never_runs(tmp_path: Path) -> None:
    sentinel = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):  # runs only if someone unpickles the file
            return (Path.touch, (sentinel,))

    import io
    import pickle  # noqa: TID251 - building the hostile file is the point of this test

    buffer = io.BytesIO()
    pickle.dump({"weights": Payload()}, buffer)
    for name, data in (("model.nncli", buffer.getvalue()), ("model.pt", buffer.getvalue())):
        path = tmp_path / name
        path.write_bytes(data)
        _expect_bad(path, "not an nncli model file")
    torch_file = tmp_path / "torch_save.nncli"
    torch.save({"weights": Payload()}, torch_file)  # a zip with a pickle inside
    _expect_bad(torch_file, "not an nncli model file")
    assert not sentinel.exists()


def _with_metadata(source: Path, target: Path, change) -> Path:
    """A copy of a model file whose nncli metadata was edited by `change` (valid JSON still)."""
    data = source.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    document = json.loads(header["__metadata__"]["nncli"])
    change(document)
    header["__metadata__"]["nncli"] = json.dumps(document)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    target.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + length :])
    return target


def _expect_bad_tabular(path: Path, fragment: str) -> None:
    with pytest.raises(ModelFileError) as caught:
        load_tabular_model(path)
    assert caught.value.exit_code == ExitCode.BAD_MODEL
    assert fragment in caught.value.one_line() and "\n" not in caught.value.one_line()


def test_refuses_weights_that_do_not_match_the_architecture(
    penguins_model: Path, tmp_path: Path
) -> None:
    def wider(document) -> None:
        document["architecture"]["hidden_sizes"] = [64, 16]  # the weights are 32, 16

    _expect_bad_tabular(
        _with_metadata(penguins_model, tmp_path / "wider.nncli", wider),
        "the weights do not match the architecture",
    )


def test_a_huge_claimed_architecture_is_refused_without_allocating_it(
    penguins_model: Path, tmp_path: Path
) -> None:
    def enormous(document) -> None:
        document["architecture"]["hidden_sizes"] = [10**9, 10**9]  # 4 EB if ever allocated

    _expect_bad_tabular(
        _with_metadata(penguins_model, tmp_path / "enormous.nncli", enormous),
        "the weights do not match the architecture",
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(architecture="mlp"),
        lambda d: d["preprocessing"]["numeric"][0].update(median="heavy"),
        lambda d: d["preprocessing"]["categorical"][0].update(vocabulary="Dream"),
        lambda d: d["preprocessing"]["categorical"][0]["vocabulary"].append("Atlantis"),
        lambda d: d["target"].update(classes=["Adelie"]),
        lambda d: d.update(task="ranking"),
    ],
    ids=[
        "architecture-not-a-table",
        "median-not-a-number",
        "vocabulary-not-a-list",
        "vocabulary-longer-than-its-embedding",
        "fewer-classes-than-outputs",
        "unknown-task",
    ],
)
def test_metadata_of_the_wrong_shape_is_a_bad_model_file_not_a_crash(
    penguins_model: Path, tmp_path: Path, change
) -> None:
    edited = _with_metadata(penguins_model, tmp_path / "edited.nncli", change)
    _expect_bad_tabular(edited, "metadata is incomplete or does not match its weights")
