"""What the LBI estimators share: parameters, validation and the path fit."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import _check_sample_weight, validate_data

from sparsestat import _engine

# parameters common to every path estimator, validated declaratively
PATH_PARAMETERS = {
    "penalty": [StrOptions({"l1", "group"})],
    "groups": ["array-like", None],
    "kappa": [Interval(Real, 0, None, closed="neither")],
    "alpha": [Interval(Real, 0, None, closed="neither"), None],
    "n_times": [Interval(Integral, 2, None, closed="left")],
    "t_ratio": [Interval(Real, 1, None, closed="neither")],
    "fit_intercept": ["boolean"],
    "normalize": ["boolean"],
    "max_iter": [Interval(Integral, 1, None, closed="left"), None],
}


def check_enough_samples(X) -> None:
    """Path estimators need at least two samples to define a correlation."""
    n = X.shape[0]
    if n < 2:
        raise ValueError(
            f"Found n_samples={n}: a regularization path needs at least 2 samples "
            "(1 sample cannot define a correlation with the target)."
        )


def warn_constant_columns(X) -> np.ndarray:
    """Warn about columns that hold one value; they can never enter the path."""
    const = _engine.constant_columns(X)
    if X.shape[0] > 1 and np.any(const):
        idx = np.flatnonzero(const)
        shown = ", ".join(map(str, idx[:10])) + (" ..." if idx.size > 10 else "")
        warnings.warn(
            f"X has {idx.size} constant column(s) (index {shown}); their coefficients stay "
            "zero along the whole path. Drop them to silence this warning.",
            UserWarning, stacklevel=3,
        )
    return const


def validate_fit_input(estimator, X, y, sample_weight, *, regression: bool):
    """Validate ``fit``'s input the way every path estimator does.

    ``validate_data`` (finite values, matching lengths, ``n_features_in_``;
    float32 ``X`` is kept, anything else becomes float64), at least two
    samples, non-negative sample weights and a warning for constant columns.
    Returns ``X, y, sample_weight``.
    """
    dtype = [np.float64, np.float32]
    if regression:
        X, y = validate_data(estimator, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=dtype)
    else:
        X, y = validate_data(estimator, X, y, accept_sparse=["csr", "csc"], dtype=dtype)
    check_enough_samples(X)
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
    warn_constant_columns(X)
    return X, y, sample_weight


def check_groups(groups, n_features: int):
    """Validate ``groups`` against the number of features (None passes through)."""
    if groups is None:
        return None
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.shape[0] != n_features:
        raise ValueError(
            f"groups must give one group label per feature (column of X): X has {n_features} "
            f"features but groups has shape {groups.shape}."
        )
    return groups


def path_time(path, t):
    """The time at which an estimator reads its path: ``t`` or the path's end."""
    if t is None:
        return float(path.times[-1])
    return float(t)


def linear_predict(X, coef, intercept):
    """``X coef^T + intercept`` for coef of shape (p,) or (K, p)."""
    out = safe_sparse_dot(X, coef.T, dense_output=True)
    return out + intercept


def is_sparse(X) -> bool:
    return sp.issparse(X)


def path_in_dtype(path, dtype):
    """The path's coefficients and intercepts in ``dtype`` when that is float32."""
    return _engine._path_in_dtype(path, np.dtype(dtype))


def squeeze_path(path, single_target: bool):
    """Drop the trailing target axis of a path fitted to a 1-D target."""
    if not single_target:
        return path
    path.coefs = path.coefs[..., 0]
    path.intercepts = path.intercepts[..., 0]
    path.entry_times = path.entry_times[..., 0]
    if path.duals is not None:
        path.duals = path.duals[..., 0]
    return path
