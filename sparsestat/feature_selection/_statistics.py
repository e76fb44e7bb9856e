"""Knockoff statistics ``W`` computed on the augmented design ``[X, Xk]``.

Every statistic treats the ``2p`` columns symmetrically (the columns are
standardized one by one, and swapping a feature with its knockoff swaps the
two importances), so ``W_j`` flips sign when ``X_j`` and ``Xk_j`` are swapped;
that is all the knockoff filter needs for its FDR guarantee. The selectors pass
a standardized target (:mod:`~sparsestat.feature_selection._scaling`), so the
statistics they report do not depend on the units of ``y``.

- ``'lcd'``: lasso coefficient difference ``|b_j| - |b_{j+p}|`` at the
  cross-validated penalty (``LassoCV``'s choice, its paths stopped once the held-out
  error stops improving; l1-logistic ``LogisticRegressionCV``
  for class labels, one-vs-rest with the largest coefficient over classes), or
  (``penalty='cp'``, used with fixed-X knockoffs when ``n >= 3p`` and
  model-X ones when ``n > 3p``) at the penalty minimizing Mallows' Cp, or
  (``penalty='gcv'``, fixed-X with ``n < 3p``) generalized cross-validation,
  both functions of the Gram matrix, ``[X, Xk]^T y`` and ``||y||^2`` only, as
  the fixed-X guarantee requires (cross-validation splits rows and is not);
- ``'lsm'``: signed max of the entry points ``lambda`` on the lasso path
  (``lasso_path``; the multi-task lasso on one-hot labels for classes);
- ``'lbi'``: signed max of ``Z = 1 / tau``, ``tau`` the entry time of the
  Linearized Bregman Iteration path (squared, logistic or multinomial loss);
  a column that never enters has ``Z = 0``;
- ``'mlr'``: the masked likelihood ratio statistic (Spector and Fithian) under a
  Bayesian linear model with a spike-and-slab prior: ``W_j = P_j - (1 - P_j)``,
  ``P_j`` the posterior probability, given the data with each pair
  ``{X_j, Xk_j}`` masked (not said which is which), that ``X_j`` is the feature,
  averaged by Gibbs sampling (:mod:`~sparsestat._kernels._mlr`). A function of
  the Gram matrix, ``[X, Xk]^T y`` and ``||y||^2``, so valid for fixed-X
  knockoffs too; regression targets and single features only.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy import linalg
from sklearn.linear_model import LogisticRegressionCV, lasso_path
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints

from sparsestat import _engine
from sparsestat._kernels._mlr import masked_spike_slab
from sparsestat.feature_selection._scaling import standardize_target

STATISTICS = ("lcd", "lsm", "lbi", "mlr")

# the ranges of the LBI path's parameters, on the standardized problem (unit-variance
# columns and target): the number of iterations grows like kappa * t_ratio, so a
# larger value would run for hours (or overflow the iteration count)
KAPPA_RANGE = (0.0, 1e4)
T_RATIO_RANGE = (1.0, 1e4)
_KAPPA = Interval(Real, *KAPPA_RANGE, closed="right")
_T_RATIO = Interval(Real, *T_RATIO_RANGE, closed="right")
_MAX_ITER = [Interval(Integral, 1, None, closed="left"), None]

# what statistic_params may hold, per statistic
STATISTIC_PARAMETERS = {
    "lcd": {"penalty": [StrOptions({"cp", "gcv", "cv"})],
            "cv": [Interval(Integral, 2, None, closed="left"), "cv_object"],
            "Cs": [Interval(Integral, 1, None, closed="left"), "array-like"],
            "n_alphas": [Interval(Integral, 2, None, closed="left")],
            "eps": [Interval(Real, 0, 1, closed="neither")],
            "n_jobs": [Integral, None]},
    "lsm": {"n_alphas": [Interval(Integral, 2, None, closed="left")],
            "eps": [Interval(Real, 0, 1, closed="neither")],
            "max_iter": [Interval(Integral, 1, None, closed="left")]},
    "lbi": {"kappa": [_KAPPA], "t_ratio": [_T_RATIO],
            "n_times": [Interval(Integral, 2, None, closed="left")], "max_iter": _MAX_ITER},
    "mlr": {"n_iter": [Interval(Integral, 1, None, closed="left")],
            "chains": [Interval(Integral, 1, None, closed="left")],
            "burn_prop": [Interval(Real, 0, 1, closed="left")],
            "p0_min": [Interval(Real, 0, 1, closed="left")]},
}


def check_statistic_params(statistic: str, params: dict, caller: str) -> dict:
    """Validate the options of a statistic; raise ``ValueError`` naming the bad one."""
    allowed = STATISTIC_PARAMETERS[statistic]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"statistic_params has option(s) {unknown} that statistic={statistic!r} does not "
            f"take; it takes {sorted(allowed)}."
        )
    validate_parameter_constraints(
        {key: allowed[key] for key in params}, params,
        caller_name=f"{caller}(statistic={statistic!r}).statistic_params")
    return params


def check_statistic_task(statistic: str, classes, groups) -> None:
    """Refuse the combinations a statistic has no version for, before any knockoff is drawn."""
    if statistic != "mlr":
        return
    if classes is not None:
        raise ValueError(
            "statistic='mlr' models a continuous target (a linear model); for class labels "
            "use statistic='lcd' (l1-logistic) or 'lbi', or pass task='regression' to treat "
            "the labels as numbers."
        )
    if groups is not None:
        raise ValueError(
            "statistic='mlr' tests single features; with groups= use statistic='lcd' or 'lbi' "
            "(group versions), or drop groups."
        )


def signed_max(Z: np.ndarray, Zk: np.ndarray) -> np.ndarray:
    """``W_j = max(Z_j, Zk_j) * sign(Z_j - Zk_j)``."""
    return np.maximum(Z, Zk) * np.sign(Z - Zk)


def inverse_entry_time(tau: np.ndarray) -> np.ndarray:
    """``Z = 1 / tau``, with ``Z = 0`` for a coordinate that never entered (``tau = inf``)."""
    return np.where(np.isfinite(tau), 1.0 / tau, 0.0)


def _standardized_augmented(X: np.ndarray, Xk: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``[X, Xk][:, order]``, each column centred and scaled to unit variance (Fortran order)."""
    p = X.shape[1]
    Xs = np.empty((X.shape[0], 2 * p), order="F")
    position = np.argsort(order)
    Xs[:, position[:p]] = X
    Xs[:, position[p:]] = Xk
    Xs -= Xs.mean(axis=0)
    sd = np.sqrt(np.mean(Xs ** 2, axis=0))
    Xs /= np.where(sd > 0, sd, 1.0)
    return Xs


