"""``sparsestat select``: knockoff selection on a CSV file, against the estimator."""

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from sparsestat import KnockoffSelector
from sparsestat.cli import main

TRUE = [1, 4, 7, 10, 13, 16, 19, 22]


def _problem(n=200, p=24, amplitude=0.6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    beta = np.zeros(p)
    true = [j for j in TRUE if j < p]
    beta[true] = amplitude * np.resize([1.0, -1.0], len(true))
    return X, X @ beta + rng.standard_normal(n)


def _write(path, X, y, names=None, target="y"):
    names = [f"g{j}" for j in range(X.shape[1])] if names is None else names
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*names, target])
        w.writerows([*map(repr, map(float, x)), v if isinstance(v, str) else repr(float(v))]
                    for x, v in zip(X, y))
    return str(path)


def _json(capsys, args):
    assert main(args + ["--format", "json"]) == 0
    out, err = capsys.readouterr()
    return json.loads(out), err


@pytest.fixture(scope="module")
def problem():
    X, y = _problem()
    return X, y, KnockoffSelector(fdr=0.2, random_state=0).fit(X, y)


def test_selection_matches_the_estimator(problem, tmp_path, capsys):
    X, y, sel = problem
    result, err = _json(capsys, ["select", _write(tmp_path / "d.csv", X, y), "--target", "y",
                                 "--fdr", "0.2"])
    assert err == ""
    expected = {f"g{j}" for j in np.flatnonzero(sel.support_)}
    assert set(result["selected_features"]) == expected
    assert result["knockoffs"] == "fixed" and result["n_rows"] == 200
    assert result["threshold"] == pytest.approx(sel.threshold_, rel=1e-12)
    W = {f"g{j}": w for j, w in enumerate(sel.W_)}
    assert all(f["W"] == pytest.approx(W[f["feature"]], rel=1e-10, abs=1e-12)
               for f in result["features"])
    assert len(result["features"]) == 24
    for row in result["selected"]:                     # selected: W above the threshold
        assert row["W"] >= sel.threshold_
    # against the truth of the simulation: the strong signals are found (the FDR is a mean
    # over data sets, measured in validation/, not a bound on one draw)
    assert {f"g{j}" for j in TRUE} <= expected


@pytest.mark.parametrize("scale", [1e-8, 1e8])
def test_units_do_not_change_the_selection(problem, tmp_path, capsys, scale):
    X, y, sel = problem
    Xs = X * np.geomspace(1 / scale, scale, X.shape[1])  # every column in its own units
    result, _ = _json(capsys, ["select", _write(tmp_path / "s.csv", Xs, scale * y + 3.0),
                               "--target", "y", "--fdr", "0.2"])
    assert set(result["selected_features"]) == {f"g{j}" for j in np.flatnonzero(sel.support_)}
    W = [f["W"] for f in sorted(result["features"], key=lambda f: int(f["feature"][1:]))]
    np.testing.assert_allclose(W, sel.W_, rtol=1e-6, atol=1e-9)


def test_csv_output_file_and_text(problem, tmp_path, capsys):
    X, y, sel = problem
    out = tmp_path / "selected.csv"
    assert main(["select", _write(tmp_path / "d.csv", X, y), "--target", "y", "--fdr", "0.2",
                 "-o", str(out)]) == 0
    text = capsys.readouterr().out
    n = int(sel.support_.sum())
    assert text.startswith(f"{n} of 24 features selected at FDR 0.2 (fixed-X knockoffs")
    table = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["feature"] for r in table] == [f"g{j}" for j in np.argsort(-sel.W_, kind="stable")
                                             if sel.support_[j]]
    assert [int(r["sign"]) for r in table] == [int(sel.signs_[int(r["feature"][1:])])
                                               for r in table]


def test_few_rows_use_model_x_knockoffs(tmp_path, capsys):
    X, y = _problem(n=40, p=24, amplitude=1.5, seed=1)
    result, _ = _json(capsys, ["select", _write(tmp_path / "d.csv", X, y), "--target", "y",
                               "--fdr", "0.3"])
    sel = KnockoffSelector(fdr=0.3, knockoffs="gaussian", random_state=0).fit(X, y)
    assert result["knockoffs"] == "gaussian"
    assert set(result["selected_features"]) == {f"g{j}" for j in np.flatnonzero(sel.support_)}
    assert main(["select", str(tmp_path / "d.csv"), "--target", "y", "--knockoffs",
                 "fixed"]) == 2
    err = capsys.readouterr().err.strip()
    assert "n >= 2p + 1" in err and "--knockoffs gaussian" in err and "\n" not in err


def test_class_labels_in_words_are_classes(tmp_path, capsys):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 12))
    p = 1 / (1 + np.exp(-(3 * X[:, 0] - 3 * X[:, 5] + 3 * X[:, 9])))
    labels = np.where(rng.random(300) < p, "yes", "no")
    path = _write(tmp_path / "c.csv", X, labels, target="answer")
    result, _ = _json(capsys, ["select", path, "--target", "answer", "--fdr", "0.3",
                               "--offset", "0"])
    sel = KnockoffSelector(fdr=0.3, offset=0, random_state=0).fit(X, labels)
    assert set(result["selected_features"]) == {f"g{j}" for j in np.flatnonzero(sel.support_)}
    assert {"g0", "g5", "g9"} <= set(result["selected_features"])


def test_nothing_selected_warns_in_one_line(tmp_path, capsys):
    X, y = _problem(n=120, p=10, amplitude=0.0, seed=2)
    y = y + 2 * X[:, 0]                                 # one signal: fewer than 1 / fdr
    assert main(["select", _write(tmp_path / "d.csv", X, y), "--target", "y"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("0 of 10 features selected")
    assert err.startswith("sparsestat select: warning: No features selected")
    assert err.count("\n") == 1 and "--offset 0" in err


def test_bad_input(tmp_path, capsys):
    X, y = _problem(n=60, p=5, seed=3)
    X[:, 2] = 1.5
    path = _write(tmp_path / "d.csv", X, y)
    out = tmp_path / "r.json"
    assert main(["select", path, "--target", "y", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"sparsestat select: error: column 'g2' of {path} is constant: a constant "
                   "feature carries no information; leave it out with --features")
    assert not out.exists()
    assert main(["select", path, "--target", "y", "--features", "g0,g1", "--task",
                 "regression", "--fdr", "0.5", "--offset", "0"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["select", path, "--target", "y", "--fdr", "1"])
    assert exc.value.code == 2 and "--fdr: must be in (0, 1)" in capsys.readouterr().err


def test_subprocess_json(problem, tmp_path):
    X, y, sel = problem
    path = _write(tmp_path / "d.csv", X, y)
    proc = subprocess.run([sys.executable, "-m", "sparsestat", "select", path, "--target", "y",
                           "--fdr", "0.2", "--format", "json"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    result = json.loads(proc.stdout)
    assert set(result["selected_features"]) == {f"g{j}" for j in np.flatnonzero(sel.support_)}
