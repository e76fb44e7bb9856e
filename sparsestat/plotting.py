"""Pictures of regularization paths.

:class:`RegularizationPathDisplay` follows scikit-learn's Display pattern
(``from_estimator`` / ``from_path`` build it, ``plot`` draws it). matplotlib is
imported only when something is drawn, so ``import sparsestat.plotting``
works without it.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

_INSTALL_HINT = 'pip install "sparsestat[plot]"'


def _import_pyplot():
    """Import ``matplotlib.pyplot`` or say how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised with matplotlib hidden
        raise ImportError(
            "RegularizationPathDisplay needs matplotlib, which is not installed. "
            f"Install it with: {_INSTALL_HINT}"
        ) from exc
    return plt


def _unwrap_estimator(estimator):
    """The path estimator inside a Pipeline (or the estimator itself), and feature names."""
    names = None
    steps = getattr(estimator, "steps", None)
    if steps is not None and hasattr(estimator, "__getitem__"):
        final = estimator[-1]
        if len(steps) > 1:
            try:
                names = np.asarray(estimator[:-1].get_feature_names_out(), dtype=object)
            except Exception:  # preprocessing without feature names: use the defaults
                names = None
        estimator = final
    if names is None and hasattr(estimator, "feature_names_in_"):
        names = np.asarray(estimator.feature_names_in_, dtype=object)
    return estimator, names


def _target_names_of(estimator, n_targets: int):
    classes = getattr(estimator, "classes_", None)
    if classes is not None and len(classes) == n_targets:
        return [f"class {c}" for c in classes]
    return [f"target {k}" for k in range(n_targets)]


