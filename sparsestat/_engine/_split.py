"""Split LBI: the path of ``gamma ~ D beta`` for a structural sparsity
matrix ``D`` (:func:`split_lbi_path`, squared or logistic loss) and its result
type :class:`SplitPath`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning

from sparsestat import _kernels
from sparsestat._engine._design import _EMPTY_F, prepare_design
from sparsestat._engine._grid import empty_path, time_grid
from sparsestat._engine._penalties import _penalty_arrays, _penalty_norm, start_dual
from sparsestat._kernels._losses import LOGISTIC, SQUARED
from sparsestat._kernels._status import DIVERGED
from sparsestat._units import iteration_budget, standardize_target
from sparsestat.path import RegularizationPath


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


def split_lbi_path(X, y, D, *, loss="squared", penalty="l1", groups=None, kappa=10.0,
                   alpha=None, nu=None, n_times=100, t_ratio=100.0, times=None,
                   fit_intercept=True, normalize=True, max_iter=None) -> SplitPath:
    """Split LBI path of ``gamma = D beta`` for the squared or the logistic loss.

    ``X`` is (n, p), ``y`` (n,) (0/1 for ``loss='logistic'``), ``D`` (m, p) dense
    or sparse. Defaults follow the reference code: ``nu = ||D||^2 / ||X^T X / n||``
    and ``alpha = nu / (kappa (1 + nu L + ||D||^2))`` with ``L = ||X^T X / n||``
    the curvature bound of the squared loss, ``max(||X^T X / n||, 1) / 4`` of the
    logistic one (the intercept's column is orthogonal to the centred ``X``). The
    logistic loss keeps the intercept in the free block, stepped with ``beta``; its
    start minimizes the loss at ``gamma = 0`` by Newton's method.
    """
    if loss == "logistic":
        return _logistic_split(X, y, D, penalty=penalty, groups=groups, kappa=kappa,
                               alpha=alpha, nu=nu, n_times=n_times, t_ratio=t_ratio,
                               times=times, fit_intercept=fit_intercept, normalize=normalize,
                               max_iter=max_iter)
    n, p = X.shape
    y = np.asarray(y, dtype=float).ravel()
    _check_operator(D, p)
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
    d_norm_sq = _operator_norm_sq(D_std)
    nu = _coupling(nu, d_norm_sq, lam_x)
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
        grid = np.asarray(times, dtype=float) if times is not None else \
            time_grid(1.0, n_times, t_ratio)
        empty = empty_path(grid, m, 1, np.zeros(1), info={"solver": "split_lbi"}, why=(
            "D beta vanishes at the start: the fit is already structurally sparse, so "
            "gamma = D beta stays zero and beta is the start's fit. Check D and y."))
        t0, n_iter = empty.t0, 0
        betas = np.tile(beta0, (grid.shape[0], 1))
        gammas, entry = empty.coefs[:, :, 0], empty.entry_times[:, 0]
    else:
        t0, z0 = start_dual(grad_gamma[:, None], elementwise, gptr, gidx)
        z0 = np.ascontiguousarray(z0[:, 0])
        grid = np.asarray(times, dtype=float) if times is not None else \
            time_grid(t0, n_times, t_ratio)
        betas, gammas, entry, n_iter = _run(design, yc, use_gram, H, c, D_std, nu, beta0, z0,
                                            t0, alpha, kappa, elementwise, gptr, gidx, grid,
                                            iteration_budget(t0, float(grid[-1]), alpha,
                                                             max_iter, kappa=kappa,
                                                             t_ratio=None if times is not None
                                                             else t_ratio))
        grid = grid[: betas.shape[0]]
    coefs = betas * (y_unit / design.scale[None, :])
    gammas = gammas * y_unit
    intercepts = y_mean * y_unit - coefs @ design.mean
    info = {"solver": "split_lbi", "kappa": float(kappa), "alpha": float(alpha), "nu": float(nu),
            "y_scale": float(y_unit)}
    if np.isinf(t0):
        info["empty"] = True
    return _split_result(grid, coefs, intercepts, gammas, entry, t0, n_iter, D, nu, kappa,
                         alpha, info)


def _check_operator(D, p):
    if D.shape[1] != p:
        raise ValueError(
            f"D must have one column per feature: X has {p} features but D has shape {D.shape}."
        )
    if not np.all(np.isfinite(D.data if sp.issparse(D) else np.asarray(D, dtype=float))):
        raise ValueError("D contains NaN or infinity; the structure operator must be finite.")


def _operator_norm_sq(D_std):
    d_norm_sq = float(np.linalg.norm(D_std.toarray(), 2) ** 2) if min(D_std.shape) <= 2000 else \
        float(eigsh(D_std.T @ D_std, k=1, return_eigenvectors=False)[0])
    if d_norm_sq <= 0:
        raise ValueError("D is zero: the structure operator must have at least one nonzero entry.")
    return d_norm_sq


def _coupling(nu, d_norm_sq, lam_x):
    """The coupling ``nu``: the default ``||D||^2 / ||X^T X / n||``, or a given one in range."""
    default = d_norm_sq / max(lam_x, 1e-300)
    if nu is None:
        return default
    if not (d_norm_sq / nu < 1e150 and nu * lam_x < 1e150):
        raise ValueError(
            f"nu={nu:g} is out of range for this problem: the coupling ||gamma - D beta||^2 / "
            f"(2 nu) needs nu within a few orders of magnitude of the default "
            f"||D||^2 / ||X^T X / n|| = {default:.4g} (on the standardized problem). Use "
            "nu=None or a value near it."
        )
    return nu


def _logistic_start(design, y, DtD, nu, fit_intercept, max_newton=200):
    """``(beta, b)`` minimizing the mean logistic loss of ``X beta + b`` plus
    ``||D beta||^2 / (2 nu)`` (``gamma = 0``), by damped Newton steps."""
    n, p = design.n_samples, design.n_features
    q = p + 1 if fit_intercept else p
    v = np.zeros(q)
    if fit_intercept:
        m = float(np.clip(y.mean(), 1e-12, 1 - 1e-12))
        v[p] = np.log(m / (1 - m))

    def objective(v):
        eta = design.product(v[:p]) + (v[p] if fit_intercept else 0.0)
        loss = np.mean(np.logaddexp(0.0, eta) - y * eta)
        return loss + v[:p] @ DtD @ v[:p] / (2 * nu), eta

    value, eta = objective(v)
    for _ in range(max_newton):
        mu = expit(eta)
        r = mu - y
        g = np.empty(q)
        g[:p] = design.transpose_product(r[:, None]).ravel() / n + DtD @ v[:p] / nu
        W = mu * (1 - mu)
        Hm = np.zeros((q, q))
        Hm[:p, :p] = design.gram(W) + DtD / nu
        if fit_intercept:
            g[p] = r.mean()
            cross = design.transpose_product(W[:, None]).ravel() / n
            Hm[:p, p] = Hm[p, :p] = cross
            Hm[p, p] = W.mean()
        # every sample fitted with certainty: the classes are separated, the minimum is at
        # infinity
        if not np.all(np.isfinite(g)) or np.min(np.where(y > 0, mu, 1 - mu)) > 1 - 1e-6:
            break
        if np.max(np.abs(g)) <= 1e-14 * max(1.0, np.max(np.abs(v))):
            return v
        step = np.linalg.lstsq(Hm, g, rcond=None)[0]
        scale = 1.0
        while True:
            new_value, new_eta = objective(v - scale * step)
            if new_value <= value + 1e-15 * abs(value) or scale < 1e-10:
                break
            scale /= 2
        v_old = v
        v, value, eta = v - scale * step, new_value, new_eta
        if np.max(np.abs(v - v_old)) <= 1e-15 * max(1.0, np.max(np.abs(v))):
            return v
    # no convergence: the minimum is at infinity
    raise ValueError(
        "The start of logistic Split LBI (the fit with D beta = 0) does not exist: the "
        "classes are separable by a direction in the null space of D. Add rows to D "
        "(e.g. an identity block) or use a smaller nu.")


def _logistic_split(X, y, D, *, penalty, groups, kappa, alpha, nu, n_times, t_ratio, times,
                    fit_intercept, normalize, max_iter):
    """:func:`split_lbi_path` for the logistic loss (``y`` in {0, 1})."""
    n, p = X.shape
    y = np.asarray(y, dtype=float).ravel()
    _check_operator(D, p)
    design = prepare_design(X, center=fit_intercept, normalize=normalize)
    D_std = _as_csr(_as_csr(D) @ sp.diags(1.0 / design.scale))
    lam_x = design.spectral_norm_sq()
    d_norm_sq = _operator_norm_sq(D_std)
    nu = _coupling(nu, d_norm_sq, lam_x)
    curvature = max(lam_x, 1.0 if fit_intercept else 0.0) / 4.0
    if alpha is None:
        alpha = nu / (kappa * (1.0 + nu * curvature + d_norm_sq))
    DtD = (D_std.T @ D_std).toarray()
    v0 = _logistic_start(design, y, DtD, nu, fit_intercept)
    grad_gamma = -(D_std @ v0[:p]) / nu
    elementwise, gptr, gidx = _penalty_arrays(penalty, groups, D_std.shape[0], 1)
    if not _penalty_norm(grad_gamma[:, None], elementwise, gptr, gidx) > 1e-14 * max(
            1.0, float(np.abs(v0).max())):
        raise ValueError("D beta vanishes at the start of logistic Split LBI: the fit is "
                         "already structurally sparse. Check D and y.")
    t0, z0 = start_dual(grad_gamma[:, None], elementwise, gptr, gidx)
    grid = np.asarray(times, dtype=float) if times is not None else \
        time_grid(t0, n_times, t_ratio)
    budget = iteration_budget(t0, float(grid[-1]), alpha, max_iter, kappa=kappa,
                              t_ratio=None if times is not None else t_ratio)
    free, gammas, entry, n_iter = _run(design, y, False, _EMPTY_F, np.zeros(p), D_std, nu, v0,
                                       np.ascontiguousarray(z0[:, 0]), t0, alpha, kappa,
                                       elementwise, gptr, gidx, grid, budget, LOGISTIC,
                                       fit_intercept)
    grid = grid[: free.shape[0]]
    coefs = free[:, :p] / design.scale[None, :]
    b = free[:, p] if fit_intercept else np.zeros(grid.shape[0])
    intercepts = b - coefs @ design.mean
    return _split_result(grid, coefs, intercepts, gammas, entry, t0, n_iter, D, nu, kappa,
                         alpha, {"solver": "split_lbi", "loss": "logistic", "kappa": float(kappa),
                                 "alpha": float(alpha), "nu": float(nu)})


def _split_result(grid, coefs, intercepts, gammas, entry, t0, n_iter, D, nu, kappa, alpha, info):
    nonzero = coefs != 0  # beta is not penalized: its "entry" is its first nonzero record
    beta_entry = np.where(nonzero.any(axis=0), grid[np.argmax(nonzero, axis=0)], np.inf)
    beta_path = RegularizationPath(times=grid, coefs=coefs, intercepts=intercepts,
                                   entry_times=beta_entry, interpolation="linear",
                                   t0=t0, n_iter=int(n_iter), info=info)
    gamma_path = RegularizationPath(times=grid, coefs=gammas, intercepts=np.zeros(grid.shape[0]),
                                    entry_times=entry, interpolation="linear", t0=t0,
                                    n_iter=int(n_iter), info=info)
    return SplitPath(beta_path, gamma_path, D, float(nu), float(kappa), float(alpha))


def _run(design, yc, use_gram, H, c, D_std, nu, beta0, z0, t0, alpha, kappa, elementwise, gptr,
         gidx, grid, budget, loss_code=SQUARED, with_intercept=False):
    """The Split LBI kernel from the analytic start; divergence raises, a short run warns."""
    betas, gammas, entry, n_iter, status, t_end, *_ = _kernels.split_lbi_path(
        *design.args, yc, use_gram, H, c, D_std.data, D_std.indices.astype(np.int64),
        D_std.indptr.astype(np.int64), float(nu), beta0, z0, t0, float(alpha), float(kappa),
        elementwise, gptr, gidx, grid, budget, loss_code, bool(with_intercept))
    if status == DIVERGED:
        raise FloatingPointError(
            f"Split LBI diverged at t={t_end:.4g}: the step alpha={alpha:.4g} is too large; "
            "use alpha=None for a safe default."
        )
    if betas.shape[0] < grid.shape[0]:
        warnings.warn(
            f"The Split LBI path stopped at t={t_end:.4g} after max_iter={budget} iterations; "
            f"{betas.shape[0]} of {grid.shape[0]} record times were reached.",
            ConvergenceWarning, stacklevel=4,
        )
    return betas, gammas, entry, n_iter
