"""The ``sparsestat`` command line: version and demo."""

import contextlib
import io
import re
import subprocess
import sys
from importlib.metadata import version
from importlib.util import find_spec

import numpy as np
import pytest

import sparsestat
from sparsestat.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Run ``sparsestat demo`` once; ``(output folder, printed text)``."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    out = tmp_path_factory.mktemp("demo") / "figures"  # created by the demo
    torch_state = _torch_state()
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        status = main(["demo", "--output-dir", str(out)])
    assert status == 0
    return out, text.getvalue(), torch_state, _torch_state()


def _torch_state():
    """Torch's thread count and global RNG state (None without torch)."""
    if find_spec("torch") is None:
        return None
    import torch

    return torch.get_num_threads(), torch.random.get_rng_state().clone()


def section(text: str, title: str) -> str:
    """The printed lines of the demo section whose title starts with ``title``."""
    match = re.search(rf"^== {re.escape(title)}[^\n]*==\n(.*?)(?=^== |\Z)", text, re.S | re.M)
    assert match, f"no demo section {title!r} in:\n{text}"
    return match.group(1)


def assert_valid_png(path):
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 200
    assert np.ptp(image[..., :3]) > 0.5  # not a blank canvas


def test_demo_writes_every_figure(demo):
    out, text = demo[:2]
    expected = {"paths.png", "ranking_outlier_path.png", "outliers_path.png", "knockoffs.png"}
    if find_spec("torch") is not None:
        expected.add("dessilbi.png")
    written = {p.name for p in out.glob("*.png")}
    assert expected <= written, sorted(expected - written)
    for name in written:
        assert_valid_png(out / name)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left over
    assert str(out.resolve()) in text.splitlines()[0]  # says where the figures go
    assert f"Figures written to {out.resolve()}" in text


def test_demo_paths_entry_order_matches_lars(demo):
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import lars_path

    # the first feature of the printed entry order is the one LARS activates first
    # (both paths start where |x_j^T (y - mean y)| is largest)
    text = section(demo[1], "Sparse regression paths")
    match = re.search(r"entry order:\s+([^\n(]+)", text)
    assert match, text
    printed = [name.strip() for name in match.group(1).split(",")]
    data = load_diabetes()
    X = (data.data - data.data.mean(0)) / data.data.std(0)
    _, active, _ = lars_path(X, data.target - data.target.mean(), method="lasso")
    assert printed[0] == data.feature_names[active[0]]
    assert sorted(printed) == sorted(set(printed))  # each feature listed once


def _int_list(text: str, label: str) -> set:
    match = re.search(rf"{label}:\s+\[([^\]]*)\]", text)
    assert match, text
    return {int(v) for v in match.group(1).split(",") if v.strip()}


def test_demo_knockoffs_finds_the_model_and_keeps_the_fdr(demo):
    text = section(demo[1], "Knockoffs")
    true, selected = _int_list(text, "true features"), _int_list(text, "selected features")
    assert len(true) == 10
    assert true <= selected  # strong signal: every feature of the model is found
    match = re.search(r"mean false discovery proportion knockoffs ([\d.]+) \(target <= ([\d.]+)\), "
                      r"LassoCV ([\d.]+)", text)
    assert match, text
    fdp_knockoffs, target, fdp_lasso = map(float, match.groups())
    # knockoff+ guarantees E[FDP] <= 0.1; 20 draws give a standard error near 0.02
    assert target == 0.1
    assert fdp_knockoffs <= target + 0.08
    # cross-validated lasso tunes for prediction and lets many null features in
    assert fdp_lasso > fdp_knockoffs + 0.2


def test_demo_dessilbi_trains_a_sparse_network(demo):
    pytest.importorskip("torch")
    text = section(demo[1], "DessiLBI")
    match = re.search(r"support of Gamma: ([\d.]+)% of the penalized weights", text)
    assert match, text
    kept = float(match.group(1)) / 100
    assert 0.02 < kept < 0.9  # sparse, not empty
    match = re.search(r"sparse W\* \(W on the support\) ([\d.]+)", text)
    assert match, text
    assert float(match.group(1)) > 0.8  # chance is 0.1 on ten classes
    # a pixel that is 0 in every image gets no gradient, so its weights never enter the support
    assert re.search(r"always-blank pixels among them: yes", text), text
    # the section seeds torch and uses one thread, and leaves the caller's settings as they were
    (threads_before, rng_before), (threads_after, rng_after) = demo[2], demo[3]
    assert threads_after == threads_before
    assert bool((rng_after == rng_before).all())


def test_demo_dessilbi_without_torch_says_how_to_install(tmp_path, monkeypatch, capsys):
    from sparsestat import _demo_dessilbi

    monkeypatch.setitem(sys.modules, "torch", None)  # "import torch" now fails
    _demo_dessilbi.run_demo(tmp_path)
    out = capsys.readouterr().out
    assert 'pip install "sparsestat[torch]"' in out
    assert len(out.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_demo_output_dir_that_is_a_file_exits_2(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("not a folder")
    assert main(["demo", "--output-dir", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a folder" in err[0]
    assert target.read_text() == "not a folder"
