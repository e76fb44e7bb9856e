"""The standardized design the kernels take: centring (implicit for sparse X),
column scales, exact constant columns, power-of-two units for extreme magnitudes,
products, Gram matrices and the spectral norm that sets the step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, eigsh

from sparsestat import _kernels

# LBI holds the full Gram matrix up to this many features (or n); beyond, a working set
# takes in the coordinates whose dual would reach the sphere within the next batch at
# 1.5 times its last rate of change, or comes within 0.01 of it (see _kernels/_lbi.py)
_FULL_GRAM_MAX_FEATURES = 2000
_WORKING_SET_REACH = (1.5, 0.01)
# empty placeholders for the kernels' unused array arguments
_EMPTY_F = np.zeros((0, 0), order="F")
_EMPTY_I = np.zeros(0, dtype=np.int64)
_EMPTY = np.zeros(0)


@dataclass
class Design:
    """A standardized design in the form the kernels take.

    Column ``j`` seen by the kernels is ``(X[:, j] - mean[j]) / scale[j]``
    (rows multiplied by ``sqrt(w)`` for weighted squared loss). The values are
    float64, or float32 when ``X`` was float32 (half the memory); means, scales
    and the Gram matrix are float64.
    """

    dense: np.ndarray      # Fortran (n, p), or an empty placeholder
    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    kernel_mean: np.ndarray  # implicit centering (sparse only), standardized scale
    is_sparse: bool
    mean: np.ndarray         # original-scale column means
    scale: np.ndarray        # original-scale column scales
    n_samples: int
    n_features: int

    @property
    def args(self):
        """The design as the kernels take it. The storage flag is ``True`` or ``None``
        rather than ``False``: numba compiles a dense call without the CSC branches."""
        return (self.dense, self.data, self.indices, self.indptr, self.kernel_mean,
                True if self.is_sparse else None)

    @property
    def dtype(self) -> np.dtype:
        """Floating type of the standardized values (float64 or float32)."""
        return (self.data if self.is_sparse else self.dense).dtype

    def transpose_product(self, V: np.ndarray) -> np.ndarray:
        """``X_std^T V`` for ``V`` of shape (n, K)."""
        out = np.empty((self.n_features, V.shape[1]))
        _kernels._design.transpose_product(*self.args, np.asfortranarray(V, dtype=float), out)
        return out

    def product(self, v: np.ndarray) -> np.ndarray:
        """``X_std v`` for a vector ``v`` of length p."""
        out = np.empty(self.n_samples)
        _kernels._design.product(*self.args, np.ascontiguousarray(v, dtype=float), out)
        return out

    def gram(self, w=None) -> np.ndarray:
        """The scaled Gram matrix ``X_std^T W X_std / n`` (Fortran order; ``W = I`` by default)."""
        if self.is_sparse:
            X = sp.csc_matrix((self.data, self.indices, self.indptr),
                              shape=(self.n_samples, self.n_features))
            wv = np.ones(self.n_samples) if w is None else w
            G = np.asarray((X.T @ sp.diags(wv) @ X).todense())
            colsum = np.asarray(X.T @ wv).ravel()
            mu = self.kernel_mean
            G = G - np.outer(mu, colsum) - np.outer(colsum, mu) + wv.sum() * np.outer(mu, mu)
        elif self.dense.dtype != np.float64:
            # float32 values, float64 sums: blocks of rows (about 1 MiB) upcast one at a time
            G = np.zeros((self.n_features, self.n_features))
            rows = max(1, (1 << 17) // max(self.n_features, 1))
            for start in range(0, self.n_samples, rows):
                B = self.dense[start:start + rows].astype(np.float64)
                G += B.T @ (B if w is None else B * w[start:start + rows, None])
        elif w is None:
            G = self.dense.T @ self.dense
        else:
            G = self.dense.T @ (self.dense * w[:, None])
        return np.asfortranarray(G / self.n_samples)

    def spectral_norm_sq(self, w=None) -> float:
        """Largest eigenvalue of ``X_std^T W X_std / n`` (``W = diag(w)``, default identity)."""
        n, p = self.n_samples, self.n_features
        if p <= 500:
            return float(np.linalg.eigvalsh(self.gram(w))[-1])
        if n <= 500 and not self.is_sparse:
            Xw = self.dense if w is None else self.dense * np.sqrt(w)[:, None]
            return float(np.linalg.eigvalsh(Xw @ Xw.T)[-1] / n)
        wv = np.ones(n) if w is None else w

        def matvec(v):
            fit = self.product(np.ravel(v)) * wv
            return self.transpose_product(fit[:, None]).ravel() / n

        op = LinearOperator((p, p), matvec=matvec, dtype=float)
        val = eigsh(op, k=1, which="LA", tol=1e-6, return_eigenvectors=False, v0=np.ones(p))[0]
        return float(val) * 1.001


def prepare_design(X, *, center: bool, normalize: bool, sample_weight=None,
                   sqrt_weight_rows: bool = False) -> Design:
    """Center (explicitly for dense X, implicitly for sparse X) and scale the design.

    The standardized copy is float32 when ``X`` is float32, float64 otherwise.
    Columns holding one value are left at zero (scale 1) whatever their units;
    columns near the limits of floating point are first rescaled by exact powers
    of two so that their squares do not overflow.
    """
    n, p = X.shape
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    if sp.issparse(X):
        Xc = sp.csc_matrix(X, dtype=dtype, copy=True)
        Xc.sum_duplicates()
        xmax = np.asarray(Xc.max(axis=0).todense(), dtype=np.float64).ravel()
        xmin = np.asarray(Xc.min(axis=0).todense(), dtype=np.float64).ravel()
        unit = _column_units(xmax, xmin)
        if unit is not None:
            Xc = sp.csc_matrix(Xc @ sp.diags(unit.astype(dtype)))
        if w is None:
            mean = np.asarray(Xc.mean(axis=0, dtype=np.float64)).ravel() if center else np.zeros(p)
            sq = np.asarray(Xc.multiply(Xc).mean(axis=0, dtype=np.float64)).ravel()
        else:
            wn = w / w.sum()
            mean = np.asarray(Xc.T @ wn).ravel() if center else np.zeros(p)
            sq = np.asarray(Xc.multiply(Xc).T @ wn).ravel()
        const = xmax == xmin
        if center:
            mean[const] = (xmax * (1.0 if unit is None else unit))[const]
        var = np.maximum(sq - mean ** 2, 0.0) if center else sq
        scale = _safe_scale(np.sqrt(var), const) if normalize else np.ones(p)
        if sqrt_weight_rows and w is not None:
            raise ValueError(
                "sample_weight with a sparse X is not supported for the squared loss; "
                "pass a dense X (X.toarray()) or fit without sample_weight."
            )
        Xc = sp.csc_matrix(Xc @ sp.diags((1.0 / scale).astype(dtype)))
        mean, scale = _undo_units(mean, scale, unit)
        return Design(_EMPTY_F.astype(dtype), Xc.data.astype(dtype), Xc.indices.astype(np.int64),
                      Xc.indptr.astype(np.int64), mean / scale, True, mean, scale, n, p)
    Xd = np.array(X, dtype=dtype, order="F", copy=True)
    xmax = Xd.max(axis=0, initial=-np.inf).astype(np.float64)
    xmin = Xd.min(axis=0, initial=np.inf).astype(np.float64)
    const = xmax == xmin
    unit = _column_units(xmax, xmin)
    if unit is not None:
        Xd *= unit.astype(dtype)
    if center:
        mean = Xd.mean(axis=0, dtype=np.float64) if w is None else (w @ Xd) / w.sum()
        Xd -= mean.astype(dtype)
        Xd[:, const] = 0.0   # exactly, not the rounding error of their mean
    else:
        mean = np.zeros(p)
    if normalize:
        if w is None:
            # no n x p temporary
            sd = np.sqrt(np.einsum("ij,ij->j", Xd, Xd, dtype=np.float64) / n)
        else:
            sd = np.sqrt(np.einsum("ij,ij,i->j", Xd, Xd, w, dtype=np.float64) / w.sum())
        scale = _safe_scale(sd, const)
        Xd /= scale.astype(dtype)
    else:
        scale = np.ones(p)
    if sqrt_weight_rows and w is not None:
        Xd *= np.sqrt(w / w.mean()).astype(dtype)[:, None]
    mean, scale = _undo_units(mean, scale, unit)
    return Design(Xd, _EMPTY.astype(dtype), _EMPTY_I, np.zeros(1, dtype=np.int64), np.zeros(p), False,
                  mean, scale, n, p)


# columns whose largest magnitude lies outside this range are rescaled by powers of two
_SAFE_MAGNITUDE = (2.0 ** -400, 2.0 ** 400)


def _column_units(xmax, xmin):
    """Exact power-of-two factors bringing every column's magnitude near 1, or ``None``
    when every column is already safe to square and sum."""
    mag = np.maximum(np.abs(xmax), np.abs(xmin))
    live = mag > 0
    if not np.any(live & ((mag < _SAFE_MAGNITUDE[0]) | (mag > _SAFE_MAGNITUDE[1]))):
        return None
    return np.where(live, np.ldexp(1.0, -np.frexp(np.where(live, mag, 1.0))[1]), 1.0)


def _undo_units(mean, scale, unit):
    """Column means and scales of the data as given, from those of the rescaled columns."""
    if unit is None:
        return mean, scale
    return mean / unit, scale / unit


def _safe_scale(sd, constant):
    """Column scales: the standard deviations, 1 for constant columns."""
    return np.where((sd > 0) & ~constant, sd, 1.0)


def constant_columns(X) -> np.ndarray:
    """Boolean mask of the columns of ``X`` that hold a single value."""
    if sp.issparse(X):
        Xc = sp.csc_matrix(X)
        mx = np.asarray(Xc.max(axis=0).todense()).ravel()
        mn = np.asarray(Xc.min(axis=0).todense()).ravel()
        return mx == mn
    X = np.asarray(X)
    return np.all(X == X[:1], axis=0)
