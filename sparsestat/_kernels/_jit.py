"""The decorator of every numba kernel: compiled once, cached on disk, never stale.

numba's on-disk cache (``cache=True``) checks the source file that defines a
function, not the files of the functions it calls: after an edit of a helper in
one module, its callers in other modules would keep loading their old machine
code. :func:`kernel` therefore caches every kernel of the package in one folder
named after a hash of all the source files kernels depend on (every module of
this subpackage and every other module that defines kernels); editing any of
them moves the whole cache to a new folder, and the next call compiles afresh.

Processes that compile kernels at the same time (test workers, joblib workers
on a fresh install) share the folder. numba saves an entry by reading the
folder's index of a function, naming a data file not yet in it, and writing
both; two processes saving different signatures at once can pick the same data
file, and one index entry then points to the other's machine code. Each
kernel's cache therefore saves under an exclusive lock on a file beside its
index (``fcntl.flock``; where it is missing, numba's own behaviour).

A kernel called from another kernel is compiled for the plain types of its
arguments: numba would otherwise type a constant argument (``0``, ``True``) as a
literal and compile, and cache, a second copy of the callee for it.

The folder is ``$NUMBA_CACHE_DIR/sparsestat/numba-<hash>`` when the user set
``NUMBA_CACHE_DIR``, else ``sparsestat/_kernels/__pycache__/numba-<hash>`` when the
package folder is writable, else ``~/.cache/sparsestat/numba-<hash>``. In the package's own folder the caches of
earlier sources are removed when a new one is made. Where no folder is writable
numba falls back to its own locations.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from pathlib import Path

import numba
from numba.core import types
from numba.core.caching import FunctionCache, IndexDataCacheFile
from numba.core.registry import CPUDispatcher

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None

_PACKAGE = Path(__file__).resolve().parent.parent
# a module defines kernels when it imports this decorator
_MARKER = "sparsestat._kernels._jit import kernel"


def kernel_sources(package: Path = _PACKAGE) -> list[Path]:
    """The source files the compiled kernels depend on: every module of
    ``sparsestat._kernels`` (kernels, and the constants they freeze at compile
    time, such as the status codes) and every other module that defines kernels."""
    kernels = (Path(package) / "_kernels").resolve()
    return sorted(path.resolve() for path in Path(package).rglob("*.py")
                  if "__pycache__" not in path.parts
                  and (path.resolve().parent == kernels
                       or _MARKER in path.read_text(encoding="utf-8")))


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


@contextlib.contextmanager
def _exclusive(path: str):
    """Hold an exclusive lock on ``path`` (created if needed) for the block."""
    if fcntl is None:
        yield
        return
    try:
        handle = open(path, "a")
    except OSError:       # an unwritable folder: numba's saving fails and warns anyway
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class LockedIndex(IndexDataCacheFile):
    """numba's index and data files of one function, saved under a lock.

    Reading the index, choosing the data file's name and writing both happen
    while the lock is held, so concurrent saves of different signatures get
    different data files.
    """

    def save(self, key, data):
        with _exclusive(self._index_path + ".lock"):
            super().save(key, data)


class KernelCache(FunctionCache):
    """numba's cache of a function with :class:`LockedIndex` files."""

    def __init__(self, py_func):
        super().__init__(py_func)
        self._cache_file = LockedIndex(cache_path=self._cache_path,
                                       filename_base=self._impl.filename_base,
                                       source_stamp=self._impl.locator.get_source_stamp())


class Kernel(CPUDispatcher):
    """A dispatcher that types calls from compiled code without literals.

    A constant argument (``f(x, 0)`` inside a kernel) is typed as ``int64``, not
    ``Literal[int](0)``, so one compiled version serves constant and variable
    arguments alike.
    """

    def get_call_template(self, args, kws):
        args = tuple(types.unliteral(a) for a in args)
        kws = {k: types.unliteral(v) for k, v in kws.items()}
        return super().get_call_template(args, kws)

    def enable_caching(self):
        self._cache = KernelCache(self.py_func)


def kernel(function=None, **options):
    """``numba.njit(cache=True, **options)`` with the package's cache folder.

    Use as ``@kernel`` or ``@kernel(fastmath=...)``. numba picks a function's
    cache folder when the function is decorated, so the folder is set for the
    moment of decoration only and other numba users are not affected. The
    dispatcher is a :class:`Kernel`.
    """
    def decorate(fn):
        if numba.config.DISABLE_JIT:
            return fn
        saved = numba.config.CACHE_DIR
        if CACHE_FOLDER is not None:
            numba.config.CACHE_DIR = CACHE_FOLDER
        try:
            dispatcher = Kernel(py_func=fn, locals={},
                                targetoptions=dict(options, nopython=True))
            dispatcher.enable_caching()
            return dispatcher
        finally:
            numba.config.CACHE_DIR = saved

    return decorate if function is None else decorate(function)
