"""Robust regression and outlier detection with the mean-shift model.

``Y = X B + 1 b^T + G + E``: a sample ``i`` with ``G_i != 0`` is an outlier.
The path of ``G`` is computed on the implicit projection ``I - Q Q^T``
(``Q`` an orthonormal basis of ``[1, X]``) by the shared engine
(:func:`sparsestat._engine.projected_shift_path`); see ``docs/outliers.md``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from sparsestat import _dask, _engine
from sparsestat._progress import StageReporter
from sparsestat.robust._linalg import (
    DeletionResiduals,
    ThinBasis,
    deletion_residuals,
    residuals,
    subset_fit,
    thin_basis,
)
from sparsestat.robust._lts import lts_starts


def auto_cutoff(n_samples: int, n_targets: int = 1) -> float:
    """The default cutoff ``c_n`` in standard deviations of the noise.

    The residual norm of a clean sample over ``K`` targets is about
    ``sigma sqrt(chi2_K)``; the cutoff is its upper ``a_n`` quantile with
    ``a_n = min(0.0124, 0.5 / n)``: about half a clean sample (or fewer) beyond
    it per data set, and never below the classical 2.5 (``K = 1``). The
    detector tests each sample at the same tail probability ``a_n`` with the
    exact small-sample law of its deletion residual (see
    :class:`MeanShiftOutlierDetector`), so its cutoff in estimated standard
    deviations is larger when few samples are left to estimate the scale.

    Examples
    --------
    >>> from sparsestat.robust import auto_cutoff
    >>> round(auto_cutoff(21), 2), round(auto_cutoff(1000), 2)
    (2.5, 3.48)
    """
    a = min(0.0124, 0.5 / max(int(n_samples), 1))
    return float(np.sqrt(stats.chi2.isf(a, n_targets)))


@dataclass
class NoiseLaw:
    """The null law of a clean sample's deletion residual, for the outlier test.

    ``tail`` is the tail probability each sample is tested at and ``K`` the
    number of targets. ``df=None``: normal noise, the test statistic
    ``||e_i|| / (s_(i) sqrt(v_i))`` (``s_(i)`` the residual scale of the fit
    without the flagged set and without ``i``) follows ``sqrt(K F(K, K dof))``
    exactly. Otherwise the noise is Student ``t`` with ``df`` degrees of freedom
    (multivariate ``t`` for ``K > 1``), its scale ``sigma`` from the median of
    the kept samples' squared deletion residuals, and
    ``||e_i||^2 / (sigma^2 v_i)`` follows ``K F(K, df)``; ``estimate=True``
    matches ``df`` to the kept samples (:func:`tail_df`).
    """

    tail: float
    K: int
    df: float | None = None
    estimate: bool = False

    def normal_cutoff(self, dof) -> np.ndarray:
        """Cutoff of the normal-noise statistic with ``dof`` residual degrees of freedom."""
        values, where = np.unique(np.maximum(np.asarray(dof, dtype=float), 1.0),
                                  return_inverse=True)
        cut = np.sqrt(self.K * stats.f.isf(self.tail, self.K, self.K * values))
        return cut[where].reshape(np.shape(dof))

    def student_cutoff(self, df: float, dof: int) -> float:
        """Cutoff of the ``t``-noise statistic; the factor carries the scale's own error.

        ``sqrt(K F_(1-a)(K, df))`` times the normal-noise ratio of the cutoff with
        an estimated scale to that with a known one (1 for ``dof -> infinity``).
        """
        known = np.sqrt(stats.chi2.isf(self.tail, self.K))
        estimated = float(self.normal_cutoff(dof))
        return float(np.sqrt(self.K * stats.f.isf(self.tail, self.K, df)) * estimated / known)


@dataclass
class OutlierTest:
    """The flagged set of :func:`confirm_outliers` and the statistics that decided it."""

    flagged: np.ndarray     # bool (n,)
    statistic: np.ndarray   # (n,) deletion-residual norm in units of the scale
    cutoff: np.ndarray      # (n,) the cutoff each statistic was held against
    scale: float            # residual standard deviation of the kept samples
    dof: int                # residual degrees of freedom of the kept samples
    residuals: np.ndarray   # (n, K) residuals against the fit without the flagged set
    df: float | None        # the t degrees of freedom used (None: normal)
    n_steps: int
    # the least-squares fit without exactly the flagged set (None when returned samples
    # were left out of it too)
    reference: DeletionResiduals | None = None


def confirm_outliers(Q, Y, candidates, law: NoiseLaw, max_flagged: int,
                     priority=None) -> OutlierTest:
    """Flag the samples whose deletion residual exceeds the cutoff, to a fixed point.

    Starting from ``candidates``, every sample is tested against the
    least-squares fit without the flagged set (and without itself):
    flagged samples below their cutoff return to the fit, kept samples
    above it are flagged, until the set repeats. Each statistic is held
    against its exact normal-noise law (``t`` or ``F`` with the residual
    degrees of freedom left). Flagged samples return the weakest first, an
    eighth of the failing ones at a time: while the flagged set still holds
    many clean samples the fit is poor and true outliers can fall below the
    cutoff too. At most ``max_flagged`` candidates are kept, those with the
    largest ``priority``.

    The flagged set as a whole must also pass :func:`set_test`: a set chosen
    because the rest fits well shrinks the scale of the rest (the best of
    many half-samples fits far too well when ``n / p`` is small), and then
    every member passes its own test. The set test bounds the chance that
    *any* set of clean samples of that size passes, whatever the search that
    found it; a failing set returns its weakest member.

    Returned samples stay out of the reference fit (their prediction
    residuals count in its scale, so a set that only passed because the rest
    fitted too well still dissolves): a weak member of a cluster of bad
    leverage points would otherwise pull the fit towards the cluster as it
    returns, the next member would fall below its cutoff, and the whole
    cluster with it. A returned sample that clears its cutoff is flagged
    again; the others are inliers of the final least-squares fit.
    """
    n = Q.shape[0]
    flagged = np.asarray(candidates, dtype=bool).copy()
    flagged = _cap(flagged, np.zeros(n) if priority is None else priority, max_flagged)
    returned = np.zeros(n, dtype=bool)
    seen = set()
    test = None
    for step in range(1, 4 * n + 10):
        test = _deletion_test(Q, Y, flagged, law, returned)
        test.n_steps = step
        ratio = test.statistic / test.cutoff
        out = np.flatnonzero(flagged & (ratio < 1.0))
        if out.size:
            move = out[np.argsort(ratio[out], kind="stable")[:-(-out.size // 8)]]
        elif flagged.any() and not set_test(Q, Y, test, law):
            move = np.flatnonzero(flagged)[[np.argmin(ratio[flagged])]]
        else:
            move = None
        if move is not None:
            flagged = flagged.copy()
            flagged[move] = False
            returned = returned.copy()
            returned[move] = True
            continue
        grown = _cap(flagged | (ratio >= 1.0), ratio, max_flagged)
        key = grown.tobytes()
        if np.array_equal(grown, flagged) or key in seen:
            return test
        seen.add(key)
        returned &= ~grown
        flagged = grown
    return test


def set_test(Q, Y, test: "OutlierTest", law: NoiseLaw) -> bool:
    """Whether every tail of the flagged set is beyond what clean samples produce.

    A set of clean samples chosen because the rest fits well shrinks the
    scale of the rest -- the best of many half-samples fits far too well when
    ``n / p`` is small -- and then every member passes its own test. So each
    tail of the set must pass as a whole too.

    The flagged samples are ordered from the strongest to the weakest, ``F_j``
    the ``j`` strongest, and for each ``j`` the ``k = m - j`` weakest, ``E_j``,
    are tested together, given ``F_j``, by two tests that are exact for any
    *fixed* set of clean samples under normal noise (``SSE_j``: the fit without
    ``F_j``; ``s^2 = SSE_F / (K dof)``):

    * the ``F`` test of free shifts on ``E_j``,
      ``(SSE_j - SSE_F) / (K k s^2) ~ F(K k, K dof)``, powerful for scattered
      outliers;
    * the test of one common shift of the tail (the indicator of ``E_j`` added
      as a regressor to the fit without ``F_j``), ``F(K, K dof)``, powerful for
      a cluster of bad leverage points shifted to one side: the cluster moves
      the fit along with it and leaves free shifts little to explain.

    A tail passes when one of its two tail probabilities is below
    ``alpha_k / C(n - j, k)`` with ``alpha_k = n * tail * 2^(1 - k)``: by the
    union bound over all the sets it could have been, clean samples yield a
    passing tail of size ``k`` with probability at most about ``alpha_k``,
    however the set was searched for. The union bound is loose for large
    tails of a large sample (a 25% cluster among 400), so a tail also passes
    when its members clear their cutoffs, in root mean square, by the factor
    ``(1 + r / dof) / sqrt(v(1 - k / n))``, ``v(f)`` the variance of the normal
    law cut to its central fraction ``f``: against the scale the kept samples
    would have if the tail were the clean samples' own extremes, trimmed off
    and overfitted by the search (clean extremes trimmed off reach about
    ``E[z^2 | |z| > q] / c^2`` in mean square, ``q`` their quantile: well below 1
    unless the tail is a handful of samples, which the union bound decides).

    Examples
    --------
    >>> import numpy as np
    >>> from sparsestat.robust._linalg import thin_basis
    >>> from sparsestat.robust._mean_shift import NoiseLaw, _deletion_test, set_test
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 3))
    >>> y = (X @ [1.0, 2.0, -1.0] + rng.standard_normal(60))[:, None]
    >>> Q = thin_basis(X).Q
    >>> law = NoiseLaw(tail=0.5 / 60, K=1)
    >>> extremes = np.zeros(60, dtype=bool)
    >>> extremes[np.argsort(-np.abs((y - Q @ (Q.T @ y))[:, 0]))[:6]] = True
    >>> set_test(Q, y, _deletion_test(Q, y, extremes, law), law)  # six clean samples
    False
    >>> y[:6] += 8.0
    >>> planted = np.arange(60) < 6
    >>> set_test(Q, y, _deletion_test(Q, y, planted, law), law)
    True
    """
    from scipy.special import gammaln

    flagged = test.flagged
    n = flagged.shape[0]
    K = law.K
    if not flagged.any():
        return True
    members = np.flatnonzero(flagged)
    ratio = test.statistic[members] / test.cutoff[members]
    members = members[np.argsort(-ratio, kind="stable")]
    m = members.size
    k = m - np.arange(m)
    # the trimmed route first: it needs no refits and decides the large tails
    fit = test.reference if test.reference is not None else deletion_residuals(Q, Y, flagged)
    dof = max(fit.dof, 1)
    factor = np.sqrt(1.0 / _truncation(1.0 - k / n, K)) * (1.0 + Q.shape[1] / dof)
    # the root mean square of each tail's ratios (the tails are the weakest k)
    weak_first = np.sort(ratio)
    tail_rms = np.sqrt(np.cumsum(weak_first ** 2) / np.arange(1, m + 1))[::-1]
    undecided = np.flatnonzero(tail_rms < factor)
    if undecided.size == 0 or fit.sse <= 0:
        return True
    # the union route for the rest: the fits without the first j members, j up to the
    # last undecided tail
    free, common = _tail_reductions(Q, Y, members, fit.sse, int(undecided.max()) + 1)
    k = k[undecided]
    s2 = fit.sse / (K * dof)
    log_alpha = np.log(n * law.tail) + (1 - k) * np.log(2.0)
    log_sets = gammaln(n - m + k + 1) - gammaln(k + 1) - gammaln(n - m + 1)
    p_free = _f_logsf(free[undecided] / (K * k * s2), K * k, K * dof)
    p_common = _f_logsf(common[undecided] / (K * s2), K, K * dof)
    return bool(np.all(np.minimum(p_free, p_common) <= log_alpha - log_sets))


def _truncation(frac, K):
    """``E[chi2_K | chi2_K <= q] / K`` with ``P(chi2_K <= q) = frac``."""
    q = stats.chi2.ppf(frac, K)
    return stats.chi2.cdf(q, K + 2) / frac


def _tail_reductions(Q, Y, rows, sse_f, n_tails=None):
    """Sums of squares explained by the tails ``rows[j:]`` given the fits without ``rows[:j]``.

    ``free[j] = SSE_j - SSE_F`` (free shifts on the tail) and ``common[j]``,
    summed over the targets, ``(w^T e_j)^2 / (w^T (I - H_j) w)`` for the
    indicator ``w`` of the tail (``e_j``, ``H_j``: residuals and hat matrix of
    the fit without ``rows[:j]``), for ``j < n_tails`` (default: all; the
    others are NaN). Rows are removed one at a time by the deletion formulas
    (``SSE`` drops by ``||e_i||^2 / (1 - h_i)``, rank-one update of
    ``(Q_K^T Q_K)^-1``): ``O(n_tails r^2)``.
    """
    r = Q.shape[1]
    m = len(rows)
    n_tails = m if n_tails is None else min(int(n_tails), m)
    Qm = Q[rows]
    # suffix sums over the tail of y_i and of q_i
    wy = np.cumsum(Y[rows][::-1], axis=0)[::-1]
    wq = np.cumsum(Qm[::-1], axis=0)[::-1]
    theta = Q.T @ Y
    G_inv = np.eye(r)
    sse = float(np.sum(Y ** 2) - np.sum(theta ** 2))
    free = np.full(m, np.nan)
    common = np.full(m, np.nan)
    for j in range(n_tails):
        free[j] = max(sse - sse_f, 0.0)
        k = m - j
        num = wy[j] - wq[j] @ theta
        den = k - float(wq[j] @ G_inv @ wq[j])
        common[j] = float(np.sum(num ** 2)) / max(den, 1e-12)
        q = Qm[j]
        e = Y[rows[j]] - q @ theta
        g = G_inv @ q
        inside = 1.0 - float(q @ g)
        if inside > 1e-10:
            sse -= float(e @ e) / inside
            theta = theta - np.outer(g, e) / inside
            G_inv = G_inv + np.outer(g, g) / inside
    return free, common


def _f_logsf(f, d1, d2) -> np.ndarray:
    """``log P(F(d1, d2) > f)`` elementwise, also far below the smallest double.

    ``P = I_x(d2/2, d1/2)`` with ``x = d2 / (d2 + d1 f)``; where scipy's value
    underflows, the leading term of the series of ``I_x`` with a geometric
    bound on the rest is used.
    """
    from scipy.special import betaln

    f, d1, d2 = np.broadcast_arrays(np.asarray(f, float), np.asarray(d1, float),
                                    np.asarray(d2, float))
    value = np.asarray(stats.f.logsf(f, d1, d2), dtype=float)
    low = ~np.isfinite(value)
    if low.any():
        a, b = d2[low] / 2.0, d1[low] / 2.0
        x = d2[low] / (d2[low] + d1[low] * f[low])
        q = np.minimum(x * (a + b) / (a + 1.0), 0.5)
        value[low] = (a * np.log(x) + b * np.log1p(-x) - np.log(a) - betaln(a, b)
                      - np.log1p(-q))
    return value


def _cap(flagged, ratio, max_flagged):
    """Keep at most ``max_flagged`` samples, those with the largest ``ratio``."""
    if flagged.sum() <= max_flagged:
        return flagged
    idx = np.flatnonzero(flagged)
    keep = idx[np.argsort(-ratio[idx], kind="stable")[:max_flagged]]
    out = np.zeros_like(flagged)
    out[keep] = True
    return out


def _deletion_test(Q, Y, flagged, law: NoiseLaw, returned=None) -> OutlierTest:
    """Every sample's deletion statistic and cutoff given the flagged set.

    The reference fit leaves out the flagged and the ``returned`` samples; the
    returned ones' prediction residuals are pooled into its scale (one degree
    of freedom each).
    """
    K = Y.shape[1]
    returned = np.zeros_like(flagged) if returned is None else returned
    out = flagged | returned
    res = deletion_residuals(Q, Y, out)
    reference = None if returned.any() else res
    extra = float(np.sum(res.u[returned]))
    sse = res.sse + extra
    dof = max(res.dof + int(returned.sum()), 1)
    scale = float(np.sqrt(sse / (K * dof)))
    kept = res.u[~flagged]
    # t noise: df given or matched to the kept samples' 90% / 50% quantile ratio (they
    # lack only the few clean ones beyond the cutoff); matched to the normal law's
    # bound, the normal test is used
    df = law.df if law.df is not None else (tail_df(kept, K) if law.estimate else None)
    if df is None or df >= TAIL_DF_BOUNDS[1]:
        # the scale without sample i: s_(i)^2 = (SSE - u_i) / (K (dof - 1)) for a kept i
        inside = ~out
        own_dof = np.where(inside, dof - 1, dof)
        own_sse = np.where(inside, sse - res.u, sse)
        s2 = np.maximum(own_sse, 0.0) / (K * np.maximum(own_dof, 1))
        statistic = np.sqrt(res.u / np.maximum(s2, 1e-300))
        cutoff = law.normal_cutoff(own_dof)
        cutoff = np.where(own_dof >= 1, cutoff, np.inf)
        return OutlierTest(flagged, statistic, cutoff, scale, dof, res.e,
                           None if df is None else np.inf, 0, reference)
    # the t scale from the median of the kept samples' squared deletion residuals
    t_scale2 = float(np.median(kept)) / (K * stats.f.ppf(0.5, K, df))
    statistic = np.sqrt(res.u / max(t_scale2, 1e-300))
    cutoff = np.full(Q.shape[0], law.student_cutoff(df, dof))
    return OutlierTest(flagged, statistic, cutoff, scale, dof, res.e, df, 0, reference)


TAIL_DF_BOUNDS = (1.0, 200.0)


def tail_df(u, K: int = 1, bounds=TAIL_DF_BOUNDS) -> float:
    """Degrees of freedom of a (multivariate) Student ``t`` matched to the shoulder of ``u``.

    ``u`` holds squared norms ``||z_i||^2`` of ``K``-vectors ``z = scale * t_df``,
    so ``u / (K scale^2) ~ F(K, df)``; ``df`` is the one whose 90% / 50% quantile
    ratio is that of ``u``. Ratios at or below the normal law's give the upper
    bound (practically normal), above Cauchy's the lower one.

    Examples
    --------
    >>> import numpy as np
    >>> from sparsestat.robust._mean_shift import tail_df
    >>> z = 2.0 * np.random.default_rng(0).standard_t(4, 100_000)
    >>> round(tail_df(z ** 2))
    4
    """
    from scipy.optimize import brentq

    u = np.asarray(u, dtype=float)
    q50, q90 = np.quantile(u, [0.5, 0.9])
    if not q50 > 0:
        return float(bounds[1])
    target = np.log(q90 / q50)

    def gap(log_df):
        df = np.exp(log_df)
        return np.log(stats.f.ppf(0.9, K, df) / stats.f.ppf(0.5, K, df)) - target

    lo, hi = np.log(bounds[0]), np.log(bounds[1])
    if gap(hi) >= 0:
        return float(bounds[1])
    if gap(lo) <= 0:
        return float(bounds[0])
    return float(np.exp(brentq(gap, lo, hi, xtol=1e-6)))


@dataclass
class ShiftFit:
    """Everything :func:`fit_mean_shift` computes (the reusable core).

    Attributes
    ----------
    path : SparseRegularizationPath
        Path of the shift ``G`` on the scale of the targets.
    entry_times : ndarray of shape (n,)
        First time each sample's shift is nonzero (``np.inf``: never).
    order : ndarray of shape (n,)
        Samples ranked from most to least suspect.
    stop_time : float
        Time ``t* = n / c_n`` of the path in units of the scale.
    outliers : ndarray of shape (n,), bool
        The flagged samples.
    scale : ndarray of shape (K,)
        Residual scale of each target (the inliers' least-squares scale).
    basis : ThinBasis
        The orthonormal basis of ``[1, X]``.
    cutoff : float
        The cutoff ``c_n`` used (normal law, known scale).
    weights : ndarray of shape (n,)
        Penalty weights ``sqrt(1 - h_ii)``.
    test : OutlierTest or None
        The deletion test behind ``outliers`` (``None`` for ``start='none'``).
    """

    path: object
    entry_times: np.ndarray
    order: np.ndarray
    stop_time: float
    outliers: np.ndarray
    scale: np.ndarray
    basis: ThinBasis
    cutoff: float
    weights: np.ndarray
    test: OutlierTest | None = None


def min_samples(n_features: int, fit_intercept: bool = True) -> int:
    """Fewest samples the detector calibrates: ``r + 2`` (``r`` model parameters).

    The deletion test of a sample needs the fit without it to leave at least one
    residual degree of freedom for the scale.
    """
    return int(n_features) + int(fit_intercept) + 2


def fit_mean_shift(X, Y, *, contamination="auto", solver="lbi", kappa=100.0, n_times=100,
                   t_ratio=2.0, fit_intercept=True, start="lts", cutoff="auto",
                   noise_df=None, max_iter=None, random_state=None,
                   basis: ThinBasis | None = None,
                   verbose: int | StageReporter = 0) -> ShiftFit:
    """The mean-shift outlier path for a 2-D target (one or several outputs).

    Shared by :class:`MeanShiftOutlierDetector` and the multi-output models
    built on it (several targets use the row-group penalty: a sample enters
    with all of its targets at once). ``X`` (n, p) and ``Y`` (n, K) must be
    finite and validated. ``verbose > 0`` prints a timed line per stage
    (basis, robust start, each pass of the path and of the deletion test).
    """
    report = verbose if isinstance(verbose, StageReporter) else \
        StageReporter("MeanShiftOutlierDetector", verbose)
    n = Y.shape[0]
    K = Y.shape[1]
    if basis is None:
        basis = thin_basis(X, fit_intercept)
        report.stage(f"thin QR basis of [1, X]: n={n}, rank {basis.Q.shape[1]}")
    Q = basis.Q
    r = Q.shape[1]
    col_scale = target_scales(Q, Y)
    Ys = Y / col_scale
    c = auto_cutoff(n, K) if cutoff == "auto" else float(cutoff)
    law = NoiseLaw(tail=float(stats.chi2.sf(c * c, K)), K=K,
                   df=None if noise_df in (None, "auto") else float(noise_df),
                   estimate=noise_df == "auto")
    omega = leverage_weights(basis.leverage)
    k_min = 0 if contamination == "auto" else int(np.ceil(contamination * n))
    setup = _PathSetup(
        omega=omega, cutoff=c, t_star=n / c, start=start, solver=solver,
        penalty="l1" if K == 1 else "group", kappa=kappa, n_times=n_times,
        t_ratio=t_ratio, max_active=max(n // 2, k_min + 1), k_min=k_min,
        max_iter=max_iter, law=law, max_flagged=max(min(n // 2, n - r - 2), 0),
        col_scale=col_scale)
    if start != "lts":
        R = residuals(Q, Ys, subset_fit(Q, Ys, np.ones(n, dtype=bool)))
        sigma = float(np.sqrt(np.median(np.sum(R ** 2, axis=1)) / stats.chi2.ppf(0.5, K)))
        if not np.isfinite(sigma) or sigma <= 1e-12:
            return _exact_fit(Q, Ys, R, col_scale, basis, c, omega, contamination, k_min)
        best = _passes(Q, Ys, R, sigma, setup, report)
    else:
        trims = _trims(n, r)
        starts = lts_starts(Q, Ys, trims=trims, order=canonical_order(X, basis),
                            random_state=random_state)
        best = None
        for trim, rs in zip(trims, starts):
            # the first pass only proposes candidates (the deletion test decides), so
            # the robust scale is used as it is, although it is biased down in small
            # samples
            sigma = max(rs.scale, rs.m_scale)
            report.stage(f"LTS start ({trim:.0%} trimmed): robust residual scale "
                         f"{_scales(sigma * col_scale)}")
            if not np.isfinite(sigma) or sigma <= 1e-12:
                if best is None:
                    return _exact_fit(Q, Ys, rs.residuals, col_scale, basis, c, omega,
                                      contamination, k_min)
                continue
            found = _passes(Q, Ys, rs.residuals, sigma, setup, report)
            # several starts (small n / p): the one that explains most wins -- each
            # flagged set has passed the set test, so a larger one is not spurious
            if best is None or (found.flagged.sum(), -found.sigma) > \
                    (best.flagged.sum(), -best.sigma):
                best = found
    R, path, entry, test = best.residuals, best.path, best.entry, best.test
    tie = -np.sqrt(np.sum(R ** 2, axis=1))
    if contamination == "auto":
        outliers = best.flagged
        order = np.lexsort((tie, entry, ~outliers))
    else:
        order = np.lexsort((tie, entry))
        outliers = np.zeros(n, dtype=bool)
        outliers[order[:k_min]] = True
    scale = _inlier_scale(Q, Ys, outliers, test)
    # the path back on the scale of the targets
    unit = np.repeat((col_scale * best.sigma)[None, :], n, axis=0).ravel()
    path.coefs = path.coefs.multiply(unit[None, :]).tocsr()
    path.info.update(stop_time=float(setup.t_star), cutoff=float(c), scale=float(best.sigma))
    return ShiftFit(path=path, entry_times=entry, order=order, stop_time=float(setup.t_star),
                    outliers=outliers, scale=col_scale * scale, basis=basis, cutoff=c,
                    weights=omega, test=test)


def _trims(n: int, r: int) -> list[float]:
    """Trimmed fractions of the robust starts: 50%, and less when ``n / r`` is small.

    With few samples per parameter the best of many half-samples fits spuriously
    well and may take a few true outliers into its half; starts that trim less
    (25%, 10%) cannot afford that.
    """
    return [0.5, 0.25, 0.1] if n < 20 * r else [0.5]


@dataclass
class _PathSetup:
    """The settings every pass of the path shares."""

    omega: np.ndarray
    cutoff: float
    t_star: float
    start: str
    solver: str
    penalty: str
    kappa: float
    n_times: int
    t_ratio: float
    max_active: int
    k_min: int
    max_iter: int | None
    law: NoiseLaw
    max_flagged: int
    col_scale: np.ndarray


@dataclass
class _Passes:
    """The last pass of :func:`_passes`."""

    path: object
    entry: np.ndarray
    flagged: np.ndarray
    test: OutlierTest | None
    sigma: float
    residuals: np.ndarray


def _passes(Q, Ys, R, sigma, setup: _PathSetup, report) -> _Passes:
    """Path, deletion test, and again with the kept samples' scale, until the set repeats.

    ``R`` are the start's residuals (the path's early stretch follows them) and
    ``sigma`` the scale of the first pass.
    """
    flagged = None
    test = None
    for passes in range(5):
        path = _path(Q, Ys / sigma, R / sigma, setup)
        entry = path.entry_times.min(axis=1)
        new = entry <= setup.t_star
        report.stage(f"path pass {passes + 1} ({setup.solver}, {max(int(path.n_iter), 1)} "
                     f"{'knots' if setup.solver == 'iss' else 'iterations'}, up to "
                     f"t={setup.t_ratio * setup.t_star:.4g}): {int(new.sum())} samples "
                     f"entered by t*={setup.t_star:.4g}")
        if setup.start != "lts":
            flagged = new
            break
        # the path proposes, the deletion test decides: the flagged set is the fixed
        # point of the tests started from the samples the path let in and those the
        # robust fit itself puts beyond the cutoff (a cluster the path only half let
        # in would mask its other half)
        far = np.sqrt(np.sum(R ** 2, axis=1)) / (sigma * setup.omega) > setup.cutoff
        new = new | far
        # candidates beyond the cap: the earliest to enter (ties: the robust residual)
        rank = np.empty(new.size)
        rank[np.lexsort((-np.sum(R ** 2, axis=1), entry))] = np.arange(new.size, 0, -1)
        test = confirm_outliers(Q, Ys, new, setup.law, setup.max_flagged, priority=rank)
        new = test.flagged
        kept_scale = _inlier_scale(Q, Ys, new, test)
        report.stage(f"deletion test ({test.n_steps} steps"
                     f"{'' if test.df is None else f', t with {test.df:.3g} df'}): "
                     f"{int(new.sum())} samples flagged, scale of the "
                     f"{int((~new).sum())} kept {_scales(kept_scale * setup.col_scale)}")
        if flagged is not None and np.array_equal(new, flagged):
            break
        flagged = new
        # the next pass runs the path with the scale of the samples kept; it keeps
        # starting from the robust fit's residuals
        sigma = max(kept_scale, 1e-12 * sigma)
    return _Passes(path=path, entry=entry, flagged=flagged, test=test, sigma=sigma,
                   residuals=R)


def _path(Q, Yt, U, setup: _PathSetup):
    """One path of the shifts on targets ``Yt`` in units of the scale, up to ``t_ratio t*``.

    ``U`` are the start's residuals in the same units.
    """
    Yt = np.ascontiguousarray(Yt)
    omega, t_star = setup.omega, setup.t_star
    if setup.start == "lts":
        # the early stretch of the path is integrated against the robust fit
        # instead of least squares (the fit masking corrupts): at tau = t*/2 the
        # dual holds tau * r_i / (n sigma omega_i); samples far out of the robust
        # fit sit on the boundary and enter together at tau, so a cluster of them
        # cannot mask its own members
        t_first = t_star / 2.0
        z_start = _robust_dual(Q, Yt, U, omega, setup.cutoff, setup.kappa)
    else:
        t_first = _start_time(Q, Yt, omega)
        z_start = None
    t_end = setup.t_ratio * t_star
    grid = record_times(t_first, t_end, setup.n_times)
    if setup.solver == "iss":
        return _engine.projected_shift_iss_path(
            Q, Yt, penalty=setup.penalty, weights=omega, times=grid,
            max_active=setup.max_active, min_entries=setup.k_min, z_start=z_start,
            t_start=t_first)
    return _engine.projected_shift_path(
        Q, Yt, penalty=setup.penalty, weights=omega, kappa=setup.kappa, times=grid,
        max_active=setup.max_active, min_entries=setup.k_min, max_iter=setup.max_iter,
        z_start=z_start, t_start=t_first)


def canonical_order(X: np.ndarray, basis: ThinBasis) -> np.ndarray:
    """A row order that depends on the rows' values only, not on their positions.

    Rows are sorted by a fixed random projection of the standardized design
    (invariant to rescaling the columns), so that the random subsets of the
    robust start pick the same rows whatever order the samples come in.
    """
    w = np.random.default_rng(20240607).standard_normal(X.shape[1]) / basis.scale
    key = X @ w - basis.mean @ w
    return np.argsort(key, kind="stable")


def _inlier_scale(Q, Y, outliers, test: OutlierTest | None = None) -> float:
    """Residual standard deviation of least squares without ``outliers`` (pooled over targets).

    The fit of a deletion ``test`` that left out exactly ``outliers`` is reused.
    """
    if test is not None and test.reference is not None and \
            np.array_equal(test.flagged, outliers):
        fit = test.reference
    else:
        fit = deletion_residuals(Q, Y, outliers)
    return float(np.sqrt(fit.sse / (Y.shape[1] * max(fit.dof, 1))))


def _robust_scale(A):
    """Normal-consistent MAD of each column (its standard deviation where that is 0; else 1)."""
    scale = 1.4826 * np.median(np.abs(A - np.median(A, axis=0)), axis=0)
    scale = np.where(scale > 0, scale, A.std(axis=0))
    return np.where(scale > 0, scale, 1.0)


def _scales(values) -> str:
    return ", ".join(f"{v:.4g}" for v in np.atleast_1d(values))


def _exact_fit(Q, Ys, R, col_scale, basis, c, omega, contamination, k_min):
    """More than half of the samples lie exactly on a plane: its outliers are the rest.

    The robust scale is zero, so no path is needed (the exact-fit property of
    high-breakdown regression): samples off the plane are flagged.
    """
    from scipy import sparse

    from sparsestat.path import SparseRegularizationPath

    n, K = Ys.shape
    dist = np.sqrt(np.sum(R ** 2, axis=1))
    off = dist > 1e-9 * max(1.0, float(np.max(np.abs(Ys))))
    entry = np.where(off, 0.0, np.inf)
    order = np.lexsort((-dist, entry))
    if contamination == "auto":
        outliers = off
    else:
        outliers = np.zeros(n, dtype=bool)
        outliers[order[:k_min]] = True
    path = SparseRegularizationPath(
        times=np.zeros(1), coefs=sparse.csr_matrix((1, n * K)), intercepts=np.zeros((1, K)),
        entry_times=entry[:, None].repeat(K, axis=1), interpolation="previous", t0=0.0,
        info={"solver": "exact_fit", "status": "ok"}, n_targets=K, squeeze=False)
    return ShiftFit(path=path, entry_times=entry, order=order, stop_time=0.0,
                    outliers=outliers, scale=np.zeros(K), basis=basis, cutoff=c,
                    weights=omega)


def target_scales(Q, Y):
    """Robust column scales of the least-squares residuals of ``Y`` on ``Q``.

    They make the targets' noise levels comparable (the tests pool them) and
    let one ``kappa`` serve all; a target fitted exactly keeps the robust scale
    of the target itself.
    """
    col_scale = _robust_scale(Y)
    resid_scale = _robust_scale(residuals(Q, Y, subset_fit(Q, Y, np.ones(Y.shape[0],
                                                                         dtype=bool))))
    return np.where(resid_scale > 1e-8 * col_scale, resid_scale, col_scale)


def leverage_weights(leverage):
    """``omega_i = sqrt(1 - h_ii)`` (floored at 1e-6): residual ``i`` has standard
    deviation ``sigma * omega_i``, so the thresholds are leverage-aware."""
    return np.sqrt(np.maximum(1.0 - np.clip(leverage, 0.0, 1.0), 1e-12))


def record_times(t_first, t_end, n_times):
    """The shift path's record times: geometric from just after ``t_first`` to ``t_end``."""
    return t_first * np.geomspace(1.0 + 1e-9, max(t_end / t_first, 1.0 + 1e-6), n_times)


