"""Notebook 07's optimizers against their reference packages: random problems, configurations and flags.

LARS and LAMB against ``pytorch_optimizer``, schedule-free SGD and AdamW against Meta's ``schedulefree``,
D-Adaptation against ``dadaptation`` and Prodigy against ``prodigyopt`` (test dependencies only). Each
run takes STEPS steps on a random quadratic over several tensors of different shapes (a matrix, a
vector, a 3-D tensor, a scalar) held in one param group, so that the per-tensor rules (trust ratios,
LARS's plain step for vectors) and the all-tensor ones (the ``d`` estimates) are both exercised.
"""
from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
for _package in ("pytorch_optimizer", "schedulefree", "dadaptation", "prodigyopt"):
    pytest.importorskip(_package, reason=f"{_package} is a test dependency: pip install -e '.[test]'")

from lrcourse import losses  # noqa: E402
from lrcourse import optimizers as O  # noqa: E402

STEPS = 150
TOL = dict(rtol=1e-9, atol=1e-12)
SHAPES = [(3, 4), (4,), (2, 3, 2), ()]

SWITCHES = {
    "LARS": ["momentum", "dampening", "nesterov", "weight_decay"],
    "LAMB": ["weight_decay", "weight_decouple", "bias_correction"],
    "SGDScheduleFree": ["warmup_steps", "r", "weight_decay"],
    "AdamWScheduleFree": ["warmup_steps", "r", "weight_decay"],
    "DAdaptAdam": ["decouple", "use_bias_correction", "weight_decay", "growth_rate"],
    "Prodigy": ["decouple", "use_bias_correction", "safeguard_warmup", "weight_decay", "no_beta1"],
}


def _flags(name):
    return [dict(zip(SWITCHES[name], bits)) for bits in itertools.product([False, True], repeat=len(SWITCHES[name]))]


def _hyper(name: str, on: dict, rng: random.Random) -> dict | None:
    u = rng.uniform
    if name == "LARS":
        if on["nesterov"] and (not on["momentum"] or on["dampening"]):
            return None
        return dict(lr=u(0.05, 0.5), momentum=u(0.5, 0.95) if on["momentum"] else 0.0,
                    dampening=u(0.05, 0.5) if on["dampening"] else 0.0, nesterov=on["nesterov"],
                    weight_decay=u(1e-3, 0.1) if on["weight_decay"] else 0.0, trust_coefficient=10 ** u(-3, -1))
    if name == "LAMB":
        return dict(lr=u(1e-3, 0.05), betas=(u(0.5, 0.95), u(0.9, 0.9999)), eps=10 ** u(-8, -5),
                    weight_decay=u(1e-3, 0.1) if on["weight_decay"] else 0.0, weight_decouple=on["weight_decouple"],
                    bias_correction=on["bias_correction"])
    if name in ("SGDScheduleFree", "AdamWScheduleFree"):
        common = dict(warmup_steps=rng.randint(1, 40) if on["warmup_steps"] else 0, r=u(0.5, 2) if on["r"] else 0.0,
                      weight_lr_power=rng.choice([0.0, 1.0, 2.0, u(0, 3)]),
                      weight_decay=u(1e-3, 0.1) if on["weight_decay"] else 0.0)
        if name == "SGDScheduleFree":
            return dict(lr=u(0.005, 0.05), momentum=u(0.5, 0.98), **common)
        return dict(lr=u(1e-3, 0.05), betas=(u(0.5, 0.95), u(0.9, 0.9999)), eps=10 ** u(-8, -5), **common)
    common = dict(lr=u(0.3, 1.5), betas=(u(0.5, 0.95), u(0.9, 0.9999)), eps=10 ** u(-8, -5),
                  weight_decay=u(1e-3, 0.1) if on["weight_decay"] else 0.0, decouple=on["decouple"],
                  use_bias_correction=on["use_bias_correction"], d0=10 ** u(-7, -4))
    if name == "DAdaptAdam":
        return dict(common, growth_rate=u(1.01, 1.2) if on["growth_rate"] else math.inf)
    if on["no_beta1"]:
        common["betas"] = (0.0, common["betas"][1])
    return dict(common, safeguard_warmup=on["safeguard_warmup"], d_coef=u(0.3, 2.0),
                beta3=rng.choice([None, u(0.9, 0.999)]), growth_rate=rng.choice([math.inf, u(1.01, 1.5)]))


