"""The LBI step and its record, written once for every path kernel.

Each path kernel (the design, the implicit projection, the lifted Split LBI
operator) and the Python driver for a gradient callback compute the gradient
their operator defines and hand it to these functions, which hold what is
common to all of them:

- the step of the penalized block's dual variable, ``z <- z - step * grad``,
  and of the unpenalized block ``v`` (intercept, Split LBI's ``beta``),
  ``v <- v - kappa * step * grad_v`` (:func:`dual_step`, :func:`free_step`);
  :func:`lbi_update` takes the dual step, solves the entry times inside it and
  sets the new coefficients ``kappa * prox(z)`` (for l1 in one pass over the
  rows, with no branch on whether a row is outside the unit ball);
- the divergence rule (:func:`diverged`): a non-finite iterate or one whose
  coefficient ``kappa * z`` exceeds ``1e100``;
- the record on a time grid (:func:`record_dense`, :func:`record_sparse`):
  ``z`` and ``v`` move linearly inside a step, so a grid time inside the step
  sees ``u = kappa * prox(z)`` of the interpolated dual exactly
  (:func:`snapshot`), with per-row penalty weights where the penalty has them;
  the sparse record keeps only nonzero rows (for l1 it skips the rows inside
  the unit ball at both ends of the step) and halves itself (every other
  snapshot) when it outgrows its budget.

Entry times are solved inside the step by
:func:`sparsestat._kernels._prox.record_entries`.
"""

import math

import numpy as np

from sparsestat._kernels._arrays import copy_1d, copy_2d
from sparsestat._kernels._jit import kernel
from sparsestat._kernels._prox import (
    _crossing_fraction as crossing_fraction,
    dual_inplace,
    prox_inplace,
    record_entries,
)

# a coefficient beyond this size means the step is too large for kappa
_DIVERGENCE_BOUND = 1e100


@kernel(inline="always")
def _step_row(z, grad, s, j, z_new, big):
    """Row ``j`` of the dual step with step ``s``; returns the running max-abs."""
    for k in range(z.shape[1]):
        v = z[j, k] - s * grad[j, k]
        z_new[j, k] = v
        if abs(v) > big or v != v:  # a NaN is kept: it marks divergence
            big = abs(v)
    return big


@kernel
def dual_step(z, grad, step, row_scale, feats, n_feats, z_new):
    """``z_new[j] = z[j] - step * row_scale[j] * grad[j]`` for the rows ``feats[:n_feats]``
    (all rows when ``n_feats < 0``; ``row_scale`` empty: 1); return the largest
    ``|z_new|`` written (NaN when any is)."""
    scaled = row_scale.shape[0] > 0
    big = 0.0
    if n_feats < 0:
        for j in range(z.shape[0]):
            big = _step_row(z, grad, step * row_scale[j] if scaled else step, j, z_new, big)
    else:
        for q in range(n_feats):
            j = feats[q]
            big = _step_row(z, grad, step * row_scale[j] if scaled else step, j, z_new, big)
    return big


@kernel
def free_step(v, grad_v, step, v_new):
    """``v_new = v - step * grad_v`` for the unpenalized block; return ``max |v_new|``."""
    big = 0.0
    for i in range(v.shape[0]):
        x = v[i] - step * grad_v[i]
        v_new[i] = x
        if abs(x) > big or x != x:
            big = abs(x)
    return big


@kernel
def lbi_update(z, grad, step, row_scale, kappa, omega, t, entry, n_entered, count,
               elementwise, group_ptr, group_idx, z_new, coef):
    """One LBI step of the penalized block: dual step, entry times inside it, coefficients.

    ``z_new = z - step * row_scale * grad`` (:func:`dual_step` over all rows;
    ``row_scale`` empty: 1), the entry times of the coordinates whose dual
    crosses the unit sphere inside the step (``record_entries``), and
    ``coef = kappa * omega_i * prox(z_new_i)`` (``omega`` empty: 1). For the l1
    penalty the three are one pass over the rows, with the same arithmetic as
    the separate functions.

    ``n_entered`` is the number of rows with an entry time before the step.
    Returns ``big`` (the largest ``|z_new|``, NaN when any is), the number of
    rows of ``coef`` that are nonzero and the number of rows with an entry time
    after the step. The counts cost a pass over the rows for a group penalty:
    ``count=False`` skips it there (both are then returned as -1).
    """
    if not elementwise:
        return group_update(z, grad, step, row_scale, kappa, omega, t, entry, count,
                            group_ptr, group_idx, z_new, coef)
    scaled = row_scale.shape[0] > 0
    weighted = omega.shape[0] > 0
    # two loops, with the row scale a constant of each; the weights act after the loop
    if scaled:
        return _l1_update(z, grad, step, row_scale, kappa, omega, t, entry, n_entered, z_new,
                          coef, True, weighted)
    return _l1_update(z, grad, step, row_scale, kappa, omega, t, entry, n_entered, z_new,
                      coef, False, weighted)


