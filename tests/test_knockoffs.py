"""Knockoff constructions, s-values, threshold and statistics against theory."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline

from sparsestat import KnockoffSelector
from sparsestat.feature_selection._construction import fixed_x_knockoffs, gaussian_knockoffs
from sparsestat.feature_selection._statistics import knockoff_statistic
from sparsestat.feature_selection._svalues import (SELECTOR_MU, compute_s, equicorrelated_s,
                                                    sdp_s, to_correlation)
from sparsestat.feature_selection._threshold import knockoff_threshold


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small dense problems: one BLAS thread is faster and its cost predictable."""
    with threadpool_limits(1):
        yield


def ar1(p, rho):
    return rho ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))


def random_correlation(p, n, seed):
    A = np.random.default_rng(seed).standard_normal((n, p))
    A[:, 1] = A[:, 0] + 0.3 * A[:, 1]          # one strongly correlated pair
    return to_correlation(A.T @ A)[0]


def centred_unit_design(n, p, seed, rho=0.5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) @ np.linalg.cholesky(ar1(p, rho)).T
    X -= X.mean(axis=0)
    return X / np.linalg.norm(X, axis=0)


# ---------------------------------------------------------------- s-values

@pytest.mark.parametrize("R", [ar1(30, 0.5), ar1(15, 0.9), random_correlation(25, 40, 0)],
                         ids=["ar1-0.5", "ar1-0.9", "random"])
def test_sdp_is_feasible_and_not_worse_than_equicorrelated(R):
    s = sdp_s(R)
    assert np.all(s >= 0) and np.all(s <= 1)
    assert np.linalg.eigvalsh(2 * R - np.diag(s))[0] >= -1e-10
    assert s.sum() >= equicorrelated_s(R).sum() - 1e-12
    s_eq = equicorrelated_s(R)
    assert np.linalg.eigvalsh(2 * R - np.diag(s_eq))[0] >= -1e-10
    assert np.all(s_eq <= 1)


@pytest.mark.parametrize("r", [0.3, 0.6, 0.95])
def test_sdp_two_features_closed_form(r):
    # maximize s1 + s2 with (2 - s1)(2 - s2) >= 4 r^2, s <= 1: s = min(1, 2 - 2|r|)
    R = np.array([[1.0, r], [r, 1.0]])
    np.testing.assert_allclose(sdp_s(R), np.full(2, min(1.0, 2 - 2 * r)), atol=1e-5)


def test_sdp_optimal_by_a_dual_certificate():
    # Weak duality: for any Y >= 0, sum(s*) <= 2 tr(R Y) + sum(max(0, 1 - diag(Y))).
    # Scaled inverses of 2R - diag(s) give nearly tight dual points at the optimum.
    R = random_correlation(20, 30, 1)
    s = sdp_s(R)
    Ginv = np.linalg.inv(2 * R - np.diag(s))
    bounds = [2 * c * np.trace(R @ Ginv) + np.maximum(0, 1 - c * np.diag(Ginv)).sum()
              for c in np.geomspace(1e-9, 1e-2, 4000)]
    assert s.sum() <= min(bounds) + 1e-9           # primal value below a dual value
    assert min(bounds) - s.sum() <= 1e-3 * len(s)  # and nearly equal: optimal


@pytest.mark.parametrize("mu", [0.1, 1.0, 3.0])
def test_sdp_central_path_point_is_stationary(mu):
    # tol = 3 mu stops the barrier at mu: there the gradient of
    # -sum(s) - mu [log det(2R - diag s) + sum log s] - 1e-6 sum log(1 - s) vanishes
    # (the bound s <= 1 keeps a negligible weight), checked here with an inverse
    # computed independently of the solver
    R = ar1(40, 0.5)
    s = sdp_s(R, tol=3 * mu, never_below_equi=False)
    Ginv = np.linalg.inv(2 * R - np.diag(s))
    upper = 1e-6 / (1.0 - s)
    grad = -1.0 + mu * (np.diag(Ginv) - 1.0 / s) + upper
    # relative to the bound's term, which is large where s is within 1e-6 of 1
    assert np.all(np.abs(grad) <= 1e-5 + 1e-3 * upper)
    assert s.sum() <= sdp_s(R).sum()


