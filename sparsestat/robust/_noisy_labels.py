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
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from sparsestat import _engine
from sparsestat._threads import one_thread
from sparsestat.robust._linalg import thin_basis


def normalize_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit Euclidean norm (all-zero rows stay zero)."""
    norms = np.sqrt(np.einsum("ij,ij->i", X, X))
    return X / np.where(norms > 0, norms, 1.0)[:, None]


def check_features(X: np.ndarray, n_classes: int, who: str) -> tuple[np.ndarray, np.ndarray]:
    """Refuse or warn about features that cannot tell the classes apart.

    Constant columns carry no information and are dropped (with a warning
    when they are nonzero, since they would distort the row normalization);
    with fewer than two varying columns (a normalized row of one feature is
    its sign), or with fewer distinct feature directions than classes, the
    labels cannot be checked and a ``ValueError`` says so.
    Duplicated rows (after L2 normalization) and a centred rank below
    ``n_classes - 1`` (too few directions to separate the classes linearly)
    are warned about. Returns the L2-normalized rows of the varying columns
    and the indices of those columns.
    """
    n, p = X.shape
    varying = np.flatnonzero(np.ptp(X, axis=0) > 0)
    if varying.size == 0:
        raise ValueError(
            f"Every feature of X is constant: {who} cannot tell any two samples apart. "
            "Pass features that vary across the samples.")
    if varying.size == 1:
        raise ValueError(
            f"Only 1 feature(s) of X vary: {who} normalizes every row to unit length, which "
            "leaves a single feature nothing but its sign. Pass at least two varying "
            "features.")
    offset = np.flatnonzero((np.ptp(X, axis=0) == 0) & (X[0] != 0))
    if offset.size:
        # an all-zero column changes nothing; a constant nonzero one shifts every row's norm
        warnings.warn(
            f"{offset.size} of the {p} features of X are constant and nonzero (columns "
            f"{offset[:5].tolist()}{'...' if offset.size > 5 else ''}): they carry no "
            f"information about the labels but would distort the row normalization; {who} "
            "ignores them.", UserWarning, stacklevel=3)
    Xn = normalize_rows(X[:, varying])
    distinct = count_distinct_rows(Xn)
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
            stacklevel=3)
    rank = centred_rank(Xn)
    if rank < n_classes - 1:
        warnings.warn(
            f"The centred, L2-normalized features span {rank} dimension(s), fewer than the "
            f"{n_classes - 1} needed to separate {n_classes} classes linearly: the labels "
            "of some classes cannot be checked against the features.", UserWarning,
            stacklevel=3)
    return Xn, varying


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


def neighbour_label_fractions(Xn: np.ndarray, codes: np.ndarray, n_labels: int,
                              n_neighbors: int, reference: np.ndarray | None = None,
                              block: int = 1024, n_jobs: int | None = None
                              ) -> tuple[np.ndarray, np.ndarray]:
    """Label distribution among each sample's nearest other samples.

    Neighbours are the ``n_neighbors`` nearest rows of ``Xn[reference]``
    (``None``: all rows) other than the sample itself, in Euclidean distance,
    together with every row tied with the last of them (so the result does
    not depend on the order of the rows). Returns the fractions
    ``(n, n_labels)`` for every row of ``Xn`` and the distance to the
    ``n_neighbors``-th neighbour. Blocks of ``block`` rows run in ``n_jobs``
    threads.
    """
    n = Xn.shape[0]
    reference = np.arange(n) if reference is None else np.asarray(reference)
    # the reference sorted by label: each label's neighbours are one block of columns
    reference = reference[np.lexsort((reference, codes[reference]))]
    bounds = np.searchsorted(codes[reference], np.arange(n_labels + 1))
    k = int(min(n_neighbors, reference.size - 1))
    slot = np.full(n, -1)
    slot[reference] = np.arange(reference.size)
    sq = np.einsum("ij,ij->i", Xn, Xn)
    counts = np.empty((n, n_labels))
    radius = np.empty(n)

    def one_block(start):
        rows = np.arange(start, min(start + block, n))
        D = Xn[rows] @ Xn[reference].T
        D *= -2.0
        D += sq[rows, None]
        D += sq[None, reference]
        np.maximum(D, 0.0, out=D)
        own = slot[rows] >= 0
        D[np.flatnonzero(own), slot[rows][own]] = np.inf
        kth = np.partition(D, k - 1, axis=1)[:, k - 1]
        near = D <= kth[:, None] + 1e-9 * (1.0 + kth[:, None])
        for c in range(n_labels):
            counts[rows, c] = np.count_nonzero(near[:, bounds[c]:bounds[c + 1]], axis=1)
        radius[rows] = np.sqrt(kth)

    starts = range(0, n, block)
    if n_jobs in (None, 1) or n <= block:
        for start in starts:
            one_block(start)
    else:
        # numpy releases the GIL in the products and the partitions: threads share the output
        Parallel(n_jobs=n_jobs, prefer="threads")(delayed(one_block)(s) for s in starts)
    return counts / counts.sum(axis=1, keepdims=True), radius


def anchor_noise_rate(frac: np.ndarray, radius: np.ndarray, codes: np.ndarray, *,
                      top: float = 0.5) -> float:
    """Fraction of wrong labels, read where the features leave no doubt about the class.

    ``frac`` and ``radius`` are the neighbours' label fractions and the
    neighbourhood radii (:func:`neighbour_label_fractions`), ``codes`` the
    samples' own labels. Every sample is assigned the majority label of its
    neighbours (samples
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
    n_labels = frac.shape[1]
    best = frac.max(axis=1)
    tied = np.sum(frac >= best[:, None] - 1e-12, axis=1) > 1
    assigned = np.argmax(frac, axis=1)
    position, wrong = [], []
    for c in range(n_labels):
        idx = np.flatnonzero((assigned == c) & ~tied)
        if idx.size < 2:
            continue
        purity_rank = rankdata(-best[idx], method="dense")
        radius_rank = rankdata(radius[idx], method="dense")
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


def anchor_subsample(Xn: np.ndarray, max_samples: int, random_state) -> np.ndarray:
    """Rows for the noise-rate estimate: all, or ``max_samples`` chosen by their features.

    The choice is a pseudo-random function of each row's features (the
    fractional part of a scaled random projection, seeded by
    ``random_state``), so it does not depend on the order of the rows.
    """
    n = Xn.shape[0]
    if n <= max_samples:
        return np.arange(n)
    g = check_random_state(random_state).standard_normal(Xn.shape[1])
    key = np.modf(np.abs(Xn @ g) * 1e4)[0]
    return np.sort(np.lexsort((np.arange(n), key))[:max_samples])


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
    rng = check_random_state(random_state)
    key = Xn @ rng.standard_normal(Xn.shape[1])
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
    with one_thread():   # tiny dense problems: BLAS threads only contend
        return [_solve_piece(Xn, codes, idx, n_components, kappa, t_ratio) for idx in pieces]


def _solve_piece(Xn, codes, idx, n_components, kappa, t_ratio):
    local, local_codes = np.unique(codes[idx], return_inverse=True)
    d = n_components if n_components != "auto" else local.size
    Z = reduce_features(Xn[idx], d)
    return shift_entry_times(Z, local_codes, local.size, kappa=kappa, t_ratio=t_ratio)


def _least_squares(A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Least squares by the normal equations (tall ``A``), with a pseudo-inverse fallback."""
    G = A.T @ A
    try:
        L = np.linalg.cholesky(G + 1e-10 * np.trace(G) / G.shape[0] * np.eye(G.shape[0]))
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(A, Y, rcond=None)[0]
    return np.linalg.solve(L.T, np.linalg.solve(L, A.T @ Y))


def suggest_labels(Xn: np.ndarray, codes: np.ndarray, n_classes: int, seed: np.ndarray,
                   n_rounds: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Labels the linear structure suggests, fitted on the samples judged clean.

    Least squares of the one-hot labels on ``[1, Xn]`` over ``seed``; the
    clean set is then the samples whose label is the suggested one, and the
    fit is repeated on it (a few rounds, or until the set is stable).
    Returns the suggested codes, the fitted scores ``(n, n_classes)`` and
    the residual standard deviation ``sigma`` of one score on the clean set.
    """
    n = Xn.shape[0]
    A = np.empty((n, Xn.shape[1] + 1))
    A[:, 0] = 1.0
    A[:, 1:] = Xn
    Y = np.zeros((n, n_classes))
    Y[np.arange(n), codes] = 1.0
    clean = seed
    for _ in range(n_rounds):
        coef = _least_squares(A[clean], Y[clean])
        scores = A @ coef
        suggested = np.argmax(scores, axis=1)
        new = suggested == codes
        if np.array_equal(new, clean) or new.sum() <= A.shape[1]:
            break
        clean = new
    resid = Y[clean] - scores[clean]
    dof = max(int(clean.sum()) - A.shape[1], 1)
    sigma = float(np.sqrt(np.sum(resid ** 2) / (dof * max(n_classes - 1, 1))))
    return suggested, scores, sigma


class NoisyLabelDetector(BaseEstimator):
    """Find mislabeled samples by scalable penalized regression (SPR).

    The one-hot labels are regressed on the features with a sparse shift per
    sample, ``Y = X B + 1 b^T + G + E``, the rows ``G_i`` under a group
    penalty. The coefficients ``B`` are removed by projecting onto the
    orthogonal complement of the features (implicitly, through a thin
    basis) and the path of ``G`` is followed by the mean-shift engine: a
    sample whose label disagrees with the linear structure of the features
    enters early (``entry_times_``).

    To scale, the data are split as published: classes are grouped so that
    the classes of a group are the least similar to each other (by the
    cosine similarity of their prototypes, the mean normalized features),
    and each group is dealt into pieces holding about ``samples_per_class``
    samples of each of its classes. In every piece the L2-normalized features
    are reduced by PCA and the path is computed; pieces are independent and
    run in parallel (``n_jobs``).

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
    their ranks in the two, and only samples whose label is not the fit's
    best can be flagged.

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
        The noise rate is estimated on at most this many samples (chosen by
        a pseudo-random function of their features, seeded by
        ``random_state``), and neighbours are looked for among them; the
        cost is ``n_samples`` times this number distances.
    kappa : float, default=10.0
        LBI damping of the shift path.
    n_jobs : int, default=None
        Parallel jobs over pieces (joblib; ``None`` means 1).
    random_state : int, RandomState instance or None, default=None
        Seeds the split into pieces (and the subsample of the noise-rate
        estimate when there are more than ``max_anchor_samples`` samples).
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
        Fraction of the sample's ``n_neighbors`` nearest neighbours (among
        the samples of the noise-rate estimate) whose label differs from its
        own.
    suggested_labels_ : ndarray of shape (n_samples,)
        The label the linear structure of the features suggests.
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
        Number of features seen during fit.

    See Also
    --------
    sparsestat.robust.MeanShiftOutlierDetector : The mean-shift model for
        regression targets.

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
    def fit(self, X, y):
        """Rank the samples by the entry time of their label shift and flag the wrong labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features (e.g. penultimate-layer embeddings); finite, not all
            constant, with at least as many distinct rows as classes.
        y : array-like of shape (n_samples,)
            Class labels, possibly wrong; every class needs two samples.

        Returns
        -------
        self : NoisyLabelDetector
        """
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
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
        n = X.shape[0]
        Xn, _ = check_features(X, K, "NoisyLabelDetector")
        entry, pieces, groups = self._entry_times(Xn, codes, K)
        rows = anchor_subsample(Xn, self.max_anchor_samples, self.random_state)
        frac, radius = neighbour_label_fractions(
            Xn, codes, K, self.n_neighbors, reference=rows if rows.size < n else None,
            n_jobs=self.n_jobs)
        self.noise_rate_ = anchor_noise_rate(frac[rows], radius[rows], codes[rows])
        disagreement = 1.0 - frac[np.arange(n), codes]
        # seed: the later-entering half of every class (the published fixed rule)
        seed = np.zeros(n, dtype=bool)
        for k in range(K):
            idx = np.flatnonzero(codes == k)
            late = idx[np.lexsort((idx, -entry[idx]))][: max(1, idx.size // 2)]
            seed[late] = True
        suggested, scores, sigma = suggest_labels(Xn, codes, K, seed)
        margin = scores[np.arange(n), suggested] - scores[np.arange(n), codes]
        if self.contamination == "auto":
            # the two views of a wrong label, the linear fit and the neighbours, ranked
            # together; only a label that is not the fit's best can be flagged
            suspicion = rankdata(margin) + rankdata(disagreement)
            outliers = flag_largest(suspicion, margin > 0, int(round(self.noise_rate_ * n)))
        else:
            outliers = np.zeros(n, dtype=bool)
            outliers[np.lexsort((-margin, entry))[: int(np.ceil(self.contamination * n))]] = True
        self.outliers_ = outliers
        self.entry_times_ = entry
        self.ranking_ = np.lexsort((-margin, entry))
        self.margins_ = margin
        self.neighbour_disagreement_ = disagreement
        self.suggested_labels_ = self.classes_[suggested]
        self.scale_ = sigma
        self.n_pieces_ = len(pieces)
        self.class_groups_ = [self.classes_[g] for g in groups]
        if self.verbose:
            print(f"NoisyLabelDetector: {len(pieces)} pieces in {len(groups)} class group(s); "
                  f"estimated noise rate {self.noise_rate_:.3f}")
        return self

    def _entry_times(self, Xn, codes, K):
        """Entry times of every sample's label shift, piece by piece (``pieces_`` is set)."""
        n = Xn.shape[0]
        protos = normalize_rows(np.stack([Xn[codes == k].mean(axis=0) for k in range(K)]))
        groups = class_groups(protos, self.group_size)
        pieces = make_pieces(Xn, codes, groups, self.samples_per_class, self.random_state)
        n_jobs = 1 if self.n_jobs is None else self.n_jobs
        n_chunks = max(1, min(len(pieces), 4 * abs(n_jobs) if n_jobs != 1 else 1))
        chunks = [pieces[i::n_chunks] for i in range(n_chunks)]
        # each task receives only the rows of its own pieces
        tasks = []
        for chunk in chunks:
            rows = np.concatenate(chunk)
            bounds = np.cumsum([0] + [idx.size for idx in chunk])
            local = [np.arange(bounds[j], bounds[j + 1]) for j in range(len(chunk))]
            tasks.append((Xn[rows], codes[rows], local))
        if n_chunks == 1:
            results = [_solve_pieces(*tasks[0], self.n_components, self.kappa, 50.0)]
        else:
            results = Parallel(n_jobs=n_jobs, verbose=self.verbose)(
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
