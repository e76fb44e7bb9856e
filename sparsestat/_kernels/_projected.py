"""LBI and exact ISS for a sparse shift observed through an implicit projection.

The model ``Y = X B + G + E`` with ``G`` sparse (rows: samples) loses ``B``
when projected onto the orthogonal complement of the column space of
``[1, X]``. With ``Q`` an orthonormal basis of that column space the loss is

    L(G) = ||(I - Q Q^T)(Y - G)||^2 / (2n),   grad L(G) = (I - Q Q^T)(G - Y) / n,

so every gradient costs two thin products with ``Q`` (``O(n r K)``) and
neither the ``n x n`` projection nor a basis of its range is ever formed.
The same operator serves any orthogonal projection given by an orthonormal
``Q`` (e.g. the cut space of a comparison graph).

The penalty is ``sum_i omega_i pen(G_i)`` with per-row weights ``omega``
(l1 entrywise or the 2-norm of each row). The dual variable is kept
normalized, ``zt_i = z_i / omega_i``, so the unit-threshold helpers of
:mod:`sparsestat._kernels._prox` (``prox_inplace``, ``record_entries``) apply
unchanged: ``G_i = kappa * omega_i * prox(zt_i)``.

The path of ``G`` has ``n`` rows, so it is recorded sparsely: for record
time ``l`` the rows ``rows[ptr[l]:ptr[l+1]]`` are the nonzero rows and
``vals`` their values.
"""

import numpy as np

from sparsestat._kernels._core import (
    diverged, dual_step, record_sparse, scale_rows, sparse_record_buffers,
)
from sparsestat._kernels._jit import kernel
from sparsestat._kernels._prox import prox_inplace, record_entries
from sparsestat._kernels._status import DIVERGED, MAX_ITER, OK, SUPPORT


@kernel
def project_out(Q, V, out):
    """``out = (I - Q Q^T) V`` for ``V`` of shape (n, K): two passes over the rows.

    Plain loops rather than BLAS: for a tall ``Q`` with a few columns they
    run at memory speed on one core and do not compete for threads.
    """
    n, r = Q.shape
    K = V.shape[1]
    C = np.zeros((r, K))
    for i in range(n):
        for a in range(r):
            qa = Q[i, a]
            for k in range(K):
                C[a, k] += qa * V[i, k]
    for i in range(n):
        for k in range(K):
            s = V[i, k]
            for a in range(r):
                s -= Q[i, a] * C[a, k]
            out[i, k] = s


