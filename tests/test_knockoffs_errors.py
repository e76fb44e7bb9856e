"""Bad or extreme input to the knockoff selectors: a correct answer or a clear ValueError.

Data near the limits of floating point are a matter of units, which the
selectors standardize away exactly: they must give the answer of the
unscaled data. Impossible parameters and malformed input must raise a
``ValueError`` that names what is wrong and what to do, never a numba, LAPACK
or overflow traceback.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from sparsestat import KnockoffSelector, SplitKnockoffSelector


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def _data(n=160, p=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = X[:, :5] @ np.array([1.0, -1.0, 0.8, -0.8, 0.6]) + rng.standard_normal(n)
    return X, y


def _largest(A):
    """``A`` rescaled so that its largest magnitude is 1.7e308 (near the float64 limit)."""
    return A / np.abs(A).max() * 1.7e308


EXTREMES = {
    "y * 1e200": lambda X, y: (X, y * 1e200),
    "y * 1e-300": lambda X, y: (X, y * 1e-300),
    "y near the largest float": lambda X, y: (X, _largest(y)),
    "X * 1e300": lambda X, y: (X * 1e300, y),
    "X near the largest float": lambda X, y: (_largest(X), y),
    "X subnormal": lambda X, y: (X * 1e-310, y),
}

SELECTORS = {
    "fixed-lcd": lambda: KnockoffSelector(fdr=0.5, random_state=0, store_knockoffs=True),
    "fixed-lbi": lambda: KnockoffSelector(fdr=0.5, statistic="lbi", random_state=0),
    "gaussian-lsm": lambda: KnockoffSelector(fdr=0.5, knockoffs="gaussian", statistic="lsm",
                                             random_state=0),
    "split-identity": lambda: SplitKnockoffSelector(fdr=0.5, random_state=0),
}


@pytest.fixture(scope="module")
def reference_fits():
    X, y = _data()
    return {name: make().fit(X, y) for name, make in SELECTORS.items()}


@pytest.mark.parametrize("selector", SELECTORS)
@pytest.mark.parametrize("extreme", EXTREMES)
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_data_at_the_limits_of_floating_point_give_the_unscaled_answer(
        selector, extreme, reference_fits):
    X, y = EXTREMES[extreme](*_data())
    base = reference_fits[selector]
    assert base.support_.sum() >= 3
    sel = SELECTORS[selector]().fit(X, y)
    np.testing.assert_array_equal(sel.support_, base.support_)
    np.testing.assert_allclose(sel.W_, base.W_, rtol=0, atol=1e-9 * np.abs(base.W_).max())
    if selector == "fixed-lcd":
        # stored knockoffs are on the data's scale: finite, with the data's centred Gram
        K = sel.knockoffs_
        assert np.all(np.isfinite(K))
        e = -np.frexp(np.abs(X).max())[1]          # exact rescaling before centring
        Xu, Ku = np.ldexp(X, e), np.ldexp(K, e)
        Xc, Kc = Xu - Xu.mean(0), Ku - Ku.mean(0)
        if extreme != "X subnormal":      # too few digits there for a Gram identity
            np.testing.assert_allclose(Kc.T @ Kc, Xc.T @ Xc, rtol=1e-6,
                                       atol=1e-8 * np.abs(Xc.T @ Xc).max())


LBI = dict(statistic="lbi")


@pytest.mark.parametrize("params, match", [
    (dict(kappa=1e300), r"'kappa' parameter of KnockoffSelector\(statistic='lbi'\)"
                        r"\.statistic_params must be a float in the range \(0\.0, 10000\.0\]"),
    (dict(kappa=0.0), r"'kappa' parameter .* range \(0\.0, 10000\.0\]"),
    (dict(kappa=-1.0), r"'kappa' parameter .* range \(0\.0, 10000\.0\]"),
    (dict(t_ratio=1e300), r"'t_ratio' parameter .* range \(1\.0, 10000\.0\]"),
    (dict(t_ratio=1.0), r"'t_ratio' parameter .* range \(1\.0, 10000\.0\]"),
    (dict(n_times=1), r"'n_times' parameter .* range \[2, inf\)"),
    (dict(max_iter=0), r"'max_iter' parameter .* range \[1, inf\)"),
    (dict(kappa=np.nan), r"'kappa' parameter"),
])
def test_lbi_statistic_parameters_out_of_range(params, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        KnockoffSelector(statistic_params=params, **LBI).fit(X, y)


@pytest.mark.parametrize("statistic, params, match", [
    ("lcd", dict(kappa=10.0), r"option\(s\) \['kappa'\] that statistic='lcd' does not take; "
                              r"it takes \['Cs', 'cv', 'eps', 'n_alphas', 'n_jobs', 'penalty'\]"),
    ("lbi", dict(kapa=10.0), r"\['kapa'\].*it takes \['kappa', 'max_iter', 'n_times', "
                             r"'t_ratio'\]"),
    ("lcd", dict(penalty="bic"), r"'penalty' parameter .* must be a str among"),
    ("lsm", dict(eps=2.0), r"'eps' parameter .* range \(0\.0, 1\.0\)"),
])
def test_unknown_or_bad_statistic_options(statistic, params, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        KnockoffSelector(statistic=statistic, statistic_params=params).fit(X, y)


@pytest.mark.parametrize("params, match", [
    (dict(kappa=1e300), r"'kappa' parameter of SplitKnockoffSelector must be a float in the "
                        r"range \(0\.0, 10000\.0\]"),
    (dict(t_ratio=1e300), r"'t_ratio' parameter .* range \(1\.0, 10000\.0\]"),
    (dict(nu=1e-300), r"'nu' parameter .* range \[0\.0001, 10000\.0\].* or None"),
    (dict(nu=1e300), r"'nu' parameter .* range \[0\.0001, 10000\.0\].* or None"),
    (dict(kappa=0.0), r"'kappa' parameter"),
    (dict(nu=np.inf), r"'nu' parameter"),
])
def test_split_path_parameters_out_of_range(params, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        SplitKnockoffSelector(**params).fit(X, y)


@pytest.mark.parametrize("make", [KnockoffSelector, SplitKnockoffSelector],
                         ids=["knockoff", "split"])
@pytest.mark.parametrize("where", ["X", "y"])
@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (np.inf, "infinity"),
                                         (-np.inf, "infinity")])
def test_nan_or_inf_in_the_data(make, where, value, word):
    X, y = _data()
    (X if where == "X" else y)[3] = value
    with pytest.raises(ValueError, match=f"Input {where} contains {word}"):
        make().fit(X, y)


def _D_with(value, sparse=False):
    D = np.diff(np.eye(12), axis=0)
    D[2, 5] = value
    return sp.csr_matrix(D) if sparse else D


@pytest.mark.parametrize("D, match", [
    (_D_with(np.nan), "Input D contains NaN"),
    (_D_with(np.nan, sparse=True), "Input D contains NaN"),
    (_D_with(np.inf), "Input D contains infinity"),
    (np.zeros((4, 12)), r"D has all-zero rows \(indices \[0, 1, 2, 3\]\); drop them"),
    (sp.csr_matrix((4, 12)), r"D has all-zero rows \(indices \[0, 1, 2, 3\]\)"),
    (np.vstack([np.eye(12)[:3], np.zeros((1, 12))]), r"all-zero rows \(indices \[3\]\)"),
    (sp.csr_matrix(np.diff(np.eye(10), axis=0)),
     r"one column per feature: X has 12 features but D has shape \(9, 10\)"),
    (np.ones(12), "Expected 2D array"),
])
def test_bad_structure_matrix(D, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        SplitKnockoffSelector(D=D).fit(X, y)


def test_split_with_too_few_samples_for_the_path_part():
    X, y = _data(n=100)
    with pytest.raises(ValueError, match=r"at least 3 in the path part.*n1=1, n2=99.*"
                                         r"Provide at least 300 samples"):
        SplitKnockoffSelector(split_fraction=0.01).fit(X, y)


def test_split_with_y_constant_on_the_path_part():
    X, y = _data(n=100)
    sel = SplitKnockoffSelector(random_state=0)
    perm = np.random.default_rng(np.random.RandomState(0).randint(2 ** 31 - 1)).permutation(100)
    y[perm[:50]] = 1.5                    # constant on the 50 samples of part 1
    with pytest.raises(ValueError, match="y is constant on the 50 samples of the path part"):
        sel.fit(X, y)
