"""predict(X, t=...): the model read at any time on the path.

The references are written here from the recorded path (``times``, ``coefs``,
``intercepts``) and the interpolation rule the path states, not from the estimator's
own prediction code.
"""

import numpy as np
import pytest
from scipy.special import expit, softmax

from sparsestat import LBIClassifier, LBIClassifierCV, LBIRegressor, LBIRegressorCV


def regression_data(n=80, p=6, seed=0, targets=None):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) + rng.standard_normal(p)
    beta = np.array([2.0, 0.0, -1.5, 0.0, 0.8, 0.0])[:p]
    y = X @ beta + 3.0 + 0.5 * rng.standard_normal(n)
    if targets:
        y = np.column_stack([y, X @ beta[::-1] - 1.0 + rng.standard_normal(n)])
    return X, y


def recorded(path, X, k):
    """Linear predictor of record k: (n,) or (n, K), straight from the stored arrays."""
    coef = path.coefs[k]
    return X @ coef + path.intercepts[k]


def midpoints(path):
    """A time strictly inside every gap between record times, and its fraction."""
    lo = path.times[:-1]
    frac = np.linspace(0.1, 0.9, lo.size)
    return lo + frac * np.diff(path.times), frac


@pytest.mark.parametrize("params", [{}, {"solver": "iss"}, {"kappa": 50.0}])
def test_regressor_at_the_record_times_is_the_recorded_model(params):
    X, y = regression_data()
    reg = LBIRegressor(n_times=25, **params).fit(X, y)
    path = reg.regularization_path_
    pred = reg.predict(X[:7], t=path.times)
    assert pred.shape == (7, path.n_times)
    for k in range(path.n_times):
        np.testing.assert_allclose(pred[:, k], recorded(path, X[:7], k), rtol=1e-12, atol=1e-12)


def test_lbi_between_record_times_is_the_linear_interpolation():
    X, y = regression_data(seed=1)
    reg = LBIRegressor(n_times=20).fit(X, y)
    path = reg.regularization_path_
    assert path.interpolation == "linear"
    mids, frac = midpoints(path)
    pred = reg.predict(X, t=mids)
    for k in range(mids.size):
        expected = (1 - frac[k]) * recorded(path, X, k) + frac[k] * recorded(path, X, k + 1)
        np.testing.assert_allclose(pred[:, k], expected, rtol=1e-10, atol=1e-10)


def test_iss_between_record_times_is_the_previous_record():
    X, y = regression_data(seed=2)
    reg = LBIRegressor(solver="iss", n_times=20).fit(X, y)
    path = reg.regularization_path_
    assert path.interpolation == "previous"
    mids, _ = midpoints(path)
    pred = reg.predict(X, t=mids)
    for k in range(mids.size):
        np.testing.assert_allclose(pred[:, k], recorded(path, X, k), rtol=1e-12, atol=1e-12)


def test_before_t0_the_model_is_the_mean():
    # the path is empty up to t0: the prediction is the intercept-only least-squares fit
    X, y = regression_data(seed=3)
    reg = LBIRegressor().fit(X, y)
    pred = reg.predict(X, t=[0.0, 0.5 * reg.t0_, reg.t0_])
    np.testing.assert_allclose(pred, y.mean(), rtol=1e-10)


def test_none_and_a_scalar_keep_the_fitted_model():
    X, y = regression_data(seed=4)
    reg = LBIRegressor(t_relative=7.0).fit(X, y)
    np.testing.assert_array_equal(reg.predict(X), X @ reg.coef_ + reg.intercept_)
    at_t = reg.predict(X, t=reg.t_)
    assert at_t.shape == (X.shape[0],)
    np.testing.assert_allclose(at_t, reg.predict(X), rtol=1e-12, atol=1e-12)
    # a scalar t is the same column as that time inside an array of times
    many = reg.predict(X, t=[reg.t0_, reg.t_, 2 * reg.t0_])
    np.testing.assert_allclose(many[:, 1], at_t, rtol=1e-12, atol=1e-12)


def test_multi_output_regressor_adds_the_time_axis_last():
    X, Y = regression_data(seed=5, targets=2)
    reg = LBIRegressor(n_times=15).fit(X, Y)
    path = reg.regularization_path_
    pred = reg.predict(X, t=path.times)
    assert pred.shape == (X.shape[0], 2, path.n_times)
    for k in (0, 7, path.n_times - 1):
        np.testing.assert_allclose(pred[:, :, k], recorded(path, X, k), rtol=1e-12, atol=1e-12)
    assert reg.predict(X, t=path.times[3]).shape == (X.shape[0], 2)


