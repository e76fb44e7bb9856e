"""Choosing the time of a graphical model by cross-validated pseudo-likelihood.

The full-data path fixes the time grid; every fold computes its path on the
same grid and scores its held-out rows there, so the scores line up time by time.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import _fit_context, clone
from sklearn.model_selection import check_cv

from sparsestat.covariance._graphical import _PARAMETERS, LBIGraphicalModel


def _fold_scores(estimator, X, train, test, times, number):
    fold = clone(estimator)
    try:
        fold._validate_input(X[train])
        fold._loss = fold._prepare(X[train])
        fold.regularization_path_ = fold._fit_path(fold._loss, times=times)
        return fold._path_scores(X[test], times)
    except ValueError as exc:
        raise ValueError(f"Cross-validation fold {number}: {exc} (A level seen in few rows "
                         "can be missing from a fold: use fewer folds or merge rare "
                         "levels.)") from exc


class LBIGraphicalModelCV(LBIGraphicalModel):
    """:class:`LBIGraphicalModel` with the time ``t`` chosen by K-fold cross-validation.

    Each fold's path is scored by the mean held-out pseudo-log-likelihood per row
    (see :meth:`LBIGraphicalModel.score`) at every time of the full-data path's
    grid; ``t_`` maximizes the mean over folds, or with ``one_standard_error=True``
    is the earliest (sparsest) time within one standard error of the best. The
    model is then read from the full-data path at ``t_``.

    Parameters
    ----------
    model : {'gaussian', 'ising', 'potts'}, default='gaussian'
        The pairwise model.
    kappa : float, default=10.0
        LBI damping.
    n_times : int, default=100
        Number of record times (the candidate times).
    t_ratio : float, default=100.0
        The path runs from ``t0`` to ``t_ratio * t0``.
    max_iter : int, default=None
        Iteration budget of each path.
    cv : int, cross-validation generator or iterable, default=5
        Folds, as in scikit-learn (an int is a ``KFold`` without shuffling).
    one_standard_error : bool, default=False
        Choose the sparsest time within one standard error of the best score.
    n_jobs : int, default=None
        Folds run in parallel through joblib.

    Attributes
    ----------
    t_ : float
        The chosen time.
    cv_times_ : ndarray of shape (n_times,)
        The candidate times.
    cv_scores_ : ndarray of shape (n_folds, n_times)
        Held-out mean pseudo-log-likelihood per row, fold by fold.
    regularization_path_, edge_entry_times_, adjacency_, precision_, covariance_, \
location_, neighbourhood_coef_, interaction_, interaction_blocks_, categories_, n_features_in_
        As in :class:`LBIGraphicalModel`, at ``t_``.

    See Also
    --------
    LBIGraphicalModel : The path and the model at a given time.
    sklearn.covariance.GraphicalLassoCV : The l1-penalized Gaussian likelihood, CV over alpha.

    Examples
    --------
    >>> import numpy as np
    >>> from sparsestat.covariance import LBIGraphicalModelCV
    >>> rng = np.random.default_rng(0)
    >>> z = rng.standard_normal((400, 4))
    >>> X = np.column_stack([z[:, 0], z[:, 0] + z[:, 1], z[:, 2], z[:, 3]])
    >>> model = LBIGraphicalModelCV(n_times=20, cv=3).fit(X)
    >>> bool(model.adjacency_[0, 1])
    True
    """

    _parameter_constraints: dict = {
        **_PARAMETERS,
        "cv": ["cv_object"],
        "one_standard_error": ["boolean"],
        "n_jobs": [Integral, None],
    }

    def __init__(self, model="gaussian", *, kappa=10.0, n_times=100, t_ratio=100.0,
                 max_iter=None, cv=5, one_standard_error=False, n_jobs=None):
        super().__init__(model, kappa=kappa, n_times=n_times, t_ratio=t_ratio,
                         max_iter=max_iter)
        self.cv = cv
        self.one_standard_error = one_standard_error
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the full-data path, score the folds on its grid and read it at ``t_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            As in :meth:`LBIGraphicalModel.fit`.
        y : None
            Ignored.

        Returns
        -------
        self : LBIGraphicalModelCV
        """
        X = self._validate_input(X)
        self._loss = self._prepare(X)
        path = self._fit_path(self._loss)
        self.regularization_path_ = path
        self.edge_entry_times_ = self._edge_entry_times(path)
        times = np.asarray(path.times, dtype=float)
        folds = list(check_cv(self.cv).split(X))
        if any(train.size < 2 or test.size < 1 for train, test in folds):
            raise ValueError(f"Every fold needs at least 2 training rows; X has "
                             f"{X.shape[0]} rows for {len(folds)} folds. Use fewer folds.")
        base = LBIGraphicalModel(self.model, kappa=self.kappa, n_times=self.n_times,
                                 t_ratio=self.t_ratio, max_iter=self.max_iter)
        scores = Parallel(n_jobs=self.n_jobs)(
            delayed(_fold_scores)(base, X, train, test, times, i)
            for i, (train, test) in enumerate(folds))
        self.cv_times_ = times
        self.cv_scores_ = np.vstack(scores)
        mean = self.cv_scores_.mean(axis=0)
        best = int(np.argmax(mean))
        if self.one_standard_error and len(folds) > 1:
            se = self.cv_scores_.std(axis=0, ddof=1)[best] / np.sqrt(len(folds))
            best = int(np.flatnonzero(mean >= mean[best] - se)[0])
        self._read(path, float(times[best]), None)
        return self
