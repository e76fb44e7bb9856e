"""The public path functions lbi_path / iss_path: the estimators' paths, validated input."""

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from sparsestat import LBIClassifier, LBIRegressor
from sparsestat.linear_model import iss_path, lbi_path


def _data(seed=0, n=90, p=9):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = 2.0 * X[:, 1] - X[:, 4] + 0.5 * rng.standard_normal(n)
    return X, y


@pytest.mark.parametrize("params", [{}, {"loss": "huber"}, {"penalty": "group",
                                                             "groups": np.arange(9) // 3},
                                    {"kappa": 50.0, "t_ratio": 20.0}])
def test_lbi_path_is_the_estimators_path(params):
    X, y = _data()
    path = lbi_path(X, y, **params)
    est = LBIRegressor(**params).fit(X, y).regularization_path_
    np.testing.assert_array_equal(path.times, est.times)
    np.testing.assert_array_equal(path.coefs, est.coefs)
    np.testing.assert_array_equal(path.intercepts, est.intercepts)
    np.testing.assert_array_equal(path.entry_times, est.entry_times)


def test_iss_path_is_the_estimators_path_and_ends_at_least_squares():
    X, y = _data(1)
    path = iss_path(X, y, t_ratio=1e4)
    est = LBIRegressor(solver="iss", t_ratio=1e4).fit(X, y).regularization_path_
    np.testing.assert_array_equal(path.coefs, est.coefs)
    A = np.column_stack([np.ones(len(y)), X])
    np.testing.assert_allclose(path.coefs[-1], np.linalg.lstsq(A, y, rcond=None)[0][1:],
                               rtol=1e-10)


def test_classification_losses_take_labels():
    X, y = _data(2)
    labels = np.where(y > 0, "yes", "no")
    path = lbi_path(X, labels, loss="logistic", t_ratio=10)
    est = LBIClassifier(t_ratio=10).fit(X, labels).regularization_path_
    np.testing.assert_array_equal(path.coefs, est.coefs[..., 0])
    three = np.digitize(y, [-1.0, 1.0])
    multi = lbi_path(X, three, loss="multinomial", t_ratio=10, n_times=20)
    assert multi.coefs.shape == (20, 9, 3)
    with pytest.raises(ValueError, match="does not fit 3 classes: use loss='multinomial'"):
        lbi_path(X, three, loss="logistic")


def test_split_lbi_through_d():
    X, y = _data(3)
    D = np.diff(np.eye(9), axis=0)
    split = lbi_path(X, y, D=D, t_ratio=20)
    est = LBIRegressor(D=D, t_ratio=20).fit(X, y)
    np.testing.assert_array_equal(split.gamma_path.entry_times, est.entry_times_)
    with pytest.raises(ValueError, match="With D the path is Split LBI"):
        lbi_path(X, y, D=D, loss="huber")


@pytest.mark.parametrize("kwargs, error, match", [
    ({"loss": "gamma"}, InvalidParameterError, "loss"),
    ({"kappa": -1.0}, InvalidParameterError, "kappa"),
    ({"times": [2.0, 1.0]}, ValueError, "increasing record times"),
    ({"sample_weight": -np.ones(90)}, ValueError, "negative value"),
    ({"groups": np.arange(9)}, ValueError, "only used by penalty='group'"),
])
def test_bad_arguments_are_refused(kwargs, error, match):
    X, y = _data(4)
    with pytest.raises(error, match=match):
        lbi_path(X, y, **kwargs)


def test_bad_arrays_are_refused():
    X, y = _data(5)
    Xn = X.copy()
    Xn[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        lbi_path(Xn, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        iss_path(X, y[:-1])
    with pytest.raises(ValueError, match="at least 2 samples"):
        iss_path(X[:1], y[:1])


def test_poisson_path_refuses_negative_counts():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y = rng.poisson(np.exp(0.5 * X[:, 0])).astype(float)
    path = lbi_path(X, y, loss="poisson")
    assert path.entry_order()[0] == 0          # the feature in the mean enters first
    y[4] = -1.0
    with pytest.raises(ValueError, match="counts y >= 0"):
        lbi_path(X, y, loss="poisson")
