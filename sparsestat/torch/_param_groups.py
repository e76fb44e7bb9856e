"""Parameter groups for :class:`DessiLBI` built from a model's layer types."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["lbi_param_groups"]

_VALID = ("lasso", "group", None)


def lbi_param_groups(
    model: nn.Module,
    *,
    conv: str | None = "group",
    linear: str | None = "lasso",
    other: str | None = None,
    **options: Any,
) -> list[dict[str, Any]]:
    """Named parameter groups with a sparsity penalty chosen by layer type.

    Convolution weights get ``conv`` (default: one group per filter), linear
    weights get ``linear`` (default: elementwise lasso); biases, normalization
    layers and every other parameter get ``other`` (default: no penalty, plain
    SGD). Frozen parameters (``requires_grad=False``) are left out; a shared
    parameter is listed once.

    Parameters
    ----------
    model : torch.nn.Module
        The network.
    conv : {'group', 'lasso', None}, default='group'
        Penalty of ``nn.Conv1d/2d/3d`` (and transposed) weights.
    linear : {'lasso', 'group', None}, default='lasso'
        Penalty of ``nn.Linear`` weights.
    other : {None, 'lasso'}, default=None
        Penalty of all remaining parameters (biases, norm layers, embeddings).
    **options
        Extra options copied into every group (e.g. ``weight_decay=5e-4``).

    Returns
    -------
    list of dict
        Non-empty groups ``{"params": [(name, param), ...], "penalty": ..., **options}``
        in the order group, lasso, None; pass them to :class:`DessiLBI`.

    Examples
    --------
    >>> from torch import nn
    >>> from sparsestat.torch import lbi_param_groups
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    >>> for g in lbi_param_groups(net):
    ...     print(g["penalty"], [name for name, _ in g["params"]])
    group ['0.weight']
    lasso ['3.weight']
    None ['0.bias', '1.weight', '1.bias', '3.bias']
    """
    for label, value in (("conv", conv), ("linear", linear), ("other", other)):
        if value not in _VALID:
            raise ValueError(f"{label} must be 'lasso', 'group' or None, got {value!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")

    chosen: dict[int, str | None] = {}
    for module in model.modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            penalty = conv
        elif isinstance(module, nn.Linear):
            penalty = linear
        else:
            continue
        weight = getattr(module, "weight", None)
        if isinstance(weight, torch.Tensor):
            chosen[id(weight)] = penalty

    buckets: dict[str | None, list] = {"group": [], "lasso": [], None: []}
    seen: set[int] = set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        penalty = chosen.get(id(p), other)
        if penalty == "group" and p.dim() < 2:
            raise ValueError(f"parameter {name} has shape {tuple(p.shape)}: no groups to form")
        buckets[penalty].append((name, p))
    return [
        {"params": params, "penalty": penalty, **options}
        for penalty, params in buckets.items()
        if params
    ]
