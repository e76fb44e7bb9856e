"""Sparse graphical models along LBI paths (Gaussian, Ising and Potts), and the edges of a
Gaussian graphical model with false discovery rate control (GGM knockoffs)."""

from sparsestat.covariance._graphical import LBIGraphicalModel
from sparsestat.covariance._cv import LBIGraphicalModelCV
from sparsestat.covariance._knockoffs import GraphicalKnockoffSelector
from sparsestat.covariance._plot import GraphDisplay

__all__ = ["GraphDisplay", "GraphicalKnockoffSelector", "LBIGraphicalModel", "LBIGraphicalModelCV"]
