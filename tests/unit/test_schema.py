"""Column kinds, task inference, target summaries and the warnings of `inspect`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nncli.data.loading import read_csv
from nncli.data.schema import (
    ColumnKind,
    infer_column,
    infer_schema,
    infer_task,
    inspect_table,
    summarize_target,
)
from nncli.errors import DataError

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"
N = 40


@pytest.fixture(scope="module")
def penguins() -> pd.DataFrame:
    return read_csv(SAMPLE_DATA / "penguins.csv")


@pytest.fixture(scope="module")
def autompg() -> pd.DataFrame:
    return read_csv(SAMPLE_DATA / "autompg.csv")


def read_back(tmp_path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as nncli sees it after a round trip through a CSV file."""
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    return read_csv(path)


def kinds_of(frame: pd.DataFrame) -> dict[str, ColumnKind]:
    return {column.name: column.kind for column in infer_schema(frame)}


def test_infers_every_kind_from_a_csv(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = read_back(
        tmp_path,
        pd.DataFrame(
            {
                "reading": rng.normal(size=N),
                "count": rng.permutation(np.arange(100, 100 + N)),
                "row": np.arange(N),
                "user_id": rng.permutation(N),
                "colour": rng.choice(["red", "green", "blue"], N),
                "flag": rng.choice([0, 1], N),
                "answer": rng.choice(["yes", "no"], N),
                "truth": rng.choice([True, False], N),
                "day": pd.date_range("2020-01-01", periods=N).strftime("%Y-%m-%d"),
                "unit": ["kg"] * N,
                "empty": [np.nan] * N,
                "review": [f"this is review number {i} and it says rather a lot" for i in range(N)],
                "sku": [f"SKU{i:05d}" for i in range(N)],
            }
        ),
    )

    assert kinds_of(frame) == {
        "reading": ColumnKind.NUMERIC,
        # unique integers, but shuffled and not named like an ID: a real quantity
        "count": ColumnKind.NUMERIC,
        "row": ColumnKind.ID,
        "user_id": ColumnKind.ID,
        "colour": ColumnKind.CATEGORICAL,
        "flag": ColumnKind.BOOLEAN,
        "answer": ColumnKind.BOOLEAN,
        "truth": ColumnKind.BOOLEAN,
        "day": ColumnKind.DATETIME,
        "unit": ColumnKind.CONSTANT,
        "empty": ColumnKind.CONSTANT,
        "review": ColumnKind.TEXT,
        "sku": ColumnKind.ID,
    }


@pytest.mark.parametrize(
    ("name", "values", "note"),
    [
        ("row", list(range(N)), "unique integers in order"),
        ("user_id", np.random.default_rng(1).permutation(N).tolist(), "unique integers"),
        ("flag", [0, 1] * 20, "0/1"),
        ("unit", ["kg"] * N, "one value"),
        ("empty", [None] * N, "all missing"),
    ],
)
def test_notes_explain_the_kind(name: str, values: list[object], note: str) -> None:
    assert infer_column(name, pd.Series(values)).note == note


def test_ordered_integers_in_a_short_table_are_numeric() -> None:
    assert infer_column("row", pd.Series(range(19))).kind is ColumnKind.NUMERIC
    assert infer_column("row", pd.Series(range(20))).kind is ColumnKind.ID


def test_mostly_numeric_text_is_numeric_with_a_note() -> None:
    series = pd.Series([str(i) for i in range(49)] + ["oops"], dtype="str")

    info = infer_column("price", series)

    assert info.kind is ColumnKind.NUMERIC
    assert info.note == "2% non-numeric values"


def test_column_info_counts_missing_and_unique() -> None:
    info = infer_column("colour", pd.Series(["red", None, "blue", "red", None]))

    assert (info.missing, info.unique, info.example) == (2, 2, "red")
    assert info.to_dict()["kind"] == "categorical"


def test_penguins_kinds_and_missing_counts(penguins: pd.DataFrame) -> None:
    columns = {column.name: column for column in infer_schema(penguins)}

    assert {name: column.kind for name, column in columns.items()} == {
        "species": ColumnKind.CATEGORICAL,
        "island": ColumnKind.CATEGORICAL,
        "bill_length_mm": ColumnKind.NUMERIC,
        "bill_depth_mm": ColumnKind.NUMERIC,
        "flipper_length_mm": ColumnKind.NUMERIC,
        "body_mass_g": ColumnKind.NUMERIC,
        "sex": ColumnKind.CATEGORICAL,
        "year": ColumnKind.NUMERIC,
    }
    assert columns["sex"].missing == 11
    assert columns["bill_length_mm"].missing == 2
    assert columns["island"].unique == 3


@pytest.mark.parametrize(
    ("values", "task", "reason"),
    [
        (["a", "b", "c"] * 10, "classification", "'t' holds labels (3 distinct values)"),
        (
            [1, 2, 3] * 10,
            "classification",
            "'t' holds 3 distinct whole numbers (use --task regression to override)",
        ),
        (
            [1.5, 2.5, 3.5] * 10,
            "regression",
            "'t' is numeric with 3 distinct values (use --task classification to override)",
        ),
        (
            list(range(30)),
            "regression",
            "'t' is numeric with 30 distinct values (use --task classification to override)",
        ),
    ],
    ids=["labels", "few-whole-numbers", "fractions", "many-whole-numbers"],
)
def test_infer_task(values: list[object], task: str, reason: str) -> None:
    choice = infer_task(pd.Series(values), "t")

    assert (choice.task, choice.reason) == (task, reason)


def test_infer_task_on_the_sample_targets(penguins: pd.DataFrame, autompg: pd.DataFrame) -> None:
    assert infer_task(penguins["species"], "species").task == "classification"
    assert infer_task(autompg["mpg"], "mpg").task == "regression"


def test_summarize_classification_target_counts_classes(penguins: pd.DataFrame) -> None:
    summary = summarize_target(penguins, "species")

    assert summary.task.task == "classification"
    assert summary.missing == 0
    assert summary.classes == {"Adelie": 152, "Gentoo": 124, "Chinstrap": 68}
    assert summary.stats == {}


def test_summarize_regression_target_statistics(autompg: pd.DataFrame) -> None:
    summary = summarize_target(autompg, "mpg")

    assert summary.task.task == "regression"
    assert summary.missing == 8
    assert summary.classes == {}
    assert summary.stats["min"] == 9.0
    assert summary.stats["median"] == 23.0
    assert summary.stats["max"] == 46.6
    assert summary.stats["mean"] == pytest.approx(23.5146, abs=1e-4)


def test_summarize_target_honours_a_forced_task(autompg: pd.DataFrame) -> None:
    summary = summarize_target(autompg, "cylinders", task="regression")

    assert summary.task.task == "regression"
    assert summary.task.reason == "--task regression given"
    assert summary.stats["median"] == 4.0


def test_summarize_target_fails_when_all_missing() -> None:
    frame = pd.DataFrame({"y": [np.nan, np.nan], "x": [1, 2]})

    with pytest.raises(DataError, match="target column 'y' has no values"):
        summarize_target(frame, "y")


def test_penguins_report_has_no_warnings(penguins: pd.DataFrame) -> None:
    # Real measurements predict the species well, but none alone is a copy of it.
    report = inspect_table(penguins, SAMPLE_DATA / "penguins.csv", target="species")

    assert report.warnings == []
    assert report.rows == 344
    assert report.to_dict()["target"]["classes"] == {"Adelie": 152, "Gentoo": 124, "Chinstrap": 68}


def test_autompg_report_warns_only_about_the_car_names(autompg: pd.DataFrame) -> None:
    report = inspect_table(autompg, SAMPLE_DATA / "autompg.csv", target="mpg")

    assert report.warnings == [
        "column 'name' is categorical with 311 distinct values; rare values share the unknown "
        "bucket beyond --max-categories"
    ]
    assert report.to_dict()["target"]["task"] == "regression"


def test_leakage_warning_names_a_near_copy_of_a_numeric_target() -> None:
    rng = np.random.default_rng(0)
    price = rng.normal(50, 10, 200)
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=200),
            "region": rng.choice(["north", "south"], 200),
            "price_with_tax": price * 1.2 + rng.normal(0, 0.01, 200),
            "price": price,
        }
    )

    warnings = inspect_table(frame, Path("houses.csv"), target="price").warnings

    leaks = [w for w in warnings if w.startswith("possible leakage")]
    assert len(leaks) == 1
    assert "column 'price_with_tax' alone predicts 'price' with R²" in leaks[0]


