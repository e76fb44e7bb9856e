"""The knockoff selectors do not depend on the units of the target or the features.

Both selectors standardize before anything else (features to unit variance,
a real-valued target to unit root mean square deviation), so for the same
``random_state`` (the same knockoff draw and sample split):

- ``fit(X, c * y + d)``, ``c != 0``: the same selection and the same ``W_``.
  Every statistic is computed on the standardized problem, so all of them are
  invariant: ``'lcd'`` (lasso ``|b|`` differences), ``'lsm'`` (entry penalties)
  and ``'lbi'`` (inverse entry times) alike, with the same signs; only the
  directions ``signs_`` of split knockoffs follow the sign of ``c``;
- ``fit(X * a, y)``, ``a > 0`` per feature: the same selection and ``W_``
  (for split knockoffs whenever the question is the same: ``D`` the identity,
  or ``a`` a scalar);
- a rescaling by a power of two changes nothing, bit for bit.

The shift ``d`` is taken relative to the scale of ``c * y``: a shift much
larger than the spread of ``c * y`` erases digits of ``y`` itself.
"""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from sparsestat import KnockoffSelector, SplitKnockoffSelector
from sparsestat import _engine


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpool_limits(1):
        yield


N, P, K = 200, 30, 8
FACTORS = [1e-8, 1e-3, 1e3, 1e8, -1.0, -1e5]
SHIFTS = [0.0, -50.0, 1e4]          # in units of c times the spread of y


def _data(seed=1):
    rng = np.random.default_rng(seed)
    R = 0.3 ** np.abs(np.subtract.outer(np.arange(P), np.arange(P)))
    X = rng.standard_normal((N, P)) @ np.linalg.cholesky(R).T + rng.normal(0, 3, P)
    beta = np.zeros(P)
    beta[:K] = 0.5 * rng.choice([-1.0, 1.0], K)
    y = X @ beta + rng.standard_normal(N) + 4.0
    return X, y, R


def _assert_same(sel, base, rtol=1e-8):
    np.testing.assert_array_equal(sel.support_, base.support_)
    scale = np.max(np.abs(base.W_))
    np.testing.assert_allclose(sel.W_, base.W_, rtol=0, atol=rtol * scale)
    big = np.abs(base.W_) > rtol * scale
    np.testing.assert_array_equal(np.sign(sel.W_[big]), np.sign(base.W_[big]))


SELECTORS = [
    dict(statistic="lcd"),
    dict(statistic="lsm"),
    dict(statistic="lbi"),
    dict(statistic="lbi", s_method="equi"),
    dict(knockoffs="gaussian"),                       # Ledoit-Wolf, cross-validated lasso
    dict(knockoffs="gaussian", statistic="lbi"),
    dict(statistic="mlr"),
]
IDS = ["fixed-lcd", "fixed-lsm", "fixed-lbi", "fixed-lbi-equi", "gaussian-lcd", "gaussian-lbi",
       "fixed-mlr"]


@pytest.fixture(scope="module")
def fitted():
    """The reference fits on the data as generated, one per selector setting."""
    X, y, _ = _data()
    return {i: KnockoffSelector(fdr=0.2, random_state=0, **kw).fit(X, y)
            for i, kw in zip(IDS, SELECTORS)}


@pytest.mark.parametrize("kw", SELECTORS, ids=IDS)
def test_knockoff_selector_ignores_the_units_of_y(kw, fitted):
    X, y, _ = _data()
    base = fitted[IDS[SELECTORS.index(kw)]]
    assert base.support_[:K].sum() >= 4            # a selection worth comparing
    sd = y.std()
    # mlr's Gibbs sampler follows another path once a shift has rounded away the last
    # digits of the centred target: the same statistics up to their Monte Carlo error
    rtol = 0.02 if kw.get("statistic") == "mlr" else 1e-8
    for c in FACTORS:
        for shift in SHIFTS:
            sel = KnockoffSelector(fdr=0.2, random_state=0, **kw).fit(X, c * y + c * sd * shift)
            _assert_same(sel, base, rtol)


