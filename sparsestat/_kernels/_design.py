"""Products with a design matrix held either dense or in CSC form.

A design is passed as ``(Xf, xdata, xind, xptr, xmean, is_sparse)``: ``Xf`` a
Fortran-ordered dense ``(n, p)`` array (a ``(0, 0)`` placeholder when sparse),
the CSC arrays of a sparse matrix (empty placeholders when dense), and
``xmean`` the column means subtracted implicitly (zeros: no centering), and
``is_sparse`` ``True`` for CSC or ``None`` for dense. The flag is ``None`` rather
than ``False`` so that numba removes the CSC branches (``is_sparse is not None``)
when it compiles a dense call, and the dense ones in a CSC call.
Column ``j`` of the design is therefore ``X[:, j] - xmean[j]``.

The design may be held in float64 or float32 (``Xf`` / ``xdata``); products
with a float64 design are BLAS calls, those with a float32 design are loops
that accumulate in float64 (as fast: they read half the bytes), and every
result is float64.
"""

import numpy as np

from sparsestat._kernels._arrays import copy_1d
from sparsestat._kernels._jit import kernel



@kernel
def add_column(Xf, xdata, xind, xptr, xmean, is_sparse, j, coef, out):
    """``out[:, k] += coef[k] * x_j`` for every output column k."""
    n, K = out.shape
    if is_sparse is not None:
        for ii in range(xptr[j], xptr[j + 1]):
            i = xind[ii]
            v = xdata[ii]
            for k in range(K):
                out[i, k] += coef[k] * v
        if xmean[j] != 0.0:
            for k in range(K):
                c = coef[k] * xmean[j]
                for i in range(n):
                    out[i, k] -= c
    else:
        for k in range(K):
            c = coef[k]
            if c != 0.0:
                for i in range(n):
                    out[i, k] += c * Xf[i, j]


@kernel
def add_columns(Xf, xdata, xind, xptr, xmean, is_sparse, cols, n_cols, C, out):
    """``out[:, k] += sum_q C[cols[q], k] * x_{cols[q]}`` over the first ``n_cols`` listed columns.

    For a sparse design only the nonzeros are visited and the implicit centering is
    applied once per output column (not once per listed column).
    """
    n, K = out.shape
    if is_sparse is not None:
        for k in range(K):
            shift = 0.0
            for q in range(n_cols):
                j = cols[q]
                cj = C[j, k]
                if cj != 0.0:
                    for ii in range(xptr[j], xptr[j + 1]):
                        out[xind[ii], k] += cj * xdata[ii]
                    shift += cj * xmean[j]
            if shift != 0.0:
                for i in range(n):
                    out[i, k] -= shift
    else:
        for q in range(n_cols):
            j = cols[q]
            for k in range(K):
                cj = C[j, k]
                if cj != 0.0:
                    for i in range(n):
                        out[i, k] += cj * Xf[i, j]


@kernel
def transpose_columns(Xf, xdata, xind, xptr, xmean, is_sparse, cols, n_cols, V, out):
    """``out[cols[q], k] = x_{cols[q]}^T V[:, k]`` for the first ``n_cols`` listed columns.

    A sparse column costs its nonzeros (plus one sum of ``V`` per output column for
    the centering); other rows of ``out`` are left as they are.
    """
    n, K = V.shape
    for k in range(K):
        total = 0.0
        if is_sparse is not None:
            for i in range(n):
                total += V[i, k]
        for q in range(n_cols):
            j = cols[q]
            s = 0.0
            if is_sparse is not None:
                for ii in range(xptr[j], xptr[j + 1]):
                    s += xdata[ii] * V[xind[ii], k]
                if total != 0.0:
                    s -= xmean[j] * total
            else:
                for i in range(n):
                    s += Xf[i, j] * V[i, k]
            out[j, k] = s


@kernel
def transpose_product(Xf, xdata, xind, xptr, xmean, is_sparse, V, out):
    """``out = X^T V`` for ``V`` of shape ``(n, K)`` (``V`` Fortran-ordered)."""
    n, K = V.shape
    p = out.shape[0]
    if is_sparse is not None:
        transpose_columns(Xf, xdata, xind, xptr, xmean, is_sparse, np.arange(p), p, V, out)
    else:
        vk = np.empty(n)
        ok = np.empty(p)
        for k in range(K):
            copy_1d(vk, V[:, k])
            _dense_transpose_vector(Xf, vk, ok)
            copy_1d(out[:, k], ok)


