"""The path engine: prepares data, picks defaults and calls the kernels.

Every estimator of the package computes its path through :func:`lbi_path`,
:func:`iss_path` or :func:`split_lbi_path`. Inputs are assumed validated by
the caller (finite, 2-D, matching lengths); this module standardizes the
design, makes the analytic jump to ``t0``, chooses a stable step, runs the
numba kernel and maps the coefficients back to the scale of the data.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, eigsh
from sklearn.exceptions import ConvergenceWarning

from sparsestat import _kernels
from sparsestat._kernels._losses import HUBER, LOGISTIC, MULTINOMIAL, SQUARED
from sparsestat._units import iteration_budget, standardize_target
from sparsestat.path import RegularizationPath

LOSSES = {"squared": SQUARED, "huber": HUBER, "logistic": LOGISTIC, "multinomial": MULTINOMIAL}
# step constant c in alpha = c / (kappa * ||X^T W X / n||): the loss's curvature bound
_STEP_CONSTANT = {"squared": 1.0, "huber": 1.0, "logistic": 4.0, "multinomial": 2.0}
# the adaptive step c / (kappa (1.1 L_A + d (m + 1))) uses c = 0.75: every mode of the active
# block relaxes monotonically (kappa * step * eigenvalue <= 1, no oscillation) even when the
# power-iteration estimate L_A of ||H_AA|| is 25% low; stability alone would allow c < 2, but
# on a standardized target the coefficients relax within a few steps of entering and larger
# steps overshoot the path there
_ADAPTIVE_STEP = 0.75
_DIVERGED = 2
_EMPTY_F = np.zeros((0, 0), order="F")
# LBI holds the full Gram matrix up to this many features (or n); beyond, a working set
# takes in the coordinates whose dual would reach the sphere within the next batch at
# 1.5 times its last rate of change, or comes within 0.01 of it (see _kernels/_lbi.py)
_FULL_GRAM_MAX_FEATURES = 2000
_WORKING_SET_REACH = (1.5, 0.01)
_EMPTY_I = np.zeros(0, dtype=np.int64)
_EMPTY = np.zeros(0)


@dataclass
class Design:
    """A standardized design in the form the kernels take.

    Column ``j`` seen by the kernels is ``(X[:, j] - mean[j]) / scale[j]``
    (rows multiplied by ``sqrt(w)`` for weighted squared loss). The values are
    float64, or float32 when ``X`` was float32 (half the memory); means, scales
    and the Gram matrix are float64.
    """

    dense: np.ndarray      # Fortran (n, p), or an empty placeholder
    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    kernel_mean: np.ndarray  # implicit centering (sparse only), standardized scale
    is_sparse: bool
    mean: np.ndarray         # original-scale column means
    scale: np.ndarray        # original-scale column scales
    n_samples: int
    n_features: int

    @property
    def args(self):
        return (self.dense, self.data, self.indices, self.indptr, self.kernel_mean,
                self.is_sparse)

    @property
    def dtype(self) -> np.dtype:
        """Floating type of the standardized values (float64 or float32)."""
        return (self.data if self.is_sparse else self.dense).dtype

    def transpose_product(self, V: np.ndarray) -> np.ndarray:
        """``X_std^T V`` for ``V`` of shape (n, K)."""
        out = np.empty((self.n_features, V.shape[1]))
        _kernels._design.transpose_product(*self.args, np.asfortranarray(V, dtype=float), out)
        return out

    def product(self, v: np.ndarray) -> np.ndarray:
        """``X_std v`` for a vector ``v`` of length p."""
        out = np.empty(self.n_samples)
        _kernels._design.product(*self.args, np.ascontiguousarray(v, dtype=float), out)
        return out

    def gram(self, w=None) -> np.ndarray:
        """The scaled Gram matrix ``X_std^T W X_std / n`` (Fortran order; ``W = I`` by default)."""
        if self.is_sparse:
            X = sp.csc_matrix((self.data, self.indices, self.indptr),
                              shape=(self.n_samples, self.n_features))
            wv = np.ones(self.n_samples) if w is None else w
            G = np.asarray((X.T @ sp.diags(wv) @ X).todense())
            colsum = np.asarray(X.T @ wv).ravel()
            mu = self.kernel_mean
            G = G - np.outer(mu, colsum) - np.outer(colsum, mu) + wv.sum() * np.outer(mu, mu)
        elif self.dense.dtype != np.float64:
            # float32 values, float64 sums: blocks of rows (about 1 MiB) upcast one at a time
            G = np.zeros((self.n_features, self.n_features))
            rows = max(1, (1 << 17) // max(self.n_features, 1))
            for start in range(0, self.n_samples, rows):
                B = self.dense[start:start + rows].astype(np.float64)
                G += B.T @ (B if w is None else B * w[start:start + rows, None])
        elif w is None:
            G = self.dense.T @ self.dense
        else:
            G = self.dense.T @ (self.dense * w[:, None])
        return np.asfortranarray(G / self.n_samples)

    def diag_max(self) -> float:
        """Largest diagonal entry of ``X_std^T X_std / n`` (1 for standardized columns)."""
        if self.is_sparse:
            X = sp.csc_matrix((self.data, self.indices, self.indptr),
                              shape=(self.n_samples, self.n_features))
            sq = np.asarray(X.multiply(X).sum(axis=0)).ravel() / self.n_samples
            colmean = np.asarray(X.sum(axis=0)).ravel() / self.n_samples
            mu = self.kernel_mean
            d = sq - 2 * mu * colmean + mu ** 2
        else:
            d = np.einsum("ij,ij->j", self.dense, self.dense, dtype=np.float64) / self.n_samples
        return float(np.max(d, initial=0.0))

    def spectral_norm_sq(self, w=None) -> float:
        """Largest eigenvalue of ``X_std^T W X_std / n`` (``W = diag(w)``, default identity)."""
        n, p = self.n_samples, self.n_features
        if p <= 500:
            return float(np.linalg.eigvalsh(self.gram(w))[-1])
        if n <= 500 and not self.is_sparse:
            Xw = self.dense if w is None else self.dense * np.sqrt(w)[:, None]
            return float(np.linalg.eigvalsh(Xw @ Xw.T)[-1] / n)
        wv = np.ones(n) if w is None else w

        def matvec(v):
            fit = self.product(np.ravel(v)) * wv
            return self.transpose_product(fit[:, None]).ravel() / n

        op = LinearOperator((p, p), matvec=matvec, dtype=float)
        val = eigsh(op, k=1, which="LA", tol=1e-6, return_eigenvectors=False, v0=np.ones(p))[0]
        return float(val) * 1.001


def prepare_design(X, *, center: bool, normalize: bool, sample_weight=None,
                   sqrt_weight_rows: bool = False) -> Design:
    """Center (explicitly for dense X, implicitly for sparse X) and scale the design.

    The standardized copy is float32 when ``X`` is float32, float64 otherwise.
    Columns holding one value are left at zero (scale 1) whatever their units;
    columns near the limits of floating point are first rescaled by exact powers
    of two so that their squares do not overflow.
    """
    n, p = X.shape
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    if sp.issparse(X):
        Xc = sp.csc_matrix(X, dtype=dtype, copy=True)
        Xc.sum_duplicates()
        xmax = np.asarray(Xc.max(axis=0).todense(), dtype=np.float64).ravel()
        xmin = np.asarray(Xc.min(axis=0).todense(), dtype=np.float64).ravel()
        unit = _column_units(xmax, xmin)
        if unit is not None:
            Xc = sp.csc_matrix(Xc @ sp.diags(unit.astype(dtype)))
        if w is None:
            mean = np.asarray(Xc.mean(axis=0, dtype=np.float64)).ravel() if center else np.zeros(p)
            sq = np.asarray(Xc.multiply(Xc).mean(axis=0, dtype=np.float64)).ravel()
        else:
            wn = w / w.sum()
            mean = np.asarray(Xc.T @ wn).ravel() if center else np.zeros(p)
            sq = np.asarray(Xc.multiply(Xc).T @ wn).ravel()
        const = xmax == xmin
        if center:
            mean[const] = (xmax * (1.0 if unit is None else unit))[const]
        var = np.maximum(sq - mean ** 2, 0.0) if center else sq
        scale = _safe_scale(np.sqrt(var), const) if normalize else np.ones(p)
        if sqrt_weight_rows and w is not None:
            raise ValueError(
                "sample_weight with a sparse X is not supported for the squared loss; "
                "pass a dense X (X.toarray()) or fit without sample_weight."
            )
        Xc = sp.csc_matrix(Xc @ sp.diags((1.0 / scale).astype(dtype)))
        mean, scale = _undo_units(mean, scale, unit)
        return Design(_EMPTY_F.astype(dtype), Xc.data.astype(dtype), Xc.indices.astype(np.int64),
                      Xc.indptr.astype(np.int64), mean / scale, True, mean, scale, n, p)
    Xd = np.array(X, dtype=dtype, order="F", copy=True)
    xmax = Xd.max(axis=0, initial=-np.inf).astype(np.float64)
    xmin = Xd.min(axis=0, initial=np.inf).astype(np.float64)
    const = xmax == xmin
    unit = _column_units(xmax, xmin)
    if unit is not None:
        Xd *= unit.astype(dtype)
    if center:
        mean = Xd.mean(axis=0, dtype=np.float64) if w is None else (w @ Xd) / w.sum()
        Xd -= mean.astype(dtype)
        Xd[:, const] = 0.0   # exactly, not the rounding error of their mean
    else:
        mean = np.zeros(p)
    if normalize:
        if w is None:
            # no n x p temporary
            sd = np.sqrt(np.einsum("ij,ij->j", Xd, Xd, dtype=np.float64) / n)
        else:
            sd = np.sqrt(np.einsum("ij,ij,i->j", Xd, Xd, w, dtype=np.float64) / w.sum())
        scale = _safe_scale(sd, const)
        Xd /= scale.astype(dtype)
    else:
        scale = np.ones(p)
    if sqrt_weight_rows and w is not None:
        Xd *= np.sqrt(w / w.mean()).astype(dtype)[:, None]
    mean, scale = _undo_units(mean, scale, unit)
    return Design(Xd, _EMPTY.astype(dtype), _EMPTY_I, np.zeros(1, dtype=np.int64), np.zeros(p), False,
                  mean, scale, n, p)


# columns whose largest magnitude lies outside this range are rescaled by powers of two
_SAFE_MAGNITUDE = (2.0 ** -400, 2.0 ** 400)


def _column_units(xmax, xmin):
    """Exact power-of-two factors bringing every column's magnitude near 1, or ``None``
    when every column is already safe to square and sum."""
    mag = np.maximum(np.abs(xmax), np.abs(xmin))
    live = mag > 0
    if not np.any(live & ((mag < _SAFE_MAGNITUDE[0]) | (mag > _SAFE_MAGNITUDE[1]))):
        return None
    return np.where(live, np.ldexp(1.0, -np.frexp(np.where(live, mag, 1.0))[1]), 1.0)


def _undo_units(mean, scale, unit):
    """Column means and scales of the data as given, from those of the rescaled columns."""
    if unit is None:
        return mean, scale
    return mean / unit, scale / unit


def _safe_scale(sd, constant):
    """Column scales: the standard deviations, 1 for constant columns."""
    return np.where((sd > 0) & ~constant, sd, 1.0)


def constant_columns(X) -> np.ndarray:
    """Boolean mask of the columns of ``X`` that hold a single value."""
    if sp.issparse(X):
        Xc = sp.csc_matrix(X)
        mx = np.asarray(Xc.max(axis=0).todense()).ravel()
        mn = np.asarray(Xc.min(axis=0).todense()).ravel()
        return mx == mn
    X = np.asarray(X)
    return np.all(X == X[:1], axis=0)


def check_group_labels(groups) -> None:
    """Refuse missing group labels (NaN or None): they would form groups of their own."""
    groups = np.asarray(groups)
    if groups.dtype.kind == "f":
        missing = ~np.isfinite(groups)
    elif groups.dtype.kind == "O":
        missing = np.array([g is None or (isinstance(g, float) and not np.isfinite(g))
                            for g in groups], dtype=bool)
    else:
        return
    if np.any(missing):
        idx = np.flatnonzero(missing)
        shown = ", ".join(map(str, idx[:5])) + (" ..." if idx.size > 5 else "")
        raise ValueError(
            f"groups has {idx.size} missing label(s) (NaN, inf or None at position {shown}); "
            "give every feature a group label (a feature alone in its group is its own label)."
        )


def make_groups(groups, n_features: int):
    """Turn a label per feature into the kernels' (group_ptr, group_idx) arrays."""
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.shape[0] != n_features:
        raise ValueError(
            f"groups must give one group label per feature: expected {n_features} labels, "
            f"got an array of shape {groups.shape}."
        )
    check_group_labels(groups)
    labels, inverse = np.unique(groups, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse, minlength=len(labels))
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return ptr, order.astype(np.int64)


