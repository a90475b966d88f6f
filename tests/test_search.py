"""lrcourse.search: grids, folds, grid/random/TPE search, the LR range test, suggestions and the vectorized sweep."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from lrcourse import data, schedules, search, training

matplotlib.use("Agg")


def _quadratic(lr, weight_decay=1e-3):
    """A stand-in for training: best at lr = 0.03, weight decay barely matters."""
    return (math.log10(lr) + 1.5) ** 2 + 0.01 * (math.log10(weight_decay) + 3) ** 2 + 0.1


# --------------------------------------------------------------------------- grids and samplers

@pytest.mark.parametrize("low, high, num", [(1e-4, 1.0, 5), (3e-3, 0.7, 11), (1e-6, 10.0, 2)])
def test_log_grid_has_exact_ends_and_a_constant_ratio(low, high, num):
    grid = search.log_grid(low, high, num)
    assert grid[0] == low and grid[-1] == high and len(grid) == num
    ratios = grid[1:] / grid[:-1]
    np.testing.assert_allclose(ratios, (high / low) ** (1 / (num - 1)), rtol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    ({"low": 0.0, "high": 1.0, "num": 3}, "low must be > 0"),
    ({"low": 1.0, "high": 0.1, "num": 3}, "high must be > low"),
    ({"low": 0.1, "high": 1.0, "num": 1}, "num must be >= 2"),
    ({"low": 0.1, "high": 1.0, "num": 2.5}, "num must be an integer"),
])
def test_log_grid_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        search.log_grid(**kwargs)


def test_log_uniform_is_seeded_in_range_and_uniform_in_the_log():
    draws = search.log_uniform(1e-5, 1.0, 20_000, rng=3)
    np.testing.assert_array_equal(draws, search.log_uniform(1e-5, 1.0, 20_000, rng=np.random.default_rng(3)))
    np.testing.assert_allclose(draws, np.exp(np.random.default_rng(3).uniform(np.log(1e-5), 0.0, 20_000)))
    assert draws.min() >= 1e-5 and draws.max() < 1.0
    per_decade = np.histogram(np.log10(draws), bins=5, range=(-5, 0))[0]
    assert np.all(np.abs(per_decade - 4000) < 250)  # 4000 ± 4 standard deviations
    assert isinstance(search.log_uniform(0.1, 1.0, rng=0), float)


def test_log_uniform_rejects_bad_arguments():
    with pytest.raises(ValueError, match="high must be > low"):
        search.log_uniform(1.0, 1.0)
    with pytest.raises(ValueError, match="rng must be a numpy Generator"):
        search.log_uniform(0.1, 1.0, rng="seed")


# --------------------------------------------------------------------------- folds

def test_kfold_is_sklearns_stratified_split_and_partitions_the_samples():
    from sklearn.model_selection import StratifiedKFold

    y = data.digits().y_train
    folds = search.kfold(y, k=5, seed=3)
    theirs = StratifiedKFold(5, shuffle=True, random_state=3).split(np.zeros(len(y)), y)
    for (tr, va), (tr2, va2) in zip(folds, theirs, strict=True):
        np.testing.assert_array_equal(tr, tr2)
        np.testing.assert_array_equal(va, va2)
    all_val = np.concatenate([va for _, va in folds])
    assert sorted(all_val) == list(range(len(y)))
    for tr, va in folds:
        assert not set(tr) & set(va) and len(tr) + len(va) == len(y)
        counts = np.bincount(y[va], minlength=10) / len(va)
        np.testing.assert_allclose(counts, np.bincount(y, minlength=10) / len(y), atol=0.01)


def test_kfold_plain_for_a_count_or_float_targets():
    folds = search.kfold(23, k=4, seed=0)
    assert sorted(len(va) for _, va in folds) == [5, 6, 6, 6]
    assert sorted(np.concatenate([va for _, va in folds])) == list(range(23))
    reg = search.kfold(np.linspace(0, 1, 30), k=3)
    assert [len(va) for _, va in reg] == [10, 10, 10]
    assert search.kfold(23, 4, seed=0)[0][1].tolist() != search.kfold(23, 4, seed=1)[0][1].tolist()


@pytest.mark.parametrize("args, kwargs, message", [
    ((10,), {"k": 1}, "k must be >= 2"),
    ((3,), {"k": 5}, r"k must be <= the number of samples \(3\)"),
    ((np.array([0, 0, 0, 1, 1]),), {"k": 3}, "smallest class"),
    ((np.linspace(0, 1, 10),), {"stratified": True}, "stratified=True needs class labels"),
    ((np.zeros((4, 2)),), {}, "y must be a 1-D array"),
])
def test_kfold_rejects_bad_arguments(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        search.kfold(*args, **kwargs)


# --------------------------------------------------------------------------- grid and random search

def test_grid_search_cross_validates_every_lr_and_keeps_every_fold():
    calls = []

    def fn(lr, train_idx, val_idx):
        calls.append((lr, tuple(val_idx)))
        return _quadratic(lr) + 0.01 * val_idx[0]

    folds = search.kfold(12, k=3, seed=0)
    results = search.grid_search(fn, search.log_grid(1e-3, 1.0, 4), folds=folds)
    assert len(calls) == 12 and len(results) == 4
    assert {lr for lr, _ in calls} == set(search.log_grid(1e-3, 1.0, 4))
    best = results.best
    assert best.lr == pytest.approx(0.01) and len(best.scores) == 3
    expected = [_quadratic(0.01) + 0.01 * va[0] for _, va in folds]
    np.testing.assert_allclose(best.scores, expected)
    assert best.mean == pytest.approx(np.mean(expected)) and best.std == pytest.approx(np.std(expected))
    assert results.seconds >= 0 and all(t.seconds >= 0 for t in results)


def test_grid_search_over_a_dict_takes_the_product_in_order():
    results = search.grid_search(_quadratic, {"lr": [0.01, 0.1], "weight_decay": [1e-4, 1e-3, 1e-2]})
    assert [tuple(t.params.values()) for t in results] == [(lr, wd) for lr in (0.01, 0.1) for wd in (1e-4, 1e-3, 1e-2)]
    assert results.best.params == {"lr": 0.01, "weight_decay": 1e-3}
    np.testing.assert_array_equal(results.values("weight_decay"), [1e-4, 1e-3, 1e-2] * 2)


def test_grid_search_accepts_values_that_are_not_numbers():
    results = search.grid_search(lambda lr, opt: _quadratic(lr) + (0.0 if opt == "adam" else 1.0),
                                 {"lr": np.array([0.01, 0.03]), "opt": ["sgd", "adam"]})
    assert results.best.params == {"lr": 0.03, "opt": "adam"} and type(results.best.params["lr"]) is float
    assert results.table().splitlines()[2].split()[:3] == ["1", "0.01", "adam"]
    with pytest.raises(ValueError, match=r"space\['opt'\] must be a sequence of values"):
        search.grid_search(_quadratic, {"lr": [0.1], "opt": "adam"})


def test_results_rank_diverged_trials_last_and_report_best_so_far():
    scores = {1e-3: 2.0, 1e-2: 0.5, 1e-1: math.nan, 1.0: math.inf, 10.0: 0.7}
    results = search.grid_search(lambda lr: scores[lr], list(scores))
    assert results.best.lr == 1e-2
    np.testing.assert_array_equal(results.best_so_far(), [2.0, 0.5, 0.5, 0.5, 0.5])
    maxed = search.grid_search(lambda lr: -scores[lr], list(scores), mode="max")
    assert maxed.best.lr == 1e-2
    np.testing.assert_array_equal(maxed.best_so_far(), [-2.0, -0.5, -0.5, -0.5, -0.5])


def test_results_print_as_a_table():
    folds = search.kfold(9, k=3)
    results = search.grid_search(lambda lr, train_idx, val_idx: _quadratic(lr), [0.01, 0.03], folds=folds)
    text = str(results)
    assert text.splitlines()[0].startswith("grid search: 2 trials; best #1: lr=0.03, score 0.1005 ± 0")
    header = text.splitlines()[1].split()
    assert header == ["#", "lr", "mean", "std", "fold", "1", "fold", "2", "fold", "3", "wall"]
    assert text.splitlines()[-1].endswith(" s")
    plain = results.table(timings=False, folds=False)
    assert plain.splitlines()[0].split() == ["#", "lr", "mean", "std"] and plain.endswith("<- best")
    assert repr(results) == "SearchResults('grid search': 2 trials, best score 0.1005)"
    single = search.grid_search(_quadratic, [0.01])
    assert single.table().splitlines()[0].split() == ["#", "lr", "score", "wall"]


def test_the_tables_columns_are_as_wide_as_their_headers_in_either_language():
    from lrcourse import i18n

    folds = search.kfold(9, k=3)
    results = search.grid_search(lambda lr, train_idx, val_idx: _quadratic(lr), [0.01, 0.03], folds=folds)
    for language in ("en", "vi"):
        with i18n.using(language):
            lines = results.table().splitlines()
        assert len({len(line) for line in lines}) == 1, lines  # every column right-aligned under its header
    assert "trung bình" in lines[0] and "độ lệch chuẩn" in lines[0] and "thời gian" in lines[0]


def test_searches_show_a_progress_bar_on_request_and_overflow_quietly(capfd):
    huge = search.grid_search(lambda lr: 1e308, [0.1, 1.0], folds=None)
    assert huge.best.mean == 1e308
    assert math.isinf(search.Trial(0, {"lr": 1.0}, (1e308, 1e308), 0.0).mean)
    assert capfd.readouterr().err == ""
    for run in (lambda: search.grid_search(_quadratic, [0.01, 0.1], progress=True),
                lambda: search.random_search(_quadratic, (1e-3, 1.0), 3, progress=True),
                lambda: search.bayes_search(_quadratic, (1e-3, 1.0), 3, progress=True)):
        assert len(run()) in (2, 3)
    bars = capfd.readouterr().err
    assert "grid search" in bars and "random search" in bars and "TPE" in bars


def test_a_function_that_returns_no_number_is_named():
    def train_and_score(lr):
        return {"loss": lr}

    with pytest.raises(TypeError, match="train_and_score must return one number"):
        search.grid_search(train_and_score, [0.1])
    assert search.grid_search(lambda lr: torch.tensor(lr), [0.1]).best.mean == pytest.approx(0.1)
    assert search.grid_search(lambda lr: np.array(lr), [0.1]).best.mean == pytest.approx(0.1)


@pytest.mark.parametrize("call, message", [
    (lambda: search.grid_search("fn", [0.1]), "fn must be a function"),
    (lambda: search.grid_search(_quadratic, [0.1], folds=[1, 2]), "folds must be a list of"),
    (lambda: search.grid_search(_quadratic, [0.1], folds=[]), "at least one"),
    (lambda: search.grid_search(_quadratic, [0.1], mode="lowest"), "mode must be 'min' or 'max'"),
    (lambda: search.grid_search(_quadratic, {"lr": []}), r"space\['lr'\] must hold at least one value"),
    (lambda: search.random_search(_quadratic, (0.0, 1.0), 3), r"space\['lr'\] low must be > 0"),
    (lambda: search.random_search(_quadratic, (1.0, 0.1), 3), "must have low < high"),
    (lambda: search.random_search(_quadratic, {"lr": (0.1, 1.0, "cubic")}, 3), "scale must be 'log' or 'linear'"),
    (lambda: search.random_search(_quadratic, {"lr": 0.1}, 3), r"must be \(low, high\)"),
    (lambda: search.random_search(_quadratic, (0.1, 1.0), 0), "num_trials must be >= 1"),
])
def test_searches_reject_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_random_search_is_seeded_and_samples_log_uniformly_in_order():
    space = {"lr": (1e-4, 1.0), "weight_decay": (1e-6, 1e-2), "momentum": (0.5, 0.99, "linear")}
    results = search.random_search(_quadratic_3, space, num_trials=6, seed=4)
    again = search.random_search(_quadratic_3, space, num_trials=6, seed=4)
    assert [t.params for t in results] == [t.params for t in again]
    rng = np.random.default_rng(4)
    for trial in results:
        assert trial.params["lr"] == search.log_uniform(1e-4, 1.0, rng=rng)
        assert trial.params["weight_decay"] == search.log_uniform(1e-6, 1e-2, rng=rng)
        assert trial.params["momentum"] == rng.uniform(0.5, 0.99)
    assert search.random_search(_quadratic_3, space, 6, seed=5)[0].params != results[0].params


def _quadratic_3(lr, weight_decay, momentum):
    return _quadratic(lr, weight_decay) + (momentum - 0.9) ** 2


# --------------------------------------------------------------------------- Bayesian search

def test_bayes_search_is_seeded_quiet_and_finds_the_optimum(capfd):
    results = search.bayes_search(_quadratic, (1e-5, 10.0), num_trials=30, seed=0, n_startup_trials=8)
    again = search.bayes_search(_quadratic, (1e-5, 10.0), num_trials=30, seed=0, n_startup_trials=8)
    assert [t.params for t in results] == [t.params for t in again]
    assert abs(math.log10(results.best.lr) + 1.5) < 0.25
    random = search.random_search(_quadratic, (1e-5, 10.0), num_trials=30, seed=0)
    late_tpe = np.median([t.mean for t in results.trials[8:]])
    late_random = np.median([t.mean for t in random.trials[8:]])
    assert late_tpe < late_random  # after its start, TPE proposes where the good trials are
    assert capfd.readouterr() == ("", "")  # no optuna log lines
    assert results.method == "TPE (Optuna)" and results.study is not None


def test_bayes_search_tells_optuna_a_diverged_run_as_the_worst():
    results = search.bayes_search(lambda lr: math.nan if lr > 1 else _quadratic(lr), (1e-3, 100.0), num_trials=12,
                                  seed=1, n_startup_trials=12)
    values = [t.value for t in results.study.trials]
    assert math.inf in values and all(not math.isnan(v) for v in values)
    assert any(math.isnan(t.mean) for t in results)


def test_bayes_search_with_folds_records_the_fold_scores():
    folds = search.kfold(10, 2)
    results = search.bayes_search(lambda lr, train_idx, val_idx: _quadratic(lr) + val_idx[0], (1e-3, 1.0),
                                  num_trials=3, folds=folds, n_startup_trials=3)
    assert all(len(t.scores) == 2 for t in results)
    from_study = search.SearchResults.from_study(results.study)
    assert [t.scores for t in from_study] == [t.scores for t in results]


def test_bayes_search_storage_needs_a_name_and_a_url():
    with pytest.raises(ValueError, match="study_name is needed with storage"):
        search.bayes_search(_quadratic, (1e-3, 1.0), 2, storage="sqlite:///x.db")
    with pytest.raises(ValueError, match="storage must be an Optuna storage URL"):
        search.bayes_search(_quadratic, (1e-3, 1.0), 2, storage=3, study_name="s")


WORKER = textwrap.dedent("""
    import json, math, sys, time
    from lrcourse import search

    def objective(lr, weight_decay):
        time.sleep(0.02)  # long enough for the two workers' trials to interleave
        return (math.log10(lr) + 1.5) ** 2 + 0.01 * (math.log10(weight_decay) + 3) ** 2

    mine = search.bayes_search(objective, {"lr": (1e-4, 1.0), "weight_decay": (1e-5, 1e-1)}, num_trials=8,
                               seed=int(sys.argv[2]), storage=sys.argv[1], study_name="shared",
                               n_startup_trials=4)
    print(json.dumps([t.number for t in mine]))
