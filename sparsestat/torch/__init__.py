"""DessiLBI for deep networks: training with structural sparsity, and pruning.

This sub-package needs PyTorch; ``import sparsestat`` itself does not.
Install it with ``pip install "sparsestat[torch]"``.

Contents: :class:`DessiLBI` (a ``torch.optim.Optimizer``),
:func:`lbi_param_groups` (penalties by layer type), :func:`propose_mu`
(coupling for a training budget), the proximal maps :func:`shrink` and
:func:`group_shrink`, :mod:`sparsestat.torch.prune` (masks, smaller models,
fine-tuning) and :func:`grow` (widen layers the path has fully selected).
"""

try:
    import torch as _torch
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "sparsestat.torch needs PyTorch, which is not installed. "
        'Install it with: pip install "sparsestat[torch]" '
        "(or pick a build for your platform at https://pytorch.org)."
    ) from exc
del _torch

from ._grow import grow
from ._mu import propose_mu
from ._optimizer import PENALTIES, DessiLBI
from ._param_groups import lbi_param_groups
from ._prox import group_norms, group_scale, group_shrink, shrink

__all__ = [
    "DessiLBI",
    "PENALTIES",
    "group_norms",
    "group_scale",
    "group_shrink",
    "grow",
    "lbi_param_groups",
    "propose_mu",
    "shrink",
]
