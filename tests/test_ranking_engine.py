"""The operator LBI driver and the ranker's gamma path against plain-numpy references."""

import numpy as np

from sparsestat import RobustPairwiseRanker, _engine
from sparsestat.datasets import make_pairwise_comparisons


def _shrink(z):
    return np.sign(z) * np.maximum(np.abs(z) - 1.0, 0.0)


def _reference_lbi(grad, z0, t0, alpha, kappa, grid):
    """Plain LBI loop with the path read at ``grid`` by interpolating z inside a step."""
    z = z0.copy()
    t = t0
    out = []
    entry = np.full(z.shape, np.inf)
    gi = 0
    while gi < len(grid):
        z_new = z - alpha * grad(kappa * _shrink(z))
        new = np.isinf(entry) & (np.abs(z_new) > 1)
        f = np.where(np.abs(z) >= 1, 0.0, (np.sign(z_new) - z) / np.where(new, z_new - z, 1.0))
        entry[new] = t + f[new] * alpha
        while gi < len(grid) and grid[gi] <= t + alpha:
            frac = max((grid[gi] - t) / alpha, 0.0)
            out.append(kappa * _shrink(z + frac * (z_new - z)))
            gi += 1
        z, t = z_new, t + alpha
    return np.array(out), entry


def test_operator_driver_matches_the_numba_kernel_on_least_squares():
    rng = np.random.default_rng(0)
    n, p = 60, 8
    X = rng.standard_normal((n, p))
    X -= X.mean(0)
    X /= np.sqrt((X ** 2).mean(0))
    y = 2 * X[:, 0] - X[:, 3] + 0.3 * rng.standard_normal(n)
    y -= y.mean()
    y /= np.sqrt(np.mean(y ** 2))   # the unit the engine measures y in: its path is unscaled
    H, c = X.T @ X / n, X.T @ y / n
    alpha = 1.0 / (10 * np.linalg.eigvalsh(H)[-1])
    ref = _engine.lbi_path(X, y[:, None], fit_intercept=False, normalize=False, kappa=10,
                           alpha=alpha, n_times=25)
    op = _engine.lbi_path_operator(lambda B: H @ B - c[:, None], c[:, None] * ref.t0, ref.t0,
                                   kappa=10, alpha=alpha, times=ref.times)
    np.testing.assert_allclose(op.coefs, ref.coefs, atol=1e-12)
    np.testing.assert_allclose(op.entry_times, ref.entry_times, rtol=1e-12)
    assert op.n_iter == ref.n_iter


def test_gamma_path_equals_lbi_with_a_dense_cycle_projection():
    data = make_pairwise_comparisons(15, 160, 8, 0.15, random_state=1, outcome="margin",
                                     noise=0.2)
    pairs, y = data.comparisons, data.outcomes
    m, n = len(y), 15
    w = np.random.default_rng(1).uniform(0.5, 3.0, m)
    kappa = 20.0
    ranker = RobustPairwiseRanker(kappa=kappa, n_times=40, t_ratio=30).fit(
        pairs, y, sample_weight=w)
    path = ranker.regularization_path_
    # dense reference: P = I - C (C^T W C)^+ C^T W with numpy's pseudo-inverse
    C = np.zeros((m, n))
    C[np.arange(m), pairs[:, 0]] = 1
    C[np.arange(m), pairs[:, 1]] = -1
    wn = w / w.mean()
    W = np.diag(wn)
    P = np.eye(m) - C @ np.linalg.pinv(C.T @ W @ C) @ C.T @ W
    s = path.info["scale"]
    ys = y / s
    g0 = wn * (P @ ys)
    t0 = m / np.abs(g0).max()
    alpha = path.info["alpha"]
    assert kappa * alpha * wn.max() / m <= 1.0 + 1e-12  # stable: kappa alpha ||H|| <= 1
    grid = path.times * s
    coefs, entry = _reference_lbi(lambda g: -(wn * (P @ (ys - g))) / m, g0 / np.abs(g0).max(),
                                  t0, alpha, kappa, grid)
    np.testing.assert_allclose(path.t0 * s, t0, rtol=1e-10)
    np.testing.assert_allclose(path.coefs.toarray(), coefs * s, atol=1e-8 * s)
    finite = np.isfinite(entry)
    np.testing.assert_array_equal(np.isfinite(path.entry_times), finite)
    np.testing.assert_allclose(path.entry_times[finite] * s, entry[finite], rtol=1e-8)


def test_graph_operators_against_dense_matrices():
    from sparsestat.ranking._graph import (LaplacianSolver, incidence_matrix, laplacian,
                                           node_divergence)

    rng = np.random.default_rng(3)
    n = 12
    left = np.concatenate([rng.integers(0, 6, 40), rng.integers(6, 12, 40)])
    right = np.concatenate([(left[:40] + rng.integers(1, 6, 40)) % 6,
                            6 + (left[40:] - 6 + rng.integers(1, 6, 40)) % 6])
    w = rng.uniform(0.2, 2.0, 80)
    C = np.zeros((80, n))
    C[np.arange(80), left] += 1.0
    C[np.arange(80), right] -= 1.0
    np.testing.assert_array_equal(incidence_matrix(left, right, n).toarray(), C)
    L = C.T @ np.diag(w) @ C
    np.testing.assert_allclose(laplacian(left, right, w, n).toarray(), L, atol=1e-12)
    v = rng.standard_normal(80)
    np.testing.assert_allclose(node_divergence(v, left, right, n), C.T @ v, atol=1e-12)
    b = C.T @ (w * v)
    expected = np.linalg.pinv(L) @ b  # min-norm: mean zero on each of the 2 components
    for method in ("factorize", "cg"):
        solver = LaplacianSolver(left, right, w, n, method=method, tol=1e-12)
        assert solver.n_components == 2
        np.testing.assert_allclose(solver.solve(b), expected, atol=1e-9)


def test_operator_driver_reports_divergence_and_budget():
    import pytest
    from sklearn.exceptions import ConvergenceWarning

    H = np.array([[2.0, 0.0], [0.0, 1.0]])
    c = np.array([1.0, 0.5])
    grid = np.geomspace(1.0, 100.0, 10)
    with pytest.raises(FloatingPointError, match="diverged.*lower alpha"):
        _engine.lbi_path_operator(lambda B: H @ B - c[:, None], c / 2, 0.5, kappa=10,
                                  alpha=5.0, times=np.geomspace(1.0, 1e4, 10))
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        path = _engine.lbi_path_operator(lambda B: H @ B - c[:, None], c / 2, 0.5, kappa=10,
                                         alpha=0.01, times=grid, max_iter=3)
    assert path.n_times < len(grid) and path.n_iter == 3
