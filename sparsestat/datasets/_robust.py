"""Robust-regression data: the stackloss data and a generator with planted outliers."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch, check_random_state


def load_stackloss(*, return_X_y: bool = False):
    """Brownlee's stack loss plant data (21 days, 3 operating variables).

    Taken from the copy bundled with statsmodels. The classical robust
    regression analyses agree that days 1, 3, 4 and 21 (1-based) are
    outliers.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : Bunch with ``data`` (21, 3), ``target`` (21,), ``feature_names``,
        ``target_name``, ``outliers`` (the documented outlier rows, 0-based)
        and ``DESCR``; or ``(X, y)``.

    Examples
    --------
    >>> from sparsestat.datasets import load_stackloss
    >>> X, y = load_stackloss(return_X_y=True)
    >>> X.shape, y.shape
    ((21, 3), (21,))
    >>> load_stackloss().feature_names
    ['AIRFLOW', 'WATERTEMP', 'ACIDCONC']
    """
    from statsmodels.datasets import stackloss

    ds = stackloss.load()
    X = np.asarray(ds.exog, dtype=float)
    y = np.asarray(ds.endog, dtype=float).ravel()
    if return_X_y:
        return X, y
    return Bunch(
        data=X, target=y, feature_names=list(ds.exog_name), target_name=str(ds.endog_name),
        outliers=np.array([0, 2, 3, 20]),
        DESCR="Stack loss plant data (Brownlee 1965): percent of ammonia lost (x10) against "
              "air flow, cooling water temperature and acid concentration, 21 days. "
              "Documented outliers: days 1, 3, 4, 21.",
    )


def make_outlier_regression(n_samples: int = 200, n_features: int = 5,
                            contamination: float = 0.1, leverage: float = 0.0,
                            random_state=None, *, n_good_leverage: int = 0,
                            shift: float = 10.0, distance: float = 10.0, noise: float = 1.0,
                            return_coef: bool = False):
    """Linear data with planted outliers, some of them at high-leverage points.

    Clean samples follow ``y = X beta + 3 + eps`` with ``X ~ N(0, I)``,
    ``eps ~ N(0, noise^2)`` and ``beta`` drawn uniformly in ``[1, 3]`` with
    random signs. Of the ``round(contamination * n)`` outliers, a fraction
    ``leverage`` are *bad leverage points*: one tight cluster far from the
    data (``distance`` standard deviations along a random direction) whose
    responses all sit ``shift`` to ``2 shift`` noise units on the same side
    of the true plane -- they pull least squares towards themselves and mask
    each other. The others are vertical outliers (response shifted by
    ``shift`` to ``2 shift`` noise units, random sign). ``n_good_leverage``
    clean samples are moved far out (``distance``, random directions) with
    correct responses: they must not be flagged.

    Parameters
    ----------
    n_samples, n_features : int
    contamination : float in [0, 0.5)
        Fraction of outliers.
    leverage : float in [0, 1]
        Fraction of the outliers that are bad leverage points.
    random_state : int, RandomState instance or None
    n_good_leverage : int, default=0
    shift, distance, noise : float
        Outlier size, leverage distance and noise level.
    return_coef : bool, default=False
        Also return the true coefficients.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    outliers : ndarray of shape (n_samples,), bool
        The planted outliers (good leverage points are not outliers).
    coef : ndarray of shape (n_features,), only with ``return_coef=True``

    Examples
    --------
    >>> from sparsestat.datasets import make_outlier_regression
    >>> X, y, mask = make_outlier_regression(100, 3, contamination=0.2, leverage=0.5,
    ...                                      random_state=0)
    >>> X.shape, int(mask.sum())
    ((100, 3), 20)
    """
    if not 0 <= contamination < 0.5:
        raise ValueError(f"contamination must be in [0, 0.5); got {contamination!r}.")
    if not 0 <= leverage <= 1:
        raise ValueError(f"leverage must be in [0, 1]; got {leverage!r}.")
    n_out = int(round(contamination * n_samples))
    if n_out + n_good_leverage > n_samples - n_features - 2:
        raise ValueError("too many outliers and good leverage points for n_samples.")
    rng = check_random_state(random_state)
    X = rng.standard_normal((n_samples, n_features))
    coef = rng.uniform(1.0, 3.0, n_features) * rng.choice([-1.0, 1.0], n_features)
    y = X @ coef + 3.0 + noise * rng.standard_normal(n_samples)
    perm = rng.permutation(n_samples)
    n_lev = int(round(leverage * n_out))
    bad_lev = perm[:n_lev]
    vertical = perm[n_lev:n_out]
    good = perm[n_out:n_out + n_good_leverage]
    if n_lev:
        direction = rng.standard_normal(n_features)
        direction /= np.linalg.norm(direction)
        X[bad_lev] = distance * direction + 0.5 * rng.standard_normal((n_lev, n_features))
        sign = rng.choice([-1.0, 1.0])
        y[bad_lev] = X[bad_lev] @ coef + 3.0 + sign * noise * rng.uniform(shift, 2 * shift,
                                                                           n_lev)
    if vertical.size:
        y[vertical] += noise * rng.uniform(shift, 2 * shift, vertical.size) * \
            rng.choice([-1.0, 1.0], vertical.size)
    if n_good_leverage:
        dirs = rng.standard_normal((n_good_leverage, n_features))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        X[good] = distance * dirs
        y[good] = X[good] @ coef + 3.0 + noise * rng.standard_normal(n_good_leverage)
    mask = np.zeros(n_samples, dtype=bool)
    mask[perm[:n_out]] = True
    if return_coef:
        return X, y, mask, coef
    return X, y, mask