def _penalty_arrays(penalty, groups, n_features, n_targets):
    if penalty == "l1":
        return True, _EMPTY_I, _EMPTY_I
    if groups is None:
        if n_targets == 1:
            raise ValueError(
                "penalty='group' needs groups=<one label per feature> for a single target; "
                "with several targets (multi-output or multinomial) groups default to the rows "
                "of the coefficient matrix."
            )
        groups = np.arange(n_features)
    ptr, idx = make_groups(groups, n_features)
    return False, ptr, idx


def _penalty_norm(grad, elementwise, ptr, idx):
    """Dual norm of the gradient: max |g| (l1) or max group 2-norm."""
    if elementwise:
        return float(np.max(np.abs(grad), initial=0.0))
    sq = np.sum(grad ** 2, axis=1)
    return float(max(np.sqrt(sq[idx[ptr[g]:ptr[g + 1]]].sum()) for g in range(len(ptr) - 1)))


def time_grid(t0: float, n_times: int, t_ratio: float) -> np.ndarray:
    """Geometric grid of ``n_times`` points from ``t0`` to ``t_ratio * t0``."""
    if n_times == 1:
        return np.array([t0 * t_ratio])
    return t0 * np.geomspace(1.0, t_ratio, n_times)


def _initial_intercept(loss, Y, w, delta):
    """Optimal intercept when all coefficients are zero."""
    wn = w / w.sum()
    if loss == "squared":
        return wn @ Y
    if loss == "logistic":
        m = np.clip(wn @ Y, 1e-12, 1 - 1e-12)
        return np.log(m / (1 - m))
    if loss == "multinomial":
        freq = np.clip(wn @ Y, 1e-12, None)
        logf = np.log(freq)
        return logf - logf.mean()
    # huber location: iteratively reweighted mean from the weighted median
    b = np.array([weighted_median(Y[:, k], w) for k in range(Y.shape[1])])
    for _ in range(100):
        r = Y - b
        wt = w[:, None] * np.minimum(1.0, delta / np.maximum(np.abs(r), 1e-300))
        b_new = (wt * Y).sum(axis=0) / wt.sum(axis=0)
        if np.allclose(b_new, b, rtol=0, atol=1e-12 * (1 + np.abs(b).max())):
            b = b_new
            break
        b = b_new
    return b


