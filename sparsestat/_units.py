"""Units: the engine follows its paths on a standardized problem.

The LBI iteration is not equivariant in the scale of the target: the shrinkage
threshold is 1 in the units of the dual variable, so multiplying ``y`` by ``c``
changes which coordinates cross it and when. The drivers therefore divide a
real-valued target by its scale (:func:`standardize_target`) before they start
and multiply coefficients and intercepts back afterwards. On the standardized
problem ``kappa``, the step ``alpha`` and the time ``t`` mean the same on every
data set, and ``fit(X, c * y + d)`` returns ``c`` times the coefficients, with
the same entry order, times and iteration count.

Scales are computed after an exact power-of-two rescaling, so that data near
the limits of floating point (``1e-300``, ``1e300``) do not overflow when
squared.
"""

from __future__ import annotations

import numpy as np

# iterations a path may need before the driver refuses to start it (without max_iter)
MAX_ITERATIONS = 10 ** 8


def power_of_two_factor(a) -> float:
    """``2**-e`` with ``max|a| * 2**-e`` in ``[0.5, 1)`` (1 for an all-zero array).

    Multiplying by it is exact in floating point (no rounding), so it can be
    undone without a trace.
    """
    top = float(np.max(np.abs(a), initial=0.0))
    if not np.isfinite(top) or top == 0.0:
        return 1.0
    return float(np.ldexp(1.0, -np.frexp(top)[1]))


def standardize_target(Y, w, center: bool):
    """Divide a real-valued target by its scale.

    Parameters
    ----------
    Y : ndarray of shape (n, K)
    w : ndarray of shape (n,)
        Positive sample weights.
    center : bool
        Measure the spread around the weighted mean (a model with an
        intercept) or around zero.

    Returns
    -------
    Ys : ndarray of shape (n, K)
        ``Y / unit``.
    unit : float
        The weighted root mean square deviation of all entries of ``Y`` from
        their column means (from zero without ``center``); 1 when it is zero
        (a constant target, whose path is empty), so that ``Ys = Y`` then.
    """
    f = power_of_two_factor(Y)
    Y2 = Y * f
    wn = w / w.sum()
    R = Y2 - wn @ Y2 if center else Y2
    rms = float(np.sqrt(wn @ np.mean(R * R, axis=1)))
    if not rms > 0.0:
        return Y, 1.0
    return Y2 / rms, rms / f


def iteration_budget(t0: float, t_end: float, alpha: float, max_iter, *, kappa: float,
                     t_ratio=None) -> int:
    """Iterations to reach ``t_end`` from ``t0`` with steps of at least ``alpha``.

    With ``max_iter`` given it is the budget. Otherwise a path that would need
    more than :data:`MAX_ITERATIONS` steps is refused with a message naming
    what to change, instead of running for hours (or overflowing).
    """
    if max_iter is not None:
        return int(max_iter)
    needed = max(t_end - t0, 0.0) / alpha
    if needed <= MAX_ITERATIONS:
        return int(np.ceil(needed)) + 1
    span = f" (t_ratio={t_ratio:g})" if t_ratio is not None else ""
    raise ValueError(
        f"This path would need about {needed:.3g} iterations (more than "
        f"{MAX_ITERATIONS:.0e}): reaching t={t_end:.4g} from t0={t0:.4g}{span} with the step "
        f"alpha={alpha:.4g} (kappa={kappa:g}). Use a larger alpha (alpha=None picks the stable "
        "default), a smaller kappa or t_ratio, or set max_iter to stop the path early."
    )
