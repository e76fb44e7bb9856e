"""What every sub-command shares: help, row convention, output formats, errors, warnings."""

import argparse
import csv
import io
import json
import os
import sys

import pytest

from sparsestat.cli import build_parser, main
from sparsestat.datasets import load_stackloss


def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return parser, action.choices


def test_every_capability_of_the_help_has_a_sub_command():
    parser, subs = _subparsers()
    assert set(subs) == {"demo", "select", "outliers", "labels", "rank"}
    description = parser.description
    for promise, command in [("features", "select"), ("outliers", "outliers"),
                             ("noisy labels", "labels"), ("comparisons", "rank")]:
        assert promise in description and command in subs


def test_every_sub_command_states_the_row_convention():
    for name, sub in _subparsers()[1].items():
        if name == "demo":
            continue
        text = " ".join(sub.format_help().split())
        assert "the first row after the header is row 1" in text, name
        for option in ("--format", "--output", "--show", "--delimiter"):
            assert option in text, (name, option)


@pytest.fixture
def stackloss_csv(tmp_path):
    data = load_stackloss()
    path = tmp_path / "stack.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([data.target_name, *data.feature_names])
        w.writerows([y, *x] for x, y in zip(data.data, data.target))
    return path


ARGS = ["--target", "STACKLOSS", "--solver", "iss"]


def test_the_formats_tell_the_same_result(stackloss_csv, tmp_path, capsys):
    base = ["outliers", str(stackloss_csv), *ARGS]
    assert main(base + ["--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert main(base + ["-o", "-", "--format", "csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [int(r["row"]) for r in table] == [r["row"] for r in result["flagged"]]
    assert sorted(int(r["row"]) for r in table) == result["flagged_rows"] == [1, 3, 4, 21]
    assert [float(r["gamma"]) for r in table] == [r["gamma"] for r in result["flagged"]]
    assert main(base) == 0
    text = capsys.readouterr().out
    # to a file: the format from the suffix, and the text report still on stdout
    for name, parse in [("r.json", json.loads), ("r.csv", lambda s: s), ("r.txt", lambda s: s)]:
        out = tmp_path / name
        assert main(base + ["-o", str(out)]) == 0
        printed = capsys.readouterr().out
        assert printed.startswith(text) and printed.endswith(f"written to {out}\n")
        content = out.read_text()
        if name.endswith("json"):
            assert parse(content) == result
        elif name.endswith("csv"):
            assert list(csv.DictReader(io.StringIO(content))) == table
        else:
            assert content == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.json", "r.txt",
                                                          "stack.csv"]


def test_json_has_no_nan_or_inf(tmp_path, capsys):
    # a comparison that never enters the path has entry time inf: null in JSON
    rows = ["a,b,y", "x,y,1", "y,z,1", "x,z,2", "z,w,1", "y,w,2", "x,w,3", "w,x,3"]
    data = tmp_path / "d.csv"
    data.write_text("\n".join(rows) + "\n")
    assert main(["rank", str(data), "--left", "a", "--right", "b", "--outcome", "y",
                 "--format", "json"]) == 0
    text = capsys.readouterr().out
    assert "Infinity" not in text and "NaN" not in text
    json.loads(text)


def test_a_failed_write_leaves_the_old_file(stackloss_csv, tmp_path, capsys, monkeypatch):
    out = tmp_path / "flagged.csv"
    out.write_text("earlier\n")

    def replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", replace)
    assert main(["outliers", str(stackloss_csv), *ARGS, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "sparsestat outliers: error: [Errno 28] No space left on device"
    assert out.read_text() == "earlier\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flagged.csv", "stack.csv"]


def test_missing_output_folder_is_refused_before_the_fit(stackloss_csv, tmp_path, capsys,
                                                          monkeypatch):
    import sparsestat.robust._cli as outliers_cli

    monkeypatch.setattr(outliers_cli, "load_table", None)   # reading would fail loudly
    assert main(["outliers", str(stackloss_csv), *ARGS, "-o",
                 str(tmp_path / "nope" / "r.csv")]) == 2
    assert "does not exist; create it first" in capsys.readouterr().err


def test_a_bug_is_one_line_too(stackloss_csv, capsys, monkeypatch):
    import sparsestat.robust._cli as outliers_cli

    def broken(*args):
        raise RuntimeError("something the tests planted")

    monkeypatch.setattr(outliers_cli, "report", broken)
    assert main(["outliers", str(stackloss_csv), *ARGS]) == 1
    err = capsys.readouterr().err
    assert err == ("sparsestat outliers: internal error (RuntimeError): something the tests "
                   "planted\n")


@pytest.mark.parametrize("value", ["-1", "two"])
def test_show_must_be_a_count(stackloss_csv, capsys, value):
    with pytest.raises(SystemExit) as exc:
        main(["outliers", str(stackloss_csv), *ARGS, "--show", value])
    assert exc.value.code == 2
    assert "--show: must be a whole number >= 0" in capsys.readouterr().err


def test_a_closed_pipe_is_not_an_error(stackloss_csv, capsys, monkeypatch):
    # ``sparsestat ... --format csv | head -n 2``: when head stops reading, stop quietly

    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["outliers", str(stackloss_csv), *ARGS, "--format", "csv"]) == 0
    assert capsys.readouterr().err == ""


def test_delimiter(stackloss_csv, tmp_path, capsys):
    semicolons = tmp_path / "semi.csv"
    semicolons.write_text(stackloss_csv.read_text().replace(",", ";"))
    assert main(["outliers", str(semicolons), *ARGS]) == 2
    assert "pass --delimiter" in capsys.readouterr().err
    results = []
    for path, extra in [(stackloss_csv, []), (semicolons, ["--delimiter", ";"])]:
        assert main(["outliers", str(path), *ARGS, "--format", "json", *extra]) == 0
        results.append(json.loads(capsys.readouterr().out))
    assert results[0] == results[1] and results[0]["flagged_rows"] == [1, 3, 4, 21]