@pytest.mark.parametrize("R", [np.eye(30), ar1(30, 0.2)], ids=["independent", "ar1-0.2"])
def test_selector_s_values_reach_one_when_the_box_binds(R):
    # 2 lambda_min(R) >= 1: s = 1 (uncorrelated knockoffs) is feasible and optimal, and
    # the selectors' central-path point must not stop short of it (only the PSD
    # constraint and s >= 0 carry the margin)
    assert 2 * np.linalg.eigvalsh(R)[0] >= 1
    np.testing.assert_allclose(compute_s(R, "sdp"), 1.0, atol=1e-4)
    np.testing.assert_array_equal(compute_s(R, "equi"), 1.0)


def equicorrelated(p, rho):
    return (1 - rho) * np.eye(p) + rho * np.ones((p, p))


@pytest.mark.parametrize("p", [2, 10, 60])
@pytest.mark.parametrize("rho", [0.5, 0.6, 0.8, 0.95])
def test_equicorrelated_s_values_stay_strictly_feasible(p, rho):
    """On R = (1 - rho) I + rho 11^T the closed form s = min(2 (1 - rho), 1) makes
    2R - diag(s) singular along p - 1 directions (for rho = 1/2 already at s = 1). The
    selectors' s is the barrier's central point restricted to equal s: the root of
    -p + mu [(p - 1) / (2 (1 - rho) - s) + 1 / (2 (1 + (p - 1) rho) - s) - p / s],
    written here from the two eigenvalues of R and solved by scipy's brentq."""
    from scipy.optimize import brentq
    R = equicorrelated(p, rho)
    closed = min(2 * (1 - rho), 1.0)
    np.testing.assert_allclose(equicorrelated_s(R), closed, rtol=1e-12)
    mu = SELECTOR_MU
    lam_small, lam_big = 1 - rho, 1 + (p - 1) * rho

    def slope(s):
        return -p + mu * ((p - 1) / (2 * lam_small - s) + 1 / (2 * lam_big - s) - p / s)

    reference = min(brentq(slope, 1e-12, 2 * lam_small * (1 - 1e-15), xtol=1e-15), 1.0)
    s = compute_s(R, "equi")
    np.testing.assert_allclose(s, reference, rtol=1e-10)
    margin = np.linalg.eigvalsh(2 * R - np.diag(s))[0]
    np.testing.assert_allclose(margin, 2 * lam_small - reference, rtol=1e-8)
    assert margin >= 0.02                         # positive definite with a margin
    assert closed - 0.1 <= s[0] < closed          # and not far inside
    # the full SDP's central point at the same mu is equicorrelated here, by symmetry
    np.testing.assert_allclose(compute_s(R, "sdp"), s, atol=1e-5)


# ---------------------------------------------------------------- constructions

@pytest.mark.parametrize("s_method", ["equi", "sdp"])
def test_fixed_x_knockoffs_gram_identities(s_method):
    X = centred_unit_design(120, 25, 0)
    Sigma = X.T @ X
    s = equicorrelated_s(Sigma) if s_method == "equi" else sdp_s(Sigma)
    Xk = fixed_x_knockoffs(X, s, np.random.default_rng(1))
    np.testing.assert_allclose(Xk.T @ Xk, Sigma, rtol=0, atol=1e-8)
    np.testing.assert_allclose(X.T @ Xk, Sigma - np.diag(s), rtol=0, atol=1e-8)
    np.testing.assert_allclose(Xk.sum(axis=0), 0.0, atol=1e-8)   # knockoffs stay centred


