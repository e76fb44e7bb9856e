"""MVR / maxent s-values, group knockoffs, derandomized knockoffs, supplied knockoffs and
their diagnostic, signs and the no-selection warning, split knockoffs with nu by CV."""

import warnings

import numpy as np
import pytest
from scipy import optimize
from threadpoolctl import threadpool_limits

from sparsestat import KnockoffSelector, SplitKnockoffSelector
from sparsestat.feature_selection import NoSelectionWarning
from sparsestat.feature_selection._aggregate import ebh, knockoff_e_values
from sparsestat.feature_selection._construction import fixed_x_knockoffs
from sparsestat.feature_selection._svalues import compute_group_S, mrc_s, to_correlation


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def ar1(p, rho):
    return rho ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))


def equicorrelated(p, rho):
    return np.full((p, p), rho) + (1 - rho) * np.eye(p)


def fdp_power(selected, truth):
    return (selected & ~truth).sum() / max(1, selected.sum()), (selected & truth).sum() / truth.sum()


# ---------------------------------------------------------------- MVR and maxent

def _equal_s_reference(p, rho, method):
    """Minimizer of the loss over equal s-values, from the eigenvalues of R written out:
    2(1 - rho) (p - 1 times) and 2(1 + (p - 1) rho), by a bounded scalar search."""
    a, b = 2 * (1 - rho), 2 * (1 + (p - 1) * rho)

    def loss(s):
        if method == "mvr":
            return (p - 1) / (a - s) + 1 / (b - s) + p / s
        return -(p - 1) * np.log(a - s) - np.log(b - s) - p * np.log(s)

    top = min(a, b, 1.0 + 1e-12)
    res = optimize.minimize_scalar(loss, bounds=(1e-9, top - 1e-12), method="bounded",
                                   options={"xatol": 1e-12})
    return min(res.x, 1.0)


@pytest.mark.parametrize("method", ["mvr", "maxent"])
@pytest.mark.parametrize("p, rho", [(2, 0.3), (5, 0.5), (30, 0.6), (60, 0.9), (10, -0.05)])
def test_mrc_equals_the_closed_form_on_equicorrelated_designs(method, p, rho):
    s = mrc_s(equicorrelated(p, rho), method)
    assert np.ptp(s) < 1e-6                          # symmetric problem, symmetric optimum
    np.testing.assert_allclose(s, _equal_s_reference(p, rho, method), rtol=1e-5)
    if method == "maxent" and rho > 0:
        # maxent on a large equicorrelated block tends to s = 1 - rho (the MVR too)
        assert abs(s[0] - (1 - rho)) < 2.5 * (1 - rho) / p + 1e-3


@pytest.mark.parametrize("method", ["mvr", "maxent"])
@pytest.mark.parametrize("R", [ar1(40, 0.8), ar1(25, 0.3)], ids=["ar0.8", "ar0.3"])
def test_mrc_satisfies_the_stationarity_conditions(method, R):
    s = mrc_s(R, method)
    Vinv = np.linalg.inv(2 * R - np.diag(s))
    assert np.linalg.eigvalsh(2 * R - np.diag(s))[0] > 1e-6 and np.all(s > 0)
    if method == "mvr":       # d/ds_j [tr V^-1 + sum 1/s] = (V^-2)_jj - 1/s_j^2
        grad, scale = np.diag(Vinv @ Vinv) - 1 / s ** 2, 1 / s ** 2
    else:                     # d/ds_j [-log det V - sum log s] = (V^-1)_jj - 1/s_j
        grad, scale = np.diag(Vinv) - 1 / s, 1 / s
    inside = s < 1 - 1e-9
    assert np.all(np.abs(grad[inside]) <= 1e-4 * scale[inside])
    assert np.all(grad[~inside] <= 1e-6 * scale[~inside])     # at the bound s = 1: KKT sign


def test_mrc_is_better_than_its_neighbours():
    R = to_correlation(np.cov(np.random.default_rng(0).standard_normal((80, 12)) @
                              np.linalg.cholesky(ar1(12, 0.7)).T, rowvar=False))[0]
    from sparsestat.feature_selection._svalues import mrc_loss
    for method in ("mvr", "maxent"):
        s = mrc_s(R, method)
        best = mrc_loss(R, s, method)
        for seed in range(20):
            step = np.random.default_rng(seed).normal(0, 1e-3, s.size)
            assert mrc_loss(R, np.clip(s + step, 1e-9, 1), method) >= best - 1e-12


