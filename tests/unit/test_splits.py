"""split_rows: stratified, random, time-ordered and column-given splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nncli.data.loading import read_csv
from nncli.data.splits import Split, split_rows
from nncli.errors import DataError, ExitCode, UsageError

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"


@pytest.fixture
def labelled() -> pd.DataFrame:
    """100 rows, classes a/b/c in proportions 60/30/10, interleaved."""
    labels = np.array(["a"] * 60 + ["b"] * 30 + ["c"] * 10)
    return pd.DataFrame({"x": np.arange(100), "y": np.random.default_rng(3).permutation(labels)})


def assert_partition(split: Split, n_rows: int) -> None:
    """The three parts are sorted, disjoint and cover every row exactly once."""
    everything = np.concatenate([split.train, split.valid, split.test])
    assert sorted(everything.tolist()) == list(range(n_rows))


def class_counts(frame: pd.DataFrame, rows: np.ndarray) -> dict[str, int]:
    return frame["y"].iloc[rows].value_counts().to_dict()


def test_stratified_split_keeps_class_proportions_in_every_part(labelled: pd.DataFrame) -> None:
    split = split_rows(
        labelled, method="stratified", seed=0, valid_size=0.2, test_size=0.2, labels=labelled["y"]
    )

    assert split.method == "stratified"
    assert_partition(split, 100)
    assert class_counts(labelled, split.train) == {"a": 36, "b": 18, "c": 6}
    assert class_counts(labelled, split.valid) == {"a": 12, "b": 6, "c": 2}
    assert class_counts(labelled, split.test) == {"a": 12, "b": 6, "c": 2}
    for part in (split.train, split.valid, split.test):
        assert part.tolist() == sorted(part.tolist())


def test_auto_stratifies_when_labels_are_given_and_shuffles_otherwise(
    labelled: pd.DataFrame,
) -> None:
    with_labels = split_rows(
        labelled, method="auto", seed=0, valid_size=0.2, test_size=0.2, labels=labelled["y"]
    )
    without = split_rows(labelled, method="auto", seed=0, valid_size=0.2, test_size=0.2)

    assert with_labels.method == "stratified"
    assert without.method == "random"


def test_split_is_reproducible_for_a_seed_and_changes_with_it(labelled: pd.DataFrame) -> None:
    def run(seed: int) -> Split:
        return split_rows(
            labelled,
            method="stratified",
            seed=seed,
            valid_size=0.2,
            test_size=0.2,
            labels=labelled["y"],
        )

    first, again, other = run(7), run(7), run(8)

    for name in ("train", "valid", "test"):
        assert getattr(first, name).tolist() == getattr(again, name).tolist()
    assert first.test.tolist() != other.test.tolist()


def test_random_split_sizes_and_coverage() -> None:
    frame = pd.DataFrame({"x": np.arange(200)})

    split = split_rows(frame, method="random", seed=1, valid_size=0.15, test_size=0.25)

    assert split.method == "random"
    assert (len(split.train), len(split.valid), len(split.test)) == (120, 30, 50)
    assert_partition(split, 200)
    # Shuffled, not the first rows: the test part reaches into the whole table.
    assert split.test.min() < 50
    assert split.test.max() > 150


def test_random_ignores_labels(labelled: pd.DataFrame) -> None:
    rare = labelled.assign(y=["only_one"] + ["a"] * 99)

    split = split_rows(
        rare, method="random", seed=0, valid_size=0.2, test_size=0.2, labels=rare["y"]
    )

    assert split.method == "random"
    assert_partition(split, 100)


def test_stratified_split_of_penguins_keeps_species_shares() -> None:
    frame = read_csv(SAMPLE_DATA / "penguins.csv")

    split = split_rows(
        frame, method="auto", seed=0, valid_size=0.15, test_size=0.15, labels=frame["species"]
    )

    assert_partition(split, 344)
    shares = frame["species"].value_counts(normalize=True)
    for part in (split.train, split.valid, split.test):
        part_shares = frame["species"].iloc[part].value_counts(normalize=True)
        for species in ("Adelie", "Gentoo", "Chinstrap"):
            assert part_shares[species] == pytest.approx(shares[species], abs=0.02)


def test_class_with_fewer_than_three_rows_asks_for_a_random_split() -> None:
    frame = pd.DataFrame({"y": ["a"] * 20 + ["b"] * 20 + ["rare"] * 2})

    with pytest.raises(DataError) as caught:
        split_rows(frame, method="auto", seed=0, valid_size=0.2, test_size=0.2, labels=frame["y"])

    error = caught.value
    assert error.exit_code is ExitCode.BAD_DATA
    assert error.message == (
        "class 'rare' has only 2 row(s); a stratified split needs at least 3 per class"
    )
    assert error.hint is not None
    assert "--split random" in error.hint


def test_time_split_keeps_the_oldest_rows_for_training() -> None:
    days = pd.date_range("2021-01-01", periods=10).strftime("%Y-%m-%d")
    # Newest first in the file; the split must follow the dates, not the file order.
    frame = pd.DataFrame({"day": days[::-1], "x": np.arange(10)})

    split = split_rows(frame, method="time", seed=0, valid_size=0.2, test_size=0.2, time_col="day")

    assert split.method == "time"
    assert split.train.tolist() == [9, 8, 7, 6, 5, 4]
    assert split.valid.tolist() == [3, 2]
    assert split.test.tolist() == [1, 0]
    stamps = pd.to_datetime(frame["day"])
    assert stamps.iloc[split.train].max() < stamps.iloc[split.valid].min()
    assert stamps.iloc[split.valid].max() < stamps.iloc[split.test].min()


def test_time_split_without_a_column_uses_file_order() -> None:
    frame = pd.DataFrame({"x": np.arange(20)})

    split = split_rows(frame, method="time", seed=0, valid_size=0.1, test_size=0.25)

    assert split.train.tolist() == list(range(13))
    assert split.valid.tolist() == [13, 14]
    assert split.test.tolist() == list(range(15, 20))


def test_time_split_rejects_unparseable_dates() -> None:
    frame = pd.DataFrame({"day": ["2021-01-01", "someday", "2021-01-03", "2021-01-04"]})

    with pytest.raises(DataError, match="time column 'day' has missing or unparseable values"):
        split_rows(frame, method="time", seed=0, valid_size=0.2, test_size=0.2, time_col="day")


def test_time_split_of_too_few_rows_fails_instead_of_training_on_nothing() -> None:
    frame = pd.DataFrame({"x": [1, 2]})

    with pytest.raises(DataError, match="cannot split 2 rows by time"):
        split_rows(frame, method="time", seed=0, valid_size=0.2, test_size=0.2)
    three = split_rows(
        pd.DataFrame({"x": [1, 2, 3]}), method="time", seed=0, valid_size=0.2, test_size=0.2
    )
    assert (three.train.tolist(), three.valid.tolist(), three.test.tolist()) == ([0], [1], [2])


def test_column_split_reads_labels_and_their_spellings() -> None:
    frame = pd.DataFrame(
        {"part": ["train", "Valid", " TEST ", "training", "val", "testing", "validation"]}
    )

    split = split_rows(
        frame, method="column", seed=0, valid_size=0.2, test_size=0.2, split_col="part"
    )

    assert split.method == "column"
    assert split.train.tolist() == [0, 3]
    assert split.valid.tolist() == [1, 4, 6]
    assert split.test.tolist() == [2, 5]


def test_split_col_alone_selects_the_column_split() -> None:
    frame = pd.DataFrame({"part": ["train", "valid", "test"]})

    split = split_rows(
        frame, method="auto", seed=0, valid_size=0.2, test_size=0.2, split_col="part"
    )

    assert split.method == "column"


def test_column_split_rejects_other_labels_naming_the_value() -> None:
    frame = pd.DataFrame({"part": ["train", "valid", "holdout", "test"]})

    with pytest.raises(DataError) as caught:
        split_rows(frame, method="column", seed=0, valid_size=0.2, test_size=0.2, split_col="part")

    assert caught.value.message == "split column 'part' holds 'holdout' at data row 3 (line 4)"
    assert caught.value.hint == "use train, valid or test in every row"


def test_column_split_needs_every_part() -> None:
    frame = pd.DataFrame({"part": ["train", "train", "test"]})

    with pytest.raises(DataError, match="split column 'part' has no 'valid' rows"):
        split_rows(frame, method="column", seed=0, valid_size=0.2, test_size=0.2, split_col="part")


def test_column_method_without_a_column_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--split column needs --split-col NAME"):
        split_rows(pd.DataFrame({"x": [1]}), method="column", seed=0, valid_size=0.2, test_size=0.2)


@pytest.mark.parametrize(
    ("valid_size", "test_size"), [(0.0, 0.2), (0.2, 1.0), (0.5, 0.45), (-0.1, 0.2)]
)
def test_sizes_must_leave_rows_to_train(valid_size: float, test_size: float) -> None:
    with pytest.raises(UsageError) as caught:
        split_rows(
            pd.DataFrame({"x": range(50)}),
            method="random",
            seed=0,
            valid_size=valid_size,
            test_size=test_size,
        )

    assert caught.value.exit_code is ExitCode.USAGE
    assert "leave 10% to train" in caught.value.message


@pytest.mark.parametrize("seed", range(5))
def test_stratified_part_sizes_are_exact_and_each_class_gets_its_rounded_share(seed: int) -> None:
    import math

    rng = np.random.default_rng(seed)
    labels = pd.Series(rng.choice(["a", "b", "c", "d"], size=257, p=[0.6, 0.25, 0.1, 0.05]))
    frame = pd.DataFrame({"y": labels})
    split = split_rows(
        frame, method="stratified", seed=seed, valid_size=0.15, test_size=0.2, labels=labels
    )
    assert len(split.test) == math.ceil(0.2 * 257)
    assert sorted(np.concatenate([split.train, split.valid, split.test])) == list(range(257))
    for label, count in labels.value_counts().items():
        share = count * len(split.test) / 257
        in_test = int((labels.iloc[split.test] == label).sum())
        assert math.floor(share) <= in_test <= math.ceil(share), label


@pytest.mark.slow
def test_splitting_does_not_import_scikit_learn() -> None:
    import subprocess
    import sys

    code = (
        "import sys, pandas as pd\n"
        "from nncli.data.splits import split_rows\n"
        "frame = pd.DataFrame({'y': list('ab') * 20})\n"
        "split_rows(frame, method='stratified', seed=0, valid_size=0.2, test_size=0.2,"
        " labels=frame['y'])\n"
        "print('sklearn' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
