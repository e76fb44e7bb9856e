"""LBIRegressor(loss='poisson'): the path's end against statsmodels' Poisson GLM, entry
order against the l1-penalized Poisson fit, units, weights as exposures and bad input."""

import numpy as np
import pytest
import statsmodels.api as sm

from sparsestat import LBIRegressor

# the end of a path this long is the MLE to ~1e-12 on these designs
_LONG = dict(kappa=10.0, t_ratio=1e3, n_times=20)


def _counts(n, p, seed, scale=1.0, rho=0.0, base=1.0):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, p))
    if rho:
        Z = np.sqrt(1 - rho) * Z + np.sqrt(rho) * rng.standard_normal((n, 1))
    X = Z * scale * rng.uniform(0.5, 2.0, p)
    beta = np.zeros(p)
    beta[: min(p, 2)] = np.array([0.5, -0.3])[: min(p, 2)]
    y = rng.poisson(np.exp(base + Z @ beta)).astype(float)
    return X, y


def _mle(X, y, weights=None, exposure=None):
    model = sm.GLM(y, sm.add_constant(X), family=sm.families.Poisson(),
                   freq_weights=weights, exposure=exposure)
    return model.fit(tol=1e-13).params


@pytest.mark.parametrize("n, p, scale, rho, seed", [
    (200, 5, 1.0, 0.0, 0), (40, 10, 1e-3, 0.5, 1), (25, 2, 1e3, 0.8, 2), (12, 2, 1.0, 0.0, 3),
    (60, 8, 1.0, 0.9, 4)])
def test_end_of_path_is_the_statsmodels_mle(n, p, scale, rho, seed):
    X, y = _counts(n, p, seed, scale, rho)
    reg = LBIRegressor(loss="poisson", **_LONG).fit(X, y)
    params = _mle(X, y)
    np.testing.assert_allclose(reg.coef_, params[1:], rtol=1e-4,
                               atol=1e-6 * np.abs(params[1:]).max())
    assert reg.intercept_ == pytest.approx(params[0], rel=1e-4, abs=1e-6)
    # the default step never needed the divergence fallback
    assert reg.regularization_path_.info["step_halvings"] == 0


def test_start_and_first_entry_follow_the_kkt_conditions():
    X, y = _counts(150, 6, 5)
    reg = LBIRegressor(loss="poisson", n_times=30).fit(X, y)
    path = reg.regularization_path_
    # empty model: the intercept is the log of the mean count
    assert path.intercepts[0] == pytest.approx(np.log(y.mean()), rel=1e-12)
    Xs = (X - X.mean(0)) / X.std(0)
    grad = Xs.T @ (y.mean() - y) / len(y)
    assert path.t0 == pytest.approx(1 / np.abs(grad).max(), rel=1e-10)
    assert path.entry_order()[0] == np.argmax(np.abs(grad))


def test_entry_order_matches_the_l1_poisson_path():
    """The first entries of the path are the first features of statsmodels' l1-penalized
    Poisson fit as lambda decreases (on standardized columns, glmnet's convention)."""
    rng = np.random.default_rng(7)
    n, p = 300, 8
    X = rng.standard_normal((n, p))
    beta = np.array([0.6, -0.45, 0.3, 0, 0, 0, 0, 0])
    y = rng.poisson(np.exp(0.3 + X @ beta)).astype(float)
    reg = LBIRegressor(loss="poisson", kappa=50.0, n_times=40, t_ratio=30).fit(X, y)
    order = list(reg.regularization_path_.entry_order()[:3])
    Xs = (X - X.mean(0)) / X.std(0)
    lam_max = np.abs(Xs.T @ (y - y.mean())).max() / n
    seen = []
    model = sm.GLM(y, sm.add_constant(Xs), family=sm.families.Poisson())
    for lam in lam_max * np.geomspace(0.98, 0.2, 25):
        alpha = np.r_[0.0, np.full(p, lam)]
        coef = model.fit_regularized(alpha=alpha, L1_wt=1.0, cnvrg_tol=1e-10).params[1:]
        for j in np.flatnonzero(np.abs(coef) > 1e-8):
            if j not in seen:
                seen.append(int(j))
    assert order == seen[:3]


def test_counts_are_not_rescaled_a_factor_moves_the_intercept():
    X, y = _counts(80, 4, 8)
    a = LBIRegressor(loss="poisson", **_LONG).fit(X, y)
    for c in (1e-6, 1e6):
        b = LBIRegressor(loss="poisson", **_LONG).fit(X, c * y)
        np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-6, atol=1e-9)
        assert b.intercept_ == pytest.approx(a.intercept_ + np.log(c), rel=1e-8)
        assert b.t0_ == pytest.approx(a.t0_ / c, rel=1e-10)


