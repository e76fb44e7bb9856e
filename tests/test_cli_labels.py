"""``sparsestat labels``: noisy labels from features or from pred_probs, against the estimator."""

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from sparsestat.cli import main
from sparsestat.datasets import make_noisy_labels
from sparsestat.robust import NoisyLabelDetector

CLASSES = np.array(["cat", "dog", "eel", "fox"])


@pytest.fixture(scope="module")
def blobs():
    X, codes = make_blobs(400, n_features=6, centers=4, cluster_std=1.5, random_state=0)
    noisy_codes, noisy = make_noisy_labels(codes, 0.1, random_state=0)
    return X, CLASSES[noisy_codes], noisy


def _write(path, columns, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        w.writerows(rows)
    return str(path)


def _features_csv(path, X, labels):
    return _write(path, [*(f"x{j}" for j in range(X.shape[1])), "label"],
                  [[*map(repr, map(float, x)), lab] for x, lab in zip(X, labels)])


def _json(capsys, args):
    assert main(args + ["--format", "json"]) == 0
    out, err = capsys.readouterr()
    return json.loads(out), err


def test_features_match_the_detector(blobs, tmp_path, capsys):
    X, labels, noisy = blobs
    det = NoisyLabelDetector(random_state=0).fit(X, labels)
    result, err = _json(capsys, ["labels", _features_csv(tmp_path / "d.csv", X, labels),
                                 "--label", "label"])
    assert err == ""
    flagged = np.flatnonzero(det.outliers_)
    assert result["flagged_rows"] == (flagged + 1).tolist()
    assert result["noise_rate"] == pytest.approx(det.noise_rate_)
    assert result["classes"] == CLASSES.tolist()
    for row in result["flagged"]:
        i = row["row"] - 1
        assert row["label"] == labels[i]
        assert row["suggested_label"] == det.suggested_labels_[i] != labels[i]
        assert row["margin"] == pytest.approx(det.margins_[i])
    # against the labels the simulation corrupted
    assert noisy[flagged].mean() >= 0.8 and flagged.size >= 0.5 * noisy.sum()


def test_pred_probs_columns_are_matched_by_class_name(blobs, tmp_path, capsys):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    X, labels, noisy = blobs
    proba = cross_val_predict(LogisticRegression(max_iter=1000), X, labels, cv=5,
                              method="predict_proba")
    det = NoisyLabelDetector(random_state=0).fit(None, labels, pred_probs=proba)
    order = [2, 0, 3, 1]                                # the file's columns in another order
    path = _write(tmp_path / "p.csv", ["label", *CLASSES[order]],
                  [[lab, *map(repr, map(float, p[order]))] for lab, p in zip(labels, proba)])
    result, _ = _json(capsys, ["labels", path, "--label", "label", "--pred-probs"])
    assert result["flagged_rows"] == (np.flatnonzero(det.outliers_) + 1).tolist()
    assert noisy[np.array(result["flagged_rows"]) - 1].mean() >= 0.8


@pytest.mark.parametrize("bad_row, message", [
    ("a,0.9,0.3", "row 3 of {path} has probabilities that do not sum to 1"),
    ("a,-0.5,1.5", "row 3 of {path} has a negative probability"),
    (",0.5,0.5", "row 3 of {path} has no value in column 'label'"),
])
def test_pred_probs_errors_name_the_rows(tmp_path, capsys, bad_row, message):
    rows = ["a,0.7,0.3", "b,0.2,0.8", bad_row, "a,0.6,0.4", "b,0.1,0.9", "b,0.3,0.7"]
    path = tmp_path / "p.csv"
    path.write_text("label,a,b\n" + "\n".join(rows) + "\n")
    assert main(["labels", str(path), "--label", "label", "--pred-probs"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"sparsestat labels: error: {message.format(path=path)}")
    assert len(err.splitlines()) == 1


def test_pred_probs_columns_must_be_named_after_the_classes(tmp_path, capsys):
    path = _write(tmp_path / "p.csv", ["label", "p0", "p1"], [["a", "0.5", "0.5"],
                                                              ["b", "0.5", "0.5"]] * 3)
    assert main(["labels", path, "--label", "label", "--pred-probs"]) == 2
    err = capsys.readouterr().err
    assert "name one probability column after each class" in err and "no column for 'a'" in err


def test_show_zero_and_csv_output(blobs, tmp_path, capsys):
    X, labels, _ = blobs
    path = _features_csv(tmp_path / "d.csv", X, labels)
    out = tmp_path / "flagged.csv"
    assert main(["labels", path, "--label", "label", "--show", "0", "-o", str(out)]) == 0
    text = capsys.readouterr().out.splitlines()
    assert len(text) == 2 and "rows flagged as likely mislabeled" in text[0]
    assert text[1] == f"csv result written to {out}"
    table = list(csv.DictReader(io.StringIO(out.read_text())))
    assert int(text[0].split()[0]) == len(table) > 0
    assert list(table[0]) == ["row", "label", "suggested_label", "margin",
                              "neighbour_disagreement", "entry_time"]


def test_subprocess_text(blobs, tmp_path):
    X, labels, _ = blobs
    path = _features_csv(tmp_path / "d.csv", X, labels)
    det = NoisyLabelDetector(random_state=0).fit(X, labels)
    proc = subprocess.run([sys.executable, "-m", "sparsestat", "labels", path, "--label",
                           "label", "--show", "1000"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"{int(det.outliers_.sum())} of 400 rows flagged")
    rows = sorted(int(line.split()[0]) for line in lines[2:])
    assert rows == (np.flatnonzero(det.outliers_) + 1).tolist()
