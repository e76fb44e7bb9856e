"""Out-of-core fits on dask arrays (the ``dask`` extra).

``dask`` is imported only inside the functions of this module, when a fit
receives a dask array; ``import sparsestat`` never imports it.

:func:`fit_mean_shift_dask` fits :class:`~sparsestat.MeanShiftOutlierDetector`
on a tall and skinny ``X`` (rows in chunks, all columns in each chunk):

1. one pass for the column means and scales (merged per chunk, exactly);
2. one pass for the triangular factor ``R`` of the standardized ``[1, X]``
   (``dask.array.linalg.tsqr``), ``[1, X]^T Y`` and a random sample of rows;
   the chunks' orthonormal rows are ``Q_b = A_b R^-1``, recomputed where needed
   and never stored;
3. the in-memory detector on the sample (robust start, the shift path, the
   deletion test) proposes the flagged set and the scale of each target;
4. passes of the deletion test over all chunks, to a fixed point: every row
   is held against the least-squares fit without the flagged set ``F``, whose
   state is ``r x r`` (``G_F = I - Q_F^T Q_F`` and ``theta_F``); a pass returns
   only the rows that change side;
5. with ``dask_path='full'`` (the default), the shift path of all rows from
   the sample's high-breakdown (LTS) start, with the scale of the kept rows;
   the rows it lets in by ``t*`` or that lie beyond the cutoff of the robust
   fit join the flagged rows for another fixed point of the deletion test,
   and path and test alternate until the flagged set repeats (as in memory);
6. least squares on the inliers from the same ``r x r`` state.

When the sample is the whole data the flags are those of the in-memory fit
whenever its flagged set is a fixed point of the plain deletion test, and the
path is the in-memory path (entry times and recorded shifts to rounding).

The shift path over the chunks
------------------------------
The LBI path takes a fixed number of steps, ``(t_ratio - 1/2) kappa / c_n``
from ``t*/2`` to ``t_ratio t*`` with the step ``n / kappa`` (about 30-50 for
the defaults, whatever ``n``), but each step's projection ``v - Q (Q^T v)``
needs all rows. One reduction per step would be ~40 passes over the data; the
exact ISS homotopy one pass per entering row (``10^5`` at ``10^7`` rows with
1% outliers). Neither is feasible out of core. The path instead uses that a
row without a shift follows a closed form: after ``k`` steps its normalized
dual is ``z0_i + (k e_i + q_i^T H_k) / (kappa omega_i)``, with ``z0_i`` from
its robust residual, ``e_i`` its least-squares residual and ``H_k = Q_T^T
sum_{s<k} G_s`` an ``r x K`` sum over the rows ``T`` that have shifts. So:

* the rows ``T`` that may get a shift are held in memory ("tracked"), with
  ``r + 1`` frozen rows ``Q_v`` (``Q_v^T Q_v = I - Q_T^T Q_T``, and likewise
  for the targets) that stand for all the others: ``[Q_T; Q_v]`` is
  orthonormal, so the engine's path on these rows *is* the path of all rows
  as long as no other row gets a shift (the frozen rows' weight keeps them
  out; the time runs ``|T| / n`` times faster and is mapped back);
* one pass over the chunks evaluates the closed form of every other row at
  every step and returns the rows that reach the unit sphere (within a 2%
  margin); they join ``T`` and the path is run again, until a pass returns
  none. Then no other row ever has a shift, and the path is exact.

The first pass gathers the rows beyond the cutoff of the robust fit; two or
three more settle ``T`` (about 3% of the rows on the designs measured: the
outliers and the clean rows whose shift enters before ``t_ratio t*``).
Each pass costs ``O(n r K)`` per step, all steps in one read of the data.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

#: rows of the sample the robust start and the shift path run on (in memory)
SAMPLE_SIZE = 100_000
#: passes of the chunked deletion test before giving up on a fixed point
MAX_PASSES = 20


def is_dask_collection(obj) -> bool:
    """Whether ``obj`` is a dask collection (checked without importing dask)."""
    return type(obj).__module__.partition(".")[0] == "dask"


def _dask():
    try:
        import dask
        import dask.array
    except ImportError as exc:  # pragma: no cover - exercised without the extra
        raise ImportError(
            "Fitting on a dask array needs dask: pip install 'sparsestat[dask]'.") from exc
    return dask


# --------------------------------------------------------------------------- inputs
def tall_features(X, who: str):
    """``X`` as a float64 dask array of row chunks with every column in each chunk."""
    if not is_dask_collection(X) or getattr(X, "ndim", None) != 2:
        raise ValueError(f"{who} on dask input needs X as a 2-D dask array (rows in chunks); "
                         f"got {type(X).__name__}.")
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError("X has chunks of unknown size: call X.compute_chunk_sizes() first "
                         "(e.g. after boolean indexing).")
    return X.astype(np.float64).rechunk({1: -1})


def tall_arrays(X, y, who: str):
    """``X`` (n, p) and ``Y`` (n, K) as float64 dask arrays with the same row chunks.

    Every chunk holds all columns. ``y`` may be a NumPy array or a dask array;
    ``single`` says whether it was one-dimensional.
    """
    da = _dask().array
    X = tall_features(X, who)
    if not is_dask_collection(y):
        y = np.asarray(y)
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D; got shape {y.shape}.")
    if not np.isnan(y.shape[0]) and y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows and y {y.shape[0]}: pass one target (row) "
                         "per sample.")
    if not is_dask_collection(y):
        y = da.from_array(y, chunks=(X.chunks[0],) + y.shape[1:])
    if any(np.isnan(c) for c in y.chunks[0]):
        raise ValueError("y has chunks of unknown size: call y.compute_chunk_sizes() first.")
    single = y.ndim == 1
    Y = y.reshape(y.shape[0], -1) if single else y
    Y = Y.astype(np.float64).rechunk((X.chunks[0], -1))
    return X, Y, single


def _blocks(X, Y):
    """``(x_block, y_block, first_row)`` delayed triples, one per row chunk."""
    xs = X.to_delayed().ravel()
    ys = Y.to_delayed().ravel()
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(np.int64)
    return list(zip(xs, ys, starts.tolist()))


def _map(function, blocks, *args):
    """``function(x_block, y_block, first_row, *args)`` on every chunk, as delayed values."""
    delayed = _dask().delayed(function, pure=True)
    return [delayed(xb, yb, start, *args) for xb, yb, start in blocks]


# --------------------------------------------------------------------------- moments
@dataclass
class _Moments:
    n: int
    mean: np.ndarray     # (p,)
    m2: np.ndarray       # (p,) sum of squared deviations from the mean
    finite: bool
    y_min: np.ndarray    # (K,)
    y_max: np.ndarray    # (K,)


def _chunk_moments(xb, yb, start):
    n = xb.shape[0]
    mean = xb.mean(axis=0) if n else np.zeros(xb.shape[1])
    finite = bool(np.isfinite(xb).all() and np.isfinite(yb).all())
    big = np.full(yb.shape[1], np.inf)
    return _Moments(n, mean, ((xb - mean) ** 2).sum(axis=0), finite,
                    yb.min(axis=0) if n else big, yb.max(axis=0) if n else -big)


def _merge_moments(a: _Moments, b: _Moments) -> _Moments:
    """Pairwise merge of counts, means and squared deviations (exact, no cancellation)."""
    n = a.n + b.n
    if n == 0:
        return a
    delta = b.mean - a.mean
    return _Moments(n, a.mean + delta * (b.n / n), a.m2 + b.m2 + delta ** 2 * (a.n * b.n / n),
                    a.finite and b.finite, np.minimum(a.y_min, b.y_min),
                    np.maximum(a.y_max, b.y_max))


# --------------------------------------------------------------------------- basis
@dataclass
class _Standardize:
    """``A = [1, (X - mean) / scale]`` and ``Q = A R^-1`` for any block of rows."""

    mean: np.ndarray
    scale: np.ndarray
    fit_intercept: bool
    R_inv: np.ndarray | None = None

    def design(self, xb):
        z = (np.asarray(xb, dtype=float) - self.mean) / self.scale
        if self.fit_intercept:
            return np.hstack([np.ones((z.shape[0], 1)), z])
        return z

    def basis(self, xb):
        return self.design(xb) @ self.R_inv


def _chunk_sums(xb, yb, start, std: _Standardize, rows):
    """``A^T Y``, ``sum Y^2`` and the chunk's rows among the sorted ``rows``."""
    A = std.design(xb)
    lo, hi = np.searchsorted(rows, [start, start + xb.shape[0]])
    local = rows[lo:hi] - start
    return A.T @ yb, np.sum(yb ** 2, axis=0), xb[local], yb[local]