@kernel(fastmath={"reassoc", "nsz", "contract"})
def _mixed_transpose_vector(Xf, v, out):
    """``out = Xf^T v`` accumulated in float64 (reassociated so that it vectorizes)."""
    n, p = Xf.shape
    for j in range(p):
        s = 0.0
        for i in range(n):
            s += Xf[i, j] * v[i]
        out[j] = s


@kernel
def _dense_transpose_vector(Xf, v, out):
    """``out = Xf^T v`` for a dense Fortran design and a float64 vector."""
    if Xf.itemsize == 8:
        copy_1d(out, np.dot(Xf.T, v.astype(Xf.dtype)))
    else:
        _mixed_transpose_vector(Xf, v, out)


@kernel
def transpose_vector(Xf, xdata, xind, xptr, xmean, is_sparse, v, out):
    """``out = X^T v`` for a vector ``v`` of length n (one BLAS product when dense)."""
    if is_sparse is not None:
        total = 0.0
        for i in range(v.shape[0]):
            total += v[i]
        for j in range(out.shape[0]):
            s = 0.0
            for ii in range(xptr[j], xptr[j + 1]):
                s += xdata[ii] * v[xind[ii]]
            out[j] = s - xmean[j] * total
    else:
        _dense_transpose_vector(Xf, v, out)


@kernel
def column(Xf, xdata, xind, xptr, xmean, is_sparse, j, out):
    """``out = x_j`` (column ``j`` with its implicit centering) as a dense vector."""
    if is_sparse is not None:
        out[:] = -xmean[j]
        for ii in range(xptr[j], xptr[j + 1]):
            out[xind[ii]] += xdata[ii]
    else:
        copy_1d(out, Xf[:, j])


@kernel
def gram_column(Xf, xdata, xind, xptr, xmean, is_sparse, j, n_samples, out):
    """``out = X^T x_j / n`` (column ``j`` of the scaled Gram matrix)."""
    n = n_samples
    col = np.zeros((n, 1))
    one = np.ones(1)
    add_column(Xf, xdata, xind, xptr, xmean, is_sparse, j, one, col)
    tmp = np.empty((out.shape[0], 1))
    transpose_product(Xf, xdata, xind, xptr, xmean, is_sparse, col, tmp)
    for i in range(out.shape[0]):
        out[i] = tmp[i, 0] / n


@kernel
def csr_matvec(data, indices, indptr, v, out):
    """``out = A v`` for a CSR matrix ``A`` and a vector ``v``."""
    m = indptr.shape[0] - 1
    for r in range(m):
        s = 0.0
        for ii in range(indptr[r], indptr[r + 1]):
            s += data[ii] * v[indices[ii]]
        out[r] = s


@kernel
def csr_rmatvec(data, indices, indptr, u, out):
    """``out = A^T u`` for a CSR matrix ``A`` and a vector ``u``."""
    out[:] = 0.0
    m = indptr.shape[0] - 1
    for r in range(m):
        ur = u[r]
        if ur != 0.0:
            for ii in range(indptr[r], indptr[r + 1]):
                out[indices[ii]] += data[ii] * ur


@kernel
def product(Xf, xdata, xind, xptr, xmean, is_sparse, v, out):
    """``out = X v`` for a vector ``v`` of length p (all columns)."""
    if is_sparse is not None:
        n = out.shape[0]
        out[:] = 0.0
        shift = 0.0
        for j in range(v.shape[0]):
            vj = v[j]
            if vj != 0.0:
                for ii in range(xptr[j], xptr[j + 1]):
                    out[xind[ii]] += xdata[ii] * vj
                shift += xmean[j] * vj
        for i in range(n):
            out[i] -= shift
    elif Xf.itemsize == 8:
        copy_1d(out, np.dot(Xf, v.astype(Xf.dtype)))
    else:
        out[:] = 0.0
        for j in range(v.shape[0]):
            vj = v[j]
            if vj != 0.0:
                for i in range(out.shape[0]):
                    out[i] += Xf[i, j] * vj
