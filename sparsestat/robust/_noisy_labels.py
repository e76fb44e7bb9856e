"""Noisy-label detection by scalable penalized regression (SPR).

The labels, one-hot encoded, follow the multi-output mean-shift model
``Y = X B + 1 b^T + G + E`` on the (L2-normalized, PCA-reduced) features:
a sample whose label disagrees with the linear structure of the features
needs a nonzero shift ``G_i`` to be fitted, so its row enters the group
(row 2-norm) path of ``G`` early. The path is the shared mean-shift engine
(:func:`sparsestat._engine.projected_shift_path` on the implicit projection
of a thin basis), run on small independent pieces; see
``docs/noisy_labels.md``.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from sparsestat import _dask, _dask_labels, _engine
from sparsestat._kernels._labels import PIECE_OK, pieces_entry_times
from sparsestat._threads import one_thread
from sparsestat.robust._label_fit import fit_labels, onehot_rows, score_labels
from sparsestat.robust._label_neighbours import (
    Pool,
    Votes,
    anchor_noise_rate,
    anchor_subsample,
    neighbour_votes,
)
from sparsestat.robust._linalg import thin_basis


def normalize_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit Euclidean norm (all-zero rows stay zero)."""
    norms = np.sqrt(np.einsum("ij,ij->i", X, X))
    return X / np.where(norms > 0, norms, 1.0)[:, None]


def varying_columns(X: np.ndarray, who: str) -> np.ndarray:
    """Indices of the columns of ``X`` that vary, refusing features that cannot tell samples apart.

    Constant columns carry no information and are dropped (with a warning
    when they are nonzero, since they would distort the row normalization);
    with fewer than two varying columns (a normalized row of one feature is
    its sign) a ``ValueError`` says so.
    """
    p = X.shape[1]
    spread = np.ptp(X, axis=0)
    varying = np.flatnonzero(spread > 0)
    if varying.size == 0:
        raise ValueError(
            f"Every feature of X is constant: {who} cannot tell any two samples apart. "
            "Pass features that vary across the samples.")
    if varying.size == 1:
        raise ValueError(
            f"Only 1 feature(s) of X vary: {who} normalizes every row to unit length, which "
            "leaves a single feature nothing but its sign. Pass at least two varying "
            "features.")
    offset = np.flatnonzero((spread == 0) & (X[0] != 0))
    if offset.size:
        # an all-zero column changes nothing; a constant nonzero one shifts every row's norm
        warnings.warn(
            f"{offset.size} of the {p} features of X are constant and nonzero (columns "
            f"{offset[:5].tolist()}{'...' if offset.size > 5 else ''}): they carry no "
            f"information about the labels but would distort the row normalization; {who} "
            "ignores them.", UserWarning, stacklevel=4)
    return varying


def check_rows(Z: np.ndarray, n_classes: int, who: str, source: str = "X",
               warn_duplicates: bool = True) -> None:
    """Refuse or warn about feature rows that cannot separate the classes.

    Fewer distinct rows than classes is a ``ValueError``; duplicated rows
    (``warn_duplicates``) and a centred rank below ``n_classes - 1`` (too few
    directions to separate the classes linearly) are warned about.
    """
    n = Z.shape[0]
    distinct = count_distinct_rows(Z)
    if distinct < n_classes:
        raise ValueError(
            f"{source} holds {distinct} distinct feature vectors (rows after "
            f"{'L2 normalization' if source == 'X' else 'the log-ratio transform'}) for "
            f"{n_classes} classes: the features cannot separate the classes. Pass features "
            "that distinguish the samples.")
    if warn_duplicates and distinct < n:
        warnings.warn(
            f"{n - distinct} of the {n} rows of X duplicate another row (after L2 "
            "normalization): duplicates carry the same evidence, and duplicates with "
            "different labels cannot be told apart by the features.", UserWarning,
            stacklevel=4)
    rank = centred_rank(Z)
    if rank < n_classes - 1:
        warnings.warn(
            f"The centred features ({source}) span {rank} dimension(s), fewer than the "
            f"{n_classes - 1} needed to separate {n_classes} classes linearly: the labels "
            "of some classes cannot be checked against the features.", UserWarning,
            stacklevel=4)


def check_features(X: np.ndarray, n_classes: int, who: str) -> tuple[np.ndarray, np.ndarray]:
    """The L2-normalized rows of the varying columns of ``X``, and those columns.

    Refuses (``ValueError``) or warns about degenerate features, see
    :func:`varying_columns` and :func:`check_rows`.
    """
    varying = varying_columns(X, who)
    Xn = normalize_rows(X[:, varying])
    check_rows(Xn, n_classes, who)
    return Xn, varying


