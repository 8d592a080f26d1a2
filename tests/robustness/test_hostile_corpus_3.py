"""The third hostile corpus ("Nothing lost, second pass", the read side): input that was read
wrong without a word. A stream cut mid-row, codes that lose their zeros, model files edited and
resealed, a config path on a device, a Parquet decompression bomb, a damaged Feather file, and
history older than the model's own. Each case has its exit code and a fragment of its one
error line (or warning); none may end in a traceback or as "a bug in nncli" (exit 1).
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from nncli.cli import app
from nncli.errors import ExitCode
from tests.robustness.conftest import FORECAST_TINY, series_lines, table_lines, write_lines

# The last row of `series_lines()`, and the same row cut by a dying loader.
LAST_ROW = "2024-06-14,103.4834,149"
CUT_ROW = "2024-06-14,10"
# N-HITS and TabM, the defaults, as small as they come: these tests are about the files.
NHITS_TINY = [
    *("--time-col", "date", "--target", "value", "--horizon", "3", "--ensemble", "1"),
    *("--hidden-size", "8", "--epochs", "1", "--patience", "1", "--combine", "none"),
]
TABM_TINY = ["--epochs", "1", "--final-refit", "never", "--hidden", "8"]


def invoke(*args: Any, input: bytes | None = None, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], input=input, env=env)


def assert_refused(result: Any, code: int, fragment: str) -> str:
    """Exit `code`, one error line holding `fragment`, no traceback; the line."""
    assert result.exit_code == code, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and fragment in errors[0], result.stderr
    assert "Traceback" not in result.stderr and "bug in nncli" not in result.stderr
    return errors[0]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus3")


@pytest.fixture(scope="module")
def nhits_model(folder: Path) -> Path:
    """A one-member N-HITS of the clean series (its last row: LAST_ROW)."""
    data = write_lines(folder / "series.csv", series_lines())
    assert series_lines()[-1] == LAST_ROW
    model = folder / "nhits.nncli"
    result = invoke("forecast", "train", data, *NHITS_TINY, "--out", model, "--quiet")
    assert result.exit_code == 0, result.stderr
    return model


def coded_table() -> list[str]:
    """The base table with a zero-padded ID column `code` first: 0001, 0002, …"""
    lines = table_lines()
    return ["code," + lines[0], *(f"{i:04d},{line}" for i, line in enumerate(lines[1:], 1))]


@pytest.fixture(scope="module")
def tabm_model(folder: Path) -> Path:
    """A small TabM classifier of `y`, with `code` as its ID column."""
    data = write_lines(folder / "coded.csv", coded_table())
    model = folder / "tabm.nncli"
    result = invoke("train", data, "-t", "y", "--id-col", "code", *TABM_TINY, "-o", model)
    assert result.exit_code == 0, result.stderr
    return model


# --- 3. a stream cut mid-row ---------------------------------------------------------------


def cut_series() -> bytes:
    """The series as a loader that died mid-row leaves it: no line ending after '…,10'."""
    lines = series_lines()
    return ("\n".join([*lines[:-1], CUT_ROW])).encode()


def test_a_stream_cut_mid_row_is_not_forecast_nor_appended(nhits_model: Path, tmp_path) -> None:
    ledger = tmp_path / "ledger.csv"
    result = invoke("forecast", "predict", nhits_model, "-", "--append", ledger, input=cut_series())
    assert_refused(result, ExitCode.BAD_DATA, "<stdin>: the last line has no line ending")
    assert "--partial-last-row drop" in result.stderr
    assert not ledger.exists() and result.stdout == ""


def test_a_file_cut_mid_row_is_not_forecast(nhits_model: Path, tmp_path: Path) -> None:
    data = tmp_path / "cut.csv"
    data.write_bytes(cut_series())
    result = invoke("forecast", "predict", nhits_model, data)
    assert_refused(result, ExitCode.BAD_DATA, f"{data}: the last line has no line ending")


def test_partial_last_row_drop_forecasts_from_the_last_whole_row(
    nhits_model: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.csv"
    result = invoke(
        "forecast",
        "predict",
        nhits_model,
        "-",
        "--append",
        ledger,
        "--partial-last-row",
        "drop",
        input=cut_series(),
    )
    assert result.exit_code == 0, result.stderr
    assert "the last line has no line ending; that row was dropped" in result.stderr
    written = pd.read_csv(ledger, dtype=str)
    assert set(written["origin"]) == {"2024-06-13"}  # never from the cut '10'


def test_a_table_cut_mid_row_is_not_predicted(tabm_model: Path) -> None:
    lines = coded_table()
    cut = "\n".join([*lines[:-1], lines[-1][:6]]).encode()  # '0060,0' of '0060,0.xyz,…'
    result = invoke("predict", tabm_model, "-", input=cut)
    assert_refused(result, ExitCode.BAD_DATA, "<stdin>: the last line has no line ending")
    dropped = invoke("predict", tabm_model, "-", "--partial-last-row", "drop", input=cut)
    assert dropped.exit_code == 0, dropped.stderr
    assert len(pd.read_csv(io.StringIO(dropped.stdout))) == len(lines) - 2


# --- 4. zero-padded codes ----------------------------------------------------------------


@pytest.mark.slow
def test_zero_padded_series_codes_keep_their_zeros(folder: Path, tmp_path: Path) -> None:
    """Tickers 005930, 0700 and 700 are three series, forecast and appended as written."""
    base = series_lines()
    panel = ["ticker," + base[0]] + [
        f"{code},{line}" for code in ("005930", "0700", "700") for line in base[1:]
    ]
    data = write_lines(tmp_path / "panel.csv", panel)
    model = tmp_path / "panel.nncli"
    trained = invoke(
        "forecast", "train", data, *FORECAST_TINY, "--group-col", "ticker", "-o", model, "--quiet"
    )
    assert trained.exit_code == 0, trained.stderr
    ledger = tmp_path / "ledger.csv"
    result = invoke("forecast", "predict", model, data, "--append", ledger)
    assert result.exit_code == 0, result.stderr
    shown = pd.read_csv(io.StringIO(result.stdout), dtype=str)
    assert set(shown["series"]) == {"005930", "0700", "700"}
    assert set(pd.read_csv(ledger, dtype=str)["series"]) == {"005930", "0700", "700"}
    assert "\n005930," in ledger.read_text()


def test_zero_padded_id_columns_keep_their_zeros(tabm_model: Path, folder: Path) -> None:
    data = folder / "coded.csv"
    result = invoke("predict", tabm_model, data)
    assert result.exit_code == 0, result.stderr
    codes = pd.read_csv(io.StringIO(result.stdout), dtype=str)["code"]
    assert list(codes) == [f"{i:04d}" for i in range(1, len(codes) + 1)]
    document = json.loads(invoke("predict", tabm_model, data, "--json").stdout)
    assert document["predictions"][0]["code"] == "0001"


# --- 5. model files edited and resealed --------------------------------------------------


def resealed(source: Path, target: Path, path: list[Any], value: Any) -> Path:
    """A copy of `source` whose metadata at `path` is `value`, sealed again with valid
    SHA-256 digests (as tests/unit/test_artifacts.py crafts one)."""
    from safetensors.torch import load

    from nncli.artifacts import save_model_file

    data = source.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    document = json.loads(json.loads(data[8 : 8 + length])["__metadata__"]["nncli"])
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    save_model_file(target, load(data), document)
    return target


@pytest.mark.parametrize(
    ("model_kind", "path", "value", "field"),
    [
        ("tabm", ["architecture", "temperature"], 0, "architecture.temperature is 0"),
        ("nhits", ["series", "value", "scaling", "std"], 0, "series['value'].scaling.std is 0"),
        ("nhits", ["architecture", "lookback"], -3, "architecture.lookback is -3"),
        (
            "nhits",
            ["architecture", "members", 0, "lookback"],
            10**6,
            "architecture.members[0].lookback is 1000000",
        ),
        (
            "nhits",
            ["series", "value", "frequency"],
            "bogus",
            "series['value'].frequency is 'bogus'",
        ),
        (
            "nhits",
            ["series", "value", "frequency"],
            "1000000D",
            "series['value'].frequency is '1000000D'",
        ),
        ("nhits", ["transform"], "bogus", "transform is 'bogus'"),
    ],
    ids=[
        "temperature-0",
        "std-0",
        "lookback-negative",
        "member-lookback-huge",
        "frequency-bogus",
        "frequency-1000000D",
        "transform-bogus",
    ],
)
def test_a_resealed_file_with_an_unusable_value_is_exit_4_naming_the_field(
    tabm_model: Path,
    nhits_model: Path,
    folder: Path,
    tmp_path: Path,
    model_kind,
    path,
    value,
    field,
) -> None:
    source = tabm_model if model_kind == "tabm" else nhits_model
    edited = resealed(source, tmp_path / f"edited-{model_kind}.nncli", path, value)
    if model_kind == "tabm":
        result = invoke("predict", edited, folder / "coded.csv", "--proba")
    else:
        result = invoke("forecast", "predict", edited, folder / "series.csv")
    assert_refused(result, ExitCode.BAD_MODEL, f"error: {edited}: the model file's {field}")
    assert result.stdout == ""


def _without_digests(source: Path, target: Path) -> Path:
    data = source.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    header["__metadata__"] = {"nncli": header["__metadata__"]["nncli"]}
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    target.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + length :])
    return target


@pytest.mark.parametrize("model_kind", ["tabm", "nhits"])
def test_a_tabm_or_nhits_file_whose_digests_were_deleted_is_refused(
    tabm_model: Path, nhits_model: Path, folder: Path, tmp_path: Path, model_kind: str
) -> None:
    """TabM and N-HITS were always written with digests: a copy without them is not a file
    from before digests existed, but one whose digests were stripped (to hide an edit)."""
    source = tabm_model if model_kind == "tabm" else nhits_model
    stripped = _without_digests(source, tmp_path / "stripped.nncli")
    if model_kind == "tabm":
        result = invoke("predict", stripped, folder / "coded.csv")
    else:
        result = invoke("forecast", "predict", stripped, folder / "series.csv")
    assert_refused(result, ExitCode.BAD_MODEL, "its SHA-256 digests are missing")


def test_files_from_before_digests_still_load(sample_data: Path) -> None:
    legacy = Path(__file__).resolve().parents[1] / "fixtures" / "main-51c24c7"
    result = invoke("predict", legacy / "penguins.nncli", sample_data / "penguins.csv")
    assert result.exit_code == 0, result.stderr


# --- 6. a config on a device; a Parquet decompression bomb --------------------------------


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
@pytest.mark.parametrize("how", ["--config", "NNCLI_CONFIG"])
def test_a_config_path_on_a_device_is_never_read(folder: Path, device: str, how: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"no {device} here")
    data = write_lines(folder / "table.csv", table_lines())
    if how == "--config":
        result = invoke("inspect", data, "--config", device)
    else:
        result = invoke("inspect", data, env={"NNCLI_CONFIG": device})
    assert_refused(result, ExitCode.USAGE, f"{device}: the config file is not a regular file")


def test_a_config_file_over_the_size_cap_is_refused(folder: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    with big.open("wb") as handle:
        handle.truncate(2 << 20)  # sparse: 2 MiB of NUL bytes
    result = invoke("inspect", folder / "series.csv", "--config", big)
    assert_refused(result, ExitCode.USAGE, "the config file is larger than 1 MiB")


def test_an_empty_config_on_dev_null_still_means_no_values(folder: Path) -> None:
    result = invoke(
        "inspect", write_lines(folder / "t.csv", table_lines()), "--config", "/dev/null"
    )
    assert result.exit_code == 0, result.stderr


# A child that runs nncli under an address-space limit (`ulimit -v`), a real limit the
# operating system enforces, and reports its peak virtual size.
_LIMITED = """
import atexit, resource, sys
limit = int(sys.argv[1])
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmPeak:"):
            sys.stderr.write("peak " + line.split()[1] + "\\n")