def weighted_median(x, w=None) -> float:
    """Median of ``x`` where sample ``i`` counts ``w[i]`` times (lower median on ties)."""
    x = np.asarray(x, dtype=float).ravel()
    if w is None:
        return float(np.median(x))
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(np.asarray(w, dtype=float)[order])
    half = 0.5 * cw[-1]
    i = int(np.searchsorted(cw, half, side="left"))
    if np.isclose(cw[i], half, rtol=1e-12, atol=0) and i + 1 < x.size:
        return 0.5 * (x[order[i]] + x[order[i + 1]])
    return float(x[order[i]])


def robust_scale(r, w=None) -> float:
    """Normalized (weighted) median absolute deviation, a consistent estimate of sigma."""
    r = np.asarray(r, dtype=float).ravel()
    return float(1.4826 * weighted_median(np.abs(r - weighted_median(r, w)), w))


def _huber_scale(design, Y, w) -> float:
    """A robust scale (MAD) of the residuals of a weighted least-squares fit (0 if none)."""
    n, p = design.n_samples, design.n_features
    resid = Y - np.array([weighted_median(Y[:, k], w) for k in range(Y.shape[1])])
    if n > p + 1 and not design.is_sparse:
        A = np.column_stack([np.ones(n), design.dense]) * np.sqrt(w)[:, None]
        coef = np.linalg.lstsq(A, Y * np.sqrt(w)[:, None], rcond=None)[0]
        resid = Y - np.column_stack([np.ones(n), design.dense]) @ coef
    elif n > p + 1 and p <= _FULL_GRAM_MAX_FEATURES:
        # the same weighted least-squares fit for a sparse design, through its (implicitly
        # centred) Gram matrix: the columns are centred with the weights, so the intercept
        # is the weighted mean of Y
        Yc = Y - (w @ Y) / w.sum()
        coef = np.linalg.lstsq(design.gram(w), design.transpose_product(Yc * w[:, None]) / n,
                               rcond=None)[0]
        resid = Yc - np.column_stack([design.product(coef[:, k]) for k in range(Y.shape[1])])
    sigma = robust_scale(resid, np.repeat(w, Y.shape[1]) if Y.shape[1] > 1 else w)
    if not sigma > 0:
        sigma = float(np.sqrt(np.average((resid - np.average(resid, axis=0, weights=w)) ** 2,
                                         axis=0, weights=w).mean()))
    return sigma if sigma > 0 else 0.0


def _standardized_target(design, Y, w, fit_intercept, loss):
    """``Y`` in the units the path runs in, and that unit (see :mod:`sparsestat._units`).

    The squared loss divides by the root mean square deviation of ``Y``; the Huber
    loss by a robust scale of preliminary residuals, so that its threshold is
    ``epsilon`` on the standardized problem. Class indicators are left alone.
    """
    if loss not in ("squared", "huber"):
        return Y, 1.0
    Ys, unit = standardize_target(Y, w, fit_intercept)
    if loss == "huber":
        sigma = _huber_scale(design, Ys, w)
        if sigma > 0:
            Ys, unit = Ys / sigma, unit * sigma
    return Ys, unit


def _empty_path(grid_t0, n_times, t_ratio, times, p, K, b0, solver, loss, penalty):
    """The intercept-only path, for a target no feature is correlated with."""
    warnings.warn(
        "The path is empty: no feature is correlated with the target (the gradient at zero "
        "vanishes, e.g. y is constant or every column of X is constant). The fit is the "
        "intercept-only model.",
        UserWarning, stacklevel=4,
    )
    grid = np.asarray(times, dtype=float) if times is not None else \
        time_grid(grid_t0, n_times, t_ratio)
    return RegularizationPath(
        times=grid, coefs=np.zeros((grid.shape[0], p, K)),
        intercepts=np.tile(np.asarray(b0, dtype=float), (grid.shape[0], 1)),
        entry_times=np.full((p, K), np.inf), interpolation="linear", t0=float(grid[0]),
        n_iter=0, info={"solver": solver, "loss": loss, "penalty": penalty, "empty": True},
    )