@pytest.mark.parametrize("kw", SELECTORS, ids=IDS)
def test_knockoff_selector_ignores_the_units_of_each_feature(kw, fitted):
    X, y, _ = _data()
    base = fitted[IDS[SELECTORS.index(kw)]]
    a = np.exp(np.random.default_rng(2).uniform(np.log(1e-8), np.log(1e8), P))
    for scaled in (X * a, X * 1e300, X * 1e-300, X * a + 1e3 * a):
        _assert_same(KnockoffSelector(fdr=0.2, random_state=0, **kw).fit(scaled, y), base)


def test_given_sigma_rescaled_with_the_features_gives_the_same_selection():
    X, y, R = _data()
    a = np.exp(np.random.default_rng(3).uniform(np.log(1e-6), np.log(1e6), P))
    base = KnockoffSelector(fdr=0.2, knockoffs="gaussian", Sigma=R, random_state=0).fit(X, y)
    sel = KnockoffSelector(fdr=0.2, knockoffs="gaussian", Sigma=R * np.outer(a, a),
                           random_state=0).fit(X * a, 1e6 * y)
    assert base.support_[:K].sum() >= 4
    _assert_same(sel, base)


@pytest.mark.parametrize("kw", SELECTORS, ids=IDS)
def test_power_of_two_rescaling_changes_nothing_bit_for_bit(kw, fitted):
    X, y, _ = _data()
    base = fitted[IDS[SELECTORS.index(kw)]]
    sel = KnockoffSelector(fdr=0.2, random_state=0, **kw).fit(X * 2.0 ** 900, y * 2.0 ** -60)
    np.testing.assert_array_equal(sel.W_, base.W_)


def test_classification_ignores_the_units_of_the_features():
    X, _, _ = _data()
    rng = np.random.default_rng(4)
    labels = (X[:, :K] @ np.ones(K) - X[:, :K].sum(1).mean() + rng.logistic(size=N) > 0)
    base = KnockoffSelector(fdr=0.2, statistic="lbi", random_state=0).fit(X, labels)
    a = np.exp(rng.uniform(np.log(1e-8), np.log(1e8), P))
    sel = KnockoffSelector(fdr=0.2, statistic="lbi", random_state=0).fit(X * a, labels)
    assert base.support_.sum() >= 4
    _assert_same(sel, base)


# ---------------------------------------------------------------- split knockoffs

def _split_data(seed=5):
    rng = np.random.default_rng(seed)
    n, p = 240, 12
    X = rng.standard_normal((n, p)) + rng.normal(0, 2, p)
    beta = np.repeat([0.0, 1.0, -0.5, 0.5], 3)
    y = X @ beta + rng.standard_normal(n) - 7.0
    return X, y


D_FUSED = np.diff(np.eye(12), axis=0)


@pytest.fixture(scope="module")
def split_fits():
    X, y = _split_data()
    return {name: SplitKnockoffSelector(fdr=0.3, D=D, random_state=0).fit(X, y)
            for name, D in (("identity", None), ("fused", D_FUSED))}


@pytest.mark.parametrize("name", ["identity", "fused"])
def test_split_selector_ignores_the_units_of_y(name, split_fits):
    X, y = _split_data()
    base = split_fits[name]
    D = None if name == "identity" else D_FUSED
    assert base.support_.sum() >= 3
    sd = y.std()
    for c in FACTORS:
        for shift in SHIFTS:
            sel = SplitKnockoffSelector(fdr=0.3, D=D, random_state=0).fit(
                X, c * y + c * sd * shift)
            _assert_same(sel, base)
            # -y has the coefficients -beta: the directions flip with the sign of c
            np.testing.assert_array_equal(sel.signs_, np.sign(c) * base.signs_)


def test_split_selector_ignores_the_units_of_the_features(split_fits):
    X, y = _split_data()
    a = np.exp(np.random.default_rng(6).uniform(np.log(1e-8), np.log(1e8), X.shape[1]))
    # D = identity: gamma = beta, whose support does not depend on each feature's units
    base = split_fits["identity"]
    for scaled in (X * a, X * a + 1e4 * a):
        sel = SplitKnockoffSelector(fdr=0.3, random_state=0).fit(scaled, y)
        _assert_same(sel, base)
        np.testing.assert_array_equal(sel.signs_, base.signs_)
    # first differences: one common unit for all features poses the same question
    base = split_fits["fused"]
    for c in (1e-300, 1e-8, 1e8, 1e300):
        sel = SplitKnockoffSelector(fdr=0.3, D=D_FUSED, random_state=0).fit(X * c, y)
        _assert_same(sel, base)
        np.testing.assert_array_equal(sel.signs_, base.signs_)


