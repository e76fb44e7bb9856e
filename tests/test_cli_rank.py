"""``sparsestat rank``: results against the estimator, row numbers, output formats."""

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from sparsestat import RobustPairwiseRanker
from sparsestat.cli import main
from sparsestat.datasets import make_pairwise_comparisons
from sparsestat.datasets._state_comparisons import _CSV

STATE_ARGS = ["--left", "left", "--right", "right", "--outcome", "outcome"]


@pytest.fixture(scope="module")
def states():
    """The bundled file read independently of the package, and the ranker fitted on it."""
    with open(_CSV, newline="") as fh:
        rows = list(csv.DictReader(fh))
    pairs = np.array([[r["left"], r["right"]] for r in rows])
    y = np.array([float(r["outcome"]) for r in rows])
    attack = np.array([r["attack"] == "1" for r in rows])
    return pairs, y, attack, RobustPairwiseRanker().fit(pairs, y)


def _json(capsys, args):
    assert main(args + ["--format", "json"]) == 0
    out, err = capsys.readouterr()
    return json.loads(out), err


def test_bundled_file_json_matches_the_ranker(states, capsys):
    pairs, y, attack, ranker = states
    result, err = _json(capsys, ["rank", str(_CSV), *STATE_ARGS])
    assert err == ""
    assert [r["item"] for r in result["ranking"]] == ranker.ranking_.tolist()
    scores = dict(zip(ranker.items_.tolist(), ranker.scores_))
    assert all(r["score"] == pytest.approx(scores[r["item"]], rel=1e-12, abs=1e-12)
               for r in result["ranking"])
    rows = [c["row"] for c in result["flagged_comparisons"]]
    assert sorted(rows) == (np.flatnonzero(ranker.outliers_) + 1).tolist()
    for c in result["flagged_comparisons"]:   # row k is the k-th comparison of the file
        assert [c["left"], c["right"]] == pairs[c["row"] - 1].tolist()
        assert c["outcome"] == y[c["row"] - 1]
    # against the file's own ground truth: the flagged votes are the attackers'
    flagged = np.array(rows) - 1
    assert attack[flagged].mean() >= 0.8
    assert sorted(result["manipulated_items"]) == ["Mississippi", "Texas"]
    assert result["n_flagged"] == len(rows) == int(ranker.outliers_.sum())


