"""The exact inverse scale space path of the squared loss (l1 penalty).

Between knots the dual variable moves linearly, ``rho' = c - H beta`` with
``H = X^T X / n`` and ``c = X^T y / n``, while ``beta`` is constant: the
least-squares fit on the boundary set ``{|rho_j| = 1}`` under the sign
constraints ``sign(beta_j) = rho_j``. At a knot the first coordinate whose
dual reaches the unit sphere joins the boundary, the sign-constrained problem
is re-solved by an active-set (Lawson-Hanson) method warm-started at the
previous solution, and boundary coordinates whose constraint binds while
their dual moves inwards leave it.

The free set's normal equations are solved with a Cholesky factor that is
extended by one row when a coordinate joins (``O(|F|^2)``) and rebuilt when one
leaves; the velocity ``c - H beta`` is one BLAS product over the cached Gram
columns.
"""

import numpy as np
from numba import njit

from sparsestat._kernels._design import gram_column

OK, MAX_ITER = 0, 1


@njit(cache=True)
def _h(cache, slot, i, j):
    """Entry ``H[i, j]`` from the cached Gram column of ``j``."""
    return cache[slot[j], i]


@njit(cache=True)
def _chol_append(L, nf, cache, slot, free, j):
    """Extend the factor of ``H_FF`` (``L[:nf, :nf]``) by feature ``j``; False if dependent."""
    w = np.empty(nf)
    for a in range(nf):
        s = _h(cache, slot, free[a], j)
        for b_ in range(a):
            s -= L[a, b_] * w[b_]
        w[a] = s / L[a, a]
    d = _h(cache, slot, j, j)
    r = d - np.dot(w, w)
    if r <= 1e-10 * d:
        return False
    for a in range(nf):
        L[nf, a] = w[a]
    L[nf, nf] = np.sqrt(r)
    return True


@njit(cache=True)
def _chol_remove(L, nf, q):
    """Factor of ``H_FF`` without its ``q``-th variable, by Givens rotations (``O(nf^2)``)."""
    for i in range(q, nf - 1):
        for j in range(nf):
            L[i, j] = L[i + 1, j]
    m = nf - 1
    for k in range(q, m):
        a = L[k, k]
        b = L[k, k + 1]
        r = np.hypot(a, b)
        if r == 0.0:
            continue
        cs = a / r
        sn = b / r
        for i in range(k, m):
            u = L[i, k]
            v = L[i, k + 1]
            L[i, k] = cs * u + sn * v
            L[i, k + 1] = -sn * u + cs * v
    for i in range(m):
        L[i, m] = 0.0


@njit(cache=True)
def _chol_solve(L, nf, rhs):
    """Solve ``L L^T x = rhs`` for the leading ``nf`` block."""
    x = np.empty(nf)
    for a in range(nf):
        s = rhs[a]
        for b_ in range(a):
            s -= L[a, b_] * x[b_]
        x[a] = s / L[a, a]
    for a in range(nf - 1, -1, -1):
        s = x[a]
        for b_ in range(a + 1, nf):
            s -= L[b_, a] * x[b_]
        x[a] = s / L[a, a]
    return x


@njit(cache=True)
def _velocity(cache, n_cached, coef_by_slot, c, beta, free, nf, slot, g):
    """``g = c - H beta`` (beta supported on the free set)."""
    coef_by_slot[:n_cached] = 0.0
    for a in range(nf):
        coef_by_slot[slot[free[a]]] = beta[free[a]]
    g[:] = c - np.dot(cache[:n_cached].T, coef_by_slot[:n_cached])