# ---------------------------------------------------------------- group knockoffs

@pytest.mark.parametrize("method", ["equi", "mvr", "maxent"])
def test_group_s_matrix_is_feasible_and_block_diagonal(method):
    R = ar1(24, 0.9)
    groups = np.arange(24) // 3
    S = compute_group_S(R, groups, method)
    assert np.linalg.eigvalsh(2 * R - S)[0] > 1e-6
    assert np.linalg.eigvalsh(S)[0] > 1e-6
    assert np.all(S[groups[:, None] != groups[None, :]] == 0)
    # singleton groups are the ungrouped problem
    if method != "equi":
        np.testing.assert_allclose(np.diag(compute_group_S(R, np.arange(24), method)),
                                   mrc_s(R, method), rtol=1e-6)


def test_group_fixed_x_knockoffs_have_the_gram_identities():
    rng = np.random.default_rng(0)
    n, p = 120, 12
    X = rng.standard_normal((n, p)) @ np.linalg.cholesky(ar1(p, 0.9)).T
    X -= X.mean(axis=0)
    X /= np.linalg.norm(X, axis=0)
    S = compute_group_S(X.T @ X, np.arange(p) // 3, "maxent")
    Xk = fixed_x_knockoffs(X, S, rng)
    np.testing.assert_allclose(Xk.T @ Xk, X.T @ X, atol=1e-8)
    np.testing.assert_allclose(X.T @ Xk, X.T @ X - S, atol=1e-8)


def _pairs_replicate(rng, n=300, p=40, k=6, rho=0.95, amplitude=0.5):
    """Pairs of features with correlation rho; k pairs carry one true feature each."""
    Z = rng.standard_normal((n, p // 2))
    X = np.repeat(Z, 2, axis=1) * np.sqrt(rho) + np.sqrt(1 - rho) * rng.standard_normal((n, p))
    beta = np.zeros(p)
    true_pairs = rng.choice(p // 2, k, replace=False)
    beta[2 * true_pairs + rng.integers(0, 2, k)] = amplitude * rng.choice([-1, 1], k)
    y = X @ beta + rng.standard_normal(n)
    return X, y, np.arange(p) // 2, np.isin(np.arange(p // 2), true_pairs)


@pytest.mark.parametrize("statistic", ["lcd", "lbi"])
def test_group_knockoffs_control_the_group_fdr_and_keep_power(statistic):
    rng = np.random.default_rng(1)
    q = 0.2
    fdp, power, power_single = [], [], []
    for r in range(25):
        X, y, groups, true_groups = _pairs_replicate(rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoSelectionWarning)
            sel = KnockoffSelector(fdr=q, groups=groups, statistic=statistic,
                                   random_state=r).fit(X, y)
            single = KnockoffSelector(fdr=q, statistic=statistic, random_state=r).fit(X, y)
        chosen = np.isin(np.arange(true_groups.size), sel.selected_groups_)
        assert np.array_equal(sel.support_, chosen[groups])
        f, pw = fdp_power(chosen, true_groups)
        fdp.append(f)
        power.append(pw)
        # a feature selected alone counts for its pair
        picked = np.zeros(true_groups.size, bool)
        picked[groups[single.support_]] = True
        power_single.append(fdp_power(picked, true_groups)[1])
    se = np.std(fdp) / np.sqrt(len(fdp))
    assert np.mean(fdp) <= q + 2 * se + 0.03, (np.mean(fdp), se)
    assert np.mean(power) >= 0.6
    assert np.mean(power) >= np.mean(power_single) + 0.2     # pairs at 0.95: groups keep power


# ---------------------------------------------------------------- derandomized knockoffs

def test_e_values_and_ebh_against_their_definitions():
    rng = np.random.default_rng(0)
    for _ in range(50):
        W = rng.normal(0, 1, 30) + np.r_[np.full(8, 3.0), np.zeros(22)]
        T = np.sort(np.abs(W))[rng.integers(0, 30)]
        e = knockoff_e_values(W, T)
        expected = np.array([30 * (w >= T) / (1 + np.sum(W <= -T)) for w in W])
        np.testing.assert_allclose(e, expected)
        ev = rng.exponential(3, 30)
        k_ref = max([k for k in range(1, 31) if np.sort(ev)[::-1][k - 1] >= 30 / (0.2 * k)],
                    default=0)
        assert ebh(ev, 0.2).sum() == k_ref
        if k_ref:
            assert ev[ebh(ev, 0.2)].min() >= np.sort(ev)[::-1][k_ref - 1]


def _sparse_replicate(rng, n=200, p=40, k=12, amplitude=0.45):
    X = rng.standard_normal((n, p)) @ np.linalg.cholesky(ar1(p, 0.3)).T
    beta = np.zeros(p)
    beta[rng.choice(p, k, replace=False)] = amplitude * rng.choice([-1, 1], k)
    return X, X @ beta + rng.standard_normal(n), beta != 0


def test_derandomized_knockoffs_control_fdr_and_are_stable():
    rng = np.random.default_rng(3)
    q = 0.2
    fdp, jac_single, jac_derand = [], [], []

    def jaccard(a, b):
        return (a & b).sum() / max(1, (a | b).sum())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoSelectionWarning)
        for r in range(20):
            X, y, truth = _sparse_replicate(rng)
            fits = [KnockoffSelector(fdr=q, n_draws=nd, random_state=seed).fit(X, y)
                    for nd in (1, 10) for seed in (r, r + 1000)]
            fdp.append(fdp_power(fits[2].support_, truth)[0])
            jac_single.append(jaccard(fits[0].support_, fits[1].support_))
            jac_derand.append(jaccard(fits[2].support_, fits[3].support_))
            assert fits[2].W_.shape == (10, 40) and fits[2].e_values_.shape == (40,)
            assert np.all((fits[2].selection_frequency_ >= 0)
                          & (fits[2].selection_frequency_ <= 1))
    assert np.mean(fdp) <= q
    assert np.mean(jac_derand) >= np.mean(jac_single) + 0.05, (jac_derand, jac_single)


# ---------------------------------------------------------------- supplied knockoffs

def test_supplied_knockoffs_give_the_selector_s_own_answer_and_are_diagnosed():
    rng = np.random.default_rng(5)
    X, y, truth = _sparse_replicate(rng, n=400)
    own = KnockoffSelector(fdr=0.2, knockoffs="gaussian", Sigma=ar1(40, 0.3),
                           store_knockoffs=True, random_state=0).fit(X, y)
    given = KnockoffSelector(fdr=0.2, random_state=0).fit(X, y, X_knockoff=own.knockoffs_)
    np.testing.assert_allclose(given.W_, own.W_, atol=1e-3 * np.abs(own.W_).max())
    assert own.diagnose(X).passed
    np.testing.assert_allclose(given.s_, own.diagnose(X).s, atol=1e-10)
    # knockoffs that ignore the correlation of X fail the check (cross correlations)
    bad = own.diagnose(X, rng.standard_normal(X.shape) * X.std(axis=0))
    assert not bad.passed and bad.cross_gap > bad.tolerance
    with pytest.raises(ValueError, match="shape of X"):
        KnockoffSelector().fit(X, y, X_knockoff=X[:, :3])
    with pytest.raises(ValueError, match="No knockoffs to check"):
        KnockoffSelector().fit(X, y).diagnose(X)


# ---------------------------------------------------------------- signs and the warning

def test_signs_follow_the_coefficients_and_the_sign_of_y():
    rng = np.random.default_rng(7)
    X, y, truth = _sparse_replicate(rng, n=400, amplitude=0.8)
    beta_sign = np.sign(np.linalg.lstsq(X, y, rcond=None)[0])
    for statistic in ("lcd", "lsm", "lbi"):
        sel = KnockoffSelector(fdr=0.2, statistic=statistic, random_state=0).fit(X, y)
        flipped = KnockoffSelector(fdr=0.2, statistic=statistic, random_state=0).fit(X, -y)
        chosen = sel.support_ & truth
        assert chosen.sum() >= 8
        np.testing.assert_array_equal(sel.signs_[chosen], beta_sign[chosen])
        np.testing.assert_array_equal(sel.signs_[~sel.support_], 0)
        np.testing.assert_array_equal(flipped.signs_, -sel.signs_)


def test_no_selection_warning_says_why_and_what_to_change():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((200, 30))
    y = X[:, :3] @ np.full(3, 1.0) + rng.standard_normal(200)     # 3 strong signals < 1/q
    with pytest.warns(NoSelectionWarning, match=r"only 3 features.*ceil\(1/fdr\) = 10.*offset=0"):
        sel = KnockoffSelector(fdr=0.1, random_state=0).fit(X, y)
    assert sel.support_.sum() == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoSelectionWarning)
        liberal = KnockoffSelector(fdr=0.1, offset=0, random_state=0).fit(X, y)
    assert set(np.flatnonzero(liberal.support_)) >= {0, 1, 2}


# ---------------------------------------------------------------- split knockoffs

def _jumps(rng, n=300, p=20):
    X = rng.standard_normal((n, p))
    beta = np.repeat([0.0, 1.0, -1.0, 0.0, 1.0], 4)
    return X, X @ beta + rng.standard_normal(n), np.diff(np.eye(p), axis=0), beta


def test_split_nu_by_cross_validation_picks_the_grid_minimum():
    X, y, D, beta = _jumps(np.random.default_rng(0))
    grid = [0.01, 0.1, 1.0, 10.0]
    sel = SplitKnockoffSelector(fdr=0.3, D=D, nu=grid, random_state=0).fit(X, y)
    assert sel.cv_errors_.shape[0] == len(grid)
    best = int(np.argmin(sel.cv_errors_.min(axis=1)))
    assert sel.nu_ == pytest.approx(grid[best], rel=1e-12)
    # the held-out error is in the units of the standardized target: the best fit explains
    # most of its variance, the worst nu/time (the start of a path) far less
    assert sel.cv_errors_.min() < 0.5 * sel.cv_errors_.max()
    assert np.array_equal(sel.support_, sel.get_support())
    assert np.array_equal(sel.support_, np.any(D[sel.selected_rows_] != 0, axis=0))
    with pytest.raises(ValueError, match="grid of nu"):
        SplitKnockoffSelector(D=D, nu=[0.0, 1.0]).fit(X, y)


def test_split_fixed_statistic_controls_the_directional_fdr():
    rng = np.random.default_rng(2)
    q = 0.3
    fdp, power = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoSelectionWarning)
        for r in range(30):
            X, y, D, beta = _jumps(rng)
            gamma = D @ beta
            sel = SplitKnockoffSelector(fdr=q, D=D, statistic="fixed", cv=3,
                                        random_state=r).fit(X, y)
            right = sel.selected_rows_ & (gamma != 0) & (np.sign(gamma) == sel.signs_)
            fdp.append((sel.selected_rows_ & ~right).sum() / max(1, sel.selected_rows_.sum()))
            power.append(right.sum() / (gamma != 0).sum())
    se = np.std(fdp) / np.sqrt(len(fdp))
    assert np.mean(fdp) <= q + 2 * se, (np.mean(fdp), se)
    assert np.mean(power) >= 0.5


def test_split_magnitude_statistic_gives_null_rows_fair_signs_and_controls_the_fdr():
    """With the knockoff counted only along the direction, a null row's W is positive
    exactly when the centred knockoff noise points against it: half the time."""
    rng = np.random.default_rng(2)
    q = 0.3
    fdp, power, positive, nonzero = [], [], 0, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoSelectionWarning)
        for r in range(30):
            X, y, D, beta = _jumps(rng)
            gamma = D @ beta
            sel = SplitKnockoffSelector(fdr=q, D=D, statistic="magnitude", cv=3,
                                        random_state=r).fit(X, y)
            right = sel.selected_rows_ & (gamma != 0) & (np.sign(gamma) == sel.signs_)
            fdp.append((sel.selected_rows_ & ~right).sum() / max(1, sel.selected_rows_.sum()))
            power.append(right.sum() / (gamma != 0).sum())
            null = (gamma == 0) & (sel.W_ != 0)
            positive += int((sel.W_[null] > 0).sum())
            nonzero += int(null.sum())
            # W is the signed larger magnitude
            assert np.allclose(np.abs(sel.W_), np.maximum(sel.Z_, sel.Z_knockoff_))
    se = np.std(fdp) / np.sqrt(len(fdp))
    assert np.mean(fdp) <= q + 2 * se, (np.mean(fdp), se)
    assert np.mean(power) >= 0.5
    # 450 null signs; a fair coin is within 0.08 of 1/2 (3.4 binomial se); the 'fixed'
    # statistic, where any knockoff competes, gives about 0.22 on these data
    assert abs(positive / nonzero - 0.5) < 0.08, (positive, nonzero)


