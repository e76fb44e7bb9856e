"""Pruning with DessiLBI: masks from the support or the entry order, smaller models, fine-tuning.

Typical use after training with :class:`~sparsestat.torch.DessiLBI`::

    masks = compute_masks(opt)                        # W* = W * 1[Gamma != 0]
    masks = compute_masks(opt, by="entry", keep=0.2)  # the 20% earliest weights / filters per layer
    handle = apply_masks(model, masks)                # zero them, keep them zero while fine-tuning
    small = shrink_sequential(model)                  # drop dead filters / neurons physically

The masks are dicts ``{parameter: bool tensor shaped like it}``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping

import torch
from torch import nn

from ._optimizer import DessiLBI
from ._prox import group_norms

__all__ = [
    "MaskHandle",
    "apply_masks",
    "compute_masks",
    "magnitude_masks",
    "shrink_sequential",
]


def _n_keep(n_units: int, keep: float) -> int:
    return min(n_units, max(1, math.ceil(keep * n_units - 1e-9)))


def _check_keep(keep) -> None:
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0 < keep <= 1:
        raise ValueError(f"keep must be a fraction in (0, 1], got {keep!r}")


def _top_units(score: torch.Tensor, n: int) -> torch.Tensor:
    """Bool mask of the ``n`` largest entries of a 1-D score (ties: lower index first)."""
    order = torch.sort(score, descending=True, stable=True).indices
    mask = torch.zeros_like(score, dtype=torch.bool)
    mask[order[:n]] = True
    return mask


def _expand_units(unit_mask: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    return unit_mask.reshape((-1,) + (1,) * (len(shape) - 1)).expand(shape).clone()


def compute_masks(
    optimizer: DessiLBI, *, by: str = "support", keep: float | None = None
) -> dict[torch.Tensor, torch.Tensor]:
    """Pruning masks for the penalized parameters of a DessiLBI optimizer.

    Parameters
    ----------
    optimizer : DessiLBI
        A trained optimizer.
    by : {'support', 'entry'}, default='support'
        ``'support'``: keep the weights with ``Gamma != 0`` (the sparse
        network ``W*``). ``'entry'``: keep, in every tensor, the fraction
        ``keep`` of weights (lasso) or output units (group) that entered the
        path first; units that never entered are ranked by ``|V|`` (how close
        they came to entering).
    keep : float, optional
        Fraction in (0, 1] kept per tensor; required for ``by='entry'``.

    Returns
    -------
    dict
        ``{parameter: bool mask}``; group-penalized tensors keep or drop whole units.

    Examples
    --------
    >>> import torch
    >>> from sparsestat.torch import DessiLBI
    >>> from sparsestat.torch.prune import compute_masks
    >>> w = torch.nn.Parameter(torch.tensor([[3.0, -0.1, 0.5, -2.0]]))
    >>> opt = DessiLBI([w], lr=0.5, mu=1.0, momentum=0.0)
    >>> for _ in range(3):
    ...     opt.zero_grad(); (0.0 * w).sum().backward(); opt.step()
    >>> compute_masks(opt, by="entry", keep=0.5)[w].tolist()
    [[True, False, False, True]]
    """
    if not isinstance(optimizer, DessiLBI):
        raise TypeError(f"optimizer must be a DessiLBI, got {type(optimizer).__name__}")
    if by not in ("support", "entry"):
        raise ValueError(f"by must be 'support' or 'entry', got {by!r}")
    if by == "support":
        if keep is not None:
            raise ValueError("keep is only used with by='entry'; the support sets its own size")
        return {p: optimizer.support(p) for _, p, _ in optimizer.penalized_parameters()}
    if keep is None:
        raise ValueError(
            "by='entry' needs keep, the fraction of weights / units to keep per tensor"
        )
    _check_keep(keep)
    masks = {}
    for _, p, penalty in optimizer.penalized_parameters():
        entry = optimizer.entry_step(p).double().flatten()
        v = optimizer.state.get(p, {}).get("V")
        if v is None:
            closeness = torch.zeros_like(entry)
        elif penalty == "lasso":
            closeness = v.detach().abs().double().flatten()
        else:
            closeness = group_norms(v.detach()).double()
        # earlier entry first; among equal entries (never entered) the largest |V|
        big = float(entry[torch.isfinite(entry)].max()) + 1 if torch.isfinite(entry).any() else 0.0
        rank_score = -torch.where(torch.isfinite(entry), entry, torch.full_like(entry, big))
        order = torch.argsort(closeness, descending=True, stable=True)
        order = order[torch.argsort(rank_score[order], descending=True, stable=True)]
        unit_mask = torch.zeros(entry.numel(), dtype=torch.bool, device=p.device)
        unit_mask[order[: _n_keep(entry.numel(), keep)]] = True
        if penalty == "lasso":
            masks[p] = unit_mask.reshape(p.shape)
        else:
            masks[p] = _expand_units(unit_mask, p.shape)
    return masks


def magnitude_masks(
    params: Iterable[torch.Tensor],
    keep: float | Mapping[torch.Tensor, float],
    *,
    structured: bool = False,
) -> dict[torch.Tensor, torch.Tensor]:
    """Magnitude pruning masks (the usual baseline): keep the largest weights or units per tensor.

    Parameters
    ----------
    params : iterable of torch.Tensor
        Weight tensors to prune.
    keep : float or mapping
        Fraction in (0, 1] kept per tensor, or ``{parameter: fraction}``.
    structured : bool, default=False
        Rank whole output units (rows / filters) by their l2 norm instead of
        single weights by their absolute value.

    Returns
    -------
    dict
        ``{parameter: bool mask}``.

    Examples
    --------
    >>> import torch
    >>> from sparsestat.torch.prune import magnitude_masks
    >>> w = torch.tensor([[0.1, -3.0], [2.0, 0.2]])
    >>> magnitude_masks([w], 0.5)[w].tolist()
    [[False, True], [True, False]]
    """
    params = list(params)
    masks = {}
    for p in params:
        frac = keep[p] if isinstance(keep, Mapping) else keep
        _check_keep(frac)
        w = p.detach()
        if structured:
            if w.dim() < 2:
                raise ValueError(
                    f"structured pruning needs tensors with >= 2 dims, got shape {tuple(w.shape)}"
                )
            unit = _top_units(group_norms(w).double(), _n_keep(w.shape[0], frac))
            masks[p] = _expand_units(unit, w.shape)
        else:
            flat = _top_units(w.abs().double().flatten(), _n_keep(w.numel(), frac))
            masks[p] = flat.reshape(w.shape)
    return masks


# ---------------------------------------------------------------- chains of layers
_PASS_THROUGH = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Hardtanh, nn.Mish,
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.Identity,
)  # all map a zero channel to a zero channel
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _flat_modules(model: nn.Module) -> list[nn.Module]:
    if isinstance(model, nn.Sequential):
        out = []
        for m in model:
            out.extend(_flat_modules(m))
        return out
    return [model]


def _following_bn(chain: list[nn.Module], i: int) -> nn.Module | None:
    if i + 1 < len(chain) and isinstance(chain[i + 1], _BN):
        return chain[i + 1]
    return None


class MaskHandle:
    """Masks applied to a model: keeps the masked weights at zero during fine-tuning.

    Returned by :func:`apply_masks`. Gradient hooks zero the gradient of the
    masked weights, so SGD (with momentum or weight decay) and Adam leave them
    at exactly zero; call :meth:`enforce` after ``optimizer.step()`` for any
    optimizer that could still move them, and :meth:`remove` to drop the hooks.

    Attributes
    ----------
    masks : dict
        ``{parameter: bool mask}`` including the biases / norm parameters of
        removed units when ``remove_dead_units=True``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparsestat.torch.prune import apply_masks
    >>> lin = nn.Linear(3, 2)
    >>> mask = torch.tensor([[True, False, True], [True, True, False]])
    >>> handle = apply_masks(lin, {lin.weight: mask})
    >>> round(handle.sparsity(), 3)
    0.333
    >>> opt = torch.optim.Adam(lin.parameters(), lr=0.1)
    >>> lin(torch.ones(1, 3)).sum().backward()
    >>> opt.step()
    >>> lin.weight.detach()[~mask].tolist()  # the masked weights stay at zero
    [0.0, 0.0]
    >>> handle.remove()
    """

    def __init__(self, masks: dict[torch.Tensor, torch.Tensor]) -> None:
        self.masks = masks
        self._hooks = [
            p.register_hook(self._make_hook(m)) for p, m in masks.items() if p.requires_grad
        ]

    @staticmethod
    def _make_hook(mask: torch.Tensor):
        def hook(grad: torch.Tensor) -> torch.Tensor:
            return grad * mask.to(grad.dtype)

        return hook

    @torch.no_grad()
    def enforce(self) -> None:
        """Set every masked weight to zero again."""
        for p, m in self.masks.items():
            p.masked_fill_(~m, 0)

    def remove(self) -> None:
        """Remove the gradient hooks (the weights stay as they are)."""
        for h in self._hooks:
            h.remove()
        self._hooks = []

    def sparsity(self) -> float:
        """Fraction of masked-out entries over all masked tensors."""
        total = sum(m.numel() for m in self.masks.values())
        kept = sum(int(m.sum()) for m in self.masks.values())
        return 1 - kept / total if total else 0.0


def apply_masks(
    model: nn.Module, masks: Mapping[torch.Tensor, torch.Tensor], *, remove_dead_units: bool = True
) -> MaskHandle:
    """Zero the masked weights of ``model`` in place and keep them zero for fine-tuning.

    Parameters
    ----------
    model : torch.nn.Module
        The network whose parameters the masks refer to.
    masks : mapping
        ``{parameter: bool mask shaped like it}``, e.g. from :func:`compute_masks`.
    remove_dead_units : bool, default=True
        For a convolution / linear layer whose mask removes an output unit
        entirely, also zero that unit's bias and, when a BatchNorm follows it
        in a ``nn.Sequential``, its BatchNorm scale and shift: the unit then
        outputs exactly zero, as in the physically smaller model of
        :func:`shrink_sequential`.

    Returns
    -------
    MaskHandle

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparsestat.torch.prune import apply_masks
    >>> lin = nn.Linear(3, 2)
    >>> mask = torch.tensor([[True, False, True], [False, False, False]])
    >>> handle = apply_masks(lin, {lin.weight: mask})
    >>> float(lin.weight.detach()[1].abs().sum()), float(lin.bias.detach()[1])
    (0.0, 0.0)
    >>> lin(torch.ones(1, 3)).sum().backward()
    >>> lin.weight.grad.tolist()
    [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    """
    own = {id(p) for p in model.parameters()}
    full: dict[torch.Tensor, torch.Tensor] = {}
    for p, m in masks.items():
        if id(p) not in own:
            raise ValueError("a mask refers to a tensor that is not a parameter of this model")
        if m.shape != p.shape or m.dtype != torch.bool:
            raise ValueError(
                f"mask must be a bool tensor of shape {tuple(p.shape)}, "
                f"got {m.dtype} {tuple(m.shape)}"
            )
        full[p] = m.to(p.device)
    if remove_dead_units:
        in_chain = isinstance(model, nn.Sequential)
        chain = _flat_modules(model) if in_chain else list(model.modules())
        layers = [(i, m) for i, m in enumerate(chain) if isinstance(m, _CONV + (nn.Linear,))]
        for i, layer in layers:
            m = full.get(layer.weight)
            if m is None or m.dim() < 2:
                continue
            alive = m.reshape(m.shape[0], -1).any(dim=1)
            if bool(alive.all()):
                continue
            extra = [layer.bias]
            bn = _following_bn(chain, i) if in_chain else None
            if bn is not None and bn.affine:
                extra += [bn.weight, bn.bias]
            for q in extra:
                if q is not None:
                    full[q] = full.get(q, torch.ones_like(q, dtype=torch.bool)) & alive.to(q.device)
    with torch.no_grad():
        for p, m in full.items():
            p.masked_fill_(~m, 0)
    return MaskHandle(full)


def _alive_units(layer: nn.Module, bn: nn.Module | None) -> torch.Tensor:
    w = layer.weight.detach()
    alive = (w.reshape(w.shape[0], -1) != 0).any(dim=1)
    if layer.bias is not None:
        alive |= layer.bias.detach() != 0
    if bn is not None and bn.affine:
        alive |= (bn.weight.detach() != 0) | (bn.bias.detach() != 0)
    return alive


@torch.no_grad()
def shrink_sequential(model: nn.Sequential) -> nn.Sequential:
    """A physically smaller copy of a conv/linear chain without its dead units.

    An output unit of a convolution or linear layer is dead when its weights
    and bias (and the scale and shift of a BatchNorm right after it) are all
    zero -- :func:`apply_masks` makes masked units so. Dead units are removed
    together with the matching input channels / features of the next layer
    (through ``nn.Flatten``); the last layer keeps all its outputs. The copy
    computes the same function as ``model`` (up to float rounding).

    Parameters
    ----------
    model : torch.nn.Sequential
        Conv1d/2d/3d (``groups=1``), Linear, BatchNorm, Flatten and
        zero-preserving activations, pooling and dropout, possibly nested in
        ``nn.Sequential``.

    Returns
    -------
    torch.nn.Sequential
        New model (the input is left unchanged), flat, in the same mode.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparsestat.torch.prune import apply_masks, shrink_sequential
    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> mask = torch.ones(3, 4, dtype=torch.bool); mask[1] = False
    >>> _ = apply_masks(net, {net[0].weight: mask})
    >>> small = shrink_sequential(net)
    >>> small[0]
    Linear(in_features=4, out_features=2, bias=True)
    >>> small[2]
    Linear(in_features=2, out_features=2, bias=True)
    >>> x = torch.randn(5, 4)
    >>> torch.allclose(small(x), net(x))
    True
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"shrink_sequential needs an nn.Sequential, got {type(model).__name__}")
    chain = _flat_modules(model)
    for m in chain:
        if isinstance(m, _CONV) and m.groups != 1:
            raise ValueError(f"cannot shrink {m}: only groups=1 convolutions are supported")
        if not isinstance(m, _CONV + _BN + _PASS_THROUGH + (nn.Linear, nn.Flatten)):
            raise ValueError(
                f"cannot shrink a chain containing {type(m).__name__}; supported: Conv1d/2d/3d, "
                f"Linear, BatchNorm, Flatten and zero-preserving activations, pooling and dropout"
            )
        if isinstance(m, nn.Flatten) and (m.start_dim != 1 or m.end_dim != -1):
            raise ValueError("only nn.Flatten(start_dim=1) is supported")
    layer_idx = [i for i, m in enumerate(chain) if isinstance(m, _CONV + (nn.Linear,))]
    last = layer_idx[-1] if layer_idx else -1

    out: list[nn.Module] = []
    keep_in: torch.Tensor | None = None  # alive channels / features of the current activation
    n_channels: int | None = None  # channel count before flattening (original model)
    flattened = False
    for i, m in enumerate(chain):
        if isinstance(m, _CONV + (nn.Linear,)):
            w = m.weight.detach()
            if keep_in is not None and isinstance(m, nn.Linear) and flattened:
                per = m.in_features // n_channels
                offsets = torch.arange(per, device=w.device)
                keep_feat = (keep_in.reshape(-1, 1) * per + offsets).reshape(-1)
            else:
                keep_feat = keep_in
            bn = _following_bn(chain, i)
            if i == last:  # the output layer keeps all its units
                alive = torch.ones(w.shape[0], dtype=torch.bool, device=w.device)
            else:
                alive = _alive_units(m, bn)
            if not bool(alive.any()):
                alive[0] = True  # keep one unit so the chain stays well formed
            rows = torch.nonzero(alive).flatten()
            new_w = w[rows] if keep_feat is None else w[rows][:, keep_feat]
            new = copy.deepcopy(m)
            new.weight = nn.Parameter(new_w.clone(), requires_grad=m.weight.requires_grad)
            if m.bias is not None:
                new.bias = nn.Parameter(m.bias.detach()[rows].clone(),
                                        requires_grad=m.bias.requires_grad)
            if isinstance(m, nn.Linear):
                new.in_features, new.out_features = new_w.shape[1], new_w.shape[0]
            else:
                new.in_channels, new.out_channels = new_w.shape[1], new_w.shape[0]
            out.append(new)
            keep_in, n_channels, flattened = rows, w.shape[0], False
        elif isinstance(m, _BN):
            new = copy.deepcopy(m)
            if keep_in is not None:
                idx = keep_in
                for name in ("weight", "bias"):
                    t = getattr(m, name)
                    if t is not None:
                        kept = nn.Parameter(t.detach()[idx].clone(), requires_grad=t.requires_grad)
                        setattr(new, name, kept)
                for name in ("running_mean", "running_var"):
                    t = getattr(m, name)
                    if t is not None:
                        setattr(new, name, t[idx].clone())
                new.num_features = len(idx)
            out.append(new)
        elif isinstance(m, nn.Flatten):
            flattened = True
            out.append(copy.deepcopy(m))
        else:
            out.append(copy.deepcopy(m))
    small = nn.Sequential(*out)
    small.train(model.training)
    return small
