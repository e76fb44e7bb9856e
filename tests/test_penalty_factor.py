"""penalty_factor: per-feature weights of the l1 penalty (glmnet's penalty.factor) for LBI,
ISS and the estimators, against theory (KKT at the start, least squares at the end) and the
reparametrization by column scaling."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LinearRegression

from sparsestat import LBIClassifier, LBIClassifierCV, LBIRegressor, LBIRegressorCV
from sparsestat._engine import iss_path, lbi_path

import _reference as ref


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


@pytest.mark.filterwarnings("ignore:X has 1 constant column")
def test_collinear_or_separating_unpenalized_features_are_refused():
    X, Y = _data()
    yc = (Y[:, 0] > np.median(Y[:, 0])).astype(int)
    two = np.r_[0.0, 0.0, np.ones(4)]
    copies = np.c_[X[:, :1], 2 * X[:, :1], X[:, 2:]]
    const = np.c_[np.full(len(X), 3.0), X[:, 1:]]
    for est, Xb, f, y in [(LBIRegressor(), copies, two, Y[:, 0]),
                          (LBIRegressor(solver="iss"), copies, two, Y[:, 0]),
                          (LBIClassifier(), sp.csr_matrix(copies), two, yc),
                          (LBIRegressor(loss="poisson"), const, np.r_[0.0, np.ones(5)],
                           np.round(np.exp(0.2 * Y[:, 0])))]:
        with pytest.raises(ValueError, match="collinear"):
            est.set_params(penalty_factor=f).fit(Xb, y)
    # a feature that separates the classes has no finite unpenalized fit
    sep = np.c_[yc + 0.01 * np.random.default_rng(0).standard_normal(len(yc)), X[:, 1:]]
    with pytest.raises(ValueError, match="no finite logistic fit"):
        LBIClassifier(penalty_factor=np.r_[0.0, np.ones(5)]).fit(sep, yc)
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


# ------------------------------------------------------------------ every loss, dense and CSC

_LOSSES = ["squared", "huber", "logistic", "multinomial", "poisson"]


def _glm_data(loss, n=70, p=6, seed=0):
    """A design with zeros (so that its CSC form is sparse) and a target of ``loss``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 4.0, p)
    X[np.abs(X) < 0.3] = 0.0
    eta = X / X.std(0) @ np.r_[1.0, -0.8, 0.5, np.zeros(p - 4), 0.4]
    if loss == "squared":
        y = eta + rng.standard_normal(n)
    elif loss == "huber":
        y = eta + rng.standard_t(2, n)
    elif loss == "logistic":
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    elif loss == "poisson":
        y = rng.poisson(np.exp(0.4 * eta)).astype(float)
    else:
        labels = np.argmax(0.7 * eta[:, None] * np.r_[-1.0, 0.0, 1.0]
                           + rng.gumbel(size=(n, 3)), axis=1)
        return X, np.eye(3)[labels]
    return X, y[:, None]


