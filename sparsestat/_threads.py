"""One-thread limits for the small dense problems where BLAS threads only contend.

Multithreaded LAPACK on a matrix of a few dozen rows spends far more time waking
and synchronizing its threads than computing: an ``n = 20`` ``potri`` takes about
15 ms with two OpenBLAS threads and 10 microseconds with one. The
``threadpoolctl`` controller is built once (it inspects the loaded libraries, about
1.5 ms) and reused, so a limit costs microseconds.
"""

from __future__ import annotations

from contextlib import nullcontext

_CONTROLLER = None

# below this order a factorization runs faster on one thread
SMALL = 256


def one_thread(user_api: str | None = None):
    """A context that limits the thread pools (``user_api``: ``'blas'``, ``'openmp'`` or
    ``None`` for all) to one thread.

    Examples
    --------
    >>> import numpy as np
    >>> with one_thread("blas"):
    ...     x = np.linalg.solve(np.eye(3) * 2.0, np.ones(3))
    >>> float(x[0])
    0.5
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api=user_api)


def single_thread_if_small(order: int):
    """One BLAS thread when ``order < SMALL``, the pools untouched otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> with single_thread_if_small(20):
    ...     x = np.linalg.solve(np.eye(20) * 2.0, np.ones(20))
    >>> float(x[0])
    0.5
    """
    return one_thread("blas") if order < SMALL else nullcontext()
