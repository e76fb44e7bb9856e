"""The exact inverse scale space path of the squared loss (l1 penalty).

Between knots the dual variable moves linearly, ``rho' = c - H beta`` with
``H = X^T X / n`` and ``c = X^T y / n``, while ``beta`` is constant: the
least-squares fit on the active set ``{|rho_j| = 1}`` under the sign
constraints ``sign(beta_j) = rho_j``. At a knot the first inactive
coordinate reaching the unit sphere joins, the sign-constrained problem is
re-solved (an active-set NNLS warm-started at the previous solution), and
coordinates whose constraint binds with ``rho`` moving inwards leave.
"""

import numpy as np
from numba import njit

from sparsestat._kernels._design import gram_column

OK, MAX_ITER = 0, 1


@njit(cache=True)
def _solve_free(Hc, slot, c, free, n_free):
    """Least squares on the free set: solve ``H_FF x = c_F``."""
    A = np.empty((n_free, n_free))
    rhs = np.empty(n_free)
    for a in range(n_free):
        ja = free[a]
        rhs[a] = c[ja]
        for b_ in range(n_free):
            A[a, b_] = Hc[free[b_], slot[ja]]
    try:
        x = np.linalg.solve(A, rhs)
    except Exception:  # singular: minimum-norm least squares
        x = np.linalg.lstsq(A, rhs)[0]
    return x


@njit(cache=True)
def iss_path(Xf, xdata, xind, xptr, xmean, is_sparse, n_samples, H, c, t0, grid,
             max_knots, record_duals, tol):
    """Exact ISS path of ``(1/2n)||y - X beta||^2`` sampled on ``grid``.

    Returns
    -------
    coefs : (n_times, p)
    duals : (n_times, p) or (0, p)
    entry : (p,) first time each coordinate is active with a nonzero value
    n_knots, status, t_end, beta, rho
    """
    p = c.shape[0]
    n_times = grid.shape[0]
    coefs = np.zeros((n_times, p))
    duals = np.zeros((n_times if record_duals else 0, p))
    entry = np.full(p, np.inf)

    full_gram = H.shape[0] == p
    slot = np.full(p, -1, dtype=np.int64)
    if full_gram:
        for j in range(p):
            slot[j] = j
        Hc = H
    else:
        Hc = np.zeros((16 if p > 16 else p, p)).T
    n_cached = 0

    cmax = 0.0
    for j in range(p):
        cmax = max(cmax, abs(c[j]))
    rho = c / cmax
    beta = np.zeros(p)
    g = c.copy()                       # rho' = c - H beta
    sign = np.zeros(p)
    in_a = np.zeros(p, dtype=np.bool_)   # on the boundary |rho_j| = 1
    free = np.empty(p, dtype=np.int64)   # coordinates with beta_j != 0
    n_free = 0
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
    gmax0 = cmax
    while n_knots < max_knots:
        # ---- make sure the Gram columns of boundary coordinates are cached
        if not full_gram:
            for j in range(p):
                if in_a[j] and slot[j] < 0:
                    if n_cached == Hc.shape[1]:
                        bigger = np.zeros((2 * Hc.shape[1], p)).T
                        bigger[:, :n_cached] = Hc[:, :n_cached]
                        Hc = bigger
                    gram_column(Xf, xdata, xind, xptr, xmean, is_sparse, j, n_samples,
                                Hc[:, n_cached])
                    slot[j] = n_cached
                    n_cached += 1
        # ---- sign-constrained least squares on the boundary set (active-set NNLS)
        for _ in range(4 * p + 10):
            # gradient of the LS objective restricted to the boundary set
            for j in range(p):
                g[j] = c[j]
            for a in range(n_free):
                ja = free[a]
                bj = beta[ja]
                for i in range(p):
                    g[i] -= Hc[i, slot[ja]] * bj
            # most violated KKT condition among boundary coordinates at zero
            best = -1
            best_v = tol * gmax0
            for j in range(p):
                if in_a[j] and beta[j] == 0.0 and sign[j] * g[j] > best_v:
                    best_v = sign[j] * g[j]
                    best = j
            if best < 0:
                break
            free[n_free] = best
            n_free += 1
            # inner loop: solve on the free set, step back while signs are violated
            while True:
                x = _solve_free(Hc, slot, c, free, n_free)
                theta = 1.0
                for a in range(n_free):
                    ja = free[a]
                    if sign[ja] * x[a] <= 0.0:
                        old = beta[ja]
                        if sign[ja] * old > 0.0:
                            theta = min(theta, old / (old - x[a]))
                        else:
                            theta = 0.0
                if theta >= 1.0:
                    for a in range(n_free):
                        beta[free[a]] = x[a]
                    break
                keep = 0
                for a in range(n_free):
                    ja = free[a]
                    nb = beta[ja] + theta * (x[a] - beta[ja])
                    if sign[ja] * nb <= 1e-14 * (abs(beta[ja]) + abs(x[a])) or \
                            (sign[ja] * x[a] <= 0.0 and theta == 0.0):
                        beta[ja] = 0.0
                    else:
                        beta[ja] = nb
                        free[keep] = ja
                        keep += 1
                n_free = keep
                if n_free == 0:
                    break
        # final dual velocity for this segment
        for j in range(p):
            g[j] = c[j]
        for a in range(n_free):
            ja = free[a]
            bj = beta[ja]
            for i in range(p):
                g[i] -= Hc[i, slot[ja]] * bj
        for a in range(n_free):
            ja = free[a]
            if entry[ja] == np.inf:
                entry[ja] = t
        # boundary coordinates at zero whose dual moves inwards leave the boundary
        for j in range(p):
            if in_a[j] and beta[j] == 0.0 and sign[j] * g[j] <= tol * gmax0:
                in_a[j] = False
        # ---- next knot
        dt = np.inf
        nxt = -1
        gmax = 0.0
        for j in range(p):
            gmax = max(gmax, abs(g[j]))
            if not in_a[j] and g[j] != 0.0:
                target = 1.0 if g[j] > 0.0 else -1.0
                d = (target - rho[j]) / g[j]
                if d < dt:
                    dt = d
                    nxt = j
        if gmax <= tol * gmax0:
            dt = np.inf
        # ---- record grid times inside (t, t + dt]
        while gi < n_times and grid[gi] <= t + dt:
            coefs[gi] = beta
            if record_duals:
                duals[gi] = rho + (grid[gi] - t) * g
                for a in range(n_free):
                    duals[gi, free[a]] = sign[free[a]]
            gi += 1
        if gi >= n_times or nxt < 0 or dt == np.inf:
            status = OK
            break
        for j in range(p):
            if not (in_a[j] and beta[j] != 0.0):
                rho[j] += dt * g[j]
        t += dt
        rho[nxt] = 1.0 if g[nxt] > 0.0 else -1.0
        sign[nxt] = rho[nxt]
        in_a[nxt] = True
        n_knots += 1
    return coefs[:gi], duals[:gi] if record_duals else duals, entry, n_knots, \
        status, t, beta, rho
