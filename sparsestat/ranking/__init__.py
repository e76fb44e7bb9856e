"""Robust ranking from pairwise comparisons (HodgeRank with a sparse outlier term)."""

from sparsestat.ranking._ranker import RobustPairwiseRanker

__all__ = ["RobustPairwiseRanker"]
