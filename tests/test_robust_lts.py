"""The least trimmed squares start: concentration steps and the M-scale against references."""

import numpy as np
import pytest
from scipy import optimize

from sparsestat.robust._linalg import (
    as_kernel_array, full_projection, subset_products, thin_basis, update_products,
)
from sparsestat.robust._lts import _c_steps, m_scale


def _reference_c_steps(X, Y, mask, h, n_steps):
    """C-steps by ``lstsq`` on ``[1, X]``: fitted values of the last fit and the kept rows."""
    A = np.column_stack([np.ones(len(X)), X])
    obj = np.inf
    for _ in range(n_steps):
        coef = np.linalg.lstsq(A[mask], Y[mask], rcond=None)[0]
        d = np.sum((Y - A @ coef) ** 2, axis=1)
        new = np.zeros(len(X), dtype=bool)
        new[np.argsort(d, kind="stable")[:h]] = True
        new_obj = np.sum(d[new])
        if np.array_equal(new, mask) or new_obj >= obj:
            return A @ coef, new
        mask, obj = new, new_obj
    return A @ coef, mask


@pytest.mark.parametrize("n, p, K, scale", [(400, 2, 1, 1.0), (3000, 8, 2, 1e-6),
                                            (6000, 15, 1, 1e6)])
def test_c_steps_with_updated_products_match_refits(n, p, K, scale):
    rng = np.random.default_rng(n)
    X = rng.standard_normal((n, p)) @ np.linalg.cholesky(0.5 * np.eye(p) + 0.5)
    Y = scale * (X @ rng.standard_normal((p, K)) + rng.standard_t(3, (n, K)))
    Y[: n // 4] += scale * 8 * rng.standard_normal((n // 4, K))
    h = (n + p + 2) // 2
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, h, replace=False)] = True
    Q = thin_basis(X).Q
    theta, kept, _ = _c_steps(Q, Y, mask.copy(), h, 100, QtY=full_projection(Q, Y))
    fitted, ref_kept = _reference_c_steps(X, Y, mask.copy(), h, 100)
    assert np.array_equal(kept, ref_kept)
    np.testing.assert_allclose(Q @ theta, fitted, rtol=0, atol=1e-9 * scale)


def test_updated_products_equal_the_products_of_the_new_subset():
    rng = np.random.default_rng(3)
    Q = thin_basis(rng.standard_normal((2000, 6))).Q
    Y = as_kernel_array(rng.standard_normal((2000, 2)))
    old = rng.random(2000) < 0.5
    new = rng.random(2000) < 0.5
    G, b = subset_products(Q, Y, old)
    update_products(Q, Y, G, b, np.flatnonzero(new & ~old), np.flatnonzero(old & ~new))
    np.testing.assert_allclose(G, Q[new].T @ Q[new], atol=1e-12)
    np.testing.assert_allclose(b, Q[new].T @ Y[new], atol=1e-12)
    assert np.array_equal(G, G.T)


def _reference_m_scale(d, K):
    """The root of ``mean(rho(sqrt(d / K) / (c s))) = 1/2`` by Brent's method."""
    r = np.sqrt(d / K)

    def excess(s):
        u2 = np.minimum((r / (1.5476 * s)) ** 2, 1.0)
        return np.mean(1.0 - (1.0 - u2) ** 3) - 0.5

    return optimize.brentq(excess, 1e-3 * np.median(r), 1e3 * np.median(r), xtol=1e-14 * np.median(r))


@pytest.mark.parametrize("K, scale", [(1, 1.0), (2, 1e-8), (3, 1e8)])
def test_m_scale_solves_the_bisquare_equation_and_is_scale_equivariant(K, scale):
    rng = np.random.default_rng(K)
    E = rng.standard_normal((5001, K))
    E[:1500] += 30 * rng.standard_normal((1500, K))          # 30% gross errors
    d = np.sum(E ** 2, axis=1)
    s = m_scale(d, K)
    assert s == pytest.approx(_reference_m_scale(d, K), rel=1e-8)
    assert m_scale(scale ** 2 * d, K) == pytest.approx(scale * s, rel=1e-8)


def test_m_scale_is_consistent_at_the_normal():
    d = np.random.default_rng(0).standard_normal(200_000) ** 2
    assert m_scale(4.0 * d) == pytest.approx(2.0, rel=0.01)


@pytest.mark.parametrize("n, fit_intercept", [(40, True), (300_000, True), (300_000, False)])
def test_thin_basis_spans_the_design_whatever_the_column_scales(n, fit_intercept):
    rng = np.random.default_rng(n)
    X = rng.standard_normal((n, 12)) + 3.0
    scales = np.logspace(-6, 6, 12)
    A = np.column_stack([np.ones(n), X]) if fit_intercept else X
    Q = thin_basis(X * scales + 1e3 * scales if fit_intercept else X * scales, fit_intercept).Q
    np.testing.assert_allclose(Q.T @ Q, np.eye(Q.shape[1]), atol=1e-10)
    coef = np.linalg.lstsq(Q, A, rcond=None)[0]                 # A lies in the span of Q
    np.testing.assert_allclose(Q @ coef, A, atol=1e-8 * np.abs(A).max())
    assert Q.shape[1] == A.shape[1]
