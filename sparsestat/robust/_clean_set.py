"""A clean subset with a controlled false selection rate: knockoffs on the mean-shift model.

The samples are split in two halves. On each half a :class:`NoisyLabelDetector`
fits the linear structure of the labels (least squares of the one-hot labels
on the features, over the samples it judges clean) and learns which labels the
wrong ones turn into. The other half's shifts are then those of the mean-shift
model with the coefficients held fixed, ``onehot(y_i) = s_i + g_i + e_i``
(``s_i`` the fitted scores): the path of ``g`` on the identity design lets
sample ``i`` enter at ``1 / ||onehot(y_i) - s_i||``. Each sample also gets a
*knockoff label*, drawn from the law a wrong label would have at its features,
and its shift's entry time; a label that enters later than its knockoff is
evidence of a clean label, and the knockoff+ filter turns the comparisons into
a selection whose expected fraction of wrong labels is at most ``fsr``.
"""

from __future__ import annotations

import warnings
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from sparsestat.feature_selection._threshold import knockoff_threshold
from sparsestat.robust._label_fit import _design
from sparsestat.robust._noisy_labels import NoisyLabelDetector


def feature_uniforms(Z: np.ndarray, rng: np.random.RandomState, n_draws: int) -> np.ndarray:
    """``(n, n_draws)`` pseudo-random numbers in [0, 1), each a function of a row's features.

    The fractional part of scaled random projections (seeded by ``rng``):
    a row gets the same numbers wherever it stands, so what they decide
    does not depend on the order of the rows.
    """
    G = rng.standard_normal((Z.shape[1], n_draws))
    return np.modf(np.abs(Z @ G) * 1e4)[0]


