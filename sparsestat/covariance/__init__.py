"""Sparse graphical models along LBI paths: Gaussian, Ising and Potts."""

from sparsestat.covariance._graphical import LBIGraphicalModel
from sparsestat.covariance._cv import LBIGraphicalModelCV
from sparsestat.covariance._plot import GraphDisplay

__all__ = ["GraphDisplay", "LBIGraphicalModel", "LBIGraphicalModelCV"]
