"""The masked-likelihood-ratio knockoff statistic (``statistic='mlr'``).

Its Gibbs sampler is checked against the exact posterior of the model, computed
here independently: on two pairs of columns every configuration of the labels
and of the zero coefficients has a Gaussian marginal likelihood in closed form,
and the hyperparameters are integrated out on a grid.
"""

import itertools

import numpy as np
import pytest
from scipy import integrate, stats

from sparsestat import GraphicalKnockoffSelector, KnockoffSelector
from sparsestat._kernels._mlr import masked_spike_slab, pair_log_marginal
from sparsestat.feature_selection._statistics import knockoff_statistic

# the hyperpriors the sampler is run with below
SIGMA2_PRIOR = TAU2_PRIOR = (2.0, 1.0)      # InvGamma(a, b)
P0_MIN = 0.3                                # p0 ~ Uniform(P0_MIN, 1): Beta(1, 1) truncated


def _log_gaussian_marginal(y, A, sigma2, tau2):
    """log N(y; 0, sigma2 I + tau2 A A^T) on a grid of (sigma2, tau2), by Woodbury."""
    n, k = A.shape
    yy = y @ y
    if k == 0:
        return -0.5 * (n * np.log(2 * np.pi * sigma2) + yy / sigma2)
    AtA, Aty = A.T @ A, A.T @ y
    s2, t2 = np.broadcast_arrays(sigma2, tau2)
    M = s2[..., None, None] * np.eye(k) + t2[..., None, None] * AtA   # (..., k, k)
    _, logdet = np.linalg.slogdet(M)
    solved = np.linalg.solve(M, np.broadcast_to(Aty, M.shape[:-1])[..., None])[..., 0]
    quad = (yy - t2 * (solved @ Aty)) / s2
    return -0.5 * (n * np.log(2 * np.pi) + (n - k) * np.log(s2) + logdet + quad)


def _exact_first_column_probability(y, A):
    """P(psi_j = 0 | y) for the two pairs (columns j and j + 2) of ``A``, the labels,
    coefficients and hyperparameters integrated out."""
    p = A.shape[1] // 2
    # hyperparameters on a log grid, weighted by their prior densities (trapezoid rule)
    u = np.linspace(-9.0, 5.0, 141)
    s2, t2 = np.meshgrid(np.exp(u), np.exp(u), indexing="ij")
    prior = (stats.invgamma.pdf(s2, SIGMA2_PRIOR[0], scale=SIGMA2_PRIOR[1]) * s2
             * stats.invgamma.pdf(t2, TAU2_PRIOR[0], scale=TAU2_PRIOR[1]) * t2)
    weight = np.outer(np.gradient(u), np.gradient(u)) * prior

    def p0_moment(zeros):       # E[p0^zeros (1 - p0)^(p - zeros)] under the uniform prior
        value, _ = integrate.quad(lambda q: q ** zeros * (1 - q) ** (p - zeros), P0_MIN, 1)
        return value / (1 - P0_MIN)

    total, first = 0.0, np.zeros(p)
    likelihoods = []
    for labels in itertools.product((0, 1), repeat=p):
        for active in itertools.product((False, True), repeat=p):
            columns = [j + p * labels[j] for j in range(p) if active[j]]
            log_lik = _log_gaussian_marginal(y, A[:, columns], s2, t2)
            likelihoods.append((labels, active, log_lik))
    shift = max(ll.max() for *_, ll in likelihoods)
    for labels, active, log_lik in likelihoods:
        mass = 0.5 ** p * p0_moment(p - sum(active)) * np.sum(weight * np.exp(log_lik - shift))
        total += mass
        first += mass * (np.array(labels) == 0)
    return first / total


@pytest.mark.parametrize("seed", [0, 1])
def test_sampler_matches_the_exact_posterior(seed):
    rng = np.random.default_rng(seed)
    n = 25
    z = rng.standard_normal((n, 2))
    # the pairs are correlated within (0.5) and with each other, so the Gibbs steps of the
    # two pairs interact through the residual
    X = np.column_stack([z[:, 0], 0.6 * z[:, 0] + 0.8 * z[:, 1]])
    Xk = 0.5 * X + np.sqrt(0.75) * rng.standard_normal((n, 2))
    A = np.hstack([X, Xk])
    y = 0.45 * X[:, 0] + 0.25 * X[:, 1] + rng.standard_normal(n)
    expected = _exact_first_column_probability(y, A)
    prob, _ = masked_spike_slab(A.T @ A, A.T @ y, float(y @ y), float(n), 40000, 2000, 4,
                                *SIGMA2_PRIOR, *TAU2_PRIOR, 1.0, 1.0, P0_MIN, seed)
    # neither certain nor a coin flip: a test of the middle of the posterior
    assert np.all(np.abs(expected - 0.5) > 0.1) and np.all(np.abs(expected - 0.5) < 0.47)
    np.testing.assert_allclose(prob, expected, atol=0.004)


def test_pair_marginal_is_the_integral_over_the_coefficient():
    """log m = log(p0 + (1 - p0) * integral of the likelihood ratio over N(0, tau2))."""
    rng = np.random.default_rng(3)
    a, r = rng.standard_normal(12), rng.standard_normal(12)
    for sigma2, tau2, p0 in [(1.0, 0.5, 0.9), (0.3, 2.0, 0.6), (2.5, 0.05, 0.99)]:
        def integrand(b):
            ratio = np.exp(-0.5 * (np.sum((r - a * b) ** 2) - r @ r) / sigma2)
            return ratio * stats.norm.pdf(b, scale=np.sqrt(tau2))
        slab, _ = integrate.quad(integrand, -50, 50, points=[a @ r / (a @ a)], limit=200)
        expected = np.log(p0 + (1 - p0) * slab)
        got = pair_log_marginal(a @ r, a @ a, sigma2, tau2, np.log(p0), np.log1p(-p0))
        np.testing.assert_allclose(got, expected, rtol=1e-9)


