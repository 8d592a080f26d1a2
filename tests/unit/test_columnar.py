"""Parquet and Feather in (the frame read_csv gives for the same table) and Parquet out."""

from __future__ import annotations

import datetime
import decimal
import io
from pathlib import Path

import pandas as pd
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
feather = pytest.importorskip("pyarrow.feather")

from nncli.data.columnar import is_columnar, read_columnar, write_parquet  # noqa: E402
from nncli.data.labels import labels_as_written  # noqa: E402
from nncli.data.loading import CsvOptions, read_csv  # noqa: E402
from nncli.errors import DataError, ExitCode  # noqa: E402
from nncli.forecasting.series import PanelSpec, load_panel  # noqa: E402
from nncli.reporting import CollectingReporter  # noqa: E402
from tests.conftest import SAMPLE_DATA  # noqa: E402


def copies(tmp_path: Path, frame: pd.DataFrame, stem: str = "table") -> dict[str, Path]:
    """The frame as a CSV, a Parquet and a Feather file, as pandas writes them."""
    paths = {kind: tmp_path / f"{stem}.{kind}" for kind in ("csv", "parquet", "feather")}
    frame.to_csv(paths["csv"], index=False)
    frame.to_parquet(paths["parquet"], index=False)
    frame.reset_index(drop=True).to_feather(paths["feather"])
    return paths


def one_line_error(path: Path) -> DataError:
    with pytest.raises(DataError) as caught:
        read_csv(path)
    error = caught.value
    assert error.exit_code == ExitCode.BAD_DATA
    assert "\n" not in error.one_line() and str(path) in error.one_line()
    return error


@pytest.mark.parametrize("name", ["penguins", "autompg", "stocks"])
def test_sample_tables_read_as_the_same_frame_as_their_csv(tmp_path: Path, name: str) -> None:
    original = read_csv(SAMPLE_DATA / f"{name}.csv")
    paths = copies(tmp_path, original, name)
    for kind in ("parquet", "feather"):
        pd.testing.assert_frame_equal(read_csv(paths[kind]), original)


def test_the_bytes_decide_and_a_name_that_lies_is_refused(tmp_path: Path) -> None:
    paths = copies(tmp_path, pd.DataFrame({"a": [1, 2]}))
    assert is_columnar(paths["parquet"]) == "parquet"
    assert is_columnar(paths["feather"]) == "feather"
    assert is_columnar(paths["csv"]) is None
    disguised = tmp_path / "export.csv"  # Parquet bytes under a CSV name
    disguised.write_bytes(paths["parquet"].read_bytes())
    reporter = CollectingReporter()
    assert read_csv(disguised, reporter=reporter)["a"].tolist() == [1, 2]
    assert any("a Parquet file (by its first bytes)" in note for note in reporter.notes)
    text_named_parquet = tmp_path / "wrong.parquet"
    text_named_parquet.write_text("a,b\n1,2\n")
    error = one_line_error(text_named_parquet)
    assert "named .parquet but not a Parquet file" in error.message


def test_arrow_types_become_what_the_csv_reader_gives(tmp_path: Path) -> None:
    stamps = [datetime.datetime(2024, 1, 1, 9, 30), None, datetime.datetime(2024, 1, 3)]
    table = pa.table(
        {
            "small": pa.array([1, 2, 3], pa.int8()),
            "holes": pa.array([1, None, 3], pa.int32()),
            "single": pa.array([0.5, 1.25, None], pa.float32()),
            "money": pa.array([decimal.Decimal("1.50"), None, decimal.Decimal("2")]),
            "level": pa.array(["low", "high", None]).dictionary_encode(),
            "when": pa.array(stamps, pa.timestamp("us")),
            "day": pa.array([datetime.date(2024, 1, d) for d in (1, 2, 3)], pa.date32()),
            "utc": pa.array(stamps, pa.timestamp("s", tz="UTC")),
            "flag": pa.array([True, False, True]),
            "empty": pa.array([None, None, None], pa.null()),
            "name": pa.array(["x", None, "z"], pa.large_string()),
        }
    )
    parquet = tmp_path / "typed.parquet"
    pq.write_table(table, parquet)
    csv = tmp_path / "typed.csv"
    table.to_pandas().to_csv(csv, index=False)  # what an export of the same table holds
    frame = read_csv(parquet)
    expected = read_csv(csv)
    pd.testing.assert_frame_equal(frame, expected)
    assert str(frame["small"].dtype) == "int64" and str(frame["single"].dtype) == "float64"
    assert frame["when"].tolist()[0] == "2024-01-01 09:30:00" and pd.isna(frame["when"][1])


def test_a_pandas_index_is_a_column_when_named_and_dropped_when_not(tmp_path: Path) -> None:
    frame = pd.DataFrame({"ticker": ["A", "B"], "close": [1.0, 2.0]})
    named, unnamed = tmp_path / "named.parquet", tmp_path / "unnamed.parquet"
    frame.set_index("ticker").to_parquet(named)
    frame.set_index(pd.Index([10, 20])).to_parquet(unnamed)
    assert list(read_csv(named).columns) == ["ticker", "close"]
    read = read_csv(unnamed)
    assert list(read.columns) == ["ticker", "close"] and list(read.index) == [0, 1]


