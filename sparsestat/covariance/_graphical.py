"""Graphical models on LBI paths: Gaussian, Ising and Potts pseudo-likelihoods.

The estimator builds a pseudo-likelihood loss (:mod:`._pseudo`) over one block of
edge parameters per pair of columns and follows its LBI path with the engine's
operator driver (:func:`sparsestat._engine.lbi_path_operator`). Edges enter the
path one by one; their entry times rank the edges, and the model read at a time
``t`` gives the graph.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from sparsestat import _engine
from sparsestat._engine._penalties import _penalty_arrays, start_dual
from sparsestat.covariance._pseudo import DiscretePseudo, GaussianPseudo
from sparsestat.covariance._refit import graph_precision
from sparsestat.linear_model._base import path_time

MAX_GAUSSIAN_FEATURES = 500
# at least this many LBI steps between t0 and the end of the path
_MIN_STEPS = 200

_PARAMETERS = {
    "model": [StrOptions({"gaussian", "ising", "potts"})],
    "kappa": [Interval(Real, 0, None, closed="neither")],
    "n_times": [Interval(Integral, 2, None, closed="left")],
    "t_ratio": [Interval(Real, 1, None, closed="neither")],
    "max_iter": [Interval(Integral, 1, None, closed="left"), None],
}


# ---------------------------------------------------------------------- input checks
def _check_shape(X) -> None:
    n, p = X.shape
    if n < 2:
        raise ValueError(f"Found n_samples={n}: a graphical model needs at least 2 samples "
                         "(rows) to estimate any dependence between columns.")
    if p < 2:
        raise ValueError(f"Found n_features = {p}: a graphical model needs at least 2 "
                         "columns (one edge); pass the variables as the columns of X.")


def _standardize(X):
    """Centred columns of unit variance; refuses constant columns."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    const = np.flatnonzero(scale <= 1e-12 * np.maximum(1.0, np.abs(mean)))
    if const.size:
        shown = ", ".join(map(str, const[:10])) + (" ..." if const.size > 10 else "")
        raise ValueError(f"X has {const.size} constant column(s) (index {shown}): a constant "
                         "variable has no dependence to estimate. Drop those columns.")
    return (X - mean) / scale, mean, scale


def _encode(X, model):
    """Integer level codes (n, p) and the sorted levels of every column."""
    categories, codes = [], np.empty(X.shape, dtype=np.int64)
    for j in range(X.shape[1]):
        levels, codes[:, j] = np.unique(X[:, j], return_inverse=True)
        categories.append(levels)
    if model == "ising":
        values = np.unique(X)
        if not (set(values) <= {0.0, 1.0} or set(values) <= {-1.0, 1.0}):
            shown = ", ".join(f"{v:g}" for v in values[:6]) + (" ..." if values.size > 6 else "")
            raise ValueError(f"model='ising' needs binary data coded 0/1 or -1/+1; X holds the "
                             f"values {shown}. Binarize the columns first, or use "
                             "model='potts' for categorical data.")
    single = [j for j, lev in enumerate(categories) if lev.size < 2]
    if single:
        shown = ", ".join(map(str, single[:10])) + (" ..." if len(single) > 10 else "")
        raise ValueError(f"X has {len(single)} column(s) with a single level (index {shown}): "
                         f"model={model!r} needs every column to take at least 2 values. "
                         "Drop those columns.")
    return codes, categories


def _codes_of(X, categories):
    """Level codes of new rows under the training levels; unknown values are refused."""
    codes = np.empty(X.shape, dtype=np.int64)
    for j, levels in enumerate(categories):
        pos = np.clip(np.searchsorted(levels, X[:, j]), 0, levels.size - 1)
        bad = levels[pos] != X[:, j]
        if np.any(bad):
            raise ValueError(f"Column {j} holds the value {X[np.flatnonzero(bad)[0], j]:g}, "
                             f"which it never took in the data the model was fitted on "
                             f"(levels {', '.join(f'{v:g}' for v in levels[:6])}).")
        codes[:, j] = pos
    return codes


