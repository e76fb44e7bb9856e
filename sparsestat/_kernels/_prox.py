"""Proximal maps of the penalties and exact entry times inside one step.

Coefficients are stored as a ``(p, K)`` matrix. A penalty is described by
``group_ptr`` / ``group_idx`` (CSR-like lists of feature indices): every group
holds the listed features across all ``K`` columns. ``elementwise=True`` is
the plain l1 penalty, where each entry of the matrix is its own group and the
group arrays are ignored.
"""

import numpy as np

from sparsestat._kernels._jit import kernel



@kernel
def group_norm(z, group_ptr, group_idx, g):
    """Euclidean norm of group ``g`` of ``z`` (its features across all columns)."""
    K = z.shape[1]
    sq = 0.0
    for ii in range(group_ptr[g], group_ptr[g + 1]):
        j = group_idx[ii]
        for k in range(K):
            sq += z[j, k] * z[j, k]
    return np.sqrt(sq)


@kernel
def all_units(z, elementwise, group_ptr):
    """Indices of every unit of the penalty: the rows of ``z`` (l1) or the groups."""
    return np.arange(z.shape[0] if elementwise else group_ptr.shape[0] - 1)


@kernel
def prox_inplace(z, out, scale, elementwise, group_ptr, group_idx):
    """``out = scale * prox(z)``; shrink for l1, block shrink for groups.

    The group map is ``z_g * max(0, 1 - 1/||z_g||)`` and returns exactly zero for
    ``||z_g|| <= 1`` (no division by zero).
    """
    units = all_units(z, elementwise, group_ptr)
    prox_units(z, out, scale, elementwise, group_ptr, group_idx, units, units.shape[0])


@kernel
def prox_units(z, out, scale, elementwise, group_ptr, group_idx, units, n_units):
    """:func:`prox_inplace` on the first ``n_units`` listed units only.

    A unit is a row of ``z`` for l1 (its ``K`` entries shrunk one by one) and a
    group otherwise; entries outside the listed units are left untouched.
    """
    K = z.shape[1]
    for u in range(n_units):
        g = units[u]
        if elementwise:
            for k in range(K):
                v = z[g, k]
                if v > 1.0:
                    out[g, k] = scale * (v - 1.0)
                elif v < -1.0:
                    out[g, k] = scale * (v + 1.0)
                else:
                    out[g, k] = 0.0
            continue
        nrm = group_norm(z, group_ptr, group_idx, g)
        factor = 0.0
        if nrm > 1.0:
            factor = scale * (1.0 - 1.0 / nrm)
        for ii in range(group_ptr[g], group_ptr[g + 1]):
            j = group_idx[ii]
            for k in range(K):
                out[j, k] = factor * z[j, k]


@kernel
def dual_inplace(z, out, elementwise, group_ptr, group_idx):
    """``out = z - prox(z)``: the subgradient ``rho`` (projection onto the unit ball)."""
    p, K = z.shape
    if elementwise:
        for j in range(p):
            for k in range(K):
                out[j, k] = min(1.0, max(-1.0, z[j, k]))
        return
    n_groups = group_ptr.shape[0] - 1
    for g in range(n_groups):
        nrm = group_norm(z, group_ptr, group_idx, g)
        factor = 1.0 if nrm <= 1.0 else 1.0 / nrm
        for ii in range(group_ptr[g], group_ptr[g + 1]):
            j = group_idx[ii]
            for k in range(K):
                out[j, k] = factor * z[j, k]


@kernel
def _crossing_fraction(a, b):
    """Fraction f in [0, 1] where the segment a + f (b - a) first has |.| = 1.

    ``|a| <= 1 < |b|`` is assumed; the crossing is at the sign of ``b``.
    """
    s = 1.0 if b > 0 else -1.0
    return (s - a) / (b - a)


@kernel
def record_entries(z_old, z_new, t, step, entry, elementwise, group_ptr, group_idx):
    """Set ``entry`` (inf = not yet) for coordinates entering during this step.

    The dual variable moves linearly inside a step, so the time where it
    reaches the unit sphere is solved exactly (a linear equation for l1, a
    quadratic one for groups).
    """
    units = all_units(z_new, elementwise, group_ptr)
    record_entries_units(z_old, z_new, t, step, entry, elementwise, group_ptr, group_idx,
                         units, units.shape[0], z_new)


@kernel
def record_entries_units(z_old, z_new, t, step, entry, elementwise, group_ptr, group_idx,
                         units, n_units, z_line):
    """:func:`record_entries` on the first ``n_units`` listed units only, the crossing
    read on the segment from ``z_old`` to ``z_line`` (``z_new`` for a straight step; for
    a step that bends, the straight line of its starting rate, which a unit that
    joins inside the step follows until it joins). A unit that is outside at ``z_new``
    but whose line does not reach the sphere joins at the end of the step."""
    K = z_new.shape[1]
    for u in range(n_units):
        g = units[u]
        if elementwise:
            for k in range(K):
                if entry[g, k] == np.inf and abs(z_new[g, k]) > 1.0:
                    a = z_old[g, k]
                    b = z_line[g, k]
                    f = 0.0 if abs(a) >= 1.0 else (
                        _crossing_fraction(a, b) if abs(b) > 1.0 else 1.0)
                    entry[g, k] = t + f * step
            continue
        j0 = group_idx[group_ptr[g]]
        if entry[j0, 0] != np.inf:
            continue
        aa = 0.0
        ad = 0.0
        dd = 0.0
        far = 0.0
        for ii in range(group_ptr[g], group_ptr[g + 1]):
            j = group_idx[ii]
            for k in range(K):
                a = z_old[j, k]
                d = z_line[j, k] - a
                aa += a * a
                ad += a * d
                dd += d * d
                far += z_new[j, k] * z_new[j, k]
        if far <= 1.0:
            continue
        # smallest f in [0, 1] with ||a + f d||^2 = 1 (1 when the line stays inside)
        if aa >= 1.0:
            f = 0.0
        elif aa + 2.0 * ad + dd <= 1.0:
            f = 1.0
        else:
            disc = ad * ad - dd * (aa - 1.0)
            f = (-ad + np.sqrt(max(disc, 0.0))) / dd
            f = min(1.0, max(0.0, f))
        for ii in range(group_ptr[g], group_ptr[g + 1]):
            j = group_idx[ii]
            for k in range(K):
                entry[j, k] = t + f * step
