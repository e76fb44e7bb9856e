"""The exact inverse scale space path of the squared loss (l1 penalty).

Between knots the dual variable moves linearly, ``rho' = c - H beta`` with
``H = X^T X / n`` and ``c = X^T y / n``, while ``beta`` is constant: the
least-squares fit on the boundary set ``{|rho_j| = 1}`` under the sign
constraints ``sign(beta_j) = rho_j``. At a knot the first coordinate whose
dual reaches the unit sphere joins the boundary, the sign-constrained problem
is re-solved by an active-set (Lawson-Hanson) method warm-started at the
previous solution, and boundary coordinates whose constraint binds while
their dual moves inwards leave it.

The free set's normal equations are solved with a Cholesky factor ``L`` that
is extended by one row when a coordinate joins (``O(|F|^2)``) and downdated by
Givens rotations when one leaves. The forward solution ``L^{-1} c_F`` is kept
with the factor (extended by one entry per join, rotated with the factor per
drop), so each solve is one back substitution. The velocity ``c - H beta`` is
computed in one of two ways:

* *Gram mode* (``H`` given, for ``p <= n``): ``O(p |F|)`` from the rows of
  ``H`` of the free coordinates;
* *design mode* (``H`` is ``None``): from the fit ``u = X_F beta_F`` as
  ``c - X^T u / n``, evaluated only where it is needed (the boundary
  coordinates at zero, and the candidates of the next knot that the screening
  of :func:`_next_knot` keeps; a full product with the design only when the
  screening reference moves). The free columns are kept as a contiguous copy
  (dense designs) so that the cross products a join needs (``X_F^T x_j``) and
  the fit are small BLAS products too.

The kernel advances the path up to a given grid index and keeps its state in
arrays owned by the caller, so a long path can be computed in segments (for
progress reports) with the same result as in one call.
"""

import numpy as np

from sparsestat._kernels._arrays import copy_1d, copy_2d
from sparsestat._kernels._design import column, transpose_vector
from sparsestat._kernels._jit import kernel
from sparsestat._kernels._status import MAX_ITER, OK, PAUSED

# integer state: grid index, size of the free set, knots, status, joins, drops, solves,
# duals evaluated since the screening reference last moved, moves of that reference
GI, NF, KNOTS, STATUS, JOINS, DROPS, SOLVES, EVALUATED, MOVES = range(9)
N_ISTATE = 9


@kernel(fastmath={"reassoc", "nsz", "contract"})
def _dot(a, b, m):
    """``a[:m] . b[:m]`` (reassociated, so the compiler vectorizes it)."""
    s = 0.0
    for i in range(m):
        s += a[i] * b[i]
    return s


@kernel
def _forward(L, nf, rhs, out):
    """``out[:nf] = L[:nf, :nf]^{-1} rhs[:nf]`` (rows of ``L`` are contiguous)."""
    for a in range(nf):
        out[a] = (rhs[a] - _dot(L[a], out, a)) / L[a, a]


@kernel
def _chol_append(L, nf, h, d, w):
    """Extend the factor of ``H_FF`` by a column with cross products ``h`` and diagonal ``d``.

    ``w`` is workspace; returns False when the new column is (numerically) in
    the span of the free columns.
    """
    _forward(L, nf, h, w)
    r = d - _dot(w, w, nf)
    if r <= 1e-10 * d:
        return False
    copy_1d(L[nf], w[:nf])
    L[nf, nf] = np.sqrt(r)
    return True


@kernel
def _rotate(row, k, cs, sn):
    """Apply the Givens rotation ``(cs, sn)`` to the pair ``row[k], row[k + 1]``."""
    u = row[k]
    v = row[k + 1]
    row[k] = cs * u + sn * v
    row[k + 1] = -sn * u + cs * v


# rows rotated together by the downdate: independent rotation chains that the CPU
# overlaps, while each row is still read in order
_REMOVE_BLOCK = 8


