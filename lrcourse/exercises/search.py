"""Checks and hints for notebook 05, searching for a learning rate (``from lrcourse.exercises import search as ex``).

``log_grid``, ``log_uniform``, ``smoothed_losses`` and ``steepest_lr`` are
compared with reference answers. ``kfold_indices`` is checked by what makes
folds right (every sample validated exactly once, balanced sizes, training on
the rest, reproducible for a seed, shuffled) rather than by one particular
shuffle. ``cv_grid_search`` is called with toy train-and-validate functions
whose scores depend on the learning rate and on the fold, so averaging over
the wrong axis, picking the worst LR or swapping a fold's training and
validation indices all show. Each exercise's ``grade_id`` in the notebook
equals its name here.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..i18n import N_, gettext_ as _
from ._core import Bound, Case, Exercise, Mistake, compare_close, fmt, fmt_pair
from .kinds import CVExercise, FoldsExercise, SamplerExercise, TableExercise
from .kinds.resampling import _Rng

__all__ = ["log_grid", "kfold_indices", "cv_grid_search", "log_uniform", "smoothed_losses", "steepest_lr",
           "EXERCISES"]


# --------------------------------------------------------------------------- log_grid

def _log_grid(low, high, num):
    return np.exp(np.linspace(np.log(low), np.log(high), num))


log_grid = Exercise(
    name="log_grid",
    points=1,
    reference=_log_grid,
    cases=[
        Case({"low": 1e-4, "high": 1.0, "num": 5}, N_("one point per decade")),
        Case({"low": 1e-3, "high": 1.0, "num": 7}),
        Case({"low": 0.01, "high": 3.0, "num": 6}, N_("the ends are not powers of ten")),
        Case({"low": 1e-5, "high": 10.0, "num": 13}),
        Case({"low": 2e-3, "high": 0.5, "num": 2}, N_("just the two ends")),
    ],
    exempt={"bounds": "a formula: no threshold is applied to the cases"},
    hint_text=N_("""
        Space the *logarithms* evenly: np.linspace(np.log(low), np.log(high), num), then np.exp
        (or np.geomspace(low, high, num), which does the same). Each point is the previous one
        times the same factor, and both ends are included.
    """),
    mistakes=[
        Mistake(lambda low, high, num: np.linspace(low, high, num),
                N_("These are evenly spaced on a linear scale: almost every point lands in the top decade. "
                "Space the logarithms evenly instead.")),
        Mistake(lambda low, high, num: np.linspace(np.log10(low), np.log10(high), num),
                N_("You returned the exponents (log10 of the LRs); raise 10 to them.")),
        Mistake(lambda low, high, num: np.logspace(np.log(low), np.log(high), num),
                N_("np.logspace takes base-10 exponents, and you passed natural logarithms: use np.log10, "
                "or np.geomspace(low, high, num).")),
        Mistake(lambda low, high, num: np.exp(np.linspace(np.log10(low), np.log10(high), num)),
                N_("You mixed two bases: the exponents are log10 of low and high, but np.exp raises e to them. "
                "Use one base: np.exp(np.linspace(np.log(low), np.log(high), num)), or 10 ** of the log10s, or "
                "np.geomspace(low, high, num).")),
        Mistake(lambda low, high, num: np.logspace(low, high, num),
                N_("np.logspace takes exponents: np.logspace(low, high, num) runs from 10**low to 10**high. Pass "
                "np.log10(low) and np.log10(high), or use np.geomspace(low, high, num).")),
        Mistake(lambda low, high, num: np.logspace(np.log10(low), np.log10(high), num, endpoint=False),
                N_("high is missing: the grid must include both ends (endpoint=True).")),
        Mistake(lambda low, high, num: np.geomspace(low, high, num + 1),
                N_("That is num + 1 points: num points make num - 1 steps.")),
    ],
)


# --------------------------------------------------------------------------- kfold_indices

def _kfold_indices(n, k, seed=0):
    order = np.random.default_rng(seed).permutation(n)
    parts = np.array_split(order, k)
    return [(np.concatenate(parts[:i] + parts[i + 1:]), parts[i]) for i in range(k)]


def _kfold_variant(size_of=None, overlap=False, shuffle=True, train_all=False, by_position=False):
    def kfold(n, k, seed=0):
        order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
        if size_of is not None:
            sizes = size_of(n, k)
            bounds = np.concatenate([[0], np.cumsum(sizes)])
            parts = [order[bounds[i]:bounds[i + 1]] for i in range(k)]
        elif overlap:
            size = -(-n // k)
            parts = [order[i * (n // k):i * (n // k) + size] for i in range(k)]
        else:
            parts = np.array_split(order, k)
        folds = []
        for i in range(k):
            train = order if train_all else np.delete(order, parts[i]) if by_position else np.setdiff1d(order, parts[i])
            folds.append((train, parts[i]))
        return folds
    return kfold


def _remainder_last(n, k):
    return [n // k] * (k - 1) + [n // k + n % k]


def _draw_folds(rng: np.random.Generator) -> Case:
    """A hidden case: k from 2 to 8 folds of n >= k samples (k > n would leave a fold empty)."""
    k = int(rng.integers(2, 9))
    return Case({"n": int(rng.integers(k, 60)), "k": k, "seed": int(rng.integers(0, 10_000))})


kfold_indices = FoldsExercise(
    name="kfold_indices",
    points=2,
    reference=_kfold_indices,
    cases=[
        Case({"n": 10, "k": 3, "seed": 0}, N_("10 = 4 + 3 + 3")),
        Case({"n": 12, "k": 4, "seed": 1}, N_("k divides n")),
        Case({"n": 23, "k": 5, "seed": 2}),
        Case({"n": 7, "k": 7, "seed": 3}, N_("leave-one-out")),
        Case({"n": 100, "k": 5, "seed": 4}),
        Case({"n": 9, "k": 3}, N_("seed left at its default, 0"))
    ],
    exempt={"bounds": "no threshold: the folds are checked by their properties"},
    draw=_draw_folds,
    hint_text=N_("""
        Shuffle once: order = np.random.default_rng(seed).permutation(n). Cut order into k parts
        whose sizes differ by at most one: np.array_split(order, k) gives the first n % k parts one
        extra index. Fold i validates on part i and trains on all the other parts
        (np.concatenate of the others). Return [(train_idx, val_idx), ...] for i = 0..k-1.
    """),
    mistakes=[
        Mistake(_kfold_variant(overlap=True),
                N_("Each part starts i * (n // k) but is ceil(n / k) long, so neighbouring parts share indices. "
                "Let np.array_split cut the parts.")),
        Mistake(_kfold_variant(by_position=True),
                N_("np.delete(perm, part) removes the entries at those *positions* of perm, not those values, so a "
                "fold trains on some of its own validation indices. Remove by value, np.setdiff1d(perm, part), or "
                "join the other parts.")),
        Mistake(_kfold_variant(size_of=lambda n, k: [n // k] * k),
                N_("Parts of n // k indices drop the last n % k samples: spread the remainder over the parts "
                "(np.array_split does it).")),
        Mistake(_kfold_variant(size_of=_remainder_last),
                N_("The last part got the whole remainder n % k: spread it, one extra index per part, so the "
                "folds stay balanced.")),
        Mistake(_kfold_variant(train_all=True),
                N_("Each fold trains on every index, its validation part included: the validation score would "
                "measure memory, not generalisation.")),
        Mistake(_kfold_variant(shuffle=False),
                N_("The indices were not shuffled, so the seed changes nothing and each validation part is one "
                "block of consecutive samples (a sorted dataset would validate on one class).")),
    ],
)


# --------------------------------------------------------------------------- cv_grid_search

class _ToyTraining:
    """A deterministic stand-in for train-and-validate: a U in log LR plus a fold-dependent offset."""

    def __init__(self, optimum: float, width: float, fold_effect: float, name: str):
        self.optimum, self.width, self.fold_effect, self.name = optimum, width, fold_effect, name

    def __call__(self, lr, train_idx, val_idx):
        val_idx, train_idx = np.asarray(val_idx), np.asarray(train_idx)
        u = (math.log10(lr) - math.log10(self.optimum)) / self.width
        # The offset depends on which samples are validated, and a little on the training set size,
        # so a swapped pair or a single fold gives different numbers.
        offset = self.fold_effect * math.sin(1.0 + float(val_idx.sum()) * 0.37 + 3.0 * math.log10(lr)) \
            + 1e-3 * len(train_idx)
        return 0.1 + u * u + offset

    def __repr__(self) -> str:
        return f"<{_(self.name)}>"


def _folds(n: int, k: int, seed: int) -> list:
    return _kfold_indices(n, k, seed)


def _cv_grid_search(train_and_validate, lrs, folds):
    means = np.array([np.mean([train_and_validate(lr, tr, va) for tr, va in folds]) for lr in lrs])
    return float(lrs[int(np.argmin(means))]), means


def _cv_index(train_and_validate, lrs, folds):
    means = _cv_grid_search(train_and_validate, lrs, folds)[1]
    return int(np.argmin(means)), means  # the position of the best LR, not the LR


def _cv_variant(pick=np.argmin, reduce=np.mean, swap=False, first_only=False, axis=None, best_single=False):
    def cv(train_and_validate, lrs, folds):
        used = folds[:1] if first_only else folds
        scores = np.array([[train_and_validate(lr, va, tr) if swap else train_and_validate(lr, tr, va)
                            for tr, va in used] for lr in lrs])
        if axis == 0:
            means = scores.mean(axis=0)
            return float(lrs[int(np.argmin(means))]), means
        means = reduce(scores, axis=1)
        if best_single:
            return float(lrs[int(np.unravel_index(np.argmin(scores), scores.shape)[0])]), means
        return float(lrs[int(pick(means))]), means
    return cv


def _compare_cv(actual: Any, expected: Any) -> str | None:
    if not isinstance(actual, tuple) or len(actual) != 2:
        return _("return a pair (best_lr, mean_scores)")
    problem = compare_close(actual[1], expected[1])
    if problem:
        return f"mean_scores: {problem}"  # i18n: a name and a translated problem
    if problem == "":
        return _("mean_scores differ")
    problem = compare_close(actual[0], expected[0])
    if problem is not None:
        return f"best_lr: {problem or _('a different LR')}"  # i18n: a name and a translated problem
    return None


cv_grid_search = CVExercise(
    name="cv_grid_search",
    points=2,
    reference=_cv_grid_search,
    cases=[
        Case({"train_and_validate": _ToyTraining(0.1, 1.0, 0.05, N_("toy U, best near lr=0.1")),
              "lrs": list(np.geomspace(1e-3, 10, 5)), "folds": _folds(12, 4, 0)}),
        Case({"train_and_validate": _ToyTraining(0.03, 2.0, 0.1, N_("a flat U and noisy folds")),
              "lrs": list(np.geomspace(1e-3, 1, 7)), "folds": _folds(20, 5, 0)},
             N_("one lucky fold is not the best mean")),
        Case({"train_and_validate": _ToyTraining(1.0, 0.8, 0.2, N_("toy U, best near lr=1")),
              "lrs": list(np.geomspace(1e-2, 30, 8)), "folds": _folds(17, 4, 2)}),
    ],
    exempt={"bounds": "an argmin over mean scores: no threshold"},
    hint_text=N_("""
        For each lr in lrs, call train_and_validate(lr, train_idx, val_idx) once per fold
        (for train_idx, val_idx in folds) and average those scores: that is mean_scores[i].
        The best LR has the *lowest* mean validation loss: lrs[np.argmin(mean_scores)].
        Return (best_lr, np.array(mean_scores)).
    """),
    compare=_compare_cv,
    mistakes=[
        Mistake(_cv_variant(pick=np.argmax),
                N_("best_lr is the LR with the *highest* mean loss; the scores are losses, lower is better.")),
        Mistake(_cv_variant(first_only=True),
                N_("Only the first fold was used: average over every fold.")),
        Mistake(_cv_variant(axis=0),
                N_("The scores were averaged over the LRs (one mean per fold); average over the folds, one mean per LR.")),
        Mistake(_cv_variant(swap=True),
                N_("train_idx and val_idx were swapped: the function takes (lr, train_idx, val_idx), and each "
                "fold is a (train_idx, val_idx) pair.")),
        Mistake(_cv_variant(best_single=True),
                N_("best_lr was taken from the single best fold score; choose by the mean over the folds, which "
                "one lucky fold cannot sway.")),
        Mistake(_cv_index,
                N_("best_lr is the position of the best LR in lrs; return the LR itself, "
                   "lrs[np.argmin(mean_scores)].")),
        Mistake(_cv_variant(reduce=np.median),
                N_("That is the median over the folds; cross-validation reports the mean.")),
    ],
)


# --------------------------------------------------------------------------- log_uniform


def _log_uniform(low, high, size, rng):
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


log_uniform = SamplerExercise(
    name="log_uniform",
    points=1,
    reference=_log_uniform,
    cases=[
        Case({"low": 1e-4, "high": 1.0, "size": 5, "rng": _Rng(0)}),
        Case({"low": 1e-3, "high": 10.0, "size": 8, "rng": _Rng(1)}),
        Case({"low": 0.05, "high": 0.2, "size": 3, "rng": _Rng(2)}, N_("less than a decade")),
        Case({"low": 1e-6, "high": 1e-2, "size": 200, "rng": _Rng(3)}, N_("many samples")),
    ],
    exempt={"bounds": "a sampler: no threshold is applied to the cases"},
    hint_text=N_("""
        A log-uniform sample is exp of a uniform sample on [log(low), log(high)):
        np.exp(rng.uniform(np.log(low), np.log(high), size)). Use the rng argument (not np.random),
        so the same seed gives the same samples.
    """),
    mistakes=[
        Mistake(lambda low, high, size, rng: rng.uniform(low, high, size),
                N_("These are uniform on [low, high]: nearly all of them fall in the top decade. Sample the "
                "logarithm uniformly.")),
        Mistake(lambda low, high, size, rng: rng.uniform(np.log(low), np.log(high), size),
                N_("You returned the logarithms of the samples; apply np.exp.")),
        Mistake(lambda low, high, size, rng: rng.lognormal(np.log(low), np.log(high), size),
                N_("rng.lognormal draws from a log-normal distribution (its logarithm is normal, its arguments a mean "
                "and a spread), not a log-uniform one: draw u = rng.uniform(np.log(low), np.log(high), size) and "
                "return np.exp(u).")),
        Mistake(lambda low, high, size, rng: np.exp(rng.uniform(low, high, size)),
                N_("The uniform draw must be between log(low) and log(high), not between low and high.")),
        Mistake(lambda low, high, size, rng: np.exp(rng.uniform(np.log10(low), np.log10(high), size)),
                N_("The draw is on base-10 bounds (np.log10) but mapped back with np.exp: use the same base both "
                "ways (np.exp with np.log, or 10 ** with np.log10).")),
        Mistake(lambda low, high, size, rng: 10 ** rng.uniform(np.log(low), np.log(high), size),
                N_("The draw is on natural-log bounds but raised as a power of 10: use the same base both ways "
                "(np.exp with np.log, or 10 ** with np.log10).")),
    ],
)


# --------------------------------------------------------------------------- smoothed_losses

def _smoothed_losses(losses, smooth_f=0.05, diverge_th=5.0):
    out, avg, best = [], 0.0, math.inf
    for t, loss in enumerate(losses, start=1):
        avg = (1 - smooth_f) * avg + smooth_f * loss
        smoothed = avg / (1 - (1 - smooth_f) ** t)
        out.append(smoothed)
        if not math.isfinite(smoothed):
            break
        best = min(best, smoothed)
        if smoothed > diverge_th * best:
            break
    return np.array(out)


def _smooth_variant(correct=True, swapped=False, start_at_first=False, stop=True, raw_stop=False,
                    keep_last=True, nan_stops=True, best_first=False, correction_base="1 - smooth_f",
                    at_bound=False, raw_best=False):
    def smooth(losses, smooth_f=0.05, diverge_th=5.0):
        out, avg, best, low = [], 0.0, math.inf, math.inf
        for t, loss in enumerate(losses, start=1):
            if start_at_first:
                smoothed = avg = loss if t == 1 else (1 - smooth_f) * avg + smooth_f * loss
            else:
                avg = smooth_f * avg + (1 - smooth_f) * loss if swapped else (1 - smooth_f) * avg + smooth_f * loss
                beta = smooth_f if (swapped or correction_base == "smooth_f") else 1 - smooth_f
                smoothed = avg / (1 - beta ** t) if correct else avg
            if nan_stops and not math.isfinite(smoothed):
                if keep_last:
                    out.append(smoothed)
                break
            best = smoothed if (best_first and t == 1) else (best if best_first else min(best, smoothed))
            if raw_best:  # the smallest raw loss so far instead
                low = min(low, loss)
                best = low
            watched = loss if raw_stop else smoothed
            if stop and (watched > diverge_th * best or (at_bound and watched >= diverge_th * best)):
                if keep_last:
                    out.append(smoothed)
                break
            out.append(smoothed)
        return np.array(out)
    return smooth


def _range_curve(num: int = 60, seed: int = 0) -> list:
    """A range-test-like loss: flat, a descent, a minimum, then a blow-up; noisy but seeded."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, num)
    base = 2.3 - 2.0 / (1 + np.exp(-(x - 0.4) * 14)) + 0.01 * np.exp(18 * (x - 0.5))
    return [round(float(v), 4) for v in base * (1 + 0.08 * rng.standard_normal(num))]


