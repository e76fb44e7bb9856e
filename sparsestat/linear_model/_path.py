"""Public path functions: the LBI and ISS paths without an estimator.

As scikit-learn has ``lasso_path`` next to ``Lasso``, :func:`lbi_path` and
:func:`iss_path` compute a whole regularization path from validated arrays and
return it; the estimators of :mod:`sparsestat.linear_model` read their model
off the same paths.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_array, check_consistent_length

from sparsestat import _engine
from sparsestat.linear_model._base import (
    check_counts,
    check_enough_samples,
    check_groups,
    check_sample_weight,
    squeeze_path,
)
from sparsestat.path import RegularizationPath

_COMMON = {
    "X": ["array-like", "sparse matrix"],
    "y": ["array-like"],
    "n_times": [Interval(Integral, 2, None, closed="left")],
    "t_ratio": [Interval(Real, 1, None, closed="neither")],
    "times": ["array-like", None],
    "fit_intercept": ["boolean"],
    "normalize": ["boolean"],
    "sample_weight": ["array-like", None],
    "max_iter": [Interval(Integral, 1, None, closed="left"), None],
    "verbose": ["verbose"],
    "penalty_factor": ["array-like", None],
}


def _validate(X, y, sample_weight, times, *, classes: bool):
    X = check_array(X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32])
    y = np.asarray(y)
    if classes:
        if y.ndim != 1:
            raise ValueError(f"y must be a 1-D array of class labels; got shape {y.shape}.")
    else:
        y = check_array(y, ensure_2d=False, dtype=np.float64)
        if y.ndim > 2:
            raise ValueError(f"y must be 1-D or 2-D (n_samples, n_targets); got shape {y.shape}.")
    check_consistent_length(X, y)
    check_enough_samples(X)
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, X)
    if times is not None:
        times = np.asarray(times, dtype=float)
        if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)) \
                or np.any(np.diff(times) <= 0) or times[0] <= 0:
            raise ValueError("times must be a non-empty 1-D array of positive, finite, "
                             "increasing record times.")
    return X, y, sample_weight, times


@validate_params(
    {**_COMMON,
     "loss": [StrOptions({"squared", "huber", "logistic", "multinomial", "poisson"})],
     "penalty": [StrOptions({"l1", "group"})],
     "groups": ["array-like", None],
     "D": ["array-like", "sparse matrix", None],
     "kappa": [Interval(Real, 0, None, closed="neither")],
     "alpha": [Interval(Real, 0, None, closed="neither"), None],
     "nu": [Interval(Real, 0, None, closed="neither"), None],
     "epsilon": [Interval(Real, 1, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def lbi_path(X, y, *, loss="squared", penalty="l1", groups=None, D=None, kappa=10.0,
             alpha=None, nu=None, n_times=100, t_ratio=100.0, times=None, fit_intercept=True,
             normalize=True, epsilon=1.35, sample_weight=None, max_iter=None, verbose=0,
             penalty_factor=None):
    """Compute the Linearized Bregman Iteration path of a sparse linear model.

    The path starts with the empty model at ``t0`` (the first entry time, ``1 /
    lambda_max``) and is recorded on a geometric grid of ``n_times`` times up
    to ``t_ratio * t0``. Real-valued targets are standardized first (see
    :class:`LBIRegressor`), so ``kappa``, ``alpha`` and the times are those of
    the standardized problem and ``c * y + d`` gives ``c`` times the
    coefficients.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Design (float32 is kept).
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Real targets for ``loss='squared'`` / ``'huber'``; class labels for
        ``'logistic'`` (two classes) and ``'multinomial'``.
    loss : {'squared', 'huber', 'logistic', 'multinomial', 'poisson'}, default='squared'
        Data fit.
    penalty : {'l1', 'group'}, default='l1'
        Sparsity of coefficients or of groups of them.
    groups : array-like of shape (n_features,), default=None
        Group label of each feature (or of each row of ``D``), for
        ``penalty='group'``; several targets or classes default to the rows of
        the coefficient matrix.
    D : {array-like, sparse matrix} of shape (n_structure, n_features), default=None
        Structure operator: the path of ``gamma = D beta`` by Split LBI
        (squared loss, one target).
    kappa : float, default=10.0
        Damping.
    alpha : float, default=None
        Step of the explicit iteration (``None``: the stable default; for the squared
        loss, stabilized super-steps sized by the active set).
    nu : float, default=None
        Split LBI coupling (``None``: ``||D||^2 / ||X^T X / n||``).
    n_times : int, default=100
        Number of record times.
    t_ratio : float, default=100.0
        The grid runs from ``t0`` to ``t_ratio * t0``.
    times : array-like, default=None
        Record times instead of the geometric grid.
    fit_intercept : bool, default=True
        Fit an unpenalized intercept.
    normalize : bool, default=True
        Standardize the columns of ``X`` (coefficients come back on the scale
        of ``X``).
    epsilon : float, default=1.35
        Huber threshold in robust standard deviations.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights.
    max_iter : int, default=None
        Iteration budget (``None``: what the grid needs, refused above
        ``10**8``).
    verbose : int, default=0
        Print progress about every tenth of the path.
    penalty_factor : array-like of shape (n_features,), default=None
        Weight ``f_j >= 0`` of each feature's l1 penalty on the standardized
        scale (glmnet's ``penalty.factor``); ``0``: unpenalized (every loss,
        dense or sparse ``X``; in the model from ``t0`` on). ``None``: all ones.

    Returns
    -------
    path : RegularizationPath or SplitPath
        Coefficients of shape ``(n_times, n_features)`` for one target,
        ``(n_times, n_features, n_targets)`` for several (classes for the
        multinomial loss), with intercepts and entry times. With ``D``: a
        ``SplitPath`` holding ``beta_path`` and ``gamma_path``.

    See Also
    --------
    iss_path : The exact ``kappa -> infinity`` limit (squared loss, l1).
    LBIRegressor : Reads a model off this path.
    sklearn.linear_model.lasso_path : The lasso's path.

    Examples
    --------
    >>> import numpy as np
    >>> from sparsestat.linear_model import lbi_path
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 8))
    >>> y = 3 * X[:, 2] - 2 * X[:, 5] + 0.5 * rng.standard_normal(100)
    >>> path = lbi_path(X, y, n_times=50)
    >>> path.coefs.shape
    (50, 8)
    >>> path.entry_order()[:2].tolist()
    [2, 5]
    >>> path_km = lbi_path(X, 1000 * y, n_times=50)   # y in other units
    >>> bool(np.allclose(path_km.coefs, 1000 * path.coefs))
    True
    """
    classes = loss in ("logistic", "multinomial")
    X, y, sample_weight, times = _validate(X, y, sample_weight, times, classes=classes)
    if loss == "poisson":
        check_counts(y, sample_weight)
    if D is not None:
        if loss != "squared" or y.ndim != 1 or sample_weight is not None or \
                penalty_factor is not None:
            raise ValueError("With D the path is Split LBI: the squared loss, a 1-D y, no "
                             "sample_weight and no penalty_factor.")
        D = D if hasattr(D, "shape") and np.ndim(D) == 2 else \
            np.atleast_2d(np.asarray(D, dtype=float))
        groups = check_groups(groups, D.shape[0], penalty, "row of D")
        return _engine.split_lbi_path(
            X, y, D, penalty=penalty, groups=groups, kappa=kappa, alpha=alpha, nu=nu,
            n_times=n_times, t_ratio=t_ratio, times=times, fit_intercept=fit_intercept,
            normalize=normalize, max_iter=max_iter)
    single = y.ndim == 1
    if classes:
        from sparsestat.linear_model._classifier import encode_classes

        labels, Y, encoded_loss = encode_classes(y, sample_weight)
        if encoded_loss != loss:
            raise ValueError(
                f"loss={loss!r} does not fit {len(labels)} classes: use loss={encoded_loss!r} "
                "(logistic for two classes, multinomial for more)."
            )
        single = Y.shape[1] == 1
    else:
        Y = y.reshape(-1, 1) if single else y
    path = _engine.lbi_path(
        X, Y, loss=loss, penalty=penalty, groups=check_groups(groups, X.shape[1], penalty),
        kappa=kappa, alpha=alpha, n_times=n_times, t_ratio=t_ratio, times=times,
        fit_intercept=fit_intercept, normalize=normalize, epsilon=epsilon,
        sample_weight=sample_weight, max_iter=max_iter, verbose=verbose,
        penalty_factor=penalty_factor)
    return squeeze_path(path, single)


@validate_params(_COMMON, prefer_skip_nested_validation=True)
def iss_path(X, y, *, n_times=100, t_ratio=100.0, times=None, fit_intercept=True,
             normalize=True, sample_weight=None, max_iter=None,
             verbose=0, penalty_factor=None) -> RegularizationPath:
    """Compute the exact inverse scale space path of the lasso's squared loss.

    The ``kappa -> infinity`` limit of :func:`lbi_path`: piecewise constant in
    time, and at each knot the active coefficients are the sign-constrained
    least-squares fit on their support (no shrinkage bias). Computed knot by
    knot; times are those of the standardized target, as for :func:`lbi_path`.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Design.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Targets (each column has its own path on a shared time grid).
    n_times : int, default=100
        Number of record times.
    t_ratio : float, default=100.0
        The grid runs from ``t0`` to ``t_ratio * t0``.
    times : array-like, default=None
        Record times instead of the geometric grid.
    fit_intercept : bool, default=True
        Fit an unpenalized intercept.
    normalize : bool, default=True
        Standardize the columns of ``X``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights.
    max_iter : int, default=None
        Budget of knots.
    verbose : int, default=0
        Print progress about every tenth of the path.
    penalty_factor : array-like of shape (n_features,), default=None
        Weight ``f_j >= 0`` of each feature's l1 penalty on the standardized
        scale (glmnet's ``penalty.factor``); ``0``: unpenalized (dense or
        sparse ``X``; in the model from ``t0`` on). ``None``: all ones.

    Returns
    -------
    path : RegularizationPath
        Coefficients of shape ``(n_times, n_features)`` (one target) or
        ``(n_times, n_features, n_targets)``; interpolation ``'previous'``.

    See Also
    --------
    lbi_path : The damped path (any loss, group penalties, Split LBI).
    sklearn.linear_model.lars_path : LARS / lasso homotopy.

    Examples
    --------
    >>> import numpy as np
    >>> from sparsestat.linear_model import iss_path
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 8))
    >>> y = 3 * X[:, 2] - 2 * X[:, 5] + 0.5 * rng.standard_normal(100)
    >>> path = iss_path(X, y, t_ratio=1000)
    >>> ols = np.linalg.lstsq(np.column_stack([np.ones(100), X]), y, rcond=None)[0][1:]
    >>> bool(np.allclose(path.coefs[-1], ols))   # the path ends at least squares
    True
    """
    X, y, sample_weight, times = _validate(X, y, sample_weight, times, classes=False)
    single = y.ndim == 1
    path = _engine.iss_path(
        X, y.reshape(-1, 1) if single else y, n_times=n_times, t_ratio=t_ratio, times=times,
        fit_intercept=fit_intercept, normalize=normalize, sample_weight=sample_weight,
        max_iter=max_iter, verbose=verbose, penalty_factor=penalty_factor)
    return squeeze_path(path, single)
