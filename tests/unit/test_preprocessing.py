"""Preprocessing fitted on training rows: imputation, indicators, scaling, vocabularies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nncli.data.labels import category_strings
from nncli.data.loading import read_csv
from nncli.data.preprocessing import (
    UNKNOWN_INDEX,
    EncodedFeatures,
    Preprocessor,
    fit_preprocessor,
    numeric_values,
    transform,
)
from nncli.data.schema import ColumnKind
from nncli.errors import DataError, ExitCode

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"


@pytest.fixture
def train() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "size": [1.0, np.nan, 3.0, 10.0],
            "colour": ["red", "blue", "red", None],
            "sale": [True, False, True, True],
        }
    )


KINDS = {"size": ColumnKind.NUMERIC, "colour": ColumnKind.CATEGORICAL, "sale": ColumnKind.BOOLEAN}


def test_numeric_spec_uses_median_imputation_and_population_std(train: pd.DataFrame) -> None:
    spec = fit_preprocessor(train, KINDS).numeric[0]

    filled = np.array([1.0, 3.0, 3.0, 10.0])  # the missing value becomes the median, 3
    assert spec.name == "size"
    assert spec.median == 3.0
    assert spec.mean == pytest.approx(filled.mean())  # 4.25
    assert spec.std == pytest.approx(filled.std())
    assert spec.missing_indicator is True


def test_transform_standardises_and_adds_the_missing_indicator(train: pd.DataFrame) -> None:
    preprocessor = fit_preprocessor(train, KINDS)

    encoded = transform(preprocessor, train)

    spec = preprocessor.numeric[0]
    expected = (np.array([1.0, 3.0, 3.0, 10.0]) - 4.25) / spec.std
    assert encoded.numeric.dtype == np.float32
    assert encoded.numeric.shape == (4, 2)
    np.testing.assert_allclose(encoded.numeric[:, 0], expected, rtol=1e-6)
    assert encoded.numeric[:, 1].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert encoded.numeric[:, 0].mean() == pytest.approx(0.0, abs=1e-6)


def test_statistics_come_from_the_training_rows_only() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 1000.0, 2000.0]})
    train_rows = frame.iloc[[0, 1, 2]]

    preprocessor = fit_preprocessor(train_rows, {"x": ColumnKind.NUMERIC})

    spec = preprocessor.numeric[0]
    assert (spec.median, spec.mean) == (2.0, 2.0)
    assert spec.missing_indicator is False
    # Missing values at prediction time still get the training median; no indicator column.
    encoded = transform(preprocessor, pd.DataFrame({"x": [np.nan, 2000.0]}))
    assert encoded.numeric.shape == (2, 1)
    assert encoded.numeric[0, 0] == pytest.approx(0.0)
    assert encoded.numeric[1, 0] == pytest.approx((2000.0 - 2.0) / spec.std)


def test_constant_and_all_missing_columns_do_not_divide_by_zero() -> None:
    frame = pd.DataFrame({"flat": [5.0, 5.0, 5.0], "blank": [np.nan, np.nan, np.nan]})
    kinds = {"flat": ColumnKind.NUMERIC, "blank": ColumnKind.NUMERIC}

    flat, blank = fit_preprocessor(frame, kinds).numeric

    assert (flat.median, flat.mean, flat.std) == (5.0, 5.0, 1.0)
    assert (blank.median, blank.std, blank.missing_indicator) == (0.0, 1.0, True)


def test_penguins_train_rows_median_and_indicators() -> None:
    frame = read_csv(SAMPLE_DATA / "penguins.csv")
    train_rows = frame.iloc[:100]
    kinds = {"bill_length_mm": ColumnKind.NUMERIC, "year": ColumnKind.NUMERIC}

    preprocessor = fit_preprocessor(train_rows, kinds)

    bill, year = preprocessor.numeric
    assert bill.median == float(train_rows["bill_length_mm"].median())
    assert bill.median != float(frame["bill_length_mm"].median())
    assert bill.missing_indicator is True  # row 4 has no measurements
    assert year.missing_indicator is False
    assert preprocessor.n_numeric_features == 3
    encoded = transform(preprocessor, frame.iloc[:5])
    assert encoded.numeric[:, 1].tolist() == [0.0, 0.0, 0.0, 1.0, 0.0]


def test_vocabulary_is_by_frequency_then_value_with_index_zero_unknown() -> None:
    frame = pd.DataFrame({"c": ["b", "a", "c", "a", "c", "d", None]})

    spec = fit_preprocessor(frame, {"c": ColumnKind.CATEGORICAL}).categorical[0]

    assert spec.vocabulary == ["a", "c", "b", "d"]
    assert spec.cardinality == 5
    assert spec.kind == "categorical"
    encoded = transform(Preprocessor(categorical=[spec]), frame)
    assert encoded.categorical[:, 0].tolist() == [3, 1, 2, 1, 2, 4, UNKNOWN_INDEX]
    assert UNKNOWN_INDEX == 0


def test_transform_counts_unseen_categories_but_not_missing_ones(train: pd.DataFrame) -> None:
    preprocessor = fit_preprocessor(train, KINDS)
    new = pd.DataFrame(
        {
            "size": [2.0, 2.0, 2.0],
            "colour": ["green", None, "purple"],
            "sale": [False, True, False],
        }
    )

    encoded = transform(preprocessor, new)

    assert encoded.categorical.dtype == np.int64
    assert encoded.categorical[:, 0].tolist() == [0, 0, 0]
    assert encoded.unknown_counts == {"colour": 2}
    assert encoded.categorical[:, 1].tolist() == [2, 1, 2]  # vocabulary ["true", "false"]


def test_max_categories_sends_rare_values_to_the_unknown_bucket() -> None:
    frame = pd.DataFrame({"c": list("aaabbc")})

    preprocessor = fit_preprocessor(frame, {"c": ColumnKind.CATEGORICAL}, max_categories=2)

    assert preprocessor.categorical[0].vocabulary == ["a", "b"]
    encoded = transform(preprocessor, frame)
    assert encoded.categorical[:, 0].tolist() == [1, 1, 1, 2, 2, 0]
    assert encoded.unknown_counts == {"c": 1}


def test_numeric_values_names_the_column_value_and_first_bad_row() -> None:
    series = pd.Series(["1.5", "2", "n/a?", "oops"])

    with pytest.raises(DataError) as caught:
        numeric_values(series, Path("prices.csv"), "price")

    assert caught.value.exit_code is ExitCode.BAD_DATA
    assert caught.value.message == (
        "prices.csv: column 'price' holds text 'n/a?' at data row 3 (line 4) where numbers "
        "are expected"
    )


@pytest.mark.parametrize("values", [[1.0, 2.0, np.inf], ["1", "2", "-inf"]], ids=["float", "text"])
def test_numeric_values_rejects_infinity_naming_the_row(values: list[object]) -> None:
    with pytest.raises(DataError) as caught:
        numeric_values(pd.Series(values), None, "speed")

    assert caught.value.message == "column 'speed' holds an infinite value at data row 3 (line 4)"
    assert caught.value.hint is not None
    assert "finite number" in caught.value.hint


def test_numeric_values_names_the_file_row_inside_a_row_subset() -> None:
    # Preprocessing is fitted on the training split: a subset that keeps the file's index.
    frame = pd.DataFrame({"x": ["1", "2", "3", "oops", "5", "6"]})

    with pytest.raises(DataError, match=r"'oops' at data row 4 \(line 5\)"):
        numeric_values(frame["x"].iloc[[1, 3, 5]], None, "x")
    with pytest.raises(DataError, match=r"'oops' at data row 4 \(line 5\)"):
        fit_preprocessor(frame.iloc[[0, 3]], {"x": ColumnKind.NUMERIC})


def test_numeric_values_keeps_missing_and_converts_booleans() -> None:
    numbers = numeric_values(pd.Series(["1.5", None, " 2 "]), None, "x")

    assert numbers.dtype == np.float64
    assert numbers.iloc[0] == 1.5
    assert np.isnan(numbers.iloc[1])
    assert numbers.iloc[2] == 2.0
    assert numeric_values(pd.Series([True, False]), None, "b").tolist() == [1.0, 0.0]


def test_category_strings_make_3_and_3_point_0_agree() -> None:
    assert category_strings(pd.Series([3, 4])).tolist() == ["3", "4"]
    floats = category_strings(pd.Series([3.0, np.nan, 2.5]))
    assert floats.iloc[0] == "3"
    assert pd.isna(floats.iloc[1])
    assert floats.iloc[2] == "2.5"
    assert category_strings(pd.Series([" red ", "blue"])).tolist() == ["red", "blue"]
    assert category_strings(pd.Series([True, False])).tolist() == ["true", "false"]


def test_whole_number_categories_match_across_int_and_float_files() -> None:
    # A column of ints in training reads as floats in a file with a blank cell.
    train = pd.DataFrame({"grade": [1, 2, 3, 3]})
    new = pd.DataFrame({"grade": [3.0, np.nan, 1.0]})

    preprocessor = fit_preprocessor(train, {"grade": ColumnKind.CATEGORICAL})
    encoded = transform(preprocessor, new)

    assert preprocessor.categorical[0].vocabulary == ["3", "1", "2"]
    assert encoded.categorical[:, 0].tolist() == [1, 0, 2]
    assert encoded.unknown_counts == {}


def test_booleans_match_whether_or_not_the_file_has_blanks(tmp_path: Path) -> None:
    # True/False with a blank cell reads as object dtype holding Python bools.
    complete = tmp_path / "train.csv"
    complete.write_text("sale,n\nTrue,1\nFalse,2\nTrue,3\n")
    with_blank = tmp_path / "new.csv"
    with_blank.write_text("sale,n\nFalse,1\n,2\nTrue,3\n")
    kinds = {"sale": ColumnKind.BOOLEAN}

    preprocessor = fit_preprocessor(read_csv(complete), kinds)
    encoded = transform(preprocessor, read_csv(with_blank))

    assert preprocessor.categorical[0].vocabulary == ["true", "false"]
    assert category_strings(read_csv(with_blank)["sale"]).tolist()[::2] == ["false", "true"]
    assert encoded.categorical[:, 0].tolist() == [2, 0, 1]
    assert encoded.unknown_counts == {}


def test_one_hot_appends_one_block_per_categorical_column() -> None:
    features = EncodedFeatures(
        numeric=np.array([[0.5], [-1.0]], dtype=np.float32),
        categorical=np.array([[0, 2], [1, 1]], dtype=np.int64),
    )

    matrix = features.one_hot([3, 3])

    assert matrix.dtype == np.float32
    assert matrix.tolist() == [
        [0.5, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        [-1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0],
    ]


def test_preprocessor_round_trips_through_a_plain_dict(train: pd.DataFrame) -> None:
    preprocessor = fit_preprocessor(train, KINDS)

    data = preprocessor.to_dict()

    assert data["categorical"][0] == {
        "name": "colour",
        "kind": "categorical",
        "vocabulary": ["red", "blue"],
    }
    assert Preprocessor.from_dict(data) == preprocessor
    assert preprocessor.input_columns == ["size", "colour", "sale"]
