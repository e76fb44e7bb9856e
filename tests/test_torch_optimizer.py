"""DessiLBI optimizer: update rule, SGD limit, proximal maps, path order, checkpoints, errors."""

import copy
import io
import math
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from sparsestat.torch import (  # noqa: E402
    DessiLBI,
    group_shrink,
    lbi_param_groups,
    propose_mu,
    shrink,
)

torch.set_num_threads(1)


# --------------------------------------------------------------------------- reference
def _ref_prox(v, penalty):
    """Prox at threshold one, written from the definitions (numpy, float64)."""
    if penalty == "lasso":
        return np.sign(v) * np.maximum(np.abs(v) - 1.0, 0.0)
    out = np.zeros_like(v)
    for i in range(v.shape[0]):
        n = np.sqrt(np.sum(v[i] ** 2))
        if n > 1.0:
            out[i] = v[i] * (1.0 - 1.0 / n)
    return out


class _RefLBI:
    """Split LBI with SGD momentum for one tensor, following the update equations."""

    def __init__(self, w, penalty, lr, kappa, mu, momentum, dampening, wd, nesterov):
        self.w = w.copy()
        self.v = np.zeros_like(w)
        self.buf = None
        self.penalty = penalty
        self.h = dict(lr=lr, kappa=kappa, mu=mu, m=momentum, damp=dampening, wd=wd, nest=nesterov)
        shape = w.shape if penalty == "lasso" else w.shape[:1]
        self.entry = np.full(shape, np.inf)
        self.k = 0

    def gamma(self):
        if self.penalty is None:
            return None
        return self.h["kappa"] * _ref_prox(self.v, self.penalty)

    def step(self, grad):
        h = self.h
        g = grad + h["wd"] * self.w
        if h["m"]:
            self.buf = g.copy() if self.buf is None else h["m"] * self.buf + (1 - h["damp"]) * g
            d = g + h["m"] * self.buf if h["nest"] else self.buf
        else:
            d = g
        lk = h["lr"] * h["kappa"]
        if self.penalty is None:
            self.w = self.w - lk * d
            return
        gam = self.gamma()
        w_old = self.w
        self.w = w_old - lk * (d + (w_old - gam) / h["mu"])
        self.v = self.v - (h["lr"] / h["mu"]) * (gam - w_old)
        self.k += 1
        now = _ref_prox(self.v, self.penalty) != 0
        if self.penalty == "group":
            now = now.reshape(now.shape[0], -1).any(axis=1)
        self.entry[now & np.isinf(self.entry)] = self.k


def _quadratic_grad(w, target, weight):
    """Gradient of 0.5 * sum(weight * (w - target)**2)."""
    return weight * (w - target)