def _divergence_margins(losses, smooth_f=0.05, diverge_th=5.0):
    """smoothed - diverge_th * best at every step the reference takes."""
    out, avg, best = [], 0.0, math.inf
    for t, loss in enumerate(losses, start=1):
        avg = (1 - smooth_f) * avg + smooth_f * loss
        smoothed = avg / (1 - (1 - smooth_f) ** t)
        if not math.isfinite(smoothed):
            break
        best = min(best, smoothed)
        out.append(smoothed - diverge_th * best)
        if out[-1] > 0:
            break
    return out


def _compare_curve(actual: Any, expected: Any) -> str | None:
    """Names the first value that differs (or the first missing or extra one), not only the lengths."""
    try:
        mine = np.asarray(actual, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return _("expected an array of numbers, got {type}").format(type=type(actual).__name__)
    want = np.asarray(expected, dtype=np.float64)
    for i in range(min(mine.size, want.size)):
        if not np.isclose(mine[i], want[i], rtol=1e-9, atol=1e-12, equal_nan=True):
            a, e = fmt_pair(mine[i], want[i])
            return _("the first value that differs is at step {step}: yours {actual}, expected {expected}").format(
                step=i + 1, actual=a, expected=e)
    if mine.size < want.size:
        return _("your {count} values are right, then yours stop; expected {expected} values, the next one {next}").format(
            count=mine.size, expected=want.size, next=fmt(want[mine.size]))
    if mine.size > want.size:
        return _("your first {count} values are right, but the test should stop there: you go on with {next}").format(
            count=want.size, next=fmt(mine[want.size]))
    return None


smoothed_losses = Exercise(
    name="smoothed_losses",
    points=2,
    reference=_smoothed_losses,
    cases=[
        Case({"losses": _range_curve(80, 0), "smooth_f": 0.05, "diverge_th": 5.0}, N_("a range test that diverges")),
        Case({"losses": [2.0, 1.8, 1.5, 1.2, 1.0, 0.9], "smooth_f": 0.3, "diverge_th": 4.0}, N_("no divergence")),
        Case({"losses": [1.0, 0.9, 0.2, 0.85, 0.8, 3.0, 0.7, 0.6], "smooth_f": 0.2, "diverge_th": 3.0},
             N_("one raw spike is not a divergence")),
        Case({"losses": [1.0, 0.8, 0.6, 0.5, 0.4, 6.0, 9.0, 15.0, 30.0], "smooth_f": 0.3, "diverge_th": 2.0},
             N_("a fast blow-up")),
        Case({"losses": [1.0, 0.9, 0.8, math.nan, 0.7, 0.6], "smooth_f": 0.1, "diverge_th": 5.0},
             N_("a NaN loss stops the test")),
        Case({"losses": [1.0, 1.0, 2.75, 1.0, 1.0, 3.0, 9.0, 9.0], "smooth_f": 0.5, "diverge_th": 2.0},
             N_("edge: step 3's smoothed loss is exactly 2.0 = diverge_th * best, which is not above it")),
        Case({"losses": _range_curve(60, 1)}, N_("smooth_f and diverge_th left at their defaults, 0.05 and 5"))
    ],
    compare=_compare_curve,
    bounds=(Bound("smoothed > diverge_th * best", lambda case: _divergence_margins(**case.kwargs)),),
    hint_text=N_("""
        Keep avg = 0 and best = inf. For step t = 1, 2, ...: avg = (1 - smooth_f) * avg + smooth_f * loss,
        smoothed = avg / (1 - (1 - smooth_f) ** t) (the bias correction: avg starts at 0), append it.
        Stop after appending if smoothed is not finite (math.isfinite) or, with
        best = min(best, smoothed), if smoothed > diverge_th * best.
    """),
    mistakes=[
        Mistake(_smooth_variant(correct=False),
                N_("No bias correction: avg starts at 0, so the first values are about smooth_f times the loss. "
                "Divide by 1 - (1 - smooth_f) ** t.")),
        Mistake(_smooth_variant(swapped=True),
                N_("The weights are swapped: the *new* loss gets weight smooth_f, the running average 1 - smooth_f.")),
        Mistake(_smooth_variant(start_at_first=True),
                N_("The average starts at the first loss, without bias correction (torch-lr-finder's variant); "
                "here it starts at 0 and is corrected by 1 - (1 - smooth_f) ** t, as fastai and Adam do.")),
        Mistake(_smooth_variant(stop=False),
                N_("It never stops: once the smoothed loss exceeds diverge_th times the best so far, return.")),
        Mistake(_smooth_variant(raw_stop=True),
                N_("The stop compared the raw loss with the threshold; compare the smoothed loss, so one noisy "
                "batch does not end the test.")),
        Mistake(_smooth_variant(keep_last=False),
                N_("The value that diverged is missing: append it, then stop.")),
        Mistake(_smooth_variant(raw_best=True),
                N_("Your divergence test compares the smoothed loss with the smallest *raw* loss, which noise pulls "
                "below the smoothed curve, so the test fires too early: compare it with the best smoothed value.")),
        Mistake(_smooth_variant(nan_stops=False),
                N_("A NaN never compares greater than anything, so the NaN did not stop the test: check "
                "math.isfinite(smoothed).")),
        Mistake(_smooth_variant(best_first=True),
                N_("best stayed at the first smoothed value; it is the minimum of the smoothed losses so far.")),
        Mistake(_smooth_variant(correction_base="smooth_f"),
                N_("The bias correction divides by 1 - (1 - smooth_f) ** t, not 1 - smooth_f ** t: the old "
                "average keeps weight 1 - smooth_f each step, so (1 - smooth_f) ** t is what is left of the "
                "starting 0.")),
        Mistake(_smooth_variant(at_bound=True),
                N_("A smoothed loss exactly at diverge_th * best has not diverged: stop only when it is above it "
                "(smoothed > diverge_th * best).")),
    ],
)


# --------------------------------------------------------------------------- steepest_lr

def _steepest_lr(lrs, losses):
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    slopes = np.diff(losses) / np.diff(np.log(lrs))
    return float(lrs[int(np.argmin(slopes))])


def _steep_variant(x="log", pick=np.argmin, shift=0, gradient=False, minimum=False):
    def steep(lrs, losses):
        lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
        if minimum:
            return float(lrs[int(np.argmin(losses))])
        if gradient:
            return float(lrs[int(np.argmin(np.gradient(losses, np.log(lrs))))])
        dx = {"log": np.diff(np.log(lrs)), "lr": np.diff(lrs), "index": np.ones(len(lrs) - 1)}[x]
        return float(lrs[int(pick(np.diff(losses) / dx)) + shift])
    return steep


def _steep_cases() -> list:
    exp_lrs = [float(v) for v in np.geomspace(1e-4, 1.0, 9)]
    lin_lrs = [round(float(v), 3) for v in np.linspace(0.01, 1.0, 8)]
    return [
        Case({"lrs": exp_lrs, "losses": [2.3, 2.28, 2.2, 1.9, 1.2, 0.8, 0.6, 0.7, 1.4]}),
        Case({"lrs": lin_lrs, "losses": [2.0, 1.6, 1.35, 1.2, 1.1, 1.05, 1.02, 1.0]},
             N_("linear LR spacing: the slope is against log LR")),
        Case({"lrs": [1e-3, 2e-3, 1e-2, 2e-2, 1e-1, 3e-1], "losses": [1.0, 0.9, 0.7, 0.45, 0.4, 0.38]},
             N_("uneven spacing")),
        Case({"lrs": [0.01, 0.1, 1.0], "losses": [1.0, 0.5, 0.4]}, N_("two segments")),
        Case({"lrs": exp_lrs, "losses": [1.0, 1.0, 0.99, 0.9, 0.85, 0.5, 0.45, 0.5, 0.9]}),
    ]


steepest_lr = TableExercise(
    name="steepest_lr",
    points=2,
    reference=_steepest_lr,
    cases=_steep_cases(),
    exempt={"bounds": "an argmin over slopes: no threshold"},
    hint_text=N_("""
        The slope of segment i is (losses[i+1] - losses[i]) / (log(lrs[i+1]) - log(lrs[i])): the loss
        against log LR, as the plot shows it. np.diff gives both differences at once. The steepest
        descent is the most negative slope (np.argmin); return the LR at the segment's left end, lrs[i].
    """),
    mistakes=[
        Mistake(_steep_variant(x="lr"),
                N_("The slope was taken against the LR itself; take it against log(LR), the axis of the range-test "
                "plot.")),
        Mistake(_steep_variant(x="index"),
                N_("The slope was taken per step (np.diff(losses) alone); divide by the step in log(LR), which "
                "is not the same for every step here.")),
        Mistake(_steep_variant(shift=1),
                N_("That is the LR at the right end of the steepest segment; return its left end, lrs[i].")),
        Mistake(_steep_variant(pick=np.argmax),
                N_("That is the steepest *ascent*; the suggestion is where the loss falls fastest (most negative slope).")),
        Mistake(_steep_variant(minimum=True),
                N_("That is the LR of the lowest loss, not of the steepest descent.")),
        Mistake(_steep_variant(gradient=True),
                N_("np.gradient uses central differences (torch-lr-finder's way); this exercise asks for the "
                "forward difference of each segment, as fastai's steep does.")),
    ],
)


EXERCISES = [log_grid, kfold_indices, cv_grid_search, log_uniform, smoothed_losses, steepest_lr]
