"""The ``sparsestat outliers`` command: output on stackloss, and bad input (exit 2)."""

import csv

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
    # without ACIDCONC some days repeat exactly: refused unless asked for
    _assert_clean_error(capsys, ["outliers", stackloss_csv, "--target", "STACKLOSS",
                                 "--features", "AIRFLOW,WATERTEMP"], "--keep-duplicates")
    assert main(["outliers", stackloss_csv, "--target", "STACKLOSS", "--features",
                 "AIRFLOW,WATERTEMP", "--contamination", "0.1", "--keep-duplicates"]) == 0
    stdout = capsys.readouterr().out
    assert len(_flagged_rows(stdout)) == 3  # ceil(0.1 * 21)
    assert "*ACIDCONC" not in stdout and "*AIRFLOW" in stdout


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
    _assert_clean_error(capsys, ["outliers", path, "--target", "y"], "data row 5 has an empty")
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
    _assert_clean_error(capsys, ["outliers", path, "--target", "y", "--output", str(out)],
                        "duplicated", out)


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
