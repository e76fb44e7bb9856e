"""Small bundled data sets and generators of synthetic problems.

Everything here is generated or shipped with the package (or with a
dependency); nothing is downloaded.
"""

from importlib import import_module

# public name -> module that defines it
_PUBLIC = {
    "load_stackloss": "sparsestat.datasets._robust",
    "make_outlier_regression": "sparsestat.datasets._robust",
    "make_pairwise_comparisons": "sparsestat.datasets._pairwise",
    "load_state_comparisons": "sparsestat.datasets._state_comparisons",
    "make_noisy_labels": "sparsestat.datasets._labels",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'sparsestat.datasets' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