@pytest.mark.parametrize("c", [1e-8, 1e-3, 1.0, 1e4, 1e8])
def test_predictions_follow_the_units_of_y(c):
    # fit(X, c y + d) has the same path in time, with c times the coefficients
    X, y = regression_data(seed=6)
    times = LBIRegressor(n_times=20).fit(X, y).regularization_path_.times
    t = np.concatenate([[0.0], times[::4], (times[:-1:5] + times[1::5]) / 2])
    base = LBIRegressor(n_times=20).fit(X, y).predict(X, t=t)
    moved = LBIRegressor(n_times=20).fit(X, c * y - 7.0 * c).predict(X, t=t)
    np.testing.assert_allclose(moved, c * base - 7.0 * c, rtol=1e-7, atol=1e-7 * c)


def test_row_order_of_the_predicted_samples_does_not_matter():
    X, y = regression_data(seed=7)
    reg = LBIRegressor().fit(X, y)
    perm = np.random.default_rng(0).permutation(X.shape[0])
    t = reg.regularization_path_.times[::9]
    np.testing.assert_array_equal(reg.predict(X[perm], t=t), reg.predict(X, t=t)[perm])


def test_split_lbi_predicts_with_the_beta_path():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((60, 8))
    y = X @ np.repeat([0.0, 2.0], 4) + 0.3 * rng.standard_normal(60)
    reg = LBIRegressor(D=np.diff(np.eye(8), axis=0), n_times=20).fit(X, y)
    path = reg.regularization_path_
    pred = reg.predict(X, t=path.times)
    for k in (0, 10, 19):
        np.testing.assert_allclose(pred[:, k], recorded(path, X, k), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf, "end"])
def test_times_off_the_path_are_refused(bad):
    X, y = regression_data(seed=9)
    reg = LBIRegressor(t_ratio=10.0).fit(X, y)
    end = float(reg.regularization_path_.times[-1])
    t = 1.01 * end if bad == "end" else bad
    with pytest.raises(ValueError, match=r"t must lie in \[0, t_max\]"):
        reg.predict(X, t=t)
    with pytest.raises(ValueError, match="t_ratio"):
        reg.predict(X, t=[end, t])
    # the end itself is on the path
    np.testing.assert_allclose(reg.predict(X, t=end), recorded(reg.regularization_path_, X, -1))


def test_times_of_the_wrong_shape_are_refused():
    X, y = regression_data(seed=9)
    reg = LBIRegressor().fit(X, y)
    with pytest.raises(ValueError, match="1-D array"):
        reg.predict(X, t=np.ones((2, 2)))
    with pytest.raises(ValueError, match="non-empty"):
        reg.predict(X, t=[])
    with pytest.raises(ValueError, match="array of numbers"):
        reg.predict(X, t="end")


