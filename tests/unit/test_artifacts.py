"""The model file: round trip, and refusal of everything that is not an nncli model."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from nncli.artifacts import FORMAT_VERSION, load_model_file, read_metadata, save_model_file
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
    """A copy of a model file whose nncli metadata was edited by `change` (valid JSON still)
    and sealed again with valid checksums: a crafted file, which the checks after the
    checksums must still refuse."""
    from safetensors.torch import load

    data = source.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    document = json.loads(header["__metadata__"]["nncli"])
    change(document)
    save_model_file(target, load(data), document)
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


# The values the file's checks name by field (`check_tabular_metadata`) say which field is
# wrong; the others are found when the network is rebuilt from them.
BY_FIELD = "the model file's "
REBUILT = "metadata is incomplete or does not match its weights"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d.update(architecture="mlp"), BY_FIELD + "architecture is 'mlp'"),
        (
            lambda d: d["preprocessing"]["numeric"][0].update(median="heavy"),
            BY_FIELD + "preprocessing.numeric[0].median is 'heavy'",
        ),
        (lambda d: d["preprocessing"]["categorical"][0].update(vocabulary="Dream"), REBUILT),
        (lambda d: d["preprocessing"]["categorical"][0]["vocabulary"].append("Atlantis"), REBUILT),
        (lambda d: d["target"].update(classes=["Adelie"]), REBUILT),
        (lambda d: d.update(task="ranking"), BY_FIELD + "task is 'ranking'"),
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
    penguins_model: Path, tmp_path: Path, change, fragment: str
) -> None:
    edited = _with_metadata(penguins_model, tmp_path / "edited.nncli", change)
    _expect_bad_tabular(edited, fragment)


# --- integrity: checksums, non-finite numbers, bounded reads (issue 14, item 2) ---

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "main-51c24c7"


def _header(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]), data[8 + length :]


def _write(path: Path, header: dict, body: bytes) -> Path:
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + body)
    return path


def test_new_files_carry_sha256_digests_of_weights_and_metadata(penguins_model: Path) -> None:
    header, _ = _header(penguins_model)
    stored = header["__metadata__"]
    assert len(stored["nncli_tensors_sha256"]) == 64
    assert len(stored["nncli_metadata_sha256"]) == 64


@pytest.mark.parametrize("name", ["penguins.nncli", "stocks.nncli"])
def test_files_written_before_checksums_still_load(name: str) -> None:
    loaded = load_model_file(LEGACY / name)
    assert "nncli_tensors_sha256" not in _header(LEGACY / name)[0]["__metadata__"]
    assert loaded.model_id


def test_a_flipped_weight_in_a_file_without_checksums_is_refused_by_its_model_id(
    tmp_path: Path,
) -> None:
    data = bytearray((LEGACY / "penguins.nncli").read_bytes())
    data[-5] ^= 0x01  # the last tensor's bytes
    path = tmp_path / "legacy_flipped.nncli"
    path.write_bytes(bytes(data))
    _expect_bad(path, "do not give its model id")


def test_a_flipped_tensor_byte_is_refused(penguins_model: Path, tmp_path: Path) -> None:
    header, body = _header(penguins_model)
    flipped = bytearray(body)
    flipped[len(body) // 2] ^= 0x10
    path = _write(tmp_path / "flipped.nncli", header, bytes(flipped))
    _expect_bad(path, "weights do not match their SHA-256 checksum")


def test_edited_metadata_is_refused_by_its_seal(penguins_model: Path, tmp_path: Path) -> None:
    header, body = _header(penguins_model)
    header["__metadata__"]["nncli"] = header["__metadata__"]["nncli"].replace(
        '"median": ', '"median": 1', 1
    )
    path = _write(tmp_path / "edited.nncli", header, body)
    _expect_bad(path, "metadata does not match its weights")


@pytest.mark.parametrize("token", ["NaN", "Infinity", "1e999"])
def test_non_finite_numbers_in_the_metadata_are_refused(
    penguins_model: Path, tmp_path: Path, token: str
) -> None:
    header, body = _header(penguins_model)
    document = json.loads(header["__metadata__"]["nncli"])
    document["preprocessing"]["numeric"][0]["std"] = 12345.5
    text = json.dumps(document).replace("12345.5", token)
    header["__metadata__"] = {"nncli": text}  # no checksums, as an older file
    _expect_bad(_write(tmp_path / "nan.nncli", header, body), "non-finite")


def test_non_finite_weights_are_refused(penguins_model: Path, tmp_path: Path) -> None:
    from safetensors.torch import load

    tensors = load(penguins_model.read_bytes())
    name = sorted(tensors)[0]
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] = float("inf")
    metadata, _ = read_metadata(penguins_model)
    path = tmp_path / "inf.nncli"
    save_model_file(path, tensors, metadata)  # valid checksums over the bad weights
    _expect_bad(path, "non-finite weights")


def test_deeply_nested_metadata_is_refused_without_recursion_error(
    penguins_model: Path, tmp_path: Path
) -> None:
    header, body = _header(penguins_model)
    document = json.loads(header["__metadata__"]["nncli"])
    for depth, name in ((100, "deep.nncli"), (100_000, "deeper.nncli")):
        text = json.dumps(document)[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"
        header["__metadata__"] = {"nncli": text}
        _expect_bad(_write(tmp_path / name, header, body), "nested")


def test_an_oversized_header_is_refused_before_parsing(tmp_path: Path) -> None:
    from nncli.artifacts import MAX_HEADER_BYTES

    path = tmp_path / "huge.nncli"
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", MAX_HEADER_BYTES + 8))
        handle.truncate(MAX_HEADER_BYTES + 64)  # sparse: no real disk space used
    _expect_bad(path, "header larger than")


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "model.nncli"
    os.mkfifo(fifo)  # nothing ever writes to it: opening it for reading would block
    _expect_bad(fifo, "not a regular file")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_a_symlink_to_a_device_is_never_read(tmp_path: Path, device: str) -> None:
    link = tmp_path / "model.nncli"
    link.symlink_to(device)
    _expect_bad(link, "not a regular file")