@pytest.mark.parametrize("jit", [None, False])  # compiled CPU kernel and torch kernels
@pytest.mark.parametrize(
    "momentum, dampening, wd, nesterov, kappa",
    [
        (0.9, 0.0, 1e-2, False, 1.0),
        (0.5, 0.1, 5e-3, False, 2.0),
        (0.8, 0.0, 1e-2, True, 0.7),
        (0.0, 0.0, 0.0, False, 1.0),
    ],
)
def test_update_matches_reference_implementation(momentum, dampening, wd, nesterov, kappa, jit):
    rng = np.random.default_rng(3)
    shapes = {"lasso": (4, 6), "group": (5, 2, 3, 3), None: (5,)}
    lr, mu = 0.2, 1.0
    inits = {k: 0.1 * rng.normal(size=s) for k, s in shapes.items()}
    # sparse targets: half of the weights / filters have nothing to learn
    targets = {}
    for k, s in shapes.items():
        units = s[:1] if k == "group" else s
        active = (rng.uniform(size=units) < 0.5).reshape(units + (1,) * (len(s) - len(units)))
        targets[k] = rng.normal(scale=3.0, size=s) * active
    weights = {k: rng.uniform(0.2, 2.0, size=s) for k, s in shapes.items()}
    params = {k: nn.Parameter(torch.tensor(v)) for k, v in inits.items()}
    groups = [{"params": [params[k]], "penalty": k} for k in shapes]
    opt = DessiLBI(groups, lr=lr, kappa=kappa, mu=mu, momentum=momentum,
                   dampening=dampening, weight_decay=wd, nesterov=nesterov, jit=jit)
    refs = {k: _RefLBI(inits[k], k, lr, kappa, mu, momentum, dampening, wd, nesterov)
            for k in shapes}
    for _ in range(30):
        opt.zero_grad()
        loss = sum(
            0.5 * (torch.tensor(weights[k]) * (params[k] - torch.tensor(targets[k])) ** 2).sum()
            for k in shapes
        )
        loss.backward()
        opt.step()
        for k in shapes:
            refs[k].step(_quadratic_grad(refs[k].w, targets[k], weights[k]))
    for k in shapes:
        np.testing.assert_allclose(params[k].detach().numpy(), refs[k].w, rtol=1e-10, atol=1e-12)
    for k in ("lasso", "group"):
        v, gamma = opt.state[params[k]]["V"].numpy(), opt.gamma(params[k]).numpy()
        np.testing.assert_allclose(v, refs[k].v, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gamma, refs[k].gamma(), rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(opt.entry_step(params[k]).numpy(), refs[k].entry)
        sel = refs[k].entry
        # the run is informative: some units entered, some did not, at different steps
        assert np.isfinite(sel).any() and np.isinf(sel).any(), (k, sel)
    assert len(np.unique(refs["lasso"].entry[np.isfinite(refs["lasso"].entry)])) > 1


def _small_net(seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
        nn.Linear(4 * 6 * 6, 8), nn.ReLU(), nn.Linear(8, 3),
    ).to(dtype)


def _batches(n_steps, seed=1, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    teacher = torch.randn(36, 3, generator=g, dtype=dtype)
    xs = [torch.randn(16, 1, 6, 6, generator=g, dtype=dtype) for _ in range(n_steps)]
    return [(x, (x.flatten(1) @ teacher).argmax(1)) for x in xs]


def _train(model, opt, batches):
    for x, y in batches:
        def closure():
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return loss
        opt.step(closure)


@pytest.mark.parametrize(
    "mu, jit, exact", [(math.inf, None, True), (1e30, False, True), (1e30, None, False)]
)
@pytest.mark.parametrize(
    "momentum, wd, nesterov", [(0.9, 1e-3, False), (0.9, 0.0, True), (0.0, 1e-2, False)]
)
def test_infinite_mu_is_exactly_sgd_at_lr_kappa(mu, jit, exact, momentum, wd, nesterov):
    # bit for bit with torch kernels; the compiled kernel rounds its own way (float32 ulps)
    lr, kappa = 0.05, 3.0
    m1, m2 = _small_net(), _small_net()
    opt1 = DessiLBI(lbi_param_groups(m1), lr=lr, kappa=kappa, mu=mu, momentum=momentum,
                    weight_decay=wd, nesterov=nesterov, jit=jit)
    opt2 = torch.optim.SGD(m2.parameters(), lr=lr * kappa, momentum=momentum,
                           weight_decay=wd, nesterov=nesterov)
    batches = _batches(12)
    _train(m1, opt1, batches)
    _train(m2, opt2, batches)
    for (n, p1), p2 in zip(m1.named_parameters(), m2.parameters()):
        if exact:
            assert torch.equal(p1, p2), n
        else:
            torch.testing.assert_close(p1, p2, rtol=1e-5, atol=1e-6)
    assert opt1.support_ratio()["overall"] == 0.0


def test_group_prox_identities():
    g = torch.Generator().manual_seed(0)
    scale = torch.linspace(0, 1.5, 50, dtype=torch.float64).reshape(-1, 1, 1, 1)
    v = torch.randn(50, 3, 2, 2, generator=g, dtype=torch.float64) * scale
    v[7] = 0.0
    out = group_shrink(v)
    assert not torch.isnan(out).any()
    vn = v.reshape(50, -1).norm(dim=1)
    on = out.reshape(50, -1).norm(dim=1)
    np.testing.assert_allclose(on.numpy(), np.maximum(vn.numpy() - 1, 0), atol=1e-12)
    nz = on > 0
    assert 5 < int(nz.sum()) < 45
    cos = (out.reshape(50, -1) * v.reshape(50, -1)).sum(1)[nz] / (on[nz] * vn[nz])
    np.testing.assert_allclose(cos.numpy(), 1.0, atol=1e-12)
    assert torch.equal(out[7], torch.zeros_like(out[7]))
    # optimality of prox: v - out is a subgradient of the sum of group norms at out
    r = (v - out).reshape(50, -1)
    np.testing.assert_allclose(r.norm(dim=1)[nz].numpy(), 1.0, atol=1e-12)
    assert (r.norm(dim=1)[~nz] <= 1 + 1e-12).all()


def test_lasso_prox_is_soft_threshold_and_optimal():
    v = torch.linspace(-3, 3, 601, dtype=torch.float64)
    out = shrink(v)
    expected = np.sign(v.numpy()) * np.maximum(np.abs(v.numpy()) - 1, 0)
    np.testing.assert_array_equal(out.numpy(), expected)
    r = (v - out).numpy()
    on = out.numpy() != 0
    np.testing.assert_allclose(r[on], np.sign(out.numpy()[on]))
    assert (np.abs(r[~on]) <= 1).all()
    assert not torch.isnan(group_shrink(torch.zeros(3, 4))).any()


def _planted_problem(seed=0, n=200, p=30):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    beta = np.zeros(p)
    planted = np.array([3, 11, 17, 25])
    beta[planted] = [3.0, -2.5, 2.0, -3.5]
    y = X @ beta + 0.5 * rng.normal(size=n)
    return torch.tensor(X), torch.tensor(y), planted


def _fit_linear(X, y, n_steps, **kw):
    lin = nn.Linear(X.shape[1], 1, bias=False).double()
    nn.init.zeros_(lin.weight)
    opt = DessiLBI([{"params": [lin.weight], "penalty": "lasso"}], **kw)
    supports = []
    for _ in range(n_steps):
        opt.zero_grad()
        loss = 0.5 * ((lin(X).squeeze(1) - y) ** 2).mean()
        loss.backward()
        opt.step()
        supports.append(int(opt.support(lin.weight).sum()))
    return lin, opt, supports


def test_gamma_starts_empty_and_planted_weights_enter_first():
    X, y, planted = _planted_problem()
    lin, opt, supports = _fit_linear(X, y, 400, lr=0.05, mu=2.0, momentum=0.0)
    assert supports[0] == 0 and supports[5] == 0
    entry = opt.entry_step(lin.weight).squeeze(0).numpy()
    assert np.isfinite(entry[planted]).all()
    first = np.argsort(entry, kind="stable")[: len(planted)]
    assert set(first) == set(planted)
    nulls = np.setdiff1d(np.arange(X.shape[1]), planted)
    assert entry[planted].max() < entry[nulls].min()
    assert 0 < supports[-1] < X.shape[1]


def test_proposed_mu_opens_the_path_where_the_default_does_not():
    X, y, planted = _planted_problem(seed=1)
    n_steps, lr = 300, 0.05
    mu = propose_mu(n_steps, lr)
    lin, opt, supports = _fit_linear(X, y, n_steps, lr=lr, mu=mu, momentum=0.0)
    assert set(np.flatnonzero(opt.support(lin.weight).squeeze(0).numpy())) >= set(planted)
    _, _, default_supports = _fit_linear(X, y, n_steps, lr=lr, mu=100.0, momentum=0.0)
    assert default_supports[-1] == 0


@pytest.mark.parametrize(
    "dtype, jit", [(torch.float32, None), (torch.float64, None), (torch.float32, False)]
)
def test_checkpoint_continue_is_bit_for_bit(dtype, jit):
    batches = _batches(30, dtype=dtype)
    kw = dict(lr=0.3, mu=1.0, momentum=0.9, weight_decay=1e-3, jit=jit)
    ref = _small_net(dtype=dtype)
    ref_opt = DessiLBI(lbi_param_groups(ref), **kw)
    _train(ref, ref_opt, batches)

    model = _small_net(dtype=dtype)
    opt = DessiLBI(lbi_param_groups(model), **kw)
    _train(model, opt, batches[:15])
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buf)
    buf.seek(0)
    ckpt = torch.load(buf)
    model2 = _small_net(seed=5, dtype=dtype)
    model2.load_state_dict(ckpt["model"])
    opt2 = DessiLBI(lbi_param_groups(model2), **kw)
    opt2.load_state_dict(ckpt["opt"])
    # exact round trip of the optimizer state
    sd1, sd2 = opt.state_dict(), opt2.state_dict()
    assert sd1["param_groups"] == sd2["param_groups"]
    for k in sd1["state"]:
        assert sd1["state"][k].keys() == sd2["state"][k].keys()
        for key, val in sd1["state"][k].items():
            assert isinstance(val, torch.Tensor)
            other = sd2["state"][k][key]
            assert val.dtype == other.dtype and torch.equal(val, other)
    _train(model2, opt2, batches[15:])
    for (n, p1), p2 in zip(ref.named_parameters(), model2.parameters()):
        assert torch.equal(p1, p2), n
    for p1, p2 in zip(ref.parameters(), model2.parameters()):
        s1, s2 = ref_opt.state[p1], opt2.state[p2]
        for key in s1:
            assert torch.equal(s1[key], s2[key]), key
    assert 0 < ref_opt.support_ratio()["overall"] < 1


def test_state_is_lazy_and_tensors_only():
    model = _small_net()
    opt = DessiLBI(lbi_param_groups(model), lr=0.1)
    assert len(opt.state) == 0
    x, y = _batches(1)[0]
    model[4].weight.requires_grad_(False)  # no gradient -> no state
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    assert model[4].weight not in opt.state
    conv = opt.state[model[0].weight]
    assert set(conv) == {"momentum_buffer", "V", "entry_step", "step"}
    assert conv["entry_step"].shape == (4,)
    assert set(opt.state[model[0].bias]) == {"momentum_buffer"}
    assert all(isinstance(v, torch.Tensor) for s in opt.state.values() for v in s.values())


def test_step_returns_closure_loss():
    model = _small_net()
    opt = DessiLBI(model.parameters(), lr=0.1)
    x, y = _batches(1)[0]
    sentinel = {}

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        sentinel["loss"] = loss
        return loss

    assert opt.step(closure) is sentinel["loss"]
    assert opt.step() is None


def test_inspection_and_sparse_weights_restore_exactly():
    batches = _batches(30)
    model = _small_net()
    opt = DessiLBI(lbi_param_groups(model), lr=0.3, mu=1.0)
    _train(model, opt, batches)
    conv, fc = model[0].weight, model[4].weight
    ratios = opt.support_ratio()
    assert 0 < ratios["overall"] < 1
    sup = opt.support(fc)
    assert ratios["4.weight"] == pytest.approx(sup.float().mean().item())
    n_sel = sum(int(opt.support(p).sum()) for _, p, _ in opt.penalized_parameters())
    n_pen = conv.numel() + fc.numel() + model[6].weight.numel()
    assert ratios["overall"] == pytest.approx(n_sel / n_pen)
    csup = opt.support(conv)
    assert (csup.reshape(4, -1).all(1) | (~csup).reshape(4, -1).all(1)).all()  # whole filters
    assert torch.equal(csup.reshape(4, -1)[:, 0], torch.isfinite(opt.entry_step(conv)))
    assert torch.equal(opt.gamma(fc) != 0, sup)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(KeyError):
        with opt.sparse_weights():
            assert torch.equal(fc, torch.where(sup, before[4], torch.zeros_like(fc)))
            assert torch.equal(model[0].bias, before[1])
            raise KeyError("boom")
    for p, b in zip(model.parameters(), before):
        assert torch.equal(p, b)
    with pytest.raises(ValueError, match="no sparsity penalty"):
        opt.support(model[0].bias)
    with pytest.raises(ValueError, match="not a parameter"):
        opt.support(torch.zeros(3))


def test_param_groups_from_model():
    model = _small_net()
    model[6].weight.requires_grad_(False)
    groups = lbi_param_groups(model, weight_decay=1e-4)
    by = {g["penalty"]: [n for n, _ in g["params"]] for g in groups}
    assert by == {"group": ["0.weight"], "lasso": ["4.weight"],
                  None: ["0.bias", "1.weight", "1.bias", "4.bias", "6.bias"]}
    assert all(g["weight_decay"] == 1e-4 for g in groups)
    opt = DessiLBI(groups, lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["0.weight"]
    with pytest.raises(ValueError, match="conv must be"):
        lbi_param_groups(model, conv="l1")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=0.0), "lr must be"),
        (dict(lr=-0.1), "lr must be"),
        (dict(lr=float("nan")), "lr must be"),
        (dict(lr=0.1, kappa=0.0), "kappa must be"),
        (dict(lr=0.1, kappa=-1.0), "kappa must be"),
        (dict(lr=0.1, mu=0.0), "mu must be"),
        (dict(lr=0.1, mu=-5.0), "mu must be"),
        (dict(lr=0.1, momentum=-0.5), "momentum must be"),
        (dict(lr=0.1, nesterov=True, momentum=0.0), "nesterov"),
        (dict(lr=0.1, penalty="l1"), "unknown penalty 'l1'"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DessiLBI([nn.Parameter(torch.zeros(3, 3))], **kwargs)


def test_bad_groups_and_gradients_raise():
    bias = nn.Parameter(torch.zeros(4))
    with pytest.raises(ValueError, match=r"penalty='group' needs .* shape \(4,\)"):
        DessiLBI([{"params": [bias], "penalty": "group"}], lr=0.1)
    opt = DessiLBI([{"params": [nn.Parameter(torch.zeros(2, 2))], "penalty": "lasso"}], lr=0.1)
    with pytest.raises(ValueError, match="unknown penalty"):
        opt.add_param_group({"params": [nn.Parameter(torch.zeros(2))], "penalty": "ridge"})
    with pytest.raises(ValueError, match="mu must be"):
        opt.add_param_group({"params": [nn.Parameter(torch.zeros(2))], "mu": 0})
    emb = nn.Embedding(10, 3, sparse=True)
    opt = DessiLBI(emb.parameters(), lr=0.1)
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse gradients"):
        opt.step()
    with pytest.raises(ValueError, match="n_steps"):
        propose_mu(0, 0.1)


def test_missing_torch_gives_install_hint():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import sparsestat\n"
        "try:\n"
        "    import sparsestat.torch\n"
        "except ImportError as e:\n"
        "    print('MSG', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert 'pip install "sparsestat[torch]"' in out.stdout


def test_momentum_state_matches_sgd_for_unpenalized_groups():
    model, ref = _small_net(), _small_net()
    opt = DessiLBI([{"params": model.parameters(), "penalty": None}], lr=0.1, kappa=0.5)
    sgd = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9)
    batches = _batches(5)
    _train(model, opt, batches)
    _train(ref, sgd, batches)
    for p, q in zip(model.parameters(), ref.parameters()):
        assert torch.equal(opt.state[p]["momentum_buffer"], sgd.state[q]["momentum_buffer"])
    copy.deepcopy(opt.state_dict())


