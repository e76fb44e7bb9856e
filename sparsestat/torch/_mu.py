"""Choosing the coupling ``mu`` of :class:`DessiLBI` from the training budget."""

from __future__ import annotations

import math

__all__ = ["propose_mu"]


def propose_mu(n_steps: int, lr: float, kappa: float = 1.0, *, fraction: float = 0.1) -> float:
    """A coupling ``mu`` that lets the sparsity path unfold within ``n_steps`` steps.

    While a weight is outside the support, the coupling pulls it toward zero
    like a ridge penalty of strength ``1/mu`` and the Bregman variable ``V``
    integrates it at rate ``lr/mu``; both act on the time scale
    ``mu / (lr * kappa)`` steps. Before that many steps hardly anything can
    enter the support (with the common ``mu = 100, lr = 0.1`` this is 1000
    steps -- more than a small data set gets in tens of epochs). The proposal
    makes the time scale a ``fraction`` of the budget::

        mu = fraction * n_steps * lr * kappa

    so the first weights enter early and the support keeps growing until the
    end. Larger ``fraction`` gives a sparser, later path; smaller a denser one.

    Parameters
    ----------
    n_steps : int
        Number of optimizer steps planned (epochs times batches per epoch).
    lr : float
        Step size that will be passed to :class:`DessiLBI`.
    kappa : float, default=1.0
        Damping that will be passed to :class:`DessiLBI`.
    fraction : float, default=0.1
        Coupling time scale as a fraction of ``n_steps``, in (0, 1].

    Returns
    -------
    float
        Proposed ``mu`` (positive).

    Examples
    --------
    >>> from sparsestat.torch import propose_mu
    >>> propose_mu(n_steps=600, lr=0.1)  # a few epochs of a small data set
    6.0
    >>> propose_mu(n_steps=200 * 390, lr=0.1)  # 200 epochs of CIFAR-10, batch 128
    780.0
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    for name, value in (("lr", lr), ("kappa", kappa)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    if not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    return float(round(fraction * n_steps * lr * kappa, 12))