@njit(cache=True)
def iss_path(Xf, xdata, xind, xptr, xmean, is_sparse, n_samples, H, c, t0, grid,
             max_knots, record_duals, tol):
    """Exact ISS path of ``(1/2n)||y - X beta||^2`` sampled on ``grid``.

    ``H`` is the full scaled Gram matrix (C order) or a ``(0, 0)`` array, in which
    case Gram columns are computed when a coordinate reaches the boundary.

    Returns
    -------
    coefs : (n_times, p)
    duals : (n_times, p) or (0, p)
    entry : (p,) first time each coordinate is nonzero
    n_knots, status, t_end, beta, rho
    """
    p = c.shape[0]
    n_times = grid.shape[0]
    coefs = np.zeros((n_times, p))
    duals = np.zeros((n_times if record_duals else 0, p))
    entry = np.full(p, np.inf)

    slot = np.full(p, -1, dtype=np.int64)
    if H.shape[0] == p:
        for j in range(p):
            slot[j] = j
        cache = H
        n_cached = p
    else:
        cache = np.zeros((16 if p > 16 else p, p))
        n_cached = 0
    coef_by_slot = np.zeros(cache.shape[0])

    cmax = 0.0
    for j in range(p):
        cmax = max(cmax, abs(c[j]))
    rho = c / cmax
    beta = np.zeros(p)
    g = c.copy()                          # rho' = c - H beta
    sign = np.zeros(p)
    in_a = np.zeros(p, dtype=np.bool_)    # on the boundary |rho_j| = 1
    free = np.empty(p, dtype=np.int64)    # coordinates with beta_j != 0, in factor order
    nf = 0
    L = np.zeros((16, 16))
    x_free = np.zeros(0)
    t = t0
    gi = 0
    # beta = 0 up to and including t0 (the path is left-continuous in t)
    while gi < n_times and grid[gi] <= t0:
        if record_duals:
            duals[gi] = rho + (grid[gi] - t0) * c
        gi += 1
    for j in range(p):
        if abs(rho[j]) >= 1.0:
            rho[j] = 1.0 if rho[j] > 0 else -1.0
            in_a[j] = True
            sign[j] = rho[j]
    n_knots = 0
    status = MAX_ITER
    thresh = tol * cmax
    while n_knots < max_knots:
        # ---- Gram columns of the boundary coordinates
        for j in range(p):
            if in_a[j] and slot[j] < 0:
                if n_cached == cache.shape[0]:
                    bigger = np.zeros((min(p, cache.shape[0] + cache.shape[0] // 2 + 1), p))
                    bigger[:n_cached] = cache[:n_cached]
                    cache = bigger
                    coef_by_slot = np.zeros(cache.shape[0])
                gram_column(Xf, xdata, xind, xptr, xmean, is_sparse, j, n_samples,
                            cache[n_cached])
                slot[j] = n_cached
                n_cached += 1
        # ---- sign-constrained least squares on the boundary set (Lawson-Hanson)
        for _ in range(4 * p + 10):
            best = -1
            best_v = thresh
            for j in range(p):
                if in_a[j] and beta[j] == 0.0 and sign[j] * g[j] > best_v:
                    best_v = sign[j] * g[j]
                    best = j
            if best < 0:
                break
            if nf == L.shape[0]:
                bigger_l = np.zeros((2 * nf, 2 * nf))
                bigger_l[:nf, :nf] = L[:nf, :nf]
                L = bigger_l
            if not _chol_append(L, nf, cache, slot, free, best):
                in_a[best] = False  # numerically in the span of the free columns
                continue
            free[nf] = best
            nf += 1
            while True:
                rhs = np.empty(nf)
                for a in range(nf):
                    rhs[a] = c[free[a]]
                x_free = _chol_solve(L, nf, rhs)
                theta = 1.0
                for a in range(nf):
                    ja = free[a]
                    if sign[ja] * x_free[a] <= 0.0:
                        old = beta[ja]
                        if sign[ja] * old > 0.0:
                            theta = min(theta, old / (old - x_free[a]))
                        else:
                            theta = 0.0
                if theta >= 1.0:
                    for a in range(nf):
                        beta[free[a]] = x_free[a]
                    break
                # step back to the first sign change; drop the coordinates that hit zero
                for a in range(nf - 1, -1, -1):
                    ja = free[a]
                    nb = beta[ja] + theta * (x_free[a] - beta[ja])
                    if sign[ja] * nb <= 1e-14 * (abs(beta[ja]) + abs(x_free[a])) or \
                            (sign[ja] * x_free[a] <= 0.0 and theta == 0.0):
                        beta[ja] = 0.0
                        _chol_remove(L, nf, a)
                        for b_ in range(a, nf - 1):
                            free[b_] = free[b_ + 1]
                        nf -= 1
                    else:
                        beta[ja] = nb
                if nf == 0:
                    break
            _velocity(cache, n_cached, coef_by_slot, c, beta, free, nf, slot, g)
        for a in range(nf):
            ja = free[a]
            if entry[ja] == np.inf:
                entry[ja] = t
        # boundary coordinates at zero whose dual moves inwards leave the boundary
        for j in range(p):
            if in_a[j] and beta[j] == 0.0 and sign[j] * g[j] <= thresh:
                in_a[j] = False
        # ---- next knot
        dt = np.inf
        nxt = -1
        gmax = 0.0
        for j in range(p):
            if not in_a[j]:
                gmax = max(gmax, abs(g[j]))
                if g[j] != 0.0:
                    target = 1.0 if g[j] > 0.0 else -1.0
                    d = (target - rho[j]) / g[j]
                    if d < dt:
                        dt = d
                        nxt = j
        if gmax <= thresh:
            dt = np.inf
        # ---- record grid times inside (t, t + dt]
        while gi < n_times and grid[gi] <= t + dt:
            coefs[gi] = beta
            if record_duals:
                for j in range(p):
                    duals[gi, j] = sign[j] if in_a[j] else rho[j] + (grid[gi] - t) * g[j]
            gi += 1
        if gi >= n_times or nxt < 0 or dt == np.inf:
            status = OK
            break
        for j in range(p):
            if not in_a[j]:
                rho[j] += dt * g[j]
        t += dt
        rho[nxt] = 1.0 if g[nxt] > 0.0 else -1.0
        sign[nxt] = rho[nxt]
        in_a[nxt] = True
        n_knots += 1
    return coefs[:gi], duals[:gi] if record_duals else duals, entry, n_knots, \
        status, t, beta, rho
