"""Robust regression and outlier detection with the mean-shift model.

``Y = X B + 1 b^T + G + E``: a sample ``i`` with ``G_i != 0`` is an outlier.
The path of ``G`` is computed on the implicit projection ``I - Q Q^T``
(``Q`` an orthonormal basis of ``[1, X]``) by the shared engine
(:func:`sparsestat._engine.projected_shift_path`); see ``docs/outliers.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from sparsestat import _engine
from sparsestat._progress import StageReporter
from sparsestat._kernels._projected import masked_gram, row_quadratic
from sparsestat.robust._linalg import (
    ThinBasis,
    as_kernel_array,
    full_projection,
    residuals,
    subset_fit,
    thin_basis,
)
from sparsestat.robust._lts import lts_start


def auto_cutoff(n_samples: int, n_targets: int = 1) -> float:
    """The default cutoff ``c_n`` in robust standard deviations.

    The studentized residual norm of a clean sample is about
    ``sqrt(chi2_K)``; the cutoff is its upper ``a_n`` quantile with
    ``a_n = min(0.0124, 0.5 / n)``: at most about half a clean sample flagged
    per data set on average, and never below the classical 2.5 (``K = 1``).

    Examples
    --------
    >>> from sparsestat.robust import auto_cutoff
    >>> round(auto_cutoff(21), 2), round(auto_cutoff(1000), 2)
    (2.5, 3.48)
    """
    a = min(0.0124, 0.5 / max(int(n_samples), 1))
    return float(np.sqrt(stats.chi2.isf(a, n_targets)))


@dataclass
class ShiftFit:
    """Everything :func:`fit_mean_shift` computes (the reusable core).

    Attributes
    ----------
    path : SparseRegularizationPath
        Path of the shift ``G`` on the scale of the targets.
    entry_times : ndarray of shape (n,)
        First time each sample's shift is nonzero (``np.inf``: never).
    order : ndarray of shape (n,)
        Samples ranked from most to least suspect.
    stop_time : float
        Time of the ``'auto'`` rule, ``t* = n / c_n`` in robust-scale units.
    outliers : ndarray of shape (n,), bool
        The flagged samples.
    scale : ndarray of shape (K,)
        Robust scale of each target.
    basis : ThinBasis
        The orthonormal basis of ``[1, X]``.
    cutoff : float
        The cutoff ``c_n`` used.
    """

    path: object
    entry_times: np.ndarray
    order: np.ndarray
    stop_time: float
    outliers: np.ndarray
    scale: np.ndarray
    basis: ThinBasis
    cutoff: float
    weights: np.ndarray


def fit_mean_shift(X, Y, *, contamination="auto", solver="lbi", kappa=100.0, n_times=100,
                   t_ratio=2.0, fit_intercept=True, start="lts", cutoff="auto",
                   max_iter=None, random_state=None, basis: ThinBasis | None = None,
                   verbose: int | StageReporter = 0) -> ShiftFit:
    """The mean-shift outlier path for a 2-D target (one or several outputs).

    Shared by :class:`MeanShiftOutlierDetector` and the multi-output models
    built on it (several targets use the row-group penalty: a sample enters
    with all of its targets at once). ``X`` (n, p) and ``Y`` (n, K) must be
    finite and validated. ``verbose > 0`` prints a timed line per stage
    (basis, robust start, each pass of the path and of the scale refit).
    """
    report = verbose if isinstance(verbose, StageReporter) else \
        StageReporter("MeanShiftOutlierDetector", verbose)
    n = Y.shape[0]
    K = Y.shape[1]
    if basis is None:
        basis = thin_basis(X, fit_intercept)
        report.stage(f"thin QR basis of [1, X]: n={n}, rank {basis.Q.shape[1]}")
    Q = basis.Q
    # robust column scales, so that one kappa and one cutoff serve every target
    col_scale = 1.4826 * np.median(np.abs(Y - np.median(Y, axis=0)), axis=0)
    col_scale = np.where(col_scale > 0, col_scale, Y.std(axis=0))
    col_scale = np.where(col_scale > 0, col_scale, 1.0)
    Ys = Y / col_scale
    c = auto_cutoff(n, K) if cutoff == "auto" else float(cutoff)
    lev = np.clip(basis.leverage, 0.0, 1.0)
    # leverage-aware thresholds: residual i has standard deviation sigma * sqrt(1 - h_ii)
    omega = np.sqrt(np.maximum(1.0 - lev, 1e-12))
    if start == "lts":
        rs = lts_start(Q, Ys, random_state=random_state)
        R = rs.residuals
        sigma = _start_scale(Q, Ys, R, max(rs.scale, rs.m_scale), c, K)
        report.stage(f"LTS start: robust residual scale {_scales(sigma * col_scale)}")
    else:
        R = residuals(Q, Ys, subset_fit(Q, Ys, np.ones(n, dtype=bool)))
        sigma = float(np.sqrt(np.median(np.sum(R ** 2, axis=1)) / stats.chi2.ppf(0.5, K)))
    t_star = n / c
    k_min = 0 if contamination == "auto" else int(np.ceil(contamination * n))
    penalty = "l1" if K == 1 else "group"
    max_active = max(n // 2, k_min + 1)
    truncation = _consistency(c, K)
    flagged = None
    if not np.isfinite(sigma) or sigma <= 1e-12:
        return _exact_fit(Q, Ys, R, col_scale, basis, c, omega, contamination, k_min)
    for passes in range(5):
        Yt = np.ascontiguousarray(Ys / sigma)
        if start == "lts":
            # the early stretch of the path is integrated against the robust fit
            # instead of least squares (the fit masking corrupts): at tau = t*/2 the
            # dual holds tau * r_i / (n sigma omega_i); samples far out of the robust
            # fit sit on the boundary and enter together at tau, so a cluster of them
            # cannot mask its own members
            t_first = t_star / 2.0
            z_start = _robust_dual(Q, Yt, R / sigma, omega, c, kappa)
        else:
            t_first = _start_time(Q, Yt, omega)
            z_start = None
        t_end = t_ratio * t_star
        grid = t_first * np.geomspace(1.0 + 1e-9, max(t_end / t_first, 1.0 + 1e-6), n_times)
        if solver == "iss":
            path = _engine.projected_shift_iss_path(
                Q, Yt, penalty=penalty, weights=omega, times=grid, max_active=max_active,
                min_entries=k_min, z_start=z_start, t_start=t_first)
        else:
            path = _engine.projected_shift_path(
                Q, Yt, penalty=penalty, weights=omega, kappa=kappa, times=grid,
                max_active=max_active, min_entries=k_min, max_iter=max_iter,
                z_start=z_start, t_start=t_first)
        entry = path.entry_times.min(axis=1)
        new = entry <= t_star
        if start == "lts" and new.any():
            # backward check: the path never lets a sample leave, so each flagged sample
            # is tested against the fit without the flagged set, with its deletion
            # (external) leverage; those below the cutoff are returned to the inliers
            dof = max(int((~new).sum()) - Q.shape[1] - 1, 1)
            c_del = float(stats.t.isf(stats.norm.sf(c), dof)) if K == 1 else c
            new &= _deletion_statistic(Q, Ys, new, K) >= c_del
        report.stage(f"path pass {passes + 1} ({solver}, {max(int(path.n_iter), 1)} "
                     f"{'knots' if solver == 'iss' else 'iterations'}, up to t={t_end:.4g}): "
                     f"{int(new.sum())} samples flagged at t*={t_star:.4g}")
        if start != "lts" or (flagged is not None and np.array_equal(new, flagged)):
            flagged = new
            break
        flagged = new
        # re-estimate the scale on the samples kept (consistent for the normal model
        # truncated at the cutoff) and repeat until the flagged set is stable; the path
        # keeps starting from the robust fit's residuals
        theta = subset_fit(Q, Ys, ~flagged)
        sigma = _inlier_scale(residuals(Q, Ys, theta), ~flagged, Q.shape[1], K, truncation)
        report.stage(f"scale refit on the {int((~flagged).sum())} samples kept: "
                     f"{_scales(sigma * col_scale)}")
    tie = -np.sqrt(np.sum(R ** 2, axis=1))
    order = np.lexsort((tie, entry))
    if contamination == "auto":
        outliers = flagged
    else:
        outliers = np.zeros(n, dtype=bool)
        outliers[order[:k_min]] = True
    # the path back on the scale of the targets
    unit = np.repeat((col_scale * sigma)[None, :], n, axis=0).ravel()
    path.coefs = path.coefs.multiply(unit[None, :]).tocsr()
    path.info.update(stop_time=float(t_star), cutoff=float(c), scale=float(sigma))
    return ShiftFit(path=path, entry_times=entry, order=order, stop_time=float(t_star),
                    outliers=outliers, scale=col_scale * sigma, basis=basis, cutoff=c,
                    weights=omega)


def _scales(values) -> str:
    return ", ".join(f"{v:.4g}" for v in np.atleast_1d(values))


def _exact_fit(Q, Ys, R, col_scale, basis, c, omega, contamination, k_min):
    """More than half of the samples lie exactly on a plane: its outliers are the rest.

    The robust scale is zero, so no path is needed (the exact-fit property of
    high-breakdown regression): samples off the plane are flagged.
    """
    from scipy import sparse

    from sparsestat.path import SparseRegularizationPath

    n, K = Ys.shape
    dist = np.sqrt(np.sum(R ** 2, axis=1))
    off = dist > 1e-9 * max(1.0, float(np.max(np.abs(Ys))))
    entry = np.where(off, 0.0, np.inf)
    order = np.lexsort((-dist, entry))
    if contamination == "auto":
        outliers = off
    else:
        outliers = np.zeros(n, dtype=bool)
        outliers[order[:k_min]] = True
    path = SparseRegularizationPath(
        times=np.zeros(1), coefs=sparse.csr_matrix((1, n * K)), intercepts=np.zeros((1, K)),
        entry_times=entry[:, None].repeat(K, axis=1), interpolation="previous", t0=0.0,
        info={"solver": "exact_fit", "status": "ok"}, n_targets=K, squeeze=False)
    return ShiftFit(path=path, entry_times=entry, order=order, stop_time=0.0,
                    outliers=outliers, scale=np.zeros(K), basis=basis, cutoff=c,
                    weights=omega)


def _consistency(c, K):
    """``E[chi2_K | chi2_K <= c^2] / K``: variance factor of residuals kept by the cutoff."""
    frac = stats.chi2.cdf(c * c, K)
    return float(stats.chi2.cdf(c * c, K + 2) / frac)


def _start_scale(Q, Y, R, sigma, c, K):
    """Scale the stopping rule starts from: least squares without the clear outliers.

    Scales of a trimmed high-breakdown fit are biased down in small samples: the
    best of many half-samples fits too well (for n = 30, p = 5 by a factor near 2), and
    a scale that is too small makes the flagged set and the inlier scale reinforce
    each other. So only the samples beyond ``2 c`` robust deviations are set aside
    and the scale is that of least squares on the rest (consistent for the normal
    model cut at ``2 c``); the refinement that follows moves it to the fixed point
    of the stopping rule from there.
    """
    u = np.sqrt(np.sum(R ** 2, axis=1)) / max(sigma, 1e-300)
    keep = u <= 2.0 * c
    if keep.sum() <= Q.shape[1] + 1:
        return sigma
    theta = subset_fit(Q, Y, keep)
    refit = _inlier_scale(residuals(Q, Y, theta), keep, Q.shape[1], K,
                          _consistency(2.0 * c, K))
    return max(sigma, refit)


def _inlier_scale(R, keep, r, K, truncation):
    """Residual scale of the kept samples, consistent for the normal model cut at ``c``."""
    dof = max(int(keep.sum()) - r, 1)
    return float(np.sqrt(np.sum(R[keep] ** 2) / (dof * K * truncation)))


def _deletion_statistic(Q, Y, flagged, K):
    """Studentized deletion residual norm of each flagged sample (others: 0).

    ``|y_i - x_i b_(-F)| / (sigma_(-F) sqrt(1 + x_i (X_(-F)^T X_(-F))^-1 x_i))``
    with ``F`` the flagged set, computed on the basis ``Q`` (``r x r`` solves).
    """
    keep = ~flagged
    r = Q.shape[1]
    rows = np.flatnonzero(flagged)
    G_f = np.empty((r, r))
    b_f = np.empty((r, Y.shape[1]))
    masked_gram(Q, as_kernel_array(Y), flagged, G_f, b_f)
    G = np.eye(r) - G_f                  # Gram matrix of the kept rows
    theta = np.linalg.lstsq(G, full_projection(Q, Y) - b_f, rcond=None)[0]
    R = residuals(Q, Y, theta)
    sigma = float(np.sqrt(np.sum(R[keep] ** 2) / (max(int(keep.sum()) - r, 1) * K)))
    h_ext = np.empty(rows.size)
    row_quadratic(Q, rows, np.linalg.pinv(G), h_ext)
    out = np.zeros(Q.shape[0])
    norms = np.sqrt(np.sum(R[rows] ** 2, axis=1) / K)
    out[rows] = norms / (max(sigma, 1e-300) * np.sqrt(1.0 + np.maximum(h_ext, 0.0)))
    return out


def _robust_dual(Q, Y, U, omega, c, kappa):
    """The path's state at ``tau = t*/2`` when its early stretch follows the robust fit.

    ``U`` are the robust residuals in units of the scale. The dual holds
    ``U_i / (2 c omega_i)`` (``tau / n = 1 / (2c)`` times the residual); rows at
    or beyond the unit sphere form the set ``S``, whose shifts start at their
    joint least-squares values (the residuals against the fit without ``S``,
    which is how the inverse scale space path enters a whole set at once) --
    rows whose joint value disagrees in sign stay on the boundary.
    """
    Z = U / (2.0 * c * omega[:, None])
    norm = np.sqrt(np.sum(Z ** 2, axis=1))
    S = norm >= 1.0
    Z[S] /= norm[S, None]
    if S.any() and (~S).sum() > Q.shape[1]:
        theta = subset_fit(Q, Y, ~S)
        G = Y[S] - Q[S] @ theta
        agree = np.sum(G * Z[S], axis=1) > 0
        idx = np.flatnonzero(S)[agree]
        Gs = G[agree]
        gnorm = np.sqrt(np.sum(Gs ** 2, axis=1))
        # G_i = kappa * omega_i * prox(z_i)  <=>  z_i = G_i / ||G_i|| (1 + ||G_i|| / (kappa omega_i))
        Z[idx] = Gs / gnorm[:, None] * (1.0 + gnorm / (kappa * omega[idx]))[:, None]
    return Z


def _start_time(Q, Y, omega):
    """``t0``: the first time a shift enters, ``n / max_i ||((I - QQ^T) Y)_i|| / omega_i``."""
    R = Y - Q @ (Q.T @ Y)
    top = float(np.max(np.sqrt(np.sum(R ** 2, axis=1)) / omega))
    return Y.shape[0] / max(top, 1e-300)


class MeanShiftOutlierDetector(RegressorMixin, BaseEstimator):
    """Robust linear regression that flags outliers along the mean-shift path.

    The model is ``y = X beta + b + gamma + eps`` with ``gamma`` sparse: a
    sample with ``gamma_i != 0`` is an outlier. ``beta`` is removed by the
    projection onto the orthogonal complement of ``[1, X]``, applied
    implicitly through a thin QR (never the ``n x n`` hat matrix), and the
    path of ``gamma`` is followed by the Linearized Bregman Iteration:
    outliers enter first. To survive masking and swamping the path uses

    * a high-breakdown start (least trimmed squares) for the robust scale
      ``scale_`` and for adaptive penalty weights: samples the robust fit
      already rejects enter early, so clusters of bad leverage points
      cannot hide each other;
    * leverage-aware thresholds ``scale_ * sqrt(1 - h_ii) * c_n`` (the
      penalty weight of sample ``i`` is ``sqrt(1 - h_ii)``), so clean
      high-leverage points are not flagged;
    * the nearly unbiased large-``kappa`` path (or the exact ISS path),
      whose active shifts equal deletion residuals rather than shrunken
      Huber residuals.

    With ``contamination='auto'`` the samples whose shift has entered by
    ``t* = n / c_n`` (in robust-scale units) are flagged: a sample enters
    there when its studentized residual, against the fit without the
    samples already flagged, exceeds ``c_n`` (see :func:`auto_cutoff`).
    ``coef_`` and ``intercept_`` are least squares on the inliers.

    Parameters
    ----------
    contamination : 'auto' or float in (0, 0.5), default='auto'
        ``'auto'``: the stopping rule above. A float flags that fraction of
        the samples, in entry order.
    solver : {'lbi', 'iss'}, default='lbi'
        ``'iss'`` is the exact inverse scale space path (the
        ``kappa -> infinity`` limit), one knot per entering sample; use it
        for small and moderate ``n`` and a single target.
    kappa : float, default=100.0
        LBI damping, in units of the robust scale; larger is less biased and
        needs more iterations (about ``2 kappa / c_n`` to the stopping time).
    n_times : int, default=100
        Number of record times of ``regularization_path_``.
    t_ratio : float, default=2.0
        The path is followed up to ``t_ratio`` times the stopping time ``t*``
        (the record grid is geometric from the path's start to there).
    fit_intercept : bool, default=True
        Include the intercept column in the model.
    start : {'lts', 'none'}, default='lts'
        ``'lts'``: robust start (scale and adaptive weights). ``'none'``: the
        plain leverage-studentized path from least squares with a MAD scale
        (the Huber-type estimator; breaks down under masking).
    cutoff : 'auto' or float, default='auto'
        The threshold ``c_n`` in robust standard deviations.
    max_iter : int, default=None
        LBI iteration budget (``None``: as many as the grid needs).
    duplicates : {'raise', 'keep'}, default='raise'
        Samples that repeat exactly (same ``x`` and ``y``) usually come from a
        data-handling error and, as outliers, support each other: ``'raise'``
        refuses them with the rows named; ``'keep'`` fits them as given.
    random_state : int, RandomState instance or None, default=None
        Seeds the random subsets of the robust start.
    verbose : int, default=0
        ``> 0``: print a line per stage with its time (basis, robust start,
        each pass of the path and of the scale refit, the inlier fit).

    Attributes
    ----------
    outliers_ : ndarray of shape (n_samples,), dtype=bool
        Flagged samples.
    n_outliers_ : int
        Number of flagged samples.
    gamma_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Estimated shifts: the residual of each flagged sample against the
        inlier fit (zero for inliers).
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Least-squares coefficients on the inliers.
    intercept_ : float or ndarray of shape (n_targets,)
        Intercept of the inlier fit.
    entry_times_ : ndarray of shape (n_samples,)
        Time each sample's shift enters the path (``np.inf``: never);
        earlier means more outlying.
    ranking_ : ndarray of shape (n_samples,)
        Sample indices from most to least suspect.
    scale_ : float or ndarray of shape (n_targets,)
        Robust residual scale.
    stop_time_ : float
        The time ``t*`` of the ``'auto'`` rule.
    cutoff_ : float
        The cutoff ``c_n`` used.
    n_iter_ : int
        LBI iterations (or ISS knots) of the final path.
    regularization_path_ : SparseRegularizationPath
        The path of ``gamma`` (stored sparsely: ``O(n)`` memory for a
        bounded support).
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    sklearn.linear_model.HuberRegressor : The l1 mean shift at a fixed lambda.
    sklearn.linear_model.RANSACRegressor : Consensus of random subsets.

    Examples
    --------
    >>> from sparsestat import MeanShiftOutlierDetector
    >>> from sparsestat.datasets import load_stackloss
    >>> X, y = load_stackloss(return_X_y=True)
    >>> det = MeanShiftOutlierDetector(random_state=0).fit(X, y)
    >>> (det.outliers_.nonzero()[0] + 1).tolist()
    [1, 3, 4, 21]
    """

    _parameter_constraints: dict = {
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="neither")],
        "solver": [StrOptions({"lbi", "iss"})],
        "kappa": [Interval(Real, 0, None, closed="neither")],
        "n_times": [Interval(Integral, 2, None, closed="left")],
        "t_ratio": [Interval(Real, 1, None, closed="neither")],
        "fit_intercept": ["boolean"],
        "start": [StrOptions({"lts", "none"})],
        "cutoff": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "duplicates": [StrOptions({"raise", "keep"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, contamination="auto", *, solver="lbi", kappa=100.0, n_times=100,
                 t_ratio=2.0, fit_intercept=True, start="lts", cutoff="auto",
                 max_iter=None, duplicates="raise", random_state=None, verbose=0):
        self.contamination = contamination
        self.solver = solver
        self.kappa = kappa
        self.n_times = n_times
        self.t_ratio = t_ratio
        self.fit_intercept = fit_intercept
        self.start = start
        self.cutoff = cutoff
        self.max_iter = max_iter
        self.duplicates = duplicates
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.non_deterministic = False
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the robust regression and flag the outliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (finite).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets (finite, not constant).

        Returns
        -------
        self : MeanShiftOutlierDetector
        """
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             dtype=np.float64)
        Y = y.reshape(y.shape[0], -1)
        check_outlier_data(X, Y, self.fit_intercept, self.duplicates == "raise")
        report = StageReporter(type(self).__name__, self.verbose)
        res = fit_mean_shift(
            X, Y, contamination=self.contamination, solver=self.solver, kappa=self.kappa,
            n_times=self.n_times, t_ratio=self.t_ratio, fit_intercept=self.fit_intercept,
            start=self.start, cutoff=self.cutoff, max_iter=self.max_iter,
            random_state=self.random_state, verbose=report)
        inliers = ~res.outliers
        theta = subset_fit(res.basis.Q, Y, inliers)
        coef, intercept = res.basis.coefficients(theta)
        report.done(f"least squares on the {int(inliers.sum())} inliers; "
                    f"{int(res.outliers.sum())} outliers flagged")
        gamma = np.zeros_like(Y)
        if res.outliers.any():
            out = res.outliers
            gamma[out] = Y[out] - (X[out] @ coef.T + intercept)
        single = y.ndim == 1
        self.outliers_ = res.outliers
        self.n_outliers_ = int(res.outliers.sum())
        self.gamma_ = gamma[:, 0] if single else gamma
        self.coef_ = coef[0] if single else coef
        self.intercept_ = float(intercept[0]) if single else intercept
        self.entry_times_ = res.entry_times
        self.ranking_ = res.order
        self.scale_ = float(res.scale[0]) if single else res.scale
        self.stop_time_ = res.stop_time
        self.n_iter_ = max(int(res.path.n_iter), 1)
        self.cutoff_ = res.cutoff
        path = res.path
        path.squeeze = single
        self.regularization_path_ = path
        return self

    def predict(self, X):
        """Predict with the robust (inlier) fit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return X @ np.asarray(self.coef_).T + self.intercept_

    def score(self, X, y, sample_weight=None):
        """R^2 of the robust fit on the samples it does not flag as outliers.

        On the training data the flagged samples are those of ``outliers_``;
        on new data, samples whose absolute residual exceeds
        ``cutoff_ * scale_`` are left out.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        from sklearn.metrics import r2_score

        check_is_fitted(self)
        y = np.asarray(y, dtype=float)
        pred = self.predict(X)
        R = (y - pred).reshape(y.shape[0], -1) / np.asarray(self.scale_).reshape(1, -1)
        keep = np.sqrt(np.sum(R ** 2, axis=1)) <= self.cutoff_
        if keep.sum() < 2:
            keep[:] = True
        w = None if sample_weight is None else np.asarray(sample_weight)[keep]
        return float(r2_score(y[keep], pred[keep], sample_weight=w))