@kernel
def projected_lbi_path(Q, Y, omega, z0, t0, alpha, kappa, elementwise, group_ptr,
                       group_idx, grid, max_iter, max_active, min_entries, max_nnz):
    """LBI for the projected mean-shift loss, recorded sparsely on ``grid``.

    Parameters
    ----------
    Q : (n, r) C-ordered array with orthonormal columns.
    Y : (n, K) C-ordered targets.
    omega : (n,) positive penalty weights.
    z0 : (n, K) normalized dual variable at ``t0`` (rows outside the unit ball
        start active).
    t0, alpha, kappa : start time, step and damping.
    elementwise, group_ptr, group_idx : the penalty (see ``_prox``).
    grid : increasing record times.
    max_iter : iteration budget.
    max_active : stop once more rows than this are nonzero.
    min_entries : keep iterating past the last record time until this many
        rows have entered (or the budget / support cap stops the path).
    max_nnz : record budget (nonzero rows over all snapshots); when it is
        exceeded every other snapshot is dropped and only every other grid
        time is recorded from then on, so memory stays ``O(max_nnz)``.

    Returns
    -------
    ptr (n_rec + 1,), rows (nnz,), vals (nnz, K), rec_grid (n_rec,) indices of
    the grid times recorded, entry (n, K), n_iter, status, t_end, zt (n, K),
    G (n, K)
    """
    n, K = Y.shape
    z = z0.copy()
    z_new = np.empty((n, K))
    zz = np.empty((n, K))
    G = np.zeros((n, K))
    tmp = np.empty((n, K))
    V = np.empty((n, K))
    grad = np.empty((n, K))
    no_rows = np.empty(0, dtype=np.int64)
    row_scale = 1.0 / (n * omega)    # the gradient in the normalized dual: / (n omega_i)
    entry = np.full((n, K), np.inf)
    prox_inplace(z, G, 1.0, elementwise, group_ptr, group_idx)
    scale_rows(G, omega, kappa)
    ptr, rec_grid, rows, vals = sparse_record_buffers(grid.shape[0], K)
    n_rec = 0
    nnz = 0
    stride = 1
    # the start state: zero after the analytic jump, the active rows of a start
    # beyond the unit sphere otherwise
    gi, rows, vals, n_rec, nnz, stride = record_sparse(
        z, z, t0, 0.0, grid, 0, kappa, omega, elementwise, group_ptr, group_idx, zz, tmp,
        ptr, rec_grid, rows, vals, n_rec, nnz, stride, max_nnz)
    t = t0
    n_entered = 0
    status = MAX_ITER
    k_iter = 0
    while k_iter < max_iter:
        if gi >= grid.shape[0] and n_entered >= min_entries:
            status = OK
            break
        # the gradient (I - QQ^T)(G - Y), divided by n omega_i in the step
        for i in range(n):
            for k in range(K):
                V[i, k] = G[i, k] - Y[i, k]
        project_out(Q, V, grad)
        big = dual_step(z, grad, alpha, row_scale, no_rows, -1, z_new)
        if diverged(big, kappa):
            status = DIVERGED
            break
        record_entries(z, z_new, t, alpha, entry, elementwise, group_ptr, group_idx)
        gi, rows, vals, n_rec, nnz, stride = record_sparse(
            z, z_new, t, alpha, grid, gi, kappa, omega, elementwise, group_ptr, group_idx, zz,
            tmp, ptr, rec_grid, rows, vals, n_rec, nnz, stride, max_nnz)
        z, z_new = z_new, z
        prox_inplace(z, G, 1.0, elementwise, group_ptr, group_idx)
        scale_rows(G, omega, kappa)
        t += alpha
        k_iter += 1
        n_active = 0
        n_entered = 0
        for i in range(n):
            for k in range(K):
                if entry[i, k] < np.inf:
                    n_entered += 1
                    break
            for k in range(K):
                if G[i, k] != 0.0:
                    n_active += 1
                    break
        if n_active > max_active:
            status = SUPPORT
            break
    if status == MAX_ITER and gi >= grid.shape[0] and n_entered >= min_entries:
        status = OK
    return ptr[: n_rec + 1].copy(), rows[:nnz].copy(), vals[:nnz].copy(), \
        rec_grid[:n_rec].copy(), entry, k_iter, status, t, z, G


@kernel
def masked_gram(Q, Y, mask, G, b):
    """``G = Q[mask]^T Q[mask]`` and ``b = Q[mask]^T Y[mask]`` without copying rows."""
    n, r = Q.shape
    K = Y.shape[1]
    G[:, :] = 0.0
    b[:, :] = 0.0
    for i in range(n):
        if not mask[i]:
            continue
        for a in range(r):
            qa = Q[i, a]
            for c in range(a, r):
                G[a, c] += qa * Q[i, c]
            for k in range(K):
                b[a, k] += qa * Y[i, k]
    for a in range(r):
        for c in range(a):
            G[a, c] = G[c, a]


@kernel
def transpose_times(Q, Y, out):
    """``out = Q^T Y`` by a single pass over the rows (tall, thin ``Q``)."""
    n, r = Q.shape
    K = Y.shape[1]
    out[:, :] = 0.0
    for i in range(n):
        for a in range(r):
            qa = Q[i, a]
            for k in range(K):
                out[a, k] += qa * Y[i, k]


@kernel
def right_multiply_inplace(A, M):
    """``A <- A M`` row by row (``M`` small and square)."""
    n, r = A.shape
    row = np.empty(r)
    for i in range(n):
        for c in range(r):
            s = 0.0
            for a in range(r):
                s += A[i, a] * M[a, c]
            row[c] = s
        for c in range(r):
            A[i, c] = row[c]


@kernel
def row_quadratic(Q, rows, M, out):
    """``out[j] = q_i^T M q_i`` for ``i = rows[j]``."""
    r = Q.shape[1]
    for j in range(rows.shape[0]):
        i = rows[j]
        s = 0.0
        for a in range(r):
            t = 0.0
            for c in range(r):
                t += M[a, c] * Q[i, c]
            s += Q[i, a] * t
        out[j] = s


@kernel
def residuals_inplace(Q, Y, theta, out):
    """``out = Y - Q theta``."""
    n, r = Q.shape
    K = Y.shape[1]
    for i in range(n):
        for k in range(K):
            s = Y[i, k]
            for a in range(r):
                s -= Q[i, a] * theta[a, k]
            out[i, k] = s