atexit.register(peak)
sys.argv = ["nncli", *sys.argv[2:]]
from nncli.cli.root import main
main()
"""


def _run_limited(limit: int, *args: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _LIMITED, str(limit), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_a_parquet_decompression_bomb_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """40 million rows of one constant: a few hundred KB on disk, 640 MB once read. Under a
    memory limit below that, it is exit 3 naming the file and the sizes, before any row is
    read (it was MemoryError, exit 1, or at 100 M rows exit 3 calling the intact file damaged)."""
    pa = pytest.importorskip("pyarrow")
    import numpy as np
    import pyarrow.parquet as pq

    small, bomb = tmp_path / "small.parquet", tmp_path / "bomb.parquet"
    pq.write_table(pa.table({"a": pa.array(np.zeros(3, dtype=np.int64))}), small)
    rows = 40_000_000
    pq.write_table(pa.table({"a": pa.array(np.zeros(rows, dtype=np.int64))}), bomb)
    assert bomb.stat().st_size < 1_000_000
    baseline = _run_limited(0, "inspect", small)
    assert baseline.returncode == 0, baseline.stderr
    peak = int(baseline.stderr.split("peak ")[-1].split()[0]) * 1024
    # Room for the small file's whole run and 200 MB more: not for 40 M rows (320 MB each in
    # Arrow and in pandas).
    result = _run_limited(peak + 200_000_000, "inspect", bomb)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == ExitCode.BAD_DATA, result.stderr
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"error: {bomb}: the Parquet file declares 40,000,000 rows")
    assert "of memory available" in errors[0] and "damaged" not in errors[0]
    assert "Traceback" not in result.stderr


def test_the_memory_check_uses_the_declared_rows_and_a_given_memory_figure(
    tmp_path: Path,
) -> None:
    """The same check, by its arguments: what the footer declares, against a memory figure."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from nncli.data.columnar import check_fits_in_memory
    from nncli.errors import DataError

    path = tmp_path / "ten.parquet"
    pq.write_table(pa.table({"a": list(range(10)), "b": [str(i) for i in range(10)]}), path)
    with pq.ParquetFile(path) as parquet:
        check_fits_in_memory(path, parquet.metadata, parquet.schema_arrow, available=10_000)
        with pytest.raises(DataError) as caught:
            check_fits_in_memory(path, parquet.metadata, parquet.schema_arrow, available=100)
    assert caught.value.exit_code == ExitCode.BAD_DATA
    assert "declares 10 rows of 2 column(s)" in caught.value.message