def split_halves(codes: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Half (0 or 1) of every sample: within each label, alternating in the order of ``u``."""
    half = np.empty(codes.size, dtype=np.int64)
    for c in np.unique(codes):
        idx = np.flatnonzero(codes == c)
        order = idx[np.lexsort((idx, u[idx]))]
        half[order] = np.arange(idx.size) % 2
    return half


def wrong_label_law(scores: np.ndarray, flips: np.ndarray) -> np.ndarray:
    """Per sample, the law of a wrong label at its features.

    ``scores`` (n, K) are fitted one-hot scores, read as class probabilities
    once clipped at zero and normalized (uniform where none is positive);
    ``flips`` (K, K) is the rate at which a true label ``a`` turns into a
    wrong label ``b``. Returns ``q_ib`` proportional to
    ``sum_a pi_ia flips_ab``, rows summing to one.
    """
    K = scores.shape[1]
    pi = np.clip(scores, 0.0, None)
    total = pi.sum(axis=1, keepdims=True)
    pi = np.where(total > 0, pi / np.where(total > 0, total, 1.0), 1.0 / K)
    q = pi @ flips
    return q / q.sum(axis=1, keepdims=True)


def flip_rates(suggested: np.ndarray, observed: np.ndarray, flagged: np.ndarray, K: int
               ) -> np.ndarray:
    """``(K, K)`` rate at which a label ``a`` turns into ``b != a``, from a detector's flags.

    Flagged samples count as a flip from their suggested to their observed
    label, over the samples suggested ``a``; one pseudo-flip per class, spread
    evenly over the other labels, keeps every wrong label possible (and makes
    the law symmetric when nothing is flagged).
    """
    C = np.zeros((K, K))
    np.add.at(C, (suggested[flagged], observed[flagged]), 1.0)
    np.fill_diagonal(C, 0.0)
    C += (1.0 - np.eye(K)) / (K - 1)
    return C / (np.bincount(suggested, minlength=K) + 1.0)[:, None]


def draw_labels(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """One label per row from the law ``q`` (rows), by the inverse CDF at ``v`` in [0, 1)."""
    cdf = np.cumsum(q, axis=1)
    return np.minimum(np.sum(cdf <= v[:, None] * cdf[:, -1:], axis=1), q.shape[1] - 1)


def shift_entry_time(scores: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Entry time of the shift of ``onehot(codes)`` against fixed ``scores``: ``1 / ||residual||``.

    The group path of the shift on the identity design (coefficients held
    fixed) lets row ``i`` enter when ``t ||onehot(c_i) - s_i|| = 1``;
    ``np.inf`` for a zero residual.
    """
    rows = np.arange(codes.size)
    sq = np.einsum("ij,ij->i", scores, scores)
    r2 = np.maximum(1.0 - 2.0 * scores[rows, codes] + sq, 0.0)
    with np.errstate(divide="ignore"):
        return 1.0 / np.sqrt(r2)


def signed_max(tau: np.ndarray, tau_knockoff: np.ndarray) -> np.ndarray:
    """``max(tau, tau~) * sign(tau - tau~)``: positive when the label enters after its knockoff."""
    big = np.maximum(tau, tau_knockoff)
    big = np.where(np.isfinite(big), big, np.finfo(float).max)
    return big * np.sign(tau - tau_knockoff)


class CleanSetSelector(BaseEstimator):
    """Select samples whose labels are clean, with a controlled false selection rate.

    Knockoffs on the mean-shift model of :class:`NoisyLabelDetector`. The
    samples are split into two halves (within every label, by a
    pseudo-random function of the features). On one half a detector fits the
    linear structure of the labels (the least squares of the one-hot labels
    on the features, ``coef_``, over the samples it judges clean) and counts
    which labels its flagged samples carry instead of the suggested ones.
    On the other half, with those coefficients held fixed, the shift of
    sample ``i`` enters the mean-shift path at
    ``tau_i = 1 / ||onehot(y_i) - s_i||`` (``s_i`` the fitted scores; a label
    the features explain enters late). Every sample also gets a knockoff
    label ``k_i`` drawn from the law of a wrong label at its features (the
    fitted scores, read as class probabilities, times the learned flip
    rates: uniform over the other labels under symmetric noise) and its
    entry time ``tau~_i``. The halves then swap roles.

    For a sample whose label is wrong, the label and its knockoff are two
    draws from the same law, so ``W_i = max(tau_i, tau~_i) sign(tau_i - tau~_i)``
    is positive or negative with equal chance; a clean label tends to enter
    after its knockoff. Selecting ``W_i >= T`` with the knockoff+ threshold
    ``T`` (the least ``t`` with ``(1 + #{W <= -t}) / #{W >= t} <= fsr``) keeps
    the expected fraction of wrong labels among the selected at most
    ``fsr``. The guarantee rests on the law of the wrong labels being the
    one estimated (exact under symmetric noise when the fit's probabilities
    are right) and on each half's fit not depending on the other half's
    labels.

    Parameters
    ----------
    fsr : float in (0, 1), default=0.1
        Target false selection rate: the expected fraction of wrong labels
        among the samples declared clean.
    detector : NoisyLabelDetector or None, default=None
        Fitted (a clone) on each half; ``None``:
        ``NoisyLabelDetector(random_state=random_state)``.
    random_state : int, RandomState instance or None, default=None
        Seeds the split and the knockoff labels.

    Attributes
    ----------
    clean_ : ndarray of shape (n_samples,), dtype=bool
        Samples declared clean.
    n_clean_ : int
        Size of the clean set.
    statistics_ : ndarray of shape (n_samples,)
        ``W_i`` (0 when the knockoff label is the sample's own).
    threshold_ : float
        The knockoff+ threshold ``T`` (``np.inf``: nothing selected).
    entry_times_ : ndarray of shape (n_samples,)
        ``tau_i``, the entry time of each label's shift against the other
        half's fit.
    knockoff_labels_ : ndarray of shape (n_samples,)
        The knockoff label of each sample.
    knockoff_entry_times_ : ndarray of shape (n_samples,)
        ``tau~_i``.
    halves_ : ndarray of shape (n_samples,)
        Half (0 or 1) of every sample.
    detectors_ : list of NoisyLabelDetector
        The detectors fitted on half 0 and half 1.
    classes_ : ndarray
        Class labels.
    n_features_in_ : int
        Number of features of ``X`` seen during fit (absent when fitted on
        ``pred_probs`` alone).

    See Also
    --------
    sparsestat.NoisyLabelDetector : Flags the wrong labels, without a
        guarantee on the clean rest.
    sparsestat.CleanLabelClassifier : Train a classifier on the clean labels.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_blobs
    >>> from sparsestat import CleanSetSelector
    >>> from sparsestat.datasets import make_noisy_labels
    >>> X, y = make_blobs(1000, n_features=10, centers=5, cluster_std=2.0, random_state=0)
    >>> y_noisy, noisy = make_noisy_labels(y, 0.3, random_state=0)
    >>> sel = CleanSetSelector(fsr=0.1, random_state=0).fit(X, y_noisy)
    >>> bool(sel.n_clean_ > 500), bool(noisy[sel.clean_].mean() <= 0.1)
    (True, True)
    """

    _parameter_constraints: dict = {
        "fsr": [Interval(Real, 0, 1, closed="neither")],
        "detector": [NoisyLabelDetector, None],
        "random_state": ["random_state"],
    }

    def __init__(self, fsr=0.1, *, detector=None, random_state=None):
        self.fsr = fsr
        self.detector = detector
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.target_tags.required = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, pred_probs=None):
        """Split, fit each half, compare every label with its knockoff and select the clean set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or None
            Features, as for :meth:`NoisyLabelDetector.fit` (``None`` with
            ``pred_probs``).
        y : array-like of shape (n_samples,)
            Class labels, possibly wrong; every class needs four samples
            (two in each half).
        pred_probs : array-like of shape (n_samples, n_classes), default=None
            Out-of-sample class probabilities, as for
            :meth:`NoisyLabelDetector.fit`.

        Returns
        -------
        self : CleanSetSelector
        """
        base = (NoisyLabelDetector(random_state=self.random_state) if self.detector is None
                else clone(self.detector))
        # the detector's own checks validate X, y and pred_probs (and refuse degenerate input)
        probe = clone(base)
        X, y = probe._check_inputs(X, y, pred_probs)
        self.classes_, codes = np.unique(y, return_inverse=True)
        K = self.classes_.size
        if K < 2:
            clone(base).fit(X, y, pred_probs)   # the detector's message for a single class
        if X is not None:
            self.n_features_in_ = probe.n_features_in_
            if hasattr(probe, "feature_names_in_"):
                self.feature_names_in_ = probe.feature_names_in_
        Z = probe._fit_features(X, pred_probs, K)
        counts = np.bincount(codes, minlength=K)
        if counts.min() < 4:
            few = self.classes_[counts < 4].tolist()
            raise ValueError(
                f"Classes {few} have fewer than 4 samples: CleanSetSelector fits each half of "
                "the data on its own and needs two samples of every class in each half. Drop "
                "those samples or merge those classes.")
        rng = check_random_state(self.random_state)
        u = feature_uniforms(Z, rng, 2)
        self.halves_ = split_halves(codes, u[:, 0])
        n = codes.size
        tau, tau_k = np.empty(n), np.empty(n)
        knock = np.empty(n, dtype=np.int64)
        self.detectors_ = []
        for h in (0, 1):
            train, test = self.halves_ == h, self.halves_ != h
            with warnings.catch_warnings():
                # the whole data's warnings were given above; a half repeats them
                warnings.simplefilter("ignore", UserWarning)
                det = clone(base).fit(_rows(X, train), y[train], _rows(pred_probs, train))
            self.detectors_.append(det)
            scores = _design(det._transform_features(_rows(X, test), _rows(pred_probs, test))
                             ) @ det.coef_
            flips = flip_rates(np.searchsorted(det.classes_, det.suggested_labels_),
                               codes[train], det.outliers_, K)
            q = wrong_label_law(scores, flips)
            knock[test] = draw_labels(q, u[test, 1])
            tau[test] = shift_entry_time(scores, codes[test])
            tau_k[test] = shift_entry_time(scores, knock[test])
        W = signed_max(tau, tau_k)
        self.threshold_ = knockoff_threshold(W, self.fsr)
        self.clean_ = W >= self.threshold_
        self.n_clean_ = int(self.clean_.sum())
        self.statistics_ = W
        self.entry_times_ = tau
        self.knockoff_entry_times_ = tau_k
        self.knockoff_labels_ = self.classes_[knock]
        if self.n_clean_ == 0:
            warnings.warn(
                f"No sample could be declared clean at fsr={self.fsr}: the knockoff+ filter "
                f"needs at least {int(np.ceil(1 / self.fsr))} labels that enter after their "
                "knockoffs before any enters before; raise fsr or pass more samples.",
                UserWarning, stacklevel=2)
        return self

    def fit_predict(self, X, y, pred_probs=None):
        """Fit and return ``+1`` for the samples declared clean, ``-1`` for the rest.

        Parameters
        ----------
        X, y, pred_probs :
            As in :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return np.where(self.fit(X, y, pred_probs).clean_, 1, -1)


def _rows(A, mask):
    return None if A is None else np.asarray(A)[mask]