def _problem(rng: random.Random, shapes=SHAPES):
    """A random convex quadratic 0.5 (x-c)^T A (x-c) over all tensors' entries, and a start point."""
    sizes = [int(np.prod(s)) for s in shapes]
    n = sum(sizes)
    gen = np.random.default_rng(rng.randrange(2**32))
    q, _ = np.linalg.qr(gen.standard_normal((n, n)))
    A = q @ np.diag(10 ** gen.uniform(-1, 1, n)) @ q.T
    c = gen.standard_normal(n)
    x0 = c + 3 * gen.standard_normal(n)
    if rng.random() < 0.2:
        x0[: sizes[0]] = 0.0  # a tensor starting at 0: zero norms in the trust ratios, Prodigy's p0 = 0

    def split(flat):
        out, i = [], 0
        for s, k in zip(shapes, sizes):
            out.append(flat[i:i + k].reshape(s).copy())
            i += k
        return out

    def grad(xs):
        return split(A @ (np.concatenate([x.ravel() for x in xs]) - c))

    return split(x0), grad


def _run(name: str, hyper: dict, xs0, grad, lrs=None):
    """Ours and the reference in lockstep: before each step the reference's tensors are set to ours.

    Returns the lists of our and their iterates, and both optimizers. Resetting the parameters (not the
    state) each step keeps rounding noise from growing chaotically; the state is compared at the end.
    """
    ours = O.AT_SCALE[name](**hyper)
    params = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs0]
    ref = ours.to_reference(params)
    if hasattr(ref, "train"):
        ref.train()
    xs = [x.copy() for x in xs0]
    mine, theirs = [], []
    for t in range(STEPS):
        if lrs is not None:
            ours.lr = lrs[t]
            for group in ref.param_groups:
                group["lr"] = lrs[t]
        gs = grad(xs)
        with torch.no_grad():
            for p, x, g in zip(params, xs, gs):
                p.copy_(torch.from_numpy(x))
                p.grad = torch.from_numpy(g.copy())
        ref.step()
        theirs.append([p.detach().numpy().copy() for p in params])
        xs = ours.step(xs, gs)
        mine.append(xs)
    return mine, theirs, ours, ref, params


def _assert_same(mine, theirs, msg):
    for t, (a, b) in enumerate(zip(mine, theirs)):
        for i, (x, y) in enumerate(zip(a, b)):
            np.testing.assert_allclose(x, y, **TOL, err_msg=f"{msg}: step {t + 1}, tensor {i} {SHAPES[i]}")


STATE_KEYS = {"LARS": ["momentum_buffer"], "LAMB": ["exp_avg", "exp_avg_sq"], "SGDScheduleFree": ["z"],
              "AdamWScheduleFree": ["z", "exp_avg_sq"], "DAdaptAdam": ["exp_avg", "exp_avg_sq", "s"],
              "Prodigy": ["exp_avg", "exp_avg_sq", "s"]}


def _assert_same_state(name, ours, ref, params, msg):
    for i, p in enumerate(params):
        for key in STATE_KEYS[name]:
            if key in ref.state[p]:
                mine = ours.tensor_state[i][key]  # prodigyopt keeps s flattened
                np.testing.assert_allclose(mine, ref.state[p][key].numpy().reshape(mine.shape), **TOL,
                                           err_msg=f"{msg}: state {key!r} of tensor {i}")
    group = ref.param_groups[0]
    for key in ("d", "d_max", "numerator_weighted", "d_numerator", "weight_sum", "lr_max", "k"):
        if key in ours.state and key in group:
            assert math.isclose(ours.state[key], group[key], rel_tol=1e-9, abs_tol=1e-300), f"{msg}: {key}"


CASES = [(name, on) for name in O.AT_SCALE for on in _flags(name) if _hyper(name, on, random.Random(0)) is not None]


@pytest.mark.parametrize("name, on", CASES,
                         ids=[f"{n}-" + ("+".join(k for k, v in f.items() if v) or "plain") for n, f in CASES])
def test_iterates_and_state_equal_the_reference_for_every_flag_combination(name, on):
    rng = random.Random(f"{name}-{sorted(on.items())}")
    for _ in range(2):
        hyper = _hyper(name, on, rng)
        xs0, grad = _problem(rng)
        mine, theirs, ours, ref, params = _run(name, hyper, xs0, grad)
        msg = f"{name}({hyper})"
        _assert_same(mine, theirs, msg)
        _assert_same_state(name, ours, ref, params, msg)


@pytest.mark.parametrize("name", list(O.AT_SCALE))
def test_iterates_equal_the_reference_while_the_lr_changes_every_step(name):
    rng = random.Random(f"lr-changes-{name}")
    for _ in range(6):
        on = rng.choice([f for f in _flags(name) if _hyper(name, f, random.Random(0)) is not None])
        hyper = _hyper(name, on, rng)
        xs0, grad = _problem(rng)
        lrs = [hyper["lr"] * rng.uniform(0.2, 1.5) for _ in range(STEPS)]
        mine, theirs, ours, ref, params = _run(name, hyper, xs0, grad, lrs)
        _assert_same(mine, theirs, f"{name}({hyper})")
        _assert_same_state(name, ours, ref, params, f"{name}({hyper})")


