"""Property-based fuzzing of train and predict with generated tables (hypothesis).

Whatever the columns hold, nncli either succeeds or fails with an NncliError whose exit
code is documented and whose message is one line; predictions have one row per input row.
Bounded to stay fast: ≤ 60 rows, 2 epochs, 8 hidden units, a few dozen examples.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nncli.errors import ExitCode, NncliError
from nncli.tabular.options import TabularOptions
from nncli.tabular.predict import predict_tabular
from nncli.tabular.train import train_tabular
from nncli.training.loop import TrainingConfig
from tests.conftest import Cli

# What bad input may legitimately cause; never UNEXPECTED (1), never a traceback.
INPUT_ERRORS = {ExitCode.USAGE, ExitCode.BAD_DATA, ExitCode.BAD_MODEL}
KINDS = ("numeric", "categorical", "boolean", "text", "constant", "mostly_numeric")
# Category spellings that have bitten CSV tools: separators, quotes, padding, markup, numbers.
LABELS = [
    "red",
    "blue",
    " green ",
    "a,b",
    'say "hi"',
    "ünïcode",
    "[/b]",
    ":smile:",
    "1.0",
    "NA",
    "",
]
WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "again", "today"]

FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,  # the same examples on every run: a seeded, repeatable test
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _column(kind: str, rows: int, rng: np.random.Generator, missing: float) -> pd.Series:
    if kind == "numeric":
        scale = rng.choice([1e-6, 1.0, 1e6, 1e30])
        values: Any = rng.normal(size=rows) * scale
    elif kind == "categorical":
        values = rng.choice(LABELS[: rng.integers(2, len(LABELS) + 1)], size=rows)
    elif kind == "boolean":
        values = rng.choice([["True", "False"], ["yes", "no"], ["0", "1"]][rng.integers(3)], rows)
    elif kind == "text":
        values = [" ".join(rng.choice(WORDS, size=rng.integers(4, 12))) for _ in range(rows)]
    elif kind == "constant":
        values = ["same"] * rows
    else:  # numbers with a stray word: the error must name the column and the row
        values = [f"{v:.3f}" for v in rng.normal(size=rows)]
        values[rng.integers(rows)] = "n/a?"
    series = pd.Series(values, dtype=object)
    series[rng.random(rows) < missing] = None
    return series


@st.composite
def tables(draw: st.DrawFn) -> tuple[pd.DataFrame, str, np.random.Generator]:
    """A small table of random column kinds and missing-value patterns, and its task."""
    # Mostly enough rows to train; sometimes too few, which must be a clean error.
    rows = draw(st.sampled_from([60, 45, 33, 24, 20, 7]))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=4))
    missing = draw(
        st.lists(st.sampled_from([0.0, 0.1, 0.5, 1.0]), min_size=len(kinds), max_size=len(kinds))
    )
    task = draw(st.sampled_from(["classification", "regression"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    frame = pd.DataFrame(
        {
            f"{kind}_{i}": _column(kind, rows, rng, share)
            for i, (kind, share) in enumerate(zip(kinds, missing, strict=True))
        }
    )
    if task == "classification":
        classes = ["p", "q", "r"][: draw(st.sampled_from([2, 3, 1]))]
        target = pd.Series(rng.choice(classes, size=rows), dtype=object)
    else:
        target = pd.Series(rng.normal(10, 3, size=rows))
    target[rng.random(rows) < draw(st.sampled_from([0.0, 0.1]))] = None
    frame["target"] = target
    return frame, task, rng


def _for_prediction(frame: pd.DataFrame, rng: np.random.Generator, change: str) -> pd.DataFrame:
    """The table as a later batch might come: reordered, with new categories, or a column short."""
    new = frame.drop(columns=["target"])
    if change == "shuffled":
        new = new[list(rng.permutation(new.columns))]
    elif change == "unseen":
        for name in new.columns:
            if name.startswith(("categorical", "boolean")):
                new[name] = [f"never-seen-{i}" for i in range(len(new))]
    elif change == "missing_column" and len(new.columns) > 0:
        new = new.drop(columns=[new.columns[0]])
    return new


def _options(task: str) -> TabularOptions:
    return TabularOptions(
        target="target",
        task=task,
        hidden_sizes=[8],
        training=TrainingConfig(epochs=2, patience=2),
    )


@pytest.mark.slow
@FUZZ
@given(table=tables(), change=st.sampled_from(["same", "shuffled", "unseen", "missing_column"]))
def test_library_train_and_predict_fail_only_with_documented_errors(table, change) -> None:
    frame, task, rng = table
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.csv"
        frame.to_csv(path, index=False)
        try:
            model = train_tabular(path, _options(task)).model
        except NncliError as error:
            assert error.exit_code in INPUT_ERRORS and "\n" not in error.one_line()
            assert str(path) in error.one_line()
            event(f"train refused: {error.message.split(': ', 1)[-1][:40]}")
            return
        event("trained")
        batch = _for_prediction(frame, rng, change)
        batch_path = Path(folder) / "batch.csv"
        batch.to_csv(batch_path, index=False)
        try:
            predictions = predict_tabular(model, batch_path, proba=True)
        except NncliError as error:
            assert error.exit_code in INPUT_ERRORS and "\n" not in error.one_line()
            event(f"predict refused: {error.message.split(': ', 1)[-1][:40]}")
            return
        event("predicted")
        assert len(predictions) == len(batch)
        assert predictions["prediction"].notna().all()


@pytest.mark.slow
@settings(FUZZ, max_examples=10)
@given(table=tables())
def test_cli_never_exits_1_nor_prints_a_traceback(table) -> None:
    frame, task, _ = table
    cli = Cli()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.csv"
        frame.to_csv(path, index=False)
        model = Path(folder) / "m.nncli"
        trained = cli(
            "train",
            path,
            "-t",
            "target",
            "--task",
            task,
            "--epochs",
            "2",
            "--hidden",
            "8",
            "--out",
            model,
            code=None,
        )
        _assert_clean(trained)
        if trained.exit_code != 0:
            assert not model.exists()
            return
        predicted = cli("predict", model, path, code=None)
        _assert_clean(predicted)
        if predicted.exit_code == 0:
            assert len(pd.read_csv(pd.io.common.StringIO(predicted.stdout))) == len(frame)


def _assert_clean(result: Any) -> None:
    assert result.exit_code == 0 or result.exit_code in INPUT_ERRORS, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == (0 if result.exit_code == 0 else 1), result.stderr
