"""Hostile model files through the CLI: exit code 4, one line naming the file, nothing written.

The file-format refusals themselves (empty, truncated, random bytes, pickles, a newer
format, metadata that disagrees with the weights) are unit-tested in tests/unit/test_artifacts.py.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from nncli.errors import ExitCode


def _with_metadata(source: Path, target: Path, change) -> Path:
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


def assert_bad_model(result, model: Path, fragment: str) -> None:
    assert result.exit_code == ExitCode.BAD_MODEL, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {model}: "), result.stderr
    assert fragment in lines[0] and "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize(
    ("command", "model_kind", "fragment"),
    [
        ("forecast predict", "table", "this is a tabular model, not a forecast model"),
        ("predict", "series", "this is a forecast model, not a tabular model"),
        ("evaluate", "series", "this is a forecast model, not a tabular model"),
    ],
)
def test_a_model_of_the_other_kind_is_refused(
    cli, corpus, table_model, series_model, tmp_path: Path, command, model_kind, fragment
) -> None:
    model = table_model if model_kind == "table" else series_model
    data = corpus("bom", "series" if command.startswith("forecast") else "table")
    out = tmp_path / "out.csv"
    extra = [] if command == "evaluate" else ["-o", out]
    result = cli(*command.split(), model, data, *extra, code=None)
    assert_bad_model(result, model, fragment)
    assert "use nncli" in result.stderr  # says which command fits the file
    assert not out.exists()


def test_weights_that_do_not_match_the_metadata_are_refused(
    cli, corpus, table_model: Path, series_model: Path, tmp_path: Path
) -> None:
    def wider_table(document) -> None:
        document["architecture"]["hidden_sizes"] = [16]

    def wider_series(document) -> None:
        document["architecture"]["hidden_size"] = 16

    table = _with_metadata(table_model, tmp_path / "table.nncli", wider_table)
    result = cli("predict", table, corpus("bom"), code=None)
    assert_bad_model(result, table, "does not match its weights")
    series = _with_metadata(series_model, tmp_path / "series.nncli", wider_series)
    result = cli("forecast", "predict", series, corpus("bom", "series"), code=None)
    assert_bad_model(result, series, "does not match its weights")


def test_a_csv_given_as_the_model_is_refused(cli, corpus) -> None:
    data = corpus("bom", "series")
    result = cli("forecast", "predict", data, data, code=None)
    assert_bad_model(result, data, "not an nncli model file")