@kernel
def group_update(z, grad, step, row_scale, kappa, omega, t, entry, count, group_ptr,
                 group_idx, z_new, coef):
    """:func:`lbi_update` for a group penalty (``elementwise=False``), for callers that
    know their penalty: dual step, entry times, ``coef = kappa * omega_i * prox(z_new)``,
    and the counts (``count=False``: -1, -1)."""
    p = z.shape[0]
    weighted = omega.shape[0] > 0
    big = dual_step(z, grad, step, row_scale, np.empty(0, dtype=np.int64), -1, z_new)
    record_entries(z, z_new, t, step, entry, False, group_ptr, group_idx)
    prox_inplace(z_new, coef, 1.0 if weighted else kappa, False, group_ptr, group_idx)
    if weighted:
        scale_rows(coef, omega, kappa)
    if not count:
        return big, -1, -1
    n_active = 0
    n_entered = 0
    for j in range(p):
        n_active += _row_nonzero(coef, j)
        n_entered += _row_entered(entry, j) > 0
    return big, n_active, n_entered


@kernel(inline="always")
def _l1_update(z, grad, step, row_scale, kappa, omega, t, entry, n_entered, z_new, coef,
               scaled, weighted):
    """:func:`lbi_update` for the l1 penalty: the step, the shrink and the entries in one
    pass over the rows.

    The loop has no branch that depends on whether an entry is outside the unit ball:
    the shrink ``sign(v) max(|v| - 1, 0)`` and the running maximum are selects, and
    the entry test is a product that is nonzero only for an entry crossing the sphere
    in this step, which is rare. Where a good part of the rows is outside the ball (the
    ranker's and the mean shift's late path) a branch there would be mispredicted
    every few rows; the shrink is the same arithmetic as ``prox_units``.
    """
    p, K = z.shape
    big = 0.0
    n_out = 0
    for j in range(p):
        s = step * row_scale[j] if scaled else step
        c = kappa * omega[j] if weighted else kappa
        out = False
        entering = 0
        for k in range(K):
            a = z[j, k]
            v = a - s * grad[j, k]
            z_new[j, k] = v
            av = abs(v)
            o = av > 1.0
            excess = av - 1.0 if o else 0.0
            coef[j, k] = _shrunk(c, excess, v)
            big = av if (av > big or v != v) else big   # a NaN is kept: it marks divergence
            out |= o
            if excess * (entry[j, k] == np.inf) > 0.0:
                f = 0.0 if abs(a) >= 1.0 else crossing_fraction(a, v)
                entry[j, k] = t + f * step
                entering += 1
        n_out += out
        # a row enters with its first coordinate
        if entering and _row_entered(entry, j) == entering:
            n_entered += 1
    return big, n_out, n_entered


@kernel(inline="always")
def _scale_row(U, i, s):
    """``U[i] *= s``."""
    for k in range(U.shape[1]):
        U[i, k] *= s


@kernel(inline="always")
def _row_entered(entry, j):
    """The number of coordinates of row ``j`` that have an entry time."""
    count = 0
    for k in range(entry.shape[1]):
        if entry[j, k] < np.inf:
            count += 1
    return count


@kernel(inline="always")
def _row_nonzero(U, j):
    """Whether row ``j`` of ``U`` has a nonzero entry, read without a branch."""
    nonzero = False
    for k in range(U.shape[1]):
        nonzero |= U[j, k] != 0.0
    return nonzero


@kernel(inline="always")
def _shrunk(c, excess, v):
    """``c * sign(v) * excess``, the shrink of ``v`` by the unit ball with ``excess =
    max(|v| - 1, 0)``, as a select; ``+ 0.0`` turns the negative zeros into zeros."""
    return c * math.copysign(excess, v) + 0.0


