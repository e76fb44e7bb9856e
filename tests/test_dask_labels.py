"""NoisyLabelDetector on dask arrays: chunk passes on a LocalCluster give the in-memory fit."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_blobs, make_classification

import sparsestat
from sparsestat.datasets import make_noisy_labels
from sparsestat.robust import NoisyLabelDetector

ROOT = Path(sparsestat.__file__).resolve().parents[1]

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


def test_import_noisy_labels_never_imports_dask():
    code = textwrap.dedent("""
        import sys
        from sparsestat.robust import NoisyLabelDetector
        import sparsestat._dask_labels
        print(sorted(m for m in sys.modules if m.startswith(("dask", "distributed"))))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=None)
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


@pytest.fixture(autouse=True)
def _one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def _blobs(n, p, K, rate, seed):
    X, y = make_blobs(n, n_features=p, centers=K, cluster_std=2.0, random_state=seed)
    y_noisy, _ = make_noisy_labels(y, rate, random_state=seed)
    return X, y_noisy


def _overlapping(n, p, K, rate, seed):
    X, y = make_classification(n, p, n_informative=min(p, 12), n_redundant=0, n_classes=K,
                               n_clusters_per_class=1, class_sep=1.0, random_state=seed)
    y_noisy, _ = make_noisy_labels(y, rate, random_state=seed)
    return X, y_noisy


