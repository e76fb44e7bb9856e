"""Thin orthonormal bases and subset least squares for the mean-shift model.

Everything works with ``Q``, an orthonormal basis of the column space of
``[1, X]`` (``n x r``), so a least-squares fit on any subset of rows is an
``r x r`` problem and no ``n x n`` matrix is ever formed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from sparsestat._kernels._projected import (
    gathered_products,
    masked_gram,
    residuals_inplace,
    right_multiply_inplace,
    row_quadratic,
    transpose_times,
)

# rows per block when a product over all rows is accumulated blockwise
_BLOCK = 65536


@dataclass
class ThinBasis:
    """``A_std[:, perm] = Q R`` with ``A_std`` the standardized ``[1, X]``.

    ``Q`` has ``rank`` orthonormal columns; ``perm[:rank]`` are the columns
    of ``A_std`` kept (the others are linear combinations of them).
    """

    Q: np.ndarray
    R: np.ndarray
    perm: np.ndarray
    rank: int
    mean: np.ndarray
    scale: np.ndarray
    fit_intercept: bool

    @property
    def leverage(self) -> np.ndarray:
        """Diagonal of the hat matrix, ``h_ii = ||Q_i||^2``."""
        return np.einsum("ij,ij->i", self.Q, self.Q)

    def coefficients(self, theta: np.ndarray):
        """Map a fit ``Q theta`` back to ``(coef, intercept)`` on the data's scale.

        ``theta`` has shape (rank, K); returns coef (K, p) and intercept (K,).
        """
        r = self.rank
        b = np.zeros((self.R.shape[1], theta.shape[1]))
        b[self.perm[:r]] = scipy.linalg.solve_triangular(self.R[:r, :r], theta)
        if self.fit_intercept:
            b0, b = b[0], b[1:]
        else:
            b0 = np.zeros(theta.shape[1])
        coef = b / self.scale[:, None]
        intercept = b0 - self.mean @ coef
        return coef.T, intercept


def thin_basis(X: np.ndarray, fit_intercept: bool = True, rtol: float = 1e-10) -> ThinBasis:
    """Orthonormal basis of ``[1, X]`` without forming anything of size ``n x n``.

    Columns of ``X`` are centred and scaled first. Two rounds of Cholesky QR
    computed in place (one pass over the rows each, memory: one copy of the
    design) are used when the design is well conditioned; otherwise, or when
    it is rank deficient, a column-pivoted Householder QR keeps the
    independent columns.
    """
    n, p = X.shape
    mean = X.mean(axis=0) if fit_intercept else np.zeros(p)
    ncol = p + int(fit_intercept)
    A = np.empty((n, ncol))
    if fit_intercept:
        A[:, 0] = 1.0
    C = A[:, int(fit_intercept):]
    for s in range(0, n, _BLOCK):
        np.subtract(X[s:s + _BLOCK], mean, out=C[s:s + _BLOCK])
    scale = _column_rms(C)
    scale = np.where(scale > np.finfo(float).eps * max(1.0, float(np.max(scale, initial=0))),
                     scale, 1.0)
    for s in range(0, n, _BLOCK):
        C[s:s + _BLOCK] /= scale
    if n >= 2 * ncol:
        out = _cholesky_qr2(A.copy() if n * ncol <= 4e6 else A, rtol)
        if out is not None:
            Q, R = out
            return ThinBasis(Q, R, np.arange(ncol), ncol, mean, scale, fit_intercept)
    Q, R, perm = scipy.linalg.qr(A, mode="economic", pivoting=True, overwrite_a=True,
                                 check_finite=False)
    d = np.abs(np.diag(R))
    rank = int(np.sum(d > rtol * max(d[0], 1e-300) * max(n, ncol))) if d.size else 0
    Q = np.ascontiguousarray(Q[:, :rank])
    return ThinBasis(Q, R, perm, rank, mean, scale, fit_intercept)


def _column_rms(C):
    """Root mean square of each column, summed blockwise for a large ``C``."""
    if C.size <= 4e6:
        return np.sqrt(np.mean(C ** 2, axis=0))
    acc = np.zeros(C.shape[1])
    for s in range(0, C.shape[0], _BLOCK):
        acc += np.sum(C[s:s + _BLOCK] ** 2, axis=0)
    return np.sqrt(acc / C.shape[0])


def _cholesky_qr2(A, rtol):
    """In-place CholeskyQR2 (``A`` becomes ``Q``); ``None``, ``A`` untouched, if ill conditioned.

    The first round refuses a design whose Cholesky factor has a diagonal ratio
    below ``sqrt(rtol)`` (condition number above about ``1e5``), so that the
    second round, on a nearly orthonormal matrix, is accurate to machine precision.
    """
    R_total = np.eye(A.shape[1])
    mask = np.ones(A.shape[0], dtype=bool)
    empty = np.zeros((A.shape[0], 0))
    for round_ in range(2):
        G = np.empty((A.shape[1], A.shape[1]))
        masked_gram(A, empty, mask, G, np.empty((A.shape[1], 0)))
        try:
            L = np.linalg.cholesky(G)
        except np.linalg.LinAlgError:
            L = None
        if L is None or np.diag(L).min() <= np.sqrt(rtol) * np.diag(L).max():
            if round_ == 0:
                return None
            break                      # keep the first round (already nearly orthonormal)
        Rinv = scipy.linalg.solve_triangular(L.T, np.eye(A.shape[1]))
        right_multiply_inplace(A, Rinv)
        R_total = L.T @ R_total
    return A, R_total


def subset_fit(Q: np.ndarray, Y: np.ndarray, mask: np.ndarray,
               orthonormal: bool = True, QtY: np.ndarray | None = None) -> np.ndarray:
    """Least-squares ``theta`` of ``Y[mask]`` on ``Q[mask]``, accumulated blockwise.

    With ``orthonormal=True`` (``Q^T Q = I``) the Gram matrix of the kept rows
    is ``I`` minus that of the dropped rows; the smaller set is summed
    (``QtY``, if given, is ``Q^T Y``, computed once by the caller).
    """
    return solve_normal(*subset_products(Q, Y, mask, orthonormal, QtY))


def subset_products(Q: np.ndarray, Y: np.ndarray, mask: np.ndarray,
                    orthonormal: bool = True, QtY: np.ndarray | None = None):
    """``(G, b) = (Q[mask]^T Q[mask], Q[mask]^T Y[mask])`` (see :func:`subset_fit`)."""
    r = Q.shape[1]
    drop = ~mask
    use_drop = orthonormal and 2 * int(drop.sum()) < Q.shape[0]
    rows = drop if use_drop else mask
    G = np.empty((r, r))
    b = np.empty((r, Y.shape[1]))
    masked_gram(Q, as_kernel_array(Y), rows, G, b)
    if use_drop:
        G = np.eye(r) - G
        b = (full_projection(Q, Y) if QtY is None else QtY) - b
    return G, b


def solve_normal(G: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``G^{-1} b`` for a Gram matrix ``G`` (least squares if it is singular)."""
    try:
        return np.linalg.solve(G, b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(G, b, rcond=None)[0]


def update_products(Q: np.ndarray, Y: np.ndarray, G: np.ndarray, b: np.ndarray,
                    enter: np.ndarray, leave: np.ndarray) -> None:
    """Add the rows ``enter`` to the products ``(G, b)`` of a subset and remove ``leave``.

    ``Y`` is a kernel array (:func:`as_kernel_array`); ``G`` stays exactly symmetric.
    """
    r = Q.shape[1]
    for rows, sign in ((enter, 1.0), (leave, -1.0)):
        if rows.size:
            dG = np.zeros((r, r))
            db = np.zeros((r, Y.shape[1]))
            gathered_products(Q, Y, rows, dG, db)
            G += sign * dG
            b += sign * db
    G[:] = np.tril(G) + np.tril(G, -1).T


def as_kernel_array(A: np.ndarray) -> np.ndarray:
    """C-ordered, writeable float64 (one compiled signature per kernel)."""
    return np.require(A, dtype=np.float64, requirements=["C", "W"])


def full_projection(Q: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``Q^T Y`` in one pass over the rows."""
    out = np.empty((Q.shape[1], Y.shape[1]))
    transpose_times(Q, as_kernel_array(Y), out)
    return out


def residuals(Q: np.ndarray, Y: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """``Y - Q theta``."""
    out = np.empty(Y.shape)
    residuals_inplace(Q, as_kernel_array(Y),
                      np.ascontiguousarray(theta, dtype=float), None, out)
    return out


@dataclass
class DeletionResiduals:
    """Each sample's residual against the least-squares fit without the flagged set.

    ``u[i]`` is the squared norm of sample ``i``'s prediction residual (over
    the ``K`` targets) divided by its variance in units of ``sigma^2``: for a
    flagged sample against the fit on the kept rows, ``||e_i||^2 / (1 + h_i)``
    with ``h_i = q_i^T G^+ q_i`` (``G`` the Gram matrix of the kept rows); for
    a kept sample against the fit without it as well (leave one out),
    ``||e_i||^2 / (1 - h_i)``. ``sse`` is the residual sum of squares of the
    kept rows and ``dof = n_kept - r`` its degrees of freedom per target.
    ``e`` holds the residuals against the fit on the kept rows and
    ``hat`` the ``h_i``.
    """

    u: np.ndarray
    e: np.ndarray
    hat: np.ndarray
    sse: float
    dof: int
    theta: np.ndarray


def deletion_residuals(Q: np.ndarray, Y: np.ndarray, flagged: np.ndarray) -> DeletionResiduals:
    """Prediction residuals of every sample against the fit without ``flagged``.

    ``O(n r^2)``: one ``r x r`` Gram matrix of the flagged rows (``Q^T Q = I``),
    one pass for the residuals and one for the quadratic forms.
    """
    n, r = Q.shape
    G_f = np.empty((r, r))
    b_f = np.empty((r, Y.shape[1]))
    masked_gram(Q, as_kernel_array(Y), flagged, G_f, b_f)
    evals, evecs = np.linalg.eigh(np.eye(r) - G_f)
    ok = evals > 1e-10 * max(float(evals[-1]), 1e-300)
    G_pinv = (evecs[:, ok] / evals[ok]) @ evecs[:, ok].T
    theta = G_pinv @ (full_projection(Q, Y) - b_f)
    e = residuals(Q, Y, theta)
    hat = np.empty(n)
    row_quadratic(Q, np.arange(n), np.ascontiguousarray(G_pinv), hat)
    keep = ~flagged
    norm2 = np.sum(e ** 2, axis=1)
    inside = np.clip(1.0 - hat, 0.0, None)
    # a kept sample the fit reproduces exactly (h_i = 1) cannot be tested: u_i = 0
    loo = np.where(inside > 1e-10, norm2 / np.maximum(inside, 1e-300), 0.0)
    u = np.where(keep, loo, norm2 / (1.0 + np.maximum(hat, 0.0)))
    return DeletionResiduals(u=u, e=e, hat=hat, sse=float(np.sum(norm2[keep])),
                             dof=int(keep.sum()) - int(ok.sum()), theta=theta)
