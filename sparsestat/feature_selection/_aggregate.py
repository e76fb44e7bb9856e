"""Derandomized knockoffs (e-values and e-BH) and the swap-exchangeability check.

Derandomization (Ren and Barber, 2023). One knockoff draw ``m`` with statistics
``W^m`` and its knockoff+ threshold ``T_m`` at level ``q_kn`` gives the e-values

    e_j^m = p * 1{W_j^m >= T_m} / (1 + #{k : W_k^m <= -T_m}),

whose nulls have ``sum_{j null} E[e_j^m] <= p``. Their average over the draws
is again an e-value, and the e-BH procedure at level ``q`` (select the ``k``
largest, ``k`` the largest with ``e_(k) >= p / (q k)``) controls the FDR at ``q``
whatever the dependence between the e-values. ``q_kn = q / 2`` as Ren and
Barber recommend.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch


def knockoff_e_values(W: np.ndarray, threshold: float) -> np.ndarray:
    """``p * 1{W >= T} / (1 + #{W <= -T})`` (all 0 when ``T = inf``)."""
    W = np.asarray(W, dtype=float)
    if not np.isfinite(threshold):
        return np.zeros(W.size)
    return W.size * (W >= threshold) / (1.0 + np.count_nonzero(W <= -threshold))


def ebh(e: np.ndarray, fdr: float) -> np.ndarray:
    """The e-BH selection (boolean mask) at level ``fdr`` for e-values ``e``.

    Examples
    --------
    >>> import numpy as np
    >>> ebh(np.array([50.0, 30.0, 0.5, 0.0]), fdr=0.1).tolist()  # 50 >= 4/(0.1*1), 30 >= 4/(0.1*2)
    [True, True, False, False]
    >>> ebh(np.array([39.0, 15.0, 0.5, 0.0]), fdr=0.1).tolist()  # 39 < 40 and 15 < 20
    [False, False, False, False]
    """
    e = np.asarray(e, dtype=float)
    m = e.size
    order = np.argsort(-e, kind="stable")
    ranks = np.arange(1, m + 1)
    ok = np.flatnonzero(e[order] >= m / (fdr * ranks))
    selected = np.zeros(m, dtype=bool)
    if ok.size:
        selected[order[:ok[-1] + 1]] = True
    return selected


def swap_diagnostics(X: np.ndarray, Xk: np.ndarray, groups: np.ndarray | None = None) -> Bunch:
    """Check of the first two moments of swap exchangeability of ``(X, Xk)``.

    Valid knockoffs have ``[X, Xk]`` and ``[Xk, X]`` (any feature swapped with its
    knockoff) equal in law; for the first two moments that is: equal means and
    standard deviations of each feature and its knockoff, ``corr(Xk) = corr(X)``,
    and ``corr(X_j, Xk_k) = corr(X_j, X_k)`` for ``j != k`` (for ``j, k`` in different
    groups with group knockoffs, which swap whole groups). Each gap is
    the largest absolute difference, in units of the feature's standard
    deviation for the means; the tolerance is that of sample correlations,
    ``sqrt(2 / n) * (1 + sqrt(2 log(2 p^2)))``, about the largest of ``2p^2``
    differences of correlations that agree in law.
    """
    n, p = X.shape
    sd = X.std(axis=0)
    mean_gap = float(np.max(np.abs(X.mean(axis=0) - Xk.mean(axis=0)) / sd))
    sd_gap = float(np.max(np.abs(Xk.std(axis=0) / sd - 1.0)))
    C = np.corrcoef(np.hstack([X, Xk]), rowvar=False)
    C11, C22, C12 = C[:p, :p], C[p:, p:], C[:p, p:]
    off = ~np.eye(p, dtype=bool)
    across = off if groups is None else groups[:, None] != groups[None, :]
    tolerance = float(np.sqrt(2.0 / n) * (1.0 + np.sqrt(2.0 * np.log(2.0 * p * p))))
    gaps = {
        "mean_gap": mean_gap,
        "sd_gap": sd_gap,
        "correlation_gap": float(np.max(np.abs(C22 - C11)[off], initial=0.0)),
        "cross_gap": float(np.max(np.abs(C12 - C11)[across], initial=0.0)),
    }
    return Bunch(**gaps, s=1.0 - np.diag(C12), tolerance=tolerance,
                 passed=bool(max(gaps.values()) <= tolerance))