@pytest.mark.parametrize("name", list(O.AT_SCALE))
def test_defaults_equal_the_reference(name):
    import importlib
    import inspect

    ours = O.AT_SCALE[name]()
    package, cls = ours.reference
    signature = inspect.signature(getattr(importlib.import_module(package), cls))
    kwargs_defaults = {"adam_debias": False}  # pytorch_optimizer reads it from **kwargs: group.get("adam_debias", False)
    for key, value in ours.reference_arguments().items():
        expected = signature.parameters[key].default if key in signature.parameters else kwargs_defaults[key]
        assert (tuple(expected) if isinstance(expected, (tuple, list)) else expected) == value, key
    ours.to_reference([torch.zeros(2, requires_grad=True)])  # and the reference accepts every argument


@pytest.mark.parametrize("name", list(O.AT_SCALE))
def test_one_array_or_a_list_and_inputs_are_never_changed(name):
    rng = random.Random(name)
    xs0, grad = _problem(rng, [(2, 3)])
    gs = grad(xs0)
    single, listed = O.AT_SCALE[name](), O.AT_SCALE[name]()
    before = xs0[0].copy(), gs[0].copy()
    a = single.step(xs0[0], gs[0])
    (b,) = listed.step(xs0, gs)
    assert isinstance(a, np.ndarray) and a.shape == (2, 3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(xs0[0], before[0])
    np.testing.assert_array_equal(gs[0], before[1])
    with pytest.raises(ValueError, match=r"params must keep the shape \(2, 3\)"):
        single.step(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"grad must be a list of 1 arrays"):
        listed.step(xs0, gs[0])
    with pytest.raises(ValueError, match=r"grad\[0\] must have the shape of params \(2, 3\)"):
        listed.step(xs0, [np.zeros(6)])
    single.reset()
    assert single.steps == 0 and single.step(np.ones(3), np.ones(3)).shape == (3,)


def test_lars_trust_ratio_and_plain_sgd_for_vectors():
    opt = O.LARS(lr=1.0, momentum=0.0, weight_decay=0.1, trust_coefficient=0.01)
    w, b = np.array([[3.0, 4.0]]), np.array([3.0, 4.0])
    g = np.array([[0.0, 1.0]])
    new_w, new_b = opt.step([w, b], [g, g[0]])
    trust = 0.01 * 5 / (1 + 0.1 * 5)
    np.testing.assert_allclose(new_w, w - trust * (g + 0.1 * w))
    np.testing.assert_allclose(new_b, b - g[0])   # a vector: no trust ratio, no weight decay
    assert opt.tensor_state[0]["trust_ratio"] == pytest.approx(trust) and "trust_ratio" not in opt.tensor_state[1]


def test_lamb_moves_every_tensor_by_lr_times_its_norm_whatever_the_gradient_scale():
    opt = O.LAMB(lr=1e-2, eps=0.0)  # the package's default: the first step is 1 / (1 - 0.9) = 10 times longer
    w = np.array([[3.0, 4.0]])
    assert np.linalg.norm(w - opt.step(w, np.array([[1.0, -2.0]]))) == pytest.approx(10 * 1e-2 * 5, rel=1e-12)
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal((4, 5)), 10 * rng.standard_normal((3,))]
    for scale in (1e-6, 1.0, 1e6):
        opt = O.LAMB(lr=1e-2, eps=0.0, bias_correction=False)
        new = opt.step(ws, [scale * rng.standard_normal(w.shape) for w in ws])
        for w, n in zip(ws, new):
            assert np.linalg.norm(w - n) == pytest.approx(1e-2 * min(np.linalg.norm(w), O.LAMB.clamp), rel=1e-12)


def test_schedule_free_average_is_the_mean_of_z_and_y_interpolates():
    """With r = 0, no warmup and a constant LR, x is the plain mean of z_1..z_t (c_t = 1/t)."""
    loss = losses.ill_conditioned(10.0)
    opt = O.SGDScheduleFree(lr=0.05, momentum=0.9)
    y = np.array([1.0, 1.0])
    zs = []  # z_1, z_2, ...: the first step gives c_1 = 1, so x_1 = z_1 = y_1
    for _ in range(30):
        y = opt.step(y, loss.grad(y))
        zs.append(opt.tensor_state[0]["z"].copy())
    x = opt.eval_params(y)
    np.testing.assert_allclose(x, np.mean(zs, axis=0), rtol=1e-12)
    np.testing.assert_allclose(y, 0.1 * opt.tensor_state[0]["z"] + 0.9 * x, rtol=1e-12)