def test_fixed_x_knockoffs_differ_between_seeds():
    X = centred_unit_design(80, 10, 2)
    s = sdp_s(X.T @ X)
    a = fixed_x_knockoffs(X, s, np.random.default_rng(0))
    b = fixed_x_knockoffs(X, s, np.random.default_rng(1))
    assert np.abs(a - b).max() > 0.1


def test_gaussian_knockoffs_joint_covariance_monte_carlo():
    p, n = 5, 40000
    rng = np.random.default_rng(3)
    sd = np.array([1.0, 2.0, 0.5, 1.5, 1.0])
    Sigma = ar1(p, 0.6) * np.outer(sd, sd)
    mu = np.arange(p, dtype=float)
    X = mu + rng.standard_normal((n, p)) @ np.linalg.cholesky(Sigma).T
    R, _ = to_correlation(Sigma)
    s = sdp_s(R) * sd ** 2
    Xk = gaussian_knockoffs(X, mu, Sigma, s, rng)
    G = np.block([[Sigma, Sigma - np.diag(s)], [Sigma - np.diag(s), Sigma]])
    emp = np.cov(np.hstack([X, Xk]), rowvar=False)
    # standard error of a sample covariance entry: sqrt((G_ij^2 + G_ii G_jj) / n)
    se = np.sqrt((G ** 2 + np.outer(np.diag(G), np.diag(G))) / n)
    assert np.max(np.abs(emp - G) / se) < 4.5     # 55 distinct entries, Gaussian tails
    np.testing.assert_allclose(Xk.mean(axis=0), mu, atol=5 * np.sqrt(np.diag(Sigma) / n).max())


# ---------------------------------------------------------------- threshold

def brute_force_threshold(W, q, offset):
    """min{t > 0 : (offset + #{W <= -t}) / max(1, #{W >= t}) <= q}, scanning t on a fine grid."""
    best = np.inf
    for t in np.abs(W[W != 0]):
        fdp_hat = (offset + np.sum(W <= -t)) / max(1, np.sum(W >= t))
        if fdp_hat <= q and t < best:
            best = t
    return best


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("offset", [0, 1])
def test_threshold_matches_brute_force(seed, offset):
    rng = np.random.default_rng(seed)
    W = np.round(rng.standard_normal(60) + rng.binomial(1, 0.3, 60) * 3, 1)  # with ties
    W[:5] = 0.0
    for q in [0.05, 0.1, 0.2, 0.5]:
        assert knockoff_threshold(W, q, offset) == brute_force_threshold(W, q, offset)


def test_threshold_selects_nothing_when_impossible():
    assert knockoff_threshold(np.array([1.0, 2.0, 3.0]), 0.1, 1) == np.inf  # needs >= 10
    assert knockoff_threshold(np.zeros(5), 0.5, 0) == np.inf


# ---------------------------------------------------------------- statistics

@pytest.mark.parametrize("statistic", ["lcd", "lsm", "lbi"])
def test_statistics_are_antisymmetric_under_swap(statistic):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((100, 8))
    Xk = rng.standard_normal((100, 8))
    y = X[:, 0] - Xk[:, 1] + rng.standard_normal(100)
    W = knockoff_statistic(X, Xk, y, statistic)
    W_swapped = knockoff_statistic(Xk, X, y, statistic)
    # lasso coefficients come from coordinate descent run to its tolerance (lcd), and a
    # coefficient at the edge of entering may enter one grid value later (lsm: 1.5 %)
    tol = {"lcd": dict(atol=1e-4), "lsm": dict(rtol=0.02), "lbi": dict(atol=1e-10)}
    np.testing.assert_allclose(W_swapped, -W, **tol[statistic])
    assert W[0] > 0 and W[1] < 0       # the signal column wins its own comparison
    if statistic == "lbi":             # LBI is exactly equivariant to the column order
        W_shuffled = knockoff_statistic(X, Xk, y, statistic, rng=np.random.default_rng(0))
        np.testing.assert_allclose(W_shuffled, W, atol=1e-10)


