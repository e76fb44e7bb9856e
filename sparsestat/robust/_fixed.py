"""The mean-shift estimate at one fixed penalty level (soft or hard thresholding)."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_X_y

from sparsestat._kernels._projected import project_out
from sparsestat.robust._linalg import subset_fit, thin_basis


def mean_shift_fixed(X, y, alpha: float, *, threshold: str = "soft",
                     fit_intercept: bool = True, max_iter: int = 10_000, tol: float = 1e-12):
    """Solve the mean-shift problem at a fixed ``alpha`` by thresholded iterations.

    Minimizes ``0.5 ||y - X beta - b - gamma||^2 + alpha ||gamma||_1`` (soft)
    or the hard-thresholding (l0-type) version by the fixed-point iteration
    ``gamma <- Theta(gamma + (I - H)(y - gamma), alpha)``, with ``I - H``
    applied implicitly through a thin QR of ``[1, X]``. Each step is a
    proximal-gradient step of size 1 (``I - H`` has norm 1), so the soft
    version converges to the global minimum. Eliminating ``gamma`` shows
    that ``beta`` is then Huber's M-estimate with threshold ``alpha``
    (known scale).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    alpha : float
        Threshold, on the scale of ``y``.
    threshold : {'soft', 'hard'}, default='soft'
    fit_intercept : bool, default=True
    max_iter : int, default=10000
    tol : float, default=1e-12
        Stop when the largest change of ``gamma`` is below ``tol * std(y)``.

    Returns
    -------
    coef : ndarray of shape (n_features,)
    intercept : float
    gamma : ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from sparsestat.robust import mean_shift_fixed
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 2))
    >>> y = X @ [1.0, -2.0] + 0.1 * rng.standard_normal(50)
    >>> y[0] += 10
    >>> coef, intercept, gamma = mean_shift_fixed(X, y, alpha=0.5)
    >>> np.round(coef, 1).tolist(), int(np.argmax(np.abs(gamma)))
    ([1.0, -2.0], 0)
    """
    X, y = check_X_y(X, y, dtype=np.float64, y_numeric=True)
    if threshold not in ("soft", "hard"):
        raise ValueError(f"threshold must be 'soft' or 'hard'; got {threshold!r}.")
    if not alpha > 0:
        raise ValueError(f"alpha must be positive; got {alpha!r}.")
    basis = thin_basis(X, fit_intercept)
    Q = basis.Q
    n = y.shape[0]
    Y = y.reshape(n, 1)
    gamma = np.zeros((n, 1))
    step = np.empty((n, 1))
    stop = tol * max(float(np.std(y)), 1e-300)
    for _ in range(int(max_iter)):
        project_out(Q, Y - gamma, step)
        z = gamma + step
        if threshold == "soft":
            new = np.sign(z) * np.maximum(np.abs(z) - alpha, 0.0)
        else:
            new = np.where(np.abs(z) > alpha, z, 0.0)
        change = float(np.max(np.abs(new - gamma)))
        gamma = new
        if change <= stop:
            break
    theta = subset_fit(Q, Y - gamma, np.ones(n, dtype=bool))
    coef, intercept = basis.coefficients(theta)
    return coef[0], float(intercept[0]), gamma[:, 0]