def test_binary_classifier_probabilities_along_the_path():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = X[:, :8]
    clf = LBIClassifier(t_ratio=30, n_times=20).fit(X, y)
    path = clf.regularization_path_
    proba = clf.predict_proba(X, t=path.times)
    assert proba.shape == (X.shape[0], 2, path.n_times)
    for k in (0, 9, 19):
        p1 = expit(recorded(path, X, k)[:, 0])
        np.testing.assert_allclose(proba[:, 1, k], p1, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(proba[:, 0, k], 1 - p1, rtol=1e-10, atol=1e-12)
    labels = clf.predict(X, t=path.times)
    np.testing.assert_array_equal(labels, (proba[:, 1] > 0.5).astype(int))
    # the empty model at t = 0 predicts the base rate (the intercept-only logistic fit)
    np.testing.assert_allclose(clf.predict_proba(X, t=0.0)[:, 1], y.mean(), rtol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(X, t=clf.t_), clf.predict_proba(X))
    np.testing.assert_allclose(clf.decision_function(X, t=clf.t_), clf.decision_function(X),
                               rtol=1e-12, atol=1e-12)


def test_multiclass_probabilities_between_record_times():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    clf = LBIClassifier(t_ratio=20, n_times=15).fit(X, y)
    path = clf.regularization_path_
    mids, frac = midpoints(path)
    proba = clf.predict_proba(X, t=mids)
    assert proba.shape == (150, 3, mids.size)
    for k in (0, 6, mids.size - 1):
        eta = (1 - frac[k]) * recorded(path, X, k) + frac[k] * recorded(path, X, k + 1)
        np.testing.assert_allclose(proba[:, :, k], softmax(eta, axis=1), rtol=1e-10)
        np.testing.assert_array_equal(clf.predict(X, t=mids)[:, k], np.argmax(eta, axis=1))
    # log-probabilities are the logarithm, time by time
    np.testing.assert_allclose(clf.predict_log_proba(X, t=mids), np.log(proba))
    # relabelling the classes relabels the predictions only
    names = np.array(["setosa", "versicolor", "virginica"])
    relabelled = LBIClassifier(t_ratio=20, n_times=15).fit(X, names[y])
    np.testing.assert_array_equal(relabelled.predict(X, t=mids), names[clf.predict(X, t=mids)])


def test_cv_estimators_predict_anywhere_on_their_path():
    from sklearn.datasets import make_classification

    X, y = regression_data(seed=10)
    reg = LBIRegressorCV(cv=3, n_times=20).fit(X, y)
    path = reg.regularization_path_
    pred = reg.predict(X, t=path.times)
    for k in (0, 10, 19):
        np.testing.assert_allclose(pred[:, k], recorded(path, X, k), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(reg.predict(X, t=reg.t_), reg.predict(X), rtol=1e-12)

    Xc, yc = make_classification(n_samples=150, n_features=6, n_informative=3,
                                 n_classes=3, flip_y=0.2, random_state=0)
    clf = LBIClassifierCV(cv=3, t_ratio=100, n_times=15).fit(Xc, yc)
    cpath = clf.regularization_path_
    proba = clf.predict_proba(Xc, t=cpath.times)
    np.testing.assert_allclose(proba[:, :, 5], softmax(recorded(cpath, Xc, 5), axis=1),
                               rtol=1e-10)
    np.testing.assert_allclose(clf.predict_proba(Xc, t=clf.t_), clf.predict_proba(Xc))


def test_split_lbi_before_t0_is_the_fit_with_gamma_zero():
    # beta is not penalized in Split LBI: on [0, t0] gamma = 0 and beta is its start
    rng = np.random.default_rng(11)
    X = rng.standard_normal((50, 6))
    y = X @ np.repeat([1.0, -1.0], 3) + 0.2 * rng.standard_normal(50)
    reg = LBIRegressor(D=np.diff(np.eye(6), axis=0), n_times=10).fit(X, y)
    start = recorded(reg.regularization_path_, X, 0)
    assert np.ptp(start) > 0  # not the empty model
    pred = reg.predict(X, t=[0.0, 0.5 * reg.t0_, reg.t0_])
    for k in range(3):
        np.testing.assert_allclose(pred[:, k], start, rtol=1e-12, atol=1e-12)


def test_split_lbi_read_before_t0_keeps_the_start():
    # coef_ read at t_relative < 1 is beta's start too, as predict(X, t) before t0 is
    rng = np.random.default_rng(12)
    X = rng.standard_normal((50, 6))
    y = X @ np.repeat([1.0, -1.0], 3) + 0.2 * rng.standard_normal(50)
    D = np.diff(np.eye(6), axis=0)
    early = LBIRegressor(D=D, n_times=10, t_relative=0.5).fit(X, y)
    start = early.regularization_path_.coefs[0]
    np.testing.assert_allclose(early.coef_, start, rtol=1e-12)
    np.testing.assert_allclose(early.predict(X), early.predict(X, t=early.t_), rtol=1e-12)
    np.testing.assert_array_equal(early.gamma_, 0.0)


def test_sparse_and_float32_input_predict_like_dense_float64():
    import scipy.sparse as sp

    X, y = regression_data(seed=13)
    X[np.abs(X) < 0.8] = 0.0
    reg = LBIRegressor(n_times=20).fit(X, y)
    t = reg.regularization_path_.times[::3]
    np.testing.assert_allclose(reg.predict(sp.csr_matrix(X), t=t), reg.predict(X, t=t),
                               rtol=1e-12, atol=1e-12)
    reg32 = LBIRegressor(n_times=20).fit(X.astype(np.float32), y)
    pred32 = reg32.predict(X.astype(np.float32), t=t)
    assert pred32.dtype == np.float32
    np.testing.assert_allclose(pred32, reg.predict(X, t=t), rtol=1e-4, atol=1e-4)
