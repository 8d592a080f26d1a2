"""Each warning once, with the numbers of the step it is about; inspect and train agree."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd


def small_penguins(tmp_path: Path) -> Path:
    """80 penguins (three species, a few hundred training rows short of the network's size)."""
    frame = pd.read_csv(Path(__file__).resolve().parents[2] / "sample_data" / "penguins.csv")
    path = tmp_path / "small.csv"
    frame.sample(80, random_state=0).to_csv(path, index=False)
    return path


def warnings_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def test_train_with_its_final_refit_says_each_warning_once(cli, tmp_path: Path) -> None:
    path = small_penguins(tmp_path)
    result = cli("train", path, "-t", "species", "--epochs", "3", "-o", tmp_path / "m.nncli")
    warnings = warnings_in(result.stderr)
    assert warnings, result.stderr
    assert all(count == 1 for count in Counter(warnings).values()), warnings
    assert "retraining on train+validation" in result.stderr  # the refit ran, and was quiet
    size = [w for w in warnings if "training rows for" in w]
    assert len(size) == 1 and size[0].startswith("warning: only 56 training rows for ")


def test_inspect_counts_the_network_train_builds(cli, tmp_path: Path) -> None:
    path = small_penguins(tmp_path)
    trained = cli("train", path, "-t", "species", "--epochs", "1", "--final-refit", "never")
    inspected = cli.json("inspect", path, "--target", "species")
    train_size = [w for w in warnings_in(trained.stderr) if "training rows for" in w]
    inspect_size = [w for w in inspected["warnings"] if "training rows for" in w]
    assert train_size == [f"warning: {inspect_size[0]}"]
