"""KnockoffSelector: variable selection with false discovery rate control."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.covariance import LedoitWolf
from sklearn.feature_selection import SelectorMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from sparsestat import _engine
from sparsestat.feature_selection._construction import fixed_x_knockoffs, gaussian_knockoffs
from sparsestat._progress import StageReporter
from sparsestat.feature_selection._scaling import standardize_columns, standardize_target
from sparsestat.feature_selection._statistics import check_statistic_params, knockoff_statistic
from sparsestat.feature_selection._svalues import check_covariance, compute_s, to_correlation
from sparsestat.feature_selection._threshold import knockoff_threshold


def check_no_constant_columns(X: np.ndarray) -> None:
    """Raise a ``ValueError`` naming the constant columns of ``X``, if any."""
    constant = np.flatnonzero(_engine.constant_columns(X))
    if constant.size:
        raise ValueError(
            f"X has {constant.size} constant column(s) (indices {constant[:10].tolist()}"
            f"{' ...' if constant.size > 10 else ''}); a constant feature carries no information "
            "and has no knockoff. Remove them first, e.g. with "
            "sklearn.feature_selection.VarianceThreshold()."
        )


def resolve_target(y, task: str):
    """``(y, classes)``: classes is None for regression, the sorted labels otherwise.

    A regression target comes back standardized (centred, unit root mean square
    deviation), so that nothing downstream depends on its units.
    """
    kind = type_of_target(y)
    if task == "auto":
        task = "classification" if kind in ("binary", "multiclass") else "regression"
    if task == "classification":
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"task='classification' needs class labels; y looks {kind!r}. Use "
                "task='regression' for a continuous target."
            )
        classes, codes = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError("y holds a single class; knockoff selection needs two or more.")
        return codes, np.arange(classes.size)
    return standardize_target(np.asarray(y, dtype=float)), None


class KnockoffSelector(SelectorMixin, BaseEstimator):
    """Select features with a guaranteed false discovery rate by knockoffs.

    Each feature gets a *knockoff*: a synthetic copy with the same correlation
    structure that is, by construction, unrelated to the target. A statistic
    ``W_j`` compares the importance of a feature with that of its knockoff on
    the augmented design ``[X, Xk]``; the knockoff+ threshold then selects
    ``{W_j >= T}`` so that the expected fraction of false selections is at most
    ``fdr``.

    Parameters
    ----------
    fdr : float, default=0.1
        Target false discovery rate ``q`` in (0, 1).
    knockoffs : {'fixed', 'gaussian'}, default='fixed'
        ``'fixed'``: fixed-X knockoffs (Barber and Candes), exact for the
        linear model with Gaussian noise; needs ``n >= 2p + 1``.
        ``'gaussian'``: model-X knockoffs for Gaussian features with covariance
        ``Sigma`` (any n, any model of ``y | X``).
    Sigma : array-like of shape (p, p) or None, default=None
        Feature covariance for ``knockoffs='gaussian'``; ``None`` estimates it
        by Ledoit-Wolf shrinkage.
    s_method : {'sdp', 'equi'}, default='sdp'
        How the s-values (knockoff-to-feature separation) are chosen: the SDP
        (maximize ``sum(s)``) or the equicorrelated closed form.
    statistic : {'lcd', 'lsm', 'lbi'}, default='lcd'
        ``'lcd'``: lasso coefficient difference at the penalty minimizing
        Mallows' Cp (fixed-X, and model-X when ``n > 2p + 10``) or at the
        cross-validated penalty (model-X with fewer samples, class labels);
        ``'lsm'``: signed max of the lasso-path entry points; ``'lbi'``: signed
        max of ``1 / tau`` with ``tau`` the entry time on the LBI path.
    offset : {0, 1}, default=1
        1 for knockoff+ (FDR control), 0 for the knockoff filter (controls a
        modified FDR, more liberal).
    task : {'auto', 'regression', 'classification'}, default='auto'
        ``'auto'`` treats binary and multiclass labels as classes (logistic
        statistics) and anything else as a regression target.
    statistic_params : dict or None, default=None
        Options of the statistic (an unknown one is an error):
        ``penalty`` ('cp' or 'cv'), ``cv``, ``Cs``, ``n_alphas``, ``eps`` (lcd);
        ``n_alphas``, ``eps``, ``max_iter`` (lsm);
        ``kappa`` (default 10, in (0, 1e4]), ``t_ratio`` (default 10, in
        (1, 1e4]), ``n_times``, ``max_iter`` (lbi). They apply to the
        standardized problem (see Notes): ``kappa`` is the damping of LBI on
        unit-variance columns and a unit-variance target (larger: closer to
        the inverse scale space, less biased, more iterations) and
        ``t_ratio`` the length of the path as the ratio of its last time to
        the first entry time; the iterations grow like ``kappa * t_ratio``.
    store_knockoffs : bool, default=False
        Keep the knockoff matrix in ``knockoffs_``.
    random_state : int, RandomState instance or None, default=None
        Seed of the knockoff draw.
    n_jobs : int or None, default=None
        Parallel jobs (joblib) of the cross-validation in ``'lcd'``.
    verbose : int, default=0
        Print the stages of the fit (covariance, s-values, knockoffs,
        statistic, threshold) with their wall time; 0 prints nothing.

    Attributes
    ----------
    W_ : ndarray of shape (n_features,)
        Knockoff statistics, computed on the standardized problem, so they do
        not depend on the units of ``X`` or ``y``.
    threshold_ : float
        Knockoff(+) threshold; ``inf`` when nothing is selected.
    support_ : ndarray of bool of shape (n_features,)
        Selected features (``W_ >= threshold_``); also ``get_support()``.
    s_ : ndarray of shape (n_features,)
        s-values on the correlation scale.
    knockoffs_ : ndarray of shape (n_samples, n_features)
        The knockoffs, only when ``store_knockoffs=True``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names.

    See Also
    --------
    SplitKnockoffSelector : knockoffs for structural sparsity ``gamma = D beta``.

    Notes
    -----
    The guarantee (knockoff+) is ``E[#false selections / max(1, #selections)]
    <= fdr``: exact in finite samples for fixed-X knockoffs under the Gaussian
    linear model, and for model-X knockoffs when ``Sigma`` is the true
    covariance (with an estimated ``Sigma`` it is approximate).

    Units. The selector first centres each feature and divides it by its
    standard deviation, and divides a real-valued target, once centred, by its
    root mean square deviation. Knockoffs, statistics and threshold are
    computed on that standardized problem, so ``fit(X, c * y + d)`` (any
    ``c != 0``) and ``fit(X * a, y)`` (``a > 0`` per feature; with a given
    ``Sigma``, pass ``diag(a) Sigma diag(a)``) select the same features with
    the same ``W_`` up to round-off, for the same ``random_state``. Data near
    the limits of floating point (``1e-300``, ``1e300``) are fine.

    Examples
    --------
    >>> import numpy as np
    >>> from sparsestat import KnockoffSelector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((300, 20))
    >>> y = X[:, :5] @ np.full(5, 1.0) + rng.standard_normal(300)
    >>> sel = KnockoffSelector(fdr=0.2, statistic="lbi", random_state=0).fit(X, y)
    >>> sorted(np.flatnonzero(sel.get_support()).tolist())
    [0, 1, 2, 3, 4]
    """

    _parameter_constraints: dict = {
        "fdr": [Interval(Real, 0, 1, closed="neither")],
        "knockoffs": [StrOptions({"fixed", "gaussian"})],
        "Sigma": ["array-like", None],
        "s_method": [StrOptions({"sdp", "equi"})],
        "statistic": [StrOptions({"lcd", "lsm", "lbi"})],
        "offset": [Options(Integral, {0, 1})],
        "task": [StrOptions({"auto", "regression", "classification"})],
        "statistic_params": [dict, None],
        "store_knockoffs": ["boolean"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(self, fdr=0.1, *, knockoffs="fixed", Sigma=None, s_method="sdp",
                 statistic="lcd", offset=1, task="auto", statistic_params=None,
                 store_knockoffs=False, random_state=None, n_jobs=None, verbose=0):
        self.fdr = fdr
        self.knockoffs = knockoffs
        self.Sigma = Sigma
        self.s_method = s_method
        self.statistic = statistic
        self.offset = offset
        self.task = task
        self.statistic_params = statistic_params
        self.store_knockoffs = store_knockoffs
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Build knockoffs, compute the statistics and select features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Continuous target or class labels.

        Returns
        -------
        self : KnockoffSelector
        """
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=3)
        y, classes = resolve_target(y, self.task)
        check_no_constant_columns(X)
        params = check_statistic_params(self.statistic, dict(self.statistic_params or {}),
                                        type(self).__name__)
        n, p = X.shape
        if self.knockoffs == "fixed":
            self._check_fixed_x(n, p)
        rng = np.random.default_rng(check_random_state(self.random_state).randint(2 ** 31 - 1))
        report = StageReporter(type(self).__name__, self.verbose)
        # everything below runs on standardized features (and target): see _scaling
        std = standardize_columns(X)
        if self.knockoffs == "fixed":
            X_stat, Xk_stat, s = self._fixed_x(std.values, rng, report)
            # the statistic sees unit-norm columns, the standardized features unit variance
            Xk_std = Xk_stat * np.sqrt(n)
        else:
            X_stat, Xk_stat, s, Xk_std = self._gaussian(std, rng, report)
        if self.statistic == "lcd":
            params.setdefault("n_jobs", self.n_jobs)
            # fixed-X statistics may use only the Gram matrix and [X, Xk]^T y: Cp, not
            # cross-validation. Cp is valid for model-X too, as powerful as cross-validation
            # and far cheaper (no folds) when least squares on the 2p columns leaves
            # residual degrees of freedom to estimate the noise. (The standardized target
            # uses ||y - mean(y)||, which is that of the least-squares fit on [1, X, Xk]
            # plus a residual whose law no swap of a feature with its knockoff changes.)
            cp = self.knockoffs == "fixed" or n > 2 * p + 10
            params.setdefault("penalty", "cp" if cp else "cv")
        self.W_ = knockoff_statistic(X_stat, Xk_stat, y, self.statistic, classes, rng=rng,
                                     **params)
        report.stage(f"statistic {self.statistic!r} on {2 * p} columns")
        self.threshold_ = knockoff_threshold(self.W_, self.fdr, self.offset)
        self.support_ = self.W_ >= self.threshold_
        report.done(f"threshold {self.threshold_:.4g}: {int(self.support_.sum())} of {p} "
                    f"features selected at fdr={self.fdr:g}")
        self.s_ = s
        if self.store_knockoffs:
            self.knockoffs_ = std.to_data(Xk_std)
        return self

    def _check_fixed_x(self, n, p):
        if self.Sigma is not None:
            raise ValueError(
                "Sigma is used only by knockoffs='gaussian'; fixed-X knockoffs use the "
                "sample Gram matrix. Drop Sigma or set knockoffs='gaussian'."
            )
        if n < 2 * p + 1:
            raise ValueError(
                f"Fixed-X knockoffs need n >= 2p + 1 samples (the centred features and their "
                f"knockoffs must be linearly independent); got n={n}, p={p}. Use "
                "knockoffs='gaussian' (model-X knockoffs), which works for any n, or "
                "reduce the number of features."
            )

    def _fixed_x(self, Xs, rng, report):
        """Fixed-X knockoffs of the standardized features: ``(Xn, Xk, s)``, unit-norm columns."""
        n, p = Xs.shape
        Xn = Xs / np.sqrt(n)
        R = check_covariance(Xn.T @ Xn, name="The Gram matrix X^T X of the centred features")
        report.stage(f"Gram matrix of {n} x {p} centred features")
        s = compute_s(R, self.s_method)
        report.stage(f"s-values ({self.s_method}), sum {s.sum():.4g}")
        Xk = fixed_x_knockoffs(Xn, s, rng, gram=R)
        report.stage("fixed-X knockoffs")
        return Xn, Xk, s

    def _gaussian(self, std, rng, report):
        """Model-X Gaussian knockoffs on the correlation scale: ``(Xz, Xk, s, Xk_std)``.

        ``Xz`` is ``X`` centred and divided by the standard deviations of the
        model (of the given ``Sigma``, or the sample's), ``Xk`` its knockoffs
        for the correlation matrix ``R`` of the model, and ``Xk_std`` the
        knockoffs in the units of the standardized features.
        """
        n, p = std.values.shape
        if self.Sigma is None:
            # Ledoit-Wolf shrinkage of the sample correlation towards the identity: the
            # estimate does not depend on the units of the features
            R = LedoitWolf(assume_centered=True).fit(std.values).covariance_
            R = check_covariance(R, p, name="The Ledoit-Wolf estimate of the correlation")
            R, _ = to_correlation(R)
            ratio = np.ones(p)
        else:
            R, sd_model = to_correlation(check_covariance(self.Sigma, p))
            ratio = std.sd / sd_model           # sample over model standard deviations
        report.stage("covariance " + ("(Ledoit-Wolf estimate)" if self.Sigma is None
                                      else "(given)") + f" of {p} features")
        s = compute_s(R, self.s_method)
        report.stage(f"s-values ({self.s_method}), sum {s.sum():.4g}")
        Xz = std.values * ratio
        Xk = gaussian_knockoffs(Xz, np.zeros(p), R, s, rng)
        report.stage(f"Gaussian knockoffs of {n} samples")
        return Xz, Xk, s, Xk / ratio

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
