"""Every `nncli ...` line of README.md's shell blocks runs, in README order, as a user runs it.

The lines are read from the README itself (so a new example is tested the day it is written):
each fenced `sh`/`bash`/`shell`/`console` block, plus the `$ nncli ...` lines of untagged
transcript blocks. A block that shows a `$` prompt holds commands only on its `$` lines.
`\\` continues a line. Each line runs through `bash -o pipefail -c` with the installed
`nncli` first on PATH and a clean environment (HOME, PATH, NO_COLOR), in one working folder
holding a copy of sample_data/, so pipes, `>` redirections, `VAR=value` prefixes and files an
earlier example wrote (penguins.nncli, prices.nncli, history.csv, ...) work as in a terminal.
A TOML block whose first line names a relative file (`# nncli.toml`) is written there when
the README reaches it.

An example must exit 0, or the code its line announces in a comment (`# exit 5`).

To keep the suite fast (much as the help examples' test does): the copy of stocks.csv keeps
each ticker's newest 300 days, and the environment sets NNCLI_EPOCHS=2, NNCLI_ENSEMBLE=1,
NNCLI_RETRAIN_EVERY=5, NNCLI_TIMEOUT=5 (a search starts no trial after 5 s) and
NNCLI_FINAL_REFIT=never (`train` fits its network once); a line's own flags or `VAR=value`
prefix still win. The lines themselves run exactly as written.

Each line is a real process (about 1-10 s even so): they all run in the slow tier (`make
test`), not in `make test-fast`. The forecasting and tuning examples are slower still; a
quicker example never runs one of them first (it reads no file a slow one writes), so `-k`
can pick out the quick ones.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

README = REPO / "README.md"
NNCLI = shutil.which("nncli", path=str(Path(sys.executable).parent)) or shutil.which("nncli")
SHELL_BLOCKS = {"sh", "bash", "shell", "console"}
POSTGRES_URL = os.environ.get("NNCLI_TEST_POSTGRES_URL", "")
README_POSTGRES = re.compile(r"postgresql://\S+")
# `nncli ...` at the start of a line or of a pipeline's stage, after any `VAR=value` prefixes.
COMMAND = re.compile(r"(?:^|\|\s*)(?:[A-Z_][A-Z0-9_]*=\S*\s+)*nncli\s")
EXPECTED_EXIT = re.compile(r"#.*\bexits? (\d+)\b")
# Fewer epochs, ensemble members and backtest retrainings, searches that stop early, and no
# final refit of a table's network on train+validation.
FAST = {
    "NNCLI_EPOCHS": "2",
    "NNCLI_ENSEMBLE": "1",
    "NNCLI_RETRAIN_EVERY": "5",
    "NNCLI_TIMEOUT": "5",
    "NNCLI_FINAL_REFIT": "never",
}

# Lines that cannot run here, each with its reason (matched by the start of the command).
SKIP = {
    "nncli study list|show|best|export": "a synopsis of the study commands, not one command line",
    "nncli --install-completion": (
        "detects the shell from the process tree, which a test runner does not control; "
        "tests/cli/test_completion.py installs and shows completion for named shells"
    ),
    "nncli --show-completion": "the same shell detection (see the line above)",
    "nncli forecast score out/forecasts.csv data/prices.csv": (
        "the cron job's own folder (/srv/fc: data/prices.csv, out/forecasts.csv); "
        "tests/integration/test_scheduled_job.py runs that job"
    ),
}
# Examples that take more than a few seconds even with the settings above: a quicker example
# never runs one of them first.
SLOW = ("nncli forecast", "nncli tune", "nncli explain prices", "nncli export prices")
# Optional extras an example needs, by a word on its line, and the module that brings it.
EXTRAS = {"--plot": "matplotlib", ".parquet": "pyarrow", ".feather": "pyarrow"}


@dataclass(frozen=True)
class Example:
    """One command line of the README (`line`: where it starts), or a file a block writes."""

    line: int
    command: str
    writes: tuple[str, str] | None = None  # (relative path, text) of a TOML block

    def __str__(self) -> str:
        return f"README.md:{self.line}: {self.words}"

    @property
    def words(self) -> str:
        """The command with its spacing normalised (for matching and messages)."""
        return " ".join(self.command.split())


def readme_examples(text: str) -> list[Example]:
    """The examples of the README, in order."""
    examples: list[Example] = []
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        fence = re.match(r"^\s*```(\S*)\s*$", lines[number])
        number += 1
        if not fence:
            continue
        start = number
        while number < len(lines) and not re.match(r"^\s*```\s*$", lines[number]):
            number += 1
        block, language = lines[start:number], fence.group(1)
        number += 1
        if language == "toml" and block and re.fullmatch(r"#\s*[\w.-]+\.toml", block[0].strip()):
            name = block[0].strip("# ").strip()
            examples.append(Example(start, f"(writes {name})", (name, "\n".join(block) + "\n")))
        prompted = any(b.startswith("$ ") for b in block)
        if language in SHELL_BLOCKS and block and block[0].startswith("#!"):  # a whole script
            examples.append(Example(start + 1, "\n".join(block[1:]).strip()))
        elif language in SHELL_BLOCKS or (not language and prompted):
            examples.extend(_commands(block, start + 1, prompted))
    return examples


def _commands(block: list[str], first: int, prompted: bool) -> list[Example]:
    found = []
    index = 0
    while index < len(block):
        line, where = block[index], first + index
        while line.endswith("\\") and index + 1 < len(block):
            index += 1
            line = line[:-1].rstrip() + " " + block[index].strip()
        index += 1
        if prompted:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        if COMMAND.search(line.strip()):
            found.append(Example(where, line.strip()))
    return found


EXAMPLES = readme_examples(README.read_text(encoding="utf-8"))


def skip_reason(example: Example) -> str | None:
    """Why `example` cannot run here, or None."""
    for start, reason in SKIP.items():
        if example.words.startswith(start):
            return reason
    if README_POSTGRES.search(example.command) and not POSTGRES_URL:
        return "needs a PostgreSQL server: set NNCLI_TEST_POSTGRES_URL to run it"
    for word, module in EXTRAS.items():
        if word in example.command and not _importable(module):
            return f"needs {module} (an optional extra)"
    return None


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _param(example: Example) -> Any:
    return pytest.param(example, id=f"line{example.line}")


class Workspace:
    """The working folder every example runs in, and which examples have run there."""

    def __init__(self, root: Path) -> None:
        import pandas as pd

        self.root = root
        self.home = root / "home"
        self.home.mkdir()
        shutil.copytree(REPO / "sample_data", root / "sample_data")
        prices = root / "sample_data" / "stocks.csv"
        pd.read_csv(prices).groupby("ticker").tail(300).to_csv(prices, index=False)
        self.done: set[Example] = set()

    def run(self, example: Example) -> subprocess.CompletedProcess[str] | None:
        """Run `example` (once); None for a file write or a line that cannot run here."""
        self.done.add(example)
        if example.writes is not None:
            name, text = example.writes
            (self.root / name).write_text(text, encoding="utf-8")
            return None
        if skip_reason(example):
            return None
        assert NNCLI is not None
        command = example.command
        if POSTGRES_URL:
            command = README_POSTGRES.sub(shlex.quote(POSTGRES_URL), command)
        command = self._without_missing_programs(command)
        path = os.pathsep.join([str(Path(NNCLI).parent), os.environ.get("PATH", "/usr/bin:/bin")])
        env = {"PATH": path, "HOME": str(self.home), "NO_COLOR": "1", "COLUMNS": "120", **FAST}
        return subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=600,
        )

    @staticmethod
    def _without_missing_programs(command: str) -> str:
        """`nncli ... | jq ...` without the pipe when jq (or another reader) is not installed."""
        segments = command.split(" | ")
        readers = [segment.split()[0] for segment in segments[1:]]
        if all(shutil.which(reader) for reader in readers):
            return command
        return segments[0]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("readme"))


pytestmark = pytest.mark.skipif(NNCLI is None, reason="the nncli console script is not installed")


def test_the_readme_has_examples_to_run() -> None:
    commands = [example.words for example in EXAMPLES if example.writes is None]
    assert len(commands) >= 30, commands
    assert any(c.startswith("nncli forecast train") for c in commands)
    assert any("|" in c for c in commands) and any(c.startswith("NNCLI_") for c in commands)
    assert any(example.writes for example in EXAMPLES)  # nncli.toml


def test_the_skip_list_names_only_readme_lines() -> None:
    """A skip entry whose line left the README is stale: drop it."""
    for start in SKIP:
        assert any(example.words.startswith(start) for example in EXAMPLES), start


@pytest.mark.slow
@pytest.mark.parametrize("example", [_param(e) for e in EXAMPLES if e.writes is None])
def test_readme_example_runs(example: Example, workspace: Workspace) -> None:
    reason = skip_reason(example)
    if reason:
        pytest.skip(reason)
    slow = example.words.startswith(SLOW)
    for earlier in EXAMPLES[: EXAMPLES.index(example)]:  # they may write files this one reads
        if earlier not in workspace.done and (slow or not earlier.words.startswith(SLOW)):
            workspace.run(earlier)
    started = time.monotonic()
    result = workspace.run(example)
    assert result is not None
    expected = EXPECTED_EXIT.search(example.command)
    code = int(expected.group(1)) if expected else 0
    assert result.returncode == code, (
        f"{example}\nexit {result.returncode} (expected {code}) after "
        f"{time.monotonic() - started:.1f} s\nstdout:\n{result.stdout[-2000:]}\n"
        f"stderr:\n{result.stderr[-2000:]}"
    )
