"""The ``sparsestat outliers`` command: output on stackloss, and bad input (exit 2)."""

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from sparsestat.cli import main
from sparsestat.datasets import load_stackloss


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


@pytest.fixture
def stackloss_csv(tmp_path):
    data = load_stackloss()
    rows = [[y, *x] for x, y in zip(data.data, data.target)]
    return _write_csv(tmp_path / "stack.csv", [data.target_name, *data.feature_names], rows)


def _flagged_rows(stdout):
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == ["row"])
    width = len(lines[start].split())
    out = []
    for line in lines[start + 1:]:
        parts = line.split()
        if len(parts) != width or not parts[0].isdigit():
            break
        out.append(int(parts[0]))
    return out


def test_stackloss_rows_output_and_plot(stackloss_csv, tmp_path, capsys):
    out_csv = tmp_path / "flagged.csv"
    png = tmp_path / "path.png"
    args = ["outliers", stackloss_csv, "--target", "STACKLOSS", "--output", str(out_csv)]
    pytest.importorskip("matplotlib")
    args += ["--plot", str(png)]
    assert main(args) == 0
    stdout = capsys.readouterr().out
    assert sorted(_flagged_rows(stdout)) == [1, 3, 4, 21]
    assert "4 of 21 rows flagged" in stdout
    with open(out_csv) as fh:
        table = list(csv.DictReader(fh))
    assert sorted(int(r["row"]) for r in table) == [1, 3, 4, 21]
    data = load_stackloss()
    for r in table:
        i = int(r["row"]) - 1
        assert float(r["STACKLOSS"]) == data.target[i]
        assert float(r["AIRFLOW"]) == data.data[i, 0]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_features_subset_and_contamination_fraction(stackloss_csv, capsys):
    # without ACIDCONC some days repeat exactly: fitted, with one warning line on stderr
    # (as MeanShiftOutlierDetector's duplicates='warn'), refused with --duplicates raise
    args = ["outliers", stackloss_csv, "--target", "STACKLOSS", "--features",
            "AIRFLOW,WATERTEMP", "--contamination", "0.1"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("sparsestat outliers: warning: ")
    assert "row 11 repeats row 10" in err and "--duplicates keep" in err
    assert len(_flagged_rows(out)) == 3  # ceil(0.1 * 21)
    assert "*ACIDCONC" not in out and "*AIRFLOW" in out
    assert main(args + ["--duplicates", "keep"]) == 0
    kept, err = capsys.readouterr()
    assert err == "" and _flagged_rows(kept) == _flagged_rows(out)
    _assert_clean_error(capsys, args + ["--duplicates", "raise"], "pass --duplicates keep")


def _assert_clean_error(capsys, args, match, output=None):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert match in err
    if output is not None:
        assert not output.exists()
        assert not list(output.parent.glob(f".{output.name}*"))


def test_missing_target_column(stackloss_csv, tmp_path, capsys):
    out = tmp_path / "flagged.csv"
    _assert_clean_error(capsys, ["outliers", stackloss_csv, "--target", "LOSS",
                                 "--output", str(out)], "target column 'LOSS' not in", out)


def test_non_numeric_target_column(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = [[f"day{i}", *rng.standard_normal(2)] for i in range(30)]
    path = _write_csv(tmp_path / "d.csv", ["y", "a", "b"], rows)
    out = tmp_path / "flagged.csv"
    _assert_clean_error(capsys, ["outliers", path, "--target", "y", "--output", str(out)],
                        "column 'y' of", out)


def test_empty_cell_and_nan(tmp_path, capsys):
    rng = np.random.default_rng(1)
    rows = [[*rng.standard_normal(3)] for _ in range(30)]
    rows[4][1] = ""
    path = _write_csv(tmp_path / "d.csv", ["y", "a", "b"], rows)
    _assert_clean_error(capsys, ["outliers", path, "--target", "y"],
                        f"row 5 of {path} has no value in column 'a'")
    rows[4][1] = "nan"
    path = _write_csv(tmp_path / "e.csv", ["y", "a", "b"], rows)
    _assert_clean_error(capsys, ["outliers", path, "--target", "y"], "NaN or inf")


@pytest.mark.parametrize("value", ["0.7", "0", "lots"])
def test_bad_contamination(stackloss_csv, tmp_path, capsys, value):
    out = tmp_path / "flagged.csv"
    _assert_clean_error(capsys, ["outliers", stackloss_csv, "--target", "STACKLOSS",
                                 "--contamination", value, "--output", str(out)],
                        "--contamination", out)


def test_model_errors_are_one_line(tmp_path, capsys):
    rng = np.random.default_rng(2)
    few = [[*rng.standard_normal(4)] for _ in range(4)]
    path = _write_csv(tmp_path / "few.csv", ["y", "a", "b", "c"], few)
    out = tmp_path / "flagged.csv"
    _assert_clean_error(capsys, ["outliers", path, "--target", "y", "--output", str(out)],
                        "needs at least 6 samples for 3 features", out)
    const = [[1.0, *rng.standard_normal(2)] for _ in range(30)]
    path = _write_csv(tmp_path / "const.csv", ["y", "a", "b"], const)
    _assert_clean_error(capsys, ["outliers", path, "--target", "y"], "y is constant")
    dup = [[*rng.standard_normal(3)] for _ in range(30)]
    dup.append(list(dup[3]))
    path = _write_csv(tmp_path / "dup.csv", ["y", "a", "b"], dup)
    _assert_clean_error(capsys, ["outliers", path, "--target", "y", "--output", str(out),
                                 "--duplicates", "raise"], "row 31 repeats row 4", out)


def test_missing_output_folder(stackloss_csv, tmp_path, capsys):
    _assert_clean_error(capsys, ["outliers", stackloss_csv, "--target", "STACKLOSS",
                                 "--output", str(tmp_path / "nope" / "f.csv")],
                        "does not exist")


def test_demo_flags_documented_rows(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from sparsestat.robust._demo import run_demo

    run_demo(tmp_path)
    stdout = capsys.readouterr().out
    assert "flagged days (1-based): [1, 3, 4, 21]" in stdout
    assert (tmp_path / "outliers_path.png").exists()


def test_noise_df_option_reaches_the_detector(tmp_path, capsys):
    # t(2) noise: the normal cutoff flags its tails, the t cutoff almost none
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 2))
    y = X @ [1.0, -2.0] + rng.standard_t(2, 300)
    path = _write_csv(tmp_path / "heavy.csv", ["y", "a", "b"],
                      [[yi, *xi] for xi, yi in zip(X, y)])
    assert main(["outliers", path, "--target", "y"]) == 0
    normal = capsys.readouterr().out
    assert main(["outliers", path, "--target", "y", "--noise-df", "2"]) == 0
    heavy = capsys.readouterr().out
    assert "t noise with 2 df" in heavy and "t noise" not in normal
    from sparsestat import MeanShiftOutlierDetector

    n_normal = MeanShiftOutlierDetector(random_state=0).fit(X, y).n_outliers_
    n_heavy = MeanShiftOutlierDetector(random_state=0, noise_df=2.0).fit(X, y).n_outliers_
    assert f"{n_normal} of 300 rows flagged" in normal
    assert f"{n_heavy} of 300 rows flagged" in heavy
    assert n_heavy < n_normal


@pytest.mark.parametrize("value", ["0", "-3", "many", "nan"])
def test_bad_noise_df(stackloss_csv, tmp_path, capsys, value):
    out = tmp_path / "flagged.csv"
    _assert_clean_error(capsys, ["outliers", stackloss_csv, "--target", "STACKLOSS",
                                 "--noise-df", value, "--output", str(out)],
                        "--noise-df", out)


def _json(capsys, args):
    assert main(args + ["--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_matches_the_detector(stackloss_csv, capsys):
    from sparsestat import MeanShiftOutlierDetector

    X, y = load_stackloss(return_X_y=True)
    det = MeanShiftOutlierDetector(random_state=0).fit(X, y)
    # the rows documented for stackloss (1-based), in the estimator's own row numbers
    assert det.outlier_rows_.tolist() == [1, 3, 4, 21]
    assert det.outlier_rows_.tolist() == (np.flatnonzero(det.outliers_) + 1).tolist()
    result = _json(capsys, ["outliers", stackloss_csv, "--target", "STACKLOSS"])
    assert result["flagged_rows"] == det.outlier_rows_.tolist()
    assert result["n_flagged"] == 4 and result["n_rows"] == 21
    for row in result["flagged"]:
        i = row["row"] - 1
        assert row["STACKLOSS"] == y[i] and row["ACIDCONC"] == X[i, 2]
        assert row["gamma"] == pytest.approx(det.gamma_[i], rel=1e-12)
    assert result["coef"]["AIRFLOW"] == pytest.approx(det.coef_[0], rel=1e-12)


def test_row_numbers_follow_the_rows(tmp_path, capsys):
    # permuting the rows of the file permutes the flagged row numbers, and blank lines
    # are not rows: the same answer in the file's own row numbers
    data = load_stackloss()
    rows = [[y, *x] for x, y in zip(data.data, data.target)]
    header = [data.target_name, *data.feature_names]
    perm = np.random.default_rng(3).permutation(len(rows))
    path = _write_csv(tmp_path / "perm.csv", header, [rows[i] for i in perm])
    result = _json(capsys, ["outliers", path, "--target", "STACKLOSS"])
    flagged = sorted(int(perm[r - 1]) + 1 for r in result["flagged_rows"])
    assert flagged == [1, 3, 4, 21]
    text = "\n\n".join(",".join(map(str, r)) for r in [header, *rows]) + "\n\n"
    blank = tmp_path / "blank.csv"
    blank.write_text(text, encoding="utf-8-sig")       # a BOM as Excel writes it, too
    assert _json(capsys, ["outliers", str(blank), "--target", "STACKLOSS"])["flagged_rows"] \
        == [1, 3, 4, 21]


@pytest.mark.parametrize("scale", [1e-8, 1e8])
def test_rescaled_target_flags_the_same_rows(tmp_path, capsys, scale):
    data = load_stackloss()
    rows = [[y * scale, *x] for x, y in zip(data.data, data.target)]
    path = _write_csv(tmp_path / "s.csv", [data.target_name, *data.feature_names], rows)
    result = _json(capsys, ["outliers", path, "--target", "STACKLOSS"])
    assert result["flagged_rows"] == [1, 3, 4, 21]
    assert result["scale"] == pytest.approx(1.253 * scale, rel=1e-3)


def test_show_zero_prints_the_summary_only(stackloss_csv, capsys):
    assert main(["outliers", stackloss_csv, "--target", "STACKLOSS", "--show", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("4 of 21 rows flagged as outliers")


def test_subprocess_reads_standard_input(stackloss_csv):
    from sparsestat import MeanShiftOutlierDetector

    X, y = load_stackloss(return_X_y=True)
    det = MeanShiftOutlierDetector(random_state=0, solver="iss").fit(X, y)
    with open(stackloss_csv, "rb") as fh:
        proc = subprocess.run([sys.executable, "-m", "sparsestat", "outliers", "-", "--target",
                               "STACKLOSS", "--solver", "iss", "--format", "csv"],
                              stdin=fh, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
    table = list(csv.DictReader(io.StringIO(proc.stdout.decode())))
    assert [int(r["row"]) for r in table] == [int(i) + 1 for i in np.flatnonzero(
        det.outliers_)[np.argsort(det.entry_times_[det.outliers_], kind="stable")]]
    assert [float(r["gamma"]) for r in table] == pytest.approx(
        [det.gamma_[int(r["row"]) - 1] for r in table], rel=1e-12)
