"""Units never change the answer of a path estimator.

The paths run on a standardized target, so ``fit(X, c * y + d)`` must give
``c`` times the coefficients, ``c`` times the intercept plus ``d``, the same
entry order, entry times, reading time and iteration count, for every scale
``c`` from 1e-8 to 1e8; and rescaling the columns of ``X`` (``normalize=True``)
divides their coefficients by the same factors.
"""

import re

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

from sparsestat import LBIClassifier, LBIRegressor, LBIRegressorCV

SCALES = [1e-8, 1e-5, 1e-2, 1.0, 37.0, 1e3, 1e8]


def _data(seed=0, n=80, p=12):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    beta = np.zeros(p)
    beta[[0, 3, 5]] = [2.0, -1.5, 1.0]
    y = X @ beta + 0.7 + 0.5 * rng.standard_normal(n)
    y[:4] += 8.0   # a few gross errors, for the Huber loss
    return X, y


FITS = {
    "squared": lambda: LBIRegressor(n_times=30, t_ratio=50),
    "huber": lambda: LBIRegressor(loss="huber", n_times=30, t_ratio=50),
    "iss": lambda: LBIRegressor(solver="iss", n_times=30, t_ratio=50),
    "group": lambda: LBIRegressor(penalty="group", groups=np.arange(12) // 3, n_times=30,
                                  t_ratio=50),
    "fixed step": lambda: LBIRegressor(alpha=0.05, kappa=5.0, n_times=30, t_ratio=20),
    "split": lambda: LBIRegressor(D=np.diff(np.eye(12), axis=0), n_times=30, t_ratio=20),
}


def _assert_moves_with_units(ref, fit, c, d):
    tol = 1e-8
    big = np.abs(ref.coef_).max()
    np.testing.assert_allclose(fit.coef_, c * ref.coef_, rtol=tol, atol=tol * c * big)
    np.testing.assert_allclose(fit.intercept_, c * np.asarray(ref.intercept_) + d, rtol=tol,
                               atol=tol * (c * big + abs(d)))
    assert fit.t_ == pytest.approx(ref.t_, rel=tol)
    assert fit.n_iter_ == ref.n_iter_
    e_ref, e_fit = np.asarray(ref.entry_times_), np.asarray(fit.entry_times_)
    np.testing.assert_array_equal(np.isfinite(e_fit), np.isfinite(e_ref))
    finite = np.isfinite(e_ref)
    np.testing.assert_allclose(e_fit[finite], e_ref[finite], rtol=tol)
    order = np.lexsort((np.arange(e_ref.size), e_ref.ravel()))
    np.testing.assert_array_equal(np.lexsort((np.arange(e_fit.size), e_fit.ravel())), order)
    np.testing.assert_array_equal(fit.coef_ != 0, ref.coef_ != 0)


@pytest.mark.parametrize("name", list(FITS))
@pytest.mark.parametrize("c", SCALES)
def test_target_scale_and_shift(name, c):
    X, y = _data()
    ref = FITS[name]().fit(X, y)
    d = -3.0 * c
    fit = FITS[name]().fit(X, c * y + d)
    _assert_moves_with_units(ref, fit, c, d)
    if name == "split":
        np.testing.assert_allclose(fit.gamma_, c * ref.gamma_, rtol=1e-8,
                                   atol=1e-8 * c * np.abs(ref.gamma_).max())


@pytest.mark.parametrize("name", ["squared", "huber"])
def test_a_large_shift_changes_nothing_but_the_intercept(name):
    X, y = _data(seed=1)
    ref = FITS[name]().fit(X, y)
    d = 1e4 * y.std()
    fit = FITS[name]().fit(X, y + d)
    np.testing.assert_allclose(fit.coef_, ref.coef_, rtol=1e-7, atol=1e-9)
    assert fit.n_iter_ == ref.n_iter_
    assert fit.intercept_ == pytest.approx(ref.intercept_ + d, rel=1e-12)


@pytest.mark.parametrize("c", [1e-8, 1e3, 1e8])
def test_diabetes_in_any_units(c):
    """The reported defect: in other units the default fit stopped after one iteration
    (R^2 0.06 at 1000 y) or ran 64,108 iterations (y / 1000)."""
    X, y = load_diabetes(return_X_y=True)
    ref = LBIRegressor().fit(X, y)
    fit = LBIRegressor().fit(X, c * y)
    assert fit.n_iter_ == ref.n_iter_
    assert fit.score(X, c * y) == pytest.approx(ref.score(X, y), rel=1e-10)
    # the end of the default path is close to the least-squares fit, in any units
    A = np.column_stack([np.ones(len(y)), X])
    resid = c * y - A @ np.linalg.lstsq(A, c * y, rcond=None)[0]
    r2_ols = 1.0 - resid @ resid / np.sum((c * y - c * y.mean()) ** 2)
    assert r2_ols - 0.005 < fit.score(X, c * y) <= r2_ols


