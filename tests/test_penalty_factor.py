"""penalty_factor: per-feature weights of the l1 penalty (glmnet's penalty.factor) for LBI,
ISS and the estimators, against theory (KKT at the start, least squares at the end) and the
reparametrization by column scaling."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LinearRegression

from sparsestat import LBIClassifier, LBIClassifierCV, LBIRegressor, LBIRegressorCV
from sparsestat._engine import iss_path, lbi_path


def _data(n=80, p=6, seed=0, rho=0.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    if rho:
        X = np.sqrt(1 - rho) * X + np.sqrt(rho) * rng.standard_normal((n, 1))
    X *= rng.uniform(0.1, 10.0, p)
    beta = np.zeros(p)
    beta[:3] = [2.0, -1.0, 0.5]
    y = X / X.std(0) @ beta + 0.3 + rng.standard_normal(n)
    return X, y[:, None]


@pytest.mark.parametrize("fn", [lbi_path, iss_path])
def test_factors_of_one_are_the_plain_path_exactly(fn):
    X, Y = _data()
    a = fn(X, Y, n_times=20)
    b = fn(X, Y, n_times=20, penalty_factor=np.ones(X.shape[1]))
    np.testing.assert_array_equal(a.coefs, b.coefs)
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.entry_times, b.entry_times)


def test_classifier_factors_of_one_are_the_plain_path_exactly():
    X, Y = _data(seed=1)
    y = (Y[:, 0] > np.median(Y)).astype(int)
    a = LBIClassifier(n_times=15).fit(X, y)
    b = LBIClassifier(n_times=15, penalty_factor=np.ones(X.shape[1])).fit(X, y)
    np.testing.assert_array_equal(a.regularization_path_.coefs, b.regularization_path_.coefs)


@pytest.mark.parametrize("fn", [lbi_path, iss_path])
@pytest.mark.parametrize("seed, rho", [(0, 0.0), (1, 0.7)])
def test_start_is_the_weighted_kkt_point(fn, seed, rho):
    """t0 = 1 / max_j |c_j| / f_j and the first feature is that argmax."""
    X, Y = _data(seed=seed, rho=rho)
    f = np.random.default_rng(seed).uniform(0.2, 3.0, X.shape[1])
    path = fn(X, Y, n_times=20, penalty_factor=f)
    Xs = (X - X.mean(0)) / X.std(0)
    y = Y[:, 0] - Y[:, 0].mean()
    c = Xs.T @ (y / np.sqrt(np.mean(y ** 2))) / len(y)
    assert path.t0 == pytest.approx(1 / np.max(np.abs(c) / f), rel=1e-10)
    assert np.argmin(path.entry_times[:, 0]) == np.argmax(np.abs(c) / f)


@pytest.mark.parametrize("fn", [lbi_path, iss_path])
def test_positive_factors_are_the_path_on_rescaled_columns(fn):
    """sum f_j |beta_j| on X is the plain l1 path on the columns X_j / (s_j f_j) of the
    standardized design, with beta_j = u_j / (s_j f_j)."""
    X, Y = _data(seed=2)
    f = np.array([0.5, 1.0, 2.0, 1.0, 4.0, 0.3])
    path = fn(X, Y, n_times=20, penalty_factor=f)
    s = X.std(0)
    Xw = (X - X.mean(0)) / (s * f)
    ref = fn(Xw, Y, n_times=20, normalize=False)
    np.testing.assert_allclose(path.times, ref.times, rtol=1e-12)
    np.testing.assert_allclose(path.coefs * (s * f)[None, :, None], ref.coefs, rtol=1e-8,
                               atol=1e-10)


@pytest.mark.parametrize("fn", [lbi_path, iss_path])
def test_doubling_a_factor_delays_that_feature(fn):
    X, Y = _data(seed=3)
    base = fn(X, Y, n_times=30, t_ratio=50)
    for j in (0, 1, 2):
        f = np.ones(X.shape[1])
        f[j] = 2.0
        late = fn(X, Y, n_times=30, t_ratio=50, penalty_factor=f)
        assert late.entry_times[j, 0] > base.entry_times[j, 0]
    # ISS, the first feature alone: its entry time doubles exactly
    f = np.ones(X.shape[1])
    first = int(np.argmin(base.entry_times[:, 0]))
    f[first] = 2.0
    late = iss_path(X, Y, n_times=30, t_ratio=50, penalty_factor=f)
    second = np.sort(base.entry_times[:, 0])[1]
    assert late.entry_times[first, 0] == pytest.approx(
        2 * base.entry_times[first, 0], rel=1e-8) or late.entry_times[first, 0] > second


@pytest.mark.parametrize("fn, kw", [(lbi_path, dict(kappa=50.0)), (iss_path, {})])
@pytest.mark.parametrize("weighted", [False, True])
def test_unpenalized_feature_is_in_from_t0_and_ends_at_least_squares(fn, kw, weighted):
    X, Y = _data(n=60, seed=4, rho=0.5)
    w = np.random.default_rng(0).uniform(0.5, 2.0, 60) if weighted else None
    f = np.ones(X.shape[1])
    f[[4, 5]] = 0.0  # two null features, unpenalized
    path = fn(X, Y, n_times=20, t_ratio=1e3, penalty_factor=f, sample_weight=w, **kw)
    assert np.all(path.coefs[:, [4, 5], 0] != 0)
    assert np.all(path.coefs[0, :4, 0] == 0)
    np.testing.assert_array_equal(path.entry_times[[4, 5], 0], 0.0)
    # at t0 the unpenalized block is the least-squares fit on it alone
    start = LinearRegression().fit(X[:, 4:], Y[:, 0], sample_weight=w)
    np.testing.assert_allclose(path.coefs[0, 4:, 0], start.coef_, rtol=1e-10)
    ols = LinearRegression().fit(X, Y[:, 0], sample_weight=w)
    np.testing.assert_allclose(path.coefs[-1, :, 0], ols.coef_, rtol=1e-7, atol=1e-9)
    assert path.intercepts[-1, 0] == pytest.approx(ols.intercept_, rel=1e-7)


def test_units_and_estimators():
    X, Y = _data(seed=5)
    y = Y[:, 0]
    f = np.array([1.0, 0.0, 2.0, 1.0, 0.5, 1.0])
    a = LBIRegressor(penalty_factor=f, n_times=20).fit(X, y)
    # y -> c y + d: same times, coefficients times c
    b = LBIRegressor(penalty_factor=f, n_times=20).fit(X, 1e6 * y - 7.0)
    np.testing.assert_allclose(b.regularization_path_.times, a.regularization_path_.times,
                               rtol=1e-10)
    np.testing.assert_allclose(b.coef_, 1e6 * a.coef_, rtol=1e-7, atol=1e-6)
    # a column in other units: the same path on the standardized scale
    s = np.array([1e-8, 1.0, 1e8, 1.0, 1.0, 3.0])
    c = LBIRegressor(penalty_factor=f, n_times=20).fit(X * s, y)
    np.testing.assert_allclose(c.coef_ * s, a.coef_, rtol=1e-7, atol=1e-12)
    # the CV estimators pass the factors to every fold
    cv = LBIRegressorCV(penalty_factor=f, cv=3, n_times=20).fit(X, y)
    at = LBIRegressor(penalty_factor=f, n_times=20, t=cv.t_).fit(X, y)
    np.testing.assert_allclose(cv.coef_, at.coef_, rtol=1e-12)
    assert cv.coef_[1] != 0
    yc = (y > np.median(y)).astype(int)
    fc = np.where(f > 0, f, 1.0)
    clf = LBIClassifierCV(penalty_factor=fc, cv=3, n_times=15).fit(X, yc)
    at = LBIClassifier(penalty_factor=fc, n_times=15, t=clf.t_).fit(X, yc)
    np.testing.assert_allclose(clf.coef_, at.coef_, rtol=1e-12)


@pytest.mark.parametrize("factor, match, kw", [
    (np.ones(5), "one weight per feature", {}),
    (np.r_[-1.0, np.ones(5)], "finite and >= 0", {}),
    (np.r_[np.nan, np.ones(5)], "finite and >= 0", {}),
    (np.zeros(6), "zero for every feature", {}),
    (np.ones(6), "penalty='l1'", dict(penalty="group", groups=[0, 0, 1, 1, 2, 2])),
])
def test_bad_factors_are_refused(factor, match, kw):
    X, Y = _data()
    with pytest.raises(ValueError, match=match):
        LBIRegressor(penalty_factor=factor, **kw).fit(X, Y[:, 0])


def test_unpenalized_features_outside_the_squared_dense_case_are_refused():
    X, Y = _data()
    f = np.r_[0.0, np.ones(5)]
    yc = (Y[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match="squared loss"):
        LBIClassifier(penalty_factor=f).fit(X, yc)
    with pytest.raises(ValueError, match="dense X"):
        LBIRegressor(penalty_factor=f).fit(sp.csr_matrix(X), Y[:, 0])
    with pytest.raises(ValueError, match="collinear"):
        LBIRegressor(penalty_factor=np.r_[0.0, 0.0, np.ones(4)]).fit(
            np.c_[X[:, :1], 2 * X[:, :1], X[:, 2:]], Y[:, 0])
    with pytest.raises(ValueError, match="rows of D"):
        LBIRegressor(penalty_factor=np.ones(6), D=np.eye(6)).fit(X, Y[:, 0])


def test_sparse_design_with_positive_factors_is_the_dense_path():
    X, Y = _data(seed=6)
    X[np.abs(X) < 0.5] = 0.0
    f = np.array([0.5, 1.0, 2.0, 1.0, 4.0, 0.3])
    a = lbi_path(X, Y, n_times=15, penalty_factor=f)
    b = lbi_path(sp.csr_matrix(X), Y, n_times=15, penalty_factor=f)
    np.testing.assert_allclose(b.coefs, a.coefs, rtol=1e-7, atol=1e-10)


def test_path_plot_draws_unpenalized_features_dashed():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sparsestat.plotting import RegularizationPathDisplay

    X, Y = _data(seed=7)
    f = np.array([1.0, 1.0, 1.0, 1.0, 0.0, 1.0])
    reg = LBIRegressor(penalty_factor=f, n_times=15).fit(X, Y[:, 0])
    fig, ax = plt.subplots()
    disp = RegularizationPathDisplay.from_estimator(reg, ax=ax, n_labels=3)
    styles = [line.get_linestyle() for line in disp.lines_]
    assert styles[4] == "--"
    assert all(style == "-" for j, style in enumerate(styles) if j != 4)
    assert disp.labelled_[0] == 4   # in the model from the start: first in entry order
    plt.close(fig)
