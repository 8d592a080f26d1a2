"""Hostile labels and messages (issue 14): class labels come back exactly as the file wrote
them, and every message shows the data as written, says where it is (data row and line),
and never lets a control character from the file reach the terminal.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
from pathlib import Path
from typing import Any

import pytest

from nncli.errors import ExitCode
from tests.robustness.conftest import TINY, table_lines, write_lines

ROWS = 70


def labelled_table(path: Path, cells: list[str], header: str = "a,b,y") -> Path:
    """`ROWS` rows whose target cells cycle through `cells` (CSV text, quotes included);
    the feature `a` follows the class, so the network has something to learn."""
    rng = random.Random(3)
    lines = [header]
    for row in range(ROWS):
        index = row % len(cells)
        lines.append(f"{index + rng.random():.3f},{rng.randint(0, 9)},{cells[index]}")
    return write_lines(path, lines)


def read_predictions(path: Path) -> tuple[list[str], list[str]]:
    """The header and the prediction column of a predictions CSV, as text (no parsing)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], [row[rows[0].index("prediction")] for row in rows[1:]]


def assert_clean(result: Any) -> None:
    """No traceback, no numpy repr, no raw control sequence on either stream."""
    both = result.stdout + result.stderr
    assert "Traceback" not in both and "bug in nncli" not in both, result.stderr
    assert "np.float" not in both and "np.int" not in both and "np.bool" not in both, both
    assert "\x1b" not in both and "\x07" not in both and "\x9b" not in both, repr(both)


def error_line(result: Any, code: int) -> str:
    """The one error line of a refused run."""
    assert result.exit_code == code, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert_clean(result)
    return errors[0]


# --- 1. labels round-trip exactly as written ---------------------------------------------

LABEL_CASES = {
    # pandas reads these as booleans, floats and integers; the labels must not change.
    "booleans": (["TRUE", "FALSE"], {"TRUE", "FALSE"}),
    "decimals": (["1.0", "2.0"], {"1.0", "2.0"}),
    "leading-zeros": (["007", "010"], {"007", "010"}),
    # Text: spaces, words that look missing, case, a quoted comma, a combining tilde.
    "text": (
        [" a", "None", "NA", "Yes", "yes", '"x,y"', "n\u0303o"],
        {" a", "None", "NA", "Yes", "yes", "x,y", "n\u0303o"},
    ),
}


@pytest.fixture(scope="module")
def label_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """case -> (data, model): one tiny classifier per label spelling, trained once."""
    from tests.conftest import Cli

    folder = tmp_path_factory.mktemp("labels")
    built = {}
    for case, (cells, _) in LABEL_CASES.items():
        data = labelled_table(folder / f"{case}.csv", cells)
        model = folder / f"{case}.nncli"
        Cli()("train", data, "--target", "y", "--out", model, *TINY)
        built[case] = (data, model)
    return built


@pytest.mark.slow
@pytest.mark.parametrize("case", list(LABEL_CASES))
def test_train_then_predict_writes_the_labels_as_the_file_wrote_them(
    cli, label_models, tmp_path: Path, case: str
) -> None:
    data, model = label_models[case]
    expected = LABEL_CASES[case][1]
    out = tmp_path / "predictions.csv"
    assert_clean(cli("predict", model, data, "--proba", "-o", out))
    header, predictions = read_predictions(out)
    assert {name.removeprefix("proba_") for name in header[1:]} == expected
    assert set(predictions) <= expected and len(predictions) == ROWS
    shown = cli.json("inspect", data, "--target", "y")
    assert set(shown["target"]["classes"]) == expected
    scored = cli("evaluate", model, data)
    assert "unseen in training" not in scored.stderr and "left out" not in scored.stderr
    assert_clean(scored)


@pytest.mark.slow
def test_a_model_matches_labels_spelled_otherwise(cli, label_models, tmp_path: Path) -> None:
    """'true' and 'True' are the value of the class 'TRUE'; '1' that of '1.0'."""
    _, booleans = label_models["booleans"]
    other = labelled_table(tmp_path / "lower.csv", ["true", "False"])
    result = cli("evaluate", booleans, other, "--json")
    assert json.loads(result.stdout)["rows"] == ROWS and "left out" not in result.stderr
    _, decimals = label_models["decimals"]
    other = labelled_table(tmp_path / "whole.csv", ["1", "2"])
    assert json.loads(cli("evaluate", decimals, other, "--json").stdout)["rows"] == ROWS


