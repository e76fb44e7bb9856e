"""Score fits on a comparison graph: weighted least squares (HodgeRank) and Bradley-Terry."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import cg, splu
from scipy.special import expit

from sparsestat.ranking._graph import (_FACTORIZE_MAX_NODES, LaplacianSolver, components,
                                       laplacian, node_divergence)

# ridge on Bradley-Terry scores, relative to the mean weighted degree / 2
LOGISTIC_RIDGE = 1e-3


class ScoreFitter:
    """Weighted least-squares potentials on a graph: ``theta = argmin ||v - C theta||_W``.

    Without features ``theta`` is any node potential (a Laplacian solve); with
    features ``theta = Phi beta`` (a small dense solve with ``Phi^T L Phi``).
    ``n_params`` is the number of free parameters of the fit: ``n - n_components``,
    or the rank of ``Phi^T L Phi``.
    """

    def __init__(self, left, right, w, n, Phi, method, tol=1e-10):
        self.left, self.right, self.w, self.n = left, right, w, n
        self.Phi = Phi
        self.beta = None
        if Phi is None:
            self.solver = LaplacianSolver(left, right, w, n, method=method, tol=tol)
            self.method = self.solver.method
            self.n_params = n - self.solver.n_components
        else:
            self.solver = None
            self.method = "features"
            A = Phi.T @ (laplacian(left, right, w, n) @ Phi)
            vals, vecs = np.linalg.eigh(A)
            cut = max(float(vals[-1]), 0.0) * 1e-10 * A.shape[0]
            inv = np.where(vals > cut, 1.0 / np.where(vals > cut, vals, 1.0), 0.0)
            self.n_params = int(np.count_nonzero(vals > cut))
            self._Ainv = (vecs * inv) @ vecs.T

    def potential(self, b):
        """Potentials ``theta`` with ``C^T W C theta = b`` (``theta = Phi beta`` with features)."""
        return self._potential(b)

    def _potential(self, b):
        if self.Phi is None:
            return self.solver.solve(b)
        self.beta = self._Ainv @ (self.Phi.T @ b)
        theta = self.Phi @ self.beta
        return theta - theta.mean()

    def fit(self, v) -> np.ndarray:
        """Potentials of the weighted least-squares fit to the edge values ``v``."""
        b = node_divergence(self.w * v, self.left, self.right, self.n)
        return self._potential(b)

    def residual(self, v) -> np.ndarray:
        """``v - C theta(v)``: the projection of ``v`` onto the cycle space."""
        theta = self.fit(v)
        return v - (theta[self.left] - theta[self.right])



class BradleyTerry:
    """Ridge-stabilized Bradley-Terry scores with an offset per comparison, by Newton steps.

    Minimizes ``sum_k w_k log(1 + exp(-s_k (theta_i - theta_j + o_k))) + ridge ||theta||^2 / 2``
    (``s_k = 2 t_k - 1``); each Newton step solves ``(C^T diag(w p (1 - p)) C + ridge I) d = g``.
    """

    def __init__(self, left, right, w, n, t, method):
        self.left, self.right, self.w, self.n, self.t = left, right, w, n, t
        self.ridge = LOGISTIC_RIDGE * float(w.sum()) / max(n, 1)
        if method == "auto":
            method = "factorize" if n <= _FACTORIZE_MAX_NODES else "cg"
        self.method = method
        self.n_components, self.labels = components(left, right, w, n)

    def newton_step(self, theta, offset):
        left, right = self.left, self.right
        eta = theta[left] - theta[right] + offset
        p = expit(eta)
        g = node_divergence(self.w * (p - self.t), left, right, self.n) + self.ridge * theta
        H = laplacian(left, right, self.w * p * (1.0 - p), self.n)
        H = (H + self.ridge * sp.identity(self.n, format="csr")).tocsc()
        if self.method == "factorize":
            step = splu(H).solve(g)
        else:
            d = H.diagonal()
            step, _ = cg(H, g, rtol=1e-10, atol=0.0, M=sp.diags(1.0 / d))
        return theta - step

    def fit(self, offset, theta0=None, max_iter=100, tol=1e-10):
        theta = np.zeros(self.n) if theta0 is None else theta0.copy()
        for _ in range(max_iter):
            new = self.newton_step(theta, offset)
            done = np.max(np.abs(new - theta)) <= tol * max(1.0, np.max(np.abs(new)))
            theta = new
            if done:
                break
        counts = np.bincount(self.labels, minlength=self.n_components).astype(float)
        means = np.bincount(self.labels, weights=theta, minlength=self.n_components) / counts
        return theta - means[self.labels]


def fit_proba_scale(d, y, w) -> float:
    """Slope of a logistic link ``P(y > 0) = sigmoid(a d)`` (ridge-stabilized Newton)."""
    target = 0.5 * (np.sign(y) + 1.0)
    keep = w > 0
    d, target, w = d[keep], target[keep], w[keep]
    if d.size == 0 or not np.any(d != 0):
        return 1.0
    # relative to the curvature at a = 0, so that the slope of c * d is exactly a / c
    ridge = 1e-6 * w.sum() * float(np.mean(d ** 2))
    a = 0.0
    for _ in range(100):
        p = 0.5 * (1.0 + np.tanh(0.5 * a * d))
        grad = np.sum(w * (p - target) * d) + ridge * a
        hess = np.sum(w * p * (1 - p) * d * d) + ridge
        step = grad / hess
        a -= step
        if abs(step) <= 1e-12 * abs(a) or step == 0.0:  # relative: the slope has units 1/d
            break
    if not np.isfinite(a):  # pragma: no cover - the ridge keeps it finite
        warnings.warn("could not fit the probability link; using slope 1", RuntimeWarning,
                      stacklevel=3)
        return 1.0
    return float(a)