# ---------------------------------------------------------------------- the path
def graphical_path(loss, *, kappa, n_times, t_ratio, max_iter=None, times=None):
    """LBI path of an edge-parameter loss (:mod:`._pseudo`), on the engine's driver.

    Starts at ``t0 = 1 / ||grad(0)||_*`` (l1 or per-edge group norm) with the step
    ``alpha = 1 / (kappa L)``, ``L`` a bound on the loss's curvature, at most
    ``(t_ratio - 1) t0 / 200``; records on ``times`` (default: the geometric grid from
    ``t0`` to ``t_ratio t0``).
    """
    elementwise, ptr, idx = _penalty_arrays(loss.penalty, loss.groups, loss.n_coefs, 1)
    g0 = loss.grad0()[:, None]
    info = {"model": type(loss).__name__}
    if not np.any(np.abs(g0) > 1e-14):
        grid = times if times is not None else _engine.time_grid(1.0, n_times, t_ratio)
        path = _engine.empty_path(grid, loss.n_coefs, 1, np.zeros(1), sparse=True, info=info,
                                  why="the columns are uncorrelated in the sample; no edge "
                                      "enters.")
    else:
        t0, z0 = start_dual(g0, elementwise, ptr, idx)
        grid = times if times is not None else _engine.time_grid(t0, n_times, t_ratio)
        alpha = min(1.0 / (kappa * loss.lipschitz()),
                    (grid[-1] - t0) / _MIN_STEPS if grid[-1] > t0 else np.inf)
        path = _engine.lbi_path_operator(loss.gradient_callback(), z0, t0, kappa=kappa,
                                         alpha=alpha, times=grid, penalty=loss.penalty,
                                         groups=loss.groups, max_iter=max_iter, sparse=True,
                                         info=info)
    path.squeeze = True
    path.entry_times = path.entry_times[:, 0]
    return path


