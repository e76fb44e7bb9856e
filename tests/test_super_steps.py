"""The default LBI step of the squared loss: damped Runge-Kutta-Chebyshev super-steps
(``sparsestat._kernels._chebyshev``). Their coefficients against Chebyshev polynomials
computed by numpy, their stability bound, and the default path against a fine explicit
step's path on designs with more features than samples.
"""

import numpy as np
import pytest
from numpy.polynomial import chebyshev as npcheb

from sparsestat import _engine
from sparsestat._kernels import _chebyshev as rkc

STAGES = [1, 2, 3, 7, 20, 64]


def _numpy_w(s, damping):
    """``w0, w1`` of the damped first-order scheme, from numpy's Chebyshev series."""
    T = npcheb.Chebyshev.basis(s)
    w0 = 1.0 + damping / s**2
    return w0, T(w0) / T.deriv()(w0), T


def _stability_polynomial(s, damping, z):
    """The super-step applied to ``y' = lambda y`` with ``z = h lambda``, run through the
    documented stage recurrence with numpy's Chebyshev values (not the kernel's)."""
    w0, w1, _ = _numpy_w(s, damping)
    b = [1.0 / npcheb.Chebyshev.basis(j)(w0) for j in range(s + 1)]
    y0 = np.ones_like(z)
    prev2, prev = y0, y0 + (w1 / w0) * z * y0
    for j in range(2, s + 1):
        mu, nu, mut = 2 * w0 * b[j] / b[j - 1], -b[j] / b[j - 2], 2 * w1 * b[j] / b[j - 1]
        prev2, prev = prev, (1 - mu - nu) * y0 + mu * prev + nu * prev2 + mut * z * prev
    return prev


@pytest.mark.parametrize("s", STAGES)
def test_coefficients_are_those_of_the_chebyshev_polynomials(s):
    b = np.empty(s + 2)
    w0, w1 = rkc.coefficients(s, rkc.DAMPING, b)
    nw0, nw1, _ = _numpy_w(s, rkc.DAMPING)
    assert w0 == pytest.approx(nw0, rel=1e-14) and w1 == pytest.approx(nw1, rel=1e-12)
    want = [1.0 / npcheb.Chebyshev.basis(j)(nw0) for j in range(s + 1)]
    np.testing.assert_allclose(b[:s + 1], want, rtol=1e-12)
    assert rkc.stability_bound(s, rkc.DAMPING) == pytest.approx((1 + nw0) / nw1, rel=1e-12)


@pytest.mark.parametrize("s", STAGES)
def test_the_stage_recurrence_applies_the_damped_chebyshev_polynomial(s):
    """On a linear flow a super-step multiplies each mode by ``T_s(w0 + w1 z) / T_s(w0)``:
    first order at 0, bounded by one on ``[-beta(s), 0]``, and damped on the plateau."""
    w0, w1, T = _numpy_w(s, rkc.DAMPING)
    beta = rkc.stability_bound(s, rkc.DAMPING)
    z = np.linspace(-beta, 0.0, 2001)
    P = _stability_polynomial(s, rkc.DAMPING, z)
    np.testing.assert_allclose(P, T(w0 + w1 * z) / T(w0), rtol=1e-9, atol=1e-12)
    assert np.abs(P).max() <= 1.0 + 1e-12
    h = 1e-6
    slope = (_stability_polynomial(s, rkc.DAMPING, np.array([h]))[0]
             - _stability_polynomial(s, rkc.DAMPING, np.array([-h]))[0]) / (2 * h)
    assert slope == pytest.approx(1.0, rel=1e-6)
    if s >= 2:
        # the plateau: every mode with w0 + w1 z in [-1, 1] shrinks by 1 / T_s(w0) <= 1 / 17
        plateau = w0 + w1 * z <= 1.0
        assert np.abs(P[plateau]).max() <= 1.0 / T(w0) * (1 + 1e-9) <= (1 + 1e-9) / 17.0
        # and past the plateau's end, where w0 + w1 z = -1.1 w0, the super-step grows a mode
        edge = np.array([-2.1 * w0 / w1])
        assert abs(_stability_polynomial(s, rkc.DAMPING, edge)[0]) > 1.0