#: probabilities are floored here before the log-ratio transform
PROBABILITY_FLOOR = 1e-6


def check_pred_probs(pred_probs, n_samples: int, n_classes: int) -> np.ndarray:
    """``pred_probs`` as a float array, refusing anything that is not one probability row per sample."""
    P = check_array(pred_probs, dtype=np.float64, input_name="pred_probs")
    if P.shape[0] != n_samples:
        raise ValueError(
            f"pred_probs has {P.shape[0]} rows for {n_samples} samples: pass one row of class "
            "probabilities per sample.")
    if P.shape[1] != n_classes:
        raise ValueError(
            f"pred_probs has {P.shape[1]} columns for the {n_classes} classes of y: pass one "
            "column per class, in the order of np.unique(y) (the classes_ of the classifier "
            "that made them).")
    if np.any(P < 0):
        row = int(np.flatnonzero(np.any(P < 0, axis=1))[0])
        raise ValueError(
            f"pred_probs holds negative values (row {row}): pass probabilities, such as "
            "predict_proba's output.")
    sums = P.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > 1e-3)
    if off.size:
        raise ValueError(
            f"Rows of pred_probs must sum to 1; row {int(off[0])} sums to {sums[off[0]]:.6g} "
            f"({off.size} row(s) off). Pass probabilities, such as predict_proba's output "
            "(turn scores into probabilities with a softmax first).")
    return P


def probability_features(P: np.ndarray) -> np.ndarray:
    """Centred log-ratios of the probabilities, in units of ``log(1 / PROBABILITY_FLOOR)``.

    ``log p_ik - mean_k log p_ik`` with every probability floored at
    ``PROBABILITY_FLOOR``: the coordinates of the simplex in which the
    Euclidean distance is Aitchison's distance between distributions, and in
    which a softmax classifier's probabilities are its linear scores (up to
    the floor). A certain prediction maps to a row of norm ``sqrt(1 - 1/K)``,
    the uniform one to zero.
    """
    L = np.log(np.clip(P, PROBABILITY_FLOOR, None))
    L -= L.mean(axis=1, keepdims=True)
    L /= np.log(1.0 / PROBABILITY_FLOOR)
    return L


def count_distinct_rows(Z: np.ndarray, decimals: int = 12) -> int:
    """Number of distinct rows of ``Z`` rounded to ``decimals`` decimals.

    Rows are sorted by a fixed random projection and only neighbours in that
    order with (nearly) equal projections are compared entry by entry, so
    the cost is one sort instead of a lexicographic sort of the rows.
    """
    Zr = np.round(Z, decimals) + 0.0      # + 0.0 turns -0.0 into 0.0
    key = Zr @ np.random.default_rng(0).standard_normal(Z.shape[1])
    order = np.argsort(key, kind="stable")
    k = key[order]
    close = np.flatnonzero(np.diff(k) <= 1e-9 * (1.0 + np.abs(k[1:])))
    same = np.all(Zr[order[close]] == Zr[order[close + 1]], axis=1)
    return Z.shape[0] - int(np.sum(same))


def centred_rank(Z: np.ndarray, rtol: float = 1e-8) -> int:
    """Numerical rank of the column-centred ``Z`` (from the eigenvalues of its Gram matrix)."""
    n, p = Z.shape
    if p <= n:
        mean = Z.mean(axis=0)
        G = Z.T @ Z - n * np.outer(mean, mean)
    else:
        Zc = Z - Z.mean(axis=0)
        G = Zc @ Zc.T
    w = np.linalg.eigvalsh(G)
    top = float(w[-1]) if w.size else 0.0
    return int(np.sum(w > rtol * top)) if top > 0 else 0


def flag_largest(score: np.ndarray, candidates: np.ndarray, n_flag: int) -> np.ndarray:
    """The ``n_flag`` candidates with the largest ``score`` (ties at the last included)."""
    out = np.zeros(score.size, dtype=bool)
    n_flag = int(min(n_flag, candidates.sum()))
    if n_flag == 0:
        return out
    threshold = np.partition(score[candidates], -n_flag)[-n_flag]
    return candidates & (score >= threshold)


def reduce_features(Z: np.ndarray, n_components: int) -> np.ndarray:
    """Centred principal-component scores of ``Z`` (at most ``n_components`` of them)."""
    Zc = Z - Z.mean(axis=0)
    d = int(min(n_components, Zc.shape[0] - 1, Zc.shape[1]))
    if d >= Zc.shape[1]:
        return Zc
    # leading eigenvectors of the smaller Gram matrix (cheaper than an SVD)
    if Zc.shape[1] <= Zc.shape[0]:
        _, V = np.linalg.eigh(Zc.T @ Zc)
        return Zc @ V[:, ::-1][:, :d]
    w, U = np.linalg.eigh(Zc @ Zc.T)
    return U[:, ::-1][:, :d] * np.sqrt(np.clip(w[::-1][:d], 0.0, None))