def _robust_dual(Q, Y, U, omega, c, kappa):
    """The path's state at ``tau = t*/2`` when its early stretch follows the robust fit.

    ``U`` are the robust residuals in units of the scale. The dual holds
    ``U_i / (2 c omega_i)`` (``tau / n = 1 / (2c)`` times the residual); rows at
    or beyond the unit sphere form the set ``S``, whose shifts start at their
    joint least-squares values (the residuals against the fit without ``S``,
    which is how the inverse scale space path enters a whole set at once) --
    rows whose joint value disagrees in sign stay on the boundary.
    """
    Z = U / (2.0 * c * omega[:, None])
    norm = np.sqrt(np.sum(Z ** 2, axis=1))
    S = norm >= 1.0
    Z[S] /= norm[S, None]
    if S.any() and (~S).sum() > Q.shape[1]:
        theta = subset_fit(Q, Y, ~S)
        G = Y[S] - Q[S] @ theta
        agree = np.sum(G * Z[S], axis=1) > 0
        idx = np.flatnonzero(S)[agree]
        Gs = G[agree]
        gnorm = np.sqrt(np.sum(Gs ** 2, axis=1))
        # G_i = kappa * omega_i * prox(z_i)  <=>  z_i = G_i / ||G_i|| (1 + ||G_i|| / (kappa omega_i))
        Z[idx] = Gs / gnorm[:, None] * (1.0 + gnorm / (kappa * omega[idx]))[:, None]
    return Z