def _chunk_sse(xb, yb, start, std: _Standardize, col_scale, theta):
    """Per-target residual sums of squares of the chunk against ``theta``."""
    W = yb / col_scale
    return np.sum((W - std.basis(xb) @ theta) ** 2, axis=0)


# --------------------------------------------------------------------------- deletion test
@dataclass
class _FlaggedFit:
    """The least-squares fit without the flagged rows ``F``: ``r x r`` state only."""

    rows: np.ndarray       # sorted global row numbers of F
    G_pinv: np.ndarray     # (r, r) pseudo-inverse of I - Q_F^T Q_F
    theta: np.ndarray      # (r, K) fit on the kept rows (targets / col_scale)
    target_sse: np.ndarray  # (K,) residual sums of squares of the kept rows
    dof: int               # n_kept - r
    K: int

    @property
    def sse(self) -> float:
        return float(np.sum(self.target_sse))


def _flagged_fit(std, QtW, sse_all, theta_all, n, rows, x_rows, w_rows) -> _FlaggedFit:
    """The fit without ``rows`` from the full fit and the rows' own values.

    ``SSE_F = SSE - e_F^T (I - Q_F Q_F^T)^-1 e_F`` with ``e_F`` the full fit's
    residuals of the flagged rows: no difference of large sums.
    """
    r, K = QtW.shape
    Q_F = std.basis(x_rows) if len(rows) else np.zeros((0, r))
    evals, evecs = np.linalg.eigh(np.eye(r) - Q_F.T @ Q_F)
    ok = evals > 1e-10 * max(float(evals[-1]), 1e-300)
    G_pinv = (evecs[:, ok] / evals[ok]) @ evecs[:, ok].T
    theta = G_pinv @ (QtW - Q_F.T @ w_rows)
    # (I - Q_F Q_F^T)^-1 = I + Q_F G^-1 Q_F^T (Woodbury): r x r work for any size of F
    e_F = w_rows - Q_F @ theta_all
    b = Q_F.T @ e_F
    sse = sse_all - (np.sum(e_F ** 2, axis=0) + np.sum(b * (G_pinv @ b), axis=0))
    return _FlaggedFit(rows, G_pinv, theta, np.maximum(sse, 0.0),
                       n - len(rows) - int(ok.sum()), K)