@pytest.mark.slow
def test_na_values_turns_a_class_named_na_into_missing(cli, tmp_path: Path) -> None:
    data = labelled_table(tmp_path / "na.csv", ["NA", "p", "q"])
    model = tmp_path / "na.nncli"
    result = cli("train", data, "--target", "y", "--na-values", "NA", "--out", model, *TINY)
    assert "row(s) with a missing 'y' were left out" in result.stderr
    out = tmp_path / "predictions.csv"
    cli("predict", model, data, "--proba", "-o", out)
    assert read_predictions(out)[0] == ["prediction", "proba_p", "proba_q"]


# --- 2. values as written: no numpy reprs --------------------------------------------------


def test_messages_about_values_show_them_as_written(cli, tmp_path: Path) -> None:
    lines = table_lines()
    coded = write_lines(
        tmp_path / "coded.csv",
        [lines[0] + ",part"] + [f"{line},{row % 3}" for row, line in enumerate(lines[1:])],
    )
    result = cli(
        "train", coded, "--target", "y", "--split", "column", "--split-col", "part", code=None
    )
    line = error_line(result, ExitCode.BAD_DATA)
    assert "split column 'part' holds 0 at data row 1 (line 2)" in line

    timed = [lines[0] + ",t"] + [f"{line},{row}.5" for row, line in enumerate(lines[1:])]
    timed[5] = timed[5].rsplit(",", 1)[0] + ","
    timed_path = write_lines(tmp_path / "timed.csv", timed)
    result = cli(
        "train", timed_path, "--target", "y", "--split", "time", "--time-col", "t", code=None
    )
    assert "at data row 5 (line 6)" in error_line(result, ExitCode.BAD_DATA)

    rare = labelled_table(tmp_path / "rare.csv", ["1.0"] * 33 + ["2.0"])
    result = cli("train", rare, "--target", "y", "--split", "stratified", *TINY, code=None)
    assert "class '2.0' has only 2 row(s)" in error_line(result, ExitCode.BAD_DATA)


# --- 3. data row and file line, even after quoted line breaks ------------------------------


def test_a_ragged_row_after_a_quoted_line_break_names_its_row_and_line(cli, tmp_path: Path) -> None:
    lines = table_lines()
    lines[1] = lines[1].replace(",x,", ',"x\nsecond line",').replace(",y,", ',"y\nx",')
    lines[1] = lines[1].replace(",z,", ',"z\nx",')
    lines[6] += ",surplus"  # data row 6; the quoted break in row 1 puts it on line 8
    data = write_lines(tmp_path / "ragged.csv", lines)
    line = error_line(cli("inspect", data, code=None), ExitCode.BAD_DATA)
    assert "malformed CSV: data row 6 (line 8) has 5 fields, the header 4" in line

    lines = table_lines()
    lines[9] = lines[9].replace(",", ',"', 1)  # a quote opened in data row 9, never closed
    data = write_lines(tmp_path / "open_quote.csv", lines)
    line = error_line(cli("inspect", data, code=None), ExitCode.BAD_DATA)
    assert "a quote opened in data row 9 (line 10) is never closed" in line


# --- 4. control characters never reach the terminal --------------------------------------

ESCAPED_NAMES = ["a\x1b[31m", '"b\x1b]0;title\x07"', '"c\rz"', "d\u009b2J", "e\u202eevil"]


def test_control_characters_in_names_and_labels_are_escaped_everywhere(cli, tmp_path: Path) -> None:
    rng = random.Random(5)
    lines = [",".join([*ESCAPED_NAMES, "const\x1b[0m", "y"])]
    for row in range(60):
        label = "\x1b[31mred" if row % 2 else "blue"
        lines.append(
            f"{row % 2 + rng.random():.3f},{rng.randint(0, 9)},{rng.choice('xy')},"
            f"{rng.random():.2f},w{row},1,{label}"
        )
    data = write_lines(tmp_path / "escapes.csv", lines)
    shown = cli("inspect", data, "--target", "y")
    assert_clean(shown)
    assert "a\\x1b[31m" in shown.stdout and "\\x1b[31mred" in shown.stdout  # Rich tables
    assert "c\\rz" in shown.stdout and "e\\u202eevil" in shown.stdout
    assert "const\\x1b[0m" in shown.stderr  # the constant-column warning
    line = error_line(cli("inspect", data, "--target", "nope", code=None), ExitCode.BAD_DATA)
    assert "b\\x1b]0;title\\x07" in line and "d\\x9b2J" in line
    model = tmp_path / "escapes.nncli"
    trained = cli("train", data, "--target", "y", "--out", model, *TINY)
    assert_clean(trained)
    assert "e\\u202eevil (id)" in trained.stderr  # 'not used as features: …'
    scored = cli("evaluate", model, data)
    assert_clean(scored)
    assert "\\x1b[31mred" in scored.stdout  # the per-class table