def _swap_data(seed=4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((120, 8))
    Xk = 0.4 * X + np.sqrt(0.84) * rng.standard_normal((120, 8))
    y = 0.5 * X[:, 0] - 0.5 * Xk[:, 1] + rng.standard_normal(120)
    return X, Xk, y


def test_swapping_features_and_knockoffs_flips_the_statistic():
    """Swapped columns give -W up to Monte Carlo error; the signal column wins its pair."""
    X, Xk, y = _swap_data()
    params = dict(n_iter=4000)
    W = knockoff_statistic(X, Xk, y, "mlr", rng=np.random.default_rng(0), **params)
    W_swapped = knockoff_statistic(Xk, X, y, "mlr", rng=np.random.default_rng(1), **params)
    np.testing.assert_allclose(W_swapped, -W, atol=0.03)
    assert W[0] > 0.9 and W[1] < -0.9
    assert np.all(np.abs(W) <= 1.0)


def test_statistic_uses_only_sufficient_statistics_and_the_units_of_nothing():
    """A row rotation fixing the constant vector and any rescaling of X, Xk, y leave the
    Gram matrix, [X, Xk]^T y and ||y||^2 of the standardized problem: same W, same seed."""
    X, Xk, y = _swap_data(7)
    n = X.shape[0]
    rng = np.random.default_rng(8)
    v = rng.standard_normal(n)
    v -= v.mean()
    v /= np.linalg.norm(v)
    Q = np.eye(n) - 2 * np.outer(v, v)
    W, signs = knockoff_statistic(X, Xk, y, "mlr", rng=np.random.default_rng(2),
                                  return_signs=True)
    for a, b, c in [(Q @ X, Q @ Xk, Q @ y), (X * 1e6 + 3.0, Xk * 1e6 - 2.0, y * 1e-7 + 5.0)]:
        W2, signs2 = knockoff_statistic(a, b, c, "mlr", rng=np.random.default_rng(2),
                                        return_signs=True)
        np.testing.assert_allclose(W2, W, atol=1e-7)
        np.testing.assert_array_equal(signs2, signs)
    assert signs[0] == 1.0


def test_null_signs_are_fair_coins():
    """Under the null (y independent of X, exchangeable knockoffs) each W_j is positive
    with probability 1/2: over 40 data sets of 10 features, 400 signs."""
    rng = np.random.default_rng(9)
    positive = []
    for r in range(40):
        Z = rng.standard_normal((60, 20))
        X, Xk = Z[:, :10], Z[:, 10:]       # independent features: knockoffs are copies
        y = rng.standard_normal(60)
        W = knockoff_statistic(X, Xk, y, "mlr", rng=np.random.default_rng(r), n_iter=300)
        positive.extend(W[W != 0] > 0)
    assert stats.binomtest(int(np.sum(positive)), len(positive)).pvalue > 0.01


def test_selector_finds_the_signal_and_reports_signs():
    rng = np.random.default_rng(10)
    n, p = 400, 30
    X = rng.standard_normal((n, p))
    beta = np.zeros(p)
    beta[:8] = 0.35 * np.array([1, -1, 1, -1, 1, 1, -1, 1])
    y = X @ beta + rng.standard_normal(n)
    sel = KnockoffSelector(fdr=0.2, statistic="mlr", random_state=0).fit(X, y)
    assert sel.support_[:8].sum() >= 7     # FDR control: tests/test_knockoffs_fdr.py
    chosen = sel.support_[:8]
    np.testing.assert_array_equal(sel.signs_[:8][chosen], np.sign(beta[:8][chosen]))


@pytest.mark.parametrize("kwargs, y_kind, match", [
    ({}, "classes", "continuous target"),
    ({"groups": np.repeat(np.arange(5), 2)}, "real", "single features"),
    ({"statistic_params": {"n_iter": 0}}, "real", "n_iter"),
    ({"statistic_params": {"burn_prop": 1.0}}, "real", "burn_prop"),
    ({"statistic_params": {"penalty": "cp"}}, "real", "does not take"),
])
def test_refuses_what_it_has_no_version_for(kwargs, y_kind, match):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((60, 10))
    y = X[:, 0] + rng.standard_normal(60)
    if y_kind == "classes":
        y = (y > 0).astype(int)
    with pytest.raises(ValueError, match=match):
        KnockoffSelector(statistic="mlr", **kwargs).fit(X, y)


def test_graphical_selector_accepts_the_statistic():
    """Each node's regression is a fixed-X problem and mlr a function of its sufficient
    statistics. On a dense random graph nearly every true edge's statistic is positive,
    and those of the absent edges are positive about half of the time (fair signs)."""
    rng = np.random.default_rng(12)
    p = 20
    upper = np.triu(rng.random((p, p)) < 0.5, 1)
    S = upper * rng.choice([-1.0, 1.0], (p, p))
    S = S + S.T
    precision = S + (0.2 - np.linalg.eigvalsh(S).min()) * np.eye(p)
    truth = (precision != 0) & ~np.eye(p, dtype=bool)
    X = rng.multivariate_normal(np.zeros(p), np.linalg.inv(precision), size=400)
    W = GraphicalKnockoffSelector(fdr=0.2, statistic="mlr", random_state=0).fit(X).W_
    assert (W[truth] > 0).mean() >= 0.95
    null = W[~truth & ~np.eye(p, dtype=bool)]
    assert stats.binomtest(int(np.sum(null > 0)), int(np.sum(null != 0))).pvalue > 0.01
