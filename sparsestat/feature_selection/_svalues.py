"""The knockoff s-values: how far each knockoff is pushed away from its original.

Knockoffs need ``diag(s)`` with ``0 <= s <= 1`` and ``2 R - diag(s)`` positive
semi-definite, ``R`` the correlation matrix of the features. Larger ``s``
decorrelates a knockoff from its original and gives more power.

- equicorrelated: every ``s_j`` equal, at most ``min(2 lambda_min(R), 1)``;
- SDP: maximize ``sum(s)`` over the same constraints. Solved here by a primal
  log-barrier interior-point method (damped Newton steps on
  ``-sum(s) - mu [log det(2R - diag s) + sum log s] - mu_1 sum log(1 - s)``,
  ``mu_1 = min(mu, 1e-6)``, for a decreasing ``mu``); every iterate is strictly
  feasible, so the answer is feasible by construction, and its objective is
  within ``3 p mu`` of the optimum.

The selectors use the SDP's central-path point at ``mu = 0.1``
(``SELECTOR_MU``) rather than the optimum: the exact optimum makes
``2R - diag(s)`` singular in many directions (16 eigenvalues below 1e-6 for
an AR(1) design with p = 1000), so features and knockoffs are nearly
collinear there ("reconstructable") and the knockoff filter loses power; the
central-path point gives up about 2% of ``sum(s)`` and keeps
``lambda_min(2R - diag(s))`` near 1e-3. A fixed ``mu`` is not scale-free in the
s-values: ``mu = 1`` costs 6% of ``sum(s)`` on the sample correlation above but
37% on the population AR(1) 0.5 matrix. The margin is kept from the constraints
that make knockoffs reconstructable (``2R - diag(s)`` singular, ``s`` near 0) and
not from ``s <= 1``: ``s = 1`` is an uncorrelated knockoff, the best there is, so
that bound keeps the weight ``mu_1`` throughout, and independent features get
``s = 1`` (a weight ``mu`` on it would stop them at 0.90).

The equicorrelated closed form ``min(2 lambda_min(R), 1)`` has the same defect,
worse: it puts ``2R - diag(s)`` exactly on the boundary, singular along every
eigenvector of ``lambda_min`` (``p - 1`` of them for an equicorrelated ``R``,
``p - p / 10`` for blocks of 10), and for ``lambda_min = 1/2`` already at
``s = 1``. The selectors therefore use the same barrier restricted to equal
s-values (:func:`equicorrelated_central_s`): the one-dimensional problem
``min -p s - mu [sum_k log(2 lambda_k - s) + p log s]`` over ``s``, capped
at 1, which keeps ``2 lambda_min - s`` near ``mu`` times the fraction of
eigenvalues at ``lambda_min`` (about 0.09 for blocks of 10) and gives up
nothing where that fraction is small.

MVR and maximum entropy (Spector and Janson, 2022) choose ``s`` to make each
feature hard to reconstruct from the others and the knockoffs, rather than to
maximize ``sum(s)``. With ``V = 2R - diag(s)`` the joint correlation ``G`` of
``[X, Xk]`` has the eigenvalues of ``V`` and of ``diag(s)``, so

- MVR minimizes ``tr(G^{-1}) = tr(V^{-1}) + sum(1 / s)``;
- maxent maximizes ``log det G = log det V + sum(log s)``

(both over ``0 < s <= 1``; both blow up on the boundary, so their optima are
strictly feasible). :func:`mrc_s` solves them by coordinate descent: the exact
minimizer along one coordinate (or one group of tied coordinates) is a closed
form (a root of a convex one-dimensional problem for a group), and ``V^{-1}``
follows by a Sherman-Morrison (Woodbury) update, ``O(p^2)`` per coordinate,
``O(p^3)`` per sweep, with ``V^{-1}`` refactored at the start of each sweep.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.linalg import blas

from sparsestat._threads import single_thread_if_small

S_METHODS = ("equi", "sdp", "mvr", "maxent")

# barrier weight of the bound s <= 1 once mu is above it (see sdp_s)
_UPPER_BARRIER = 1e-6


def check_covariance(Sigma, n_features: int | None = None, *, name: str = "Sigma") -> np.ndarray:
    """Validate a covariance matrix: square, finite, symmetric, positive definite.

    Returns it as a float array. Raises ``ValueError`` with what is wrong.
    """
    Sigma = np.asarray(Sigma, dtype=float)
    if Sigma.ndim != 2 or Sigma.shape[0] != Sigma.shape[1]:
        raise ValueError(f"{name} must be a square (p, p) matrix; got shape {Sigma.shape}.")
    if n_features is not None and Sigma.shape[0] != n_features:
        raise ValueError(
            f"{name} has shape {Sigma.shape} but X has {n_features} features; pass the "
            f"({n_features}, {n_features}) covariance of the features."
        )
    if not np.all(np.isfinite(Sigma)):
        raise ValueError(f"{name} contains NaN or infinite entries.")
    scale = max(1.0, float(np.max(np.abs(Sigma))))
    if not np.allclose(Sigma, Sigma.T, rtol=0, atol=1e-10 * scale):
        raise ValueError(f"{name} is not symmetric; pass (Sigma + Sigma.T) / 2.")
    Sigma = (Sigma + Sigma.T) / 2
    diag = np.diag(Sigma)
    if np.any(diag <= 0):
        raise ValueError(
            f"{name} has non-positive variances on its diagonal (indices "
            f"{np.flatnonzero(diag <= 0)[:10].tolist()}); a covariance needs positive variances."
        )
    R = Sigma / np.sqrt(np.outer(diag, diag))
    lam_min = float(np.linalg.eigvalsh(R)[0])
    if lam_min < -1e-10:
        raise ValueError(
            f"{name} is not positive semi-definite (smallest eigenvalue of its correlation "
            f"matrix is {lam_min:.3g}); pass a valid covariance, e.g. a shrinkage estimate "
            "(sklearn.covariance.LedoitWolf) or Sigma=None to estimate one."
        )
    if lam_min <= 1e-10:
        raise ValueError(
            f"{name} is singular (smallest eigenvalue of its correlation matrix is "
            f"{lam_min:.3g}): some feature is a linear combination of others, and its knockoff "
            "would have to equal it. Remove collinear features or regularize, e.g. "
            "Sigma + 1e-3 * np.eye(p)."
        )
    return Sigma


def to_correlation(Sigma: np.ndarray):
    """``(R, sd)`` with ``Sigma = diag(sd) R diag(sd)``."""
    sd = np.sqrt(np.diag(Sigma))
    R = Sigma / np.outer(sd, sd)
    np.fill_diagonal(R, 1.0)
    return (R + R.T) / 2, sd


def equicorrelated_s(R: np.ndarray) -> np.ndarray:
    """Equicorrelated s-values ``min(2 lambda_min(R), 1)`` for a correlation matrix ``R``.

    Examples
    --------
    >>> import numpy as np
    >>> R = np.array([[1.0, 0.5], [0.5, 1.0]])
    >>> equicorrelated_s(R)
    array([1., 1.])
    """
    lam_min = float(np.linalg.eigvalsh(R)[0])
    return np.full(R.shape[0], min(2.0 * max(lam_min, 0.0), 1.0))


def equicorrelated_central_s(R: np.ndarray, mu: float) -> np.ndarray:
    """Equal s-values on the central path of the SDP restricted to ``s_j = s``.

    The root ``s`` of ``-p + mu sum_k 1 / (2 lambda_k - s) - mu p / s = 0`` on
    ``(0, 2 lambda_min)`` (the barrier objective of :func:`sdp_s` with every
    ``s_j = s``, without the bound ``s <= 1``), capped at 1. It is strictly
    inside the feasible set: ``2R - s I`` is positive definite with smallest
    eigenvalue ``2 lambda_min - s > 0``, and it tends to the closed form
    ``min(2 lambda_min, 1)`` as ``mu -> 0``.

    Parameters
    ----------
    R : ndarray of shape (p, p)
        A positive definite correlation matrix.
    mu : float
        Barrier weight, > 0.

    Returns
    -------
    s : ndarray of shape (p,)

    Examples
    --------
    >>> import numpy as np
    >>> R = np.full((10, 10), 0.6) + 0.4 * np.eye(10)     # lambda_min = 0.4
    >>> s = equicorrelated_central_s(R, mu=0.1)
    >>> round(float(s[0]), 3), round(float(equicorrelated_s(R)[0]), 3)
    (0.721, 0.8)
    """
    lam = np.linalg.eigvalsh(R)
    p = lam.size
    top = 2.0 * float(lam[0])

    def slope(s):
        return -p + mu * (np.sum(1.0 / (2.0 * lam - s)) - p / s)

    # slope rises from -inf at 0 to +inf at 2 lambda_min: one root, by bisection
    # on the relative position inside (0, top), which needs no derivative
    if top > 1.0 and slope(1.0) <= 0.0:
        return np.ones(p)
    lo, _ = _bisect_increasing(slope, 0.0, top, 200)
    return np.full(p, min(lo, 1.0))


def _barrier_parts(R2, s, mu, mu_upper):
    """Barrier objective and the Cholesky factor of ``2R - diag(s)``; None when infeasible."""
    if np.any(s <= 0) or np.any(s >= 1):
        return None
    G = R2 - np.diag(s)
    try:
        c, low = linalg.cho_factor(G, lower=True, check_finite=False)
    except linalg.LinAlgError:
        return None
    logdet = 2.0 * np.sum(np.log(np.diag(c)))
    value = (-np.sum(s) - mu * (logdet + np.sum(np.log(s)))
             - mu_upper * np.sum(np.log1p(-s)))
    return value, c


def _inverse_from_cholesky(c):
    """Inverse of ``c c^T`` from its lower Cholesky factor (LAPACK potri)."""
    with single_thread_if_small(c.shape[0]):
        inv, info = linalg.lapack.dpotri(c, lower=True)
    if info != 0:
        raise linalg.LinAlgError("potri failed")
    return np.tril(inv) + np.tril(inv, -1).T


def _barrier_value(R2, s, mu, mu_upper):
    parts = _barrier_parts(R2, s, mu, mu_upper)
    return np.inf if parts is None else parts[0]


def sdp_s(R: np.ndarray, *, tol: float = 1e-6, max_newton: int = 50,
          never_below_equi: bool = True) -> np.ndarray:
    """SDP s-values: maximize ``sum(s)`` s.t. ``0 <= s <= 1`` and ``2R - diag(s) >= 0``.

    Parameters
    ----------
    R : ndarray of shape (p, p)
        A positive definite correlation matrix.
    tol : float
        Target duality gap per coordinate (``sum(s)`` is within ``p * tol`` of the
        optimum): the barrier stops at ``mu = tol / 3``, so ``tol >= 0.3`` returns
        the central-path point of that ``mu`` (further inside the feasible set the
        larger it is).
    max_newton : int
        Newton steps allowed per barrier parameter.
    never_below_equi : bool
        Return the equicorrelated s-values when their sum is larger (only
        possible for a large ``tol``).

    Returns
    -------
    s : ndarray of shape (p,)
        Strictly feasible s-values, never worse (in ``sum(s)``) than the
        equicorrelated ones unless ``never_below_equi=False``.

    Examples
    --------
    >>> import numpy as np
    >>> R = 0.5 ** np.abs(np.subtract.outer(np.arange(4), np.arange(4)))
    >>> s = sdp_s(R)
    >>> bool(np.linalg.eigvalsh(2 * R - np.diag(s))[0] >= 0)
    True
    >>> bool(s.sum() >= equicorrelated_s(R).sum())
    True
    """
    p = R.shape[0]
    R2 = 2.0 * R
    s_equi = equicorrelated_s(R)
    # strictly feasible start inside the box and inside the PSD constraint
    s = np.full(p, 0.5 * min(max(s_equi[0], 1e-8), 1.0))
    mu_final = tol / 3.0
    mu = max(0.1, mu_final)
    while True:
        # s = 1 (an uncorrelated knockoff) costs no power: the bound s <= 1 keeps
        # a negligible barrier weight even where the others stop at a margin
        mu_upper = min(mu, _UPPER_BARRIER)
        # centering: damped Newton on the barrier objective for this mu, to a
        # scale-free Newton decrement (tight only at the last mu)
        center_tol = 1e-10 if mu <= mu_final else 1e-3
        for _ in range(max_newton):
            value, c = _barrier_parts(R2, s, mu, mu_upper)
            Ginv = _inverse_from_cholesky(c)
            grad = -1.0 + mu * (np.diag(Ginv) - 1.0 / s) + mu_upper / (1.0 - s)
            H = mu * (Ginv * Ginv)
            H[np.diag_indices(p)] += mu / s ** 2 + mu_upper / (1.0 - s) ** 2
            step = _newton_direction(H, grad)
            decrement = -float(grad @ step)
            # centred, or the predicted decrease is below what the objective can
            # resolve in floating point (the line search could only stall there)
            if decrement / (2.0 * mu) <= center_tol or decrement <= 1e-13 * abs(value):
                break
            # longest step that stays inside the box, then backtracking (Armijo)
            with np.errstate(divide="ignore"):
                room = np.where(step < 0, -s / step, np.where(step > 0, (1.0 - s) / step, np.inf))
            eta = min(1.0, 0.99 * float(room.min()))
            while eta > 1e-14:
                trial = s + eta * step
                if _barrier_value(R2, trial, mu, mu_upper) <= value - 0.25 * eta * decrement:
                    break
                eta *= 0.5
            else:
                break
            s = trial
        if mu <= mu_final:
            break
        mu = max(mu / 20.0, mu_final)
    if never_below_equi and s.sum() < s_equi.sum():
        return s_equi
    return s


# the barrier weight at which the selectors stop (see the module docstring)
SELECTOR_MU = 0.1


def compute_s(R: np.ndarray, method: str) -> np.ndarray:
    """s-values for a correlation matrix by ``method`` in ``S_METHODS``.

    ``'equi'`` and ``'sdp'`` are central-path points at ``mu = SELECTOR_MU``,
    which keep ``2R - diag(s)`` away from singular (see the module docstring):
    ``'equi'`` with equal s-values, ``'sdp'`` with one per feature. ``'mvr'``
    and ``'maxent'`` are the optima of their losses (strictly feasible).
    """
    if method == "equi":
        return equicorrelated_central_s(R, SELECTOR_MU)
    if method == "sdp":
        # no fallback to the (singular) equicorrelated s-values: the margin is the point;
        # tol = 3 mu stops the barrier at mu
        return sdp_s(R, tol=3.0 * SELECTOR_MU, never_below_equi=False)
    if method in MRC_METHODS:
        return mrc_s(R, method)
    raise ValueError(f"s_method must be one of {S_METHODS}; got {method!r}.")


def block_sqrt(R: np.ndarray, members: list) -> tuple[np.ndarray, np.ndarray]:
    """``(H, Hinv)``: the symmetric square root of the block diagonal of ``R`` (blocks
    ``members``) and its inverse."""
    p = R.shape[0]
    H, Hinv = np.zeros((p, p)), np.zeros((p, p))
    for idx in members:
        w, Q = np.linalg.eigh(R[np.ix_(idx, idx)])
        H[np.ix_(idx, idx)] = (Q * np.sqrt(w)) @ Q.T
        Hinv[np.ix_(idx, idx)] = (Q / np.sqrt(w)) @ Q.T
    return H, Hinv


def compute_group_S(R: np.ndarray, groups: np.ndarray, method: str) -> np.ndarray:
    """Block-diagonal S-matrix ``S = blockdiag(gamma_g R_gg)`` for group knockoffs.

    With ``H`` the square root of the block diagonal ``blockdiag(R_gg)``, the
    constraint ``2R - S >= 0`` reads ``2 H^{-1} R H^{-1} - diag(gamma) >= 0`` on the
    group-whitened correlation ``H^{-1} R H^{-1}`` (identity blocks on its
    diagonal), so every method solves its ungrouped problem there with the
    s-values of a group tied: equicorrelated (one ``gamma``), MVR or maxent (one
    per group). The maxent S-matrix is the maxent one among all block-scaled
    S-matrices (``log det`` only shifts by a constant under the whitening); the
    MVR one minimizes the reconstructability of the whitened features.

    Parameters
    ----------
    R : ndarray of shape (p, p)
        Positive definite correlation matrix.
    groups : ndarray of int of shape (p,)
        Group codes ``0 .. G-1``.
    method : {'equi', 'mvr', 'maxent'}

    Returns
    -------
    S : ndarray of shape (p, p)
    """
    members = [np.flatnonzero(groups == g) for g in range(int(groups.max()) + 1)]
    H, Hinv = block_sqrt(R, members)
    Rw = Hinv @ R @ Hinv
    Rw = (Rw + Rw.T) / 2
    np.fill_diagonal(Rw, 1.0)
    if method == "equi":
        gamma = equicorrelated_central_s(Rw, SELECTOR_MU)
    elif method in MRC_METHODS:
        gamma = mrc_s(Rw, method, groups=groups)
    else:
        raise ValueError(
            f"s_method={method!r} has no group version; use 'mvr', 'maxent' or 'equi' with "
            "groups."
        )
    S = (H * gamma) @ H
    return (S + S.T) / 2


# ----------------------------------------------------------------- MVR and maxent

MRC_METHODS = ("mvr", "maxent")


def _group_update(method: str, mu: np.ndarray, beta: np.ndarray, s: float) -> float:
    """Exact minimizer, capped at 1, of the loss along ``s_j = s + delta`` for the ``k`` tied
    coordinates of one group.

    ``mu`` are the eigenvalues of ``V^{-1}`` restricted to the group and ``beta`` the squared
    norms of the columns of ``V^{-1}[:, group] Q`` (``Q`` their eigenvectors), so that
    ``log det(V - delta E) = log det V + sum log(1 - delta mu)`` and
    ``tr((V - delta E)^{-1}) = tr(V^{-1}) + sum delta beta / (1 - delta mu)``. The slope of
    the loss in ``delta`` is increasing on ``(-s, 1 / max(mu))``: its root by bisection.
    """
    k = mu.size
    if k == 1:
        c = float(mu[0])
        root = (1.0 + s * c) / ((np.sqrt(beta[0]) if method == "mvr" else c) + c)
        return min(root, 1.0)

    def slope(delta):
        shrink = 1.0 - delta * mu
        if method == "mvr":
            return float(np.sum(beta / shrink ** 2) - k / (s + delta) ** 2)
        return float(np.sum(mu / shrink) - k / (s + delta))

    lo, hi = -s, 1.0 / float(mu.max())
    if hi > 1.0 - s and slope(1.0 - s) <= 0.0:
        return 1.0
    lo, hi = _bisect_increasing(slope, lo, min(hi, 1.0 - s), 100)
    return s + 0.5 * (lo + hi)


def mrc_loss(R: np.ndarray, s: np.ndarray, method: str) -> float:
    """The MVR loss ``tr((2R - diag s)^{-1}) + sum(1/s)`` or the negative entropy
    ``-log det(2R - diag s) - sum(log s)``; ``inf`` outside the feasible set."""
    if np.any(s <= 0):
        return np.inf
    try:
        c = linalg.cholesky(2.0 * R - np.diag(s), lower=True, check_finite=False)
    except linalg.LinAlgError:
        return np.inf
    if method == "mvr":
        return float(np.trace(_inverse_from_cholesky(c)) + np.sum(1.0 / s))
    return float(-2.0 * np.sum(np.log(np.diag(c))) - np.sum(np.log(s)))


def mrc_s(R: np.ndarray, method: str = "mvr", *, groups: np.ndarray | None = None,
          tol: float = 1e-8, max_sweeps: int = 500) -> np.ndarray:
    """Minimum reconstructability s-values: MVR or maximum entropy.

    One s-value per feature: damped Newton steps (quadratic convergence). Tied
    s-values (``groups``): coordinate descent over the groups, as Spector and
    Janson publish it, each step the exact minimizer along the group.

    Parameters
    ----------
    R : ndarray of shape (p, p)
        A positive definite correlation matrix.
    method : {'mvr', 'maxent'}
        ``'mvr'`` minimizes ``tr((2R - diag s)^{-1}) + sum(1/s)``, ``'maxent'``
        minimizes ``-log det(2R - diag s) - sum(log s)``, over ``0 < s <= 1``.
    groups : ndarray of int of shape (p,) or None
        Tie the s-values of the features with the same label (one value per
        group); None: one per feature.
    tol : float
        Stop when a sweep moves no s-value by more than ``tol``, or lowers the loss
        by less than ``tol**2`` times its magnitude.
    max_sweeps : int
        Most sweeps over the coordinates.

    Returns
    -------
    s : ndarray of shape (p,)
        Strictly feasible: ``2R - diag(s)`` positive definite and ``0 < s <= 1``.

    Examples
    --------
    >>> import numpy as np
    >>> R = np.full((5, 5), 0.5) + 0.5 * np.eye(5)       # equicorrelated, rho = 0.5
    >>> s = mrc_s(R, "maxent")
    >>> bool(np.ptp(s) < 1e-8), bool(np.linalg.eigvalsh(2 * R - np.diag(s))[0] > 0)
    (True, True)
    """
    if method not in MRC_METHODS:
        raise ValueError(f"method must be one of {MRC_METHODS}; got {method!r}.")
    p = R.shape[0]
    labels = np.arange(p) if groups is None else np.asarray(groups)
    members = [np.flatnonzero(labels == g) for g in np.unique(labels)]
    s = equicorrelated_central_s(R, SELECTOR_MU).copy()
    if groups is None:
        return _mrc_newton(R, method, np.minimum(s, 0.99))
    previous, moved = np.inf, np.inf
    with single_thread_if_small(p):
        for _ in range(max_sweeps):
            c = linalg.cholesky(2.0 * R - np.diag(s), lower=True, check_finite=False)
            Vinv = np.asfortranarray(_inverse_from_cholesky(c))
            if method == "mvr":
                loss = float(np.trace(Vinv) + np.sum(1.0 / s))
            else:
                loss = float(-2.0 * np.sum(np.log(np.diag(c))) - np.sum(np.log(s)))
            if moved <= tol or previous - loss <= tol ** 2 * abs(loss):
                break
            previous, before = loss, s.copy()
            for idx in members:
                _coordinate_sweep_step(method, Vinv, s, idx)
            moved = float(np.max(np.abs(s - before)))
    return s


def _mrc_parts(R2, s, method):
    """``(loss with the s <= 1 barrier, (2R - diag s)^{-1})``, or None outside the domain."""
    if np.any(s <= 0) or np.any(s >= 1):
        return None
    try:
        c = linalg.cholesky(R2 - np.diag(s), lower=True, check_finite=False)
    except linalg.LinAlgError:
        return None
    Ginv = _inverse_from_cholesky(c)
    if method == "mvr":
        value = float(np.trace(Ginv) + np.sum(1.0 / s))
    else:
        value = float(-2.0 * np.sum(np.log(np.diag(c))) - np.sum(np.log(s)))
    return value - _MRC_UPPER * float(np.sum(np.log1p(-s))), Ginv


# weight of the barrier -log(1 - s) that keeps Newton's iterates below s = 1
_MRC_UPPER = 1e-9


def _mrc_newton(R, method, s, *, tol=1e-12, max_steps=200):
    """Damped Newton on the MVR or maxent loss (plus a ``1e-9`` barrier on ``s < 1``).

    Gradient and Hessian in ``s`` with ``G = (2R - diag s)^{-1}``: maxent
    ``diag(G) - 1/s`` and ``G o G + diag(1/s^2)``; MVR ``diag(G^2) - 1/s^2`` and
    ``2 G o G^2 + diag(2/s^3)``. Every iterate is strictly feasible (the line
    search stays in the domain); Newton converges quadratically where
    coordinate descent crawls (sample correlations of correlated designs).
    """
    p = R.shape[0]
    R2 = 2.0 * R
    with single_thread_if_small(p):
        for _ in range(max_steps):
            value, G = _mrc_parts(R2, s, method)
            if method == "mvr":
                G2 = G @ G
                grad = np.diag(G2) - 1.0 / s ** 2
                H = 2.0 * G * G2
                H[np.diag_indices(p)] += 2.0 / s ** 3
            else:
                grad = np.diag(G) - 1.0 / s
                H = G * G
                H[np.diag_indices(p)] += 1.0 / s ** 2
            grad += _MRC_UPPER / (1.0 - s)
            H[np.diag_indices(p)] += _MRC_UPPER / (1.0 - s) ** 2
            step = _newton_direction(H, grad)
            decrement = -float(grad @ step)
            if decrement <= tol * max(1.0, abs(value)):
                break
            with np.errstate(divide="ignore"):
                room = np.where(step < 0, -s / step, np.where(step > 0, (1.0 - s) / step, np.inf))
            eta = min(1.0, 0.99 * float(room.min()))
            while eta > 1e-14:
                trial = s + eta * step
                parts = _mrc_parts(R2, trial, method)
                if parts is not None and parts[0] <= value - 0.25 * eta * decrement:
                    break
                eta *= 0.5
            else:
                break
            s = trial
    return s


def _coordinate_sweep_step(method, Vinv, s, idx):
    """Move the tied s-values ``s[idx]`` to their exact minimizer; update ``Vinv`` in place."""
    if idx.size == 1:
        j = int(idx[0])
        u = Vinv[:, j].copy()
        mu, beta = u[j:j + 1], np.array([u @ u])
        B = u[:, None]
    else:
        mu, Q = np.linalg.eigh(Vinv[np.ix_(idx, idx)])
        B = Vinv[:, idx] @ Q
        beta = np.sum(B * B, axis=0)
    old = float(s[idx[0]])
    new = _group_update(method, mu, beta, old)
    delta = new - old
    if delta == 0.0:
        return
    # Woodbury: (V - delta E)^{-1} = V^{-1} + B diag(delta / (1 - delta mu)) B^T
    weights = delta / (1.0 - delta * mu)
    if idx.size == 1:
        blas.dger(float(weights[0]), B[:, 0], B[:, 0], a=Vinv, overwrite_a=True)
    else:
        Vinv += (B * weights) @ B.T
    s[idx] = new


def _bisect_increasing(f, lo, hi, max_steps):
    """Bracket ``(lo, hi)`` of the root of an increasing ``f`` (``f(lo) < 0 <= f(hi)``),
    halved until ``max_steps`` steps or floating-point resolution."""
    for _ in range(max_steps):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if f(mid) < 0.0:
            lo = mid
        else:
            hi = mid
    return lo, hi


def _newton_direction(H, grad):
    """``-H^{-1} grad`` by Cholesky, or the diagonal step where ``H`` is numerically
    not positive definite."""
    try:
        return -linalg.cho_solve(linalg.cho_factor(H, check_finite=False), grad,
                                 check_finite=False)
    except linalg.LinAlgError:
        return -grad / np.diag(H)
