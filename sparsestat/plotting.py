"""Pictures of regularization paths and of cross-validation along them.

:class:`RegularizationPathDisplay` draws a path (one line per coefficient,
labelled in entry order) and :class:`CVPathDisplay` the cross-validated error
along the time axis. Both follow scikit-learn's Display pattern
(``from_estimator`` / ``from_path`` build them, ``plot`` draws). matplotlib is
imported only when something is drawn, so ``import sparsestat.plotting`` works
without it.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

__all__ = ["CVPathDisplay", "RegularizationPathDisplay"]

_INSTALL_HINT = 'pip install "sparsestat[plot]"'
_TIME_LABEL = r"$t$ (= 1 / $\lambda$)"
# labelled lines take evenly spaced colours of a perceptual colormap, in entry order
_LABEL_CMAP = "viridis"
_LABEL_CMAP_END = 0.85  # the last yellows of viridis are too pale on white
_ENTERED_GREY = "0.6"
_NEVER_GREY = "0.82"
_MAX_LABEL_CHARS = 32
_MAX_LABEL_FRACTION = 0.45  # of the axes width, kept free on the right for the labels


def _import_pyplot():
    """Import ``matplotlib.pyplot`` or say how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised with matplotlib hidden
        raise ImportError(
            "sparsestat.plotting needs matplotlib, which is not installed. "
            f"Install it with: {_INSTALL_HINT}"
        ) from exc
    return plt


def _unwrap_estimator(estimator):
    """The final estimator of a Pipeline (or the estimator), its feature names, and the
    transformation the Pipeline applies to ``X`` before it."""
    names, transform = None, None
    steps = getattr(estimator, "steps", None)
    if steps is not None and hasattr(estimator, "__getitem__"):
        final = estimator[-1]
        if len(steps) > 1:
            transform = estimator[:-1].transform
            try:
                names = np.asarray(estimator[:-1].get_feature_names_out(), dtype=object)
            except Exception:  # preprocessing without feature names: use the defaults
                names = None
        estimator = final
    if names is None and hasattr(estimator, "feature_names_in_"):
        names = np.asarray(estimator.feature_names_in_, dtype=object)
    return estimator, names, transform


def _target_names_of(estimator, n_targets: int):
    classes = getattr(estimator, "classes_", None)
    if classes is not None and len(classes) == n_targets:
        return [f"class {c}" for c in classes]
    return [f"target {k}" for k in range(n_targets)]


def _short(name: str) -> str:
    """A label of at most ``_MAX_LABEL_CHARS`` characters: long names keep their start
    and their end (where names of one family differ), joined by an ellipsis."""
    name = str(name)
    if len(name) <= _MAX_LABEL_CHARS:
        return name
    head = (_MAX_LABEL_CHARS - 1) // 2
    tail = _MAX_LABEL_CHARS - 1 - head
    return name[:head] + "…" + name[-tail:]


def _labelled(entry, last, n_labels: int) -> np.ndarray:
    """Coefficients that get a label, in entry order.

    The first ``n_labels`` to enter, and, when it entered later, the one largest in
    absolute value at the end of the path (a late, dominant line stays named).
    """
    entered = np.flatnonzero(np.isfinite(entry))
    order = entered[np.argsort(entry[entered], kind="stable")]
    chosen = order[:n_labels]
    if n_labels > 0 and order.size > n_labels:
        largest = order[np.argmax(np.abs(last[order]))]
        if np.abs(last[largest]) > 0 and largest not in chosen:
            chosen = np.append(chosen, largest)
    return chosen


def _label_colours(n: int):
    from matplotlib import colormaps

    cmap = colormaps[_LABEL_CMAP]
    return [cmap(v) for v in np.linspace(0.0, _LABEL_CMAP_END, n)] if n > 1 else [cmap(0.0)]


def _spread(values, gap: float, lo: float, hi: float) -> np.ndarray:
    """Positions near ``values``, at least ``gap`` apart, inside ``[lo, hi]``."""
    n = values.size
    if n == 0:
        return values.copy()
    bottom, top = lo + gap / 2, hi - gap / 2
    if n > 1:
        gap = min(gap, (top - bottom) / (n - 1))
    rank = np.argsort(values, kind="stable")
    placed = np.clip(values[rank].astype(float), bottom, top)
    for i in range(1, n):  # push up past the previous label
        placed[i] = max(placed[i], placed[i - 1] + gap)
    placed[-1] = min(placed[-1], top)
    for i in range(n - 2, -1, -1):  # then down below the next one, inside the axes
        placed[i] = min(placed[i], placed[i + 1] - gap)
    out = np.empty(n)
    out[rank] = placed
    return out


