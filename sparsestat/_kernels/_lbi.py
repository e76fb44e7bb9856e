"""The Linearized Bregman Iteration for a smooth loss and an l1 / group penalty.

One loop serves every loss and both storage formats of the design::

    z_{k+1} = z_k - alpha * grad L(B_k)
    B_{k+1} = kappa * prox(z_{k+1})          t_{k+1} = t_k + alpha

with the intercept (not penalized) taking plain gradient steps of size
``kappa * alpha``. The path is recorded on a given time grid by interpolating
``z`` linearly inside the step that straddles each grid time, and entry times
are solved exactly inside their step.

For the squared loss the gradient is ``H B - c`` with ``H = X^T X / n`` and
``c = X^T Y / n``; columns of ``H`` are computed once when a coordinate first
becomes active and cached, so one iteration costs ``O(p |active|)``.

Step size. A fixed ``alpha`` is used as given. With ``adaptive=True`` (squared
loss) the step follows the active block instead: the recursion only feeds
back through active coordinates, so it is stable while
``kappa * alpha * ||H_AA|| < 2``. Each coordinate joining the active set raises
``||H_AA||`` by at most ``d``, the largest diagonal of ``H`` (``||[X_A x_j]||^2 <=
||X_A||^2 + ||x_j||^2``), and leaving never raises it; so with ``L`` a
warm-started power-iteration estimate of ``||H_AA||`` at some earlier active set
and ``m`` the coordinates that joined since, the step
``c / (kappa (1.1 L + d (m + 1)))`` stays stable even if one more coordinate
joins within the step. ``L`` is re-estimated once ``d m`` exceeds ``L / 4``, and
the step is never below the globally stable ``alpha``.
"""

import numpy as np
from numba import njit

from sparsestat._kernels._design import add_column, gram_column, transpose_product
from sparsestat._kernels._losses import loss_derivative
from sparsestat._kernels._prox import dual_inplace, prox_inplace, record_entries

OK, MAX_ITER, DIVERGED = 0, 1, 2


@njit(cache=True)
def _record(z_old, z_new, b_old, b_new, t, step, grid, gi, kappa, elementwise,
            group_ptr, group_idx, coefs, intercepts, duals, zz, tmp):
    """Record every grid time inside ``(t, t + step]``; return the next grid index."""
    n_times = grid.shape[0]
    while gi < n_times and grid[gi] <= t + step:
        f = (grid[gi] - t) / step
        if f < 0.0:
            f = 0.0
        zz[:, :] = z_old + f * (z_new - z_old)
        prox_inplace(zz, tmp, kappa, elementwise, group_ptr, group_idx)
        coefs[gi] = tmp
        intercepts[gi] = b_old + f * (b_new - b_old)
        if duals.shape[0] > 0:
            dual_inplace(zz, tmp, elementwise, group_ptr, group_idx)
            duals[gi] = tmp
        gi += 1
    return gi


@njit(cache=True)
def _active_block_norm(cache, slot, active, n_active, v, n_power):
    """Power-iteration estimate of ``||H_AA||`` warm-started at ``v`` (updated in place)."""
    if n_active == 0:
        return 0.0
    x = np.empty(n_active)
    y = np.empty(n_active)
    nrm = 0.0
    for a in range(n_active):
        x[a] = v[active[a]]
        nrm += x[a] * x[a]
    if nrm == 0.0:
        x[:] = 1.0
        nrm = n_active
    x /= np.sqrt(nrm)
    lam = 0.0
    for _ in range(n_power):
        for a in range(n_active):
            row = cache[slot[active[a]]]  # the Gram column of active[a]
            s = 0.0
            for b_ in range(n_active):
                s += row[active[b_]] * x[b_]
            y[a] = s
        nrm = np.sqrt(np.sum(y * y))
        if nrm == 0.0:
            break
        lam_new = nrm
        x[:] = y / nrm
        if abs(lam_new - lam) <= 1e-3 * lam_new:
            lam = lam_new
            break
        lam = lam_new
    for a in range(n_active):
        v[active[a]] = x[a]
    return lam