@pytest.mark.parametrize("penalty", ["cp", "gcv"])
def test_lcd_flips_sign_when_one_feature_is_swapped(penalty):
    """Swapping X_j with its knockoff flips W_j and leaves every other W_i unchanged, for
    the information-criterion penalties (the Cp and GCV criteria are swap-invariant)."""
    rng = np.random.default_rng(21)
    n, p = 150, 10
    X = rng.standard_normal((n, p))
    Xk = 0.6 * X + 0.8 * rng.standard_normal((n, p))
    y = X[:, 0] - X[:, 1] + 0.5 * X[:, 4] + rng.standard_normal(n)
    W = knockoff_statistic(X, Xk, y, "lcd", penalty=penalty)
    for j in (0, 4, 7):
        Xs, Xks = X.copy(), Xk.copy()
        Xs[:, j], Xks[:, j] = Xk[:, j], X[:, j]
        W_swap = knockoff_statistic(Xs, Xks, y, "lcd", penalty=penalty)
        expected = W.copy()
        expected[j] = -W[j]
        np.testing.assert_allclose(W_swap, expected, atol=1e-4)
    assert W[0] > 0 and W[1] > 0 and np.count_nonzero(W) >= 3


@pytest.mark.parametrize("statistic, params", [("lcd", {"penalty": "cp"}),
                                                ("lcd", {"penalty": "gcv"}), ("lbi", {})])
def test_fixed_x_statistics_use_only_sufficient_statistics(statistic, params):
    """A rotation of the rows that fixes the constant vector keeps the Gram matrix and
    [X, Xk]^T y, so a fixed-X statistic (Cp-tuned lasso, LBI) must not change."""
    rng = np.random.default_rng(11)
    n = 90
    X = rng.standard_normal((n, 6))
    Xk = rng.standard_normal((n, 6))
    y = X[:, 0] - X[:, 3] + rng.standard_normal(n)
    v = rng.standard_normal(n)
    v -= v.mean()
    v /= np.linalg.norm(v)
    Q = np.eye(n) - 2 * np.outer(v, v)        # orthogonal, Q @ ones = ones
    W = knockoff_statistic(X, Xk, y, statistic, **params)
    W_rot = knockoff_statistic(Q @ X, Q @ Xk, Q @ y, statistic, **params)
    np.testing.assert_allclose(W_rot, W, atol=1e-6)
    assert np.count_nonzero(W) >= 3


def test_lbi_statistic_is_inverse_entry_time_from_the_engine():
    from sparsestat._engine import lbi_path
    rng = np.random.default_rng(5)
    X = rng.standard_normal((80, 6))
    Xk = rng.standard_normal((80, 6))
    y = 2 * X[:, 0] + X[:, 2] + rng.standard_normal(80)
    Xs = np.hstack([X, Xk])
    Xs = (Xs - Xs.mean(0)) / Xs.std(0)
    tau = lbi_path(Xs, y[:, None], n_times=2, t_ratio=10.0).entry_times[:, 0]
    Z = np.where(np.isfinite(tau), 1 / tau, 0.0)
    expected = np.maximum(Z[:6], Z[6:]) * np.sign(Z[:6] - Z[6:])
    np.testing.assert_allclose(knockoff_statistic(X, Xk, y, "lbi"), expected, rtol=1e-12)


# ---------------------------------------------------------------- selector

@pytest.mark.parametrize("statistic", ["lcd", "lsm", "lbi"])
def test_classification_targets_select_the_signal(statistic):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((400, 15))
    logits = 2.5 * X[:, :6] @ np.array([1, -1, 1, -1, 1, 1.0])
    yb = (rng.random(400) < 1 / (1 + np.exp(-logits))).astype(int)
    sel = KnockoffSelector(fdr=0.2, statistic=statistic, random_state=0).fit(X, yb)
    assert set(np.flatnonzero(sel.support_)) >= {0, 1, 2, 3, 4, 5}
    y3 = np.digitize(X[:, :6] @ np.ones(6), [-1.5, 1.5])
    sel = KnockoffSelector(fdr=0.2, statistic=statistic, random_state=0).fit(X, y3)
    assert sel.support_[:6].sum() >= 5
    assert sel.support_[6:].sum() <= 2