def _residual_variance(G: np.ndarray, Xy: np.ndarray, yy: float, n: int) -> float:
    """Noise variance from the least-squares fit on all columns, from ``G``, ``X^T y``, ``||y||^2``.

    A Cholesky solve with a tiny ridge (``1e-12`` of the mean diagonal): knockoffs
    with s-values on the boundary of feasibility make ``G`` singular, and the
    ridge leaves the fit of ``y`` (which lies in the range of ``G``) unchanged to
    that relative accuracy.
    """
    m = G.shape[0]
    ridge = 1e-12 * np.trace(G) / m
    try:
        factor = linalg.cho_factor(G + ridge * np.eye(m), lower=True, check_finite=False)
        fit = float(Xy @ linalg.cho_solve(factor, Xy, check_finite=False))
        rank = m
    except linalg.LinAlgError:
        ols, _, rank, _ = np.linalg.lstsq(G, Xy, rcond=None)
        fit = float(Xy @ ols)
    return max(yy - fit, 0.0) / max(n - rank - 1, 1)


def _lasso_cp(Xs, y, *, n_alphas=100, eps=1e-2, max_iter=5000, patience=10, criterion="cp"):
    """Lasso coefficients at the penalty minimizing Mallows' Cp (or GCV) along the path.

    ``criterion='gcv'`` minimizes generalized cross-validation,
    ``RSS / (n - 1 - df)^2`` with ``df`` the number of nonzero coefficients,
    which needs no noise variance (the denominator floored at 1/2).

    Everything is computed from the Gram matrix, ``Xs^T y`` and ``||y||^2`` (the
    noise variance from the least-squares fit on all columns), the sufficient
    statistics a fixed-X knockoff statistic may use. The path runs on a
    geometric grid of ``n_alphas`` penalties from the largest useful one down to
    ``eps`` times it, in warm-started blocks, and stops once the criterion has not
    improved for ``patience`` grid points (the small penalties, where the lasso is
    most expensive, are then never fitted; the answer differs from the minimum over
    the whole grid only when the criterion falls again after rising that long).
    """
    n = Xs.shape[0]
    yc = y - y.mean()
    G = Xs.T @ Xs
    Xy = Xs.T @ yc
    sigma2 = _residual_variance(G, Xy, float(yc @ yc), n) if criterion == "cp" else 0.0
    alphas = np.abs(Xy).max() / n * np.geomspace(1.0, eps, n_alphas)
    best_cp, best_index, best, coef = np.inf, 0, None, None
    for start in range(0, n_alphas, patience):
        block = alphas[start:start + patience]
        _, coefs, _ = lasso_path(Xs, yc, alphas=block, precompute=G, Xy=Xy, coef_init=coef,
                                 max_iter=max_iter, check_input=False)
        rss = yc @ yc - 2 * coefs.T @ Xy + np.sum(coefs * (G @ coefs), axis=0)
        df = np.count_nonzero(coefs, axis=0)
        if criterion == "cp":
            cp = rss + 2.0 * sigma2 * df
        else:
            cp = rss / np.maximum(n - 1 - df, 0.5) ** 2
        i = int(np.argmin(cp))
        if cp[i] < best_cp:
            best_cp, best_index, best = cp[i], start + i, coefs[:, i].copy()
        coef = coefs[:, -1]
        if start + block.size - 1 - best_index >= patience:
            break
    return best


