"""MeanShiftOutlierDetector moves exactly as the data do: units of y, shifts, rows, columns.

The detector is affine equivariant in y (``c y + d``), regression equivariant
(``y + X b``), scale equivariant in each feature and permutation equivariant in the
samples, so its flags, ranking and entry times (on the scale of the residuals) must
not change and its coefficients must move by the same transformation.
"""

import numpy as np
import pytest

from sparsestat import MeanShiftOutlierDetector
from sparsestat.datasets import make_outlier_regression


def _contaminated(n=80, p=4, seed=0):
    """Vertical outliers and a cluster of bad leverage points, plus clean leverage points."""
    X, y, truth = make_outlier_regression(n, p, contamination=0.15, leverage=0.5,
                                          n_good_leverage=3, random_state=seed)
    return X, y, truth


def _small(n=26, p=10, seed=1):
    """n close to 2p + 5: several robust starts, the set test at work."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    y[:2] += np.array([9.0, -8.0])
    return X, y


DATA = {"contaminated": _contaminated()[:2], "small": _small()}


def _fit(X, y, **kw):
    return MeanShiftOutlierDetector(random_state=0, **kw).fit(X, y)


def _assert_same_entries(a, b):
    finite = np.isfinite(a)
    np.testing.assert_array_equal(finite, np.isfinite(b))
    np.testing.assert_allclose(b[finite], a[finite], rtol=1e-8)


@pytest.fixture(scope="module")
def reference():
    fits = {name: _fit(*data) for name, data in DATA.items()}
    # the properties are checked where there is something to flag
    truth = _contaminated()[2]
    assert fits["contaminated"].outliers_[truth].all()
    assert np.flatnonzero(fits["small"].outliers_).tolist() == [0, 1]
    return fits


@pytest.mark.parametrize("name", list(DATA))
@pytest.mark.parametrize("c", [1e-8, 1e-3, 1.0, 7.5e3, 1e8])
@pytest.mark.parametrize("d_units", [0.0, -250.0, 3e4])
def test_affine_change_of_units_of_y(reference, name, c, d_units):
    X, y = DATA[name]
    ref = reference[name]
    d = d_units * c
    det = _fit(X, c * y + d)
    np.testing.assert_array_equal(det.outliers_, ref.outliers_)
    np.testing.assert_array_equal(det.ranking_, ref.ranking_)
    _assert_same_entries(ref.entry_times_, det.entry_times_)
    np.testing.assert_allclose(det.coef_, ref.coef_ * c, rtol=1e-7, atol=1e-9 * c)
    np.testing.assert_allclose(det.intercept_, ref.intercept_ * c + d, rtol=1e-7,
                               atol=1e-9 * c * max(1.0, abs(d_units)))
    np.testing.assert_allclose(det.scale_, ref.scale_ * c, rtol=1e-7)
    np.testing.assert_allclose(det.gamma_, ref.gamma_ * c, rtol=1e-6, atol=1e-8 * c)


@pytest.mark.parametrize("d", [-1e4, 1e4])
def test_large_shift_of_y(reference, d):
    X, y = DATA["contaminated"]
    ref = reference["contaminated"]
    det = _fit(X, y + d)
    np.testing.assert_array_equal(det.outliers_, ref.outliers_)
    np.testing.assert_array_equal(det.ranking_, ref.ranking_)
    _assert_same_entries(ref.entry_times_, det.entry_times_)
    np.testing.assert_allclose(det.intercept_, ref.intercept_ + d, rtol=1e-10)
    np.testing.assert_allclose(det.coef_, ref.coef_, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", list(DATA))
def test_regression_equivariance(reference, name):
    # adding any linear function of x to y changes the coefficients by it and nothing else
    X, y = DATA[name]
    ref = reference[name]
    b = np.linspace(-3.0, 5.0, X.shape[1])
    det = _fit(X, y + X @ b)
    np.testing.assert_array_equal(det.outliers_, ref.outliers_)
    np.testing.assert_allclose(det.coef_, ref.coef_ + b, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(det.scale_, ref.scale_, rtol=1e-7)


@pytest.mark.parametrize("name", list(DATA))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_permuting_rows_permutes_everything(reference, name, seed):
    X, y = DATA[name]
    ref = reference[name]
    perm = np.random.default_rng(seed).permutation(y.size)
    det = _fit(X[perm], y[perm])
    np.testing.assert_array_equal(det.outliers_, ref.outliers_[perm])
    np.testing.assert_array_equal(perm[det.ranking_], ref.ranking_)
    _assert_same_entries(ref.entry_times_[perm], det.entry_times_)
    np.testing.assert_allclose(det.coef_, ref.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(det.scale_, ref.scale_, rtol=1e-8)


@pytest.mark.parametrize("name", list(DATA))
def test_rescaling_features(reference, name):
    X, y = DATA[name]
    ref = reference[name]
    a = np.geomspace(1e-8, 1e8, X.shape[1])[np.random.default_rng(3).permutation(X.shape[1])]
    det = _fit(X * a, y)
    np.testing.assert_array_equal(det.outliers_, ref.outliers_)
    np.testing.assert_array_equal(det.ranking_, ref.ranking_)
    _assert_same_entries(ref.entry_times_, det.entry_times_)
    np.testing.assert_allclose(det.coef_, ref.coef_ / a, rtol=1e-7)
    np.testing.assert_allclose(det.intercept_, ref.intercept_, rtol=1e-7, atol=1e-9)


def test_iss_solver_and_heavy_tail_option_are_equivariant_too():
    X, y = DATA["contaminated"]
    for kw in [dict(solver="iss"), dict(noise_df="auto"), dict(noise_df=4.0)]:
        ref = _fit(X, y, **kw)
        det = _fit(X * 1e-4, 1e6 * y - 3.0, **kw)
        np.testing.assert_array_equal(det.outliers_, ref.outliers_)
        np.testing.assert_array_equal(det.ranking_, ref.ranking_)
        np.testing.assert_allclose(det.coef_, ref.coef_ * 1e10, rtol=1e-7)
        perm = np.random.default_rng(4).permutation(y.size)
        det = _fit(X[perm], y[perm], **kw)
        np.testing.assert_array_equal(det.outliers_, ref.outliers_[perm])


def test_multi_output_units_per_target():
    # each target in its own units: flags unchanged, coefficients scale per target
    rng = np.random.default_rng(6)
    X = rng.standard_normal((120, 3))
    Y = X @ rng.standard_normal((3, 2)) + 0.5 * rng.standard_normal((120, 2))
    Y[:5, 0] += 6.0
    Y[5:9, 1] -= 6.0
    ref = _fit(X, Y)
    units = np.array([1e-6, 3e5])
    det = _fit(X, Y * units + np.array([2.0, -7.0]))
    np.testing.assert_array_equal(det.outliers_, ref.outliers_)
    np.testing.assert_allclose(det.coef_, ref.coef_ * units[:, None], rtol=1e-7)
    np.testing.assert_allclose(det.scale_, ref.scale_ * units, rtol=1e-7)


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("where", ["X", "y"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_refused(where, bad):
    X, y = _small()
    X, y = X.copy(), y.copy()
    if where == "X":
        X[3, 2] = bad
    else:
        y[5] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        MeanShiftOutlierDetector().fit(X, y)


@pytest.mark.parametrize("noise_df", [0.0, -2.0, "heavy"])
def test_bad_noise_df_refused(noise_df):
    X, y = _small()
    with pytest.raises(ValueError, match="noise_df"):
        MeanShiftOutlierDetector(noise_df=noise_df).fit(X, y)


def test_constant_y_refused_in_any_units():
    X, _ = _small()
    for value in [0.0, 1e-12, 3e8]:
        with pytest.raises(ValueError, match="y is constant"):
            MeanShiftOutlierDetector().fit(X, np.full(X.shape[0], value))
