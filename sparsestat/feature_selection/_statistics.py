"""Knockoff statistics ``W`` computed on the augmented design ``[X, Xk]``.

Every statistic treats the ``2p`` columns symmetrically (the columns are
standardized one by one, and swapping a feature with its knockoff swaps the
two importances), so ``W_j`` flips sign when ``X_j`` and ``Xk_j`` are swapped;
that is all the knockoff filter needs for its FDR guarantee.

- ``'lcd'``: lasso coefficient difference ``|b_j| - |b_{j+p}|`` at the
  cross-validated penalty (``LassoCV``; l1-logistic ``LogisticRegressionCV``
  for class labels, one-vs-rest with the largest coefficient over classes), or
  (``penalty='cp'``, used with fixed-X knockoffs) at the penalty minimizing
  Mallows' Cp, a function of the Gram matrix and ``[X, Xk]^T y`` only, as the
  fixed-X guarantee requires (cross-validation splits rows and is not);
- ``'lsm'``: signed max of the entry points ``lambda`` on the lasso path
  (``lasso_path``; the multi-task lasso on one-hot labels for classes);
- ``'lbi'``: signed max of ``Z = 1 / tau``, ``tau`` the entry time of the
  Linearized Bregman Iteration path (squared, logistic or multinomial loss);
  a column that never enters has ``Z = 0``.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LassoCV, LogisticRegressionCV, lasso_path

from sparsestat import _engine

STATISTICS = ("lcd", "lsm", "lbi")


def signed_max(Z: np.ndarray, Zk: np.ndarray) -> np.ndarray:
    """``W_j = max(Z_j, Zk_j) * sign(Z_j - Zk_j)``."""
    return np.maximum(Z, Zk) * np.sign(Z - Zk)


def inverse_entry_time(tau: np.ndarray) -> np.ndarray:
    """``Z = 1 / tau``, with ``Z = 0`` for a coordinate that never entered (``tau = inf``)."""
    return np.where(np.isfinite(tau), 1.0 / tau, 0.0)


def _standardize(Xaug: np.ndarray) -> np.ndarray:
    Xc = Xaug - Xaug.mean(axis=0)
    sd = np.sqrt(np.mean(Xc ** 2, axis=0))
    return Xc / np.where(sd > 0, sd, 1.0)


def _lasso_cp(Xs, y, *, n_alphas=100, eps=1e-2, max_iter=5000):
    """Lasso coefficients at the penalty minimizing Mallows' Cp along the path.

    Everything is computed from the Gram matrix, ``Xs^T y`` and ``||y||^2`` (the
    noise variance from the least-squares fit on all columns), the sufficient
    statistics a fixed-X knockoff statistic may use.
    """
    n = Xs.shape[0]
    yc = y - y.mean()
    G = Xs.T @ Xs
    Xy = Xs.T @ yc
    alphas = np.abs(Xy).max() / n * np.geomspace(1.0, eps, n_alphas)
    _, coefs, _ = lasso_path(Xs, yc, alphas=alphas, precompute=G, Xy=Xy, max_iter=max_iter)
    rss = yc @ yc - 2 * coefs.T @ Xy + np.sum(coefs * (G @ coefs), axis=0)
    ols, _, rank, _ = np.linalg.lstsq(G, Xy, rcond=None)
    sigma2 = max(yc @ yc - Xy @ ols, 0.0) / max(n - rank - 1, 1)
    cp = rss + 2.0 * sigma2 * np.count_nonzero(coefs, axis=0)
    return coefs[:, int(np.argmin(cp))]


def _lcd(Xs, y, classes, *, penalty="cv", cv=5, n_jobs=None, Cs=10, n_alphas=100, eps=1e-2):
    if classes is None:
        if penalty == "cp":
            coef = _lasso_cp(Xs, y, n_alphas=n_alphas, eps=eps)
        else:
            coef = LassoCV(cv=cv, alphas=n_alphas, eps=eps, max_iter=5000,
                           n_jobs=n_jobs).fit(Xs, y).coef_
        importance = np.abs(coef)
    else:
        targets = [y == c for c in classes] if len(classes) > 2 else [y == classes[1]]
        importance = np.zeros(Xs.shape[1])
        for target in targets:
            model = LogisticRegressionCV(Cs=Cs, cv=cv, l1_ratios=(1.0,), solver="liblinear",
                                         scoring="neg_log_loss", use_legacy_attributes=False,
                                         max_iter=1000, n_jobs=n_jobs)
            importance = np.maximum(importance, np.abs(model.fit(Xs, target).coef_.ravel()))
    return importance


def _lsm(Xs, y, classes, *, n_alphas=200, eps=0.05, max_iter=5000):
    n, p2 = Xs.shape
    Y = y[:, None].astype(float) if classes is None else (y[:, None] == classes[None, :]) * 1.0
    Y = Y - Y.mean(axis=0)
    corr = np.sqrt(np.sum((Xs.T @ Y) ** 2, axis=1)) / n
    alphas = corr.max() * np.geomspace(1.0, eps, n_alphas)
    _, coefs, _ = lasso_path(Xs, Y if classes is not None else Y.ravel(), alphas=alphas,
                             max_iter=max_iter)
    nonzero = np.abs(coefs) > 0
    if nonzero.ndim == 3:       # multi-task: (K, 2p, n_alphas)
        nonzero = nonzero.any(axis=0)
    entered = nonzero.any(axis=1)
    return np.where(entered, alphas[np.argmax(nonzero, axis=1)], 0.0)


def _lbi(Xs, y, classes, *, kappa=10.0, t_ratio=10.0, n_times=2, max_iter=None):
    if classes is None:
        Y, loss = y[:, None].astype(float), "squared"
    elif len(classes) == 2:
        Y, loss = (y == classes[1])[:, None] * 1.0, "logistic"
    else:
        Y, loss = (y[:, None] == classes[None, :]) * 1.0, "multinomial"
    path = _engine.lbi_path(Xs, Y, loss=loss, kappa=kappa, t_ratio=t_ratio, n_times=n_times,
                            max_iter=max_iter)
    return inverse_entry_time(path.entry_times.min(axis=1))


# each returns the importance Z of the 2p columns
_DISPATCH = {"lcd": _lcd, "lsm": _lsm, "lbi": _lbi}


def knockoff_statistic(X: np.ndarray, Xk: np.ndarray, y: np.ndarray, statistic: str,
                       classes=None, rng: np.random.Generator | None = None,
                       **params) -> np.ndarray:
    """Statistics ``W`` (length p) for features ``X`` and knockoffs ``Xk``.

    Parameters
    ----------
    X, Xk : ndarray of shape (n, p)
    y : ndarray of shape (n,)
        Targets, or class labels when ``classes`` is given.
    statistic : {'lcd', 'lsm', 'lbi'}
    classes : ndarray or None
        Sorted class labels for a classification target.
    rng : numpy Generator or None
        When given, the ``2p`` columns are fitted in a random order, so that a
        solver stopped at its tolerance (coordinate descent sweeps columns in
        order) favours neither the features nor the knockoffs.
    **params :
        Options of the statistic: ``penalty`` ('cv' or 'cp'), ``cv``, ``Cs``,
        ``n_alphas``, ``n_jobs`` (lcd);
        ``n_alphas``, ``eps`` (lsm); ``kappa``, ``t_ratio``, ``n_times``,
        ``max_iter`` (lbi).
    """
    if statistic not in _DISPATCH:
        raise ValueError(f"statistic must be one of {STATISTICS}; got {statistic!r}.")
    Xs = _standardize(np.hstack([X, Xk]))
    order = np.arange(Xs.shape[1]) if rng is None else rng.permutation(Xs.shape[1])
    Z = np.empty(Xs.shape[1])
    Z[order] = _DISPATCH[statistic](np.asfortranarray(Xs[:, order]), y, classes, **params)
    p = X.shape[1]
    if statistic == "lcd":
        return Z[:p] - Z[p:]
    return signed_max(Z[:p], Z[p:])
