"""Record grids and the results around a run: the geometric time grid, the
intercept-only path, coefficients mapped back to the data's scale.
"""

from __future__ import annotations

import warnings

import numpy as np

from sparsestat.path import RegularizationPath


def time_grid(t0: float, n_times: int, t_ratio: float) -> np.ndarray:
    """Geometric grid of ``n_times`` points from ``t0`` to ``t_ratio * t0``."""
    if n_times == 1:
        return np.array([t0 * t_ratio])
    return t0 * np.geomspace(1.0, t_ratio, n_times)


def _empty_path(grid_t0, n_times, t_ratio, times, p, K, b0, solver, loss, penalty):
    """The intercept-only path, for a target no feature is correlated with."""
    warnings.warn(
        "The path is empty: no feature is correlated with the target (the gradient at zero "
        "vanishes, e.g. y is constant or every column of X is constant). The fit is the "
        "intercept-only model.",
        UserWarning, stacklevel=4,
    )
    grid = np.asarray(times, dtype=float) if times is not None else \
        time_grid(grid_t0, n_times, t_ratio)
    return RegularizationPath(
        times=grid, coefs=np.zeros((grid.shape[0], p, K)),
        intercepts=np.tile(np.asarray(b0, dtype=float), (grid.shape[0], 1)),
        entry_times=np.full((p, K), np.inf), interpolation="linear", t0=float(grid[0]),
        n_iter=0, info={"solver": solver, "loss": loss, "penalty": penalty, "empty": True},
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