def shift_entry_times(Z: np.ndarray, codes: np.ndarray, n_labels: int, *,
                      kappa: float = 10.0, t_ratio: float = 50.0,
                      max_active: int | None = None) -> np.ndarray:
    """Entry times of the label shifts ``G_i`` for one subproblem.

    ``Z`` (m, d) are the reduced features, ``codes`` the labels as integers
    ``0..n_labels-1``. The row-group path of ``G`` in
    ``onehot(codes) = [1, Z] B + G + E`` is followed by the mean-shift engine
    with leverage-aware penalty weights ``sqrt(1 - h_ii)``. Times are divided
    by ``m`` so that subproblems of different sizes share one scale (a row
    enters near ``1 / ||residual_i||``). ``np.inf``: never entered.
    """
    m = Z.shape[0]
    Y = np.zeros((m, n_labels))
    Y[np.arange(m), codes] = 1.0
    basis = thin_basis(Z, fit_intercept=True)
    omega = np.sqrt(np.clip(1.0 - basis.leverage, 1e-6, 1.0))
    resid = Y - basis.Q @ (basis.Q.T @ Y)
    if np.sqrt(np.max(np.sum(resid ** 2, axis=1))) <= 1e-10:
        # the labels are an exact linear function of the features: nothing to flag
        return np.full(m, np.inf)
    path = _engine.projected_shift_path(
        basis.Q, Y, penalty="group", weights=omega, kappa=kappa, t_ratio=t_ratio,
        n_times=2, max_active=m - 1 if max_active is None else max_active)
    return path.entry_times.min(axis=1) / m


def class_means(Z: np.ndarray, codes: np.ndarray, n_labels: int) -> np.ndarray:
    """Mean row of every label (one pass over the rows, as a sparse one-hot product)."""
    counts = np.bincount(codes, minlength=n_labels)
    return np.asarray(onehot_rows(codes, n_labels).T @ Z) / np.maximum(counts, 1)[:, None]


def class_groups(prototypes: np.ndarray, group_size: int) -> list[np.ndarray]:
    """Split classes into groups of mutually least similar classes.

    Classes are taken in order of their largest similarity to any other class
    (most confusable first); each opens a group or joins the group whose most
    similar member is least similar to it, among groups with room left. The
    confusable classes thus end up in different subproblems, as in the
    published piece-splitting.
    """
    K = prototypes.shape[0]
    n_groups = int(np.ceil(K / group_size))
    if n_groups == 1:
        return [np.arange(K)]
    S = prototypes @ prototypes.T
    np.fill_diagonal(S, -np.inf)
    order = np.argsort(-S.max(axis=1), kind="stable")
    groups: list[list[int]] = [[] for _ in range(n_groups)]
    cap = int(np.ceil(K / n_groups))
    for k in order:
        best, best_sim = 0, np.inf
        for g, members in enumerate(groups):
            if len(members) >= cap:
                continue
            sim = max((S[k, j] for j in members), default=-np.inf)
            if sim < best_sim:
                best, best_sim = g, sim
        groups[best].append(int(k))
    return [np.array(sorted(g)) for g in groups if g]


def make_pieces(Xn: np.ndarray, codes: np.ndarray, groups: list[np.ndarray],
                samples_per_class: int, random_state) -> list[np.ndarray]:
    """Sample indices of each piece: one class group, about ``samples_per_class`` per class.

    Within a class the samples are ordered by a random projection of their
    features (seeded by ``random_state``) and dealt to the pieces in turn,
    from a piece that the class's projections choose, so the split depends on
    the data and the seed, not on the order of the rows or the names of the
    classes.
    """
    key = Xn @ check_random_state(random_state).standard_normal(Xn.shape[1])
    return deal_pieces(key, codes, groups, samples_per_class)


def deal_pieces(key: np.ndarray, codes: np.ndarray, groups: list[np.ndarray],
                samples_per_class: int) -> list[np.ndarray]:
    """The pieces of :func:`make_pieces` from every sample's random projection ``key``."""
    pieces = []
    for group in groups:
        members = [np.flatnonzero(codes == k) for k in group]
        sizes = np.array([idx.size for idx in members])
        n_pieces = max(1, int(round(np.median(sizes) / samples_per_class)))
        dealt = [[] for _ in range(n_pieces)]
        for idx in members:
            idx = idx[np.lexsort((idx, key[idx]))]
            # where a class starts dealing: a function of its features, not of its name
            start = int(np.modf(abs(np.sum(key[idx])) * 1e4)[0] * n_pieces)
            for j in range(n_pieces):
                dealt[(start + j) % n_pieces].append(idx[j::n_pieces])
        pieces.extend(np.sort(np.concatenate(d)) for d in dealt)
    return pieces


