"""Sparse linear models along LBI / ISS regularization paths."""

from sparsestat.linear_model._classifier import LBIClassifier
from sparsestat.linear_model._cv import LBIClassifierCV, LBIRegressorCV
from sparsestat.linear_model._regressor import LBIRegressor

__all__ = ["LBIClassifier", "LBIClassifierCV", "LBIRegressor", "LBIRegressorCV"]