def _place_labels(axis, x_end: float, y_end, names, colours, label_kwargs):
    """Labels right of the lines' ends, inside the axes: the x-axis is extended to the
    right by the room the longest label takes (at most ``_MAX_LABEL_FRACTION`` of the
    width; longer labels get a smaller font), and labels are spread so they do not
    overlap. Returns the Text objects (in the order of ``names``)."""
    from matplotlib.transforms import ScaledTranslation

    if len(names) == 0:
        return []
    figure = axis.figure
    offset = axis.transData + ScaledTranslation(3 / 72, 0, figure.dpi_scale_trans)
    texts = []
    for name, y, colour in zip(names, y_end, colours):
        style = {"fontsize": "small", "va": "center", "ha": "left", "color": colour}
        style.update(label_kwargs or {})
        texts.append(axis.text(x_end, y, _short(name), transform=offset, **style))
    root = getattr(figure, "figure", None) or figure  # a SubFigure draws through its Figure
    root.draw_without_rendering()  # the layout (and so the axes' size) as it will be
    box = axis.get_window_extent()
    extents = [text.get_window_extent() for text in texts]
    width = max(e.width for e in extents) + 8.0  # the offset and a margin, in pixels
    height = max(e.height for e in extents)
    fraction = width / max(box.width, 1.0)
    if fraction > _MAX_LABEL_FRACTION:  # too long for the room: a smaller font
        shrink = 0.97 * _MAX_LABEL_FRACTION / fraction
        for text in texts:
            text.set_fontsize(text.get_fontsize() * shrink)
        height *= shrink
        fraction = _MAX_LABEL_FRACTION
    left, right = axis.get_xlim()
    log_left = np.log10(left)
    log_end = np.log10(x_end) if x_end > left else np.log10(right)  # a single record time
    axis.set_xlim(left, 10 ** (log_left + (log_end - log_left) / (1.0 - fraction)))
    lo, hi = axis.get_ylim()
    gap = 1.15 * height / max(box.height, 1.0) * (hi - lo)
    for text, y in zip(texts, _spread(np.asarray(y_end, dtype=float), gap, lo, hi)):
        text.set_y(y)
    axis.set_ylim(lo, hi)
    return texts


def _column_scale(X, transform, n_coefs: int) -> np.ndarray:
    """Standard deviation of each column of ``X`` (after a Pipeline's preprocessing)."""
    if X is None:
        raise ValueError(
            "standardize=True multiplies each coefficient by the standard deviation of its "
            "feature, which the estimator does not store: pass the training data as X=."
        )
    if transform is not None:
        X = transform(X)
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=float)
        mean = np.asarray(X.mean(axis=0)).ravel()
        scale = np.sqrt(np.maximum(np.asarray(X.multiply(X).mean(axis=0)).ravel() - mean ** 2,
                                   0.0))
    else:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}.")
        scale = X.std(axis=0)
    if scale.shape[0] != n_coefs:
        raise ValueError(
            f"X has {scale.shape[0]} features but the path has {n_coefs} coefficients: pass "
            "the data the estimator was fitted on."
        )
    return scale


def _structure_names(D, names) -> list[str]:
    """Names of the rows of ``gamma = D beta``: ``a - b`` for a difference of two
    features, the feature's name for a row that picks one, else ``(D beta)[i]``."""
    D = sp.csr_matrix(D)
    out = []
    for i in range(D.shape[0]):
        cols = D.indices[D.indptr[i]:D.indptr[i + 1]]
        vals = D.data[D.indptr[i]:D.indptr[i + 1]]
        keep = vals != 0
        cols, vals = cols[keep], vals[keep]
        if cols.size == 1:
            out.append(str(names[cols[0]]) if vals[0] == 1 else f"{vals[0]:g} {names[cols[0]]}")
        elif cols.size == 2 and vals[0] == -vals[1]:
            plus, minus = (cols[0], cols[1]) if vals[0] > 0 else (cols[1], cols[0])
            out.append(f"{names[plus]} - {names[minus]}")
        else:
            out.append(f"(D beta)[{i}]")
    return out


def _comparison_names(X, y, m: int) -> list[str]:
    """``winner > loser`` for every comparison (``a = b`` for a zero margin)."""
    if X is None:
        return [f"comparison {k}" for k in range(m)]
    X = np.asarray(X)
    if X.ndim != 2 or X.shape != (m, 2):
        raise ValueError(
            f"X must be the (n_comparisons, 2) array of item pairs the ranker was fitted on: "
            f"the path has {m} comparisons, X has shape {X.shape}."
        )
    sign = np.ones(m) if y is None else np.sign(np.asarray(y, dtype=float).reshape(-1))
    if sign.shape[0] != m:
        raise ValueError(f"y must give one outcome per comparison ({m}); got {sign.shape[0]}.")
    return [f"{a} > {b}" if s > 0 else f"{b} > {a}" if s < 0 else f"{a} = {b}"
            for (a, b), s in zip(X, sign)]


def _estimator_view(estimator, *, X, y, feature_names, default_names, transform, quantity,
                    standardize):
    """What to draw for a fitted estimator: its path, coefficient names, the time it
    chose (or None), the y-axis label and the scale of each coefficient."""
    kind = type(estimator).__name__
    path = getattr(estimator, "regularization_path_", None)
    if path is None:
        raise ValueError(
            f"{kind} has no regularization_path_: pass a fitted sparsestat path estimator "
            "(e.g. LBIRegressor, LBIRegressorCV), or call fit first."
        )
    if quantity not in ("auto", "gamma", "beta"):
        raise ValueError(f"quantity must be 'auto', 'gamma' or 'beta'; got {quantity!r}.")
    t_auto = float(estimator.t_) if hasattr(estimator, "cv_scores_") else None
    n_coefs = np.asarray(path.entry_times).shape[0]
    gamma_path = getattr(estimator, "gamma_path_", None)
    samplewise = hasattr(estimator, "stop_time_") and sp.issparse(path.coefs)
    comparisons = hasattr(estimator, "items_") and hasattr(estimator, "outliers_")
    shifts = samplewise or comparisons
    if quantity == "gamma" and gamma_path is None and not shifts:
        raise ValueError(f"quantity='gamma' needs a Split LBI fit (D given); {kind} has none.")
    if quantity == "beta" and (gamma_path is None or shifts):
        quantity = "auto"  # the path is the beta path already
    if standardize and (shifts or (gamma_path is not None and quantity != "beta")):
        raise ValueError(
            "standardize=True rescales feature coefficients; this path holds shifts or "
            "gamma = D beta. Use quantity='beta' for a Split LBI fit, or standardize=False."
        )

    def names_for(n):
        if feature_names is not None:
            return feature_names
        if default_names is not None and len(default_names) == n:
            return list(default_names)
        return None

    if samplewise:  # one shift per data row, numbered from 1 as in the data file
        names = feature_names or [f"row {i + 1}" for i in range(n_coefs)]
        return path, names, float(estimator.stop_time_), r"shift $\gamma_i$", None
    if comparisons:
        if X is None and hasattr(estimator, "pairs_"):  # the ranker keeps its comparisons
            X, y = estimator.items_[estimator.pairs_], estimator.outcomes_
        names = feature_names or _comparison_names(X, y, n_coefs)
        return path, names, t_auto, r"shift $\gamma$", None
    if gamma_path is not None and quantity != "beta":
        beta_names = names_for(n_coefs) or [f"x{j}" for j in range(n_coefs)]
        names = _structure_names(estimator.D, beta_names)
        return gamma_path, names, t_auto, r"$\gamma = D\beta$", None
    names = names_for(n_coefs)
    if standardize:
        scale = _column_scale(X, transform, n_coefs)
        return path, names, t_auto, "standardized coefficient (coefficient x feature sd)", scale
    return path, names, t_auto, "coefficient", None