def _solve_pieces(Xn, codes, pieces, n_components, kappa, t_ratio):
    """Entry times of every piece (a list of arrays, one per piece of ``pieces``).

    All pieces run in one compiled call
    (:func:`sparsestat._kernels._labels.pieces_entry_times`, the arithmetic of
    :func:`shift_entry_times` on :func:`reduce_features`); the few it cannot
    take (too few rows for its basis, an ill-conditioned one) go through
    :func:`_solve_piece`.
    """
    if not pieces:
        return []
    Xn = np.ascontiguousarray(Xn, dtype=np.float64)
    codes = np.asarray(codes, dtype=np.int64)
    sizes = np.array([idx.size for idx in pieces], dtype=np.int64)
    ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    flat = np.concatenate(pieces).astype(np.int64)
    d = -1 if n_components == "auto" else int(n_components)
    entry, status = pieces_entry_times(Xn, codes, ptr, flat, d, float(kappa), float(t_ratio),
                                       int(codes.max()) + 1)
    out = [entry[ptr[j]:ptr[j + 1]] for j in range(len(pieces))]
    for j in np.flatnonzero(status != PIECE_OK):
        out[j] = _solve_piece(Xn, codes, pieces[j], n_components, kappa, t_ratio)
    return out


def _solve_piece(Xn, codes, idx, n_components, kappa, t_ratio):
    local, local_codes = np.unique(codes[idx], return_inverse=True)
    d = n_components if n_components != "auto" else local.size
    Z = reduce_features(Xn[idx], d)
    return shift_entry_times(Z, local_codes, local.size, kappa=kappa, t_ratio=t_ratio)


#: labels searched for a sample's neighbours when there are more classes: its own and the
#: labels the linear fit scores highest
N_CANDIDATE_LABELS = 10
#: the neighbour pool holds at least this many samples per class and neighbour, on average
POOL_PER_CLASS_NEIGHBOUR = 10


