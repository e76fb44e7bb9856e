"""Record grids and the results around a run: the geometric time grid, the
intercept-only path, coefficients mapped back to the data's scale.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

from sparsestat.path import RegularizationPath


def time_grid(t0: float, n_times: int, t_ratio: float) -> np.ndarray:
    """Geometric grid of ``n_times`` points from ``t0`` to ``t_ratio * t0``."""
    if n_times == 1:
        return np.array([t0 * t_ratio])
    return t0 * np.geomspace(1.0, t_ratio, n_times)


def empty_path(grid, n_coefs, n_targets, free, *, why, info, sparse=False, stacklevel=4):
    """The path of a problem where no coefficient ever enters: the one empty-path rule.

    Every driver whose gradient at the start vanishes (a constant target, a
    target the unpenalized part fits exactly, a structure ``D beta`` that is
    already zero, comparisons every ranking fits) returns this path instead of
    running: zero coefficients at every record time of ``grid``, the
    unpenalized block ``free`` (intercepts) constant, entry times ``inf``,
    ``t0 = inf`` (nothing enters at any time) and ``info['empty'] = True``. A
    ``UserWarning`` says ``why``; the estimator decides whether the empty model is
    an answer (an intercept-only fit, no outliers) or an error.
    """
    warnings.warn(f"The path is empty: {why}", UserWarning, stacklevel=stacklevel)
    grid = np.asarray(grid, dtype=float)
    n_times = grid.shape[0]
    free = np.tile(np.asarray(free, dtype=float), (n_times, 1))
    details = dict(info, empty=True)
    if sparse:
        from sparsestat.path import SparseRegularizationPath

        return SparseRegularizationPath(
            times=grid, coefs=sp.csr_matrix((n_times, n_coefs * n_targets)), intercepts=free,
            entry_times=np.full((n_coefs, n_targets), np.inf), interpolation="linear",
            t0=np.inf, n_iter=0, info=details, n_targets=n_targets, squeeze=False)
    return RegularizationPath(
        times=grid, coefs=np.zeros((n_times, n_coefs, n_targets)), intercepts=free,
        entry_times=np.full((n_coefs, n_targets), np.inf), interpolation="linear", t0=np.inf,
        n_iter=0, info=details,
    )


def _to_original_scale(coefs, intercepts, design, add_mean, y_mean, y_unit=1.0):
    """Map standardized coefficients to the data's scale, intercepts accordingly.

    ``y_unit`` is the unit the target was divided by (:mod:`sparsestat._units`).
    """
    coefs = coefs * (y_unit / design.scale[None, :, None])
    shift = np.einsum("p,tpk->tk", design.mean, coefs)
    if add_mean:
        intercepts = y_unit * np.broadcast_to(y_mean, intercepts.shape) - shift
    else:
        intercepts = y_unit * intercepts - shift
    return coefs, np.ascontiguousarray(intercepts)


def _path_in_dtype(path, dtype):
    """Coefficients and intercepts in the design's floating type (float32 kept when given)."""
    if dtype != np.float64:
        path.coefs = path.coefs.astype(dtype)
        path.intercepts = path.intercepts.astype(dtype)
        if path.duals is not None:
            path.duals = path.duals.astype(dtype)
    return path
