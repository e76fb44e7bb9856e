"""The labels of each sample's nearest neighbours, and the noise rate read from them.

A neighbourhood is the ``n_neighbors`` nearest samples of a reference pool
(Euclidean distance; every sample tied with the last one included, so
nothing depends on the order of the rows). A pool sample identical to the
query (same features, same label) is the query itself, or a copy that adds
no evidence, and one such sample is left out: fitted on the pool, a sample
is never its own neighbour, and scoring the training samples again gives
the fit's own votes.

With many classes the search runs over the pool samples of a few candidate
labels of each query (its own and the labels a linear fit scores highest),
so its cost is ``n_candidates / n_labels`` of the full search.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import NamedTuple

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import rankdata
from sklearn.utils import check_random_state

from sparsestat._kernels._labels import screened_votes
from sparsestat._threads import one_thread

#: squared distance (relative to ``1 + |x|^2``) below which two rows are the same row
_SAME_ROW = 1e-12
#: relative tolerance of a tie with the k-th distance
_TIE = 1e-9
#: bound on the error of a single-precision product of two rows, per feature and unit of
#: their norms: the rounding of both rows and of the sum (``(p + 2) u`` with ``u = 2^-24``),
#: doubled for safety; the screened squared distance is off by at most twice that
_SCREEN_ERROR = 2.0 * 2.0 ** -24
#: features of larger magnitude are searched in double precision only
_SCREEN_MAX = 1e15


class Votes(NamedTuple):
    """Label fractions among each query's neighbours."""

    own: np.ndarray        # fraction carrying the query's own label
    best: np.ndarray       # the largest fraction of any label
    assigned: np.ndarray   # a label with the largest fraction (the lowest code among ties)
    tied: np.ndarray       # several labels reach the largest fraction
    radius: np.ndarray     # distance to the k-th neighbour


class Pool(NamedTuple):
    """Reference samples, sorted by label: ``features[bounds[c]:bounds[c + 1]]`` carry label c."""

    features: np.ndarray
    codes: np.ndarray
    bounds: np.ndarray
    sq: np.ndarray

    @classmethod
    def of(cls, Z: np.ndarray, codes: np.ndarray, n_labels: int) -> "Pool":
        order = np.lexsort((np.arange(codes.size), codes))
        features = np.ascontiguousarray(Z[order])
        codes = codes[order]
        return cls(features, codes, np.searchsorted(codes, np.arange(n_labels + 1)),
                   np.einsum("ij,ij->i", features, features))


def anchor_subsample(Z: np.ndarray, max_samples: int, random_state) -> np.ndarray:
    """Rows of the pool: all, or ``max_samples`` chosen by their features.

    The choice is a pseudo-random function of each row's features (the
    fractional part of a scaled random projection, seeded by
    ``random_state``), so it does not depend on the order of the rows.
    """
    n = Z.shape[0]
    if n <= max_samples:
        return np.arange(n)
    g = check_random_state(random_state).standard_normal(Z.shape[1])
    return anchor_rows(anchor_key(Z, g), max_samples)


