"""lrcourse.scale: the batch-size rules, the noise scale against its definition, and μP against the mup package.

``mup`` (Microsoft's reference implementation of μP) is a test dependency that CI installs with
``--no-deps``: its metadata requires torchvision, pandas and seaborn, which its parametrization code
never imports, and torchvision has no CPU build here. Without it the μP comparison skips and says so.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lrcourse import data, scale


def test_scaling_rules():
    assert scale.linear_scaling(0.1, 32, 128) == pytest.approx(0.4)
    assert scale.linear_scaling(0.1, 128, 32) == pytest.approx(0.025)
    assert scale.sqrt_scaling(1e-3, 32, 128) == pytest.approx(2e-3)
    assert scale.sqrt_scaling(1e-3, 128, 128) == 1e-3
    for bad, message in [(dict(base_lr=0.0), "base_lr must be > 0"), (dict(base_batch=0), "base_batch must be >= 1"),
                         (dict(batch=2.0), "batch must be an integer")]:
        kwargs = dict(base_lr=0.1, base_batch=32, batch=64) | bad
        for rule in (scale.linear_scaling, scale.sqrt_scaling):
            with pytest.raises(ValueError, match=message):
                rule(**kwargs)


def test_per_example_grads_equal_one_backward_per_example():
    split = data.digits()
    model = scale.width_mlp(split.num_features, split.num_classes, width=16, seed=3)
    X, y = split.X_train[:7], split.y_train[:7]
    grads = scale.per_example_grads(model, X, y)
    assert grads.shape == (7, sum(p.numel() for p in model.parameters()))
    for i in range(7):
        model.zero_grad()
        out = model(torch.as_tensor(X[i:i + 1], dtype=torch.float64))
        torch.nn.functional.cross_entropy(out, torch.as_tensor(y[i:i + 1])).backward()
        expected = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).numpy()
        np.testing.assert_allclose(grads[i], expected, rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="X must be"):
        scale.per_example_grads(model, X[0], y[:1])


def test_noise_scale_is_the_batch_where_noise_equals_signal():
    """E|G_B|^2 = |G|^2 + tr(Σ)/B: at B = B_simple the noise term equals |G|^2 (checked by sampling batches)."""
    rng = np.random.default_rng(0)
    grads = rng.normal(0.3, 1.0, size=(4000, 5))
    ns = scale.noise_scale(grads)
    assert ns["G2"] == pytest.approx(float(grads.mean(0) @ grads.mean(0)))
    assert ns["trace"] == pytest.approx(float(np.cov(grads.T).trace()))
    B = 8
    sq = [np.sum(grads[rng.choice(4000, B, replace=False)].mean(0) ** 2) for _ in range(20000)]
    assert np.mean(sq) == pytest.approx(ns["G2"] + ns["trace"] / B, rel=0.03)
    # the two-batch estimator recovers B_simple from those expectations exactly
    small, big = ns["G2"] + ns["trace"] / 2, ns["G2"] + ns["trace"] / 64
    assert scale.noise_scale_from_batches(small, big, 2, 64) == pytest.approx(ns["B_simple"], rel=1e-12)
    assert scale.noise_scale(np.array([[1.0, -1.0], [-1.0, 1.0]]))["B_simple"] == math.inf
    with pytest.raises(ValueError, match="grads must be a 2-D array"):
        scale.noise_scale(np.ones(3))
    with pytest.raises(ValueError, match=r"big_batch must be > small_batch \(8\)"):
        scale.noise_scale_from_batches(1.0, 0.5, 8, 8)


def test_width_mlp_parametrizations_agree_at_the_base_width_and_validate():
    sp = scale.width_mlp(64, 10, width=32, base_width=32, parametrization="sp", seed=1)
    mup = scale.width_mlp(64, 10, width=32, base_width=32, parametrization="mup", seed=1)
    x = torch.randn(5, 64, dtype=torch.float64)
    torch.testing.assert_close(sp(x), mup(x), rtol=0, atol=0)
    assert [len(g["params"]) for g in scale.adam_param_groups(mup, 0.01)] == [1, 5]  # the hidden matrix; the rest
    with pytest.raises(ValueError, match="parametrization must be one of 'sp', 'mup'"):
        scale.width_mlp(64, 10, width=32, parametrization="ntk")
    with pytest.raises(ValueError, match="width must be >= 1"):
        scale.width_mlp(64, 10, width=0)
    with pytest.raises(ValueError, match="model must be built by lrcourse.scale.width_mlp"):
        scale.adam_param_groups(torch.nn.Linear(2, 2), 0.01)


def _mup_reference(width: int, base_width: int, depth: int, seed: int):
    mup = pytest.importorskip("mup", reason="mup is a test dependency: pip install --no-deps mup (see .ci/run)")
    from torch import nn

    def build(w):
        layers = []
        for i in range(depth):
            layers += [nn.Linear(64 if i == 0 else w, w), nn.ReLU()]
        return nn.Sequential(*layers, mup.MuReadout(w, 10))

    base = build(base_width)
    torch.manual_seed(seed)
    model = build(width).double()
    mup.set_base_shapes(model, base)
    return mup, model


@pytest.mark.parametrize("width, base_width, depth", [(128, 32, 2), (16, 64, 3), (96, 32, 1)])
def test_mup_equals_the_mup_package(width, base_width, depth):
    """The same initial network, the same outputs, and the same weights after 20 Adam(W) steps under MuAdam(W)."""
    mup, theirs = _mup_reference(width, base_width, depth, seed=7)
    ours = scale.width_mlp(64, 10, width=width, base_width=base_width, depth=depth, parametrization="mup", seed=7)
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f"initial {name}")
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(40, 64, dtype=torch.float64, generator=gen)
    y = torch.randint(0, 10, (40,), generator=gen)
    torch.testing.assert_close(ours(X), theirs(X), rtol=1e-13, atol=1e-14)
    for adam, mu_adam in [(torch.optim.Adam, mup.MuAdam), (torch.optim.AdamW, mup.MuAdamW)]:
        ours_c = scale.width_mlp(64, 10, width=width, base_width=base_width, depth=depth, parametrization="mup", seed=7)
        _, theirs_c = _mup_reference(width, base_width, depth, seed=7)
        opt_ours = adam(scale.adam_param_groups(ours_c, lr=3e-3, weight_decay=0.01), lr=3e-3)
        opt_theirs = mu_adam(theirs_c.parameters(), lr=3e-3, weight_decay=0.01)
        lrs = sorted(g["lr"] for g in opt_ours.param_groups)
        assert lrs == sorted(g["lr"] for g in opt_theirs.param_groups if g["params"])
        for _ in range(20):
            for model, opt in ((ours_c, opt_ours), (theirs_c, opt_theirs)):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(X), y).backward()
                opt.step()
        for (name, a), b in zip(ours_c.named_parameters(), theirs_c.parameters()):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12, msg=f"{adam.__name__}: {name} after 20 steps")


def test_sp_is_not_mup_away_from_the_base_width():
    """The comparison above can fail: SP at another width differs from the package's μP."""
    mup, theirs = _mup_reference(128, 32, 2, seed=7)
    sp = scale.width_mlp(64, 10, width=128, base_width=32, depth=2, parametrization="sp", seed=7)
    X = torch.randn(8, 64, dtype=torch.float64)
    assert not torch.allclose(sp(X), theirs(X))
    assert len({g["lr"] for g in scale.adam_param_groups(sp, 0.01)}) == 1