def lbi_path(X, Y, *, loss="squared", penalty="l1", groups=None, kappa=10.0, alpha=None,
             n_times=100, t_ratio=100.0, times=None, fit_intercept=True, normalize=True,
             epsilon=1.35, sample_weight=None, max_iter=None, record_duals=False,
             design: Design | None = None, verbose: int = 0) -> RegularizationPath:
    """LBI regularization path for a smooth loss with an l1 or group penalty.

    ``Y`` is (n, K): targets for squared / huber, a 0/1 column for logistic, one-hot
    for multinomial. Returns coefficients of shape (n_times, p, K). With ``verbose``
    a progress line is printed at every tenth of the time grid.
    """
    n, p = X.shape
    Y = np.asarray(Y, dtype=float)
    K = Y.shape[1]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    w = w / w.mean()
    loss_code = LOSSES[loss]
    # The squared loss iterates on Gram columns. Weights enter a dense design as
    # sqrt(w)-scaled rows; a weighted sparse design (whose rows cannot be scaled under
    # implicit centering) uses the full weighted Gram matrix, or the direct way when p
    # is too large for it.
    weighted_sparse = sp.issparse(X) and sample_weight is not None
    full_gram = p <= max(n, _FULL_GRAM_MAX_FEATURES)
    # without the full Gram matrix the loop keeps a working set, which leaves the
    # duals of far coordinates stale between batches: recording them needs the direct way
    gram_mode = loss == "squared" and (full_gram or not (weighted_sparse or record_duals))
    if design is None:
        design = prepare_design(X, center=fit_intercept, normalize=normalize,
                                sample_weight=None if sample_weight is None else w,
                                sqrt_weight_rows=gram_mode and not weighted_sparse)
    elementwise, gptr, gidx = _penalty_arrays(penalty, groups, p, K)

    # the path runs on Y / y_unit; coefficients and intercepts are scaled back at the end
    Y, y_unit = _standardized_target(design, Y, w, fit_intercept, loss)
    delta = float(epsilon) if loss == "huber" else 0.0
    b0 = _initial_intercept(loss, Y, w, delta) if (fit_intercept or gram_mode) else np.zeros(K)
    if gram_mode:
        if not fit_intercept:
            b0 = np.zeros(K)
        row_w = w if weighted_sparse else np.sqrt(w)
        c = design.transpose_product((Y - b0) * row_w[:, None]) / n
        grad0 = -c
        H = design.gram(w if weighted_sparse else None) if full_gram else _EMPTY_F
    else:
        eta = np.asfortranarray(np.broadcast_to(b0, (n, K)), dtype=float)
        G = np.zeros((n, K), order="F")
        _kernels._losses.loss_derivative(eta, np.asfortranarray(Y), w, loss_code, delta, G)
        grad0 = design.transpose_product(G) / n
        c = np.zeros((p, K))
        H = _EMPTY_F
    norm0 = _penalty_norm(grad0, elementwise, gptr, gidx)
    if not norm0 > 1e-12 * max(1.0, np.abs(Y).max()):
        return _empty_path(1.0, n_times, t_ratio, times, p, K, b0 * y_unit, "lbi", loss,
                           penalty)
    t0 = 1.0 / norm0
    z0 = np.ascontiguousarray(-grad0 / norm0)
    if elementwise:
        z0 = np.clip(z0, -1.0, 1.0)

    if H.shape[0]:
        lam = float(np.linalg.eigvalsh(H)[-1])
    else:
        lam = design.spectral_norm_sq(None if sample_weight is None or gram_mode else w)
    # curvature bound of the loss: ||X^T W X / n|| times 1, 1/4 (logistic), 1/2 (multinomial)
    curvature = lam / _STEP_CONSTANT[loss]
    alpha_given = alpha
    if alpha is None:
        alpha = 1.0 / (kappa * max(curvature, 1e-300))
    elif kappa * alpha * curvature >= 2.0:
        raise ValueError(
            f"The step alpha={alpha:g} makes LBI diverge: kappa * alpha * L = "
            f"{kappa * alpha * curvature:.3g} >= 2, where L = {curvature:.4g} bounds the "
            f"curvature of the {loss} loss. Use alpha < {2.0 / (kappa * curvature):.4g}, or "
            "alpha=None for the default step."
        )
    grid = np.asarray(times, dtype=float) if times is not None else time_grid(t0, n_times, t_ratio)
    budget = iteration_budget(t0, float(grid[-1]), alpha, max_iter, kappa=kappa,
                              t_ratio=None if times is not None else t_ratio)

    # the default step adapts to the active block (squared loss); a given alpha is fixed
    adaptive = alpha_given is None and gram_mode
    out = _kernels.lbi_path(
        *design.args, np.asfortranarray(Y), w, loss_code, delta, gram_mode, np.ascontiguousarray(H),
        np.ascontiguousarray(c), z0, np.asarray(b0, dtype=float), bool(fit_intercept and not gram_mode),
        t0, float(alpha), float(kappa), elementwise, gptr, gidx, grid, budget, record_duals,
        adaptive, _ADAPTIVE_STEP * _STEP_CONSTANT[loss],
        (float(np.max(np.diag(H))) if H.shape[0] else design.diag_max()) if adaptive else 1.0,
        np.asarray(_WORKING_SET_REACH, dtype=float), int(verbose))
    coefs, intercepts, duals, entry, n_iter, status, t_end, *_ = out
    if status == _DIVERGED:
        raise FloatingPointError(
            f"LBI diverged at t={t_end:.4g}: the step alpha={alpha:.4g} is too large for "
            f"kappa={kappa:g} (stability needs kappa * alpha * ||X^T X / n|| < 2). "
            "Use alpha=None for a safe default step or lower alpha."
        )
    if coefs.shape[0] < grid.shape[0]:
        warnings.warn(
            f"The path stopped at t={t_end:.4g} after max_iter={budget} iterations, before the "
            f"last requested time {grid[-1]:.4g}; {coefs.shape[0]} of {grid.shape[0]} record times "
            "were reached. Increase max_iter, lower kappa or t_ratio.",
            ConvergenceWarning, stacklevel=3,
        )
        grid = grid[: coefs.shape[0]]
    coefs, intercepts = _to_original_scale(coefs, intercepts, design, gram_mode and fit_intercept,
                                           b0 if gram_mode else None, y_unit)
    return _path_in_dtype(RegularizationPath(
        times=grid, coefs=coefs, intercepts=intercepts, entry_times=entry,
        interpolation="linear", t0=t0, duals=duals if record_duals else None, n_iter=int(n_iter),
        info={"solver": "lbi", "loss": loss, "penalty": penalty, "kappa": float(kappa),
              "alpha": float(alpha), "delta": float(delta * y_unit), "y_scale": float(y_unit)},
    ), design.dtype)


def _to_original_scale(coefs, intercepts, design, add_mean, y_mean, y_unit=1.0):
    """Map standardized coefficients to the data's scale, intercepts accordingly.

    ``y_unit`` is the unit the target was divided by (:mod:`sparsestat._units`).
    """
    coefs = coefs * (y_unit / design.scale[None, :, None])
    shift = np.einsum("p,tpk->tk", design.mean, coefs)
    if add_mean:
        intercepts = y_unit * np.broadcast_to(y_mean, intercepts.shape) - shift
    else:
        intercepts = y_unit * intercepts - shift
    return coefs, np.ascontiguousarray(intercepts)


