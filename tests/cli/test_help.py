"""Help that teaches: every help page renders all its text, plain metavars and runnable examples."""

from __future__ import annotations

import functools
import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from nncli.cli import app

# Install hints for the optional extras; Rich markup would eat them if help were not escaped.
EXTRAS = ("[plot]", "[onnx]", "[postgres]")
WIDE = {"COLUMNS": "200", "TERMINAL_WIDTH": "200"}

# The order the examples run in: a command's examples may use files an earlier one wrote
# (train writes penguins.nncli for evaluate, forecast run writes ledger.csv for score, ...).
EXAMPLE_ORDER = [
    "inspect",
    "train",
    "evaluate",
    "predict",
    "explain",
    "export",
    "forecast train",
    "forecast backtest",
    "forecast predict",
    "forecast run",
    "forecast score",
    "tune",
    "forecast tune",
    "study list",
    "study show",
    "study best",
    "study export",
    "demo",
]
SERVER_URLS = ("postgresql://", "mysql://")
# One forecasting network instead of six, a backtest that retrains every 5th fold, searches
# that start no trial after 5 s, no second fit of a table's network: the README test's.
FEWER_FITS = {
    "NNCLI_ENSEMBLE": "1",
    "NNCLI_RETRAIN_EVERY": "5",
    "NNCLI_TIMEOUT": "5",
    "NNCLI_FINAL_REFIT": "never",
}


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command and group of the CLI, with its path of names, the root first."""
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from walk(sub, (*path, name))


ROOT = typer.main.get_command(app)
PAGES = list(walk(ROOT))
LEAVES = [(path, command) for path, command in PAGES if not hasattr(command, "commands")]


@functools.cache  # three tests read each page: render it once
def render_help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    return result.stdout


def unescaped(text: str) -> str:
    return text.replace("\\[", "[")


def examples(command: Any) -> list[str]:
    """The command lines of the help's "Examples:" block (`\\` continues a line)."""
    block = (command.help or "").partition("Examples:\n")[2]
    lines = block.split("\n\n")[0].replace("\\\n", " ").splitlines()
    return [" ".join(line.split()) for line in lines if line.strip()]


@pytest.mark.parametrize("path", [path for path, _ in PAGES], ids=lambda p: " ".join(p) or "nncli")
def test_help_keeps_all_text_and_shows_plain_metavars(path: tuple[str, ...]) -> None:
    command = dict(PAGES)[path]
    page = " ".join(render_help(path).split())
    sources = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
    for extra in EXTRAS:
        for source in sources:
            if extra in unescaped(source):
                assert extra in page, f"{extra} lost from: {source}"
    assert "<bool>" not in page and "{" not in page.split("Usage:")[1].split()[1:5]
    if any(
        param.name == "data" and param.param_type_name == "argument" for param in command.params
    ):
        usage = page.split("Usage:")[1].split("╭")[0]
        assert re.search(r"\bDATA\b", usage) and "{" not in usage, usage


# A value's name in a help row, right after its flag or argument: `--as-of <datetime>`, `DATA <path>`.
BRACKETED_METAVAR = re.compile(r"(?:^|\s)(?:--?[\w-]+|[A-Z_]+)\s+<[\w|,\[\] ]+>")


@pytest.mark.parametrize("path", [path for path, _ in PAGES], ids=lambda p: " ".join(p) or "nncli")
def test_every_value_is_named_in_plain_uppercase(path: tuple[str, ...]) -> None:
    """PATH, INT, FLOAT, TEXT, DATETIME for arguments and options; nothing for a flag."""
    command = dict(PAGES)[path]
    ctx = typer.Context(command, info_name=" ".join(("nncli", *path)))
    for param in command.get_params(ctx):
        shown = param.display_type_rich(ctx) or ""
        assert re.fullmatch(r"[A-Z]*", shown), f"{param.name}: {shown}"
        takes_value = param.param_type_name == "argument" or not param.is_flag
        assert bool(shown) == takes_value, f"{param.name}: {shown!r}"
    page = render_help(path)
    assert not BRACKETED_METAVAR.search(page), BRACKETED_METAVAR.search(page)


def test_bracketed_metavars_are_recognised() -> None:
    for row in ("│ *    DATA      <path>  CSV file", "│ --as-of   <datetime>  The", "-o  <path>"):
        assert BRACKETED_METAVAR.search(row), row
    for text in ("goes to <file>.preprocessing", "(default: <data name>.nncli)"):
        assert not BRACKETED_METAVAR.search(text), text


def test_the_plot_extra_survives_in_evaluate_help() -> None:
    assert "pip install 'nncli[plot]'" in " ".join(render_help(("evaluate",)).split())


@pytest.mark.parametrize("path", [path for path, _ in LEAVES], ids=" ".join)
def test_every_command_shows_examples(path: tuple[str, ...]) -> None:
    command = dict(LEAVES)[path]
    assert 1 <= len(examples(command)) <= 3, command.help
    page = render_help(path)
    assert "Examples:" in page
    for line in examples(command):
        assert line.split(" \\")[0][:40] in " ".join(page.split()), line


def test_every_command_with_examples_is_in_the_run_order() -> None:
    assert sorted(" ".join(path) for path, _ in LEAVES) == sorted(EXAMPLE_ORDER)


@pytest.mark.slow
def test_every_example_in_the_help_runs(
    tmp_path: Path, sample_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run each help example, in EXAMPLE_ORDER, in a folder holding a copy of sample_data/.

    To keep this test fast, an example of a command that has --epochs but gives none gets
    `--epochs 2` appended, the copy of stocks.csv keeps each ticker's newest 300 rows, and,
    as in the README's test, the environment sets NNCLI_ENSEMBLE=1, NNCLI_RETRAIN_EVERY=5,
    NNCLI_TIMEOUT=5 and NNCLI_FINAL_REFIT=never (the examples themselves stay as users read
    them: 290 s -> 100 s on two busy cores). Examples that need a database server are skipped.
    """
    import pandas as pd

    shutil.copytree(sample_data, tmp_path / "sample_data")
    prices = tmp_path / "sample_data" / "stocks.csv"
    pd.read_csv(prices).groupby("ticker").tail(300).to_csv(prices, index=False)
    monkeypatch.chdir(tmp_path)
    env = {
        "NNCLI_STORAGE": f"journal:{tmp_path / 'studies.log'}",
        "NNCLI_QUIET": "1",
        **FEWER_FITS,
    }
    leaves = {" ".join(path): command for path, command in LEAVES}
    for name in EXAMPLE_ORDER:
        command = leaves[name]
        has_epochs = any("--epochs" in getattr(p, "opts", []) for p in command.params)
        for line in examples(command):
            if any(url in line for url in SERVER_URLS):
                continue
            args = shlex.split(line)[1:]
            if has_epochs and "--epochs" not in args:
                args += ["--epochs", "2"]
            result = CliRunner().invoke(app, args, env=env)
            assert result.exit_code == 0, f"{line}\n{result.output}"