def test_leakage_warning_names_a_relabelled_copy_of_the_class() -> None:
    rng = np.random.default_rng(0)
    animal = rng.choice(["cat", "dog", "owl"], 200)
    frame = pd.DataFrame(
        {
            "weight": rng.normal(size=200),
            "animal_code": [{"cat": "C", "dog": "D", "owl": "O"}[a] for a in animal],
            "animal": animal,
        }
    )

    warnings = inspect_table(frame, Path("pets.csv"), target="animal").warnings

    assert [w for w in warnings if "leakage" in w] == [
        "possible leakage: column 'animal_code' alone predicts 'animal' with accuracy 1.000; "
        "drop it (--drop) if it is not known at prediction time"
    ]


def test_warns_about_id_constant_and_mostly_missing_columns() -> None:
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame(
        {
            "order_id": np.arange(n),
            "currency": ["EUR"] * n,
            "coupon": [np.nan] * 80 + list(rng.normal(size=40)),
            "x": rng.normal(size=n),
            "y": rng.choice(["a", "b"], n),
        }
    )

    warnings = inspect_table(frame, Path("orders.csv"), target="y").warnings

    assert (
        "column 'order_id' looks like an ID (unique integers in order); it is not used as a "
        "feature" in warnings
    )
    assert "column 'currency' is constant (one value); it carries no information" in warnings
    assert "column 'coupon' is 67% missing" in warnings
    assert not any("'x'" in w for w in warnings)


def test_warns_about_high_cardinality_categoricals() -> None:
    n = 300
    frame = pd.DataFrame({"city": [f"city{i % 150}" for i in range(n)], "x": np.arange(n) % 7})

    warnings = inspect_table(frame, Path("cities.csv")).warnings

    assert warnings == [
        "column 'city' is categorical with 150 distinct values; rare values share the unknown "
        "bucket beyond --max-categories"
    ]


def test_warns_about_imbalanced_and_tiny_classes() -> None:
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {"x": rng.normal(size=n), "y": ["common"] * 195 + ["rare"] * 3 + ["tiny"] * 2}
    )

    warnings = inspect_table(frame, Path("skewed.csv"), target="y").warnings

    assert (
        "target 'y' is imbalanced: the majority class is 98% of rows (consider --class-weights)"
        in warnings
    )
    assert "target 'y' has a class with only 2 row(s)" in warnings


def test_warns_about_a_single_class_target() -> None:
    frame = pd.DataFrame({"x": np.arange(150) % 9, "y": ["only"] * 150})

    warnings = inspect_table(frame, Path("one.csv"), target="y").warnings

    assert "target 'y' has a single class; nothing to classify" in warnings
    assert not any("leakage" in w for w in warnings)
