"""Notebook 05's checks: references agree with the library, other correct answers pass, wrong answers fail."""
from __future__ import annotations

import math

import numpy as np
import pytest

from lrcourse import search
from lrcourse.exercises import search as ex


def test_references_agree_with_the_library():
    for case in ex.log_grid.cases:
        np.testing.assert_allclose(ex.log_grid.expected(case), search.log_grid(**case.kwargs), rtol=1e-12)
    for case in ex.log_uniform.cases:
        kw = dict(case.kwargs)
        rng = kw.pop("rng")
        np.testing.assert_allclose(ex.log_uniform.expected(case),
                                   search.log_uniform(kw["low"], kw["high"], kw["size"], rng=rng.seed), rtol=1e-12)
    for case in ex.smoothed_losses.cases:
        np.testing.assert_array_equal(ex.smoothed_losses.expected(case), search.smooth_losses(**case.kwargs))
    for case in ex.steepest_lr.cases:
        assert ex.steepest_lr.expected(case) == search.suggest_lr(case.kwargs["lrs"], case.kwargs["losses"], "steep")


def test_the_smoothing_cases_cover_a_divergence_a_nan_and_no_stop():
    lengths = [(len(c.kwargs["losses"]), len(ex.smoothed_losses.expected(c))) for c in ex.smoothed_losses.cases]
    assert any(n == m for n, m in lengths) and any(m < n for n, m in lengths)
    assert any(any(math.isnan(v) for v in c.kwargs["losses"]) for c in ex.smoothed_losses.cases)


def _sklearn_kfold(n, k, seed=0):
    from sklearn.model_selection import KFold

    return list(KFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(n)))


def _kfold_lists(n, k, seed=0):
    order = list(np.random.default_rng(seed).permutation(n))
    size, extra = divmod(n, k)
    folds, start = [], 0
    for i in range(k):
        stop = start + size + (1 if i < extra else 0)
        val = order[start:stop]
        folds.append((sorted(set(range(n)) - set(val)), val))
        start = stop
    return folds


@pytest.mark.parametrize("answer", [_sklearn_kfold, _kfold_lists], ids=["sklearn", "lists"])
def test_kfold_check_accepts_any_correct_split(answer, capsys):
    ex.kfold_indices.check(answer)
    assert capsys.readouterr().out.startswith("✓ kfold_indices")


@pytest.mark.parametrize("exercise, answer", [
    (ex.log_grid, lambda low, high, num: np.geomspace(low, high, num)),
    (ex.log_grid, lambda low, high, num: list(10 ** np.linspace(np.log10(low), np.log10(high), num))),
    (ex.log_uniform, lambda low, high, size, rng: 10 ** rng.uniform(np.log10(low), np.log10(high), size)),
    (ex.log_uniform, lambda low, high, size, rng: low * (high / low) ** rng.uniform(0, 1, size)),
    (ex.cv_grid_search, lambda f, lrs, folds: (lrs[int(np.argmin([np.mean([f(lr, t, v) for t, v in folds])
                                                                   for lr in lrs]))],
                                               [sum(f(lr, t, v) for t, v in folds) / len(folds) for lr in lrs])),
    (ex.steepest_lr, lambda lrs, losses: lrs[int(np.argmin([(losses[i + 1] - losses[i]) / math.log(lrs[i + 1] / lrs[i])
                                                            for i in range(len(lrs) - 1)]))]),
], ids=["geomspace", "log10", "log10-uniform", "power", "cv-lists", "steep-loop"])
def test_checks_accept_other_correct_ways(exercise, answer, capsys):
    exercise.check(answer)
    assert capsys.readouterr().out.startswith(f"✓ {exercise.name}")


def test_kfold_feedback_names_the_overlapping_index_and_the_expected_sizes():
    with pytest.raises(AssertionError) as info:
        ex.kfold_indices.check(ex.kfold_indices.mistakes[0].fn)
    message = str(info.value)
    assert "the validation parts overlap" in message and "sizes [4, 3, 3]" in message


def test_kfold_feedback_on_a_split_that_ignores_the_seed():
    def fixed_shuffle(n, k, seed=0):
        return ex._kfold_indices(n, k, 0)

    with pytest.raises(AssertionError, match="the seed must set the shuffle"):
        ex.kfold_indices.check(fixed_shuffle)