def test_compiled_and_torch_kernels_agree_in_float32():
    batches = _batches(30)
    runs = []
    for jit in (None, False):
        model = _small_net()
        opt = DessiLBI(lbi_param_groups(model), lr=0.3, mu=1.0, jit=jit)
        _train(model, opt, batches)
        runs.append((model, opt))
    (m1, o1), (m2, o2) = runs
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        torch.testing.assert_close(p1, p2, rtol=1e-4, atol=1e-5)
    for (_, p1, _), (_, p2, _) in zip(o1.penalized_parameters(), o2.penalized_parameters()):
        torch.testing.assert_close(o1.state[p1]["V"], o2.state[p2]["V"], rtol=1e-4, atol=1e-5)
    assert 0 < o1.support_ratio()["overall"] < 1


def test_lr_scheduler_drives_the_step_like_sgd():
    # with mu = inf the optimizer is SGD at lr * kappa, also under a schedule
    m1, m2 = _small_net(), _small_net()
    opt1 = DessiLBI(lbi_param_groups(m1), lr=0.2, kappa=0.25, mu=math.inf)
    opt2 = torch.optim.SGD(m2.parameters(), lr=0.05, momentum=0.9)
    s1 = torch.optim.lr_scheduler.StepLR(opt1, step_size=2, gamma=0.5)
    s2 = torch.optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    for batch in _batches(8):
        _train(m1, opt1, [batch])
        _train(m2, opt2, [batch])
        s1.step()
        s2.step()
    assert opt1.param_groups[0]["lr"] == 0.2 / 16
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p1, p2)
