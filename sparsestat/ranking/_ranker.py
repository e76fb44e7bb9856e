"""RobustPairwiseRanker: HodgeRank with a sparse outlier term on the comparisons.

Model: ``y = C theta + gamma + eps`` with ``C`` the incidence matrix of the
comparison graph and weights ``W`` (vote counts). Eliminating ``theta`` leaves
a sparse regression of ``gamma`` in the cycle space of the graph::

    L(gamma) = (1 / 2m) || (I - C L^+ C^T W)(y - gamma) ||_W^2,   L = C^T W C

whose gradient ``-W r(gamma) / m`` is the weighted residual of the
least-squares HodgeRank fit to ``y - gamma`` -- one sparse Laplacian solve per
iteration. The gamma path is computed by the engine's LBI driver; comparisons
that enter early disagree with every consistent ranking.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike
from scipy.special import expit
from scipy.stats import norm
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from sparsestat import _engine
from sparsestat._csv import rows_phrase
from sparsestat.path import SparseRegularizationPath
from sparsestat.ranking._attack import DIRECTIONS, posterior_fdr_set, targeted_attack
from sparsestat.ranking._graph import components, cycle_gradient, sparse_divergence
from sparsestat.ranking._scores import BradleyTerry, ScoreFitter, fit_proba_scale
from sparsestat.ranking._selection import (VOTE_FDR, excess_upsets, feature_resistance,
                                           margin_outliers, pair_resistance,
                                           residual_variance, symmetric_scale)

# weight given to flagged comparisons in the refit when dropping them would split the graph
_BRIDGE_WEIGHT = 1e-6
# fewest LBI steps from t0 to t_ratio * t0
_MIN_STEPS = 256
# the recorded gamma path holds at most this many nonzeros (16 bytes each: 128 MiB); a longer
# record keeps every other record time (entry times stay exact)
_PATH_NNZ_BUDGET = 2 ** 23
# relative residual of the warm-started CG solves along the path
_PATH_CG_TOL = 1e-6
# residuals below this fraction of the largest outcome are rounding errors
_TINY = 1e-10


def _rows(idx) -> str:
    """Rows of ``X`` named by their indices, counted from 0 as NumPy does."""
    return rows_phrase(idx, first=0)


def _is_missing(v) -> bool:
    """None, a float NaN, or a string that is empty or only blanks."""
    if v is None:
        return True
    if isinstance(v, float | np.floating):
        return v != v
    if isinstance(v, str | np.str_ | bytes):
        return not v.strip()
    return False


def _missing_rows(a) -> np.ndarray:
    """Rows of a label array (one label per row, or two) holding a missing label."""
    a = np.asarray(a)
    flat = a.reshape(a.shape[0], -1) if a.ndim else a.reshape(1, 1)
    if a.dtype.kind == "f":
        return np.flatnonzero(np.isnan(flat).any(axis=1))
    if a.dtype.kind in "USO":
        bad = np.frompyfunc(_is_missing, 1, 1)(flat).astype(bool)
        return np.flatnonzero(bad.any(axis=1))
    return np.zeros(0, dtype=np.int64)


def _encode_pairs(X, name="X"):
    """Check an (m, 2) array of item labels; return it as an ndarray."""
    X = np.asarray(X)
    if X.dtype.kind == "f" and not np.all(np.isfinite(X)):
        bad = np.flatnonzero(~np.isfinite(X).reshape(X.shape[0], -1).all(axis=1))
        raise ValueError(f"{name} contains NaN or inf item labels ({_rows(bad)}); item "
                         "labels must be ints or strings: fix or drop those comparisons.")
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(
            f"{name} must have shape (n_comparisons, 2): column 0 holds the first item of each "
            f"comparison, column 1 the second; got an array of shape {X.shape}."
        )
    missing = _missing_rows(X)
    if missing.size:
        raise ValueError(f"{name} has {missing.size} comparison(s) with a missing item label "
                         f"(None, NaN or an empty string) at {_rows(missing)}; every "
                         "comparison needs two named items: fill them in or drop those rows.")
    return X


def _signed_votes(y: np.ndarray) -> np.ndarray:
    """Votes of the logistic link as ``+1 / -1``: ``1 / 0`` outcomes are recoded (0 -> -1)."""
    if np.all((y == 0.0) | (y == 1.0)):
        return 2.0 * y - 1.0
    if not np.all(np.abs(y) == 1.0):
        raise ValueError("link='logistic' needs +1 / -1 outcomes (or 1 / 0: 1 when the first "
                         "item is preferred, 0 when the second is); use link='linear' for "
                         "real-valued margins.")
    return y


class RobustPairwiseRanker(BaseEstimator):
    """Rank items from pairwise comparisons and flag the comparisons that are outliers.

    HodgeRank (weighted least squares on the comparison graph) with a sparse
    outlier term ``gamma`` on every comparison: ``y = C theta + gamma + eps``.
    The path of ``gamma`` along the inverse-scale-space time is computed by the
    Linearized Bregman Iteration on the cycle-space projection of the data
    (applied with sparse Laplacian solves); comparisons that enter early are
    the ones no consistent ranking explains -- votes of malicious or careless
    annotators, mistakes, ambiguous pairs. Scores are then refit by weighted
    least squares without the flagged comparisons and centred.

    Parameters
    ----------
    contamination : 'auto' or float in (0, 0.5]
        ``'auto'``: for margins, flag the comparisons whose standardized refit
        residual is significant at the false-discovery rate ``fdr`` over all
        comparisons (and at least ``threshold``); for ``+1 / -1`` outcomes, the votes that
        are upsets beyond what the refit model explains, at a model-estimated
        false-discovery rate of 10%, and the attack votes that ``manipulation``
        finds; with ``annotators``, the annotators whose residual energy is too
        large (see ``fit``), or most of whose votes are attack votes. The flagged set is always
        taken in path order and refit until it is stable. A float: flag that
        fraction of comparisons (of annotators), earliest path entries first.
    threshold : float, default=3.0
        The least cut-off on a comparison's z-score under ``contamination='auto'``
        (margins): its refit residual studentized by its own leverage (in the fit) or
        prediction variance (left out), over ``sigma``, the normalized median absolute
        studentized residual of the clean comparisons. Leverages come from the effective
        resistance between the two items, estimated in O(m) and calibrated so that they
        add up to ``n_items - n_components``. With ``annotators``: the least cut-off on an
        annotator's z-score (see ``fit``).
    fdr : float in (0, 1], default=0.1
        False-discovery rate of the ``contamination='auto'`` rule for margins: the
        Benjamini--Hochberg step-up rule on the comparisons' two-sided Gaussian p-values
        ``2 Phi(-|z|)``, never below ``threshold``. On data without outliers nothing is
        flagged with probability about ``1 - fdr`` whatever the number of comparisons
        (the cut-off grows like ``sqrt(2 log m)``); with many outliers each needs less
        evidence. ``fdr=1`` turns the multiplicity control off (every ``|z| >=
        threshold`` is flagged: about 0.27% of clean comparisons at 3). ``+1 / -1``
        votes and annotators use their own rules (see ``contamination``).
    kappa : float, default=10.0
        LBI damping; larger is closer to the exact inverse scale space path and
        costs proportionally more iterations.
    n_times : int, default=100
        Record times of the path. The record holds the nonzero ``gamma`` only, at most
        2**23 of them (128 MiB); a longer record keeps every other record time, as
        often as needed (at a million comparisons about one in eight). Entry times
        and the flags do not depend on the record.
    t_ratio : float, default=100.0
        The path runs from ``t0`` to ``t_ratio * t0``.
    max_iter : int or None, default=None
        LBI iteration budget (default: enough to reach the path's end).
    solver : {'auto', 'factorize', 'cg'}, default='auto'
        Laplacian solves: sparse LU factorization (``'auto'`` up to 3000 items)
        or warm-started conjugate gradients (O(m + n) memory).
    on_disconnected : {'raise', 'per_component'}, default='raise'
        A disconnected comparison graph has no common scale: raise an error, or
        rank within each connected component (scores centred per component).
    link : {'linear', 'logistic'}, default='linear'
        ``'linear'``: least squares (HodgeRank), for margins or ``+1 / -1``
        outcomes. ``'logistic'``: the Bradley--Terry model
        ``P(y_k = +1) = 1 / (1 + exp(-(theta_i - theta_j + gamma_k)))`` for
        ``+1 / -1`` outcomes, or ``1 / 0`` ones (``0``: the second item was
        preferred; the fit is the same in both codings), with a small ridge on
        ``theta`` so that an item that never lost keeps a finite score; scores
        are log-odds. Each path
        step then takes one Newton step on ``theta`` (a Laplacian solve with the
        weights ``w p (1 - p)``). Not available with ``item_features``.
    manipulation : {'promote', 'demote', 'both'} or None, default='promote'
        Targeted manipulation that ``contamination='auto'`` looks for in ``+1 / -1``
        votes: attackers who make a few items win (``'promote'``) or lose
        (``'demote'``) whatever the opponent. Items whose comparisons show such an
        attack rate (profile likelihood-ratio tests, Benjamini-Hochberg at 5% over the
        items: family-wise 5% when no item is attacked) get one in
        a contaminated Bradley--Terry model fitted by EM; votes whose posterior
        probability of being attack votes is high are flagged (model-estimated false
        discovery rate 10%) and every vote is refit with the weight of its posterior
        probability of being honest. ``'both'`` tests both directions, but cannot tell
        a weak item pushed up from a strong item pushed down when the attack votes
        outnumber the honest ones. None: no such test.

    Attributes
    ----------
    items_ : ndarray of shape (n_items,)
        Sorted distinct item labels; scores and features follow this order.
    pairs_ : ndarray of shape (n_comparisons, 2)
        The fitted comparisons as indices into ``items_`` (``items_[pairs_]`` gives
        the labels), in the order of the rows of ``X``.
    outcomes_ : ndarray of shape (n_comparisons,)
        The fitted outcomes (votes as +1 / -1, margins as given).
    scores_ : ndarray of shape (n_items,)
        Item scores (higher = preferred), centred (per component).
    ranking_ : ndarray of shape (n_items,)
        Item labels, best first.
    outliers_ : ndarray of shape (n_comparisons,) of bool
        Flagged comparisons.
    gamma_ : ndarray of shape (n_comparisons,)
        Outlier magnitudes, 0 for clean comparisons: the refit residual of flagged
        comparisons (``link='linear'``), or their ``gamma`` at the end of the path
        (``link='logistic'``).
    entry_times_ : ndarray of shape (n_comparisons,)
        Time each comparison's ``gamma`` enters the path (``np.inf``: never).
    regularization_path_ : SparseRegularizationPath
        The ``gamma`` path, stored sparsely: ``coefs`` is a ``scipy.sparse`` matrix of
        shape (n_times, n_comparisons) holding the nonzero ``gamma`` of each record
        time; ``coef_at(t)`` and ``coefs_of(indices)`` give dense arrays.
    n_components_ : int
        Connected components of the comparison graph.
    annotators_ : ndarray
        Only with ``annotators``: distinct annotator ids.
    annotator_outliers_ : ndarray
        Only with ``annotators``: flagged annotator ids.
    component_ : ndarray of shape (n_items,)
        Component index of every item.
    coef_ : ndarray of shape (n_features,)
        Only with ``item_features``: scores are ``item_features @ coef_ + intercept_``.
    intercept_ : float
        Only with ``item_features``.
    manipulated_items_ : ndarray
        Items that the ``manipulation`` test gives an attack rate (empty if none, or if
        the test does not apply).
    proba_scale_ : float
        Slope ``a`` of ``P(first preferred) = 1 / (1 + exp(-a * score difference))``,
        fitted on the clean comparisons (1 for ``link='logistic'``).
    n_features_in_ : int
        Always 2 (the two items of a comparison).

    See Also
    --------
    sparsestat.datasets.make_pairwise_comparisons : synthetic crowdsourced comparisons.

    Notes
    -----
    Least squares on ``+1 / -1`` outcomes (HodgeRank) estimates the expected
    outcome of each pair; for real-valued margins it is the usual Gaussian
    model. The residual after the fit lies in the cycle space of the graph:
    ``C^T W r = 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from sparsestat import RobustPairwiseRanker
    >>> pairs = np.array([["a", "b"], ["b", "c"], ["a", "c"], ["c", "d"], ["b", "d"],
    ...                   ["a", "d"], ["d", "a"]])
    >>> y = np.array([1.0, 1.0, 2.0, 1.0, 2.0, 3.0, 3.0])  # the last vote is backwards
    >>> ranker = RobustPairwiseRanker(contamination=1 / 7).fit(pairs, y)
    >>> ranker.ranking_.tolist()
    ['a', 'b', 'c', 'd']
    >>> np.flatnonzero(ranker.outliers_).tolist()
    [6]
    >>> np.round(ranker.scores_, 6).tolist()
    [1.5, 0.5, -0.5, -1.5]
    """

    _parameter_constraints: dict = {
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "threshold": [Interval(Real, 0, None, closed="neither")],
        "fdr": [Interval(Real, 0, 1, closed="right")],
        "kappa": [Interval(Real, 0, None, closed="neither")],
        "n_times": [Interval(Integral, 2, None, closed="left")],
        "t_ratio": [Interval(Real, 1, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "solver": [StrOptions({"auto", "factorize", "cg"})],
        "on_disconnected": [StrOptions({"raise", "per_component"})],
        "link": [StrOptions({"linear", "logistic"})],
        "manipulation": [StrOptions(set(DIRECTIONS)), None],
    }

    def __init__(self, contamination="auto", *, threshold=3.0, fdr=0.1, kappa=10.0,
                 n_times=100, t_ratio=100.0, max_iter=None, solver="auto",
                 on_disconnected="raise", link="linear", manipulation="promote"):
        self.contamination = contamination
        self.threshold = threshold
        self.fdr = fdr
        self.kappa = kappa
        self.n_times = n_times
        self.t_ratio = t_ratio
        self.max_iter = max_iter
        self.solver = solver
        self.on_disconnected = on_disconnected
        self.link = link
        self.manipulation = manipulation

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.allow_nan = False
        tags.target_tags.required = False
        return tags

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: ArrayLike | None = None,
            sample_weight: ArrayLike | None = None, item_features: ArrayLike | None = None,
            annotators: ArrayLike | None = None) -> RobustPairwiseRanker:
        """Fit scores and flag outlier comparisons.

        Parameters
        ----------
        X : array-like of shape (n_comparisons, 2)
            Item labels (ints or strings): row ``k`` compares ``X[k, 0]`` with ``X[k, 1]``.
        y : array-like of shape (n_comparisons,), default=None
            Outcome: ``+1`` first preferred, ``-1`` second preferred, or a real-valued
            margin (first minus second). With ``link='logistic'`` also ``1 / 0`` (``0``:
            second preferred). None: the first item always won.
        sample_weight : array-like of shape (n_comparisons,), default=None
            Nonnegative weights, e.g. vote counts of repeated comparisons.
        item_features : array-like of shape (n_items, n_features), default=None
            Features of the items, rows in the order of ``np.unique(X)``; scores become
            ``item_features @ coef_`` and unseen items can be scored with :meth:`score_items`.
        annotators : array-like of shape (n_comparisons,), default=None
            Who made each comparison. Given, the outlier term is grouped by annotator (a
            group-sparse path: an annotator enters with all of their comparisons, the group
            scaled by the square root of its size), and whole annotators are flagged;
            a float ``contamination`` is then the fraction of annotators. With
            ``contamination='auto'`` an annotator is flagged when the residual energy of their
            comparisons exceeds its expectation by more than
            ``max(threshold, z_{1 - 0.05 / n_annotators})`` standard errors (skewness-corrected).

        Returns
        -------
        self : RobustPairwiseRanker
        """
        X = validate_data(self, X, dtype=None, ensure_all_finite=False, reset=True)
        X = _encode_pairs(X)
        m = X.shape[0]
        try:
            items, inverse = np.unique(X.ravel(), return_inverse=True)
        except TypeError:
            raise ValueError("X mixes item labels of types that cannot be sorted together "
                             "(e.g. ints and strings); use one type for all labels.") from None
        inverse = inverse.reshape(m, 2).astype(np.int64)
        left, right = inverse[:, 0].copy(), inverse[:, 1].copy()
        n = items.shape[0]
        same = np.flatnonzero(left == right)
        if same.size:
            raise ValueError(
                f"X contains {same.size} self-comparison(s) (an item compared with itself) "
                f"at {_rows(same)} (first: item {items[[left[same[0]]]].tolist()[0]!r}); "
                "remove them."
            )
        yv = self._check_outcomes(y, m)
        w = self._check_weights(sample_weight, m)
        Phi = self._check_features(item_features, n)
        groups = self._check_annotators(annotators, m)
        if self.link == "logistic":
            if Phi is not None:
                raise ValueError("item_features is supported with link='linear' only.")
            yv = _signed_votes(yv)

        n_comp, labels = components(left, right, w, n)
        if Phi is None and n_comp > 1 and self.on_disconnected == "raise":
            if m < n - 1:
                raise ValueError(
                    f"{m} comparisons cannot connect {n} items (a connected comparison graph "
                    f"needs at least n_items - 1 = {n - 1}); collect more comparisons, or pass "
                    "on_disconnected='per_component' to rank within connected groups."
                )
            sizes = np.bincount(labels)
            raise ValueError(
                f"The comparison graph is disconnected: it has {n_comp} connected components "
                f"(the largest holds {sizes.max()} of {n} items), so scores of items in "
                "different components are not comparable. Add comparisons that link them, or "
                "pass on_disconnected='per_component' to rank within each component."
            )
        self.items_ = items
        self.pairs_ = np.column_stack([left, right])
        self.outcomes_ = yv
        self.n_components_ = n_comp
        self.component_ = labels

        fitter = None if self.link == "logistic" else ScoreFitter(left, right, w, n, Phi,
                                                                  self.solver)
        n_params = n - n_comp if fitter is None else fitter.n_params
        self._check_redundancy(w, n_params, n, n_comp, Phi is not None)
        if self.link == "logistic":
            path, r_y = self._logistic_path(yv, w, left, right, n, m, groups)
        else:
            r_y = fitter.residual(yv)
            if fitter.solver is not None:
                # the path's solves need less accuracy than the start and the refit (CG
                # only), and start from zero: the fit to y is in the data's units
                fitter.solver.tol = _PATH_CG_TOL
                fitter.solver.reset()
            scale = symmetric_scale(np.sqrt(w) * r_y)
            if scale <= 0:
                scale = float(np.sqrt(np.mean(w * r_y ** 2)))
            if scale <= _TINY * float(np.max(np.abs(yv))):
                path = self._empty_path(m)
            else:
                path = self._gamma_path(fitter, r_y / scale, w, m, scale, groups)
        self.regularization_path_ = path
        self.entry_times_ = path.entry_times

        w_fit = w
        refit = None
        self.manipulated_items_ = items[:0]
        tests_attack = (self.contamination == "auto" and self.manipulation is not None
                        and bool(np.all(np.abs(yv) == 1.0)))
        if groups is None:
            order = np.lexsort((-np.abs(w * r_y), path.entry_times))
            flagged = self._select(order, yv, w, left, right, n, Phi, n_comp, n_params)
            if tests_attack:
                attack, refit = self._attack_votes(yv, w, flagged, left, right, n, Phi, n_comp)
                if np.any(attack.posterior):
                    flagged = flagged | posterior_fdr_set(attack.posterior, VOTE_FDR)
                    w_fit = w * (1.0 - attack.posterior)
                    refit = None
        else:
            labels_g, gid = groups
            G = labels_g.shape[0]
            energy = np.bincount(gid, weights=w * r_y ** 2, minlength=G)
            entry_g = np.full(G, np.inf)
            np.minimum.at(entry_g, gid, path.entry_times)
            order = np.lexsort((-energy, entry_g))
            bad_groups = self._select_groups(order, gid, G, yv, w, left, right, n, Phi, n_comp)
            flagged = np.isin(gid, bad_groups)
            if tests_attack:
                attack, _ = self._attack_votes(yv, w, flagged, left, right, n, Phi, n_comp)
                # annotators most of whose votes the model attributes to the attack
                active = (w > 0).astype(float)
                share = (np.bincount(gid, weights=attack.posterior * active, minlength=G)
                         / np.maximum(np.bincount(gid, weights=active, minlength=G), 1.0))
                bad_groups = np.union1d(bad_groups, np.flatnonzero(share > 0.5))
                flagged = np.isin(gid, bad_groups)
                w_fit = w * (1.0 - attack.posterior)
            self.annotators_ = labels_g
            self.annotator_outliers_ = labels_g[bad_groups]
        self.outliers_ = flagged
        if refit is None:
            refit = self._refit(yv, w, flagged, left, right, n, Phi, n_comp, soft=w_fit)
        theta, beta = refit
        self.scores_ = theta
        if Phi is not None:
            self.coef_ = beta
            self.intercept_ = float(theta.mean() - (Phi @ beta).mean()) if n else 0.0
        self.ranking_ = items[np.argsort(-theta, kind="stable")]
        if self.link == "logistic":
            end = path.coef_at(np.inf)
            self.gamma_ = np.where(flagged, end, 0.0)
            self.proba_scale_ = 1.0
        else:
            resid = yv - (theta[left] - theta[right])
            self.gamma_ = np.where(flagged, resid, 0.0)
            self.proba_scale_ = fit_proba_scale(theta[left] - theta[right], yv,
                                                 np.where(flagged, 0.0, w_fit))
        return self

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _check_redundancy(w, n_params, n, n_comp, features):
        """Outliers can only be told apart when some comparison closes a cycle."""
        m_eff = int(np.count_nonzero(w > 0))
        if m_eff > n_params:
            return
        what = ("item_features give" if features else
                f"the scores of {n} items in {n_comp} connected component(s) have")
        raise ValueError(
            f"{m_eff} comparisons (of positive weight) are too few to find outliers: {what} "
            f"{n_params} free parameters, so every ranking fits the comparisons exactly (they "
            "form a spanning tree) and none can be checked against the others. Add "
            f"comparisons that close cycles (more than {n_params} in all)."
        )

    @staticmethod
    def _check_outcomes(y, m):
        if y is None:
            return np.ones(m)
        try:
            yv = np.asarray(y, dtype=float)
        except (TypeError, ValueError):
            raise ValueError("y must hold numbers: +1 / -1 outcomes or real-valued margins.") \
                from None
        if yv.ndim == 2 and yv.shape[1] == 1:
            yv = yv.ravel()
        if yv.shape != (m,):
            raise ValueError(f"y must have one outcome per comparison: expected shape ({m},), "
                             f"got {yv.shape}.")
        bad = np.flatnonzero(~np.isfinite(yv))
        if bad.size:
            raise ValueError(f"y contains {bad.size} NaN or inf outcome(s) at {_rows(bad)}; "
                             "drop or fix those comparisons.")
        return yv

    @staticmethod
    def _check_weights(sample_weight, m):
        if sample_weight is None:
            return np.ones(m)
        w = np.asarray(sample_weight, dtype=float)
        if w.shape != (m,):
            raise ValueError(f"sample_weight must have one weight per comparison: expected shape "
                             f"({m},), got {w.shape}.")
        bad = np.flatnonzero(~np.isfinite(w))
        if bad.size:
            raise ValueError(f"sample_weight contains NaN or inf at {_rows(bad)}; weights "
                             "must be finite.")
        neg = np.flatnonzero(w < 0)
        if neg.size:
            raise ValueError(f"sample_weight has {neg.size} negative weight(s) at {_rows(neg)} "
                             f"(first {w[neg[0]]:g}); weights (vote counts) must be >= 0.")
        if not np.any(w > 0):
            raise ValueError("sample_weight is zero for every comparison; nothing to fit.")
        return w / w.mean()

    @staticmethod
    def _check_annotators(annotators, m):
        if annotators is None:
            return None
        a = np.asarray(annotators)
        if a.ndim != 1 or a.shape[0] != m:
            raise ValueError(f"annotators must give one annotator per comparison: expected "
                             f"shape ({m},), got {a.shape}.")
        missing = _missing_rows(a)
        if a.dtype.kind == "f":
            missing = np.union1d(missing, np.flatnonzero(~np.isfinite(a)))
        if missing.size:
            raise ValueError(
                f"annotators has {missing.size} missing id(s) (None, NaN, inf or an empty "
                f"string) at {_rows(missing)}; every comparison needs an annotator id. Fill "
                "them in (a distinct id per anonymous comparison makes it its own annotator), "
                "drop those comparisons, or fit without annotators."
            )
        try:
            labels, gid = np.unique(a, return_inverse=True)
        except TypeError:
            raise ValueError("annotators mixes id types that cannot be sorted together; use "
                             "one type.") from None
        return labels, gid.astype(np.int64).ravel()

    @staticmethod
    def _check_features(item_features, n):
        if item_features is None:
            return None
        Phi = np.asarray(item_features, dtype=float)
        if Phi.ndim != 2 or Phi.shape[0] != n:
            raise ValueError(f"item_features must have one row per distinct item ({n} items, "
                             f"in the order of np.unique(X)); got shape {Phi.shape}.")
        if not np.all(np.isfinite(Phi)):
            raise ValueError("item_features contains NaN or inf.")
        return Phi

    # ------------------------------------------------------------------ path
    def _empty_path(self, m):
        """The path of data that every ranking fits exactly: gamma stays zero (t0 = inf)."""
        path = _engine.empty_path(
            _engine.time_grid(1.0, self.n_times, self.t_ratio), m, 1, np.zeros(1),
            info={"solver": "lbi_operator"}, sparse=True, stacklevel=5,
            why="every ranking of the items fits the comparisons exactly (no comparison "
                "contradicts the others), so no comparison is an outlier.")
        path.entry_times = path.entry_times[:, 0]
        path.squeeze = True
        return path

    @staticmethod
    def _in_data_units(path, unscale, coef_scale=1.0, time_scale=1.0):
        """The engine's sparse path of the scaled variable, as ``gamma`` in the data's units:
        coefficients times ``coef_scale * unscale`` (per comparison), times over ``time_scale``."""
        coefs = path.coefs @ sp.diags(coef_scale * unscale)
        return SparseRegularizationPath(
            times=path.times / time_scale, coefs=sp.csr_matrix(coefs),
            intercepts=np.zeros((path.times.shape[0], 1)),
            entry_times=path.entry_times[:, 0] / time_scale, interpolation="linear",
            t0=path.t0 / time_scale, n_iter=path.n_iter, info=path.info)

    def _gamma_path(self, fitter, r_s, w, m, scale, groups=None):
        """LBI path of gamma for the standardized data (residual ``r_s`` of the plain fit).

        With annotator groups the variable is ``u_g = sqrt(|g|) gamma_g`` under a plain
        group penalty, i.e. a group lasso on gamma weighted by the square root of group sizes.
        """
        if groups is None:
            unscale = np.ones(m)
            penalty, gid = "l1", None
            g0 = w * r_s
            norm0 = float(np.max(np.abs(g0)))
        else:
            gid = groups[1]
            unscale = 1.0 / np.sqrt(np.bincount(gid).astype(float))[gid]
            penalty = "group"
            g0 = w * r_s * unscale
            norm0 = float(np.sqrt(np.max(np.bincount(gid, weights=g0 ** 2))))
        t0 = m / norm0
        # the Hessian D P^T W P D / m is bounded by D W D / m (P is a W-orthogonal projection)
        alpha = m / (self.kappa * float(np.max(w * unscale ** 2)))
        # at least _MIN_STEPS steps along the path, so that entries are resolved in time
        alpha = min(alpha, t0 * (self.t_ratio - 1.0) / _MIN_STEPS)

        left, right = fitter.left, fitter.right
        gam = np.empty(m)
        out = np.empty((m, 1))
        n_nodes = fitter.n
        zero_theta = np.zeros(n_nodes)

        def gradient(B):
            b, nnz = sparse_divergence(B[:, 0], unscale, w, left, right, n_nodes, gam)
            theta = fitter.potential(b) if nnz else zero_theta
            cycle_gradient(r_s, gam, theta, w, unscale, left, right, 1.0 / m, out[:, 0])
            return out

        grid = _engine.time_grid(t0, self.n_times, self.t_ratio)
        path = _engine.lbi_path_operator(gradient, (g0 / norm0)[:, None], t0, kappa=self.kappa,
                                         alpha=alpha, times=grid, penalty=penalty, groups=gid,
                                         max_iter=self.max_iter, sparse=True,
                                         max_nnz=_PATH_NNZ_BUDGET,
                                         info={"scale": scale, "solver_graph": fitter.method})
        # back to the data's scale: gamma * s, time / s
        return self._in_data_units(path, unscale, scale, scale)

    def _logistic_path(self, y, w, left, right, n, m, groups):
        """LBI path of gamma for the Bradley-Terry loss, theta profiled by Newton steps.

        Returns the path and the starting residual ``t - p`` (for tie-breaking the order).
        """
        t = 0.5 * (y + 1.0)
        bt = BradleyTerry(left, right, w, n, t, self.solver)
        theta = bt.fit(np.zeros(m))
        r0 = t - expit(theta[left] - theta[right])
        if groups is None:
            unscale, penalty, gid = np.ones(m), "l1", None
            norm0 = float(np.max(np.abs(w * r0)))
        else:
            gid = groups[1]
            unscale = 1.0 / np.sqrt(np.bincount(gid).astype(float))[gid]
            penalty = "group"
            norm0 = float(np.sqrt(np.max(np.bincount(gid, weights=(w * r0 * unscale) ** 2))))
        if norm0 <= 1e-12:
            return self._empty_path(m), r0
        t0 = m / norm0
        # the logistic curvature is at most 1/4: alpha = 4 m / (kappa max w u^2)
        alpha = 4.0 * m / (self.kappa * float(np.max(w * unscale ** 2)))
        alpha = min(alpha, t0 * (self.t_ratio - 1.0) / _MIN_STEPS)
        state = {"theta": theta}
        out = np.empty((m, 1))

        def gradient(B):
            gam = B[:, 0] * unscale
            th = bt.newton_step(state["theta"], gam)
            state["theta"] = th
            p = expit(th[left] - th[right] + gam)
            out[:, 0] = (w * (p - t) * unscale) / m
            return out

        z0 = (w * r0 * unscale / norm0)[:, None]
        grid = _engine.time_grid(t0, self.n_times, self.t_ratio)
        path = _engine.lbi_path_operator(gradient, z0, t0, kappa=self.kappa, alpha=alpha,
                                         times=grid, penalty=penalty, groups=gid,
                                         max_iter=self.max_iter, sparse=True,
                                         max_nnz=_PATH_NNZ_BUDGET,
                                         info={"link": "logistic", "scale": 1.0})
        return self._in_data_units(path, unscale), r0

    # ------------------------------------------------------------------ selection
    def _select(self, order, y, w, left, right, n, Phi, n_comp, n_params):
        """Flagged comparisons: the first ones in path order, their number set by a test.

        The count is refit and recounted until it is stable (or cycles): ``+1 / -1`` votes by
        :func:`excess_upsets`, margins by :func:`margin_outliers` on the refit residuals.
        """
        m = y.shape[0]
        order = order[w[order] > 0]
        if self.contamination != "auto":
            k = min(int(round(self.contamination * m)), order.shape[0])
            flagged = np.zeros(m, dtype=bool)
            flagged[order[:k]] = True
            return flagged
        k, seen = 0, set()
        for _ in range(50):
            flagged = np.zeros(m, dtype=bool)
            flagged[order[:k]] = True
            k_new = self._count(y, w, flagged, left, right, n, Phi, n_comp, n_params)
            if k_new == k or k_new in seen:
                k = k_new
                break
            seen.add(k)
            k = k_new
        flagged = np.zeros(m, dtype=bool)
        flagged[order[:k]] = True
        return flagged

    def _count(self, y, w, flagged, left, right, n, Phi, n_comp, n_params):
        """How many comparisons the refit without ``flagged`` says are outliers."""
        wc = self._fit_weights(w, flagged, left, right, n, Phi, n_comp)
        theta, _ = self._refit(y, w, flagged, left, right, n, Phi, n_comp, wc=wc)
        d = theta[left] - theta[right]
        active = w > 0
        clean = (~flagged) & active
        if np.all(np.abs(y) == 1.0):
            if self.link == "logistic":
                p = expit(d)
            else:
                p = expit(fit_proba_scale(d, y, np.where(clean, w, 0.0)) * d)
            return excess_upsets(p, y, w)
        q = (pair_resistance(left, right, wc, n, n_params) if Phi is None
             else feature_resistance(Phi, left, right, wc))
        var = residual_variance(w, wc, q)
        tiny = _TINY * float(np.max(np.sqrt(w) * np.abs(y)))
        return margin_outliers((y - d)[active], var[active], clean[active], self.threshold,
                               self.fdr, tiny)

    def _select_groups(self, order, gid, G, y, w, left, right, n, Phi, n_comp):
        """Flagged annotators: the first ones in path order, their number set by a z-test.

        An annotator's residual energy ``sum w r^2`` over their ``p`` comparisons is compared
        with ``p`` times the mean energy of a clean comparison, in units of its standard
        error ``sqrt(p * var)`` (moments of the clean comparisons' ``w r^2``). The cut-off
        is ``max(threshold, z_{1 - 0.05 / G})`` corrected for the skewness of the energies.
        """
        if self.contamination != "auto":
            k = min(int(round(self.contamination * G)), G)
            return np.sort(order[:k])
        sizes = np.bincount(gid, weights=(w > 0).astype(float), minlength=G)
        # one-sided, family-wise 5% over the G annotators, and never below threshold
        cut0 = max(float(self.threshold), float(norm.isf(0.05 / G)))
        k, seen = 0, set()
        for _ in range(50):
            bad = np.isin(gid, order[:k])
            theta, _ = self._refit(y, w, bad, left, right, n, Phi, n_comp)
            d = theta[left] - theta[right]
            if self.link == "logistic":
                e = 2.0 * w * np.logaddexp(0.0, -y * d)  # deviance
            else:
                e = w * (y - d) ** 2
            clean = (~bad) & (w > 0)
            if not clean.any():
                break
            mu, var = float(e[clean].mean()), float(e[clean].var())
            if var <= 1e-20 * max(mu * mu, 1e-300):
                k_new = 0
            else:
                energy = np.bincount(gid, weights=e, minlength=G)
                p = np.maximum(sizes, 1.0)
                z = (energy - p * mu) / np.sqrt(p * var)
                # Cornish-Fisher: the sum of p skewed terms has skewness skew / sqrt(p)
                skew = float(np.mean((e[clean] - mu) ** 3)) / var ** 1.5
                cut = cut0 + (cut0 ** 2 - 1.0) * skew / (6.0 * np.sqrt(p))
                k_new = int(np.count_nonzero(z > cut))
            if k_new == k or k_new in seen:
                k = k_new
                break
            seen.add(k)
            k = k_new
        return np.sort(order[:k])

    def _attack_votes(self, y, w, flagged, left, right, n, Phi, n_comp):
        """The contaminated Bradley-Terry model on the votes not flagged yet (``_attack``).

        Returns the model's fit and the refit without ``flagged`` (its starting point).
        """
        refit = self._refit(y, w, flagged, left, right, n, Phi, n_comp)
        theta = refit[0]
        wc = np.where(flagged, 0.0, w)
        if self.link == "linear":  # least-squares scores to the log-odds scale
            d = theta[left] - theta[right]
            theta = fit_proba_scale(d, y, wc) * theta
        attack = targeted_attack(left, right, y, wc, n, theta, direction=self.manipulation,
                                 solver=self.solver)
        hit = (attack.promote > 0) | (attack.demote > 0)
        self.manipulated_items_ = self.items_[hit]
        return attack, refit

    @staticmethod
    def _fit_weights(w, flagged, left, right, n, Phi, n_comp, soft=None):
        """Weights of the refit: 0 for the flagged comparisons (``soft`` or ``w`` for the rest),
        or a tiny weight if dropping them would split the graph."""
        kept = w if soft is None else soft
        wc = np.where(flagged, 0.0, kept)
        if flagged.any() and Phi is None:
            n_clean, _ = components(left, right, wc, n)
            if n_clean > n_comp:
                # dropping them would split the graph: keep them with a tiny weight
                wc = np.where(flagged, _BRIDGE_WEIGHT * w, kept)
        return wc

    def _refit(self, y, w, flagged, left, right, n, Phi, n_comp, soft=None, wc=None):
        """Weighted least-squares (or Bradley-Terry) scores without the flagged comparisons.

        ``soft``: weights of the comparisons that are kept (default ``w``); ``wc``: the
        refit's weights (:meth:`_fit_weights`) when they are already known.
        """
        if wc is None:
            wc = self._fit_weights(w, flagged, left, right, n, Phi, n_comp, soft)
        if self.link == "logistic":
            bt = BradleyTerry(left, right, wc, n, 0.5 * (y + 1.0), self.solver)
            return bt.fit(np.zeros(y.shape[0])), None
        fitter = ScoreFitter(left, right, wc, n, Phi, self.solver)
        theta = fitter.fit(y)
        return theta, fitter.beta

    # ------------------------------------------------------------------ predict
    def _pair_indices(self, pairs):
        check_is_fitted(self, "scores_")
        pairs = _encode_pairs(pairs, "pairs")
        flat = pairs.ravel()
        try:
            pos = np.searchsorted(self.items_, flat)
        except TypeError:
            raise ValueError("pairs hold labels of another type than the fitted items.") from None
        pos = np.clip(pos, 0, self.items_.shape[0] - 1)
        unknown = self.items_[pos] != flat
        if np.any(unknown):
            names = list(dict.fromkeys(flat[unknown].tolist()))
            shown = ", ".join(map(repr, names[:5])) + (" ..." if len(names) > 5 else "")
            raise ValueError(f"pairs contain {len(names)} item(s) not seen during fit: {shown}. "
                             "Only fitted items (items_) can be compared; with item_features "
                             "use score_items for new items.")
        return pos.reshape(-1, 2)

    def decision_function(self, pairs: ArrayLike) -> np.ndarray:
        """Score difference ``score(first) - score(second)`` of each pair.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2)
            Item labels seen during fit.

        Returns
        -------
        ndarray of shape (n_pairs,)
        """
        idx = self._pair_indices(pairs)
        return self.scores_[idx[:, 0]] - self.scores_[idx[:, 1]]

    def predict(self, pairs: ArrayLike) -> np.ndarray:
        """``+1`` where the first item is preferred, ``-1`` otherwise (ties: ``+1``)."""
        return np.where(self.decision_function(pairs) >= 0, 1, -1)

    def predict_proba(self, pairs: ArrayLike) -> np.ndarray:
        """Probabilities ``[P(second preferred), P(first preferred)]`` of each pair.

        A logistic link on the score difference with the slope ``proba_scale_``.
        """
        d = self.decision_function(pairs)
        p1 = 0.5 * (1.0 + np.tanh(0.5 * self.proba_scale_ * d))
        return np.column_stack([1.0 - p1, p1])

    def score(self, pairs: ArrayLike, y: ArrayLike | None = None,
              sample_weight: ArrayLike | None = None) -> float:
        """Weighted fraction of comparisons whose winner the scores predict.

        ``y`` as in :meth:`fit`; comparisons with ``y == 0`` (ties) are ignored,
        except with ``link='logistic'``, where ``1 / 0`` outcomes are votes as in
        :meth:`fit`.
        """
        pred = self.predict(pairs)
        yv = self._check_outcomes(y, pred.shape[0])
        if self.link == "logistic":
            yv = _signed_votes(yv)
        w = np.ones_like(yv) if sample_weight is None else np.asarray(sample_weight, float)
        w = np.where(yv != 0, w, 0.0)
        if w.sum() == 0:
            raise ValueError("score needs at least one comparison with a nonzero outcome.")
        return float(np.sum(w * (pred == np.sign(yv))) / w.sum())

    def to_frame(self):
        """The items with their scores and ranks, best first, as a pandas data frame.

        Returns
        -------
        frame : pandas.DataFrame
            Columns ``'item'`` (the labels), ``'score'`` (``scores_``), ``'rank'`` (1 for
            the best item: the position in ``ranking_``) and ``'component'`` (connected
            component of the comparison graph; scores are comparable within one), one
            row per item, in the order of ``ranking_`` (index ``0 .. n_items - 1``).

        Examples
        --------
        >>> import numpy as np
        >>> from sparsestat import RobustPairwiseRanker
        >>> pairs = np.array([["a", "b"], ["b", "c"], ["a", "c"], ["c", "d"], ["b", "d"],
        ...                   ["a", "d"], ["d", "a"]])
        >>> y = np.array([1.0, 1.0, 2.0, 1.0, 2.0, 3.0, 3.0])
        >>> frame = RobustPairwiseRanker(contamination=1 / 7).fit(pairs, y).to_frame()
        >>> frame["item"].tolist(), frame["rank"].tolist()
        (['a', 'b', 'c', 'd'], [1, 2, 3, 4])
        >>> frame["score"].round(6).tolist()
        [1.5, 0.5, -0.5, -1.5]
        >>> int(frame.set_index("item").loc["c", "rank"])
        3
        """
        import pandas as pd  # a dependency of statsmodels, so always installed

        check_is_fitted(self, "scores_")
        order = np.argsort(-self.scores_, kind="stable")
        return pd.DataFrame({"item": self.items_[order], "score": self.scores_[order],
                             "rank": np.arange(1, order.size + 1),
                             "component": self.component_[order]})

    def score_items(self, item_features: ArrayLike) -> np.ndarray:
        """Scores of (possibly unseen) items from their features.

        Parameters
        ----------
        item_features : array-like of shape (n, n_features)

        Returns
        -------
        ndarray of shape (n,)
        """
        check_is_fitted(self, "scores_")
        if not hasattr(self, "coef_"):
            raise ValueError("score_items needs a ranker fitted with item_features; this one "
                             "scores the fitted items only (see scores_).")
        F = np.asarray(item_features, dtype=float)
        if F.ndim != 2 or F.shape[1] != self.coef_.shape[0]:
            raise ValueError(f"item_features must have shape (n, {self.coef_.shape[0]}); got "
                             f"{F.shape}.")
        if not np.all(np.isfinite(F)):
            raise ValueError("item_features contains NaN or inf.")
        return F @ self.coef_ + self.intercept_