def _stage_weights(s, damping):
    """``omega[i]``, the weight of ``f(Y_i)`` in ``(y_new - y) / h``: the stage recurrence
    run on the weights (as the LBI kernel runs it on the stages' coefficients), with the
    kernel's stage coefficients."""
    b = np.empty(s + 2)
    w0, w1 = rkc.coefficients(s, damping, b)
    prev2, prev = np.zeros(s), np.zeros(s)
    prev[0] = w1 / w0
    for j in range(2, s + 1):
        mu, nu, mut = rkc.stage(j, w0, w1, b)
        cur = mu * prev + nu * prev2
        cur[j - 1] += mut
        prev2, prev = prev, cur
    return prev


@pytest.mark.parametrize("s", STAGES)
def test_stage_weights_integrate_a_constant_rate_and_reproduce_the_step(s):
    """``y_new - y = h sum_i omega_i f(Y_i)``: on ``f = -lambda y`` the weighted sum of the
    stage values gives the polynomial back, and the weights of a constant rate sum to 1."""
    omega = _stage_weights(s, rkc.DAMPING)
    assert omega.sum() == pytest.approx(1.0, abs=1e-12)
    z = -0.37 * rkc.stability_bound(s, rkc.DAMPING)
    # the stage values Y_i of the super-step, by the documented recurrence
    w0, w1, _ = _numpy_w(s, rkc.DAMPING)
    b = [1.0 / npcheb.Chebyshev.basis(j)(w0) for j in range(s + 1)]
    Y = [1.0, 1.0 + (w1 / w0) * z]
    for j in range(2, s + 1):
        mu, nu, mut = 2 * w0 * b[j] / b[j - 1], -b[j] / b[j - 2], 2 * w1 * b[j] / b[j - 1]
        Y.append((1 - mu - nu) + mu * Y[-1] + nu * Y[-2] + mut * z * Y[-1])
    assert 1.0 + z * np.dot(omega, Y[:s]) == pytest.approx(Y[s], rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("h_rho", [0.5, 1.2, 5.0, 80.0, 1500.0])
def test_stages_for_is_the_fewest_stable_stages(h_rho):
    s = rkc.stages_for(h_rho, rkc.DAMPING, rkc.MAX_STAGES)
    assert rkc.stability_bound(s, rkc.DAMPING) >= h_rho
    assert s == 1 or rkc.stability_bound(s - 1, rkc.DAMPING) < h_rho


def _wide(n=50, p=250, k=5, seed=3, K=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    B = np.zeros((p, K))
    B[rng.choice(p, k, replace=False)] = rng.choice([-2.0, 2.0], (k, K))
    Y = X @ B + 0.5 * rng.standard_normal((n, K))
    return X, Y


@pytest.mark.parametrize("case", ["l1", "two targets", "group"])
def test_default_path_follows_a_fine_explicit_step_with_more_features_than_samples(case):
    """Where p > n explicit steps are held to 1 / (kappa ||H||) while the path moves on the
    scale of t: the super-steps take a tenth of the gradients or fewer and stay within a
    few percent of the path of an explicit step a quarter of the stable one."""
    X, Y = _wide(K=2 if case == "two targets" else 1)
    kw = {"penalty": "group", "groups": np.repeat(np.arange(X.shape[1] // 5), 5)} \
        if case == "group" else {}
    default = _engine.lbi_path(X, Y, kappa=10.0, t_ratio=50, **kw)
    fine = _engine.lbi_path(X, Y, kappa=10.0, t_ratio=50, alpha=default.info["alpha"] / 4,
                            **kw)
    scale = np.abs(fine.coefs).max()
    assert np.abs(default.coefs - fine.coefs).max() <= 0.06 * scale
    both = np.isfinite(fine.entry_times) & np.isfinite(default.entry_times)
    assert both.sum() >= 10
    rel = np.abs(default.entry_times[both] / fine.entry_times[both] - 1)
    assert np.median(rel) <= 2e-3 and rel.max() <= 0.03
    assert default.info["n_gradients"] * 10 <= fine.n_iter


def _centred_gram(Xd):
    Xc = Xd - Xd.mean(axis=0)
    return Xc.T @ Xc / Xd.shape[0]


@pytest.mark.parametrize("n_first", [0, 3, 9])
def test_join_bounds_are_the_row_sums_and_bound_the_spectral_norm(n_first):
    """The bound on the block of the joining coordinates: from a sparse design's
    nonzeros with its implicit centering and from the Gram block, against numpy's row
    sums of the dense centred Gram matrix, and above its spectral norm."""
    import scipy.sparse as sp

    from sparsestat._engine._design import prepare_design
    from sparsestat._kernels import _lbi

    rng = np.random.default_rng(4)
    n, p = 80, 60
    X = sp.random(n, p, density=0.1, format="csc", random_state=rng,
                  data_rvs=lambda m: rng.normal(2.0, 1.0, m))
    H = _centred_gram(X.toarray())
    J = rng.choice(p, 9, replace=False).astype(np.int64)
    blocks = [J[:n_first], J, J[n_first:]]
    expected = [np.abs(H[np.ix_(b, b)]).sum(axis=1).max() if b.size else 0.0
                for b in blocks]
    Xf, xdata, xind, xptr, xmean, is_sparse = prepare_design(X, center=True,
                                                             normalize=False).args
    col, r = np.empty(_lbi._ROW_SUM_MAX), np.zeros(n)
    from_sparse = _lbi._join_bounds(xdata, xind, xptr, xmean, n, np.zeros((0, 0)),
                                    np.zeros(p, dtype=np.int64), True, J, n_first, J.size,
                                    col, r)
    from_gram = _lbi._join_bounds(xdata, xind, xptr, xmean, n, np.ascontiguousarray(H),
                                  np.arange(p), None, J, n_first, J.size, col, r)
    np.testing.assert_allclose(from_sparse, expected, rtol=1e-12)
    np.testing.assert_allclose(from_gram, expected, rtol=1e-12)
    assert not r.any()
    for bound, b in zip(expected, blocks):
        if b.size:
            assert bound >= np.linalg.eigvalsh(H[np.ix_(b, b)])[-1] * (1 - 1e-12)


def test_join_bounds_of_long_lists_add_the_bounds_of_their_pieces():
    """Past ``_ROW_SUM_MAX`` features each block is bounded in consecutive pieces of that
    size (the sum of their row-sum bounds) and the list by the sum of its two blocks'."""
    from sparsestat._kernels import _lbi

    big = _lbi._ROW_SUM_MAX
    rng = np.random.default_rng(5)
    m = 2 * big + 40
    Xd = rng.standard_normal((30, m))
    H = np.ascontiguousarray(_centred_gram(Xd))
    args = (np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64),
            np.zeros(0), 30, H, np.arange(m), None)
    scratch = (np.empty(big), np.zeros(0))

    def pieces(b):
        return sum(np.abs(H[np.ix_(c, c)]).sum(axis=1).max()
                   for c in (b[i:i + big] for i in range(0, b.size, big)))

    J = rng.permutation(m).astype(np.int64)
    for n_first, n_J in [(10, big + 1), (big - 5, big + 5), (big + 3, m)]:
        first, rest = J[:n_first], J[n_first:n_J]
        got = _lbi._join_bounds(*args, J, n_first, n_J, *scratch)
        np.testing.assert_allclose(got, (pieces(first), pieces(first) + pieces(rest),
                                         pieces(rest)), rtol=1e-12)
        whole = J[:n_J]
        assert got[1] >= np.linalg.eigvalsh(H[np.ix_(whole, whole)])[-1]
        assert got[1] <= np.diag(H).max() * n_J
