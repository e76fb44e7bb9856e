"""The CSV reader every sub-command shares: encodings, headers, ragged rows, row numbers."""

import io
import sys

import numpy as np
import pytest

from sparsestat._csv import CSVError, read_table, rows_phrase


def _write(tmp_path, content, name="d.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def test_rows_phrase_counts_from_one():
    assert rows_phrase([0]) == "row 1"
    assert rows_phrase([1, 4]) == "rows 2 and 5"
    assert rows_phrase(np.arange(9)) == "rows 1, 2, 3, 4, 5 and 4 more"


def test_utf8_bom_is_dropped_from_the_first_name(tmp_path):
    # Excel's "CSV UTF-8" starts with a byte-order mark
    plain = read_table(_write(tmp_path, "y,x\n1,2\n3,4\n"))
    bom = read_table(_write(tmp_path, "y,x\n1,2\n3,4\n", "b.csv", "utf-8-sig"))
    assert (tmp_path / "b.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    assert bom.header == plain.header == ["y", "x"]
    assert bom.numbers("y").tolist() == [1.0, 3.0]


def test_not_utf8_says_how_to_convert(tmp_path):
    path = _write(tmp_path, "name,y\nZ\u00fcrich,1\n", encoding="latin-1")
    with pytest.raises(CSVError, match=r"is not UTF-8 text \(byte 0xfc.*iconv"):
        read_table(path)


@pytest.mark.parametrize("content, message", [
    ("a,b,a\n1,2,3\n", r"names column 'a' twice \(columns 1 and 3\)"),
    ("a,,c\n1,2,3\n", "no name for column 2"),
    (" a , a\n1,2\n", "names column 'a' twice"),   # names are compared stripped
])
def test_header_names_must_be_distinct_and_present(tmp_path, content, message):
    with pytest.raises(CSVError, match=message):
        read_table(_write(tmp_path, content))


def test_ragged_rows_are_refused_with_their_row_numbers(tmp_path):
    path = _write(tmp_path, "a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n")
    with pytest.raises(CSVError) as exc:
        read_table(path)
    msg = str(exc.value)
    assert msg.startswith(f"rows 2 and 4 of {path} have 2 or 4 cells but the header has 3")
    assert len(msg.splitlines()) == 1


def test_blank_lines_are_skipped_and_not_counted(tmp_path):
    # blank lines and rows of empty cells (as spreadsheets export them) are not rows
    path = _write(tmp_path, "\na,b\n\n1,x\n,\n\n2,\n3,z\n\n")
    table = read_table(path)
    assert table.n_rows == 3
    assert table.numbers("a").tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(CSVError, match=f"^row 2 of {path} has no value in column 'b'"):
        table.text("b")


def test_quoted_cells_may_hold_the_delimiter_and_newlines(tmp_path):
    path = _write(tmp_path, 'name,y\n"Smith, J.",1\n"two\nlines",2\nplain,x\n')
    table = read_table(path)
    assert table.text("name") == ["Smith, J.", "two\nlines", "plain"]
    # a record that spans two lines is still one row: the third row holds 'x'
    with pytest.raises(CSVError, match="must hold numbers; row 3 has 'x'$"):
        table.numbers("y")


def test_numbers_name_the_rows_and_show_plain_values(tmp_path):
    table = read_table(_write(tmp_path, "y\n1\n  2.5 \nnan\n-inf\n"))
    with pytest.raises(CSVError, match="NaN or inf value in rows 3 and 4; fix or drop"):
        table.numbers("y")
    table = read_table(_write(tmp_path, "y,s\n1,Illinois\n", "s.csv"))
    with pytest.raises(CSVError) as exc:
        table.numbers("s")
    assert str(exc.value).endswith("must hold numbers; row 1 has 'Illinois'")   # no np.str_


def test_missing_column_hints_at_the_delimiter(tmp_path):
    path = _write(tmp_path, "y;x\n1;2\n3;4\n")
    with pytest.raises(CSVError, match="not in .* pass --delimiter"):
        read_table(path).index("y")
    assert read_table(path, delimiter=";").numbers("x").tolist() == [2.0, 4.0]


@pytest.mark.parametrize("content, message", [
    ("", "is empty"), ("\n\n", "is empty"), ("a,b\n", "has a header but no data rows"),
])
def test_empty_files(tmp_path, content, message):
    with pytest.raises(CSVError, match=message):
        read_table(_write(tmp_path, content))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(CSVError, match="not found"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(CSVError, match="is not a file"):
        read_table(tmp_path)


def test_standard_input(monkeypatch):
    data = "\ufeffa,b\n1,2\n".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    table = read_table("-")
    assert table.name == "<stdin>" and table.header == ["a", "b"]
    assert table.matrix(["b", "a"]).tolist() == [[2.0, 1.0]]


def test_names_checks_the_listed_columns(tmp_path):
    table = read_table(_write(tmp_path, "y,a,b\n1,2,3\n"))
    assert table.names(None, ("y",), "--features") == ["a", "b"]
    assert table.names(" b, a ", ("y",), "--features") == ["b", "a"]
    with pytest.raises(CSVError, match="--features column 'c' not in"):
        table.names("a,c", ("y",), "--features")
    with pytest.raises(CSVError, match="lists 'a' more than once"):
        table.names("a,a", ("y",), "--features")
    with pytest.raises(CSVError, match="'y' cannot be both"):
        table.names("a,y", ("y",), "--features")