def test_split_selector_ignores_the_scale_of_the_rows_of_D(split_fits):
    X, y = _split_data()
    b = np.exp(np.random.default_rng(7).uniform(np.log(1e-6), np.log(1e6), D_FUSED.shape[0]))
    sel = SplitKnockoffSelector(fdr=0.3, D=b[:, None] * D_FUSED, random_state=0).fit(X, y)
    _assert_same(sel, split_fits["fused"])


def test_split_power_of_two_rescaling_changes_nothing_bit_for_bit(split_fits):
    X, y = _split_data()
    sel = SplitKnockoffSelector(fdr=0.3, D=D_FUSED, random_state=0).fit(
        X * 2.0 ** -700, y * 2.0 ** 500)
    np.testing.assert_array_equal(sel.W_, split_fits["fused"].W_)


# ---------------------------------------------------------------- engine that standardizes y

def _standardizing_engine(monkeypatch):
    """Make the engine divide a real target by its centred root mean square, keep times
    on that scale, scale the coefficients back and report the unit in
    ``info['y_scale']``, as an engine that standardizes y would."""
    lbi_path, split_lbi_path = _engine.lbi_path, _engine.split_lbi_path

    def lbi(X, Y, **kw):
        if kw.get("loss", "squared") != "squared":
            return lbi_path(X, Y, **kw)
        u = float(np.std(Y))
        path = lbi_path(X, Y / u, **kw)
        path.coefs = path.coefs * u
        path.info["y_scale"] = u
        return path

    def split(X, y, D, **kw):
        u = float(np.std(y))
        path = split_lbi_path(X, y / u, D, **kw)
        path.beta_path.coefs = path.beta_path.coefs * u
        path.gamma_path.coefs = path.gamma_path.coefs * u
        path.beta_path.info["y_scale"] = u
        return path

    monkeypatch.setattr(_engine, "lbi_path", lbi)
    monkeypatch.setattr(_engine, "split_lbi_path", split)


def test_answers_do_not_change_if_the_engine_standardizes_y(monkeypatch, fitted, split_fits):
    X, y, _ = _data()
    Xs, ys = _split_data()
    _standardizing_engine(monkeypatch)
    for key in ("fixed-lbi", "gaussian-lbi"):
        kw = SELECTORS[IDS.index(key)]
        _assert_same(KnockoffSelector(fdr=0.2, random_state=0, **kw).fit(X, 1e5 * y),
                     fitted[key], rtol=1e-10)
    _assert_same(SplitKnockoffSelector(fdr=0.3, D=D_FUSED, random_state=0).fit(Xs, 1e5 * ys),
                 split_fits["fused"], rtol=1e-10)


def test_cross_validated_lasso_chooses_the_penalty_of_lassocv():
    """The early-stopped cross-validation picks LassoCV's penalty (small and large n/p, down
    to two features), and its coefficients solve the lasso there (to the solver's tolerance)."""
    from sklearn.linear_model import Lasso, LassoCV

    from sparsestat.feature_selection._statistics import _lasso_cv

    rng = np.random.default_rng(0)
    for n, p in [(25, 40), (50, 120), (132, 120), (150, 40), (300, 100), (40, 2)]:
        X = rng.standard_normal((n, p))
        X[:, 1:] += 0.8 * X[:, :-1]
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        beta = np.zeros(p)
        beta[:min(8, p)] = rng.choice([-1.0, 1.0], min(8, p)) * 5 / np.sqrt(n)
        y = X @ beta + rng.standard_normal(n)
        reference = LassoCV(cv=5, alphas=100, eps=1e-2, max_iter=5000).fit(X, y)
        coef, alpha = _lasso_cv(X, y)
        assert alpha == pytest.approx(reference.alpha_, rel=1e-12)
        exact = Lasso(alpha=alpha, tol=1e-12, max_iter=100000).fit(X, y).coef_

        def objective(b):
            r = y - y.mean() - (X - X.mean(axis=0)) @ b
            return r @ r / (2 * n) + alpha * np.abs(b).sum()

        # coordinate descent stops at a duality gap of 1e-4 relative to ||y||^2 / n
        assert objective(coef) - objective(exact) <= 1e-4 * np.mean((y - y.mean()) ** 2)
