"""A sparse design gives the path of the same design held dense.

Sparse designs of at most 5% nonzeros run LBI's working set on products over the
nonzeros (no Gram block) with the centering applied implicitly; the paths here
are compared with those of the dense array, with a plain-numpy loop, and under a
permutation of the rows, with and without centering, weights and several losses.
"""

import _reference as ref
import numpy as np
import pytest
import scipy.sparse as sp

from sparsestat import _engine


def _sparse_planted(n=60, p=240, density=0.04, k=4, seed=0, noise=0.3):
    """A CSC design with the given density; ``k`` true features among columns with
    at least 3 nonzeros; a nonzero column mean (so that centering matters)."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, format="csc", random_state=rng,
                  data_rvs=lambda m: rng.normal(1.0, 1.0, m))
    beta = np.zeros(p)
    support = rng.choice(np.flatnonzero(np.diff(X.indptr) >= 3), k, replace=False)
    beta[support] = rng.choice([-1.0, 1.0], k) * rng.uniform(1.0, 2.0, k)
    y = X @ beta + noise * rng.standard_normal(n) + 3.0
    return X, y


@pytest.fixture
def working_set(monkeypatch):
    """Make LBI use its working set (no full Gram matrix) on small problems too."""
    monkeypatch.setattr(_engine._design_paths, "_FULL_GRAM_MAX_FEATURES", 0)


def _assert_same_path(a, b, tol=1e-10):
    scale = np.abs(b.coefs).max()
    assert scale > 0
    np.testing.assert_allclose(a.coefs, b.coefs, atol=tol * scale, rtol=0)
    np.testing.assert_allclose(a.intercepts, b.intercepts, atol=tol * max(scale, 1.0), rtol=0)
    finite = np.isfinite(b.entry_times)
    np.testing.assert_array_equal(np.isfinite(a.entry_times), finite)
    np.testing.assert_allclose(a.entry_times[finite], b.entry_times[finite], rtol=tol)
    assert a.n_iter == b.n_iter


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("normalize", [True, False])
def test_squared_working_set_sparse_equals_dense(working_set, fit_intercept, normalize):
    X, y = _sparse_planted(seed=1)
    kw = dict(t_ratio=50, fit_intercept=fit_intercept, normalize=normalize)
    dense = _engine.lbi_path(X.toarray(), y[:, None], **kw)
    sparse = _engine.lbi_path(X, y[:, None], **kw)
    assert np.isfinite(sparse.entry_times).sum() >= 10   # the working set grows
    _assert_same_path(sparse, dense)


def test_squared_sparse_matches_plain_numpy_loop(working_set):
    X, y = _sparse_planted(seed=2)
    kw = dict(kappa=10.0, alpha=0.01, normalize=False)
    path = _engine.lbi_path(X, y[:, None], n_times=30, t_ratio=100, **kw)
    want = ref.design_lbi(X.toarray(), y[:, None], times=path.times, **kw)
    scale = np.abs(want.coefs).max()
    np.testing.assert_allclose(path.coefs, want.coefs, atol=1e-10 * scale, rtol=0)
    finite = np.isfinite(want.entry)
    assert finite.sum() >= 10
    np.testing.assert_array_equal(np.isfinite(path.entry_times), finite)
    np.testing.assert_allclose(path.entry_times[finite], want.entry[finite], rtol=1e-10)
    assert path.n_iter == want.n_iter


def test_multi_output_and_group_penalty_sparse_equals_dense(working_set):
    X, y = _sparse_planted(p=180, seed=3)
    Y = np.column_stack([y, np.roll(y, 5)])
    for kw in (dict(), dict(penalty="group", groups=np.repeat(np.arange(60), 3))):
        dense = _engine.lbi_path(X.toarray(), Y if not kw else y[:, None], t_ratio=30, **kw)
        sparse = _engine.lbi_path(X, Y if not kw else y[:, None], t_ratio=30, **kw)
        _assert_same_path(sparse, dense)


@pytest.mark.parametrize("loss", ["logistic", "huber"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_other_losses_sparse_equal_dense(loss, weighted, fit_intercept):
    X, y = _sparse_planted(p=120, density=0.05, seed=4)
    target = (y > np.median(y)).astype(float) if loss == "logistic" else y
    w = np.random.default_rng(4).uniform(0.5, 2.0, len(y)) if weighted else None
    kw = dict(loss=loss, t_ratio=20, sample_weight=w, fit_intercept=fit_intercept)
    dense = _engine.lbi_path(X.toarray(), target[:, None], **kw)
    sparse = _engine.lbi_path(X, target[:, None], **kw)
    _assert_same_path(sparse, dense)


def test_sparse_path_is_invariant_to_row_order(working_set):
    X, y = _sparse_planted(seed=5)
    perm = np.random.default_rng(5).permutation(len(y))
    path = _engine.lbi_path(X, y[:, None], t_ratio=50)
    permuted = _engine.lbi_path(sp.csc_matrix(X.toarray()[perm]), y[perm, None], t_ratio=50)
    _assert_same_path(permuted, path)


def test_sparse_scaled_columns_give_the_same_path(working_set):
    """normalize=True: rescaling a column of the sparse design by 1e-8 ... 1e8 leaves
    the path unchanged up to the scale of its coefficient."""
    X, y = _sparse_planted(seed=6)
    c = np.logspace(-8, 8, X.shape[1])
    path = _engine.lbi_path(X, y[:, None], t_ratio=50)
    scaled = _engine.lbi_path(sp.csc_matrix(X @ sp.diags(c)), y[:, None], t_ratio=50)
    scaled.coefs *= c[None, :, None]
    _assert_same_path(scaled, path, tol=1e-9)
