"""Searching for a learning rate: grids, random and Bayesian search, the LR range test, vectorized sweeps.

Every search here evaluates *your* function: a train-and-validate function
that takes hyperparameters by name (``lr``, ``weight_decay``, ...) and returns
one validation score, lower is better (``mode="max"`` for an accuracy). With
``folds`` (from :func:`kfold`) it is called once per fold with the fold's
``train_idx`` and ``val_idx`` as well, and a trial's score is the mean over
the folds. Every search returns :class:`SearchResults`: one :class:`Trial`
per configuration, with the mean, the standard deviation and the per-fold
scores, and its wall time; it prints as a table and plots.

>>> log_grid(1e-3, 1.0, 4)
array([0.001, 0.01 , 0.1  , 1.   ])
>>> def quadratic(lr):                      # a stand-in for a real training run
...     return (math.log10(lr) + 1.5) ** 2
>>> results = grid_search(quadratic, log_grid(1e-3, 1.0, 7))
>>> results.best.params
{'lr': 0.03162277660168379}
>>> best = random_search(quadratic, (1e-3, 1.0), num_trials=5, seed=0).best
>>> round(best.lr, 4), round(best.mean, 4)
(0.0814, 0.1688)

The LR range test (Smith 2017; fastai's ``lr_find``, ``torch-lr-finder``)
trains once while the LR grows, and :func:`suggest_lr` reads a learning rate
off the loss curve; :func:`sweep` trains many LRs of one MLP in a single
batched computation. Nothing here imports torch or optuna until it is used.
"""
from __future__ import annotations

import copy
import itertools
import math
import numbers
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .i18n import gettext_ as _
from ._validation import as_float, choice_error, integer, non_negative, positive

__all__ = ["log_grid", "log_uniform", "kfold", "Trial", "SearchResults", "grid_search", "random_search",
           "bayes_search", "LossSmoother", "smooth_losses", "RangeTest", "lr_range_test", "suggest_lr",
           "SUGGESTIONS", "sweep"]


# --------------------------------------------------------------------------- grids, samplers, folds

def log_grid(low: float, high: float, num: int) -> np.ndarray:
    """``num`` learning rates from ``low`` to ``high`` (both included), evenly spaced on a log scale.

    Neighbours differ by the same *factor*, ``(high / low) ** (1 / (num - 1))``:
    a grid from 1e-4 to 1 with 5 points is 1e-4, 1e-3, ..., 1. The endpoints are exact.
    """
    low, high = positive("low", low), positive("high", high)
    if not low < high:
        raise ValueError(_("high must be > low, got low={low!r}, high={high!r}").format(low=low, high=high))
    num = integer("num", num, minimum=2)
    return np.geomspace(low, high, num)


def _rng(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and rng >= 0):
        return np.random.default_rng(rng)
    raise ValueError(_("rng must be a numpy Generator, a seed >= 0 or None, got {rng!r}").format(rng=rng))


def log_uniform(low: float, high: float, size: int | tuple | None = None, rng: Any = None) -> Any:
    """Samples whose logarithm is uniform on ``[log(low), log(high))``: as many per decade everywhere.

    ``rng`` is a ``numpy.random.Generator`` or a seed. The draw is
    ``exp(rng.uniform(log(low), log(high), size))``, so a seed gives the same
    samples as the exercise of notebook 05. ``size=None`` returns one float.
    """
    low, high = positive("low", low), positive("high", high)
    if not low < high:
        raise ValueError(_("high must be > low, got low={low!r}, high={high!r}").format(low=low, high=high))
    draws = np.exp(_rng(rng).uniform(math.log(low), math.log(high), size))
    return float(draws) if size is None else draws