def _lasso_cv(Xs, y, *, cv=5, n_alphas=100, eps=1e-2, max_iter=5000, patience=10):
    """``(coef, alpha)``: the lasso at the cross-validated penalty, the paths stopped early.

    The same choice as ``LassoCV(cv=cv, alphas=n_alphas, eps=eps)``: the penalties
    on its geometric grid from ``max |Xc^T yc| / n`` down to ``eps`` times it, the
    folds of ``check_cv(cv)``, each fold's path fitted with an intercept, and the
    penalty with the least mean held-out squared error over the folds. The paths of
    the folds and of all the data run side by side in warm-started blocks of
    ``patience`` penalties and stop once the mean error has not improved for
    ``patience`` of them: the small penalties, where the lasso is most expensive,
    are then never fitted (the answer differs from ``LassoCV`` only when the error
    falls again after rising for ``patience`` grid points).
    """
    n = Xs.shape[0]
    Xc, yc = Xs - Xs.mean(axis=0), y - y.mean()
    alphas = np.abs(Xc.T @ yc).max() / n * np.geomspace(1.0, eps, n_alphas)
    parts = []                        # (X_train centred, y_train centred, X_test, y_test)
    for train, test in check_cv(cv).split(Xs):
        mx, my = Xs[train].mean(axis=0), y[train].mean()
        parts.append((np.asfortranarray(Xs[train] - mx), y[train] - my, Xs[test] - mx,
                      y[test] - my))
    parts.append((np.asfortranarray(Xc), yc, None, None))  # all the data: the answer
    # the Gram matrix where it is the cheaper route (more rows than columns), as LassoCV
    grams = [A.T @ A if A.shape[0] > A.shape[1] else False for A, *_ in parts]
    coefs = [None] * len(parts)
    errors, best_index, best = [], 0, None
    for start in range(0, n_alphas, patience):
        block = alphas[start:start + patience]
        fold_errors = []
        for k, (A, b, A_test, b_test) in enumerate(parts):
            _, path, _ = lasso_path(A, b, alphas=block, coef_init=coefs[k], max_iter=max_iter,
                                    precompute=grams[k], check_input=False)
            coefs[k] = np.ascontiguousarray(path[:, -1])
            if A_test is None:
                full = path
            else:
                fold_errors.append(np.mean((b_test[:, None] - A_test @ path) ** 2, axis=0))
        errors.extend(np.mean(fold_errors, axis=0))
        i = int(np.argmin(errors))
        if i >= start:                 # a new best, in this block
            best_index, best = i, full[:, i - start].copy()
        if start + block.size - 1 - best_index >= patience:
            break
    return best, float(alphas[best_index])


