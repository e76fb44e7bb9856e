"""Out-of-core :class:`~sparsestat.robust.NoisyLabelDetector` fits on dask arrays.

``dask`` is imported only when a fit receives a dask array (see
:mod:`sparsestat._dask`). ``X`` is tall and skinny (rows in chunks, all
features in each chunk); the labels ``y`` (a NumPy or dask array) and a few
numbers per sample are held in memory, the features never are. The derived
features (the varying columns of ``X``, rows L2-normalized) are recomputed
from ``X`` chunk by chunk in every pass:

1. one pass for the column ranges (which columns vary) and finiteness;
2. one pass for the class prototypes, the Gram matrix of the derived
   features (their centred rank), the two random projections of every
   row that choose the pieces and the neighbour pool, and a 64-bit hash of
   every row (the count of distinct rows, for the in-memory fit's check of
   duplicates);
3. the pieces' label-shift paths: every chunk sends each task the rows of
   its pieces, a task solves its pieces (in waves of tasks, so that the rows
   in flight stay bounded);
4. the least-squares fit of the labels, one pass per round (each pass scores
   the rows and sums the normal equations of the next clean set), the first
   pass also gathering the neighbour pool;
5. one pass for the candidate labels and the neighbour votes of every row.

The pieces, the fit's rounds, the pool and the votes are those of the
in-memory fit; the fitted values agree with it to rounding (the normal
equations and the class means are summed in another order), so the flags
agree except where two samples' scores tie to rounding.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.utils import check_random_state

from sparsestat._dask import _dask, is_dask_collection, tall_features

#: rows of the derived features a wave of piece tasks gathers at most (besides one chunk)
WAVE_ROWS = 500_000


# --------------------------------------------------------------------------- inputs
def _check_input(detector, X, y, pred_probs):
    """``X`` as a float64 dask array (all features in each chunk) and ``y`` in memory."""
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import column_or_1d

    name = type(detector).__name__
    if pred_probs is not None:
        raise ValueError(
            f"{name}.fit on dask arrays takes features X only, not pred_probs: fit in-memory "
            "probabilities with NumPy arrays (they hold one row of n_classes numbers per "
            "sample).")
    X = tall_features(X, f"{name}.fit")
    if is_dask_collection(y):
        y = y.compute()
    y = column_or_1d(np.asarray(y), warn=True)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows and y {y.shape[0]}: pass one label per "
                         "sample.")
    check_classification_targets(y)
    return X, y


def _check_options(detector):
    if detector.n_jobs not in (None, 1):
        raise ValueError(
            f"{type(detector).__name__}.fit on dask arrays runs its tasks on the active dask "
            f"scheduler; n_jobs must be None or 1 (got {detector.n_jobs!r}). Size the cluster "
            "instead.")


# --------------------------------------------------------------------------- chunk functions
def _starts(chunks) -> list[int]:
    return np.concatenate([[0], np.cumsum(chunks)[:-1]]).astype(np.int64).tolist()


def _chunk_range(xb):
    finite = bool(np.isfinite(xb).all())
    return finite, xb.min(axis=0, initial=np.inf), xb.max(axis=0, initial=-np.inf)


def _derived(xb, varying):
    from sparsestat.robust._noisy_labels import normalize_rows

    return normalize_rows(np.asarray(xb, dtype=np.float64)[:, varying])


def row_hashes(Z: np.ndarray, decimals: int = 12) -> np.ndarray:
    """A 64-bit hash of each row of ``Z`` rounded to ``decimals`` decimals.

    Equal rounded rows hash equally whatever chunk they are in (integer
    arithmetic on the bits of the values); distinct rows collide with
    probability about ``2^-64`` per pair.
    """
    bits = np.ascontiguousarray(np.round(Z, decimals) + 0.0).view(np.uint64)
    mult = np.random.default_rng(20240607).integers(1, 2 ** 63, size=Z.shape[1],
                                                    dtype=np.uint64) | np.uint64(1)
    h = np.full(Z.shape[0], np.uint64(0x9E3779B97F4A7C15))
    with np.errstate(over="ignore"):
        for j in range(Z.shape[1]):
            v = bits[:, j] * mult[j]
            v ^= v >> np.uint64(31)
            h = (h ^ v) * np.uint64(0xBF58476D1CE4E5B9)
            h ^= h >> np.uint64(27)
    return h


def _chunk_features(zb, codes_b, n_labels, piece_direction, pool_direction):
    """Class sums, Gram matrix, column sums, the rows' piece keys, pool keys and hashes."""
    from sparsestat.robust._label_neighbours import anchor_key

    sums = np.zeros((n_labels, zb.shape[1]))
    np.add.at(sums, codes_b, zb)
    pool_key = None if pool_direction is None else anchor_key(zb, pool_direction)
    return (sums, zb.T @ zb, zb.sum(axis=0), zb @ piece_direction, pool_key,
            row_hashes(zb))