def _chunk_test(xb, yb, start, std: _Standardize, col_scale, fit: _FlaggedFit, law):
    """The deletion statistic over cutoff of the chunk's rows, and the rows that change side.

    Returns the global rows of the kept samples at or above their cutoff (with
    their ``x``, ``y`` and ratio) and the flagged rows of the chunk with their ratio.
    """
    Q = std.basis(xb)
    W = yb / col_scale
    e = W - Q @ fit.theta
    norm2 = np.sum(e ** 2, axis=1)
    hat = np.sum((Q @ fit.G_pinv) * Q, axis=1)
    lo, hi = np.searchsorted(fit.rows, [start, start + xb.shape[0]])
    flagged = np.zeros(xb.shape[0], dtype=bool)
    flagged[fit.rows[lo:hi] - start] = True
    inside = np.clip(1.0 - hat, 0.0, None)
    loo = np.where(inside > 1e-10, norm2 / np.maximum(inside, 1e-300), 0.0)
    u = np.where(flagged, norm2 / (1.0 + np.maximum(hat, 0.0)), loo)
    # the scale without sample i (a kept one leaves the fit too)
    own_dof = np.where(flagged, fit.dof, fit.dof - 1)
    own_sse = np.where(flagged, fit.sse, fit.sse - u)
    s2 = np.maximum(own_sse, 0.0) / (fit.K * np.maximum(own_dof, 1))
    cutoff = np.where(own_dof >= 1, law.normal_cutoff(own_dof), np.inf)
    ratio = np.sqrt(u / np.maximum(s2, 1e-300)) / cutoff
    add = np.flatnonzero(~flagged & (ratio >= 1.0))
    return (add + start, xb[add], yb[add], ratio[add],
            fit.rows[lo:hi], ratio[fit.rows[lo:hi] - start])


@dataclass
class _Rows:
    """Rows kept in memory: global numbers (sorted), features and targets."""

    index: np.ndarray
    x: np.ndarray
    y: np.ndarray

    def take(self, keep):
        return _Rows(self.index[keep], self.x[keep], self.y[keep])

    def union(self, other: "_Rows") -> "_Rows":
        """The rows of both, sorted, each once."""
        index, first = np.unique(np.concatenate([self.index, other.index]), return_index=True)
        return _Rows(index, np.vstack([self.x, other.x])[first],
                     np.vstack([self.y, other.y])[first])

    @classmethod
    def empty(cls, p: int, K: int) -> "_Rows":
        return cls(np.zeros(0, dtype=np.int64), np.zeros((0, p)), np.zeros((0, K)))


def _deletion_passes(dask, blocks, std, col_scale, QtW, sse_all, theta_all, n, flagged,
                     law, max_flagged, report):
    """Chunked deletion tests from ``flagged`` until the flagged set repeats."""
    seen = set()
    for step in range(1, MAX_PASSES + 1):
        fit = _flagged_fit(std, QtW, sse_all, theta_all, n, flagged.index, flagged.x,
                           flagged.y / col_scale)
        parts = dask.compute(*_map(_chunk_test, blocks, std, col_scale, fit, law))
        add = _Rows(np.concatenate([p[0] for p in parts]), np.vstack([p[1] for p in parts]),
                    np.vstack([p[2] for p in parts]))
        add_ratio = np.concatenate([p[3] for p in parts])
        own_ratio = np.concatenate([p[5] for p in parts])
        grown = flagged.take(own_ratio >= 1.0).union(add)
        ratio = np.concatenate([own_ratio[own_ratio >= 1.0], add_ratio])
        ratio = ratio[np.argsort(np.concatenate([flagged.index[own_ratio >= 1.0],
                                                 add.index]), kind="stable")]
        if grown.index.size > max_flagged:
            grown = grown.take(np.sort(np.argsort(-ratio, kind="stable")[:max_flagged]))
        report.stage(f"deletion test pass {step}: {add.index.size} kept rows beyond the "
                     f"cutoff, {int(np.sum(own_ratio < 1.0))} flagged rows within it")
        key = grown.index.tobytes()
        if np.array_equal(grown.index, flagged.index):
            return flagged, fit
        if key in seen:
            break
        seen.add(key)
        flagged = grown
    warnings.warn(
        f"The deletion test over the chunks did not reach a fixed point in {MAX_PASSES} "
        "passes; the last flagged set is returned.", ConvergenceWarning, stacklevel=4)
    fit = _flagged_fit(std, QtW, sse_all, theta_all, n, flagged.index, flagged.x,
                       flagged.y / col_scale)
    return flagged, fit