def test_kfold_feedback_on_a_split_that_is_not_reproducible():
    state = {"calls": 0}

    def unseeded(n, k, seed=0):
        state["calls"] += 1
        return ex._kfold_indices(n, k, 1000 + state["calls"])

    with pytest.raises(AssertionError, match="two calls with the same seed gave different folds"):
        ex.kfold_indices.check(unseeded)


def test_log_uniform_feedback_recognises_the_right_distribution_from_another_generator():
    def other_generator(low, high, size, rng):
        return np.exp(np.random.default_rng(7).uniform(np.log(low), np.log(high), size))

    with pytest.raises(AssertionError, match="look log-uniform"):
        ex.log_uniform.check(other_generator)
    with pytest.raises(AssertionError) as info:
        ex.log_uniform.check(lambda low, high, size, rng: np.sqrt(low * high) * np.ones(size))
    assert "look log-uniform" not in str(info.value)


def test_the_toy_training_punishes_swapped_folds():
    toy = ex.cv_grid_search.cases[0].kwargs["train_and_validate"]
    train, val = ex.cv_grid_search.cases[0].kwargs["folds"][0]
    assert toy(0.1, train, val) != toy(0.1, val, train)


def _kfold_val_only(n, k, seed=0):
    return [val for _, val in ex._kfold_indices(n, k, seed)]


def _kfold_extra_fold(n, k, seed=0):
    return ex._kfold_indices(n, k + 1, seed)


def _kfold_float(n, k, seed=0):
    return [(t.astype(float), v.astype(float)) for t, v in ex._kfold_indices(n, k, seed)]


def _kfold_next_fold_only(n, k, seed=0):
    folds = ex._kfold_indices(n, k, seed)
    return [(folds[(i + 1) % k][1], folds[i][1]) for i in range(k)]


def _smooth_from_zero(losses, smooth_f=0.05, diverge_th=5.0):
    out, avg = [], 0.0
    for t, loss in enumerate(losses):
        avg = (1 - smooth_f) * avg + smooth_f * loss
        out.append(avg / (1 - (1 - smooth_f) ** t))  # t starts at 0: division by zero
    return out


def _running_mean(losses, smooth_f=0.05, diverge_th=5.0):
    return list(np.cumsum(losses) / np.arange(1, len(losses) + 1))


def _fixed_beta(losses, smooth_f=0.05, diverge_th=5.0):
    return ex._smoothed_losses(losses, 0.02, diverge_th)


WRONG_ANSWERS = {
    "log_grid": [
        lambda low, high, num: np.round(np.geomspace(low, high, num), 3),
        lambda low, high, num: np.geomspace(low, high, num)[::-1],
        lambda low, high, num: np.logspace(low, high, num),
        lambda low, high, num: np.geomspace(low, high * 10, num),
    ],
    "kfold_indices": [_kfold_val_only, _kfold_extra_fold, _kfold_float, _kfold_next_fold_only,
                      lambda n, k, seed=0: None],
    "cv_grid_search": [
        lambda f, lrs, folds: (int(np.argmin(ex._cv_grid_search(f, lrs, folds)[1])), ex._cv_grid_search(f, lrs, folds)[1]),
        lambda f, lrs, folds: ex._cv_grid_search(f, lrs, folds)[::-1],
        lambda f, lrs, folds: ex._cv_grid_search(f, lrs, folds)[0],
        lambda f, lrs, folds: (ex._cv_grid_search(f, lrs, folds)[0], ex._cv_grid_search(f, lrs, folds)[1] * len(folds)),
    ],
    "log_uniform": [
        lambda low, high, size, rng: np.sort(np.exp(rng.uniform(np.log(low), np.log(high), size))),
        lambda low, high, size, rng: np.exp(rng.uniform(np.log(low), np.log(high), size + 1)),
        lambda low, high, size, rng: np.exp(np.random.default_rng(0).uniform(np.log(low), np.log(high), size)),
        lambda low, high, size, rng: np.exp(rng.uniform(np.log(high), np.log(low), size)),
    ],
    "smoothed_losses": [
        lambda losses, smooth_f=0.05, diverge_th=5.0: list(losses),
        _smooth_from_zero,
        _running_mean,
        _fixed_beta,
    ],
    "steepest_lr": [
        lambda lrs, losses: int(np.argmin(np.diff(losses) / np.diff(np.log(lrs)))),
        lambda lrs, losses: ex._steepest_lr(lrs, losses) / 10,
        lambda lrs, losses: float(np.min(np.diff(losses) / np.diff(np.log(lrs)))),
        lambda lrs, losses: lrs[-1],
    ],
}