def test_subprocess_csv_to_stdout(states, tmp_path):
    ranker = states[3]
    proc = subprocess.run([sys.executable, "-m", "sparsestat", "rank", str(_CSV), *STATE_ARGS,
                           "-o", "-", "--format", "csv"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    table = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["item"] for r in table] == ranker.ranking_.tolist()
    assert [int(r["rank"]) for r in table] == list(range(1, 52))
    np.testing.assert_allclose([float(r["score"]) for r in table],
                               np.sort(ranker.scores_)[::-1], rtol=1e-12, atol=1e-12)


def _votes_csv(path, pairs, outcomes, names=None):
    names = np.arange(pairs.max() + 1).astype(str) if names is None else names
    lines = ["a,b,y"] + [f"{names[p]},{names[q]},{v:g}" for (p, q), v in zip(pairs, outcomes)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_rows_follow_a_permutation_and_items_a_relabelling(tmp_path, capsys):
    data = make_pairwise_comparisons(12, 300, 10, 0.2, random_state=0, outcome="margin")
    args = ["--left", "a", "--right", "b", "--outcome", "y"]
    base, _ = _json(capsys, ["rank", _votes_csv(tmp_path / "a.csv", data.comparisons,
                                                data.outcomes), *args])
    assert base["n_flagged"] > 0
    perm = np.random.default_rng(1).permutation(300)
    names = np.array([f"item {c}" for c in "ABCDEFGHIJKL"])
    moved, _ = _json(capsys, ["rank", _votes_csv(tmp_path / "b.csv", data.comparisons[perm],
                                                 data.outcomes[perm], names), *args])
    rows = sorted(int(perm[c["row"] - 1]) + 1 for c in moved["flagged_comparisons"])
    assert rows == sorted(c["row"] for c in base["flagged_comparisons"])
    assert [r["item"] for r in moved["ranking"]] == [names[int(r["item"])]
                                                     for r in base["ranking"]]
    np.testing.assert_allclose([r["score"] for r in moved["ranking"]],
                               [r["score"] for r in base["ranking"]], atol=1e-8)


def test_logistic_one_zero_column_ranks_as_plus_minus_one(tmp_path, capsys):
    data = make_pairwise_comparisons(10, 250, 8, 0.25, random_state=2)
    args = ["--left", "a", "--right", "b", "--outcome", "y", "--link", "logistic"]
    pm, _ = _json(capsys, ["rank", _votes_csv(tmp_path / "pm.csv", data.comparisons,
                                              data.outcomes), *args])
    zo, _ = _json(capsys, ["rank", _votes_csv(tmp_path / "zo.csv", data.comparisons,
                                              (data.outcomes > 0).astype(int)), *args])
    assert zo["ranking"] == pm["ranking"]
    assert [c["row"] for c in zo["flagged_comparisons"]] == \
        [c["row"] for c in pm["flagged_comparisons"]]


# every message that names rows counts data rows from 1 (the first row after the header)
@pytest.mark.parametrize("content, args, message", [
    ("a,b,y\nx,y,1\ny,z,oops\n", ["--outcome", "y"], "must hold numbers; row 2 has 'oops'"),
    ("a,b,w\nx,y,1\ny,z,-1\n", ["--weight", "w"], "negative weight in row 2"),
    ("a,b\nx,y\ny,\nx,z\n", [], "row 2 of {data} has no value in column 'b'"),
    ("a,b\nx,y\n ,z\nx,z\n,y\n", [], "rows 2 and 4 of {data} have no value in column 'a'"),
    ("a,b,who\nx,y,p\ny,z,\nx,z,q\n", ["--annotator", "who"],
     "row 2 of {data} has no value in column 'who'"),
    ("a,b,y\nx,y,1\ny,z,nan\nx,z,inf\n", ["--outcome", "y"], "NaN or inf value in rows 2 and 3"),
    ("a,b\nx,y\ny,y\nx,z\nz,z\n", [], "rows 2 and 4 of {data} compare an item with itself"),
    ("a,b\n\nx,y\n\ny,y\nx,z\n", [], "row 2 of {data} compares an item with itself"),
    ("a,b,y\nx,y,1\n\n\ny,z,oops\n", ["--outcome", "y"], "must hold numbers; row 2"),
    ("a,b\nx,y\ny,z,w\n", [], "row 2 of {data} has 3 cells but the header has 2 columns"),
    ("a,b,a\nx,y,1\n", [], "names column 'a' twice"),
    ("a,b\nx,y\nz,w\n", [], "--per-component to rank within"),
    ("a,b,y\nx,y,2\ny,z,1\nx,z,1\n", ["--outcome", "y", "--link", "logistic"],
     "needs +1 / -1 outcomes (or 1 / 0"),
])
def test_errors_name_data_rows_and_leave_no_file(tmp_path, capsys, content, args, message):
    data = tmp_path / "d.csv"
    data.write_text(content)
    out = tmp_path / "ranking.csv"
    out.write_text("an earlier result\n")
    assert main(["rank", str(data), "--left", "a", "--right", "b", *args, "-o", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert message.format(data=data) in err and err.startswith("sparsestat rank: error: ")
    assert len(err.splitlines()) == 1
    assert out.read_text() == "an earlier result\n"          # left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "ranking.csv"]


def test_show_zero_and_the_text_report(tmp_path, capsys):
    rows = ["a,b,y"] + [f"{p},{q},{v:g}" for (p, q), v in zip(
        [("x", "y"), ("y", "z"), ("x", "z"), ("z", "w"), ("y", "w"), ("x", "w"), ("w", "x")],
        [1, 1, 2, 1, 2, 3, 3])]
    data = tmp_path / "d.csv"
    data.write_text("\n".join(rows) + "\n")
    args = ["rank", str(data), "--left", "a", "--right", "b", "--outcome", "y",
            "--contamination", "0.15"]
    assert main(args + ["--show", "0"]) == 0
    assert capsys.readouterr().out == "4 items, 7 comparisons; 1 flagged as outliers\n"
    assert main(args + ["--show", "2"]) == 0
    text = capsys.readouterr().out
    assert "(2 more items" in text
    # the backwards vote w > x is the last data row: row 7
    assert "       7  w  x  +3  " in text