# --------------------------------------------------------------------------- the shift path
#: rows whose dual comes this close to the unit sphere are tracked too, so that the shifts
#: of the rows a pass finds rarely push a further row across it (one pass less)
BOUNDARY_SLACK = 0.02
#: penalty weight of the rows that stand for the untracked rows (they never enter)
_FROZEN = 1e30


@dataclass
class _Start:
    """The high-breakdown fit of the sample, for any row, and the path's column units."""

    coef: np.ndarray        # (K, p) on the scale of y
    intercept: np.ndarray   # (K,)
    col_scale: np.ndarray   # (K,) robust residual scales of the in-memory fit's columns

    def residuals(self, xb, yb):
        """Robust residuals in units of ``col_scale``."""
        return (yb - (xb @ self.coef.T + self.intercept)) / self.col_scale


def _sample_start(detector, xs, ys) -> _Start:
    """The in-memory fit's 50%-trimmed LTS start and column scales, computed on the sample."""
    import copy

    from sparsestat.robust._linalg import thin_basis
    from sparsestat.robust._lts import lts_starts
    from sparsestat.robust._mean_shift import canonical_order, target_scales

    basis = thin_basis(xs, detector.fit_intercept)
    Q = basis.Q
    col_scale = target_scales(Q, ys)
    (start,) = lts_starts(Q, ys / col_scale, trims=[0.5], order=canonical_order(xs, basis),
                          random_state=copy.deepcopy(detector.random_state))
    coef, intercept = basis.coefficients(start.theta * col_scale)
    return _Start(coef, intercept, col_scale)


@dataclass
class _PathProblem:
    """The shift path of all rows in units of ``units`` (targets ``Y / units``)."""

    std: _Standardize
    start: _Start
    sigma: float            # the noise scale in the units of start.col_scale
    QtY: np.ndarray         # (r, K) Q^T (Y / units) over all rows
    n: int
    K: int
    cutoff: float
    kappa: float
    n_times: int
    t_ratio: float
    max_iter: int | None

    @property
    def units(self) -> np.ndarray:
        """The path's unit of each target, ``col_scale * sigma``."""
        return self.start.col_scale * self.sigma

    @property
    def t_star(self) -> float:
        return self.n / self.cutoff

    @property
    def t_first(self) -> float:
        return self.t_star / 2.0

    def grid(self) -> np.ndarray:
        """The in-memory detector's record times, from ``t*/2`` to ``t_ratio t*``."""
        from sparsestat.robust._mean_shift import record_times

        return record_times(self.t_first, self.t_ratio * self.t_star, self.n_times)

    def n_steps(self) -> int:
        """LBI steps to the last record time (``alpha = n / kappa``), with one to spare."""
        return int(np.ceil((self.grid()[-1] - self.t_first) * self.kappa / self.n)) + 2

    def rows(self, xb, yb):
        """``Q``, the targets, the robust residuals (all in path units) and the weights."""
        from sparsestat.robust._mean_shift import leverage_weights

        Q = self.std.basis(xb)
        omega = leverage_weights(np.sum(Q ** 2, axis=1))
        return Q, yb / self.units, self.start.residuals(xb, yb) / self.sigma, omega


def _crossing(Z, elementwise):
    """Rows of ``Z`` on or beyond the unit sphere (entrywise for l1, row norm for groups)."""
    if elementwise:
        return np.any(np.abs(Z) >= 1.0 - BOUNDARY_SLACK, axis=1)
    return np.sqrt(np.sum(Z ** 2, axis=1)) >= 1.0 - BOUNDARY_SLACK


