"""LBIGraphicalModel: bad input is refused with a ValueError that says what to do;
scikit-learn conformance."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sparsestat.covariance import LBIGraphicalModel, LBIGraphicalModelCV


def _binary(n=50, p=4, seed=0):
    return (np.random.default_rng(seed).random((n, p)) < 0.5).astype(float)


def test_ising_refuses_non_binary_data():
    X = _binary()
    X[3, 1] = 2.0
    with pytest.raises(ValueError, match=r"binary data coded 0/1 or -1/\+1.*model='potts'"):
        LBIGraphicalModel("ising").fit(X)


def test_ising_refuses_a_mix_of_codings():
    X = _binary()
    X[:, 0] = np.where(X[:, 0] > 0, 1.0, -1.0)   # -1/+1 beside 0/1 columns
    with pytest.raises(ValueError, match="values -1, 0, 1"):
        LBIGraphicalModel("ising").fit(X)


@pytest.mark.parametrize("model", ["ising", "potts"])
def test_a_column_with_one_level_is_refused(model):
    X = _binary()
    X[:, 2] = 1.0
    with pytest.raises(ValueError, match=r"1 column\(s\) with a single level \(index 2\)"):
        LBIGraphicalModel(model).fit(X)


def test_gaussian_refuses_more_than_500_columns_and_says_how_to_scale():
    X = np.random.default_rng(0).standard_normal((10, 501))
    with pytest.raises(ValueError, match="p=501 columns, more than 500. Screen the columns"):
        LBIGraphicalModel().fit(X)


def test_gaussian_refuses_a_constant_column():
    X = np.random.default_rng(0).standard_normal((10, 3))
    X[:, 1] = 4.0
    with pytest.raises(ValueError, match=r"1 constant column\(s\) \(index 1\)"):
        LBIGraphicalModel().fit(X)


@pytest.mark.parametrize("model", ["gaussian", "ising", "potts"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_are_refused(model, bad):
    X = _binary()
    X[0, 0] = bad
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        LBIGraphicalModel(model).fit(X)


@pytest.mark.parametrize("model", ["gaussian", "ising", "potts"])
def test_one_sample_is_refused(model):
    with pytest.raises(ValueError, match="n_samples=1: a graphical model needs at least 2"):
        LBIGraphicalModel(model).fit(np.array([[0.0, 1.0, 1.0]]))


def test_one_column_is_refused():
    with pytest.raises(ValueError, match="n_features = 1"):
        LBIGraphicalModel().fit(np.arange(5.0)[:, None])


def test_score_refuses_levels_never_seen_in_fit():
    model = LBIGraphicalModel("potts", n_times=5).fit(_binary())
    X = _binary(seed=1)
    X[0, 3] = 5.0
    with pytest.raises(ValueError, match="Column 3 holds the value 5, which it never took"):
        model.score(X)


def test_cv_refuses_folds_with_too_few_training_rows():
    X = np.random.default_rng(0).standard_normal((3, 3))
    with pytest.raises(ValueError):
        LBIGraphicalModelCV(cv=4, n_times=5).fit(X)


FAST = dict(n_times=10, t_ratio=10.0)


@parametrize_with_checks([LBIGraphicalModel(**FAST), LBIGraphicalModelCV(cv=3, **FAST)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_cv_names_the_fold_where_a_rare_level_is_missing():
    X = _binary(n=30)
    X[0, 1] = 2.0                                   # a level seen in one row only
    with pytest.raises(ValueError, match="Cross-validation fold 0: .*merge rare levels"):
        LBIGraphicalModelCV("potts", n_times=5, cv=3).fit(X)
