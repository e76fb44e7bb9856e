"""LBIRegressor: sparse regression along the LBI / ISS / Split LBI path."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.metrics import d2_tweedie_score
from sklearn.utils.validation import check_is_fitted, validate_data

from sparsestat import _engine
from sparsestat.linear_model._base import (
    PATH_PARAMETERS,
    beta_read_times,
    check_groups,
    check_counts,
    check_prediction_times,
    linear_predict,
    path_linear_predict,
    path_in_dtype,
    path_time,
    squeeze_path,
    validate_fit_input,
)


class LBIRegressor(RegressorMixin, BaseEstimator):
    """Sparse linear regression read off an inverse-scale-space path.

    The Linearized Bregman Iteration follows the path of the l1 (or group)
    regularized fit from the empty model at ``t0 = 1 / lambda_max`` towards the
    unregularized fit; important features enter first. The model is read at
    time ``t`` (``1 / lambda``; default: the end of the path). With ``D`` given
    the structural sparsity ``gamma = D beta`` is followed by Split LBI instead.

    Units: the path is computed for the standardized target ``y / s`` (``s``
    the root mean square deviation of ``y``; for ``loss='huber'`` a robust
    scale of preliminary residuals) and mapped back, so ``fit(X, c * y + d)``
    gives ``c`` times the coefficients with the same path, entry order, times
    and iterations. ``kappa``, ``alpha`` and ``t`` are those of the
    standardized problem: with ``normalize=True``, ``t0`` is one over the
    largest absolute correlation of a feature with ``y``, whatever the units.

    Parameters
    ----------
    loss : {'squared', 'huber', 'poisson'}, default='squared'
        Data fit. ``'huber'`` uses the threshold ``epsilon * sigma`` with
        ``sigma`` a robust (MAD) scale of preliminary residuals.
        ``'poisson'`` is the Poisson log-likelihood with the log link for
        counts or rates ``y >= 0`` (single target): ``predict`` returns the
        mean ``exp(X coef + intercept)`` and ``score`` the fraction of Poisson
        deviance explained (D^2), as :class:`sklearn.linear_model.PoissonRegressor`.
        ``sample_weight`` then acts as an exposure: a rate ``y = count /
        exposure`` with weight ``exposure`` has the likelihood of ``count``
        with offset ``log(exposure)``. Counts are not rescaled (their scale is
        part of the model, the variance being the mean); at zero coefficients
        the intercept is the log of the weighted mean of ``y``.
    penalty : {'l1', 'group'}, default='l1'
        Sparsity of single coefficients or of groups of features (``groups``;
        for a multi-output target the groups default to the rows of ``coef_``).
    groups : array-like of shape (n_features,), default=None
        Group label of each feature, for ``penalty='group'``.
    penalty_factor : array-like of shape (n_features,), default=None
        Weight of each feature's l1 penalty (``penalty='l1'``), as glmnet's
        ``penalty.factor``: the penalty is ``sum_j f_j |beta_j|``, so a feature
        with ``f_j = 2`` needs twice the correlation to enter, and ``f_j = 0``
        leaves it unpenalized: in the model from ``t0`` on (entry time 0),
        starting at the fit of the loss on the intercept and the unpenalized
        features alone, for every loss, dense or sparse ``X``. ``None``: all
        ones. Factors act on the standardized features.
    D : array-like or sparse matrix of shape (n_structure, n_features), default=None
        Structure operator: when given, ``gamma = D beta`` is made sparse by
        Split LBI (e.g. first differences for a fused model).
    solver : {'lbi', 'iss'}, default='lbi'
        ``'iss'`` is the exact inverse scale space path (squared loss, l1),
        the ``kappa -> infinity`` limit of LBI.
    kappa : float, default=10.0
        Damping of LBI; larger is less biased and needs more iterations.
    alpha : float, default=None
        Step size of the explicit iteration. ``None``: for the squared loss,
        stabilized super-steps of the same flow sized by the active set (far fewer
        gradients, see the user guide's "Choosing the parameters"); for the other losses
        the stable ``c / (kappa ||X^T X / n||)``.
    nu : float, default=None
        Split LBI coupling (``None``: ``||D||^2 / ||X^T X / n||``).
    n_times : int, default=100
        Number of record times on the geometric grid.
    t_ratio : float, default=100.0
        The grid runs from ``t0`` to ``t_ratio * t0``.
    t : float, default=None
        Time at which ``coef_`` is read, on the standardized problem; ``None``
        (and no ``t_relative``) means the end of the path. A time past the
        end warns and reads the end.
    t_relative : float, default=None
        Read ``coef_`` at ``t_relative * t0`` instead, a multiple of the first
        entry time (``1``: the empty model; ``t_ratio``: the end of the path).
        The same value means the same point of the path on every data set, so
        it can be grid-searched without a first fit.
    fit_intercept : bool, default=True
        Fit an unpenalized intercept.
    normalize : bool, default=True
        Standardize features before the path (coefficients are reported on
        the original scale).
    epsilon : float, default=1.35
        Huber threshold in robust standard deviations.
    max_iter : int, default=None
        Iteration budget (``None``: as many as the grid needs).
    verbose : int, default=0
        Print progress about every tenth of the path (time reached, grid
        points recorded, active set size, events so far) when positive.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients at time ``t_`` (float32 when ``X`` is float32, as is the
        path; the standardized copy of ``X`` is then float32 too).
    intercept_ : float or ndarray of shape (n_targets,)
        Intercept at time ``t_``.
    t_ : float
        Time at which the model was read (on the standardized problem).
    t0_ : float
        First entry time of the path (``t_ / t0_`` is the relative time).
    regularization_path_ : RegularizationPath
        The whole path (for Split LBI: the path of ``beta``).
    entry_times_ : ndarray of shape (n_features,) or (n_features, n_targets)
        When each coefficient entered (``np.inf``: never). With ``D``: entry
        times of the rows of ``gamma``.
    gamma_ : ndarray of shape (n_structure,)
        Split LBI only: ``gamma`` at ``t_``.
    sparse_coef_ : ndarray of shape (n_features,)
        Split LBI only: ``coef_`` projected so that ``D coef`` has the sparsity
        of ``gamma_``.
    sparse_intercept_ : float
        Split LBI only: the intercept that goes with ``sparse_coef_`` (it keeps
        the prediction at the mean of X unchanged).
    gamma_path_ : RegularizationPath
        Split LBI only: the path of ``gamma``.
    n_iter_ : int
        Iterations (LBI) or knots (ISS) computed.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    LBIRegressorCV : Chooses ``t`` by cross-validation.
    sklearn.linear_model.Lasso : The l1-penalized fit at one ``lambda``.

    Examples
    --------
    >>> import numpy as np
    >>> from sparsestat import LBIRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 10))
    >>> y = 2 * X[:, 0] - X[:, 3] + 0.1 * rng.standard_normal(100)
    >>> reg = LBIRegressor().fit(X, y)
    >>> reg.regularization_path_.entry_order()[:2]
    array([0, 3])
    >>> np.round(reg.coef_[[0, 3]], 1)
    array([ 2., -1.])
    """

    _parameter_constraints: dict = {
        **PATH_PARAMETERS,
        "loss": [StrOptions({"squared", "huber", "poisson"})],
        "penalty_factor": ["array-like", None],
        "D": ["array-like", "sparse matrix", None],
        "solver": [StrOptions({"lbi", "iss"})],
        "nu": [Interval(Real, 0, None, closed="neither"), None],
        "epsilon": [Interval(Real, 1, None, closed="left")],
        "verbose": ["verbose"],
    }

    def __init__(self, loss="squared", penalty="l1", groups=None, penalty_factor=None, D=None,
                 solver="lbi", kappa=10.0, alpha=None, nu=None, n_times=100, t_ratio=100.0,
                 t=None, t_relative=None, fit_intercept=True, normalize=True, epsilon=1.35,
                 max_iter=None, verbose=0):
        self.loss = loss
        self.penalty = penalty
        self.groups = groups
        self.penalty_factor = penalty_factor
        self.D = D
        self.solver = solver
        self.kappa = kappa
        self.alpha = alpha
        self.nu = nu
        self.n_times = n_times
        self.t_ratio = t_ratio
        self.t = t
        self.t_relative = t_relative
        self.fit_intercept = fit_intercept
        self.normalize = normalize
        self.epsilon = epsilon
        self.max_iter = max_iter
        self.verbose = verbose

    def _compute_path(self, X, Y, sample_weight=None, times=None):
        """The path on validated data; also used by the CV estimator on folds."""
        groups = check_groups(self.groups, X.shape[1], self.penalty)
        if self.solver == "iss":
            if self.loss != "squared" or self.penalty != "l1" or self.D is not None:
                raise ValueError(
                    "solver='iss' is the exact path of the squared loss with the l1 penalty; "
                    f"got loss={self.loss!r}, penalty={self.penalty!r}"
                    f"{', D given' if self.D is not None else ''}. Use solver='lbi'."
                )
            return _engine.iss_path(
                X, Y, n_times=self.n_times, t_ratio=self.t_ratio, times=times,
                fit_intercept=self.fit_intercept, normalize=self.normalize,
                sample_weight=sample_weight, max_iter=self.max_iter, verbose=self.verbose,
                penalty_factor=self.penalty_factor)
        return _engine.lbi_path(
            X, Y, loss=self.loss, penalty=self.penalty, groups=groups, kappa=self.kappa,
            alpha=self.alpha, n_times=self.n_times, t_ratio=self.t_ratio, times=times,
            fit_intercept=self.fit_intercept, normalize=self.normalize, epsilon=self.epsilon,
            sample_weight=sample_weight, max_iter=self.max_iter, verbose=self.verbose,
            penalty_factor=self.penalty_factor)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Compute the path and read the model at ``t``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; a weight of 2 counts a sample twice.

        Returns
        -------
        self : LBIRegressor
            Fitted estimator.
        """
        X, y, sample_weight = validate_fit_input(self, X, y, sample_weight, regression=True)
        if self.loss == "poisson":
            check_counts(y, sample_weight)
        single = y.ndim == 1
        Y = y.reshape(-1, 1) if single else y
        if self.D is not None:
            return self._fit_split(X, Y, single, sample_weight, self.t, self.t_relative)
        path = squeeze_path(path_in_dtype(self._compute_path(X, Y, sample_weight), X.dtype),
                            single)
        self.regularization_path_ = path
        self._read_path(path, self.t, self.t_relative)
        return self

    def _read_path(self, path, t, t_relative=None):
        path.feature_names = getattr(self, "feature_names_in_", None)
        self.t_ = path_time(path, t, t_relative)
        self.t0_ = float(path.t0)
        dtype = path.coefs.dtype  # float32 kept when X was float32
        at = float(beta_read_times(path, self.t_, self.D is not None))
        coef = path.coef_at(at).astype(dtype, copy=False)
        intercept = np.asarray(path.intercept_at(at), dtype=dtype)
        self.coef_ = coef if coef.ndim == 1 else coef.T.copy()
        if not self.fit_intercept:
            intercept = np.zeros_like(intercept)
        if intercept.ndim > 0:
            self.intercept_ = intercept
        else:  # a Python float, or a float32 scalar for float32 data
            self.intercept_ = float(intercept) if dtype == np.float64 else intercept[()]
        self.entry_times_ = path.entry_times
        self.n_iter_ = path.n_iter

    def _split_path(self, X, Y, sample_weight=None, times=None):
        """The Split LBI path on validated data (``D`` given); also used on CV folds."""
        if Y.shape[1] != 1:
            raise ValueError("Split LBI (D given) supports a single target; y must be 1-D.")
        if sample_weight is not None:
            raise ValueError("Split LBI (D given) does not support sample_weight yet.")
        if self.solver != "lbi" or self.loss != "squared":
            raise ValueError("With D given the path is Split LBI: use solver='lbi', "
                             "loss='squared'.")
        if self.penalty_factor is not None:
            raise ValueError("penalty_factor weighs the penalty of single features; with D "
                             "given the penalty is on the rows of D: leave penalty_factor=None.")
        D = self.D
        if not hasattr(D, "shape") or np.ndim(D) != 2:
            D = np.atleast_2d(np.asarray(D, dtype=float))
        if D.shape[1] != X.shape[1]:
            raise ValueError(
                f"D must have one column per feature: X has {X.shape[1]} features but D has "
                f"shape {D.shape}."
            )
        groups = check_groups(self.groups, D.shape[0], self.penalty, "row of D")
        return _engine.split_lbi_path(
            X, Y[:, 0], D, penalty=self.penalty, groups=groups, kappa=self.kappa,
            alpha=self.alpha, nu=self.nu, n_times=self.n_times, t_ratio=self.t_ratio,
            times=times, fit_intercept=self.fit_intercept, normalize=self.normalize,
            max_iter=self.max_iter)

    def _fit_split(self, X, Y, single, sample_weight, t=None, t_relative=None, split=None):
        """Fit Split LBI and read it at ``t`` (``split``: a path already computed)."""
        if not single:
            raise ValueError("Split LBI (D given) supports a single target; y must be 1-D.")
        if split is None:
            split = self._split_path(X, Y, sample_weight)
        x_mean = np.asarray(X.mean(axis=0)).ravel()
        self.regularization_path_ = split.beta_path
        self._read_path(split.beta_path, t, t_relative)
        self.gamma_path_ = split.gamma_path
        self.gamma_ = split.gamma_path.coef_at(self.t_)
        self.sparse_coef_ = split.sparse_coef_at(self.t_)
        self.sparse_intercept_ = float(self.intercept_ + (self.coef_ - self.sparse_coef_) @ x_mean)
        self.entry_times_ = split.gamma_path.entry_times
        self.nu_ = split.nu
        return self

    def predict(self, X, t=None):
        """Predict with the linear model read at ``t_``, or at any time ``t`` on the path.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to predict.
        t : float or array-like of shape (n_times,), default=None
            Time(s) on the path (the scale of ``t_``, ``1 / lambda`` of the
            standardized problem) at which to read the model. ``None``: the
            fitted ``coef_`` at ``t_``. A time before ``t0_`` reads the empty
            model (the intercept only); a time between record times reads the
            path's interpolation (linear for LBI, piecewise constant for ISS).
            With ``D`` (Split LBI) ``coef_`` is ``beta``, which is not
            penalized: up to ``t0_`` it is its start, the fit with ``gamma = 0``.
            A time outside ``[0, t_max]`` (``t_max = regularization_path_.times[-1]``)
            raises a ``ValueError``.

        Returns
        -------
        y_pred : ndarray
            Shape (n_samples,) or (n_samples, n_targets) for ``t=None`` or a
            scalar ``t``; an array of times adds a last axis of length
            n_times: (n_samples, n_times) or (n_samples, n_targets, n_times).

        Examples
        --------
        >>> import numpy as np
        >>> from sparsestat import LBIRegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.standard_normal((50, 3))
        >>> y = 2 * X[:, 0] + 0.1 * rng.standard_normal(50)
        >>> reg = LBIRegressor().fit(X, y)
        >>> times = reg.regularization_path_.times[[0, 50, -1]]
        >>> reg.predict(X[:2], t=times).shape
        (2, 3)
        >>> bool(np.allclose(reg.predict(X, t=reg.t_), reg.predict(X)))
        True
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                          dtype=[np.float64, np.float32])
        if t is None:
            return self._mean(linear_predict(X, self.coef_, self.intercept_))
        path = self.regularization_path_
        times, scalar = check_prediction_times(path, t)
        read = beta_read_times(path, times, self.D is not None)
        pred = self._mean(path_linear_predict(X, path, read))
        return pred[..., 0] if scalar else pred

    def _mean(self, eta):
        """The prediction from the linear predictor: ``eta``, or ``exp(eta)`` (Poisson)."""
        return np.exp(eta) if self.loss == "poisson" else eta

    def score(self, X, y, sample_weight=None):
        """R^2 of the prediction, or for ``loss='poisson'`` the deviance explained D^2.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True values (counts for ``loss='poisson'``).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            ``1 - deviance(y, predict(X)) / deviance(y, weighted mean of y)``
            with the Poisson deviance (``loss='poisson'``), else R^2.

        Examples
        --------
        >>> import numpy as np
        >>> from sparsestat import LBIRegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.standard_normal((200, 3))
        >>> y = rng.poisson(np.exp(0.5 + X[:, 0]))
        >>> reg = LBIRegressor(loss="poisson").fit(X, y)
        >>> bool(0.3 < reg.score(X, y) < 1)
        True
        """
        if self.loss != "poisson":
            return super().score(X, y, sample_weight)
        return float(d2_tweedie_score(y, self.predict(X), sample_weight=sample_weight, power=1))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags
