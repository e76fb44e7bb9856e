"""The Linearized Bregman Iteration for a smooth loss and an l1 / group penalty.

One loop serves every loss and both storage formats of the design::

    z_{k+1} = z_k - alpha * grad L(B_k)
    B_{k+1} = kappa * prox(z_{k+1})          t_{k+1} = t_k + alpha

with the intercept (not penalized) taking plain gradient steps of size
``kappa * alpha``. The path is recorded on a given time grid by interpolating
``z`` linearly inside the step that straddles each grid time, and entry times
are solved exactly inside their step.

Unpenalized features (``free``, a penalty factor 0) are the intercept's kind:
their prox has threshold 0, ``B_j = kappa * z_j``, so they too take plain
gradient steps of size ``kappa * alpha``. They are always in the working set and
in the active set (never counted as joining it), their entry time is 0 and
their recorded dual ``rho_j`` is 0. Being features, they share every product,
Gram column and batch update of the penalized ones: a free column of a sparse
design is just a column.

Squared loss. The gradient is ``H B - c`` with ``H = X^T X / n`` and
``c = X^T Y / n``. When ``H`` is given in full, one iteration costs
``O(p |active|)``. Otherwise the loop works on a *working set* ``W`` of penalty
units (features for l1, groups otherwise): the units whose dual variable may
reach the unit sphere soon, with the block ``H_WW`` built as they join. Only
``z_W`` moves each iteration, at ``O(|W| |active|)``. A unit outside ``W`` has
``B = 0``, so its dual moves by ``-(H S - T c)`` over a batch of steps, where
``S`` is the step-weighted sum of the coefficient vectors and ``T`` the batch
length in time: one product ``X^T (X S)`` per batch brings every outside unit
up to date exactly. If one of them has crossed the sphere during the batch, the
batch is replayed from its start with that unit in ``W``; so the path is the
same as without a working set (up to rounding). Units join ``W`` when their
current rate of change, doubled, would carry them to the sphere within the next
batch, and inactive units far from it leave ``W`` again.

With a sparse design (at most 5% nonzeros) the block ``H_WW`` is not formed at
all: the gradient on ``W`` is ``X_W^T (X_A B_A) / n - c_W``, two products over
the nonzeros of the columns involved with the centering applied once, which
costs ``O(nnz(X_A) + nnz(X_W) + n)`` per iteration instead of ``O(|W| |active|)``
plus a Gram column of ``p`` entries per joining feature.

Step size. A fixed ``alpha`` is used as given (explicit steps, the iteration above).
With ``adaptive=True`` (squared loss, Gram mode) the loop integrates the same flow,
``dz/dt = -grad L(kappa prox(z))``, of which LBI is the explicit discretization, with
damped Runge-Kutta-Chebyshev super-steps (:mod:`sparsestat._kernels._chebyshev`). The
flow is stiff: only the active block feeds back, with rates up to ``kappa ||H_AA||``,
so an explicit step must stay below ``2 / (kappa ||H_AA||)`` while the path moves on the
scale of ``t`` itself. A super-step of length ``relative_step * t`` (ended at the next
grid time, never below the globally stable ``alpha``) takes as many stages as the
bound ``rho = kappa (1.1 L + G)`` on its spectrum needs (about ``sqrt(2 h rho)``):
``L`` a warm-started power-iteration estimate of ``||H_AA||`` at some earlier active
set ``A0``, and ``G`` a bound on ``||H_JJ||`` for the coordinates ``J`` that joined
since or whose dual would pass the sphere within the step. Since
``||[X_A X_J]||^2 <= ||X_A||^2 + ||X_J||^2``, the active block over the step stays
below ``L + ||H_JJ||`` (leaving never raises it); ``G`` is the largest absolute row
sum of ``H_JJ`` (summed over pieces of 256 coordinates for longer lists): at most
``d |J|``, ``d`` the largest diagonal of ``H``, and near ``d`` for nearly orthogonal
columns, so that the many joins of a sparse design do not each add ``d``. ``L`` is
re-estimated once the bound on the joined coordinates' block exceeds ``0.7 L``. The
path is recorded at the end of the super-steps that end on grid times and by
interpolating ``z`` linearly inside the others, as for explicit steps; the duals
outside a working set move with the super-step's own combination of its stages'
coefficients, so the batches stay exact. On a standardized target this takes
hundreds of super-steps for a 100-point path where explicit steps took tens of
thousands, and stays closer to a fine explicit step's path than those did.
"""

import numba
import numpy as np

from sparsestat._kernels._arrays import copy_1d, copy_2d
from sparsestat._kernels._core import _fraction as step_fraction
from sparsestat._kernels._chebyshev import (
    DAMPING, MAX_STAGES, coefficients, stability_bound, stage, stages_for,
)
from sparsestat._kernels._core import _row_nonzero, diverged, dual_step, free_step, record_dense
from sparsestat._kernels._design import (
    add_column, add_columns, gram_column, transpose_columns, transpose_product,
)
from sparsestat._kernels._jit import kernel
from sparsestat._kernels._losses import loss_derivative
from sparsestat._kernels._progress import report
from sparsestat._kernels._prox import (
    all_units, group_norm, prox_units, record_entries_units,
)
from sparsestat._kernels._status import DIVERGED, MAX_ITER, OK