def iss_path(X, Y, *, n_times=100, t_ratio=100.0, times=None, fit_intercept=True,
             normalize=True, sample_weight=None, max_iter=None, record_duals=False,
             tol=1e-10, verbose=0) -> RegularizationPath:
    """The exact inverse scale space path of the squared loss with the l1 penalty.

    Each target column has its own path (the problem separates); the time grid is
    shared and starts at the earliest ``t0`` over targets. A float32 ``X`` is kept
    in float32 (standardized copy and returned path); sums stay in float64. With
    ``verbose > 0`` progress is printed about every tenth of the grid.
    """
    n, p = X.shape
    Y = np.asarray(Y, dtype=float)
    K = Y.shape[1]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    w = w / w.mean()
    weighted_sparse = sp.issparse(X) and sample_weight is not None
    design = prepare_design(X, center=fit_intercept, normalize=normalize,
                            sample_weight=None if sample_weight is None else w,
                            sqrt_weight_rows=not weighted_sparse)
    # the path runs on Y / y_unit; coefficients and intercepts are scaled back at the end
    Y, y_unit = standardize_target(Y, w, fit_intercept)
    y_mean = (w @ Y) / w.sum() if fit_intercept else np.zeros(K)
    row_w = w if weighted_sparse else np.sqrt(w)
    C = design.transpose_product((Y - y_mean) * row_w[:, None]) / n
    cmax = np.max(np.abs(C), axis=0)
    if not np.all(cmax > 1e-12 * max(1.0, np.abs(Y).max())):
        if np.all(cmax <= 1e-12 * max(1.0, np.abs(Y).max())):
            path = _empty_path(1.0, n_times, t_ratio, times, p, K, y_mean * y_unit, "iss",
                               "squared", "l1")
            path.interpolation = "previous"
            return _path_in_dtype(path, design.dtype)
        cmax = np.where(cmax > 0, cmax, np.inf)
    t0 = float(1.0 / cmax.max())
    grid = np.asarray(times, dtype=float) if times is not None else time_grid(t0, n_times, t_ratio)
    if weighted_sparse and p > 5000:
        raise ValueError("solver='iss' with sample_weight and a sparse X needs p <= 5000; "
                         "pass a dense X or use solver='lbi'.")
    # Gram mode (velocity from rows of X^T X / n) pays off when p <= n; otherwise each
    # solve costs one product with the design, as in LARS
    H = design.gram(w if weighted_sparse else None) if (p <= n or weighted_sparse) else _EMPTY_F
    H = np.ascontiguousarray(H)
    max_knots = int(max_iter) if max_iter is not None else 50 * (p + n) + 100
    m = grid.shape[0]
    coefs = np.zeros((m, p, K))
    duals = np.zeros_like(coefs) if record_duals else None
    entry = np.empty((p, K))
    counts = np.zeros(_kernels._iss.N_ISTATE, dtype=np.int64)
    reached = m
    stops = sorted({min(m, int(np.ceil(m * k / 10))) for k in range(1, 11)}) if verbose else [m]
    for k in range(K):
        if not np.isfinite(cmax[k]):  # this target is uncorrelated with every feature
            entry[:, k] = np.inf
            continue
        c = np.ascontiguousarray(C[:, k])
        t0_k = float(1.0 / cmax[k])
        rho = c / cmax[k]
        istate = np.zeros(_kernels._iss.N_ISTATE, dtype=np.int64)
        # beta = 0 up to and including t0 (the path is left-continuous in t)
        before = int(np.searchsorted(grid, t0_k, side="right"))
        istate[_kernels._iss.GI] = before
        # one target records in place (a C-contiguous view), several through a buffer
        ck = coefs[:, :, 0] if K == 1 else np.zeros((m, p))
        dk = duals[:, :, 0] if K == 1 and record_duals else \
            np.zeros((m if record_duals else 0, p))
        if record_duals:
            dk[:before] = rho + (grid[:before, None] - t0_k) * c
        in_a = np.abs(rho) >= 1.0
        rho[in_a] = np.sign(rho[in_a])
        sign = np.where(in_a, rho, 0.0)
        state = (rho, np.zeros(p), c.copy(), sign, in_a, np.empty(p, dtype=np.int64))
        L = np.zeros((16, 16))
        XFt = np.empty((0, n if H.shape[0] == 0 and not design.is_sparse else 0))
        ek = np.full(p, np.inf)
        fstate = np.array([t0_k, cmax[k]])
        for stop in stops:
            if stop <= istate[_kernels._iss.GI] and stop < m:
                continue
            L, XFt = _kernels.iss_path(
                *design.args, n, H, c, grid, stop, max_knots, record_duals, tol, *state, L, XFt,
                ck, dk, ek, istate, fstate)
            if verbose:
                _kernels._progress.report(
                    "ISS" if K == 1 else f"ISS, target {k + 1}/{K}", float(fstate[0]),
                    int(istate[_kernels._iss.GI]), m, int(istate[_kernels._iss.NF]),
                    int(istate[_kernels._iss.KNOTS]))
            if istate[_kernels._iss.STATUS] != _kernels._iss.PAUSED:
                break
        gi = int(istate[_kernels._iss.GI])
        reached = min(reached, gi)
        if K > 1:
            coefs[:gi, :, k] = ck[:gi]
        if record_duals:
            if K > 1:
                duals[:gi, :, k] = dk[:gi]
        entry[:, k] = ek
        counts += istate
    n_knots = int(counts[_kernels._iss.KNOTS])
    if reached < m:
        warnings.warn(
            f"The ISS path stopped after max_iter={max_knots} knots before the last requested "
            f"time; {reached} of {m} record times were reached.",
            ConvergenceWarning, stacklevel=3,
        )
        grid, coefs = grid[:reached], coefs[:reached]
        duals = None if duals is None else duals[:reached]
    coefs, intercepts = _to_original_scale(coefs, np.zeros((grid.shape[0], K)), design,
                                           fit_intercept, y_mean, y_unit)
    path = RegularizationPath(
        times=grid, coefs=coefs, intercepts=intercepts, entry_times=entry,
        interpolation="previous", t0=t0, duals=duals, n_iter=n_knots,
        info={"solver": "iss", "loss": "squared", "penalty": "l1", "y_scale": float(y_unit),
              "mode": "gram" if H.shape[0] else "design",
              "joins": int(counts[_kernels._iss.JOINS]), "drops": int(counts[_kernels._iss.DROPS]),
              "solves": int(counts[_kernels._iss.SOLVES])},
    )
    return _path_in_dtype(path, design.dtype)


def _path_in_dtype(path, dtype):
    """Coefficients and intercepts in the design's floating type (float32 kept when given)."""
    if dtype != np.float64:
        path.coefs = path.coefs.astype(dtype)
        path.intercepts = path.intercepts.astype(dtype)
        if path.duals is not None:
            path.duals = path.duals.astype(dtype)
    return path


@dataclass
class SplitPath:
    """The two paths of Split LBI: the fit ``beta`` and the sparse ``gamma = D beta``.

    Attributes
    ----------
    beta_path : RegularizationPath
        ``beta`` (coefs of shape (n_times, p)) with its intercepts.
    gamma_path : RegularizationPath
        ``gamma`` over the rows of D (coefs (n_times, m), entry_times (m,)).
    D : ndarray or sparse matrix of shape (m, p)
        The structure operator, on the data's scale.
    nu, kappa, alpha : float
        Coupling, damping and step used.
    """

    beta_path: RegularizationPath
    gamma_path: RegularizationPath
    D: object
    nu: float
    kappa: float
    alpha: float

    def sparse_coef_at(self, t: float) -> np.ndarray:
        """``beta`` projected onto ``ker D_S`` with ``S`` the rows where ``gamma(t) = 0``.

        This is the estimate whose structure ``D beta`` is exactly as sparse as
        ``gamma(t)``.
        """
        beta = self.beta_path.coef_at(t)
        zero_rows = ~self.gamma_path.support_at(t)
        if not np.any(zero_rows):
            return beta
        D = self.D.toarray() if sp.issparse(self.D) else np.asarray(self.D)
        Ds = D[zero_rows]
        x = np.linalg.lstsq(Ds, Ds @ beta, rcond=None)[0]
        return beta - x


def _as_csr(D):
    D = sp.csr_matrix(D, dtype=float)
    D.sum_duplicates()
    return D


