"""Gaussian maximum likelihood with a given graph: the precision matrix on a support.

Maximizes ``log det Omega - tr(S Omega)`` over positive definite ``Omega`` with
``Omega_jk = 0`` off the graph. The solution's covariance ``W = Omega^{-1}``
matches ``S`` on the diagonal and on the edges; it is computed by cycling over the
columns, each a least-squares solve on the column's neighbours in the current
``W`` (the block update of covariance selection). ``S`` is made positive definite
first by adding ``ridge * I`` when its smallest eigenvalue is below ``ridge``
(with fewer samples than columns), so the maximum exists for every graph.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning


def graph_precision(S, adjacency, *, ridge: float = 1e-3, tol: float = 1e-8,
                    max_sweeps: int = 500) -> np.ndarray:
    """Precision matrix of maximum Gaussian likelihood with zeros off ``adjacency``."""
    p = S.shape[0]
    S = np.array(S, dtype=float)
    if np.linalg.eigvalsh(S)[0] < ridge:
        S = S + ridge * np.eye(p)
    adjacency = np.asarray(adjacency, dtype=bool)
    W = S.copy()
    betas = [np.zeros(0)] * p
    neighbours = [np.flatnonzero(adjacency[j] & (np.arange(p) != j)) for j in range(p)]
    for _ in range(max_sweeps):
        change = 0.0
        for j in range(p):
            nb = neighbours[j]
            if nb.size == 0:
                continue
            beta = np.linalg.solve(W[np.ix_(nb, nb)], S[nb, j])
            others = np.flatnonzero(np.arange(p) != j)
            w = W[np.ix_(others, nb)] @ beta
            change = max(change, float(np.max(np.abs(w - W[others, j]))))
            W[others, j] = w
            W[j, others] = w
            betas[j] = beta
        if change < tol:
            break
    else:
        warnings.warn(f"The graph-constrained precision did not converge in {max_sweeps} "
                      f"sweeps (last change {change:.3g}).", ConvergenceWarning, stacklevel=3)
    Omega = np.zeros((p, p))
    for j in range(p):
        nb = neighbours[j]
        if nb.size == 0:
            Omega[j, j] = 1.0 / S[j, j]
            continue
        beta = np.linalg.solve(W[np.ix_(nb, nb)], S[nb, j])
        Omega[j, j] = 1.0 / (S[j, j] - W[nb, j] @ beta)
        Omega[nb, j] = -beta * Omega[j, j]
    return 0.5 * (Omega + Omega.T)
