"""Comparison graphs: incidence and Laplacian operators, components, Laplacian solves.

Items are the nodes ``0 .. n-1``; comparison ``k`` is the edge
``left[k] -> right[k]`` with weight ``w[k]``. The incidence matrix ``C``
(m x n) has ``+1`` at ``left[k]`` and ``-1`` at ``right[k]`` in row ``k``;
it is never formed by the estimators: ``C theta`` is ``theta[left] -
theta[right]`` and ``C^T v`` is a difference of two ``bincount``s. The
weighted Laplacian ``L = C^T W C`` (n x n, one entry per distinct pair) is the
only matrix held, so memory stays ``O(m + n)``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import cg, splu

from sparsestat._kernels._jit import kernel

# graphs with at most this many items are solved by a sparse LU factorization
_FACTORIZE_MAX_NODES = 3000


def incidence_matrix(left, right, n_nodes: int) -> sp.csr_matrix:
    """The m x n edge-node incidence matrix (``+1`` at ``left``, ``-1`` at ``right``)."""
    m = len(left)
    rows = np.repeat(np.arange(m), 2)
    cols = np.column_stack([left, right]).ravel()
    vals = np.tile([1.0, -1.0], m)
    return sp.csr_matrix((vals, (rows, cols)), shape=(m, n_nodes))


def node_divergence(v, left, right, n_nodes: int) -> np.ndarray:
    """``C^T v``: net flow of the edge values ``v`` into every node."""
    return (np.bincount(left, weights=v, minlength=n_nodes)
            - np.bincount(right, weights=v, minlength=n_nodes))


@kernel
def sparse_divergence(u, scale, w, left, right, n_nodes, v):
    """``v = scale * u`` for edge values ``u`` and ``C^T (w * v)``; returns the divergence
    and ``nnz(v)``."""
    out = np.zeros(n_nodes)
    nnz = 0
    for k in range(u.shape[0]):
        # no branch on u[k] != 0: late in the path most edges are nonzero, in no
        # predictable order, and adding a zero leaves the sums as they are
        x = u[k] * scale[k] + 0.0
        v[k] = x
        f = w[k] * x
        out[left[k]] += f
        out[right[k]] -= f
        nnz += u[k] != 0.0
    return out, nnz


@kernel
def cycle_gradient(r0, v, theta, w, scale, left, right, inv_m, out):
    """Gradient of the cycle-space loss for the edge variable ``u`` with ``gamma = scale * u``.

    ``v`` is ``gamma``, ``theta`` the potential fitted to it: the residual is
    ``r = r0 - (v - C theta)`` and ``out = -scale * w * r * inv_m``.
    """
    for k in range(r0.shape[0]):
        r = r0[k] - v[k] + theta[left[k]] - theta[right[k]]
        out[k] = -scale[k] * w[k] * r * inv_m


def laplacian(left, right, weight, n_nodes: int) -> sp.csr_matrix:
    """The weighted graph Laplacian ``C^T W C`` (repeated pairs are summed)."""
    deg = (np.bincount(left, weights=weight, minlength=n_nodes)
           + np.bincount(right, weights=weight, minlength=n_nodes))
    off = sp.coo_matrix((-weight, (left, right)), shape=(n_nodes, n_nodes)).tocsr()
    L = off + off.T + sp.diags(deg)
    L = sp.csr_matrix(L)
    L.sum_duplicates()
    return L


def components(left, right, weight, n_nodes: int):
    """Connected components of the graph formed by the edges of positive weight.

    Returns
    -------
    n_components : int
    labels : ndarray of shape (n_nodes,)
        Component index of every node.
    """
    keep = weight > 0
    A = sp.coo_matrix((np.ones(int(keep.sum())), (left[keep], right[keep])),
                      shape=(n_nodes, n_nodes))
    n_comp, labels = connected_components(A, directed=False)
    return int(n_comp), labels.astype(np.int64)


class LaplacianSolver:
    """Solve ``L theta = b`` for a weighted Laplacian, one solution per component.

    ``b`` must sum to zero on every component (true for any ``C^T v``); the
    returned ``theta`` has mean zero on every component (the minimum-norm
    solution). Small graphs are factorized once (sparse LU of the Laplacian with
    one grounded node per component); large ones use conjugate gradients with a
    Jacobi preconditioner on the singular Laplacian itself, warm-started from
    the previous solution -- on well-connected comparison graphs a few
    iterations per solve.

    Parameters
    ----------
    left, right : ndarray of int
        Edge end points.
    weight : ndarray
        Nonnegative edge weights.
    n_nodes : int
        Number of nodes.
    method : {'auto', 'factorize', 'cg'}
        ``'auto'`` factorizes graphs of at most 3000 nodes and uses CG beyond.
    tol : float
        Relative residual tolerance of CG.
    """

    def __init__(self, left, right, weight, n_nodes, *, method="auto", tol=1e-10):
        self.n_nodes = n_nodes
        self.n_components, self.labels = components(left, right, weight, n_nodes)
        self._counts = np.bincount(self.labels, minlength=self.n_components).astype(float)
        L = laplacian(left, right, weight, n_nodes)
        if method == "auto":
            method = "factorize" if n_nodes <= _FACTORIZE_MAX_NODES else "cg"
        self.method = method
        self.tol = tol
        self.n_cg_iter = 0
        if method == "factorize":
            _, first = np.unique(self.labels, return_index=True)
            keep = np.ones(n_nodes, dtype=bool)
            keep[first] = False
            self._keep = keep
            Lr = L[keep][:, keep].tocsc()
            self._lu = splu(Lr) if Lr.shape[0] else None
        elif method == "cg":
            self._L = L
            d = L.diagonal()
            inv = np.divide(1.0, d, out=np.zeros_like(d), where=d > 0)
            self._M = sp.diags(inv)
            self._last = np.zeros(n_nodes)
        else:
            raise ValueError(f"method must be 'auto', 'factorize' or 'cg', got {method!r}")

    def reset(self) -> None:
        """Forget the warm start: the next CG solve starts from zero."""
        if self.method == "cg":
            self._last = np.zeros(self.n_nodes)

    def _center(self, x):
        means = np.bincount(self.labels, weights=x, minlength=self.n_components) / self._counts
        return x - means[self.labels]

    def solve(self, b, *, warm_start: bool = True) -> np.ndarray:
        """The per-component mean-zero solution of ``L theta = b``."""
        b = np.asarray(b, dtype=float)
        if self.method == "factorize":
            x = np.zeros(self.n_nodes)
            if self._lu is not None:
                x[self._keep] = self._lu.solve(b[self._keep])
            return self._center(x)
        x0 = self._last if warm_start else None
        nb = float(np.linalg.norm(b))
        if nb == 0.0:
            return np.zeros(self.n_nodes)
        count = [0]

        def _count(_):
            count[0] += 1

        x, info = cg(self._L, b, x0=x0, rtol=self.tol, atol=0.0, M=self._M,
                     maxiter=20 * self.n_nodes, callback=_count)
        self.n_cg_iter += count[0]
        if info != 0:  # pragma: no cover - CG on a consistent PSD system converges
            raise RuntimeError("conjugate gradients did not converge on the graph Laplacian; "
                               "use solver='factorize'")
        x = self._center(x)
        self._last = x
        return x
