"""The second hostile corpus (issue 14): paths that alias inputs, hostile model files, and
input that is ambiguous. Each case has its expected exit code and a fragment of its one
error line; none may end in a traceback or as "a bug in nncli" (exit 1).
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from nncli.errors import ExitCode
from tests.robustness.conftest import FORECAST_TINY, series_lines, table_lines, write_lines


def assert_refused(result, code: int, fragment: str) -> None:
    """Exit `code`, one error line holding `fragment`, no traceback."""
    assert result.exit_code == code, result.stderr
    lines = result.stderr.splitlines()  # `forecast run` stamps its log lines with the time
    errors = [line for line in lines if line.startswith("error: ") or " error: " in line]
    assert len(errors) == 1 and fragment in errors[0], result.stderr
    assert "Traceback" not in result.stderr and "bug in nncli" not in result.stderr


# --- paths: an output that is an input, the ledger, the lock or the journal -----------------


def _job_files(tmp_path: Path) -> dict[str, Path]:
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("series,origin,step,timestamp,forecast,lower,upper,model_id\n")
    return {
        "data": write_lines(tmp_path / "series.csv", series_lines()),
        "model": tmp_path / "job.nncli",
        "ledger": ledger,
    }


@pytest.mark.parametrize(
    ("lock_on", "fragment"),
    [
        ("data", "--lock and --data name the same file"),
        ("ledger", "--lock and --ledger name the same file"),
        ("model", "--lock and --model name the same file"),
    ],
)
def test_the_jobs_lock_on_one_of_its_files_is_refused_before_opening_it(
    cli, tmp_path: Path, lock_on: str, fragment: str
) -> None:
    files = _job_files(tmp_path)
    files["model"].write_bytes(b"not touched")
    before = {name: path.read_bytes() for name, path in files.items()}
    args = [f"--{name}={path}" for name, path in files.items()]
    result = cli("forecast", "run", *args, f"--lock={files[lock_on]}", *FORECAST_TINY, code=None)
    assert_refused(result, ExitCode.USAGE, fragment)
    assert {name: path.read_bytes() for name, path in files.items()} == before


def test_the_ledger_as_the_data_file_is_refused(cli, tmp_path: Path) -> None:
    files = _job_files(tmp_path)
    before = files["data"].read_bytes()
    result = cli(
        "forecast",
        "run",
        f"--data={files['data']}",
        f"--model={files['model']}",
        f"--ledger={files['data']}",
        *FORECAST_TINY,
        code=None,
    )
    assert_refused(result, ExitCode.USAGE, "refusing to overwrite")
    assert files["data"].read_bytes() == before


def _journal_with_a_study(path: Path) -> None:
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = JournalStorage(JournalFileBackend(str(path)))
    study = optuna.create_study(study_name="kept", storage=storage)
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)


@pytest.mark.parametrize("alias", ["same", "symlink"])
def test_study_export_over_its_own_journal_is_refused(cli, tmp_path: Path, alias: str) -> None:
    journal = tmp_path / "studies.journal"
    _journal_with_a_study(journal)
    before = journal.read_bytes()
    target = journal
    if alias == "symlink":
        target = tmp_path / "export.csv"
        target.symlink_to(journal)
    result = cli(
        "study", "export", "kept", "--storage", f"journal:{journal}", "-o", target, code=None
    )
    assert_refused(result, ExitCode.USAGE, "refusing to overwrite")
    assert journal.read_bytes() == before
    assert cli.json("study", "list", "--storage", f"journal:{journal}")["studies"]


# --- model files ------------------------------------------------------------------------


def _rewrite(source: Path, target: Path, change: Callable[[dict, bytes], bytes]) -> Path:
    data = source.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    body = change(header, data[8 + length :])
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    target.write_bytes(struct.pack("<Q", len(raw)) + raw + body)
    return target


def _flip_tensor_byte(header: dict, body: bytes) -> bytes:
    flipped = bytearray(body)
    flipped[len(body) // 3] ^= 0x04
    return bytes(flipped)


def _nan_scaling(header: dict, body: bytes) -> bytes:
    document = json.loads(header["__metadata__"]["nncli"])
    document["preprocessing"]["numeric"][0]["std"] = 12345.5
    text = json.dumps(document).replace("12345.5", "NaN")
    header["__metadata__"] = {"nncli": text}  # unsealed, as a file of an older nncli
    return body


def _huge_scaling(header: dict, body: bytes) -> bytes:
    document = json.loads(header["__metadata__"]["nncli"])
    document["preprocessing"]["numeric"][0]["median"] = 12345.5
    text = json.dumps(document).replace("12345.5", "1e999")
    header["__metadata__"] = {"nncli": text}
    return body


def _deep_metadata(header: dict, body: bytes) -> bytes:
    text = header["__metadata__"]["nncli"]
    header["__metadata__"] = {"nncli": text[:-1] + ', "x": ' + "[" * 50_000 + "]" * 50_000 + "}"}
    return body


def _edited_metadata(header: dict, body: bytes) -> bytes:
    header["__metadata__"]["nncli"] = header["__metadata__"]["nncli"].replace(
        '"seed": 0', '"seed": 1'
    )
    return body


def _cut_tensors(header: dict, body: bytes) -> bytes:
    return body[:-64]


MODEL_CASES = [
    ("flipped-tensor-byte", _flip_tensor_byte, "do not match their SHA-256 checksum"),
    ("nan-scaling", _nan_scaling, "non-finite number"),
    ("overflowing-scaling", _huge_scaling, "non-finite number"),
    ("deep-metadata", _deep_metadata, "nested"),
    ("edited-metadata", _edited_metadata, "metadata does not match its weights"),
    ("cut-tensors", _cut_tensors, "corrupt or truncated tensors"),
]


@pytest.mark.parametrize(
    ("case", "change", "fragment"), MODEL_CASES, ids=[c[0] for c in MODEL_CASES]
)
def test_a_damaged_model_file_is_exit_4_naming_it(
    cli, corpus, table_model: Path, tmp_path: Path, case, change, fragment
) -> None:
    model = _rewrite(table_model, tmp_path / f"{case}.nncli", change)
    out = tmp_path / "pred.csv"
    result = cli("predict", model, corpus("bom"), "-o", out, code=None)
    assert_refused(result, ExitCode.BAD_MODEL, fragment)
    assert f"error: {model}: " in result.stderr and not out.exists()


def _nncli_subprocess(*args: object, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nncli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,  # a read that blocks (a FIFO) or never ends (/dev/zero) fails here
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.slow
@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/urandom"])
def test_a_model_path_that_is_not_a_regular_file_is_never_read(
    corpus, tmp_path: Path, special: str
) -> None:
    model = tmp_path / "model.nncli"
    if special == "fifo":
        os.mkfifo(model)
    else:
        model.symlink_to(special)
    result = _nncli_subprocess("predict", model, corpus("bom"), timeout=60)
    assert result.returncode == ExitCode.BAD_MODEL, result.stderr
    assert f"error: {model}: is not a regular file" in result.stderr


def test_non_finite_weights_are_exit_4(cli, corpus, table_model: Path, tmp_path: Path) -> None:
    from safetensors.torch import load

    from nncli.artifacts import read_metadata, save_model_file

    tensors = load(table_model.read_bytes())
    name = sorted(tensors)[-1]
    tensors[name] = tensors[name].clone().fill_(float("nan"))
    model = tmp_path / "nan.nncli"
    save_model_file(model, tensors, read_metadata(table_model)[0])
    result = cli("predict", model, corpus("bom"), code=None)
    assert_refused(result, ExitCode.BAD_MODEL, "non-finite weights")


# --- ambiguous input -----------------------------------------------------------------------


def _table(path: Path, column: int, values: Callable[[int], str], sep: str = ",") -> Path:
    lines = table_lines()
    changed = [lines[0].replace(",", sep)]
    for row, line in enumerate(lines[1:]):
        fields = line.split(",")
        fields[column] = values(row)
        changed.append(sep.join(fields))
    return write_lines(path, changed)


LOCALE_CASES = [
    ("decimal-comma", ";", lambda r: f"0,{r + 10}", "a decimal comma", "--decimal ,"),
    ("thousands", ",", lambda r: f'"{r + 1},{r + 306:03d}"', "',' separating thousands", "--thousands ,"),
    ("european", ";", lambda r: f"{r + 1}.{r + 234:03d},5", "'.' separating thousands", "--decimal , --thousands ."),
    ("us-thousands", ",", lambda r: f'"{r + 1},{r + 100:03d}.25"', "',' separating thousands", "--thousands ,"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "sep", "values", "meaning", "flags"), LOCALE_CASES, ids=[c[0] for c in LOCALE_CASES]
)
@pytest.mark.parametrize("command", ["inspect", "train"])
def test_numbers_in_a_locale_format_are_named_with_the_flag_that_reads_them(
    cli, tmp_path: Path, case, sep, values, meaning, flags, command
) -> None:
    data = _table(tmp_path / f"{case}.csv", 0, values, sep)
    extra = ["--out", tmp_path / "m.nncli", "--epochs", "1"] if command == "train" else []
    result = cli(command, data, "--target", "y", *extra, code=None)
    assert_refused(result, ExitCode.BAD_DATA, f"column 'a' holds numbers written with {meaning}")
    assert flags in result.stderr and f"error: {data}: " in result.stderr


def test_the_suggested_decimal_flags_read_the_numbers(cli, tmp_path: Path) -> None:
    data = _table(tmp_path / "european.csv", 0, lambda r: f"{r + 1}.{r + 234:03d},5", ";")
    shown = cli.json("inspect", data, "--target", "y", "--decimal", ",", "--thousands", ".")
    kinds = {column["name"]: column["kind"] for column in shown["columns"]}
    assert kinds["a"] == "numeric"


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--encoding", "klingon"], "--encoding 'klingon' is not a known text encoding"),
        (["--decimal", ",", "--sep", ","], "--sep and --decimal are both ','"),
        (["--decimal", "x"], "--decimal must be one of"),
    ],
)
def test_bad_reading_options_are_usage_errors(cli, corpus, extra, fragment) -> None:
    result = cli("inspect", corpus("bom"), *extra, code=None)
    assert_refused(result, ExitCode.USAGE, fragment)


def test_gzip_is_recognised_by_its_bytes_whatever_the_name(cli, tmp_path: Path) -> None:
    data = tmp_path / "table.csv"  # gzip inside, a plain name outside
    data.write_bytes(gzip.compress(("\n".join(table_lines()) + "\n").encode()))
    shown = cli.json("inspect", data, "--target", "y")
    assert shown["rows"] == 60


def test_a_gz_name_on_plain_text_and_a_zip_archive_are_named(cli, tmp_path: Path) -> None:
    plain = write_lines(tmp_path / "table.csv.gz", table_lines())
    assert_refused(cli("inspect", plain, code=None), ExitCode.BAD_DATA, "not gzip-compressed")
    archive = tmp_path / "table.csv"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("table.csv", "\n".join(table_lines()))
    assert_refused(cli("inspect", archive, code=None), ExitCode.BAD_DATA, "is a zip archive")


@pytest.mark.parametrize("word", ["None", "NA"])
def test_none_and_na_as_class_labels_are_kept(cli, tmp_path: Path, word: str) -> None:
    data = _table(tmp_path / "labels.csv", 3, lambda r: word if r % 2 else "q")
    shown = cli.json("inspect", data, "--target", "y")
    assert shown["target"]["classes"] == {word: 30, "q": 30} and shown["target"]["missing"] == 0
    told = cli.json("inspect", data, "--target", "y", "--na-values", word)
    assert told["target"]["missing"] == 30 and told["target"]["classes"] == {"q": 30}


def test_na_in_a_numeric_column_is_still_missing(cli, tmp_path: Path) -> None:
    data = _table(tmp_path / "r_export.csv", 0, lambda r: "NA" if r % 10 == 0 else f"0.{r + 10}")
    shown = cli.json("inspect", data, "--target", "y")
    column = next(c for c in shown["columns"] if c["name"] == "a")
    assert column["kind"] == "numeric" and column["missing"] == 6


UNIT_CASES = [
    ("kilograms", lambda r: f"{r + 10}kg", "holds numbers with a unit or percent sign"),
    ("percent", lambda r: f"{r + 1}.5%", "holds numbers with a unit or percent sign"),
    ("dates", lambda r: f"2024-01-{r % 28 + 1:02d} 10:{r:02d}", "holds dates or times"),
]


@pytest.mark.parametrize(("case", "values", "fragment"), UNIT_CASES, ids=[c[0] for c in UNIT_CASES])
@pytest.mark.parametrize("command", ["inspect", "train"])
def test_targets_with_units_or_dates_are_named_not_split_into_classes(
    cli, tmp_path: Path, case, values, fragment, command
) -> None:
    data = _table(tmp_path / f"{case}.csv", 3, values)
    extra = ["--out", tmp_path / "m.nncli", "--epochs", "1"] if command == "train" else []
    result = cli(command, data, "--target", "y", *extra, code=None)
    assert_refused(result, ExitCode.BAD_DATA, f"target 'y' {fragment}")
    assert "--split random" not in result.stderr


def test_a_duplicated_name_past_64_kib_of_header_is_refused(cli, tmp_path: Path) -> None:
    names = [f"column_{index:05d}" for index in range(8000)] + ["column_00001", "y"]
    row = ",".join("1" for _ in names[:-1]) + ",p"
    data = write_lines(tmp_path / "wide.csv", [",".join(names), row, row.replace(",p", ",q")])
    result = cli("inspect", data, code=None)
    assert_refused(result, ExitCode.BAD_DATA, "duplicated column name(s) 'column_00001'")
