"""Shell completion through the installed `nncli`, as a shell would call it (README "Shell completion").

The shell's completion function runs `nncli` with `_NNCLI_COMPLETE` and the words typed so
far in the environment; nncli prints the candidates. `--show-completion SHELL` prints that
function and `--install-completion SHELL` writes it under $HOME. (Outside tests nncli detects
the shell; `_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION` makes the shell an argument.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

NNCLI = shutil.which("nncli", path=str(Path(sys.executable).parent)) or shutil.which("nncli")
pytestmark = pytest.mark.skipif(NNCLI is None, reason="the nncli console script is not installed")
NAME_THE_SHELL = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}


def nncli(*args: str, env: dict[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": os.environ["PATH"], "HOME": str(home), "NO_COLOR": "1"}
    assert NNCLI is not None
    return subprocess.run(
        [NNCLI, *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def complete_bash(words: str, home: Path) -> list[str]:
    """The candidates bash's completion function gets for the words typed so far."""
    typed = words.split(" ")
    env = {
        "_NNCLI_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(typed) - 1),
    }
    result = nncli(env=env, home=home)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.slow
def test_completion_suggests_commands_subcommands_and_flags(tmp_path: Path) -> None:
    assert complete_bash("nncli fore", tmp_path) == ["forecast"]
    assert complete_bash("nncli forecast tr", tmp_path) == ["train"]
    assert set(complete_bash("nncli st", tmp_path)) == {"study"}
    assert "--epochs" in complete_bash("nncli train data.csv --ep", tmp_path)
    assert "--group-col" in complete_bash("nncli forecast train data.csv --gr", tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(
    "shell, mark",
    [
        ("bash", "complete -o default -F _nncli_completion nncli"),
        ("zsh", "compdef _nncli_completion nncli"),
        ("fish", "complete --command nncli"),
    ],
)
def test_show_completion_prints_the_shell_function(shell: str, mark: str, tmp_path: Path) -> None:
    result = nncli("--show-completion", shell, env=NAME_THE_SHELL, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert mark in result.stdout and "_NNCLI_COMPLETE" in result.stdout
    assert not any(tmp_path.iterdir())  # showing writes nothing


def test_show_completion_detects_the_shell_it_runs_in(tmp_path: Path) -> None:
    """`nncli --show-completion` run from bash prints bash's function (README's first form)."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "SHELL": bash}
    result = subprocess.run(
        [bash, "-c", f"'{NNCLI}' --show-completion; true"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert "complete -o default -F _nncli_completion nncli" in result.stdout, result.stderr


@pytest.mark.slow
def test_install_completion_for_bash_keeps_the_bashrc(tmp_path: Path) -> None:
    (tmp_path / ".bashrc").write_text("export KEEP=me\n")
    result = nncli("--install-completion", "bash", env=NAME_THE_SHELL, home=tmp_path)
    assert result.returncode == 0, result.stderr
    script = tmp_path / ".bash_completions" / "nncli.sh"
    assert "_NNCLI_COMPLETE=complete_bash" in script.read_text()
    bashrc = (tmp_path / ".bashrc").read_text()
    assert bashrc.startswith("export KEEP=me\n") and f"source '{script}'" in bashrc