@pytest.mark.parametrize("c", [1e-8, 1e8])
def test_multi_output_and_cv_move_with_units(c):
    X, y = _data(seed=2)
    Y = np.column_stack([y, 2.0 * X[:, 1] - y])
    ref = LBIRegressor(penalty="group", n_times=30, t_ratio=30).fit(X, Y)
    fit = LBIRegressor(penalty="group", n_times=30, t_ratio=30).fit(X, c * Y + c)
    _assert_moves_with_units(ref, fit, c, c)
    ref = LBIRegressorCV(cv=3, n_times=20, t_ratio=30).fit(X, y)
    fit = LBIRegressorCV(cv=3, n_times=20, t_ratio=30).fit(X, c * y)
    _assert_moves_with_units(ref, fit, c, 0.0)
    np.testing.assert_allclose(fit.cv_mean_scores_, c * c * ref.cv_mean_scores_, rtol=1e-7)


def test_sample_weights_are_unit_free():
    X, y = _data(seed=3)
    w = np.random.default_rng(3).uniform(0.2, 3.0, len(y))
    ref = LBIRegressor(n_times=30).fit(X, y, sample_weight=w)
    fit = LBIRegressor(n_times=30).fit(X, 1e-6 * y, sample_weight=1e6 * w)
    _assert_moves_with_units(ref, fit, 1e-6, 0.0)


@pytest.mark.parametrize("solver", ["lbi", "iss"])
def test_column_units_divide_the_coefficients(solver):
    """normalize=True: the path does not see the units of X, down to 1e-300 and up to 1e300."""
    X, y = _data(seed=4)
    a = np.array([1e-300, 1e-8, 1e-3, 1.0, 7.0, 1e3, 1e8, 1e300, 2.0, 0.5, 1e-150, 1e150])
    ref = LBIRegressor(solver=solver, n_times=30).fit(X, y)
    fit = LBIRegressor(solver=solver, n_times=30).fit(X * a, y)
    np.testing.assert_allclose(fit.coef_ * a, ref.coef_, rtol=1e-9, atol=1e-12)
    assert fit.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(fit.entry_times_, ref.entry_times_, rtol=1e-9)
    assert fit.intercept_ == pytest.approx(ref.intercept_, rel=1e-9)


def test_classifier_ignores_column_units():
    X, y = _data(seed=5)
    labels = (y > np.median(y)).astype(int)
    a = np.geomspace(1e-8, 1e8, X.shape[1])
    ref = LBIClassifier(n_times=20, t_ratio=20).fit(X, labels)
    fit = LBIClassifier(n_times=20, t_ratio=20).fit(X * a, labels)
    np.testing.assert_allclose(fit.coef_ * a, ref.coef_, rtol=1e-8, atol=1e-12)
    np.testing.assert_array_equal(fit.predict(X * a), ref.predict(X))


def test_extreme_targets_give_finite_scaled_answers():
    X, y = _data(seed=6)
    ref = LBIRegressor(n_times=30).fit(X, y)
    for c in (1e-200, 1e200):
        fit = LBIRegressor(n_times=30).fit(X, c * y)
        assert np.all(np.isfinite(fit.coef_))
        np.testing.assert_allclose(fit.coef_ / c, ref.coef_, rtol=1e-9, atol=1e-12)


# ---- reading the path: relative times, and times past its end


def test_t_relative_reads_the_same_point_in_any_units():
    X, y = _data(seed=7)
    a = LBIRegressor(t_relative=3.0).fit(X, y)
    b = LBIRegressor(t_relative=3.0).fit(X[::-1] * 5.0, 1e4 * y[::-1])
    assert a.t_ == pytest.approx(3.0 * a.t0_, rel=1e-14)
    assert b.t_ == pytest.approx(a.t_, rel=1e-9)
    np.testing.assert_allclose(b.coef_ * 5.0, 1e4 * a.coef_, rtol=1e-8, atol=1e-8)
    # the same point of the path as asking for that absolute time
    c = LBIRegressor(t=a.t_).fit(X, y)
    np.testing.assert_allclose(c.coef_, a.coef_, rtol=1e-12)
    assert np.all(LBIRegressor(t_relative=1.0).fit(X, y).coef_ == 0)


