"""The LBI step and its record, written once for every path kernel.

Each path kernel (the design, the implicit projection, the lifted Split LBI
operator) and the Python driver for a gradient callback compute the gradient
their operator defines and hand it to these functions, which hold what is
common to all of them:

- the step of the penalized block's dual variable, ``z <- z - step * grad``,
  and of the unpenalized block ``v`` (intercept, Split LBI's ``beta``),
  ``v <- v - kappa * step * grad_v`` (:func:`dual_step`, :func:`free_step`);
- the divergence rule (:func:`diverged`): a non-finite iterate or one whose
  coefficient ``kappa * z`` exceeds ``1e100``;
- the record on a time grid (:func:`record_dense`, :func:`record_sparse`):
  ``z`` and ``v`` move linearly inside a step, so a grid time inside the step
  sees ``u = kappa * prox(z)`` of the interpolated dual exactly
  (:func:`snapshot`), with per-row penalty weights where the penalty has them;
  the sparse record keeps only nonzero rows and halves itself (every other
  snapshot) when it outgrows its budget.

Entry times are solved inside the step by
:func:`sparsestat._kernels._prox.record_entries`.
"""

import numpy as np

from sparsestat._kernels._arrays import copy_1d, copy_2d
from sparsestat._kernels._jit import kernel
from sparsestat._kernels._prox import dual_inplace, prox_inplace

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
    n, K = U.shape
    for i in range(n):
        s = kappa * omega[i]
        for k in range(K):
            U[i, k] *= s


@kernel
def append_rows(U, rows, vals, nnz):
    """Append the nonzero rows of ``U`` to the growing buffers; return them and ``nnz``."""
    n, K = U.shape
    for i in range(n):
        nonzero = False
        for k in range(K):
            if U[i, k] != 0.0:
                nonzero = True
                break
        if not nonzero:
            continue
        if nnz == rows.shape[0]:
            cap = 2 * rows.shape[0] + 16
            new_rows = np.empty(cap, dtype=np.int64)
            copy_1d(new_rows, rows[:nnz])
            new_vals = np.empty((cap, K))
            copy_2d(new_vals, vals[:nnz])
            rows = new_rows
            vals = new_vals
        rows[nnz] = i
        for k in range(K):
            vals[nnz, k] = U[i, k]
        nnz += 1
    return rows, vals, nnz


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
