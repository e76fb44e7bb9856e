"""Units: the selectors work on a standardized problem.

Which features (or rows of ``D beta``) are nonzero does not depend on the units
of the target or of the features, so neither may the selection. The selectors
therefore standardize before anything else:

- every feature is centred and divided by its standard deviation;
- a real-valued target is centred and divided by its root mean square
  deviation (the population standard deviation).

All parameters of the paths (``kappa``, ``t_ratio``, ``nu``) and all statistics
``W`` then refer to this standardized problem, so ``fit(X, c * y + d)`` and
``fit(X * a, y)`` (``a > 0`` per feature) give the same answer. Each array is
first multiplied by an exact power of two that brings its largest magnitude
into ``[0.5, 1)`` (``np.ldexp``, exact even from subnormal numbers), so that
data near the limits of floating point (``1e-300``, ``1e300``) are standardized
without overflow or underflow in their squares, and a rescaling by a power of
two leaves the standardized values bit for bit unchanged.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def magnitude_exponents(A: np.ndarray, axis=None) -> np.ndarray:
    """Integers ``k`` with ``max|A| * 2**k`` in ``[0.5, 1)`` along ``axis`` (0 if all zero).

    Examples
    --------
    >>> import numpy as np
    >>> magnitude_exponents(np.array([[3.0, 1e300], [-5.0, 0.0]]), axis=0).tolist()
    [-3, -997]
    """
    top = np.max(np.abs(A), axis=axis, initial=0.0)
    return np.where(top > 0, -np.frexp(np.where(top > 0, top, 1.0))[1], 0)


class Standardized(NamedTuple):
    """Columns ``Xs = (X - mean) / sd``, with ``X = 2**-exponent * (center + spread * Xs)``.

    ``center`` and ``spread`` are the mean and standard deviation of the
    columns after the exact rescaling by ``2**exponent``, so they are finite
    for any finite ``X``; :meth:`to_data` maps standardized values back.
    """

    values: np.ndarray
    center: np.ndarray
    spread: np.ndarray
    exponent: np.ndarray

    @property
    def sd(self) -> np.ndarray:
        """Standard deviations in the units of ``X`` (``inf``/0 beyond floating point)."""
        with np.errstate(over="ignore", under="ignore"):
            return np.ldexp(self.spread, -self.exponent)

    def relative_inverse_sd(self) -> np.ndarray:
        """``c / sd`` for one constant ``c`` chosen so that the largest is near 1."""
        shift = self.exponent - self.exponent.max()
        with np.errstate(under="ignore"):
            return np.ldexp(1.0 / self.spread, shift)

    def to_data(self, Z: np.ndarray) -> np.ndarray:
        """``mean + sd * Z`` in the units of ``X``."""
        with np.errstate(over="ignore", under="ignore"):
            return np.ldexp(self.center + self.spread * Z, -self.exponent)


def standardize_columns(X: np.ndarray) -> Standardized:
    """Centre each column of ``X`` and divide it by its standard deviation.

    ``X`` is finite and has no constant column.
    """
    k = magnitude_exponents(X, axis=0)
    X2 = np.ldexp(X, k)
    center = X2.mean(axis=0)
    Xs = X2 - center
    spread = np.sqrt(np.mean(Xs * Xs, axis=0))
    Xs /= spread
    return Standardized(Xs, center, spread, k)


def standardize_target(y: np.ndarray, reference=None) -> np.ndarray:
    """``(y - m) / r`` with ``m`` and ``r`` the mean and root mean square
    deviation of ``y[reference]`` (all of ``y`` by default).

    Raises ``ValueError`` when ``y[reference]`` is constant.
    """
    y2 = np.ldexp(y, magnitude_exponents(y))
    ref = y2 if reference is None else y2[reference]
    m = ref.mean()
    r = float(np.sqrt(np.mean((ref - m) ** 2)))
    if not r > 0:
        raise ValueError("y is constant; no feature can be associated with it.")
    return (y2 - m) / r
