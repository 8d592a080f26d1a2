"""Every hostile CSV against every command that reads one: a documented exit code, one error
line naming the file (and the column or row), never a traceback, never a partial output."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nncli.errors import ExitCode
from tests.robustness.conftest import FORECAST_TINY, TABLE_ROWS, TINY

TABLE_COMMANDS = ("inspect", "train", "predict", "evaluate")
FORECAST_COMMANDS = ("forecast train", "forecast predict")
ALL_COMMANDS = TABLE_COMMANDS + FORECAST_COMMANDS


class Commands:
    """Builds the command line for one command on one data file, with outputs in `out_dir`."""

    def __init__(self, table_model: Path, series_model: Path, out_dir: Path) -> None:
        self.table_model = table_model
        self.series_model = series_model
        self.out_dir = out_dir

    def outputs(self) -> list[Path]:
        """Files a command could write: none may exist after a failure."""
        return [
            self.out_dir / name for name in ("model.nncli", "pred.csv", "fmodel.nncli", "fpred.csv")
        ]

    def args(self, command: str, data: Path, *extra: str) -> list[Any]:
        return {
            "inspect": ["inspect", data, "--target", "y"],
            "train": ["train", data, "--target", "y", "--out", self.out_dir / "model.nncli", *TINY],
            "predict": ["predict", self.table_model, data, "-o", self.out_dir / "pred.csv"],
            "evaluate": ["evaluate", self.table_model, data],
            "forecast train": [
                "forecast",
                "train",
                data,
                *FORECAST_TINY,
                "--out",
                self.out_dir / "fmodel.nncli",
            ],
            "forecast predict": [
                "forecast",
                "predict",
                self.series_model,
                data,
                "-o",
                self.out_dir / "fpred.csv",
            ],
        }[command] + list(extra)


@pytest.fixture
def commands(table_model: Path, series_model: Path, tmp_path: Path) -> Commands:
    return Commands(table_model, series_model, tmp_path)


def flavour(command: str) -> str:
    return "series" if command.startswith("forecast") else "table"


def assert_one_line_error(result: Any, code: int, data: Path, *fragments: str) -> str:
    """The run failed with `code` and exactly one error line that names `data`."""
    assert result.exit_code == code, f"exit {result.exit_code}\n{result.stderr}"
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    message = errors[0]
    assert str(data) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


# (case, commands, exit code, fragments of the one error line)
ERRORS: list[tuple[str, tuple[str, ...], ExitCode, tuple[str, ...]]] = [
    ("empty", ALL_COMMANDS, ExitCode.BAD_DATA, ("the file is empty",)),
    ("header_only", ALL_COMMANDS, ExitCode.BAD_DATA, ("has a header but no data rows",)),
    ("one_row", ("train",), ExitCode.BAD_DATA, ("only 1 row(s) with a 'y' value", "at least 10")),
    ("one_row", FORECAST_COMMANDS, ExitCode.BAD_DATA, ("no series is long enough",)),
    ("missing", ALL_COMMANDS, ExitCode.BAD_DATA, ("no such data file",)),
    ("directory", ALL_COMMANDS, ExitCode.BAD_DATA, ("is a directory", "pass the CSV file")),
    ("latin1", ALL_COMMANDS, ExitCode.BAD_DATA, ("is not valid utf-8", "--encoding latin-1")),
    ("colon", ("inspect", "train", "evaluate"), ExitCode.BAD_DATA, ("--sep",)),
    ("colon", FORECAST_COMMANDS, ExitCode.BAD_DATA, ("--sep",)),
    ("colon", ("predict",), ExitCode.BAD_DATA, ("column 'a' is missing",)),
    ("duplicated_names", ALL_COMMANDS, ExitCode.BAD_DATA, ("duplicated column name(s)",)),
    ("ragged", ALL_COMMANDS, ExitCode.BAD_DATA, ("malformed CSV", "line 11")),
    (
        "target_all_missing",
        ("inspect", "train", "evaluate"),
        ExitCode.BAD_DATA,
        ("target column 'y' has no values",),
    ),
    (
        "target_all_missing",
        FORECAST_COMMANDS,
        ExitCode.BAD_DATA,
        ("target column 'value' has no values (all missing)",),
    ),
    ("single_class", ("train",), ExitCode.BAD_DATA, ("has a single class ('p')",)),
    (
        "one_member_class",
        ("train",),
        ExitCode.BAD_DATA,
        ("class 'lonely' has only 1 row(s)", "--split random"),
    ),
    (
        "infinite",
        ("train", "predict", "evaluate"),
        ExitCode.BAD_DATA,
        ("column 'a' holds an infinite value at data row 7",),
    ),
    (
        "infinite",
        FORECAST_COMMANDS,
        ExitCode.BAD_DATA,
        ("column 'value' holds an infinite value at data row 30",),
    ),
    (
        "huge",
        ("train", "predict", "evaluate"),
        ExitCode.BAD_DATA,
        ("column 'a' holds -1e+308 at data row 7", "float32 range"),
    ),
    (
        "huge",
        FORECAST_COMMANDS,
        ExitCode.BAD_DATA,
        ("column 'value' holds 1e+308 at data row 30", "float32 range"),
    ),
    (
        "stray_text",
        ("train", "predict", "evaluate"),
        ExitCode.BAD_DATA,
        ("column 'a' holds text 'oops' at data row 12 (line 13)", "fix or blank that cell"),
    ),
    (
        "stray_text",
        FORECAST_COMMANDS,
        ExitCode.BAD_DATA,
        ("column 'value' holds text 'n/a?' at data row 41",),
    ),
    # Rows 2 and 3 have no target and are left out; the error still names the file's row.
    (
        "stray_text_after_missing_targets",
        ("train",),
        ExitCode.BAD_DATA,
        ("'oops' at data row 12 (line 13)",),
    ),
    (
        "mixed_dates",
        FORECAST_COMMANDS,
        ExitCode.BAD_DATA,
        ("mixes date formats", "data row 4 (line 5) has '04/01/2024'"),
    ),
]


def _slow_unless_first_of_its_flavour(command: str, commands_: tuple[str, ...]) -> list[Any]:
    """The fast tier reads each broken file with one table and one series command; the
    other commands (the same reader behind them) run with the slow tests."""
    first = next(c for c in commands_ if flavour(c) == flavour(command))
    return [] if command == first else [pytest.mark.slow]


@pytest.mark.parametrize(
    ("case", "command", "code", "fragments"),
    [
        pytest.param(
            case,
            command,
            code,
            fragments,
            id=f"{case}-{command.replace(' ', '_')}",
            marks=_slow_unless_first_of_its_flavour(command, commands_),
        )
        for case, commands_, code, fragments in ERRORS
        for command in commands_
    ],
)
def test_bad_input_is_one_line_with_its_exit_code(
    cli, corpus: Callable[..., Path], commands: Commands, case, command, code, fragments
) -> None:
    data = corpus(case, flavour(command))
    result = cli(*commands.args(command, data), code=None)
    assert_one_line_error(result, code, data, *fragments)
    assert not any(path.exists() for path in commands.outputs())


# Inputs that look odd but are valid: every command must simply work.
WORKS: list[tuple[str, tuple[str, ...]]] = [
    ("bom", ALL_COMMANDS),
    ("semicolon", ALL_COMMANDS),
    ("tab", ALL_COMMANDS),
    ("quoted_newlines", TABLE_COMMANDS),
    ("gzipped", ALL_COMMANDS),
    ("one_row", ("inspect", "predict", "evaluate")),
    ("single_class", ("inspect", "predict", "evaluate")),
    ("one_member_class", ("inspect", "predict", "evaluate")),
    ("infinite", ("inspect",)),
    ("huge", ("inspect",)),
    ("stray_text", ("inspect",)),
    ("markup_names", ("inspect", "train")),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "command"),
    [
        pytest.param(case, command, id=f"{case}-{command.replace(' ', '_')}")
        for case, commands_ in WORKS
        for command in commands_
    ],
)
def test_valid_but_unusual_input_works(
    cli, corpus: Callable[..., Path], commands: Commands, case, command
) -> None:
    data = corpus(case, flavour(command))
    result = cli(*commands.args(command, data))
    assert "Traceback" not in result.stderr and "error:" not in result.stderr
    if command == "predict":
        rows = 1 if case == "one_row" else TABLE_ROWS
        assert len((commands.out_dir / "pred.csv").read_text().splitlines()) == rows + 1
    if case in ("semicolon", "tab"):
        assert "reading with separator" in result.stderr and "--sep" in result.stderr


def test_bom_does_not_leak_into_the_first_column_name(cli, corpus) -> None:
    document = cli.json("inspect", corpus("bom"), "--target", "y")
    assert [c["name"] for c in document["columns"]] == ["a", "b", "cat", "y"]


def test_quoted_newlines_keep_one_row_per_record(cli, corpus) -> None:
    document = cli.json("inspect", corpus("quoted_newlines"), "--target", "y")
    assert document["rows"] == TABLE_ROWS
    cat = next(c for c in document["columns"] if c["name"] == "cat")
    assert cat["kind"] == "categorical" and cat["unique"] == 3


@pytest.mark.slow
@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda c: c.replace(" ", "_"))
def test_latin1_reads_with_the_encoding_option(cli, corpus, commands: Commands, command) -> None:
    data = corpus("latin1", flavour(command))
    result = cli(*commands.args(command, data, "--encoding", "latin-1"))
    assert "error:" not in result.stderr
    if command == "inspect":
        assert "é" in result.stdout  # decoded, not mangled


@pytest.mark.slow
@pytest.mark.parametrize("command", ["train", "forecast train"], ids=lambda c: c.replace(" ", "_"))
def test_an_unsniffed_separator_works_with_sep(cli, corpus, commands: Commands, command) -> None:
    data = corpus("colon", flavour(command))
    cli(*commands.args(command, data, "--sep", ":"))


def test_one_member_class_trains_with_a_random_split(cli, corpus, commands: Commands) -> None:
    result = cli(*commands.args("train", corpus("one_member_class"), "--split", "random"))
    assert "split (random)" in result.stderr


def test_single_class_is_a_warning_for_inspect(cli, corpus) -> None:
    result = cli("inspect", corpus("single_class"), "--target", "y")
    assert "target 'y' has a single class; nothing to classify" in result.stderr


def test_markup_and_emoji_column_names_print_as_written(cli, corpus, tmp_path: Path) -> None:
    data = corpus("markup_names")
    result = cli("inspect", data, "--target", "y")
    for name in ("[/b]", ":smile:", "[red]cat"):
        assert name in result.stdout
    model = tmp_path / "m.nncli"
    cli("train", data, "--target", "y", "--out", model, *TINY)
    predicted = cli("predict", model, data)
    assert len(predicted.stdout.splitlines()) == TABLE_ROWS + 1
    missing = cli("train", data, "--target", ":smil:", code=ExitCode.BAD_DATA)
    assert "did you mean ':smile:'?" in missing.stderr  # not an emoji


@pytest.mark.parametrize(
    ("command", "typo", "suggestion"),
    [
        ("train", "yy", "did you mean 'y'?"),
        ("inspect", "Y", "did you mean 'y'?"),
        ("forecast train", "valeu", "did you mean 'value'?"),
    ],
)
def test_a_misspelt_target_suggests_the_close_name(
    cli, corpus, commands: Commands, command, typo, suggestion
) -> None:
    data = corpus("bom", flavour(command))
    args = [str(a) for a in commands.args(command, data)]
    position = args.index("--target") + 1
    args[position] = typo
    result = cli(*args, code=ExitCode.BAD_DATA)
    assert_one_line_error(result, ExitCode.BAD_DATA, data, f"column {typo!r} not found", suggestion)


def test_unreadable_file_is_a_data_error(cli, corpus, commands: Commands) -> None:
    data = corpus("unreadable")
    if os.access(data, os.R_OK):
        pytest.skip("running as root (or a filesystem that ignores modes): chmod 000 still reads")
    for command in TABLE_COMMANDS:
        result = cli(*commands.args(command, data), code=None)
        assert_one_line_error(result, ExitCode.BAD_DATA, data, "permission denied")


def test_json_mode_reports_bad_input_as_one_document(cli, corpus) -> None:
    data = corpus("ragged")
    result = cli("train", data, "--target", "y", "--json", code=ExitCode.BAD_DATA)
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["exit_code"] == 3
    assert "malformed CSV" in document["error"] and "\n" not in document["error"]
