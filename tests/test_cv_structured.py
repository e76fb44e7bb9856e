"""LBIRegressorCV with a structure operator D (Split LBI) and with the Poisson loss:
the cross-validated scores against a fold loop written here."""

import numpy as np
import pytest
from sklearn.model_selection import KFold

from sparsestat import LBIRegressor, LBIRegressorCV
from sparsestat._engine import lbi_path, split_lbi_path


def _fused(n=90, p=8, seed=0, noise=0.5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = X @ np.repeat([1.5, -1.0], p // 2) + 0.4 + noise * rng.standard_normal(n)
    return X, y, np.diff(np.eye(p), axis=0)


@pytest.mark.parametrize("seed, n_folds", [(0, 3), (1, 5)])
def test_split_cv_scores_are_the_fold_loop(seed, n_folds):
    X, y, D = _fused(seed=seed)
    cv = KFold(n_folds, shuffle=True, random_state=seed)
    reg = LBIRegressorCV(D=D, cv=cv, t_ratio=30, n_times=25).fit(X, y)
    times = split_lbi_path(X, y, D, t_ratio=30, n_times=25).beta_path.times
    np.testing.assert_allclose(reg.times_, times, rtol=1e-14)
    expected = []
    for train, test in cv.split(X):
        beta = split_lbi_path(X[train], y[train], D, times=times).beta_path
        pred = X[test] @ beta.coefs.T + beta.intercepts[None, :]
        expected.append(-np.mean((pred - y[test, None]) ** 2, axis=0))
    expected = np.array(expected)
    np.testing.assert_allclose(reg.cv_scores_, expected, rtol=1e-9, atol=1e-12)
    best = int(np.argmax(expected.mean(axis=0)))
    assert reg.t_ == pytest.approx(times[best], rel=1e-14)
    # the model is the full-data Split LBI fit read at the chosen time
    at_t = LBIRegressor(D=D, t_ratio=30, n_times=25, t=reg.t_).fit(X, y)
    np.testing.assert_allclose(reg.coef_, at_t.coef_, rtol=1e-12)
    np.testing.assert_allclose(reg.gamma_, at_t.gamma_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(reg.sparse_coef_, at_t.sparse_coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(reg.predict(X), at_t.predict(X), rtol=1e-12)


def test_split_cv_finds_the_jump_and_moves_with_y():
    X, y, D = _fused(n=150, seed=2, noise=0.3)
    reg = LBIRegressorCV(D=D, cv=4, t_ratio=30, n_times=30).fit(X, y)
    assert np.flatnonzero(np.abs(reg.gamma_) > 1e-8).tolist() == [3]
    # y -> c y + d: the same chosen time, coefficients times c
    c, d = 1e6, -3.0
    big = LBIRegressorCV(D=D, cv=4, t_ratio=30, n_times=30).fit(X, c * y + d)
    assert big.t_ == pytest.approx(reg.t_, rel=1e-10)
    np.testing.assert_allclose(big.coef_, c * reg.coef_, rtol=1e-7)


def test_poisson_cv_scores_are_the_fold_loop_of_deviances():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((120, 6))
    y = rng.poisson(np.exp(0.5 + 0.6 * X[:, 0] - 0.4 * X[:, 1])).astype(float)
    cv = KFold(4, shuffle=True, random_state=0)
    reg = LBIRegressorCV(loss="poisson", cv=cv, t_ratio=50, n_times=20).fit(X, y)
    times = reg.times_
    expected = []
    for train, test in cv.split(X):
        path = lbi_path(X[train], y[train, None], loss="poisson", times=times)
        mu = np.exp(X[test] @ path.coefs[:, :, 0].T + path.intercepts[:, 0][None, :])
        yt = y[test, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = 2 * (np.where(yt > 0, yt * np.log(yt / mu), 0.0) - (yt - mu))
        expected.append(-dev.mean(axis=0))
    np.testing.assert_allclose(reg.cv_scores_, np.array(expected), rtol=1e-9)
    assert set(np.flatnonzero(reg.coef_)) >= {0, 1}


def test_split_cv_bad_input():
    X, y, D = _fused()
    with pytest.raises(ValueError, match="one column per feature"):
        LBIRegressorCV(D=D[:, :-1], cv=3).fit(X, y)
    with pytest.raises(ValueError, match="single target"):
        LBIRegressorCV(D=D, cv=3).fit(X, np.c_[y, y])
    with pytest.raises(ValueError, match="sample_weight"):
        LBIRegressorCV(D=D, cv=3).fit(X, y, sample_weight=np.ones(len(y)))
    with pytest.raises(ValueError, match="needs loss='poisson'"):
        LBIRegressorCV(cv=3, scoring="neg_mean_poisson_deviance").fit(X, y)


def test_logistic_split_cv_scores_are_the_fold_loop():
    from scipy.special import log_expit
    from sklearn.model_selection import StratifiedKFold

    from sparsestat import LBIClassifier, LBIClassifierCV

    rng = np.random.default_rng(5)
    X = rng.standard_normal((160, 6))
    y = (X @ np.repeat([1.2, -1.2], 3) + rng.logistic(size=160) > 0).astype(int)
    D = np.diff(np.eye(6), axis=0)
    cv = StratifiedKFold(3, shuffle=True, random_state=1)
    clf = LBIClassifierCV(D=D, cv=cv, t_ratio=10, n_times=15).fit(X, y)
    times = split_lbi_path(X, y, D, loss="logistic", t_ratio=10, n_times=15).beta_path.times
    np.testing.assert_allclose(clf.times_, times, rtol=1e-14)
    expected = []
    for train, test in cv.split(X, y):
        beta = split_lbi_path(X[train], y[train], D, loss="logistic", times=times).beta_path
        eta = X[test] @ beta.coefs.T + beta.intercepts[None, :]
        expected.append(log_expit((2 * y[test, None] - 1) * eta).mean(axis=0))
    np.testing.assert_allclose(clf.cv_scores_, np.array(expected), rtol=1e-9)
    at_t = LBIClassifier(D=D, t_ratio=10, n_times=15, t=clf.t_).fit(X, y)
    np.testing.assert_allclose(clf.coef_, at_t.coef_, rtol=1e-12)
    np.testing.assert_allclose(clf.gamma_, at_t.gamma_, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="two classes"):
        LBIClassifierCV(D=D, cv=3).fit(X, np.arange(160) % 3)
