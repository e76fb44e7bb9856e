"""Early stopping by cross-validation: choose the time ``t`` on one shared grid.

The full-data path fixes the time grid; every fold computes its path on that
same grid, so the folds' validation scores line up time by time. The chosen
``t_`` maximizes the mean score, or (``one_standard_error=True``) is the
earliest -- sparsest -- time whose mean score is within one standard error of
the best.
"""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from dataclasses import replace

from joblib import Parallel, delayed
from scipy.special import log_softmax, log_expit
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.extmath import safe_sparse_dot

from sparsestat.linear_model._base import check_counts, squeeze_path, validate_fit_input
from sparsestat.linear_model._classifier import LBIClassifier, encode_classes, split_beta_path
from sparsestat.linear_model._regressor import LBIRegressor
from sklearn.base import _fit_context

# what a CV estimator chooses itself instead of taking it as a parameter
_READ_AT = ("t", "t_relative")

_CV_PARAMETERS = {
    "cv": ["cv_object"],
    "one_standard_error": ["boolean"],
    "n_jobs": [Integral, None],
    "verbose": ["verbose"],
}


def _path_linear_scores(path, X):
    """Linear predictor at every record time: shape (n_samples, n_times, K)."""
    n_times, p, K = path.coefs.shape
    flat = path.coefs.transpose(1, 0, 2).reshape(p, n_times * K)
    eta = safe_sparse_dot(X, flat, dense_output=True).reshape(X.shape[0], n_times, K)
    return eta + path.intercepts[None, :, :]


def _as_path_3d(path):
    """A path with coefficients (n_times, p, 1), as the scores take them (Split LBI's
    beta path has (n_times, p))."""
    if path.coefs.ndim == 3:
        return path
    return replace(path, coefs=path.coefs[:, :, None], intercepts=path.intercepts[:, None])


def _poisson_deviance(Y, mu):
    """Mean Poisson deviance of the means ``mu`` (n, n_times, 1) for the counts ``Y``."""
    y = Y[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / mu), 0.0)
    return 2 * np.mean(term - (y - mu), axis=(0, 2))


def _regression_scores(path, X, Y, scoring, loss="squared"):
    pred = _path_linear_scores(path, X)
    if loss == "poisson":
        pred = np.exp(pred)
        if scoring in (None, "neg_mean_poisson_deviance"):
            return -_poisson_deviance(Y, pred)
    elif scoring == "neg_mean_poisson_deviance":
        raise ValueError("scoring='neg_mean_poisson_deviance' needs loss='poisson'.")
    resid = pred - Y[:, None, :]
    if scoring in (None, "neg_mean_squared_error"):
        return -np.mean(resid ** 2, axis=(0, 2))
    if scoring == "neg_mean_absolute_error":
        return -np.mean(np.abs(resid), axis=(0, 2))
    ss_tot = np.sum((Y - Y.mean(axis=0)) ** 2, axis=0)
    ss_res = np.sum(resid ** 2, axis=0)  # (n_times, K)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1 - ss_res / ss_tot, 0.0)
    return r2.mean(axis=1)


def _classification_scores(path, X, Y, scoring):
    eta = _path_linear_scores(path, X)
    if Y.shape[1] == 1:  # logistic: log p(y) = log expit(+-eta)
        sign = 2 * Y[:, None, 0] - 1
        logp = log_expit(sign * eta[..., 0])
        correct = logp > np.log(0.5)
        tie = logp == np.log(0.5)
        correct = correct | (tie & (Y[:, None, 0] == 0))
    else:
        logprob = log_softmax(eta, axis=2)
        truth = np.argmax(Y, axis=1)
        logp = logprob[np.arange(Y.shape[0]), :, truth]
        correct = np.argmax(eta, axis=2) == truth[:, None]
    if scoring == "accuracy":
        return correct.mean(axis=0)
    return logp.mean(axis=0)


def _fold(estimator, compute, X, Y, train, test, times, sample_weight, score):
    sw = None if sample_weight is None else sample_weight[train]
    path = compute(estimator, X[train], Y[train], sw, times)
    scores = score(path, X[test], Y[test])
    if scores.shape[0] < times.shape[0]:  # a fold cut short keeps its last score
        scores = np.concatenate([scores, np.full(times.shape[0] - scores.shape[0], scores[-1])])
    return scores