def _free_factor(p, free):
    f = np.ones(p)
    f[free] = 0.0
    return f


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("loss", _LOSSES)
def test_unpenalized_features_match_the_plain_numpy_loop(loss, sparse):
    """Every loss, dense and CSC X: free features are in from the first record (entry
    time 0) and the path is the reference loop's (started at the free block's fit)."""
    X, Y = _glm_data(loss, seed=_LOSSES.index(loss))
    free = [2, 5]
    f = _free_factor(X.shape[1], free)
    Xk = sp.csc_matrix(X) if sparse else X
    kw = dict(loss=loss, kappa=20.0)
    # squared: a fixed step (the reference has no adaptive step)
    path = lbi_path(Xk, Y, n_times=15, t_ratio=30, penalty_factor=f,
                    alpha=0.02 if loss == "squared" else None, **kw)
    want = ref.design_lbi(X, Y, alpha=path.info["alpha"], times=path.times, free=free, **kw)
    assert np.all(path.coefs[:, free] != 0)
    np.testing.assert_array_equal(path.entry_times[free], 0.0)
    pen = np.setdiff1d(np.arange(X.shape[1]), free)
    assert np.all(path.coefs[0, pen] == 0)
    assert np.isfinite(path.entry_times[pen]).sum() >= 2
    scale = np.abs(want.coefs).max()
    np.testing.assert_allclose(path.coefs, want.coefs, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(path.intercepts, want.intercepts, rtol=0, atol=1e-10)
    finite = np.isfinite(want.entry)
    np.testing.assert_array_equal(np.isfinite(path.entry_times), finite)
    np.testing.assert_allclose(path.entry_times[finite], want.entry[finite], rtol=1e-10)
    assert path.t0 == pytest.approx(want.t0, rel=1e-12)
    assert path.n_iter == want.n_iter


@pytest.mark.parametrize("sparse", [False, True])
def test_unpenalized_features_in_the_working_set_match_the_plain_numpy_loop(
        monkeypatch, sparse):
    """Without the full Gram matrix (a working set; a sparse X uses products with the
    design) the free features are always in the working set."""
    from sparsestat import _engine

    monkeypatch.setattr(_engine._design_paths, "_FULL_GRAM_MAX_FEATURES", 0)
    rng = np.random.default_rng(3)
    n, p = 40, 200
    X = rng.standard_normal((n, p))
    if sparse:
        X[rng.random((n, p)) < 0.97] = 0.0
    y = X[:, :5] @ np.r_[2.0, -1.5, 1.0, 1.0, -1.0] + 0.3 * rng.standard_normal(n)
    free = [3, 100, 150]
    kw = dict(kappa=10.0, alpha=0.01, normalize=False)
    path = lbi_path(sp.csc_matrix(X) if sparse else X, y[:, None], n_times=20, t_ratio=50,
                    penalty_factor=_free_factor(p, free), **kw)
    want = ref.design_lbi(X, y[:, None], times=path.times, free=free, **kw)
    assert np.isfinite(want.entry).sum() > 15
    np.testing.assert_allclose(path.coefs, want.coefs, rtol=0,
                               atol=1e-10 * np.abs(want.coefs).max())
    assert path.n_iter == want.n_iter


@pytest.mark.parametrize("weighted", [False, True])
def test_iss_with_unpenalized_features_dense_and_sparse_is_the_residualized_path(weighted):
    """ISS keeps the free block at its least-squares fit: the plain path of the
    penalized columns residualized on (1, U), for a dense and a CSC X alike."""
    X, Y = _glm_data("squared", n=60, p=8, seed=9)
    w = np.random.default_rng(1).uniform(0.5, 2.0, 60) if weighted else None
    free = [1, 6]
    f = _free_factor(8, free)
    want = ref.design_iss(X, Y, times=None, free=free, sample_weight=w, t_ratio=1e3, n_times=25)
    # record times off the knots (the path is piecewise constant)
    times = want.t0 * np.geomspace(1.013, 1e3, 25)
    want = ref.design_iss(X, Y, times=times, free=free, sample_weight=w)
    for Xk in (X, sp.csc_matrix(X)):
        path = iss_path(Xk, Y, times=times, penalty_factor=f, sample_weight=w)
        np.testing.assert_allclose(path.coefs, want.coefs, rtol=0,
                                   atol=1e-8 * np.abs(want.coefs).max())
        np.testing.assert_allclose(path.intercepts, want.intercepts, rtol=0, atol=1e-8)
        np.testing.assert_allclose(path.entry_times, want.entry, rtol=1e-8)
        assert path.t0 == pytest.approx(want.t0, rel=1e-10)


def _huber_fit(X, y, delta):
    from scipy.optimize import minimize

    A = np.c_[np.ones(len(y)), X]

    def f(b):
        r = A @ b - y
        a = np.abs(r)
        return np.mean(np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta)))

    def g(b):
        return A.T @ np.clip(A @ b - y, -delta, delta) / len(y)

    b = np.linalg.lstsq(A, y, rcond=None)[0]
    return minimize(f, b, jac=g, method="BFGS", options={"gtol": 1e-12, "maxiter": 10000}).x


