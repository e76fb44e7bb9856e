"""Synthetic crowdsourced pairwise comparisons with honest and malicious annotators."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch, check_random_state

_BEHAVIORS = ("flip", "random", "promote")


def make_pairwise_comparisons(n_items: int = 30, n_comparisons: int = 1000,
                              n_annotators: int = 20, malicious_fraction: float = 0.1,
                              random_state=None, *, outcome: str = "binary",
                              behavior: str = "flip", noise: float = 0.5,
                              score_scale: float = 1.0, n_promoted: int = 3) -> Bunch:
    """Pairwise comparisons of items with true scores, judged by a crowd of annotators.

    Items have true scores ``s ~ N(0, score_scale^2)``. Every comparison draws two
    distinct items uniformly and one annotator uniformly. Honest annotators answer
    from the truth: ``binary`` outcomes follow the Bradley--Terry model
    ``P(first preferred) = 1 / (1 + exp(-(s_i - s_j)))``; ``margin`` outcomes are
    ``s_i - s_j + noise * N(0, 1)``. A ``malicious_fraction`` of the annotators
    behave otherwise:

    - ``'flip'``: answer the opposite of the honest answer;
    - ``'random'``: careless, answer ``+1`` / ``-1`` (or a margin of the data's
      scale) at random;
    - ``'promote'``: targeted manipulation -- each of their comparisons pits one
      of ``n_promoted`` low-scored items against another item, and they vote the
      promoted item the winner.

    Parameters
    ----------
    n_items : int, default=30
        Number of items (at least 2).
    n_comparisons : int, default=1000
        Number of comparisons.
    n_annotators : int, default=20
        Number of annotators.
    malicious_fraction : float in [0, 1], default=0.1
        Fraction of the annotators who are malicious (rounded to a whole number).
    random_state : int, RandomState instance or None, default=None
        Seed of the generator.
    outcome : {'binary', 'margin'}, default='binary'
        ``+1 / -1`` outcomes or real-valued margins.
    behavior : {'flip', 'random', 'promote'}, default='flip'
        What malicious annotators do.
    noise : float, default=0.5
        Standard deviation of the honest margins' noise (``outcome='margin'``).
    score_scale : float, default=1.0
        Standard deviation of the true scores.
    n_promoted : int, default=3
        Number of items the attackers promote (``behavior='promote'``).

    Returns
    -------
    data : Bunch
        ``comparisons`` (n_comparisons, 2) int item indices, ``outcomes``
        (n_comparisons,), ``annotators`` (n_comparisons,) int, ``scores`` (n_items,)
        the true scores, ``outliers`` (n_comparisons,) bool: made by a malicious
        annotator, ``malicious`` the malicious annotator ids, ``promoted`` the
        promoted item ids (empty unless ``behavior='promote'``).

    Examples
    --------
    >>> from sparsestat.datasets import make_pairwise_comparisons
    >>> data = make_pairwise_comparisons(n_items=10, n_comparisons=200, random_state=0)
    >>> data.comparisons.shape, data.outcomes.shape
    ((200, 2), (200,))
    >>> sorted(set(data.outcomes.tolist()))
    [-1.0, 1.0]
    >>> int(data.outliers.sum()) > 0
    True
    """
    if int(n_items) < 2:
        raise ValueError(f"n_items must be at least 2 to compare anything; got {n_items}.")
    if int(n_comparisons) < 1 or int(n_annotators) < 1:
        raise ValueError("n_comparisons and n_annotators must be positive integers.")
    if not 0.0 <= malicious_fraction <= 1.0:
        raise ValueError(f"malicious_fraction must be in [0, 1]; got {malicious_fraction}.")
    if outcome not in ("binary", "margin"):
        raise ValueError(f"outcome must be 'binary' or 'margin'; got {outcome!r}.")
    if behavior not in _BEHAVIORS:
        raise ValueError(f"behavior must be one of {_BEHAVIORS}; got {behavior!r}.")
    if behavior == "promote" and not 1 <= n_promoted < n_items:
        raise ValueError(f"n_promoted must be in [1, n_items); got {n_promoted}.")
    rng = check_random_state(random_state)
    n, m = int(n_items), int(n_comparisons)
    scores = score_scale * rng.standard_normal(n)
    n_bad = int(round(malicious_fraction * n_annotators))
    malicious = np.sort(rng.choice(n_annotators, size=n_bad, replace=False)).astype(np.int64)
    annotators = rng.randint(0, n_annotators, size=m).astype(np.int64)
    bad = np.isin(annotators, malicious)

    left = rng.randint(0, n, size=m)
    right = (left + rng.randint(1, n, size=m)) % n  # a different item, uniformly
    promoted = np.zeros(0, dtype=np.int64)
    if behavior == "promote":
        promoted = np.argsort(scores)[: max(n // 4, n_promoted)][:n_promoted]
        promoted = rng.permutation(np.sort(promoted)).astype(np.int64)
        nb = int(bad.sum())
        target = promoted[rng.randint(0, n_promoted, size=nb)]
        other = rng.randint(0, n - 1, size=nb)
        other = other + (other >= target)  # any item but the target
        first = rng.rand(nb) < 0.5
        left[bad] = np.where(first, target, other)
        right[bad] = np.where(first, other, target)

    diff = scores[left] - scores[right]
    if outcome == "binary":
        honest = np.where(rng.rand(m) < 1.0 / (1.0 + np.exp(-diff)), 1.0, -1.0)
        careless = np.where(rng.rand(m) < 0.5, 1.0, -1.0)
    else:
        honest = diff + noise * rng.standard_normal(m)
        careless = np.std(honest) * rng.standard_normal(m)
    y = honest.copy()
    if behavior == "flip":
        y[bad] = -honest[bad]
    elif behavior == "random":
        y[bad] = careless[bad]
    else:
        sign = np.where(np.isin(left[bad], promoted), 1.0, -1.0)
        mag = 1.0 if outcome == "binary" else np.abs(honest[bad]) + noise
        y[bad] = sign * mag
    return Bunch(comparisons=np.column_stack([left, right]).astype(np.int64), outcomes=y,
                 annotators=annotators, scores=scores, outliers=bad, malicious=malicious,
                 promoted=promoted)