def anchor_key(Z: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """The pseudo-random key of each row that :func:`anchor_subsample` sorts by (row by row)."""
    return np.modf(np.abs(Z @ direction) * 1e4)[0]


def anchor_rows(key: np.ndarray, max_samples: int) -> np.ndarray:
    """The ``max_samples`` rows of smallest ``key`` (ties by row number), sorted."""
    return np.sort(np.lexsort((np.arange(key.size), key))[:max_samples])


def _distances(Zq, sq_q, pool: Pool, cols) -> np.ndarray:
    """Squared distances between query rows and the pool rows ``cols`` (a slice or indices)."""
    D = Zq @ pool.features[cols].T
    D *= -2.0
    D += sq_q[:, None]
    D += pool.sq[None, cols]
    np.maximum(D, 0.0, out=D)
    return D


def _leave_one_out(D, same_label, sq_q) -> None:
    """Set the first pool row identical to each query (with its label) to ``inf``, in place."""
    same = same_label & (D <= _SAME_ROW * (1.0 + sq_q[:, None]))
    hit = np.flatnonzero(same.any(axis=1))
    D[hit, np.argmax(same[hit], axis=1)] = np.inf


def _vote(counts: np.ndarray, own_slot: np.ndarray, labels: np.ndarray | None):
    """``Votes`` fields (but the radius) from neighbour counts per label (or per slot)."""
    rows = np.arange(counts.shape[0])
    frac = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    best = frac.max(axis=1)
    top = frac >= best[:, None] - 1e-12
    if labels is None:
        assigned = np.argmax(top, axis=1)
    else:
        # the lowest label code among the slots that reach the best fraction
        assigned = np.where(top, labels, np.iinfo(labels.dtype).max).min(axis=1)
    return frac[rows, own_slot], best, assigned, top.sum(axis=1) > 1


def _votes_all_labels(Zq, codes_q, pool: Pool, n_labels, k):
    """Votes of query rows over every pool row."""
    sq_q = np.einsum("ij,ij->i", Zq, Zq)
    D = _distances(Zq, sq_q, pool, slice(None))
    _leave_one_out(D, pool.codes[None, :] == codes_q[:, None], sq_q)
    kth = np.partition(D, k - 1, axis=1)[:, k - 1]
    near = D <= kth[:, None] * (1.0 + _TIE) + _TIE
    counts = np.stack([np.count_nonzero(near[:, pool.bounds[c]:pool.bounds[c + 1]], axis=1)
                       for c in range(n_labels)], axis=1)
    return (*_vote(counts, codes_q, None), np.sqrt(kth))


def _votes_screened(Zq, codes_q, pool: Pool, features32, n_labels, k):
    """:func:`_votes_all_labels` from single-precision products, exact in the outcome.

    The products of the query rows with every pool row are computed in single
    precision (``features32``: the pool's features); they bound every squared
    distance within ``eps``, which tells the few pool rows that can be among
    the neighbours (or tie with the last one), and only theirs are computed in
    double precision (:func:`sparsestat._kernels._labels.screened_votes`).
    """
    nq, p = Zq.shape
    Zq = np.ascontiguousarray(Zq, dtype=np.float64)
    sq_q = np.einsum("ij,ij->i", Zq, Zq)
    P = Zq.astype(np.float32) @ features32.T
    # |P - Zq F^T| <= (p + 2) u |q| |f| per entry; the distance doubles it
    eps = (2.0 * _SCREEN_ERROR * (p + 2) * np.sqrt(sq_q) * np.sqrt(pool.sq.max(initial=0.0))
           + 1e-12 * (1.0 + sq_q + pool.sq.max(initial=0.0)))
    out = (np.empty(nq), np.empty(nq), np.empty(nq, dtype=np.int64), np.empty(nq, dtype=bool),
           np.empty(nq))
    screened_votes(P, Zq, sq_q, np.asarray(codes_q, dtype=np.int64), pool.features, pool.sq,
                   np.asarray(pool.codes, dtype=np.int64), n_labels, k, eps, _SAME_ROW, _TIE,
                   *out)
    return out


def _votes_candidates(Zq, codes_q, candidates, pool: Pool, k):
    """Votes of query rows over the pool rows of their candidate labels (own label first)."""
    nq, m = candidates.shape
    sq_q = np.einsum("ij,ij->i", Zq, Zq)
    flat = candidates.ravel()
    order = np.argsort(flat, kind="stable")
    starts = np.searchsorted(flat[order], np.arange(pool.bounds.size))
    nearest = np.full((nq, m, k), np.inf)
    counts = np.zeros((nq, m))
    kth = None
    for stage in ("nearest", "count"):
        for c in np.unique(flat):
            pairs = order[starts[c]:starts[c + 1]]
            rows, slot = pairs // m, pairs % m
            cols = slice(pool.bounds[c], pool.bounds[c + 1])
            if cols.stop == cols.start:
                continue
            D = _distances(Zq[rows], sq_q[rows], pool, cols)
            _leave_one_out(D, (codes_q[rows] == c)[:, None], sq_q[rows])
            if stage == "nearest":
                kk = min(k, D.shape[1])
                part = np.partition(D, kk - 1, axis=1)[:, :kk] if kk < D.shape[1] else D
                nearest[rows, slot, :kk] = part
            else:
                counts[rows, slot] = np.count_nonzero(
                    D <= kth[rows, None] * (1.0 + _TIE) + _TIE, axis=1)
        if stage == "nearest":
            flat_nearest = nearest.reshape(nq, m * k)
            kth = np.partition(flat_nearest, k - 1, axis=1)[:, k - 1]
            # fewer than k pool samples carry the candidate labels: all of them are neighbours
            short = ~np.isfinite(kth)
            finite = np.where(np.isfinite(flat_nearest[short]), flat_nearest[short], 0.0)
            kth[short] = finite.max(axis=1, initial=0.0)
    own, best, assigned, tied = _vote(counts, np.zeros(nq, dtype=np.int64), candidates)
    return own, best, assigned, tied, np.sqrt(kth)


def neighbour_votes(Zq: np.ndarray, codes_q: np.ndarray, pool: Pool, n_neighbors: int, *,
                    candidates: np.ndarray | None = None, block: int = 1024,
                    n_jobs: int | None = None, limit_threads: bool = True) -> Votes:
    """Label fractions among each query's ``n_neighbors`` nearest pool samples.

    ``candidates`` (n_queries, m), when given, holds distinct label codes per
    query with its own label in column 0: only pool samples with those
    labels are searched (``None``: all pool samples, from single-precision
    products screened as in :func:`_votes_screened`). Blocks of ``2 * block``
    query rows (``16 * block`` with ``candidates``) run in ``n_jobs`` threads
    (numpy and the kernels release the GIL), each with one BLAS thread
    (``limit_threads=False``: the caller has set that limit, which is
    process-wide).
    """
    nq = Zq.shape[0]
    n_labels = pool.bounds.size - 1
    k = int(min(n_neighbors, pool.codes.size - 1))
    out = [np.empty(nq), np.empty(nq), np.empty(nq, dtype=np.int64), np.empty(nq, dtype=bool),
           np.empty(nq)]
    step = 2 * block if candidates is None else 16 * block
    # single-precision screening where the features fit it (always, for unit rows)
    screen = candidates is None and k >= 1 and np.all(np.abs(pool.features) < _SCREEN_MAX) \
        and np.all(np.abs(Zq) < _SCREEN_MAX)
    features32 = pool.features.astype(np.float32) if screen else None

    def one_block(start):
        rows = slice(start, min(start + step, nq))
        if screen:
            fields = _votes_screened(Zq[rows], codes_q[rows], pool, features32, n_labels, k)
        elif candidates is None:
            fields = _votes_all_labels(Zq[rows], codes_q[rows], pool, n_labels, k)
        else:
            fields = _votes_candidates(Zq[rows], codes_q[rows], candidates[rows], pool, k)
        for target, value in zip(out, fields):
            target[rows] = value

    starts = range(0, nq, step)
    if n_jobs in (None, 1) or nq <= step:
        for start in starts:
            one_block(start)
    else:
        # the blocks fill shared arrays: threads of this process, whatever backend is active;
        # each runs its products on one BLAS thread
        with one_thread("blas") if limit_threads else nullcontext():
            Parallel(n_jobs=n_jobs, prefer="threads", require="sharedmem")(
                delayed(one_block)(s) for s in starts)
    return Votes(*out)


def anchor_noise_rate(votes: Votes, codes: np.ndarray, n_labels: int, *,
                      top: float = 0.5) -> float:
    """Fraction of wrong labels, read where the features leave no doubt about the class.

    ``votes`` are the neighbour votes of the samples with labels ``codes``.
    Every sample is assigned the majority label of its neighbours (samples
    whose neighbourhood ties between labels are left out). Within each
    assigned class the samples are ranked from the purest neighbourhood to
    the least pure (ties by the neighbourhood radius, denser first; tied
    samples share their average rank). A sample's own label is independent
    of its neighbours' labels given where it lies, so the rate at which its
    own label disagrees with the class, at the purest neighbourhoods, is the
    chance that a label is wrong where the class is certain: the noise rate.
    With clean labels it goes to zero there even when the classes overlap
    elsewhere; class overlap only adds disagreement that grows from the
    purest samples to the less pure ones. The disagreement over the purest
    ``top`` fraction of every class is regressed linearly on the rank
    fraction, with a slope of at least zero, and read at rank zero (clipped
    to ``[0, 1 - 1/n_labels]``).
    """
    position, wrong = [], []
    for c in range(n_labels):
        idx = np.flatnonzero((votes.assigned == c) & ~votes.tied)
        if idx.size < 2:
            continue
        purity_rank = rankdata(-votes.best[idx], method="dense")
        radius_rank = rankdata(votes.radius[idx], method="dense")
        u = (rankdata(purity_rank * (idx.size + 1) + radius_rank) - 0.5) / idx.size
        keep = u <= top
        position.append(u[keep])
        wrong.append((codes[idx[keep]] != c).astype(float))
    if not position:
        return 0.0
    u = np.concatenate(position)
    w = np.concatenate(wrong)
    # overlap can only add disagreement away from the purest neighbourhoods: a falling
    # trend is sampling noise, so the slope is kept >= 0 (the mean when it would fall)
    slope = np.cov(u, w, bias=True)[0, 1] / np.var(u) if np.ptp(u) > 0 else 0.0
    rate = float(w.mean() - max(slope, 0.0) * u.mean())
    return float(np.clip(rate, 0.0, 1.0 - 1.0 / n_labels))