def _chunk_path_rows(xb, yb, start, problem: _PathProblem, H, tracked):
    """The chunk's untracked rows whose dual reaches the unit sphere at some step, or that
    lie beyond the cutoff of the robust fit.

    An untracked row has no shift, so after ``k`` steps its normalized dual is
    ``z0 + (k e + Q H_k) / (kappa omega)``: ``z0`` from the robust residual,
    ``e`` the least-squares residual and ``H_k = Q_T^T sum_{s<k} G_s`` the
    tracked shifts' sum (``H`` of shape (steps, r, K); ``None``: the rows beyond the cutoff
    only, the first guess of the rows with shifts).
    """
    Q, W, U, omega = problem.rows(xb, yb)
    z0 = U / (2.0 * problem.cutoff * omega[:, None])
    e = W - Q @ problem.QtY
    hit = np.sqrt(np.sum(U ** 2, axis=1)) / omega > problem.cutoff
    elementwise = problem.K == 1
    for k in range(0 if H is None else H.shape[0]):
        hit |= _crossing(z0 + (k * e + Q @ H[k]) / (problem.kappa * omega[:, None]),
                         elementwise)
    lo, hi = np.searchsorted(tracked, [start, start + xb.shape[0]])
    hit[tracked[lo:hi] - start] = False
    rows = np.flatnonzero(hit)
    return rows + start, xb[rows], yb[rows]


@dataclass
class _Augmented:
    """The tracked rows and ``r + 1`` frozen rows that stand for all the others.

    The frozen rows ``Q_v`` satisfy ``Q_v^T Q_v = I - Q_T^T Q_T`` and
    ``Q_v^T Y_v = Q^T Y - Q_T^T Y_T``, so ``[Q_T; Q_v]`` is orthonormal and
    every product ``Q^T V`` the path takes is that of all rows whenever the
    untracked rows' shifts are zero; their weight keeps them from entering.
    The last frozen row is zero: the start's fit without the rows on the unit
    sphere then has more rows than columns, as it has on all rows.
    The path of ``m`` rows runs its time ``m / n`` times faster (its step is
    ``m / kappa``): ``scale`` is ``m / n``.
    """

    Q: np.ndarray
    Y: np.ndarray
    U: np.ndarray
    omega: np.ndarray
    n_tracked: int
    scale: float


def _augmented(problem: _PathProblem, tracked: _Rows) -> _Augmented:
    Q, W, U, omega = problem.rows(tracked.x, tracked.y)
    r, K = problem.QtY.shape
    evals, evecs = np.linalg.eigh(np.eye(r) - Q.T @ Q)
    ok = evals > 1e-10
    Qv = np.zeros((r + 1, r))
    Yv = np.zeros((r + 1, K))
    root = np.sqrt(evals[ok])
    Qv[:ok.sum()] = root[:, None] * evecs[:, ok].T
    Yv[:ok.sum()] = (evecs[:, ok].T @ (problem.QtY - Q.T @ W)) / root[:, None]
    m = Q.shape[0] + r + 1
    return _Augmented(np.vstack([Q, Qv]), np.vstack([W, Yv]),
                      np.vstack([U, np.zeros((r + 1, K))]),
                      np.concatenate([omega, np.full(r + 1, _FROZEN)]), Q.shape[0],
                      m / problem.n)