class _PathCV:
    """Shared cross-validation over one time grid (mixin for the CV estimators)."""

    def _select(self, X, Y, y_for_split, sample_weight, compute, score, classifier):
        estimator = self._path_estimator()
        full = compute(estimator, X, Y, sample_weight, None)
        times = full.times
        cv = check_cv(self.cv, y_for_split, classifier=classifier)
        splits = list(cv.split(X, y_for_split))
        fold_scores = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(
            delayed(_fold)(estimator, compute, X, Y, train, test, times, sample_weight, score)
            for train, test in splits
        )
        scores = np.asarray(fold_scores)
        mean = scores.mean(axis=0)
        se = (scores.std(axis=0, ddof=1) / np.sqrt(len(splits)) if len(splits) > 1
              else np.zeros_like(mean))
        best_mean = int(np.argmax(mean))
        within_se = int(np.flatnonzero(mean >= mean[best_mean] - se[best_mean])[0])
        best = within_se if self.one_standard_error else best_mean
        if best == times.shape[0] - 1 and times.shape[0] > 2:
            warnings.warn(
                f"The best cross-validated time is the last one on the grid (t={times[-1]:.4g});"
                " the optimum may lie later on the path. Increase t_ratio.",
                UserWarning, stacklevel=4,   # _select, fit, sklearn's fit wrapper
            )
        self.cv_scores_ = scores
        self.cv_mean_scores_ = mean
        self.cv_standard_errors_ = se
        self.t_best_ = float(times[best_mean])
        self.t_1se_ = float(times[within_se])
        self.times_ = times
        self.t_index_ = best
        self.t_ = float(times[best])
        return full


