"""KnockoffSelector: variable selection with false discovery rate control."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, _fit_context
from sklearn.covariance import LedoitWolf
from sklearn.feature_selection import SelectorMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from sparsestat import _engine
from sparsestat.feature_selection._aggregate import ebh, knockoff_e_values, swap_diagnostics
from sparsestat.feature_selection._construction import fixed_x_knockoffs, gaussian_knockoffs
from sparsestat._progress import StageReporter
from sparsestat.feature_selection._scaling import standardize_columns, standardize_target
from sparsestat.feature_selection._statistics import (STATISTICS, check_statistic_params,
                                                      check_statistic_task, knockoff_statistic)
from sparsestat.feature_selection._svalues import (
    S_METHODS,
    check_covariance,
    compute_group_S,
    compute_s,
    to_correlation,
)
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


class NoSelectionWarning(UserWarning):
    """Knockoff+ selected nothing; the message says why and what to change.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sparsestat import KnockoffSelector, NoSelectionWarning
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 10))
    >>> y = X[:, 0] + rng.standard_normal(100)          # one signal: fewer than 1/fdr
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     sel = KnockoffSelector(fdr=0.1, random_state=0).fit(X, y)
    >>> caught[0].category is NoSelectionWarning, int(sel.support_.sum())
    (True, 0)
    """


def warn_no_selection(W: np.ndarray, fdr: float, offset: int, what: str = "features") -> None:
    """Say why the knockoff filter selected nothing, and what would change it."""
    negative = -W[W < 0]
    # the tests that beat every knockoff: above the largest magnitude of a negative W
    strong = int(np.count_nonzero(W > (negative.max() if negative.size else 0.0)))
    needed = int(np.ceil(1.0 / fdr - 1e-12))
    if offset == 1 and strong < needed:
        reason = (f"only {strong} {what} have a statistic above every negative one, and "
                  f"knockoff+ needs ceil(1/fdr) = {needed} before it can select any at "
                  f"fdr={fdr:g} (fewer than 1/fdr strong signals)")
    else:
        reason = (f"no threshold makes the estimated false discovery proportion "
                  f"(offset + #{{W <= -t}}) / #{{W >= t}} at most fdr={fdr:g}")
    hint = "offset=0 (the knockoff filter, which controls a modified FDR) or " if offset else ""
    warnings.warn(
        f"No {what} selected: {reason}. With few strong signals, try {hint}a larger fdr.",
        NoSelectionWarning, stacklevel=3)


def encode_groups(groups, p: int) -> np.ndarray:
    """Group codes ``0 .. G-1`` (in order of the sorted labels) from one label per feature."""
    labels = np.asarray(groups)
    if labels.ndim != 1 or labels.size != p:
        raise ValueError(
            f"groups must hold one label per feature: X has {p} features but groups has shape "
            f"{labels.shape}."
        )
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
        raise ValueError("groups contains NaN or infinite labels.")
    return np.unique(labels, return_inverse=True)[1].astype(np.intp)


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
    ``fdr``. Groups of features can be tested together (``groups``), several
    knockoff draws aggregated (``n_draws``), and knockoffs from any sampler
    supplied (``fit(X, y, X_knockoff=...)``).

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
    s_method : {'maxent', 'mvr', 'sdp', 'equi'}, default='maxent'
        How the s-values (knockoff-to-feature separation) are chosen:
        ``'maxent'`` maximizes the entropy ``log det G`` of the joint
        correlation ``G`` of ``[X, Xk]``, ``'mvr'`` minimizes its
        variance-based reconstructability ``tr(G^{-1})`` (Spector and Janson),
        ``'sdp'`` maximizes ``sum(s)``, ``'equi'`` uses one value for all.
        ``'maxent'`` had the best power over the correlated designs measured
        (AR(1) 0.8, blocks with correlation 0.6; fixed-X and model-X).
        With ``groups``: ``'maxent'``, ``'mvr'`` or ``'equi'``.
    statistic : {'lcd', 'lsm', 'lbi', 'mlr'}, default='lcd'
        ``'lcd'``: lasso coefficient difference at the penalty minimizing
        Mallows' Cp (fixed-X with ``n >= 3p``, model-X with ``n > 3p``),
        generalized cross-validation (fixed-X with ``n < 3p``, where the noise
        variance Cp needs is poorly estimated) or at the cross-validated
        penalty (model-X with fewer samples, class labels);
        ``'lsm'``: signed max of the lasso-path entry points; ``'lbi'``: signed
        max of ``1 / tau`` with ``tau`` the entry time on the LBI path (with
        ``groups``, the group penalty's entry time of the group); ``'mlr'``:
        the masked likelihood ratio statistic of a Bayesian spike-and-slab
        linear model, ``2 P_j - 1`` with ``P_j`` the posterior probability that
        ``X_j`` rather than its knockoff is the feature (Gibbs sampling;
        regression targets, no ``groups``).
    groups : array-like of shape (n_features,) or None, default=None
        One label per feature: group knockoffs, which test whether a *group*
        matters and control the FDR over groups. The only way to keep power
        when features within a group are nearly collinear.
    n_draws : int, default=1
        Knockoff draws. ``1``: the knockoff+ filter on one draw. More:
        derandomized knockoffs (Ren and Barber), the average of each draw's
        e-values at level ``fdr / 2``, selected by e-BH at level ``fdr``; the
        selection no longer depends on one random draw.
    offset : {0, 1}, default=1
        1 for knockoff+ (FDR control), 0 for the knockoff filter (controls a
        modified FDR, more liberal).
    task : {'auto', 'regression', 'classification'}, default='auto'
        ``'auto'`` treats binary and multiclass labels as classes (logistic
        statistics) and anything else as a regression target.
    statistic_params : dict or None, default=None
        Options of the statistic (an unknown one is an error):
        ``penalty`` ('cp', 'gcv' or 'cv'), ``cv``, ``Cs``, ``n_alphas``, ``eps`` (lcd);
        ``n_alphas``, ``eps``, ``max_iter`` (lsm);
        ``kappa`` (default 10, in (0, 1e4]), ``t_ratio`` (default 10, in
        (1, 1e4]), ``n_times``, ``max_iter`` (lbi); ``n_iter`` (kept sweeps
        per chain, default 2000), ``chains`` (default 5), ``burn_prop``
        (burn-in as a fraction of ``n_iter``, default 0.1), ``p0_min`` (least
        prior probability of a zero coefficient, default 0.8) (mlr). They
        apply to the standardized problem (see Notes).
    store_knockoffs : bool, default=False
        Keep the knockoff matrix in ``knockoffs_`` (the first draw's).
    random_state : int, RandomState instance or None, default=None
        Seed of the knockoff draws.
    n_jobs : int or None, default=None
        Parallel jobs (joblib): over the draws when ``n_draws > 1``, else of
        the cross-validation in ``'lcd'``.
    verbose : int, default=0
        Print the stages of the fit (covariance, s-values, knockoffs,
        statistic, threshold) with their wall time; 0 prints nothing.

    Attributes
    ----------
    W_ : ndarray of shape (n_tests,) or (n_draws, n_tests)
        Knockoff statistics, one per feature (per group with ``groups``), one
        row per draw when ``n_draws > 1``; computed on the standardized
        problem, so they do not depend on the units of ``X`` or ``y``.
    threshold_ : float or ndarray of shape (n_draws,)
        Knockoff(+) threshold (``inf``: nothing selected); per draw, at level
        ``fdr / 2``, when ``n_draws > 1``.
    support_ : ndarray of bool of shape (n_features,)
        Selected features (all of a selected group's); also ``get_support()``.
    signs_ : ndarray of shape (n_features,)
        Sign of the selected features' coefficients in the statistic's fit
        (majority over draws), 0 for the others and for multiclass targets.
    e_values_ : ndarray of shape (n_tests,)
        Averaged e-values (only when ``n_draws > 1``).
    selection_frequency_ : ndarray of shape (n_tests,)
        Fraction of the draws whose own knockoff(+) filter at ``fdr`` selects
        each feature (group).
    groups_ : ndarray of shape (n_groups,)
        The sorted group labels (only with ``groups``); ``W_`` follows them.
    selected_groups_ : ndarray
        Labels of the selected groups (only with ``groups``).
    s_ : ndarray of shape (n_features,)
        s-values on the correlation scale (the diagonal of the S-matrix with
        ``groups``; ``1 - corr(X_j, Xk_j)`` for supplied knockoffs).
    knockoffs_ : ndarray of shape (n_samples, n_features)
        The knockoffs, only when ``store_knockoffs=True`` or supplied.
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
    covariance (with an estimated ``Sigma`` it is approximate). Knockoff+ needs
    at least ``1 / fdr`` selections before it can select anything; when it
    selects nothing the fit warns (``NoSelectionWarning``) and says why.

    Units. The selector first centres each feature and divides it by its
    standard deviation, and divides a real-valued target, once centred, by its
    root mean square deviation. Knockoffs, statistics and threshold are
    computed on that standardized problem, so ``fit(X, c * y + d)`` (any
    ``c != 0``) and ``fit(X * a, y)`` (``a > 0`` per feature; with a given
    ``Sigma``, pass ``diag(a) Sigma diag(a)``) select the same features with
    the same ``W_`` up to round-off, for the same ``random_state``.

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
    >>> sel.signs_[:6].tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    """

    _parameter_constraints: dict = {
        "fdr": [Interval(Real, 0, 1, closed="neither")],
        "knockoffs": [StrOptions({"fixed", "gaussian"})],
        "Sigma": ["array-like", None],
        "s_method": [StrOptions(set(S_METHODS))],
        "statistic": [StrOptions(set(STATISTICS))],
        "groups": ["array-like", None],
        "n_draws": [Interval(Integral, 1, None, closed="left")],
        "offset": [Options(Integral, {0, 1})],
        "task": [StrOptions({"auto", "regression", "classification"})],
        "statistic_params": [dict, None],
        "store_knockoffs": ["boolean"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(self, fdr=0.1, *, knockoffs="fixed", Sigma=None, s_method="maxent",
                 statistic="lcd", groups=None, n_draws=1, offset=1, task="auto",
                 statistic_params=None, store_knockoffs=False, random_state=None, n_jobs=None,
                 verbose=0):
        self.fdr = fdr
        self.knockoffs = knockoffs
        self.Sigma = Sigma
        self.s_method = s_method
        self.statistic = statistic
        self.groups = groups
        self.n_draws = n_draws
        self.offset = offset
        self.task = task
        self.statistic_params = statistic_params
        self.store_knockoffs = store_knockoffs
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, X_knockoff=None):
        """Build knockoffs, compute the statistics and select features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Continuous target or class labels.
        X_knockoff : array-like of shape (n_samples, n_features) or \
(n_draws, n_samples, n_features), default=None
            Knockoffs from a sampler of your own (one draw, or several for
            ``n_draws``); then ``knockoffs``, ``Sigma`` and ``s_method`` are not
            used. Their validity is yours to ensure: :meth:`diagnose` checks
            the first two moments.

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
        supplied = self._check_supplied(X_knockoff, n, p)
        n_draws = self.n_draws if supplied is None else len(supplied)
        groups = None if self.groups is None else encode_groups(self.groups, p)
        check_statistic_task(self.statistic, classes, groups)
        if supplied is None and self.knockoffs == "fixed":
            self._check_fixed_x(n, p)
        rs = check_random_state(self.random_state)
        report = StageReporter(type(self).__name__, self.verbose)
        # everything below runs on standardized features (and target): see _scaling
        std = standardize_columns(X)
        if supplied is None:
            sampler, arrays, s = self._sampler(std, groups, report)
        else:
            sampler, arrays, s = self._supplied_sampler(std, supplied)
        if self.statistic == "lcd":
            params.setdefault("n_jobs", self.n_jobs if n_draws == 1 else None)
            # fixed-X statistics may use only the Gram matrix and [X, Xk]^T y: Cp or GCV,
            # not cross-validation. Cp needs the noise variance of least squares on the 2p
            # columns, which has n - 2p - 1 degrees of freedom: below 3p it is noisy and
            # GCV (no noise variance) is the more powerful (fixed-X at n = 2.2p: +0.008 to
            # +0.028 over Cp). Cp is valid for model-X too, as powerful as
            # cross-validation and far cheaper (no folds) when n > 3p.
            if self.knockoffs == "fixed" and supplied is None:
                penalty = "cp" if n >= 3 * p else "gcv"
            else:
                penalty = "cp" if n > 3 * p else "cv"
            params.setdefault("penalty", penalty)
        seeds = rs.randint(2 ** 31 - 1, size=n_draws)
        settings = (sampler, y, self.statistic, classes, groups, params)
        if n_draws == 1:
            results = [_knockoff_draw(0, seeds[0], *settings, *arrays)]
        else:
            results = Parallel(n_jobs=self.n_jobs)(
                delayed(_knockoff_draw)(m, seeds[m], *settings, *arrays)
                for m in range(n_draws))
        report.stage(f"knockoffs ({n_draws} draw(s)) and statistic {self.statistic!r} on "
                     f"{2 * p} columns")
        W = np.array([r[0] for r in results])
        signs = np.array([r[1] for r in results])
        self._select(W, groups, p)
        self.signs_ = np.where(self.support_, np.sign(signs.sum(axis=0)), 0.0)
        self.s_ = s
        if self.store_knockoffs or supplied is not None:
            self.knockoffs_ = std.to_data(results[0][2])
        selected = int(self.support_.sum())
        how = (f"threshold {self.threshold_:.4g}" if n_draws == 1
               else f"e-BH over {n_draws} draws")
        report.done(f"{how}: {selected} of {p} features selected at fdr={self.fdr:g}")
        if selected == 0:
            warn_no_selection(W[0], self.fdr if n_draws == 1 else self.fdr / 2, self.offset,
                              "groups" if groups is not None else "features")
        return self

    def _select(self, W, groups, p):
        """Thresholds, selection and its frequency over the draws ``W`` (n_draws, n_tests)."""
        thresholds = np.array([knockoff_threshold(w, self.fdr, self.offset) for w in W])
        self.selection_frequency_ = np.mean(W >= thresholds[:, None], axis=0)
        if W.shape[0] == 1:
            self.W_, self.threshold_ = W[0], float(thresholds[0])
            chosen = W[0] >= thresholds[0]
        else:
            # derandomized: e-values of each draw at fdr / 2, averaged, then e-BH at fdr
            half = np.array([knockoff_threshold(w, self.fdr / 2, self.offset) for w in W])
            self.W_, self.threshold_ = W, half
            self.e_values_ = np.mean([knockoff_e_values(w, t) for w, t in zip(W, half)], axis=0)
            chosen = ebh(self.e_values_, self.fdr)
        if groups is None:
            self.support_ = chosen
            return
        self.groups_ = np.unique(np.asarray(self.groups))
        self.selected_groups_ = self.groups_[chosen]
        self.support_ = chosen[groups]

    def _check_supplied(self, X_knockoff, n, p):
        """Supplied knockoffs as an array (n_draws, n, p), or None."""
        if X_knockoff is None:
            return None
        Xk = np.asarray(X_knockoff, dtype=float)
        if Xk.ndim == 2:
            Xk = Xk[None]
        if Xk.ndim != 3 or Xk.shape[1:] != (n, p):
            raise ValueError(
                f"X_knockoff must have the shape of X, ({n}, {p}), or (n_draws, {n}, {p}) for "
                f"several draws; got {np.shape(X_knockoff)}."
            )
        if not np.all(np.isfinite(Xk)):
            raise ValueError("X_knockoff contains NaN or infinite values.")
        if self.n_draws not in (1, Xk.shape[0]):
            raise ValueError(
                f"n_draws={self.n_draws} but X_knockoff holds {Xk.shape[0]} draw(s); pass "
                "one knockoff matrix per draw, or leave n_draws=1."
            )
        return Xk

    def _sampler(self, std, groups, report):
        """``(sampler, arrays, s)``: ``sampler(rng, m, *arrays)`` draws knockoffs.

        The draw returns ``(X_stat, Xk_stat, Xk_std)``.
        """
        n, p = std.values.shape
        if self.knockoffs == "fixed":
            if self.Sigma is not None:
                raise ValueError(
                    "Sigma is used only by knockoffs='gaussian'; fixed-X knockoffs use the "
                    "sample Gram matrix. Drop Sigma or set knockoffs='gaussian'."
                )
            Xn = std.values / np.sqrt(n)
            R = check_covariance(Xn.T @ Xn, name="The Gram matrix X^T X of the centred features")
            report.stage(f"Gram matrix of {n} x {p} centred features")
            S = self._s_matrix(R, groups, report)
            sampler, arrays = _fixed_x_draw, (Xn, S, R)
        else:
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
            S = self._s_matrix(R, groups, report)
            sampler, arrays = _gaussian_draw, (std.values * ratio, R, S, ratio)
        return sampler, arrays, (S if S.ndim == 1 else np.diag(S).copy())

    def _s_matrix(self, R, groups, report):
        """s-values (a vector), or the block-diagonal S-matrix for groups."""
        if groups is None:
            S = compute_s(R, self.s_method)
        else:
            S = compute_group_S(R, groups, self.s_method)
        total = float(np.trace(S)) if S.ndim == 2 else float(S.sum())
        report.stage(f"s-values ({self.s_method}), sum {total:.4g}")
        return S

    def _supplied_sampler(self, std, supplied):
        """The sampler that hands out the supplied draws, standardized as ``X`` is."""
        values = [(np.ldexp(Xk, std.exponent) - std.center) / std.spread for Xk in supplied]
        bad = [m for m, Xk in enumerate(values) if np.any(np.ptp(Xk, axis=0) == 0)]
        if bad:
            raise ValueError(
                f"X_knockoff draw {bad[0]} has constant columns; knockoffs must vary like X."
            )
        s = 1.0 - np.array([np.corrcoef(a, b)[0, 1] for a, b in zip(std.values.T, values[0].T)])
        return _supplied_draw, (std.values, *values), s

    def _check_fixed_x(self, n, p):
        if n < 2 * p + 1:
            raise ValueError(
                f"Fixed-X knockoffs need n >= 2p + 1 samples (the centred features and their "
                f"knockoffs must be linearly independent); got n={n}, p={p}. Use "
                "knockoffs='gaussian' (model-X knockoffs), which works for any n, or "
                "reduce the number of features."
            )

    def diagnose(self, X, X_knockoff=None):
        """Check that knockoffs are swap-exchangeable with ``X`` in their first two moments.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The features the knockoffs were made for.
        X_knockoff : array-like of shape (n_samples, n_features) or None
            Knockoffs to check; ``None`` checks the fitted ``knockoffs_``
            (``store_knockoffs=True``, or supplied at fit).

        Returns
        -------
        report : sklearn.utils.Bunch
            ``mean_gap`` (largest ``|mean(X_j) - mean(Xk_j)| / sd(X_j)``), ``sd_gap``
            (largest ``|sd(Xk_j) / sd(X_j) - 1|``), ``correlation_gap`` (largest
            ``|corr(Xk)_jk - corr(X)_jk|``), ``cross_gap`` (largest
            ``|corr(X_j, Xk_k) - corr(X_j, X_k)|``, ``j != k``, in different groups
            with ``groups``), ``s``
            (``1 - corr(X_j, Xk_j)``, the empirical s-values), ``tolerance``
            (the sampling error of a correlation, for ``n`` rows) and
            ``passed`` (every gap within the tolerance).

        Examples
        --------
        >>> import numpy as np
        >>> from sparsestat import KnockoffSelector
        >>> rng = np.random.default_rng(0)
        >>> X = rng.standard_normal((2000, 5))
        >>> sel = KnockoffSelector(knockoffs="gaussian", Sigma=np.eye(5))
        >>> sel.diagnose(X, rng.standard_normal((2000, 5))).passed     # valid for N(0, I)
        True
        >>> sel.diagnose(X, X[::-1] * 2).passed                          # wrong variances
        False
        """
        X = check_array(X, dtype=np.float64, input_name="X")
        if X_knockoff is None:
            if not hasattr(self, "knockoffs_"):
                raise ValueError(
                    "No knockoffs to check: pass X_knockoff, or fit with store_knockoffs=True "
                    "(or with X_knockoff=...) first."
                )
            X_knockoff = self.knockoffs_
        Xk = check_array(X_knockoff, dtype=np.float64, input_name="X_knockoff")
        if Xk.shape != X.shape:
            raise ValueError(f"X_knockoff has shape {Xk.shape}; X has {X.shape}.")
        check_no_constant_columns(X)
        groups = None if self.groups is None else encode_groups(self.groups, X.shape[1])
        return swap_diagnostics(X, Xk, groups)

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


def _knockoff_draw(m, seed, sampler, y, statistic, classes, groups, params, *arrays):
    """Draw ``m`` of the knockoffs and its statistic: ``(W, signs, Xk_std or None)``.

    The data are explicit arguments (not captured by a closure) so that a
    parallel backend ships them once for all the draws: joblib's dask backend
    scatters large arguments to the cluster.
    """
    rng = np.random.default_rng(seed)
    X_stat, Xk_stat, Xk_std = sampler(rng, m, *arrays)
    W, signs = knockoff_statistic(X_stat, Xk_stat, y, statistic, classes, rng=rng,
                                  groups=groups, return_signs=True, **params)
    return W, signs, Xk_std if m == 0 else None


def _fixed_x_draw(rng, m, Xn, S, R):
    Xk = fixed_x_knockoffs(Xn, S, rng, gram=R)
    # the statistic sees unit-norm columns, the standardized features unit variance
    return Xn, Xk, Xk * np.sqrt(Xn.shape[0])


def _gaussian_draw(rng, m, Xz, R, S, ratio):
    # model-X knockoffs of Xz, on the correlation scale of the model
    Xk = gaussian_knockoffs(Xz, np.zeros(Xz.shape[1]), R, S, rng)
    return Xz, Xk, Xk / ratio


def _supplied_draw(rng, m, X, *draws):
    return X, draws[m], draws[m]
