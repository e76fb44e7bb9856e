"""Pruning: masks by support, entry order or magnitude; masked fine-tuning; smaller models."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from sparsestat.torch import DessiLBI, lbi_param_groups  # noqa: E402
from sparsestat.torch.prune import (  # noqa: E402
    apply_masks,
    compute_masks,
    magnitude_masks,
    shrink_sequential,
)

torch.set_num_threads(1)


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(2, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Sequential(nn.Conv2d(6, 8, 3, padding=1), nn.ReLU()),
        nn.Flatten(), nn.Linear(8 * 3 * 3, 12), nn.ReLU(), nn.Dropout(0.1), nn.Linear(12, 4),
    )


def _data(n_steps, seed=1):
    g = torch.Generator().manual_seed(seed)
    teacher = torch.randn(72, 4, generator=g)
    xs = [torch.randn(16, 2, 6, 6, generator=g) for _ in range(n_steps)]
    return [(x, (x.flatten(1) @ teacher).argmax(1)) for x in xs]


def _trained(n_steps=40, **kw):
    model = _net()
    opt = DessiLBI(lbi_param_groups(model), **{"lr": 1.0, "kappa": 0.1, "mu": 3.0, **kw})
    for x, y in _data(n_steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model, opt


def test_support_masks_are_the_support():
    model, opt = _trained()
    masks = compute_masks(opt)
    assert set(masks) == {model[0].weight, model[4][0].weight, model[6].weight, model[9].weight}
    for p, m in masks.items():
        assert torch.equal(m, opt.gamma(p) != 0)
    assert 0 < opt.support_ratio()["overall"] < 1


@pytest.mark.parametrize("keep", [0.25, 0.5, 0.9])
def test_entry_masks_keep_the_earliest_units(keep):
    model, opt = _trained()
    masks = compute_masks(opt, by="entry", keep=keep)
    for _, p, penalty in opt.penalized_parameters():
        m = masks[p]
        entry = opt.entry_step(p).numpy().ravel()
        units = m.reshape(m.shape[0], -1)[:, 0].numpy() if penalty == "group" else m.numpy().ravel()
        if penalty == "group":  # whole filters
            assert (m.reshape(m.shape[0], -1).all(1) | ~m.reshape(m.shape[0], -1).any(1)).all()
        assert units.sum() == math.ceil(keep * entry.size)
        if units.all():
            continue
        assert entry[units].max() <= entry[~units].min()
        v = opt.state[p]["V"]
        if penalty == "group":
            closeness = v.reshape(v.shape[0], -1).norm(dim=1).numpy()
        else:
            closeness = v.abs().ravel().numpy()
        never = np.isinf(entry)
        if (units & never).any() and (~units & never).any():  # ties broken by |V|
            assert closeness[units & never].min() >= closeness[~units & never].max()


def test_entry_masks_find_planted_coordinates():
    rng = np.random.default_rng(2)
    X = torch.tensor(rng.normal(size=(150, 20)))
    beta = np.zeros(20)
    beta[[2, 9, 14]] = [2.5, -3.0, 2.0]
    y = X @ torch.tensor(beta) + 0.3 * torch.tensor(rng.normal(size=150))
    w = nn.Parameter(torch.zeros(1, 20, dtype=torch.float64))
    opt = DessiLBI([{"params": [w], "penalty": "lasso"}], lr=0.05, mu=2.0, momentum=0.0)
    for _ in range(150):
        opt.zero_grad()
        (0.5 * ((X @ w[0] - y) ** 2).mean()).backward()
        opt.step()
    kept = np.flatnonzero(compute_masks(opt, by="entry", keep=0.15)[w].numpy().ravel())
    assert set(kept) == {2, 9, 14}


def test_magnitude_masks_against_numpy():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(7, 3, 2, 2, generator=g)
    m = magnitude_masks([w], 0.3)[w].numpy()
    a = np.abs(w.numpy()).ravel()
    k = math.ceil(0.3 * a.size)
    assert m.sum() == k and a[m.ravel()].min() > a[~m.ravel()].max()
    ms = magnitude_masks([w], {w: 3 / 7}, structured=True)[w]
    norms = np.sqrt((w.numpy().reshape(7, -1) ** 2).sum(1))
    keep_units = ms.reshape(7, -1)[:, 0].numpy()
    assert keep_units.sum() == 3 and set(np.flatnonzero(keep_units)) == set(np.argsort(-norms)[:3])


def test_masked_fine_tuning_keeps_pruned_weights_at_zero():
    model, opt = _trained()
    masks = compute_masks(opt, by="entry", keep=0.4)
    handle = apply_masks(model, masks)
    before = {p: p.detach().clone() for p in masks}
    sgd = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    for x, y in _data(10, seed=3):
        sgd.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        sgd.step()
    for p, m in masks.items():
        assert torch.equal(p.detach()[~m], torch.zeros_like(p)[~m])
        assert not torch.equal(p.detach()[m], before[p][m])
    assert handle.sparsity() > 0.5
    handle.remove()
    model.zero_grad()
    nn.functional.cross_entropy(model(_data(1)[0][0]), _data(1)[0][1]).backward()
    w = model[6].weight
    assert (w.grad[~masks[w]] != 0).any()


@pytest.mark.parametrize("seed", [0, 1])
def test_shrunk_model_computes_the_masked_model(seed):
    model, opt = _trained(n_steps=30)
    model.eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics
        bn = model[1]
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    g = torch.Generator().manual_seed(seed)
    masks = {}
    for lay in (model[0], model[4][0], model[6]):
        w = lay.weight
        unit = torch.rand(w.shape[0], generator=g) < 0.5
        unit[0] = True
        masks[w] = unit.reshape((-1,) + (1,) * (w.dim() - 1)).expand(w.shape).clone()
    masks[model[9].weight] = torch.rand(model[9].weight.shape, generator=g) < 0.7
    apply_masks(model, masks)
    small = shrink_sequential(model)
    x = torch.randn(9, 2, 6, 6, generator=g)
    torch.testing.assert_close(small(x), model(x), rtol=1e-5, atol=1e-6)
    n_units = {i: int(masks[lay.weight].reshape(lay.weight.shape[0], -1)[:, 0].sum())
               for i, lay in ((0, model[0]), (4, model[4][0]), (6, model[6]))}
    convs = [m for m in small if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert [c.weight.shape[0] for c in convs] == [n_units[0], n_units[4], n_units[6], 4]
    assert convs[1].weight.shape[1] == n_units[0] and convs[2].weight.shape[1] == n_units[4] * 9
    assert small[1].num_features == n_units[0] and small[1].running_mean.shape == (n_units[0],)
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in model.parameters())
    assert not small.training


def test_entry_pruned_dessilbi_network_shrinks_exactly():
    model, opt = _trained(n_steps=40)
    model.eval()
    masks = compute_masks(opt, by="entry", keep=0.5)
    x = torch.randn(5, 2, 6, 6)
    apply_masks(model, masks)
    small = shrink_sequential(model)
    torch.testing.assert_close(small(x), model(x), rtol=1e-5, atol=1e-6)
    assert small[0].out_channels == 3 and small[4].out_channels == 4


def test_bad_input_raises():
    model, opt = _trained(n_steps=2)
    with pytest.raises(ValueError, match="keep must be"):
        compute_masks(opt, by="entry", keep=0.0)
    with pytest.raises(ValueError, match="keep must be"):
        compute_masks(opt, by="entry", keep=1.5)
    with pytest.raises(ValueError, match="needs keep"):
        compute_masks(opt, by="entry")
    with pytest.raises(ValueError, match="only used with by='entry'"):
        compute_masks(opt, keep=0.5)
    with pytest.raises(ValueError, match="by must be"):
        compute_masks(opt, by="magnitude")
    with pytest.raises(TypeError, match="DessiLBI"):
        compute_masks(torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="shape"):
        apply_masks(model, {model[6].weight: torch.ones(3, dtype=torch.bool)})
    with pytest.raises(ValueError, match="not a parameter"):
        apply_masks(model, {torch.zeros(2): torch.ones(2, dtype=torch.bool)})
    with pytest.raises(ValueError, match="Sigmoid"):
        shrink_sequential(nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1)))
    with pytest.raises(ValueError, match="groups=1"):
        shrink_sequential(nn.Sequential(nn.Conv2d(4, 4, 3, groups=2)))
    with pytest.raises(TypeError, match="nn.Sequential"):
        shrink_sequential(nn.Linear(2, 2))
