"""A high-breakdown start: least trimmed squares by random starts and C-steps.

The fit minimizes the sum of the ``h`` smallest squared residual norms
(``h`` about half the sample: 50% breakdown), found as in FAST-LTS:
elemental starts (``r`` random rows, exact fit) on a subsample, two
concentration steps each ("C-steps": refit on the ``h`` rows with the
smallest residuals, which never increases the objective), then the best
candidates are iterated to convergence on all rows. Its scale is made
consistent at the normal model and then reweighted once (rows beyond the
97.5% chi-square quantile dropped, scale recomputed with its own
consistency factor).

Multi-output targets use the residual norm over the columns (``Y`` is
expected on a common scale); the normal-model consistency then uses the
chi-square law with ``K`` degrees of freedom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.utils import check_random_state

from sparsestat._kernels._projected import bisquare_rho_mean
from sparsestat.robust._linalg import (
    as_kernel_array, full_projection, residuals, solve_normal, subset_fit, subset_products,
    update_products,
)


@dataclass
class RobustStart:
    """Result of :func:`lts_start` (all on the scale of the targets given)."""

    theta: np.ndarray       # (r, K) coefficients on the basis Q
    residuals: np.ndarray   # (n, K)
    scale: float            # reweighted, consistent sigma
    core: np.ndarray        # bool (n,): rows kept by the reweighting step
    raw_scale: float        # LTS scale before reweighting
    m_scale: float          # bisquare M-scale of the LTS residuals (50% breakdown)


def _consistency(frac: float, K: int) -> float:
    """``E[chi2_K | chi2_K <= q] / K`` with ``P(chi2_K <= q) = frac``."""
    q = stats.chi2.ppf(frac, K)
    return float(stats.chi2.cdf(q, K + 2) / frac)


def m_scale(d: np.ndarray, K: int = 1, n_iter: int = 100) -> float:
    """Bisquare M-scale (50% breakdown, consistent at the normal) of residual norms.

    ``d`` holds squared residual norms over ``K`` columns; solves
    ``mean(rho(sqrt(d / K) / (c s))) = 1/2`` with Tukey's ``rho`` and
    ``c = 1.5476`` by the usual fixed-point iteration.
    """
    c = 1.5476
    r = np.sqrt(np.ascontiguousarray(d, dtype=float).ravel() / K)
    s = float(np.median(r)) / 0.6745
    if s <= 0:
        return 0.0
    for _ in range(n_iter):
        new = s * np.sqrt(bisquare_rho_mean(r, c * s) / 0.5)
        if abs(new - s) <= 1e-10 * s:
            s = new
            break
        s = new
    return float(s)


def _smallest(d: np.ndarray, h: int) -> np.ndarray:
    mask = np.zeros(d.shape[0], dtype=bool)
    mask[np.argpartition(d, h - 1)[:h]] = True
    return mask


def _c_steps(Q, Y, mask, h, n_steps, orthonormal=True, rtol=1e-12, QtY=None, refresh=4):
    """Concentration steps from ``mask`` until the kept set or objective settles.

    The products of the kept set are updated on the rows that enter and leave;
    they are recomputed from scratch every ``refresh`` steps, or when more rows
    changed than a fresh computation would sum, so rounding cannot accumulate.
    """
    Yk = as_kernel_array(Y)
    full_rows = min(h, Q.shape[0] - h) if orthonormal else h
    obj = np.inf
    theta = None
    G = b = None
    since = 0
    for _ in range(n_steps):
        if G is None:
            G, b = subset_products(Q, Yk, mask, orthonormal, QtY)
            since = 0
        theta = solve_normal(G, b)
        d = np.sum(residuals(Q, Y, theta) ** 2, axis=1)
        new = _smallest(d, h)
        new_obj = float(np.sum(d[new]))
        if np.array_equal(new, mask) or new_obj >= obj * (1 - rtol):
            mask = new
            obj = min(obj, new_obj)
            break
        enter = np.flatnonzero(new & ~mask)
        leave = np.flatnonzero(mask & ~new)
        since += 1
        if since >= refresh or 2 * (enter.size + leave.size) >= full_rows:
            G = None
        else:
            update_products(Q, Yk, G, b, enter, leave)
        mask, obj = new, new_obj
    return theta, mask, obj


def lts_starts(Q: np.ndarray, Y: np.ndarray, *, trims=(0.5,), n_starts: int = 500,
               n_best: int = 10, subsample: int = 2000, order: np.ndarray | None = None,
               random_state=None) -> list[RobustStart]:
    """Least trimmed squares fits of ``Y`` on ``Q`` with consistent robust scales.

    One fit per fraction in ``trims``, the fraction of rows left out of the
    objective: ``0.5`` is the usual ``h = (n + r + 1) // 2`` (50% breakdown),
    less keeps ``h = n - floor(trim n)`` rows (never fewer than at 0.5). The
    elemental starts are shared by all fractions. ``order`` (a permutation
    of the rows) is the order the random subsets are drawn in: an order that
    depends on the rows' values only makes the fits equivariant under
    permutations of the rows.
    """
    rng = check_random_state(random_state)
    n, r = Q.shape
    m = min(n, subsample)
    order = np.arange(n) if order is None else np.asarray(order)
    sub = order[np.sort(rng.choice(n, size=m, replace=False))] if m < n else order
    Qs, Ys = np.ascontiguousarray(Q[sub]), np.ascontiguousarray(Y[sub])
    J = np.array([rng.choice(m, size=r, replace=False) for _ in range(n_starts)])
    thetas, ok = _elemental_fits(Qs, Ys, J)
    out = []
    for trim in trims:
        h = max((n + r + 1) // 2, min(n - int(np.floor(trim * n)), n - 1))
        hs = max(r + 1, int(np.ceil(h * m / n)))
        objs, masks = _batched_c_steps(Qs, Ys, thetas[ok], hs, n_steps=2)
        out.append(_refine(Q, Y, Qs, Ys, sub, objs, masks, h, n_best))
    return out


def lts_start(Q: np.ndarray, Y: np.ndarray, *, trim: float = 0.5, **kwargs) -> RobustStart:
    """One least trimmed squares fit (see :func:`lts_starts`)."""
    return lts_starts(Q, Y, trims=(trim,), **kwargs)[0]


def _elemental_fits(Qs, Ys, J):
    """Exact fits on the elemental sets ``J`` (rows of indices), all at once.

    Returns the coefficients (starts, r, K) and which sets were regular.
    """
    A = Qs[J]
    B = Ys[J]
    cond = np.linalg.cond(A)
    ok = np.isfinite(cond) & (cond < 1e12)
    thetas = np.zeros((J.shape[0], Qs.shape[1], Ys.shape[1]))
    if ok.any():
        thetas[ok] = np.linalg.solve(A[ok], B[ok])
    return thetas, ok


def _batched_c_steps(Qs, Ys, thetas, hs, n_steps=2, chunk=None):
    """A few concentration steps from every start at once: (objectives, masks)."""
    m, r = Qs.shape
    S = thetas.shape[0]
    if S == 0:
        return np.zeros(1), np.ones((1, m), dtype=bool)
    chunk = chunk or max(1, int(4e6 // max(hs * r, 1)))
    objs = np.empty(S)
    masks = np.zeros((S, m), dtype=bool)
    for a in range(0, S, chunk):
        theta = thetas[a:a + chunk]
        for _ in range(n_steps):
            d = np.sum((Ys[None] - Qs[None] @ theta) ** 2, axis=2)
            idx = np.argpartition(d, hs - 1, axis=1)[:, :hs]
            Qsel_t = Qs[idx].transpose(0, 2, 1)
            G = Qsel_t @ Qs[idx]
            b = Qsel_t @ Ys[idx]
            G += 1e-12 * np.trace(G, axis1=1, axis2=2)[:, None, None] / r * np.eye(r)
            theta = np.linalg.solve(G, b)
        d = np.sum((Ys[None] - Qs[None] @ theta) ** 2, axis=2)
        idx = np.argpartition(d, hs - 1, axis=1)[:, :hs]
        objs[a:a + chunk] = np.take_along_axis(d, idx, axis=1).sum(axis=1)
        np.put_along_axis(masks[a:a + chunk], idx, True, axis=1)
    return objs, masks


def _refine(Q, Y, Qs, Ys, sub, objs, masks, h, n_best):
    """Iterate the best starts to convergence on all rows; scale and reweighting."""
    n, r = Q.shape
    m = Qs.shape[0]
    K = Y.shape[1]
    QtY = full_projection(Q, Y)
    best = (np.inf, None, None)
    large = n > 20_000
    n_keep = 3 if large else n_best
    seen = []
    for c in np.argsort(objs, kind="stable"):
        if len(seen) >= n_keep:
            break
        mask_s = masks[c]
        if any(np.array_equal(mask_s, s) for s in seen):
            continue
        seen.append(mask_s)
        if m < n:
            theta = subset_fit(Qs, Ys, mask_s, orthonormal=False)
            mask = _smallest(np.sum(residuals(Q, Y, theta) ** 2, axis=1), h)
        else:
            mask = np.zeros(n, dtype=bool)
            mask[sub[mask_s]] = True
        # all rows: iterate to convergence (for large n up to a relative tolerance:
        # the last C-steps only swap a few rows of nearly equal residual)
        theta, mask, obj = _c_steps(Q, Y, mask, h, 15 if large else 100,
                                    rtol=1e-6 if large else 1e-12, QtY=QtY)
        if obj < best[0]:
            best = (obj, theta, mask)
    _, theta, mask = best
    R = residuals(Q, Y, theta)
    d = np.sum(R ** 2, axis=1)
    mscale = m_scale(d, K)
    raw = np.sqrt(np.sum(np.sort(d)[:h]) / (h * K * _consistency(h / n, K)))
    if raw <= 0:
        raw = np.sqrt(np.mean(d) / K)
    # one reweighting step: drop rows beyond the 97.5% quantile, refit, rescale
    core = d / raw ** 2 <= stats.chi2.ppf(0.975, K)
    if core.sum() > r:
        theta = subset_fit(Q, Y, core)
        R = residuals(Q, Y, theta)
        d = np.sum(R ** 2, axis=1)
        dof = max(core.sum() - r, 1)
        scale = np.sqrt(np.sum(d[core]) / (dof * K * _consistency(0.975, K)))
    else:
        scale = raw
    if not np.isfinite(scale) or scale <= 0:
        scale = raw
    return RobustStart(theta=theta, residuals=R, scale=float(scale), core=core,
                       raw_scale=float(raw), m_scale=mscale)