def split_lbi_path(X, y, D, *, penalty="l1", groups=None, kappa=10.0, alpha=None, nu=None,
                   n_times=100, t_ratio=100.0, times=None, fit_intercept=True, normalize=True,
                   max_iter=None) -> SplitPath:
    """Split LBI path of ``gamma = D beta`` for the squared loss.

    ``X`` is (n, p), ``y`` (n,), ``D`` (m, p) dense or sparse. Defaults follow the
    reference code: ``nu = ||D||^2 / ||X^T X / n||`` and
    ``alpha = nu / (kappa (1 + nu ||X^T X / n|| + ||D||^2))``.
    """
    n, p = X.shape
    y = np.asarray(y, dtype=float).ravel()
    if D.shape[1] != p:
        raise ValueError(
            f"D must have one column per feature: X has {p} features but D has shape {D.shape}."
        )
    if not np.all(np.isfinite(D.data if sp.issparse(D) else np.asarray(D, dtype=float))):
        raise ValueError("D contains NaN or infinity; the structure operator must be finite.")
    design = prepare_design(X, center=fit_intercept, normalize=normalize)
    # the path runs on y / y_unit; beta, gamma and the intercept are scaled back at the end
    Ys, y_unit = standardize_target(y[:, None], np.ones(n), fit_intercept)
    y = Ys[:, 0]
    y_mean = float(y.mean()) if fit_intercept else 0.0
    yc = y - y_mean
    D_std = _as_csr(D) @ sp.diags(1.0 / design.scale)
    D_std = _as_csr(D_std)
    m = D_std.shape[0]
    use_gram = p <= max(n, 2000)
    H = design.gram() if use_gram else _EMPTY_F
    c = design.transpose_product(yc[:, None]).ravel() / n
    lam_x = float(np.linalg.eigvalsh(H)[-1]) if use_gram else design.spectral_norm_sq()
    d_norm_sq = float(np.linalg.norm(D_std.toarray(), 2) ** 2) if min(D_std.shape) <= 2000 else \
        float(eigsh(D_std.T @ D_std, k=1, return_eigenvectors=False)[0])
    if d_norm_sq <= 0:
        raise ValueError("D is zero: the structure operator must have at least one nonzero entry.")
    if nu is None:
        nu = d_norm_sq / max(lam_x, 1e-300)
    elif not (d_norm_sq / nu < 1e150 and nu * lam_x < 1e150):
        default = d_norm_sq / max(lam_x, 1e-300)
        raise ValueError(
            f"nu={nu:g} is out of range for this problem: the coupling ||gamma - D beta||^2 / "
            f"(2 nu) needs nu within a few orders of magnitude of the default "
            f"||D||^2 / ||X^T X / n|| = {default:.4g} (on the standardized problem). Use "
            "nu=None or a value near it."
        )
    if alpha is None:
        alpha = nu / (kappa * (1.0 + nu * lam_x + d_norm_sq))
    # analytic start: beta minimizes the loss with gamma = 0
    DtD = (D_std.T @ D_std).toarray()
    Hfull = H if use_gram else design.gram()
    beta0 = np.linalg.lstsq(Hfull + DtD / nu, c, rcond=None)[0]
    grad_gamma = -(D_std @ beta0) / nu
    elementwise, gptr, gidx = _penalty_arrays(penalty, groups, m, 1)
    norm0 = _penalty_norm(grad_gamma[:, None], elementwise, gptr, gidx)
    if norm0 <= 1e-14 * max(1.0, float(np.abs(beta0).max(initial=0.0))):
        raise ValueError(
            "The Split LBI path is empty: D beta vanishes at the start (the fit is already "
            "structurally sparse). Check D and y."
        )
    t0 = 1.0 / norm0
    z0 = np.ascontiguousarray(-grad_gamma / norm0)
    if elementwise:
        z0 = np.clip(z0, -1.0, 1.0)
    grid = np.asarray(times, dtype=float) if times is not None else time_grid(t0, n_times, t_ratio)
    budget = iteration_budget(t0, float(grid[-1]), alpha, max_iter, kappa=kappa,
                              t_ratio=None if times is not None else t_ratio)
    betas, gammas, entry, n_iter, status, t_end, *_ = _kernels.split_lbi_path(
        *design.args, yc, use_gram, H, c, D_std.data, D_std.indices.astype(np.int64),
        D_std.indptr.astype(np.int64), float(nu), beta0, z0, t0, float(alpha), float(kappa),
        elementwise, gptr, gidx, grid, budget)
    if status == _DIVERGED:
        raise FloatingPointError(
            f"Split LBI diverged at t={t_end:.4g}: the step alpha={alpha:.4g} is too large; "
            "use alpha=None for a safe default."
        )
    if betas.shape[0] < grid.shape[0]:
        warnings.warn(
            f"The Split LBI path stopped at t={t_end:.4g} after max_iter={budget} iterations; "
            f"{betas.shape[0]} of {grid.shape[0]} record times were reached.",
            ConvergenceWarning, stacklevel=3,
        )
        grid = grid[: betas.shape[0]]
    coefs = betas * (y_unit / design.scale[None, :])
    gammas = gammas * y_unit
    intercepts = y_mean * y_unit - coefs @ design.mean
    info = {"solver": "split_lbi", "kappa": float(kappa), "alpha": float(alpha), "nu": float(nu),
            "y_scale": float(y_unit)}
    nonzero = coefs != 0  # beta is not penalized: its "entry" is its first nonzero record
    beta_entry = np.where(nonzero.any(axis=0), grid[np.argmax(nonzero, axis=0)], np.inf)
    beta_path = RegularizationPath(times=grid, coefs=coefs, intercepts=intercepts,
                                   entry_times=beta_entry, interpolation="linear",
                                   t0=t0, n_iter=int(n_iter), info=info)
    gamma_path = RegularizationPath(times=grid, coefs=gammas, intercepts=np.zeros(grid.shape[0]),
                                    entry_times=entry, interpolation="linear", t0=t0,
                                    n_iter=int(n_iter), info=info)
    return SplitPath(beta_path, gamma_path, D, float(nu), float(kappa), float(alpha))


def lbi_path_operator(apply_gradient, z0, t0: float, *, kappa: float, alpha: float, times,
                      penalty="l1", groups=None, max_iter=None, record_duals=False,
                      info=None) -> RegularizationPath:
    """LBI path for a loss known only through its gradient, a Python callable.

    For models whose gradient needs an operator the kernels cannot hold (for
    example a projection applied with sparse linear solves). The iteration is
    the one of :func:`lbi_path` without an intercept::

        z_{k+1} = z_k - alpha * apply_gradient(B_k)
        B_{k+1} = kappa * prox(z_{k+1})          t_{k+1} = t_k + alpha

    and the path is recorded and entry times are solved with the same numba
    helpers (``prox_inplace``, ``record_entries`` and the kernel's recorder).
    Python runs once per iteration, so use it when an iteration costs much more
    than a call (a sparse solve), and the numba loop otherwise.

    Parameters
    ----------
    apply_gradient : callable
        ``apply_gradient(B) -> grad`` with ``B`` and ``grad`` of shape (p, K).
        It must not keep or modify ``B``.
    z0 : ndarray of shape (p, K) or (p,)
        Dual variable at ``t0`` (usually ``-t0 * grad(0)``, on the unit ball).
    t0 : float
        Start time; the path is zero at times ``<= t0``.
    kappa, alpha : float
        Damping and step.
    times : ndarray
        Increasing record times (``>= t0`` for a non-empty record).
    penalty, groups :
        As in :func:`lbi_path`.
    max_iter : int or None
        Iteration budget (default: enough to reach the last record time).
    record_duals : bool
        Also record ``rho = z - prox(z)``.
    info : dict or None
        Extra entries for the path's ``info``.

    Returns
    -------
    RegularizationPath
        Coefficients of shape (n_times, p, K); intercepts are zero.
    """
    z = np.array(z0, dtype=float, order="C")
    if z.ndim == 1:
        z = z[:, None]
    p, K = z.shape
    elementwise, gptr, gidx = _penalty_arrays(penalty, groups, p, K)
    grid = np.ascontiguousarray(times, dtype=float)
    n_times = grid.shape[0]
    needed = int(np.ceil(max(grid[-1] - t0, 0.0) / alpha)) + 1 if n_times else 1
    budget = needed if max_iter is None else int(max_iter)
    coefs = np.zeros((n_times, p, K))
    intercepts = np.zeros((n_times, K))
    duals = np.zeros((n_times if record_duals else 0, p, K))
    entry = np.full((p, K), np.inf)
    B = np.zeros((p, K))
    z_new = np.empty((p, K))
    zz = np.empty((p, K))
    tmp = np.empty((p, K))
    b = np.zeros(K)
    gi = 0
    while gi < n_times and grid[gi] <= t0:
        if record_duals:
            _kernels._prox.dual_inplace(z, tmp, elementwise, gptr, gidx)
            duals[gi] = tmp
        gi += 1
    t = float(t0)
    n_iter = 0
    while gi < n_times and n_iter < budget:
        grad = np.asarray(apply_gradient(B), dtype=float).reshape(p, K)
        np.multiply(grad, -alpha, out=z_new)
        z_new += z
        big = float(np.max(np.abs(z_new), initial=0.0))  # NaN / inf propagate
        if not np.isfinite(big) or kappa * big > 1e100:
            raise FloatingPointError(
                f"LBI diverged at t={t:.4g}: the step alpha={alpha:.4g} is too large for "
                f"kappa={kappa:g}; lower alpha (kappa * alpha * ||Hessian|| must stay below 2)."
            )
        _kernels._prox.record_entries(z, z_new, t, alpha, entry, elementwise, gptr, gidx)
        gi = _kernels._lbi._record(z, z_new, b, b, t, alpha, grid, gi, kappa, elementwise,
                                   gptr, gidx, coefs, intercepts, duals, zz, tmp)
        z, z_new = z_new, z
        _kernels._prox.prox_inplace(z, B, kappa, elementwise, gptr, gidx)
        t += alpha
        n_iter += 1
    if gi < n_times:
        warnings.warn(
            f"The path stopped at t={t:.4g} after max_iter={budget} iterations, before the "
            f"last requested time {grid[-1]:.4g}; {gi} of {n_times} record times were reached. "
            "Increase max_iter, lower kappa or t_ratio.",
            ConvergenceWarning, stacklevel=3,
        )
    details = {"solver": "lbi_operator", "penalty": penalty, "kappa": float(kappa),
               "alpha": float(alpha)}
    details.update(info or {})
    return RegularizationPath(
        times=grid[:gi], coefs=coefs[:gi], intercepts=intercepts[:gi], entry_times=entry,
        interpolation="linear", t0=float(t0), duals=duals[:gi] if record_duals else None,
        n_iter=n_iter, info=details,
    )


