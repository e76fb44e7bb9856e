"""Dask: the optional extra stays unimported, joblib loops on a LocalCluster give the local
results, the out-of-core mean-shift fit matches the in-memory one."""

import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest
from scipy import stats

import sparsestat
from sparsestat import LBIRegressorCV, MeanShiftOutlierDetector
from sparsestat.robust import NoisyLabelDetector, auto_cutoff

ROOT = Path(sparsestat.__file__).resolve().parents[1]


def test_import_sparsestat_never_imports_dask():
    code = textwrap.dedent("""
        import sys
        import sparsestat, sparsestat.robust, sparsestat.linear_model
        import sparsestat.feature_selection, sparsestat.semi_supervised, sparsestat.ranking
        from sparsestat.robust._mean_shift import MeanShiftOutlierDetector
        print(sorted(m for m in sys.modules if m == "dask" or m.startswith(("dask.",
                                                                           "distributed"))))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"


da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


@pytest.fixture(autouse=True)
def _one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


# --------------------------------------------------------------------------- out of core
def _design(n, p, K=1, n_out=0, n_lev=0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.1, 10.0, p) + rng.normal(0, 5, p)
    B = rng.standard_normal((p, K))
    Y = X @ B + 3.0 + rng.standard_normal((n, K)) * rng.uniform(0.5, 2.0, K)
    Y[:n_out] += 10.0 * np.sign(rng.standard_normal((n_out, K))) * Y.std(axis=0)
    # bad leverage points: far out in x, on a different plane
    X[n_out:n_out + n_lev] += 8.0 * X.std(axis=0)
    Y[n_out:n_out + n_lev] = rng.normal(0, 1, (n_lev, K))
    return X, (Y[:, 0] if K == 1 else Y)


def _dask_fit(det, X, y, chunk):
    return det.fit(da.from_array(X, chunks=(chunk, -1)),
                   da.from_array(y, chunks=(chunk,) + y.shape[1:]))


@pytest.mark.parametrize("n, p, K, n_out, n_lev, chunk, intercept", [
    (997, 4, 1, 20, 5, 150, True),      # vertical and leverage outliers, ragged chunks
    (203, 2, 2, 8, 0, 64, True),        # two targets (row-group shifts)
    (301, 6, 1, 0, 0, 77, True),        # clean data
    (450, 3, 1, 12, 4, 101, False),     # no intercept
])
def test_dask_fit_equals_in_memory_fit(n, p, K, n_out, n_lev, chunk, intercept):
    import dask

    X, y = _design(n, p, K, n_out, n_lev, seed=n)
    ref = MeanShiftOutlierDetector(random_state=0, fit_intercept=intercept).fit(X, y)
    with dask.config.set(scheduler="synchronous"):
        det = _dask_fit(MeanShiftOutlierDetector(random_state=0, fit_intercept=intercept),
                        X, y, chunk)
        flags = det.outliers_.compute()
        gamma = det.gamma_.compute()
        entry = det.entry_times_.compute()
    np.testing.assert_array_equal(flags, ref.outliers_)
    assert det.n_outliers_ == ref.n_outliers_
    if n_out:
        assert flags[:n_out + n_lev].all()
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(det.coef_, ref.coef_, rtol=1e-8, atol=1e-8 * scale)
    np.testing.assert_allclose(det.intercept_, ref.intercept_, rtol=1e-8, atol=1e-8 * scale)
    np.testing.assert_allclose(det.scale_, ref.scale_, rtol=1e-8)
    np.testing.assert_allclose(gamma, ref.gamma_, rtol=1e-8, atol=1e-8 * np.abs(y).max())
    assert det.cutoff_ == ref.cutoff_
    _assert_same_path(det, ref, entry, K)


def _assert_same_path(det, ref, entry, K):
    """The path over the chunks is the in-memory path, restricted to the rows that enter."""
    entered = np.isfinite(ref.entry_times_)
    np.testing.assert_array_equal(np.isfinite(entry), entered)
    np.testing.assert_allclose(entry[entered], ref.entry_times_[entered], rtol=1e-8)
    # the flagged rows and the rows that enter come first in the in-memory ranking
    shown = entered | ref.outliers_
    assert det.ranking_.size == shown.sum()
    np.testing.assert_array_equal(det.ranking_, ref.ranking_[:shown.sum()])
    path, full = det.regularization_path_, ref.regularization_path_
    rows = path.info["rows"]
    np.testing.assert_array_equal(rows, np.flatnonzero(entered))
    np.testing.assert_allclose(path.times, full.times, rtol=1e-12)
    cols = (rows[:, None] * K + np.arange(K)).ravel()
    expected = full.coefs[:, cols].toarray()
    np.testing.assert_allclose(path.coefs.toarray(), expected, rtol=0,
                               atol=1e-8 * np.abs(expected).max())
    t = 0.5 * (full.times[10] + full.times[11])
    np.testing.assert_allclose(path.coef_at(t), np.asarray(full.coef_at(t))[rows],
                               atol=1e-8 * np.abs(expected).max())
    assert det.n_iter_ == ref.n_iter_
    assert det.stop_time_ == pytest.approx(ref.stop_time_, rel=1e-12)


def _brute_force_test(X, y, flagged, cutoff):
    """Each row's deletion statistic over its cutoff against the fit without ``flagged``."""
    A = np.column_stack([np.ones(len(y)), X])
    keep = ~flagged
    coef, *_ = np.linalg.lstsq(A[keep], y[keep], rcond=None)
    e = y - A @ coef
    hat = np.einsum("ij,jk,ik->i", A, np.linalg.inv(A[keep].T @ A[keep]), A)
    sse = np.sum(e[keep] ** 2)
    dof = keep.sum() - A.shape[1]
    tail = stats.chi2.sf(cutoff ** 2, 1)
    u = np.where(keep, e ** 2 / (1 - hat), e ** 2 / (1 + hat))
    s2 = np.where(keep, (sse - u) / (dof - 1), sse / dof)
    own = np.where(keep, dof - 1, dof)
    return np.sqrt(u / s2) / np.sqrt(stats.f.isf(tail, 1, own)), coef


def test_sample_start_then_chunk_passes_reach_the_deletion_fixed_point(monkeypatch):
    import dask

    from sparsestat import _dask

    # the robust start sees 400 of 3000 rows; the chunk passes decide on all of them
    monkeypatch.setattr(_dask, "SAMPLE_SIZE", 400)
    X, y = _design(3000, 3, n_out=90, n_lev=15, seed=7)
    with dask.config.set(scheduler="synchronous"):
        det = _dask_fit(MeanShiftOutlierDetector(random_state=0), X, y, 512)
        flags = det.outliers_.compute()
    ratio, coef = _brute_force_test(X, y, flags, auto_cutoff(len(y)))
    # a fixed point: flagged rows beyond their cutoff, kept rows within it
    np.testing.assert_array_equal(flags, ratio >= 1.0)
    assert flags[:105].all()
    assert flags[105:].sum() <= 3
    np.testing.assert_allclose(det.intercept_, coef[0], rtol=1e-8)
    np.testing.assert_allclose(det.coef_, coef[1:], rtol=1e-8, atol=1e-10)


def test_full_path_from_a_sample_is_the_path_of_all_rows(monkeypatch):
    import dask

    from sparsestat import _dask
    from sparsestat._engine import projected_shift_path
    from sparsestat.robust._linalg import thin_basis
    from sparsestat.robust._mean_shift import _robust_dual

    monkeypatch.setattr(_dask, "SAMPLE_SIZE", 400)
    n = 3000
    X, y = _design(n, 3, n_out=90, n_lev=15, seed=11)
    # a start written here: least squares on the clean rows, in the units of y
    A = np.column_stack([np.ones(n), X])
    beta, *_ = np.linalg.lstsq(A[105:], y[105:], rcond=None)
    start = _dask._Start(beta[None, 1:], beta[:1], np.ones(1))
    monkeypatch.setattr(_dask, "_sample_start", lambda det, xs, ys: start)
    with dask.config.set(scheduler="synchronous"):
        det = _dask_fit(MeanShiftOutlierDetector(random_state=0), X, y, 512)
        flags = det.outliers_.compute()
        entry = det.entry_times_.compute()
        today = _dask_fit(MeanShiftOutlierDetector(random_state=0, dask_path="sample"),
                          X, y, 512)
        np.testing.assert_array_equal(today.outliers_.compute(), flags)
    assert not hasattr(today, "entry_times_")
    # the reference: the engine's path on all rows at once, with the scale of the inliers
    coef, *_ = np.linalg.lstsq(A[~flags], y[~flags], rcond=None)
    sigma = np.sqrt(np.sum((y - A @ coef)[~flags] ** 2) / ((~flags).sum() - 4))
    Q = thin_basis(X).Q
    omega = np.sqrt(1.0 - np.sum(Q ** 2, axis=1))
    c = auto_cutoff(n)
    Yt = (y / sigma)[:, None]
    U = ((y - A @ beta) / sigma)[:, None]
    t_star = n / c
    grid = t_star / 2 * np.geomspace(1.0 + 1e-9, 4.0, 100)
    ref = projected_shift_path(Q, Yt, weights=omega, times=grid, max_active=n // 2,
                               z_start=_robust_dual(Q, Yt, U, omega, c, 100.0),
                               t_start=t_star / 2)
    expected = ref.entry_times[:, 0]
    entered = np.isfinite(expected)
    assert entered.sum() > 105
    np.testing.assert_array_equal(np.isfinite(entry), entered)
    np.testing.assert_allclose(entry[entered], expected[entered], rtol=1e-8)
    rows = det.regularization_path_.info["rows"]
    np.testing.assert_allclose(det.regularization_path_.coefs.toarray(),
                               sigma * ref.coefs[:, rows].toarray(), atol=1e-8 * np.abs(y).max())
    # the planted rows enter by t* = n / c, the stopping time
    assert np.all(entry[:105] <= det.stop_time_)


def test_dask_fit_moves_with_the_units_of_y():
    import dask

    X, y = _design(400, 3, n_out=10, seed=3)
    with dask.config.set(scheduler="synchronous"):
        base = _dask_fit(MeanShiftOutlierDetector(random_state=0), X, y, 128)
        flags = base.outliers_.compute()
        entry = base.entry_times_.compute()
        for c, d in [(1e-8, 5e-7), (1e8, -3e9)]:
            moved = _dask_fit(MeanShiftOutlierDetector(random_state=0), X, c * y + d, 128)
            np.testing.assert_array_equal(moved.outliers_.compute(), flags)
            np.testing.assert_allclose(moved.coef_, c * base.coef_, rtol=1e-7)
            np.testing.assert_allclose(moved.intercept_, c * base.intercept_ + d, rtol=1e-7)
            # the path runs in units of the scale: its times do not move, its shifts scale
            np.testing.assert_allclose(moved.entry_times_.compute(), entry, rtol=1e-7)
            np.testing.assert_array_equal(moved.ranking_, base.ranking_)
            np.testing.assert_allclose(moved.regularization_path_.coefs.toarray(),
                                       c * base.regularization_path_.coefs.toarray(),
                                       rtol=1e-6, atol=1e-9 * c * np.abs(y).max())


def test_dask_path_follows_a_permutation_of_the_rows():
    import dask

    X, y = _design(500, 3, n_out=15, n_lev=5, seed=8)
    perm = np.random.default_rng(1).permutation(500)
    with dask.config.set(scheduler="synchronous"):
        base = _dask_fit(MeanShiftOutlierDetector(random_state=0), X, y, 128)
        moved = _dask_fit(MeanShiftOutlierDetector(random_state=0), X[perm], y[perm], 93)
        entry, moved_entry = base.entry_times_.compute(), moved.entry_times_.compute()
        np.testing.assert_array_equal(moved.outliers_.compute(), base.outliers_.compute()[perm])
    np.testing.assert_allclose(moved_entry, entry[perm], rtol=1e-8)
    np.testing.assert_array_equal(perm[moved.ranking_], base.ranking_)
    np.testing.assert_array_equal(np.sort(perm[moved.regularization_path_.info["rows"]]),
                                  base.regularization_path_.info["rows"])


def test_dask_input_errors():
    X, y = _design(100, 2, seed=1)
    Xd = da.from_array(X, chunks=(30, -1))
    bad = X.copy()
    bad[7, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        MeanShiftOutlierDetector().fit(da.from_array(bad, chunks=(30, -1)), y)
    with pytest.raises(ValueError, match="contamination='auto' only"):
        MeanShiftOutlierDetector(contamination=0.1).fit(Xd, y)
    with pytest.raises(ValueError, match="solver='lbi' only"):
        MeanShiftOutlierDetector(solver="iss").fit(Xd, y)
    with pytest.raises(ValueError, match="rank deficient"):
        MeanShiftOutlierDetector().fit(da.from_array(np.column_stack([X, 2 * X[:, 0]]),
                                                     chunks=(30, -1)), y)
    with pytest.raises(ValueError, match="100 rows and y 99"):
        MeanShiftOutlierDetector().fit(Xd, y[:99])
    with pytest.raises(ValueError, match="unknown size"):
        MeanShiftOutlierDetector().fit(Xd[Xd[:, 0] > 0], y)


# --------------------------------------------------------------------------- joblib on dask
@pytest.fixture(scope="module", params=[False, True], ids=["threads", "processes"])
def client(request):
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                       processes=request.param, dashboard_address=None)
    with distributed.Client(cluster) as client:
        # the workers run this checkout's code
        files = client.run(lambda: __import__("sparsestat").__file__)
        assert set(files.values()) == {sparsestat.__file__}
        yield client
    cluster.close()


def _on_dask(fit):
    with joblib.parallel_config(backend="dask"):
        return fit()


@pytest.fixture
def scattered(client, monkeypatch):
    """Shapes of the arrays the joblib backend scatters to the cluster."""
    shapes = []
    scatter = client.scatter

    def counting_scatter(data, *args, **kwargs):
        shapes.append(getattr(data, "shape", None))
        return scatter(data, *args, **kwargs)

    monkeypatch.setattr(client, "scatter", counting_scatter)
    return shapes


def test_cv_folds_on_dask_equal_local(client, scattered):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 30))
    y = X[:, :4] @ [3.0, -2.0, 1.5, 1.0] + rng.standard_normal(200)
    local = LBIRegressorCV(cv=4, n_jobs=1).fit(X, y)
    remote = _on_dask(lambda: LBIRegressorCV(cv=4, n_jobs=-1).fit(X, y))
    np.testing.assert_array_equal(remote.cv_scores_, local.cv_scores_)
    np.testing.assert_array_equal(remote.coef_, local.coef_)
    # X is sent to the cluster once for the four folds, not pickled into each task
    assert scattered.count(X.shape) == 1