""")


def test_two_worker_processes_share_one_sqlite_study(tmp_path):
    import optuna

    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(storage=url, study_name="shared")  # created once, as an instructor would
    workers = [subprocess.Popen([sys.executable, str(script), url, str(seed)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    numbers = [json.loads(out) for out, _ in outputs]
    assert len(numbers[0]) == len(numbers[1]) == 8
    assert sorted(numbers[0] + numbers[1]) == list(range(16))  # one numbering: the workers shared the study
    study = optuna.load_study(storage=url, study_name="shared")
    shared = search.SearchResults.from_study(study)
    assert len(shared) == 16 and all(len(t.scores) == 1 for t in shared)
    assert shared.best.mean == min(t.value for t in study.trials)


# --------------------------------------------------------------------------- smoothing and the range test

def test_loss_smoother_is_unbiased_from_the_first_step_and_stops_on_divergence():
    smoother = search.LossSmoother(smooth_f=0.1, diverge_th=2.0)
    for _ in range(5):
        value, diverged = smoother.update(3.0)
        assert value == pytest.approx(3.0, rel=1e-14) and not diverged
    assert search.smooth_losses([1.0, 0.5, 0.4, 5.0, 9.0], 0.5, 2.0).size == 4
    assert math.isnan(search.smooth_losses([1.0, math.nan, 0.1])[-1]) and search.smooth_losses([1.0, math.nan, 0.1]).size == 2
    for bad, message in ((0.0, "smooth_f must be > 0"), (1.5, r"smooth_f must be in \(0, 1\]")):
        with pytest.raises(ValueError, match=message):
            search.LossSmoother(smooth_f=bad)
    with pytest.raises(ValueError, match="diverge_th must be > 1"):
        search.LossSmoother(diverge_th=1.0)


def _model_and_batches(batch_norm=False, seed=0):
    torch.manual_seed(seed)
    layers = [nn.Linear(8, 16)] + ([nn.BatchNorm1d(16)] if batch_norm else []) + [nn.ReLU(), nn.Linear(16, 3)]
    model = nn.Sequential(*layers).double()
    X = torch.randn(96, 8, dtype=torch.float64)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()
    return model, [(X[i:i + 16], y[i:i + 16]) for i in range(0, 96, 16)]


def _snapshot(model, optimizer):
    return ({k: v.clone() for k, v in model.state_dict().items()},
            json.dumps(optimizer.state_dict()["param_groups"]),
            {k: {n: t.clone() if torch.is_tensor(t) else t for n, t in s.items()}
             for k, s in optimizer.state_dict()["state"].items()})


def _assert_same(before, after):
    for key in before[0]:
        assert torch.equal(before[0][key], after[0][key]), key
    assert before[1] == after[1]
    assert before[2].keys() == after[2].keys()
    for k in before[2]:
        for n in before[2][k]:
            a, b = before[2][k][n], after[2][k][n]
            assert torch.equal(a, b) if torch.is_tensor(a) else a == b


@pytest.mark.parametrize("make_optimizer", [
    lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-4),
    lambda p: torch.optim.Adam(p, lr=1e-3),
], ids=["sgd-momentum", "adam"])
def test_range_test_restores_the_model_and_the_optimizer_exactly(make_optimizer):
    model, batches = _model_and_batches(batch_norm=True)
    optimizer = make_optimizer(model.parameters())
    for x, y in batches[:3]:  # some optimizer state (momentum buffers, Adam moments, step counts) to restore
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    model.eval()
    before = _snapshot(model, optimizer)
    test = search.lr_range_test(model, optimizer, F.cross_entropy, batches, 1e-5, 10.0, num_iter=40)
    assert len(test.lrs) >= 10
    _assert_same(before, _snapshot(model, optimizer))
    assert not model.training
    for p in model.parameters():
        assert p.grad is None or not p.grad.any()


def test_range_test_restores_the_state_when_the_loss_raises():
    model, batches = _model_and_batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = _snapshot(model, optimizer)
    calls = {"n": 0}

    def failing_loss(out, y):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("boom")
        return F.cross_entropy(out, y)

    with pytest.raises(RuntimeError, match="boom"):
        search.lr_range_test(model, optimizer, failing_loss, batches, 1e-4, 1.0, num_iter=20)
    _assert_same(before, _snapshot(model, optimizer))


@pytest.mark.parametrize("step_mode", ["exp", "linear"])
def test_range_test_ramps_the_lr_of_every_group_and_smooths_the_loss(step_mode):
    model, batches = _model_and_batches()
    optimizer = torch.optim.SGD([{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 0.5}],
                                lr=0.1)
    seen = []

    def loss_fn(out, y):
        seen.append([g["lr"] for g in optimizer.param_groups])
        return F.cross_entropy(out, y)

    test = search.lr_range_test(model, optimizer, loss_fn, batches, 1e-4, 1e-2, num_iter=15, step_mode=step_mode)
    ramp = np.geomspace(1e-4, 1e-2, 15) if step_mode == "exp" else np.linspace(1e-4, 1e-2, 15)
    np.testing.assert_allclose(test.lrs, ramp, rtol=1e-12)
    np.testing.assert_allclose(seen, np.stack([ramp, ramp], axis=1), rtol=1e-12)
    np.testing.assert_array_equal(test.smoothed, search.smooth_losses(test.losses))
    assert not test.diverged and len(test.lrs) == 15  # 15 steps cycle through the 6 batches
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.5]


def test_range_test_stops_at_divergence_and_suggests():
    model, batches = _model_and_batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    test = search.lr_range_test(model, optimizer, F.cross_entropy, batches, 1e-4, 1e4, num_iter=200)
    assert test.diverged and len(test.lrs) < 200
    last, best = test.smoothed[-1], test.smoothed[:-1].min()
    assert not math.isfinite(last) or last > 5 * best
    assert repr(test).startswith(f"RangeTest({len(test.lrs)} of 200 steps")
    suggestions = test.suggestions()
    assert set(suggestions) == {"steep", "minimum", "valley"}
    assert all(test.lrs[0] <= lr <= test.lrs[-1] for lr in suggestions.values())


def test_range_test_rejects_bad_arguments():
    model, batches = _model_and_batches()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    run = search.lr_range_test
    with pytest.raises(ValueError, match="model must be a torch.nn.Module"):
        run(lambda x: x, optimizer, F.cross_entropy, batches)
    with pytest.raises(ValueError, match="optimizer must be a torch.optim.Optimizer"):
        run(model, "sgd", F.cross_entropy, batches)
    with pytest.raises(ValueError, match="end_lr must be > start_lr"):
        run(model, optimizer, F.cross_entropy, batches, 1.0, 0.1)
    with pytest.raises(ValueError, match="step_mode must be 'exp' or 'linear'"):
        run(model, optimizer, F.cross_entropy, batches, step_mode="log")
    with pytest.raises(ValueError, match="batches must yield at least one"):
        run(model, optimizer, F.cross_entropy, [], num_iter=5)
    with pytest.raises(ValueError, match="batches ran out"):
        run(model, optimizer, F.cross_entropy, iter(batches), 1e-4, 1e-3, num_iter=10)


def _fastai_valley(lrs, losses):
    """fastai's valley (fastai/callback/schedule.py), transcribed: the reference for ours."""
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(lrs[idx])


