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

from sparsestat._kernels._arrays import copy_2d
from sparsestat._kernels._core import (
    diverged, lbi_update, nonzero_rows, record_sparse, scale_rows, sparse_record_buffers,
)
from sparsestat._kernels._jit import kernel
from sparsestat._kernels._prox import prox_inplace
from sparsestat._kernels._status import DIVERGED, MAX_ITER, OK, SUPPORT


@kernel
def project_out(Q, V, out):
    """``out = (I - Q Q^T) V`` for ``V`` of shape (n, K): ``C = Q^T V``, then ``V - Q C``,
    both by blocks of rows (BLAS on a block that stays in the cache)."""
    C = np.empty((Q.shape[1], V.shape[1]))
    transpose_times(Q, V, C)
    residuals_inplace(Q, V, C, None, out)


@kernel
def shift_gradient(Q, G, resid_y, coef, out):
    """``out = (I - Q Q^T) G - resid_y`` with ``resid_y = (I - Q Q^T) Y``: ``n`` times
    the gradient of the shift loss, ``(I - Q Q^T)(G - Y)``.

    ``Q^T G`` sums the nonzero rows of ``G`` only (the active shifts); the
    product with ``Q`` is one pass over its rows by blocks.
    """
    rows = np.empty(G.shape[0], dtype=np.int64)
    n_rows = nonzero_rows(G, rows)
    coef[:, :] = 0.0
    gathered_products(Q, G, rows[:n_rows], np.empty((0, 0)), coef)
    residuals_inplace(Q, G, coef, resid_y, out)


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
    grad = np.empty((n, K))
    # the gradient (I - QQ^T)(G - Y) = G - Q (Q^T G) - (I - QQ^T) Y: the last term once,
    # Q^T G over the nonzero rows of G only
    resid_y = np.empty((n, K))
    project_out(Q, Y, resid_y)
    coef_g = np.empty((Q.shape[1], K))
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
        shift_gradient(Q, G, resid_y, coef_g, grad)
        big, n_active, n_entered = lbi_update(
            z, grad, alpha, row_scale, kappa, omega, t, entry, n_entered, True, elementwise,
            group_ptr, group_idx, z_new, G)
        if diverged(big, kappa):
            status = DIVERGED
            break
        gi, rows, vals, n_rec, nnz, stride = record_sparse(
            z, z_new, t, alpha, grid, gi, kappa, omega, elementwise, group_ptr, group_idx, zz,
            tmp, ptr, rec_grid, rows, vals, n_rec, nnz, stride, max_nnz)
        z, z_new = z_new, z
        t += alpha
        k_iter += 1
        if n_active > max_active:
            status = SUPPORT
            break
    if status == MAX_ITER and gi >= grid.shape[0] and n_entered >= min_entries:
        status = OK
    return ptr[: n_rec + 1].copy(), rows[:nnz].copy(), vals[:nnz].copy(), \
        rec_grid[:n_rec].copy(), entry, k_iter, status, t, z, G


# rows per block of the products over a tall, thin matrix: a block of ``Q`` stays in the
# cache while BLAS multiplies it
_BLOCK_ROWS = 2048


@kernel
def _row_block(A, rows, start, nb, buf):
    """Rows ``rows[start:start + nb]`` of ``A``: a view when they are consecutive, else
    gathered into ``buf``."""
    first = rows[start]
    if rows[start + nb - 1] - first == nb - 1:
        consecutive = True
        for q in range(1, nb):
            if rows[start + q] != first + q:
                consecutive = False
                break
        if consecutive:
            return A[first:first + nb]
    for q in range(nb):
        i = rows[start + q]
        for a in range(A.shape[1]):
            buf[q, a] = A[i, a]
    return buf[:nb]


@kernel
def _add_transpose_product(acc, A, B):
    """``acc += A^T B`` for blocks of rows ``A`` (nb, r) and ``B`` (nb, K)."""
    if A.shape[1] == 0 or B.shape[1] == 0 or A.shape[0] == 0:
        return
    P = np.dot(A.T, B)
    for a in range(P.shape[0]):
        for k in range(P.shape[1]):
            acc[a, k] += P[a, k]