def _lcd(Xs, y, classes, *, penalty="cv", cv=5, n_jobs=None, Cs=10, n_alphas=100, eps=1e-2,
         groups=None):
    if classes is None:
        if penalty in ("cp", "gcv"):
            coef = _lasso_cp(Xs, y, n_alphas=n_alphas, eps=eps, criterion=penalty)
        else:
            coef, _ = _lasso_cv(Xs, y, cv=cv, n_alphas=n_alphas, eps=eps)
        return np.abs(coef), np.sign(coef)
    targets = [y == c for c in classes] if len(classes) > 2 else [y == classes[1]]
    importance, sign = np.zeros(Xs.shape[1]), np.zeros(Xs.shape[1])
    for target in targets:
        model = LogisticRegressionCV(Cs=Cs, cv=cv, l1_ratios=(1.0,), solver="liblinear",
                                     scoring="neg_log_loss", use_legacy_attributes=False,
                                     max_iter=1000, n_jobs=n_jobs)
        coef = model.fit(Xs, target).coef_.ravel()
        importance = np.maximum(importance, np.abs(coef))
    # a direction is defined for a binary target only
    return importance, (np.sign(coef) if len(targets) == 1 else sign)


def _lsm(Xs, y, classes, *, n_alphas=200, eps=0.05, max_iter=5000, groups=None):
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
        sign = np.zeros(p2) if Y.shape[1] > 2 else np.sign(coefs[-1, :, -1])
    else:
        sign = np.sign(coefs[:, -1])
    entered = nonzero.any(axis=1)
    return np.where(entered, alphas[np.argmax(nonzero, axis=1)], 0.0), sign


def _lbi(Xs, y, classes, *, kappa=10.0, t_ratio=10.0, n_times=2, max_iter=None, groups=None):
    if classes is None:
        Y, loss = y[:, None].astype(float), "squared"
    elif len(classes) == 2:
        Y, loss = (y == classes[1])[:, None] * 1.0, "logistic"
    else:
        Y, loss = (y[:, None] == classes[None, :]) * 1.0, "multinomial"
    penalty = "l1" if groups is None else "group"
    path = _engine.lbi_path(Xs, Y, loss=loss, penalty=penalty, groups=groups, kappa=kappa,
                            t_ratio=t_ratio, n_times=n_times, max_iter=max_iter)
    last = path.coefs[-1]
    sign = np.sign(last[:, 0]) if last.shape[1] == 1 else np.zeros(Xs.shape[1])
    return inverse_entry_time(path.entry_times.min(axis=1)), sign


