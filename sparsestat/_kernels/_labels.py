"""Kernels of the noisy-label detector: the pieces' label-shift paths in one call, and
neighbour votes screened in single precision.

:func:`pieces_entry_times` runs, for every piece (a small set of samples), what
``shift_entry_times`` does through the general engine: the leading principal
components of the piece, an orthonormal basis of ``[1, Z]`` (two rounds of
Cholesky QR on the standardized columns) and the group LBI path of the
one-hot labels with leverage weights, recording entry times only. Pieces it
cannot take (too few rows for Cholesky QR, an ill-conditioned basis) are
reported, and the caller takes them through the general code.

:func:`screened_votes` finds each query's nearest pool rows from
single-precision products and recomputes, in double precision, the distances
of the few rows that can be neighbours, so the votes are those of the exact
distances.
"""

import numpy as np

from sparsestat._kernels._core import group_update
from sparsestat._kernels._jit import kernel
from sparsestat._kernels._projected import shift_gradient

#: statuses of a piece
PIECE_OK = 0
PIECE_FALLBACK = 1

_EPS = np.finfo(np.float64).eps


@kernel(nogil=True)
def _piece_basis(Xp, d, rtol):
    """Orthonormal basis ``Q`` (m, r) of ``[1, Z]``, ``Z`` the ``d`` leading centred principal
    components of ``Xp`` (m, p); ``ok`` False where the piece needs the general path."""
    m, p = Xp.shape
    mean = np.zeros(p)
    for i in range(m):
        for a in range(p):
            mean[a] += Xp[i, a]
    for a in range(p):
        mean[a] /= m
    Zc = np.empty((m, p))
    for i in range(m):
        for a in range(p):
            Zc[i, a] = Xp[i, a] - mean[a]
    dd = min(d, m - 1, p)
    if dd >= p:
        Z = Zc
    elif p <= m:
        w, V = np.linalg.eigh(np.dot(Zc.T, Zc))
        Vd = np.empty((p, dd))
        for j in range(dd):
            for a in range(p):
                Vd[a, j] = V[a, p - 1 - j]
        Z = np.dot(Zc, Vd)
    else:
        w, U = np.linalg.eigh(np.dot(Zc, Zc.T))
        Z = np.empty((m, dd))
        for j in range(dd):
            s = np.sqrt(max(w[m - 1 - j], 0.0))
            for i in range(m):
                Z[i, j] = U[i, m - 1 - j] * s
    q = Z.shape[1]
    ncol = q + 1
    if m < 2 * ncol:
        return np.empty((m, 0)), False
    # standardized [1, Z] (the columns centred and scaled to unit mean square)
    A = np.empty((m, ncol))
    scale = np.empty(q)
    top = 0.0
    for j in range(q):
        mu = 0.0
        for i in range(m):
            mu += Z[i, j]
        mu /= m
        ss = 0.0
        for i in range(m):
            v = Z[i, j] - mu
            A[i, j + 1] = v
            ss += v * v
        scale[j] = np.sqrt(ss / m)
        top = max(top, scale[j])
    for i in range(m):
        A[i, 0] = 1.0
    for j in range(q):
        s = scale[j] if scale[j] > _EPS * max(1.0, top) else 1.0
        for i in range(m):
            A[i, j + 1] /= s
    # two rounds of Cholesky QR; an ill-conditioned first round takes the general path
    for round_ in range(2):
        G = np.dot(A.T, A)
        for a in range(ncol):
            for c in range(a):
                G[c, a] = G[a, c]
        L = np.zeros((ncol, ncol))
        good = True
        for j in range(ncol):
            s = G[j, j]
            for c in range(j):
                s -= L[j, c] * L[j, c]
            if not s > 0.0:
                good = False
                break
            L[j, j] = np.sqrt(s)
            for i in range(j + 1, ncol):
                s = G[i, j]
                for c in range(j):
                    s -= L[i, c] * L[j, c]
                L[i, j] = s / L[j, j]
        lo = np.inf
        hi = 0.0
        if good:
            for j in range(ncol):
                lo = min(lo, L[j, j])
                hi = max(hi, L[j, j])
        if not good or lo <= np.sqrt(rtol) * hi:
            if round_ == 0:
                return np.empty((m, 0)), False
            break
        # A <- A L^-T (forward substitution row by row)
        for i in range(m):
            for j in range(ncol):
                s = A[i, j]
                for c in range(j):
                    s -= A[i, c] * L[j, c]
                A[i, j] = s / L[j, j]
    return A, True