# --- 5. a duplicated name past the first 64 KiB of the header -----------------------------


@pytest.mark.parametrize("variant", ["quoted-line-break-first", "gzip"])
def test_a_duplicated_name_deep_in_a_wide_header_is_refused(
    cli, tmp_path: Path, variant: str
) -> None:
    names = ['"first\nname"'] + [f"column_{index:05d}" for index in range(8000)]
    names += ["column_00001", "y"]
    row = ",".join("1" for _ in names[:-1]) + ",p"
    text = "\n".join([",".join(names), row, row.replace(",p", ",q")]) + "\n"
    data = tmp_path / "wide.csv"
    data.write_bytes(gzip.compress(text.encode()) if variant == "gzip" else text.encode())
    line = error_line(cli("inspect", data, code=None), ExitCode.BAD_DATA)
    assert "duplicated column name(s) 'column_00001'" in line


# --- 6. more hostile names and labels ------------------------------------------------------

LONG = "n" * 10_000


def _csv(header: str, rows: list[str] | None = None, bom: bool = False) -> bytes:
    body = "\n".join([header, *(rows or table_lines()[1:])]) + "\n"
    return (b"\xef\xbb\xbf" if bom else b"") + body.encode()


def _labels(cells: list[str]) -> bytes:
    return _csv("a,b,cat,y", [line.rsplit(",", 1)[0] + "," + cells[i % len(cells)]
                              for i, line in enumerate(table_lines()[1:])])  # fmt: skip


HOSTILE = [
    # (case, file bytes, arguments after the data path, exit code, fragment of the output)
    ("trailing-spaces-in-names", _csv("a ,b,cat  ,y "), ["--target", "y"], 0, '"name": "cat"'),
    ("names-equal-after-strip", _csv("a,b, a,y"), [], 3, "duplicated column name(s) 'a'"),
    ("bom-before-the-target", _csv("y,a,b,cat", bom=True), ["--target", "y"], 0, '"name": "y"'),
    ("all-names-empty", _csv(",,,"), [], 3, "the header line names no column"),
    ("two-unnamed-columns", _csv(",b,,y"), ["--target", "y"], 0, '"name": "Unnamed: 2"'),
    ("target-named-like-a-flag", _csv("a,b,cat,--x"), ["--target=--x"], 0, '"name": "--x"'),
    ("long-name-not-found", _csv(f"a,b,{LONG},y"), ["--target", "z"], 3, "characters]…"),
    ("long-name-duplicated", _csv(f"{LONG},b,{LONG},y"), [], 3, "characters]…"),
    ("quoted-line-break-label", _labels(['"two\nlines"', "one"]), ["--target", "y"], 0,
     '"two\\nlines": 30'),
    ("one-and-one-point-zero", _labels(["1", "1.0", "2"]), ["--target", "y"], 0, '"1": 40'),
    ("true-spelled-twice", _labels(["TRUE", "True", "FALSE"]), ["--target", "y"], 0,
     '"TRUE": 40'),
    ("markup-label", _labels(["[red]x[/red]", ":smile:"]), ["--target", "y"], 0,
     '"[red]x[/red]": 30'),
    ("case-only-labels", _labels(["Yes", "yes", "YES"]), ["--target", "y"], 0, '"YES": 20'),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "content", "args", "code", "fragment"), HOSTILE, ids=[c[0] for c in HOSTILE]
)
def test_hostile_names_and_labels(
    cli, tmp_path: Path, case: str, content: bytes, args: list[str], code: int, fragment: str
) -> None:
    data = tmp_path / f"{case}.csv"
    data.write_bytes(content)
    result = cli("inspect", data, *args, *(["--json"] if code == 0 else []), code=None)
    if code == 0:
        assert result.exit_code == 0, result.stderr
        assert_clean(result)
        assert fragment in result.stdout, result.stdout[:2000]
        json.loads(result.stdout)
    else:
        line = error_line(result, code)
        assert fragment in line and len(line) < 1000 and LONG not in line, line


def test_a_long_name_stays_one_short_line_in_the_table(cli, tmp_path: Path) -> None:
    data = tmp_path / "long.csv"
    data.write_bytes(_csv(f"a,b,{LONG},y"))
    result = cli("inspect", data)
    assert_clean(result)
    # Cut to 120 characters, the name wraps onto a few lines of its cell, not hundreds.
    assert LONG[:200] not in result.stdout and len(result.stdout.splitlines()) < 40
