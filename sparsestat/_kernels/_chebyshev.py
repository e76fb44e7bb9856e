"""Damped Runge-Kutta-Chebyshev super-steps for a stiff, dissipative flow ``y' = f(y)``.

An explicit step of length ``h`` is stable only while ``h rho <= 2``, ``rho`` the
largest eigenvalue of ``-df/dy``. A super-step of ``s`` stages, each one evaluation
of ``f``, is stable while ``h rho <= beta(s)``, which grows like ``s^2``
(:func:`stability_bound`): ``s`` evaluations cover about ``s / 4`` times the time of
``s`` explicit steps. The stages (first order; Verwer, Hundsdorfer and Sommeijer 1990)::

    Y_0 = y,   Y_1 = Y_0 + mu~_1 h f(Y_0),
    Y_j = (1 - mu_j - nu_j) Y_0 + mu_j Y_{j-1} + nu_j Y_{j-2} + mu~_j h f(Y_{j-1}),
    y_new = Y_s,

with ``w0 = 1 + damping / s^2``, ``w1 = T_s(w0) / T_s'(w0)``, ``b_j = 1 / T_j(w0)``
(``T_j`` the Chebyshev polynomials), ``mu~_1 = w1 / w0`` and, for ``j >= 2``,
``mu_j = 2 w0 b_j / b_{j-1}``, ``nu_j = -b_j / b_{j-2}``, ``mu~_j = 2 w1 b_j / b_{j-1}``.
On a linear flow ``f(y) = -A y`` a super-step multiplies each eigenmode ``lambda`` by
``P(-h lambda) = T_s(w0 - w1 h lambda) / T_s(w0)``: ``P(0) = 1``, ``P'(0) = 1`` (first
order), ``|P| <= 1`` on ``[-beta(s), 0]`` with ``beta(s) = (1 + w0) / w1``, and every mode
with ``h lambda`` inside the Chebyshev plateau shrinks at least by ``1 / T_s(w0)`` (for
``damping = 8``: 1/17 with two stages, 0.037 with many), so fast modes die out within a
super-step or two instead of ringing; the price of the damping is a bound ``beta(s)``
near ``s^2 / 2`` instead of ``2 s^2``. With ``s = 1`` the super-step is the explicit
step.

``y_new - y`` is ``h`` times a combination ``sum_i omega_i f(Y_i)`` with weights summing
to one, which the stage recurrence itself builds when run on the stages' ``f`` values;
so a quantity that only integrates ``f`` (e.g. a dual outside a working set) can be
advanced by the same combination (``sparsestat._kernels._lbi._super_step`` carries it
alongside the stages).
"""

import numpy as np

from sparsestat._kernels._jit import kernel

# the damping of the super-steps: the plateau of |P| is 1 / T_s(1 + 8 / s^2) <= 1 / 17. A
# coordinate that joins inside a super-step bends the flow there, and the transient it
# leaves in the stiff modes must die out before it shows in the path (with damping 2 it
# took several super-steps, and a stiff path, kappa = 1000, was 5% off its fine-step
# value after a join)
DAMPING = 8.0
# the most stages of one super-step (beta = 2.0e3 for DAMPING)
MAX_STAGES = 64


@kernel
def chebyshev_values(s, x, out):
    """``out[j] = T_j(x)`` for ``j = 0 .. s``; returns ``T_s'(x)``."""
    out[0] = 1.0
    out[1] = x
    d_prev, d = 0.0, 1.0
    for j in range(2, s + 1):
        out[j] = 2.0 * x * out[j - 1] - out[j - 2]
        d_prev, d = d, 2.0 * out[j - 1] + 2.0 * x * d - d_prev
    return d


@kernel
def stability_bound(s, damping):
    """``beta(s) = (1 + w0) / w1``: the super-step is stable while ``h rho <= beta(s)``."""
    T = np.empty(s + 2)
    w0 = 1.0 + damping / (s * s)
    dT = chebyshev_values(s, w0, T)
    w1 = T[s] / dT
    return (1.0 + w0) / w1


@kernel
def stages_for(h_rho, damping, max_stages):
    """The fewest stages whose super-step is stable at ``h rho`` (at most ``max_stages``)."""
    s = 1
    while s < max_stages and stability_bound(s, damping) < h_rho:
        s += 1
    return s


@kernel
def coefficients(s, damping, b):
    """The super-step's ``w0`` and ``w1``, with ``b[j] = 1 / T_j(w0)`` for ``j <= s``
    (``b`` of length at least ``s + 2``)."""
    w0 = 1.0 + damping / (s * s)
    dT = chebyshev_values(s, w0, b)
    w1 = b[s] / dT
    for j in range(s + 1):
        b[j] = 1.0 / b[j]
    return w0, w1


@kernel(inline="always")
def stage(j, w0, w1, b):
    """``(mu_j, nu_j, mu~_j)`` of stage ``j >= 1`` (``nu_1 = 0``, ``mu_1 = 1``)."""
    if j == 1:
        return 1.0, 0.0, w1 / w0
    return 2.0 * w0 * b[j] / b[j - 1], -b[j] / b[j - 2], 2.0 * w1 * b[j] / b[j - 1]

