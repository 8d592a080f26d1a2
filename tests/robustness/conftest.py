"""The hostile-input corpus: small seeded tables and series, each broken in one way.

Every file is generated here (nothing is checked in). A *table* has the columns
`a` (float), `b` (small int), `cat` (x/y/z) and the target `y` (p/q); a *series* is 120
business days of `date`, `value` (a random walk) and `vol`. The builders change exactly one
thing, so a failing case points at one input problem.
"""

from __future__ import annotations

import gzip
import math
import random
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli

TABLE_ROWS = 60
SERIES_ROWS = 120
# Tiny settings for `train`: these tests are about inputs, not about learning (no final refit).
TINY = ["--epochs", "2", "--hidden", "8", "--patience", "2", "--final-refit", "never"]
# The MLP on lags: the cheapest forecaster; these tests exercise the input, not the network.
FORECAST_TINY = [
    "--arch",
    "mlp",
    "--time-col",
    "date",
    "--target",
    "value",
    "--lookback",
    "10",
    "--horizon",
    "3",
    "--hidden-size",
    "8",
    "--epochs",
    "2",
    "--patience",
    "2",
]


def table_lines(rows: int = TABLE_ROWS, seed: int = 0) -> list[str]:
    """Header plus `rows` data lines of the base table."""
    rng = random.Random(seed)
    lines = ["a,b,cat,y"]
    for _ in range(rows):
        lines.append(
            f"{rng.random():.3f},{rng.randint(0, 9)},{rng.choice('xyz')},{rng.choice('pq')}"
        )
    return lines


def series_lines(rows: int = SERIES_ROWS, seed: int = 1) -> list[str]:
    """Header plus `rows` business days of a random walk."""
    rng = random.Random(seed)
    day, value = date(2024, 1, 1), 100.0
    lines = ["date,value,vol"]
    while len(lines) <= rows:
        if day.weekday() < 5:
            value *= math.exp(rng.gauss(0, 0.01))
            lines.append(f"{day.isoformat()},{value:.4f},{rng.randint(100, 200)}")
        day += timedelta(days=1)
    return lines


def set_cell(lines: list[str], row: int, column: int, value: str) -> list[str]:
    """A copy of `lines` with data row `row` (1-based), field `column` set to `value`."""
    changed = list(lines)
    fields = changed[row].split(",")
    fields[column] = value
    changed[row] = ",".join(fields)
    return changed


