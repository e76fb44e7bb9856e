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
per element (rounding may differ in the last bit). The rule is written once
(:func:`_direction`, :func:`_couple`, inlined into each kernel); the two kernels
differ only in the proximal map that gives ``gamma`` (per element or per row).
"""

from __future__ import annotations

import numpy as np

from sparsestat._kernels._jit import kernel

__all__ = ["dessilbi_lasso_", "dessilbi_group_"]


@kernel(nogil=True, inline="always")
def _direction(g, w, buf, coef, first):  # pragma: no cover - compiled
    """The SGD direction of one element: weight decay, then momentum / Nesterov.

    Returns ``(d, buf_new)``; ``buf`` is read and its new value meaningful only
    with momentum.
    """
    momentum, damp, wd, nesterov = coef[4], coef[5], coef[6], coef[7] != 0
    d = g + wd * w
    if momentum != 0:
        buf = d if first else momentum * buf + damp * d
        d = d + momentum * buf if nesterov else buf
    return d, buf


@kernel(nogil=True, inline="always")
def _couple(w, v, gamma, d, coef):  # pragma: no cover - compiled
    """The Split LBI coupling through ``gap = gamma - w``: returns ``(w_new, v_new)``."""
    c_v, c_w, lr_kappa = coef[1], coef[2], coef[3]
    gap = gamma - w
    return w - lr_kappa * d + c_w * gap, v - c_v * gap


@kernel(nogil=True)
def dessilbi_lasso_(w, v, entry, g, buf, coef, first, step):  # pragma: no cover - compiled
    """One elementwise (lasso) DessiLBI step, in place on w, v, buf and entry."""
    kappa = coef[0]
    one = np.ones(1, dtype=v.dtype)[0]  # float32 arrays stay in float32 (vectorized)
    use_momentum = coef[4] != 0
    crossed = 0
    for i in range(w.shape[0]):
        d, b = _direction(g[i], w[i], buf[i] if use_momentum else one, coef, first)
        if use_momentum:
            buf[i] = b
        v0 = v[i]
        # branch-free shrink(v) = v - clip(v, -1, 1)
        w[i], vi = _couple(w[i], v0, kappa * (v0 - min(max(v0, -one), one)), d, coef)
        v[i] = vi
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
    kappa = coef[0]
    n_rows, n_cols = w.shape
    zero = np.zeros(1, dtype=v.dtype)[0]  # float32 arrays stay in float32
    one = zero + 1
    use_momentum = coef[4] != 0
    for r in range(n_rows):
        sq = zero
        for j in range(n_cols):
            sq += v[r, j] * v[r, j]
        norm = np.sqrt(sq)
        scale = kappa * (one - one / norm) if norm > one else zero
        sq_new = zero
        for j in range(n_cols):
            d, b = _direction(g[r, j], w[r, j], buf[r, j] if use_momentum else one, coef,
                              first)
            if use_momentum:
                buf[r, j] = b
            vj = v[r, j]
            w[r, j], vj = _couple(w[r, j], vj, scale * vj, d, coef)
            v[r, j] = vj
            sq_new += vj * vj
        if sq_new > one and entry[r] > step:
            entry[r] = step
