"""The screened ISS path is the path with every dual kept current.

With ``p > n`` (design mode) the duals off the boundary are held at a reference
time and evaluated only where a Cauchy-Schwarz bound cannot rule out the next
knot; with ``record_duals=True`` every dual is updated at every knot instead.
Both must give one path, and the path of the plain-numpy homotopy, on designs
that stress the bound: strong correlation, sparse columns with nonzero means
(implicit centring), unscaled columns whose norms span four decades, long paths.
"""

import _reference as ref
import numpy as np
import pytest
import scipy.sparse as sp

from sparsestat import _engine


def _design(kind, n, p, seed):
    rng = np.random.default_rng(seed)
    if kind == "sparse":
        X = sp.random(n, p, density=0.2, format="csc", random_state=rng,
                      data_rvs=lambda m: rng.normal(1.0, 1.0, m))
        dense = X.toarray()
    else:
        dense = rng.standard_normal((n, p))
        if kind == "ar1":
            for j in range(1, p):
                dense[:, j] = 0.95 * dense[:, j - 1] + np.sqrt(1 - 0.95 ** 2) * dense[:, j]
        if kind == "scaled":
            dense *= np.logspace(-2, 2, p)[rng.permutation(p)]
        X = dense
    beta = np.zeros(p)
    support = rng.choice(np.flatnonzero((dense != 0).sum(0) >= 3), 5, replace=False)
    beta[support] = rng.choice([-1.0, 1.0], 5) / np.abs(dense[:, support]).mean(0)
    y = dense @ beta + 0.5 * rng.standard_normal(n) + 2.0
    return X, dense, y


CASES = [("iid", {}), ("ar1", {}), ("sparse", {}), ("sparse", {"fit_intercept": False}),
         ("scaled", {"normalize": False}), ("iid", {"t_ratio": 1e4})]


@pytest.mark.parametrize("kind, kw", CASES)
def test_screened_path_is_the_path_with_current_duals(kind, kw):
    X, dense, y = _design(kind, 40, 300, seed=len(kind) + len(kw))
    screened = _engine.iss_path(X, y[:, None], **kw)
    current = _engine.iss_path(X, y[:, None], record_duals=True, **kw)
    assert screened.info["mode"] == "design" and current.info["reference_moves"] == 0
    scale = np.abs(current.coefs).max()
    np.testing.assert_allclose(screened.coefs, current.coefs, atol=1e-10 * scale, rtol=0)
    finite = np.isfinite(current.entry_times)
    np.testing.assert_array_equal(np.isfinite(screened.entry_times), finite)
    np.testing.assert_allclose(screened.entry_times[finite], current.entry_times[finite],
                               rtol=1e-10)
    assert screened.n_iter == current.n_iter
    # the independent homotopy on the dense array (past the first grid time, t0 itself,
    # which the reference computes one rounding apart)
    plain = ref.design_iss(dense, y[:, None], times=screened.times, **{
        k: v for k, v in kw.items() if k != "t_ratio"})
    np.testing.assert_allclose(screened.coefs[1:], plain.coefs[1:], atol=1e-8 * scale, rtol=0)


def test_screening_replaces_most_products_with_the_design():
    """A knot of the unscreened path costs one product with the design; the screened
    path moves its reference (two products) at a small fraction of its knots."""
    X, _, y = _design("iid", 100, 2000, seed=5)
    path = _engine.iss_path(X, y[:, None])
    assert path.n_iter > 100
    assert 2 * path.info["reference_moves"] < path.n_iter / 4