def write_lines(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


Builder = Callable[[Path, str], Path]


def _empty(path: Path, flavour: str) -> Path:
    path.write_bytes(b"")
    return path


def _header_only(path: Path, flavour: str) -> Path:
    return write_lines(path, (table_lines() if flavour == "table" else series_lines())[:1])


def _one_row(path: Path, flavour: str) -> Path:
    return write_lines(path, (table_lines() if flavour == "table" else series_lines())[:2])


def _missing(path: Path, flavour: str) -> Path:
    return path.with_name("no_such_file.csv")


def _directory(path: Path, flavour: str) -> Path:
    folder = path.with_suffix("")
    folder.mkdir()
    return folder


def _unreadable(path: Path, flavour: str) -> Path:
    write_lines(path, table_lines() if flavour == "table" else series_lines())
    path.chmod(0)
    return path


def _latin1(path: Path, flavour: str) -> Path:
    """Valid Latin-1 with an 'é' in the third row: not UTF-8."""
    if flavour == "table":
        lines = [line.replace(",x,", ",é,") for line in table_lines()]
    else:
        lines = [f"{line},{'note' if i == 0 else 'café'}" for i, line in enumerate(series_lines())]
    return write_lines(path, lines, encoding="latin-1")


def _bom(path: Path, flavour: str) -> Path:
    write_lines(path, table_lines() if flavour == "table" else series_lines())
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    return path


def _separator(sep: str) -> Builder:
    def build(path: Path, flavour: str) -> Path:
        lines = table_lines() if flavour == "table" else series_lines()
        return write_lines(path, [line.replace(",", sep) for line in lines])

    return build


def _duplicated_names(path: Path, flavour: str) -> Path:
    lines = table_lines() if flavour == "table" else series_lines()
    header = lines[0].split(",")
    header[1] = header[0] if flavour == "table" else header[2]  # 'a,a,…' / 'date,vol,vol'
    return write_lines(path, [",".join(header), *lines[1:]])


def _ragged(path: Path, flavour: str) -> Path:
    lines = table_lines() if flavour == "table" else series_lines()
    lines[10] += ",surplus"  # data row 10 is line 11 of the file
    return write_lines(path, lines)


def _quoted_newlines(path: Path, flavour: str) -> Path:
    """The category cells are quoted and hold a line break: valid CSV that must read."""
    lines = table_lines()
    rows = [lines[0]]
    for line in lines[1:]:
        a, b, cat, y = line.split(",")
        rows.append(f'{a},{b},"{cat}\nline two",{y}')
    return write_lines(path, rows)


def _target_all_missing(path: Path, flavour: str) -> Path:
    lines = table_lines() if flavour == "table" else series_lines()
    column = 3 if flavour == "table" else 1
    for row in range(1, len(lines)):
        lines = set_cell(lines, row, column, "")
    return write_lines(path, lines)


def _single_class(path: Path, flavour: str) -> Path:
    lines = table_lines()
    return write_lines(path, [lines[0]] + [ln[:-1] + "p" for ln in lines[1:]])


def _one_member_class(path: Path, flavour: str) -> Path:
    return write_lines(path, set_cell(table_lines(), 5, 3, "lonely"))


def _infinite(path: Path, flavour: str) -> Path:
    if flavour == "table":
        return write_lines(path, set_cell(table_lines(), 7, 0, "inf"))
    return write_lines(path, set_cell(series_lines(), 30, 1, "inf"))


def _huge(path: Path, flavour: str) -> Path:
    if flavour == "table":
        return write_lines(path, set_cell(set_cell(table_lines(), 7, 0, "-1e308"), 8, 0, "1e308"))
    return write_lines(path, set_cell(series_lines(), 30, 1, "1e308"))


def _stray_text(path: Path, flavour: str) -> Path:
    if flavour == "table":
        return write_lines(path, set_cell(table_lines(), 12, 0, "oops"))
    return write_lines(path, set_cell(series_lines(), 41, 1, "n/a?"))


def _stray_text_after_missing_targets(path: Path, flavour: str) -> Path:
    """Rows 2 and 3 lack a target (left out); the stray text is still in the file's row 12."""
    lines = set_cell(set_cell(table_lines(), 2, 3, ""), 3, 3, "")
    return write_lines(path, set_cell(lines, 12, 0, "oops"))


def _mixed_dates(path: Path, flavour: str) -> Path:
    """Day-first dates in every 7th row: 04/01/2024 would silently be read as April 1st."""
    lines = series_lines()
    for index in range(4, len(lines), 7):
        day = date.fromisoformat(lines[index].split(",")[0])
        lines = set_cell(lines, index, 0, day.strftime("%d/%m/%Y"))
    return write_lines(path, lines)


def _colon_separated(path: Path, flavour: str) -> Path:
    """A delimiter nncli does not sniff: the whole header becomes one column."""
    lines = table_lines() if flavour == "table" else series_lines()
    return write_lines(path, [line.replace(",", ":") for line in lines])


def _gzipped(path: Path, flavour: str) -> Path:
    text = "\n".join(table_lines() if flavour == "table" else series_lines()) + "\n"
    target = path.with_name(path.name + ".gz")
    with gzip.open(target, "wt", encoding="utf-8") as handle:
        handle.write(text)
    return target


def _markup_names(path: Path, flavour: str) -> Path:
    """Column names that Rich would read as markup or emoji codes."""
    lines = table_lines()
    return write_lines(path, ["[/b],:smile:,[red]cat,y", *lines[1:]])


BUILDERS: dict[str, Builder] = {
    "empty": _empty,
    "header_only": _header_only,
    "one_row": _one_row,
    "missing": _missing,
    "directory": _directory,
    "unreadable": _unreadable,
    "latin1": _latin1,
    "bom": _bom,
    "semicolon": _separator(";"),
    "tab": _separator("\t"),
    "colon": _colon_separated,
    "duplicated_names": _duplicated_names,
    "ragged": _ragged,
    "quoted_newlines": _quoted_newlines,
    "target_all_missing": _target_all_missing,
    "single_class": _single_class,
    "one_member_class": _one_member_class,
    "infinite": _infinite,
    "huge": _huge,
    "stray_text": _stray_text,
    "stray_text_after_missing_targets": _stray_text_after_missing_targets,
    "mixed_dates": _mixed_dates,
    "gzipped": _gzipped,
    "markup_names": _markup_names,
}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """`corpus(case, flavour)`: the hostile file for a case, built once per session."""
    folder = tmp_path_factory.mktemp("corpus")
    built: dict[tuple[str, str], Path] = {}

    def get(case: str, flavour: str = "table") -> Path:
        if (case, flavour) not in built:
            built[case, flavour] = BUILDERS[case](folder / f"{case}-{flavour}.csv", flavour)
        return built[case, flavour]

    return get


@pytest.fixture(scope="session")
def table_model(tmp_path_factory: pytest.TempPathFactory, corpus: Any) -> Path:
    """A tiny classifier of `y` trained on the clean base table."""
    folder = tmp_path_factory.mktemp("table_model")
    clean = write_lines(folder / "table.csv", table_lines())
    model = folder / "table.nncli"
    Cli()("train", clean, "--target", "y", "--out", model, *TINY)
    return model


@pytest.fixture(scope="session")
def series_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny forecaster of `value` trained on the clean series."""
    folder = tmp_path_factory.mktemp("series_model")
    clean = write_lines(folder / "series.csv", series_lines())
    model = folder / "series.nncli"
    Cli()("forecast", "train", clean, *FORECAST_TINY, "--out", model)
    return model
