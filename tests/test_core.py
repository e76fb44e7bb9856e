"""The step and record shared by every path kernel (``sparsestat._kernels._core``):
the sparse record against the dense one, its thinning, the divergence rule on
NaN, the analytic start on the unit ball, and one step and one record of a state
with most rows outside the unit ball against plain numpy.
"""

import numpy as np
import pytest

from sparsestat import _engine
from sparsestat._engine._penalties import _penalty_arrays, start_dual
from sparsestat._kernels import _core


def _quadratic(p=30, n=60, seed=0):
    """Gradient ``H B - c`` of a least-squares problem with a sparse truth."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    beta = np.zeros(p)
    beta[:4] = [3.0, -2.0, 1.5, -1.0]
    y = X @ beta + 0.3 * rng.standard_normal(n)
    H, c = X.T @ X / n, X.T @ y / n
    return H, c


def _run(sparse, H, c, *, times=None, max_nnz=None, kappa=20.0):
    t0 = 1.0 / np.abs(c).max()
    alpha = 1.0 / (kappa * np.linalg.eigvalsh(H)[-1])
    grid = t0 * np.geomspace(1.0, 50.0, 40) if times is None else times
    return _engine.lbi_path_operator(lambda B: H @ B - c[:, None], (c * t0)[:, None], t0,
                                     kappa=kappa, alpha=alpha, times=grid, sparse=sparse,
                                     max_nnz=max_nnz)


def test_sparse_record_equals_dense_record_and_the_reference_loop():
    H, c = _quadratic()
    dense, sparse = _run(False, H, c), _run(True, H, c)
    np.testing.assert_array_equal(sparse.times, dense.times)
    np.testing.assert_array_equal(sparse.coefs.toarray(), dense.coefs[:, :, 0])
    np.testing.assert_array_equal(sparse.entry_times, dense.entry_times)
    # the stored nonzeros are the support at each record time, nothing more
    np.testing.assert_array_equal(sparse.nnz_at(), (dense.coefs[:, :, 0] != 0).sum(axis=1))
    # (the dense record is held against the plain-numpy loop in test_operators.py)


def test_thinning_keeps_every_other_record_and_exact_entries():
    H, c = _quadratic(seed=1)
    full = _run(True, H, c)
    budget = int(full.nnz_at().sum() // 3)
    thin = _run(True, H, c, max_nnz=budget)
    assert thin.coefs.nnz <= budget + full.coefs.shape[1]
    assert thin.n_times < full.n_times
    # every kept record is one of the full record's, unchanged
    rows = np.searchsorted(full.times, thin.times)
    np.testing.assert_array_equal(full.times[rows], thin.times)
    np.testing.assert_array_equal(full.coefs[rows].toarray(), thin.coefs.toarray())
    # the record still ends where the path does
    assert thin.times[-1] == full.times[-1]
    np.testing.assert_array_equal(thin.coef_at(np.inf), full.coef_at(np.inf))
    # the entry times are solved inside the steps, not read off the record
    np.testing.assert_array_equal(thin.entry_times, full.entry_times)


def _shrink(v, scale):
    """``scale * sign(v) * max(|v| - 1, 0)`` written the plain way."""
    return np.where(v > 1.0, scale * (v - 1.0), np.where(v < -1.0, scale * (v + 1.0), 0.0))


@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_a_step_and_a_record_with_most_rows_outside_the_ball_match_numpy(K, weighted):
    # late in a ranker or mean-shift path most rows are outside the unit ball, in no order:
    # the step, the entries, the coefficients and the sparse record must be exactly the
    # plain computation there, with no negative zeros among the coefficients
    rng = np.random.default_rng(7 + K)
    p, step, kappa, t = 5000, 0.25, 10.0, 3.0
    signs = np.where(rng.random((p, K)) < 0.5, -1.0, 1.0)
    z = np.where(rng.random((p, 1)) < 0.7, signs * rng.uniform(1.0, 3.0, (p, K)),
                 rng.uniform(-0.95, 0.95, (p, K)))
    grad = rng.standard_normal((p, K))
    row_scale = rng.uniform(0.5, 2.0, p)
    omega = rng.uniform(0.2, 3.0, p) if weighted else np.empty(0)
    entry = np.where(np.abs(z) > 1.0, 1.0, np.inf)
    expected_entry = entry.copy()
    z_new, coef = np.empty((p, K)), np.full((p, K), 9.0)
    none = np.empty(0, dtype=np.int64)
    big, n_out, n_entered = _core.lbi_update(z, grad, step, row_scale, kappa, omega, t, entry,
                                             0, True, True, none, none, z_new, coef)
    v = z - (step * row_scale)[:, None] * grad
    c = (kappa * omega)[:, None] if weighted else kappa
    want = _shrink(v, 1.0) * c if weighted else _shrink(v, kappa)
    np.testing.assert_array_equal(z_new, v)
    np.testing.assert_array_equal(coef, want)
    assert not np.signbit(coef[coef == 0.0]).any()
    assert big == np.abs(v).max() and n_out == int((np.abs(v) > 1.0).any(axis=1).sum())
    before = expected_entry.copy()
    new = np.isinf(before) & (np.abs(v) > 1.0)
    # the crossing of the unit sphere, solved on the segment from z to v
    cross = np.where(np.abs(z) >= 1.0, 0.0, (np.sign(v) - z) / (v - z))
    expected_entry[new] = t + cross[new] * step
    np.testing.assert_array_equal(entry, expected_entry)
    # a row enters with its first coordinate
    assert n_entered == int((new.any(axis=1) & np.isinf(before).all(axis=1)).sum())
    assert 0.5 * p < n_out < p and new.sum() > 100
    # the sparse record of the grid time 40% into the step
    om = omega if weighted else np.ones(p)
    ptr, rec, rows, vals = _core.sparse_record_buffers(1, K)
    grid = np.array([t + 0.4 * step])
    gi, rows, vals, n_rec, nnz, _ = _core.record_sparse(
        z, z_new, t, step, grid, 0, kappa, om, True, none, none, np.empty((p, K)),
        np.empty((p, K)), ptr, rec, rows, vals, 0, 0, 1, 10 ** 9)
    frac = (grid[0] - t) / step
    snap = _shrink(z + frac * (z_new - z), 1.0) * (kappa * om)[:, None]
    keep = np.flatnonzero((snap != 0.0).any(axis=1))
    assert (gi, n_rec, nnz) == (1, 1, keep.size)
    np.testing.assert_array_equal(rows[:nnz], keep)
    np.testing.assert_allclose(vals[:nnz], snap[keep], rtol=1e-15, atol=0)


def test_a_nan_anywhere_in_the_step_is_divergence():
    z = np.zeros((5, 1))
    grad = np.array([[0.0], [np.nan], [1.0], [2.0], [3.0]])  # the NaN is not the last entry
    z_new = np.empty_like(z)
    big = _core.dual_step(z, grad, 1.0, np.empty(0), np.empty(0, dtype=np.int64), -1, z_new)
    assert np.isnan(big) and _core.diverged(big, 1.0)
    assert not _core.diverged(3.0, 1.0) and _core.diverged(1e100, 10.0) and not _core.diverged(1e98, 10.0)
    H, c = _quadratic()
    with pytest.raises(FloatingPointError, match="diverged"):
        _engine.lbi_path_operator(lambda B: np.where(B != 0, np.nan, H @ B - c[:, None]),
                                  (c / np.abs(c).max())[:, None], 1 / np.abs(c).max(),
                                  kappa=10.0, alpha=0.1, times=np.geomspace(0.5, 50, 10))


def test_the_start_is_on_the_unit_ball_with_a_zero_proximal_map():
    rng = np.random.default_rng(3)
    grad0 = rng.standard_normal((12, 3)) * 10.0 ** rng.uniform(-8, 8)
    groups = np.repeat(np.arange(4), 3)
    for penalty, labels in [("l1", None), ("group", groups)]:
        elementwise, ptr, idx = _penalty_arrays(penalty, labels, 12, 3)
        t0, z0 = start_dual(grad0, elementwise, ptr, idx)
        if elementwise:
            norms = np.abs(z0).ravel()
            np.testing.assert_allclose(t0, 1 / np.abs(grad0).max(), rtol=1e-15)
        else:
            norms = np.array([np.linalg.norm(z0[groups == g]) for g in range(4)])
            top = max(np.linalg.norm(grad0[groups == g]) for g in range(4))
            np.testing.assert_allclose(t0, 1 / top, rtol=1e-14)
        assert norms.max() <= 1.0 and norms.max() > 1 - 1e-14
        out = np.empty_like(z0)
        _core.snapshot(z0, z0, 0.0, 10.0, elementwise, ptr, idx, np.empty_like(z0), out)
        assert not np.any(out)
        # z0 points against the gradient, scaled by t0 (up to the rounding it removes)
        np.testing.assert_allclose(z0, -grad0 * t0, rtol=1e-13)


def _assert_empty(path, n_coefs):
    assert path.info["empty"] and path.t0 == np.inf and path.n_iter == 0
    assert np.all(np.isinf(path.entry_times)) and np.ravel(path.entry_times).size == n_coefs
    coefs = path.coefs.toarray() if hasattr(path.coefs, "toarray") else path.coefs
    assert coefs.shape[0] == path.times.shape[0] and not np.any(coefs)
    assert not np.any(path.coef_at(path.times[-1])) and not np.any(path.coef_at(np.inf))


def test_one_empty_path_rule_in_every_driver():
    """Where nothing can enter, every driver gives the same empty path, and says why."""
    rng = np.random.default_rng(4)
    n, p = 40, 5
    X = rng.standard_normal((n, p))
    # design (LBI and ISS): a constant target; the intercept is its value
    for solver in (_engine.lbi_path, _engine.iss_path):
        with pytest.warns(UserWarning, match="path is empty: no feature is correlated"):
            path = solver(X, np.full((n, 1), 2.5), n_times=7)
        _assert_empty(path, p)
        np.testing.assert_allclose(path.intercepts, 2.5)
    # Split LBI: D beta vanishes at the least-squares start (beta0 in the kernel of D)
    beta = np.ones(p)
    D = np.diff(np.eye(p), axis=0)           # D beta = 0 for a constant beta
    y = X @ beta + 1.0
    with pytest.warns(UserWarning, match="path is empty: D beta vanishes"):
        split = _engine.split_lbi_path(X, y, D, n_times=6, normalize=False)
    _assert_empty(split.gamma_path, p - 1)
    # beta stays the start's fit: least squares with D beta = 0 is the truth itself
    np.testing.assert_allclose(split.beta_path.coefs, np.tile(beta, (6, 1)), atol=1e-8)
    # the shift paths: targets in the range of Q
    Q, _ = np.linalg.qr(np.column_stack([np.ones(n), X]))
    Y = (Q @ rng.standard_normal(p + 1))[:, None]
    with pytest.warns(UserWarning, match="path is empty: the targets are fitted exactly"):
        shift = _engine.projected_shift_path(Q, Y, n_times=5)
    _assert_empty(shift, n)
    with pytest.warns(UserWarning, match="path is empty: the targets are fitted exactly"):
        shift = _engine.projected_shift_iss_path(Q, Y, n_times=5)
    _assert_empty(shift, n)


def test_appending_rows_keeps_the_nonzero_rows_in_order_and_grows_the_buffers():
    # the record of a group penalty appends the nonzero rows of its snapshot; about half
    # the rows are nonzero here, in no order, and the buffers start too small
    rng = np.random.default_rng(11)
    U = rng.standard_normal((3000, 2)) * (rng.random((3000, 1)) < 0.5)
    U[::7, 1] = 0.0                        # rows with one nonzero entry still count
    rows, vals = np.array([5, 9]), np.array([[1.0, 2.0], [3.0, 4.0]])
    rows, vals, nnz = _core.append_rows(U, rows, vals, 2)
    keep = np.flatnonzero((U != 0.0).any(axis=1))
    assert nnz == 2 + keep.size and rows.shape[0] > nnz
    np.testing.assert_array_equal(rows[:nnz], np.r_[5, 9, keep])
    np.testing.assert_array_equal(vals[:nnz], np.vstack([[[1.0, 2.0], [3.0, 4.0]], U[keep]]))
