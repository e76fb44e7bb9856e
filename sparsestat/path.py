"""The regularization path: coefficients recorded along the time axis ``t``.

Time ``t`` plays the role of ``1 / lambda``: the path starts empty at ``t0``
(``1 / lambda_max``) and coefficients enter as ``t`` grows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(repr=False)
class RegularizationPath:
    """Coefficients of a sparse model along the inverse-scale-space time ``t``.

    Parameters
    ----------
    times : ndarray of shape (n_times,)
        Increasing record times; ``times[0]`` is the start ``t0`` where the
        path is still empty.
    coefs : ndarray of shape (n_times, n_coefs) or (n_times, n_coefs, n_targets)
        Coefficients at each record time, on the scale of the original data.
    intercepts : ndarray of shape (n_times,) or (n_times, n_targets)
        Intercepts at each record time.
    entry_times : ndarray of shape (n_coefs,) or (n_coefs, n_targets)
        First time each coefficient becomes nonzero (``np.inf``: never within
        the path). Earlier entry means more important.
    interpolation : {'linear', 'previous'}
        How :meth:`coef_at` reads between record times: ``'linear'`` for LBI
        (its dual variable moves linearly inside a step), ``'previous'`` for
        the exact ISS path, which is piecewise constant.
    t0 : float
        Time at which the first coefficient becomes active.
    duals : ndarray or None
        The subgradient ``rho(t)`` at the record times, when it was recorded.
    n_iter : int
        Iterations (LBI) or knots (ISS) used to compute the path.
    info : dict
        Solver settings used (``kappa``, ``alpha``, ``solver``, ...).
    feature_names : ndarray of str or None
        Names of the coefficients (an estimator fitted on a data frame sets its
        ``feature_names_in_``); :meth:`entry_order` with ``names=True`` uses them.

    Examples
    --------
    >>> import numpy as np
    >>> from sparsestat import LBIRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 5))
    >>> y = 3 * X[:, 0] + 0.1 * rng.standard_normal(50)
    >>> path = LBIRegressor().fit(X, y).regularization_path_
    >>> int(np.argmin(path.entry_times))
    0
    >>> bool(np.all(path.coef_at(path.t0 * 0.5) == 0))
    True
    """

    times: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    entry_times: np.ndarray
    interpolation: str = "linear"
    t0: float = 0.0
    duals: np.ndarray | None = None
    n_iter: int = 0
    info: dict = field(default_factory=dict)
    feature_names: np.ndarray | None = None

    def __repr__(self) -> str:
        entered = int(np.count_nonzero(np.isfinite(self.entry_times)))
        return (f"{type(self).__name__}(n_times={self.n_times}, "
                f"t={float(self.times[0]):.4g}..{float(self.times[-1]):.4g}, "
                f"coef_shape={tuple(np.shape(self.coefs))[1:]}, entered={entered}, "
                f"solver={self.info.get('solver', '?')!r})")

    @property
    def n_times(self) -> int:
        """Number of record times."""
        return self.times.shape[0]

    def _locate(self, t: float):
        times = self.times
        if t <= times[0]:
            return 0, 0, 0.0
        if t >= times[-1]:
            last = len(times) - 1
            return last, last, 0.0
        hi = int(np.searchsorted(times, t, side="right"))
        lo = hi - 1
        frac = (t - times[lo]) / (times[hi] - times[lo])
        return lo, hi, frac

    def coef_at(self, t: float) -> np.ndarray:
        """Coefficients at time ``t`` (zero before ``t0``; the last record after the end).

        At ``t0`` itself (the first record time) the first record is returned:
        zero for a penalized path, whose coefficients enter after ``t0``; the
        analytic start for an unpenalized one (the ``beta`` path of Split LBI).

        Parameters
        ----------
        t : float
            A time on the path's scale (``1 / lambda``).

        Returns
        -------
        coef : ndarray of shape (n_coefs,) or (n_coefs, n_targets)
        """
        t = float(t)
        if not np.isfinite(t) and t > 0:
            return self.coefs[-1].copy()
        if t < self.times[0] or t < self.t0:
            return np.zeros_like(self.coefs[0])
        lo, hi, frac = self._locate(t)
        if self.interpolation == "previous" or lo == hi:
            return self.coefs[lo].copy()
        return (1.0 - frac) * self.coefs[lo] + frac * self.coefs[hi]

    def intercept_at(self, t: float):
        """Intercept at time ``t`` (same reading rule as :meth:`coef_at`)."""
        lo, hi, frac = self._locate(float(t))
        if self.interpolation == "previous" or lo == hi:
            return np.copy(self.intercepts[lo])
        return (1.0 - frac) * self.intercepts[lo] + frac * self.intercepts[hi]

    def support_at(self, t: float) -> np.ndarray:
        """Boolean mask of the coefficients that are nonzero at time ``t``."""
        return self.coef_at(t) != 0

    def entry_order(self, names: bool = False) -> np.ndarray:
        """Indices (or names) of the coefficients sorted by entry time, never-entered last.

        For multi-target coefficients the entry time of a feature is its
        earliest entry over the targets.

        Parameters
        ----------
        names : bool, default=False
            Return the coefficients' names instead of their indices: ``feature_names``
            when the path has them (an estimator fitted on a data frame), else
            ``'x0'``, ``'x1'``, ... as scikit-learn names unnamed features.

        Returns
        -------
        order : ndarray of int, or of str with ``names=True``

        Examples
        --------
        >>> import numpy as np
        >>> import pandas as pd
        >>> from sparsestat import LBIRegressor
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.standard_normal((60, 3)), columns=["age", "bmi", "bp"])
        >>> y = 3 * X["bmi"] - 2 * X["age"] + 0.1 * rng.standard_normal(60)
        >>> path = LBIRegressor().fit(X, y).regularization_path_
        >>> path.entry_order().tolist(), path.entry_order(names=True).tolist()
        ([1, 0, 2], ['bmi', 'age', 'bp'])
        """
        et = self.entry_times
        if et.ndim > 1:
            et = et.min(axis=1)
        order = np.argsort(et, kind="stable")
        if not names:
            return order
        labels = self.feature_names if self.feature_names is not None else \
            np.array([f"x{j}" for j in range(et.shape[0])], dtype=object)
        return np.asarray(labels, dtype=object)[order]


@dataclass(repr=False)
class SparseRegularizationPath(RegularizationPath):
    """A path with many coefficients (one per sample), stored sparsely.

    Used for the sample-wise shift ``gamma`` of the mean-shift model: at most
    a few samples are nonzero at any record time, so storing the dense
    ``(n_times, n_samples, n_targets)`` array would waste ``O(n_times n)``
    memory. ``coefs`` is a ``scipy.sparse`` CSR matrix of shape
    ``(n_times, n_coefs * n_targets)`` (row-major over ``(coef, target)``);
    :meth:`coef_at` and :meth:`coefs_of` return dense arrays.

    Parameters
    ----------
    n_targets : int
        Number of target columns (1: coefficients are returned 1-D).
    squeeze : bool
        Return ``(n_coefs,)`` rather than ``(n_coefs, 1)`` for one target.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from sparsestat.path import SparseRegularizationPath
    >>> coefs = sp.csr_matrix(np.array([[0.0, 0, 0], [0, 2.0, 0]]))
    >>> path = SparseRegularizationPath(
    ...     times=np.array([1.0, 2.0]), coefs=coefs, intercepts=np.zeros((2, 1)),
    ...     entry_times=np.array([np.inf, 1.5, np.inf]), t0=1.0, n_targets=1,
    ...     interpolation="previous")
    >>> path.coef_at(2.0).tolist()
    [0.0, 2.0, 0.0]
    >>> path.coefs_of([1]).ravel().tolist()
    [0.0, 2.0]
    """

    n_targets: int = 1
    squeeze: bool = True

    @property
    def n_coefs(self) -> int:
        """Number of coefficients (samples for the mean-shift model)."""
        return self.coefs.shape[1] // self.n_targets

    def _row(self, i: int) -> np.ndarray:
        dense = np.asarray(self.coefs[i].toarray()).reshape(self.n_coefs, self.n_targets)
        return dense[:, 0] if (self.squeeze and self.n_targets == 1) else dense

    def coef_at(self, t: float) -> np.ndarray:
        """Coefficients at time ``t`` as a dense array (zero before ``t0``)."""
        t = float(t)
        if np.isinf(t) and t > 0:
            return self._row(self.n_times - 1)
        if t < self.times[0] or t < self.t0:
            return np.zeros_like(self._row(0))
        lo, hi, frac = self._locate(t)
        if self.interpolation == "previous" or lo == hi:
            return self._row(lo)
        return (1.0 - frac) * self._row(lo) + frac * self._row(hi)

    def coefs_of(self, indices) -> np.ndarray:
        """Dense path of a few coefficients: shape (n_times, len(indices)[, n_targets])."""
        idx = np.asarray(indices, dtype=np.int64).ravel()
        K = self.n_targets
        cols = (idx[:, None] * K + np.arange(K)[None, :]).ravel()
        dense = np.asarray(self.coefs[:, cols].toarray()).reshape(self.n_times, idx.size, K)
        return dense[:, :, 0] if (self.squeeze and K == 1) else dense

    def nnz_at(self) -> np.ndarray:
        """Number of nonzero coefficients (over targets) at each record time."""
        return np.diff(self.coefs.indptr)