@kernel
def _chol_remove(L, nf, q, lc, cs, sn):
    """Factor of ``H_FF`` without its ``q``-th variable, by Givens rotations (``O(nf^2)``).

    Row ``q`` is deleted and the columns ``q, q+1, ...`` are rotated back to lower
    triangular form: row ``i`` applies the rotations found in the rows above it,
    then yields its own. Rows are taken in blocks that apply the known rotations
    together (each rotation depends on the last, so one row alone would wait on
    every one of them). ``lc = L^{-1} c_F`` is rotated alike, so it stays the forward
    solution of the reduced system. ``cs``, ``sn`` are workspace.
    """
    m = nf - 1
    for i0 in range(q, m, _REMOVE_BLOCK):
        i1 = min(i0 + _REMOVE_BLOCK, m)
        for i in range(i0, i1):
            for j in range(i + 2):
                L[i, j] = L[i + 1, j]
        for k in range(q, i0):
            c_k = cs[k]
            s_k = sn[k]
            for i in range(i0, i1):
                u = L[i, k]
                v = L[i, k + 1]
                L[i, k] = c_k * u + s_k * v
                L[i, k + 1] = -s_k * u + c_k * v
        for i in range(i0, i1):
            row = L[i]
            for k in range(i0, i):
                _rotate(row, k, cs[k], sn[k])
            r = np.hypot(row[i], row[i + 1])
            if r == 0.0:
                cs[i] = 1.0
                sn[i] = 0.0
                continue
            cs[i] = row[i] / r
            sn[i] = row[i + 1] / r
            _rotate(row, i, cs[i], sn[i])
            _rotate(lc, i, cs[i], sn[i])
    for i in range(m):
        L[i, m] = 0.0


@kernel
def _back(L, nf, y):
    """Solve ``L^T x = y`` for the leading ``nf`` block (rows of ``L`` are contiguous)."""
    x = np.empty(nf)
    copy_1d(x, y[:nf])
    for a in range(nf - 1, -1, -1):
        xa = x[a] / L[a, a]
        x[a] = xa
        for b_ in range(a):
            x[b_] -= xa * L[a, b_]
    return x


@kernel
def _fit(Xf, xdata, xind, xptr, xmean, is_sparse, beta, free, nf, XFt, bf, u):
    """``u = X_F beta_F``, the fitted values of the free columns (design mode)."""
    if nf == 0:
        u[:] = 0.0
    elif is_sparse is not None:
        u[:] = 0.0
        shift = 0.0
        for a in range(nf):
            j = free[a]
            b = beta[j]
            for ii in range(xptr[j], xptr[j + 1]):
                u[xind[ii]] += xdata[ii] * b
            shift += xmean[j] * b
        u -= shift
    else:
        for a in range(nf):
            bf[a] = beta[free[a]]
        copy_1d(u, np.dot(XFt[:nf].T, bf[:nf]))


@kernel
def _col_dot(Xf, xdata, xind, xptr, xmean, is_sparse, j, v, vsum):
    """``x_j^T v`` for column ``j`` with its implicit centring (``vsum = sum(v)``)."""
    if is_sparse is not None:
        s = 0.0
        for ii in range(xptr[j], xptr[j + 1]):
            s += xdata[ii] * v[xind[ii]]
        return s - xmean[j] * vsum
    return _dot(Xf[:, j], v, v.shape[0])


@kernel
def _velocity(Xf, xdata, xind, xptr, xmean, is_sparse, n, H, c, beta, free, nf, XFt,
              fit, bf, g, in_a, lazy):
    """``g = c - H beta`` for ``beta`` supported on the free set.

    Design mode also refreshes the fit ``u = X_F beta_F`` (``fit[0]``). With ``lazy`` only the
    boundary coordinates at zero get their velocity: off the boundary ``g`` keeps
    the reference, and on the free set it is zero (the normal equations), where
    no step reads it.
    """
    if H is not None:
        copy_1d(g, c)
        for a in range(nf):
            b = beta[free[a]]
            row = H[free[a]]
            for j in range(g.shape[0]):
                g[j] -= b * row[j]
        return
    if fit is not None:  # design mode (numba drops this branch in Gram mode)
        u = fit[0]
        _fit(Xf, xdata, xind, xptr, xmean, is_sparse, beta, free, nf, XFt, bf, u)
        if nf == 0:
            copy_1d(g, c)
            return
        if lazy:
            usum = np.sum(u)
            for j in range(g.shape[0]):
                if in_a[j] and beta[j] == 0.0:
                    g[j] = c[j] - _col_dot(Xf, xdata, xind, xptr, xmean, is_sparse, j, u,
                                           usum) / n
            return
        transpose_vector(Xf, xdata, xind, xptr, xmean, is_sparse, u, g)
        for j in range(g.shape[0]):
            g[j] = c[j] - g[j] / n