@njit(cache=True)
def lbi_path(Xf, xdata, xind, xptr, xmean, is_sparse, Y, w, loss_code, delta,
             use_gram, H, c, z0, b0, fit_intercept, t0, alpha, kappa,
             elementwise, group_ptr, group_idx, grid, max_iter, record_duals,
             adaptive, step_constant, diag_max):
    """Run LBI from the analytic start ``(z0, t0)`` until the last grid time.

    Parameters
    ----------
    Xf, xdata, xind, xptr, xmean, is_sparse :
        The design (see :mod:`sparsestat._kernels._design`).
    Y : (n, K) Fortran array
        Targets (one-hot for multinomial).
    w : (n,) array
        Sample weights (ones when unweighted).
    loss_code : int
        See :mod:`sparsestat._kernels._losses`.
    delta : float
        Huber threshold.
    use_gram : bool
        Squared loss only: iterate on cached Gram columns (``H``, ``c``).
    H : (p, p) Fortran array
        A full scaled Gram matrix, or a ``(0, 0)`` array to build columns lazily.
    c : (p, K) array
        ``X^T Y / n`` (gram mode only).
    z0 : (p, K) array
        Starting dual variable, on the unit ball's boundary.
    b0 : (K,) array
        Starting intercept.
    fit_intercept : bool
        Whether the intercept takes gradient steps (direct mode only).
    t0, alpha, kappa : float
        Start time, step (the smallest step with ``adaptive``) and damping.
    elementwise, group_ptr, group_idx :
        The penalty (see :mod:`sparsestat._kernels._prox`).
    grid : (n_times,) array
        Increasing record times, ``grid[0] >= t0``.
    max_iter : int
        Iteration budget.
    record_duals : bool
        Also record ``rho = z - prox(z)`` on the grid.
    adaptive : bool
        Gram mode only: size each step by the active block (see module docstring).
    step_constant, diag_max : float
        ``c`` and ``d`` of the adaptive step.

    Returns
    -------
    coefs, intercepts, duals, entry, n_iter, status, t_end, z, B, b
    """
    p, K = z0.shape
    n = Y.shape[0]
    n_times = grid.shape[0]
    coefs = np.zeros((n_times, p, K))
    intercepts = np.zeros((n_times, K))
    duals = np.zeros((n_times if record_duals else 0, p, K))
    entry = np.full((p, K), np.inf)

    z = z0.copy()
    z_new = np.empty((p, K))
    B = np.zeros((p, K))
    b = b0.copy()
    b_new = b0.copy()
    grad = np.zeros((p, K))
    gb = np.zeros(K)
    zz = np.empty((p, K))
    tmp = np.empty((p, K))

    # active set (features with a nonzero row of B)
    active = np.empty(p, dtype=np.int64)
    n_active = 0
    # Gram column cache (gram mode)
    full_gram = H.shape[0] == p
    # cache[s] holds the Gram column of the feature in slot s (rows: C-contiguous)
    slot = np.full(p, -1, dtype=np.int64)
    if use_gram and full_gram:
        for j in range(p):
            slot[j] = j
        cache = H
        n_cached = p
    else:
        cap = 16 if p > 16 else p
        cache = np.zeros((cap if use_gram else 0, p))
        n_cached = 0
    coef_by_slot = np.zeros((cache.shape[0], K))
    eta = np.zeros((K, n)).T
    G = np.zeros((K, n)).T

    power_vec = np.zeros(p)
    step = alpha
    joined = 0          # coordinates that joined the active set since the last estimate
    lam_a = 0.0
    was_active = np.zeros(p, dtype=np.bool_)
    t = t0
    gi = 0
    # the grid times at (or before) t0 see B = 0 exactly
    while gi < n_times and grid[gi] <= t0:
        intercepts[gi] = b0
        if record_duals:
            dual_inplace(z, tmp, elementwise, group_ptr, group_idx)
            duals[gi] = tmp
        gi += 1

    status = MAX_ITER
    k_iter = 0
    while k_iter < max_iter:
        if gi >= n_times:
            status = OK
            break
        # ---- gradient at (B, b)
        if use_gram:
            coef_by_slot[:n_cached] = 0.0
            for a in range(n_active):
                j = active[a]
                s = slot[j]
                if s < 0:
                    if n_cached == cache.shape[0]:
                        bigger = np.zeros((min(p, cache.shape[0] + cache.shape[0] // 2 + 1), p))
                        bigger[:n_cached] = cache[:n_cached]
                        cache = bigger
                        coef_by_slot = np.zeros((cache.shape[0], K))
                    gram_column(Xf, xdata, xind, xptr, xmean, is_sparse, j, n, cache[n_cached])
                    slot[j] = n_cached
                    s = n_cached
                    n_cached += 1
                for k in range(K):
                    coef_by_slot[s, k] = B[j, k]
            # grad = H_{:, cached} B_cached - c, one BLAS product over the cached columns
            grad[:, :] = np.dot(cache[:n_cached].T, coef_by_slot[:n_cached]) - c
            finite = True
            for k in range(K):
                gb[k] = 0.0
        else:
            for i in range(n):
                for k in range(K):
                    eta[i, k] = b[k]
            for a in range(n_active):
                j = active[a]
                add_column(Xf, xdata, xind, xptr, xmean, is_sparse, j, B[j], eta)
            value = loss_derivative(eta, Y, w, loss_code, delta, G)
            finite = np.isfinite(value)
            transpose_product(Xf, xdata, xind, xptr, xmean, is_sparse, G, grad)
            for j in range(p):
                for k in range(K):
                    grad[j, k] /= n
            for k in range(K):
                s_ = 0.0
                for i in range(n):
                    s_ += G[i, k]
                gb[k] = s_ / n if fit_intercept else 0.0
        # ---- the step
        if adaptive:
            if joined > 0 and 4.0 * diag_max * joined > lam_a:
                lam_a = _active_block_norm(cache, slot, active, n_active, power_vec, 4)
                joined = 0
            step = max(alpha, step_constant / (kappa * (1.1 * lam_a + diag_max * (joined + 1))))
        big = 0.0
        for j in range(p):
            for k in range(K):
                z_new[j, k] = z[j, k] - step * grad[j, k]
                big = max(big, abs(z_new[j, k]))
        for k in range(K):
            b_new[k] = b[k] - kappa * step * gb[k]
        if not finite or not np.isfinite(big) or big * kappa > 1e100:
            status = DIVERGED
            break
        record_entries(z, z_new, t, step, entry, elementwise, group_ptr, group_idx)
        gi = _record(z, z_new, b, b_new, t, step, grid, gi, kappa, elementwise,
                     group_ptr, group_idx, coefs, intercepts, duals, zz, tmp)
        z[:, :] = z_new
        b[:] = b_new
        prox_inplace(z, B, kappa, elementwise, group_ptr, group_idx)
        n_active = 0
        for j in range(p):
            nonzero = False
            for k in range(K):
                if B[j, k] != 0.0:
                    nonzero = True
                    break
            if nonzero:
                active[n_active] = j
                n_active += 1
                if not was_active[j]:
                    joined += 1
            was_active[j] = nonzero
        t += step
        k_iter += 1
    if gi >= n_times and status == MAX_ITER:
        status = OK
    return coefs[:gi], intercepts[:gi], duals[:gi] if record_duals else duals, \
        entry, k_iter, status, t, z, B, b