def midranks(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Average rank of each value among ``sorted_values`` (as if it were one of them).

    For a value that is one of ``sorted_values`` this is its
    :func:`scipy.stats.rankdata` average rank; a new value takes the rank it
    would have if it were added.
    """
    lo = np.searchsorted(sorted_values, values, side="left")
    hi = np.searchsorted(sorted_values, values, side="right")
    return lo + (hi - lo + 1) / 2.0


class NoisyLabelDetector(BaseEstimator):
    """Find mislabeled samples by scalable penalized regression (SPR).

    The one-hot labels are regressed on the features with a sparse shift per
    sample, ``Y = X B + 1 b^T + G + E``, the rows ``G_i`` under a group
    penalty. The coefficients ``B`` are removed by projecting onto the
    orthogonal complement of the features (implicitly, through a thin
    basis) and the path of ``G`` is followed by the mean-shift engine: a
    sample whose label disagrees with the linear structure of the features
    enters early (``entry_times_``).

    The features are ``X`` (rows L2-normalized), or derived from a
    classifier's out-of-sample probabilities ``pred_probs``: their centred
    log-ratios ``log p_ik - mean_k log p_ik`` (probabilities floored at
    ``1e-6``, in units of ``log 1e6``), the coordinates in which a softmax
    classifier's probabilities are linear scores and distances are
    Aitchison's distances between distributions. Given both, the two blocks
    are put side by side.

    To scale, the data are split as published: classes are grouped so that
    the classes of a group are the least similar to each other (by the
    cosine similarity of their prototypes, the mean features), and each
    group is dealt into pieces holding about ``samples_per_class`` samples
    of each of its classes. In every piece the features are reduced by PCA
    and the path is computed; pieces are independent and run in parallel
    (``n_jobs``).

    Disagreement with a linear model is not label noise: classes that
    overlap disagree with any model even when every label is right. The
    noise rate is therefore calibrated where the features leave no doubt
    about the class: among the samples whose nearest neighbours
    (``n_neighbors``) are the most unanimous, the rate at which the sample's
    own label differs from its neighbours' is the chance that a label is
    wrong (read at the purest neighbourhoods by a linear fit over the purest
    half of every class). It is zero on clean labels, however much the
    classes overlap elsewhere, and follows the injected rate under symmetric
    and class-pair noise (``noise_rate_``).

    The ``round(noise_rate_ * n_samples)`` samples to flag are then chosen
    by two views of a wrong label. The linear structure: the later-entering
    half of every class (the published fixed rule) only seeds a
    least-squares fit of the labels on the features, refitted on the samples
    whose label it agrees with; a label is suspect by how far its fitted
    score trails the best label's (``margins_``). The local structure: the
    fraction of the sample's neighbours that carry another label
    (``neighbour_disagreement_``). The samples are ordered by the sum of
    their ranks in the two (``score_samples`` is its negative), and only
    samples whose label is not the fit's best can be flagged. With more
    than ten classes the neighbours of a sample are looked for among the
    samples of its own label and of the nine labels the fit scores highest
    for it.

    Parameters
    ----------
    contamination : 'auto' or float in (0, 1), default='auto'
        ``'auto'``: flag as many samples as the estimated noise rate says
        (above). A float flags that fraction of the samples, earliest entries
        first.
    samples_per_class : int, default=10
        Samples of each class per piece (the piece size).
    group_size : int, default=10
        Classes per group (per subproblem).
    n_components : 'auto' or int, default='auto'
        PCA dimension of each piece (``'auto'``: the number of classes of
        the piece).
    n_neighbors : int, default=15
        Neighbours of each sample in the noise-rate estimate and in
        ``neighbour_disagreement_``.
    max_anchor_samples : int, default=2000
        Neighbours are looked for in a pool of at most
        ``max(max_anchor_samples, 10 * n_neighbors * n_classes)`` samples
        (chosen by a pseudo-random function of their features, seeded by
        ``random_state``), on which the noise rate is estimated; the cost is
        ``n_samples`` times the pool size distances (times ``10 / n_classes``
        with more than ten classes).
    kappa : float, default=10.0
        LBI damping of the shift path.
    n_jobs : int, default=None
        Parallel jobs over pieces (joblib; ``None`` means 1).
    random_state : int, RandomState instance or None, default=None
        Seeds the split into pieces (and the pool of the noise-rate
        estimate when there are more samples than it holds).
    verbose : int, default=0
        joblib verbosity (and a summary line when positive).

    Attributes
    ----------
    outliers_ : ndarray of shape (n_samples,), dtype=bool
        Samples whose label is judged wrong.
    entry_times_ : ndarray of shape (n_samples,)
        Entry time of each sample's shift in its piece, divided by the piece
        size (``np.inf``: never entered); earlier is more suspect.
    ranking_ : ndarray of shape (n_samples,)
        Sample indices from most to least suspect by entry time.
    margins_ : ndarray of shape (n_samples,)
        How far the fitted score of the sample's label trails the best
        label's score (0 when its label is the best one).
    neighbour_disagreement_ : ndarray of shape (n_samples,)
        Fraction of the sample's ``n_neighbors`` nearest neighbours (in the
        pool) whose label differs from its own.
    suggested_labels_ : ndarray of shape (n_samples,)
        The label the linear structure of the features suggests.
    coef_ : ndarray of shape (n_derived_features + 1, n_classes)
        The least-squares fit of the one-hot labels on the derived features
        (row 0: the intercept) that ``margins_`` and ``suggested_labels_``
        come from.
    scale_ : float
        Residual standard deviation of one fitted score on the clean samples.
    noise_rate_ : float
        Estimated fraction of wrong labels (whatever ``contamination`` is).
    pieces_ : ndarray of shape (n_samples,)
        Piece of every sample.
    n_pieces_ : int
        Number of pieces.
    class_groups_ : list of ndarray
        Classes (as labels) of each group.
    classes_ : ndarray
        Class labels.
    n_features_in_ : int
        Number of features of ``X`` seen during fit (absent when fitted on
        ``pred_probs`` alone).

    See Also
    --------
    sparsestat.robust.MeanShiftOutlierDetector : The mean-shift model for
        regression targets.
    sparsestat.CleanSetSelector : A clean subset with a controlled fraction
        of wrong labels.
    sparsestat.CleanLabelClassifier : Train a classifier on the labels
        judged clean.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_blobs
    >>> from sparsestat.robust import NoisyLabelDetector
    >>> from sparsestat.datasets import make_noisy_labels
    >>> X, y = make_blobs(600, n_features=10, centers=4, random_state=0)
    >>> y_noisy, noisy = make_noisy_labels(y, 0.1, random_state=0)
    >>> det = NoisyLabelDetector(random_state=0).fit(X, y_noisy)
    >>> bool(np.mean(noisy[det.outliers_]) > 0.9), bool(abs(det.noise_rate_ - 0.1) < 0.05)
    (True, True)
    >>> NoisyLabelDetector(random_state=0).fit(X, y).noise_rate_
    0.0

    From a classifier's out-of-fold probabilities instead of features:

    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_predict
    >>> proba = cross_val_predict(LogisticRegression(), X, y_noisy, cv=5,
    ...                           method="predict_proba")
    >>> labels = NoisyLabelDetector(random_state=0).fit_predict(None, y_noisy, pred_probs=proba)
    >>> bool(np.mean(noisy[labels == -1]) > 0.9)
    True
    """

    _parameter_constraints: dict = {
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="neither")],
        "samples_per_class": [Interval(Integral, 2, None, closed="left")],
        "group_size": [Interval(Integral, 2, None, closed="left")],
        "n_components": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "max_anchor_samples": [Interval(Integral, 2, None, closed="left")],
        "kappa": [Interval(Real, 0, None, closed="neither")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, contamination="auto", *, samples_per_class=10, group_size=10,
                 n_components="auto", n_neighbors=15, max_anchor_samples=2000, kappa=10.0,
                 n_jobs=None, random_state=None, verbose=0):
        self.contamination = contamination
        self.samples_per_class = samples_per_class
        self.group_size = group_size
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.max_anchor_samples = max_anchor_samples
        self.kappa = kappa
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.target_tags.required = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, pred_probs=None):
        """Rank the samples by the entry time of their label shift and flag the wrong labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or None
            Features (e.g. penultimate-layer embeddings); finite, not all
            constant, with at least as many distinct rows as classes.
            ``None`` with ``pred_probs``: the probabilities alone. A dask
            array (rows in chunks) is fitted out of core, see
            ``docs/parallel.md`` (the fitted attributes are NumPy arrays).
        y : array-like of shape (n_samples,)
            Class labels, possibly wrong; every class needs two samples (a
            NumPy or dask array with a dask ``X``).
        pred_probs : array-like of shape (n_samples, n_classes), default=None
            Out-of-sample class probabilities from any classifier (e.g.
            ``cross_val_predict(..., method="predict_proba")``), one column
            per class in the order of ``np.unique(y)``; rows sum to 1.

        Returns
        -------
        self : NoisyLabelDetector
        """
        if _dask.is_dask_collection(X) or _dask.is_dask_collection(y):
            # out of core: chunk passes for the features, the fit and the neighbours
            return _dask_labels.fit_noisy_labels_dask(self, X, y, pred_probs)
        X, y = self._check_inputs(X, y, pred_probs)
        codes, K = self._classes(y)
        Z = self._fit_features(X, pred_probs, K)
        rows = anchor_subsample(Z, self._pool_size(K), self.random_state)
        self._pool = Pool.of(Z[rows], codes[rows], K)
        if K <= N_CANDIDATE_LABELS and effective_n_jobs(self.n_jobs) > 1:
            # every label is searched, so the neighbours do not wait for the linear fit:
            # they run alongside the pieces and the fit, and the workers never idle
            # while the fit's serial passes run
            with one_thread("blas"), ThreadPoolExecutor(1) as background:
                search = background.submit(neighbour_votes, Z, codes, self._pool,
                                           self.n_neighbors, n_jobs=self.n_jobs,
                                           limit_threads=False)
                entry, pieces, groups = self._entry_times(Z, codes, K, limit_threads=False)
                fit = fit_labels(Z, codes, K, self._seed(entry, codes, K),
                                 n_candidates=N_CANDIDATE_LABELS)
                votes = search.result()
        else:
            entry, pieces, groups = self._entry_times(Z, codes, K)
            fit = fit_labels(Z, codes, K, self._seed(entry, codes, K),
                             n_candidates=N_CANDIDATE_LABELS)
            votes = neighbour_votes(Z, codes, self._pool, self.n_neighbors,
                                    candidates=fit.candidates, n_jobs=self.n_jobs)
        return self._conclude(codes, entry, fit, votes, rows, len(pieces), groups)

    def _classes(self, y):
        """``classes_`` set from the labels ``y``; returns their codes and the number of classes."""
        self.classes_, codes = np.unique(y, return_inverse=True)
        K = self.classes_.size
        counts = np.bincount(codes, minlength=K)
        if K < 2:
            raise ValueError(
                f"y holds one class ({self.classes_[0].item()!r}): NoisyLabelDetector needs "
                "at least two classes, a label can only be wrong against another class.")
        if counts.min() < 2:
            lonely = self.classes_[counts < 2].tolist()
            raise ValueError(
                f"Classes {lonely} have a single sample: a label cannot be checked against "
                "the rest of its class. Drop those samples or merge those classes.")
        return codes, K

    @staticmethod
    def _seed(entry, codes, K):
        """The later-entering half of every class (the published fixed rule)."""
        seed = np.zeros(entry.size, dtype=bool)
        for k in range(K):
            idx = np.flatnonzero(codes == k)
            seed[idx[np.lexsort((idx, -entry[idx]))][: max(1, idx.size // 2)]] = True
        return seed

    def _pool_size(self, K):
        return max(self.max_anchor_samples, POOL_PER_CLASS_NEIGHBOUR * self.n_neighbors * K)

    def _conclude(self, codes, entry, fit, votes, rows, n_pieces, groups):
        """Noise rate, flags and the fitted attributes from the entry times, the linear fit and
        the neighbour votes (``rows``: the pool's samples)."""
        n = codes.size
        K = self.classes_.size
        self.noise_rate_ = anchor_noise_rate(Votes(*(v[rows] for v in votes)), codes[rows], K)
        disagreement = 1.0 - votes.own
        margin = fit.margin
        self._sorted_margins = np.sort(margin)
        self._sorted_disagreement = np.sort(disagreement)
        if self.contamination == "auto":
            # the two views of a wrong label, the linear fit and the neighbours, ranked
            # together; only a label that is not the fit's best can be flagged
            suspicion = -self._normality(margin, disagreement)
            outliers = flag_largest(suspicion, margin > 0, int(round(self.noise_rate_ * n)))
        else:
            outliers = np.zeros(n, dtype=bool)
            outliers[np.lexsort((-margin, entry))[: int(np.ceil(self.contamination * n))]] = True
        self.outliers_ = outliers
        self.entry_times_ = entry
        self.ranking_ = np.lexsort((-margin, entry))
        self.margins_ = margin
        self.neighbour_disagreement_ = disagreement
        self.suggested_labels_ = self.classes_[fit.suggested]
        self.coef_ = fit.coef
        self.scale_ = fit.sigma
        self.n_pieces_ = n_pieces
        self.class_groups_ = [self.classes_[g] for g in groups]
        if self.verbose:
            print(f"NoisyLabelDetector: {n_pieces} pieces in {len(groups)} class group(s); "
                  f"estimated noise rate {self.noise_rate_:.3f}")
        return self

    def fit_predict(self, X, y, pred_probs=None):
        """Fit and return ``-1`` for the samples whose label is judged wrong, ``+1`` otherwise.

        Parameters
        ----------
        X, y, pred_probs :
            As in :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            ``-1`` where ``outliers_``, ``+1`` elsewhere (scikit-learn's
            outlier convention).
        """
        return np.where(self.fit(X, y, pred_probs).outliers_, -1, 1)

    def score_samples(self, X, y, pred_probs=None):
        """How well each label agrees with the fitted structure: higher is more normal.

        The negative mean of the two ranks the flags are drawn from, as
        fractions of the training samples: the rank of the label's
        margin under the fitted linear scores (``coef_``) and the rank of its
        neighbours' disagreement (neighbours in the fit's pool), each among
        the training values. On the training samples this is the fit's own
        ordering: with ``contamination='auto'``, ``outliers_`` are the
        ``round(noise_rate_ * n_samples)`` lowest-scoring samples among
        those whose label is not the best-scoring one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or None
            Features, as in :meth:`fit` (``None`` when fitted on
            ``pred_probs`` alone).
        y : array-like of shape (n_samples,)
            Labels to score; each one of ``classes_``.
        pred_probs : array-like of shape (n_samples, n_classes), default=None
            Class probabilities, when the fit used them.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            In ``[-1, 0)``; higher means the label agrees better with the
            features.
        """
        check_is_fitted(self)
        X, y = self._check_inputs(X, y, pred_probs, reset=False)
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            raise ValueError(
                f"y holds labels the detector was not fitted on ({np.unique(y[unknown])[:5].tolist()}); "
                f"the classes are {self.classes_.tolist()}.")
        codes = np.searchsorted(self.classes_, y)
        Z = self._transform_features(X, pred_probs)
        K = self.classes_.size
        m = N_CANDIDATE_LABELS if N_CANDIDATE_LABELS < K else None
        suggested, best, own, _, candidates = score_labels(Z, self.coef_, codes, m)
        votes = neighbour_votes(Z, codes, self._pool, self.n_neighbors, candidates=candidates,
                                n_jobs=self.n_jobs)
        return self._normality(best - own, 1.0 - votes.own)

    def _normality(self, margin, disagreement):
        n = self._sorted_margins.size
        ranks = (midranks(self._sorted_margins, margin)
                 + midranks(self._sorted_disagreement, disagreement))
        return -ranks / (2.0 * n)

    def _check_inputs(self, X, y, pred_probs, reset=True):
        """``X`` (when given) and ``y`` validated; ``_inputs`` records which inputs the fit used."""
        inputs = (X is not None, pred_probs is not None)
        if not any(inputs):
            raise ValueError("Pass features X, out-of-sample probabilities pred_probs, or both.")
        if not reset and inputs != self._inputs:
            used = " and ".join(name for name, on in zip(("X", "pred_probs"), self._inputs) if on)
            raise ValueError(f"The detector was fitted on {used}: pass the same inputs.")
        if X is not None:
            if reset:
                X, y = validate_data(self, X, y, dtype=np.float64)
            else:
                X = validate_data(self, X, dtype=np.float64, reset=False)
                y = column_or_1d(y)
                check_consistent_length(X, y)
        else:
            if reset:
                for attr in ("n_features_in_", "feature_names_in_"):
                    self.__dict__.pop(attr, None)
            y = column_or_1d(check_array(y, ensure_2d=False, dtype=None, input_name="y"),
                             warn=True)
        if pred_probs is not None and np.shape(pred_probs)[0] != y.shape[0]:
            raise ValueError(
                f"pred_probs has {np.shape(pred_probs)[0]} rows for {y.shape[0]} samples: pass "
                "one row of class probabilities per sample.")
        if reset:
            check_classification_targets(y)
            self._inputs = inputs
        return X, y

    def _fit_features(self, X, pred_probs, K):
        """The derived features of the training samples (checked); keeps what transforms new ones."""
        n = X.shape[0] if X is not None else np.shape(pred_probs)[0]
        blocks = []
        self._varying = None
        if X is not None:
            self._varying = varying_columns(X, "NoisyLabelDetector")
            blocks.append(normalize_rows(X[:, self._varying]))
        if pred_probs is not None:
            blocks.append(probability_features(check_pred_probs(pred_probs, n, K)))
        Z = blocks[0] if len(blocks) == 1 else np.hstack(blocks)
        check_rows(Z, K, "NoisyLabelDetector", source="X" if X is not None else "pred_probs",
                   warn_duplicates=pred_probs is None)
        return Z

    def _transform_features(self, X, pred_probs):
        """The derived features of new samples, as the fit derived them."""
        blocks = []
        if X is not None:
            blocks.append(normalize_rows(X[:, self._varying]))
        if pred_probs is not None:
            n = X.shape[0] if X is not None else np.shape(pred_probs)[0]
            blocks.append(probability_features(
                check_pred_probs(pred_probs, n, self.classes_.size)))
        return blocks[0] if len(blocks) == 1 else np.hstack(blocks)

    def _entry_times(self, Xn, codes, K, limit_threads=True):
        """Entry times of every sample's label shift, piece by piece (``pieces_`` is set).

        ``limit_threads=False``: the caller has limited BLAS to one thread (thread
        limits are process-wide, so they are set by one thread only)."""
        limit = one_thread if limit_threads else nullcontext
        n = Xn.shape[0]
        protos = normalize_rows(class_means(Xn, codes, K))
        groups = class_groups(protos, self.group_size)
        pieces = make_pieces(Xn, codes, groups, self.samples_per_class, self.random_state)
        # the workers of the active joblib backend (a dask cluster's threads, inside
        # parallel_config(backend="dask")), four tasks each for balance
        workers = effective_n_jobs(self.n_jobs)
        n_chunks = max(1, min(len(pieces), 4 * workers if workers > 1 else 1))
        chunks = [pieces[i::n_chunks] for i in range(n_chunks)]
        if n_chunks == 1:
            with limit():   # tiny dense problems: BLAS threads only contend
                results = [_solve_pieces(Xn, codes, pieces, self.n_components, self.kappa,
                                         50.0)]
        else:
            # each task receives only the rows of its own pieces
            tasks = []
            for chunk in chunks:
                rows = np.concatenate(chunk)
                bounds = np.cumsum([0] + [idx.size for idx in chunk])
                local = [np.arange(bounds[j], bounds[j + 1]) for j in range(len(chunk))]
                tasks.append((Xn[rows], codes[rows], local))
            # the compiled pieces release the GIL: threads, unless the active backend
            # (e.g. a dask cluster) says otherwise; tiny dense problems, one BLAS thread
            with limit():
                results = Parallel(n_jobs=self.n_jobs, verbose=self.verbose,
                                   prefer="threads")(
                    delayed(_solve_pieces)(*task, self.n_components, self.kappa, 50.0)
                    for task in tasks)
        entry = np.full(n, np.inf)
        piece_of = np.empty(n, dtype=np.int64)
        for c, chunk in enumerate(chunks):
            for j, idx in enumerate(chunk):
                entry[idx] = results[c][j]
                piece_of[idx] = c + j * n_chunks
        self.pieces_ = piece_of
        return entry, pieces, groups