class RegularizationPathDisplay:
    """Coefficient paths against the time ``t`` (``1 / lambda``) on a log axis.

    Each coefficient is one line. The first ``n_labels`` coefficients to enter
    the path are labelled right of their lines' ends, in entry order, with
    evenly spaced colours of the perceptual colormap viridis (so labelled lines
    never share a colour); when the coefficient largest in absolute value at
    the end of the path entered later, it is labelled too. Other coefficients
    are drawn in grey. Labels stay inside the axes: the time axis is extended
    to make room for them. A vertical line marks a chosen time (the
    cross-validated ``t_`` of :class:`~sparsestat.LBIRegressorCV` /
    :class:`~sparsestat.LBIClassifierCV`, the stopping time of
    :class:`~sparsestat.MeanShiftOutlierDetector`). A path with several targets
    (multi-output regression, one column per class of a multinomial
    classifier) is drawn as one panel per target.

    Build it with :meth:`from_estimator` or :meth:`from_path`; the constructor
    only stores the data. Call :meth:`plot` to draw.

    Parameters
    ----------
    times : array-like of shape (n_times,)
        Increasing, positive record times.
    coefs : array-like of shape (n_times, n_coefs) or (n_times, n_coefs, n_targets)
        Coefficients at each record time.
    entry_times : array-like of shape (n_coefs,) or (n_coefs, n_targets)
        Entry time of each coefficient (``np.inf``: never entered; ``np.nan``:
        not recorded, read as the first record time where it is nonzero).
    feature_names : sequence of str of length n_coefs, default=None
        Names used for the labels (``None``: ``x0, x1, ...``).
    t_chosen : float, default=None
        Time marked by a vertical line (``None``: no line).
    interpolation : {'linear', 'previous'}, default='linear'
        ``'previous'`` draws piecewise-constant (step) paths, as the exact ISS
        path is.
    estimator_name : str, default=None
        Title of the plot.
    target_names : sequence of str of length n_targets, default=None
        Panel titles for a multi-target path.
    ylabel : str, default='coefficient'
        Label of the y-axis.

    Attributes
    ----------
    ax_ : matplotlib Axes or ndarray of Axes
        The axes drawn on (an array of shape (n_targets,) for a multi-target path).
    figure_ : matplotlib Figure
        The figure holding the axes.
    lines_ : ndarray of matplotlib Line2D, shape (n_coefs,) or (n_coefs, n_targets)
        ``lines_[j]`` is the path of coefficient ``j``.
    texts_ : list of matplotlib Text, or one such list per target
        The labels, in entry order.
    labelled_ : ndarray of int, or one such array per target
        The coefficients that carry the labels of ``texts_``.
    vline_ : matplotlib Line2D, ndarray of Line2D or None
        The line at ``t_chosen``.

    See Also
    --------
    CVPathDisplay : The cross-validated error along the path.
    sparsestat.RegularizationPath : The path object this display draws.
    sklearn.metrics.RocCurveDisplay : The Display pattern this class follows.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_diabetes
    >>> from sparsestat import LBIRegressorCV
    >>> from sparsestat.plotting import RegularizationPathDisplay
    >>> data = load_diabetes()
    >>> reg = LBIRegressorCV(cv=5).fit(data.data, data.target)
    >>> disp = RegularizationPathDisplay.from_estimator(
    ...     reg, feature_names=data.feature_names, n_labels=3)
    >>> [text.get_text() for text in disp.texts_]
    ['bmi', 's5', 'bp']
    >>> bool(disp.vline_.get_xdata()[0] == reg.t_)
    True
    """

    def __init__(self, times, coefs, entry_times, feature_names=None, t_chosen=None,
                 interpolation="linear", estimator_name=None, target_names=None,
                 ylabel="coefficient"):
        self.times = times
        self.coefs = coefs
        self.entry_times = entry_times
        self.feature_names = feature_names
        self.t_chosen = t_chosen
        self.interpolation = interpolation
        self.estimator_name = estimator_name
        self.target_names = target_names
        self.ylabel = ylabel

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_path(cls, path, *, ax=None, n_labels: int = 10,
                  feature_names: Sequence[str] | None = None, t_chosen: float | None = None,
                  target: int | None = None, name: str | None = None,
                  target_names: Sequence[str] | None = None, scale=None,
                  ylabel: str = "coefficient", **kwargs: Any) -> "RegularizationPathDisplay":
        """Draw a :class:`~sparsestat.RegularizationPath`.

        Parameters
        ----------
        path : RegularizationPath
            The path, e.g. an estimator's ``regularization_path_``. A path
            stored sparsely (one coefficient per sample) is drawn for the
            coefficients that entered only; the others stay zero.
        ax : matplotlib Axes or array of Axes, default=None
            Where to draw (``None``: a new figure). A multi-target path drawn
            without ``target`` needs one Axes per target.
        n_labels : int, default=10
            How many of the earliest-entering coefficients get a label.
        feature_names : sequence of str, default=None
            One name per coefficient of the path (``None``: ``x0, x1, ...``;
            for a path stored sparsely, one per data row: ``row 1, row 2, ...``).
        t_chosen : float, default=None
            Time to mark with a vertical line.
        target : int, default=None
            For a multi-target path, draw only this target (column).
        name : str, default=None
            Title of the plot.
        target_names : sequence of str, default=None
            Panel titles for a multi-target path.
        scale : array-like of shape (n_coefs,), default=None
            Multiply each coefficient's path by this factor before drawing
            (e.g. the standard deviations of the features, to compare
            coefficients in common units).
        ylabel : str, default='coefficient'
            Label of the y-axis.
        **kwargs : dict
            Passed to :meth:`plot` (and from there to ``Axes.plot``).

        Returns
        -------
        display : RegularizationPathDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sparsestat import LBIRegressor
        >>> from sparsestat.plotting import RegularizationPathDisplay
        >>> rng = np.random.default_rng(0)
        >>> X = rng.standard_normal((80, 6))
        >>> y = 3 * X[:, 2] - 2 * X[:, 5] + 0.5 * rng.standard_normal(80)
        >>> path = LBIRegressor(solver="iss").fit(X, y).regularization_path_
        >>> disp = RegularizationPathDisplay.from_path(path, n_labels=2)
        >>> [text.get_text() for text in disp.texts_]
        ['x2', 'x5']
        >>> np.allclose(disp.lines_[2].get_ydata(), path.coefs[:, 2])
        True
        """
        _import_pyplot()
        times = np.asarray(path.times, dtype=float)
        entry_times = np.asarray(path.entry_times, dtype=float)
        n_coefs = entry_times.shape[0]
        names = _check_feature_names(feature_names, n_coefs)
        if scale is not None:
            scale = np.asarray(scale, dtype=float).reshape(-1)
            if scale.shape[0] != n_coefs or not np.all(np.isfinite(scale)):
                raise ValueError(
                    f"scale must hold {n_coefs} finite numbers, one per coefficient; got "
                    f"{scale.shape[0]}.")
        if sp.issparse(path.coefs):
            entered = np.isfinite(entry_times)
            if entered.ndim > 1:
                entered = entered.any(axis=1)
            idx = np.flatnonzero(entered)
            coefs = np.asarray(path.coefs_of(idx), dtype=float)
            entry_times = entry_times[idx]
            # a path stored sparsely has one coefficient per sample (e.g. mean shifts)
            names = [names[i] for i in idx] if names is not None else \
                [f"row {i + 1}" for i in idx]
            scale = None if scale is None else scale[idx]
        else:
            coefs = np.asarray(path.coefs, dtype=float)
        if scale is not None:
            coefs = coefs * (scale[None, :, None] if coefs.ndim == 3 else scale[None, :])
        all_target_names = target_names
        coefs, entry_times, target_names = _select_target(
            coefs, entry_times, target, target_names)
        if target is not None and all_target_names is not None:
            label = str(list(all_target_names)[target])
            name = f"{name}: {label}" if name else label
        disp = cls(times, coefs, entry_times, feature_names=names, t_chosen=t_chosen,
                   interpolation=getattr(path, "interpolation", "linear"),
                   estimator_name=name, target_names=target_names, ylabel=ylabel)
        return disp.plot(ax=ax, n_labels=n_labels, **kwargs)

    @classmethod
    def from_estimator(cls, estimator, X=None, y=None, *, ax=None, n_labels: int = 10,
                       feature_names: Sequence[str] | None = None, target: int | None = None,
                       t_chosen: float | str | None = "auto", name: str | None = None,
                       standardize: bool = False, quantity: str = "auto",
                       **kwargs: Any) -> "RegularizationPathDisplay":
        """Draw the path of a fitted estimator that has ``regularization_path_``.

        What is drawn follows the model:

        - LBI estimators: the coefficients ``beta`` (``standardize=True``:
          times the standard deviation of their feature, so that they compare
          across units).
        - Split LBI (``LBIRegressor(D=...)``): the structured quantity
          ``gamma = D beta``, one line per row of ``D``, named ``a - b`` for a
          difference of two features (``quantity='beta'`` draws ``beta``).
        - :class:`~sparsestat.MeanShiftOutlierDetector`: the shift of each
          data row, named ``row 1, row 2, ...`` (1-based), with the stopping
          time ``stop_time_`` marked.
        - :class:`~sparsestat.RobustPairwiseRanker`: the shift of each
          comparison, named ``winner > loser`` from the pairs and outcomes it
          was fitted on (``pairs_``, ``outcomes_``).

        Parameters
        ----------
        estimator : estimator or Pipeline
            Fitted; a :class:`~sklearn.pipeline.Pipeline` is drawn through its
            final step.
        X : array-like, default=None
            The data the estimator was fitted on. Needed for
            ``standardize=True`` (the features' standard deviations, after the
            Pipeline's preprocessing). For a ranker, the pairs to name its
            comparisons by (default: the ones it was fitted on).
        y : array-like, default=None
            A ranker's outcomes, to put the winner first in the labels (default:
            the ones it was fitted on).
        ax : matplotlib Axes or array of Axes, default=None
            Where to draw (``None``: a new figure).
        n_labels : int, default=10
            How many of the earliest-entering coefficients get a label.
        feature_names : sequence of str, default=None
            Names of the path's coefficients (``None``: the estimator's
            ``feature_names_in_`` when it was fitted on a DataFrame, else
            ``x0, x1, ...``).
        target : int, default=None
            For a multi-output or multinomial path, draw only this target
            (class column); ``None`` draws one panel per target.
        t_chosen : float, 'auto' or None, default='auto'
            Time to mark. ``'auto'``: the cross-validated ``t_`` when the
            estimator has ``cv_scores_``, the stopping time ``stop_time_`` of
            a mean-shift detector, otherwise no line.
        name : str, default=None
            Title (``None``: the estimator's class name).
        standardize : bool, default=False
            Draw each coefficient times the standard deviation of its feature
            in ``X`` (the effect of a one-sd change), so that coefficients of
            features in different units compare.
        quantity : {'auto', 'gamma', 'beta'}, default='auto'
            For a Split LBI fit: ``'auto'`` and ``'gamma'`` draw ``gamma = D
            beta``, ``'beta'`` the coefficients.
        **kwargs : dict
            Passed to :meth:`plot` (and from there to ``Axes.plot``).

        Returns
        -------
        display : RegularizationPathDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_iris
        >>> from sparsestat import LBIClassifier
        >>> from sparsestat.plotting import RegularizationPathDisplay
        >>> iris = load_iris()
        >>> clf = LBIClassifier(t_ratio=20).fit(iris.data, iris.target)
        >>> disp = RegularizationPathDisplay.from_estimator(
        ...     clf, feature_names=iris.feature_names, n_labels=2)
        >>> disp.ax_.shape, disp.lines_.shape
        ((3,), (4, 3))
        >>> disp.ax_[0].get_title()
        'LBIClassifier: class 0'
        >>> disp = RegularizationPathDisplay.from_estimator(clf, iris.data, standardize=True)
        >>> disp.ax_[0].get_ylabel()
        'standardized coefficient (coefficient x feature sd)'
        """
        _import_pyplot()
        path_estimator, default_names, transform = _unwrap_estimator(estimator)
        path, names, t_auto, ylabel, scale = _estimator_view(
            path_estimator, X=X, y=y, feature_names=feature_names,
            default_names=default_names, transform=transform, quantity=quantity,
            standardize=standardize)
        if isinstance(t_chosen, str):
            if t_chosen != "auto":
                raise ValueError(f"t_chosen must be a float, None or 'auto'; got {t_chosen!r}.")
            t_chosen = t_auto
        entry = np.asarray(path.entry_times)
        target_names = None
        if entry.ndim > 1 and entry.shape[1] > 1:
            target_names = _target_names_of(path_estimator, entry.shape[1])
        return cls.from_path(
            path, ax=ax, n_labels=n_labels, feature_names=names, t_chosen=t_chosen,
            target=target, name=name or type(path_estimator).__name__,
            target_names=target_names, scale=scale, ylabel=ylabel, **kwargs)

    # ------------------------------------------------------------------ drawing
    def plot(self, ax=None, *, n_labels: int = 10, vline_kwargs: dict | None = None,
             label_kwargs: dict | None = None, **kwargs: Any) -> "RegularizationPathDisplay":
        """Draw the paths.

        Parameters
        ----------
        ax : matplotlib Axes or array of Axes, default=None
            Where to draw (``None``: a new figure). A multi-target display
            needs one Axes per target.
        n_labels : int, default=10
            How many of the earliest-entering coefficients get a label right
            of their line (coefficients that never entered get none). The
            coefficient largest in absolute value at the end of the path is
            labelled as well when it entered later.
        vline_kwargs : dict, default=None
            Passed to ``Axes.axvline`` for the chosen-time line.
        label_kwargs : dict, default=None
            Passed to ``Axes.text`` for the labels.
        **kwargs : dict
            Passed to ``Axes.plot`` for every path line.

        Returns
        -------
        display : RegularizationPathDisplay
            ``self``, with ``ax_``, ``figure_``, ``lines_``, ``texts_``,
            ``labelled_`` and ``vline_`` set. Coefficients with entry time 0
            (unpenalized, ``penalty_factor=0``: in the model from the start)
            are drawn dashed.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from sparsestat.plotting import RegularizationPathDisplay
        >>> times = np.array([1.0, 2.0, 4.0])
        >>> coefs = np.array([[0.0, 0.0], [1.0, 0.0], [1.5, -0.5]])
        >>> disp = RegularizationPathDisplay(
        ...     times, coefs, entry_times=np.array([1.0, 2.0]),
        ...     feature_names=["a", "b"], t_chosen=2.0)
        >>> fig, ax = plt.subplots()
        >>> disp = disp.plot(ax=ax, n_labels=1, linewidth=2)
        >>> [text.get_text() for text in disp.texts_], ax.get_xscale()
        (['a'], 'log')
        >>> plt.close(fig)
        """
        plt = _import_pyplot()
        times, coefs, entry = self._validated()
        if not isinstance(n_labels, Integral) or n_labels < 0:
            raise ValueError(f"n_labels must be a non-negative integer; got {n_labels!r}.")
        n_coefs = coefs.shape[1]
        names = _check_feature_names(self.feature_names, n_coefs)
        if names is None:
            names = [f"x{j}" for j in range(n_coefs)]

        multi = coefs.ndim == 3
        n_panels = coefs.shape[2] if multi else 1
        axes = self._axes(ax, n_panels, plt)
        lines = np.empty((n_coefs, n_panels), dtype=object)
        texts, labelled, vlines = [], [], np.empty(n_panels, dtype=object)
        target_names = self.target_names
        if multi and target_names is None:
            target_names = [f"target {k}" for k in range(n_panels)]
        for k, axis in enumerate(axes):
            panel_coefs = coefs[:, :, k] if multi else coefs
            panel_entry = entry[:, k] if multi else entry
            chosen = _labelled(panel_entry, panel_coefs[-1], n_labels)
            colours = _label_colours(chosen.size)
            lines[:, k] = self._draw_lines(axis, times, panel_coefs, panel_entry,
                                           dict(zip(chosen, colours)), names, kwargs)
            for j in np.flatnonzero(panel_entry == 0):  # unpenalized: in from the start
                lines[j, k].set_linestyle("--")
            vlines[k] = self._draw_vline(axis, vline_kwargs)
            self._decorate(axis, times, target_names[k] if multi else None)
            texts.append(_place_labels(axis, float(times[-1]), panel_coefs[-1, chosen],
                                       [names[j] for j in chosen], colours, label_kwargs))
            labelled.append(chosen)

        if multi:
            self.ax_ = np.asarray(axes, dtype=object)
            self.lines_ = lines
            self.texts_ = texts
            self.labelled_ = labelled
            self.vline_ = vlines if self.t_chosen is not None else None
        else:
            self.ax_ = axes[0]
            self.lines_ = lines[:, 0]
            self.texts_ = texts[0]
            self.labelled_ = labelled[0]
            self.vline_ = vlines[0]
        self.figure_ = axes[0].figure
        return self

    # ------------------------------------------------------------------ helpers
    def _validated(self):
        times = np.asarray(self.times, dtype=float)
        coefs = np.asarray(self.coefs, dtype=float)
        entry = np.asarray(self.entry_times, dtype=float)
        if times.ndim != 1 or times.shape[0] < 1:
            raise ValueError(f"times must be a non-empty 1-D array; got shape {times.shape}.")
        if not np.all(np.isfinite(times)) or np.any(times <= 0):
            raise ValueError("times must be finite and positive: the time axis is logarithmic.")
        if np.any(np.diff(times) < 0):
            raise ValueError("times must be increasing.")
        if coefs.ndim not in (2, 3) or coefs.shape[0] != times.shape[0]:
            raise ValueError(
                "coefs must have shape (n_times, n_coefs) or (n_times, n_coefs, n_targets) "
                f"with n_times={times.shape[0]}; got shape {coefs.shape}."
            )
        if entry.shape != coefs.shape[1:]:
            raise ValueError(
                f"entry_times must have shape {coefs.shape[1:]} (one per coefficient and "
                f"target); got shape {entry.shape}."
            )
        if np.any(np.isnan(entry)):  # not recorded: the first record time with a nonzero value
            nonzero = coefs != 0
            first = np.where(nonzero.any(axis=0), times[np.argmax(nonzero, axis=0)], np.inf)
            entry = np.where(np.isnan(entry), first, entry)
        if self.interpolation not in ("linear", "previous"):
            raise ValueError(
                f"interpolation must be 'linear' or 'previous'; got {self.interpolation!r}.")
        if self.t_chosen is not None and (not isinstance(self.t_chosen, Real)
                                          or not np.isfinite(self.t_chosen)
                                          or self.t_chosen <= 0):
            raise ValueError(f"t_chosen must be a positive number or None; got {self.t_chosen!r}.")
        return times, coefs, entry

    def _axes(self, ax, n_panels, plt):
        if ax is None:
            if n_panels == 1:
                _, axis = plt.subplots(layout="constrained")
                return [axis]
            ncols = min(n_panels, 3)
            nrows = -(-n_panels // ncols)
            fig, axes = plt.subplots(nrows, ncols, figsize=(4.8 * ncols, 4.0 * nrows),
                                     layout="constrained", squeeze=False)
            for extra in axes.ravel()[n_panels:]:
                extra.set_visible(False)
            return list(axes.ravel()[:n_panels])
        axes = list(np.ravel(np.asarray(ax, dtype=object)))
        if len(axes) != n_panels:
            raise ValueError(
                f"The path has {n_panels} target(s), so ax must hold {n_panels} Axes; got "
                f"{len(axes)}. Pass target=k to draw one target on a single Axes."
            )
        return axes

    def _draw_lines(self, axis, times, coefs, entry, colours, names, kwargs):
        """One line per coefficient: labelled ones in their colour, the others grey."""
        drawstyle = "steps-post" if self.interpolation == "previous" else "default"
        lines = []
        for j in range(coefs.shape[1]):
            style = {"drawstyle": drawstyle, "label": names[j]}
            if j in colours:
                style.update(color=colours[j], linewidth=1.6, zorder=3)
            elif np.isfinite(entry[j]):
                style.update(color=_ENTERED_GREY, linewidth=0.9, zorder=2)
            else:  # never entered: a flat, quiet line
                style.update(color=_NEVER_GREY, linewidth=0.8, zorder=1)
            style.update(kwargs)
            (line,) = axis.plot(times, coefs[:, j], **style)
            lines.append(line)
        axis.axhline(0.0, color="0.5", linewidth=0.6, zorder=0)
        return lines

    def _decorate(self, axis, times, target_name):
        _log_time_axis(axis, times)
        axis.set_ylabel(self.ylabel)
        title = self.estimator_name or ""
        if target_name is not None:
            title = f"{title}: {target_name}" if title else str(target_name)
        if title:
            axis.set_title(title)

    def _draw_vline(self, axis, vline_kwargs):
        if self.t_chosen is None:
            return None
        style = {"color": "k", "linestyle": "--", "linewidth": 1.0,
                 "label": f"chosen t = {self.t_chosen:.3g}"}
        style.update(vline_kwargs or {})
        vline = axis.axvline(float(self.t_chosen), **style)
        axis.legend(handles=[vline], loc="upper left", fontsize="small", frameon=False)
        return vline


def _log_time_axis(axis, times):
    from matplotlib.ticker import LogFormatter, NullFormatter

    axis.set_xscale("log")
    if times[-1] >= 10.0 * times[0]:  # a decade or more: label the decades only
        axis.xaxis.set_minor_formatter(NullFormatter())
    else:  # less: plain numbers (not 4 x 10^0), thinned where they would crowd
        axis.xaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
        axis.xaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))
    axis.set_xlabel(_TIME_LABEL)


