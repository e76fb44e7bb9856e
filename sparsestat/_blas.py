"""Keep BLAS to one thread around loops of small dense factorizations.

Multithreaded LAPACK on a matrix of a few dozen rows spends far more time waking
and synchronizing its threads than computing: an ``n = 20`` ``potri`` takes about
15 ms with two OpenBLAS threads and 10 microseconds with one. The controller is
built once (it inspects the loaded libraries) and reused.
"""

from __future__ import annotations

from contextlib import nullcontext

_CONTROLLER = None

# below this order a factorization runs faster on one thread
SMALL = 256


def single_thread_if_small(order: int):
    """A context that limits BLAS to one thread when ``order < SMALL``.

    Examples
    --------
    >>> import numpy as np
    >>> with single_thread_if_small(20):
    ...     x = np.linalg.solve(np.eye(20) * 2.0, np.ones(20))
    >>> float(x[0])
    0.5
    """
    global _CONTROLLER
    if order >= SMALL:
        return nullcontext()
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")