class LBIRegressorCV(_PathCV, LBIRegressor):
    """:class:`LBIRegressor` with the stopping time ``t`` chosen by K-fold CV.

    Early stopping is the regularization of the inverse scale space: the path
    is computed once on all data, the folds are scored on the same time grid
    and ``t_`` is the time with the best mean validation score.

    With ``D`` the path is Split LBI's: every fold runs Split LBI on the
    full data's time grid and is scored with its ``beta`` (what ``predict``
    uses); the chosen ``t_`` then reads ``coef_``, ``gamma_`` and
    ``sparse_coef_`` off the full-data path.

    Parameters
    ----------
    loss, penalty, groups, penalty_factor, D, solver, kappa, alpha, nu, n_times, t_ratio, \
fit_intercept, normalize, epsilon, max_iter
        As in :class:`LBIRegressor`.
    cv : int, cross-validation generator or iterable, default=None
        Folds (``None``: 5-fold).
    scoring : {'neg_mean_squared_error', 'neg_mean_absolute_error', 'r2', \
'neg_mean_poisson_deviance'}, default=None
        Validation score of the prediction (for ``loss='poisson'`` the mean
        count). ``None``: negative mean squared error, or negative mean
        Poisson deviance for ``loss='poisson'``.
    one_standard_error : bool, default=False
        Choose the earliest time within one standard error of the best score.
    n_jobs : int, default=None
        Folds run in parallel through joblib (any joblib backend, e.g. dask or ray).
    verbose : int, default=0
        joblib verbosity.

    Attributes
    ----------
    t_ : float
        Chosen time.
    times_ : ndarray of shape (n_times,)
        The shared time grid.
    cv_scores_ : ndarray of shape (n_folds, n_times)
        Validation score of every fold at every time.
    cv_mean_scores_ : ndarray of shape (n_times,)
        Mean over folds.
    cv_standard_errors_ : ndarray of shape (n_times,)
        Standard error of the mean score: the folds' standard deviation
        (``ddof=1``) over the square root of the number of folds (zeros for a
        single split).
    t_best_ : float
        The time with the best mean score.
    t_1se_ : float
        The earliest (sparsest) time whose mean score is within one standard
        error of the best (the one-standard-error rule); ``t_`` is this time
        when ``one_standard_error=True``, else ``t_best_``.
    coef_, intercept_, regularization_path_, entry_times_, n_iter_
        As in :class:`LBIRegressor`, read at ``t_``.
    gamma_, sparse_coef_, sparse_intercept_, gamma_path_, nu_
        With ``D`` only, as in :class:`LBIRegressor`, read at ``t_``.

    See Also
    --------
    LBIRegressor : The path at a given ``t``.
    sklearn.linear_model.LassoCV : Cross-validated lasso.

    Examples
    --------
    >>> import numpy as np
    >>> from sparsestat import LBIRegressorCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 30))
    >>> y = X[:, :3] @ [3.0, -2.0, 1.5] + rng.standard_normal(200)
    >>> reg = LBIRegressorCV(cv=5).fit(X, y)
    >>> np.flatnonzero(np.abs(reg.coef_) > 0.5).tolist()
    [0, 1, 2]

    With a structure operator: a piecewise constant signal and first differences.

    >>> X = rng.standard_normal((120, 8))
    >>> y = X @ np.repeat([2.0, -1.0], 4) + 0.3 * rng.standard_normal(120)
    >>> D = np.diff(np.eye(8), axis=0)
    >>> reg = LBIRegressorCV(D=D, cv=3, t_ratio=30, n_times=30).fit(X, y)
    >>> np.flatnonzero(np.abs(reg.gamma_) > 1e-8).tolist()  # the one jump
    [3]
    """

    _parameter_constraints: dict = {
        **{k: v for k, v in LBIRegressor._parameter_constraints.items() if k not in _READ_AT},
        **_CV_PARAMETERS,
        "scoring": [StrOptions({"neg_mean_squared_error", "neg_mean_absolute_error", "r2",
                                "neg_mean_poisson_deviance"}), None],
    }

    def __init__(self, loss="squared", penalty="l1", groups=None, penalty_factor=None, D=None,
                 solver="lbi", kappa=10.0, alpha=None, nu=None, n_times=100, t_ratio=100.0,
                 fit_intercept=True, normalize=True, epsilon=1.35, max_iter=None, cv=None,
                 scoring=None, one_standard_error=False, n_jobs=None, verbose=0):
        super().__init__(loss=loss, penalty=penalty, groups=groups,
                         penalty_factor=penalty_factor, D=D, solver=solver,
                         kappa=kappa, alpha=alpha, nu=nu, n_times=n_times, t_ratio=t_ratio,
                         fit_intercept=fit_intercept, normalize=normalize, epsilon=epsilon,
                         max_iter=max_iter)
        self.cv = cv
        self.scoring = scoring
        self.one_standard_error = one_standard_error
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _path_estimator(self):
        params = {k: getattr(self, k) for k in LBIRegressor._parameter_constraints
                  if k not in _READ_AT}
        return LBIRegressor(**params)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Compute the path, cross-validate the stopping time and read the model there.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : LBIRegressorCV
        """
        X, y, sample_weight = validate_fit_input(self, X, y, sample_weight, regression=True)
        if self.loss == "poisson":
            check_counts(y, sample_weight)
        single = y.ndim == 1
        Y = y.reshape(-1, 1) if single else y
        if self.D is not None and not single:
            raise ValueError("Split LBI (D given) supports a single target; y must be 1-D.")
        scoring, loss = self.scoring, self.loss
        splits = {}

        def compute(est, Xs, Ys, sw, times):
            if est.D is None:
                return est._compute_path(Xs, Ys, sw, times)
            split = est._split_path(Xs, Ys, sw, times)
            if times is None:  # the full-data path, kept to read the model at t_
                splits["full"] = split
            return _as_path_3d(split.beta_path)

        def score(path, Xs, Ys):
            return _regression_scores(path, Xs, Ys, scoring, loss)

        full = self._select(X, Y, y if single else None, sample_weight, compute, score, False)
        if self.D is not None:
            return self._fit_split(X, Y, single, sample_weight, self.t_, split=splits["full"])
        self.regularization_path_ = squeeze_path(full, single)
        self._read_path(self.regularization_path_, self.t_)
        return self


class LBIClassifierCV(_PathCV, LBIClassifier):
    """:class:`LBIClassifier` with the stopping time ``t`` chosen by K-fold CV.

    Parameters
    ----------
    penalty, groups, penalty_factor, D, kappa, alpha, nu, n_times, t_ratio, fit_intercept, \
