"""lrcourse.schedules against torch.optim.lr_scheduler: every factory, many steps, random configurations.

Each factory is compared with its torch counterpart over at least 1000 steps
and 50 random configurations, in float64, to 1e-12 (torch's schedulers update
the LR recursively, ours use the closed form, so the last bits may differ).
"""
from __future__ import annotations

import io
import math
import random
import warnings

import numpy as np
import pytest
import torch

from lrcourse import schedules as S

CONFIGS = 50
MIN_STEPS = 1000
TOL = dict(rtol=1e-12, atol=1e-12)


def _lr(rng: random.Random, low: float = -4, high: float = 0) -> float:
    return 10 ** rng.uniform(low, high)


def _min_lr(rng: random.Random, lr: float, i: int) -> float:
    return 0.0 if i % 3 == 0 else lr * rng.uniform(0, 0.5)


# One generator per factory: config i of CONFIGS -> (params, number of steps to compare).
# Each covers the edges the issue names (index-based, so every edge is certainly drawn).
def _constant(rng, i):
    return dict(lr=_lr(rng)), MIN_STEPS


def _step_decay(rng, i):
    return dict(lr=_lr(rng), step_size=rng.randint(1, 300), gamma=rng.uniform(0.05, 1.0)), MIN_STEPS


def _multistep(rng, i):
    marks = [rng.randint(0, 1200) for _ in range(rng.randint(1, 6))]
    if i % 2 == 0:
        marks.append(rng.choice(marks))  # a duplicated milestone multiplies by gamma twice
    rng.shuffle(marks)
    return dict(lr=_lr(rng), milestones=marks, gamma=rng.uniform(0.1, 1.0)), 1300


def _exponential(rng, i):
    gamma = rng.uniform(1.0, 1.01) if i % 5 == 0 else rng.uniform(0.99, 1.0)
    return dict(lr=_lr(rng, -6, -2), gamma=gamma), MIN_STEPS


def _polynomial(rng, i):
    return dict(lr=_lr(rng), total_steps=rng.randint(1, 1100), power=rng.uniform(0.2, 4.0)), 1200


def _cosine(rng, i):
    lr = _lr(rng)
    # total_steps far below the horizon: the LR goes past total_steps and climbs back, as in torch.
    return dict(lr=lr, total_steps=rng.randint(1, 800), min_lr=_min_lr(rng, lr, i)), 1600


def _linear_warmup(rng, i):
    return dict(lr=_lr(rng), warmup_steps=rng.randint(1, 900), start_factor=rng.uniform(0.01, 1.0),
                end_factor=rng.uniform(0.0, 1.0)), 1000


def _warmup_cosine(rng, i):
    lr = _lr(rng)
    warmup = 0 if i % 10 == 0 else rng.randint(1, 300)
    return dict(lr=lr, warmup_steps=warmup, total_steps=warmup + rng.randint(1, 900),
                start_factor=rng.uniform(0.01, 1.0), min_lr=_min_lr(rng, lr, i)), 1500


def _cosine_restarts(rng, i):
    lr = _lr(rng)
    return dict(lr=lr, first_cycle=rng.randint(1, 200), cycle_mult=1 + i % 3,
                min_lr=_min_lr(rng, lr, i)), 1500


def _cyclic(rng, i):
    base = _lr(rng, -5, -2)
    mode = S.CYCLIC_MODES[i % 3]
    down = None if i % 2 else rng.randint(1, 300)
    return dict(base_lr=base, max_lr=base * rng.uniform(1.5, 100), step_size_up=rng.randint(1, 300),
                step_size_down=down, mode=mode, gamma=rng.uniform(0.995, 1.0)), 1500


