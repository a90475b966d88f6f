"""lrcourse.plateau against torch.optim.lr_scheduler.ReduceLROnPlateau, and Keras' rule and early stopping."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lrcourse import optimizers
from lrcourse.plateau import (EarlyStopping, KerasReduceLROnPlateau, ReduceLROnPlateau, first_cut_epoch,
                              is_improvement)

NUM_STREAMS = 600


def random_stream(rng: np.random.Generator) -> list[float]:
    """A validation-loss-like stream: descents, noisy plateaus, exact ties, NaNs, negatives, the odd inf."""
    length = int(rng.integers(20, 120))
    level = float(rng.choice([rng.uniform(0.1, 5), rng.uniform(-5, -0.1), 0.0]))
    values = []
    while len(values) < length:
        kind = rng.choice(["descent", "plateau", "ties", "rise"])
        n = int(rng.integers(2, 15))
        for _ in range(n):
            if kind == "descent":
                level -= abs(level) * rng.uniform(0, 0.05) + rng.uniform(0, 1e-3)
            elif kind == "rise":
                level += abs(level) * rng.uniform(0, 0.03)
            noise = 0.0 if kind == "ties" else rng.normal(0, rng.choice([1e-6, 1e-4, 1e-2]))
            values.append(level + noise)
    for i in rng.choice(length, size=int(rng.integers(0, 4)), replace=False):
        values[i] = math.nan
    if rng.random() < 0.05:
        values[int(rng.integers(length))] = rng.choice([math.inf, -math.inf])
    return values[:length]


def random_config(rng: np.random.Generator) -> dict:
    lr = float(10 ** rng.uniform(-4, 0))
    return {
        "lr": lr,
        "mode": str(rng.choice(["min", "max"])),
        "factor": float(rng.choice([0.1, 0.5, rng.uniform(0.01, 0.99)])),
        "patience": int(rng.integers(0, 7)),
        "threshold": float(rng.choice([0.0, 1e-4, 10 ** rng.uniform(-4, -1)])),
        "threshold_mode": str(rng.choice(["rel", "abs"])),
        "cooldown": int(rng.choice([0, 0, rng.integers(1, 5)])),
        "min_lr": float(rng.choice([0.0, lr * 10 ** rng.uniform(-3, 0)])),
        "eps": float(rng.choice([1e-8, lr * 10 ** rng.uniform(-4, 0)])),
    }


def torch_run(config: dict, stream: list[float]) -> list[tuple]:
    config = dict(config)
    opt = torch.optim.SGD([torch.zeros(1, dtype=torch.float64)], lr=config.pop("lr"))
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **config)
    out = []
    for metric in stream:
        sched.step(metric)
        out.append((opt.param_groups[0]["lr"], sched.best, sched.num_bad_epochs, sched.cooldown_counter))
    return out


def ours_run(config: dict, stream: list[float]) -> list[tuple]:
    sched = ReduceLROnPlateau(**config)
    return [(sched.step(m), sched.best, sched.num_bad_epochs, sched.cooldown_counter) for m in stream]


def _same(a: tuple, b: tuple) -> bool:
    return all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("block", range(6))
def test_identical_to_torch_on_random_streams_and_configurations(block):
    """600 random streams x random configurations: the LR, best, bad-epoch count and cooldown, every epoch."""
    rng = np.random.default_rng(1000 + block)
    cuts = 0
    for _ in range(NUM_STREAMS // 6):
        config, stream = random_config(rng), random_stream(rng)
        expected, ours = torch_run(config, stream), ours_run(config, stream)
        for epoch, (e, o) in enumerate(zip(expected, ours, strict=True), start=1):
            assert _same(e, o), f"epoch {epoch}: torch {e}, ours {o}; config {config}"
        cuts += sum(a[0] != b[0] for a, b in zip(expected, expected[1:], strict=False))
    assert cuts > 100  # the streams exercise the cut, not only the waiting


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("threshold_mode", ["rel", "abs"])
def test_is_improvement_equals_torchs_rule_in_all_four_cases(mode, threshold_mode):
    opt = torch.optim.SGD([torch.zeros(1)], lr=0.1)
    rng = np.random.default_rng(7)
    for _ in range(2000):
        threshold = float(rng.choice([0.0, 1e-4, 0.1]))
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, threshold=threshold,
                                                           threshold_mode=threshold_mode)
        best = float(rng.choice([rng.normal(0, 2), 0.0, math.inf, -math.inf]))
        current = float(rng.choice([rng.normal(0, 2), best, best * (1 - threshold), best - threshold,
                                    best * (1 + threshold), best + threshold, math.nan]))
        assert is_improvement(current, best, mode, threshold_mode, threshold) == sched._is_better(current, best)


def test_rel_mode_with_a_negative_metric_counts_a_worse_value_as_better():
    assert is_improvement(-0.99995, -1.0, "min", "rel", 1e-4)
    assert not is_improvement(-0.99995, -1.0, "min", "abs", 1e-4)


def test_the_worked_example_cuts_at_epoch_16():
    """The loss improves until epoch 5 and then stops: with patience 10 the cut comes at epoch 16."""
    stream = [1.0, 0.8, 0.65, 0.55, 0.5] + [0.52, 0.51, 0.53, 0.505, 0.51, 0.52, 0.5, 0.515, 0.53, 0.51, 0.52]
    sched = ReduceLROnPlateau(0.1, patience=10).run(stream)
    assert sched.cuts == [16] == [torch_cut for torch_cut in [first_cut_epoch(stream, patience=10)]]
    assert sched.lrs[15] == 0.1 and sched.lrs[16] == pytest.approx(0.01)


def test_keras_cuts_one_epoch_earlier_than_torch_with_the_same_patience():
    stream = [1.0, 0.9] + [0.95] * 10
    torch_rule = ReduceLROnPlateau(0.1, patience=3, threshold_mode="abs").run(stream)
    keras_rule = KerasReduceLROnPlateau(0.1, patience=3).run(stream)
    assert torch_rule.cuts[0] == 6 and keras_rule.cuts[0] == 5


@pytest.mark.parametrize("seed", range(4))
def test_keras_with_patience_p_equals_torch_abs_with_patience_p_minus_1_without_cooldown(seed):
    """Without cooldown the two rules differ only by the off-by-one (checked on 200 random streams)."""
    rng = np.random.default_rng(seed)
    for _ in range(50):
        stream = random_stream(rng)
        patience = int(rng.integers(1, 6))
        delta = float(rng.choice([0.0, 1e-4, 1e-2]))
        mode = str(rng.choice(["min", "max"]))
        keras = KerasReduceLROnPlateau(1.0, mode=mode, factor=0.5, patience=patience, min_delta=delta).run(stream)
        torch_rule = ReduceLROnPlateau(1.0, mode=mode, factor=0.5, patience=patience - 1, threshold=delta,
                                       threshold_mode="abs", eps=0.0).run(stream)
        assert keras.lrs == torch_rule.lrs


def test_keras_cooldown_counts_down_before_comparing():
    # Keras patience 1 (= torch patience 0), cooldown 2, cut at epoch 2. Keras counts the cooldown down
    # before comparing, so epoch 4's bad epoch already counts: it waits one epoch, not two. torch ignores
    # the bad epochs of epochs 3 and 4 and cuts again at epoch 5.
    stream = [1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]
    keras = KerasReduceLROnPlateau(1.0, factor=0.5, patience=1, cooldown=2).run(stream)
    torch_rule = ReduceLROnPlateau(1.0, factor=0.5, patience=0, cooldown=2, threshold_mode="abs").run(stream)
    assert keras.cuts == [2, 4, 6]
    assert torch_rule.cuts == [2, 5]
    assert torch_run({"lr": 1.0, "factor": 0.5, "patience": 0, "cooldown": 2, "threshold_mode": "abs"},
                     stream)[4][0] == 0.25


def test_keras_stops_cutting_at_min_lr_and_torch_respects_eps():
    keras = KerasReduceLROnPlateau(1.0, factor=0.5, patience=1, min_lr=0.3).run([1.0] + [2.0] * 6)
    assert keras.lrs == [1.0, 1.0, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3]
    torch_rule = ReduceLROnPlateau(1e-8, factor=0.5, patience=0).run([1.0, 2.0, 2.0])
    assert torch_rule.cuts == [] and torch_rule.lrs == [1e-8] * 4  # a cut of 5e-9 is below eps=1e-8


def test_min_lr_clamps_and_cooldown_matches_torch_by_hand():
    sched = ReduceLROnPlateau(1.0, factor=0.1, patience=1, cooldown=2, min_lr=0.05)
    lrs = [sched.step(m) for m in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]
    assert lrs == [1.0, 1.0, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05]
    assert sched.cuts == [3, 7]


def test_drives_an_lrcourse_optimizer_and_a_torch_optimizer_as_torch_does():
    rng = np.random.default_rng(3)
    for _ in range(20):
        config, stream = random_config(rng), random_stream(rng)
        expected = [row[0] for row in torch_run(config, stream)]
        lr = config.pop("lr")
        ours_opt = optimizers.SGD(lr=lr)
        torch_opt = torch.optim.Adam([torch.zeros(2)], lr=lr)
        driving_ours = ReduceLROnPlateau(optimizer=ours_opt, **config)
        driving_torch = ReduceLROnPlateau(optimizer=torch_opt, **config)
        seen_ours, seen_torch = [], []
        for metric in stream:
            driving_ours.step(metric)
            driving_torch.step(metric)
            seen_ours.append(ours_opt.lr)
            seen_torch.append(torch_opt.param_groups[0]["lr"])
        assert seen_ours == expected == seen_torch


def test_driving_reads_the_optimizers_lr_each_step_as_torch_does():
    opt = optimizers.Adam(lr=0.1)
    sched = ReduceLROnPlateau(optimizer=opt, patience=0, factor=0.5)
    sched.step(1.0)
    opt.lr = 0.04  # e.g. a warmup changed it
    assert sched.step(2.0) == 0.02 and opt.lr == 0.02


def test_to_torch_builds_the_same_scheduler():
    sched = ReduceLROnPlateau(0.3, mode="max", factor=0.2, patience=3, threshold=0.01, threshold_mode="abs",
                              cooldown=1, min_lr=0.001, eps=1e-6)
    opt = torch.optim.SGD([torch.zeros(1)], lr=0.3)
    twin = sched.to_torch(opt)
    stream = list(np.random.default_rng(0).random(40))
    for m in stream:
        sched.step(m)
        twin.step(m)
        assert sched.lr == opt.param_groups[0]["lr"]


def test_metric_may_be_a_tensor_or_a_numpy_scalar_and_history_is_recorded():
    sched = ReduceLROnPlateau(0.1, patience=0)
    sched.step(torch.tensor(1.0))
    sched.step(np.float32(2.0))
    assert sched.metrics == [1.0, 2.0] and sched.bests == [1.0, 1.0]
    assert sched.lrs[0] == 0.1 and sched.cuts == [2] and sched.last_epoch == 2


@pytest.mark.parametrize("kwargs, match", [
    ({"lr": 0.1, "factor": 1.0}, "factor must be in \\[0, 1\\)"),
    ({"lr": 0.1, "factor": 2}, "factor"),
    ({"lr": 0.1, "factor": -0.5}, "factor"),
    ({"lr": 0.1, "patience": -1}, "patience must be >= 0"),
    ({"lr": 0.1, "patience": 2.5}, "patience must be an integer"),
    ({"lr": 0.1, "mode": "minimum"}, "mode must be 'min' or 'max', got 'minimum'"),
    ({"lr": 0.1, "threshold_mode": "relative"}, "threshold_mode must be 'rel' or 'abs'"),
    ({"lr": 0.1, "threshold": -1e-4}, "threshold must be >= 0"),
    ({"lr": 0.1, "cooldown": -1}, "cooldown must be >= 0"),
    ({"lr": 0.1, "min_lr": -1}, "min_lr must be >= 0"),
    ({"lr": 0.1, "eps": math.nan}, "eps must be finite"),
    ({"lr": -0.1}, "lr must be > 0"),
    ({}, "lr must be given"),
])
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReduceLROnPlateau(**kwargs)


def test_bad_metric_and_bad_optimizer_are_explained():
    with pytest.raises(ValueError, match="metric must be a number"):
        ReduceLROnPlateau(0.1).step("0.5")
    with pytest.raises(ValueError, match="metric must be a number"):
        ReduceLROnPlateau(0.1).step(torch.ones(3))
    with pytest.raises(ValueError, match="optimizer must be"):
        ReduceLROnPlateau(optimizer="adam")
    two_groups = torch.optim.SGD([{"params": [torch.zeros(1)]}, {"params": [torch.zeros(1)]}], lr=0.1)
    with pytest.raises(ValueError, match="optimizer must have one parameter group, got 2"):
        ReduceLROnPlateau(optimizer=two_groups)
    with pytest.raises(ValueError, match="patience must be >= 1"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="min_delta must be >= 0"):
        KerasReduceLROnPlateau(0.1, min_delta=-1)


def test_early_stopping_counts_patience_bad_epochs_and_ignores_nan():
    es = EarlyStopping(patience=3, min_delta=0.01)
    stops = [es.step(m) for m in [1.0, 0.8, 0.795, math.nan, 0.7, 0.75, 0.7, 0.695]]
    assert stops == [False, False, False, False, False, False, False, True]
    assert es.best == 0.7 and es.best_epoch == 5 and es.stopped_epoch == 8 and es.should_stop


def test_early_stopping_in_max_mode():
    es = EarlyStopping(patience=2, mode="max")
    assert [es.step(a) for a in [0.5, 0.7, 0.7, 0.6]] == [False, False, False, True]
    assert es.best_epoch == 2


def test_early_stopping_restores_the_best_weights_of_a_torch_model():
    model = torch.nn.Linear(2, 1)
    es = EarlyStopping(patience=2)
    snapshots = []
    for loss in [1.0, 0.5, 0.7, 0.9]:
        with torch.no_grad():
            model.weight.add_(1.0)  # training changes the weights every epoch
        snapshots.append(model.weight.detach().clone())
        es.step(loss, model)
    assert es.should_stop and es.best_epoch == 2
    assert es.restore(model) == 2
    assert torch.equal(model.weight, snapshots[1])
    with torch.no_grad():
        model.weight.add_(1.0)
    assert torch.equal(es.best_state["weight"], snapshots[1])  # the saved copy is not aliased


def test_restore_without_snapshots_is_explained():
    es = EarlyStopping(patience=1)
    es.step(1.0)
    with pytest.raises(ValueError, match="pass model= to step"):
        es.restore(torch.nn.Linear(1, 1))


def test_first_cut_epoch():
    assert first_cut_epoch([1.0, 0.5, 0.6, 0.7, 0.8], patience=2) == 5
    assert first_cut_epoch([1.0, 0.9, 0.8], patience=0) is None
    assert first_cut_epoch([0.5, 0.6, 0.7], mode="max", patience=1) is None
    assert first_cut_epoch([0.7, 0.6, 0.5], mode="max", patience=1) == 3