def test_t_relative_can_be_grid_searched():
    from sklearn.model_selection import GridSearchCV

    X, y = _data(seed=8, n=120)
    search = GridSearchCV(LBIRegressor(n_times=20, t_ratio=50),
                          {"t_relative": [1.0, 2.0, 5.0, 20.0]}, cv=3).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] < 0.05              # the empty model explains nothing
    assert search.best_params_["t_relative"] > 1.0


def test_time_past_the_end_warns_and_reads_the_end():
    X, y = _data(seed=9)
    end = LBIRegressor(t_ratio=10).fit(X, y)
    with pytest.warns(UserWarning, match="past the end of the path"):
        late = LBIRegressor(t_ratio=10, t=10 * end.t_).fit(X, y)
    np.testing.assert_array_equal(late.coef_, end.coef_)
    assert late.t_ == end.t_
    with pytest.warns(UserWarning, match=r"t_relative=50.*Increase t_ratio"):
        LBIRegressor(t_ratio=10, t_relative=50.0).fit(X, y)
    with pytest.warns(UserWarning, match="past the end"):
        LBIClassifier(t_ratio=5, t_relative=6.0).fit(X, y > 0)


def test_t_and_t_relative_together_are_refused():
    X, y = _data(seed=10)
    with pytest.raises(ValueError, match="t or as t_relative, not both"):
        LBIRegressor(t=2.0, t_relative=2.0).fit(X, y)


# ---- bad input refused with a clear message


@pytest.mark.parametrize("estimator", [LBIRegressor(), LBIRegressor(loss="huber"),
                                       LBIRegressor(solver="iss"), LBIRegressorCV(cv=3),
                                       LBIClassifier()])
def test_negative_sample_weight_is_refused(estimator):
    X, y = _data(seed=11)
    target = y if not isinstance(estimator, LBIClassifier) else y > 0
    w = np.ones(len(y))
    w[7] = -1.0
    with pytest.raises(ValueError, match=r"sample_weight has 1 negative value\(s\) \(sample 7"):
        estimator.fit(X, target, sample_weight=w)
    with pytest.raises(ValueError, match="at least one non-zero"):
        estimator.fit(X, target, sample_weight=np.zeros(len(y)))


@pytest.mark.parametrize("params, name", [
    ({"alpha": 1e-12}, "alpha=1e-12"),
    ({"kappa": 1e300}, "kappa=1e\\+300"),
    ({"t_ratio": 1e300}, "t_ratio=1e\\+300"),
    ({"D": np.diff(np.eye(12), axis=0), "nu": 1e-8}, "alpha="),
])
def test_hopeless_iteration_counts_are_refused_at_once(params, name):
    X, y = _data(seed=12)
    with pytest.raises(ValueError, match=f"would need about .* iterations.*{name}"):
        LBIRegressor(**params).fit(X, y)


@pytest.mark.parametrize("nu", [1e-300, 1e300])
def test_an_impossible_coupling_is_refused(nu):
    X, y = _data(seed=12)
    with pytest.raises(ValueError, match=re.escape(f"nu={nu:g} is out of range")):
        LBIRegressor(D=np.diff(np.eye(12), axis=0), nu=nu).fit(X, y)


def test_max_iter_caps_a_long_path_instead():
    from sklearn.exceptions import ConvergenceWarning

    X, y = _data(seed=13)
    with pytest.warns(ConvergenceWarning, match="max_iter=1000"):
        reg = LBIRegressor(alpha=1e-12, max_iter=1000).fit(X, y)
    assert reg.n_iter_ == 1000 and np.all(np.isfinite(reg.coef_))


def test_groups_with_the_l1_penalty_are_refused():
    X, y = _data(seed=14)
    with pytest.raises(ValueError, match="only used by penalty='group'"):
        LBIRegressor(groups=np.arange(12) // 3).fit(X, y)
    with pytest.raises(ValueError, match="only used by penalty='group'"):
        LBIClassifier(groups=np.arange(12) // 3).fit(X, y > 0)


@pytest.mark.parametrize("bad", [np.nan, None])
def test_missing_group_labels_are_refused(bad):
    X, y = _data(seed=15)
    groups = np.array(list(np.arange(12) // 3), dtype=object if bad is None else float)
    groups[4] = bad
    with pytest.raises(ValueError, match="missing label.*position 4"):
        LBIRegressor(penalty="group", groups=groups).fit(X, y)


def test_nan_in_the_structure_operator_is_refused():
    X, y = _data(seed=16)
    D = np.diff(np.eye(12), axis=0)
    D[2, 3] = np.nan
    with pytest.raises(ValueError, match="D contains NaN or infinity"):
        LBIRegressor(D=D).fit(X, y)
