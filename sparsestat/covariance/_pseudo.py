"""Pseudo-likelihood losses of pairwise graphical models, as gradient callbacks.

Each model is a loss over a vector ``theta`` of edge parameters, one block of
coefficients per edge ``(j, k)`` with ``j < k``, tied symmetrically
(``Theta_jk = Theta_kj^T``). A model object gives the engine what
:func:`sparsestat._engine.lbi_path_operator` needs: the gradient at zero, a
gradient callback, a step bound, and the edge label of every coefficient.

- :class:`GaussianPseudo`: the symmetric neighbourhood regression
  ``(1 / 2n) ||X - X Theta||_F^2`` of standardized columns (``Theta`` symmetric with a zero
  diagonal), one coefficient per edge.
- :class:`DiscretePseudo`: the pseudo-likelihood of a pairwise Markov random field on
  categorical columns (Ising for two levels, Potts for more): every column's conditional law
  given the others is a multinomial logit whose linear predictor adds one row of the edge
  block per neighbour. Levels are coded by dummies against each column's first level, so an
  edge ``(j, k)`` holds ``(L_j - 1) (L_k - 1)`` coefficients, penalized as one group. The
  intercepts are unpenalized and profiled: each gradient call takes one Newton (or
  majorization) step on them from the previous call's values.
"""

from __future__ import annotations

import numpy as np


def _edge_index(p: int):
    return np.triu_indices(p, 1)


class GaussianPseudo:
    """Symmetric neighbourhood regression of standardized columns ``Z`` (n, p)."""

    def __init__(self, Z):
        n, p = Z.shape
        self.p = p
        self.S = Z.T @ Z / n
        self.rows, self.cols = _edge_index(p)
        self.groups = None
        self.penalty = "l1"

    @property
    def n_coefs(self) -> int:
        return self.rows.shape[0]

    def grad0(self) -> np.ndarray:
        return -2.0 * self.S[self.rows, self.cols]

    def lipschitz(self) -> float:
        # the loss is tr(S) / 2 - tr(S Theta) + tr(Theta S Theta) / 2; its curvature along a
        # symmetric direction Delta is ||S^1/2 Delta||_F^2 <= ||S|| 2 ||delta||^2
        return 2.0 * float(np.linalg.norm(self.S, 2))

    def matrix(self, theta) -> np.ndarray:
        """The symmetric (p, p) matrix of an edge vector."""
        Th = np.zeros((self.p, self.p))
        Th[self.rows, self.cols] = theta
        return Th + Th.T

    def gradient_callback(self):
        S, rows, cols = self.S, self.rows, self.cols
        out = np.empty((self.n_coefs, 1))
        g0 = self.grad0()

        def gradient(B):
            theta = B[:, 0]
            if not theta.any():
                out[:, 0] = g0
                return out
            Th = self.matrix(theta)
            active = np.flatnonzero(np.any(Th != 0.0, axis=0))
            G = S[:, active] @ Th[active, :]       # S Theta, only the active columns count
            G -= S
            out[:, 0] = G[rows, cols] + G[cols, rows]
            return out

        return gradient

    def loss(self, theta, Z) -> float:
        """Mean over samples of the summed neighbourhood squared errors, on ``Z``."""
        R = Z - Z @ self.matrix(theta)
        return 0.5 * float(np.sum(R ** 2)) / Z.shape[0]


