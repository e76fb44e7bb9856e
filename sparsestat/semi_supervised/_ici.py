"""Instance credibility inference (ICI) for transductive few-shot learning.

A classifier trained on the few labeled samples pseudo-labels the unlabeled
pool; the pseudo-labels are then checked by the same multi-output mean-shift
model as the noisy-label detector (one-hot labels on the low-dimensional
embedding of all samples in play, group penalty on the rows of the shift):
an instance whose shift enters the path late agrees with the linear
structure and is credible. The most credible instances of every class join
the labeled set and the classifier is refitted; see ``docs/noisy_labels.md``.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from sparsestat._threads import one_thread
from sparsestat.robust._noisy_labels import check_features, reduce_features, shift_entry_times
from sparsestat.semi_supervised._graph import median_sq_distance, propagate_labels, rbf_graph

#: Default rbf width: ``gamma = _GAMMA_SCALE / median squared distance`` of the normalized samples.
_GAMMA_SCALE = 32.0


def _embed(Xn, method, n_components, random_state):
    """Low-dimensional embedding of the samples in play (PCA, LLE or none)."""
    if method is None:
        return Xn - Xn.mean(axis=0)
    if method == "pca":
        return reduce_features(Xn, n_components)
    from sklearn.manifold import LocallyLinearEmbedding

    d = int(min(n_components, Xn.shape[1], Xn.shape[0] - 2))
    k = int(min(max(d + 2, 10), Xn.shape[0] - 1))
    return LocallyLinearEmbedding(n_neighbors=k, n_components=d, eigen_solver="dense",
                                  random_state=random_state).fit_transform(Xn)


def _check_pool(Xn, unlabeled):
    """Warn when the unlabeled samples cannot be told apart."""
    pool = Xn[unlabeled]
    if pool.shape[0] > 1 and np.unique(np.round(pool, 12), axis=0).shape[0] == 1:
        warnings.warn(
            f"All {pool.shape[0]} unlabeled samples have the same feature vector (after L2 "
            "normalization): they cannot be told apart and all receive one pseudo-label.",
            UserWarning, stacklevel=3)


class ICIFewShot(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Self-training that keeps only credible pseudo-labels (instance credibility inference).

    Follows scikit-learn's semi-supervised convention: ``fit(X, y)`` with
    ``y = -1`` for unlabeled samples. Each round

    1. fits ``estimator`` on the labeled set (the given labels plus the
       pseudo-labels accepted so far) and pseudo-labels the remaining pool
       by its class probabilities times, with ``propagation='rbf'``, the
       class distribution that label spreading over a nearest-neighbour
       rbf graph of all samples carries from the labeled set (a
       transductive prior: it uses the manifold of the pool, which the
       classifier alone does not);
    2. embeds the L2-normalized features of the labeled set and the pool to
       ``n_components`` dimensions (``embedding``) and follows the row-group
       path of the shift ``G`` in ``onehot(labels) = [1, Z] B + G + E``
       with the shared mean-shift engine; a pool instance whose shift enters
       late (or never) is credible;
    3. moves the ``step`` most credible pool instances of every pseudo-class
       into the labeled set.

    It stops when the pool is used up, after ``max_iter`` rounds, or by the
    stopping rule: with ``stop='auto'`` a pseudo-class stops receiving
    instances once its most credible candidate enters the path before every
    given (truly labeled) sample of that class: its pseudo-label is then less
    credible than any label it could be checked against. The final ``estimator`` is fitted
    on the labeled set.

    Parameters
    ----------
    estimator : classifier, default=None
        Must implement ``fit`` and ``predict_proba`` (``None``:
        ``LogisticRegression(C=10, max_iter=1000)``).
    embedding : {'pca', 'lle'} or None, default='pca'
        Embedding of the features for the credibility regression.
    n_components : int, default=5
        Embedding dimension (capped by the number of samples in play).
    step : int, default=5
        Pool instances accepted per class and round. A class with fewer
        candidates left takes all of them.
    max_iter : int, default=None
        Most rounds (``None``: until the pool is used or the rule stops).
    stop : {'exhaust', 'auto'}, default='exhaust'
        ``'exhaust'`` accepts the whole pool (the published rule, best when
        the pool holds only the support's classes, as in transductive
        few-shot episodes); ``'auto'`` adds the credibility stopping rule
        above, a conservative choice for pools that may hold other classes.
    kappa : float, default=10.0
        LBI damping of the shift path.
    propagation : {'rbf'} or None, default='rbf'
        Label-spreading prior on the pseudo-labels (``None``: the
        classifier's probabilities alone, the published method).
    gamma : float, default=None
        Width of the rbf kernel ``exp(-gamma ||x_i - x_j||^2)`` on the
        L2-normalized features (``None``: 32 over the median squared
        distance between samples, a sharp kernel whose weight is
        concentrated on the nearest neighbours).
    alpha : float, default=0.2
        Spreading weight in ``(0, 1)``: the distribution is
        ``(I - alpha S)^-1 Y`` normalized by rows, ``S`` the symmetrically
        normalized graph, ``Y`` the one-hot labels of the labeled set.
    n_neighbors : int, default=20
        The graph links each sample to its nearest neighbours only.
    random_state : int, RandomState instance or None, default=None
        Passed to the LLE embedding, and draws the subsample for the median
        distance when more than 2000 samples are fitted (below that the fit
        does not depend on it).

    Attributes
    ----------
    transduction_ : ndarray of shape (n_samples,)
        Label of every training sample: the given label, or the final
        classifier's prediction for unlabeled ones.
    gamma_ : float or None
        The rbf width used (``None`` without propagation).
    credibility_ : ndarray of shape (n_samples,)
        1 for labeled samples; for unlabeled ones ``1 - r / n_unlabeled``
        with ``r`` the position at which it was accepted (0 if never).
    selection_order_ : ndarray
        Indices of the accepted unlabeled samples, in order of acceptance.
    labeled_mask_ : ndarray of shape (n_samples,), dtype=bool
        Samples in the final labeled set (given or accepted).
    n_iter_ : int
        Classifier fits: the rounds of pseudo-labeling run, plus one.
    estimator_ : classifier
        The final classifier.
    classes_ : ndarray
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    sklearn.semi_supervised.SelfTrainingClassifier : Self-training by confidence.
    sparsestat.robust.NoisyLabelDetector : The same model for wrong labels.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_blobs
    >>> from sparsestat.semi_supervised import ICIFewShot
    >>> X, y = make_blobs(60, n_features=8, centers=3, random_state=0)
    >>> y_train = np.full(60, -1)
    >>> support = np.concatenate([np.flatnonzero(y == k)[:2] for k in range(3)])
    >>> y_train[support] = y[support]
    >>> ici = ICIFewShot(step=3).fit(X, y_train)
    >>> float(np.mean(ici.transduction_ == y))
    1.0
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "embedding": [StrOptions({"pca", "lle"}), None],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "step": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "stop": [StrOptions({"exhaust", "auto"})],
        "kappa": [Interval(Real, 0, None, closed="neither")],
        "propagation": [StrOptions({"rbf"}), None],
        "gamma": [Interval(Real, 0, None, closed="neither"), None],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, embedding="pca", n_components=5, step=5,
                 max_iter=None, stop="exhaust", kappa=10.0, propagation="rbf", gamma=None,
                 alpha=0.2, n_neighbors=20, random_state=None):
        self.estimator = estimator
        self.embedding = embedding
        self.n_components = n_components
        self.step = step
        self.max_iter = max_iter
        self.stop = stop
        self.kappa = kappa
        self.propagation = propagation
        self.gamma = gamma
        self.alpha = alpha
        self.n_neighbors = n_neighbors
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags

    def _new_estimator(self):
        if self.estimator is None:
            return LogisticRegression(C=10, max_iter=1000)
        return clone(self.estimator)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Pseudo-label the unlabeled samples, keeping only credible ones.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features of the labeled and unlabeled samples (finite, not all
            constant, with at least as many distinct rows as classes).
        y : array-like of shape (n_samples,)
            Labels, ``-1`` for unlabeled samples (so ``-1`` cannot be a class).
            The classes are those of the labeled samples: an unlabeled sample
            of a class without a labeled sample receives one of them.

        Returns
        -------
        self : ICIFewShot
        """
        X, y = validate_data(self, X, y, dtype=np.float64)
        y = np.asarray(y)
        if y.dtype.kind not in "iub" and y.dtype.kind != "f":
            # string labels: scikit-learn's convention marks unlabeled samples with -1
            unlabeled = np.array([str(v) == "-1" for v in y])
        else:
            unlabeled = y == -1
        if unlabeled.all():
            raise ValueError(
                "All samples are unlabeled (y == -1): ICIFewShot needs at least one labeled "
                "sample of every class to start from.")
        labels = y[~unlabeled]
        check_classification_targets(labels)
        self.classes_ = np.unique(labels)
        if self.classes_.size < 2:
            raise ValueError(
                f"The labeled samples hold one class ({self.classes_[0].item()!r}); label "
                "samples of at least two classes.")
        n = X.shape[0]
        codes = np.full(n, -1)
        codes[~unlabeled] = np.searchsorted(self.classes_, labels)
        K = self.classes_.size
        Xn, _ = check_features(X, K, "ICIFewShot")
        _check_pool(Xn, unlabeled)
        labeled = ~unlabeled
        order: list[int] = []
        active = np.ones(K, dtype=bool)
        rounds = 0
        budget = np.inf if self.max_iter is None else self.max_iter
        with one_thread():   # a small sparse graph: threads only add overhead
            graph = self._graph(Xn)
        est = self._new_estimator().fit(X[labeled], codes[labeled])
        while rounds < budget:
            pool = np.flatnonzero(~labeled)
            if pool.size == 0 or not active.any():
                break
            rounds += 1
            proba = est.predict_proba(X[pool])
            if graph is not None:
                spread = propagate_labels(graph, np.where(labeled, codes, -1), K, self.alpha)
                proba = proba * spread[pool][:, est.classes_]
            pseudo = est.classes_[np.argmax(proba, axis=1)]
            in_play = np.concatenate([np.flatnonzero(labeled), pool])
            work = codes.copy()
            work[pool] = pseudo
            present, local = np.unique(work[in_play], return_inverse=True)
            if present.size < 2:
                chosen = pool[np.isin(pseudo, np.flatnonzero(active))]
                chosen = chosen[: self.step]
            else:
                with one_thread():   # small dense problems
                    Z = _embed(Xn[in_play], self.embedding, self.n_components,
                               self.random_state)
                    entry = shift_entry_times(Z, local, present.size, kappa=self.kappa)
                chosen = self._select(entry, in_play, pool, work, ~unlabeled, active)
            if chosen.size == 0:
                break
            codes[chosen] = work[chosen]
            labeled[chosen] = True
            order.extend(chosen.tolist())
            est = self._new_estimator().fit(X[labeled], codes[labeled])
        self.n_iter_ = rounds + 1
        self.estimator_ = est
        self.selection_order_ = np.asarray(order, dtype=np.int64)
        self.labeled_mask_ = labeled
        n_unl = max(int(unlabeled.sum()), 1)
        cred = np.where(unlabeled, 0.0, 1.0)
        cred[self.selection_order_] = 1.0 - np.arange(len(order)) / n_unl
        self.credibility_ = cred
        trans = y.copy()
        if unlabeled.any():
            trans[unlabeled] = self.classes_[est.predict(X[unlabeled])]
        self.transduction_ = trans
        return self

    def _graph(self, Xn):
        """Normalized rbf graph of all samples for the spreading prior (or None)."""
        if self.propagation is None or Xn.shape[0] < 2:
            self.gamma_ = None
            return None
        gamma = self.gamma
        if gamma is None:
            med = median_sq_distance(Xn, check_random_state(self.random_state))
            gamma = _GAMMA_SCALE / med if med > 0 else 1.0
        self.gamma_ = float(gamma)
        return rbf_graph(Xn, gamma=self.gamma_, n_neighbors=self.n_neighbors)

    def _select(self, entry, in_play, pool, work, given, active):
        """The ``step`` most credible pool instances of each active pseudo-class."""
        pos = {int(i): j for j, i in enumerate(in_play)}
        chosen = []
        for k in np.flatnonzero(active):
            cand = pool[work[pool] == k]
            if cand.size == 0:
                continue
            t = np.array([entry[pos[int(i)]] for i in cand])
            ranked = cand[np.lexsort((cand, -t))]
            take = ranked[: self.step]
            if self.stop == "auto":
                mates = np.flatnonzero(given[in_play] & (work[in_play] == k))
                ref = np.min(entry[mates]) if mates.size else np.inf
                keep = np.array([entry[pos[int(i)]] >= ref for i in take])
                if not keep[0]:
                    active[k] = False
                take = take[keep]
            chosen.append(take)
        return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)

    def predict(self, X):
        """Class of each sample by the final classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.classes_[self.estimator_.predict(X)]

    def predict_proba(self, X):
        """Class probabilities of the final classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        proba = np.zeros((X.shape[0], self.classes_.size))
        proba[:, self.estimator_.classes_] = self.estimator_.predict_proba(X)
        return proba
