"""Array copies for the kernels, written as loops.

Assigning an array to a slice (``out[:] = a``) makes numba compile, for every
shape signature, a shape check that formats its error message in nopython
mode; that string formatting costs seconds of compile time per signature in a
fresh cache. Every copy of one array into another in the kernels goes through
these loops instead (the callers guarantee the shapes).
"""

from __future__ import annotations

from sparsestat._kernels._jit import kernel


@kernel
def copy_1d(dst, src):
    """``dst[i] = src[i]`` for every ``i`` of ``src`` (``dst`` at least as long)."""
    for i in range(src.shape[0]):
        dst[i] = src[i]


@kernel
def copy_2d(dst, src):
    """``dst[i, j] = src[i, j]`` over the shape of ``src``."""
    for i in range(src.shape[0]):
        for j in range(src.shape[1]):
            dst[i, j] = src[i, j]
