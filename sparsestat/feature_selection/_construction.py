"""Knockoff constructions: fixed-X (Barber and Candes) and model-X Gaussian.

Both use the same two pieces of the Gaussian conditional law,
``A = I - Sigma^{-1} S`` and a factor ``L`` with
``L L^T = 2 S - S Sigma^{-1} S``:

- fixed-X: ``Xk = X A + U L^T``, ``U`` orthonormal and orthogonal to the
  columns of ``X`` (and to the constant vector when ``X`` is centred);
  then ``Xk^T Xk = X^T X`` and ``X^T Xk = X^T X - S`` exactly;
- model-X Gaussian: ``Xk = mu + (X - mu) A + Z L^T`` with ``Z`` standard
  normal, a draw from ``Xk | X ~ N(X - (X - mu) Sigma^{-1} S, 2S - S Sigma^{-1} S)``.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg


def conditional_factors(Sigma: np.ndarray, s: np.ndarray):
    """``(A, L)``: ``A = I - Sigma^{-1} S`` and ``L L^T = 2 S - S Sigma^{-1} S``.

    ``S = diag(s)`` for a vector ``s``, or ``S = s`` for a (block-diagonal)
    matrix, as group knockoffs use.

    ``L`` is the Cholesky factor when ``2 S - S Sigma^{-1} S`` is positive
    definite (s-values strictly inside the feasible set, as the selectors use),
    a continuous function of ``Sigma`` and ``s``: a round-off change in them
    changes the knockoffs by round-off. On the boundary of feasibility, where
    Cholesky fails, it comes from a symmetric eigendecomposition with round-off
    negative eigenvalues set to zero.
    """
    p = Sigma.shape[0]
    chol = linalg.cho_factor(Sigma, lower=True, check_finite=False)
    S = np.diag(s) if np.ndim(s) == 1 else np.asarray(s)
    SigInvS = linalg.cho_solve(chol, S, check_finite=False)
    A = np.eye(p) - SigInvS
    V = 2.0 * S - S @ SigInvS
    V = (V + V.T) / 2
    try:
        L = linalg.cholesky(V, lower=True, check_finite=False)
    except linalg.LinAlgError:
        w, Q = np.linalg.eigh(V)
        L = Q * np.sqrt(np.clip(w, 0.0, None))
    return A, L


def orthogonal_complement_basis(B: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` random orthonormal columns orthogonal to the columns of ``B`` (n, q)."""
    n = B.shape[0]
    Q, _ = np.linalg.qr(B)
    N = rng.standard_normal((n, k))
    # one Gram-Schmidt pass suffices: a Gaussian N is far from col(B), so there
    # is no cancellation (the result is orthogonal to col(B) to ~1e-14)
    N -= Q @ (Q.T @ N)
    U, _ = np.linalg.qr(N)
    return U


def fixed_x_knockoffs(X: np.ndarray, s: np.ndarray, rng: np.random.Generator, *,
                      centered: bool = True, gram: np.ndarray | None = None) -> np.ndarray:
    """Fixed-X knockoffs of a design whose Gram matrix ``X^T X`` has unit diagonal.

    Parameters
    ----------
    X : ndarray of shape (n, p)
        Centred (when ``centered``) design with unit-norm columns and
        ``n >= 2p (+1 when centered)``.
    s : ndarray of shape (p,)
        Feasible s-values for the correlation matrix ``X^T X``.
    rng : numpy Generator
        Source of the random orthogonal complement.
    centered : bool
        Keep the knockoffs orthogonal to the constant vector too (so they stay
        centred).

    Returns
    -------
    Xk : ndarray of shape (n, p)
        Knockoffs with ``Xk^T Xk = X^T X`` and ``X^T Xk = X^T X - diag(s)``.
    """
    n, p = X.shape
    Sigma = X.T @ X if gram is None else gram
    A, L = conditional_factors(Sigma, s)
    B = np.column_stack([np.ones(n), X]) if centered else X
    U = orthogonal_complement_basis(B, p, rng)
    return X @ A + U @ L.T


def gaussian_knockoffs(X: np.ndarray, mu: np.ndarray, Sigma: np.ndarray, s: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
    """Model-X Gaussian knockoffs for rows ``x ~ N(mu, Sigma)``.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    mu : ndarray of shape (p,)
    Sigma : ndarray of shape (p, p)
        Positive definite covariance.
    s : ndarray of shape (p,)
        Feasible s-values on the covariance scale (``2 Sigma - diag(s) >= 0``).
    rng : numpy Generator

    Returns
    -------
    Xk : ndarray of shape (n, p)
        One draw of ``Xk | X``; then ``(X, Xk)`` has covariance
        ``[[Sigma, Sigma - S], [Sigma - S, Sigma]]``.
    """
    A, L = conditional_factors(Sigma, s)
    Z = rng.standard_normal(X.shape)
    return mu + (X - mu) @ A + Z @ L.T
