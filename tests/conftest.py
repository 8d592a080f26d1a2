"""Shared fixtures: the sample data, a CLI runner with a pinned terminal, small trained models."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nncli.cli import app

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DATA = REPO / "sample_data"
# Small, fast settings for tests that only need *a* trained model: no final refit on
# train+validation (it trains the network twice; tests of the refit ask for it themselves).
FAST = ["--epochs", "40", "--hidden", "32,16", "--patience", "10", "--final-refit", "never"]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No NNCLI_* variable from the developer's shell leaks into a test; a fixed terminal width."""
    for name in list(os.environ):
        if name.startswith("NNCLI_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.delenv("FORCE_COLOR", raising=False)


@pytest.fixture(scope="session")
def sample_data() -> Path:
    return SAMPLE_DATA


class Cli:
    """Runs nncli in-process through Typer's CliRunner, with separate stdout and stderr."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: Any, env: dict[str, str] | None = None, code: int | None = 0) -> Any:
        result = self.runner.invoke(app, [str(a) for a in args], env=env)
        if code is not None and result.exit_code != code:
            raise AssertionError(
                f"exit {result.exit_code} != {code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            ) from result.exception
        return result

    def json(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        result = self(*args, "--json", **kwargs)
        return json.loads(result.stdout)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture(scope="session")
def penguins_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small classifier trained once for the whole session."""
    path = tmp_path_factory.mktemp("models") / "penguins.nncli"
    Cli()("train", SAMPLE_DATA / "penguins.csv", "--target", "species", "--out", path, *FAST)
    return path


@pytest.fixture(scope="session")
def autompg_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small regressor trained once for the whole session."""
    path = tmp_path_factory.mktemp("models") / "autompg.nncli"
    Cli()(
        "train",
        SAMPLE_DATA / "autompg.csv",
        "--target",
        "mpg",
        "--drop",
        "name",
        "--out",
        path,
        *FAST,
    )
    return path
