"""The decorator of every numba kernel: compiled once, cached on disk, never stale.

numba's on-disk cache (``cache=True``) checks the source file that defines a
function, not the files of the functions it calls: after an edit of a helper in
one module, its callers in other modules would keep loading their old machine
code. :func:`kernel` therefore caches every kernel of the package in one folder
named after a hash of all the source files that define kernels; editing any of
them moves the whole cache to a new folder, and the next call compiles afresh.

The folder is ``$NUMBA_CACHE_DIR/sparsestat/numba-<hash>`` when the user set
``NUMBA_CACHE_DIR``, else ``sparsestat/_kernels/__pycache__/numba-<hash>`` when the
package folder is writable, else ``~/.cache/sparsestat/numba-<hash>``. In the package's own folder the caches of
earlier sources are removed when a new one is made. Where no folder is writable
numba falls back to its own locations.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numba
from numba import njit

_PACKAGE = Path(__file__).resolve().parent.parent
# a module defines kernels when it imports this decorator
_MARKER = "sparsestat._kernels._jit import kernel"


def kernel_sources(package: Path = _PACKAGE) -> list[Path]:
    """The source files of the package that define kernels (this one among them: it
    holds the marker too)."""
    return sorted(path.resolve() for path in Path(package).rglob("*.py")
                  if "__pycache__" not in path.parts
                  and _MARKER in path.read_text(encoding="utf-8"))


def source_hash(paths) -> str:
    """A hash of the names and contents of ``paths`` (16 hex digits)."""
    h = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
        return True
    except OSError:
        return False


def _cache_folder() -> str | None:
    tag = f"numba-{source_hash(kernel_sources())}"
    user = os.environ.get("NUMBA_CACHE_DIR")
    candidates = [Path(user) / "sparsestat"] if user else [
        Path(__file__).resolve().parent / "__pycache__",
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sparsestat",
    ]
    in_tree = Path(__file__).resolve().parent / "__pycache__"
    for root in candidates:
        folder = root / tag
        fresh = not folder.exists()
        if _writable(folder):
            if fresh and root == in_tree:   # caches of this installation's earlier sources
                for old in root.glob("numba-*"):
                    if old != folder:
                        shutil.rmtree(old, ignore_errors=True)
            return str(folder)
    return None


CACHE_FOLDER = _cache_folder()


def kernel(function=None, **options):
    """``numba.njit(cache=True, **options)`` with the package's cache folder.

    Use as ``@kernel`` or ``@kernel(fastmath=...)``. numba picks a function's
    cache folder when the function is decorated, so the folder is set for the
    moment of decoration only and other numba users are not affected.
    """
    def decorate(fn):
        saved = numba.config.CACHE_DIR
        if CACHE_FOLDER is not None:
            numba.config.CACHE_DIR = CACHE_FOLDER
        try:
            return njit(cache=True, **options)(fn)
        finally:
            numba.config.CACHE_DIR = saved

    return decorate if function is None else decorate(function)
