"""Logistic Split LBI (LBIClassifier(D=...)): the kernel against the plain-numpy loop of
tests/_reference.py, the nu -> 0 limit (logistic LBI of gamma for D = I), symmetries and
bad input."""

import numpy as np
import pytest
import scipy.sparse as sp

from _reference import split_lbi_logistic
from sparsestat import LBIClassifier
from sparsestat._engine import lbi_path, split_lbi_path


def _binary(n, p, seed, rho=0.0):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, p))
    if rho:
        Z = np.sqrt(1 - rho) * Z + np.sqrt(rho) * rng.standard_normal((n, 1))
    X = Z * rng.uniform(0.2, 5.0, p)
    beta = np.repeat([1.0, -0.7], [p - p // 2, p // 2])
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-Z @ beta))).astype(float)
    return X, y


@pytest.mark.parametrize("n, p, seed, rho, kw", [
    (120, 6, 0, 0.0, {}), (40, 10, 1, 0.5, {}), (30, 2, 2, 0.0, {}),
    (80, 5, 3, 0.8, dict(fit_intercept=False)), (60, 4, 4, 0.0, dict(normalize=False)),
    (70, 5, 5, 0.3, dict(kappa=50.0, nu=0.3)),
])
def test_kernel_is_the_reference_loop(n, p, seed, rho, kw):
    X, y = _binary(n, p, seed, rho)
    D = np.vstack([np.diff(np.eye(p), axis=0), np.eye(p)[:1]])
    got = split_lbi_path(X, y, D, loss="logistic", n_times=15, t_ratio=15, **kw)
    ref = split_lbi_logistic(X, y, D, n_times=15, t_ratio=15, **kw)
    assert got.gamma_path.t0 == pytest.approx(ref.t0, rel=1e-12)
    assert got.beta_path.n_iter == ref.n_iter
    np.testing.assert_allclose(got.gamma_path.coefs, ref.coefs, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.beta_path.coefs, ref.free, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.beta_path.intercepts, ref.intercepts, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.gamma_path.entry_times, ref.entry, rtol=1e-10)


def test_sparse_x_is_the_dense_path():
    X, y = _binary(60, 5, 6)
    X[np.abs(X) < 0.7] = 0.0
    D = np.diff(np.eye(5), axis=0)
    a = split_lbi_path(X, y, D, loss="logistic", n_times=10, t_ratio=10)
    b = split_lbi_path(sp.csr_matrix(X), y, D, loss="logistic", n_times=10, t_ratio=10)
    np.testing.assert_allclose(b.gamma_path.coefs, a.gamma_path.coefs, atol=1e-10)


def test_small_nu_approaches_logistic_lbi_of_gamma_at_half_kappa():
    """D = I, nu -> 0. Write e = (gamma - beta) / nu, so z' = -e and
    beta' = -kappa (grad l(beta) - e). beta relaxes at the rate kappa / nu and is tied to
    gamma: off the support gamma = 0 holds still, so e = grad l; on the support gamma moves
    as gamma' = kappa z' = -kappa e, and beta' = gamma' gives e = grad l / 2. So the dual
    moves at full speed off the support and half speed on it: gamma follows the logistic
    LBI path of kappa / 2 (the same entry rule, half the growth), with an O(nu) error."""
    X, y = _binary(150, 4, 7)
    Xs = (X - X.mean(0)) / X.std(0)
    lam = np.linalg.eigvalsh(Xs.T @ Xs / len(y))[-1]
    # a fine step, so that the discrete LBI is its flow
    lbi = lbi_path(Xs, y[:, None], loss="logistic", normalize=False, kappa=2.5, n_times=10,
                   t_ratio=4, alpha=0.02 * 4 / (2.5 * lam))
    errors = []
    for nu in (1e-1, 3e-2, 1e-2):
        split = split_lbi_path(Xs, y, np.eye(4), loss="logistic", normalize=False, kappa=5.0,
                               nu=nu, times=lbi.times)
        errors.append(np.max(np.abs(split.gamma_path.coefs - lbi.coefs[:, :, 0])))
    scale = np.max(np.abs(lbi.coefs))
    assert scale > 1.0
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.01 * scale
    assert errors[0] / errors[2] > 5   # about linear in nu
    # the same path at the full kappa is far away: the factor 2 is real
    full = lbi_path(Xs, y[:, None], loss="logistic", normalize=False, kappa=5.0,
                    times=lbi.times, alpha=0.02 * 4 / (5.0 * lam))
    assert np.max(np.abs(split.gamma_path.coefs - full.coefs[:, :, 0])) > 10 * errors[2]


def test_classifier_symmetries():
    X, y = _binary(100, 6, 8)
    D = np.diff(np.eye(6), axis=0)
    a = LBIClassifier(D=D, n_times=15, t_ratio=10).fit(X, y)
    # swapping the labels flips beta and gamma, the same entries
    b = LBIClassifier(D=D, n_times=15, t_ratio=10).fit(X, 1 - y)
    np.testing.assert_allclose(b.gamma_, -a.gamma_, atol=1e-10)
    np.testing.assert_allclose(b.coef_, -a.coef_, atol=1e-10)
    np.testing.assert_allclose(b.entry_times_, a.entry_times_, rtol=1e-10)
    # row order does not matter; string labels are the same problem
    perm = np.random.default_rng(0).permutation(len(y))
    c = LBIClassifier(D=D, n_times=15, t_ratio=10).fit(X[perm], np.where(y, "yes", "no")[perm])
    np.testing.assert_allclose(c.coef_, a.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c.predict_proba(X), a.predict_proba(X), rtol=1e-9)
    # before t0 beta is its start (gamma = 0), not the empty model
    assert np.all(a.predict_proba(X[:3], t=0.0) == a.predict_proba(X[:3], t=a.t0_))


def test_bad_input_is_refused():
    X, y = _binary(60, 4, 9)
    D = np.diff(np.eye(4), axis=0)
    with pytest.raises(ValueError, match="two classes"):
        LBIClassifier(D=D).fit(X, np.arange(60) % 3)
    with pytest.raises(ValueError, match="sample_weight"):
        LBIClassifier(D=D).fit(X, y, sample_weight=np.ones(60))
    with pytest.raises(ValueError, match="one column per feature"):
        LBIClassifier(D=D[:, :3]).fit(X, y)
    with pytest.raises(ValueError, match="NaN or infinity"):
        LBIClassifier(D=np.where(D == 1, np.nan, D)).fit(X, y)
    with pytest.raises(ValueError, match="rows of D"):
        LBIClassifier(D=D, penalty_factor=np.ones(4)).fit(X, y)
    # separable along the null space of D (all coefficients equal): no start
    sep = (X @ np.ones(4) > 0).astype(int)
    with pytest.raises(ValueError, match="separable"):
        LBIClassifier(D=D).fit(X, sep)
