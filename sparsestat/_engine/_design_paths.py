"""LBI and ISS paths of a design ``X``: :func:`lbi_path` (every loss and
penalty, dense or sparse ``X``) and :func:`iss_path` (the exact homotopy of the
squared loss).

Penalty factors ``f_j`` (the penalty ``sum_j f_j |beta_j|``) enter as an exact
reparametrization: ``u_j = f_j beta_j`` has the plain l1 penalty on the columns
``X_j / f_j`` (:func:`_weigh_columns`), so the path of ``u`` is an ordinary path
and ``beta = u / f``. For ISS, the inverse scale space of the weighted l1 norm,
this is exact. For LBI the damping term ``||u||^2 / (2 kappa)`` becomes
``sum_j f_j^2 beta_j^2 / (2 kappa)``: the same ISS limit and the same entry of a
feature at the first time its weighted dual ``|z_j| / f_j`` reaches 1, with a
damping ``kappa / f_j^2`` per feature.

A factor 0 leaves the feature unpenalized, for every loss and dense or sparse
``X``. In LBI it joins the intercept in the unpenalized block: the kernel gives
it a prox of threshold 0, so it takes plain gradient steps of size
``kappa * alpha``, is active from the start and has entry time 0. Nothing
penalized moves before ``t0``, but the unpenalized block does: the path starts
from the weighted fit of the loss on the intercept and the unpenalized columns
alone (:func:`_unpenalized_fit`, Newton's method; collinear columns and
separated classes are refused) and ``t0`` is read off the gradient there. ISS,
the exact path, keeps the unpenalized block at its least-squares fit given the
penalized one at every time: it is minimized out of the Gram matrix
(:class:`_Profile`), which leaves a sparse ``X`` sparse.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from sparsestat import _kernels
from sparsestat._engine._design import (
    Design, _EMPTY_F, _EMPTY_I, _FULL_GRAM_MAX_FEATURES, _WORKING_SET_REACH, prepare_design)
from sparsestat._engine._grid import _path_in_dtype, _to_original_scale, empty_path, time_grid
from sparsestat._engine._penalties import (
    _penalty_arrays, _penalty_norm, check_penalty_factor, start_dual)
from sparsestat._engine._targets import _initial_intercept, _standardized_target
from sparsestat._kernels._losses import HUBER, LOGISTIC, MULTINOMIAL, POISSON, SQUARED
from sparsestat._kernels._status import DIVERGED, PAUSED
from sparsestat._units import iteration_budget, standardize_target
from sparsestat.path import RegularizationPath

LOSSES = {"squared": SQUARED, "huber": HUBER, "logistic": LOGISTIC, "multinomial": MULTINOMIAL,
          "poisson": POISSON}
# step constant c in alpha = c / (kappa * ||X^T W X / n||): the loss's curvature bound
# (Poisson: the curvature is that of the reference weights, see _poisson_reference)
_STEP_CONSTANT = {"squared": 1.0, "huber": 1.0, "logistic": 4.0, "multinomial": 2.0,
                  "poisson": 1.0}
# a default Poisson step that still diverges is halved at most this many times
_POISSON_HALVINGS = 4
# the default (adaptive) step of the squared loss: damped Runge-Kutta-Chebyshev super-steps of
# this fraction of the time t each (ended at the grid times), with as many stages as the
# active block's stiffness needs; on a log-spaced grid that is about five per grid interval,
# and the path stays within a few percent of a fine explicit step's
_RELATIVE_STEP = 0.01

_NO_CORRELATION = (
    "no feature is correlated with the target (the gradient at zero vanishes, e.g. y is "
    "constant or every column of X is constant). The fit is the intercept-only model.")


def _poisson_reference(Y, w):
    """Row weights ``m_i = max_k max(y_ik, ybar_k)`` whose ``||X^T diag(w m) X / n||``
    sizes the Poisson step.

    The Poisson curvature ``X^T diag(w mu) X / n`` is unbounded in ``eta``; along
    the path the fitted mean ``mu`` moves from the weighted mean count ``ybar``
    (the start) towards the counts ``y`` (the fit at the path's end, where
    ``sum w mu x = sum w y x``). The step ``1 / (kappa L_ref)`` is stable while the
    true curvature stays below ``2 L_ref``: a factor 2 over this reference.
    """
    ybar = (w @ Y) / w.sum()
    return np.max(np.maximum(Y, ybar[None, :]), axis=1)


def _weigh_columns(design: Design, factor) -> Design:
    """The design whose column ``j`` is the standardized one over ``factor[j] > 0``; its
    ``scale`` carries the factor, so coefficients map back to ``beta_j = u_j / f_j``."""
    f = np.asarray(factor, dtype=float)
    if design.is_sparse:
        data = design.data / np.repeat(f, np.diff(design.indptr)).astype(design.dtype)
        return dataclasses.replace(design, data=data, kernel_mean=design.kernel_mean / f,
                                   scale=design.scale * f)
    dense = np.asfortranarray(design.dense / f.astype(design.dtype))
    return dataclasses.replace(design, dense=dense, scale=design.scale * f)


def _column_block(design: Design, idx) -> Design:
    """The design of the columns ``idx`` alone (a CSC design stays CSC)."""
    idx = np.asarray(idx, dtype=np.int64)
    cols = dict(kernel_mean=design.kernel_mean[idx], mean=design.mean[idx],
                scale=design.scale[idx], n_features=idx.size)
    if design.is_sparse:
        X = sp.csc_matrix((design.data, design.indices, design.indptr),
                          shape=(design.n_samples, design.n_features))[:, idx]
        return dataclasses.replace(design, data=X.data, indices=X.indices.astype(np.int64),
                                   indptr=X.indptr.astype(np.int64), **cols)
    return dataclasses.replace(design, dense=np.asfortranarray(design.dense[:, idx]), **cols)


def _check_free_rank(gram, fit_intercept):
    """Refuse unpenalized columns whose (weighted) Gram matrix ``gram`` is singular."""
    d = np.diag(gram)
    top = max(float(np.max(d, initial=0.0)), 1e-300)
    singular = np.any(d <= 1e-12 * top)
    if not singular:
        scaled = gram / np.sqrt(np.outer(d, d))
        singular = np.linalg.eigvalsh(scaled)[0] <= 1e-10
    if singular:
        raise ValueError(
            "the unpenalized features (penalty_factor=0) are collinear "
            f"{'with the intercept ' if fit_intercept else ''}or with each other (a "
            "constant column, a copy or a linear combination of others); drop the redundant "
            "ones or give them a positive factor.")


def _augmented_gram(block, h, intercept):
    """``A^T diag(h) A / n`` for ``A = [1, X_F]`` (``X_F`` without the intercept)."""
    G = block.gram(h)
    if not intercept:
        return G
    s = block.transpose_product(h[:, None])[:, 0] / block.n_samples
    return np.block([[np.array([[h.sum() / block.n_samples]]), s[None, :]], [s[:, None], G]])


def _curvatures(loss, eta, Y, w, delta):
    """``w_i d^2 loss_i / d eta_ik d eta_im`` as a dict ``(k, m) -> (n,)`` (pairs k <= m)."""
    K = eta.shape[1]
    if loss == "multinomial":
        P = np.exp(eta - eta.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        return {(k, m): w * ((k == m) * P[:, k] - P[:, k] * P[:, m])
                for k in range(K) for m in range(k, K)}
    if loss == "huber":
        h = w[:, None] * (np.abs(eta - Y) <= delta)
    elif loss == "logistic":
        P = 0.5 * (1.0 + np.tanh(0.5 * eta))
        h = w[:, None] * P * (1.0 - P)
    elif loss == "poisson":
        h = w[:, None] * np.exp(np.minimum(eta, 700.0))
    else:
        h = np.broadcast_to(w[:, None], eta.shape)
    return {(k, k): h[:, k] for k in range(K)}


def _no_finite_fit(loss, eta, Y, w):
    """Whether the fit ran off to a boundary: fitted class probabilities or Poisson means
    within ``1e-13`` of 0 (separated classes, a count fitted as exactly zero)."""
    if loss == "logistic":
        return bool(np.max(np.abs(eta)) > 30.0)
    if loss == "multinomial":
        return bool(np.max(eta.max(axis=1) - eta.min(axis=1)) > 30.0)
    if loss == "poisson":
        ybar = (w @ Y) / w.sum()
        return bool(np.min(eta - np.log(ybar)) < -30.0)
    return False


def _unpenalized_fit(block, Y, w, loss, delta, b0, fit_intercept):
    """The weighted fit of ``loss`` on the intercept (when ``fit_intercept``; else it stays
    ``b0``) and the unpenalized columns ``block`` alone, by Newton's method.

    Returns ``(b, U, G)``: the intercept, the coefficients (q, K) and the loss
    derivative ``w * dloss/deta`` there (n, K), whose product with the design is the
    gradient at the start of the penalized block. Collinear columns and a fit that
    runs off to infinity (separated classes) are refused.
    """
    n, q, K = block.n_samples, block.n_features, Y.shape[1]
    code = LOSSES[loss]
    off = int(bool(fit_intercept))
    _check_free_rank(_augmented_gram(block, w, fit_intercept), fit_intercept)
    Yf = np.asfortranarray(Y, dtype=float)

    def evaluate(theta):
        eta = np.empty((n, K), order="F")
        for k in range(K):
            eta[:, k] = block.product(theta[off:, k]) + (theta[0, k] if off else b0[k])
        G = np.zeros((n, K), order="F")
        value = _kernels._losses.loss_derivative(eta, Yf, w, code, delta, G)
        grad = block.transpose_product(G) / n
        if off:
            grad = np.vstack([G.sum(axis=0) / n, grad])
        return eta, value, G, grad

    theta = np.zeros((off + q, K))
    if off:
        theta[0] = b0
    eta, value, G, grad = evaluate(theta)
    tol = 1e-14 * max(1.0, float(np.max(np.abs(grad))))
    m = off + q
    for _ in range(100):
        if np.max(np.abs(grad)) <= tol:
            break
        hess = np.zeros((m, K, m, K))
        for (k, k2), h in _curvatures(loss, eta, Yf, w, delta).items():
            hess[:, k, :, k2] = hess[:, k2, :, k] = _augmented_gram(block, h, fit_intercept)
        direction = np.linalg.lstsq(hess.reshape(m * K, m * K), grad.ravel(),
                                    rcond=1e-13)[0].reshape(m, K)
        slope = float(grad.ravel() @ direction.ravel())
        s = 1.0
        while True:   # backtracking: the loss must fall (Armijo)
            trial = evaluate(theta - s * direction)
            if trial[1] <= value - 1e-4 * s * slope or s < 1e-12:
                break
            s /= 2.0
        if not trial[1] <= value:
            break     # at the rounding floor
        theta = theta - s * direction
        eta, value, G, grad = trial
    if _no_finite_fit(loss, eta, Yf, w) or not np.max(np.abs(grad)) <= 1e-8 * max(1.0, tol * 1e14):
        raise ValueError(
            f"the unpenalized features (penalty_factor=0) have no finite {loss} fit: they "
            "separate the classes (or fit some counts as exactly zero), so their coefficients "
            "would be infinite. Give them a positive factor or drop the separating ones.")
    b = theta[0] if off else np.asarray(b0, dtype=float)
    return b, theta[off:], G


class _Profile:
    """The squared-loss problem with the unpenalized features ``free`` minimized out, in
    Gram form: the penalized block sees the Schur complement ``H_PP - H_PF H_FF^{-1} H_FP``
    and ``c_P - H_PF H_FF^{-1} c_F``, and at every time the unpenalized coefficients are
    the least-squares fit ``H_FF^{-1} (c_F - H_FP beta_P)`` given the penalized ones."""

    def __init__(self, H, C, free, fit_intercept):
        p = H.shape[0]
        self.free = np.asarray(free, dtype=np.int64)
        self.pen = np.setdiff1d(np.arange(p), self.free)
        H_FF = H[np.ix_(self.free, self.free)]
        _check_free_rank(H_FF, fit_intercept)
        self.S = np.linalg.solve(H_FF, H[np.ix_(self.free, self.pen)])
        self.U0 = np.linalg.solve(H_FF, C[self.free])
        self.H = np.ascontiguousarray(H[np.ix_(self.pen, self.pen)]
                                      - H[np.ix_(self.pen, self.free)] @ self.S)
        self.C = C[self.pen] - self.S.T @ C[self.free]

    def expand(self, coefs, entry, duals):
        """Full arrays over all features from those of the penalized block."""
        full = np.zeros((coefs.shape[0], self.pen.size + self.free.size, coefs.shape[2]))
        full[:, self.pen] = coefs
        full[:, self.free] = self.U0[None] - np.einsum("fp,tpk->tfk", self.S, coefs)
        entry_full = np.zeros((full.shape[1], entry.shape[1]))
        entry_full[self.pen] = entry
        if duals is not None:
            d = np.zeros_like(full)
            d[:, self.pen] = duals
            duals = d
        return full, entry_full, duals


def _with_free_fit(path, design, free, U0, b0, y_unit):
    """An empty path with the unpenalized features at their fit (entry time 0)."""
    if not free.size:
        return path
    coefs = np.zeros((1,) + path.coefs.shape[1:])
    coefs[0, free] = U0
    coefs, intercepts = _to_original_scale(coefs, np.asarray(b0, dtype=float)[None], design,
                                           False, None, y_unit)
    m = path.times.shape[0]
    path.coefs = np.repeat(coefs, m, axis=0)
    path.intercepts = np.repeat(intercepts, m, axis=0)
    path.entry_times[free] = 0.0
    return path


def _record_times(times, n_times, t_ratio):
    """The given record times, or the default grid of a path whose first entry would be at 1."""
    return np.asarray(times, dtype=float) if times is not None else \
        time_grid(1.0, n_times, t_ratio)


def lbi_path(X, Y, *, loss="squared", penalty="l1", groups=None, kappa=10.0, alpha=None,
             n_times=100, t_ratio=100.0, times=None, fit_intercept=True, normalize=True,
             epsilon=1.35, sample_weight=None, max_iter=None, record_duals=False,
             design: Design | None = None, verbose: int = 0,
             penalty_factor=None) -> RegularizationPath:
    """LBI regularization path for a smooth loss with an l1 or group penalty.

    ``Y`` is (n, K): targets for squared / huber, a 0/1 column for logistic, one-hot
    for multinomial, counts for poisson. Returns coefficients of shape (n_times, p, K).
    With ``verbose`` a progress line is printed at every tenth of the time grid.
    ``penalty_factor`` weighs the l1 penalty per feature (see the module docstring).
    """
    n, p = X.shape
    factor = check_penalty_factor(penalty_factor, p, penalty)
    free = _EMPTY_I if factor is None else np.flatnonzero(factor == 0)
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
    if factor is not None:
        design = _weigh_columns(design, np.where(factor > 0, factor, 1.0))
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
    U0 = np.zeros((0, K))
    if free.size:
        # the start is the fit on the unpenalized block; in Gram mode the kernel's problem
        # is least squares of the centred target (rows scaled by sqrt(w), or weighted)
        block = _column_block(design, free)
        if gram_mode:
            fit_Y = Y - b0 if weighted_sparse else (Y - b0) * np.sqrt(w)[:, None]
            fit_w = w if weighted_sparse else np.ones(n)
            _, U0, G0 = _unpenalized_fit(block, fit_Y, fit_w, "squared", 0.0, np.zeros(K), False)
        else:
            b0, U0, G0 = _unpenalized_fit(block, Y, w, loss, delta, b0, fit_intercept)
        grad0 = design.transpose_product(G0) / n
        grad0[free] = 0.0
    norm0 = _penalty_norm(grad0, elementwise, gptr, gidx)
    if not norm0 > 1e-12 * max(1.0, np.abs(Y).max()):
        path = empty_path(_record_times(times, n_times, t_ratio), p, K, b0 * y_unit,
                          why=_NO_CORRELATION,
                          info={"solver": "lbi", "loss": loss, "penalty": penalty})
        return _with_free_fit(path, design, free, U0, b0, y_unit)
    t0, z0 = start_dual(grad0, elementwise, gptr, gidx)
    z0[free] = U0 / kappa

    if loss == "poisson":
        lam = design.spectral_norm_sq(w * _poisson_reference(Y, w))
    elif H.shape[0]:
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

    # the default step of the squared loss: super-steps sized by the active block; a given
    # alpha is a fixed explicit step
    adaptive = alpha_given is None and gram_mode
    # the kernel's mode: Gram entries (c), a working set (reach) when H is not formed, and
    # on a sparse design (at most 5% nonzeros) a working set whose Gram block is left
    # unformed: the gradient is X_W^T (X_A B_A) / n over the nonzeros of those columns
    working_set = gram_mode and H.shape[0] != p
    products = working_set and design.is_sparse and 20 * design.indptr[p] <= n * p
    halvings = 0
    while True:
        out = _kernels.lbi_path(
            *design.args, None if gram_mode else np.asfortranarray(Y), w, loss_code, delta,
            np.ascontiguousarray(H), np.ascontiguousarray(c) if gram_mode else None, z0,
            np.asarray(b0, dtype=float), bool(fit_intercept and not gram_mode),
            t0, float(alpha), float(kappa), elementwise, gptr, gidx, free, grid, budget,
            record_duals,
            adaptive, _RELATIVE_STEP,
            np.asarray(_WORKING_SET_REACH, dtype=float) if working_set else None,
            True if products else None, int(verbose) if verbose > 0 else None)
        status = out[5]
        # the Poisson curvature has no global bound: a default step that still diverges
        # (the fit left the factor-2 margin of its reference) is halved and the path rerun
        if not (status == DIVERGED and loss == "poisson" and alpha_given is None
                and halvings < _POISSON_HALVINGS):
            break
        alpha, halvings = alpha / 2.0, halvings + 1
        budget = iteration_budget(t0, float(grid[-1]), alpha, max_iter, kappa=kappa,
                                  t_ratio=None if times is not None else t_ratio)
    coefs, intercepts, duals, entry, n_iter, status, t_end, *_, n_eval = out
    if status == DIVERGED:
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
              "alpha": float(alpha), "delta": float(delta * y_unit), "y_scale": float(y_unit),
              "step_halvings": int(halvings), "unpenalized": free.tolist(),
              "n_gradients": int(n_eval)},
    ), design.dtype)


def iss_path(X, Y, *, n_times=100, t_ratio=100.0, times=None, fit_intercept=True,
             normalize=True, sample_weight=None, max_iter=None, record_duals=False,
             tol=1e-10, verbose=0, penalty_factor=None) -> RegularizationPath:
    """The exact inverse scale space path of the squared loss with the l1 penalty.

    Each target column has its own path (the problem separates); the time grid is
    shared and starts at the earliest ``t0`` over targets. A float32 ``X`` is kept
    in float32 (standardized copy and returned path); sums stay in float64. With
    ``verbose > 0`` progress is printed about every tenth of the grid.
    ``penalty_factor`` weighs the l1 penalty per feature (see the module docstring).
    """
    n, p = X.shape
    factor = check_penalty_factor(penalty_factor, p)
    free = _EMPTY_I if factor is None else np.flatnonzero(factor == 0)
    Y = np.asarray(Y, dtype=float)
    K = Y.shape[1]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    w = w / w.mean()
    weighted_sparse = sp.issparse(X) and sample_weight is not None
    design = prepare_design(X, center=fit_intercept, normalize=normalize,
                            sample_weight=None if sample_weight is None else w,
                            sqrt_weight_rows=not weighted_sparse)
    if factor is not None:
        design = _weigh_columns(design, np.where(factor > 0, factor, 1.0))
    # the path runs on Y / y_unit; coefficients and intercepts are scaled back at the end
    Y, y_unit = standardize_target(Y, w, fit_intercept)
    y_mean = (w @ Y) / w.sum() if fit_intercept else np.zeros(K)
    row_w = w if weighted_sparse else np.sqrt(w)
    C = design.transpose_product((Y - y_mean) * row_w[:, None]) / n
    if weighted_sparse and p > 5000:
        raise ValueError("solver='iss' with sample_weight and a sparse X needs p <= 5000; "
                         "pass a dense X or use solver='lbi'.")
    if free.size and p > 5000:
        raise ValueError("solver='iss' with unpenalized features (penalty_factor=0) needs "
                         "p <= 5000; give them a positive factor or use solver='lbi'.")
    # Gram mode (velocity from rows of X^T X / n) pays off when p <= n; otherwise each
    # solve costs one product with the design, as in LARS. Unpenalized features are
    # minimized out of the Gram matrix (the kernel then sees the penalized block only).
    gram = p <= n or weighted_sparse or free.size > 0
    H = design.gram(w if weighted_sparse else None) if gram else _EMPTY_F
    profile = None
    if free.size:   # (the kernel's design arguments then go unused: Gram mode)
        profile = _Profile(H, C, free, fit_intercept)
        H, C = profile.H, profile.C
    H = np.ascontiguousarray(H)
    gram_kernel = H.shape[0] > 0  # else the kernel's design mode
    p_pen = C.shape[0]
    cmax = np.max(np.abs(C), axis=0)
    if not np.all(cmax > 1e-12 * max(1.0, np.abs(Y).max())):
        if np.all(cmax <= 1e-12 * max(1.0, np.abs(Y).max())):
            path = empty_path(_record_times(times, n_times, t_ratio), p, K, y_mean * y_unit,
                              why=_NO_CORRELATION,
                              info={"solver": "iss", "loss": "squared", "penalty": "l1"})
            path.interpolation = "previous"
            if profile is not None:
                path = _with_free_fit(path, design, free, profile.U0, y_mean, y_unit)
            return _path_in_dtype(path, design.dtype)
        cmax = np.where(cmax > 0, cmax, np.inf)
    t0 = float(1.0 / cmax.max())
    grid = np.asarray(times, dtype=float) if times is not None else time_grid(t0, n_times, t_ratio)
    max_knots = int(max_iter) if max_iter is not None else 50 * (p + n) + 100
    m = grid.shape[0]
    coefs = np.zeros((m, p_pen, K))
    duals = np.zeros_like(coefs) if record_duals else None
    entry = np.empty((p_pen, K))
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
        ck = coefs[:, :, 0] if K == 1 else np.zeros((m, p_pen))
        dk = duals[:, :, 0] if K == 1 and record_duals else \
            np.zeros((m if record_duals else 0, p_pen))
        if record_duals:
            dk[:before] = rho + (grid[:before, None] - t0_k) * c
        in_a = np.abs(rho) >= 1.0
        rho[in_a] = np.sign(rho[in_a])
        sign = np.where(in_a, rho, 0.0)
        state = (rho, np.zeros(p_pen), c.copy(), sign, in_a, np.empty(p_pen, dtype=np.int64))
        L = np.zeros((0, 0))  # the kernel allocates the factor on the first join
        lc = np.empty(0)
        XFt = np.empty((0, 0 if gram_kernel or design.is_sparse else n))
        fit = None if gram_kernel else np.zeros((3, n))  # fitted values, design mode
        ek = np.full(p_pen, np.inf)
        fstate = np.array([t0_k, cmax[k], t0_k])
        for stop in stops:
            if stop <= istate[_kernels._iss.GI] and stop < m:
                continue
            L, lc, XFt = _kernels.iss_path(
                *design.args, n, H if gram_kernel else None, c, grid, stop, max_knots,
                record_duals, tol, *state, L, lc, XFt, fit, ck, dk, ek, istate, fstate)
            if verbose:
                _kernels._progress.report(
                    "ISS" if K == 1 else f"ISS, target {k + 1}/{K}", float(fstate[0]),
                    int(istate[_kernels._iss.GI]), m, int(istate[_kernels._iss.NF]),
                    int(istate[_kernels._iss.KNOTS]))
            if istate[_kernels._iss.STATUS] != PAUSED:
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
    if profile is not None:
        coefs, entry, duals = profile.expand(coefs, entry, duals)
    coefs, intercepts = _to_original_scale(coefs, np.zeros((grid.shape[0], K)), design,
                                           fit_intercept, y_mean, y_unit)
    path = RegularizationPath(
        times=grid, coefs=coefs, intercepts=intercepts, entry_times=entry,
        interpolation="previous", t0=t0, duals=duals, n_iter=n_knots,
        info={"solver": "iss", "loss": "squared", "penalty": "l1", "y_scale": float(y_unit),
              "mode": "gram" if gram_kernel else "design",
              "joins": int(counts[_kernels._iss.JOINS]), "drops": int(counts[_kernels._iss.DROPS]),
              "solves": int(counts[_kernels._iss.SOLVES]), "unpenalized": free.tolist(),
              # products with the design that moved the screening reference (design mode)
              "reference_moves": int(counts[_kernels._iss.MOVES])},
    )
    return _path_in_dtype(path, design.dtype)