def _random_curve(rng, n):
    x = np.linspace(0, 1, n)
    centre, width = rng.uniform(0.3, 0.6), rng.uniform(5, 20)
    curve = 2.3 - 2 / (1 + np.exp(-(x - centre) * width)) + rng.uniform(0, 0.1) * np.exp(rng.uniform(5, 12) * (x - 0.7))
    return curve * (1 + rng.uniform(0, 0.05) * rng.standard_normal(n))


def test_suggestions_equal_fastais_rules_on_random_curves():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(8, 120))
        lrs = np.geomspace(10 ** rng.uniform(-7, -3), 10 ** rng.uniform(-1, 1), n)
        losses = _random_curve(rng, n)
        assert search.suggest_lr(lrs, losses, "valley") == _fastai_valley(lrs, losses)
        grads = (losses[1:] - losses[:-1]) / (np.log(lrs[1:]) - np.log(lrs[:-1]))
        assert search.suggest_lr(lrs, losses, "steep") == lrs[grads.argmin()]
        assert search.suggest_lr(lrs, losses, "minimum") == lrs[losses.argmin()] / 10


def test_the_valley_rule_is_described_as_the_code_computes_it():
    """The docstring and notebook 05 (both editions) say "about halfway" and give fastai's index; the code agrees."""
    from pathlib import Path

    import nbformat

    for length in range(6, 200):   # a valley of `length` points from index 5, then a rise
        losses = np.concatenate([[3.0] * 5, np.linspace(2.0, 0.1, length), np.linspace(0.2, 5.0, 10)])
        losses[:5] = [3.5, 3.4, 3.3, 3.2, 3.1]   # part of the descent: the valley starts at index 0
        lrs = np.geomspace(1e-5, 10.0, len(losses))
        index = int(np.argmin(np.abs(lrs - search.suggest_lr(lrs, losses, "valley"))))
        count = length + 5               # fastai's L: the valley's points; its s is one before the first
        start = -1
        assert index == start + int(count / 3) + int(count / 3 / 2)
        position = (index - start) / count
        assert 0.3 <= position <= 0.5 and (count < 30 or abs(position - 0.5) < 0.05)   # halfway, never 2/3
    doc = search.suggest_lr.__doc__
    assert "about halfway down it" in doc and "s + int(L/3) + int(L/6)" in doc and "2/3" not in doc
    root = Path(__file__).resolve().parents[1]
    for edition, words in (("solutions", "about halfway down"), ("solutions/vi", "khoảng nửa đường xuống")):
        nb = nbformat.read(root / edition / "05_lr_search.ipynb", as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown" and '**"valley"**' in c.source)
        assert words in text and "\\lfloor L/3 \\rfloor + \\lfloor L/6 \\rfloor" in text, edition
        assert "two thirds" not in text and "hai phần ba" not in text, edition


def test_suggest_lr_skips_the_ends_and_stops_at_the_first_nan():
    lrs = np.geomspace(1e-4, 1.0, 20)
    losses = np.linspace(2.0, 0.1, 20)
    assert search.suggest_lr(lrs, losses, "minimum") == lrs[-1] / 10
    assert search.suggest_lr(lrs, losses, "minimum", skip_end=5) == lrs[14] / 10
    losses[10] = math.nan
    assert search.suggest_lr(lrs, losses, "minimum") == lrs[9] / 10
    assert search.suggest_lr(lrs, losses, "minimum", skip_start=None) == lrs[9] / 10


@pytest.mark.parametrize("args, kwargs, message", [
    (([1e-3, 1e-2], [1.0, 0.5]), {"method": "best"}, "method must be one of 'steep', 'minimum', 'valley'"),
    (([1e-2, 1e-3], [1.0, 0.5]), {}, "lrs must be positive and increasing"),
    (([1e-3, 1e-2], [1.0]), {}, "the same length"),
    (([1e-3, 1e-2, 1e-1], [1.0, 0.9, 0.8]), {"skip_end": 2}, "too few points"),
])
def test_suggest_lr_rejects_bad_arguments(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        search.suggest_lr(*args, **kwargs)


# --------------------------------------------------------------------------- the vectorized sweep

@pytest.fixture(scope="module")
def small_split():
    full = data.digits()
    return data.Split(full.X_train[:400], full.y_train[:400], full.X_val[:150], full.y_val[:150], name="small")


def _configs():
    rng = np.random.default_rng(0)
    for i in range(8):
        yield dict(hidden=int(rng.choice([0, 8, 24])), momentum=float(rng.choice([0.0, 0.9])),
                   weight_decay=float(rng.choice([0.0, 1e-3])), batch_size=int(rng.choice([32, 50, 64])),
                   seed=i, model_seed=int(rng.integers(0, 5)), lrs=search.log_uniform(1e-3, 0.5, 4, rng=rng))


@pytest.mark.parametrize("config", list(_configs()), ids=lambda c: f"h{c['hidden']}-m{c['momentum']}-b{c['batch_size']}")
def test_sweep_equals_separate_training_runs(config, small_split):
    config = dict(config)
    lrs = config.pop("lrs")
    histories = search.sweep(small_split, lrs, epochs=3, **config)
    for lr, swept in zip(lrs, histories, strict=True):
        model = training.mlp(small_split.num_features, small_split.num_classes, config["hidden"], config["model_seed"])
        alone = training.train(model, small_split, schedules.constant(lr), epochs=3, batch_size=config["batch_size"],
                               momentum=config["momentum"], weight_decay=config["weight_decay"], seed=config["seed"])
        np.testing.assert_allclose(swept.train_loss, alone.train_loss, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(swept.epoch_loss, alone.epoch_loss, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(swept.val_loss, alone.val_loss, rtol=1e-9, atol=1e-12)
        assert swept.val_accuracy == alone.val_accuracy
        assert swept.lrs == alone.lrs and swept.steps_per_epoch == alone.steps_per_epoch


TORCH_RULES = {  # search.sweep's optimizer names and the torch optimizers they equal, built as training.train does
    "adam": lambda wd, betas, eps, alpha: lambda params, lr: torch.optim.Adam(params, lr=lr, betas=betas, eps=eps,
                                                                                weight_decay=wd),
    "adamw": lambda wd, betas, eps, alpha: lambda params, lr: torch.optim.AdamW(params, lr=lr, betas=betas, eps=eps,
                                                                                  weight_decay=wd),
    "rmsprop": lambda wd, betas, eps, alpha: lambda params, lr: torch.optim.RMSprop(params, lr=lr, alpha=alpha,
                                                                                      eps=eps, weight_decay=wd),
}


def _adaptive_configs():
    rng = np.random.default_rng(1)
    for i in range(9):
        optimizer = ("adam", "adamw", "rmsprop")[i % 3]
        yield dict(optimizer=optimizer, hidden=int(rng.choice([0, 8, 24])), batch_size=int(rng.choice([32, 50, 64])),
                   betas=(float(rng.choice([0.8, 0.9])), float(rng.choice([0.99, 0.999]))),
                   eps=float(rng.choice([1e-8, 1e-3])), alpha=float(rng.choice([0.9, 0.99])), seed=i,
                   model_seed=int(rng.integers(0, 5)), lrs=search.log_uniform(1e-4, 0.05, 3, rng=rng),
                   weight_decay=[float(w) for w in rng.choice([0.0, 1e-3, 0.1], size=3)])


@pytest.mark.parametrize("config", list(_adaptive_configs()), ids=lambda c: f"{c['optimizer']}-h{c['hidden']}-b{c['batch_size']}")
def test_sweep_with_adam_adamw_and_rmsprop_equals_separate_runs_of_the_torch_optimizer(config, small_split):
    config = dict(config)
    lrs, decays = config.pop("lrs"), config["weight_decay"]
    histories = search.sweep(small_split, lrs, epochs=3, **config)
    for lr, wd, swept in zip(lrs, decays, histories, strict=True):
        model = training.mlp(small_split.num_features, small_split.num_classes, config["hidden"], config["model_seed"])
        make = TORCH_RULES[config["optimizer"]](wd, config["betas"], config["eps"], config["alpha"])
        alone = training.train(model, small_split, schedules.constant(lr), epochs=3, batch_size=config["batch_size"],
                               optimizer=make, seed=config["seed"])
        np.testing.assert_allclose(swept.train_loss, alone.train_loss, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(swept.val_loss, alone.val_loss, rtol=1e-9, atol=1e-12)
        assert swept.val_accuracy == alone.val_accuracy


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "rmsprop"])
def test_sweep_adaptive_rules_differ_from_each_other_and_from_sgd(optimizer, small_split):
    # the same LRs and decay under another rule give other runs: the rule is really the one asked for
    runs = {name: search.sweep(small_split, [0.01], epochs=2, hidden=8, weight_decay=0.1, optimizer=name)[0].val_loss
            for name in ("sgd", "adam", "adamw", "rmsprop")}
    assert all(runs[optimizer] != other for name, other in runs.items() if name != optimizer)


def test_sweep_takes_one_weight_decay_per_lr_and_a_diverged_model_does_not_touch_the_others(small_split):
    lrs = [0.05, 0.05, 500.0]
    histories = search.sweep(small_split, lrs, epochs=2, hidden=8, weight_decay=[0.0, 0.1, 0.0])
    assert histories[0].val_loss != histories[1].val_loss
    assert not math.isfinite(histories[2].val_loss[-1]) or histories[2].val_loss[-1] > 100
    alone = search.sweep(small_split, lrs[:1], epochs=2, hidden=8)
    np.testing.assert_allclose(histories[0].val_loss, alone[0].val_loss, rtol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    ({"lrs": []}, "lrs must be a non-empty 1-D sequence"),
    ({"lrs": [0.1, -0.1]}, "lrs must be > 0"),
    ({"lrs": [0.1, 0.2], "weight_decay": [0.1, 0.2, 0.3]}, r"weight_decay must be one number or one per learning rate \(2\)"),
    ({"lrs": [0.1], "weight_decay": -1.0}, "weight_decay must be >= 0"),
    ({"lrs": [0.1], "epochs": 0}, "epochs must be >= 1"),
    ({"lrs": [0.1], "optimizer": "lamb"}, "optimizer must be one of 'sgd', 'adam', 'adamw', 'rmsprop', got 'lamb'"),
    ({"lrs": [0.1], "optimizer": "adam", "momentum": 0.9}, "momentum is SGD's; 'adam' takes betas"),
    ({"lrs": [0.1], "optimizer": "adam", "betas": (0.9,)}, r"betas must be a pair \(beta1, beta2\)"),
    ({"lrs": [0.1], "optimizer": "adam", "betas": (0.9, 1.0)}, r"betas\[1\] must be in \[0, 1\)"),
    ({"lrs": [0.1], "optimizer": "adam", "eps": 0.0}, "eps must be > 0"),
    ({"lrs": [0.1], "optimizer": "rmsprop", "alpha": 1.5}, r"alpha must be in \[0, 1\)"),
])
def test_sweep_rejects_bad_arguments(kwargs, message, small_split):
    kwargs = {"epochs": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        search.sweep(small_split, **kwargs)


def test_sweep_refuses_a_regression_split():
    with pytest.raises(ValueError, match="classification split"):
        search.sweep(data.diabetes(), [0.1], epochs=1)


# --------------------------------------------------------------------------- plots

def test_search_plots_mark_the_best_and_the_diverged():
    import matplotlib.pyplot as plt

    from lrcourse import plotting

    scores = {1e-3: 2.0, 1e-2: 0.5, 1e-1: 0.3, 1.0: 1e30, 10.0: math.nan}
    results = search.grid_search(lambda lr: scores[lr], list(scores))
    ax = results.plot()
    labels = ax.get_legend_handles_labels()[1]
    assert "best: lr=0.1" in labels and "diverged" in labels
    diverged = [line for line in ax.get_lines() if line.get_label() == "diverged"][0]
    np.testing.assert_array_equal(diverged.get_xdata(), [1.0, 10.0])
    two = search.random_search(_quadratic, {"lr": (1e-3, 1.0), "weight_decay": (1e-5, 1e-1)}, 7)
    ax2 = plotting.plot_trials_2d(two)
    assert ax2.get_title() == "Random search: 7 trials, 7 distinct lr values"
    # trials that diverged are grey, the others shaded from dark (best) to pale: every colour a valid RGB
    # (a diverged trial used to be ranked past the worst, off the scale, and matplotlib refused the colours)
    wild = search.grid_search(lambda lr, weight_decay: {1e-3: 2.0, 1e-2: 0.5, 1.0: 1e30, 10.0: math.inf}[lr],
                              {"lr": [1e-3, 1e-2, 1.0, 10.0], "weight_decay": [1e-5, 1e-3]})
    colors = plotting.plot_trials_2d(wild).collections[0].get_facecolors()[:, :3]
    assert np.all((colors >= 0) & (colors <= 1))
    np.testing.assert_allclose(colors[4:], 0.6)  # the four diverged trials
    assert len({tuple(c) for c in colors[:4]}) == 2  # two scores, two shades
    ax3 = plotting.plot_best_so_far({"random": two})
    np.testing.assert_allclose(ax3.get_lines()[0].get_ydata(), two.best_so_far())
    model, batches = _model_and_batches()
    test = search.lr_range_test(model, torch.optim.SGD(model.parameters(), lr=0.1), F.cross_entropy, batches,
                                1e-4, 1e4, num_iter=100)
    ax4 = test.plot()
    assert [t for t in ax4.get_legend_handles_labels()[1] if ":" in t] == [
        f"{m}: {test.suggest(m):.3g}" for m in ("steep", "minimum", "valley")]
    plt.close("all")
