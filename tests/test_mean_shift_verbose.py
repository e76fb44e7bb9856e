"""MeanShiftOutlierDetector reports its stages when ``verbose`` is set, and only then."""

import re

import numpy as np
import pytest

from sparsestat import MeanShiftOutlierDetector
from sparsestat.datasets import make_outlier_regression


@pytest.fixture(scope="module")
def data():
    X, y = make_outlier_regression(n_samples=400, n_features=5, contamination=0.1,
                                   leverage=0.5, random_state=0)[:2]
    return X, y


def test_verbose_zero_prints_nothing(data, capsys):
    MeanShiftOutlierDetector(random_state=0).fit(*data)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_reports_each_stage_with_its_time(data, capsys):
    quiet = MeanShiftOutlierDetector(random_state=0).fit(*data)
    capsys.readouterr()
    det = MeanShiftOutlierDetector(random_state=0, verbose=1).fit(*data)
    lines = capsys.readouterr().out.strip().splitlines()
    assert all(line.startswith("[MeanShiftOutlierDetector] ") for line in lines), lines
    text = "\n".join(lines)
    stages = ["thin QR basis", "LTS start", "path pass 1", "least squares on the", "total"]
    positions = [text.find(stage) for stage in stages]
    assert -1 not in positions and positions == sorted(positions), text
    # every stage line carries its time, the last one the total
    assert all(re.search(r" in \d+\.\d\d s$", line) for line in lines[:-1]), lines
    assert re.search(r"; total \d+\.\d\d s$", lines[-1]), lines
    # each pass of the path is followed by the deletion test; the passes of a start stop
    # when the flagged set repeats, and the detector's count is one of the tests' counts
    passes = re.findall(r"path pass (\d+)", text)
    tests = [int(m) for m in re.findall(r"deletion test \(\d+ steps\): (\d+) samples flagged",
                                        text)]
    assert len(tests) == len(passes) >= 1
    assert det.n_outliers_ in tests
    assert f"{det.n_outliers_} outliers flagged" in text
    # reporting does not change the fit
    np.testing.assert_array_equal(det.outliers_, quiet.outliers_)
    np.testing.assert_array_equal(det.coef_, quiet.coef_)


def test_verbose_without_robust_start_has_no_lts_stage(data, capsys):
    MeanShiftOutlierDetector(start="none", solver="iss", verbose=1).fit(*data)
    text = capsys.readouterr().out
    assert "LTS start" not in text
    assert "path pass 1 (iss," in text and "knots" in text