normalize, max_iter
        As in :class:`LBIClassifier` (with ``D``: two classes, and every fold runs
        logistic Split LBI on the full data's time grid, scored with ``beta``).
    cv : int, cross-validation generator or iterable, default=None
        Folds (``None``: stratified 5-fold).
    scoring : {'neg_log_loss', 'accuracy'}, default=None
        Validation score (``None``: mean log-likelihood, i.e. negative log loss).
    one_standard_error : bool, default=False
        Choose the earliest time within one standard error of the best score.
    n_jobs : int, default=None
        Folds run in parallel through joblib.
    verbose : int, default=0
        joblib verbosity.

    Attributes
    ----------
    t_, times_, cv_scores_, cv_mean_scores_, cv_standard_errors_, t_best_, t_1se_
        As in :class:`LBIRegressorCV`.
    classes_, coef_, intercept_, regularization_path_, entry_times_, n_iter_
        As in :class:`LBIClassifier`, read at ``t_``.

    See Also
    --------
    LBIClassifier : The path at a given ``t``.
    sklearn.linear_model.LogisticRegressionCV : Cross-validated logistic regression.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sparsestat import LBIClassifierCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = LBIClassifierCV(cv=3, kappa=2.0, t_ratio=300, n_times=30).fit(X, y)
    >>> bool(0 < clf.t_index_ < len(clf.times_) - 1)  # the best time lies inside the grid
    True
    >>> bool(clf.score(X, y) > 0.95)
    True
    """

    _parameter_constraints: dict = {
        **{k: v for k, v in LBIClassifier._parameter_constraints.items() if k not in _READ_AT},
        **_CV_PARAMETERS,
        "scoring": [StrOptions({"neg_log_loss", "accuracy"}), None],
    }

    def __init__(self, penalty="l1", groups=None, penalty_factor=None, D=None, kappa=10.0,
                 alpha=None, nu=None, n_times=100, t_ratio=100.0, fit_intercept=True,
                 normalize=True, max_iter=None, cv=None, scoring=None, one_standard_error=False,
                 n_jobs=None, verbose=0):
        super().__init__(penalty=penalty, groups=groups, penalty_factor=penalty_factor, D=D,
                         nu=nu, kappa=kappa, alpha=alpha,
                         n_times=n_times, t_ratio=t_ratio, fit_intercept=fit_intercept,
                         normalize=normalize, max_iter=max_iter)
        self.cv = cv
        self.scoring = scoring
        self.one_standard_error = one_standard_error
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _path_estimator(self):
        params = {k: getattr(self, k) for k in LBIClassifier._parameter_constraints
                  if k not in _READ_AT}
        return LBIClassifier(**params)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Compute the path, cross-validate the stopping time and read the model there.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : LBIClassifierCV
        """
        X, y, sample_weight = validate_fit_input(self, X, y, sample_weight, regression=False)
        self.classes_, Y, self._loss = encode_classes(y, sample_weight)
        loss, scoring = self._loss, self.scoring
        splits = {}

        def compute(est, Xs, Ys, sw, times):
            if est.D is None:
                return est._compute_path(Xs, Ys, loss, sw, times)
            split = est._split_path(Xs, Ys, loss, sw, times)
            if times is None:  # the full-data path, kept to read the model at t_
                splits["full"] = split
            return split_beta_path(split)

        def score(path, Xs, Ys):
            return _classification_scores(path, Xs, Ys, scoring)

        if self.D is not None and loss != "logistic":
            raise ValueError("Split LBI (D given) is for two classes (the logistic loss); "
                             f"the target has {len(self.classes_)} classes.")
        full = self._select(X, Y, y, sample_weight, compute, score, True)
        if self.D is not None:
            return self._fit_split(X, Y, loss, sample_weight, self.t_, split=splits["full"])
        self.regularization_path_ = full
        self._read_path(full, self.t_)
        return self
