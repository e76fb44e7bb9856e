"""SplitKnockoffSelector: directional FDR control for structural sparsity ``gamma = D beta``.

The model is ``y = X beta + eps`` with a sparse transformation ``gamma = D beta``
(``D`` the identity, first differences, a graph incidence matrix, ...). Split
LBI relaxes ``gamma = D beta`` into the lifted linear model

    ytilde = [y / sqrt(n); 0] = A_beta beta + A_gamma gamma + [eps / sqrt(n); 0],
    A_beta = [[1, X] / sqrt(n); [0, D] / sqrt(nu)],  A_gamma = [0; -I / sqrt(nu)],

and the procedure is:

1. split the samples at random into two parts;
2. part 1: the Split LBI path gives ``beta(t)`` and, for each row ``i`` of ``D``,
   the dual ``F_i(t) = int_0^t (D beta(s))_i / nu ds``; ``gamma_i`` enters when
   ``|F_i|`` reaches 1. Its entry time ``tau_i`` gives ``Z_i = 1 / tau_i`` and
   the sign of ``F_i`` at entry the direction ``r_i``;
3. part 2: split knockoffs ``Ak`` of ``A_gamma`` for the lifted design of part 2
   (``A_beta^T Ak = A_beta^T A_gamma``, ``Ak^T Ak = A_gamma^T A_gamma``,
   ``A_gamma^T Ak = A_gamma^T A_gamma - diag(s)``); as ``Ak^T Ak`` is diagonal the
   knockoff dual along the same ``beta(t)`` is ``F_i(t) + t xi_i`` with
   ``xi = Ak^T ytilde_2`` (mean ``-diag(s) gamma``: it slows the knockoff of a
   true, correctly signed ``gamma_i`` and speeds up the knockoff of a wrongly
   signed one); its entry gives ``Zk_i``;
4. ``W_i = Z_i * sign(Z_i - Zk_i)`` and the knockoff+ threshold; a selection
   reports the direction ``r_i``. Both entry times use the same discretized
   crossing rule, so neither side gains from the time grid.

Needs ``n_2 >= p + m + 1`` samples in part 2.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.feature_selection import SelectorMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from sparsestat import _engine
from sparsestat.feature_selection._construction import (
    conditional_factors,
    orthogonal_complement_basis,
)
from sparsestat.feature_selection._knockoffs import check_no_constant_columns, warn_no_selection
from sparsestat._progress import StageReporter
from sparsestat.feature_selection._scaling import (
    magnitude_exponents,
    standardize_columns,
    standardize_target,
)
from sparsestat.feature_selection._statistics import KAPPA_RANGE, T_RATIO_RANGE, inverse_entry_time
from sparsestat.feature_selection._svalues import check_covariance, compute_s, to_correlation
from sparsestat.feature_selection._threshold import knockoff_threshold


def entry_from_dual(times: np.ndarray, F: np.ndarray):
    """First time each column of ``F`` (recorded at ``times``) reaches ``|F| = 1``.

    ``F`` is interpolated linearly between record times. Returns ``(tau, sign)``
    with ``tau = inf`` and ``sign = 0`` for a column that never gets there.
    """
    hit = np.abs(F) >= 1.0
    crossed = hit.any(axis=0)
    k = np.argmax(hit, axis=0)
    cols = np.arange(F.shape[1])
    k_prev = np.maximum(k - 1, 0)
    F_hi, F_lo = F[k, cols], F[k_prev, cols]
    level = np.sign(F_hi)
    step = F_hi - F_lo
    frac = np.where(step != 0, (level - F_lo) / np.where(step != 0, step, 1.0), 1.0)
    tau = times[k_prev] + np.clip(frac, 0.0, 1.0) * (times[k] - times[k_prev])
    return np.where(crossed, tau, np.inf), np.where(crossed, level, 0.0)


def standardized_structure(D: np.ndarray, inverse_sd: np.ndarray) -> np.ndarray:
    """``D`` for the coefficients of the standardized features, rows of unit norm.

    With ``Xs = (X - mean) / sd`` the coefficients of ``Xs`` are ``sd * beta``,
    so ``D beta = (D / sd) (sd * beta)``; dividing each row of ``D / sd`` by its
    norm changes no support and no sign of ``D beta``, so ``inverse_sd`` may be
    ``1 / sd`` times any constant. Each row is first rescaled by an exact power
    of two, so that squaring it cannot overflow.
    """
    Ds = D * inverse_sd
    Ds = np.ldexp(Ds, magnitude_exponents(Ds, axis=1)[:, None])
    norms = np.sqrt(np.sum(Ds * Ds, axis=1))
    if not np.all(norms > 0):
        raise ValueError(
            "D has rows that vanish in floating point once the features are standardized "
            "(their scales differ by more than 1e300); rescale the features."
        )
    return Ds / norms[:, None]


def split_knockoffs(A_beta: np.ndarray, A_gamma: np.ndarray, s_method: str,
                             rng: np.random.Generator):
    """Split knockoffs ``Ak`` of ``A_gamma`` given the nuisance design ``A_beta``.

    Returns ``(Ak, s)`` with ``s`` the s-values on the correlation scale of
    ``Sigma = A_gamma^T P A_gamma``, ``P`` the projection off ``col(A_beta)``.
    """
    m = A_gamma.shape[1]
    Q, _ = np.linalg.qr(A_beta)
    PA = A_gamma - Q @ (Q.T @ A_gamma)
    Sigma = check_covariance(
        A_gamma.T @ PA, name="The split design A_gamma^T P A_gamma (rows of D given X)")
    R, sd = to_correlation(Sigma)
    s = compute_s(R, s_method)
    A_mat, L = conditional_factors(Sigma, s * sd ** 2)
    U = orthogonal_complement_basis(np.hstack([A_beta, A_gamma]), m, rng)
    Ak = A_gamma - PA @ (np.eye(m) - A_mat) + U @ L.T
    return Ak, s


# the coupling nu on the standardized problem; the iterations grow like kappa / nu for
# small nu and like kappa * nu for large nu
NU_RANGE = (1e-4, 1e4)
# the grid of nu='cv', on the standardized problem
NU_GRID = tuple(10.0 ** np.arange(-2.0, 1.01, 0.5))


def cv_path_errors(X, y, D, nus, *, cv, kappa, n_times, t_ratio, rng):
    """Held-out squared error of the Split LBI ``beta(t)``, per ``nu`` and record time.

    For each ``nu`` the path of all of ``(X, y)`` fixes the record times; each of the
    ``cv`` folds fits the path on the other folds at those times and predicts its own
    rows. Returns ``(errors, times)``: ``errors[i, k]`` the mean over the samples of
    the squared error of ``nus[i]`` at ``times[i][k]``.
    """
    n = X.shape[0]
    folds = np.array_split(rng.permutation(n), cv)
    errors, grids = [], []
    for nu in nus:
        full = _engine.split_lbi_path(X, y, D, kappa=kappa, nu=nu, n_times=n_times,
                                      t_ratio=t_ratio)
        times = full.beta_path.times
        sse = np.zeros(times.size)
        for held in folds:
            train = np.setdiff1d(np.arange(n), held)
            path = _engine.split_lbi_path(X[train], y[train], D, kappa=kappa, nu=nu,
                                          times=times)
            fit = path.beta_path.intercepts[:, None] + path.beta_path.coefs @ X[held].T
            sse += np.sum((y[held][None, :] - fit) ** 2, axis=1)
        errors.append(sse / n)
        grids.append(times)
    return np.array(errors), grids


def fixed_beta_statistics(a: np.ndarray, xi: np.ndarray, statistic: str):
    """``(Z, Zk, direction, W)`` with ``beta`` fixed, ``a = D beta / nu``.

    ``A_gamma`` and the knockoffs ``Ak`` are orthogonal with the same norms
    (``A_gamma^T A_gamma = Ak^T Ak = I / nu``), so the correlations of the residual
    ``ytilde - A_beta beta`` with the columns are ``a`` and ``a + xi``, and least
    squares (or the lasso at any penalty, which soft-thresholds them) orders the
    magnitudes as they do. ``'fixed'``: the duals ``t a`` and ``t (a + xi)`` enter at
    ``1 / |a|`` and ``1 / |a + xi|``. ``'magnitude'``: the knockoff competes only along
    the direction ``r = sign(a)``, ``Zk = max(0, r (a + xi))``; then ``W > 0`` exactly
    when ``r xi < 0``, a fair coin for a null row whatever part 1 gave (``xi`` is
    centred there and independent of part 1).
    """
    direction = np.sign(a)
    Z = np.abs(a)
    if statistic == "fixed":
        Zk = np.abs(a + xi)
        return Z, Zk, direction, Z * np.sign(Z - Zk)
    Zk = np.maximum(direction * (a + xi), 0.0)
    return Z, Zk, direction, np.maximum(Z, Zk) * np.sign(Z - Zk)


# the grid of the ridge penalty of beta_estimate='ridge_cv', on the standardized problem
RIDGE_GRID = tuple(10.0 ** np.arange(1.0, -6.01, -0.25))


def ridge_beta(X: np.ndarray, y: np.ndarray, DtD: np.ndarray, penalty: float) -> np.ndarray:
    """``argmin ||y - c - X beta||^2 / (2n) + penalty ||D beta||^2 / 2`` (``c`` the intercept).

    ``penalty = 0`` is least squares (minimum norm when ``X`` has dependent columns).
    """
    n = X.shape[0]
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    if penalty == 0:
        return np.linalg.lstsq(Xc, yc, rcond=None)[0]
    return np.linalg.solve(Xc.T @ Xc / n + penalty * DtD, Xc.T @ yc / n)


def cv_ridge_penalty(X, y, DtD, grid, *, cv, rng) -> tuple[float, np.ndarray]:
    """The penalty of :func:`ridge_beta` with the least held-out squared error over
    ``cv`` folds, and the errors (one per penalty of ``grid``)."""
    n = X.shape[0]
    folds = np.array_split(rng.permutation(n), cv)
    errors = np.zeros(len(grid))
    for held in folds:
        train = np.setdiff1d(np.arange(n), held)
        for k, penalty in enumerate(grid):
            beta = ridge_beta(X[train], y[train], DtD, penalty)
            intercept = y[train].mean() - X[train].mean(axis=0) @ beta
            errors[k] += np.sum((y[held] - intercept - X[held] @ beta) ** 2)
    errors /= n
    return float(grid[int(np.argmin(errors))]), errors


class SplitKnockoffSelector(SelectorMixin, BaseEstimator):
    """Split knockoffs: select nonzero ``gamma = D beta`` with directional FDR control.

    For structural sparsity the interesting quantities are the rows of a
    linear transformation of the coefficients: changes between neighbours
    (``D`` = first differences), edges of a graph (``D`` = incidence matrix),
    or the coefficients themselves (``D`` = identity). The selector splits the
    samples: Split LBI on the first part orders the rows of ``D`` by their entry
    times and estimates their signs; split knockoffs of the lifted design on the
    second part provide the comparison; knockoff+ sets the threshold. A
    selection is *false* when ``gamma_i = 0`` or its reported sign is wrong.

    Parameters
    ----------
    fdr : float, default=0.1
        Target directional false discovery rate in (0, 1).
    D : array-like or sparse matrix of shape (m, n_features) or None, default=None
        The transformation; ``None`` is the identity.
    s_method : {'sdp', 'equi'}, default='sdp'
        s-values of the split knockoffs.
    offset : {0, 1}, default=1
        1 for knockoff+, 0 for knockoff.
    kappa : float, default=10.0
        Damping of Split LBI, in (0, 1e4], on the standardized problem (see
        Notes): larger is closer to the inverse scale space limit and takes
        proportionally more iterations.
    nu : float, 'cv', array-like or None, default=None
        Coupling of ``gamma`` and ``D beta`` in
        ``||y - X beta||^2 / (2n) + ||gamma - D beta||^2 / (2 nu)``, in
        [1e-4, 1e4], on the standardized problem; ``None`` uses
        ``||D||^2 / ||X^T X / n||`` (spectral norms) of the standardized
        problem. ``'cv'`` or a grid of values: the value whose Split LBI path
        predicts held-out samples of part 1 best (``cv`` folds, the best time
        of each path); ``'cv'`` searches ``10^-2, 10^-1.5, ..., 10``. The
        iterations grow like ``kappa / nu`` for small ``nu``.
    cv : int, default=5
        Folds of the cross-validation on part 1 (``nu='cv'`` or a grid, and
        ``statistic='fixed'`` or ``'magnitude'``).
    statistic : {'path', 'fixed', 'magnitude'}, default='path'
        How part 1's estimate enters the statistics. ``'path'``: ``beta(t)``
        follows the Split LBI path, ``Z_i`` is the inverse entry time of
        ``gamma_i``. ``'fixed'``: ``beta`` is fixed at the path's
        cross-validated time ``t*``, so the duals are linear in ``t`` and
        ``Z_i = |a_i|``, ``Zk_i = |a_i + xi_i|`` with ``a = D beta(t*) / nu``,
        direction ``r_i = sign(a_i)``. ``'magnitude'``: the same ``beta``,
        the magnitudes of ``gamma`` and of its knockoff fitted to the residual
        ``ytilde - A_beta beta(t*)``, the knockoff counted only along the
        direction: ``Z_i = |a_i|``, ``Zk_i = max(0, r_i (a_i + xi_i))`` and
        ``W_i = max(Z_i, Zk_i) sign(Z_i - Zk_i)``.
    beta_estimate : {'path_cv', 'ols', 'ridge', 'ridge_cv'}, default='path_cv'
        The ``beta`` that ``statistic='fixed'`` and ``'magnitude'`` hold fixed,
        estimated on part 1: ``'path_cv'`` the Split LBI path at its
        cross-validated time ``t*``; ``'ols'`` least squares (needs more samples
        in part 1 than features); ``'ridge'`` the minimizer of
        ``||y - X beta||^2 / (2 n_1) + ||D beta||^2 / (2 nu)`` (the start of the
        Split LBI path, where ``gamma = 0``); ``'ridge_cv'`` the same with the
        penalty ``||D beta||^2 / (2 nu)`` replaced by ``lambda ||D beta||^2 / 2``,
        ``lambda`` cross-validated over ``10, 10^0.75, ..., 10^-6``.
    n_times : int, default=200
        Record times of the path (the resolution of the entry times).
    t_ratio : float, default=100.0
        Path length, in (1, 1e4], as the ratio of the last record time to the
        first entry time (the iterations grow in proportion).
    split_fraction : float, default=0.5
        Fraction of samples in part 1 (path and signs).
    random_state : int, RandomState instance or None, default=None
        Seed of the sample split and of the knockoffs.
    verbose : int, default=0
        Print the stages of the fit (path, knockoffs, threshold) with their
        wall time; 0 prints nothing.

    Attributes
    ----------
    selected_rows_ : ndarray of bool of shape (m,)
        Selected rows of ``D`` (nonzero ``gamma_i``).
    signs_ : ndarray of shape (m,)
        Estimated sign of ``gamma_i`` for the selected rows, 0 elsewhere.
    W_ : ndarray of shape (m,)
        Knockoff statistics.
    threshold_ : float
        Knockoff(+) threshold (``inf``: nothing selected).
    Z_, Z_knockoff_ : ndarray of shape (m,)
        ``1 / entry time`` of each row and of its knockoff (0: never entered);
        with ``statistic='fixed'`` or ``'magnitude'`` the ``Z_i`` and ``Zk_i``
        given there.
    s_ : ndarray of shape (m,)
        s-values on the correlation scale.
    nu_ : float
        Coupling used (on the standardized problem).
    ridge_penalty_ : float
        The ``lambda`` of ``beta_estimate='ridge'`` (``1 / nu``) or ``'ridge_cv'``
        (cross-validated); ``cv_errors_`` then holds the held-out error per
        ``lambda`` of the grid.
    cv_errors_ : ndarray of shape (n_nu, n_times)
        Held-out squared error per ``nu`` of the grid and record time (only
        when cross-validated); ``nu_grid_`` holds the grid.
    support_ : ndarray of bool of shape (n_features,)
        Features with a nonzero entry of ``D`` in a selected row (``get_support()``,
        scikit-learn's meaning: the features ``transform`` keeps).
    n_features_in_ : int

    See Also
    --------
    KnockoffSelector : knockoffs for the coefficients themselves.

    Notes
    -----
    ``get_support()``, ``support_`` and ``transform`` act on features: a
    feature is kept when it appears (nonzero entry of ``D``) in a selected row;
    the selected rows themselves are ``selected_rows_``.

    Units. The selector works on a standardized problem: each feature centred
    and divided by its standard deviation, ``D`` rewritten for the
    coefficients of those features (``D / sd`` column by column) with each row
    scaled to unit norm (which changes no support or sign of ``D beta``), and
    ``y`` centred and divided by its root mean square deviation on the path
    part. ``kappa``, ``nu`` and ``t_ratio`` refer to that problem. So
    ``fit(X, c * y + d)`` selects the same rows with the same ``W_`` (the
    signs ``signs_`` follow the sign of ``c``), and so does
    ``fit(X * a, y)`` whenever it poses the same question: ``a`` a positive
    scalar for any ``D``, or positive per feature when ``D diag(a)`` only
    rescales the rows of ``D`` (the identity ``D``, for example).

    Examples
    --------
    >>> import numpy as np
    >>> from sparsestat import SplitKnockoffSelector
    >>> rng = np.random.default_rng(0)
    >>> n, p = 400, 24
    >>> X = rng.standard_normal((n, p))
    >>> beta = np.repeat([0.0, 1.0, -1.0, 0.0, 1.0, 2.0, 1.0, 0.0], 3)  # piecewise constant
    >>> y = X @ beta + rng.standard_normal(n)
    >>> D = np.diff(np.eye(p), axis=0)                        # first differences
    >>> np.flatnonzero(D @ beta).tolist()                     # the true change points
    [2, 5, 8, 11, 14, 17, 20]
    >>> sel = SplitKnockoffSelector(fdr=0.2, D=D, random_state=0).fit(X, y)
    >>> np.flatnonzero(sel.selected_rows_).tolist()  # all seven, and two false selections
    [1, 2, 5, 8, 11, 14, 17, 20, 21]
    >>> sel.signs_[D @ beta != 0].tolist()          # with the signs of the jumps
    [1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0]
    """

    _parameter_constraints: dict = {
        "fdr": [Interval(Real, 0, 1, closed="neither")],
        "D": ["array-like", "sparse matrix", None],
        "s_method": [StrOptions({"sdp", "equi"})],
        "offset": [Options(Integral, {0, 1})],
        "kappa": [Interval(Real, *KAPPA_RANGE, closed="right")],
        "nu": [Interval(Real, *NU_RANGE, closed="both"), StrOptions({"cv"}), "array-like",
               None],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "statistic": [StrOptions({"path", "fixed", "magnitude"})],
        "beta_estimate": [StrOptions({"path_cv", "ols", "ridge", "ridge_cv"})],
        "n_times": [Interval(Integral, 2, None, closed="left")],
        "t_ratio": [Interval(Real, *T_RATIO_RANGE, closed="right")],
        "split_fraction": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, fdr=0.1, *, D=None, s_method="sdp", offset=1, kappa=10.0, nu=None,
                 cv=5, statistic="path", beta_estimate="path_cv", n_times=200, t_ratio=100.0,
                 split_fraction=0.5,
                 random_state=None, verbose=0):
        self.fdr = fdr
        self.D = D
        self.s_method = s_method
        self.offset = offset
        self.kappa = kappa
        self.nu = nu
        self.cv = cv
        self.statistic = statistic
        self.beta_estimate = beta_estimate
        self.n_times = n_times
        self.t_ratio = t_ratio
        self.split_fraction = split_fraction
        self.random_state = random_state
        self.verbose = verbose

    def _split_sizes(self, n, p, m):
        """``(n1, n2)``: samples of the path part and of the knockoff part."""
        n1 = int(round(self.split_fraction * n))
        n2 = n - n1
        need = p + m + 1
        if n2 < need or n1 < 3:
            least = int(np.ceil(max(need / (1 - self.split_fraction),
                                    3 / self.split_fraction)))
            raise ValueError(
                f"Split knockoffs need n2 >= p + m + 1 = {need} samples in the knockoff part "
                f"(p={p} features, m={m} rows of D) and at least 3 in the path part; with n={n} "
                f"and split_fraction={self.split_fraction:g} the parts have n1={n1}, n2={n2}. "
                f"Provide at least {least} samples, change split_fraction, or use fewer rows "
                "in D."
            )
        return n1, n2

    def _check_D(self, p):
        if self.D is None:
            return np.eye(p)
        D = check_array(self.D, accept_sparse=("csr", "csc", "coo"), dtype=np.float64,
                        input_name="D")
        if D.shape[1] != p:
            raise ValueError(
                f"D must have one column per feature: X has {p} features but D has shape "
                f"{D.shape}. Build D as (m, {p}), e.g. np.diff(np.eye({p}), axis=0) for first "
                "differences."
            )
        D = D.toarray() if sp.issparse(D) else np.asarray(D)
        empty = np.flatnonzero(~np.any(D != 0, axis=1))
        if empty.size:
            raise ValueError(f"D has all-zero rows (indices {empty[:10].tolist()}); drop them.")
        return D

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Select the nonzero rows of ``D beta`` with their signs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Continuous target.

        Returns
        -------
        self : SplitKnockoffSelector
        """
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, ensure_min_samples=3)
        y = np.asarray(y, dtype=float)
        check_no_constant_columns(X)
        if np.ptp(y) == 0:
            raise ValueError("y is constant; no feature can be associated with it.")
        n, p = X.shape
        D = self._check_D(p)
        m = D.shape[0]
        n1, n2 = self._split_sizes(n, p, m)
        rs = check_random_state(self.random_state)
        rng = np.random.default_rng(rs.randint(2 ** 31 - 1))
        perm = rng.permutation(n)
        part1, part2 = perm[:n1], perm[n1:]
        report = StageReporter(type(self).__name__, self.verbose)

        # the standardized problem (see _scaling): unit-variance features, D acting on
        # their coefficients with unit-norm rows, and y in the units of part 1 (its own
        # mean and spread, so that the path depends on part 1 alone)
        std = standardize_columns(X)
        X = std.values
        D = standardized_structure(D, std.relative_inverse_sd())
        if np.ptp(y[part1]) == 0:
            raise ValueError(
                f"y is constant on the {n1} samples of the path part; use another "
                "random_state or a larger split_fraction."
            )
        y = standardize_target(y, part1)

        # part 1: Split LBI path (nu and the time t* by cross-validation where asked)
        X1, y1 = X[part1], y[part1]
        nu, t_star = self._choose_nu(X1, y1, D, rng)
        path = _engine.split_lbi_path(X1, y1, D, kappa=self.kappa, nu=nu,
                                      n_times=self.n_times, t_ratio=self.t_ratio)
        nu = path.nu
        times = np.concatenate([[0.0], path.beta_path.times])
        # the coefficients of the problem the times refer to (an engine that rescales y
        # itself reports the unit; y is standardized already, so it is 1 to round-off)
        betas = path.beta_path.coefs / path.beta_path.info.get("y_scale", 1.0)
        if self.statistic != "path":
            beta = self._fixed_beta(X1, y1, D, nu, betas, path.beta_path.times, t_star, rng)
            a = beta @ D.T / nu
        else:
            Dbeta = np.vstack([betas[:1] @ D.T, betas @ D.T]) / nu  # beta = beta(t0) on [0, t0]
            F = np.vstack([np.zeros((1, m)), np.cumsum(
                np.diff(times)[:, None] * (Dbeta[1:] + Dbeta[:-1]) / 2, axis=0)])
            tau, direction = entry_from_dual(times, F)
        report.stage(f"Split LBI path on part 1 ({n1} samples, {m} rows of D)")

        # part 2: split knockoffs and the knockoff duals along the same beta(t)
        X2, y2 = X[part2], y[part2]
        sqn, sqnu = np.sqrt(n2), np.sqrt(nu)
        A_beta = np.block([[np.ones((n2, 1)) / sqn, X2 / sqn], [np.zeros((m, 1)), D / sqnu]])
        A_gamma = np.vstack([np.zeros((n2, m)), -np.eye(m) / sqnu])
        Ak, s = split_knockoffs(A_beta, A_gamma, self.s_method, rng)
        xi = Ak[:n2].T @ y2 / sqn
        if self.statistic == "path":
            tau_k, _ = entry_from_dual(times, F + times[:, None] * xi[None, :])
            Z, Zk = inverse_entry_time(tau), inverse_entry_time(tau_k)
            self.W_ = Z * np.sign(Z - Zk)
        else:
            Z, Zk, direction, self.W_ = fixed_beta_statistics(a, xi, self.statistic)
        report.stage(f"split knockoffs ({self.s_method}) on part 2 ({n2} samples)")

        self.threshold_ = knockoff_threshold(self.W_, self.fdr, self.offset)
        self.selected_rows_ = self.W_ >= self.threshold_
        self.signs_ = np.where(self.selected_rows_, direction, 0.0)
        self.Z_, self.Z_knockoff_ = Z, Zk
        self.s_ = s
        self.nu_ = nu
        self.support_ = np.any(D[self.selected_rows_] != 0, axis=0)
        selected = int(self.selected_rows_.sum())
        report.done(f"threshold {self.threshold_:.4g}: {selected} of {m} rows "
                    f"of D selected at fdr={self.fdr:g}")
        if selected == 0:
            warn_no_selection(self.W_, self.fdr, self.offset, "rows of D")
        return self

    def _fixed_beta(self, X1, y1, D, nu, betas, times, t_star, rng):
        """The ``beta`` that ``statistic='fixed'`` and ``'magnitude'`` hold fixed."""
        if self.beta_estimate == "path_cv":
            return betas[int(np.argmin(np.abs(times - t_star)))]
        n1, p = X1.shape
        if self.beta_estimate == "ols":
            if n1 < p + 2:
                raise ValueError(
                    f"beta_estimate='ols' needs more samples in the path part than features "
                    f"plus one; it has n1={n1} for p={p}. Use beta_estimate='ridge' or "
                    "'ridge_cv', or a larger split_fraction."
                )
            return ridge_beta(X1, y1, None, 0.0)
        DtD = D.T @ D
        if self.beta_estimate == "ridge":
            self.ridge_penalty_ = 1.0 / nu
        else:
            self._check_cv_samples(n1)
            self.ridge_penalty_, self.cv_errors_ = cv_ridge_penalty(
                X1, y1, DtD, RIDGE_GRID, cv=self.cv, rng=rng)
        return ridge_beta(X1, y1, DtD, self.ridge_penalty_)

    def _check_cv_samples(self, n1):
        if n1 < 2 * self.cv:
            raise ValueError(
                f"Cross-validation with cv={self.cv} folds needs at least {2 * self.cv} samples "
                f"in the path part; it has {n1}. Lower cv or pass a single nu."
            )

    def _choose_nu(self, X1, y1, D, rng):
        """``(nu, t*)``: the coupling (cross-validated when asked) and the path time with the
        least held-out error (None when nothing is cross-validated)."""
        grid = self.nu
        if isinstance(grid, str):
            grid = NU_GRID
        if grid is not None and np.ndim(grid) == 1:
            grid = np.asarray(grid, dtype=float)
            if grid.size == 0 or not np.all((grid >= NU_RANGE[0]) & (grid <= NU_RANGE[1])):
                raise ValueError(
                    f"The grid of nu must hold values in [{NU_RANGE[0]:g}, {NU_RANGE[1]:g}]; "
                    f"got {grid.tolist()}."
                )
        elif self.statistic == "path" or self.beta_estimate != "path_cv":
            return self.nu, None
        else:
            grid = [self.nu]            # beta fixed at t*: cross-validate the time only
        self._check_cv_samples(X1.shape[0])
        errors, times = cv_path_errors(X1, y1, D, grid, cv=self.cv, kappa=self.kappa,
                                       n_times=min(self.n_times, 50), t_ratio=self.t_ratio,
                                       rng=rng)
        i, k = np.unravel_index(int(np.argmin(errors)), errors.shape)
        self.cv_errors_ = errors
        if isinstance(grid, np.ndarray):
            self.nu_grid_ = grid
        return grid[i], float(times[i][k])

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