def projected_shift_path(Q, Y, *, penalty="l1", weights=None, kappa=100.0, alpha=None,
                         n_times=100, t_ratio=100.0, times=None, max_active=None,
                         min_entries=0, max_iter=None, z_start=None, t_start=0.0,
                         max_nnz=None):
    """LBI path of a sparse shift ``G`` seen through the implicit projection ``I - Q Q^T``.

    The loss is ``||(I - Q Q^T)(Y - G)||^2 / (2n)`` with the penalty
    ``sum_i weights_i * pen(G_i)`` over the rows of ``G`` (l1 entrywise, or
    the row 2-norm for ``penalty='group'``). With ``Q`` an orthonormal basis
    of ``[1, X]`` this is the mean-shift outlier model ``Y = X B + G + E``
    (DESIGN.md section 3): the gradient ``(I - Q Q^T)(G - Y) / n`` costs two
    thin products and neither the hat matrix nor ``U_2`` is formed.

    Parameters
    ----------
    Q : ndarray of shape (n, r)
        Orthonormal columns (``Q^T Q = I``), ``r < n``.
    Y : ndarray of shape (n, K)
        Targets.
    penalty : {'l1', 'group'}, default='l1'
        ``'group'`` groups each row of ``G`` (a sample across the K targets).
    weights : ndarray of shape (n,), default=None
        Positive per-row penalty weights (``None``: ones). A row enters when
        its normalized dual ``z_i / weights_i`` reaches the unit sphere.
    kappa, alpha : float
        Damping and step (``None``: ``n / kappa``, the stable step, since the
        Hessian ``(I - Q Q^T) / n`` has norm ``1 / n``).
    n_times, t_ratio, times :
        Record grid, as in :func:`lbi_path`.
    max_active : int, default=None
        Stop the path once more rows than this are nonzero (``None``: ``n``).
    min_entries : int, default=0
        Iterate past the last record time until this many rows have entered.
    max_iter : int, default=None
        Iteration budget.
    z_start : ndarray of shape (n, K), default=None
        Start the path at ``t_start`` from this normalized dual variable
        (``z_i / weights_i``) instead of the analytic jump from zero. Rows
        outside the unit ball start active (``G_i = kappa * weights_i *
        prox(z_i)``), rows on the unit sphere enter at the first step if the
        gradient agrees with their sign. Used to start from a robust fit.
    t_start : float, default=0.0
        Start time when ``z_start`` is given.
    max_nnz : int, default=None
        Memory budget of the recorded path in nonzero rows over all record
        times (``None``: ``max(2 n K, 10^6)``). Past it the record is thinned:
        every other record time is dropped (the path keeps fewer, evenly
        spread times; entry times stay exact).

    Returns
    -------
    SparseRegularizationPath
        ``coefs`` sparse of shape (n_times, n * K); ``info['status']`` is
        ``'ok'``, ``'support'`` (stopped by ``max_active``) or ``'max_iter'``;
        ``info['alpha']`` the step; ``info['t_end']`` the last time reached.
    """
    from sparsestat._kernels._projected import (
        DIVERGED, MAX_ITER, SUPPORT, project_out, projected_lbi_path)
    from sparsestat.path import SparseRegularizationPath

    Q = np.ascontiguousarray(Q, dtype=float)
    Y = np.ascontiguousarray(Y, dtype=float)
    n, K = Y.shape
    omega = np.ones(n) if weights is None else np.ascontiguousarray(weights, dtype=float)
    if omega.shape != (n,) or not np.all(omega > 0):
        raise ValueError("weights must be a positive array with one entry per row of Y.")
    elementwise, gptr, gidx = _penalty_arrays(penalty, None, n, K)
    V = np.empty((n, K))
    project_out(Q, -Y, V)
    g0 = V / n
    scaled = g0 / omega[:, None]
    if elementwise:
        norm0 = float(np.max(np.abs(scaled), initial=0.0))
    else:
        norm0 = float(np.max(np.sqrt(np.sum(scaled ** 2, axis=1)), initial=0.0))
    if not np.isfinite(norm0) or norm0 <= 1e-14 * max(1.0, float(np.abs(Y).max())) / n:
        raise ValueError(
            "The shift path is empty: the targets are fitted exactly by the projection's "
            "range (zero residuals). Check that y is not constant or an exact linear "
            "function of X."
        )
    if z_start is None:
        t0 = 1.0 / norm0
        z0 = np.ascontiguousarray(-scaled / norm0)
        if elementwise:
            z0 = np.clip(z0, -1.0, 1.0)
    else:
        t0 = float(t_start)
        z0 = np.array(z_start, dtype=float, order="C").reshape(n, K)
    if alpha is None:
        alpha = n / float(kappa)
    grid = np.asarray(times, dtype=float) if times is not None else time_grid(t0, n_times, t_ratio)
    needed = int(np.ceil(max(grid[-1] - t0, 0.0) / alpha)) + 1
    budget = int(max_iter) if max_iter is not None else needed + (10 * needed + 100
                                                                   if min_entries else 0)
    cap = n if max_active is None else int(max_active)
    nnz_cap = max(2 * n * K, 10 ** 6) if max_nnz is None else int(max_nnz)
    ptr, rows, vals, rec, entry, n_iter, status, t_end, _, _ = projected_lbi_path(
        Q, Y, omega, z0, float(t0), float(alpha), float(kappa), elementwise, gptr, gidx,
        np.ascontiguousarray(grid), budget, cap, int(min_entries), nnz_cap)
    if status == DIVERGED:
        raise FloatingPointError(
            f"LBI diverged at t={t_end:.4g}: the step alpha={alpha:.4g} is too large for "
            f"kappa={kappa:g} (stability needs kappa * alpha / n < 2); use alpha=None."
        )
    n_rec = ptr.shape[0] - 1
    if status == MAX_ITER:
        warnings.warn(
            f"The path stopped at t={t_end:.4g} after max_iter={budget} iterations, before "
            f"the last record time {grid[-1]:.4g} (or before min_entries={min_entries} rows "
            "entered). Increase max_iter.",
            ConvergenceWarning, stacklevel=3,
        )
    cols = (rows[:, None] * K + np.arange(K)[None, :]).ravel()
    coefs = sp.csr_matrix((vals.ravel(), cols, ptr * K), shape=(n_rec, n * K))
    coefs.eliminate_zeros()
    names = {0: "ok", 1: "max_iter", SUPPORT: "support"}
    return SparseRegularizationPath(
        times=grid[rec].copy(), coefs=coefs, intercepts=np.zeros((n_rec, K)),
        entry_times=entry, interpolation="linear", t0=float(t0), n_iter=int(n_iter),
        info={"solver": "lbi_projected", "penalty": penalty, "kappa": float(kappa),
              "alpha": float(alpha), "status": names.get(int(status), "max_iter"),
              "t_end": float(t_end)},
        n_targets=K, squeeze=False,
    )


