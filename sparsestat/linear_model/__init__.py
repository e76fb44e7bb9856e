"""Sparse linear models along LBI / ISS regularization paths, and the paths themselves."""

from sparsestat.linear_model._classifier import LBIClassifier
from sparsestat.linear_model._cv import LBIClassifierCV, LBIRegressorCV
from sparsestat.linear_model._path import iss_path, lbi_path
from sparsestat.linear_model._regressor import LBIRegressor

__all__ = ["LBIClassifier", "LBIClassifierCV", "LBIRegressor", "LBIRegressorCV", "iss_path",
           "lbi_path"]