def _run_path(problem: _PathProblem, aug: _Augmented, times, max_nnz):
    """The engine's LBI path of the augmented rows on ``times`` (on the time of all rows)."""
    from sparsestat import _engine
    from sparsestat.robust._mean_shift import _robust_dual

    z_start = _robust_dual(aug.Q, aug.Y, aug.U, aug.omega, problem.cutoff, problem.kappa)
    return _engine.projected_shift_path(
        aug.Q, aug.Y, penalty="l1" if problem.K == 1 else "group", weights=aug.omega,
        kappa=problem.kappa, times=np.asarray(times) * aug.scale,
        max_active=max(problem.n // 2, 1), max_iter=problem.max_iter, z_start=z_start,
        t_start=problem.t_first * aug.scale, max_nnz=max_nnz)


def _shift_sums(problem: _PathProblem, tracked: _Rows) -> np.ndarray:
    """``H_k = Q_T^T sum_{s<k} G_s`` for ``k = 0 .. n_steps`` from the tracked rows' path."""
    n_steps = problem.n_steps()
    r, K = problem.QtY.shape
    aug = _augmented(problem, tracked)
    steps = problem.t_first + np.arange(n_steps) * (problem.n / problem.kappa)
    path = _run_path(problem, aug, steps, max_nnz=np.iinfo(np.int64).max)
    coefs = path.coefs
    # G_s for every step s (recorded at every step time; the record may end early)
    P = np.stack([np.asarray(coefs[:, k::K] @ aug.Q) for k in range(K)], axis=2)
    at = np.searchsorted(steps * aug.scale, path.times, side="left")
    per_step = np.zeros((n_steps, r, K))
    per_step[np.clip(at, 0, n_steps - 1)] = P
    return np.concatenate([np.zeros((1, r, K)), np.cumsum(per_step, axis=0)])


@dataclass
class _ShiftPath:
    """The path of all rows: the tracked rows (all that ever enter) and their path."""

    rows: _Rows             # tracked rows, sorted
    entry: np.ndarray       # (m,) entry times of the tracked rows (inf: never)
    far: np.ndarray         # (m,) beyond the cutoff of the robust fit
    start: _Start
    path: object            # SparseRegularizationPath over the rows that enter
    n_passes: int

    def tie_of(self, rows: _Rows) -> np.ndarray:
        """Minus the robust residual norm: the in-memory order among equal entry times."""
        return -np.sqrt(np.sum(self.start.residuals(rows.x, rows.y) ** 2, axis=1))

    @property
    def tie(self) -> np.ndarray:
        return self.tie_of(self.rows)


def _gamma_path(dask, blocks, problem: _PathProblem, tracked: _Rows, report) -> _ShiftPath:
    """The LBI shift path of all rows, by passes over the chunks to a consistent set.

    The first pass gathers the rows beyond the cutoff of the robust fit. The
    path is run in memory on the tracked rows (plus the frozen rows that
    stand for the rest, :class:`_Augmented`); a pass over the chunks finds the
    untracked rows whose dual reaches the unit sphere at any step under that
    path. They join the tracked rows and the path is run again, until a pass
    finds none: then no untracked row ever has a shift and the path of the
    tracked rows is the path of all rows.
    """
    for step in range(1, MAX_PASSES + 1):
        H = _shift_sums(problem, tracked) if tracked.index.size else None
        parts = dask.compute(*_map(_chunk_path_rows, blocks, problem, H, tracked.index))
        new = _Rows(np.concatenate([p[0] for p in parts]), np.vstack([p[1] for p in parts]),
                    np.vstack([p[2] for p in parts]))
        found = "beyond the cutoff of the robust fit" if H is None else \
            "reach the unit sphere"
        report.stage(f"shift path pass {step}: {new.index.size} more rows {found} "
                     f"({tracked.index.size} in memory)")
        if new.index.size == 0:
            break
        tracked = tracked.union(new)
    else:
        warnings.warn(
            f"The shift path over the chunks did not settle its set of rows in {MAX_PASSES} "
            "passes; rows outside it may have entered.", ConvergenceWarning, stacklevel=4)
    aug = _augmented(problem, tracked)
    path = _run_path(problem, aug, problem.grid(),
                     max_nnz=max(2 * problem.n * problem.K, 10 ** 6))
    m = aug.n_tracked
    entry = path.entry_times[:m].min(axis=1) / aug.scale
    far = np.sqrt(np.sum(aug.U[:m] ** 2, axis=1)) / aug.omega[:m] > problem.cutoff
    return _ShiftPath(tracked, entry, far, problem.start,
                      _global_path(path, aug, problem, tracked), step)


def _global_path(path, aug: _Augmented, problem: _PathProblem, tracked: _Rows):
    """The path of the rows that enter, on the time and scale of all rows (in the units of y).

    ``info['rows']`` are their row numbers (from 0).
    """
    K = problem.K
    entered = np.flatnonzero(np.isfinite(path.entry_times[:aug.n_tracked].min(axis=1)))
    cols = (entered[:, None] * K + np.arange(K)).ravel()
    unit = np.tile(problem.units, entered.size)
    path.coefs = path.coefs[:, cols].multiply(unit[None, :]).tocsr()
    path.times = path.times / aug.scale
    path.entry_times = path.entry_times[entered] / aug.scale
    path.t0 = problem.t_first
    path.intercepts = np.zeros((path.times.size, K))
    path.info.update(alpha=problem.n / problem.kappa, t_end=path.info["t_end"] / aug.scale,
                     stop_time=float(problem.t_star), cutoff=float(problem.cutoff),
                     scale=float(problem.sigma),
                     rows=tracked.index[entered])
    return path


# --------------------------------------------------------------------------- results
def _in_rows(yb, rows, block_info=None):
    start, stop = block_info[0]["array-location"][0]
    out = np.zeros(stop - start, dtype=bool)
    lo, hi = np.searchsorted(rows, [start, stop])
    out[rows[lo:hi] - start] = True
    return out


def _shift_block(xb, yb, rows, coef, intercept, block_info=None):
    start, stop = block_info[0]["array-location"][0]
    out = np.zeros(yb.shape)
    lo, hi = np.searchsorted(rows, [start, stop])
    local = rows[lo:hi] - start
    out[local] = yb[local] - (xb[local] @ coef.T + intercept)
    return out


def _path_passes(dask, blocks, std, start, col_scale, AtY, flagged, fit, detector, n, c,
                 deletion, report):
    """The path with the scale of the kept rows, the deletion test from its candidates and
    the flagged rows, and again, until the flagged set repeats (at most five paths)."""
    K = AtY.shape[1]
    tracked = _Rows.empty(flagged.x.shape[1], K)
    for _ in range(5):
        # the kept rows' scale in the units of the in-memory path
        sse = np.sum(fit.target_sse * (col_scale / start.col_scale) ** 2)
        sigma = float(np.sqrt(sse / (K * max(fit.dof, 1))))
        units = start.col_scale * sigma
        problem = _PathProblem(std, start, max(sigma, 1e-300), std.R_inv.T @ AtY / units, n,
                               K, c, float(detector.kappa), int(detector.n_times),
                               float(detector.t_ratio), detector.max_iter)
        shift = _gamma_path(dask, blocks, problem, tracked, report)
        tracked = shift.rows
        proposed = tracked.take((shift.entry <= problem.t_star) | shift.far)
        report.stage(f"path: {proposed.index.size} rows entered by t*={problem.t_star:.4g} "
                     "or beyond the cutoff of the robust fit")
        if np.isin(proposed.index, flagged.index).all():
            # the flagged set is a fixed point of the deletion test already
            return shift, flagged, fit
        again, fit_again = deletion(flagged.union(proposed))
        if np.array_equal(again.index, flagged.index):
            return shift, flagged, fit
        flagged, fit = again, fit_again
    return shift, flagged, fit


def _entry_block(yb, rows, entry, block_info=None):
    start, stop = block_info[0]["array-location"][0]
    out = np.full(stop - start, np.inf)
    lo, hi = np.searchsorted(rows, [start, stop])
    out[rows[lo:hi] - start] = entry[lo:hi]
    return out


def _set_path_attributes(detector, shift: _ShiftPath, flagged: _Rows, Y, single):
    """``entry_times_`` (a dask array), ``ranking_`` of the rows that enter or are flagged,
    ``regularization_path_`` of the rows that enter, ``stop_time_`` and ``n_iter_``."""
    da = _dask().array
    rows = shift.rows
    detector.entry_times_ = da.map_blocks(_entry_block, Y[:, 0], rows.index, shift.entry,
                                          dtype=np.float64)
    # flagged rows first, then by entry time, then by the robust residual (largest first)
    extra = flagged.take(~np.isin(flagged.index, rows.index))
    index = np.concatenate([rows.index, extra.index])
    entry = np.concatenate([shift.entry, np.full(extra.index.size, np.inf)])
    tie = np.concatenate([shift.tie, shift.tie_of(extra)])
    outlier = np.isin(index, flagged.index)
    keep = outlier | np.isfinite(entry)
    index, entry, tie, outlier = index[keep], entry[keep], tie[keep], outlier[keep]
    detector.ranking_ = index[np.lexsort((tie, entry, ~outlier))]
    path = shift.path
    path.squeeze = single
    detector.regularization_path_ = path
    detector.stop_time_ = float(path.info["stop_time"])
    detector.n_iter_ = max(int(path.n_iter), 1)


def _check_dask_options(detector):
    unsupported = {"contamination": ("auto", detector.contamination),
                   "start": ("lts", detector.start),
                   "noise_df": (None, detector.noise_df)}
    for name, (needed, value) in unsupported.items():
        if value != needed:
            raise ValueError(
                f"{type(detector).__name__}.fit on dask arrays supports {name}={needed!r} "
                f"only (got {value!r}): the chunked deletion test uses the normal-noise law "
                "of the 'auto' rule. Fit a NumPy array (e.g. a sample) for the other options.")
    if detector.dask_path == "full" and detector.solver != "lbi":
        raise ValueError(
            f"{type(detector).__name__}.fit on dask arrays runs the shift path over all rows "
            f"with solver='lbi' only (got solver={detector.solver!r}): pass solver='lbi', or "
            "dask_path='sample' to run the path on a sample of rows.")


def fit_mean_shift_dask(detector, X, y, sample_size: int | None = None):
    """Fit ``detector`` (a :class:`~sparsestat.MeanShiftOutlierDetector`) on dask arrays.

    The robust start runs in memory on ``sample_size`` random rows (default
    :data:`SAMPLE_SIZE`; all rows when there are fewer).

    Sets the detector's attributes: ``outliers_``, ``inlier_mask_`` and
    ``gamma_`` are dask arrays over the rows; ``coef_``, ``intercept_``,
    ``scale_``, ``cutoff_``, ``n_outliers_`` and ``n_features_in_`` are in
    memory. Returns the detector.
    """
    from sklearn.base import clone

    from sparsestat._progress import StageReporter
    from sparsestat.robust._linalg import ThinBasis
    from sparsestat.robust._mean_shift import NoiseLaw, auto_cutoff, min_samples

    dask = _dask()
    da = dask.array
    name = type(detector).__name__
    _check_dask_options(detector)
    report = StageReporter(name, detector.verbose)
    X, Y, single = tall_arrays(X, y, name)
    n, p = X.shape
    K = Y.shape[1]
    blocks = _blocks(X, Y)
    mom = dask.compute(*_map(_chunk_moments, blocks))
    total = mom[0]
    for m in mom[1:]:
        total = _merge_moments(total, m)
    if not total.finite:
        raise ValueError("X or y contains NaN or infinity: remove or impute those rows "
                         "(e.g. X[da.isfinite(X).all(axis=1)]).")
    need = min_samples(p, detector.fit_intercept)
    if n < need:
        raise ValueError(f"Outlier detection needs at least {need} samples for {p} features; "
                         f"got n_samples={n}.")
    if np.all(total.y_min == total.y_max):
        raise ValueError("y is constant: there is no variation to fit, so no sample can be an "
                         "outlier. Check that the right target column was passed.")
    mean = total.mean if detector.fit_intercept else np.zeros(p)
    m2 = total.m2 if detector.fit_intercept else total.m2 + n * total.mean ** 2
    scale = np.sqrt(m2 / n)
    scale = np.where(scale > np.finfo(float).eps * max(1.0, float(np.max(scale, initial=0))),
                     scale, 1.0)
    std = _Standardize(mean, scale, detector.fit_intercept)
    report.stage(f"column moments of {n} x {p} in {len(blocks)} chunks")

    # R of the standardized [1, X], A^T Y and the sample, in one pass
    m = min(n, SAMPLE_SIZE if sample_size is None else int(sample_size))
    rng = check_random_state(detector.random_state)
    sample_rows = np.arange(n) if m == n else np.sort(rng.choice(n, m, replace=False))
    A = X.map_blocks(std.design, chunks=(X.chunks[0], (p + int(detector.fit_intercept),)),
                     dtype=np.float64)
    _, R = da.linalg.tsqr(A)
    R, *parts = dask.compute(R, *_map(_chunk_sums, blocks, std, sample_rows))
    R = np.sign(np.diag(R))[:, None] * R
    d = np.abs(np.diag(R))
    if d.min() <= 1e-10 * d.max() * max(n, R.shape[0]):
        raise ValueError(
            "[1, X] is rank deficient (collinear or constant features): the chunked fit needs "
            "full column rank. Drop the redundant columns.")
    std.R_inv = scipy.linalg.solve_triangular(R, np.eye(R.shape[0]))
    AtY = sum(part[0] for part in parts)
    sample = _Rows(sample_rows, np.vstack([part[2] for part in parts]),
                   np.vstack([part[3] for part in parts]))
    report.stage(f"tsqr factor of [1, X] (rank {R.shape[0]}) and a sample of {m} rows")

    local = clone(detector).set_params(verbose=0)
    local.fit(sample.x, sample.y[:, 0] if single else sample.y)
    report.stage(f"in-memory fit on the sample: {local.n_outliers_} flagged")
    col_scale = np.atleast_1d(np.asarray(local.scale_, dtype=float))
    col_scale = np.where(col_scale > 0, col_scale, 1.0)

    QtW = std.R_inv.T @ AtY / col_scale
    sse_all = sum(dask.compute(*_map(_chunk_sse, blocks, std, col_scale, QtW)))
    report.stage("residual sum of squares of the full least-squares fit")
    c = auto_cutoff(n, K) if detector.cutoff == "auto" else float(detector.cutoff)
    law = NoiseLaw(tail=float(stats.chi2.sf(c * c, K)), K=K)
    r = R.shape[0]

    def deletion(start_rows):
        return _deletion_passes(dask, blocks, std, col_scale, QtW, sse_all, QtW, n, start_rows,
                                law, max(min(n // 2, n - r - 2), 0), report)

    flagged, fit = deletion(sample.take(np.asarray(local.outliers_)))
    shift = None
    if detector.dask_path == "full":
        start = _sample_start(detector, sample.x, sample.y)
        report.stage("high-breakdown start of the sample, for every row")
        shift, flagged, fit = _path_passes(dask, blocks, std, start, col_scale, AtY, flagged,
                                           fit, detector, n, c, deletion, report)

    basis = ThinBasis(np.zeros((0, r)), R, np.arange(r), r, mean, scale,
                      detector.fit_intercept)
    coef, intercept = basis.coefficients(fit.theta * col_scale)
    scale_ = col_scale * np.sqrt(fit.sse / (K * max(fit.dof, 1)))
    rows = flagged.index
    outliers = da.map_blocks(_in_rows, Y[:, 0], rows, dtype=bool)
    gamma = da.map_blocks(_shift_block, X, Y, rows, coef, intercept, dtype=np.float64,
                          chunks=Y.chunks)
    report.done(f"least squares on the {n - rows.size} inliers; {rows.size} outliers flagged")
    detector.outliers_ = outliers
    detector.inlier_mask_ = ~outliers
    detector.n_outliers_ = int(rows.size)
    detector.gamma_ = gamma[:, 0] if single else gamma
    detector.coef_ = coef[0] if single else coef
    detector.intercept_ = float(intercept[0]) if single else intercept
    detector.scale_ = float(scale_[0]) if single else scale_
    if shift is not None:
        _set_path_attributes(detector, shift, flagged, Y, single)
    detector.cutoff_ = c
    detector.noise_df_ = None
    detector.n_features_in_ = p
    return detector
