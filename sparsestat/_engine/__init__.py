"""The path engine: prepares data, picks defaults and calls the kernels.

Every estimator of the package computes its path through one of the drivers
below. Inputs are assumed validated by the caller (finite, 2-D, matching
lengths); a driver standardizes the design and the target, makes the analytic
jump to ``t0``, chooses a stable step, runs the numba kernel
(:mod:`sparsestat._kernels`) and maps the result back to the data's scale.

Modules:

- ``_design``: the standardized design (centring, scales, products, Gram, step norm);
- ``_targets``: the target's units, robust scales, the intercept at zero coefficients;
- ``_penalties``: group labels and the arrays the kernels take;
- ``_grid``: record grids, the empty path (the one rule for a start where nothing can
  enter), results mapped back;
- ``_design_paths``: :func:`lbi_path` and :func:`iss_path` of a design;
- ``_split``: :func:`split_lbi_path` (structural sparsity ``D beta``);
- ``_shift``: :func:`projected_shift_path` and :func:`projected_shift_iss_path`
  (mean shift through ``I - Q Q^T``);
- ``_operator``: :func:`lbi_path_operator` (a gradient given as a callback).
"""

from sparsestat._engine._design import Design, constant_columns, prepare_design
from sparsestat._engine._design_paths import LOSSES, iss_path, lbi_path
from sparsestat._engine._grid import empty_path, time_grid
from sparsestat._engine._operator import lbi_path_operator
from sparsestat._engine._penalties import check_group_labels, make_groups
from sparsestat._engine._shift import projected_shift_iss_path, projected_shift_path
from sparsestat._engine._split import SplitPath, split_lbi_path
from sparsestat._engine._targets import robust_scale, weighted_median

__all__ = [
    "LOSSES", "Design", "SplitPath", "check_group_labels", "constant_columns", "empty_path",
    "iss_path",
    "lbi_path", "lbi_path_operator", "make_groups", "prepare_design",
    "projected_shift_iss_path", "projected_shift_path", "robust_scale", "split_lbi_path",
    "time_grid", "weighted_median",
]