def _unpenalized_peer(loss, X, Y, delta):
    """``(intercepts, coefs (p, K))`` of the fit without any penalty, from a peer."""
    import statsmodels.api as sm
    from sklearn.linear_model import LogisticRegression

    A = sm.add_constant(X)
    if loss == "squared":
        b = np.linalg.lstsq(A, Y, rcond=None)[0]
        return b[0], b[1:]
    if loss == "huber":
        b = _huber_fit(X, Y[:, 0], delta)
        return b[:1], b[1:, None]
    if loss in ("logistic", "poisson"):
        family = sm.families.Binomial() if loss == "logistic" else sm.families.Poisson()
        b = sm.GLM(Y[:, 0], A, family=family).fit(tol=1e-13).params
        return b[:1], b[1:, None]
    clf = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10000).fit(X, Y.argmax(axis=1))
    return clf.intercept_, clf.coef_.T


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("loss", _LOSSES)
def test_path_with_unpenalized_features_ends_at_the_unpenalized_fit(loss, sparse):
    """n > p: at the path's end every feature has entered and the fit is the one
    without penalty (statsmodels GLM, scikit-learn, least squares)."""
    X, Y = _glm_data(loss, n=150, p=5, seed=11 + _LOSSES.index(loss))
    f = _free_factor(5, [1, 3])
    path = lbi_path(sp.csc_matrix(X) if sparse else X, Y, loss=loss, kappa=50.0,
                    n_times=10, t_ratio=200, penalty_factor=f)
    b, coef = _unpenalized_peer(loss, X, Y, path.info["delta"])
    got_b, got = path.intercepts[-1], path.coefs[-1]
    if loss == "multinomial":   # defined up to a constant over the classes, row by row
        b, coef, got_b, got = (a - a.mean(axis=-1, keepdims=True) for a in (b, coef, got_b, got))
    np.testing.assert_allclose(got, coef, rtol=1e-6, atol=1e-6 * np.abs(coef).max())
    np.testing.assert_allclose(got_b, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("loss", _LOSSES)
def test_factors_of_one_are_the_plain_path_for_every_loss(loss):
    X, Y = _glm_data(loss, seed=2)
    for Xk in (X, sp.csc_matrix(X)):
        a = lbi_path(Xk, Y, loss=loss, n_times=12)
        b = lbi_path(Xk, Y, loss=loss, n_times=12, penalty_factor=np.ones(X.shape[1]))
        np.testing.assert_array_equal(a.coefs, b.coefs)
        np.testing.assert_array_equal(a.intercepts, b.intercepts)
        np.testing.assert_array_equal(a.entry_times, b.entry_times)


@pytest.mark.parametrize("loss", _LOSSES)
def test_rescaling_an_unpenalized_column_rescales_its_coefficient_only(loss):
    X, Y = _glm_data(loss, seed=4)
    free = 2
    f = _free_factor(X.shape[1], [free])
    base = lbi_path(X, Y, loss=loss, n_times=12, penalty_factor=f)
    for c in (1e-6, 1e6):
        Xc = X.copy()
        Xc[:, free] *= c
        for Xk in (Xc, sp.csc_matrix(Xc)):
            path = lbi_path(Xk, Y, loss=loss, n_times=12, penalty_factor=f)
            np.testing.assert_allclose(path.times, base.times, rtol=1e-9)
            want = base.coefs.copy()
            want[:, free] /= c
            # feature by feature: each column has its own scale
            for j in range(X.shape[1]):
                np.testing.assert_allclose(path.coefs[:, j], want[:, j], rtol=1e-7,
                                           atol=1e-9 * np.abs(want[:, j]).max())
            np.testing.assert_allclose(path.intercepts, base.intercepts, rtol=1e-7, atol=1e-9)
            np.testing.assert_array_equal(path.entry_times[free], 0.0)


def test_cv_estimators_and_plot_take_unpenalized_features_for_every_loss():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sparsestat.plotting import RegularizationPathDisplay

    for loss in ("huber", "poisson"):
        X, Y = _glm_data(loss, seed=5)
        f = _free_factor(X.shape[1], [2])
        cv = LBIRegressorCV(loss=loss, penalty_factor=f, cv=3, n_times=15).fit(X, Y[:, 0])
        at = LBIRegressor(loss=loss, penalty_factor=f, n_times=15, t=cv.t_).fit(X, Y[:, 0])
        np.testing.assert_allclose(cv.coef_, at.coef_, rtol=1e-12)
        assert cv.coef_[2] != 0
    for loss in ("logistic", "multinomial"):
        X, Y = _glm_data(loss, seed=6)
        y = Y.argmax(axis=1) if loss == "multinomial" else Y[:, 0].astype(int)
        f = _free_factor(X.shape[1], [4])
        clf = LBIClassifierCV(penalty_factor=f, cv=3, n_times=15).fit(sp.csr_matrix(X), y)
        at = LBIClassifier(penalty_factor=f, n_times=15, t=clf.t_).fit(sp.csr_matrix(X), y)
        np.testing.assert_allclose(clf.coef_, at.coef_, rtol=1e-12)
        assert np.all(clf.coef_[:, 4] != 0)
        disp = RegularizationPathDisplay.from_estimator(at, n_labels=2)
        lines = np.asarray(disp.lines_, dtype=object).reshape(X.shape[1], -1)
        for j in range(X.shape[1]):
            assert {line.get_linestyle() for line in lines[j]} == ({"--"} if j == 4 else {"-"})
        plt.close(disp.figure_)
