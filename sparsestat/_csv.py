"""The CSV reader of the command line: one reader, one row convention, one-line errors.

Every sub-command of ``sparsestat`` reads its input through :func:`read_table`.
Rows are **data rows numbered from 1**: the first row after the header is row 1,
and blank lines (or rows whose cells are all empty) are skipped and not counted,
so row ``k`` is ``k - 1`` as an index into the arrays the estimators are fitted
on (and the row ``k`` that pandas reads with ``read_csv``). Bad input raises
:class:`CSVError` with one line that names the file, the column and the rows.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: the row convention, as every ``--help`` states it
ROWS_HELP = ("Rows are data rows numbered from 1: the first row after the header is row 1; "
             "blank lines are skipped and not counted.")


class CSVError(ValueError):
    """A CSV file the command line cannot use; the message is one line that says why."""


def rows_phrase(idx, limit: int = 5, first: int = 1) -> str:
    """The 0-based indices ``idx`` as row numbers counted from ``first``: ``'row 3'``,
    ``'rows 3 and 5'``, ...

    ``'rows 3, 8, 9, 12, 14 and 7 more'`` past ``limit`` rows.
    """
    rows = [int(i) + first for i in idx]
    if len(rows) == 1:
        return f"row {rows[0]}"
    shown = ", ".join(map(str, rows[:limit]))
    if len(rows) <= limit:
        head, _, last = shown.rpartition(", ")
        return f"rows {head} and {last}"
    return f"rows {shown} and {len(rows) - limit} more"


def _has(idx) -> str:
    return "has" if len(idx) == 1 else "have"


def _decode(data: bytes, name: str) -> str:
    """UTF-8 text without the byte-order mark that Excel writes."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CSVError(
            f"{name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save it as 'CSV UTF-8' or convert it, e.g. iconv -f latin1 -t utf-8") from None


def _read_bytes(source: str | os.PathLike) -> tuple[bytes, str]:
    if str(source) == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    path = Path(source)
    if not path.exists():
        raise CSVError(f"input file {str(path)!r} not found")
    if not path.is_file():
        raise CSVError(f"input {str(path)!r} is not a file")
    return path.read_bytes(), str(path)


def _check_header(header: list[str], name: str) -> None:
    unnamed = [j + 1 for j, h in enumerate(header) if not h]
    if unnamed:
        raise CSVError(f"the header of {name} has no name for column {unnamed[0]}; give every "
                       "column a name")
    seen: dict[str, int] = {}
    for j, h in enumerate(header):
        if h in seen:
            raise CSVError(f"the header of {name} names column {h!r} twice (columns "
                           f"{seen[h] + 1} and {j + 1}); give every column its own name")
        seen[h] = j


def read_table(source: str | os.PathLike, delimiter: str = ",") -> Table:
    """Read a CSV file with a header row (``'-'``: standard input).

    The file must be UTF-8 (a byte-order mark is dropped); names and cells are
    stripped of surrounding blanks; every column needs a distinct name and every
    data row one cell per column.

    Parameters
    ----------
    source : path-like or '-'
        The file, or ``'-'`` for standard input.
    delimiter : str, default=','
        The one-character cell separator.

    Returns
    -------
    Table

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sparsestat._csv import read_table
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_bytes("\\ufeffa,b\\n1,x\\n\\n2,y\\n".encode("utf-8"))
    >>> table = read_table(path)
    >>> table.header, table.n_rows, table.numbers("a").tolist()
    (['a', 'b'], 2, [1.0, 2.0])
    """
    data, name = _read_bytes(source)
    text = _decode(data, name)
    if len(delimiter) != 1:
        raise CSVError(f"--delimiter must be one character; got {delimiter!r}")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header, rows, lengths = None, [], []
    try:
        for record in reader:
            cells = [c.strip() for c in record]
            if not any(cells):
                continue
            if header is None:
                header = cells
                continue
            rows.append(cells)
            lengths.append(len(cells))
    except csv.Error as exc:
        raise CSVError(f"{name} is not valid CSV near line {reader.line_num}: {exc}") from None
    if header is None:
        raise CSVError(f"input file {name!r} is empty")
    _check_header(header, name)
    if not rows:
        raise CSVError(f"input file {name!r} has a header but no data rows")
    ragged = np.flatnonzero(np.asarray(lengths) != len(header))
    if ragged.size:
        cells = sorted({lengths[i] for i in ragged})
        raise CSVError(
            f"{rows_phrase(ragged)} of {name} {_has(ragged)} "
            f"{' or '.join(map(str, cells))} cells but the header has {len(header)} columns; "
            "give every row one cell per column (quote cells that contain the delimiter)")
    return Table(name, header, rows, delimiter)