@kernel(nogil=True)
def _piece_entry(Q, codes, n_labels, kappa, t_ratio, entry):
    """Entry times (``entry``, in place, not yet divided by ``m``) of the label shifts of
    one piece: the group LBI path of ``projected_shift_path`` with leverage weights,
    from the analytic jump to ``t_ratio`` times the start or until all but one row is
    active; each step is the core's :func:`group_update` (one group per row). Returns
    False where the path needs the general code."""
    m, r = Q.shape
    L = n_labels
    for i in range(m):
        entry[i] = np.inf
    # resid = Y - Q Q^T Y with Y the one-hot labels; Q^T Y sums the rows of each label
    QtY = np.zeros((r, L))
    for i in range(m):
        for a in range(r):
            QtY[a, codes[i]] += Q[i, a]
    resid = -np.dot(Q, QtY)
    for i in range(m):
        resid[i, codes[i]] += 1.0
    big = 0.0
    for i in range(m):
        s = 0.0
        for k in range(L):
            s += resid[i, k] * resid[i, k]
        big = max(big, s)
    if np.sqrt(big) <= 1e-10:
        return True                      # the labels are a linear function of the features
    omega = np.empty(m)
    for i in range(m):
        h = 0.0
        for a in range(r):
            h += Q[i, a] * Q[i, a]
        omega[i] = np.sqrt(min(max(1.0 - h, 1e-6), 1.0))
    # the analytic jump: t0 = 1 / max_i ||g0_i|| / omega_i with g0 = -resid / m
    norm0 = 0.0
    for i in range(m):
        s = 0.0
        for k in range(L):
            v = -resid[i, k] / m / omega[i]
            s += v * v
        norm0 = max(norm0, np.sqrt(s))
    if not np.isfinite(norm0) or norm0 <= 1e-14 / m:
        return True
    t0 = 1.0 / norm0
    z = np.empty((m, L))
    for i in range(m):
        s = 0.0
        for k in range(L):
            v = (resid[i, k] / m / omega[i]) / norm0
            z[i, k] = v
            s += v * v
        nrm = max(np.sqrt(s), 1.0)
        for k in range(L):
            z[i, k] /= nrm
    alpha = m / kappa
    t_end = t0 * t_ratio
    budget = int(np.ceil(max(t_end - t0, 0.0) / alpha)) + 1
    # the penalty: each row is a group of its L label columns, weighted by omega_i; the
    # gradient of row i is (G_i - (Q Q^T G)_i - resid_i) / m, its step alpha / omega_i
    row_groups = np.arange(m + 1)
    rows = np.arange(m)
    row_scale = 1.0 / omega
    G = np.zeros((m, L))
    grad = np.empty((m, L))
    z_new = np.empty((m, L))
    entries = np.full((m, L), np.inf)
    coef = np.zeros((r, L))
    t = t0
    for it in range(budget):
        # m times the gradient: (I - Q Q^T) G - resid, then its scale
        shift_gradient(Q, G, resid, coef, grad)
        for i in range(m):
            for k in range(L):
                grad[i, k] /= m
        _, n_act, _ = group_update(z, grad, alpha, row_scale, kappa, omega, t, entries, True,
                                   row_groups, rows, z_new, G)
        z, z_new = z_new, z
        done = t_end <= t + alpha
        t += alpha
        if done or n_act > m - 1:
            break
    for i in range(m):
        for k in range(L):
            entry[i] = min(entry[i], entries[i, k])
    return True


@kernel(nogil=True)
def pieces_entry_times(Xn, codes, ptr, idx, n_components, kappa, t_ratio, n_labels_total):
    """Entry times of all pieces; ``status[j]`` PIECE_FALLBACK where piece ``j`` needs
    the general code (its entries are then left as NaN)."""
    n_pieces = ptr.shape[0] - 1
    out = np.full(idx.shape[0], np.nan)
    status = np.zeros(n_pieces, dtype=np.int64)
    p = Xn.shape[1]
    mark = np.full(n_labels_total, -1, dtype=np.int64)
    for j in range(n_pieces):
        s, e = ptr[j], ptr[j + 1]
        m = e - s
        # local label codes: the labels present, in increasing order
        for u in range(s, e):
            mark[codes[idx[u]]] = 0
        L = 0
        for c in range(n_labels_total):
            if mark[c] == 0:
                mark[c] = L
                L += 1
        local = np.empty(m, dtype=np.int64)
        for u in range(s, e):
            local[u - s] = mark[codes[idx[u]]]
        for c in range(n_labels_total):
            mark[c] = -1
        Xp = np.empty((m, p))
        for u in range(m):
            for a in range(p):
                Xp[u, a] = Xn[idx[s + u], a]
        d = n_components if n_components > 0 else L
        Q, ok = _piece_basis(Xp, d, 1e-10)
        if not ok:
            status[j] = PIECE_FALLBACK
            continue
        ent = np.empty(m)
        _piece_entry(Q, local, L, kappa, t_ratio, ent)
        for u in range(m):
            out[s + u] = ent[u] / m
    return out, status