def _check_feature_names(feature_names, n_coefs: int):
    if feature_names is None:
        return None
    names = [str(name) for name in feature_names]
    if len(names) != n_coefs:
        raise ValueError(
            f"feature_names must give one name per coefficient: the path has {n_coefs} "
            f"coefficients but {len(names)} names were given."
        )
    return names


# scoring -> (name of the error, sign, offset): error = offset + sign * score
_CV_ERRORS = {
    "neg_mean_squared_error": ("mean squared error", -1.0, 0.0),
    "neg_mean_absolute_error": ("mean absolute error", -1.0, 0.0),
    "r2": ("1 - R^2", -1.0, 1.0),
    "neg_log_loss": ("log loss", -1.0, 0.0),
    "accuracy": ("misclassification rate", -1.0, 1.0),
}


def _cv_error_of(estimator):
    """Name, sign and offset that turn the estimator's validation score into an error."""
    scoring = getattr(estimator, "scoring", None)
    if scoring is None:
        scoring = "neg_log_loss" if hasattr(estimator, "classes_") else "neg_mean_squared_error"
    if scoring not in _CV_ERRORS:
        raise ValueError(f"No CV error is known for scoring={scoring!r}.")
    return _CV_ERRORS[scoring]


class CVPathDisplay:
    """Cross-validated error along the path, with its standard-error band.

    The mean validation error over the folds at every time of the shared grid
    of :class:`~sparsestat.LBIRegressorCV` / :class:`~sparsestat.LBIClassifierCV`,
    a band of one standard error around it, and the two chosen times: the
    minimum of the mean error and the earliest (sparsest) time within one
    standard error of it (the one-standard-error rule). The score the
    estimator maximizes is shown as an error: mean squared or absolute error,
    ``1 - R^2``, log loss, or misclassification rate.

    Build it with :meth:`from_estimator`; the constructor only stores the data.

    Parameters
    ----------
    times : array-like of shape (n_times,)
        Increasing, positive times.
    mean_errors : array-like of shape (n_times,)
        Mean validation error over the folds.
    standard_errors : array-like of shape (n_times,)
        Standard error of the mean error.
    t_best : float, default=None
        Time of the smallest mean error (marked by a dashed line).
    t_1se : float, default=None
        Time chosen by the one-standard-error rule (marked by a dotted line).
    error_name : str, default='error'
        What the error is (the y-axis reads ``CV <error_name>``).
    estimator_name : str, default=None
        Title of the plot.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes drawn on.
    figure_ : matplotlib Figure
        The figure holding the axes.
    line_ : matplotlib Line2D
        The mean error.
    band_ : matplotlib PolyCollection
        The band from ``mean - se`` to ``mean + se``.
    vline_best_, vline_1se_ : matplotlib Line2D or None
        The lines at ``t_best`` and ``t_1se``.

    See Also
    --------
    RegularizationPathDisplay : The path whose stopping time is chosen here.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_diabetes
    >>> from sparsestat import LBIRegressorCV
    >>> from sparsestat.plotting import CVPathDisplay
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = LBIRegressorCV(cv=5).fit(X, y)
    >>> disp = CVPathDisplay.from_estimator(reg)
    >>> disp.ax_.get_ylabel()
    'CV mean squared error'
    >>> bool(disp.vline_best_.get_xdata()[0] == reg.t_best_)
    True
    >>> bool(disp.vline_1se_.get_xdata()[0] <= reg.t_best_)
    True
    """

    def __init__(self, times, mean_errors, standard_errors, t_best=None, t_1se=None,
                 error_name="error", estimator_name=None):
        self.times = times
        self.mean_errors = mean_errors
        self.standard_errors = standard_errors
        self.t_best = t_best
        self.t_1se = t_1se
        self.error_name = error_name
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name: str | None = None,
                       **kwargs: Any) -> "CVPathDisplay":
        """Draw the cross-validation curve of a fitted CV path estimator.

        Parameters
        ----------
        estimator : LBIRegressorCV, LBIClassifierCV or Pipeline
            Fitted (a Pipeline is drawn through its final step).
        ax : matplotlib Axes, default=None
            Where to draw (``None``: a new figure).
        name : str, default=None
            Title (``None``: the estimator's class name).
        **kwargs : dict
            Passed to :meth:`plot` (and from there to ``Axes.plot``).

        Returns
        -------
        display : CVPathDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sparsestat import LBIClassifierCV
        >>> from sparsestat.plotting import CVPathDisplay
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> clf = LBIClassifierCV(cv=3, kappa=2.0, t_ratio=300, n_times=30,
        ...                       scoring="accuracy").fit(X, y)
        >>> CVPathDisplay.from_estimator(clf).ax_.get_ylabel()
        'CV misclassification rate'
        """
        _import_pyplot()
        estimator, _, _ = _unwrap_estimator(estimator)
        if not hasattr(estimator, "cv_scores_"):
            raise ValueError(
                f"{type(estimator).__name__} has no cv_scores_: pass a fitted LBIRegressorCV or "
                "LBIClassifierCV (or call fit first)."
            )
        error_name, sign, offset = _cv_error_of(estimator)
        scores = np.asarray(estimator.cv_scores_, dtype=float)
        if hasattr(estimator, "cv_standard_errors_"):
            se = np.asarray(estimator.cv_standard_errors_, dtype=float)
        else:  # the standard error of the folds' mean, as the estimator computes it
            se = (scores.std(axis=0, ddof=1) / np.sqrt(scores.shape[0]) if scores.shape[0] > 1
                  else np.zeros(scores.shape[1]))
        disp = cls(estimator.times_, offset + sign * scores.mean(axis=0), se,
                   t_best=getattr(estimator, "t_best_", None),
                   t_1se=getattr(estimator, "t_1se_", None), error_name=error_name,
                   estimator_name=name or type(estimator).__name__)
        return disp.plot(ax=ax, **kwargs)

    def plot(self, ax=None, *, band_kwargs: dict | None = None,
             vline_kwargs: dict | None = None, **kwargs: Any) -> "CVPathDisplay":
        """Draw the curve, its band and the chosen times.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw (``None``: a new figure).
        band_kwargs : dict, default=None
            Passed to ``Axes.fill_between`` for the standard-error band.
        vline_kwargs : dict, default=None
            Passed to ``Axes.axvline`` for both chosen-time lines.
        **kwargs : dict
            Passed to ``Axes.plot`` for the mean error.

        Returns
        -------
        display : CVPathDisplay
            ``self``, with ``ax_``, ``figure_``, ``line_``, ``band_``,
            ``vline_best_`` and ``vline_1se_`` set.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sparsestat.plotting import CVPathDisplay
        >>> disp = CVPathDisplay(np.array([1.0, 2.0, 4.0]), np.array([3.0, 1.0, 1.2]),
        ...                      np.array([0.2, 0.1, 0.1]), t_best=2.0, t_1se=2.0).plot()
        >>> disp.line_.get_ydata().tolist()
        [3.0, 1.0, 1.2]
        """
        plt = _import_pyplot()
        times, mean, se = self._validated()
        if ax is None:
            _, ax = plt.subplots(layout="constrained")
        style = {"color": "C3", "marker": "o", "markersize": 3, "linewidth": 1.4,
                 "label": "mean over folds"}
        style.update(kwargs)
        (self.line_,) = ax.plot(times, mean, **style)
        band = {"color": style["color"], "alpha": 0.2, "linewidth": 0,
                "label": "± 1 standard error"}
        band.update(band_kwargs or {})
        self.band_ = ax.fill_between(times, mean - se, mean + se, **band)
        self.vline_best_ = self._vline(ax, self.t_best, "--", "minimum", vline_kwargs)
        self.vline_1se_ = self._vline(ax, self.t_1se, ":", "one standard error", vline_kwargs)
        _log_time_axis(ax, times)
        ax.set_ylabel(f"CV {self.error_name}")
        if self.estimator_name:
            ax.set_title(self.estimator_name)
        ax.legend(fontsize="small", frameon=False)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @staticmethod
    def _vline(ax, t, linestyle, rule, vline_kwargs):
        if t is None:
            return None
        style = {"color": "k", "linestyle": linestyle, "linewidth": 1.0,
                 "label": f"{rule}: t = {t:.3g}"}
        style.update(vline_kwargs or {})
        return ax.axvline(float(t), **style)

    def _validated(self):
        times = np.asarray(self.times, dtype=float)
        mean = np.asarray(self.mean_errors, dtype=float)
        se = np.asarray(self.standard_errors, dtype=float)
        if times.ndim != 1 or times.shape[0] < 1:
            raise ValueError(f"times must be a non-empty 1-D array; got shape {times.shape}.")
        if not np.all(np.isfinite(times)) or np.any(times <= 0) or np.any(np.diff(times) < 0):
            raise ValueError("times must be finite, positive and increasing: the time axis is "
                             "logarithmic.")
        if mean.shape != times.shape or se.shape != times.shape:
            raise ValueError(
                f"mean_errors and standard_errors must have shape {times.shape}, one value per "
                f"time; got {mean.shape} and {se.shape}."
            )
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(se))) or np.any(se < 0):
            raise ValueError("mean_errors and standard_errors must be finite, and standard "
                             "errors non-negative.")
        for t in (self.t_best, self.t_1se):
            if t is not None and not (isinstance(t, Real) and np.isfinite(t) and t > 0):
                raise ValueError(f"t_best and t_1se must be positive numbers or None; got {t!r}.")
        return times, mean, se


def _select_target(coefs, entry_times, target, target_names):
    """Keep one target column, squeeze a single one, or keep them all."""
    if coefs.ndim == 2:
        if entry_times.ndim == 2 and entry_times.shape[1] == 1:  # a squeezed single target
            entry_times = entry_times[:, 0]
        if target not in (None, 0):
            raise ValueError(f"The path has a single target; got target={target!r}.")
        return coefs, entry_times, None
    n_targets = coefs.shape[2]
    if target_names is not None and len(target_names) != n_targets:
        raise ValueError(
            f"target_names must give one name per target: the path has {n_targets} targets "
            f"but {len(target_names)} names were given."
        )
    if target is None:
        if n_targets == 1:
            return coefs[:, :, 0], entry_times[:, 0], None
        return coefs, entry_times, target_names
    if not isinstance(target, Integral) or not -n_targets <= target < n_targets:
        raise ValueError(
            f"target must be an integer in [0, {n_targets}) for this path with {n_targets} "
            f"targets; got {target!r}."
        )
    return coefs[:, :, target], entry_times[:, target], None