def test_group_knockoffs_pass_the_check_that_exempts_within_group_pairs():
    rng = np.random.default_rng(9)
    X, y, groups, _ = _pairs_replicate(rng, n=2000)
    sel = KnockoffSelector(fdr=0.2, groups=groups, store_knockoffs=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoSelectionWarning)
        sel.fit(X, y)
    assert sel.diagnose(X).passed
    # the same knockoffs judged feature by feature break exchangeability inside a pair
    ungrouped = KnockoffSelector().diagnose(X, sel.knockoffs_)
    assert not ungrouped.passed and ungrouped.cross_gap > ungrouped.tolerance


def test_draws_in_parallel_give_the_same_answer():
    X, y, _ = _sparse_replicate(np.random.default_rng(11))
    one = KnockoffSelector(fdr=0.2, n_draws=4, random_state=0).fit(X, y)
    two = KnockoffSelector(fdr=0.2, n_draws=4, random_state=0, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(one.W_, two.W_)
    np.testing.assert_array_equal(one.e_values_, two.e_values_)
    # each draw is the single-draw selector with that draw's seed: the first row of W_ is
    # not the n_draws=1 fit (seeds differ), but the e-values follow from W_ and thresholds
    from sparsestat.feature_selection._threshold import knockoff_threshold
    e = np.mean([knockoff_e_values(w, knockoff_threshold(w, 0.1)) for w in one.W_], axis=0)
    np.testing.assert_allclose(one.e_values_, e)
    np.testing.assert_array_equal(one.support_, ebh(e, 0.2))


def test_split_ridge_beta_is_the_start_of_the_split_lbi_path_and_ols_is_least_squares():
    from sklearn.linear_model import LinearRegression

    from sparsestat import _engine
    from sparsestat.feature_selection._split import ridge_beta

    rng = np.random.default_rng(4)
    X, y, D, _ = _jumps(rng, n=120)
    for nu in (0.1, 1.0, 10.0):
        path = _engine.split_lbi_path(X, y, D, nu=nu, n_times=5, t_ratio=2.0)
        start = path.beta_path.coefs[0]          # beta while every gamma is still 0
        np.testing.assert_allclose(ridge_beta(X, y, D.T @ D, 1.0 / nu), start, rtol=1e-6,
                                   atol=1e-8)
    ols = LinearRegression().fit(X, y).coef_
    np.testing.assert_allclose(ridge_beta(X, y, None, 0.0), ols, rtol=1e-9, atol=1e-12)


def _neighbours_identity(rng, n=300, p=20):
    X = rng.standard_normal((n, p))
    X[:, 1:] = 0.5 * X[:, :-1] + np.sqrt(0.75) * X[:, 1:]
    beta = np.zeros(p)
    beta[rng.choice(p, 6, replace=False)] = rng.choice([-0.6, 0.6], 6)
    return X, X @ beta + rng.standard_normal(n), np.eye(p), beta


@pytest.mark.parametrize("beta_estimate", ["ols", "ridge", "ridge_cv"])
@pytest.mark.parametrize("statistic", ["fixed", "magnitude"])
def test_split_fixed_beta_estimates_control_the_directional_fdr(beta_estimate, statistic):
    """Least-squares and ridge estimates of beta on part 1, two designs (first
    differences of a piecewise-constant beta; a sparse beta on features whose neighbours
    correlate 0.5)."""
    q = 0.3
    fdp, power = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoSelectionWarning)
        for design in (_jumps, _neighbours_identity):
            rng = np.random.default_rng(5)
            for r in range(15):
                X, y, D, beta = design(rng)
                gamma = D @ beta
                sel = SplitKnockoffSelector(fdr=q, D=D, statistic=statistic, cv=3,
                                            beta_estimate=beta_estimate,
                                            random_state=r).fit(X, y)
                right = sel.selected_rows_ & (gamma != 0) & (np.sign(gamma) == sel.signs_)
                fdp.append((sel.selected_rows_ & ~right).sum()
                           / max(1, sel.selected_rows_.sum()))
                power.append(right.sum() / (gamma != 0).sum())
    se = np.std(fdp) / np.sqrt(len(fdp))
    assert np.mean(fdp) <= q + 2 * se, (np.mean(fdp), se)
    assert np.mean(power) >= 0.4, np.mean(power)


def test_split_ols_beta_needs_more_samples_than_features_in_part_1():
    rng = np.random.default_rng(0)
    X, y, D = rng.standard_normal((60, 20)), rng.standard_normal(60), np.eye(20)
    with pytest.raises(ValueError, match="beta_estimate='ols' needs more samples"):
        SplitKnockoffSelector(D=D, statistic="fixed", beta_estimate="ols",
                              split_fraction=0.3, random_state=0).fit(X, y)