@kernel(inline="always")
def nonzero_rows(U, rows):
    """Write the indices of the rows of ``U`` with a nonzero entry to ``rows``; return
    their number."""
    count = 0
    for i in range(U.shape[0]):
        if _row_nonzero(U, i):
            rows[count] = i
            count += 1
    return count


@kernel(inline="always")
def diverged(big, kappa):
    """Whether an iterate of size ``big`` (a max-abs, NaN when any entry is) has blown up."""
    return not np.isfinite(big) or big * kappa > _DIVERGENCE_BOUND


@kernel
def snapshot(z_old, z_new, f, kappa, elementwise, group_ptr, group_idx, zz, out):
    """``out = kappa * prox(z_old + f (z_new - z_old))``; ``zz`` holds the dual."""
    for j in range(z_old.shape[0]):
        for k in range(z_old.shape[1]):
            zz[j, k] = z_old[j, k] + f * (z_new[j, k] - z_old[j, k])
    prox_inplace(zz, out, kappa, elementwise, group_ptr, group_idx)


@kernel(inline="always")
def _fraction(grid_time, t, step):
    """Where ``grid_time`` falls inside the step ``(t, t + step]``, in [0, 1]
    (0 for a step of length zero: the state at ``t``)."""
    if step == 0.0:
        return 0.0
    f = (grid_time - t) / step
    return f if f > 0.0 else 0.0


@kernel
def record_dense(z_old, z_new, v_old, v_new, t, step, grid, gi, kappa, elementwise,
                 group_ptr, group_idx, coefs, free, duals, zz, tmp):
    """Record every grid time inside ``(t, t + step]``; return the next grid index.

    ``coefs[gi]`` gets ``kappa * prox(z)``, ``free[gi]`` the unpenalized block ``v``
    and, when ``duals`` has rows, ``duals[gi]`` the subgradient ``z - prox(z)``.
    ``step == 0`` records the state ``(z_old, v_old)`` at every grid time up to ``t``.
    """
    n_times = grid.shape[0]
    while gi < n_times and grid[gi] <= t + step:
        f = _fraction(grid[gi], t, step)
        snapshot(z_old, z_new, f, kappa, elementwise, group_ptr, group_idx, zz, tmp)
        copy_2d(coefs[gi], tmp)
        row = free[gi]
        for i in range(v_old.shape[0]):
            row[i] = v_old[i] + f * (v_new[i] - v_old[i])
        if duals.shape[0] > 0:
            dual_inplace(zz, tmp, elementwise, group_ptr, group_idx)
            copy_2d(duals[gi], tmp)
        gi += 1
    return gi


@kernel
def scale_rows(U, omega, kappa):
    """``U[i] *= kappa * omega[i]`` (the penalty's per-row weights)."""
    for i in range(U.shape[0]):
        _scale_row(U, i, kappa * omega[i])


@kernel(inline="always")
def _grown(rows, vals, nnz):
    """The record buffers with their capacity doubled (plus 16) and the first ``nnz``
    rows kept."""
    cap = 2 * rows.shape[0] + 16
    new_rows = np.empty(cap, dtype=np.int64)
    copy_1d(new_rows, rows[:nnz])
    new_vals = np.empty((cap, vals.shape[1]))
    copy_2d(new_vals, vals[:nnz])
    return new_rows, new_vals


@kernel
def append_rows(U, rows, vals, nnz):
    """Append the nonzero rows of ``U`` to the growing buffers; return them and ``nnz``.

    Without a branch on a row's values, as :func:`_append_shrunk`: the buffers are
    grown to hold every nonzero row first, then each row is written at slot ``nnz``
    and the count moves past the nonzero ones only.
    """
    n_nonzero = 0
    for i in range(U.shape[0]):
        n_nonzero += _row_nonzero(U, i)
    while rows.shape[0] <= nnz + n_nonzero:
        rows, vals = _grown(rows, vals, nnz)
    for i in range(U.shape[0]):
        for k in range(U.shape[1]):
            vals[nnz, k] = U[i, k]
        rows[nnz] = i
        nnz += _row_nonzero(U, i)
    return rows, vals, nnz



