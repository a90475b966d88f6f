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


def _adam_loop(split, width, lr, parametrization, base_width, depth, steps, batch_size, seed=0):
    from torch.nn import functional as F

    model = scale.width_mlp(split.num_features, split.num_classes, width, base_width, depth, parametrization, seed)
    opt = torch.optim.Adam(scale.adam_param_groups(model, lr), lr=lr, foreach=False)
    X, y = torch.as_tensor(split.X_train), torch.as_tensor(split.y_train)
    gen = torch.Generator().manual_seed(seed)
    order, start = torch.randperm(len(y), generator=gen), 0
    for _ in range(steps):
        if start >= len(y):
            order, start = torch.randperm(len(y), generator=gen), 0
        batch = order[start:start + batch_size]
        start += batch_size
        opt.zero_grad()
        F.cross_entropy(model(X[batch]), y[batch]).backward()
        opt.step()
    with torch.no_grad():
        return F.cross_entropy(model(X), y).item()


@pytest.mark.parametrize("parametrization", scale.PARAMETRIZATIONS)
def test_width_sweep_equals_one_torch_adam_run_per_lr(parametrization):
    split = data.digits()
    lrs = [1e-3, 1e-2, 0.3]
    steps = 45  # past the end of the first epoch at batch 32: a reshuffle
    ours = scale.width_sweep(split, 48, lrs, parametrization, base_width=16, depth=2, steps=steps, batch_size=32)
    loop = [_adam_loop(split, 48, lr, parametrization, 16, 2, steps, 32) for lr in lrs]
    np.testing.assert_allclose(ours, loop, rtol=1e-9)
    with pytest.raises(ValueError, match="lrs must be > 0"):
        scale.width_sweep(split, 16, [0.1, -1.0])


def test_fit_with_sgd_equals_the_course_training_loop():
    from lrcourse import optimizers as O
    from lrcourse import schedules, training

    split = data.digits()
    epochs, batch = 2, 100
    steps = epochs * -(-len(split.y_train) // batch)
    ours = scale.fit(scale.width_mlp(64, 10, width=32, depth=1, seed=4), split, O.SGD(lr=0.05, momentum=0.9),
                     steps, batch, seed=9)
    model = training.mlp(64, 10, hidden=32, seed=4)
    training.train(model, split, schedules.constant(0.05), epochs, batch, momentum=0.9, seed=9)
    expected = [p.detach().numpy() for p in model.parameters()]
    for a, b in zip(ours.params, expected):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert ours.eval_steps == [steps] and len(ours.lrs) == steps and not ours.diverged


def test_fit_hands_layerwise_optimizers_a_list_and_records_d_and_the_average():
    from lrcourse import optimizers as O

    seen = []

    class Spy(O.LAMB):
        def _update_all(self, ps, gs):
            seen.append([p.shape for p in ps])
            return super()._update_all(ps, gs)

    split = data.digits()
    model = scale.width_mlp(64, 10, width=8, depth=1, seed=0)
    scale.fit(model, split, Spy(lr=1e-2), 3, 16)
    assert seen[0] == [(8, 64), (8,), (10, 8), (10,)]
    prodigy = scale.fit(scale.width_mlp(64, 10, width=8, depth=1), split, O.Prodigy(), 20, 16, eval_every=10)
    assert len(prodigy.ds) == 20 and prodigy.eval_steps == [10, 20] and prodigy.ds[-1] > 1e-6
    sf_opt = O.SGDScheduleFree(lr=0.1)
    at_x = scale.fit(scale.width_mlp(64, 10, width=8, depth=1), split, sf_opt, 30, 16, evaluate_at="average")
    at_y = scale.fit(scale.width_mlp(64, 10, width=8, depth=1), split, O.SGDScheduleFree(lr=0.1), 30, 16)
    at_z = scale.fit(scale.width_mlp(64, 10, width=8, depth=1), split, O.SGDScheduleFree(lr=0.1), 30, 16,
                     evaluate_at="z")
    assert len({at_x.train_loss[-1], at_y.train_loss[-1], at_z.train_loss[-1]}) == 3
    diverged = scale.fit(scale.width_mlp(64, 10, width=8, depth=1), split, O.SGD(lr=1e6), 30, 16)
    assert diverged.diverged and diverged.final_loss == math.inf
    with pytest.raises(ValueError, match="evaluate_at='z' needs a schedule-free optimizer"):
        scale.fit(model, split, O.Adam(), 3, evaluate_at="z")
    with pytest.raises(ValueError, match="evaluate_at='average' needs a schedule-free optimizer"):
        scale.fit(model, split, O.Adam(), 3, evaluate_at="average")
    with pytest.raises(ValueError, match="optimizer must be an lrcourse.optimizers optimizer"):
        scale.fit(model, split, torch.optim.SGD(model.parameters(), lr=0.1), 3)
