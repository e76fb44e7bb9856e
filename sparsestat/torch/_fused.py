"""Fused CPU kernels: a whole DessiLBI step for one tensor in one pass over memory (numba).

For a penalized parameter ``w`` (flattened for the lasso penalty, rows x
features for the group penalty) with gradient ``g`` and the coefficients
``coef = [kappa, c_v, c_w, lr_kappa, momentum, 1 - dampening, wd, nesterov]``
(one array in the parameter's dtype: fewer arguments to dispatch), each kernel
performs::

    d     = g + wd * w                              (weight decay)
    buf   = d  (first step)  or  momentum * buf + (1 - dampening) * d
    d     = d + momentum * buf  (nesterov)  or  buf           (when momentum != 0)
    gamma = kappa * prox(v)                         (v, w before this step)
    gap   = gamma - w
    v    <- v - c_v * gap                           c_v = lr / mu
    w    <- w - lr_kappa * d + c_w * gap            c_w = lr * kappa / mu
    entry <- min(entry, step) where prox(v) != 0 after the update (a second pass,
             only on steps where some |v| or group norm crossed 1)

which is the torch-kernel path of :class:`DessiLBI` with the same arithmetic
per element (rounding may differ in the last bit).
"""

from __future__ import annotations

import numpy as np

from sparsestat._kernels._jit import kernel

__all__ = ["dessilbi_lasso_", "dessilbi_group_"]


@kernel(nogil=True)
def dessilbi_lasso_(w, v, entry, g, buf, coef, first, step):  # pragma: no cover - compiled
    """One elementwise (lasso) DessiLBI step, in place on w, v, buf and entry."""
    kappa, c_v, c_w, lr_kappa = coef[0], coef[1], coef[2], coef[3]
    momentum, damp, wd, nesterov = coef[4], coef[5], coef[6], coef[7] != 0
    one = np.ones(1, dtype=v.dtype)[0]  # float32 arrays stay in float32 (vectorized)
    use_momentum = momentum != 0
    crossed = 0
    for i in range(w.shape[0]):
        wi = w[i]
        d = g[i] + wd * wi
        if use_momentum:
            b = d if first else momentum * buf[i] + damp * d
            buf[i] = b
            d = d + momentum * b if nesterov else b
        v0 = v[i]
        # branch-free shrink(v) = v - clip(v, -1, 1)
        gap = kappa * (v0 - min(max(v0, -one), one)) - wi
        vi = v0 - c_v * gap
        v[i] = vi
        w[i] = wi - lr_kappa * d + c_w * gap
        crossed += (abs(vi) > one) & (abs(v0) <= one)
    # a weight enters when |v| first exceeds 1, so the record only changes on
    # steps where some |v| crossed 1: then (rarely) one more pass
    if crossed:
        for i in range(w.shape[0]):
            if abs(v[i]) > one and entry[i] > step:
                entry[i] = step


@kernel(nogil=True)
def dessilbi_group_(w, v, entry, g, buf, coef, first, step):  # pragma: no cover - compiled
    """One group (per row) DessiLBI step, in place; w, v, g, buf are rows x features."""
    kappa, c_v, c_w, lr_kappa = coef[0], coef[1], coef[2], coef[3]
    momentum, damp, wd, nesterov = coef[4], coef[5], coef[6], coef[7] != 0
    n_rows, n_cols = w.shape
    zero = np.zeros(1, dtype=v.dtype)[0]  # float32 arrays stay in float32
    one = zero + 1
    use_momentum = momentum != 0
    for r in range(n_rows):
        sq = zero
        for j in range(n_cols):
            sq += v[r, j] * v[r, j]
        norm = np.sqrt(sq)
        scale = kappa * (one - one / norm) if norm > one else zero
        sq_new = zero
        for j in range(n_cols):
            wj = w[r, j]
            d = g[r, j] + wd * wj
            if use_momentum:
                b = d if first else momentum * buf[r, j] + damp * d
                buf[r, j] = b
                d = d + momentum * b if nesterov else b
            vj = v[r, j]
            gap = scale * vj - wj
            vj = vj - c_v * gap
            v[r, j] = vj
            w[r, j] = wj - lr_kappa * d + c_w * gap
            sq_new += vj * vj
        if sq_new > one and entry[r] > step:
            entry[r] = step
