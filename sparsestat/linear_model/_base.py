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
from sparsestat._engine._grid import _path_in_dtype

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
    "t": [Interval(Real, 0, None, closed="neither"), None],
    "t_relative": [Interval(Real, 0, None, closed="neither"), None],
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
        sample_weight = check_sample_weight(sample_weight, X)
    warn_constant_columns(X)
    return X, y, sample_weight


def check_counts(y, sample_weight=None) -> None:
    """Targets a Poisson fit can take: one column of finite counts (or rates) ``>= 0``
    with a positive weighted total."""
    y = np.asarray(y, dtype=float)
    if y.ndim != 1:
        raise ValueError(
            f"loss='poisson' takes a single target; y has shape {y.shape}. Fit one "
            "estimator per column.")
    negative = np.flatnonzero(y < 0)
    if negative.size:
        shown = ", ".join(map(str, negative[:5])) + (" ..." if negative.size > 5 else "")
        raise ValueError(
            f"loss='poisson' needs counts y >= 0; y has {negative.size} negative value(s) "
            f"(sample {shown}; smallest {y.min():g}).")
    w = np.ones_like(y) if sample_weight is None else sample_weight
    if not np.dot(w, y) > 0:
        raise ValueError(
            "loss='poisson' needs some positive counts: every (weighted) count is zero, so "
            "the log of the mean count, the intercept of the empty model, is -inf.")


def check_sample_weight(sample_weight, X) -> np.ndarray:
    """Finite, non-negative weights, one per sample, not all zero (scikit-learn's check
    refuses the all-zero case)."""
    sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
    negative = np.flatnonzero(sample_weight < 0)
    if negative.size:
        shown = ", ".join(map(str, negative[:5])) + (" ..." if negative.size > 5 else "")
        raise ValueError(
            f"sample_weight has {negative.size} negative value(s) (sample {shown}; smallest "
            f"{sample_weight.min():g}). Weights count how often a sample is seen and must be "
            ">= 0: drop those samples or give them weight 0."
        )
    return sample_weight


def check_groups(groups, n_features: int, penalty: str = "group", what: str = "feature"):
    """Validate ``groups`` against the number of features (None passes through).

    Groups only mean something to the group penalty: given with ``penalty='l1'``
    they are refused rather than silently ignored.
    """
    if groups is None:
        return None
    if penalty != "group":
        raise ValueError(
            f"groups= is only used by penalty='group', but penalty={penalty!r}. Pass "
            "penalty='group' to make each group enter the path together, or drop groups."
        )
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.shape[0] != n_features:
        raise ValueError(
            f"groups must give one group label per {what}: there are {n_features} but groups "
            f"has shape {groups.shape}."
        )
    _engine.check_group_labels(groups)
    return groups


def path_time(path, t=None, t_relative=None) -> float:
    """The time at which an estimator reads its path.

    ``t`` (absolute, on the standardized problem), ``t_relative`` (a multiple of
    the path's first entry time ``t0``) or, with neither, the path's end. A time
    past the end is read at the end, with a warning.
    """
    if t is not None and t_relative is not None:
        raise ValueError(
            f"Give the reading time as t or as t_relative, not both (got t={t:g}, "
            f"t_relative={t_relative:g})."
        )
    end = float(path.times[-1])
    if t is None and t_relative is None:
        return end
    when = float(t) if t is not None else float(t_relative) * float(path.t0)
    if when > end * (1.0 + 1e-12):
        asked = f"t={when:.6g}" if t is not None else \
            f"t_relative={t_relative:g} (t={when:.6g})"
        warnings.warn(
            f"The requested {asked} lies past the end of the path, t={end:.6g} = "
            f"{end / path.t0:.4g} t0; the model is read at the end. Increase t_ratio (the path "
            "runs from t0 to t_ratio * t0) or max_iter to follow the path that far.",
            UserWarning, stacklevel=5,   # path_time, _read_path, fit, sklearn's fit wrapper
        )
        return end
    return when


def beta_read_times(path, times, structured: bool):
    """Where to read a coefficient path at ``times``: with ``D`` (Split LBI) ``beta`` is
    not penalized, so up to the first record (``t0``) it is its analytic start, the fit
    with ``gamma = 0``; otherwise the times themselves."""
    return np.maximum(times, path.times[0]) if structured else times


def linear_predict(X, coef, intercept):
    """``X coef^T + intercept`` for coef of shape (p,) or (K, p)."""
    out = safe_sparse_dot(X, coef.T, dense_output=True)
    return out + intercept


def check_prediction_times(path, t):
    """The times at which ``predict(X, t=...)`` reads the path: a 1-D array, and whether
    ``t`` was a scalar.

    Times are on the path's own (standardized) scale and must lie in ``[0, t_max]``:
    before ``t0`` the model is the empty one; past the end of the path nothing was
    computed, so such a time is refused rather than clamped.
    """
    try:
        times = np.asarray(t, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"t must be a number or a 1-D array of numbers; got {t!r}.") from None
    scalar = times.ndim == 0
    if times.ndim > 1 or times.size == 0:
        raise ValueError(
            f"t must be a number or a non-empty 1-D array of times; got shape {times.shape}.")
    times = times.reshape(-1)
    end = float(path.times[-1])
    bad = ~np.isfinite(times) | (times < 0) | (times > end * (1.0 + 1e-12))
    if np.any(bad):
        first = float(times[np.flatnonzero(bad)[0]])
        raise ValueError(
            f"t must lie in [0, t_max] with t_max={end:.6g} = {end / path.t0:.4g} t0, the end "
            f"of the fitted path; got t={first!r}. Refit with a larger t_ratio to predict "
            "later on the path."
        )
    return times, scalar


def path_linear_predict(X, path, times):
    """Linear predictor at several times: shape (n_samples, n_times) for a 1-D path,
    (n_samples, n_targets, n_times) for coefficients of shape (n_features, n_targets).

    Each time is read with :meth:`RegularizationPath.coef_at` and
    :meth:`RegularizationPath.intercept_at`, so between record times the prediction
    follows the path's own interpolation.
    """
    dtype = path.coefs.dtype  # float32 kept when X was float32, as predict(X) does
    coefs = np.stack([path.coef_at(t) for t in times], axis=-1).astype(dtype, copy=False)
    intercepts = np.stack([np.asarray(path.intercept_at(t)) for t in times],
                          axis=-1).astype(dtype, copy=False)
    p = coefs.shape[0]
    out = safe_sparse_dot(X, coefs.reshape(p, -1), dense_output=True)
    return out.reshape((X.shape[0],) + coefs.shape[1:]) + intercepts[None]


def is_sparse(X) -> bool:
    return sp.issparse(X)


def path_in_dtype(path, dtype):
    """The path's coefficients and intercepts in ``dtype`` when that is float32."""
    return _path_in_dtype(path, np.dtype(dtype))


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