@dataclass
class Table:
    """The data rows of a CSV file as stripped strings, with checked column access.

    Attributes
    ----------
    name : str
        The file, as error messages name it.
    header : list of str
        Column names, distinct.
    rows : list of list of str
        Data rows, each with one cell per column.
    delimiter : str
        The cell separator the file was read with.
    """

    name: str
    header: list[str]
    rows: list[list[str]]
    delimiter: str = ","

    @property
    def n_rows(self) -> int:
        """Number of data rows."""
        return len(self.rows)

    def index(self, column: str, role: str = "column") -> int:
        """Position of ``column`` in the header; a missing one is a :class:`CSVError`."""
        if column in self.header:
            return self.header.index(column)
        hint = ""
        if len(self.header) == 1 and any(d in self.header[0] for d in ";\t|"):
            hint = ("; the header has a single column: if the file is separated by ';', tabs "
                    "or '|', pass --delimiter")
        raise CSVError(f"{role} {column!r} not in {self.name} (columns: "
                       f"{', '.join(self.header)}){hint}")

    def text(self, column: str, role: str = "column") -> list[str]:
        """The cells of ``column``; an empty cell is an error, not a value ``''``."""
        j = self.index(column, role)
        values = [row[j] for row in self.rows]
        empty = [i for i, v in enumerate(values) if not v]
        if empty:
            raise CSVError(f"{rows_phrase(empty)} of {self.name} {_has(empty)} no value in "
                           f"column {column!r}; fill in every cell of that column or drop "
                           "those rows")
        return values

    def numbers(self, column: str, role: str = "column") -> np.ndarray:
        """The cells of ``column`` as finite floats."""
        values = self.text(column, role)
        out = np.empty(len(values))
        for i, v in enumerate(values):
            try:
                out[i] = float(v)
            except ValueError:
                raise CSVError(f"column {column!r} of {self.name} must hold numbers; "
                               f"{rows_phrase([i])} has {v!r}") from None
        bad = np.flatnonzero(~np.isfinite(out))
        if bad.size:
            raise CSVError(f"column {column!r} of {self.name} has a NaN or inf value in "
                           f"{rows_phrase(bad)}; fix or drop those rows")
        return out

    def names(self, listed: str | None, exclude: tuple[str, ...], option: str) -> list[str]:
        """Columns named in a comma-separated ``listed`` (default: all but ``exclude``)."""
        if listed is None:
            names = [h for h in self.header if h not in exclude]
        else:
            names = [f.strip() for f in listed.split(",") if f.strip()]
            for name in names:
                self.index(name, f"{option} column")
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise CSVError(f"{option} lists {twice[0]!r} more than once")
            clash = [n for n in names if n in exclude]
            if clash:
                raise CSVError(f"column {clash[0]!r} cannot be both in {option} and the "
                               f"{'target' if len(exclude) == 1 else 'other'} column")
        if not names:
            raise CSVError(f"{self.name} has no column for {option} besides "
                           f"{', '.join(map(repr, exclude))}")
        return names

    def matrix(self, columns: list[str]) -> np.ndarray:
        """The columns as an ``(n_rows, len(columns))`` array of finite floats."""
        return np.column_stack([self.numbers(c) for c in columns])
