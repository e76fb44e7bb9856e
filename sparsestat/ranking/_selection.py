"""Statistics that decide how many comparisons (or annotators) are outliers."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

# false-discovery rate of the 'auto' rule for +1/-1 votes
VOTE_FDR = 0.1
# the leverage correction of the noise scale never divides by less than sqrt of this
_MIN_DOF_FRACTION = 0.05


def excess_upsets(p, y, w, fdr=VOTE_FDR) -> int:
    """How many +1/-1 votes are upsets beyond what the fitted model explains.

    ``p`` is the fitted probability that the first item is preferred. A vote whose
    observed outcome has probability ``u < q`` is a candidate; under the model the
    expected (weighted) number of such upsets is ``E0(q) = sum_k m_k 1[m_k < q]`` with
    ``m_k = min(p_k, 1 - p_k)``. Returns the number of candidates at the largest ``q`` with
    ``E0(q) / N(q) <= fdr`` (a false-discovery rate estimated from the model), 0 if none.
    """
    keep = w > 0
    p, y, w = p[keep], y[keep], w[keep]
    u = np.where(y > 0, p, 1.0 - p)         # probability of the observed outcome
    mk = np.minimum(p, 1.0 - p)
    cand = np.sort(u[u < 0.5])
    if cand.size == 0:
        return 0
    order_u = np.argsort(u)
    n_obs = np.searchsorted(u[order_u], cand, side="right")  # N(q) at q = cand (unweighted)
    w_obs = np.cumsum(w[order_u])[n_obs - 1]
    order_m = np.argsort(mk)
    cum_m = np.concatenate([[0.0], np.cumsum((w * mk)[order_m])])
    e0 = cum_m[np.searchsorted(mk[order_m], cand, side="right")]
    ok = np.flatnonzero(e0 <= fdr * w_obs)
    return int(n_obs[ok[-1]]) if ok.size else 0


def symmetric_scale(r) -> float:
    """Normalized median absolute residual (unchanged when comparisons are reoriented)."""
    return float(1.4826 * np.median(np.abs(r))) if r.size else 0.0


def residual_scale(r, n_params: int) -> float:
    """Noise scale of least-squares residuals ``r`` of a fit with ``n_params`` parameters.

    The normalized median absolute residual, divided by ``sqrt(1 - n_params / len(r))``:
    a fitted residual has variance ``sigma^2 (1 - h_k)`` and the leverages ``h_k`` add up to
    ``n_params``, so ``1 - n_params / m`` is the share of the residual's degrees of freedom
    (the dimension of the cycle space over ``m``) left to estimate ``sigma``.
    """
    m = r.shape[0]
    if m == 0:
        return 0.0
    dof = 1.0 - n_params / max(m, n_params)
    return symmetric_scale(r) / np.sqrt(max(dof, _MIN_DOF_FRACTION))


def step_up_cut(z, fdr: float) -> float:
    """Cut-off on ``|z|`` of the Benjamini-Hochberg step-up rule on two-sided p-values.

    ``z`` are standardized residuals, Gaussian under the null. The ``k`` largest ``|z|``
    are rejected for the largest ``k`` with ``2 Phi(-|z|_(k)) <= k fdr / m``; the cut-off
    is the ``|z|`` that bound corresponds to (``inf`` if nothing is rejected), so that a
    comparison is rejected when ``|z| >= cut``. Without any outlier this is the Bonferroni
    cut-off ``z_{1 - fdr / 2m}`` (about ``sqrt(2 log m)``): a family-wise level ``fdr``
    test; with many outliers each needs less evidence.
    """
    m = z.shape[0]
    top = np.sort(np.abs(z))[::-1]
    if m == 0:
        return np.inf
    k = np.arange(1, m + 1)
    cuts = norm.isf(0.5 * fdr * k / m)
    ok = np.flatnonzero(top >= cuts)
    return float(cuts[ok[-1]]) if ok.size else np.inf


def margin_outliers(r, clean, n_params: int, threshold: float, fdr: float,
                    tiny: float) -> int:
    """How many comparisons with weighted residuals ``r`` are outliers.

    ``r = sqrt(w) (y - C theta)`` of the fit without the flagged comparisons, over the
    comparisons of positive weight; ``clean`` marks those that were kept. The scale
    ``sigma`` is :func:`residual_scale` of the clean residuals, and a comparison is an
    outlier when ``|r| / sigma`` reaches ``max(threshold, step_up_cut(r / sigma, fdr))``.
    When the clean comparisons fit exactly (``sigma <= tiny``, a rounding-error scale of
    the data) every residual above ``tiny`` is an outlier.
    """
    if not clean.any():
        return 0
    rc = r[clean]
    sigma = residual_scale(rc, n_params)
    if sigma <= tiny:  # more than half the clean residuals vanish: use their mean square
        dof = max(1.0 - n_params / max(rc.shape[0], n_params), _MIN_DOF_FRACTION)
        sigma = float(np.sqrt(np.mean(rc ** 2) / dof))
    if sigma <= tiny:
        return int(np.count_nonzero(np.abs(r) > tiny))
    z = np.abs(r) / sigma
    cut = max(float(threshold), step_up_cut(z, fdr))
    return int(np.count_nonzero(z >= cut))