@kernel
def _column_norms(Xf, xdata, xind, xptr, xmean, is_sparse, n, out):
    """``out[j] = ||x_j|| / n`` (columns with their implicit centring)."""
    for j in range(out.shape[0]):
        if is_sparse is not None:
            s = 0.0
            s1 = 0.0
            for ii in range(xptr[j], xptr[j + 1]):
                s += xdata[ii] * xdata[ii]
                s1 += xdata[ii]
            m = xmean[j]
            sq = s - 2.0 * m * s1 + n * m * m
        else:
            sq = _dot(Xf[:, j], Xf[:, j], n)
        out[j] = np.sqrt(max(sq, 0.0)) / n


# the screening bounds are inflated by this factor, far above their rounding errors
_BOUND_SAFETY = 1.0 + 1e-8


@kernel
def _next_knot(Xf, xdata, xind, xptr, xmean, is_sparse, n, c, rho, g, in_a, thresh, dt_ref,
               fit, cn, lazy):
    """The first coordinate off the boundary to reach ``|rho_j| = 1``.

    Off the boundary, ``rho[j]`` and ``g[j]`` hold the dual and the velocity at the
    reference time, ``dt_ref`` ago. Without ``lazy`` they are current (``dt_ref = 0``).
    With ``lazy`` the fit has since moved from ``u_ref = fit[1]`` to ``u = fit[0]``,
    and ``U = fit[2]`` is the integral of ``u - u_ref`` since then, so the exact
    dual and velocity are ``rho_j + dt_ref g_j - x_j^T U / n`` and
    ``c_j - x_j^T u / n``: they are evaluated only for the coordinates whose
    bound (Cauchy-Schwarz on both corrections) does not rule out reaching the
    sphere before the best time found so far. Returns the time to the knot, the
    coordinate (-1: none), its current velocity, and how many were evaluated.
    """
    e_rho = 0.0
    e_g = 0.0
    usum = 0.0
    Usum = 0.0
    if fit is not None and lazy:
        for i in range(n):
            e_rho += fit[2, i] * fit[2, i]
            d = fit[0, i] - fit[1, i]
            e_g += d * d
            usum += fit[0, i]
            Usum += fit[2, i]
        e_rho = np.sqrt(e_rho) * _BOUND_SAFETY
        e_g = np.sqrt(e_g) * _BOUND_SAFETY
    exact = e_rho == 0.0 and e_g == 0.0
    dt = np.inf
    nxt = -1
    g_nxt = 0.0
    evaluated = 0
    for j in range(c.shape[0]):
        if in_a[j]:
            continue
        gj = g[j]
        rj = rho[j] + dt_ref * gj
        if fit is not None and not exact:  # (Gram mode: always exact)
            speed = abs(gj) + cn[j] * e_g
            gap = 1.0 - abs(rj) - cn[j] * e_rho
            if speed <= thresh or (gap > 0.0 and gap >= dt * speed):
                continue
            evaluated += 1
            rj -= _col_dot(Xf, xdata, xind, xptr, xmean, is_sparse, j, fit[2], Usum) / n
            rj = min(1.0, max(-1.0, rj))
            gj = c[j] - _col_dot(Xf, xdata, xind, xptr, xmean, is_sparse, j, fit[0], usum) / n
        if abs(gj) > thresh:
            d = ((1.0 if gj > 0.0 else -1.0) - rj) / gj
            if d < dt:
                dt = d
                nxt = j
                g_nxt = gj
    return dt, nxt, g_nxt, evaluated


@kernel
def _leave_reference(Xf, xdata, xind, xptr, xmean, is_sparse, n, c, rho, g, sign, j, dt_ref,
                     fit):
    """Reference values at ``t_ref`` of coordinate ``j`` leaving the boundary now: the
    velocity with the fit ``u_ref`` and the dual that reaches ``sign_j`` at the current time."""
    g[j] = c[j] - _col_dot(Xf, xdata, xind, xptr, xmean, is_sparse, j, fit[1],
                           np.sum(fit[1])) / n
    rho[j] = sign[j] - dt_ref * g[j] + \
        _col_dot(Xf, xdata, xind, xptr, xmean, is_sparse, j, fit[2], np.sum(fit[2])) / n