# working set: batch lengths (in steps; a super-step is about 0.01 t long, so that 32 of them
# let the outside duals drift far enough to cross, and replaying the batch, more often than
# 8 do: on a sparse 20000 x 50000 design 8 took half the time of 32)
_FIRST_BATCH, _MAX_BATCH, _MAX_SUPER_BATCH = 2, 32, 8
# the adaptive super-step: the margin on the power-iteration estimate of ||H_AA|| (a lower
# bound) in its stability bound
_ESTIMATE_MARGIN = 1.1
# the estimate is renewed once the joins raised the bound by this fraction of it (not a
# simple ratio: ||H_AA|| is often an integer multiple of d, and an exact tie would make
# the renewal, hence the steps, depend on rounding)
_REESTIMATE = 0.7
# the most coordinates whose block H_JJ is bounded by its row sums at once (longer lists
# in pieces of this size)
_ROW_SUM_MAX = 256


@kernel
def _block_times(Xf, xdata, xind, xptr, xmean, is_sparse, n, M, pos, products, active,
                 n_active, x, y, xs, r):
    """``y = H_AA x``: from the Gram block (``M[pos[i], pos[j]]`` is the entry of features
    ``i`` and ``j``) or, with ``products``, as ``X_A^T (X_A x) / n`` (``xs``, ``r``: scratch
    of shapes ``(p, 1)`` and ``(n, 1)``)."""
    if products is not None:
        for a in range(n_active):
            xs[active[a], 0] = x[a]
        r[:, :] = 0.0
        add_columns(Xf, xdata, xind, xptr, xmean, is_sparse, active, n_active, xs, r)
        transpose_columns(Xf, xdata, xind, xptr, xmean, is_sparse, active, n_active, r, xs)
        for a in range(n_active):
            y[a] = xs[active[a], 0] / n
        return
    for a in range(n_active):
        row = M[pos[active[a]]]
        s = 0.0
        for b_ in range(n_active):
            s += row[pos[active[b_]]] * x[b_]
        y[a] = s


@kernel
def _active_block_norm(Xf, xdata, xind, xptr, xmean, is_sparse, n, M, pos, products,
                       active, n_active, v, n_power):
    """Power-iteration estimate of ``||H_AA||`` warm-started at ``v`` (updated in place),
    ``n_power`` iterations; ``H_AA`` is applied by :func:`_block_times`. A fixed count (no
    stopping rule) keeps the estimate a smooth function of the data, so that the steps it
    sizes move only by rounding when the data do."""
    if n_active == 0:
        return 0.0
    x = np.empty(n_active)
    y = np.empty(n_active)
    n_xs, n_r = 0, 0
    if products is not None:
        n_xs, n_r = v.shape[0], n
    xs = np.zeros((1, n_xs)).T
    r = np.zeros((1, n_r)).T
    # (loops rather than array expressions, which cost more to compile)
    nrm = 0.0
    for a in range(n_active):
        x[a] = v[active[a]]
        nrm += x[a] * x[a]
    if nrm == 0.0:
        for a in range(n_active):
            x[a] = 1.0
        nrm = n_active
    nrm = np.sqrt(nrm)
    for a in range(n_active):
        x[a] /= nrm
    lam = 0.0
    for _ in range(n_power):
        _block_times(Xf, xdata, xind, xptr, xmean, is_sparse, n, M, pos, products, active,
                     n_active, x, y, xs, r)
        nrm = 0.0
        for a in range(n_active):
            nrm += y[a] * y[a]
        nrm = np.sqrt(nrm)
        if nrm == 0.0:
            break
        lam = nrm
        for a in range(n_active):
            x[a] = y[a] / nrm
    for a in range(n_active):
        v[active[a]] = x[a]
    return lam


@kernel
def _estimate(Xf, xdata, xind, xptr, xmean, is_sparse, n, M, pos, products, active,
              n_active, v, estimated):
    """:func:`_active_block_norm` of the active set (four iterations), which ``estimated``
    (over all features) then marks."""
    for j in range(estimated.shape[0]):
        estimated[j] = False
    for a in range(n_active):
        estimated[active[a]] = True
    return _active_block_norm(Xf, xdata, xind, xptr, xmean, is_sparse, n, M, pos, products,
                              active, n_active, v, 4)


@kernel
def _unit_span(u, elementwise, group_ptr):
    """Range of ``u``'s features: ``(u, u + 1)`` for l1, else indices into ``group_idx``."""
    if elementwise:
        return u, u + 1
    return group_ptr[u], group_ptr[u + 1]


@kernel
def _reach(z, dz, u, scale, elementwise, group_ptr, group_idx):
    """Size of unit ``u``'s dual after a further move of ``scale * dz`` (upper bound).

    The largest entry for l1, the group norm otherwise.
    """
    K = z.shape[1]
    if elementwise:
        r = 0.0
        for k in range(K):
            r = max(r, abs(z[u, k]) + scale * abs(dz[u, k]))
        return r
    return group_norm(z, group_ptr, group_idx, u) + scale * group_norm(dz, group_ptr, group_idx, u)


@kernel
def _joining(z, grad, step, was_active, elementwise, group_ptr, group_idx, units, n_units,
             out, count):
    """Features of inactive units whose dual would pass the sphere in a step of ``step``:
    written to ``out`` from position ``count`` on; returns the new end."""
    K = z.shape[1]
    for q in range(n_units):
        u = units[q]
        lo, hi = _unit_span(u, elementwise, group_ptr)
        if elementwise:
            if was_active[u]:
                continue
            for k in range(K):
                if abs(z[u, k] - step * grad[u, k]) > 1.0:
                    out[count] = u
                    count += 1
                    break
            continue
        if was_active[group_idx[lo]]:
            continue
        sq = 0.0
        for ii in range(lo, hi):
            j = group_idx[ii]
            for k in range(K):
                v = z[j, k] - step * grad[j, k]
                sq += v * v
        if sq > 1.0:
            for ii in range(lo, hi):
                out[count] = group_idx[ii]
                count += 1
    return count


