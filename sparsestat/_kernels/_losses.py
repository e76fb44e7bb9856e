"""Smooth losses written through their derivative in the linear predictor.

For a linear predictor ``eta = X B + b`` every loss here has gradient
``X^T G / n`` with ``G = w * dloss/deta`` computed row by row. Codes:
0 squared, 1 huber (threshold ``delta``), 2 logistic (y in {0, 1}),
3 multinomial (one-hot Y, softmax over the K columns), 4 poisson (log link,
counts or rates ``y >= 0``: loss ``exp(eta) - y eta``, the negative log-likelihood
up to a term free of ``eta``). The Poisson mean ``exp(eta)`` is taken at
``min(eta, 700)`` so that a huge linear predictor gives a huge but finite loss
and gradient instead of an overflow; the driver's step keeps ``eta`` far below.
"""

import numpy as np

from sparsestat._kernels._jit import kernel

SQUARED, HUBER, LOGISTIC, MULTINOMIAL, POISSON = 0, 1, 2, 3, 4
# exp(700) ~ 1e304 is finite: the Poisson mean is evaluated at min(eta, _ETA_MAX)
_ETA_MAX = 700.0


@kernel
def loss_derivative(eta, Y, w, code, delta, G):
    """Fill ``G`` with ``w_i * d loss_i / d eta_i`` and return the mean loss."""
    n, K = eta.shape
    total = 0.0
    if code == MULTINOMIAL:
        for i in range(n):
            m = eta[i, 0]
            for k in range(1, K):
                m = max(m, eta[i, k])
            s = 0.0
            for k in range(K):
                s += np.exp(eta[i, k] - m)
            lse = m + np.log(s)
            for k in range(K):
                G[i, k] = w[i] * (np.exp(eta[i, k] - lse) - Y[i, k])
                total -= w[i] * Y[i, k] * (eta[i, k] - lse)
        return total / n
    for i in range(n):
        for k in range(K):
            e = eta[i, k]
            y = Y[i, k]
            if code == SQUARED:
                r = e - y
                G[i, k] = w[i] * r
                total += 0.5 * w[i] * r * r
            elif code == HUBER:
                r = e - y
                if r > delta:
                    G[i, k] = w[i] * delta
                    total += w[i] * delta * (r - 0.5 * delta)
                elif r < -delta:
                    G[i, k] = -w[i] * delta
                    total += w[i] * delta * (-r - 0.5 * delta)
                else:
                    G[i, k] = w[i] * r
                    total += 0.5 * w[i] * r * r
            elif code == POISSON:
                mu = np.exp(min(e, _ETA_MAX))
                G[i, k] = w[i] * (mu - y)
                total += w[i] * (mu - y * e)
            else:  # logistic, numerically stable
                if e >= 0:
                    q = np.exp(-e)
                    prob = 1.0 / (1.0 + q)
                    total += w[i] * (np.log1p(q) + (1.0 - y) * e)
                else:
                    q = np.exp(e)
                    prob = q / (1.0 + q)
                    total += w[i] * (np.log1p(q) - y * e)
                G[i, k] = w[i] * (prob - y)
    return total / n
