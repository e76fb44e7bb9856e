"""The knockoff (+) threshold.

``T = min{t > 0 : (offset + #{j : W_j <= -t}) / max(1, #{j : W_j >= t}) <= q}``
over the candidate values ``t`` in ``{|W_j| : W_j != 0}``; ``T = inf`` (nothing
selected) when no candidate qualifies. ``offset=1`` is knockoff+, which controls
the FDR at ``q``; ``offset=0`` is the original knockoff filter (controls a
modified FDR).
"""

from __future__ import annotations

import numpy as np


def knockoff_threshold(W, fdr: float, offset: int = 1) -> float:
    """The knockoff+ (``offset=1``) or knockoff (``offset=0``) threshold of statistics ``W``.

    Parameters
    ----------
    W : array-like of shape (p,)
        Antisymmetric knockoff statistics (large positive: likely signal).
    fdr : float
        Target false discovery rate ``q`` in (0, 1).
    offset : {0, 1}
        1 for knockoff+, 0 for knockoff.

    Returns
    -------
    threshold : float
        Select ``W >= threshold``; ``inf`` selects nothing.

    Examples
    --------
    >>> import numpy as np
    >>> W = np.array([5.0, 4.0, 3.0, 2.0, 1.0, -0.5])
    >>> float(knockoff_threshold(W, fdr=0.2))
    1.0
    """
    W = np.asarray(W, dtype=float).ravel()
    candidates = np.unique(np.abs(W[W != 0]))
    if candidates.size == 0:
        return np.inf
    W_sorted = np.sort(W)
    n_pos = W.size - np.searchsorted(W_sorted, candidates, side="left")
    n_neg = np.searchsorted(W_sorted, -candidates, side="right")
    ratio = (offset + n_neg) / np.maximum(1, n_pos)
    ok = np.flatnonzero(ratio <= fdr)
    return float(candidates[ok[0]]) if ok.size else np.inf
