"""GraphDisplay: the graph of a fitted graphical model (matplotlib imported lazily)."""

from __future__ import annotations

import numpy as np


class GraphDisplay:
    """The graph of a graphical model, nodes on a circle, at its reading time.

    Edges of ``adjacency`` are drawn as lines whose darkness follows their entry
    order (the earliest edge darkest) and whose width follows ``|weight|``.

    Parameters
    ----------
    adjacency : array-like of bool, shape (p, p)
        The graph (symmetric).
    entry_times : array-like of shape (p, p)
        Entry time of each edge (``inf``: never).
    weights : array-like of shape (p, p), default=None
        Edge strengths for the line widths (``None``: equal widths).
    node_names : sequence of str, default=None
        Node labels (``None``: ``x0, x1, ...``).

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    edges_ : dict
        ``(j, k) -> Line2D`` for every drawn edge, ``j < k``.
    texts_ : list of matplotlib Text
        The node labels.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sparsestat.covariance import GraphDisplay, LBIGraphicalModel
    >>> rng = np.random.default_rng(0)
    >>> z = rng.standard_normal((300, 3))
    >>> X = np.column_stack([z[:, 0], z[:, 0] + z[:, 1], z[:, 2]])
    >>> disp = GraphDisplay.from_estimator(LBIGraphicalModel(t_relative=1.5).fit(X))
    >>> sorted(disp.edges_)
    [(0, 1)]
    """

    def __init__(self, adjacency, entry_times, weights=None, node_names=None):
        self.adjacency = adjacency
        self.entry_times = entry_times
        self.weights = weights
        self.node_names = node_names

    @classmethod
    def from_estimator(cls, estimator, *, node_names=None, ax=None):
        """Draw the graph of a fitted :class:`LBIGraphicalModel` at its ``t_``.

        Parameters
        ----------
        estimator : LBIGraphicalModel or LBIGraphicalModelCV
            Fitted.
        node_names : sequence of str, default=None
            Node labels.
        ax : matplotlib Axes, default=None
            Axes to draw on (``None``: a new figure).

        Returns
        -------
        display : GraphDisplay
        """
        weights = getattr(estimator, "interaction_", None)
        if weights is None:
            weights = estimator.neighbourhood_coef_
        disp = cls(estimator.adjacency_, estimator.edge_entry_times_, weights, node_names)
        return disp.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the graph; returns ``self``."""
        from sparsestat.plotting import _import_pyplot

        plt = _import_pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 5))
        adjacency = np.asarray(self.adjacency, dtype=bool)
        entry = np.asarray(self.entry_times, dtype=float)
        p = adjacency.shape[0]
        names = self.node_names if self.node_names is not None else [f"x{j}" for j in range(p)]
        angle = 2 * np.pi * np.arange(p) / max(p, 1)
        xy = np.column_stack([np.cos(angle), np.sin(angle)])
        rows, cols = np.nonzero(np.triu(adjacency, 1))
        order = np.argsort(np.argsort(entry[rows, cols], kind="stable"), kind="stable")
        weights = (np.abs(np.asarray(self.weights, dtype=float))[rows, cols]
                   if self.weights is not None else np.ones(rows.size))
        top = float(np.max(weights, initial=0.0)) or 1.0
        cmap = plt.get_cmap("viridis")
        self.edges_ = {}
        for rank, j, k, w in zip(order, rows, cols, weights):
            colour = cmap(0.85 * rank / max(rows.size - 1, 1))
            (line,) = ax.plot(xy[[j, k], 0], xy[[j, k], 1], color=colour,
                              linewidth=0.8 + 3.2 * w / top, zorder=1)
            self.edges_[(int(j), int(k))] = line
        ax.scatter(xy[:, 0], xy[:, 1], s=60, color="white", edgecolor="black", zorder=2)
        self.texts_ = [ax.text(1.15 * x, 1.15 * y, name, ha="center", va="center",
                               fontsize=8) for (x, y), name in zip(xy, names)]
        ax.set_xlim(-1.4, 1.4)
        ax.set_ylim(-1.4, 1.4)
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_title(f"{rows.size} edges (darker: entered earlier)")
        self.ax_, self.figure_ = ax, ax.figure
        return self
