"""LBI on an operator given by its gradient: the Python driver for problems
whose gradient needs a factorization outside numba (the ranker's cycle space).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from sparsestat import _kernels
from sparsestat._engine._penalties import _penalty_arrays
from sparsestat.path import RegularizationPath, SparseRegularizationPath


def lbi_path_operator(apply_gradient, z0, t0: float, *, kappa: float, alpha: float, times,
                      penalty="l1", groups=None, max_iter=None, record_duals=False,
                      sparse=False, max_nnz=None, info=None) -> RegularizationPath:
    """LBI path for a loss known only through its gradient, a Python callable.

    For models whose gradient needs an operator the kernels cannot hold (for
    example a projection applied with sparse linear solves). The iteration is
    the one of :func:`lbi_path` without an intercept::

        z_{k+1} = z_k - alpha * apply_gradient(B_k)
        B_{k+1} = kappa * prox(z_{k+1})          t_{k+1} = t_k + alpha

    taken, recorded and checked for divergence by the kernels' own step and
    recorders (:mod:`sparsestat._kernels._core`: one pass over the rows for the
    step, the entry times solved inside it and the new ``B``). Python runs once per iteration, so use it when an iteration costs
    much more than a call (a sparse solve), and the numba loop otherwise.

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
        Also record ``rho = z - prox(z)`` (dense record only).
    sparse : bool
        Record only the nonzero rows of ``B`` (for many coefficients of which few
        are nonzero); the result is a :class:`~sparsestat.path.SparseRegularizationPath`.
    max_nnz : int or None
        Sparse record: the budget of nonzero rows over all record times (default
        ``max(2 p K, 10**6)``); beyond it every other record time is dropped.
    info : dict or None
        Extra entries for the path's ``info``.

    Returns
    -------
    RegularizationPath or SparseRegularizationPath
        Coefficients of shape (n_times, p, K) (dense) or (n_times, p K) (sparse);
        intercepts are zero.
    """
    from sparsestat._kernels import _core

    z = np.array(z0, dtype=float, order="C")
    if z.ndim == 1:
        z = z[:, None]
    p, K = z.shape
    if sparse and record_duals:
        raise ValueError("record_duals needs the dense record (sparse=False).")
    elementwise, gptr, gidx = _penalty_arrays(penalty, groups, p, K)
    grid = np.ascontiguousarray(times, dtype=float)
    n_times = grid.shape[0]
    needed = int(np.ceil(max(grid[-1] - t0, 0.0) / alpha)) + 1 if n_times else 1
    budget = needed if max_iter is None else int(max_iter)
    entry = np.full((p, K), np.inf)
    B = np.zeros((p, K))
    z_new = np.empty((p, K))
    zz = np.empty((p, K))
    tmp = np.empty((p, K))
    no_scale = np.empty(0)
    t = float(t0)
    if sparse:
        omega = np.ones(p)
        nnz_cap = max(2 * p * K, 10 ** 6) if max_nnz is None else int(max_nnz)
        ptr, rec, rows, vals = _core.sparse_record_buffers(n_times, K)
        record = (ptr, rec, rows, vals, 0, 0, 1)

        def take(z_old, z_next, step, gi):
            nonlocal record
            ptr_, rec_, rows_, vals_, n_rec, nnz, stride = record
            gi, rows_, vals_, n_rec, nnz, stride = _core.record_sparse(
                z_old, z_next, t, step, grid, gi, kappa, omega, elementwise, gptr, gidx, zz,
                tmp, ptr_, rec_, rows_, vals_, n_rec, nnz, stride, nnz_cap)
            record = (ptr_, rec_, rows_, vals_, n_rec, nnz, stride)
            return gi
    else:
        coefs = np.zeros((n_times, p, K))
        intercepts = np.zeros((n_times, K))
        duals = np.zeros((n_times if record_duals else 0, p, K))
        b = np.zeros(K)

        def take(z_old, z_next, step, gi):
            return _core.record_dense(z_old, z_next, b, b, t, step, grid, gi, kappa,
                                      elementwise, gptr, gidx, coefs, intercepts, duals, zz,
                                      tmp)

    _kernels._prox.prox_inplace(z, B, kappa, elementwise, gptr, gidx)
    # the grid times at (or before) t0 see the start state, a step of length zero
    gi = take(z, z, 0.0, 0) if n_times and grid[0] <= t0 else 0
    n_iter = 0
    while gi < n_times and n_iter < budget:
        grad = np.ascontiguousarray(apply_gradient(B), dtype=float).reshape(p, K)
        # the dual step, the entries inside it and B = kappa * prox(z) at its end
        big, _, _ = _core.lbi_update(z, grad, alpha, no_scale, kappa, no_scale, t, entry, 0,
                                     False, elementwise, gptr, gidx, z_new, B)
        if _core.diverged(big, kappa):
            raise FloatingPointError(
                f"LBI diverged at t={t:.4g}: the step alpha={alpha:.4g} is too large for "
                f"kappa={kappa:g}; lower alpha (kappa * alpha * ||Hessian|| must stay below 2)."
            )
        gi = take(z, z_new, alpha, gi)
        z, z_new = z_new, z
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
    if sparse:
        ptr, rec, rows, vals, n_rec, nnz, _ = record
        cols = (rows[:nnz, None] * K + np.arange(K)[None, :]).ravel()
        coefs = sp.csr_matrix((vals[:nnz].ravel(), cols, ptr[: n_rec + 1] * K),
                              shape=(n_rec, p * K))
        coefs.eliminate_zeros()
        return SparseRegularizationPath(
            times=grid[rec[:n_rec]].copy(), coefs=coefs, intercepts=np.zeros((n_rec, K)),
            entry_times=entry, interpolation="linear", t0=float(t0), n_iter=n_iter,
            info=details, n_targets=K, squeeze=False)
    return RegularizationPath(
        times=grid[:gi], coefs=coefs[:gi], intercepts=intercepts[:gi], entry_times=entry,
        interpolation="linear", t0=float(t0), duals=duals[:gi] if record_duals else None,
        n_iter=n_iter, info=details,
    )
