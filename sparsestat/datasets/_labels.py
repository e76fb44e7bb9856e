"""Planted label noise: symmetric flips and class-pair (asymmetric) flips."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state


def make_noisy_labels(y, noise_rate: float = 0.2, *, noise: str = "symmetric", pairs=None,
                      random_state=None):
    """Flip a known fraction of class labels, returning the noisy labels and the truth.

    In every class exactly ``round(noise_rate * n_k)`` samples (``n_k`` the
    class size) are chosen at random and relabelled:

    * ``noise='symmetric'``: to one of the other classes, uniformly;
    * ``noise='pair'``: to the paired class ``pairs[k]`` (default: the next
      class in sorted order, the last one to the first), the usual
      asymmetric noise model of similar-looking classes.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        True class labels (at least two classes).
    noise_rate : float in [0, 1), default=0.2
        Fraction of each class that is relabelled.
    noise : {'symmetric', 'pair'}, default='symmetric'
        Noise model.
    pairs : dict, default=None
        For ``noise='pair'``: class -> the class its flipped samples receive.
    random_state : int, RandomState instance or None, default=None
        Chooses the flipped samples (and their new classes).

    Returns
    -------
    y_noisy : ndarray of shape (n_samples,)
        Labels with the flips applied (same dtype as ``y``).
    noisy : ndarray of shape (n_samples,), dtype=bool
        True where the label was changed.

    Examples
    --------
    >>> import numpy as np
    >>> from sparsestat.datasets import make_noisy_labels
    >>> y = np.repeat([0, 1, 2], 10)
    >>> y_noisy, noisy = make_noisy_labels(y, 0.2, random_state=0)
    >>> int(noisy.sum()), bool(np.all((y_noisy != y) == noisy))
    (6, True)
    >>> y_pair, _ = make_noisy_labels(y, 0.5, noise="pair", random_state=0)
    >>> sorted(set(zip(y[y_pair != y].tolist(), y_pair[y_pair != y].tolist())))
    [(0, 1), (1, 2), (2, 0)]
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a 1-D array of class labels; got shape {y.shape}.")
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError("Label noise needs at least two classes; y holds "
                         f"{classes.size}.")
    if not 0.0 <= float(noise_rate) < 1.0:
        raise ValueError(f"noise_rate must be in [0, 1); got {noise_rate}.")
    if noise not in ("symmetric", "pair"):
        raise ValueError(f"noise must be 'symmetric' or 'pair'; got {noise!r}.")
    if noise == "pair":
        if pairs is None:
            pairs = {classes[i]: classes[(i + 1) % classes.size] for i in range(classes.size)}
        bad = [k for k, v in pairs.items() if v == k or v not in classes or k not in classes]
        if bad:
            raise ValueError(f"pairs must map classes of y to other classes of y; "
                             f"bad entries for {bad}.")
    rng = check_random_state(random_state)
    y_noisy = y.copy()
    for k in classes:
        idx = np.flatnonzero(y == k)
        m = int(round(float(noise_rate) * idx.size))
        if m == 0 or (noise == "pair" and k not in pairs):
            continue
        chosen = rng.choice(idx, size=m, replace=False)
        if noise == "pair":
            y_noisy[chosen] = pairs[k]
        else:
            others = classes[classes != k]
            y_noisy[chosen] = others[rng.randint(0, others.size, size=m)]
    return y_noisy, y_noisy != y