@kernel
def _grow_working_set(Xf, xdata, xind, xptr, xmean, is_sparse, n, new_units, n_new,
                      elementwise, group_ptr, group_idx, units, n_units, in_ws,
                      feats, n_feats, pos, M, products):
    """Append units to the working set and extend the Gram block ``M`` to their features
    (unless ``products``: the gradient then comes from products with the design).

    Returns ``(n_units, n_feats, M)``; ``M`` is reallocated when it is full.
    """
    start = n_feats
    for q in range(n_new):
        u = new_units[q]
        if in_ws[u]:
            continue
        in_ws[u] = True
        units[n_units] = u
        n_units += 1
        lo, hi = _unit_span(u, elementwise, group_ptr)
        for ii in range(lo, hi):
            j = ii if elementwise else group_idx[ii]
            pos[j] = n_feats
            feats[n_feats] = j
            n_feats += 1
    if n_feats == start or products is not None:
        return n_units, n_feats, M
    if n_feats > M.shape[0]:
        cap = min(feats.shape[0], max(n_feats, M.shape[0] + M.shape[0] // 2 + 16))
        bigger = np.empty((cap, cap))
        copy_2d(bigger, M[:start, :start])
        M = bigger
    if is_sparse is not None:
        col = np.empty(feats.shape[0])
        for b_ in range(start, n_feats):
            gram_column(Xf, xdata, xind, xptr, xmean, is_sparse, feats[b_], n, col)
            for a in range(n_feats):
                M[a, b_] = col[feats[a]]
                M[b_, a] = col[feats[a]]
        return n_units, n_feats, M
    # dense: gather the working-set columns once (float64), then their inner products
    Xw = np.zeros((n_feats, n))
    one = np.ones(1)
    for a in range(n_feats):
        add_column(Xf, xdata, xind, xptr, xmean, is_sparse, feats[a], one, Xw[a:a + 1].T)
    for b_ in range(start, n_feats):
        xb = Xw[b_]
        for a in range(b_ + 1):
            h = np.dot(Xw[a], xb) / n
            M[a, b_] = h
            M[b_, a] = h
    return n_units, n_feats, M


@kernel
def _drop_from_working_set(keep, elementwise, group_ptr, group_idx, units, n_units,
                           in_ws, feats, n_feats, pos, M):
    """Keep only the working-set units flagged in ``keep`` and compact ``M``.

    Returns ``(n_units, n_feats, M)``; ``M`` is reallocated smaller when the set
    shrank to less than half its capacity.
    """
    old_pos = np.empty(n_feats, dtype=np.int64)
    n_kept_units = 0
    n_kept = 0
    for q in range(n_units):
        u = units[q]
        lo, hi = _unit_span(u, elementwise, group_ptr)
        if not keep[q]:
            in_ws[u] = False
            for ii in range(lo, hi):
                pos[ii if elementwise else group_idx[ii]] = -1
            continue
        units[n_kept_units] = u
        n_kept_units += 1
        for ii in range(lo, hi):
            j = ii if elementwise else group_idx[ii]
            old_pos[n_kept] = pos[j]
            feats[n_kept] = j
            pos[j] = n_kept
            n_kept += 1
    if M.shape[0] == 0:  # no block kept (products with the design)
        return n_kept_units, n_kept, M
    # old_pos is increasing, so moving entries up and left never overwrites a source
    for a in range(n_kept):
        for b_ in range(n_kept):
            M[a, b_] = M[old_pos[a], old_pos[b_]]
    if 2 * n_kept < M.shape[0]:
        cap = n_kept + n_kept // 2 + 16
        smaller = np.empty((cap, cap))
        copy_2d(smaller, M[:n_kept, :n_kept])
        M = smaller
    return n_kept_units, n_kept, M


@kernel
def _free_coefficients(z, B, kappa, free):
    """``B_j = kappa * z_j`` on the unpenalized rows ``free`` (a prox of threshold 0)."""
    for q in range(free.shape[0]):
        j = free[q]
        for k in range(z.shape[1]):
            B[j, k] = kappa * z[j, k]


@kernel
def _record_free(z_old, z_new, t, step, grid, gi_from, gi_to, kappa, free, coefs, duals):
    """Rewrite the unpenalized rows of the records ``gi_from .. gi_to - 1`` (made by
    :func:`record_dense` with the penalized prox): ``kappa * z`` interpolated inside the
    step, and a dual of 0."""
    for gi in range(gi_from, gi_to):
        f = step_fraction(grid[gi], t, step)
        for q in range(free.shape[0]):
            j = free[q]
            for k in range(z_old.shape[1]):
                coefs[gi, j, k] = kappa * (z_old[j, k] + f * (z_new[j, k] - z_old[j, k]))
                if duals.shape[0] > 0:
                    duals[gi, j, k] = 0.0


@kernel
def _working_gradient(Xf, xdata, xind, xptr, xmean, is_sparse, n, products, M, pos, c,
                      feats, n_feats, active, n_active, B, g, eta, grad):
    """``grad = H B - c`` on the working set ``feats`` (Gram mode), from the Gram block ``M``
    or, with ``products``, as ``X_W^T (X_A B_A) / n - c_W`` (``g``, ``eta``: scratch)."""
    K = c.shape[1]
    if products is not None:
        eta[:, :] = 0.0
        add_columns(Xf, xdata, xind, xptr, xmean, is_sparse, active, n_active, B, eta)
        transpose_columns(Xf, xdata, xind, xptr, xmean, is_sparse, feats, n_feats, eta, grad)
        for q in range(n_feats):
            j = feats[q]
            for k in range(K):
                grad[j, k] = grad[j, k] / n - c[j, k]
        return
    for k in range(K):
        gk = g[k]
        for q in range(n_feats):
            gk[q] = -c[feats[q], k]
    for a in range(n_active):
        j = active[a]
        row = M[pos[j]]
        for k in range(K):
            coef = B[j, k]
            if coef != 0.0:
                gk = g[k]
                for q in range(n_feats):
                    gk[q] += row[q] * coef
    for q in range(n_feats):
        for k in range(K):
            grad[feats[q], k] = g[k, q]


@kernel
def _coefficients_of(z, B, kappa, elementwise, group_ptr, group_idx, units, n_units, free,
                     is_free, feats, n_feats, active):
    """``B = kappa * prox(z)`` on the working set (``kappa * z`` on the unpenalized rows) and
    the list ``active`` of its features with a nonzero row; returns their number."""
    prox_units(z, B, kappa, elementwise, group_ptr, group_idx, units, n_units)
    _free_coefficients(z, B, kappa, free)
    n_active = 0
    for q in range(n_feats):
        j = feats[q]
        if is_free[j] or _row_nonzero(B, j):
            active[n_active] = j
            n_active += 1
    return n_active


@kernel
def _mark_active(was_active, feats, n_feats, active, n_active):
    """Set ``was_active`` on the working set to the list ``active``."""
    for q in range(n_feats):
        was_active[feats[q]] = False
    for a in range(n_active):
        was_active[active[a]] = True


@kernel
def _new_since(active, n_active, estimated, out):
    """The active features outside the set ``estimated``, written to ``out``; their
    number."""
    count = 0
    for a in range(n_active):
        j = active[a]
        if not estimated[j]:
            out[count] = j
            count += 1
    return count


@kernel
def _sparse_block_column(xdata, xind, xptr, xmean, n, i, J, n_J, r, col):
    """``col[a] = H[J[a], i]`` for a sparse design with its implicit centering, from the
    nonzeros of the columns alone (``r``: zeros of length ``n``, left zero):
    ``(x_i - m_i)^T (x_j - m_j) = x_i^T x_j - m_j sum(x_i) - m_i sum(x_j) + n m_i m_j``."""
    sum_i = 0.0
    for ii in range(xptr[i], xptr[i + 1]):
        r[xind[ii]] = xdata[ii]
        sum_i += xdata[ii]
    m_i = xmean[i]
    for a in range(n_J):
        j = J[a]
        dot, sum_j = 0.0, 0.0
        for ii in range(xptr[j], xptr[j + 1]):
            dot += xdata[ii] * r[xind[ii]]
            sum_j += xdata[ii]
        m_j = xmean[j]
        col[a] = (dot - m_j * sum_i - m_i * sum_j + n * m_i * m_j) / n
    for ii in range(xptr[i], xptr[i + 1]):
        r[xind[ii]] = 0.0


@kernel
def _row_sum_bounds(xdata, xind, xptr, xmean, n, M, pos, products, J, n_first, n_J, col, r):
    """The largest absolute row sums of ``H_FF``, ``H_JJ`` and ``H_SS`` (see
    :func:`_join_bounds`) in one pass over the columns of ``H_JJ``."""
    g_first, g_all, g_rest = 0.0, 0.0, 0.0
    for i in range(n_J):
        if products is not None:
            _sparse_block_column(xdata, xind, xptr, xmean, n, J[i], J, n_J, r, col)
        else:
            row = M[pos[J[i]]]
            for a in range(n_J):
                col[a] = row[pos[J[a]]]
        s_first, s_rest = 0.0, 0.0
        for a in range(n_first):
            s_first += abs(col[a])
        for a in range(n_first, n_J):
            s_rest += abs(col[a])
        if i < n_first:
            g_first = max(g_first, s_first)
        else:
            g_rest = max(g_rest, s_rest)
        g_all = max(g_all, s_first + s_rest)
    return g_first, g_all, g_rest


@kernel
def _chunked_bound(xdata, xind, xptr, xmean, n, M, pos, products, J, lo, hi, col, r):
    """A bound on ``||H_JJ||`` over ``J[lo:hi]``: the sum of the largest absolute row sums
    of its blocks of ``_ROW_SUM_MAX`` consecutive features (``||[X_1 X_2]||^2 <= ||X_1||^2
    + ||X_2||^2``)."""
    bound = 0.0
    for start in range(lo, hi, _ROW_SUM_MAX):
        stop = min(hi, start + _ROW_SUM_MAX)
        bound += _row_sum_bounds(xdata, xind, xptr, xmean, n, M, pos, products,
                                 J[start:stop], 0, stop - start, col, r)[1]
    return bound


@kernel
def _join_bounds(xdata, xind, xptr, xmean, n, M, pos, products, J, n_first, n_J, col, r):
    """Upper bounds on ``||H_FF||``, ``||H_JJ||`` and ``||H_SS||`` for the first ``n_first``
    features ``F`` of the list ``J`` and the rest ``S``: the largest absolute row sum of
    each block (a bound on its spectral radius, at most ``d`` times its size, and near
    ``d`` for nearly orthogonal columns). Past ``_ROW_SUM_MAX`` features the blocks are
    bounded in pieces (:func:`_chunked_bound`) and ``J`` by the sum of the bounds of ``F``
    and ``S``. The columns of ``H_JJ`` come from the Gram block or, with ``products``, from
    the nonzeros of the design's columns (``col``: scratch of length ``_ROW_SUM_MAX``;
    ``r``: see :func:`_sparse_block_column`)."""
    if n_J <= _ROW_SUM_MAX:
        return _row_sum_bounds(xdata, xind, xptr, xmean, n, M, pos, products, J, n_first,
                               n_J, col, r)
    g_first = _chunked_bound(xdata, xind, xptr, xmean, n, M, pos, products, J, 0, n_first,
                             col, r)
    g_rest = _chunked_bound(xdata, xind, xptr, xmean, n, M, pos, products, J, n_first, n_J,
                            col, r)
    return g_first, g_first + g_rest, g_rest


@kernel
def _super_step_length(t, next_time, alpha, relative_step):
    """The adaptive super-step's length before its stability bound: ``relative_step * t``,
    ended at the next grid time (recorded then as a state, not by interpolating inside a
    step where a coefficient may still relax fast), never below ``alpha``."""
    step = max(alpha, relative_step * t)
    if next_time - t < step:
        step = max(alpha, (next_time - t) * (1.0 + 1e-15))
    return step


@kernel
def _stages(step, alpha, kappa, lam_a, extra):
    """The stages the super-step needs at the bound ``rho = kappa (1.1 lam_a + extra)`` on
    the active block's spectrum over the step (``lam_a`` the estimate of ``||H_AA||`` at an
    earlier active set, ``extra`` a bound on the block of the coordinates that joined
    since or would join now), and the step, shortened where even the most stages fall
    short."""
    rho = kappa * (_ESTIMATE_MARGIN * lam_a + extra)
    n_stages = stages_for(step * rho, DAMPING, MAX_STAGES)
    return max(alpha, min(step, stability_bound(n_stages, DAMPING) / rho)), n_stages


@kernel
def _super_step(Xf, xdata, xind, xptr, xmean, is_sparse, n, products, M, pos, c, kappa,
                elementwise, group_ptr, group_idx, units, n_units, free, is_free, feats,
                n_feats, z, B, grad, h, n_stages, z_new, integral, Ya, Yb, Yc, Sa, Sb, Sc,
                B_stage, grad_stage, active_stage, b_coef, g, eta):
    """A damped Runge-Kutta-Chebyshev super-step (:mod:`sparsestat._kernels._chebyshev`) of
    ``n_stages`` stages of the dual flow ``z' = -(H kappa prox(z) - c)`` over the time
    ``h``, on the working set, from ``z`` (``B`` and ``grad`` its coefficients and
    gradient). Writes ``z_new`` and ``integral``, the combination of the stages'
    coefficients that the super-step integrates (the time average of ``B`` as it sees
    it): a dual outside the working set, whose flow is ``-(H_{.A} B_A - c)``, moves by
    ``-h (H integral - c)``. Returns the largest ``|z_new|`` (NaN when any is)."""
    K = z.shape[1]
    w0, w1 = coefficients(n_stages, DAMPING, b_coef)
    mut = w1 / w0
    for q in range(n_feats):
        j = feats[q]
        for k in range(K):
            Yb[j, k] = z[j, k]
            Ya[j, k] = z[j, k] - mut * h * grad[j, k]
            Sb[j, k] = 0.0
            Sa[j, k] = mut * B[j, k]
    for st in range(2, n_stages + 1):
        n_act = _coefficients_of(Ya, B_stage, kappa, elementwise, group_ptr, group_idx, units,
                                 n_units, free, is_free, feats, n_feats, active_stage)
        _working_gradient(Xf, xdata, xind, xptr, xmean, is_sparse, n, products, M, pos, c,
                          feats, n_feats, active_stage, n_act, B_stage, g, eta, grad_stage)
        mu, nu, mut = stage(st, w0, w1, b_coef)
        for q in range(n_feats):
            j = feats[q]
            for k in range(K):
                Yc[j, k] = ((1.0 - mu - nu) * z[j, k] + mu * Ya[j, k] + nu * Yb[j, k]
                            - mut * h * grad_stage[j, k])
                Sc[j, k] = mu * Sa[j, k] + nu * Sb[j, k] + mut * B_stage[j, k]
        Yb, Ya, Yc = Ya, Yc, Yb
        Sb, Sa, Sc = Sa, Sc, Sb
    big = 0.0
    for q in range(n_feats):
        j = feats[q]
        for k in range(K):
            v = Ya[j, k]
            z_new[j, k] = v
            integral[j, k] = Sa[j, k]
            if abs(v) > big or v != v:
                big = abs(v)
    return big


@kernel
def lbi_path(Xf, xdata, xind, xptr, xmean, is_sparse, Y, w, loss_code, delta,
             H, c, z0, b0, fit_intercept, t0, alpha, kappa,
             elementwise, group_ptr, group_idx, free, grid, max_iter, record_duals,
             adaptive, relative_step, reach, products, verbose):
    """Run LBI from the analytic start ``(z0, t0)`` until the last grid time.

    The mode is chosen by arguments that are ``None`` or not: ``Y`` (the direct
    mode) or ``c`` (Gram mode), ``reach`` (a working set), ``products`` (the working
    set's gradient from products with a sparse design) and ``verbose``. numba
    removes the branches of a ``None`` argument when it compiles, so each mode
    compiles only its own code.

    Parameters
    ----------
    Xf, xdata, xind, xptr, xmean, is_sparse :
        The design (see :mod:`sparsestat._kernels._design`).
    Y : (n, K) Fortran array or None
        Targets (one-hot for multinomial) in the direct mode; ``None`` in Gram mode.
    w : (n,) array
        Sample weights (ones when unweighted).
    loss_code : int
        See :mod:`sparsestat._kernels._losses`.
    delta : float
        Huber threshold.
    H : (p, p) C-ordered array
        The full scaled Gram matrix in Gram mode without a working set, else a
        ``(0, 0)`` array.
    c : (p, K) array or None
        ``X^T Y / n`` in Gram mode (squared loss only: iterate on Gram entries ``H``,
        ``c``); ``None`` in the direct mode (the loss's gradient through ``X`` at each
        step). Exactly one of ``Y`` and ``c`` is given.
    z0 : (p, K) array
        Starting dual variable, on the unit ball's boundary.
    b0 : (K,) array
        Starting intercept.
    fit_intercept : bool
        Whether the intercept takes gradient steps (direct mode only).
    t0, alpha, kappa : float
        Start time, step (the smallest step with ``adaptive``) and damping.
    elementwise, group_ptr, group_idx :
        The penalty (see :mod:`sparsestat._kernels._prox`).
    free : (q,) int array
        Unpenalized features (l1 only; see the module docstring), empty when none;
        ``kappa * z0`` is their start.
    grid : (n_times,) array
        Increasing record times, ``grid[0] >= t0``.
    max_iter : int
        Iteration budget.
    record_duals : bool
        Also record ``rho = z - prox(z)`` on the grid.
    adaptive : bool
        Gram mode only: size each step by the active block (see module docstring).
    relative_step : float
        The adaptive super-step's length as a fraction of the time.
    reach : (2,) array or None
        Gram mode with ``H`` empty: work on a working set (see the module docstring;
        not with ``record_duals``). The factor on an outside dual's observed rate of
        change, and the distance to the sphere that counts as within reach of the
        next batch. ``None`` without a working set.
    products : bool or None
        With a working set on a sparse design: ``True`` to leave the Gram block
        unformed and take the gradient from products with the design's columns;
        ``None`` otherwise.
    verbose : int or None
        Print a progress line at every tenth of the grid; ``None`` for silence.

    Returns
    -------
    coefs, intercepts, duals, entry, n_iter, status, t_end, z, B, b, n_eval
        ``n_iter`` counts the steps (super-steps with ``adaptive``), ``n_eval`` the
        gradients computed (a super-step computes one per stage).
    """
    p, K = z0.shape
    n = w.shape[0]
    n_times = grid.shape[0]
    coefs = np.zeros((n_times, p, K))
    intercepts = np.zeros((n_times, K))
    duals = np.zeros((n_times if record_duals else 0, p, K))
    entry = np.full((p, K), np.inf)
    n_free = free.shape[0]
    is_free = np.zeros(p, dtype=np.bool_)
    for q in range(n_free):
        is_free[free[q]] = True
        entry[free[q]] = 0.0

    z = z0.copy()
    z_new = z0.copy()
    B = np.zeros((p, K))
    _free_coefficients(z, B, kappa, free)
    b = b0.copy()
    b_new = b0.copy()
    grad = np.zeros((p, K))
    gb = np.zeros(K)
    zz = np.empty((p, K))
    tmp = np.empty((p, K))
    eta = np.zeros((K, n)).T
    G = np.zeros((K, n)).T

    # ---- the working set: penalty units, their features and the Gram block M
    every_unit = all_units(z0, elementwise, group_ptr)
    n_all_units = every_unit.shape[0]
    units = np.empty(n_all_units, dtype=np.int64)
    in_ws = np.zeros(n_all_units, dtype=np.bool_)
    feats = np.empty(p, dtype=np.int64)
    pos = np.full(p, -1, dtype=np.int64)
    n_units = np.int64(0)      # (typed, not a literal: one signature of the helpers)
    n_feats = np.int64(0)
    M = np.zeros((0, 0))
    if c is not None and reach is None:
        M = H
    batch = _FIRST_BATCH
    max_batch = _MAX_SUPER_BATCH if adaptive else _MAX_BATCH
    if reach is not None:
        # the start: B = 0, so every dual moves at the rate c
        step0 = alpha
        if adaptive:
            step0 = max(alpha, relative_step * t0)
        pick = np.empty(n_all_units, dtype=np.int64)
        n_pick = 0
        for u in range(n_all_units):
            if (elementwise and is_free[u]) or _reach(
                    z0, c, u, reach[0] * batch * step0, elementwise, group_ptr,
                    group_idx) >= 1.0 - reach[1]:
                pick[n_pick] = u
                n_pick += 1
        n_units, n_feats, M = _grow_working_set(
            Xf, xdata, xind, xptr, xmean, is_sparse, n, pick, n_pick, elementwise,
            group_ptr, group_idx, units, n_units, in_ws, feats, n_feats, pos, M, products)
    else:
        for u in range(n_all_units):
            units[u] = u
            in_ws[u] = True
        n_units = n_all_units
        for j in range(p):
            feats[j] = j
            pos[j] = j
        n_feats = p
    g = np.zeros((K, p))             # the gradient over the working set, by position
    no_scale = np.empty(0)
    # the super-steps' stages (adaptive), and the coefficients the outside duals integrate
    p_st = p if adaptive else 0
    Ya, Yb, Yc = np.empty((p_st, K)), np.empty((p_st, K)), np.empty((p_st, K))
    Sa, Sb, Sc = np.empty((p_st, K)), np.empty((p_st, K)), np.zeros((p_st, K))
    B_stage = np.zeros((p_st, K))
    grad_stage = np.zeros((p_st, K))
    active_stage = np.empty(p_st, dtype=np.int64)
    b_coef = np.empty(MAX_STAGES + 2)
    integral = B
    z_line = z_new
    if adaptive:
        integral = np.zeros((p, K))
        z_line = np.zeros((p, K))
    n_eval = 0

    # batch state (working set only): checkpoint, step-weighted coefficient sum
    S = np.zeros((p, K))
    touched = np.zeros(p, dtype=np.bool_)
    touched_list = np.empty(p, dtype=np.int64)
    n_touched = 0
    T = 0.0
    u_batch = np.zeros((K, n)).T
    v_batch = np.zeros((p, K))
    p_ck = 0
    if reach is not None:
        p_ck = p
    z_ck = np.empty((p_ck, K))
    entry_ck = np.empty((p_ck, K))
    was_active_ck = np.empty(p_ck, dtype=np.bool_)
    power_ck = np.empty(p_ck)
    b_ck = np.empty(K)
    t_ck = 0.0
    k_ck = 0
    gi_ck = 0
    keep = np.ones(n_all_units, dtype=np.bool_)
    new_units = np.empty(n_all_units, dtype=np.int64)

    # the unpenalized features are active from the start on
    active = np.empty(p, dtype=np.int64)
    copy_1d(active, free)
    n_active = n_free
    power_vec = np.zeros(p)
    step = alpha
    # the estimate of ||H_AA|| at the active set it marks in estimated; renewed after a
    # replay (stale)
    estimated = np.zeros(p, dtype=np.bool_)
    lam_a = 0.0
    stale = False
    if adaptive and n_free > 0:
        lam_a = _estimate(Xf, xdata, xind, xptr, xmean, is_sparse, n, M, pos, products,
                          active, n_active, power_vec, estimated)
    # the coordinates that joined since the estimate or would join in the step, and
    # scratch for the bound on their block
    J = np.empty(p if adaptive else 0, dtype=np.int64)
    col_J = np.empty(_ROW_SUM_MAX)
    r_J = np.zeros(n if products is not None else 0)
    was_active = is_free.copy()
    t = t0
    # the grid times at (or before) t0 see the start state (a step of length zero)
    gi = record_dense(z, z, b, b, t0, 0.0, grid, 0, kappa, elementwise, group_ptr, group_idx,
                      coefs, intercepts, duals, zz, tmp)
    _record_free(z, z, t0, 0.0, grid, 0, gi, kappa, free, coefs, duals)

    status = MAX_ITER
    k_iter = 0
    in_batch = 0
    next_report = 1
    while True:
        if in_batch == 0:
            if gi >= n_times:
                status = OK
                break
            if k_iter >= max_iter:
                break
            if reach is not None:
                copy_2d(z_ck, z)
                copy_2d(entry_ck, entry)
                copy_1d(was_active_ck, was_active)
                copy_1d(power_ck, power_vec)
                copy_1d(b_ck, b)
                t_ck, k_ck, gi_ck = t, k_iter, gi
        # ---- gradient at (B, b) on the working set: Gram mode (c), or direct (Y)
        finite = True
        if c is not None:
            _working_gradient(Xf, xdata, xind, xptr, xmean, is_sparse, n, products, M, pos, c,
                              feats, n_feats, active, n_active, B, g, eta, grad)
            for k in range(K):
                gb[k] = 0.0
        if Y is not None:
            for i in range(n):
                for k in range(K):
                    eta[i, k] = b[k]
            add_columns(Xf, xdata, xind, xptr, xmean, is_sparse, active, n_active, B, eta)
            value = loss_derivative(eta, Y, w, loss_code, delta, G)
            finite = np.isfinite(value)
            transpose_product(Xf, xdata, xind, xptr, xmean, is_sparse, G, grad)
            for j in range(p):
                for k in range(K):
                    grad[j, k] /= n
            for k in range(K):
                s_ = 0.0
                for i in range(n):
                    s_ += G[i, k]
                gb[k] = s_ / n if fit_intercept else 0.0
        # ---- the step (adaptive: Gram mode only, where numba compiles it)
        big = 0.0
        stepped = False
        if c is not None:
            if adaptive:
                step = _super_step_length(t, grid[gi], alpha, relative_step)
                n_new = _new_since(active, n_active, estimated, J)
                n_J = _joining(z, grad, step, was_active, elementwise, group_ptr, group_idx,
                               units, n_units, J, n_new)
                g_new, g_all, g_would = _join_bounds(
                    xdata, xind, xptr, xmean, n, M, pos, products, J, n_new, n_J, col_J, r_J)
                if stale or (n_new > 0 and g_new > _REESTIMATE * lam_a):
                    lam_a = _estimate(Xf, xdata, xind, xptr, xmean, is_sparse, n, M, pos,
                                      products, active, n_active, power_vec, estimated)
                    stale = False
                    g_all = g_would
                step, n_stages = _stages(step, alpha, kappa, lam_a, g_all)
                big = _super_step(Xf, xdata, xind, xptr, xmean, is_sparse, n, products, M, pos, c,
                                  kappa, elementwise, group_ptr, group_idx, units, n_units, free,
                                  is_free, feats, n_feats, z, B, grad, step, n_stages, z_new,
                                  integral, Ya, Yb, Yc, Sa, Sb, Sc, B_stage, grad_stage,
                                  active_stage, b_coef, g, eta)
                n_eval += n_stages
                stepped = True
        if not stepped:
            big = dual_step(z, grad, step, no_scale, feats, n_feats, z_new)
            n_eval += 1
        big_b = free_step(b, gb, kappa * step, b_new)
        if not finite or diverged(big, kappa) or diverged(big_b, kappa):
            status = DIVERGED
            break
        if stepped:
            # a super-step bends: entries are read on the straight line of its start
            dual_step(z, grad, step, no_scale, feats, n_feats, z_line)
        record_entries_units(z, z_new, t, step, entry, elementwise, group_ptr, group_idx,
                             units, n_units, z_line)
        gi_old = gi
        gi = record_dense(z, z_new, b, b_new, t, step, grid, gi, kappa, elementwise,
                          group_ptr, group_idx, coefs, intercepts, duals, zz, tmp)
        _record_free(z, z_new, t, step, grid, gi_old, gi, kappa, free, coefs, duals)
        if reach is not None:
            # the step's coefficients, as the outside duals integrate them
            for q in range(n_feats):
                j = feats[q]
                if _row_nonzero(integral, j):
                    if not touched[j]:
                        touched[j] = True
                        touched_list[n_touched] = j
                        n_touched += 1
                    for k in range(K):
                        S[j, k] += step * integral[j, k]
            T += step
        for q in range(n_feats):
            j = feats[q]
            for k in range(K):
                z[j, k] = z_new[j, k]
        copy_1d(b, b_new)
        n_active = _coefficients_of(z, B, kappa, elementwise, group_ptr, group_idx, units,
                                    n_units, free, is_free, feats, n_feats, active)
        _mark_active(was_active, feats, n_feats, active, n_active)
        t += step
        k_iter += 1
        in_batch += 1
        if verbose is not None:
            if gi * 10 >= next_report * n_times:
                with numba.objmode():
                    report("LBI", t, gi, n_times, n_active, k_iter)
                next_report = (gi * 10) // n_times + 1
        if reach is None:
            in_batch = 0
            continue
        if in_batch < batch and gi < n_times and k_iter < max_iter:
            continue
        # ---- end of a batch: bring the outside duals up to date
        u_batch[:, :] = 0.0
        add_columns(Xf, xdata, xind, xptr, xmean, is_sparse, touched_list, n_touched, S,
                    u_batch)
        transpose_product(Xf, xdata, xind, xptr, xmean, is_sparse, u_batch, v_batch)
        crossed = False
        for u in range(n_all_units):
            if in_ws[u]:
                continue
            lo, hi = _unit_span(u, elementwise, group_ptr)
            for ii in range(lo, hi):
                j = ii if elementwise else group_idx[ii]
                for k in range(K):
                    z[j, k] -= v_batch[j, k] / n - T * c[j, k]
                    z_new[j, k] = z[j, k]
            if _reach(z, z, u, 0.0, elementwise, group_ptr, group_idx) > 1.0:
                crossed = True
        # candidates for the working set: within reach at the observed rate of change
        dz = z_new   # reused as scratch: z_new == z outside a step
        for j in range(p):
            for k in range(K):
                dz[j, k] = z[j, k] - z_ck[j, k]
        n_new = 0
        scale = reach[0] * (batch if crossed else min(max_batch, 2 * batch)) * step / T
        for u in range(n_all_units):
            if in_ws[u]:
                continue
            # a unit that crossed always joins, whatever the reach rule says
            if _reach(z, z, u, 0.0, elementwise, group_ptr, group_idx) > 1.0 or \
                    _reach(z, dz, u, scale, elementwise, group_ptr, group_idx) >= 1.0 - reach[1]:
                new_units[n_new] = u
                n_new += 1
        if crossed:
            # replay the batch from its start with the crossing units inside
            copy_2d(z, z_ck)
            copy_2d(entry, entry_ck)
            copy_1d(was_active, was_active_ck)
            copy_1d(power_vec, power_ck)
            copy_1d(b, b_ck)
            t, k_iter, gi = t_ck, k_ck, gi_ck
            stale = True
            batch = max(2, batch // 2)
        else:
            n_drop = 0
            for q in range(n_units):
                u = units[q]
                lo, hi = _unit_span(u, elementwise, group_ptr)
                inactive = True
                for ii in range(lo, hi):
                    if was_active[ii if elementwise else group_idx[ii]]:
                        inactive = False
                keep[q] = not inactive or _reach(z, dz, u, 2.0 * scale, elementwise, group_ptr,
                                                 group_idx) >= 1.0 - 4.0 * reach[1]
                if not keep[q]:
                    n_drop += 1
            if n_drop > max(16, n_units // 4):
                n_units, n_feats, M = _drop_from_working_set(
                    keep, elementwise, group_ptr, group_idx, units, n_units, in_ws, feats,
                    n_feats, pos, M)
            batch = min(max_batch, 2 * batch)
        copy_2d(z_new, z)
        n_units, n_feats, M = _grow_working_set(
            Xf, xdata, xind, xptr, xmean, is_sparse, n, new_units, n_new, elementwise,
            group_ptr, group_idx, units, n_units, in_ws, feats, n_feats, pos, M, products)
        if crossed:
            prox_units(z, B, kappa, elementwise, group_ptr, group_idx, units, n_units)
            _free_coefficients(z, B, kappa, free)
            n_active = 0
            for q in range(n_feats):
                j = feats[q]
                if was_active[j]:
                    active[n_active] = j
                    n_active += 1
        for a in range(n_touched):
            j = touched_list[a]
            touched[j] = False
            S[j] = 0.0
        n_touched = 0
        T = 0.0
        in_batch = 0
    if gi >= n_times and status == MAX_ITER:
        status = OK
    return coefs[:gi], intercepts[:gi], duals[:gi] if record_duals else duals, \
        entry, k_iter, status, t, z, B, b, n_eval
