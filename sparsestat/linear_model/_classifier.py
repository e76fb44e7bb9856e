"""LBIClassifier: sparse logistic / multinomial regression along the LBI path."""

from __future__ import annotations

import dataclasses
from numbers import Real

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from sparsestat import _engine
from sparsestat.linear_model._base import (
    PATH_PARAMETERS,
    beta_read_times,
    check_groups,
    check_prediction_times,
    linear_predict,
    path_linear_predict,
    path_in_dtype,
    path_time,
    validate_fit_input,
)


def split_beta_path(split):
    """Split LBI's ``beta`` path with coefficients (n_times, p, 1), as a classifier's."""
    beta = split.beta_path
    return dataclasses.replace(beta, coefs=beta.coefs[:, :, None],
                               intercepts=np.ascontiguousarray(beta.intercepts[:, None]))


def encode_classes(y, sample_weight=None):
    """Encode labels; return (classes, 0/1 column or one-hot matrix, loss name)."""
    check_classification_targets(y)
    enc = LabelEncoder().fit(y)
    classes = enc.classes_
    codes = enc.transform(y)
    if sample_weight is not None:
        weighted = np.bincount(codes, weights=sample_weight, minlength=classes.shape[0])
        if np.count_nonzero(weighted > 0) < 2:
            raise ValueError(
                "Only one class has positive sample weight; a classifier needs samples of "
                "at least 2 classes with nonzero weight."
            )
    if classes.shape[0] < 2:
        raise ValueError(
            f"The target has a single class ({classes[0]!r}); a classifier needs samples of "
            "at least 2 classes."
        )
    if classes.shape[0] == 2:
        return classes, codes.astype(float)[:, None], "logistic"
    return classes, np.eye(classes.shape[0])[codes], "multinomial"