@kernel
def _refresh(Xf, xdata, xind, xptr, xmean, is_sparse, n, c, rho, g, in_a, dt_ref, fit, work):
    """Make the reference the current time: exact duals and velocities off the boundary
    (two products with the design), ``u_ref = u`` and ``U = 0``."""
    transpose_vector(Xf, xdata, xind, xptr, xmean, is_sparse, fit[2], work)
    for j in range(c.shape[0]):
        if not in_a[j]:
            rho[j] = min(1.0, max(-1.0, rho[j] + dt_ref * g[j] - work[j] / n))
    transpose_vector(Xf, xdata, xind, xptr, xmean, is_sparse, fit[0], work)
    for j in range(c.shape[0]):
        if not in_a[j]:
            g[j] = c[j] - work[j] / n
    copy_1d(fit[1], fit[0])
    fit[2, :] = 0.0


@kernel
def _cross(Xf, xdata, xind, xptr, xmean, is_sparse, n, H, fit, free, nf, XFt, j, xj, h):
    """``h[:nf] = H[free, j]``; returns ``H[j, j]``. Fills ``xj`` with column j (design mode)."""
    if H is not None:
        for a in range(nf):
            h[a] = H[free[a], j]
        return H[j, j]
    if fit is None:
        return 0.0  # not reached (Gram mode has H); lets numba drop the design code below
    column(Xf, xdata, xind, xptr, xmean, is_sparse, j, xj)
    if is_sparse is not None:
        total = 0.0
        for i in range(n):
            total += xj[i]
        for a in range(nf):
            f = free[a]
            s = 0.0
            for ii in range(xptr[f], xptr[f + 1]):
                s += xdata[ii] * xj[xind[ii]]
            h[a] = (s - xmean[f] * total) / n
    elif nf > 0:
        copy_1d(h, np.dot(XFt[:nf], xj) / n)
    return _dot(xj, xj, n) / n