def test_noisy_label_pieces_on_dask_equal_local(client, scattered):
    from sklearn.datasets import make_classification

    from sparsestat.datasets import make_noisy_labels

    X, y = make_classification(600, 10, n_informative=6, n_redundant=0, n_classes=3,
                               class_sep=2.0, random_state=0)
    y_noisy, _ = make_noisy_labels(y, 0.2, random_state=1)
    local = NoisyLabelDetector(random_state=0, n_jobs=1).fit(X, y_noisy)
    # n_jobs=None: the cluster's two workers decide, four tasks of pieces each
    remote = _on_dask(lambda: NoisyLabelDetector(random_state=0).fit(X, y_noisy))
    np.testing.assert_array_equal(remote.entry_times_, local.entry_times_)
    np.testing.assert_array_equal(remote.pieces_, local.pieces_)
    np.testing.assert_array_equal(remote.outliers_, local.outliers_)
    n_tasks = min(int(local.pieces_.max()) + 1, 8)
    assert sum(s is not None and len(s) == 2 and s[1] == 10 for s in scattered) >= n_tasks


def test_noisy_label_neighbour_blocks_on_dask_with_n_jobs(client):
    # the neighbour search fills shared arrays from threads: it stays in this process
    from sklearn.datasets import make_classification

    from sparsestat.datasets import make_noisy_labels

    X, y = make_classification(2500, 10, n_informative=6, n_redundant=0, n_classes=3,
                               class_sep=2.0, random_state=0)
    y_noisy, _ = make_noisy_labels(y, 0.2, random_state=1)
    local = NoisyLabelDetector(random_state=0, n_jobs=1).fit(X, y_noisy)
    remote = _on_dask(lambda: NoisyLabelDetector(random_state=0, n_jobs=2).fit(X, y_noisy))
    np.testing.assert_array_equal(remote.neighbour_disagreement_,
                                  local.neighbour_disagreement_)


def test_knockoff_draws_on_dask_equal_local(client, scattered):
    from sparsestat.feature_selection import KnockoffSelector

    rng = np.random.default_rng(2)
    X = rng.standard_normal((150, 20))
    y = X[:, :8] @ np.full(8, 1.5) + rng.standard_normal(150)
    local = KnockoffSelector(fdr=0.2, n_draws=3, random_state=0, n_jobs=1).fit(X, y)
    remote = _on_dask(lambda: KnockoffSelector(fdr=0.2, n_draws=3, random_state=0,
                                               n_jobs=2).fit(X, y))
    np.testing.assert_array_equal(remote.W_, local.W_)
    np.testing.assert_array_equal(remote.support_, local.support_)
    # the standardized features travel once for the three draws
    assert scattered.count(X.shape) == 1


def test_docs_local_cluster_example_runs():
    # the first code block of the dask section of docs/parallel.md, as printed there
    text = (ROOT / "docs" / "parallel.md").read_text(encoding="utf-8")
    section = text[text.index("## Beyond one machine"):]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "docs/parallel.md", "exec"), {})