def _assert_same_fit(det, ref):
    np.testing.assert_array_equal(det.outliers_, ref.outliers_)
    np.testing.assert_array_equal(det.pieces_, ref.pieces_)
    np.testing.assert_array_equal(det.entry_times_, ref.entry_times_)
    np.testing.assert_array_equal(det.suggested_labels_, ref.suggested_labels_)
    np.testing.assert_array_equal(det.neighbour_disagreement_, ref.neighbour_disagreement_)
    # the normal equations are summed chunk by chunk: equal to rounding
    np.testing.assert_allclose(det.margins_, ref.margins_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(det.coef_, ref.coef_, rtol=1e-9, atol=1e-12)
    assert det.noise_rate_ == pytest.approx(ref.noise_rate_, rel=1e-12, abs=1e-15)
    assert det.scale_ == pytest.approx(ref.scale_, rel=1e-9)
    assert det.n_pieces_ == ref.n_pieces_
    assert [g.tolist() for g in det.class_groups_] == [g.tolist() for g in ref.class_groups_]
    assert det.n_features_in_ == ref.n_features_in_


@pytest.mark.parametrize("make, n, p, K, rate, chunk, kw", [
    (_blobs, 2100, 10, 4, 0.1, 333, {}),                       # one class group
    (_overlapping, 3000, 16, 12, 0.2, 701, {"group_size": 5}),  # groups, candidates, a pool
    (_blobs, 517, 3, 2, 0.05, 100, {"contamination": 0.1}),    # two classes, the float rule
    (_overlapping, 1203, 20, 3, 0.0, 1000, {"samples_per_class": 25}),   # clean labels
])
def test_dask_fit_equals_in_memory_fit(client, make, n, p, K, rate, chunk, kw):
    X, y = make(n, p, K, rate, seed=n)
    ref = NoisyLabelDetector(random_state=0, **kw).fit(X, y)
    det = NoisyLabelDetector(random_state=0, **kw).fit(da.from_array(X, chunks=(chunk, -1)), y)
    assert isinstance(det.outliers_, np.ndarray)
    _assert_same_fit(det, ref)
    # the fit's pool and features score new samples as the in-memory fit's do
    np.testing.assert_allclose(det.score_samples(X[:50], y[:50]),
                               ref.score_samples(X[:50], y[:50]))


def test_dask_fit_waves_and_units(client, monkeypatch):
    """Pieces solved in several waves, y as a dask array, X rescaled: the same flags."""
    from sparsestat import _dask_labels

    monkeypatch.setattr(_dask_labels, "WAVE_ROWS", 300)
    X, y = _blobs(1500, 6, 5, 0.15, seed=4)
    ref = NoisyLabelDetector(random_state=3).fit(X, y)
    assert ref.outliers_.sum() > 100
    for scale in (1e-8, 1e8):
        det = NoisyLabelDetector(random_state=3).fit(
            da.from_array(scale * X, chunks=(256, -1)), da.from_array(y, chunks=256))
        np.testing.assert_array_equal(det.outliers_, ref.outliers_)
        # the rows are normalized: the scale of X moves the entry times by rounding only
        np.testing.assert_allclose(det.entry_times_, ref.entry_times_, rtol=1e-10)


def test_dask_constant_column_warns_and_is_ignored():
    import dask

    X, y = _blobs(400, 4, 3, 0.1, seed=2)
    Xc = np.column_stack([X, np.full(len(y), 7.0), np.zeros(len(y))])
    with pytest.warns(UserWarning, match="constant and nonzero"):
        ref = NoisyLabelDetector(random_state=0).fit(Xc, y)
    with dask.config.set(scheduler="synchronous"), \
            pytest.warns(UserWarning, match="constant and nonzero"):
        det = NoisyLabelDetector(random_state=0).fit(da.from_array(Xc, chunks=(150, -1)), y)
    np.testing.assert_array_equal(det.outliers_, ref.outliers_)


def test_dask_input_errors():
    import dask

    X, y = _blobs(200, 4, 3, 0.1, seed=1)
    Xd = da.from_array(X, chunks=(64, -1))
    bad = X.copy()
    bad[5, 2] = np.inf
    with dask.config.set(scheduler="synchronous"):
        with pytest.raises(ValueError, match="NaN or infinity"):
            NoisyLabelDetector().fit(da.from_array(bad, chunks=(64, -1)), y)
        with pytest.raises(ValueError, match="not pred_probs"):
            NoisyLabelDetector().fit(Xd, y, pred_probs=np.full((200, 3), 1 / 3))
        with pytest.raises(ValueError, match="n_jobs must be None or 1"):
            NoisyLabelDetector(n_jobs=2).fit(Xd, y)
        with pytest.raises(ValueError, match="200 rows and y 199"):
            NoisyLabelDetector().fit(Xd, y[:-1])
        with pytest.raises(ValueError, match="unknown size"):
            NoisyLabelDetector().fit(Xd[Xd[:, 0] > 0], y)
        with pytest.raises(ValueError, match="single sample"):
            NoisyLabelDetector().fit(Xd, np.r_[y[:-1], 9])
        with pytest.raises(ValueError, match="Every feature of X is constant"):
            NoisyLabelDetector().fit(da.ones((200, 3), chunks=(64, 3)), y)
        with pytest.raises(ValueError, match="kappa"):
            NoisyLabelDetector(kappa=-1.0).fit(Xd, y)


def test_dask_duplicated_rows_warn_as_in_memory():
    import warnings

    import dask

    X, y = _blobs(600, 5, 3, 0.1, seed=5)
    # rows 0..2 repeated at the end of other chunks, one of them rescaled (the same row
    # after L2 normalization) and one with another label
    Xd = np.vstack([X, X[:3] * [[1.0], [3.0], [1.0]]])
    yd = np.r_[y, y[0], y[1], (y[2] + 1) % 3]
    with pytest.warns(UserWarning, match="3 of the 603 rows of X duplicate") as ref_warn:
        NoisyLabelDetector(random_state=0).fit(Xd, yd)
    with dask.config.set(scheduler="synchronous"), \
            pytest.warns(UserWarning, match="3 of the 603 rows of X duplicate") as dask_warn:
        NoisyLabelDetector(random_state=0).fit(da.from_array(Xd, chunks=(128, -1)), yd)
    duplicate = [str(w.message) for w in dask_warn if "duplicate" in str(w.message)]
    assert duplicate == [str(w.message) for w in ref_warn if "duplicate" in str(w.message)]
    # rows that differ in the last decimal kept are distinct; no warning without repeats
    Xn = np.vstack([X, X[:3] + 1e-6])
    with dask.config.set(scheduler="synchronous"), warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*duplicate")
        NoisyLabelDetector(random_state=0).fit(da.from_array(Xn, chunks=(128, -1)), yd)


def test_row_hashes_are_equal_exactly_for_equal_rows():
    from sparsestat._dask_labels import row_hashes

    rng = np.random.default_rng(0)
    Z = rng.standard_normal((5000, 7))
    Z[4000:] = Z[:1000]                       # repeats
    Z[3000, 0] = -0.0
    Z[3001] = Z[3000] * [1.0, 1, 1, 1, 1, 1, 1]
    Z[3001, 0] = 0.0                          # -0.0 and 0.0 are one value
    h = row_hashes(Z)
    # a split into chunks of any size hashes each row the same
    np.testing.assert_array_equal(np.concatenate([row_hashes(Z[:777]), row_hashes(Z[777:])]),
                                  h)
    assert np.unique(h).size == np.unique(np.round(Z, 12) + 0.0, axis=0).shape[0] == 3999
    # one change in the last kept decimal of one entry changes the hash
    W = Z.copy()
    W[:, 3] += 1e-11
    assert not np.any(row_hashes(W) == h)


def test_dask_too_few_distinct_rows_raise():
    import dask

    X = np.tile([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]], (50, 1))
    y = np.arange(100) % 3
    with pytest.raises(ValueError, match="2 distinct feature vectors") as ref:
        NoisyLabelDetector(random_state=0).fit(X, y)
    with dask.config.set(scheduler="synchronous"), \
            pytest.raises(ValueError, match="2 distinct feature vectors") as got:
        NoisyLabelDetector(random_state=0).fit(da.from_array(X, chunks=(30, -1)), y)
    assert str(got.value) == str(ref.value)