@kernel
def iss_path(Xf, xdata, xind, xptr, xmean, is_sparse, n_samples, H, c, grid, gi_stop,
             max_knots, record_duals, tol, rho, beta, g, sign, in_a, free, L, lc, XFt, fit,
             coefs, duals, entry, istate, fstate):
    """Advance the exact ISS path of ``(1/2n)||y - X beta||^2`` up to grid index ``gi_stop``.

    ``H`` is the full scaled Gram matrix (C order; Gram mode) or ``None``
    (design mode), and ``fit`` the fitted values of design mode (``None`` in
    Gram mode): numba compiles each mode without the other's branches, so Gram
    mode never compiles the products with the design. The state (``rho``,
    ``beta``, ``g = c - H beta``, ``sign``, ``in_a``, ``free``, the factor
    ``L`` with ``lc = L^{-1} c_F``, the free columns ``XFt``, the fits
    ``fit = [u, u_ref, U]``, ``istate`` and
    ``fstate = [t, cmax, t_ref]``) is read and updated in place; ``coefs[gi]``
    (and ``duals[gi]``) are written for the grid times reached. ``L``, ``lc`` and
    ``XFt`` grow when needed, so the current ones are returned.
    Initially ``rho = c / cmax`` with the maximizers on the boundary, ``g = c``,
    ``t = t_ref = t0``, ``fit = 0`` and the grid index past the times ``<= t0``.

    In design mode without recorded duals the duals off the boundary are
    screened (see :func:`_next_knot`): ``rho`` and ``g`` hold their values at
    ``t_ref`` and a knot evaluates only the coordinates that might reach the
    sphere first. The reference moves to the current time once the evaluations
    since the last move add up to ``p`` (the cost of the two products it takes).
    """
    p = c.shape[0]
    n = n_samples
    n_times = grid.shape[0]
    design_mode = fit is not None
    dense_design = design_mode and is_sparse is None
    gi = istate[GI]
    nf = istate[NF]
    n_knots = istate[KNOTS]
    t = fstate[0]
    t_ref = fstate[2]
    thresh = tol * fstate[1]
    # the lazy branches also test `fit is not None`: numba removes a branch on a None
    # argument when it compiles, not one on a flag derived from it
    lazy = design_mode and not record_duals
    cn = np.zeros(p if lazy else 0)
    h_p = np.empty(p if lazy else 0)
    if fit is not None and lazy:
        _column_norms(Xf, xdata, xind, xptr, xmean, is_sparse, n, cn)
    xj = np.empty(n if design_mode else 0)
    bf = np.empty(p if dense_design else 0)
    h = np.empty(L.shape[0])
    w = np.empty(L.shape[0])
    cs = np.empty(L.shape[0])
    sn = np.empty(L.shape[0])
    status = MAX_ITER
    while n_knots < max_knots:
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
            if nf + 1 >= L.shape[0]:
                size = max(16, 2 * L.shape[0])
                # rows a power of two apart would share cache sets in the downdate
                bigger_l = np.zeros((size, size + 8))
                copy_2d(bigger_l, L[:nf, :nf])
                L = bigger_l
                bigger_c = np.empty(size)
                copy_1d(bigger_c, lc[:nf])
                lc = bigger_c
                h = np.empty(size)
                w = np.empty(size)
                cs = np.empty(size)
                sn = np.empty(size)
            if dense_design and nf == XFt.shape[0]:
                bigger_x = np.empty((2 * nf + 8, n))
                copy_2d(bigger_x, XFt[:nf])
                XFt = bigger_x
            d = _cross(Xf, xdata, xind, xptr, xmean, is_sparse, n, H, fit, free, nf, XFt,
                       best, xj, h)
            if not _chol_append(L, nf, h, d, w):
                in_a[best] = False  # numerically in the span of the free columns
                continue
            free[nf] = best
            lc[nf] = (c[best] - _dot(w, lc, nf)) / L[nf, nf]
            if dense_design:
                copy_1d(XFt[nf], xj)
            nf += 1
            istate[JOINS] += 1
            while True:
                x_free = _back(L, nf, lc)
                istate[SOLVES] += 1
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
                        _chol_remove(L, nf, a, lc, cs, sn)
                        for b_ in range(a, nf - 1):
                            free[b_] = free[b_ + 1]
                            if dense_design:
                                copy_1d(XFt[b_], XFt[b_ + 1])
                        nf -= 1
                        istate[DROPS] += 1
                    else:
                        beta[ja] = nb
                if nf == 0:
                    break
            _velocity(Xf, xdata, xind, xptr, xmean, is_sparse, n, H, c, beta, free, nf, XFt,
                      fit, bf, g, in_a, lazy)
        for a in range(nf):
            ja = free[a]
            if entry[ja] == np.inf:
                entry[ja] = t
        # boundary coordinates at zero whose dual moves inwards leave the boundary
        for j in range(p):
            if in_a[j] and beta[j] == 0.0 and sign[j] * g[j] <= thresh:
                in_a[j] = False
                # its reference: the values at t_ref that give rho_j(t) = sign_j
                if fit is not None and lazy:
                    _leave_reference(Xf, xdata, xind, xptr, xmean, is_sparse, n, c, rho, g,
                                     sign, j, t - t_ref, fit)
        # ---- next knot (a velocity below the tolerance is zero: a coordinate in the
        # span of the free columns, e.g. a duplicate, rests on the sphere without joining)
        dt, nxt, g_nxt, evaluated = _next_knot(Xf, xdata, xind, xptr, xmean, is_sparse, n, c,
                                               rho, g, in_a, thresh, t - t_ref, fit, cn, lazy)
        # ---- record grid times inside (t, t + dt]
        while gi < gi_stop and grid[gi] <= t + dt:
            copy_1d(coefs[gi], beta)
            if record_duals:
                for j in range(p):
                    duals[gi, j] = sign[j] if in_a[j] else rho[j] + (grid[gi] - t) * g[j]
            gi += 1
        if gi >= n_times or nxt < 0 or dt == np.inf:
            status = OK
            break
        if gi >= gi_stop:
            status = PAUSED  # resuming re-enters the loop here, at the same knot
            break
        istate[EVALUATED] += evaluated  # counted once per knot, also when it was resumed
        if fit is not None and lazy:
            for i in range(n):
                fit[2, i] += dt * (fit[0, i] - fit[1, i])
        else:
            for j in range(p):
                if not in_a[j]:
                    rho[j] = min(1.0, max(-1.0, rho[j] + dt * g[j]))
        t += dt
        if not lazy:
            t_ref = t
        elif fit is not None and istate[EVALUATED] >= p:
            _refresh(Xf, xdata, xind, xptr, xmean, is_sparse, n, c, rho, g, in_a, t - t_ref,
                     fit, h_p)
            t_ref = t
            istate[EVALUATED] = 0
            istate[MOVES] += 1
        g[nxt] = g_nxt
        rho[nxt] = 1.0 if g[nxt] > 0.0 else -1.0
        sign[nxt] = rho[nxt]
        in_a[nxt] = True
        n_knots += 1
    istate[GI] = gi
    istate[NF] = nf
    istate[KNOTS] = n_knots
    istate[STATUS] = status
    fstate[0] = t
    fstate[2] = t_ref
    return L, lc, XFt