class LBIClassifier(ClassifierMixin, BaseEstimator):
    """Sparse logistic (binary) or multinomial regression read off an LBI path.

    The path starts at the intercept-only model at ``t0`` and features enter
    as ``t`` grows. With more than two classes, ``penalty='l1'`` lets each
    class pick its own features, while ``penalty='group'`` selects a feature
    for all classes at once (the rows of ``coef_`` enter together).

    Parameters
    ----------
    penalty : {'l1', 'group'}, default='l1'
        Elementwise sparsity or group sparsity (``groups`` of features, or the
        rows of the coefficient matrix for more than two classes).
    groups : array-like of shape (n_features,), default=None
        Group label of each feature.
    penalty_factor : array-like of shape (n_features,), default=None
        Weight of each feature's l1 penalty (``penalty='l1'``), as glmnet's
        ``penalty.factor``: the penalty is ``sum_j f_j |beta_j|``, so a feature
        with ``f_j = 2`` needs twice the correlation to enter, and ``f_j = 0``
        leaves it unpenalized: in the model from ``t0`` on (entry time 0),
        starting at the fit of the logistic (multinomial) loss on the
        intercepts and the unpenalized features alone; unpenalized features
        that separate the classes are refused. ``None``: all ones. Factors act
        on the standardized features.
    D : array-like or sparse matrix of shape (n_structure, n_features), default=None
        Structure operator (two classes only): when given, ``gamma = D beta``
        is made sparse by Split LBI with the logistic loss, ``mean
        logistic(y, X beta + b) + ||gamma - D beta||^2 / (2 nu)``; ``coef_`` is
        ``beta`` (not penalized: up to ``t0_`` it is the fit with ``gamma = 0``).
    kappa : float, default=10.0
        LBI damping.
    alpha : float, default=None
        Step size; ``None`` picks a stable default from the loss's curvature.
    nu : float, default=None
        Split LBI coupling (``None``: ``||D||^2 / ||X^T X / n||``).
    n_times : int, default=100
        Number of record times.
    t_ratio : float, default=100.0
        The path runs from ``t0`` to ``t_ratio * t0``.
    t : float, default=None
        Time at which the model is read (``None``: the end of the path). A
        time past the end warns and reads the end.
    t_relative : float, default=None
        Read the model at ``t_relative * t0`` instead (a multiple of the first
        entry time; the same point of the path on every data set).
    fit_intercept : bool, default=True
        Fit unpenalized intercepts.
    normalize : bool, default=True
        Standardize features first.
    max_iter : int, default=None
        Iteration budget.
    verbose : int, default=0
        Print progress about every tenth of the path when positive.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients at ``t_`` (float32 when ``X`` is float32).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts at ``t_``.
    t_ : float
        Time at which the model was read.
    t0_ : float
        First entry time of the path.
    regularization_path_ : RegularizationPath
        Coefficients of shape (n_times, n_features, 1 or n_classes).
    entry_times_ : ndarray of shape (n_features, 1 or n_classes)
        Entry times (``np.inf``: never).
    gamma_ : ndarray of shape (n_structure,)
        Split LBI only: ``gamma`` at ``t_``.
    gamma_path_ : RegularizationPath
        Split LBI only: the path of ``gamma`` (``entry_times_`` are its rows').
    nu_ : float
        Split LBI only: the coupling used.
    n_iter_ : int
        LBI iterations.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    LBIClassifierCV : Chooses ``t`` by cross-validation.
    sklearn.linear_model.LogisticRegression : Penalized fit at one strength.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sparsestat import LBIClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LBIClassifier(t_ratio=20).fit(X, y)
    >>> clf.coef_.shape
    (3, 4)
    >>> bool(clf.score(X, y) > 0.9)
    True

    Split LBI: two classes, coefficients fused by first differences.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((300, 6))
    >>> y = (X @ np.repeat([1.5, -1.5], 3) + rng.logistic(size=300) > 0).astype(int)
    >>> clf = LBIClassifier(D=np.diff(np.eye(6), axis=0), t_ratio=10).fit(X, y)
    >>> int(np.argmin(clf.entry_times_))  # the jump between features 2 and 3 enters first
    2
    """

    _parameter_constraints: dict = {
        **PATH_PARAMETERS,
        "penalty_factor": ["array-like", None],
        "D": ["array-like", "sparse matrix", None],
        "nu": [Interval(Real, 0, None, closed="neither"), None],
        "verbose": ["verbose"],
    }

    def __init__(self, penalty="l1", groups=None, penalty_factor=None, D=None, kappa=10.0,
                 alpha=None, nu=None, n_times=100, t_ratio=100.0, t=None, t_relative=None,
                 fit_intercept=True, normalize=True, max_iter=None, verbose=0):
        self.penalty = penalty
        self.groups = groups
        self.penalty_factor = penalty_factor
        self.D = D
        self.kappa = kappa
        self.alpha = alpha
        self.nu = nu
        self.n_times = n_times
        self.t_ratio = t_ratio
        self.t = t
        self.t_relative = t_relative
        self.fit_intercept = fit_intercept
        self.normalize = normalize
        self.max_iter = max_iter
        self.verbose = verbose

    def _compute_path(self, X, Y, loss, sample_weight=None, times=None):
        return _engine.lbi_path(
            X, Y, loss=loss, penalty=self.penalty,
            groups=check_groups(self.groups, X.shape[1], self.penalty),
            kappa=self.kappa, alpha=self.alpha, n_times=self.n_times, t_ratio=self.t_ratio,
            times=times, fit_intercept=self.fit_intercept, normalize=self.normalize,
            sample_weight=sample_weight, max_iter=self.max_iter, verbose=self.verbose,
            penalty_factor=self.penalty_factor)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Compute the path and read the classifier at ``t``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels (at least two classes).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : LBIClassifier
            Fitted estimator.
        """
        X, y, sample_weight = validate_fit_input(self, X, y, sample_weight, regression=False)
        self.classes_, Y, self._loss = encode_classes(y, sample_weight)
        if self.D is not None:
            return self._fit_split(X, Y, self._loss, sample_weight, self.t, self.t_relative)
        path = path_in_dtype(self._compute_path(X, Y, self._loss, sample_weight), X.dtype)
        self.regularization_path_ = path
        self._read_path(path, self.t, self.t_relative)
        return self

    def _split_path(self, X, Y, loss, sample_weight=None, times=None):
        """The logistic Split LBI path (``D`` given) on validated data; also used on folds."""
        if loss != "logistic":
            raise ValueError("Split LBI (D given) is for two classes (the logistic loss); "
                             f"the target has {Y.shape[1]} classes.")
        if sample_weight is not None:
            raise ValueError("Split LBI (D given) does not support sample_weight yet.")
        if self.penalty_factor is not None:
            raise ValueError("penalty_factor weighs the penalty of single features; with D "
                             "given the penalty is on the rows of D: leave penalty_factor=None.")
        D = self.D
        if not hasattr(D, "shape") or np.ndim(D) != 2:
            D = np.atleast_2d(np.asarray(D, dtype=float))
        groups = check_groups(self.groups, D.shape[0], self.penalty, "row of D")
        return _engine.split_lbi_path(
            X, Y[:, 0], D, loss="logistic", penalty=self.penalty, groups=groups,
            kappa=self.kappa, alpha=self.alpha, nu=self.nu, n_times=self.n_times,
            t_ratio=self.t_ratio, times=times, fit_intercept=self.fit_intercept,
            normalize=self.normalize, max_iter=self.max_iter)

    def _fit_split(self, X, Y, loss, sample_weight, t=None, t_relative=None, split=None):
        """Fit logistic Split LBI and read it at ``t`` (``split``: a path already computed)."""
        if split is None:
            split = self._split_path(X, Y, loss, sample_weight)
        path = split_beta_path(split)
        self.regularization_path_ = path
        self._read_path(path, t, t_relative)
        self.gamma_path_ = split.gamma_path
        self.gamma_ = split.gamma_path.coef_at(self.t_)
        self.entry_times_ = split.gamma_path.entry_times
        self.nu_ = split.nu
        return self

    def _read_path(self, path, t, t_relative=None):
        path.feature_names = getattr(self, "feature_names_in_", None)
        self.t_ = path_time(path, t, t_relative)
        self.t0_ = float(path.t0)
        dtype = path.coefs.dtype  # float32 kept when X was float32
        at = float(beta_read_times(path, self.t_, self.D is not None))
        self.coef_ = path.coef_at(at).T.astype(dtype)
        self.intercept_ = np.atleast_1d(path.intercept_at(at)).astype(dtype)
        self.entry_times_ = path.entry_times
        self.n_iter_ = path.n_iter

    def decision_function(self, X, t=None):
        """Linear scores at ``t_``, or at any time ``t`` on the path.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to score.
        t : float or array-like of shape (n_times,), default=None
            Time(s) on the path at which to read the model (see
            :meth:`predict_proba`); ``None``: the fitted model at ``t_``.

        Returns
        -------
        scores : ndarray
            Shape (n_samples,) for two classes, else (n_samples, n_classes);
            an array of times adds a last axis of length n_times.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sparsestat import LBIClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = LBIClassifier(t_ratio=20, n_times=20).fit(X, y)
        >>> clf.decision_function(X[:4], t=clf.regularization_path_.times[:5]).shape
        (4, 3, 5)
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                          dtype=[np.float64, np.float32])
        if t is None:
            scores = linear_predict(X, self.coef_, self.intercept_)[..., None]
            scalar = True
        else:
            path = self.regularization_path_
            times, scalar = check_prediction_times(path, t)
            read = beta_read_times(path, times, self.D is not None)
            scores = path_linear_predict(X, path, read)
        if scores.shape[1] == 1:
            scores = scores[:, 0]
        return scores[..., 0] if scalar else scores

    def predict_proba(self, X, t=None):
        """Class probabilities at ``t_``, or at any time ``t`` on the path.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to classify.
        t : float or array-like of shape (n_times,), default=None
            Time(s) on the path (the scale of ``t_``) at which to read the
            model. ``None``: the fitted model at ``t_``. Before ``t0_`` the
            model is the intercept-only one; between record times the path is
            interpolated linearly; a time outside ``[0, t_max]`` raises a
            ``ValueError``.

        Returns
        -------
        proba : ndarray
            Shape (n_samples, n_classes), columns in the order of
            ``classes_``; an array of times adds a last axis of length n_times.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from sparsestat import LBIClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = LBIClassifier(t_ratio=20, n_times=20).fit(X, y)
        >>> proba = clf.predict_proba(X, t=[0.0, clf.t_])
        >>> proba.shape
        (150, 3, 2)
        >>> bool(np.allclose(proba[:, :, 0], 1 / 3, atol=1e-6))  # the empty model
        True
        """
        scores = self.decision_function(X, t)
        if self.classes_.shape[0] == 2:
            p1 = expit(scores)
            return np.stack([1.0 - p1, p1], axis=1)
        return softmax(scores, axis=1)

    def predict_log_proba(self, X, t=None):
        """Logarithm of :meth:`predict_proba` (same ``t``, same shapes)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X, t))

    def predict(self, X, t=None):
        """Most probable class for each sample, at ``t_`` or at any time ``t`` on the path.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to classify.
        t : float or array-like of shape (n_times,), default=None
            As in :meth:`predict_proba`.

        Returns
        -------
        labels : ndarray of shape (n_samples,) or (n_samples, n_times)
            Class labels (one column per time for an array of times).

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sparsestat import LBIClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = LBIClassifier(t_ratio=20, n_times=20).fit(X, y)
        >>> clf.predict(X[:3], t=[clf.t0_, clf.t_]).shape
        (3, 2)
        """
        scores = self.decision_function(X, t)
        if self.classes_.shape[0] == 2:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