@kernel
def _append_shrunk(z_old, z_new, f, omega, kappa, rows, vals, nnz):
    """:func:`append_rows` of ``kappa * omega_i * prox(z_old + f (z_new - z_old))`` for
    the l1 penalty: rows inside the unit ball at both ends of the step are zero all
    along it and are never appended.

    No branch depends on a row's values: late in a path a good part of the rows is
    outside the ball, in no predictable order. Every row is written at slot ``nnz``
    and the count moves past the nonzero ones only, so the buffers are first grown
    to hold all the rows outside the ball. The shrink is the arithmetic of
    ``prox_units`` followed by ``_scale_row``.
    """
    p, K = z_old.shape
    n_out = 0
    for i in range(p):
        n_out += _outside_either(z_old, z_new, i)
    while rows.shape[0] <= nnz + n_out:
        rows, vals = _grown(rows, vals, nnz)
    for i in range(p):
        out = _outside_either(z_old, z_new, i)
        c = kappa * omega[i]
        nonzero = False
        for k in range(K):
            a = z_old[i, k]
            v = a + f * (z_new[i, k] - a)
            av = abs(v)
            excess = av - 1.0 if out and av > 1.0 else 0.0
            x = _shrunk(c, excess, v)
            vals[nnz, k] = x
            nonzero |= x != 0.0
        rows[nnz] = i
        nnz += nonzero
    return rows, vals, nnz


@kernel(inline="always")
def _outside_either(z_old, z_new, i):
    """Whether row ``i`` is outside the unit ball at either end of the step."""
    out = False
    for k in range(z_old.shape[1]):
        out |= (abs(z_old[i, k]) > 1.0) | (abs(z_new[i, k]) > 1.0)
    return out


@kernel
def _thin_records(ptr, rows, vals, rec_grid, n_rec):
    """Keep every other recorded snapshot and the latest one (in place); return the
    new counts."""
    K = vals.shape[1]
    new_n = 0
    new_nnz = 0
    for j in range(n_rec):
        if j % 2 == 1 and j != n_rec - 1:
            continue
        for q in range(ptr[j], ptr[j + 1]):
            rows[new_nnz] = rows[q]
            for k in range(K):
                vals[new_nnz, k] = vals[q, k]
            new_nnz += 1
        rec_grid[new_n] = rec_grid[j]
        new_n += 1
        ptr[new_n] = new_nnz
    return new_n, new_nnz


@kernel(inline="always")
def sparse_record_buffers(n_times, K):
    """Empty buffers of a sparse record: ``ptr, rec_grid, rows, vals``."""
    rows = np.empty(max(16, 4 * n_times), dtype=np.int64)
    return (np.zeros(n_times + 1, dtype=np.int64), np.zeros(n_times, dtype=np.int64), rows,
            np.empty((rows.shape[0], K)))


@kernel
def record_sparse(z_old, z_new, t, step, grid, gi, kappa, omega, elementwise, group_ptr,
                  group_idx, zz, tmp, ptr, rec_grid, rows, vals, n_rec, nnz, stride,
                  max_nnz):
    """:func:`record_dense` for a penalized block with many rows, stored sparsely.

    Record time ``l`` holds the nonzero rows ``rows[ptr[l]:ptr[l+1]]`` of
    ``kappa * omega_i * prox(z_i)`` with values ``vals``, taken at grid index
    ``rec_grid[l]``; only every ``stride``-th grid time is kept. Once more than
    ``max_nnz`` nonzero rows are held, every other snapshot is dropped and the
    stride doubles, so memory stays ``O(max_nnz)``. ``step == 0`` records the
    state ``z_old`` at every grid time up to ``t``. The last grid time is always
    recorded, and thinning keeps the latest snapshot, so the record ends where the
    path does.

    Returns ``gi, rows, vals, n_rec, nnz, stride``.
    """
    n_times = grid.shape[0]
    while gi < n_times and grid[gi] <= t + step:
        if gi % stride == 0 or gi == n_times - 1:
            f = _fraction(grid[gi], t, step)
            if elementwise:
                rows, vals, nnz = _append_shrunk(z_old, z_new, f, omega, kappa, rows, vals,
                                                 nnz)
            else:
                snapshot(z_old, z_new, f, 1.0, elementwise, group_ptr, group_idx, zz, tmp)
                scale_rows(tmp, omega, kappa)
                rows, vals, nnz = append_rows(tmp, rows, vals, nnz)
            rec_grid[n_rec] = gi
            n_rec += 1
            ptr[n_rec] = nnz
            if nnz > max_nnz and n_rec > 2:
                n_rec, nnz = _thin_records(ptr, rows, vals, rec_grid, n_rec)
                stride *= 2
        gi += 1
    return gi, rows, vals, n_rec, nnz, stride
