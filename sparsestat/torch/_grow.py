"""Growing a network whose layers are nearly all selected by the DessiLBI path."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from ._optimizer import DessiLBI
from .prune import _BN, _CONV, _PASS_THROUGH

__all__ = ["grow"]


def _named_chain(model: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    if isinstance(model, nn.Sequential):
        out = []
        for name, child in model.named_children():
            out.extend(_named_chain(child, f"{prefix}{name}."))
        return out
    return [(prefix[:-1], model)]


def _set_module(root: nn.Module, qualified: str, module: nn.Module) -> None:
    parent = root
    *path, last = qualified.split(".")
    for part in path:
        parent = getattr(parent, part)
    setattr(parent, last, module)


def _unit_selection(opt: DessiLBI, weight: torch.Tensor) -> float:
    """Share of output units with at least one weight in the support."""
    sup = opt.support(weight)
    return float(sup.reshape(sup.shape[0], -1).any(dim=1).float().mean())


def _widen_out(layer: nn.Module, n_new: int) -> nn.Module:
    """Copy of ``layer`` with ``n_new`` more output units (default init), old units unchanged."""
    new = copy.deepcopy(layer)
    w = layer.weight.detach()
    fresh = torch.empty((n_new,) + tuple(w.shape[1:]), dtype=w.dtype, device=w.device)
    nn.init.kaiming_uniform_(fresh, a=math.sqrt(5))  # torch's default for Linear / Conv
    new.weight = nn.Parameter(torch.cat([w, fresh]), requires_grad=layer.weight.requires_grad)
    if layer.bias is not None:
        b = layer.bias.detach()
        new.bias = nn.Parameter(torch.cat([b, torch.zeros(n_new, dtype=b.dtype, device=b.device)]),
                                requires_grad=layer.bias.requires_grad)
    if isinstance(layer, nn.Linear):
        new.out_features = new.weight.shape[0]
    else:
        new.out_channels = new.weight.shape[0]
    return new


def _widen_in(layer: nn.Module, n_new: int) -> nn.Module:
    """Copy of ``layer`` with ``n_new`` more input features / channels, their weights zero."""
    new = copy.deepcopy(layer)
    w = layer.weight.detach()
    pad = torch.zeros((w.shape[0], n_new) + tuple(w.shape[2:]), dtype=w.dtype, device=w.device)
    new.weight = nn.Parameter(torch.cat([w, pad], dim=1), requires_grad=layer.weight.requires_grad)
    if isinstance(layer, nn.Linear):
        new.in_features = new.weight.shape[1]
    else:
        new.in_channels = new.weight.shape[1]
    return new


def _widen_bn(bn: nn.Module, n_new: int) -> nn.Module:
    new = copy.deepcopy(bn)
    if bn.affine:
        w, b = bn.weight.detach(), bn.bias.detach()
        new.weight = nn.Parameter(torch.cat([w, w.new_ones(n_new)]),
                                  requires_grad=bn.weight.requires_grad)
        new.bias = nn.Parameter(torch.cat([b, b.new_zeros(n_new)]),
                                requires_grad=bn.bias.requires_grad)
    if bn.running_mean is not None:
        new.running_mean = torch.cat([bn.running_mean, bn.running_mean.new_zeros(n_new)])
        new.running_var = torch.cat([bn.running_var, bn.running_var.new_ones(n_new)])
    new.num_features = bn.num_features + n_new
    return new


def _extend_state(
    old: dict[str, torch.Tensor], new_param: torch.Tensor, penalty: str | None
) -> dict[str, torch.Tensor]:
    """Optimizer state of a widened tensor: old values in the leading block, fresh elsewhere."""
    out: dict[str, torch.Tensor] = {}
    for key, val in old.items():
        if key == "step":
            out[key] = val.clone()
            continue
        if key == "entry_step":
            shape = new_param.shape if penalty == "lasso" else new_param.shape[:1]
            t = torch.full(shape, math.inf, dtype=val.dtype, device=val.device)
        else:
            t = torch.zeros_like(new_param)
        t[tuple(slice(0, n) for n in val.shape)] = val
        out[key] = t
    return out


@torch.no_grad()
def grow(
    model: nn.Sequential,
    optimizer: DessiLBI,
    *,
    threshold: float = 0.9,
    factor: float = 0.5,
) -> tuple[nn.Sequential, DessiLBI, dict[str, int]]:
    """Widen the layers whose output units are (nearly) all in the support.

    When the path has selected at least ``threshold`` of a layer's output
    units (filters of a convolution, neurons of a linear layer with at least
    one selected weight), the layer may be too narrow for the task. ``grow``
    adds ``ceil(factor * n_units)`` new units to each such layer (default
    initialization, zero bias), extends a BatchNorm right after it, and gives
    the next layer zero weights for the new inputs -- so the grown network
    computes exactly the same function. The optimizer is rebuilt for the new
    parameters with the same groups and hyper-parameters; old state (momentum,
    ``V``, entry record, step count) is kept, new units start outside the
    support.

    Parameters
    ----------
    model : torch.nn.Sequential
        Chain of Conv1d/2d/3d (``groups=1``), Linear, BatchNorm, Flatten,
        activations, pooling and dropout (possibly nested ``nn.Sequential``).
        The last convolution / linear layer (the output) never grows.
    optimizer : DessiLBI
        Its optimizer, with named parameter groups (e.g. from
        :func:`lbi_param_groups`).
    threshold : float, default=0.9
        Selected share of output units, in (0, 1], from which a layer grows.
    factor : float, default=0.5
        New units as a share of the current ones (> 0).

    Returns
    -------
    model : torch.nn.Sequential
        A grown copy (the input model is left unchanged).
    optimizer : DessiLBI
        The optimizer of the grown copy.
    added : dict
        ``{layer name: units added}`` (empty when nothing grew).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sparsestat.torch import DessiLBI, grow, lbi_param_groups
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> opt = DessiLBI(lbi_param_groups(net), lr=1.0, kappa=0.1, mu=1.0, momentum=0.0)
    >>> x = torch.randn(64, 4)
    >>> y = 3 * x @ torch.randn(4, 2)
    >>> for _ in range(100):
    ...     opt.zero_grad(); nn.functional.mse_loss(net(x), y).backward(); opt.step()
    >>> bigger, opt2, added = grow(net, opt, threshold=0.9)
    >>> added, bigger[0].out_features, bigger[2].in_features
    ({'0': 2}, 5, 5)
    >>> torch.allclose(bigger(x), net(x))
    True
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"grow needs an nn.Sequential, got {type(model).__name__}")
    if not isinstance(optimizer, DessiLBI):
        raise TypeError(f"optimizer must be a DessiLBI, got {type(optimizer).__name__}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
            or not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 0:
        raise ValueError(f"factor must be positive, got {factor!r}")
    if any("param_names" not in g for g in optimizer.param_groups):
        raise ValueError(
            "grow needs named parameter groups; build them with lbi_param_groups(model)"
        )
    chain = _named_chain(model)
    for _, m in chain:
        if isinstance(m, _CONV) and m.groups != 1:
            raise ValueError(f"cannot grow {m}: only groups=1 convolutions are supported")
        if not isinstance(m, _CONV + _BN + _PASS_THROUGH + (nn.Linear, nn.Flatten)):
            raise ValueError(f"cannot grow a chain containing {type(m).__name__}")

    penalized = {id(p): pen for _, p, pen in optimizer.penalized_parameters()}
    layers = [i for i, (_, m) in enumerate(chain) if isinstance(m, _CONV + (nn.Linear,))]
    new_model = copy.deepcopy(model)
    new_chain = dict(_named_chain(new_model))
    added: dict[str, int] = {}
    for pos, i in enumerate(layers[:-1]):
        name, layer = chain[i]
        if id(layer.weight) not in penalized:
            continue
        if _unit_selection(optimizer, layer.weight) < threshold:
            continue
        n_new = math.ceil(factor * layer.weight.shape[0])
        added[name] = n_new
        _set_module(new_model, name, _widen_out(new_chain[name], n_new))
        j = i + 1
        if j < len(chain) and isinstance(chain[j][1], _BN):
            _set_module(new_model, chain[j][0], _widen_bn(new_chain[chain[j][0]], n_new))
        nxt_name, nxt = chain[layers[pos + 1]]
        flattened = any(isinstance(m, nn.Flatten) for _, m in chain[i + 1:layers[pos + 1]])
        per = nxt.weight.shape[1] // layer.weight.shape[0] if flattened else 1
        current = dict(_named_chain(new_model))[nxt_name]
        _set_module(new_model, nxt_name, _widen_in(current, n_new * per))
        new_chain = dict(_named_chain(new_model))

    # rebuild the optimizer over the new parameters, same groups, state carried over
    new_params = dict(new_model.named_parameters())
    groups: list[dict[str, Any]] = []
    for g in optimizer.param_groups:
        opts = {k: v for k, v in g.items() if k not in ("params", "param_names")}
        missing = [n for n in g["param_names"] if n not in new_params]
        if missing:
            raise ValueError(f"parameters {missing} of the optimizer are not in the model")
        groups.append({"params": [(n, new_params[n]) for n in g["param_names"]], **opts})
    new_opt = DessiLBI(groups, **{k: v for k, v in optimizer.defaults.items()})
    for g_old, g_new in zip(optimizer.param_groups, new_opt.param_groups):
        for p_old, p_new in zip(g_old["params"], g_new["params"]):
            if p_old in optimizer.state:
                new_opt.state[p_new] = _extend_state(
                    optimizer.state[p_old], p_new, penalized.get(id(p_old))
                )
    return new_model, new_opt, added