@kernel
def gathered_products(Q, Y, rows, G, b):
    """``G += Q[rows]^T Q[rows]`` (skipped when ``G`` is empty) and ``b += Q[rows]^T Y[rows]``.

    The rows are taken in blocks (views of consecutive rows, otherwise
    gathered) and multiplied by BLAS.
    """
    qbuf = np.empty((_BLOCK_ROWS, Q.shape[1]))
    ybuf = np.empty((_BLOCK_ROWS, Y.shape[1]))
    for s in range(0, rows.shape[0], _BLOCK_ROWS):
        nb = min(_BLOCK_ROWS, rows.shape[0] - s)
        QB = _row_block(Q, rows, s, nb, qbuf)
        if G.shape[0] > 0:
            _add_transpose_product(G, QB, QB)
        _add_transpose_product(b, QB, _row_block(Y, rows, s, nb, ybuf))


@kernel
def masked_gram(Q, Y, mask, G, b):
    """``G = Q[mask]^T Q[mask]`` and ``b = Q[mask]^T Y[mask]`` without copying ``Q``
    (:func:`gathered_products`); ``G`` is exactly symmetric."""
    G[:, :] = 0.0
    b[:, :] = 0.0
    gathered_products(Q, Y, np.flatnonzero(mask), G, b)
    for a in range(G.shape[0]):
        for c in range(a):
            G[c, a] = G[a, c]


@kernel
def transpose_times(Q, Y, out):
    """``out = Q^T Y`` by blocks of rows (tall, thin ``Q``)."""
    out[:, :] = 0.0
    n = Q.shape[0]
    for s in range(0, n, _BLOCK_ROWS):
        e = min(n, s + _BLOCK_ROWS)
        _add_transpose_product(out, Q[s:e], Y[s:e])


@kernel
def right_multiply_inplace(A, M):
    """``A <- A M`` by blocks of rows (``M`` small and square)."""
    n = A.shape[0]
    for s in range(0, n, _BLOCK_ROWS):
        e = min(n, s + _BLOCK_ROWS)
        P = np.dot(A[s:e], M)
        copy_2d(A[s:e], P)


@kernel
def row_quadratic(Q, rows, M, out):
    """``out[j] = q_i^T M q_i`` for ``i = rows[j]``."""
    r = Q.shape[1]
    buf = np.empty((_BLOCK_ROWS, r))
    for s in range(0, rows.shape[0], _BLOCK_ROWS):
        nb = min(_BLOCK_ROWS, rows.shape[0] - s)
        QB = _row_block(Q, rows, s, nb, buf)
        P = np.dot(QB, M)
        for q in range(nb):
            acc = 0.0
            for a in range(r):
                acc += QB[q, a] * P[q, a]
            out[s + q] = acc


@kernel
def residuals_inplace(Q, Y, theta, sub, out):
    """``out = Y - Q theta`` (``- sub`` too when ``sub`` is not ``None``), by blocks of rows."""
    n = Q.shape[0]
    K = Y.shape[1]
    for s in range(0, n, _BLOCK_ROWS):
        e = min(n, s + _BLOCK_ROWS)
        if Q.shape[1] == 0 or K == 0:
            copy_2d(out[s:e], Y[s:e])
            if sub is not None:
                for q in range(s, e):
                    for k in range(K):
                        out[q, k] -= sub[q, k]
            continue
        P = np.dot(Q[s:e], theta)
        for q in range(e - s):
            for k in range(K):
                if sub is not None:
                    out[s + q, k] = Y[s + q, k] - P[q, k] - sub[s + q, k]
                else:
                    out[s + q, k] = Y[s + q, k] - P[q, k]


@kernel
def bisquare_rho_mean(r, cs):
    """``mean(rho(r / cs))`` with Tukey's bisquare ``rho(u) = 1 - (1 - min(u^2, 1))^3``."""
    acc = 0.0
    for i in range(r.shape[0]):
        u = r[i] / cs
        u2 = min(u * u, 1.0)
        w = 1.0 - u2
        acc += 1.0 - w * w * w
    return acc / max(r.shape[0], 1)
