"""Gibbs sampler of the masked spike-and-slab posterior behind the MLR knockoff statistic.

The model: ``y = A b + e``, ``e ~ N(0, sigma2 I)``, ``A = [X, Xk]`` with ``2p``
columns, column ``j`` (the feature) and ``j + p`` (its knockoff) forming pair ``j``.
The data are *masked*: of each pair the sampler is not told which column is the
feature. A label ``psi_j`` (0: column ``j``, 1: column ``j + p``, prior 1/2 each)
says which of the two carries the pair's coefficient ``b_j``; the other has none.
``b_j`` is 0 with probability ``p0`` and ``N(0, tau2)`` otherwise. Hyperpriors:
``sigma2 ~ InvGamma(a, b)``, ``tau2 ~ InvGamma(a, b)``, ``p0 ~ Beta(a, b)``
truncated to ``[p0_min, 1]``.

One Gibbs step updates a pair given everything else. With ``r`` the residual
without the pair, ``s_c = a_c^T r`` and ``g_c = ||a_c||^2`` for its two columns,
integrating ``b_j`` out gives, up to a factor common to both columns,

    m_c = p0 + (1 - p0) (1 + tau2 g_c / sigma2)^(-1/2)
               exp(tau2 s_c^2 / (2 sigma2 (sigma2 + tau2 g_c))),

so ``P(psi_j = 0 | rest) = m_0 / (m_0 + m_1)``; then ``b_j = 0`` with probability
``p0 / m_c`` and otherwise ``b_j ~ N(v s_c / sigma2, v)``, ``v = 1 / (1/tau2 + g_c/sigma2)``.
The hyperparameters follow from their conjugate laws after each sweep over the
pairs (in a random order).

The sampler sees the data through ``G = A^T A``, ``A^T y`` and ``y^T y`` only: it
keeps ``s = A^T r = A^T y - G b`` up to date (one row of ``G`` per changed
coefficient) and ``||r||^2 = y^T y - b^T A^T y - b^T s``. That makes the statistic
a function of the sufficient statistics, as fixed-X knockoffs require.
"""

from __future__ import annotations

import numpy as np

from sparsestat._kernels._jit import kernel

# sweeps between two recomputations of s = A^T y - G b from scratch (rounding drift)
_REFRESH = 256
# draws of the Beta law of p0 tried before p0 is set to the truncation point
_P0_TRIES = 100


@kernel(nogil=True)
def _log_add(a, b):
    """``log(exp(a) + exp(b))`` without overflow."""
    high, low = (a, b) if a >= b else (b, a)
    return high + np.log1p(np.exp(low - high))


@kernel(nogil=True)
def pair_log_marginal(s, g, sigma2, tau2, log_p0, log_slab):
    """``log m_c``: the marginal of one column's coefficient (spike ``log_p0``, slab
    ``log_slab = log(1 - p0)``), for ``s = a_c^T r`` and ``g = ||a_c||^2``."""
    log_bayes_factor = (-0.5 * np.log1p(tau2 * g / sigma2)
                        + 0.5 * tau2 * s * s / (sigma2 * (sigma2 + tau2 * g)))
    return _log_add(log_p0, log_slab + log_bayes_factor)


@kernel(nogil=True)
def _move(s, G, column, step):
    """``s -= step * G[column]`` (``G`` symmetric: a row is a column)."""
    row = G[column]
    for i in range(s.shape[0]):
        s[i] -= step * row[i]


@kernel(nogil=True)
def _refresh(s, G, Aty, beta, psi):
    p = beta.shape[0]
    s[:] = Aty
    for j in range(p):
        if beta[j] != 0.0:
            _move(s, G, j + p * psi[j], beta[j])


@kernel(nogil=True)
def _truncated_beta(a, b, low):
    """A draw of ``Beta(a, b)`` given ``>= low`` (rejection; ``low`` when every try fails,
    where the law's mass above ``low`` is tiny and piled up at ``low``)."""
    for _ in range(_P0_TRIES):
        x = np.random.beta(a, b)
        if x >= low:
            return x
    return low


@kernel(nogil=True)
def masked_spike_slab(G, Aty, yy, n, n_iter, n_burn, n_chains, sigma2_a, sigma2_b,
                      tau2_a, tau2_b, p0_a, p0_b, p0_min, seed):
    """``(prob, coef)``: per pair, the mean over the kept sweeps of ``P(psi_j = 0 | rest)``
    and of the coefficient on column ``j`` (0 in sweeps where the knockoff carries it).

    ``n_chains`` chains from ``b = 0`` and random labels, each ``n_burn`` sweeps of
    burn-in and ``n_iter`` kept; ``seed`` seeds numba's generator, so the result is
    a function of the arguments.
    """
    np.random.seed(seed)
    m = G.shape[0]
    p = m // 2
    prob = np.zeros(p)
    coef = np.zeros(p)
    s = np.empty(m)
    beta = np.zeros(p)
    psi = np.zeros(p, dtype=np.int64)
    order = np.arange(p)
    for _ in range(n_chains):
        beta[:] = 0.0
        for j in range(p):
            psi[j] = 1 if np.random.random() < 0.5 else 0
        sigma2, tau2, p0 = max(yy / n, 1e-12), 1.0, 0.9
        for sweep in range(n_burn + n_iter):
            keep = sweep >= n_burn
            if sweep % _REFRESH == 0:     # also sets s = A^T y at the start of a chain
                _refresh(s, G, Aty, beta, psi)
            np.random.shuffle(order)
            log_p0, log_slab = np.log(p0), np.log1p(-p0)
            for j in order:
                if beta[j] != 0.0:        # the residual without the pair
                    _move(s, G, j + p * psi[j], -beta[j])
                k = j + p
                log_m0 = pair_log_marginal(s[j], G[j, j], sigma2, tau2, log_p0, log_slab)
                log_m1 = pair_log_marginal(s[k], G[k, k], sigma2, tau2, log_p0, log_slab)
                p_first = 1.0 / (1.0 + np.exp(min(log_m1 - log_m0, 700.0)))
                if keep:
                    prob[j] += p_first
                label = 0 if np.random.random() < p_first else 1
                column = j + p * label
                log_m = log_m0 if label == 0 else log_m1
                b = 0.0
                if np.random.random() >= np.exp(log_p0 - log_m):
                    g = G[column, column]
                    v = 1.0 / (1.0 / tau2 + g / sigma2)
                    b = v * s[column] / sigma2 + np.sqrt(v) * np.random.standard_normal()
                    _move(s, G, column, b)
                beta[j], psi[j] = b, label
                if keep and label == 0:
                    coef[j] += b
            rss, squares, active = yy, 0.0, 0
            for j in range(p):
                if beta[j] != 0.0:
                    column = j + p * psi[j]
                    rss -= beta[j] * (Aty[column] + s[column])
                    squares += beta[j] * beta[j]
                    active += 1
            sigma2 = (sigma2_b + 0.5 * max(rss, 0.0)) / np.random.gamma(sigma2_a + 0.5 * n, 1.0)
            sigma2 = max(sigma2, 1e-12 * max(yy / n, 1e-300))
            tau2 = (tau2_b + 0.5 * squares) / np.random.gamma(tau2_a + 0.5 * active, 1.0)
            p0 = min(_truncated_beta(p0_a + p - active, p0_b + active, p0_min), 1.0 - 1e-12)
    kept = n_chains * n_iter
    return prob / kept, coef / kept