class LBIGraphicalModel(BaseEstimator):
    """Sparse graphical model along an LBI path (Gaussian, Ising or Potts).

    Each pair of columns ``(j, k)`` has an edge parameter, tied symmetrically
    (``Theta_jk = Theta_kj``), and the path follows the LBI of the model's
    pseudo-likelihood: the sum over columns of the conditional log-likelihood of
    a column given the others.

    - ``'gaussian'``: the columns are standardized and each is regressed on the
      others, ``(1 / 2n) ||Z - Z Theta||_F^2`` with ``Theta`` symmetric and zero on the
      diagonal; one coefficient per edge. ``precision_`` is the maximum-likelihood
      precision matrix whose zeros are the graph at ``t_`` (positive definite, in the
      data's units).
    - ``'ising'``: binary columns (0/1 or -1/+1); each column's conditional law is a
      logistic regression on the others, with unpenalized intercepts.
    - ``'potts'``: categorical columns; multinomial logits, levels coded by dummies
      against each column's smallest level, and the ``(L_j - 1)(L_k - 1)`` parameters of
      an edge penalized as one group, so an edge enters as a whole.

    Time ``t`` is the inverse of a penalty level on the pseudo-likelihood (on the
    standardized columns for the Gaussian model): the path is empty up to ``t0``, where
    the first edge enters, and is recorded on a geometric grid from ``t0`` to
    ``t_ratio * t0``.

    Parameters
    ----------
    model : {'gaussian', 'ising', 'potts'}, default='gaussian'
        The pairwise model.
    kappa : float, default=10.0
        LBI damping; larger is less biased and takes more iterations.
    n_times : int, default=100
        Number of record times.
    t_ratio : float, default=100.0
        The path runs from ``t0`` to ``t_ratio * t0``.
    t : float, default=None
        Time at which the model is read (absolute, see above); ``None`` (and no
        ``t_relative``) means the end of the path.
    t_relative : float, default=None
        Read the model at ``t_relative * t0`` instead.
    max_iter : int, default=None
        Iteration budget (default: enough to reach the end of the path).

    Attributes
    ----------
    regularization_path_ : SparseRegularizationPath
        The path of the edge parameters (edges ``(j, k)``, ``j < k``, in row-major order;
        for Potts each edge holds its block of coefficients).
    edge_entry_times_ : ndarray of shape (n_features, n_features)
        Symmetric; the time each edge enters the path (``inf``: never; ``inf`` on the
        diagonal). Smaller means stronger evidence for the edge.
    t_ : float
        The time the model is read at.
    adjacency_ : ndarray of bool, shape (n_features, n_features)
        The graph at ``t_`` (no self-loops).
    precision_ : ndarray of shape (n_features, n_features)
        Gaussian only: positive definite precision matrix with the zeros of
        ``adjacency_``, fitted by maximum likelihood on the data (a ridge of ``1e-3`` on
        the correlation matrix when it is singular, ``n <= p``).
    covariance_ : ndarray of shape (n_features, n_features)
        Gaussian only: the inverse of ``precision_``.
    location_ : ndarray of shape (n_features,)
        Gaussian only: the column means.
    neighbourhood_coef_ : ndarray of shape (n_features, n_features)
        Gaussian only: the symmetric regression coefficients ``Theta`` at ``t_`` on the
        standardized columns.
    interaction_ : ndarray of shape (n_features, n_features)
        Ising: the coupling of ``x_j x_k`` in the log-density of the data as coded
        (0/1 or -1/+1). Potts: the Frobenius norm of each edge block.
    interaction_blocks_ : dict
        Potts (and Ising): ``(j, k) -> (L_j, L_k)`` array of the edge's parameters, rows and
        columns in the order of ``categories_``, zero on the reference (first) levels.
    categories_ : list of ndarray
        Ising and Potts: the sorted levels of every column.
    n_features_in_ : int
        Number of columns seen in ``fit``.

    See Also
    --------
    LBIGraphicalModelCV : Chooses ``t`` by cross-validated pseudo-likelihood.
    sklearn.covariance.GraphicalLasso : The l1-penalized Gaussian likelihood.

    Examples
    --------
    >>> import numpy as np
    >>> from sparsestat.covariance import LBIGraphicalModel
    >>> rng = np.random.default_rng(0)
    >>> z = rng.standard_normal((500, 4))
    >>> X = np.column_stack([z[:, 0], z[:, 0] + z[:, 1], z[:, 2], z[:, 3]])
    >>> model = LBIGraphicalModel(t_relative=1.5).fit(X)
    >>> model.adjacency_.astype(int)
    array([[0, 1, 0, 0],
           [1, 0, 0, 0],
           [0, 0, 0, 0],
           [0, 0, 0, 0]])
    >>> bool(np.all(np.linalg.eigvalsh(model.precision_) > 0))
    True
    """

    _parameter_constraints: dict = {
        **_PARAMETERS,
        "t": [Interval(Real, 0, None, closed="neither"), None],
        "t_relative": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(self, model="gaussian", *, kappa=10.0, n_times=100, t_ratio=100.0, t=None,
                 t_relative=None, max_iter=None):
        self.model = model
        self.kappa = kappa
        self.n_times = n_times
        self.t_ratio = t_ratio
        self.t = t
        self.t_relative = t_relative
        self.max_iter = max_iter

    # ---------------------------------------------------------------- fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the path of the graph and read it at ``t`` (or ``t_relative``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Continuous columns (Gaussian), binary columns (Ising) or category codes
            (Potts); no missing values.
        y : None
            Ignored.

        Returns
        -------
        self : LBIGraphicalModel
        """
        X = self._validate_input(X)
        self._loss = self._prepare(X)
        path = self._fit_path(self._loss)
        self.regularization_path_ = path
        self.edge_entry_times_ = self._edge_entry_times(path)
        self._read(path, self.t, self.t_relative)
        return self

    def _validate_input(self, X, reset=True):
        X = validate_data(self, X, dtype=np.float64, reset=reset, ensure_min_samples=1,
                          ensure_min_features=1)
        _check_shape(X)
        if reset and self.model == "gaussian" and X.shape[1] > MAX_GAUSSIAN_FEATURES:
            raise ValueError(
                f"model='gaussian' holds p (p - 1) / 2 edge parameters and a dense p x p "
                f"Gram matrix; X has p={X.shape[1]} columns, more than "
                f"{MAX_GAUSSIAN_FEATURES}. Screen the columns first (for example keep those "
                "with the largest absolute correlations) or fit the graph on blocks of "
                "columns.")
        return X

    def _prepare(self, X):
        if self.model == "gaussian":
            Z, self.location_, self._scale = _standardize(X)
            return GaussianPseudo(Z)
        codes, self.categories_ = _encode(X, self.model)
        return DiscretePseudo(codes, [lev.size for lev in self.categories_])

    def _fit_path(self, loss, times=None):
        return graphical_path(loss, kappa=self.kappa, n_times=self.n_times,
                              t_ratio=self.t_ratio, max_iter=self.max_iter, times=times)

    def _edge_entry_times(self, path):
        p = self._loss.p
        entry = path.entry_times
        if isinstance(self._loss, DiscretePseudo):
            per_edge = np.full(p * (p - 1) // 2, np.inf)
            np.minimum.at(per_edge, self._loss.edge_of, entry)
            entry = per_edge
        out = np.full((p, p), np.inf)
        rows, cols = np.triu_indices(p, 1)
        out[rows, cols] = entry
        out[cols, rows] = entry
        return out

    def _read(self, path, t, t_relative):
        """Set the model's state at the path time ``t`` (or ``t_relative * t0``)."""
        self.t_ = path_time(path, t, t_relative)
        theta = path.coef_at(self.t_)
        loss = self._loss
        p = loss.p
        if isinstance(loss, GaussianPseudo):
            Theta = loss.matrix(theta)
            self.neighbourhood_coef_ = Theta
            self.adjacency_ = Theta != 0.0
            scale = self._scale
            Omega = graph_precision(loss.S, self.adjacency_)
            self.precision_ = Omega / np.outer(scale, scale)
            self.covariance_ = np.linalg.inv(Omega) * np.outer(scale, scale)
            return
        blocks, inter = {}, np.zeros((p, p))
        W = loss.matrix(theta)
        off = loss.offsets
        for j, k in zip(*np.triu_indices(p, 1)):
            block = np.zeros((self.categories_[j].size, self.categories_[k].size))
            block[1:, 1:] = W[off[j]:off[j + 1], off[k]:off[k + 1]]
            if self.model == "ising" and self.categories_[j][0] == -1.0:
                block = block / 4.0      # x = (s + 1) / 2: theta x_j x_k = theta / 4 s_j s_k + ...
            blocks[(int(j), int(k))] = block
            inter[j, k] = inter[k, j] = (block[1, 1] if self.model == "ising"
                                         else np.linalg.norm(block))
        self.interaction_blocks_ = blocks
        self.interaction_ = inter
        self.adjacency_ = inter != 0.0
        self._intercepts = loss.intercepts(theta)

    # ---------------------------------------------------------------- scoring
    def _path_scores(self, X, times):
        """Held-out mean pseudo-log-likelihood per row at each of ``times``."""
        loss, path = self._loss, self.regularization_path_
        if isinstance(loss, GaussianPseudo):
            Z = (X - self.location_) / self._scale
            return np.array([-loss.loss(path.coef_at(t), Z) for t in times])
        codes = _codes_of(X, self.categories_)
        out, h = np.empty(len(times)), None
        for i, t in enumerate(times):
            theta = path.coef_at(t)
            h = loss.intercepts(theta, h0=h)
            out[i] = loss.log_pseudo_likelihood(theta, h, codes)
        return out

    def score(self, X, y=None):
        """Mean pseudo-log-likelihood per row of ``X`` at ``t_`` (higher is better).

        Gaussian: minus half the summed squared errors of the neighbourhood
        regressions, on the columns standardized with the training means and scales.
        Ising and Potts: the summed conditional log-likelihoods of the columns.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows in the units of the data the model was fitted on.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return float(self._path_scores(X, [self.t_])[0])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
