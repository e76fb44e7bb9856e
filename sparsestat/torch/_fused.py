"""Fused CPU kernels for the Split LBI part of a DessiLBI step (numba, one pass per tensor).

Each kernel runs before the gradient step on a parameter ``w`` (flattened, or
rows x features for the group penalty) and, in one sweep over memory::

    gamma = kappa * prox(v)                 (from v before the step)
    gap   = gamma - w
    v    <- v - c_v * gap                   c_v = lr / mu
    w    <- w + c_w * gap                   c_w = lr * kappa / mu
    entry <- min(entry, step) where prox(v) != 0 after the update

The gradient step ``w <- w - lr*kappa*d`` is left to torch (same kernels as
``torch.optim.SGD``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["lbi_lasso_", "lbi_group_"]


@njit(cache=True, nogil=True)
def lbi_lasso_(w, v, entry, kappa, c_v, c_w, step):  # pragma: no cover - compiled
    """Elementwise (lasso) coupling, V update and entry record, in place."""
    one = np.ones(1, dtype=v.dtype)[0]  # float32 arrays stay in float32 (vectorized)
    for i in range(w.shape[0]):
        vi = v[i]
        # branch-free so that the loop vectorizes: shrink(v) = v - clip(v, -1, 1)
        gap = kappa * (vi - min(max(vi, -one), one)) - w[i]
        vi = vi - c_v * gap
        v[i] = vi
        w[i] = w[i] + c_w * gap
        e = entry[i]
        entry[i] = min(e, step) if abs(vi) > one else e


@njit(cache=True, nogil=True)
def lbi_group_(w, v, entry, kappa, c_v, c_w, step):  # pragma: no cover - compiled
    """Group (per row) coupling, V update and entry record, in place; w, v are 2-D."""
    n_rows, n_cols = w.shape
    zero = np.zeros(1, dtype=v.dtype)[0]  # float32 arrays stay in float32
    one = zero + 1
    for r in range(n_rows):
        sq = zero
        for j in range(n_cols):
            sq += v[r, j] * v[r, j]
        norm = np.sqrt(sq)
        scale = kappa * (one - one / norm) if norm > one else zero
        sq_new = zero
        for j in range(n_cols):
            vj = v[r, j]
            gap = scale * vj - w[r, j]
            vj = vj - c_v * gap
            v[r, j] = vj
            w[r, j] = w[r, j] + c_w * gap
            sq_new += vj * vj
        if sq_new > one and entry[r] > step:
            entry[r] = step
