"""The ``sparsestat`` command line: version and demo."""

import re
import subprocess
import sys
from importlib.metadata import version

import numpy as np
import pytest

import sparsestat
from sparsestat.cli import main


def test_version_matches_installed_metadata(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out == f"sparsestat {version('sparsestat')}"
    assert out == f"sparsestat {sparsestat.__version__}"


def test_python_m_sparsestat_version():
    result = subprocess.run([sys.executable, "-m", "sparsestat", "--version"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"sparsestat {sparsestat.__version__}"


def test_demo_writes_paths_figure(tmp_path, capsys):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib.image import imread
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import lars_path

    out = tmp_path / "demo-out"
    assert main(["demo", "--output-dir", str(out)]) == 0
    figure = out / "paths.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(figure)
    assert image.shape[0] > 200 and image.shape[1] > 200
    assert np.ptp(image[..., :3]) > 0.5  # not a blank canvas
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left over

    # the first feature of the printed entry order is the one LARS activates first
    # (both paths start where |x_j^T (y - mean y)| is largest)
    text = capsys.readouterr().out
    match = re.search(r"entry order:\s+([^\n(]+)", text)
    assert match, text
    printed = [name.strip() for name in match.group(1).split(",")]
    data = load_diabetes()
    X = (data.data - data.data.mean(0)) / data.data.std(0)
    _, active, _ = lars_path(X, data.target - data.target.mean(), method="lasso")
    assert printed[0] == data.feature_names[active[0]]
    assert sorted(printed) == sorted(set(printed))  # each feature listed once