def test_column_names_are_stripped_and_duplicates_refused(tmp_path: Path) -> None:
    path = tmp_path / "names.parquet"
    pq.write_table(pa.table({" a ": [1], "b": [2]}), path)
    assert list(read_csv(path).columns) == ["a", "b"]
    pq.write_table(pa.table([pa.array([1]), pa.array([2])], names=["x", " x"]), path)
    assert "duplicated column name(s) 'x'" in one_line_error(path).message


def test_nested_columns_are_refused_naming_the_column(tmp_path: Path) -> None:
    path = tmp_path / "nested.feather"
    feather.write_feather(pa.table({"a": [1, 2], "tags": [[1], [2, 3]]}), path)
    error = one_line_error(path)
    assert "column 'tags' holds list<" in error.message and "drop the column" in error.one_line()


@pytest.mark.parametrize("kind", ["parquet", "feather"])
def test_a_damaged_or_truncated_file_is_one_line(tmp_path: Path, kind: str) -> None:
    paths = copies(tmp_path, pd.DataFrame({"a": range(1000), "b": [0.5] * 1000}))
    whole = paths[kind].read_bytes()
    cut = tmp_path / f"cut.{kind}"
    cut.write_bytes(whole[: len(whole) // 2])
    error = one_line_error(cut)
    assert error.message.startswith(f"{cut}: cannot read the ")
    assert "damaged or cut short" in error.one_line()
    scrambled = tmp_path / f"scrambled.{kind}"
    scrambled.write_bytes(whole[:8] + bytes(len(whole) - 16) + whole[-8:])
    one_line_error(scrambled)


def test_na_values_apply_to_text_and_numbers(tmp_path: Path) -> None:
    path = tmp_path / "na.parquet"
    pd.DataFrame({"city": ["Oslo", "unknown", "Rome"], "v": [1.0, -999.0, 3.0]}).to_parquet(path)
    frame = read_csv(path, CsvOptions(na_values=["unknown", "-999"]))
    assert frame["city"].isna().tolist() == [False, True, False]
    assert frame["v"].isna().tolist() == [False, True, False]


def test_csv_only_options_are_ignored_with_a_note(tmp_path: Path) -> None:
    path = copies(tmp_path, pd.DataFrame({"a": [1.5, 2.5]}))["parquet"]
    reporter = CollectingReporter()
    frame = read_csv(path, CsvOptions(sep=";", decimal=",", encoding="latin-1"), reporter=reporter)
    assert frame["a"].tolist() == [1.5, 2.5]
    assert any(
        "a Parquet file; ignoring the CSV-only option(s) --sep, --decimal, --encoding" in note
        for note in reporter.notes
    )


def test_labels_are_spelled_as_a_csv_export_spells_them(tmp_path: Path) -> None:
    frame = pd.DataFrame({"ok": [True, False, True], "grade": [1.0, 2.0, None]})
    path = copies(tmp_path, frame)["parquet"]
    read = read_csv(path)
    assert labels_as_written(read["ok"], path).tolist() == ["True", "False", "True"]
    assert labels_as_written(read["grade"], path).tolist() == ["1.0", "2.0", None]


def test_write_parquet_round_trips_to_a_path_and_a_stream(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"id": ["a", "b", None], "p": [0.25, 0.5, 1.0], "n": [1, 2, 3], "ok": [True, False, True]}
    )
    target = tmp_path / "out.parquet"
    write_parquet(frame.set_index(pd.Index([7, 8, 9])), target)
    pd.testing.assert_frame_equal(read_columnar(target), frame)
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]  # no temporary file left
    stream = io.BytesIO()
    write_parquet(frame, stream)
    pd.testing.assert_frame_equal(pq.read_table(io.BytesIO(stream.getvalue())).to_pandas(), frame)


def test_write_parquet_writes_a_column_of_numbers_and_words_as_text(tmp_path: Path) -> None:
    target = tmp_path / "mixed.parquet"
    write_parquet(pd.DataFrame({"id": pd.Series([1, "b", None], dtype=object)}), target)
    assert read_columnar(target)["id"].tolist()[:2] == ["1", "b"]


def test_a_series_file_in_parquet_has_no_unfinished_last_line(tmp_path: Path) -> None:
    stocks = read_csv(SAMPLE_DATA / "stocks.csv")
    paths = copies(tmp_path, stocks, "stocks")
    spec = PanelSpec("date", "close", "ticker", [], wide=False)
    from_csv = load_panel(paths["csv"], spec, partial_last_row="error")
    stamped = tmp_path / "stamped.feather"  # the time column as Arrow timestamps, not text
    stocks.assign(date=pd.to_datetime(stocks["date"])).to_feather(stamped)
    for path in (paths["parquet"], stamped):
        ours = load_panel(path, spec, partial_last_row="error")
        assert [s.name for s in ours] == [s.name for s in from_csv]
        for mine, theirs in zip(ours, from_csv, strict=True):
            assert (mine.levels == theirs.levels).all()
            assert (mine.timestamps == theirs.timestamps).all()