# --- 9. damaged Feather files ------------------------------------------------------------


def _feather(tmp_path: Path) -> bytes:
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"alpha": [1.5, 2.5], "beta": ["x", "y"]})
    path = tmp_path / "base.feather"
    frame.to_feather(path)
    return path.read_bytes()


def test_a_feather_column_name_that_is_not_utf8_is_exit_3(tmp_path: Path) -> None:
    data = bytearray(_feather(tmp_path))
    position = data.rindex(b"alpha")  # the schema in the footer: what the reader uses
    data[position] = 0xFF
    path = tmp_path / "bad_name.feather"
    path.write_bytes(bytes(data))
    result = invoke("inspect", path)
    assert_refused(result, ExitCode.BAD_DATA, f"{path}: cannot read the Feather (Arrow IPC) file")


@pytest.mark.slow
def test_every_byte_mutation_of_a_feather_file_is_read_or_exit_3(tmp_path: Path) -> None:
    """Each byte in turn set to 0xFF: the loader reads the file or refuses it as damaged
    (exit 3), never another exception (exit 1; a column name no longer UTF-8 was one, a
    buffer too short for its column another). Then some of them through the CLI."""
    from nncli.data.loading import read_csv
    from nncli.errors import NncliError

    data = _feather(tmp_path)
    path = tmp_path / "mutated.feather"
    refused: list[bytes] = []
    for offset in range(len(data)):
        if data[offset] == 0xFF:
            continue
        mutated = bytearray(data)
        mutated[offset] = 0xFF
        path.write_bytes(bytes(mutated))
        try:
            read_csv(path)
        except NncliError as exc:
            assert exc.exit_code == ExitCode.BAD_DATA, (offset, exc.one_line())
            refused.append(bytes(mutated))
        except Exception as exc:  # any other escape is the bug (exit 1)
            pytest.fail(f"byte {offset} set to 0xff: {type(exc).__name__}: {exc}")
    assert refused
    for mutated in refused[:: max(1, len(refused) // 8)]:
        path.write_bytes(mutated)
        result = invoke("inspect", path)
        assert result.exit_code == ExitCode.BAD_DATA, result.stderr
        assert "Traceback" not in result.stderr


# --- 12. history older than the model's own ----------------------------------------------


def test_data_ending_before_the_models_training_data_is_warned_or_stale(
    nhits_model: Path, tmp_path: Path
) -> None:
    older = write_lines(tmp_path / "older.csv", series_lines()[:-5])  # ends 2024-06-07
    result = invoke("forecast", "predict", nhits_model, older)
    assert result.exit_code == 0, result.stderr
    assert "the data ends before the model's own training data" in result.stderr
    assert "'value' ends on 2024-06-07" in result.stderr
    assert "2024-06-14" in result.stderr
    strict = invoke("forecast", "predict", nhits_model, older, "--max-age", "100000d")
    assert_refused(strict, ExitCode.STALE_DATA, "before the model's own training data")
    assert strict.stdout == ""