class RegularizationPathDisplay:
    """Coefficient paths against the time ``t`` (``1 / lambda``) on a log axis.

    Each coefficient is one line. The first ``n_labels`` coefficients to enter
    the path are labelled at the right edge, in entry order, and a vertical
    line marks a chosen time (the cross-validated ``t_`` of
    :class:`~sparsestat.LBIRegressorCV` / :class:`~sparsestat.LBIClassifierCV`).
    A path with several targets (multi-output regression, one column per class
    of a multinomial classifier) is drawn as one panel per target.

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

    Attributes
    ----------
    ax_ : matplotlib Axes or ndarray of Axes
        The axes drawn on (an array of shape (n_targets,) for a multi-target path).
    figure_ : matplotlib Figure
        The figure holding the axes.
    lines_ : ndarray of matplotlib Line2D, shape (n_coefs,) or (n_coefs, n_targets)
        ``lines_[j]`` is the path of coefficient ``j``.
    texts_ : list of matplotlib Text, or one such list per target
        The entry-order labels, earliest entry first.
    vline_ : matplotlib Line2D, ndarray of Line2D or None
        The line at ``t_chosen``.

    See Also
    --------
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
                 interpolation="linear", estimator_name=None, target_names=None):
        self.times = times
        self.coefs = coefs
        self.entry_times = entry_times
        self.feature_names = feature_names
        self.t_chosen = t_chosen
        self.interpolation = interpolation
        self.estimator_name = estimator_name
        self.target_names = target_names

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_path(cls, path, *, ax=None, n_labels: int = 10,
                  feature_names: Sequence[str] | None = None, t_chosen: float | None = None,
                  target: int | None = None, name: str | None = None,
                  target_names: Sequence[str] | None = None,
                  **kwargs: Any) -> "RegularizationPathDisplay":
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
            One name per coefficient of the path.
        t_chosen : float, default=None
            Time to mark with a vertical line.
        target : int, default=None
            For a multi-target path, draw only this target (column).
        name : str, default=None
            Title of the plot.
        target_names : sequence of str, default=None
            Panel titles for a multi-target path.
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
        if sp.issparse(path.coefs):
            entered = np.isfinite(entry_times)
            if entered.ndim > 1:
                entered = entered.any(axis=1)
            idx = np.flatnonzero(entered)
            coefs = np.asarray(path.coefs_of(idx), dtype=float)
            entry_times = entry_times[idx]
            # a path stored sparsely has one coefficient per sample (e.g. mean shifts)
            names = [names[i] for i in idx] if names is not None else \
                [f"sample {i}" for i in idx]
        else:
            coefs = np.asarray(path.coefs, dtype=float)
        all_target_names = target_names
        coefs, entry_times, target_names = _select_target(
            coefs, entry_times, target, target_names)
        if target is not None and all_target_names is not None:
            label = str(list(all_target_names)[target])
            name = f"{name}: {label}" if name else label
        disp = cls(times, coefs, entry_times, feature_names=names, t_chosen=t_chosen,
                   interpolation=getattr(path, "interpolation", "linear"),
                   estimator_name=name, target_names=target_names)
        return disp.plot(ax=ax, n_labels=n_labels, **kwargs)

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, n_labels: int = 10,
                       feature_names: Sequence[str] | None = None, target: int | None = None,
                       t_chosen: float | str | None = "auto", name: str | None = None,
                       **kwargs: Any) -> "RegularizationPathDisplay":
        """Draw the path of a fitted estimator that has ``regularization_path_``.

        Parameters
        ----------
        estimator : estimator or Pipeline
            Fitted; a :class:`~sklearn.pipeline.Pipeline` is drawn through its
            final step.
        ax : matplotlib Axes or array of Axes, default=None
            Where to draw (``None``: a new figure).
        n_labels : int, default=10
            How many of the earliest-entering coefficients get a label.
        feature_names : sequence of str, default=None
            Names of the features (``None``: the estimator's
            ``feature_names_in_`` when it was fitted on a DataFrame, else
            ``x0, x1, ...``).
        target : int, default=None
            For a multi-output or multinomial path, draw only this target
            (class column); ``None`` draws one panel per target.
        t_chosen : float, 'auto' or None, default='auto'
            Time to mark. ``'auto'``: the cross-validated ``t_`` when the
            estimator has ``cv_scores_``, otherwise no line.
        name : str, default=None
            Title (``None``: the estimator's class name).
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
        """
        _import_pyplot()
        path_estimator, default_names = _unwrap_estimator(estimator)
        path = getattr(path_estimator, "regularization_path_", None)
        if path is None:
            raise ValueError(
                f"{type(path_estimator).__name__} has no regularization_path_: pass a fitted "
                "sparsestat path estimator (e.g. LBIRegressor, LBIRegressorCV), or call fit "
                "first."
            )
        if isinstance(t_chosen, str):
            if t_chosen != "auto":
                raise ValueError(f"t_chosen must be a float, None or 'auto'; got {t_chosen!r}.")
            t_chosen = (float(path_estimator.t_) if hasattr(path_estimator, "cv_scores_")
                        else None)
        entry = np.asarray(path.entry_times)
        if feature_names is None and default_names is not None \
                and len(default_names) == entry.shape[0]:
            feature_names = default_names  # only when the path's coefficients are the features
        target_names = None
        if entry.ndim > 1 and entry.shape[1] > 1:
            target_names = _target_names_of(path_estimator, entry.shape[1])
        return cls.from_path(
            path, ax=ax, n_labels=n_labels, feature_names=feature_names, t_chosen=t_chosen,
            target=target, name=name or type(path_estimator).__name__,
            target_names=target_names, **kwargs)

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
            How many of the earliest-entering coefficients get a label at the
            right edge (coefficients that never entered get none).
        vline_kwargs : dict, default=None
            Passed to ``Axes.axvline`` for the chosen-time line.
        label_kwargs : dict, default=None
            Passed to ``Axes.text`` for the labels.
        **kwargs : dict
            Passed to ``Axes.plot`` for every path line.

        Returns
        -------
        display : RegularizationPathDisplay
            ``self``, with ``ax_``, ``figure_``, ``lines_``, ``texts_`` and
            ``vline_`` set.

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
        texts, vlines = [], np.empty(n_panels, dtype=object)
        target_names = self.target_names
        if multi and target_names is None:
            target_names = [f"target {k}" for k in range(n_panels)]
        for k, axis in enumerate(axes):
            panel_coefs = coefs[:, :, k] if multi else coefs
            panel_entry = entry[:, k] if multi else entry
            lines[:, k] = self._draw_lines(axis, times, panel_coefs, panel_entry, names, kwargs)
            vlines[k] = self._draw_vline(axis, vline_kwargs)
            texts.append(self._draw_labels(axis, panel_coefs[-1], panel_entry, lines[:, k],
                                           names, n_labels, label_kwargs))
            axis.set_xscale("log")
            if times[-1] >= 10.0 * times[0]:  # a decade or more: label the decades only
                from matplotlib.ticker import NullFormatter

                axis.xaxis.set_minor_formatter(NullFormatter())
            axis.set_xlabel(r"$t$ (= 1 / $\lambda$)")
            axis.set_ylabel("coefficient")
            title = self.estimator_name or ""
            if multi:
                title = f"{title}: {target_names[k]}" if title else str(target_names[k])
            if title:
                axis.set_title(title)

        if multi:
            self.ax_ = np.asarray(axes, dtype=object)
            self.lines_ = lines
            self.texts_ = texts
            self.vline_ = vlines if self.t_chosen is not None else None
        else:
            self.ax_ = axes[0]
            self.lines_ = lines[:, 0]
            self.texts_ = texts[0]
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

    def _draw_lines(self, axis, times, coefs, entry, names, kwargs):
        drawstyle = "steps-post" if self.interpolation == "previous" else "default"
        lines = []
        for j in range(coefs.shape[1]):
            # colour by coefficient index, so panels and figures of one model agree
            style = {"drawstyle": drawstyle, "label": names[j], "linewidth": 1.5,
                     "color": f"C{j % 10}"}
            if not np.isfinite(entry[j]):  # never entered: a flat, quiet line
                style.update(color="0.75", linewidth=0.8, zorder=1)
            style.update(kwargs)
            (line,) = axis.plot(times, coefs[:, j], **style)
            lines.append(line)
        axis.axhline(0.0, color="0.5", linewidth=0.6, zorder=0)
        return lines

    def _draw_vline(self, axis, vline_kwargs):
        if self.t_chosen is None:
            return None
        style = {"color": "k", "linestyle": "--", "linewidth": 1.0,
                 "label": f"chosen t = {self.t_chosen:.3g}"}
        style.update(vline_kwargs or {})
        vline = axis.axvline(float(self.t_chosen), **style)
        axis.legend(handles=[vline], loc="upper left", fontsize="small", frameon=False)
        return vline

    @staticmethod
    def _draw_labels(axis, last, entry, lines, names, n_labels, label_kwargs):
        from matplotlib.transforms import blended_transform_factory

        entered = np.flatnonzero(np.isfinite(entry))
        order = entered[np.argsort(entry[entered], kind="stable")][:n_labels]
        if order.size == 0:
            return []
        # spread the labels vertically so they do not overlap
        lo, hi = axis.get_ylim()
        gap = 0.045 * (hi - lo)
        ys = last[order].astype(float)
        rank = np.argsort(ys, kind="stable")
        placed = ys[rank].copy()
        for i in range(1, placed.size):
            placed[i] = max(placed[i], placed[i - 1] + gap)
        placed -= (placed - ys[rank]).mean()
        y_text = np.empty_like(ys)
        y_text[rank] = placed
        transform = blended_transform_factory(axis.transAxes, axis.transData)
        texts = []
        for j, y in zip(order, y_text):
            style = {"fontsize": "small", "va": "center", "ha": "left",
                     "color": lines[j].get_color()}
            style.update(label_kwargs or {})
            texts.append(axis.text(1.01, y, str(names[j]), transform=transform,
                                   clip_on=False, **style))
        return texts


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