def _one_cycle(rng, i):
    total = rng.randint(MIN_STEPS, 1400)
    three = i % 2 == 1
    pct = rng.uniform(0.0, 0.5 if three else 1.0)
    if i % 10 == 4:
        pct = 0.0
    return dict(max_lr=_lr(rng), total_steps=total, pct_start=pct, div_factor=rng.uniform(2, 50),
                final_div_factor=10 ** rng.uniform(1, 5), anneal=S.ANNEAL_STRATEGIES[(i // 2) % 2],
                three_phase=three), total + 1  # torch accepts step == total_steps too


def _wsd(rng, i):
    lr = _lr(rng)
    decay = S.WSD_DECAYS[i % len(S.WSD_DECAYS)]
    warmup = 0 if i % 7 == 0 else rng.randint(1, 300)
    # pytorch-optimizer floors only its cosine shape at min_lr (see test_wsd_floors_every_shape_at_min_lr)
    min_lr = _min_lr(rng, lr, i) if decay == "cosine" else 0.0
    return dict(lr=lr, warmup_steps=warmup, stable_steps=rng.randint(0, 500), decay_steps=rng.randint(1, 500),
                min_lr=min_lr, decay=decay), 1400


GENERATORS = {
    "constant": _constant, "step_decay": _step_decay, "multistep": _multistep,
    "exponential": _exponential, "polynomial": _polynomial, "cosine": _cosine,
    "linear_warmup": _linear_warmup, "warmup_cosine": _warmup_cosine,
    "cosine_restarts": _cosine_restarts, "cyclic": _cyclic, "one_cycle": _one_cycle, "wsd": _wsd,
}


def configs(name: str):
    rng = random.Random(f"schedules-{name}")
    return [GENERATORS[name](rng, i) for i in range(CONFIGS)]


def test_every_factory_has_a_generator():
    assert set(GENERATORS) == set(S.FACTORIES)


@pytest.mark.parametrize("name", sorted(S.FACTORIES))
def test_matches_torch_over_random_configs(name):
    steps_compared = 0
    for params, num_steps in configs(name):
        assert num_steps >= MIN_STEPS
        ours = S.evaluate(S.FACTORIES[name](**params), num_steps)
        theirs = S.torch_lrs(name, num_steps, **params)
        np.testing.assert_allclose(ours, theirs, **TOL, err_msg=f"{name}({params})")
        steps_compared += num_steps
    assert steps_compared >= CONFIGS * MIN_STEPS


def test_generators_cover_the_edges():
    cosine_past_end = [p for p, n in configs("cosine") if n > 2 * p["total_steps"]]
    assert len(cosine_past_end) > 10
    assert {p["cycle_mult"] for p, _ in configs("cosine_restarts")} == {1, 2, 3}
    one = configs("one_cycle")
    assert {(p["three_phase"], p["anneal"]) for p, _ in one} == {
        (t, a) for t in (False, True) for a in ("cos", "linear")}
    assert {p["mode"] for p, _ in configs("cyclic")} == set(S.CYCLIC_MODES)
    assert any(len(set(p["milestones"])) < len(p["milestones"]) for p, _ in configs("multistep"))
    assert any(p["warmup_steps"] == 0 for p, _ in configs("warmup_cosine"))


@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_past_its_end_raises_like_torch(three_phase):
    total = 20
    sched = S.one_cycle(0.1, total, pct_start=0.3, three_phase=three_phase)
    sched(total)  # torch accepts one step past the last
    with pytest.raises(ValueError, match="step must be <= total_steps"):
        sched(total + 1)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = S.torch_counterpart("one_cycle", opt, max_lr=0.1, total_steps=total,
                                    three_phase=three_phase)
    for _ in range(total):
        opt.step()
        scheduler.step()
    opt.step()
    with pytest.raises(ValueError, match="Tried to step"):
        scheduler.step()


def test_one_cycle_with_pct_start_one_has_no_extra_step():
    sched = S.one_cycle(0.1, 10, pct_start=1.0)
    np.testing.assert_allclose(S.evaluate(sched, 10), S.torch_lrs("one_cycle", 10, max_lr=0.1, total_steps=10,
                                                                   pct_start=1.0), **TOL)
    with pytest.raises(ValueError, match="pct_start=1"):
        sched(10)


def test_cosine_climbs_back_after_total_steps_like_torch():
    sched = S.cosine(1.0, 10)
    assert sched(10) == pytest.approx(0.0, abs=1e-15)
    assert sched(15) == pytest.approx(0.5)
    assert sched(20) == pytest.approx(1.0)


# --------------------------------------------------------------------------- join
_PIECES = {
    "constant": lambda rng, lr: dict(lr=lr),
    "step_decay": lambda rng, lr: dict(lr=lr, step_size=rng.randint(1, 50), gamma=rng.uniform(0.1, 1)),
    "exponential": lambda rng, lr: dict(lr=lr, gamma=rng.uniform(0.98, 1.0)),
    "polynomial": lambda rng, lr: dict(lr=lr, total_steps=rng.randint(1, 400), power=rng.uniform(0.5, 3)),
    "cosine": lambda rng, lr: dict(lr=lr, total_steps=rng.randint(1, 400), min_lr=lr * rng.uniform(0, 0.3)),
    "linear_warmup": lambda rng, lr: dict(lr=lr, warmup_steps=rng.randint(1, 200),
                                          start_factor=rng.uniform(0.01, 1)),
    "multistep": lambda rng, lr: dict(lr=lr, milestones=[rng.randint(0, 300) for _ in range(3)]),
}


def test_join_matches_torch_sequential_lr():
    rng = random.Random("join")
    for _ in range(CONFIGS):
        lr = _lr(rng)
        names = [rng.choice(sorted(_PIECES)) for _ in range(rng.randint(2, 4))]
        params = [_PIECES[n](rng, lr) for n in names]
        boundaries = sorted(rng.sample(range(1, 900), len(names) - 1))
        ours = S.evaluate(S.join([S.FACTORIES[n](**p) for n, p in zip(names, params, strict=True)], boundaries), 1200)

        param = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.SGD([param], lr=lr)
        parts = [S.torch_counterpart(n, opt, **p) for n, p in zip(names, params, strict=True)]
        scheduler = torch.optim.lr_scheduler.SequentialLR(opt, parts, milestones=boundaries)
        theirs = []
        for _ in range(1200):
            theirs.append(opt.param_groups[0]["lr"])
            opt.step()
            scheduler.step()
        np.testing.assert_allclose(ours, theirs, **TOL, err_msg=f"join {names} {params} {boundaries}")


def test_join_gives_each_piece_a_local_step():
    seen = []

    def record(step):
        seen.append(step)
        return 1.0

    sched = S.join([S.constant(0.5), record, S.constant(0.1)], [3, 5])
    assert [sched(t) for t in range(7)] == [0.5, 0.5, 0.5, 1.0, 1.0, 0.1, 0.1]
    assert seen == [0, 1]


def test_warmup_cosine_is_join_of_its_parts():
    a = S.warmup_cosine(0.2, 7, 50, start_factor=0.1, min_lr=0.01)
    b = S.join([S.linear_warmup(0.2, 7, 0.1), S.cosine(0.2, 43, 0.01)], [7])
    assert [a(t) for t in range(80)] == [b(t) for t in range(80)]


# --------------------------------------------------------------------------- to_torch
def _train(optimizer, scheduler, param, steps):
    """A real training loop on ||param - target||^2: returns the LRs used at each step.

    The gradient is written directly (2 (param - target)) rather than by autograd, to keep
    50 x 1000 steps fast; the optimizer and scheduler are the real ones.
    """
    lrs = []
    target = torch.linspace(-1, 1, param.numel(), dtype=param.dtype)
    for _ in range(steps):
        lrs.append([g["lr"] for g in optimizer.param_groups])
        with torch.no_grad():
            param.grad = 2 * (param - target)
        optimizer.step()
        scheduler.step()
    return np.array(lrs)


def test_to_torch_drives_a_real_optimizer_like_the_torch_counterpart():
    rng = random.Random("to_torch")
    names = sorted(S.FACTORIES)
    for i in range(CONFIGS):
        name = names[i % len(names)]
        params, num_steps = GENERATORS[name](rng, i)
        num_steps = min(num_steps, MIN_STEPS)
        schedule = S.FACTORIES[name](**params)
        runs = {}
        for kind in ("ours", "torch"):
            torch.manual_seed(i)
            param = torch.randn(3, dtype=torch.float64, requires_grad=True)
            opt = torch.optim.SGD([param], lr=123.0, momentum=0.9)
            sched = (S.to_torch(schedule, opt) if kind == "ours"
                     else S.torch_counterpart(name, opt, **params))
            runs[kind] = (_train(opt, sched, param, num_steps)[:, 0], param.detach().clone())
        lrs, final = runs["ours"]
        assert lrs.tolist() == [schedule(t) for t in range(num_steps)], name  # exactly these LRs
        np.testing.assert_allclose(lrs, runs["torch"][0], **TOL, err_msg=f"{name}({params})")
        torch.testing.assert_close(final, runs["torch"][1], rtol=1e-9, atol=1e-12)


def test_to_torch_takes_one_schedule_per_param_group_and_saves_its_state():
    a = torch.zeros(2, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    opt = torch.optim.AdamW([{"params": [a]}, {"params": [b]}], lr=1.0)
    scheds = [S.cosine(1e-3, 10), S.linear_warmup(1e-2, 5)]
    scheduler = S.to_torch(scheds, opt)
    lrs = _train(opt, scheduler, a, 12)
    np.testing.assert_array_equal(lrs, [[scheds[0](t), scheds[1](t)] for t in range(12)])

    buffer = io.BytesIO()
    torch.save(scheduler.state_dict(), buffer)  # picklable: the functions are not saved
    buffer.seek(0)
    opt2 = torch.optim.AdamW([{"params": [a]}, {"params": [b]}], lr=1.0)
    resumed = S.to_torch(scheds, opt2)
    resumed.load_state_dict(torch.load(buffer, weights_only=False))
    assert resumed.last_epoch == scheduler.last_epoch == 12
    opt2.step()
    resumed.step()
    assert [g["lr"] for g in opt2.param_groups] == [scheds[0](13), scheds[1](13)]


def test_to_torch_rejects_bad_input():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    with pytest.raises(ValueError, match="optimizer must be a torch.optim.Optimizer"):
        S.to_torch(S.constant(0.1), "sgd")
    with pytest.raises(ValueError, match="one per param group"):
        S.to_torch([S.constant(0.1), S.constant(0.2)], opt)
    with pytest.raises(ValueError, match="schedule must be a function"):
        S.to_torch(0.1, opt)


def test_scheduler_before_optimizer_skips_the_first_value_and_torch_warns():
    """The notebook's point: the other order loses schedule(0) and torch says so."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    sched = S.step_decay(0.1, step_size=1, gamma=0.5)
    scheduler = S.to_torch(sched, opt)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scheduler.step()
        used = opt.param_groups[0]["lr"]
        opt.step()
    assert used == sched(1) != sched(0)
    assert any("lr_scheduler.step()` before `optimizer.step()" in str(w.message) for w in caught)


# --------------------------------------------------------------------------- validation
BAD = [
    (S.constant, dict(lr=-0.1), "lr must be > 0"),
    (S.constant, dict(lr=float("nan")), "lr must be finite"),
    (S.constant, dict(lr="0.1"), "lr must be a real number"),
    (S.step_decay, dict(lr=0.1, step_size=0), "step_size must be >= 1"),
    (S.step_decay, dict(lr=0.1, step_size=2.5), "step_size must be an integer"),
    (S.step_decay, dict(lr=0.1, step_size=2, gamma=0), "gamma must be > 0"),
    (S.multistep, dict(lr=0.1, milestones=[3, -1]), "milestones must be >= 0"),
    (S.multistep, dict(lr=0.1, milestones=5), "milestones must be a list of integers"),
    (S.exponential, dict(lr=0.1, gamma=-0.5), "gamma must be > 0"),
    (S.polynomial, dict(lr=0.1, total_steps=0), "total_steps must be >= 1"),
    (S.polynomial, dict(lr=0.1, total_steps=10, power=0), "power must be > 0"),
    (S.cosine, dict(lr=0.1, total_steps=0), "total_steps must be >= 1"),
    (S.cosine, dict(lr=0.1, total_steps=-5), "total_steps must be >= 1"),
    (S.cosine, dict(lr=0.1, total_steps=10, min_lr=-1e-3), "min_lr must be >= 0"),
    (S.cosine, dict(lr=0.1, total_steps=10, min_lr=0.2), r"min_lr must be <= lr \(0.1\)"),
    (S.linear_warmup, dict(lr=0.1, warmup_steps=0), "warmup_steps must be >= 1"),
    (S.linear_warmup, dict(lr=0.1, warmup_steps=5, start_factor=0), r"start_factor must be in \(0, 1\]"),
    (S.linear_warmup, dict(lr=0.1, warmup_steps=5, end_factor=1.5), r"end_factor must be in \[0, 1\]"),
    (S.warmup_cosine, dict(lr=0.1, warmup_steps=10, total_steps=10), r"total_steps must be > warmup_steps"),
    (S.warmup_cosine, dict(lr=0.1, warmup_steps=-1, total_steps=10), "warmup_steps must be >= 0"),
    (S.cosine_restarts, dict(lr=0.1, first_cycle=0), "first_cycle must be >= 1"),
    (S.cosine_restarts, dict(lr=0.1, first_cycle=5, cycle_mult=1.5), "cycle_mult must be an integer"),
    (S.cyclic, dict(base_lr=0.1, max_lr=0.1), r"max_lr must be > base_lr \(0.1\)"),
    (S.cyclic, dict(base_lr=-0.1, max_lr=0.1), "base_lr must be >= 0"),
    (S.cyclic, dict(base_lr=0.01, max_lr=0.1, mode="sine"), "mode must be one of 'triangular'"),
    (S.cyclic, dict(base_lr=0.01, max_lr=0.1, step_size_up=0), "step_size_up must be >= 1"),
    (S.cyclic, dict(base_lr=0.01, max_lr=0.1, step_size_down=0), "step_size_down must be >= 1"),
    (S.cyclic, dict(base_lr=0.01, max_lr=0.1, mode="exp_range", gamma=1.5), "gamma must be <= 1"),
    (S.one_cycle, dict(max_lr=0.1, total_steps=0), "total_steps must be >= 1"),
    (S.one_cycle, dict(max_lr=0.1, total_steps=100, pct_start=1.2), r"pct_start must be in \[0, 1\]"),
    (S.one_cycle, dict(max_lr=0.1, total_steps=100, pct_start=-0.1), r"pct_start must be in \[0, 1\]"),
    (S.one_cycle, dict(max_lr=0.1, total_steps=100, anneal="exp"), "anneal must be one of 'cos', 'linear'"),
    (S.one_cycle, dict(max_lr=0.1, total_steps=100, pct_start=0.6, three_phase=True),
     "pct_start must be <= 0.5 when three_phase=True"),
    (S.one_cycle, dict(max_lr=0.1, total_steps=10, pct_start=0.1), "must not be 1"),
    (S.one_cycle, dict(max_lr=0.1, total_steps=100, div_factor=0), "div_factor must be > 0"),
    (S.wsd, dict(lr=0.1, warmup_steps=-1, stable_steps=5, decay_steps=5), "warmup_steps must be >= 0"),
    (S.wsd, dict(lr=0.1, warmup_steps=1, stable_steps=2.0, decay_steps=5), "stable_steps must be an integer"),
    (S.wsd, dict(lr=0.1, warmup_steps=1, stable_steps=5, decay_steps=0), "decay_steps must be >= 1"),
    (S.wsd, dict(lr=0.1, warmup_steps=1, stable_steps=5, decay_steps=5, min_lr=0.2), r"min_lr must be <= lr"),
    (S.wsd, dict(lr=0.1, warmup_steps=1, stable_steps=5, decay_steps=5, decay="sqrt"),
     "decay must be one of '1-sqrt', 'linear', 'cosine', '1-square', got 'sqrt'"),
    (S.join, dict(schedules=[], boundaries=[]), "schedules must be a non-empty list"),
    (S.join, dict(schedules=[S.constant(0.1)] * 2, boundaries=[]), "boundaries must have one entry fewer"),
    (S.join, dict(schedules=[S.constant(0.1)] * 3, boundaries=[5, 5]), "boundaries must be strictly increasing"),
    (S.join, dict(schedules=[S.constant(0.1)] * 2, boundaries=[0]), "boundaries must be >= 1"),
    (S.evaluate, dict(schedule=S.constant(0.1), num_steps=-1), "num_steps must be >= 0"),
    (S.evaluate, dict(schedule=0.1, num_steps=3), "schedule must be a function"),
    (S.torch_counterpart, dict(name="sine", optimizer=None), "name must be one of"),
]


@pytest.mark.parametrize("factory, kwargs, message", BAD,
                         ids=[f"{f.__name__}-{m.split()[0]}-{i}" for i, (f, _, m) in enumerate(BAD)])
def test_bad_arguments_name_the_argument(factory, kwargs, message):
    with pytest.raises(ValueError, match=message):
        factory(**kwargs)


@pytest.mark.parametrize("name", sorted(S.FACTORIES))
@pytest.mark.parametrize("step", [-1, 1.5, "3", True])
def test_a_schedule_takes_only_non_negative_integer_steps(name, step):
    params, _ = configs(name)[0]
    with pytest.raises(ValueError, match="step must be a non-negative integer"):
        S.FACTORIES[name](**params)(step)


def test_numpy_integer_steps_work():
    assert S.cosine(0.1, 10)(np.int64(5)) == S.cosine(0.1, 10)(5)


def test_schedules_print_their_arguments():
    sched = S.cosine(0.1, total_steps=100)
    assert sched.__qualname__ == "cosine(lr=0.1, total_steps=100, min_lr=0.0)"
    assert "join([constant(lr=0.1)" in S.join([S.constant(0.1), sched], [5]).__qualname__


def test_import_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, lrcourse.schedules; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_values_stay_finite_and_in_range():
    for name in S.FACTORIES:
        for params, n in configs(name)[:10]:
            lrs = S.evaluate(S.FACTORIES[name](**params), min(n, 1000))
            assert np.all(np.isfinite(lrs)) and np.all(lrs >= -1e-15), name
            peak = params.get("lr", params.get("max_lr"))
            if name != "exponential":
                assert lrs.max() <= peak * (1 + 1e-12) + 1e-15, name
    assert math.isclose(S.one_cycle(1.0, 100)(0), 1 / 25)


def test_wsd_phases_and_shapes():
    lrs = S.evaluate(S.wsd(0.2, warmup_steps=4, stable_steps=6, decay_steps=4, min_lr=0.02, decay="1-sqrt"), 16)
    np.testing.assert_allclose(lrs[:4], [0.0, 0.05, 0.1, 0.15])
    np.testing.assert_allclose(lrs[4:10], 0.2)
    np.testing.assert_allclose(lrs[10:14], [0.02 + 0.18 * (1 - math.sqrt(k / 4)) for k in range(4)])
    np.testing.assert_allclose(lrs[14:], 0.02)
    # 30 % into the decay: 1-sqrt has dropped the most, 1-square the least; all are monotone
    mid = {d: S.wsd(1.0, 0, 10, 100, decay=d)(40) for d in S.WSD_DECAYS}
    assert mid["1-sqrt"] < mid["linear"] < mid["cosine"] < mid["1-square"]
    for d in S.WSD_DECAYS:
        lrs = S.evaluate(S.wsd(1.0, 5, 10, 50, min_lr=0.1, decay=d), 80)[5:]
        assert np.all(np.diff(lrs) <= 1e-15), d


def test_wsd_floors_every_shape_at_min_lr_where_pytorch_optimizer_jumps():
    """The one documented difference from pytorch_optimizer.get_wsd_schedule, and only that one."""
    params = dict(lr=0.3, warmup_steps=5, stable_steps=10, decay_steps=20, min_lr=0.03)
    for decay in S.WSD_DECAYS:
        ours = S.evaluate(S.wsd(**params, decay=decay), 40)
        theirs = S.torch_lrs("wsd", 40, **params, decay=decay)
        np.testing.assert_allclose(ours[:15], theirs[:15], **TOL)   # warmup and stable: the same
        np.testing.assert_allclose(ours[35:], theirs[35:], **TOL)   # after the decay: min_lr in both
        assert ours[34] >= 0.03 - 1e-15
        if decay == "cosine":
            np.testing.assert_allclose(ours, theirs, **TOL)
        else:
            assert theirs[34] < 0.03 and not np.allclose(ours[15:35], theirs[15:35])


# --------------------------------------------------------------------------- the 1cycle momentum
def _torch_one_cycle_momenta(num_steps, **params):
    """SGD's momentum at each step under torch's OneCycleLR with cycle_momentum=True (its default)."""
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, **params)
    momenta = []
    for _ in range(num_steps):
        momenta.append(opt.param_groups[0]["momentum"])
        p.grad = torch.ones_like(p)
        opt.step()
        sched.step()
    return momenta


def test_one_cycle_momentum_matches_torch_over_random_configs():
    rng = random.Random(3)
    for _ in range(60):
        total = rng.randint(4, 400)
        three_phase = rng.random() < 0.4
        pct = rng.choice([0.25, 0.3, 0.5, rng.uniform(0.05, 0.5 if three_phase else 0.95)])
        if float(pct * total) - 1 == 0 or (three_phase and float(2 * pct * total) - 2 <= float(pct * total) - 1):
            continue
        base = rng.uniform(0.5, 0.9)
        params = dict(total_steps=total, pct_start=pct, anneal_strategy=rng.choice(["cos", "linear"]),
                      three_phase=three_phase, base_momentum=base, max_momentum=rng.uniform(base, 0.99))
        ours = S.one_cycle_momentum(total, base_momentum=params["base_momentum"], max_momentum=params["max_momentum"],
                                    pct_start=pct, anneal=params["anneal_strategy"], three_phase=three_phase)
        theirs = _torch_one_cycle_momenta(total, **params)
        assert [ours(t) for t in range(total)] == pytest.approx(theirs, rel=1e-12, abs=1e-12), params


def test_one_cycle_momentum_mirrors_the_lr():
    lr, momentum = S.one_cycle(1.0, 200), S.one_cycle_momentum(200)
    peak = int(np.argmax(S.evaluate(lr, 200)))
    assert momentum(0) == 0.95 and momentum(peak) == pytest.approx(0.85) and momentum(199) == pytest.approx(0.95)
    lrs, momenta = S.evaluate(lr, 200), S.evaluate(momentum, 200)
    assert np.all(np.sign(np.diff(lrs)) == -np.sign(np.diff(momenta)))   # one rises exactly when the other falls


@pytest.mark.parametrize("kwargs, message", [
    (dict(total_steps=0), "total_steps must be"),
    (dict(total_steps=10, base_momentum=0.96), "base_momentum must be <= max_momentum"),
    (dict(total_steps=10, max_momentum=1.0), "max_momentum must be < 1"),
    (dict(total_steps=10, base_momentum=-0.1), "base_momentum must be"),
    (dict(total_steps=10, anneal="step"), "anneal must be one of"),
    (dict(total_steps=10, three_phase=True, pct_start=0.6), "pct_start must be <= 0.5"),
])
def test_one_cycle_momentum_names_a_bad_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        S.one_cycle_momentum(**kwargs)


def test_training_with_a_momentum_cycle_equals_torchs_one_cycle_lr():
    """training.train(momentum=one_cycle_momentum(...)) is torch's OneCycleLR with cycle_momentum=True, bit for bit."""
    from lrcourse import data, training

    split = data.digits(val_fraction=0.25, seed=0)
    epochs, batch = 2, 64
    total = epochs * math.ceil(len(split.y_train) / batch)
    ours = training.mlp(split.num_features, split.num_classes, hidden=16, seed=1)
    theirs = training.mlp(split.num_features, split.num_classes, hidden=16, seed=1)
    history = training.train(ours, split, S.one_cycle(0.2, total), epochs=epochs, batch_size=batch,
                             momentum=S.one_cycle_momentum(total), seed=2)
    X = torch.as_tensor(split.X_train, dtype=torch.float64)
    y = torch.as_tensor(split.y_train)
    opt = torch.optim.SGD(theirs.parameters(), lr=0.2, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=total)   # cycle_momentum=True
    generator = torch.Generator().manual_seed(2)
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), batch):
            rows = order[start:start + batch]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(theirs(X[rows]), y[rows]).backward()
            opt.step()
            sched.step()
    for a, b in zip(ours.parameters(), theirs.parameters()):
        assert torch.equal(a, b)
    assert len(history.lrs) == total
    with pytest.raises(ValueError, match="momentum: a momentum schedule drives the default SGD"):
        training.train(ours, split, S.constant(0.1), epochs=1, momentum=S.one_cycle_momentum(total),
                       optimizer=lambda params, lr: torch.optim.Adam(params, lr=lr))
