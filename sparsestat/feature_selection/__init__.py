"""Variable selection with false discovery rate control: knockoffs.

- :class:`KnockoffSelector`: fixed-X or model-X Gaussian knockoffs with lasso
  or LBI entry-time statistics and the knockoff+ threshold;
- :class:`SplitKnockoffSelector`: split knockoffs for structural sparsity
  ``gamma = D beta`` with directional FDR control.
"""

from sparsestat.feature_selection._knockoffs import KnockoffSelector, NoSelectionWarning
from sparsestat.feature_selection._split import SplitKnockoffSelector

__all__ = ["KnockoffSelector", "NoSelectionWarning", "SplitKnockoffSelector"]
