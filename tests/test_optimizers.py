"""lrcourse.optimizers against torch.optim: random problems, random hyperparameters, every flag combination."""
from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
import torch

from lrcourse import descent, losses
from lrcourse import optimizers as O

STEPS = 200
TOL = dict(rtol=1e-10, atol=1e-10)


def _problem(rng: random.Random, shape):
    """A random convex quadratic 0.5 (x-c)^T A (x-c) over flattened x, and a start point."""
    n = int(np.prod(shape))
    gen = np.random.default_rng(rng.randrange(2**32))
    q, _ = np.linalg.qr(gen.standard_normal((n, n)))
    A = q @ np.diag(10 ** gen.uniform(-1, 1, n)) @ q.T
    c = gen.standard_normal(n)
    x0 = c.reshape(shape) + 5 * gen.standard_normal(shape)
    return A, c, x0


def _flags(name):
    """Every combination of the optimizer's on/off options, as dicts of 'use it' switches."""
    switches = {
        "SGD": ["momentum", "dampening", "nesterov", "weight_decay"],
        "Adagrad": ["lr_decay", "weight_decay", "initial_accumulator_value"],
        "RMSprop": ["centered", "momentum", "weight_decay"],
        "Adam": ["amsgrad", "weight_decay"],
        "AdamW": ["amsgrad", "weight_decay"],
    }[name]
    return [dict(zip(switches, bits, strict=True)) for bits in itertools.product([False, True], repeat=len(switches))]


def _hyper(name, on, rng: random.Random) -> dict | None:
    u = rng.uniform
    if name == "SGD":
        if on["nesterov"] and (not on["momentum"] or on["dampening"]):
            return None  # torch refuses these too (tested below)
        return dict(lr=u(0.005, 0.05), momentum=u(0.1, 0.95) if on["momentum"] else 0.0,
                    dampening=u(0.05, 0.5) if on["dampening"] else 0.0, nesterov=on["nesterov"],
                    weight_decay=u(1e-3, 0.1) if on["weight_decay"] else 0.0)
    if name == "Adagrad":
        return dict(lr=u(0.01, 0.3), lr_decay=u(1e-3, 0.05) if on["lr_decay"] else 0.0,
                    weight_decay=u(1e-3, 0.1) if on["weight_decay"] else 0.0,
                    initial_accumulator_value=u(0.01, 1.0) if on["initial_accumulator_value"] else 0.0,
                    eps=10 ** u(-10, -6))
    if name == "RMSprop":
        return dict(lr=u(1e-3, 0.02), alpha=u(0.8, 0.999), eps=10 ** u(-8, -5), centered=on["centered"],
                    momentum=u(0.1, 0.9) if on["momentum"] else 0.0,
                    weight_decay=u(1e-3, 0.1) if on["weight_decay"] else 0.0)
    return dict(lr=u(1e-3, 0.05), betas=(u(0.5, 0.95), u(0.9, 0.9999)), eps=10 ** u(-8, -5),
                amsgrad=on["amsgrad"], weight_decay=u(1e-3, 0.1) if on["weight_decay"] else 0.0)


def _trajectories(name, hyper, A, c, x0, lrs=None):
    """Run ours for STEPS steps, and torch's in lockstep; return both lists of iterates.

    Before each torch step its parameter is set to our previous iterate and gets the same gradient,
    so the two optimizers see identical inputs for all STEPS steps and any difference in an update
    rule or in the state it carries (buffers, moments, step counts) shows at once. Free-running
    trajectories would also differ by rounding noise that Adam-type methods amplify chaotically near
    a minimum, where they move by about lr per step whatever the gradient's size.
    """
    ours_opt = O.OPTIMIZERS[name](**hyper)
    param = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    torch_opt = getattr(torch.optim, name)([param], **hyper)
    x = x0.copy()
    ours, theirs = [], []
    for t in range(STEPS):
        if lrs is not None:
            ours_opt.lr = lrs[t]
            torch_opt.param_groups[0]["lr"] = lrs[t]
        grad = (A @ (x.reshape(-1) - c)).reshape(x.shape)
        with torch.no_grad():
            param.copy_(torch.from_numpy(x))
        param.grad = torch.from_numpy(grad.copy())
        torch_opt.step()
        theirs.append(param.detach().numpy().copy())
        x = ours_opt.step(x, grad)
        ours.append(x)
    return np.array(ours), np.array(theirs)


# Every valid flag combination (torch refuses nesterov without momentum or with dampening; so do we).
CASES = [(name, flags) for name in O.OPTIMIZERS for flags in _flags(name)
         if _hyper(name, flags, random.Random(0)) is not None]


@pytest.mark.parametrize("name, on", CASES, ids=[f"{n}-" + "+".join(k for k, v in f.items() if v) for n, f in CASES])
def test_iterates_equal_torch_for_every_flag_combination(name, on):
    rng = random.Random(f"{name}-{sorted(on.items())}")
    hyper = _hyper(name, on, rng)
    for shape in [(rng.randint(1, 6),), (2, 3)]:
        A, c, x0 = _problem(rng, shape)
        ours, theirs = _trajectories(name, hyper, A, c, x0)
        np.testing.assert_allclose(ours, theirs, **TOL, err_msg=f"{name}({hyper}) shape {shape}")


@pytest.mark.parametrize("name", list(O.OPTIMIZERS))
def test_iterates_equal_torch_over_random_configs_while_the_lr_changes_every_step(name):
    rng = random.Random(f"lr-changes-{name}")
    for _ in range(10):
        on = rng.choice([f for f in _flags(name) if _hyper(name, f, random.Random(0)) is not None])
        hyper = _hyper(name, on, rng)
        A, c, x0 = _problem(rng, (rng.randint(1, 8),))
        lrs = [hyper["lr"] * rng.uniform(0.1, 1.5) for _ in range(STEPS)]
        ours, theirs = _trajectories(name, hyper, A, c, x0, lrs)
        np.testing.assert_allclose(ours, theirs, **TOL, err_msg=f"{name}({hyper})")


