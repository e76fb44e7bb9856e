"""LBI on an operator given by its gradient: the Python driver for problems
whose gradient needs a factorization outside numba (the ranker's cycle space).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sparsestat import _kernels
from sparsestat._engine._penalties import _penalty_arrays
from sparsestat.path import RegularizationPath


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