@kernel(inline="always")
def _insert_below(top, d):
    """Insert ``d`` into the sorted ``top`` when it is below the last entry (dropping that)."""
    q = top.shape[0] - 1
    if not d < top[q]:
        return
    while q > 0 and top[q - 1] > d:
        top[q] = top[q - 1]
        q -= 1
    top[q] = d


@kernel(nogil=True)
def screened_votes(P, Zq, sq_q, codes_q, features, sq_pool, codes_pool, n_labels, k, eps,
                   same_row, tie, own, best, assigned, tied, radius):
    """Neighbour votes of a block of queries from single-precision products ``P``.

    ``P[i, j]`` approximates ``Zq[i] . features[j]`` within ``eps[i] / 2``, so
    the squared distances built from it (``sq_q[i] + sq_pool[j] - 2 P[i, j]``,
    floored at zero) are within ``eps[i]`` of the exact ones. Per query: the
    ``k + 1`` smallest screened distances bound the ``k``-th exact one; only
    pool rows whose screened distance lies below that bound (widened by the tie
    tolerance and twice ``eps``) can be neighbours, and only their distances are
    computed exactly (double precision, the same formula). Leave-one-out, the
    ``k``-th distance, the ties and the votes are then those of the exact
    distances over the whole pool. ``same_row`` and ``tie`` are the relative
    tolerances of an identical row and of a tie with the ``k``-th distance;
    the five outputs are filled per query (fractions of the query's own label
    and of the best label, the lowest best label, whether labels tie, the
    ``k``-th distance).
    """
    nq = P.shape[0]
    n_pool = P.shape[1]
    p = Zq.shape[1]
    k1 = k + 1
    top = np.empty(k1)
    cand = np.empty(n_pool, dtype=np.int64)
    dist = np.empty(n_pool)
    row = np.empty(n_pool)
    sel = np.empty(n_pool, dtype=np.int64)
    counts = np.zeros(n_labels)
    for i in range(nq):
        dq = sq_q[i]
        for j in range(n_pool):
            d = -2.0 * np.float64(P[i, j]) + dq + sq_pool[j]
            row[j] = d if d > 0.0 else 0.0
        # the k + 1 smallest screened distances: a bound from every 8th pool row, then the
        # rows below it
        for q in range(k1):
            top[q] = np.inf
        for j in range(0, n_pool, 8):
            _insert_below(top, row[j])
        thr = top[k1 - 1]
        n_sel = 0
        for j in range(n_pool):
            sel[n_sel] = j
            n_sel += row[j] <= thr
        for q in range(k1):
            top[q] = np.inf
        for c in range(n_sel):
            _insert_below(top, row[sel[c]])
        bound = (top[k1 - 1] + eps[i]) * (1.0 + tie) + tie + eps[i]
        if not bound <= thr:
            n_sel = 0
            for j in range(n_pool):
                sel[n_sel] = j
                n_sel += row[j] <= bound
        # the pool rows that can be neighbours, in pool order, with exact distances
        n_c = 0
        for c in range(n_sel):
            j = sel[c]
            if row[j] <= bound:
                s = 0.0
                for a in range(p):
                    s += Zq[i, a] * features[j, a]
                e = -2.0 * s + dq + sq_pool[j]
                cand[n_c] = j
                dist[n_c] = e if e > 0.0 else 0.0
                n_c += 1
        # leave one out: the first pool row identical to the query, with its label
        for c in range(n_c):
            if codes_pool[cand[c]] == codes_q[i] and dist[c] <= same_row * (1.0 + dq):
                dist[c] = np.inf
                break
        # the kk-th smallest distance (insertion into the first kk slots of top)
        kk = min(k, n_c)
        first_kk = top[:kk]
        for q in range(kk):
            first_kk[q] = np.inf
        for c in range(n_c):
            _insert_below(first_kk, dist[c])
        kth = first_kk[kk - 1]
        lim = kth * (1.0 + tie) + tie
        for c in range(n_labels):
            counts[c] = 0.0
        total = 0.0
        for c in range(n_c):
            if dist[c] <= lim:
                counts[codes_pool[cand[c]]] += 1.0
                total += 1.0
        total = max(total, 1.0)
        b = 0.0
        for c in range(n_labels):
            counts[c] /= total
            b = max(b, counts[c])
        n_best = 0
        first = -1
        for c in range(n_labels):
            if counts[c] >= b - 1e-12:
                n_best += 1
                if first < 0:
                    first = c
        own[i] = counts[codes_q[i]]
        best[i] = b
        assigned[i] = first
        tied[i] = n_best > 1
        radius[i] = np.sqrt(kth)
