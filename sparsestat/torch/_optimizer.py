"""DessiLBI: Split Linearized Bregman Iteration as a ``torch.optim.Optimizer``.

Each penalized weight tensor ``W`` is coupled to a sparse companion ``Gamma``
through the split loss ``L(W) + ||W - Gamma||^2 / (2 mu)``; ``Gamma`` follows
the inverse scale space path of the Linearized Bregman Iteration::

    W     <- W - lr*kappa * (d + (W - Gamma) / mu)     d: gradient after weight decay/momentum
    V     <- V - (lr/mu) * (Gamma - W)                 (W, Gamma before this step)
    Gamma  = kappa * prox(V)                           lasso: elementwise, group: per output unit

Only ``V`` is stored: ``Gamma`` is a function of it, recomputed once per step,
so the optimizer keeps two buffers per penalized tensor beyond SGD's momentum
(``V`` and the entry record) and none for unpenalized ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch.optim import Optimizer

from ._fused import dessilbi_group_, dessilbi_lasso_
from ._prox import group_norms, group_scale, shrink

__all__ = ["DessiLBI", "PENALTIES"]

#: penalties a parameter group may ask for ("auto": by tensor rank)
PENALTIES = ("lasso", "group", None, "auto")

_INF = math.inf
_NP_FLOAT = {torch.float32: np.float32, torch.float64: np.float64}


def _resolve_penalty(penalty: str | None, p: torch.Tensor) -> str | None:
    """Penalty actually applied to ``p`` ("auto": 1-D -> None, 2-D -> lasso, more -> group)."""
    if penalty != "auto":
        return penalty
    if p.dim() <= 1:
        return None
    return "lasso" if p.dim() == 2 else "group"


def _check_positive(name: str, value: Any, *, allow_inf: bool = False) -> None:
    if isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a Python number, got a tensor; pass {name}=float(...)")
    try:
        fval = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a positive number, got {value!r}") from None
    if math.isnan(fval) or fval <= 0 or (math.isinf(fval) and not allow_inf):
        hint = " (mu=inf gives plain SGD at lr*kappa)" if name == "mu" else ""
        kind = "a positive number" if allow_inf else "a positive finite number"
        raise ValueError(f"{name} must be {kind}, got {value!r}{hint}")


class DessiLBI(Optimizer):
    """Differential-inclusion (Split LBI) optimizer that trains a network and its sparse structure.

    Every parameter group carries a ``penalty``: ``'lasso'`` (elementwise
    sparsity, for fully connected weights), ``'group'`` (one group per output
    unit -- a row of a linear weight, a filter of a convolution weight; the
    tensor must have at least two dimensions), ``None`` (plain SGD with
    momentum at step ``lr * kappa``, for biases and normalization layers) or
    ``'auto'`` (by tensor rank: 1-D -> None, 2-D -> lasso, higher -> group).
    Use :func:`lbi_param_groups` to build the groups from a model.

    For a penalized tensor ``W`` the step is::

        d  = momentum/weight-decay/nesterov gradient, exactly as torch.optim.SGD
        W <- W - lr*kappa*d - (lr*kappa/mu) * (W - Gamma)
        V <- V + (lr/mu) * (W_old - Gamma)
        Gamma = kappa * prox(V)

    ``Gamma`` starts at zero and its support grows along the path: important
    weights / filters enter first. ``mu`` sets the path's clock (the coupling
    acts on a time scale of ``mu / (lr*kappa)`` steps); with ``mu = inf`` the
    optimizer is exactly SGD at ``lr*kappa``. See :func:`propose_mu`.

    Parameters
    ----------
    params : iterable
        Parameters, ``(name, parameter)`` pairs, or dicts defining parameter
        groups (each may override every option below and ``penalty``).
    lr : float
        Step size (positive). ``W`` moves with ``lr * kappa``, ``V`` with ``lr / mu``.
    kappa : float, default=1.0
        Damping of the Bregman iteration; ``Gamma = kappa * prox(V)``.
    mu : float, default=100.0
        Coupling between ``W`` and ``Gamma`` (positive, ``inf`` allowed).
        Small data sets trained for a few hundred steps need ``mu`` near 1.
    momentum : float, default=0.9
        Momentum factor, as in :class:`torch.optim.SGD`.
    dampening : float, default=0.0
        Dampening for momentum.
    weight_decay : float, default=0.0
        L2 penalty added to the gradient before momentum.
    nesterov : bool, default=False
        Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
    penalty : {'auto', 'lasso', 'group', None}, default='auto'
        Default penalty of groups that do not name one.
    jit : bool or None, default=None
        Step penalized CPU float32/float64 contiguous tensors in one compiled
        pass (numba) instead of a dozen torch kernels. ``None`` or ``True``:
        wherever possible; ``False``: always with torch kernels (any device).
        Unpenalized tensors and ``mu = inf`` always use torch's SGD kernels.

    Attributes
    ----------
    state : dict
        Per parameter, tensors only: ``momentum_buffer`` (as SGD) and, for
        penalized tensors, ``V`` (the Bregman variable), ``entry_step`` (first
        step at which each weight / output unit entered the support, ``inf``
        if never; float32) and ``step`` (int64 counter). Created lazily at the
        first step.

    See Also
    --------
    lbi_param_groups : penalties from a model's layer types.
    propose_mu : a coupling ``mu`` for a given number of steps.
    sparsestat.torch.prune : masks and smaller models from the support.

    Notes
    -----
    The Split LBI of Huang, Sun, Xiong and Yao (2016) with ``D = I`` applied
    per tensor, as used in DessiLBI (Fu et al., ICML 2020). Sparse gradients
    are not supported.

    Examples
    --------
    >>> import torch
    >>> from sparsestat.torch import DessiLBI, lbi_param_groups
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    >>> opt = DessiLBI(lbi_param_groups(model), lr=0.1, mu=2.0)
    >>> x, y = torch.randn(32, 5), torch.randn(32, 1)
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = torch.nn.functional.mse_loss(model(x), y)
    ...     loss.backward()
    ...     return loss
    >>> loss = opt.step(closure)
    >>> opt.support(model[0].weight).shape
    torch.Size([3, 5])
    >>> 0.0 <= opt.support_ratio()["overall"] <= 1.0
    True
    """

    def __init__(
        self,
        params: Iterable,
        lr: float,
        kappa: float = 1.0,
        mu: float = 100.0,
        momentum: float = 0.9,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        penalty: str | None = "auto",
        jit: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            kappa=kappa,
            mu=mu,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            penalty=penalty,
            jit=jit,
        )
        super().__init__(params, defaults)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group after validating its options and penalty.

        Parameters
        ----------
        param_group : dict
            ``{"params": ..., "penalty": ..., "lr": ...}``; missing options
            take the optimizer's defaults.
        """
        super().add_param_group(param_group)
        self._validate_group(self.param_groups[-1], len(self.param_groups) - 1)

    def _validate_group(self, group: dict[str, Any], index: int) -> None:
        _check_positive("lr", group["lr"])
        _check_positive("kappa", group["kappa"])
        _check_positive("mu", group["mu"], allow_inf=True)
        for name in ("momentum", "weight_decay", "dampening"):
            value = group[name]
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("nesterov momentum needs momentum > 0 and dampening = 0")
        penalty = group["penalty"]
        if penalty not in PENALTIES:
            raise ValueError(
                f"unknown penalty {penalty!r} in parameter group {index}; "
                f"use one of 'lasso', 'group', None or 'auto'"
            )
        for name, p in self._named(group, index):
            if not p.is_floating_point():
                raise TypeError(
                    f"parameter {name} has dtype {p.dtype}; DessiLBI needs floating point"
                )
            if penalty == "group" and p.dim() < 2:
                raise ValueError(
                    f"penalty='group' needs a tensor with at least 2 dimensions (output units "
                    f"first), but parameter {name} has shape {tuple(p.shape)}; put it in a group "
                    f"with penalty='lasso' or None"
                )

    @staticmethod
    def _named(group: dict[str, Any], index: int) -> Iterator[tuple[str, torch.Tensor]]:
        names = group.get("param_names")
        for j, p in enumerate(group["params"]):
            yield (names[j] if names is not None else f"group{index}.param{j}"), p

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("penalty", "auto")
            group.setdefault("nesterov", False)
            group.setdefault("jit", None)

    # -------------------------------------------------------------------- step
    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Take one optimization step.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss (gradients enabled).

        Returns
        -------
        loss : torch.Tensor or None
            The closure's return value.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        # One bucket per (SGD hyper-parameters, device, dtype), across parameter
        # groups, so the torch-kernel path runs as few foreach kernels as SGD;
        # penalized CPU tensors take the one-pass compiled kernel instead.
        buckets: dict[tuple, tuple[list, list, list, list]] = {}
        fused: list[tuple] = []
        for index, group in enumerate(self.param_groups):
            sgd_key = (group["lr"] * group["kappa"], group["momentum"], group["dampening"],
                       group["weight_decay"], group["nesterov"])
            default_penalty = group["penalty"]
            jit = group["jit"] is not False and group["mu"] != _INF
            for j, p in enumerate(group["params"]):
                grad = p.grad
                if grad is None:
                    continue
                if grad.is_sparse:
                    name = list(self._named(group, index))[j][0]
                    raise RuntimeError(
                        f"DessiLBI does not support sparse gradients (parameter {name}); "
                        f"use dense gradients, e.g. nn.Embedding(..., sparse=False)"
                    )
                state = self.state[p]
                penalty = _resolve_penalty(default_penalty, p)
                if penalty is not None and "V" not in state:
                    state["step"] = torch.zeros((), dtype=torch.int64)
                    state["V"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    shape = p.shape if penalty == "lasso" else p.shape[:1]
                    state["entry_step"] = torch.full(
                        shape, _INF, dtype=torch.float32, device=p.device
                    )
                if penalty is not None and jit and self._fusable(p, grad, state):
                    fused.append((p, grad, state, penalty, group))
                    continue
                key = (sgd_key, p.device, p.dtype)
                b = buckets.get(key)
                if b is None:
                    b = buckets[key] = ([], [], [], [])
                b[0].append(p)
                b[1].append(grad)
                b[2].append(state.get("momentum_buffer"))
                if penalty is not None:
                    b[3].append((p, state, penalty, group))

        for (sgd_key, _, _), (params, grads, bufs, lbi) in buckets.items():
            self._step_bucket(params, grads, bufs, lbi, *sgd_key)
        if fused:
            self._step_fused(fused)
        return loss

    def _step_fused(self, items: list[tuple]) -> None:
        """Whole step of penalized CPU tensors, one compiled pass each."""
        torch._foreach_add_([state["step"] for _, _, state, _, _ in items], 1)
        coefs: dict[tuple, np.ndarray] = {}
        for p, grad, state, penalty, group in items:
            coef = coefs.get((id(group), p.dtype))
            if coef is None:  # in the parameter's precision
                lr, kappa, mu = group["lr"], group["kappa"], group["mu"]
                coef = coefs[id(group), p.dtype] = np.array(
                    [kappa, lr / mu, lr * kappa / mu, lr * kappa, group["momentum"],
                     1 - group["dampening"], group["weight_decay"], float(group["nesterov"])],
                    dtype=_NP_FLOAT[p.dtype],
                )
            first = group["momentum"] != 0 and "momentum_buffer" not in state
            if first:
                state["momentum_buffer"] = torch.empty_like(
                    p, memory_format=torch.contiguous_format
                )
            w_np, v_np, e_np, b_np = self._numpy_views(p, state, penalty)
            g = grad.view(p.shape[0], -1) if penalty == "group" else grad.view(-1)
            kernel = dessilbi_group_ if penalty == "group" else dessilbi_lasso_
            kernel(w_np, v_np, e_np, g.numpy(), b_np, coef, first,
                   np.float32(state["step"].item()))

    def _step_bucket(
        self, params, grads, bufs, lbi, lr_kappa, momentum, dampening, weight_decay, nesterov
    ) -> None:
        """SGD part with torch's foreach kernels, then the Split LBI coupling."""
        if weight_decay != 0:
            grads = torch._foreach_add(grads, params, alpha=weight_decay)
        if momentum != 0:
            if any(buf is None for buf in bufs):
                for i, p in enumerate(params):
                    if bufs[i] is None:
                        bufs[i] = grads[i].detach().clone()
                        self.state[p]["momentum_buffer"] = bufs[i]
                    else:
                        bufs[i].mul_(momentum).add_(grads[i], alpha=1 - dampening)
            else:
                torch._foreach_mul_(bufs, momentum)
                torch._foreach_add_(bufs, grads, alpha=1 - dampening)
            if nesterov:
                grads = torch._foreach_add(grads, bufs, alpha=momentum)
            else:
                grads = bufs

        if lbi:
            torch._foreach_add_([s["step"] for _, s, _, _ in lbi], 1)
        # coupling bucketed by coefficients: (kappa, c_v, c_w) -> items
        plain: dict[tuple, list] = {}
        for p, state, penalty, group in lbi:
            mu = group["mu"]
            if mu != _INF:  # mu = inf: no coupling, exactly SGD at lr * kappa
                lr, kappa = group["lr"], group["kappa"]
                plain.setdefault((kappa, lr / mu, lr * kappa / mu), []).append((p, state, penalty))
        gaps = []
        for (kappa, c_v, _), items in plain.items():
            w_lbi = [p for p, _, _ in items]
            v_lbi = [s["V"] for _, s, _ in items]
            # Gamma - W with W, Gamma before the step
            gap = [self._gamma_from(v, pen, kappa) for v, (_, _, pen) in zip(v_lbi, items)]
            torch._foreach_sub_(gap, w_lbi)
            torch._foreach_add_(v_lbi, gap, alpha=-c_v)
            gaps.append(gap)
        torch._foreach_add_(params, grads, alpha=-lr_kappa)
        for ((_, _, c_w), items), gap in zip(plain.items(), gaps):
            torch._foreach_add_([p for p, _, _ in items], gap, alpha=c_w)
            for _, state, penalty in items:
                self._record_entry(state, penalty)

    def _numpy_views(self, p: torch.Tensor, state: dict[str, torch.Tensor], penalty: str) -> tuple:
        """Zero-copy numpy views of W, V, the entry record and the momentum buffer (cached)."""
        cache = self.__dict__.setdefault("_np_views", {})
        buf = state.get("momentum_buffer")
        key = (p.data_ptr(), id(state["V"]), id(state["entry_step"]), id(buf))
        views = cache.get(id(p))
        if views is None or views[0] != key:
            rows = p.shape[0] if penalty == "group" else None

            def flat(t):
                return t.view(rows, -1).numpy() if rows else t.view(-1).numpy()

            if buf is not None:
                b = flat(buf)
            else:  # momentum = 0: the kernel never reads it
                b = np.empty((0, 0) if rows else 0, dtype=_NP_FLOAT[p.dtype])
            views = cache[id(p)] = (key, flat(p.detach()), flat(state["V"]),
                                    state["entry_step"].view(-1).numpy(), b)
        return views[1:]

    @staticmethod
    def _fusable(p: torch.Tensor, grad: torch.Tensor, state: dict[str, torch.Tensor]) -> bool:
        """Whether the compiled kernel can update ``p`` in place (CPU, float32/64, contiguous)."""
        buf = state.get("momentum_buffer")
        return (
            p.device.type == "cpu"
            and p.dtype in _NP_FLOAT
            and grad.dtype == p.dtype
            and p.numel() > 0
            and p.is_contiguous()
            and grad.is_contiguous()
            and state["V"].is_contiguous()
            and (buf is None or buf.is_contiguous())
        )

    @staticmethod
    def _gamma_from(v: torch.Tensor, penalty: str, kappa: float) -> torch.Tensor:
        if penalty == "lasso":
            gamma = shrink(v)
        else:
            scale = group_scale(group_norms(v))
            gamma = v * scale.reshape((-1,) + (1,) * (v.dim() - 1))
        if kappa != 1:
            gamma.mul_(kappa)
        return gamma

    @staticmethod
    def _in_support(v: torch.Tensor, penalty: str) -> torch.Tensor:
        """Support of kappa*prox(V): |V| > 1 elementwise, or ||V_g|| > 1 per output unit."""
        if penalty == "lasso":
            return v.abs() > 1
        return group_norms(v) > 1

    @staticmethod
    def _record_entry(state: dict[str, torch.Tensor], penalty: str) -> None:
        v = state["V"]
        x = v if penalty == "lasso" else group_norms(v)
        # 1 where |x| > 1 else 0, with float kernels only (comparisons and
        # torch.where are several times slower on CPU); step / {1, 0} = {step, inf}
        inside = torch.nn.functional.hardshrink(x, 1.0).abs_().sign_()
        if inside.dtype != torch.float32:
            inside = inside.float()
        step = state["step"].to(dtype=torch.float32)
        entry = state["entry_step"]
        torch.minimum(entry, torch.div(step, inside), out=entry)

    # ---------------------------------------------------------- checkpoints
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state saved by :meth:`state_dict`; continuing reproduces an uninterrupted run.

        Parameters
        ----------
        state_dict : dict
            As returned by :meth:`state_dict` (possibly through ``torch.save``).
        """
        entries = {k: s["entry_step"] for k, s in state_dict["state"].items() if "entry_step" in s}
        self.__dict__.pop("_np_views", None)
        super().load_state_dict(state_dict)
        # the base class casts floating state to the parameter's dtype; the entry
        # record stays float32 (exact step counts) whatever the parameter dtype
        params = [p for g in self.param_groups for p in g["params"]]
        for k, entry in entries.items():
            p = params[int(k)]
            self.state[p]["entry_step"] = entry.to(device=p.device, dtype=torch.float32)

    # ------------------------------------------------------------ inspection
    def _find(self, param: torch.Tensor) -> tuple[dict[str, Any], str | None]:
        for group in self.param_groups:
            for p in group["params"]:
                if p is param:
                    return group, _resolve_penalty(group["penalty"], p)
        raise ValueError("this tensor is not a parameter of the optimizer")

    def _penalized(self, param: torch.Tensor) -> tuple[dict[str, Any], str]:
        group, penalty = self._find(param)
        if penalty is None:
            raise ValueError(
                "this parameter has no sparsity penalty (penalty=None); it has no Gamma or support"
            )
        return group, penalty

    def gamma(self, param: torch.Tensor) -> torch.Tensor:
        """The sparse companion ``Gamma = kappa * prox(V)`` of a penalized parameter.

        Parameters
        ----------
        param : torch.Tensor
            A parameter of this optimizer with a lasso or group penalty.

        Returns
        -------
        torch.Tensor
            New tensor shaped like ``param``; zero before the first step.
        """
        group, penalty = self._penalized(param)
        state = self.state.get(param, {})
        if "V" not in state:
            return torch.zeros_like(param.detach())
        return self._gamma_from(state["V"], penalty, group["kappa"])

    def support(self, param: torch.Tensor) -> torch.Tensor:
        """Boolean mask of the weights in the support of ``Gamma`` (shaped like ``param``).

        Parameters
        ----------
        param : torch.Tensor
            A parameter of this optimizer with a lasso or group penalty.

        Returns
        -------
        torch.Tensor
            Bool tensor; for the group penalty whole output units are on or off.
        """
        _, penalty = self._penalized(param)
        state = self.state.get(param, {})
        if "V" not in state:
            return torch.zeros(param.shape, dtype=torch.bool, device=param.device)
        mask = self._in_support(state["V"], penalty)
        if penalty == "group":
            mask = mask.reshape((-1,) + (1,) * (param.dim() - 1)).expand(param.shape)
        return mask.clone()

    def entry_step(self, param: torch.Tensor) -> torch.Tensor:
        """First step at which each weight (lasso) or output unit (group) entered the support.

        Parameters
        ----------
        param : torch.Tensor
            A parameter of this optimizer with a lasso or group penalty.

        Returns
        -------
        torch.Tensor
            float32 tensor shaped like ``param`` (lasso) or ``(param.shape[0],)``
            (group); ``inf`` for those that never entered. Smaller is more important.
        """
        _, penalty = self._penalized(param)
        state = self.state.get(param, {})
        if "entry_step" not in state:
            shape = param.shape if penalty == "lasso" else param.shape[:1]
            return torch.full(shape, _INF, dtype=torch.float32, device=param.device)
        return state["entry_step"].clone()

    def penalized_parameters(self) -> list[tuple[str, torch.Tensor, str]]:
        """``(name, parameter, penalty)`` for every parameter with a sparsity penalty.

        Returns
        -------
        list of tuple
            Names come from ``param_names`` when the groups were given names,
            else ``"group{i}.param{j}"``.
        """
        out = []
        for index, group in enumerate(self.param_groups):
            for name, p in self._named(group, index):
                penalty = _resolve_penalty(group["penalty"], p)
                if penalty is not None:
                    out.append((name, p, penalty))
        return out

    def support_ratio(self) -> dict[str, float]:
        """Fraction of weights in the support, per penalized parameter and overall.

        Returns
        -------
        dict
            ``{name: ratio, ..., "overall": ratio}`` where ``overall`` pools all
            penalized weights (group penalty: every weight of a selected unit counts).
        """
        ratios: dict[str, float] = {}
        selected = total = 0
        for name, p, _ in self.penalized_parameters():
            k = int(self.support(p).sum())
            ratios[name] = k / max(p.numel(), 1)
            selected += k
            total += p.numel()
        ratios["overall"] = selected / total if total else 0.0
        return ratios

    @contextmanager
    def sparse_weights(self) -> Iterator[None]:
        """Temporarily replace each penalized ``W`` by ``W * 1[Gamma != 0]``.

        The original weights are restored exactly on exit, also after an
        exception. Use it to evaluate the sparse sub-network.

        Examples
        --------
        >>> import torch
        >>> from sparsestat.torch import DessiLBI
        >>> w = torch.nn.Parameter(torch.ones(2, 3))
        >>> opt = DessiLBI([w], lr=0.1)
        >>> with opt.sparse_weights():
        ...     float(w.detach().abs().sum())
        0.0
        >>> float(w.detach().sum())
        6.0
        """
        saved = []
        try:
            with torch.no_grad():
                for _, p, _ in self.penalized_parameters():
                    mask = self.support(p)
                    saved.append((p, p.detach().clone()))
                    p.masked_fill_(~mask, 0)
            yield
        finally:
            with torch.no_grad():
                for p, original in saved:
                    p.copy_(original)
