"""Numba kernels: free functions over arrays, compiled by :func:`~sparsestat._kernels._jit.kernel`
(``njit`` with a cache that no edit can leave stale).

Nothing in this sub-package imports the rest of sparsestat. The drivers in
:mod:`sparsestat._engine` prepare arrays and call these functions.
"""

from sparsestat._kernels._iss import iss_path
from sparsestat._kernels._lbi import lbi_path
from sparsestat._kernels._prox import prox_inplace
from sparsestat._kernels._split_lbi import split_lbi_path

__all__ = ["iss_path", "lbi_path", "prox_inplace", "split_lbi_path"]
