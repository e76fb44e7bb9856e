"""GraphicalKnockoffSelector: edges of a Gaussian graphical model with FDR control.

The GGM knockoff filter (Li and Maathuis, 2021). For Gaussian rows the edge
``(i, j)`` is absent exactly when ``X_i`` and ``X_j`` are independent given the
other columns, i.e. when ``X_j`` has a zero coefficient in the regression of
``X_i`` on the others. The filter has a local and a global step:

1. local: for every node ``i``, fixed-X knockoffs of the other ``p - 1``
   columns and a knockoff statistic ``W_ij`` (``j != i``) of the regression of
   ``X_i`` on them. Given those columns the regression is an exact Gaussian
   linear model, so the signs of the null ``W_ij`` are independent fair coins;
2. global: for an integer ``m``, each node's threshold ``T_i(m)`` is the
   smallest magnitude ``t`` of its row with at most ``m`` statistics
   ``W_ij <= -t``; the graph ``E(m)`` joins ``i`` and ``j`` when
   ``W_ij >= T_i(m)`` and ``W_ji >= T_j(m)`` (``rule='and'``), or when either
   holds (``rule='or'``). The filter takes the largest ``m`` with

       (a + m) / max(1, |E(m)|) <= c q / (c_a p),

   ``c = 2`` for the AND rule and 1 for the OR rule, ``|E(m)|`` the number of
   (unordered) edges, ``a`` the offset and ``c_a`` its constant (1.93 for
   ``a = 1``, 102 for ``a = 0.01``).

Why it controls the FDR: a false edge under the AND rule is a null
statistic above its threshold in *both* of its rows (in one for the OR rule),
so ``c`` false edges are at most ``sum_i V_i``, ``V_i`` the nulls of row ``i``
above ``T_i``; each row has at most ``m`` statistics below ``-T_i``, and
``E[sup_t V_i(t) / (a + #{null W_ij <= -t})] <= c_a`` for fair coin signs
(Barber, Candes and Samworth). Summing over the ``p`` rows, the expected false
discovery proportion is at most ``q``.

The rule pays for ``p`` separate comparisons: with ``m = 0`` it needs at least
``a c_a p / (c q)`` edges before it may select any (about ``2.4 p`` for
``q = 0.2``, AND rule, ``a = 1``), so it has power on graphs with several
edges per node and none on sparser ones (a chain, whose ``p - 1`` edges are
too few at any ``q < 0.5``).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from sparsestat._progress import StageReporter
from sparsestat.feature_selection._construction import fixed_x_knockoffs
from sparsestat.feature_selection._knockoffs import check_no_constant_columns
from sparsestat.feature_selection._scaling import standardize_columns
from sparsestat.feature_selection._statistics import (STATISTICS, check_statistic_params,
                                                      knockoff_statistic)
from sparsestat.feature_selection._svalues import S_METHODS, check_covariance, compute_s

# the constant c_a of the offset a: E[sup_t V+(t) / (a + V-(t))] <= c_a for fair coin signs
OFFSET_CONSTANTS = {1.0: 1.93, 0.01: 102.0}


def node_thresholds(W: np.ndarray, m: int) -> np.ndarray:
    """``T_i(m)``: per row, the smallest magnitude ``t`` with ``#{W_ij <= -t} <= m``.

    Zero entries (the diagonal, ties of a statistic) are never candidates; a
    row with no feasible candidate gets ``inf`` (it selects nothing).
    """
    T = np.full(W.shape[0], np.inf)
    for i, row in enumerate(W):
        candidates = np.unique(np.abs(row[row != 0]))
        if candidates.size == 0:
            continue
        n_neg = np.searchsorted(np.sort(row), -candidates, side="right")
        feasible = np.flatnonzero(n_neg <= m)      # n_neg decreases along the candidates
        if feasible.size:
            T[i] = candidates[feasible[0]]
    return T


def graph_of(W: np.ndarray, T: np.ndarray, rule: str) -> np.ndarray:
    """Symmetric boolean adjacency: ``W_ij >= T_i`` combined with ``W_ji >= T_j``."""
    above = (W >= T[:, None]) & (W > 0)
    return (above & above.T) if rule == "and" else (above | above.T)


def ggm_knockoff_filter(W: np.ndarray, fdr: float, rule: str = "and", offset: float = 1.0):
    """The global step of the GGM knockoff filter.

    Parameters
    ----------
    W : ndarray of shape (p, p)
        Row ``i`` holds the knockoff statistics of node ``i``'s regression
        (zero diagonal).
    fdr : float
        Target edge false discovery rate ``q``.
    rule : {'and', 'or'}
    offset : {1, 0.01}
        The offset ``a``.

    Returns
    -------
    adjacency : ndarray of bool of shape (p, p)
    thresholds : ndarray of shape (p,)
        ``T_i(m)`` for the chosen ``m`` (``inf`` everywhere when nothing qualifies).
    m : int
        The number of negative statistics each node may have above its
        threshold (-1 when nothing qualifies).

    Examples
    --------
    >>> import numpy as np
    >>> W = np.where(np.eye(4, dtype=bool), 0.0, 1.0)       # every statistic positive
    >>> adjacency, T, m = ggm_knockoff_filter(W, fdr=0.99, rule="or")
    >>> int(adjacency.sum()) // 2, m        # (1 + m) / 6 <= 0.99 / (1.93 * 4) fails
    (0, -1)
    """
    p = W.shape[0]
    bound = (2.0 if rule == "and" else 1.0) * fdr / (OFFSET_CONSTANTS[float(offset)] * p)
    most_edges = p * (p - 1) // 2
    # (offset + m) <= bound * |E| <= bound * most_edges caps m, and no row has more than
    # p - 1 statistics
    m_max = min(p - 1, int(np.floor(bound * most_edges - offset)))
    for m in range(m_max, -1, -1):
        T = node_thresholds(W, m)
        adjacency = graph_of(W, T, rule)
        n_edges = int(np.count_nonzero(np.triu(adjacency, 1)))
        if (offset + m) / max(1, n_edges) <= bound:
            return adjacency, T, m
    return np.zeros((p, p), dtype=bool), np.full(p, np.inf), -1


class GraphicalKnockoffSelector(BaseEstimator):
    """Edges of a Gaussian graphical model with a guaranteed false discovery rate.

    The GGM knockoff filter (Li and Maathuis): each column is regressed on the
    others with fixed-X knockoffs of those others, which gives one knockoff
    statistic per ordered pair of columns; a graph-wide rule then sets one
    threshold per node so that the expected fraction of false edges among the
    selected ones is at most ``fdr`` (see Notes).

    Parameters
    ----------
    fdr : float, default=0.1
        Target edge false discovery rate ``q`` in (0, 1).
    rule : {'and', 'or'}, default='and'
        ``'and'``: an edge needs the statistics of both of its nodes above
        their thresholds; ``'or'``: one suffices (the rule then asks twice as
        many edges for the same ``m``).
    offset : {1, 0.01}, default=1
        The offset ``a`` of the rule; ``0.01`` (constant ``c_a = 102``) can
        select with no negative statistic above any threshold and fewer edges.
    s_method : {'maxent', 'mvr', 'sdp', 'equi'}, default='maxent'
        s-values of each node's knockoffs (see :class:`KnockoffSelector`).
    statistic : {'lcd', 'lsm', 'lbi', 'mlr'}, default='lcd'
        Each node's knockoff statistic: the lasso coefficient difference at
        the penalty minimizing Mallows' Cp (or, with
        ``statistic_params={'penalty': 'gcv'}``, generalized cross-validation,
        which needs no noise variance; both are functions of the Gram matrix,
        ``[X, Xk]^T y`` and ``||y||^2`` only, as fixed-X knockoffs require),
        the signed max of the lasso entry points, or of the inverse LBI entry
        times, or the masked likelihood ratio statistic of a spike-and-slab
        linear model (also a function of those three only).
    statistic_params : dict or None, default=None
        Options of the statistic, as in :class:`KnockoffSelector`.
    random_state : int, RandomState instance or None, default=None
        Seed of the knockoffs.
    n_jobs : int or None, default=None
        Parallel jobs (joblib) over the nodes.
    verbose : int, default=0
        Print the stages of the fit with their wall time.

    Attributes
    ----------
    W_ : ndarray of shape (n_features, n_features)
        ``W_[i, j]``: the knockoff statistic of ``X_j`` in the regression of
        ``X_i`` on the other columns; zero diagonal. Not symmetric.
    thresholds_ : ndarray of shape (n_features,)
        Each node's threshold (``inf``: the filter selected nothing).
    n_negatives_ : int
        The chosen ``m``: how many negative statistics a node may have above
        its threshold (-1 when nothing qualifies).
    adjacency_ : ndarray of bool of shape (n_features, n_features)
        The selected graph (symmetric, no self-loops).
    edges_ : ndarray of int of shape (n_edges, 2)
        The selected edges ``(i, j)``, ``i < j``, in row-major order.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names.

    See Also
    --------
    LBIGraphicalModel : the graph along an LBI path, with no error guarantee.
    KnockoffSelector : knockoffs for the features of a regression.

    Notes
    -----
    The guarantee is ``E[#false edges / max(1, #edges)] <= fdr`` in finite
    samples for Gaussian rows (any covariance), with ``n >= 2p - 1`` samples
    (each node's ``p - 1`` centred regressors and their knockoffs must be
    linearly independent). An edge is false when the two columns are
    independent given the others (a zero of the precision matrix).

    The global rule takes the largest ``m`` with
    ``(a + m) / max(1, #edges(m)) <= c q / (c_a p)``, ``c = 2`` for the AND
    rule, 1 for the OR rule, ``#edges`` counting each edge once. It needs at
    least ``a c_a p / (c q)`` edges to select any: about ``2.4 p`` at
    ``q = 0.2`` with the AND rule, so it finds nothing in graphs with fewer
    than about five edges per node (a chain) and is meant for denser ones.

    The columns are centred and scaled to unit variance first, so the
    selection does not depend on their units or locations.

    Examples
    --------
    >>> import numpy as np
    >>> from sparsestat.covariance import GraphicalKnockoffSelector
    >>> rng = np.random.default_rng(0)
    >>> p = 12
    >>> Theta = np.eye(p) + 0.2 * (np.ones((p, p)) - np.eye(p))   # a complete graph
    >>> X = rng.multivariate_normal(np.zeros(p), np.linalg.inv(Theta), size=1500)
    >>> sel = GraphicalKnockoffSelector(fdr=0.2, random_state=0).fit(X)
    >>> len(sel.edges_), int(sel.adjacency_.sum()) // 2          # of 66 edges
    (66, 66)
    """

    _parameter_constraints: dict = {
        "fdr": [Interval(Real, 0, 1, closed="neither")],
        "rule": [StrOptions({"and", "or"})],
        "offset": [Options(Real, set(OFFSET_CONSTANTS))],
        "s_method": [StrOptions(set(S_METHODS))],
        "statistic": [StrOptions(set(STATISTICS))],
        "statistic_params": [dict, None],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(self, fdr=0.1, *, rule="and", offset=1, s_method="maxent", statistic="lcd",
                 statistic_params=None, random_state=None, n_jobs=None, verbose=0):
        self.fdr = fdr
        self.rule = rule
        self.offset = offset
        self.s_method = s_method
        self.statistic = statistic
        self.statistic_params = statistic_params
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute every node's knockoff statistics and select the edges.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows drawn from a multivariate Gaussian; ``n_samples >= 2 n_features - 1``.
        y : None
            Ignored.

        Returns
        -------
        self : GraphicalKnockoffSelector
        """
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=3,
                          ensure_min_features=2)
        check_no_constant_columns(X)
        n, p = X.shape
        if n < 2 * p - 1:
            raise ValueError(
                f"GraphicalKnockoffSelector needs n >= 2p - 1 samples (fixed-X knockoffs of "
                f"each node's p - 1 regressors); got n={n}, p={p}. Collect at least "
                f"{2 * p - 1} samples or use fewer columns."
            )
        params = check_statistic_params(self.statistic, dict(self.statistic_params or {}),
                                        type(self).__name__)
        if self.statistic == "lcd":
            params.setdefault("penalty", "cp")
            if params["penalty"] not in ("cp", "gcv"):
                raise ValueError(
                    "statistic_params penalty must be 'cp' or 'gcv' here: fixed-X knockoffs "
                    "allow a statistic of the Gram matrix, [X, Xk]^T y and ||y||^2 only, "
                    "which cross-validation is not."
                )
        report = StageReporter(type(self).__name__, self.verbose)
        Z = standardize_columns(X).values
        Xn = Z / np.sqrt(n)
        R = check_covariance(Xn.T @ Xn, name="The correlation matrix of the columns")
        report.stage(f"correlation matrix of {n} x {p} columns")
        seeds = check_random_state(self.random_state).randint(2 ** 31 - 1, size=p)
        rows = Parallel(n_jobs=self.n_jobs)(
            delayed(_node_statistics)(i, seeds[i], Xn, R, self.s_method, self.statistic,
                                      params)
            for i in range(p))
        W = np.zeros((p, p))
        for i, row in enumerate(rows):
            W[i, np.arange(p) != i] = row
        report.stage(f"knockoffs ({self.s_method}) and statistic {self.statistic!r} of "
                     f"{p} nodes")
        adjacency, T, m = ggm_knockoff_filter(W, self.fdr, self.rule, self.offset)
        self.W_, self.thresholds_, self.n_negatives_ = W, T, m
        self.adjacency_ = adjacency
        self.edges_ = np.argwhere(np.triu(adjacency, 1))
        report.done(f"{len(self.edges_)} edges selected at fdr={self.fdr:g} (m = {m})")
        return self


def _node_statistics(i, seed, Xn, R, s_method, statistic, params):
    """Knockoff statistics of the regression of column ``i`` on the others."""
    rng = np.random.default_rng(seed)
    others = np.arange(Xn.shape[1]) != i
    X_other, R_other = Xn[:, others], R[np.ix_(others, others)]
    s = compute_s(R_other, s_method)
    Xk = fixed_x_knockoffs(X_other, s, rng, gram=R_other)
    # the target in the units of the standardized column (unit root mean square)
    y = Xn[:, i] * np.sqrt(Xn.shape[0])
    return knockoff_statistic(X_other, Xk, y, statistic, rng=rng, **params)
