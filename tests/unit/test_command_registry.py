"""The lazy command registry: `nncli CMD` imports only CMD's module, and nothing goes missing."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from nncli.cli import app
from nncli.cli.root import COMMAND_MODULES

# Prints the help of the command in argv after registering only that command, as `main` does,
# then the nncli.cli modules that were imported.
ONLY_THIS_COMMAND = """
import sys
import typer
from nncli.cli.root import register
words = sys.argv[1:]
group = typer.main.get_command(register(words[0]))
code = group.main(args=[*words, "--help"], prog_name="nncli", standalone_mode=False)
print("MODULES " + ",".join(sorted(m for m in sys.modules if m.startswith("nncli.cli."))))
"""


def help_with_only(words: list[str]) -> tuple[str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", ONLY_THIS_COMMAND, *words],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "120", "TERMINAL_WIDTH": "120", "NO_COLOR": "1", "PATH": ""},
    )
    page, _, modules = done.stdout.rpartition("MODULES ")
    return page, set(modules.strip().split(","))


def full_help(words: list[str]) -> str:
    from typer.testing import CliRunner

    env = {"COLUMNS": "120", "TERMINAL_WIDTH": "120", "NO_COLOR": "1"}
    result = CliRunner().invoke(app, [*words, "--help"], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_registry_names_every_top_level_command() -> None:
    commands = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert commands == set(COMMAND_MODULES)


@pytest.mark.slow
@pytest.mark.parametrize("words", [["predict"], ["forecast"], ["study"], ["tune"], ["demo"]])
def test_registering_one_command_shows_the_same_help_as_the_full_app(words: list[str]) -> None:
    """`nncli forecast --help` from the lazy path lists run, score and tune (other modules)."""
    page, _ = help_with_only(words)
    assert page == full_help(words)


def test_predict_imports_no_other_command_module() -> None:
    _, modules = help_with_only(["predict"])
    assert "nncli.cli.tabular" in modules
    others = {"forecast", "tune", "schedule", "demo", "explain", "export"}
    assert not {f"nncli.cli.{name}" for name in others} & modules


def test_the_root_page_lists_the_same_commands_without_importing_them() -> None:
    """`nncli --help` renders from COMMAND_SUMMARIES (start-up time): same page as the full
    app's, and no command module imported."""
    code = (
        "import sys; sys.argv = ['nncli', '--help']\n"
        "from nncli.cli.root import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('MODULES ' + ','.join(sorted(m for m in sys.modules if m.startswith('nncli.cli.'))))"
    )
    env = {"COLUMNS": "120", "TERMINAL_WIDTH": "120", "NO_COLOR": "1", "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    page, _, modules = done.stdout.rpartition("MODULES ")
    assert page == full_help([])
    assert set(modules.strip().split(",")) == {"nncli.cli.options", "nncli.cli.root"}


def test_nncli_alone_shows_the_page_without_an_empty_error_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nncli"], capture_output=True, text=True, env={"PATH": ""}
    )
    assert done.returncode == 2
    assert "Commands" in done.stdout
    assert "error" not in done.stderr