def test_feature_scale_and_row_order_do_not_change_the_path():
    X, y = _counts(70, 4, 9)
    a = LBIRegressor(loss="poisson", n_times=15).fit(X, y)
    s = np.array([1e-8, 1.0, 1e8, 3.0])
    b = LBIRegressor(loss="poisson", n_times=15).fit(X * s, y)
    np.testing.assert_allclose(b.regularization_path_.coefs * s[None, :],
                               a.regularization_path_.coefs, rtol=1e-7, atol=1e-10)
    np.testing.assert_array_equal(b.regularization_path_.entry_order(),
                                  a.regularization_path_.entry_order())
    perm = np.random.default_rng(0).permutation(len(y))
    c = LBIRegressor(loss="poisson", n_times=15).fit(X[perm], y[perm])
    np.testing.assert_allclose(c.regularization_path_.coefs, a.regularization_path_.coefs,
                               rtol=1e-8, atol=1e-12)


def test_integer_weights_repeat_rows_and_exposure_is_an_offset():
    X, y = _counts(60, 3, 10)
    w = np.random.default_rng(1).integers(1, 4, len(y)).astype(float)
    a = LBIRegressor(loss="poisson", n_times=15).fit(X, y, sample_weight=w)
    rep = np.repeat(np.arange(len(y)), w.astype(int))
    b = LBIRegressor(loss="poisson", n_times=15).fit(X[rep], y[rep])
    np.testing.assert_allclose(a.regularization_path_.coefs, b.regularization_path_.coefs,
                               rtol=1e-8, atol=1e-12)
    # a rate y / e with weight e is the count y with offset log(e)
    e = np.random.default_rng(2).uniform(0.2, 5.0, len(y))
    r = LBIRegressor(loss="poisson", **_LONG).fit(X, y / e, sample_weight=e)
    params = _mle(X, y, exposure=e)
    np.testing.assert_allclose(r.coef_, params[1:], rtol=1e-4)
    assert r.intercept_ == pytest.approx(params[0], rel=1e-4)


def test_predict_is_the_mean_and_score_is_the_deviance_explained():
    X, y = _counts(100, 3, 11)
    reg = LBIRegressor(loss="poisson", n_times=20).fit(X, y)
    mu = np.exp(X @ reg.coef_ + reg.intercept_)
    np.testing.assert_allclose(reg.predict(X), mu, rtol=1e-12)
    t = reg.regularization_path_.times[5]
    eta_t = X @ reg.regularization_path_.coef_at(t) + reg.regularization_path_.intercept_at(t)
    np.testing.assert_allclose(reg.predict(X, t=t), np.exp(eta_t), rtol=1e-12)

    def deviance(m):
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(y > 0, y * np.log(y / m), 0.0)
        return 2 * np.sum(term - (y - m))

    assert reg.score(X, y) == pytest.approx(1 - deviance(mu) / deviance(np.full_like(y, y.mean())),
                                            rel=1e-10)


def test_large_linear_predictor_does_not_overflow():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((50, 2))
    y = rng.poisson(np.exp(2.0 + 1.5 * X[:, 0])).astype(float)  # counts up to ~1e3
    reg = LBIRegressor(loss="poisson", **_LONG).fit(X, y)
    params = _mle(X, y)
    np.testing.assert_allclose(reg.coef_, params[1:], rtol=1e-4)
    assert reg.regularization_path_.info["step_halvings"] == 0


@pytest.mark.parametrize("y, match", [
    (np.r_[-1.0, np.ones(9)], "counts y >= 0"),
    (np.zeros(10), "every \\(weighted\\) count is zero"),
    (np.r_[np.nan, np.ones(9)], "NaN"),
    (np.r_[np.inf, np.ones(9)], "infinity"),
])
def test_bad_counts_are_refused(y, match):
    X = np.random.default_rng(0).standard_normal((10, 2))
    with pytest.raises(ValueError, match=match):
        LBIRegressor(loss="poisson").fit(X, y)


def test_poisson_refuses_several_targets_and_split_lbi():
    X = np.random.default_rng(0).standard_normal((10, 2))
    with pytest.raises(ValueError, match="single target"):
        LBIRegressor(loss="poisson").fit(X, np.ones((10, 2)))
    with pytest.raises(ValueError, match="loss='squared'"):
        LBIRegressor(loss="poisson", D=np.eye(2)).fit(X, np.ones(10))
    with pytest.raises(ValueError, match="solver='iss'"):
        LBIRegressor(loss="poisson", solver="iss").fit(X, np.ones(10))
