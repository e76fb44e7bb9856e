"""Train a classifier on the labels judged clean."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, _fit_context, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from sparsestat.robust._clean_set import CleanSetSelector
from sparsestat.robust._noisy_labels import NoisyLabelDetector


def _estimator_has(attr):
    """The fitted estimator's method if fitted, else the unfitted one's (for ``available_if``)."""
    def check(self):
        est = getattr(self, "estimator_", None)
        if est is None:
            est = self.estimator if self.estimator is not None else LogisticRegression()
        return hasattr(est, attr)
    return check


class CleanLabelClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A classifier trained on the labels a noisy-label detector judges clean.

    ``fit`` fits ``detector`` on the training data, drops the samples it
    flags (``action='drop'``) or gives them the labels it suggests
    (``action='relabel'``), and fits ``estimator`` on the result; prediction
    is the fitted estimator's. The detector sees the features ``X``
    (``inputs='X'``), the estimator's out-of-fold class probabilities
    (``inputs='pred_probs'``, ``cv`` folds, the way cleanlab's
    ``CleanLearning`` works), or both.

    Parameters
    ----------
    estimator : classifier or None, default=None
        The model to train (cloned); ``None``:
        ``LogisticRegression(max_iter=1000)``. With ``inputs`` other than
        ``'X'`` it needs ``predict_proba``.
    detector : NoisyLabelDetector, CleanSetSelector or None, default=None
        Cloned and fitted on the training data. A
        :class:`NoisyLabelDetector` flags ``outliers_``; with a
        :class:`CleanSetSelector` everything outside ``clean_`` is flagged
        (``action='drop'`` only). ``None``:
        ``NoisyLabelDetector(random_state=random_state)``.
    action : {'drop', 'relabel'}, default='drop'
        What happens to a flagged sample: left out of the estimator's fit,
        or given the detector's ``suggested_labels_``. A class whose samples
        would all be dropped keeps them.
    inputs : {'X', 'pred_probs', 'both'}, default='X'
        What the detector is fitted on.
    cv : int or cross-validation generator, default=5
        Folds of the out-of-fold probabilities (``inputs`` other than
        ``'X'``).
    random_state : int, RandomState instance or None, default=None
        Seeds the default detector.

    Attributes
    ----------
    estimator_ : classifier
        The estimator fitted on the cleaned training data.
    detector_ : NoisyLabelDetector or CleanSetSelector
        The fitted detector.
    label_issues_ : ndarray of shape (n_samples,), dtype=bool
        Training samples flagged (and dropped or relabelled).
    classes_ : ndarray
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    sparsestat.NoisyLabelDetector : The default detector.
    sparsestat.CleanSetSelector : Train only on a clean set with a
        controlled fraction of wrong labels.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import train_test_split
    >>> from sparsestat import CleanLabelClassifier
    >>> from sparsestat.datasets import make_noisy_labels
    >>> X, y = make_blobs(1200, n_features=10, centers=4, cluster_std=3.0, random_state=0)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> y_noisy, _ = make_noisy_labels(y_train, 0.3, noise="pair", random_state=0)
    >>> plain = LogisticRegression(max_iter=1000).fit(X_train, y_noisy)
    >>> clf = CleanLabelClassifier(random_state=0).fit(X_train, y_noisy)
    >>> round(plain.score(X_test, y_test), 2), round(clf.score(X_test, y_test), 2)
    (0.82, 1.0)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "detector": [NoisyLabelDetector, CleanSetSelector, None],
        "action": [StrOptions({"drop", "relabel"})],
        "inputs": [StrOptions({"X", "pred_probs", "both"})],
        "cv": ["cv_object"],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, detector=None, action="drop", inputs="X", cv=5,
                 random_state=None):
        self.estimator = estimator
        self.detector = detector
        self.action = action
        self.inputs = inputs
        self.cv = cv
        self.random_state = random_state

    def _new_estimator(self):
        return clone(self.estimator) if self.estimator is not None else LogisticRegression(
            max_iter=1000)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the detector, clean the labels and fit the estimator on them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features.
        y : array-like of shape (n_samples,)
            Training labels, possibly wrong.

        Returns
        -------
        self : CleanLabelClassifier
        """
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        detector = (NoisyLabelDetector(random_state=self.random_state) if self.detector is None
                    else clone(self.detector))
        if self.action == "relabel" and isinstance(detector, CleanSetSelector):
            raise ValueError(
                "action='relabel' needs the labels a detector suggests; CleanSetSelector "
                "selects a clean set and suggests none. Use action='drop', or a "
                "NoisyLabelDetector.")
        pred_probs = None
        if self.inputs != "X":
            model = self._new_estimator()
            if not hasattr(model, "predict_proba"):
                raise ValueError(
                    f"inputs={self.inputs!r} feeds the detector the estimator's out-of-fold "
                    f"probabilities, but {type(model).__name__} has no predict_proba. Use "
                    "inputs='X', or a probabilistic estimator (e.g. wrap it in "
                    "sklearn.calibration.CalibratedClassifierCV).")
            pred_probs = cross_val_predict(model, X, y, cv=self.cv, method="predict_proba")
        detector.fit(X if self.inputs != "pred_probs" else None, y, pred_probs=pred_probs)
        self.detector_ = detector
        flagged = (~detector.clean_ if isinstance(detector, CleanSetSelector)
                   else detector.outliers_.copy())
        flagged = self._keep_every_class(y, flagged)
        self.label_issues_ = flagged
        if self.action == "relabel":
            y_fit = y.copy()
            y_fit[flagged] = detector.suggested_labels_[flagged]
            self.estimator_ = self._new_estimator().fit(X, y_fit)
        else:
            self.estimator_ = self._new_estimator().fit(X[~flagged], y[~flagged])
        return self

    def _keep_every_class(self, y, flagged):
        """Unflag the samples of a class that dropping would remove entirely."""
        if self.action != "drop":
            return flagged
        lost = np.setdiff1d(self.classes_, y[~flagged])
        if lost.size:
            warnings.warn(
                f"The detector flags every sample of classes {lost.tolist()[:5]}: they are "
                "kept, so that the estimator still knows those classes.", UserWarning,
                stacklevel=3)
            flagged = flagged & ~np.isin(y, lost)
        return flagged

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Class labels predicted by the estimator fitted on the cleaned labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self.estimator_.predict(validate_data(self, X, reset=False))

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the estimator fitted on the cleaned labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(validate_data(self, X, reset=False))

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of the estimator fitted on the cleaned labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.estimator_.predict_log_proba(validate_data(self, X, reset=False))

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the estimator fitted on the cleaned labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.estimator_.decision_function(validate_data(self, X, reset=False))