def test_selector_in_a_pipeline_and_stored_knockoffs():
    rng = np.random.default_rng(7)
    X = 3 + 2 * rng.standard_normal((200, 12))
    y = X[:, :5] @ np.ones(5) + rng.standard_normal(200)
    sel = KnockoffSelector(fdr=0.2, store_knockoffs=True, random_state=0)
    pipe = make_pipeline(sel, LinearRegression()).fit(X, y)
    support = sel.get_support()
    assert support[:5].all() and support[5:].sum() <= 1
    assert pipe.predict(X).shape == (200,)
    assert sel.transform(X).shape == (200, support.sum())
    # stored knockoffs on the data's scale: same centred Gram, cross Gram minus S
    Xc = X - X.mean(0)
    Kc = sel.knockoffs_ - sel.knockoffs_.mean(0)
    norm = np.linalg.norm(Xc, axis=0)
    G = (Xc / norm).T @ (Xc / norm)
    np.testing.assert_allclose((Kc / norm).T @ (Kc / norm), G, atol=1e-8)
    np.testing.assert_allclose((Xc / norm).T @ (Kc / norm), G - np.diag(sel.s_), atol=1e-8)
    assert sel.threshold_ == knockoff_threshold(sel.W_, 0.2, 1)


def test_same_seed_same_selection_and_offset_zero_is_more_liberal():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((150, 30))
    y = X[:, :4] @ np.full(4, 0.4) + rng.standard_normal(150)
    a = KnockoffSelector(fdr=0.3, statistic="lsm", random_state=3).fit(X, y)
    b = KnockoffSelector(fdr=0.3, statistic="lsm", random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.W_, b.W_)
    c = KnockoffSelector(fdr=0.3, statistic="lsm", offset=0, random_state=3).fit(X, y)
    assert c.threshold_ <= a.threshold_


# ---------------------------------------------------------------- bad input

