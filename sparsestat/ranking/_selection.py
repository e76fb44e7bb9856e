"""Statistics that decide how many comparisons (or annotators) are outliers."""

from __future__ import annotations

import numpy as np

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
