"""read_csv, require_rows and require_columns: what is read, and the one-line errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from nncli.data.loading import CsvOptions, read_csv, require_columns, require_rows, sniff_separator
from nncli.errors import DataError, ExitCode
from nncli.reporting import CollectingReporter

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"


def write_bytes(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def write_text(tmp_path: Path, name: str, text: str) -> Path:
    return write_bytes(tmp_path, name, text.encode("utf-8"))


def data_error(path: Path, options: CsvOptions | None = None) -> DataError:
    """The DataError read_csv raises, after checking it is one line with the data exit code."""
    with pytest.raises(DataError) as caught:
        read_csv(path, options)
    error = caught.value
    assert error.exit_code is ExitCode.BAD_DATA
    assert "\n" not in error.one_line()
    assert error.message.startswith(f"{path}: ")
    return error


def test_reads_penguins_with_its_missing_values() -> None:
    frame = read_csv(SAMPLE_DATA / "penguins.csv")

    assert frame.shape == (344, 8)
    assert list(frame.columns) == [
        "species",
        "island",
        "bill_length_mm",
        "bill_depth_mm",
        "flipper_length_mm",
        "body_mass_g",
        "sex",
        "year",
    ]
    assert frame["bill_length_mm"].isna().sum() == 2
    assert frame["sex"].isna().sum() == 11
    assert frame["bill_length_mm"].iloc[0] == pytest.approx(39.1)


def test_reads_autompg_target_as_numbers() -> None:
    frame = read_csv(SAMPLE_DATA / "autompg.csv")

    assert frame.shape == (406, 9)
    assert pd.api.types.is_float_dtype(frame["mpg"])
    assert frame["mpg"].isna().sum() == 8


@pytest.mark.parametrize(
    ("text", "sep"),
    [
        ("a;b;c\n1;2;3\n4;5;6\n", ";"),
        ("a\tb\tc\n1\t2\t3\n4\t5\t6\n", "\t"),
        ("a|b|c\n1|2|3\n4|5|6\n", "|"),
    ],
)
def test_sniffs_the_separator_and_says_so(tmp_path: Path, text: str, sep: str) -> None:
    path = write_text(tmp_path, "data.csv", text)
    reporter = CollectingReporter()

    frame = read_csv(path, reporter=reporter)

    assert list(frame.columns) == ["a", "b", "c"]
    assert frame.to_numpy().tolist() == [[1, 2, 3], [4, 5, 6]]
    assert reporter.notes == [
        f"{path}: reading with separator {sep!r} (sniffed; override with --sep)"
    ]


def test_comma_files_are_read_without_a_note(tmp_path: Path) -> None:
    path = write_text(tmp_path, "data.csv", "a,b\n1,2\n")
    reporter = CollectingReporter()

    frame = read_csv(path, reporter=reporter)

    assert frame.to_numpy().tolist() == [[1, 2]]
    assert reporter.notes == []


def test_sniff_separator_prefers_the_comma_on_ties() -> None:
    assert sniff_separator("a;b,c\n") == ","
    assert sniff_separator("a;b;c,d\n") == ";"
    assert sniff_separator("") == ","


def test_explicit_separator_is_used_as_given(tmp_path: Path) -> None:
    # Sniffing would pick ',' (two fields); the user says the file is ';'-separated.
    path = write_text(tmp_path, "data.csv", "name;price\nx,y;1,5\n")

    frame = read_csv(path, CsvOptions(sep=";"))

    assert list(frame.columns) == ["name", "price"]
    assert frame.to_numpy().tolist() == [["x,y", "1,5"]]


def test_comma_forced_on_a_semicolon_file_asks_for_sep(tmp_path: Path) -> None:
    path = write_text(tmp_path, "data.csv", "a;b\n1;2\n")

    error = data_error(path, CsvOptions(sep=","))

    assert "only one column found" in error.message
    assert error.hint is not None
    assert "--sep" in error.hint


def test_reads_gzipped_csv_and_sniffs_inside_it(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "data.csv.gz", gzip.compress(b"a;b\n1;2\n3;4\n"))

    frame = read_csv(path)

    assert list(frame.columns) == ["a", "b"]
    assert frame.to_numpy().tolist() == [[1, 2], [3, 4]]


def test_corrupt_gzip_is_a_data_error(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "data.csv.gz", b"this is not gzip data\n")

    error = data_error(path)

    assert "cannot read the file" in error.message


def test_strips_utf8_bom_from_the_first_column_name(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "data.csv", b"\xef\xbb\xbfid,value\n1,2\n")

    frame = read_csv(path)

    assert list(frame.columns) == ["id", "value"]


def test_bom_does_not_hide_a_duplicated_first_column(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "data.csv", b"\xef\xbb\xbfid,value,id\n1,2,3\n")

    error = data_error(path)

    assert "duplicated column name(s) 'id'" in error.message


def test_strips_spaces_around_column_names(tmp_path: Path) -> None:
    path = write_text(tmp_path, "data.csv", " a , b\n1,2\n")

    assert list(read_csv(path).columns) == ["a", "b"]


def test_missing_file(tmp_path: Path) -> None:
    error = data_error(tmp_path / "nope.csv")

    assert "no such data file" in error.message


def test_directory_instead_of_a_file(tmp_path: Path) -> None:
    error = data_error(tmp_path)

    assert "is a directory" in error.message


@pytest.mark.parametrize("content", [b"", b"\n\n   \n"], ids=["zero-bytes", "blank-lines"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    error = data_error(write_bytes(tmp_path, "empty.csv", content))

    assert "the file is empty" in error.message


def test_header_only_file_reads_but_fails_require_rows(tmp_path: Path) -> None:
    path = write_text(tmp_path, "header.csv", "a,b\n")
    frame = read_csv(path)
    assert list(frame.columns) == ["a", "b"]
    assert len(frame) == 0

    with pytest.raises(DataError, match="the file has a header but no data rows") as caught:
        require_rows(frame, path)
    assert caught.value.exit_code is ExitCode.BAD_DATA


def test_require_rows_names_the_count_and_the_minimum(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    frame = pd.DataFrame({"a": [1, 2]})

    require_rows(frame, path, minimum=2)
    with pytest.raises(DataError, match=r"only 2 data row\(s\); at least 5 are needed"):
        require_rows(frame, path, minimum=5)


@pytest.mark.parametrize("header", ["a,b,a", "a,b, a"], ids=["exact", "after-strip"])
def test_duplicated_column_names(tmp_path: Path, header: str) -> None:
    path = write_text(tmp_path, "dup.csv", f"{header}\n1,2,3\n")

    error = data_error(path)

    assert "duplicated column name(s) 'a'" in error.message
    assert "'b'" not in error.message


def test_ragged_row_is_malformed_csv_naming_the_line(tmp_path: Path) -> None:
    path = write_text(tmp_path, "ragged.csv", "a,b\n1,2\n3,4,5\n6,7\n")

    error = data_error(path)

    assert "malformed CSV" in error.message
    assert "data row 2 (line 3) has 3 fields, the header 2" in error.message
    assert error.hint is not None
    assert "as many fields as the header" in error.hint


def test_unterminated_quote_is_malformed_csv(tmp_path: Path) -> None:
    path = write_text(tmp_path, "quote.csv", 'a,b\n"x,y",1\n"open,2\n')

    error = data_error(path)

    assert "malformed CSV" in error.message


def test_non_utf8_byte_in_the_head_names_the_byte_and_hints_encoding(tmp_path: Path) -> None:
    data = "name,x\ncafé,1\nplain,2\nmore,3\n".encode("latin-1")
    path = write_bytes(tmp_path, "latin.csv", data)

    error = data_error(path)

    bad_byte = data.index("é".encode("latin-1"))
    assert f"byte {bad_byte} is not valid utf-8" in error.message
    assert error.hint is not None
    assert "--encoding" in error.hint


def test_non_utf8_byte_past_the_sniffed_head_hints_encoding(tmp_path: Path) -> None:
    # The bad byte lies beyond the 64 KiB head, so pandas finds it while parsing.
    data = ("name,x\n" + "abc,1\n" * 12000 + "café,1\n").encode("latin-1")
    path = write_bytes(tmp_path, "latin.csv", data)

    error = data_error(path)

    assert "not valid utf-8" in error.message
    assert error.hint is not None
    assert "--encoding" in error.hint


def test_encoding_option_reads_latin1(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "latin.csv", "name,x\ncafé,1\n".encode("latin-1"))

    frame = read_csv(path, CsvOptions(encoding="latin-1"))

    assert frame["name"].tolist() == ["café"]


def test_require_columns_passes_when_all_are_present(tmp_path: Path) -> None:
    frame = pd.DataFrame({"species": ["a"], "island": ["b"]})

    require_columns(frame, tmp_path / "p.csv", ["species", "island"], "target")


def test_require_columns_suggests_the_name_differing_in_case(tmp_path: Path) -> None:
    frame = read_csv(SAMPLE_DATA / "penguins.csv")
    path = SAMPLE_DATA / "penguins.csv"

    with pytest.raises(DataError) as caught:
        require_columns(frame, path, ["Species"], "target")

    assert caught.value.message == f"{path}: target column 'Species' not found"
    assert caught.value.hint == "did you mean 'species'?"


def test_require_columns_lists_the_columns_when_nothing_is_close(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1], "b": [2], "c": [3]})

    with pytest.raises(DataError) as caught:
        require_columns(frame, tmp_path / "t.csv", ["a", "price"], "named")

    assert "named column 'price' not found" in caught.value.message
    assert caught.value.hint == "columns are: a, b, c"
