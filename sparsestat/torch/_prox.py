"""Proximal maps of the DessiLBI penalties, written for torch tensors.

``shrink`` is the prox of the elementwise l1 norm at threshold one,
``group_shrink`` the prox of the sum of l2 norms of the output units
(rows of a linear weight, filters of a convolution weight): both with unit
threshold, as in the Linearized Bregman Iteration ``Gamma = kappa * prox(V)``.
Both are safe for zero input: the result is exactly zero, never NaN.
"""

from __future__ import annotations

import torch

__all__ = ["shrink", "group_norms", "group_shrink", "group_scale"]


def shrink(v: torch.Tensor) -> torch.Tensor:
    """Elementwise soft thresholding at one: ``sign(v) * max(|v| - 1, 0)``.

    Parameters
    ----------
    v : torch.Tensor
        Any floating point tensor.

    Returns
    -------
    torch.Tensor
        New tensor of the shape and dtype of ``v``.

    Examples
    --------
    >>> import torch
    >>> from sparsestat.torch import shrink
    >>> shrink(torch.tensor([-2.5, 0.5, 1.0, 3.0])).tolist()
    [-1.5, 0.0, 0.0, 2.0]
    """
    return torch.nn.functional.softshrink(v, 1.0)


def group_norms(v: torch.Tensor) -> torch.Tensor:
    """Euclidean norm of each output unit (first axis) of ``v``.

    Parameters
    ----------
    v : torch.Tensor
        Tensor with at least two dimensions; the first indexes the output
        units (rows of a linear weight, filters of a convolution weight).

    Returns
    -------
    torch.Tensor
        One-dimensional tensor of length ``v.shape[0]``.

    Examples
    --------
    >>> import torch
    >>> from sparsestat.torch import group_norms
    >>> group_norms(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))
    tensor([5., 0.])
    """
    if v.dim() < 2:
        raise ValueError(
            f"the group penalty needs a tensor with at least 2 dimensions (output units "
            f"first), got shape {tuple(v.shape)}; use penalty='lasso' or None for it"
        )
    return torch.linalg.vector_norm(v.reshape(v.shape[0], -1), dim=1)


def group_scale(norms: torch.Tensor) -> torch.Tensor:
    """Factor ``max(0, 1 - 1/norm)`` per group; exactly zero for a zero norm.

    Parameters
    ----------
    norms : torch.Tensor
        Non-negative group norms.

    Returns
    -------
    torch.Tensor
        Tensor of the same shape as ``norms`` with values in ``[0, 1)``.

    Examples
    --------
    >>> import torch
    >>> from sparsestat.torch import group_scale
    >>> group_scale(torch.tensor([0.0, 0.5, 2.0]))
    tensor([0.0000, 0.0000, 0.5000])
    """
    # norms <= 1 (zero included) are clamped to 1 and give exactly 0
    return 1 - norms.clamp_min(1).reciprocal()


def group_shrink(v: torch.Tensor) -> torch.Tensor:
    """Group soft thresholding at one over output units: ``v_g * max(0, 1 - 1/||v_g||)``.

    Parameters
    ----------
    v : torch.Tensor
        Tensor with at least two dimensions; groups are ``v[i]``.

    Returns
    -------
    torch.Tensor
        New tensor of the shape and dtype of ``v``. Each group has norm
        ``max(||v_g|| - 1, 0)`` and points in the direction of ``v_g``.

    Examples
    --------
    >>> import torch
    >>> from sparsestat.torch import group_shrink
    >>> group_shrink(torch.tensor([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]]))
    tensor([[2.4000, 3.2000],
            [0.0000, 0.0000],
            [0.0000, 0.0000]])
    """
    scale = group_scale(group_norms(v))
    return v * scale.reshape((-1,) + (1,) * (v.dim() - 1))