def kfold(y: Any, k: int = 5, seed: int = 0, stratified: bool | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` shuffled folds: a list of ``(train_idx, val_idx)`` index arrays.

    ``y`` is the target array (or the number of samples). Every sample is in
    exactly one validation fold, and fold sizes differ by at most one. For
    class labels the folds are *stratified* by default (each keeps the class
    proportions of ``y``: with 10 digit classes and ~270 images per fold, a
    plain shuffle can leave one class 30 % short in a fold); pass
    ``stratified=False`` for a plain shuffled split, which an integer ``y``
    or float targets always get.

    This uses scikit-learn's ``StratifiedKFold`` / ``KFold`` (``shuffle=True,
    random_state=seed``) rather than a local version: it is the splitter the
    rest of the ecosystem uses, so folds here equal the folds of a
    scikit-learn pipeline with the same seed, and it stratifies. Notebook 05
    asks you to write the plain version yourself.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    k = integer("k", k, minimum=2)
    seed = integer("seed", seed, minimum=0)
    if isinstance(y, numbers.Integral) and not isinstance(y, bool):
        n, labels = integer("y", y, minimum=1), None
    else:
        labels = np.asarray(y)
        if labels.ndim != 1:
            raise ValueError(_("y must be a 1-D array of targets or a number of samples, got shape {shape}").format(
                shape=labels.shape))
        n = len(labels)
    if k > n:
        raise ValueError(_("k must be <= the number of samples ({n}), got {k}").format(n=n, k=k))
    is_classes = labels is not None and (labels.dtype.kind in "iub" or labels.dtype.kind in "OUS")
    if stratified is None:
        stratified = is_classes
    if stratified and not is_classes:
        raise ValueError(_("stratified=True needs class labels in y (integers or strings)"))
    if stratified:
        smallest = int(np.unique(labels, return_counts=True)[1].min())
        if smallest < k:
            raise ValueError(_("k must be <= the size of the smallest class ({smallest}) to stratify; pass "
                               "stratified=False or a smaller k").format(
                smallest=smallest))
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        return [(tr, va) for tr, va in splitter.split(np.zeros(n), labels)]
    return [(tr, va) for tr, va in KFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(n))]


# --------------------------------------------------------------------------- results

@dataclass
class Trial:
    """One evaluated configuration: its hyperparameters, per-fold scores and wall time."""

    number: int
    params: dict
    scores: tuple
    seconds: float

    @property
    def mean(self) -> float:
        """Mean score over the folds (inf or NaN when a fold diverged)."""
        with np.errstate(all="ignore"):  # two folds at 1e308 overflow to inf, silently
            return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        """Standard deviation over the folds (``ddof=0``, as scikit-learn's ``cv_results_``)."""
        with np.errstate(all="ignore"):  # a diverged fold (1e300, inf) gives inf or NaN, silently
            return float(np.std(self.scores)) if len(self.scores) > 1 else 0.0

    @property
    def lr(self) -> float | None:
        return self.params.get("lr")


def _cell(value: Any) -> str:
    """A hyperparameter value in a table cell: numbers to 4 significant digits, anything else as text."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"{value:.4g}"
    return str(value)


def _score(value: Any, where: str) -> float:
    """A score returned by the learner's function as a float (inf/NaN kept: the run diverged)."""
    if hasattr(value, "item") and not isinstance(value, numbers.Real):  # a 0-d array or a 1-element tensor
        try:
            value = value.item()
        except (ValueError, RuntimeError):
            pass
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(_("{where} must return one number (a validation score), got {type}: {value!r}").format(
            where=where, type=type(value).__name__, value=value))
    return float(value)


@dataclass
class SearchResults:
    """The trials of a search, in the order they ran; prints as a table, plots with :meth:`plot`.

    ``mode="min"`` means lower scores are better. A trial whose mean is not a
    finite number (a run that diverged) ranks last.
    """

    trials: list[Trial]
    mode: str = "min"
    method: str = "search"
    study: Any = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.trials)

    def __iter__(self):
        return iter(self.trials)

    def __getitem__(self, i: int) -> Trial:
        return self.trials[i]

    def _key(self, value: float) -> float:
        if not math.isfinite(value):
            return math.inf
        return value if self.mode == "min" else -value

    @property
    def best(self) -> Trial:
        """The trial with the best mean score (the first one on a tie)."""
        if not self.trials:
            raise ValueError(_("no trials: the search has not run any configuration"))
        return min(self.trials, key=lambda t: self._key(t.mean))

    @property
    def means(self) -> np.ndarray:
        return np.array([t.mean for t in self.trials])

    @property
    def stds(self) -> np.ndarray:
        return np.array([t.std for t in self.trials])

    def values(self, name: str = "lr") -> np.ndarray:
        """The values of hyperparameter ``name`` in trial order."""
        if self.trials and name not in self.trials[0].params:
            raise choice_error("name", name, self.trials[0].params)
        return np.array([t.params[name] for t in self.trials], dtype=float)

    def best_so_far(self) -> np.ndarray:
        """The best mean score after 1, 2, ... trials (inf until a trial gives a finite score)."""
        keys = np.minimum.accumulate([self._key(t.mean) for t in self.trials])
        return keys if self.mode == "min" else -keys

    @property
    def seconds(self) -> float:
        """Total wall time of the trials."""
        return float(sum(t.seconds for t in self.trials))

    def table(self, sort: bool = False, timings: bool = True, folds: bool = True) -> str:
        """The trials as a text table: parameters, mean ± std, per-fold scores and (last) seconds."""
        trials = sorted(self.trials, key=lambda t: self._key(t.mean)) if sort else self.trials
        names = list(self.trials[0].params) if self.trials else []
        num_folds = max((len(t.scores) for t in self.trials), default=0)
        cv = num_folds > 1
        # a column is as wide as its header in the course's language ("trung bình" for "mean"), at least as the numbers
        mean, std, score, wall = _("mean"), _("std"), _("score"), _("wall")
        fold_names = [_("fold {number}").format(number=i + 1) for i in range(num_folds)] if folds and cv else []
        w_mean, w_std = max(9, len(mean if cv else score)), max(8, len(std))
        w_fold, w_wall = max([8] + [len(f) for f in fold_names]), max(8, len(wall))
        head = [f"{'#':>3}"] + [f"{n:>12}" for n in names] + (
            [f"{mean:>{w_mean}}", f"{std:>{w_std}}"] if cv else [f"{score:>{w_mean}}"])
        head += [f"{f:>{w_fold}}" for f in fold_names]
        if timings:
            head.append(f"{wall:>{w_wall}}")
        best = self.best if self.trials else None
        lines = [" ".join(head)]
        for t in trials:
            row = [f"{t.number:3d}"] + [f"{_cell(t.params[n]):>12}" for n in names]
            row += [f"{t.mean:{w_mean}.4g}", f"{t.std:{w_std}.2g}"] if cv else [f"{t.mean:{w_mean}.4g}"]
            if fold_names:
                row += [f"{s:{w_fold}.4g}" for s in t.scores]
            if timings:
                row.append(f"{t.seconds:{w_wall - 2}.2f} s")
            lines.append(" ".join(row) + ("  " + _("<- best") if t is best and not timings else ""))
        return "\n".join(lines)

    def __str__(self) -> str:
        if not self.trials:
            return _("{method}: no trials").format(method=self.method)
        best = self.best
        params = ", ".join(f"{k}={_cell(v)}" for k, v in best.params.items())
        spread = f" ± {best.std:.2g}" if len(best.scores) > 1 else ""
        return _("{method}: {count} trials; best #{number}: {params}, score {score}").format(
            method=self.method, count=len(self.trials), number=best.number, params=params,
            score=f"{best.mean:.4g}{spread}") + f"\n{self.table()}"

    def __repr__(self) -> str:
        if not self.trials:
            return f"SearchResults({self.method!r}, no trials)"
        return f"SearchResults({self.method!r}: {len(self.trials)} trials, best score {self.best.mean:.4g})"

    @classmethod
    def from_study(cls, study: Any) -> "SearchResults":
        """Every finished trial of an Optuna study (e.g. run by several workers), in trial-number order."""
        import optuna

        mode = "min" if study.direction == optuna.study.StudyDirection.MINIMIZE else "max"
        trials = [Trial(t.number, dict(t.params), tuple(t.user_attrs.get("scores", [t.value])),
                        float(t.user_attrs.get("seconds", 0.0)))
                  for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
        return cls(sorted(trials, key=lambda t: t.number), mode, _("TPE (Optuna)"), study)

    def plot(self, ax=None, name: str = "lr", **kwargs):
        """Mean score ± std against hyperparameter ``name`` (log x): :func:`lrcourse.plotting.plot_search`."""
        from .plotting import plot_search

        return plot_search(self, ax=ax, name=name, **kwargs)


# --------------------------------------------------------------------------- grid, random, Bayesian

def _check_fn(fn: Any) -> Callable:
    if not callable(fn):
        raise ValueError(_("fn must be a function (hyperparameters -> validation score), got {fn!r}").format(fn=fn))
    return fn


def _check_folds(folds: Any) -> list | None:
    if folds is None:
        return None
    try:
        folds = [(np.asarray(tr), np.asarray(va)) for tr, va in folds]
    except (TypeError, ValueError):
        raise ValueError(_("folds must be a list of (train_idx, val_idx) pairs, as kfold() returns")) from None
    if not folds:
        raise ValueError(_("folds must hold at least one (train_idx, val_idx) pair"))
    return folds


def _check_mode(mode: str) -> str:
    if mode not in ("min", "max"):
        raise ValueError(_("mode must be 'min' or 'max', got {mode!r}").format(mode=mode))
    return mode


def _evaluate(fn: Callable, params: dict, folds: list | None, number: int) -> Trial:
    """Run ``fn`` on one configuration, once per fold, and time it."""
    name = getattr(fn, "__name__", "fn")
    start = time.perf_counter()
    if folds is None:
        scores: tuple = (_score(fn(**params), name),)
    else:
        scores = tuple(_score(fn(**params, train_idx=tr, val_idx=va), name) for tr, va in folds)
    return Trial(number, dict(params), scores, time.perf_counter() - start)


def _progress(iterable: Iterable, total: int, desc: str, progress: bool) -> Iterable:
    if not progress:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False)


def grid_search(fn: Callable, space: Any, folds: Any = None, mode: str = "min",
                progress: bool = False) -> SearchResults:
    """Evaluate ``fn`` on every point of a grid.

    ``space`` is a sequence of learning rates (``fn`` gets ``lr=``) or a dict
    ``{name: values}``, whose Cartesian product is tried, the last name
    varying fastest; values may be numbers or anything else ``fn`` accepts
    (an optimizer's name, say). With ``folds`` each point is cross-validated.
    """
    fn, folds, mode = _check_fn(fn), _check_folds(folds), _check_mode(mode)
    if not isinstance(space, dict):
        space = {"lr": space}
    grid = {}
    for name, values in space.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise ValueError(_("space[{name!r}] must be a sequence of values, got {values!r}").format(
                name=name, values=values))
        values = list(values)
        if not values:
            raise ValueError(_("space[{name!r}] must hold at least one value").format(name=name))
        grid[name] = [float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) else v for v in values]
    points = list(itertools.product(*grid.values()))
    trials = [_evaluate(fn, dict(zip(grid, p, strict=True)), folds, i)
              for i, p in enumerate(_progress(points, len(points), "grid search", progress))]
    return SearchResults(trials, mode, _("grid search"))


def _ranges(space: Any) -> dict[str, tuple[float, float, str]]:
    """``{name: (low, high, "log" | "linear")}`` from ``(low, high)`` or ``{name: (low, high[, scale])}``."""
    if not isinstance(space, dict):
        space = {"lr": space}
    ranges = {}
    for name, spec in space.items():
        if not isinstance(spec, (tuple, list)) or len(spec) not in (2, 3):
            raise ValueError(_("space[{name!r}] must be (low, high) or (low, high, 'log' | 'linear'), got "
                               "{spec!r}").format(
                name=name, spec=spec))
        scale = spec[2] if len(spec) == 3 else "log"
        if scale not in ("log", "linear"):
            raise ValueError(_("space[{name!r}]: the scale must be 'log' or 'linear', got {scale!r}").format(
                name=name, scale=scale))
        check = positive if scale == "log" else as_float
        low, high = check(f"space[{name!r}] low", spec[0]), check(f"space[{name!r}] high", spec[1])
        if not low < high:
            raise ValueError(_("space[{name!r}] must have low < high, got {spec!r}").format(name=name, spec=spec))
        ranges[name] = (low, high, scale)
    return ranges


def random_search(fn: Callable, space: Any, num_trials: int, seed: int = 0, folds: Any = None,
                  mode: str = "min", progress: bool = False) -> SearchResults:
    """Evaluate ``fn`` on ``num_trials`` random configurations (Bergstra & Bengio, 2012).

    ``space`` is ``(low, high)`` for the LR alone, or ``{name: (low, high)}``;
    a range is sampled log-uniformly unless it says ``(low, high, "linear")``.
    The draws come from ``numpy.random.default_rng(seed)``, one value per name
    per trial in the order of ``space``.
    """
    fn, folds, mode = _check_fn(fn), _check_folds(folds), _check_mode(mode)
    ranges = _ranges(space)
    num_trials = integer("num_trials", num_trials, minimum=1)
    rng = np.random.default_rng(integer("seed", seed, minimum=0))
    trials = []
    for i in _progress(range(num_trials), num_trials, "random search", progress):
        params = {name: log_uniform(low, high, rng=rng) if scale == "log" else float(rng.uniform(low, high))
                  for name, (low, high, scale) in ranges.items()}
        trials.append(_evaluate(fn, params, folds, i))
    return SearchResults(trials, mode, _("random search"))


def bayes_search(fn: Callable, space: Any, num_trials: int, seed: int | None = 0, folds: Any = None,
                 mode: str = "min", storage: str | None = None, study_name: str | None = None,
                 n_startup_trials: int = 10, progress: bool = False) -> SearchResults:
    """Bayesian search with Optuna's TPE sampler (Bergstra et al., 2011); ``space`` as in :func:`random_search`.

    The first ``n_startup_trials`` are random; from then on TPE models the
    good and the bad trials so far and proposes where good ones are likelier.
    By default the study lives in memory. With ``storage`` (an Optuna storage
    URL such as ``"sqlite:///lr.db"`` or a PostgreSQL URL) and ``study_name``,
    the study is created or loaded there, so several processes or machines
    can run ``bayes_search`` on the same study at once, each adding
    ``num_trials`` trials and seeing the others' results. Give each worker its
    own ``seed`` (or ``None``): equal seeds propose equal startup trials.

    Returns the trials this call ran; ``results.study`` is the Optuna study
    (``SearchResults.from_study(results.study)`` has every worker's trials).
    Non-finite scores (a diverged run) are told to Optuna as the worst value.
    """
    import optuna

    fn, folds, mode = _check_fn(fn), _check_folds(folds), _check_mode(mode)
    ranges = _ranges(space)
    num_trials = integer("num_trials", num_trials, minimum=1)
    n_startup_trials = integer("n_startup_trials", n_startup_trials, minimum=0)
    if seed is not None:
        seed = integer("seed", seed, minimum=0)
    if storage is not None and not isinstance(storage, str):
        raise ValueError(_("storage must be an Optuna storage URL (e.g. 'sqlite:///lr.db') or None, got "
                           "{storage!r}").format(
            storage=storage))
    if storage is not None and study_name is None:
        raise ValueError(_("study_name is needed with storage: every worker opens the study by its name"))
    worst = math.inf if mode == "min" else -math.inf
    ran: list[Trial] = []

    def objective(trial: Any) -> float:
        params = {name: trial.suggest_float(name, low, high, log=scale == "log")
                  for name, (low, high, scale) in ranges.items()}
        result = _evaluate(fn, params, folds, trial.number)
        trial.set_user_attr("scores", list(result.scores))
        trial.set_user_attr("seconds", result.seconds)
        ran.append(result)
        return result.mean if math.isfinite(result.mean) else worst

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no per-trial log lines on stderr
    try:
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials)
        study = optuna.create_study(storage=storage, study_name=study_name, sampler=sampler,
                                    direction="minimize" if mode == "min" else "maximize",
                                    load_if_exists=storage is not None)
        bar = _progress(range(num_trials), num_trials, "TPE", progress)
        callbacks = [lambda *_: bar.update(1)] if progress else None
        study.optimize(objective, n_trials=num_trials, callbacks=callbacks)
        if progress:
            bar.close()
    finally:
        optuna.logging.set_verbosity(verbosity)
    return SearchResults(ran, mode, _("TPE (Optuna)"), study)


# --------------------------------------------------------------------------- the LR range test

class LossSmoother:
    """The range test's running loss: a bias-corrected exponential moving average, and a divergence stop.

    ``update(loss)`` returns ``(smoothed, diverged)``. With ``beta = 1 - smooth_f``::

        avg_t      = beta * avg_{t-1} + smooth_f * loss_t      (avg_0 = 0)
        smoothed_t = avg_t / (1 - beta ** t)                    (bias correction, as Adam's)

    The average starts at 0, so without the correction the first values would
    be ``smooth_f`` times too small. It diverges when ``smoothed_t >
    diverge_th * min(smoothed_1..t)`` or a loss is not finite. This is fastai's
    rule (``beta=0.98``, threshold 4); ``torch-lr-finder`` uses
    ``smooth_f=0.05`` and 5, and starts its average at the first loss instead.
    Losses are assumed positive.
    """

    def __init__(self, smooth_f: float = 0.05, diverge_th: float = 5.0):
        self.smooth_f = positive("smooth_f", smooth_f)
        if self.smooth_f > 1:
            raise ValueError(_("smooth_f must be in (0, 1], got {smooth_f!r}").format(smooth_f=smooth_f))
        self.diverge_th = positive("diverge_th", diverge_th)
        if self.diverge_th <= 1:
            raise ValueError(_("diverge_th must be > 1, got {diverge_th!r}").format(diverge_th=diverge_th))
        self.avg, self.count, self.best = 0.0, 0, math.inf

    def update(self, loss: float) -> tuple[float, bool]:
        loss = float(loss)
        beta = 1.0 - self.smooth_f
        self.count += 1
        self.avg = beta * self.avg + self.smooth_f * loss
        smoothed = self.avg / (1.0 - beta ** self.count)
        if not math.isfinite(smoothed):
            return smoothed, True
        self.best = min(self.best, smoothed)
        return smoothed, smoothed > self.diverge_th * self.best


def smooth_losses(losses: Sequence[float], smooth_f: float = 0.05, diverge_th: float = 5.0) -> np.ndarray:
    """The smoothed losses of :class:`LossSmoother`, up to and including the first that diverges."""
    smoother, out = LossSmoother(smooth_f, diverge_th), []
    for loss in losses:
        smoothed, diverged = smoother.update(loss)
        out.append(smoothed)
        if diverged:
            break
    return np.array(out)


@dataclass
class RangeTest:
    """What :func:`lr_range_test` recorded: the LR and loss of every step, raw and smoothed."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    diverged: bool
    num_iter: int

    def suggest(self, method: str = "valley", skip_start: int | None = None, skip_end: int = 5) -> float:
        """:func:`suggest_lr` on the smoothed curve, without the first 10 % and the last 5 points (fastai)."""
        return suggest_lr(self.lrs, self.smoothed, method, skip_start=skip_start, skip_end=skip_end)

    def suggestions(self) -> dict[str, float]:
        """Every rule of :data:`SUGGESTIONS` on this curve."""
        return {m: self.suggest(m) for m in SUGGESTIONS}

    def plot(self, ax=None, **kwargs):
        """Loss against LR (log x), raw and smoothed, with the suggestions marked:
        :func:`lrcourse.plotting.plot_range_test`."""
        from .plotting import plot_range_test

        return plot_range_test(self, ax=ax, **kwargs)

    def __repr__(self) -> str:
        end = _("diverged") if self.diverged else _("did not diverge")
        return _("RangeTest({done} of {steps} steps, LR {first} to {last}, {end})").format(
            done=len(self.lrs), steps=self.num_iter, first=f"{self.lrs[0]:.3g}", last=f"{self.lrs[-1]:.3g}", end=end)


def _ramp(start_lr: float, end_lr: float, num_iter: int, step_mode: str) -> np.ndarray:
    if step_mode == "exp":
        return np.geomspace(start_lr, end_lr, num_iter)
    return np.linspace(start_lr, end_lr, num_iter)


def _cycle(batches: Iterable) -> Iterable:
    """Yield batches forever, starting the iterable again when it runs out."""
    while True:
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            raise ValueError(_("batches must yield at least one (inputs, targets) batch"))
        if iter(batches) is batches:
            raise ValueError(_("batches ran out before num_iter steps: pass a list or a DataLoader (something that "
                               "can be iterated again), not an iterator"))


def lr_range_test(model: Any, optimizer: Any, loss_fn: Callable, batches: Iterable, start_lr: float = 1e-7,
                  end_lr: float = 10.0, num_iter: int = 100, step_mode: str = "exp", smooth_f: float = 0.05,
                  diverge_th: float = 5.0) -> RangeTest:
    """Smith's LR range test: train ``num_iter`` steps while the LR grows, record the loss, put everything back.

    Step ``i`` trains one batch at ``lr_i``: from ``start_lr`` to ``end_lr``
    (both included), evenly spaced on a log scale (``step_mode="exp"``) or
    linearly (``"linear"``). Every parameter group of ``optimizer`` gets
    ``lr_i``. ``batches`` yields ``(inputs, targets)`` pairs (a list or a
    ``DataLoader``); it is iterated again when it runs out, and batches move
    to the model's device. The loss is smoothed by :class:`LossSmoother`, and
    the test stops early once the smoothed loss exceeds ``diverge_th`` times
    its minimum (or is not finite).

    Afterwards the model's ``state_dict`` (weights and buffers, e.g. batch-norm
    statistics), its train/eval mode and the optimizer's ``state_dict``
    (LRs, momentum buffers, step counts) are exactly as before, also when the
    test raises. torch's random number generator is not restored.
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise ValueError(_("model must be a torch.nn.Module, got {type}").format(type=type(model).__name__))
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(_("optimizer must be a torch.optim.Optimizer, got {type}").format(
            type=type(optimizer).__name__))
    if not callable(loss_fn):
        raise ValueError(_("loss_fn must be a function (outputs, targets) -> loss, got {loss_fn!r}").format(
            loss_fn=loss_fn))
    start_lr, end_lr = positive("start_lr", start_lr), positive("end_lr", end_lr)
    if not start_lr < end_lr:
        raise ValueError(_("end_lr must be > start_lr, got start_lr={start_lr!r}, end_lr={end_lr!r}").format(
            start_lr=start_lr, end_lr=end_lr))
    num_iter = integer("num_iter", num_iter, minimum=2)
    if step_mode not in ("exp", "linear"):
        raise ValueError(_("step_mode must be 'exp' or 'linear', got {step_mode!r}").format(step_mode=step_mode))
    smoother = LossSmoother(smooth_f, diverge_th)
    schedule = _ramp(start_lr, end_lr, num_iter, step_mode)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))

    model_state = copy.deepcopy(model.state_dict())
    optimizer_state = copy.deepcopy(optimizer.state_dict())
    was_training = model.training
    lrs, losses, smoothed, diverged = [], [], [], False
    try:
        model.train()
        stream = _cycle(batches)
        for lr in schedule:
            inputs, targets = next(stream)
            inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
            for group in optimizer.param_groups:
                group["lr"] = float(lr)
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            value = loss.item()
            smooth, diverged = smoother.update(value)
            lrs.append(float(lr))
            losses.append(value)
            smoothed.append(smooth)
            if diverged:
                break
    finally:
        model.load_state_dict(model_state)
        optimizer.load_state_dict(optimizer_state)
        optimizer.zero_grad()
        model.train(was_training)
    return RangeTest(np.array(lrs), np.array(losses), np.array(smoothed), diverged, num_iter)


def _steep(lrs: np.ndarray, losses: np.ndarray) -> int:
    slopes = np.diff(losses) / np.diff(np.log(lrs))
    return int(np.argmin(slopes))


def _minimum(lrs: np.ndarray, losses: np.ndarray) -> int:
    return int(np.argmin(losses))


def _valley(lrs: np.ndarray, losses: np.ndarray) -> int:
    n = len(losses)
    longest = [1] * n  # longest decreasing run (not necessarily contiguous) ending at i
    start = end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and longest[i] < longest[j] + 1:
                longest[i] = longest[j] + 1
            if longest[end] < longest[i]:
                end, start = i, i - longest[i]
    sections = (end - start) / 3
    return max(0, start + int(sections) + int(sections / 2))


#: The suggestion rules of :func:`suggest_lr`.
SUGGESTIONS = {"steep": _steep, "minimum": _minimum, "valley": _valley}


def suggest_lr(lrs: Sequence[float], losses: Sequence[float], method: str = "valley",
               skip_start: int | None = 0, skip_end: int = 0) -> float:
    """A learning rate read off a range test's (smoothed) loss curve.

    The first ``skip_start`` and last ``skip_end`` points are dropped first
    (``None``: 10 % of the points), then everything from the first NaN on.

    - ``"steep"``: the LR where the loss falls fastest against log LR, the
      left end of the steepest segment: ``argmin diff(loss) / diff(log lr)``.
      Source: fastai's ``steep``; ``torch-lr-finder`` uses ``np.gradient``.
      Fails on noise (one lucky batch makes the steepest segment; smooth
      first) and tends to be conservative: the loss often falls fastest
      early, well below the LR that trains best.
    - ``"minimum"``: the LR of the lowest loss, divided by 10. Source:
      fastai's ``minimum``, after Smith (2017) and Howard's "an order of
      magnitude before the minimum". Fails when the moving average lags: the
      smoothed minimum sits at a higher LR than the raw one, and the loss
      there may already be unstable; ÷10 is a rule of thumb, not a law.
    - ``"valley"``: fastai's default since 2.5 (from ESRI's arcgis.learn):
      the longest *valley* (longest decreasing subsequence of the loss) and
      the point about halfway down it: for a valley of ``L`` points that
      starts just after index ``s``, index ``s + int(L/3) + int(L/6)``, as
      fastai computes it (a third of the way plus half a third). Fails when the curve has no
      single valley (two descents, noise), and costs O(n²) in the points.
    """
    if method not in SUGGESTIONS:
        raise choice_error("method", method, SUGGESTIONS)
    lrs = np.asarray(lrs, dtype=float)
    losses = np.asarray(losses, dtype=float)
    if lrs.ndim != 1 or lrs.shape != losses.shape:
        raise ValueError(_("lrs and losses must be 1-D and of the same length, got shapes {shape} and {shape2}").format(
            shape=lrs.shape, shape2=losses.shape))
    if not (np.all(lrs > 0) and np.all(np.diff(lrs) > 0)):
        raise ValueError(_("lrs must be positive and increasing, as a range test records them"))
    skip_start = len(lrs) // 10 if skip_start is None else integer("skip_start", skip_start, minimum=0)
    skip_end = integer("skip_end", skip_end, minimum=0)
    lrs, losses = lrs[skip_start:len(lrs) - skip_end], losses[skip_start:len(losses) - skip_end]
    nan = np.flatnonzero(np.isnan(losses))
    if nan.size:
        lrs, losses = lrs[:nan[0]], losses[:nan[0]]
    if len(lrs) < 2:
        raise ValueError(_("too few points for a suggestion: {n_lrs} left after skipping {skip_start} + {skip_end} "
                           "and any NaN; run the range test longer").format(
            n_lrs=len(lrs), skip_start=skip_start, skip_end=skip_end))
    lr = float(lrs[SUGGESTIONS[method](lrs, losses)])
    return lr / 10 if method == "minimum" else lr


# --------------------------------------------------------------------------- the vectorized sweep

def _per_model(name: str, value: Any, k: int) -> np.ndarray:
    arr = np.broadcast_to(np.asarray(value, dtype=float), (k,)) if np.ndim(value) == 0 else np.asarray(value, float)
    if arr.shape != (k,):
        raise ValueError(_("{name} must be one number or one per learning rate ({k}), got shape {shape}").format(
            name=name, k=k, shape=arr.shape))
    for v in arr:
        non_negative(name, v)
    return arr


SWEEP_OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")  # lrcourse.stacked.RULES


def sweep(split: Any, lrs: Sequence[float], epochs: int, batch_size: int = 64, hidden: int = 64,
          momentum: float = 0.0, weight_decay: Any = 0.0, seed: int = 0, model_seed: int = 0,
          optimizer: str = "sgd", betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
          alpha: float = 0.99) -> list:
    """Train one MLP per learning rate, all ``K`` at once, and return their histories.

    Every model sees the same batch, so the first layer's ``K`` weight
    matrices are stacked into one and a single matrix product computes all of
    them; the output layers are stacked on a leading axis, ``(K, classes,
    hidden)``, for a batched product (``torch.baddbmm``). The loss is the *sum* of the
    ``K`` mean losses, so each model gets its own gradient, and the update
    multiplies by a tensor of the ``K`` learning rates (:class:`lrcourse.stacked.StackedOptimizer`,
    the update rules :func:`lrcourse.scale.width_sweep` shares). Each history equals, up to
    floating-point rounding, ``training.train(training.mlp(features,
    classes, hidden, model_seed), split, schedules.constant(lr), epochs,
    batch_size, momentum=momentum, weight_decay=wd, seed=seed)``: same
    initial weights, same batches, torch's SGD rule. ``weight_decay`` may
    be one value or one per LR. Classification splits only.

    ``optimizer="adam"`` or ``"adamw"`` uses torch's ``Adam`` (``weight_decay``
    added to the gradient, L2) or ``AdamW`` (the weights shrunk by
    ``lr * weight_decay`` each step) with ``betas`` and ``eps`` instead of SGD:
    each history then equals ``train`` with ``optimizer=lambda params, lr:
    torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, weight_decay=wd)``
    (or ``AdamW``). ``optimizer="rmsprop"`` is torch's ``RMSprop`` with
    ``alpha`` and ``eps`` (not centered, no momentum). ``momentum`` is SGD's alone.
    """
    import torch
    from torch.nn import functional as F

    from .optimizers import _beta, _betas
    from .stacked import StackedOptimizer, stack_linear
    from .training import History, mlp

    if getattr(split, "task", "classification") != "classification":
        raise ValueError(_("split must be a classification split: sweep trains classifiers"))
    lrs = np.asarray(lrs, dtype=float)
    if lrs.ndim != 1 or lrs.size == 0:
        raise ValueError(_("lrs must be a non-empty 1-D sequence of learning rates, got {lrs!r}").format(lrs=lrs))
    for lr in lrs:
        positive("lrs", lr)
    k = lrs.size
    epochs = integer("epochs", epochs, minimum=1)
    batch_size = integer("batch_size", batch_size, minimum=1)
    momentum = non_negative("momentum", momentum)
    decay = _per_model("weight_decay", weight_decay, k)
    seed = integer("seed", seed, minimum=0)
    if optimizer not in SWEEP_OPTIMIZERS:
        raise choice_error("optimizer", optimizer, SWEEP_OPTIMIZERS)
    if optimizer != "sgd" and momentum:
        raise ValueError(_("momentum is SGD's; {optimizer!r} takes betas (got momentum={momentum!r})").format(
            optimizer=optimizer, momentum=momentum))
    beta1, beta2 = _betas(betas)
    eps = positive("eps", eps)
    alpha = _beta("alpha", alpha)

    template = mlp(split.num_features, split.num_classes, hidden=hidden, seed=model_seed)
    layers = [m for m in template.modules() if isinstance(m, torch.nn.Linear)]
    lr_k = torch.as_tensor(lrs, dtype=torch.float64)
    wd_k = torch.tensor(decay, dtype=torch.float64)
    # The first layer sees the same batch in every model: its K weight matrices sit side by side,
    # (features, K * out), and one matrix product serves all models. Later layers are stacked,
    # (K, in, out), for a batched product. Each tensor has LR and weight-decay tensors that broadcast.
    first = layers[0]
    width = first.out_features
    # Activations are kept transposed, (model, units, batch). The first layer sees the same batch in
    # every model, so its K weight matrices (torch's (out, in) layout) are stacked into one
    # (K * out, in) matrix and one matrix product serves all models; later layers are stacked on a
    # leading model axis, (K, out, in), for a batched product. Each tensor has LR and weight-decay
    # tensors shaped to broadcast against it.
    params = [first.weight.detach().repeat(k, 1), first.bias.detach().repeat(k).view(-1, 1)]
    scale = [lr_k.repeat_interleave(width).view(-1, 1)] * 2
    decays = [wd_k.repeat_interleave(width).view(-1, 1)] * 2
    for layer in layers[1:]:
        params += stack_linear(layer, k)
        scale += [lr_k.view(k, 1, 1)] * 2
        decays += [wd_k.view(k, 1, 1)] * 2
    for p in params:
        p.requires_grad_()
    stepper = StackedOptimizer(params, scale, optimizer, decays if decay.any() else None, momentum=momentum,
                               betas=(beta1, beta2), eps=eps, alpha=alpha)

    def forward(xt: Any) -> Any:  # xt: (features, batch), the batch's rows as columns
        out = torch.addmm(params[1], params[0], xt).view(k, width, xt.shape[1])
        for i in range(2, len(params), 2):
            out = torch.baddbmm(params[i + 1], params[i], torch.relu(out))
        return out  # (K, classes, batch)

    def losses(x: Any, y: Any) -> Any:
        out = forward(x)
        return F.cross_entropy(out, y.expand(k, -1), reduction="none").mean(dim=1), out

    X = torch.as_tensor(split.X_train, dtype=torch.float64).t().contiguous()
    y = torch.as_tensor(split.y_train, dtype=torch.int64)
    X_val = torch.as_tensor(split.X_val, dtype=torch.float64).t().contiguous()
    y_val = torch.as_tensor(split.y_val, dtype=torch.int64)
    n = len(y)
    generator = torch.Generator().manual_seed(seed)
    step_losses, val_loss, val_acc = [], [], []
    for _epoch in range(epochs):
        order = torch.randperm(n, generator=generator)
        X_epoch, y_epoch = X[:, order], y[order]  # one gather per epoch; each batch is then a slice
        for start in range(0, n, batch_size):
            for p in params:
                p.grad = None
            loss, _outputs = losses(X_epoch[:, start:start + batch_size], y_epoch[start:start + batch_size])
            loss.sum().backward()
            with torch.no_grad():
                stepper.step([p.grad for p in params])
            step_losses.append(loss.detach())
        with torch.no_grad():
            loss, out = losses(X_val, y_val)
            val_loss.append(loss)
            val_acc.append((out.transpose(1, 2).contiguous().argmax(dim=2) == y_val).double().mean(dim=1))
    steps_per_epoch = -(-n // batch_size)
    train = torch.stack(step_losses, dim=1).numpy()  # (K, steps)
    val_loss_np = torch.stack(val_loss, dim=1).numpy()
    val_acc_np = torch.stack(val_acc, dim=1).numpy()
    with np.errstate(all="ignore"):  # a diverged model's losses may overflow the mean: inf, silently
        epoch_loss = train.reshape(k, epochs, steps_per_epoch).mean(axis=2)
    histories = []
    for j, lr in enumerate(lrs):
        steps = train[j].tolist()
        histories.append(History(
            label=f"lr={lr:.3g}", lrs=[float(lr)] * len(steps), train_loss=steps, epoch_loss=epoch_loss[j].tolist(),
            val_loss=val_loss_np[j].tolist(), val_accuracy=val_acc_np[j].tolist(), steps_per_epoch=steps_per_epoch))
    return histories