def projected_shift_iss_path(Q, Y, *, weights=None, n_times=100, t_ratio=100.0, times=None,
                             max_active=None, min_entries=0, max_knots=None, z_start=None,
                             t_start=0.0, penalty="l1", tol=1e-10):
    """Exact inverse scale space path of the shift model of :func:`projected_shift_path`.

    The ``kappa -> infinity`` limit of the LBI path, for one target and the
    weighted l1 penalty. Between knots the shift ``G`` is constant and the
    normalized dual moves linearly, ``rho_i' = ((I - QQ^T)(Y - G))_i / (n w_i)``;
    at a knot the rows on the unit sphere solve the sign-constrained least
    squares problem ``min ||(I - QQ^T)(Y - G)||`` over their shifts, i.e. each
    active shift is the residual of its row against the fit without the active
    rows (an ``r x r`` Woodbury solve, ``r`` the columns of ``Q``). One knot
    per entering row, ``O(n r)`` each: meant for small and moderate ``n``.

    Parameters are those of :func:`projected_shift_path` (``max_knots``
    bounds the number of knots); ``Y`` must have one column.

    Returns
    -------
    SparseRegularizationPath
        Interpolation ``'previous'`` (the path is piecewise constant).
    """
    from sparsestat._kernels._projected import project_out
    from sparsestat.path import SparseRegularizationPath

    Q = np.ascontiguousarray(Q, dtype=float)
    Y = np.ascontiguousarray(Y, dtype=float)
    n, K = Y.shape
    if K != 1 or penalty != "l1":
        raise ValueError(
            "The exact ISS shift path handles one target with the l1 penalty; use the LBI "
            "path (solver='lbi') for several targets."
        )
    y = Y[:, 0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    c_res = np.empty((n, 1))
    project_out(Q, Y, c_res)
    c_res = c_res[:, 0]                      # (I - QQ^T) y
    scale = max(float(np.max(np.abs(c_res))), 1e-300)
    if scale <= 1e-14 * max(1.0, float(np.abs(y).max())):
        raise ValueError(
            "The shift path is empty: the targets are fitted exactly by the projection's "
            "range (zero residuals). Check that y is not constant or an exact linear "
            "function of X."
        )

    def velocity(G):
        V = np.empty((n, 1))
        project_out(Q, (y - G)[:, None], V)
        return V[:, 0] / (n * w)

    if z_start is None:
        v0 = c_res / (n * w)
        t0 = 1.0 / float(np.max(np.abs(v0)))
        rho = np.clip(t0 * v0, -1.0, 1.0)
    else:
        t0 = float(t_start)
        rho = np.clip(np.asarray(z_start, dtype=float).reshape(n), -1.0, 1.0)
    on = np.abs(rho) >= 1.0 - 1e-12
    rho[on] = np.sign(rho[on])
    grid = np.asarray(times, dtype=float) if times is not None else time_grid(t0, n_times, t_ratio)
    cap = n if max_active is None else int(max_active)
    budget = int(max_knots) if max_knots is not None else 4 * n + 10
    G = np.zeros(n)
    free = np.zeros(n, dtype=bool)
    entry = np.full(n, np.inf)
    snapshots, rec_times = [], []
    gi = 0
    while gi < len(grid) and grid[gi] <= t0:
        snapshots.append((np.zeros(0, dtype=np.int64), np.zeros(0)))
        rec_times.append(grid[gi])
        gi += 1

    def solve(F):
        idx = np.flatnonzero(F)
        out = np.zeros(n)
        if idx.size:
            QF = Q[idx]
            M = np.eye(Q.shape[1]) - QF.T @ QF
            rhs = QF.T @ c_res[idx]
            out[idx] = c_res[idx] + QF @ np.linalg.lstsq(M, rhs, rcond=None)[0]
        return out

    t = t0
    status = "max_iter"
    n_knots = 0
    v = velocity(G)
    while n_knots < budget:
        # ---- sign-constrained least squares on the boundary set (active-set loop)
        for _ in range(4 * n + 10):
            want = on & ~free & (rho * v > tol * scale / n)
            if not want.any():
                break
            j = int(np.argmax(np.where(want, rho * v / np.maximum(np.abs(rho), 1), -np.inf)))
            free[j] = True
            G = solve(free)
            bad = free & (G * rho <= 0)
            while bad.any():
                free &= ~bad
                G = solve(free)
                bad = free & (G * rho <= 0)
            v = velocity(G)
        newly = free & ~np.isfinite(entry)
        entry[newly] = t
        # boundary rows at zero whose dual moves inwards leave the boundary
        leave = on & ~free & (rho * v <= tol * scale / n)
        on &= ~leave
        # ---- next knot: the first inactive dual to reach the unit sphere
        moving = ~on & (np.abs(v) > 0)
        dt = np.inf
        nxt = -1
        if moving.any():
            target = np.sign(v[moving])
            steps = (target - rho[moving]) / v[moving]
            k = int(np.argmin(steps))
            dt = float(steps[k])
            nxt = int(np.flatnonzero(moving)[k])
        idx = np.flatnonzero(free)
        while gi < len(grid) and grid[gi] <= t + dt:
            snapshots.append((idx, G[idx].copy()))
            rec_times.append(grid[gi])
            gi += 1
        n_entered = int(np.isfinite(entry).sum())
        if free.sum() > cap:
            status = "support"
            break
        if (gi >= len(grid) and n_entered >= min_entries) or nxt < 0:
            status = "ok"
            break
        rho[~on] += dt * v[~on]
        t += dt
        rho[nxt] = np.sign(v[nxt])
        on[nxt] = True
        n_knots += 1
    if status == "max_iter":
        warnings.warn(
            f"The ISS shift path stopped after max_knots={budget} knots at t={t:.4g}.",
            ConvergenceWarning, stacklevel=3,
        )
    ptr = np.concatenate([[0], np.cumsum([s[0].size for s in snapshots])]).astype(np.int64)
    cols = np.concatenate([s[0] for s in snapshots]) if snapshots else np.zeros(0, np.int64)
    vals = np.concatenate([s[1] for s in snapshots]) if snapshots else np.zeros(0)
    coefs = sp.csr_matrix((vals, cols, ptr), shape=(len(snapshots), n))
    coefs.eliminate_zeros()
    return SparseRegularizationPath(
        times=np.asarray(rec_times), coefs=coefs, intercepts=np.zeros((len(snapshots), 1)),
        entry_times=entry[:, None], interpolation="previous", t0=float(t0),
        n_iter=int(n_knots),
        info={"solver": "iss_projected", "penalty": "l1", "status": status,
              "t_end": float(t)},
        n_targets=1, squeeze=False,
    )
