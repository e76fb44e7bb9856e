"""Penalty bookkeeping shared by the drivers: group labels, the group arrays
the kernels take and the dual norm of a gradient.
"""

from __future__ import annotations

import numpy as np

from sparsestat._engine._design import _EMPTY_I


def check_group_labels(groups) -> None:
    """Refuse missing group labels (NaN or None): they would form groups of their own."""
    groups = np.asarray(groups)
    if groups.dtype.kind == "f":
        missing = ~np.isfinite(groups)
    elif groups.dtype.kind == "O":
        missing = np.array([g is None or (isinstance(g, float) and not np.isfinite(g))
                            for g in groups], dtype=bool)
    else:
        return
    if np.any(missing):
        idx = np.flatnonzero(missing)
        shown = ", ".join(map(str, idx[:5])) + (" ..." if idx.size > 5 else "")
        raise ValueError(
            f"groups has {idx.size} missing label(s) (NaN, inf or None at position {shown}); "
            "give every feature a group label (a feature alone in its group is its own label)."
        )


def make_groups(groups, n_features: int):
    """Turn a label per feature into the kernels' (group_ptr, group_idx) arrays."""
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.shape[0] != n_features:
        raise ValueError(
            f"groups must give one group label per feature: expected {n_features} labels, "
            f"got an array of shape {groups.shape}."
        )
    check_group_labels(groups)
    labels, inverse = np.unique(groups, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse, minlength=len(labels))
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return ptr, order.astype(np.int64)


def _penalty_arrays(penalty, groups, n_features, n_targets):
    if penalty == "l1":
        return True, _EMPTY_I, _EMPTY_I
    if groups is None:
        if n_targets == 1:
            raise ValueError(
                "penalty='group' needs groups=<one label per feature> for a single target; "
                "with several targets (multi-output or multinomial) groups default to the rows "
                "of the coefficient matrix."
            )
        groups = np.arange(n_features)
    ptr, idx = make_groups(groups, n_features)
    return False, ptr, idx


def _group_norms(V, ptr, idx):
    """2-norm of each group of rows of ``V`` (a group holds its rows across all columns)."""
    sq = np.sum(V ** 2, axis=1)[idx]
    return np.sqrt(np.add.reduceat(sq, ptr[:-1])) if sq.size else np.zeros(len(ptr) - 1)


def _penalty_norm(grad, elementwise, ptr, idx):
    """Dual norm of the gradient: max |g| (l1) or max group 2-norm."""
    if elementwise:
        return float(np.max(np.abs(grad), initial=0.0))
    return float(np.max(_group_norms(grad, ptr, idx), initial=0.0))


def start_dual(grad0, elementwise, ptr, idx):
    """The analytic jump out of zero: ``t0 = 1 / ||grad0||_*`` and ``z0 = -t0 grad0``.

    ``z0`` lies in the unit ball of the penalty's dual norm, with the units of
    the largest gradient on its sphere; rounding is clipped (l1) or scaled away
    (groups), so that ``prox(z0)`` is exactly zero and the path is zero at ``t0``.
    ``grad0`` must have a positive dual norm.
    """
    norm0 = _penalty_norm(grad0, elementwise, ptr, idx)
    z0 = np.ascontiguousarray(-grad0 / norm0)
    if elementwise:
        return 1.0 / norm0, np.clip(z0, -1.0, 1.0, out=z0)
    norms = _group_norms(z0, ptr, idx)
    z0[idx] /= np.repeat(np.maximum(norms, 1.0), np.diff(ptr))[:, None]
    return 1.0 / norm0, z0


def check_penalty_factor(penalty_factor, n_features: int, penalty: str = "l1"):
    """``None`` or a float array of one finite weight ``>= 0`` per feature, not all zero."""
    if penalty_factor is None:
        return None
    f = np.asarray(penalty_factor, dtype=float)
    if f.ndim != 1 or f.shape[0] != n_features:
        raise ValueError(
            f"penalty_factor must give one weight per feature: expected {n_features} values, "
            f"got an array of shape {f.shape}.")
    if not np.all(np.isfinite(f)) or np.any(f < 0):
        bad = np.flatnonzero(~np.isfinite(f) | (f < 0))
        raise ValueError(
            f"penalty_factor must be finite and >= 0; feature {bad[0]} has {f[bad[0]]!r}. "
            "Use 0 for an unpenalized feature, 1 for the default penalty.")
    if not np.any(f > 0):
        raise ValueError(
            "penalty_factor is zero for every feature: nothing is penalized, so there is no "
            "path. Give at least one feature a positive factor.")
    if penalty != "l1":
        raise ValueError(
            f"penalty_factor weighs single coefficients and needs penalty='l1'; got "
            f"penalty={penalty!r}.")
    return f