def test_schedule_free_eval_params_is_what_the_package_evaluates():
    rng = random.Random("eval")
    for name in ("SGDScheduleFree", "AdamWScheduleFree"):
        hyper = _hyper(name, dict(warmup_steps=True, r=True, weight_decay=True), rng)
        xs0, grad = _problem(rng)
        mine, _, ours, ref, params = _run(name, hyper, xs0, grad)
        with torch.no_grad():
            for p, x in zip(params, mine[-1]):
                p.copy_(torch.from_numpy(x))
        ref.eval()
        for x, p in zip(ours.eval_params(mine[-1]), params):
            np.testing.assert_allclose(x, p.detach().numpy(), **TOL)
    fresh = O.AdamWScheduleFree()
    np.testing.assert_array_equal(fresh.eval_params(np.ones(2)), np.ones(2))


def test_d_adaptation_and_prodigy_find_their_lr_from_a_tiny_d0():
    """On a quadratic the estimate d grows from d0 = 1e-6 by orders of magnitude, and never decreases."""
    loss = losses.ill_conditioned(10.0)
    for cls in (O.DAdaptAdam, O.Prodigy):
        opt = cls()
        x = np.array([3.0, -2.0])
        ds = []
        for _ in range(200):
            x = opt.step(x, loss.grad(x))
            ds.append(opt.d)
        assert ds[-1] > 1e3 * 1e-6 and np.all(np.diff(ds) >= 0), cls.__name__
        assert opt.effective_lr == opt.d * opt.lr
        assert loss(x) < 1e-2 * loss(np.array([3.0, -2.0])), cls.__name__


def test_zero_gradients_take_no_step_as_in_the_packages():
    for cls in (O.DAdaptAdam, O.Prodigy):
        opt = cls()
        x = np.array([1.0, 2.0])
        np.testing.assert_array_equal(opt.step(x, np.zeros(2)), x)
        assert opt.d == 1e-6 and opt.state["k"] == 0


BAD = [
    (O.LARS, dict(momentum=1.0), r"momentum must be in \[0, 1\)"),
    (O.LARS, dict(trust_coefficient=-1e-3), "trust_coefficient must be >= 0"),
    (O.LARS, dict(lr=-1.0), "lr must be >= 0"),
    (O.LAMB, dict(betas=(0.9, 1.0)), r"betas\[1\] must be in \[0, 1\)"),
    (O.LAMB, dict(eps=-1e-6), "eps must be >= 0"),
    (O.SGDScheduleFree, dict(momentum=0.0), r"momentum must be in \(0, 1\)"),
    (O.SGDScheduleFree, dict(warmup_steps=2.5), "warmup_steps must be an integer"),
    (O.AdamWScheduleFree, dict(betas=(0.0, 0.999)), r"betas\[0\] must be in \(0, 1\)"),
    (O.AdamWScheduleFree, dict(r=-1.0), "r must be >= 0"),
    (O.DAdaptAdam, dict(lr=0.0), "lr must be > 0"),
    (O.DAdaptAdam, dict(d0=0.0), "d0 must be > 0"),
    (O.DAdaptAdam, dict(growth_rate=0.5), r"growth_rate must be a number >= 1"),
    (O.Prodigy, dict(beta3=1.0), r"beta3 must be in \[0, 1\)"),
    (O.Prodigy, dict(d_coef=0.0), "d_coef must be > 0"),
    (O.Prodigy, dict(eps=0.0), "eps must be > 0"),
]


@pytest.mark.parametrize("cls, kwargs, message", BAD, ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(BAD)])
def test_bad_arguments_name_the_argument(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_the_references_refuse_them_too_where_they_validate():
    p = [torch.zeros(1, requires_grad=True)]
    refused = [(c, k) for c, k, _ in BAD if (c, tuple(k)) not in {
        (O.LARS, ("lr",)),                     # pytorch_optimizer raises its own NegativeLRError (a ValueError)
        (O.SGDScheduleFree, ("warmup_steps",)),  # the packages do not validate these
        (O.AdamWScheduleFree, ("betas",)), (O.AdamWScheduleFree, ("r",)),
        (O.DAdaptAdam, ("growth_rate",)), (O.Prodigy, ("beta3",)), (O.Prodigy, ("d_coef",)),
        (O.LAMB, ("eps",)),
    }]
    for cls, kwargs in refused:
        package, name = cls.reference
        ref_cls = getattr(__import__(package), name)
        with pytest.raises(ValueError):
            ref_cls(p, **kwargs)
