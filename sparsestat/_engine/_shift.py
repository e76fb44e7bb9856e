"""Mean-shift paths through the implicit projection ``I - Q Q^T``: LBI
(:func:`projected_shift_path`) and the exact ISS (:func:`projected_shift_iss_path`).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from sparsestat._engine._grid import empty_path, time_grid
from sparsestat._engine._penalties import _penalty_arrays, _penalty_norm, start_dual
from sparsestat._kernels._status import DIVERGED, MAX_ITER, NAMES


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
    from sparsestat._kernels._projected import project_out, projected_lbi_path
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
    norm0 = _penalty_norm(scaled, elementwise, gptr, gidx)
    if not np.isfinite(norm0) or norm0 <= 1e-14 * max(1.0, float(np.abs(Y).max())) / n:
        return _empty_shift_path(times, n_times, t_ratio, n, K, "lbi_projected", penalty)
    if z_start is None:
        t0, z0 = start_dual(scaled, elementwise, gptr, gidx)
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
    return SparseRegularizationPath(
        times=grid[rec].copy(), coefs=coefs, intercepts=np.zeros((n_rec, K)),
        entry_times=entry, interpolation="linear", t0=float(t0), n_iter=int(n_iter),
        info={"solver": "lbi_projected", "penalty": penalty, "kappa": float(kappa),
              "alpha": float(alpha), "status": NAMES[int(status)],
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
        path = _empty_shift_path(times, n_times, t_ratio, n, K, "iss_projected", penalty)
        path.interpolation = "previous"
        return path

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


def _empty_shift_path(times, n_times, t_ratio, n, K, solver, penalty):
    """The empty path of targets the projection's range fits exactly: no shift ever enters."""
    grid = np.asarray(times, dtype=float) if times is not None else \
        time_grid(1.0, n_times, t_ratio)
    return empty_path(grid, n, K, np.zeros(K), sparse=True, stacklevel=5,
                      info={"solver": solver, "penalty": penalty, "status": "ok"},
                      why="the targets are fitted exactly by the projection's range (zero "
                          "residuals), so no shift is needed. Check that y is not constant or "
                          "an exact linear function of X.")
