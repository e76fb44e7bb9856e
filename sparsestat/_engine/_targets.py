"""The target side of a path: the units the path runs in (see
:mod:`sparsestat._units`), robust scales and the intercept at zero coefficients.
"""

from __future__ import annotations

import numpy as np

from sparsestat._engine._design import _FULL_GRAM_MAX_FEATURES
from sparsestat._units import standardize_target


def _initial_intercept(loss, Y, w, delta):
    """Optimal intercept when all coefficients are zero."""
    wn = w / w.sum()
    if loss == "squared":
        return wn @ Y
    if loss == "poisson":  # log of the weighted mean count (positive: checked by the caller)
        return np.log(wn @ Y)
    if loss == "logistic":
        m = np.clip(wn @ Y, 1e-12, 1 - 1e-12)
        return np.log(m / (1 - m))
    if loss == "multinomial":
        freq = np.clip(wn @ Y, 1e-12, None)
        logf = np.log(freq)
        return logf - logf.mean()
    # huber location: iteratively reweighted mean from the weighted median
    b = np.array([weighted_median(Y[:, k], w) for k in range(Y.shape[1])])
    for _ in range(100):
        r = Y - b
        wt = w[:, None] * np.minimum(1.0, delta / np.maximum(np.abs(r), 1e-300))
        b_new = (wt * Y).sum(axis=0) / wt.sum(axis=0)
        if np.allclose(b_new, b, rtol=0, atol=1e-12 * (1 + np.abs(b).max())):
            b = b_new
            break
        b = b_new
    return b


def weighted_median(x, w=None) -> float:
    """Median of ``x`` where sample ``i`` counts ``w[i]`` times (lower median on ties)."""
    x = np.asarray(x, dtype=float).ravel()
    if w is None:
        return float(np.median(x))
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(np.asarray(w, dtype=float)[order])
    half = 0.5 * cw[-1]
    i = int(np.searchsorted(cw, half, side="left"))
    if np.isclose(cw[i], half, rtol=1e-12, atol=0) and i + 1 < x.size:
        return 0.5 * (x[order[i]] + x[order[i + 1]])
    return float(x[order[i]])


def robust_scale(r, w=None) -> float:
    """Normalized (weighted) median absolute deviation, a consistent estimate of sigma."""
    r = np.asarray(r, dtype=float).ravel()
    return float(1.4826 * weighted_median(np.abs(r - weighted_median(r, w)), w))


def _huber_scale(design, Y, w) -> float:
    """A robust scale (MAD) of the residuals of a weighted least-squares fit (0 if none)."""
    n, p = design.n_samples, design.n_features
    resid = Y - np.array([weighted_median(Y[:, k], w) for k in range(Y.shape[1])])
    if n > p + 1 and not design.is_sparse:
        A = np.column_stack([np.ones(n), design.dense]) * np.sqrt(w)[:, None]
        coef = np.linalg.lstsq(A, Y * np.sqrt(w)[:, None], rcond=None)[0]
        resid = Y - np.column_stack([np.ones(n), design.dense]) @ coef
    elif n > p + 1 and p <= _FULL_GRAM_MAX_FEATURES:
        # the same weighted least-squares fit for a sparse design, through its (implicitly
        # centred) Gram matrix: the columns are centred with the weights, so the intercept
        # is the weighted mean of Y
        Yc = Y - (w @ Y) / w.sum()
        coef = np.linalg.lstsq(design.gram(w), design.transpose_product(Yc * w[:, None]) / n,
                               rcond=None)[0]
        resid = Yc - np.column_stack([design.product(coef[:, k]) for k in range(Y.shape[1])])
    sigma = robust_scale(resid, np.repeat(w, Y.shape[1]) if Y.shape[1] > 1 else w)
    if not sigma > 0:
        sigma = float(np.sqrt(np.average((resid - np.average(resid, axis=0, weights=w)) ** 2,
                                         axis=0, weights=w).mean()))
    return sigma if sigma > 0 else 0.0


def _standardized_target(design, Y, w, fit_intercept, loss):
    """``Y`` in the units the path runs in, and that unit (see :mod:`sparsestat._units`).

    The squared loss divides by the root mean square deviation of ``Y``; the Huber
    loss by a robust scale of preliminary residuals, so that its threshold is
    ``epsilon`` on the standardized problem. Class indicators are left alone, and so are
    Poisson counts: a count's scale is part of the model (its variance is its mean),
    not a unit to divide away, and under the log link a factor ``c`` on ``y`` moves
    only the intercept of the fit (``log(c mu) = log c + eta``); the slopes carry the
    units of ``X``, which ``normalize`` handles. (The times do scale: ``t0`` is
    divided by ``c``, as the gradient at the start is multiplied by it.)
    """
    if loss not in ("squared", "huber"):
        return Y, 1.0
    Ys, unit = standardize_target(Y, w, fit_intercept)
    if loss == "huber":
        sigma = _huber_scale(design, Ys, w)
        if sigma > 0:
            Ys, unit = Ys / sigma, unit * sigma
    return Ys, unit
