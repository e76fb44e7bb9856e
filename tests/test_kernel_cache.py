"""The numba cache can never serve machine code compiled from older sources.

numba checks only the file that defines a cached function; sparsestat caches
all its kernels in a folder keyed on a hash of every kernel source file, so an
edit of a helper in one module recompiles its callers in others.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import sparsestat
from sparsestat._kernels import _jit

PACKAGE = Path(sparsestat.__file__).resolve().parent

SCRIPT = """
import numpy as np
from sparsestat import _engine
from sparsestat._kernels import _jit
rng = np.random.default_rng(0)
n = 30
Q = np.linalg.qr(np.column_stack([np.ones(n), rng.standard_normal(n)]))[0]
Y = rng.standard_normal((n, 1))
Y[:3] += 6.0
path = _engine.projected_shift_path(Q, Y, n_times=5, t_ratio=3)
print(repr(float(abs(path.coefs.toarray()).sum())), _jit.CACHE_FOLDER)
"""


def _run(root: Path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(root)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=root, check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), Path(out[1])


def test_editing_a_helper_in_another_module_changes_the_result(tmp_path):
    shutil.copytree(PACKAGE, tmp_path / "sparsestat",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    before, folder = _run(tmp_path)
    assert folder.is_relative_to(tmp_path) and folder.exists()
    # projected_lbi_path (in _projected.py) calls the l1 step of _core.py: double its shrink
    core = tmp_path / "sparsestat" / "_kernels" / "_core.py"
    text = core.read_text()
    shrink = "return c * math.copysign(excess, v) + 0.0"
    assert text.count(shrink) == 1
    core.write_text(text.replace(shrink, "return 2.0 * c * math.copysign(excess, v)"))
    after, new_folder = _run(tmp_path)
    assert new_folder != folder and not folder.exists()   # the stale cache is gone
    assert after != before


def test_the_cache_folder_follows_every_kernel_source(tmp_path):
    shutil.copytree(PACKAGE, tmp_path / "sparsestat",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    copy = tmp_path / "sparsestat"
    sources = _jit.kernel_sources(copy)
    names = {p.relative_to(copy).as_posix() for p in sources}
    assert {"_kernels/_lbi.py", "_kernels/_prox.py", "_kernels/_design.py",
            "_kernels/_projected.py", "_kernels/_status.py", "ranking/_graph.py",
            "torch/_fused.py"} <= names
    assert "linear_model/_regressor.py" not in names   # no kernels there
    base = _jit.source_hash(sources)
    for path in sources:
        saved = path.read_text()
        path.write_text(saved + "\n# edited\n")
        assert _jit.source_hash(_jit.kernel_sources(copy)) != base, path
        path.write_text(saved)
    assert _jit.source_hash(_jit.kernel_sources(copy)) == base


def test_concurrent_saves_of_two_signatures_keep_their_own_data(tmp_path, monkeypatch):
    """Two threads save different entries of one function at once: each key must load
    its own data. The pause between reading the index and writing it makes both pick
    the same data file unless the save holds the lock (as numba's own save does)."""
    import threading
    import time

    cache = _jit.LockedIndex(cache_path=str(tmp_path), filename_base="f-1.py311",
                             source_stamp=(0.0, 0))
    load_index = _jit.LockedIndex._load_index

    def slow_load_index(self):
        overloads = load_index(self)
        time.sleep(0.2)
        return overloads

    monkeypatch.setattr(_jit.LockedIndex, "_load_index", slow_load_index)
    threads = [threading.Thread(target=cache.save, args=(key, f"data of {key}"))
               for key in ("sig-a", "sig-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    monkeypatch.undo()
    assert cache.load("sig-a") == "data of sig-a"
    assert cache.load("sig-b") == "data of sig-b"


def test_kernels_use_the_locked_cache():
    from sparsestat._kernels._core import dual_step

    assert isinstance(dual_step, _jit.Kernel)
    assert isinstance(dual_step._cache, _jit.KernelCache)
    assert isinstance(dual_step._cache._cache_file, _jit.LockedIndex)