class DiscretePseudo:
    """Pairwise Markov random field on integer-coded columns ``codes`` (n, p).

    ``codes[:, j]`` holds level numbers ``0 ... n_levels[j] - 1``; level 0 is the
    reference of its column.
    """

    def __init__(self, codes, n_levels):
        n, p = codes.shape
        self.p = p
        self.n_levels = np.asarray(n_levels, dtype=np.int64)
        width = self.n_levels - 1
        self.offsets = np.concatenate([[0], np.cumsum(width)]).astype(np.int64)
        self.node_of = np.repeat(np.arange(p), width)
        M = int(self.offsets[-1])
        self.M = M
        self.Y = Y = self.dummies(codes)
        self.mean_Y = Y.mean(axis=0)
        self.Yc = Y - self.mean_Y
        self.binary = bool(np.all(self.n_levels == 2))
        # coefficient layout: edge blocks (j < k) one after the other, rows of column j's
        # dummies against columns of column k's dummies
        r_idx, c_idx, labels = [], [], []
        for e, (j, k) in enumerate(zip(*_edge_index(p))):
            a = np.arange(self.offsets[j], self.offsets[j + 1])
            b = np.arange(self.offsets[k], self.offsets[k + 1])
            r_idx.append(np.repeat(a, b.size))
            c_idx.append(np.tile(b, a.size))
            labels.append(np.full(a.size * b.size, e))
        cat = (lambda parts: np.concatenate(parts).astype(np.int64) if parts
               else np.zeros(0, dtype=np.int64))
        self.rows, self.cols, self.edge_of = cat(r_idx), cat(c_idx), cat(labels)
        self.penalty = "l1" if self.binary else "group"
        self.groups = None if self.binary else self.edge_of
        freq = np.maximum(self.mean_Y, 1e-300)
        ref = np.maximum(1.0 - np.add.reduceat(self.mean_Y, self.offsets[:-1])
                         if M else np.ones(p), 1e-300)
        # intercepts at zero edges: the log-odds of each level against the reference
        self.h0 = np.log(freq) - np.log(ref)[self.node_of] if M else np.zeros(0)

    @property
    def n_coefs(self) -> int:
        return self.rows.shape[0]

    def matrix(self, theta) -> np.ndarray:
        """The symmetric (M, M) dummy-by-dummy matrix of an edge vector."""
        W = np.zeros((self.M, self.M))
        W[self.rows, self.cols] = theta
        return W + W.T

    def _probabilities(self, eta):
        """Conditional probabilities of every non-reference level, (n, M), and the
        log-normalizers, (n, p)."""
        starts = self.offsets[:-1]
        top = np.maximum(np.maximum.reduceat(eta, starts, axis=1), 0.0)
        E = np.exp(eta - top[:, self.node_of])
        norm = np.exp(-top) + np.add.reduceat(E, starts, axis=1)
        return E / norm[:, self.node_of], top + np.log(norm)

    def _linear(self, W, h, Yc):
        active = np.flatnonzero(np.any(W != 0.0, axis=0))
        eta = Yc[:, active] @ W[active, :] if active.size else np.zeros((Yc.shape[0], self.M))
        return eta + h

    def _intercept_step(self, P, R, h):
        curv = np.mean(P * (1.0 - P), axis=0) if self.binary else np.mean(P, axis=0)
        return h - np.mean(R, axis=0) / np.maximum(curv, 1e-12)

    def grad0(self) -> np.ndarray:
        P, _ = self._probabilities(np.broadcast_to(self.h0, self.Y.shape))
        G = self.Yc.T @ (P - self.Y) / self.Y.shape[0]
        return G[self.rows, self.cols] + G[self.cols, self.rows]

    def lipschitz(self) -> float:
        # conditional log-partition curvature <= 1/4 (two levels) or 1/2 (more), applied to
        # Yc Delta with Delta symmetric: 2 c ||cov(Y)|| bounds the Hessian
        c = 0.25 if self.binary else 0.5
        return 2.0 * c * float(np.linalg.norm(self.Yc.T @ self.Yc / self.Y.shape[0], 2))

    def gradient_callback(self):
        n = self.Y.shape[0]
        out = np.empty((self.n_coefs, 1))
        state = {"h": self.h0.copy()}

        def gradient(B):
            W = self.matrix(B[:, 0])
            P, _ = self._probabilities(self._linear(W, state["h"], self.Yc))
            R = P - self.Y
            G = self.Yc.T @ R / n
            state["h"] = self._intercept_step(P, R, state["h"])
            out[:, 0] = G[self.rows, self.cols] + G[self.cols, self.rows]
            return out

        return gradient

    def intercepts(self, theta, h0=None, n_steps: int = 100, tol: float = 1e-10) -> np.ndarray:
        """The intercepts that maximize the training pseudo-likelihood at ``theta``
        (iterated from ``h0``, default: their values at zero edges)."""
        W = self.matrix(theta)
        h = (self.h0 if h0 is None else h0).copy()
        for _ in range(n_steps):
            P, _ = self._probabilities(self._linear(W, h, self.Yc))
            R = P - self.Y
            h_new = self._intercept_step(P, R, h)
            if np.max(np.abs(h_new - h), initial=0.0) < tol:
                return h_new
            h = h_new
        return h

    def dummies(self, codes) -> np.ndarray:
        """Level dummies (0/1, reference levels dropped) of integer-coded rows."""
        Y = np.zeros((codes.shape[0], self.M))
        for j in range(self.p):
            lev = codes[:, j]
            hit = lev > 0
            Y[np.flatnonzero(hit), self.offsets[j] + lev[hit] - 1] = 1.0
        return Y

    def log_pseudo_likelihood(self, theta, h, codes) -> float:
        """Mean over rows of the summed conditional log-likelihoods of ``codes``."""
        Y = self.dummies(codes)
        eta = self._linear(self.matrix(theta), h, Y - self.mean_Y)
        _, lognorm = self._probabilities(eta)
        return float((np.sum(eta * Y) - np.sum(lognorm)) / codes.shape[0])
