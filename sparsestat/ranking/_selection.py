"""Statistics that decide how many comparisons (or annotators) are outliers."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

# false-discovery rate of the 'auto' rule for +1/-1 votes
VOTE_FDR = 0.1


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


def pair_resistance(left, right, wc, n: int, n_params: int) -> np.ndarray:
    """Effective resistance between the two items of every comparison, estimated in O(m).

    ``wc`` are the weights of the current fit (0 for a comparison left out). The exact
    value ``q_k = (e_i - e_j)^T L^+ (e_i - e_j)`` of the weighted Laplacian ``L`` needs
    the inverse; its Rayleigh lower bound with every item other than ``i`` and ``j``
    shorted together is ``1 / (P + a b / (a + b))``, with ``P`` the weight of the
    comparisons of the pair itself and ``a``, ``b`` the weights of the other comparisons
    of ``i`` and of ``j``. It is exact when ``a`` or ``b`` is 0 (one of the items is
    compared with the other only) and within a few percent on well-connected graphs.
    Foster's theorem, ``sum_k wc_k q_k = n_params`` (the leverages of a least-squares fit
    add up to its number of parameters), fixes one factor ``s >= 1`` by which the other
    bounds are scaled, so the estimated leverages have the exact sum.
    """
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    _, pair = np.unique(lo * np.int64(n) + hi, return_inverse=True)
    P = np.bincount(pair, weights=wc)[pair]
    deg = np.bincount(left, weights=wc, minlength=n) + np.bincount(right, weights=wc, minlength=n)
    a, b = deg[left] - P, deg[right] - P
    exact = (a <= 0) | (b <= 0)
    shorted = np.where(exact, 0.0, a * b / np.where(exact, 1.0, a + b))
    total = P + shorted
    q = np.divide(1.0, total, out=np.full(total.shape, np.inf), where=total > 0)
    fitted = wc > 0
    free = fitted & ~exact
    rest = float(np.sum(wc[free] * q[free]))
    if rest > 0:
        scale = (n_params - float(np.sum(wc[fitted & exact] * q[fitted & exact]))) / rest
        q = np.where(exact, q, max(scale, 1.0) * q)
    return q


def feature_resistance(Phi, left, right, wc) -> np.ndarray:
    """``q_k = x_k^T (X^T W X)^+ x_k`` with ``x_k = Phi_i - Phi_j``: the exact counterpart of
    :func:`pair_resistance` when scores are ``Phi beta``."""
    X = Phi[left] - Phi[right]
    A = X.T @ (wc[:, None] * X)
    return np.einsum("kd,de,ke->k", X, np.linalg.pinv(A, hermitian=True), X)


def residual_variance(w, wc, q) -> np.ndarray:
    """Variance of every comparison's residual over ``sigma^2`` (0: it cannot be tested).

    A comparison in the fit (``wc == w``) has an in-sample residual, variance
    ``1 / w - q`` (``w q`` is its leverage); one left out, or kept with a small weight,
    has the residual of a prediction, variance ``1 / w + q``.
    """
    inv = np.divide(1.0, w, out=np.zeros(w.shape), where=w > 0)
    var = np.where(wc < w, inv + q, inv - q)
    return np.where(np.isfinite(var) & (var > 1e-9 * inv), var, 0.0)


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


def margin_outliers(r, var, clean, threshold: float, fdr: float, tiny: float) -> int:
    """How many comparisons with residuals ``r`` (of the fit without the flagged ones) are
    outliers.

    ``var`` is each residual's variance over ``sigma^2`` (:func:`residual_variance`; 0:
    not testable), ``clean`` marks the comparisons in the fit. The z-score of a comparison
    is ``|r| / (sigma sqrt(var))``, with ``sigma`` the normalized median absolute
    studentized residual of the clean comparisons; it is an outlier when the z-score
    reaches ``max(threshold, step_up_cut(z, fdr))``. When the clean comparisons fit
    exactly (``sigma <= tiny``, a rounding-error scale of the data) every testable
    residual above ``tiny`` is an outlier.
    """
    testable = var > 0
    u = np.zeros(r.shape)
    u[testable] = r[testable] / np.sqrt(var[testable])
    keep = clean & testable
    if not keep.any():
        return 0
    sigma = symmetric_scale(u[keep])
    if sigma <= tiny:  # more than half the clean residuals vanish: use their mean square
        sigma = float(np.sqrt(np.mean(u[keep] ** 2)))
    if sigma <= tiny:
        return int(np.count_nonzero(np.abs(r) * testable > tiny))
    z = np.abs(u) / sigma
    cut = max(float(threshold), step_up_cut(z, fdr))
    return int(np.count_nonzero(z >= cut))