def check_outlier_data(X: np.ndarray, Y: np.ndarray, fit_intercept: bool = True,
                       refuse_duplicates: bool = True) -> None:
    """Refuse inputs the mean-shift model cannot use, with a message that says why."""
    n, p = X.shape
    r = p + int(fit_intercept)
    if n <= r:
        raise ValueError(
            f"Outlier detection needs more samples than model parameters: got n_samples={n} "
            f"with {p} features{' plus an intercept' if fit_intercept else ''} (need "
            f"n_samples > {r}, and several times more to detect anything). Add samples or "
            "drop features."
        )
    if np.all(Y == Y[:1]):
        raise ValueError(
            "y is constant: there is no variation to fit, so no sample can be an outlier. "
            "Check that the right target column was passed."
        )
    dup = duplicated_rows(X, Y) if refuse_duplicates else np.zeros((0, 2))
    if dup.size:
        raise ValueError(
            f"X, y contain {dup.shape[0]} duplicated sample(s) (e.g. row {dup[0, 1] + 1} "
            f"repeats row {dup[0, 0] + 1}, 1-based). Repeated samples usually come from a "
            "data-handling error and, as outliers, support each other: remove the duplicates (e.g. np.unique(np.column_stack([X, y]), "
            "axis=0)) or pass duplicates='keep'."
        )


def duplicated_rows(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Pairs ``(first, repeat)`` of identical samples (rows of ``[X, Y]``), 0-based.

    Rows are hashed by a fixed random projection, sorted by hash, and only
    rows with equal hashes are compared exactly: ``O(n log n)`` time and
    ``O(n)`` extra memory.
    """
    w = np.random.default_rng(20240607).standard_normal(X.shape[1] + Y.shape[1])
    key = X @ w[:X.shape[1]] + Y @ w[X.shape[1]:]
    order = np.argsort(key, kind="stable")
    ks = key[order]
    same = np.flatnonzero(ks[1:] == ks[:-1])
    pairs = []
    for j in same:
        a, b = order[j], order[j + 1]
        if np.array_equal(X[a], X[b]) and np.array_equal(Y[a], Y[b]):
            pairs.append((min(a, b), max(a, b)))
    return np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