def _data(n=100, p=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    return X, X[:, 0] + rng.standard_normal(n)


def test_fixed_x_with_too_few_samples_suggests_gaussian():
    X, y = _data(n=30, p=20)
    with pytest.raises(ValueError, match=r"n >= 2p \+ 1.*knockoffs='gaussian'"):
        KnockoffSelector().fit(X, y)
    # and the suggestion works
    KnockoffSelector(knockoffs="gaussian", random_state=0).fit(X, y)


@pytest.mark.parametrize("Sigma, match", [
    (np.ones((10, 10)), "singular"),
    (np.eye(10) - 0.5 * (np.ones((10, 10)) - np.eye(10)), "not positive semi-definite"),
    (np.eye(9), r"shape \(9, 9\).*10 features"),
    (np.triu(np.ones((10, 10))), "not symmetric"),
    (np.full((10, 10), np.nan), "NaN"),
])
def test_bad_sigma(Sigma, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        KnockoffSelector(knockoffs="gaussian", Sigma=Sigma).fit(X, y)


def test_collinear_design_is_singular_for_fixed_x():
    X, y = _data()
    X[:, 3] = X[:, 1] - X[:, 2]
    with pytest.raises(ValueError, match="singular"):
        KnockoffSelector().fit(X, y)


@pytest.mark.parametrize("fdr", [0.0, 1.0, 1.5, -0.1])
def test_fdr_outside_unit_interval(fdr):
    X, y = _data()
    with pytest.raises(ValueError, match=r"'fdr' parameter .* range \(0.0, 1.0\)"):
        KnockoffSelector(fdr=fdr).fit(X, y)


def test_constant_columns_are_named():
    X, y = _data()
    X[:, [2, 7]] = 1.0
    with pytest.raises(ValueError,
                       match=r"constant column\(s\) \(indices \[2, 7\]\).*VarianceThreshold"):
        KnockoffSelector().fit(X, y)


def test_nan_input_and_sigma_with_fixed():
    X, y = _data()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KnockoffSelector().fit(X, y)
    X, y = _data()
    with pytest.raises(ValueError, match="only by knockoffs='gaussian'"):
        KnockoffSelector(Sigma=np.eye(10)).fit(X, y)


# ---------------------------------------------------------------- split knockoffs

def test_split_knockoff_design_identities():
    from sparsestat.feature_selection._split import split_knockoffs
    rng = np.random.default_rng(9)
    n, p, nu = 60, 8, 2.0
    X = rng.standard_normal((n, p))
    D = np.diff(np.eye(p), axis=0)
    m = D.shape[0]
    A_beta = np.block([[np.ones((n, 1)) / np.sqrt(n), X / np.sqrt(n)],
                       [np.zeros((m, 1)), D / np.sqrt(nu)]])
    A_gamma = np.vstack([np.zeros((n, m)), -np.eye(m) / np.sqrt(nu)])
    Ak, s = split_knockoffs(A_beta, A_gamma, "sdp", rng)
    G = A_gamma.T @ A_gamma
    Q, _ = np.linalg.qr(A_beta)
    Sigma = A_gamma.T @ (A_gamma - Q @ (Q.T @ A_gamma))
    S = np.diag(s * np.diag(Sigma))                      # s on the correlation scale
    np.testing.assert_allclose(A_beta.T @ Ak, A_beta.T @ A_gamma, atol=1e-8)
    np.testing.assert_allclose(Ak.T @ Ak, G, atol=1e-8)
    np.testing.assert_allclose(A_gamma.T @ Ak, G - S, atol=1e-8)
    assert np.linalg.eigvalsh(2 * Sigma - S)[0] >= -1e-10


def test_split_entry_times_match_the_engine():
    """The discretized dual crossing reproduces Split LBI's exact gamma entry times."""
    from sparsestat._engine import split_lbi_path
    from sparsestat.feature_selection._split import entry_from_dual
    rng = np.random.default_rng(10)
    X = rng.standard_normal((150, 10))
    beta = np.repeat([0.0, 1.0, -0.5, 0.5, 0.0], 2)
    y = X @ beta + 0.5 * rng.standard_normal(150)
    y = (y - y.mean()) / y.std()          # the selector hands the engine a standardized y
    D = np.diff(np.eye(10), axis=0)
    path = split_lbi_path(X, y, D, n_times=400, t_ratio=50.0)
    times = np.concatenate([[0.0], path.beta_path.times])
    Db = np.vstack([path.beta_path.coefs[:1], path.beta_path.coefs]) @ D.T / path.nu
    F = np.vstack([np.zeros((1, 9)),
                   np.cumsum(np.diff(times)[:, None] * (Db[1:] + Db[:-1]) / 2, axis=0)])
    tau, sign = entry_from_dual(times, F)
    exact = path.gamma_path.entry_times
    entered = np.isfinite(exact)
    assert entered.sum() >= 3
    np.testing.assert_allclose(tau[entered], exact[entered], rtol=0.02)
    # the sign at entry is the sign of gamma right after it enters
    after = np.array([path.gamma_path.coef_at(t * 1.05)[i] for i, t in enumerate(exact)
                      if np.isfinite(t)])
    np.testing.assert_array_equal(sign[entered], np.sign(after))


def test_split_selector_finds_change_points_and_identity():
    from sparsestat import SplitKnockoffSelector
    rng = np.random.default_rng(0)
    n, p = 400, 30
    X = rng.standard_normal((n, p))
    beta = np.repeat([0.0, 1.0, -1.0, 0.0, 1.0, 1.0, -1.0, 0.0, 1.0, 0.0], 3)
    y = X @ beta + rng.standard_normal(n)
    D = np.diff(np.eye(p), axis=0)
    gamma = D @ beta
    sel = SplitKnockoffSelector(fdr=0.2, D=D, random_state=0).fit(X, y)
    right = sel.selected_rows_ & (np.sign(gamma) == sel.signs_) & (gamma != 0)
    # power on this replicate; the directional FDR is an expectation, checked over
    # replicates in test_knockoffs_fdr.py (one draw only bounds its false share loosely)
    assert right.sum() >= 6 and (sel.selected_rows_ & ~right).sum() <= sel.selected_rows_.sum() / 2
    # transform keeps the features touched by a selected row of D
    assert np.array_equal(sel.get_support(), np.abs(D[sel.selected_rows_]).sum(0) > 0)
    # sparse D gives the same answer
    import scipy.sparse as sp
    sel_sp = SplitKnockoffSelector(fdr=0.2, D=sp.csr_matrix(D), random_state=0).fit(X, y)
    np.testing.assert_array_equal(sel_sp.W_, sel.W_)


def test_split_bad_input():
    from sparsestat import SplitKnockoffSelector
    X, y = _data(n=100, p=10)
    with pytest.raises(ValueError, match=r"one column per feature.*shape \(7, 8\)"):
        SplitKnockoffSelector(D=np.diff(np.eye(8), axis=0)).fit(X, y)
    with pytest.raises(ValueError, match=r"n2 >= p \+ m \+ 1 = 30.*n=25"):
        SplitKnockoffSelector(D=np.vstack([np.eye(10), np.diff(np.eye(10), axis=0)[:9]])
                              ).fit(X[:25], y[:25])
    with pytest.raises(ValueError, match=r"n2 >= p \+ m \+ 1 = 21"):
        SplitKnockoffSelector().fit(X[:19], y[:19])          # n < p + m
    with pytest.raises(ValueError, match="'fdr' parameter"):
        SplitKnockoffSelector(fdr=1.0).fit(X, y)
    X[:, 4] = 2.0
    with pytest.raises(ValueError, match="constant column"):
        SplitKnockoffSelector().fit(X, y)
    with pytest.raises(ValueError, match="all-zero rows"):
        SplitKnockoffSelector(D=np.zeros((2, 10))).fit(*_data(n=100, p=10))


# ---------------------------------------------------------------- Cp-tuned lasso statistic

def _reference_cp_coef(Xs, y, n_alphas=100, eps=1e-2):
    """Cp-minimizing lasso over the whole grid: sklearn's path, least-squares noise by lstsq."""
    from sklearn.linear_model import lasso_path
    n = Xs.shape[0]
    yc = y - y.mean()
    alphas = np.abs(Xs.T @ yc).max() / n * np.geomspace(1.0, eps, n_alphas)
    _, coefs, _ = lasso_path(Xs, yc, alphas=alphas, max_iter=5000)
    ols, _, rank, _ = np.linalg.lstsq(Xs, yc, rcond=1e-6)   # numerically null directions out
    sigma2 = np.sum((yc - Xs @ ols) ** 2) / (n - rank - 1)
    rss = np.sum((yc[:, None] - Xs @ coefs) ** 2, axis=0)
    return coefs[:, np.argmin(rss + 2 * sigma2 * np.count_nonzero(coefs, axis=0))]


@pytest.mark.parametrize("s_method", ["equi", "sdp"])
def test_cp_lasso_equals_the_full_grid_reference(s_method):
    """The early-stopped, Cholesky-based Cp search picks the same lasso fit as the plain
    search over the whole grid, also when boundary s-values make [X, Xk] singular."""
    from sparsestat.feature_selection._statistics import (
        _lasso_cp, _residual_variance, _standardized_augmented)
    n, p = 400, 40
    X = centred_unit_design(n, p, 3)
    rng = np.random.default_rng(4)
    beta = np.zeros(p)
    beta[rng.choice(p, 8, replace=False)] = 4.0 / np.sqrt(n) * rng.choice([-1, 1], 8)
    y = X @ beta * np.sqrt(n) + rng.standard_normal(n)
    s = equicorrelated_s(X.T @ X) if s_method == "equi" else sdp_s(X.T @ X)
    Xk = fixed_x_knockoffs(X, s, np.random.default_rng(5))
    Xs = _standardized_augmented(X, Xk, np.arange(2 * p))
    yc = y - y.mean()
    ols = np.linalg.lstsq(Xs, yc, rcond=1e-6)[0]
    assert np.linalg.cond(Xs) > 1e3           # s near the boundary: [X, Xk] ill-conditioned
    np.testing.assert_allclose(
        _residual_variance(Xs.T @ Xs, Xs.T @ yc, yc @ yc, n) * (n - 2 * p - 1),
        np.sum((yc - Xs @ ols) ** 2), rtol=1e-4)
    np.testing.assert_allclose(_lasso_cp(Xs, y), _reference_cp_coef(Xs, y), atol=1e-4)


def test_gcv_lasso_equals_the_full_grid_reference():
    """The early-stopped GCV search picks the fit minimizing RSS / (n - 1 - df)^2 over the
    whole grid (sklearn's path, the residuals computed directly) when GCV does not fall
    again after rising for 10 grid points."""
    from sklearn.linear_model import lasso_path
    from sparsestat.feature_selection._statistics import _lasso_cp, _standardized_augmented
    n, p = 132, 60                            # n = 2.2p: few residual degrees of freedom
    X = centred_unit_design(n, p, 8, rho=0.3)
    rng = np.random.default_rng(9)
    beta = np.zeros(p)
    beta[rng.choice(p, 10, replace=False)] = 8.0 * rng.choice([-1, 1], 10)
    y = X @ beta + rng.standard_normal(n)
    Xk = fixed_x_knockoffs(X, compute_s(X.T @ X, "maxent"), np.random.default_rng(10))
    Xs = _standardized_augmented(X, Xk, np.arange(2 * p))
    yc = y - y.mean()
    alphas = np.abs(Xs.T @ yc).max() / n * np.geomspace(1.0, 1e-2, 100)
    _, coefs, _ = lasso_path(Xs, yc, alphas=alphas, max_iter=5000)
    df = np.count_nonzero(coefs, axis=0)
    gcv = np.sum((yc[:, None] - Xs @ coefs) ** 2, axis=0) / (n - 1 - df) ** 2
    best = int(np.argmin(gcv))
    assert 0 < best < 99 and 0 < df[best] < n - 1     # an interior choice
    np.testing.assert_allclose(_lasso_cp(Xs, y, criterion="gcv"), coefs[:, best], atol=1e-4)


# ---------------------------------------------------------------- progress reporting

@pytest.mark.parametrize("knockoffs", ["fixed", "gaussian"])
def test_verbose_reports_the_stages_and_silent_by_default(capsys, knockoffs):
    X, y = _data(n=120, p=8)
    KnockoffSelector(fdr=0.2, knockoffs=knockoffs, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""
    sel = KnockoffSelector(fdr=0.2, knockoffs=knockoffs, random_state=0, verbose=1).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert all(line.startswith("[KnockoffSelector] ") for line in lines)
    text = "\n".join(lines)
    assert "s-values (maxent), sum" in text and "knockoffs" in text
    assert "statistic 'lcd' on 16 columns" in text
    assert f"{int(sel.support_.sum())} of 8 features selected" in lines[-1]
    assert "total" in lines[-1]


def test_split_verbose_reports_the_stages(capsys):
    from sparsestat import SplitKnockoffSelector
    X, y = _data(n=100, p=10)
    SplitKnockoffSelector(fdr=0.2, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""
    sel = SplitKnockoffSelector(fdr=0.2, random_state=0, verbose=2).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("[SplitKnockoffSelector] ") for line in lines)
    assert "Split LBI path on part 1 (50 samples, 10 rows of D)" in lines[0]
    assert f"{int(sel.selected_rows_.sum())} of 10 rows of D selected" in lines[-1]
