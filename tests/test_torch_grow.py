"""grow: widening fully selected layers keeps the function and the optimizer state."""

import math

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from sparsestat.torch import DessiLBI, grow, lbi_param_groups  # noqa: E402

torch.set_num_threads(1)


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(2, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Sequential(nn.Conv2d(6, 8, 3, padding=1), nn.ReLU()),
        nn.Flatten(), nn.Linear(8 * 3 * 3, 12), nn.ReLU(), nn.Linear(12, 4),
    )


def _data(n_steps, seed=1):
    g = torch.Generator().manual_seed(seed)
    teacher = torch.randn(72, 4, generator=g)
    xs = [torch.randn(16, 2, 6, 6, generator=g) for _ in range(n_steps)]
    return [(x, (x.flatten(1) @ teacher).argmax(1)) for x in xs]


def _train(model, opt, batches):
    for x, y in batches:
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


def _unit_share(opt, w):
    sup = opt.support(w)
    return sup.reshape(sup.shape[0], -1).any(1).float().mean().item()


def test_grow_widens_selected_layers_and_keeps_function_and_state():
    model = _net()
    opt = DessiLBI(lbi_param_groups(model), lr=1.0, kappa=0.1, mu=3.0)
    _train(model, opt, _data(40))
    layers = {"0": model[0], "4.0": model[4][0], "6": model[6]}
    expected = {n: math.ceil(0.5 * m.weight.shape[0]) for n, m in layers.items()
                if _unit_share(opt, m.weight) >= 0.9}
    assert expected and len(expected) < len(layers)  # something grows, something does not

    big, big_opt, added = grow(model, opt, threshold=0.9, factor=0.5)
    assert added == expected
    model.eval()
    big.eval()
    x = torch.randn(7, 2, 6, 6)
    torch.testing.assert_close(big(x), model(x), rtol=1e-5, atol=1e-6)
    old_params = dict(model.named_parameters())
    grown_by = {**added, "1": added.get("0", 0)}  # the BatchNorm after the first conv follows it
    for name, p in big.named_parameters():
        old = old_params[name]
        assert p.shape[0] == old.shape[0] + grown_by.get(name.rsplit(".", 1)[0], 0)
        s_old, s_new = opt.state[old], big_opt.state[p]
        assert s_old.keys() == s_new.keys()
        for key, val in s_old.items():
            new = s_new[key]
            block = tuple(slice(0, n) for n in val.shape)
            assert torch.equal(new[block], val), (name, key)
            rest = new.clone()
            rest[block] = math.inf if key == "entry_step" else 0
            fill = torch.zeros_like(rest)
            if key == "entry_step":
                fill.fill_(math.inf)
            assert torch.equal(rest, fill), (name, key)
    for name in added:
        w = dict(big.named_parameters())[name + ".weight"]
        assert not big_opt.support(w)[-added[name]:].any()  # new units start outside the support
    assert [g["penalty"] for g in big_opt.param_groups] == [g["penalty"] for g in opt.param_groups]
    assert big_opt.param_groups[0]["mu"] == 3.0
    # training continues; the zero outgoing weights of the new units start to move
    big.train()
    _train(big, big_opt, _data(5, seed=4))
    grown = next(iter(added))
    nxt = big[4][0] if grown == "0" else big[6]
    assert nxt.weight.detach()[:, -1].abs().sum() > 0


def test_grow_bad_input():
    model = _net()
    opt = DessiLBI(lbi_param_groups(model), lr=0.1)
    with pytest.raises(ValueError, match="threshold"):
        grow(model, opt, threshold=0.0)
    with pytest.raises(ValueError, match="factor"):
        grow(model, opt, factor=0)
    with pytest.raises(ValueError, match="named parameter groups"):
        grow(model, DessiLBI(model.parameters(), lr=0.1))
    with pytest.raises(TypeError, match="nn.Sequential"):
        grow(nn.Linear(2, 2), opt)
    bad = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1))
    with pytest.raises(ValueError, match="Sigmoid"):
        grow(bad, DessiLBI(lbi_param_groups(bad), lr=0.1))