def _chunk_split(zb, task_b, n_tasks):
    """The chunk's rows of every task, in row order."""
    return tuple(zb[task_b == t] for t in range(n_tasks))


def _solve_task(parts, codes_t, local, n_components, kappa):
    from sparsestat._threads import one_thread
    from sparsestat.robust._noisy_labels import _solve_pieces

    with one_thread():   # tiny dense problems: BLAS threads only contend
        return _solve_pieces(np.vstack(parts), codes_t, local, n_components, kappa, 50.0)


def _chunk_round(zb, codes_b, clean_b, pool_b, n_labels, coef):
    """Scores of the chunk's rows under ``coef`` and the normal equations of the next clean
    set (``clean_b`` given: of that set, and no scores); the chunk's rows ``pool_b``."""
    from sparsestat.robust._label_fit import label_normal_equations, score_labels

    scores = None
    if clean_b is None:
        scores = score_labels(zb, coef, codes_b)[:4]
        clean_b = scores[0] == codes_b
    return scores, label_normal_equations(zb, codes_b, n_labels, clean_b), zb[pool_b]


def _chunk_votes(zb, codes_b, coef, n_candidates, pool, n_neighbors):
    from sparsestat.robust._label_fit import score_labels
    from sparsestat.robust._label_neighbours import neighbour_votes

    *scores, candidates = score_labels(zb, coef, codes_b, n_candidates)
    return scores, neighbour_votes(zb, codes_b, pool, n_neighbors, candidates=candidates)


# --------------------------------------------------------------------------- passes
class _Chunks:
    """The derived features of ``X`` as delayed chunks, and per-row arrays cut to them."""

    def __init__(self, X, varying):
        dask = _dask()
        self.dask = dask
        d = varying.size
        Z = X.map_blocks(_derived, varying, chunks=(X.chunks[0], (d,)), dtype=np.float64)
        self.blocks = Z.to_delayed().ravel().tolist()
        self.bounds = np.cumsum([0] + list(X.chunks[0]))

    def cut(self, values):
        """``values`` (one entry per row) in pieces, one per chunk."""
        return [values[a:b] for a, b in zip(self.bounds[:-1], self.bounds[1:])]

    def map(self, function, *per_chunk, common=()):
        """``function(z_block, *per_chunk[i][c], *common)`` for every chunk ``c``, computed."""
        delayed = self.dask.delayed(function, pure=True)
        common = [self.dask.delayed(c, traverse=False) for c in common]
        tasks = [delayed(zb, *(arg[c] for arg in per_chunk), *common)
                 for c, zb in enumerate(self.blocks)]
        return self.dask.compute(*tasks)


def _column_ranges(X):
    dask = _dask()
    parts = dask.compute(*[dask.delayed(_chunk_range, pure=True)(xb)
                           for xb in X.to_delayed().ravel()])
    if not all(p[0] for p in parts):
        raise ValueError("X contains NaN or infinity: remove or impute those rows "
                         "(e.g. X[da.isfinite(X).all(axis=1)]).")
    return np.min([p[1] for p in parts], axis=0), np.max([p[2] for p in parts], axis=0)


