"""Label propagation over a nearest-neighbour rbf graph (the prior of ICI's pseudo-labels)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import kneighbors_graph

#: Pairs used for the median squared distance of large sets (the rest is subsampled).
_MEDIAN_PAIRS = 2000


def median_sq_distance(X: np.ndarray, random_state) -> float:
    """Median squared Euclidean distance over pairs of distinct rows of ``X``.

    Exact for up to ``_MEDIAN_PAIRS`` rows, otherwise over the pairs of a
    random subset of that many rows.
    """
    if X.shape[0] > _MEDIAN_PAIRS:
        X = X[random_state.choice(X.shape[0], _MEDIAN_PAIRS, replace=False)]
    sq = np.einsum("ij,ij->i", X, X)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (X @ X.T)
    return float(np.median(np.clip(d2[np.triu_indices_from(d2, 1)], 0.0, None)))


def rbf_graph(X: np.ndarray, *, gamma: float, n_neighbors: int) -> sp.csr_matrix:
    """Symmetrically normalized rbf affinity ``D^-1/2 W D^-1/2`` on the nearest neighbours.

    ``W_ij = exp(-gamma ||x_i - x_j||^2)`` when ``j`` is among the
    ``n_neighbors`` nearest neighbours of ``i`` or ``i`` among those of
    ``j``, else 0 (the rbf weight of farther pairs is negligible for the
    sharp kernels used here, and the graph stays sparse).
    """
    k = int(min(n_neighbors, X.shape[0] - 1))
    W = kneighbors_graph(X, k, mode="distance", include_self=False)
    W.data = np.exp(-gamma * W.data ** 2)
    W = W.maximum(W.T).tocsr()
    deg = np.asarray(W.sum(axis=1)).ravel()
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0)), 0.0)
    return sp.csr_matrix(sp.diags(inv) @ W @ sp.diags(inv))


def propagate_labels(S: sp.csr_matrix, codes: np.ndarray, n_classes: int,
                     alpha: float) -> np.ndarray:
    """Class distribution of every node by label spreading (Zhou et al., 2004).

    Computes ``F = (I - alpha S)^-1 Y`` (as its Neumann series) with ``Y``
    the one-hot rows of the labeled nodes (``codes >= 0``) and zero rows
    elsewhere, and normalizes each row of ``F`` (nonnegative, as ``S`` is) to
    sum to one. A node that no
    label reaches gets the uniform distribution.
    """
    n = codes.size
    labeled = np.flatnonzero(codes >= 0)
    Y = np.zeros((n, n_classes))
    Y[labeled, codes[labeled]] = 1.0
    # F = sum_t (alpha S)^t Y: the spectrum of S lies in [-1, 1], so the series converges
    # geometrically; stop once the remaining tail is below 1e-12 of the labels' mass
    n_terms = int(np.ceil(np.log(1e-12 * (1.0 - alpha)) / np.log(alpha)))
    F = Y.copy()
    term = Y
    for _ in range(n_terms):
        term = alpha * (S @ term)
        F += term
    total = F.sum(axis=1, keepdims=True)
    return np.where(total > 0, F / np.where(total > 0, total, 1.0), 1.0 / n_classes)
