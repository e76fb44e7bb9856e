"""sparsestat: learning sparsity along inverse-scale-space paths.

One engine -- the Linearized Bregman Iteration (LBI), its exact inverse scale
space (ISS) limit and its split form (Split LBI) -- drives every estimator:
sparse regression and classification paths, robust regression with outlier
detection, noisy-label detection, robust ranking from pairwise comparisons,
knockoff variable selection and the DessiLBI optimizer for deep networks.

Public estimators are imported lazily so that ``import sparsestat`` stays
fast and never needs the optional dependencies (torch, matplotlib).
"""

from importlib import import_module

__version__ = "0.1.0"

# public name -> module that defines it
_PUBLIC = {
    "RegularizationPath": "sparsestat.path",
    "LBIRegressor": "sparsestat.linear_model",
    "LBIClassifier": "sparsestat.linear_model",
    "LBIRegressorCV": "sparsestat.linear_model",
    "LBIClassifierCV": "sparsestat.linear_model",
    "lbi_path": "sparsestat.linear_model",
    "iss_path": "sparsestat.linear_model",
    "MeanShiftOutlierDetector": "sparsestat.robust",
    "NoisyLabelDetector": "sparsestat.robust",
    "CleanSetSelector": "sparsestat.robust",
    "CleanLabelClassifier": "sparsestat.robust",
    "RobustPairwiseRanker": "sparsestat.ranking",
    "ICIFewShot": "sparsestat.semi_supervised",
    "KnockoffSelector": "sparsestat.feature_selection",
    "NoSelectionWarning": "sparsestat.feature_selection",
    "SplitKnockoffSelector": "sparsestat.feature_selection",
    "LBIGraphicalModel": "sparsestat.covariance", "LBIGraphicalModelCV": "sparsestat.covariance",
    "GraphicalKnockoffSelector": "sparsestat.covariance",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'sparsestat' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