@pytest.mark.parametrize("name", list(O.OPTIMIZERS))
def test_defaults_equal_torch(name):
    ours = O.OPTIMIZERS[name]()
    torch_defaults = getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)]).defaults
    for key, value in ours.hyperparameters.items():
        expected = torch_defaults[key]
        assert (tuple(expected) if isinstance(expected, tuple) else expected) == value, key


@pytest.mark.parametrize("name", list(O.OPTIMIZERS))
def test_step_does_not_modify_its_inputs_and_works_on_any_shape(name):
    opt = O.OPTIMIZERS[name](lr=0.1)
    params = np.arange(6.0).reshape(2, 3)
    grad = np.ones((2, 3))
    before = params.copy(), grad.copy()
    new = opt.step(params, grad)
    assert new.shape == (2, 3) and new is not params
    np.testing.assert_array_equal(params, before[0])
    np.testing.assert_array_equal(grad, before[1])
    assert opt.steps == 1
    with pytest.raises(ValueError, match=r"params must keep the shape \(2, 3\)"):
        opt.step(np.zeros(3), np.zeros(3))
    opt.reset()
    assert opt.steps == 0 and opt.step(np.zeros(3), np.ones(3)).shape == (3,)


def test_to_torch_builds_the_counterpart():
    opt = O.AdamW(lr=0.01, weight_decay=0.1, amsgrad=True)
    torch_opt = opt.to_torch([torch.zeros(2, requires_grad=True)])
    assert type(torch_opt).__name__ == "AdamW"
    assert torch_opt.defaults["weight_decay"] == 0.1 and torch_opt.defaults["amsgrad"] is True
    assert repr(opt).startswith("AdamW(lr=0.01, betas=(0.9, 0.999)")


def test_run_returns_a_trajectory_and_plain_sgd_is_gradient_descent():
    f = losses.ill_conditioned(10.0)
    ours = O.run(O.SGD(lr=0.1), f, [1.0, 1.0], 40)
    gd = descent.run(f, [1.0, 1.0], 0.1, 40)
    assert isinstance(ours, descent.Trajectory)
    np.testing.assert_allclose(ours.points, gd.points, rtol=1e-14, atol=1e-15)
    assert ours.label == "SGD(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False)"


def test_run_with_a_schedule_and_divergence():
    f = losses.ill_conditioned(10.0)
    traj = O.run(O.Adam(), f, [1.0, 1.0], 20, lr=lambda t: 0.1 / (t + 1))
    np.testing.assert_allclose(traj.lrs, [0.1 / (t + 1) for t in range(20)])
    assert O.run(O.SGD(lr=0.5, momentum=0.9), f, [1.0, 1.0], 500).diverged
    with pytest.raises(ValueError, match="optimizer must be an lrcourse.optimizers.Optimizer"):
        O.run(torch.optim.SGD, f, [1.0, 1.0], 5)


BAD = [
    (O.SGD, dict(lr=-0.1), "lr must be >= 0"),
    (O.SGD, dict(momentum=-0.5), "momentum must be >= 0"),
    (O.SGD, dict(nesterov=True), "nesterov=True requires momentum > 0 and dampening = 0"),
    (O.SGD, dict(nesterov=True, momentum=0.9, dampening=0.1), "nesterov=True requires momentum > 0"),
    (O.SGD, dict(weight_decay=-1e-4), "weight_decay must be >= 0"),
    (O.Adagrad, dict(eps=-1e-10), "eps must be >= 0"),
    (O.Adagrad, dict(lr_decay=-0.1), "lr_decay must be >= 0"),
    (O.Adagrad, dict(initial_accumulator_value=-1), "initial_accumulator_value must be >= 0"),
    (O.RMSprop, dict(alpha=-0.9), "alpha must be >= 0"),
    (O.RMSprop, dict(eps=-1e-8), "eps must be >= 0"),
    (O.Adam, dict(betas=(1.0, 0.999)), r"betas\[0\] must be in \[0, 1\)"),
    (O.Adam, dict(betas=(0.9, -0.1)), r"betas\[1\] must be in \[0, 1\)"),
    (O.Adam, dict(betas=0.9), "betas must be a pair"),
    (O.Adam, dict(eps=-1.0), "eps must be >= 0"),
    (O.AdamW, dict(lr=float("nan")), "lr must be finite"),
    (O.AdamW, dict(weight_decay=-0.01), "weight_decay must be >= 0"),
]


@pytest.mark.parametrize("cls, kwargs, message", BAD, ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(BAD)])
def test_bad_arguments_name_the_argument(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_torch_refuses_what_we_refuse():
    p = [torch.zeros(1, requires_grad=True)]
    for cls, kwargs, _ in BAD:
        if kwargs.get("betas") == 0.9 or kwargs.get("lr") != kwargs.get("lr"):
            continue  # torch fails differently (TypeError) or not at all for NaN
        with pytest.raises(ValueError):
            getattr(torch.optim, cls.__name__)(p, **kwargs)


def test_setting_a_bad_lr_between_steps_is_refused():
    opt = O.Adam()
    with pytest.raises(ValueError, match="lr must be >= 0"):
        opt.lr = -1.0
    with pytest.raises(ValueError, match=r"grad must have the shape of params \(2,\)"):
        opt.step(np.zeros(2), np.zeros(3))