def _check_distinct(distinct: int, n: int, n_classes: int) -> None:
    """The in-memory fit's checks of the distinct rows, from their count over all chunks."""
    if distinct < n_classes:
        raise ValueError(
            f"X holds {distinct} distinct feature vectors (rows after L2 normalization) for "
            f"{n_classes} classes: the features cannot separate the classes. Pass features "
            "that distinguish the samples.")
    if distinct < n:
        warnings.warn(
            f"{n - distinct} of the {n} rows of X duplicate another row (after L2 "
            "normalization): duplicates carry the same evidence, and duplicates with "
            "different labels cannot be told apart by the features.", UserWarning,
            stacklevel=4)


def _centred_rank(gram, col_sums, n, rtol=1e-8):
    mean = col_sums / n
    w = np.linalg.eigvalsh(gram - n * np.outer(mean, mean))
    top = float(w[-1]) if w.size else 0.0
    return int(np.sum(w > rtol * top)) if top > 0 else 0


def _piece_entry_times(chunks: _Chunks, codes, pieces, n_components, kappa):
    """Entry times of every sample, the pieces solved in tasks of about a chunk each."""
    n = codes.size
    n_tasks = max(1, min(len(pieces), len(chunks.blocks)))
    task_of = np.empty(n, dtype=np.int64)
    for t in range(n_tasks):
        for idx in pieces[t::n_tasks]:
            task_of[idx] = t
    rows = [np.flatnonzero(task_of == t) for t in range(n_tasks)]
    # waves of consecutive tasks, so that the gathered rows stay bounded
    per_wave = max(1, int(WAVE_ROWS // max(1, n // n_tasks)))
    entry = np.full(n, np.inf)
    dask = chunks.dask
    for first in range(0, n_tasks, per_wave):
        wave = range(first, min(first + per_wave, n_tasks))
        # the chunk's task numbers, relative to the wave (-1: another wave)
        local_task = np.where((task_of >= wave.start) & (task_of < wave.stop),
                              task_of - wave.start, -1)
        split = dask.delayed(_chunk_split, pure=True, nout=len(wave))
        parts = [split(zb, tb, len(wave)) for zb, tb in zip(chunks.blocks,
                                                                chunks.cut(local_task))]
        tasks = []
        for w, t in enumerate(wave):
            local = [np.searchsorted(rows[t], idx) for idx in pieces[t::n_tasks]]
            tasks.append(dask.delayed(_solve_task, pure=True)(
                [p[w] for p in parts], codes[rows[t]], local, n_components, kappa))
        for t, result in zip(wave, dask.compute(*tasks)):
            for idx, times in zip(pieces[t::n_tasks], result):
                entry[idx] = times
    return entry


def _label_fit(chunks: _Chunks, codes, n_labels, seed, pool_rows, n_candidates, n_neighbors,
               n_rounds=3):
    """The fit of :func:`~sparsestat.robust._label_fit.fit_labels`, one pass per round, and
    the neighbour votes from the last pass."""
    from sparsestat.robust._label_fit import (
        LabelFit,
        label_scale,
        refit,
        solve_normal_equations,
    )
    from sparsestat.robust._label_neighbours import Pool, Votes

    in_pool = np.zeros(codes.size, dtype=bool)
    in_pool[pool_rows] = True
    where = [np.flatnonzero(m) for m in chunks.cut(in_pool)]
    parts = chunks.map(_chunk_round, chunks.cut(codes), chunks.cut(seed), where,
                       common=(n_labels, None))
    pool = Pool.of(np.vstack([p[2] for p in parts]), codes[pool_rows], n_labels)
    clean = seed
    no_rows = [np.empty(0, dtype=np.int64)] * len(chunks.blocks)
    for _ in range(n_rounds):
        # the normal equations of the clean set come with the previous pass
        coef = solve_normal_equations(*_sum_equations(parts))
        parts = chunks.map(_chunk_round, chunks.cut(codes), [None] * len(chunks.blocks),
                           no_rows, common=(n_labels, coef))
        suggested, best, own, sq = _joined([p[0] for p in parts])
        new = suggested == codes
        if not refit(clean, new, coef.shape[0]):
            break
        clean = new
    m = n_candidates if n_candidates < n_labels else None
    parts = chunks.map(_chunk_votes, chunks.cut(codes),
                       common=(coef, m, pool, n_neighbors))
    suggested, best, own, sq = _joined([p[0] for p in parts])
    votes = Votes(*_joined([p[1] for p in parts]))
    fit = LabelFit(coef, suggested, best - own, None, label_scale(own, sq, clean, coef.shape[0], n_labels))
    return fit, votes, pool


def _sum_equations(parts):
    G = sum(p[1][0] for p in parts)
    AtY = sum(p[1][1] for p in parts)
    return G, AtY


def _joined(per_chunk):
    return [np.concatenate(field) for field in zip(*per_chunk)]


# --------------------------------------------------------------------------- the fit
def fit_noisy_labels_dask(detector, X, y, pred_probs=None):
    """Fit ``detector`` (a :class:`~sparsestat.robust.NoisyLabelDetector`) on a dask ``X``.

    Sets the attributes of the in-memory fit, all as NumPy arrays (one value
    per sample, or less): ``outliers_`` is a cut of a ranking of all the
    samples, so it is decided in memory from the per-sample scores. Returns
    the detector.
    """
    from sparsestat.robust._label_neighbours import anchor_rows
    from sparsestat.robust._noisy_labels import (
        N_CANDIDATE_LABELS,
        class_groups,
        deal_pieces,
        normalize_rows,
        varying_columns,
    )

    name = type(detector).__name__
    _check_options(detector)
    X, y = _check_input(detector, X, y, pred_probs)
    codes, K = detector._classes(y)
    n, p = X.shape
    # the two rows of extremes have the spread and the constant values of every column
    varying = varying_columns(np.vstack(_column_ranges(X)), name)
    chunks = _Chunks(X, varying)

    # the random directions, drawn in the order of the in-memory fit
    d = varying.size
    piece_direction = check_random_state(detector.random_state).standard_normal(d)
    pool_size = detector._pool_size(K)
    pool_direction = (check_random_state(detector.random_state).standard_normal(d)
                      if n > pool_size else None)
    parts = chunks.map(_chunk_features, chunks.cut(codes),
                       common=(K, piece_direction, pool_direction))
    class_sums, gram, col_sums = (sum(q[j] for q in parts) for j in range(3))
    _check_distinct(np.unique(np.concatenate([q[5] for q in parts])).size, n, K)
    rank = _centred_rank(gram, col_sums, n)
    if rank < K - 1:
        warnings.warn(
            f"The centred features (X) span {rank} dimension(s), fewer than the {K - 1} "
            f"needed to separate {K} classes linearly: the labels of some classes cannot be "
            "checked against the features.", UserWarning, stacklevel=3)
    protos = normalize_rows(class_sums / np.bincount(codes, minlength=K)[:, None])
    groups = class_groups(protos, detector.group_size)
    pieces = deal_pieces(np.concatenate([q[3] for q in parts]), codes, groups, detector.samples_per_class)

    entry = _piece_entry_times(chunks, codes, pieces, detector.n_components, detector.kappa)
    seed = detector._seed(entry, codes, K)
    rows = (np.arange(n) if pool_direction is None
            else anchor_rows(np.concatenate([q[4] for q in parts]), pool_size))
    fit, votes, pool = _label_fit(chunks, codes, K, seed, rows, N_CANDIDATE_LABELS,
                                  detector.n_neighbors)
    piece_of = np.empty(n, dtype=np.int64)
    for j, idx in enumerate(pieces):
        piece_of[idx] = j
    detector.pieces_ = piece_of
    detector._pool = pool
    detector._varying = varying
    detector._inputs = (True, False)
    detector.n_features_in_ = p
    detector.__dict__.pop("feature_names_in_", None)
    return detector._conclude(codes, entry, fit, votes, rows, len(pieces), groups)

