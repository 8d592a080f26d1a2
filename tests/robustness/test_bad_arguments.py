"""Bad options and output paths not already covered in tests/cli: refused with exit code 2
before any work is done, in one line, and the input files are left byte-identical.

Covered elsewhere (tests/cli): train --epochs -1, --batch-size 0, --out = input, --out in a
missing directory; forecast train --horizon 0, --arch transformer, --lookback 5000.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nncli.errors import ExitCode
from tests.robustness.conftest import FORECAST_TINY, TINY


def refused(cli, *args, fragment: str, code: int = ExitCode.USAGE) -> str:
    """Run, expect `code` and one error line holding `fragment`; return stderr."""
    result = cli(*args, code=code)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    return result.stderr


@pytest.fixture
def clean_table(corpus: Callable[..., Path]) -> Path:
    return corpus("bom")


@pytest.fixture
def clean_series(corpus: Callable[..., Path]) -> Path:
    return corpus("bom", "series")


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--epochs", "-3"], "--epochs must be at least 1, not -3"),
        (["--batch-size", "0"], "--batch-size must be at least 1, not 0"),
        (["--lookback", "0"], "--lookback must be at least 1"),
    ],
)
def test_forecast_train_refuses_impossible_settings(
    cli, clean_series: Path, tmp_path: Path, extra, fragment
) -> None:
    out = tmp_path / "m.nncli"
    refused(
        cli,
        "forecast",
        "train",
        clean_series,
        *FORECAST_TINY,
        *extra,
        "--out",
        out,
        fragment=fragment,
    )
    assert not out.exists()


def test_lookback_longer_than_the_series_names_both_lengths(
    cli, clean_series: Path, tmp_path: Path
) -> None:
    out = tmp_path / "m.nncli"
    stderr = refused(
        cli,
        "forecast",
        "train",
        clean_series,
        *FORECAST_TINY,
        "--lookback",
        "500",
        "--out",
        out,
        code=ExitCode.BAD_DATA,
        fragment="lookback 500",
    )
    assert "the longest has 120" in stderr and "lower --lookback" in stderr
    assert not out.exists()


def test_train_refuses_an_unknown_architecture(cli, clean_table: Path, tmp_path: Path) -> None:
    refused(
        cli,
        "train",
        clean_table,
        "--target",
        "y",
        "--arch",
        "transformer",
        "--out",
        tmp_path / "m.nncli",
        fragment="--arch must be one of",
    )


def _can_create_in(folder: Path) -> bool:
    try:
        with tempfile.NamedTemporaryFile(dir=folder):
            return True
    except OSError:
        return False


@pytest.fixture
def unwritable_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory this process cannot create files in."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if not _can_create_in(folder):
            yield folder
        elif Path("/proc").is_dir() and not _can_create_in(Path("/proc")):
            yield Path("/proc")  # root ignores mode bits; /proc takes no new files, even then
        else:
            pytest.skip("no directory here refuses new files (root on a non-Linux system?)")
    finally:
        folder.chmod(0o755)


def test_unwritable_output_directories_are_refused_before_any_work(
    cli,
    clean_table: Path,
    clean_series: Path,
    table_model: Path,
    series_model: Path,
    unwritable_dir: Path,
) -> None:
    target = unwritable_dir / "out"
    fragment = "is not writable"
    stderr = refused(
        cli, "train", clean_table, "--target", "y", "--out", target, *TINY, fragment=fragment
    )
    assert "split" not in stderr  # refused before training started
    refused(cli, "predict", table_model, clean_table, "-o", target, fragment=fragment)
    refused(
        cli, "forecast", "train", clean_series, *FORECAST_TINY, "--out", target, fragment=fragment
    )
    refused(cli, "forecast", "predict", series_model, clean_series, "-o", target, fragment=fragment)
    refused(
        cli,
        "forecast",
        "predict",
        series_model,
        clean_series,
        "--append",
        target,
        fragment=fragment,
    )


def test_an_output_inside_a_file_is_refused(cli, clean_table: Path, table_model: Path) -> None:
    refused(
        cli,
        "predict",
        table_model,
        clean_table,
        "-o",
        clean_table / "pred.csv",
        fragment="is a file, not a directory",
    )


def test_an_output_that_is_a_directory_is_refused(
    cli, clean_series: Path, series_model: Path, tmp_path: Path
) -> None:
    refused(
        cli,
        "forecast",
        "predict",
        series_model,
        clean_series,
        "-o",
        tmp_path,
        fragment="is a directory",
    )


@pytest.mark.parametrize(
    "case",
    [
        "predict -o data",
        "predict -o model",
        "forecast train --out data",
        "forecast predict -o data",
        "forecast predict --append data",
        "forecast predict --append model",
    ],
)
def test_output_equal_to_an_input_is_refused_and_the_input_is_untouched(
    cli, corpus, table_model: Path, series_model: Path, tmp_path: Path, case: str
) -> None:
    # Private copies: the refusal must leave them byte-identical.
    table = tmp_path / "table.csv"
    table.write_bytes(corpus("bom").read_bytes())
    series = tmp_path / "series.csv"
    series.write_bytes(corpus("bom", "series").read_bytes())
    tmodel = tmp_path / "table.nncli"
    tmodel.write_bytes(table_model.read_bytes())
    smodel = tmp_path / "series.nncli"
    smodel.write_bytes(series_model.read_bytes())
    before = {path: path.read_bytes() for path in (table, series, tmodel, smodel)}
    args = {
        "predict -o data": ["predict", tmodel, table, "-o", table],
        "predict -o model": ["predict", tmodel, table, "-o", tmodel],
        "forecast train --out data": ["forecast", "train", series, *FORECAST_TINY, "--out", series],
        "forecast predict -o data": ["forecast", "predict", smodel, series, "-o", series],
        "forecast predict --append data": [
            "forecast",
            "predict",
            smodel,
            series,
            "--append",
            series,
        ],
        "forecast predict --append model": [
            "forecast",
            "predict",
            smodel,
            series,
            "--append",
            smodel,
        ],
    }[case]
    refused(cli, *args, fragment="refusing to overwrite")
    assert {path: path.read_bytes() for path in before} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in before)