def _mlr(Xs, y, classes, *, rng=None, n_iter=2000, chains=5, burn_prop=0.1, p0_min=0.8,
         groups=None):
    """``(Z, sign)`` with ``Z_j = P_j`` and ``Z_{j+p} = 1 - P_j`` (columns unpermuted: pair
    ``j`` is columns ``j`` and ``j + p``), the sign that of the posterior mean coefficient.

    Hyperpriors (on the standardized problem: unit-variance columns, and the target
    scaled here to unit root mean square, so that the priors mean the same whatever its
    units): ``sigma2, tau2 ~ InvGamma(2, 1)``, ``p0 ~ Beta(1, 1)`` truncated to
    ``[p0_min, 1]``.
    """
    n, m = Xs.shape
    yc = standardize_target(y)
    G = Xs.T @ Xs
    Aty = Xs.T @ yc
    seed = 0 if rng is None else int(rng.integers(2 ** 31 - 1))
    prob, coef = masked_spike_slab(G, Aty, float(yc @ yc), float(n), n_iter,
                                   int(burn_prop * n_iter), chains, 2.0, 1.0, 2.0, 1.0,
                                   1.0, 1.0, p0_min, seed)
    return np.concatenate([prob, 1.0 - prob]), np.concatenate([np.sign(coef), np.zeros(m // 2)])


def _aggregate(Z, labels, n_groups, statistic):
    """Group importance from the importances of its columns: the sum for ``'lcd'`` (the
    group lasso coefficient difference), the largest for the path statistics."""
    if statistic == "lcd":
        return np.bincount(labels, weights=Z, minlength=n_groups)
    out = np.zeros(n_groups)
    np.maximum.at(out, labels, Z)
    return out


# each returns the importance Z of the 2p columns
_DISPATCH = {"lcd": _lcd, "lsm": _lsm, "lbi": _lbi, "mlr": _mlr}


def knockoff_statistic(X: np.ndarray, Xk: np.ndarray, y: np.ndarray, statistic: str,
                       classes=None, rng: np.random.Generator | None = None,
                       groups: np.ndarray | None = None, return_signs: bool = False,
                       **params):
    """Statistics ``W`` (one per feature, or per group) for features ``X`` and knockoffs ``Xk``.

    Parameters
    ----------
    X, Xk : ndarray of shape (n, p)
    y : ndarray of shape (n,)
        Targets, or class labels when ``classes`` is given.
    statistic : {'lcd', 'lsm', 'lbi', 'mlr'}
    classes : ndarray or None
        Sorted class labels for a classification target.
    rng : numpy Generator or None
        When given, the ``2p`` columns are fitted in a random order, so that a
        solver stopped at its tolerance (coordinate descent sweeps columns in
        order) favours neither the features nor the knockoffs; for ``'mlr'``
        it seeds the Gibbs sampler (which visits the pairs in random order).
    groups : ndarray of int of shape (p,) or None
        Group codes ``0 .. G-1``: the statistics compare each group of features
        with its group of knockoffs (sum of ``|b|`` for lcd, the group's entry
        for lsm, the entry time with the group penalty for lbi); ``W`` has
        length ``G``.
    return_signs : bool
        Also return the sign of each feature's fitted coefficient (0 where the
        statistic defines none: multiclass targets).
    **params :
        Options of the statistic: ``penalty`` ('cv', 'cp' or 'gcv'), ``cv``, ``Cs``,
        ``n_alphas``, ``n_jobs`` (lcd);
        ``n_alphas``, ``eps`` (lsm); ``kappa``, ``t_ratio``, ``n_times``,
        ``max_iter`` (lbi); ``n_iter``, ``chains``, ``burn_prop``, ``p0_min`` (mlr).
    """
    if statistic not in _DISPATCH:
        raise ValueError(f"statistic must be one of {STATISTICS}; got {statistic!r}.")
    check_statistic_task(statistic, classes, groups)
    p = X.shape[1]
    order = np.arange(2 * p) if rng is None or statistic == "mlr" else rng.permutation(2 * p)
    Xs = _standardized_augmented(X, Xk, order)
    column_groups = None
    if groups is not None:
        n_groups = int(groups.max()) + 1
        column_groups = np.concatenate([groups, groups + n_groups])[order]
    Z, sign = np.empty(2 * p), np.empty(2 * p)
    if statistic == "mlr":
        params = dict(params, rng=rng)
    Z[order], sign[order] = _DISPATCH[statistic](
        Xs, y, classes, groups=column_groups if statistic == "lbi" else None, **params)
    Zx, Zk = Z[:p], Z[p:]
    if groups is not None:
        Zx = _aggregate(Zx, groups, n_groups, statistic)
        Zk = _aggregate(Zk, groups, n_groups, statistic)
    W = Zx - Zk if statistic in ("lcd", "mlr") else signed_max(Zx, Zk)
    return (W, sign[:p]) if return_signs else W
