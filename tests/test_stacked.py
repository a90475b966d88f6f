"""lrcourse.stacked: K stacked models stepped at once equal K separate steps of lrcourse.optimizers (and so of
torch.optim, which tests/test_optimizers.py holds those to), model by model, for every rule, over many steps,
with the gradient changing at every step and each model's own LR and weight decay."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lrcourse import optimizers, stacked

K, STEPS = 4, 60


def _numpy(rule: str, lr: float, decay: float, momentum: float):
    if rule == "sgd":
        return optimizers.SGD(lr=lr, momentum=momentum, weight_decay=decay)
    if rule == "rmsprop":
        return optimizers.RMSprop(lr=lr, alpha=0.9, eps=1e-6, weight_decay=decay)
    if rule == "adam":
        return optimizers.Adam(lr=lr, betas=(0.8, 0.99), eps=1e-6, weight_decay=decay)
    return optimizers.AdamW(lr=lr, betas=(0.8, 0.99), eps=1e-6, weight_decay=decay)


CONFIGS = [(rule, 0.0, decay) for rule in stacked.RULES for decay in (False, True)] + \
    [("sgd", 0.9, False), ("sgd", 0.9, True)]


@pytest.mark.parametrize("rule, momentum, decay", CONFIGS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_stack_steps_each_model_as_its_own_optimizer_does(rule, momentum, decay, seed):
    rng = np.random.default_rng(seed)
    lrs = 10 ** rng.uniform(-3, -1, K)
    decays = rng.uniform(0, 0.1, K) if decay else np.zeros(K)
    start = rng.normal(size=(K, 3, 2))
    weights, biases = torch.tensor(start), torch.tensor(start[:, :, :1].copy())  # two tensors, two layouts
    opt = stacked.StackedOptimizer(
        [weights, biases], [torch.tensor(lrs).view(K, 1, 1)] * 2, rule,
        [torch.tensor(decays).view(K, 1, 1)] * 2 if decay else None, momentum=momentum, betas=(0.8, 0.99),
        eps=1e-6, alpha=0.9)
    ours = [[_numpy(rule, lrs[k], decays[k], momentum) for k in range(K)] for _ in range(2)]
    expected = [start.copy(), start[:, :, :1].copy()]
    for _ in range(STEPS):
        grads = [rng.normal(size=weights.shape), rng.normal(size=biases.shape)]
        opt.step([torch.tensor(g) for g in grads])
        for i in range(2):
            expected[i] = np.stack([ours[i][k].step(expected[i][k], grads[i][k]) for k in range(K)])
    assert opt.t == STEPS
    np.testing.assert_allclose(weights.numpy(), expected[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(biases.numpy(), expected[1], rtol=1e-10, atol=1e-12)


def test_a_rule_it_does_not_know_and_mismatched_lists_are_errors():
    p = [torch.zeros(2, 1)]
    with pytest.raises(ValueError, match="rule must be one of 'sgd', 'adam', 'adamw', 'rmsprop', got 'lion'"):
        stacked.StackedOptimizer(p, [torch.ones(2, 1)], "lion")
    with pytest.raises(ValueError, match=r"lrs and decays must have one entry per tensor \(1\), got 2 and None"):
        stacked.StackedOptimizer(p, [torch.ones(2, 1)] * 2, "sgd")


def test_the_sweeps_take_their_rules_from_here():
    from lrcourse import search

    assert search.SWEEP_OPTIMIZERS == stacked.RULES


def test_a_stacked_linear_layer_computes_what_the_layer_computes_for_every_copy():
    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 2).double()
    weight, bias = stacked.stack_linear(layer, K)
    assert weight.shape == (K, 2, 3) and bias.shape == (K, 2, 1) and weight.is_leaf and not weight.requires_grad
    x = torch.randn(5, 3, dtype=torch.float64)
    out = torch.baddbmm(bias, weight, x.t().expand(K, -1, -1))  # (K, out, batch)
    for k in range(K):
        torch.testing.assert_close(out[k].t(), layer(x).detach())
    weight[0].zero_()  # copies, not views of the layer or of each other
    assert layer.weight.abs().sum() > 0 and weight[1].abs().sum() > 0