def _start_time(Q, Y, omega):
    """``t0``: the first time a shift enters, ``n / max_i ||((I - QQ^T) Y)_i|| / omega_i``."""
    R = Y - Q @ (Q.T @ Y)
    top = float(np.max(np.sqrt(np.sum(R ** 2, axis=1)) / omega))
    return Y.shape[0] / max(top, 1e-300)


class MeanShiftOutlierDetector(RegressorMixin, BaseEstimator):
    """Robust linear regression that flags outliers along the mean-shift path.

    The model is ``y = X beta + b + gamma + eps`` with ``gamma`` sparse: a
    sample with ``gamma_i != 0`` is an outlier. ``beta`` is removed by the
    projection onto the orthogonal complement of ``[1, X]``, applied
    implicitly through a thin QR (never the ``n x n`` hat matrix), and the
    path of ``gamma`` is followed by the Linearized Bregman Iteration:
    outliers enter first. To survive masking and swamping the path uses

    * high-breakdown starts (least trimmed squares, 50% trimmed; also 25% and
      10% when ``n < 20 p``) for the first scale and for the path's early
      stretch: samples the robust fit already rejects enter early, so
      clusters of bad leverage points cannot hide each other;
    * leverage-aware thresholds ``sigma * sqrt(1 - h_ii) * c_n`` (the
      penalty weight of sample ``i`` is ``sqrt(1 - h_ii)``), so clean
      high-leverage points are not flagged;
    * the nearly unbiased large-``kappa`` path (or the exact ISS path),
      whose active shifts equal deletion residuals rather than shrunken
      Huber residuals.

    With ``contamination='auto'`` the samples whose shift has entered by
    ``t* = n / c_n`` (in units of the scale) are the candidates, and a
    deletion test decides: each sample's residual against the least-squares
    fit without the flagged set (and without itself), over its standard
    error, is held against its exact small-sample law under normal noise
    (Student ``t`` with the residual degrees of freedom left) at the tail
    probability of :func:`auto_cutoff`; flagged samples below the cutoff
    return, kept samples above it are flagged, to a fixed point, and the
    flagged set as a whole must pass a set test that no search over clean
    samples can pass but rarely (``set_test``). The path then runs again
    with the scale of the samples kept, until the flagged set repeats. On
    clean normal data about half a sample is flagged per data set, whatever
    ``n / p`` (measured down to ``n = 2p + 5``; see ``docs/outliers.md``).
    ``coef_`` and ``intercept_`` are least squares on the inliers.

    Parameters
    ----------
    contamination : 'auto' or float in (0, 0.5), default='auto'
        ``'auto'``: the stopping rule above. A float flags that fraction of
        the samples, in entry order.
    solver : {'lbi', 'iss'}, default='lbi'
        ``'iss'`` is the exact inverse scale space path (the
        ``kappa -> infinity`` limit), one knot per entering sample; use it
        for small and moderate ``n`` and a single target.
    kappa : float, default=100.0
        LBI damping, in units of the robust scale; larger is less biased and
        needs more iterations (about ``2 kappa / c_n`` to the stopping time).
    n_times : int, default=100
        Number of record times of ``regularization_path_``.
    t_ratio : float, default=2.0
        The path is followed up to ``t_ratio`` times the stopping time ``t*``
        (the record grid is geometric from the path's start to there).
    fit_intercept : bool, default=True
        Include the intercept column in the model.
    start : {'lts', 'none'}, default='lts'
        ``'lts'``: robust start (scale and adaptive weights). ``'none'``: the
        plain leverage-studentized path from least squares with a MAD scale
        (the Huber-type estimator; breaks down under masking).
    cutoff : 'auto' or float, default='auto'
        The threshold ``c_n`` in standard deviations of the noise (known
        scale); the deletion test uses its two-sided normal tail probability
        with the exact small-sample law. ``'auto'``: :func:`auto_cutoff`.
    noise_df : None, 'auto' or float > 0, default=None
        The noise law behind the cutoff. ``None``: normal. A number: Student
        ``t`` with that many degrees of freedom (multivariate ``t`` for several
        targets), its scale from the median of the kept samples' deletion
        residuals; the cutoff is the ``t`` quantile at the same tail
        probability, so heavy-tailed clean samples are not flagged, at the
        price of missing outliers inside the ``t`` law's own range.
        ``'auto'``: the degrees of freedom matched to the kept samples' 90% /
        50% quantile ratio (``tail_df``), between 1 and 200; where it matches the
        normal law (200), the normal test is used and ``noise_df_`` is ``inf``.
    max_iter : int, default=None
        LBI iteration budget (``None``: as many as the grid needs).
    duplicates : {'warn', 'raise', 'keep'}, default='warn'
        Samples that repeat exactly (same ``x`` and ``y``). In discrete data
        (counts, rounded measurements such as iris) they are legitimate; from
        a data-handling error they would, as outliers, support each other.
        ``'warn'``: fit them as given and warn with the rows named;
        ``'raise'``: refuse them; ``'keep'``: fit them silently. Data without
        duplicates is fitted the same way whatever the choice.
    dask_path : {'full', 'sample'}, default='full'
        Fits on dask arrays only (see ``docs/parallel.md``). ``'full'``: the
        shift path over all rows (chunk by chunk), which proposes candidates
        to the deletion test and sets ``entry_times_``, ``ranking_`` and
        ``regularization_path_``. ``'sample'``: the path on a random sample of
        rows only (fewer passes over the data; the path attributes are not set).
    random_state : int, RandomState instance or None, default=None
        Seeds the random subsets of the robust start.
    verbose : int, default=0
        ``> 0``: print a line per stage with its time (basis, robust starts,
        each pass of the path and of the deletion test, the inlier fit).

    Attributes
    ----------
    outliers_ : ndarray of shape (n_samples,), dtype=bool
        Flagged samples.
    outlier_rows_ : ndarray of shape (n_outliers,), dtype=int
        Row numbers of the flagged samples counted from 1, in increasing order
        (``np.flatnonzero(outliers_) + 1``): the row numbers ``sparsestat
        outliers`` prints, the first data row after a CSV header being row 1.
    inlier_mask_ : ndarray of shape (n_samples,), dtype=bool
        ``~outliers_``: the samples of the final least-squares fit (as
        :class:`~sklearn.linear_model.RANSACRegressor` names them).
    n_outliers_ : int
        Number of flagged samples.
    gamma_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Estimated shifts: the residual of each flagged sample against the
        inlier fit (zero for inliers).
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Least-squares coefficients on the inliers.
    intercept_ : float or ndarray of shape (n_targets,)
        Intercept of the inlier fit.
    entry_times_ : ndarray of shape (n_samples,)
        Time each sample's shift enters the path (``np.inf``: never);
        earlier means more outlying.
    ranking_ : ndarray of shape (n_samples,)
        Sample indices from most to least suspect (with ``'auto'``: the flagged
        samples first, each group in entry order).
    scale_ : float or ndarray of shape (n_targets,)
        Residual standard deviation of the inliers' least-squares fit (with
        its degrees of freedom).
    stop_time_ : float
        The time ``t*`` of the ``'auto'`` rule.
    cutoff_ : float
        The cutoff ``c_n`` used (known scale, normal noise).
    noise_df_ : float or None
        Degrees of freedom of the ``t`` noise law used (``None``: normal; ``inf``:
        ``noise_df='auto'`` found normal tails).
    n_iter_ : int
        LBI iterations (or ISS knots) of the final path.
    regularization_path_ : SparseRegularizationPath
        The path of ``gamma`` (stored sparsely: ``O(n)`` memory for a
        bounded support).
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    sklearn.linear_model.HuberRegressor : The l1 mean shift at a fixed lambda.
    sklearn.linear_model.RANSACRegressor : Consensus of random subsets.

    Examples
    --------
    >>> from sparsestat import MeanShiftOutlierDetector
    >>> from sparsestat.datasets import load_stackloss
    >>> X, y = load_stackloss(return_X_y=True)
    >>> det = MeanShiftOutlierDetector(random_state=0).fit(X, y)
    >>> det.outlier_rows_.tolist()      # row numbers from 1; outliers_ is the mask
    [1, 3, 4, 21]
    """

    _parameter_constraints: dict = {
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="neither")],
        "solver": [StrOptions({"lbi", "iss"})],
        "kappa": [Interval(Real, 0, None, closed="neither")],
        "n_times": [Interval(Integral, 2, None, closed="left")],
        "t_ratio": [Interval(Real, 1, None, closed="neither")],
        "fit_intercept": ["boolean"],
        "start": [StrOptions({"lts", "none"})],
        "cutoff": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "noise_df": [None, StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "duplicates": [StrOptions({"warn", "raise", "keep"})],
        "dask_path": [StrOptions({"full", "sample"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, contamination="auto", *, solver="lbi", kappa=100.0, n_times=100,
                 t_ratio=2.0, fit_intercept=True, start="lts", cutoff="auto",
                 noise_df=None, max_iter=None, duplicates="warn", dask_path="full",
                 random_state=None, verbose=0):
        self.contamination = contamination
        self.solver = solver
        self.kappa = kappa
        self.n_times = n_times
        self.t_ratio = t_ratio
        self.fit_intercept = fit_intercept
        self.start = start
        self.cutoff = cutoff
        self.noise_df = noise_df
        self.max_iter = max_iter
        self.duplicates = duplicates
        self.dask_path = dask_path
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.non_deterministic = False
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the robust regression and flag the outliers.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            Training data (finite). A dask array (rows in chunks) is fitted out
            of core; see ``docs/parallel.md``: ``outliers_``, ``inlier_mask_``,
            ``gamma_`` and ``entry_times_`` are then dask arrays, ``ranking_``
            and ``regularization_path_`` hold the rows that enter the path.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets (finite, not constant); a dask array with ``X``'s rows.

        Returns
        -------
        self : MeanShiftOutlierDetector
        """
        if _dask.is_dask_collection(X):
            # out of core: robust start on a sample, path and deletion test by chunk passes
            return _dask.fit_mean_shift_dask(self, X, y)
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             dtype=np.float64)
        Y = y.reshape(y.shape[0], -1)
        check_outlier_data(X, Y, self.fit_intercept, self.duplicates)
        report = StageReporter(type(self).__name__, self.verbose)
        res = fit_mean_shift(
            X, Y, contamination=self.contamination, solver=self.solver, kappa=self.kappa,
            n_times=self.n_times, t_ratio=self.t_ratio, fit_intercept=self.fit_intercept,
            start=self.start, cutoff=self.cutoff, noise_df=self.noise_df,
            max_iter=self.max_iter,
            random_state=self.random_state, verbose=report)
        inliers = ~res.outliers
        theta = subset_fit(res.basis.Q, Y, inliers)
        coef, intercept = res.basis.coefficients(theta)
        report.done(f"least squares on the {int(inliers.sum())} inliers; "
                    f"{int(res.outliers.sum())} outliers flagged")
        gamma = np.zeros_like(Y)
        if res.outliers.any():
            out = res.outliers
            gamma[out] = Y[out] - (X[out] @ coef.T + intercept)
        single = y.ndim == 1
        self.outliers_ = res.outliers
        self.outlier_rows_ = np.flatnonzero(res.outliers) + 1
        self.inlier_mask_ = ~res.outliers
        self.n_outliers_ = int(res.outliers.sum())
        self.gamma_ = gamma[:, 0] if single else gamma
        self.coef_ = coef[0] if single else coef
        self.intercept_ = float(intercept[0]) if single else intercept
        self.entry_times_ = res.entry_times
        self.ranking_ = res.order
        self.scale_ = float(res.scale[0]) if single else res.scale
        self.stop_time_ = res.stop_time
        self.n_iter_ = max(int(res.path.n_iter), 1)
        self.cutoff_ = res.cutoff
        self.noise_df_ = None if res.test is None else res.test.df
        path = res.path
        path.squeeze = single
        self.regularization_path_ = path
        return self

    def predict(self, X):
        """Predict with the robust (inlier) fit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return X @ np.asarray(self.coef_).T + self.intercept_

    def score_samples(self, X, y):
        """How well each sample fits the robust regression: higher is more normal.

        The negative norm of the sample's residual against the inlier fit,
        in units of ``scale_`` (per target, then the Euclidean norm over
        the targets): ``-|y - predict(X)| / scale_`` for one target. A new
        sample scoring below ``-cutoff_`` lies beyond the cutoff that
        :meth:`score` leaves out. The score does not change when ``y`` is
        shifted or rescaled along with the fit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            At most 0 (a sample exactly on the fit).
        """
        check_is_fitted(self)
        y = np.asarray(y, dtype=float)
        pred = self.predict(X)
        if y.shape != pred.shape:
            raise ValueError(
                f"y has shape {y.shape}, the predictions of X {pred.shape}: pass one target "
                "row per sample of X, with the targets the detector was fitted on.")
        return -_standardized_norms(y - pred, self.scale_)

    def score(self, X, y, sample_weight=None):
        """R^2 of the robust fit on the samples it does not flag as outliers.

        On the training data the flagged samples are those of ``outliers_``;
        on new data, samples whose absolute residual exceeds
        ``cutoff_ * scale_`` are left out.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        from sklearn.metrics import r2_score

        check_is_fitted(self)
        y = np.asarray(y, dtype=float)
        pred = self.predict(X)
        keep = _standardized_norms(y - pred, self.scale_) <= self.cutoff_
        if keep.sum() < 2:
            keep[:] = True
        w = None if sample_weight is None else np.asarray(sample_weight)[keep]
        return float(r2_score(y[keep], pred[keep], sample_weight=w))


def _standardized_norms(R: np.ndarray, scale) -> np.ndarray:
    """Row norms of the residuals ``R`` in units of each target's ``scale``."""
    R = R.reshape(R.shape[0], -1) / np.asarray(scale, dtype=float).reshape(1, -1)
    return np.sqrt(np.sum(R ** 2, axis=1))


def check_outlier_data(X: np.ndarray, Y: np.ndarray, fit_intercept: bool = True,
                       duplicates: str | bool = "raise") -> None:
    """Refuse inputs the mean-shift model cannot use, with a message that says why.

    ``duplicates``: ``'raise'`` (or ``True``) refuses repeated samples,
    ``'warn'`` warns about them, ``'keep'`` (or ``False``) accepts them.
    """
    n, p = X.shape
    need = min_samples(p, fit_intercept)
    if n < need:
        raise ValueError(
            f"Outlier detection needs at least {need} samples for {p} features"
            f"{' plus an intercept' if fit_intercept else ''} (the test of a sample needs "
            f"the fit without it to leave a residual degree of freedom); got n_samples={n}. "
            f"Its false-flag rate is measured for n_samples >= 2 * n_features + 5 "
            f"= {2 * p + 5}, and detecting outliers needs several times more samples than "
            "features. Add samples or drop features."
        )
    if np.all(Y == Y[:1]):
        raise ValueError(
            "y is constant: there is no variation to fit, so no sample can be an outlier. "
            "Check that the right target column was passed."
        )
    if duplicates is True:
        duplicates = "raise"
    if duplicates is False or duplicates == "keep":
        return
    dup = duplicated_rows(X, Y)
    if not dup.size:
        return
    where = (f"X, y contain {dup.shape[0]} duplicated sample(s) (e.g. row {dup[0, 1] + 1} "
             f"repeats row {dup[0, 0] + 1}, 1-based).")
    if duplicates == "raise":
        raise ValueError(
            f"{where} Repeated samples usually come from a "
            "data-handling error and, as outliers, support each other: remove the duplicates (e.g. np.unique(np.column_stack([X, y]), "
            "axis=0)) or pass duplicates='keep'."
        )
    warnings.warn(
        f"{where} They are fitted as given (as in discrete data); if they come from a "
        "data-handling error, remove them: repeated outliers support each other. Pass "
        "duplicates='keep' to silence this warning or duplicates='raise' to refuse them.",
        UserWarning, stacklevel=3)


def duplicated_rows(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Pairs ``(first, repeat)`` of identical samples (rows of ``[X, Y]``), 0-based.

    Rows are hashed by a fixed random projection, sorted by hash, and only
    rows with equal hashes are compared exactly: ``O(n log n)`` time and
    ``O(n)`` extra memory.
    """
    w = np.random.default_rng(20240607).standard_normal(X.shape[1] + Y.shape[1])
    key = X @ w[:X.shape[1]] + Y @ w[X.shape[1]:]
    order = np.argsort(key, kind="stable")
    ks = key[order]
    same = np.flatnonzero(ks[1:] == ks[:-1])
    pairs = []
    for j in same:
        a, b = order[j], order[j + 1]
        if np.array_equal(X[a], X[b]) and np.array_equal(Y[a], Y[b]):
            pairs.append((min(a, b), max(a, b)))
    return np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
