"""Plots for the course, in one consistent style.

Every function draws on an ``ax`` you pass (or a new one), gives it a title,
axis labels and a legend, and returns the axes. Diverged runs are drawn up to
their last finite iterate and marked with an ``x``; nothing here warns about
overflow.

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from lrcourse import losses, descent, plotting
>>> f = losses.quadratic_1d(1.0)
>>> ax = plotting.plot_loss_curves([descent.run(f, [1.0], lr=0.5, num_steps=10)])
>>> ax.get_title()
'Loss against step'
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from ._validation import choice_error
from .i18n import N_, gettext_ as _

__all__ = [
    "COLORS",
    "use_style",
    "subplots",
    "plot_function_1d",
    "plot_iterates",
    "plot_contour",
    "plot_loss_curves",
    "plot_schedule",
    "plot_histories",
    "plot_plateau",
    "plot_search",
    "plot_trials_2d",
    "plot_best_so_far",
    "plot_range_test",
]

#: Okabe–Ito colour-blind-safe palette, used for every line in the course.
COLORS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

_STYLE = {
    "figure.figsize": (7.0, 4.0),
    "figure.dpi": 80,
    "savefig.dpi": 80,
    "figure.constrained_layout.use": True,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "lines.markersize": 4,
}


def use_style() -> None:
    """Apply the course's plot style (call once in a notebook's setup cell)."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update(_STYLE)
    mpl.rcParams["axes.prop_cycle"] = cycler(color=COLORS)


def subplots(ncols: int = 1, nrows: int = 1, width: float = 4.5, height: float = 3.6):
    """Like ``plt.subplots``, sized per panel: ``fig, (ax1, ax2) = subplots(ncols=2)``."""
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows))


def _ax(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def _label(traj) -> str:
    label = traj.label or _("run")
    if traj.diverged:
        label += _(" (diverged at step {step})").format(step=traj.num_steps + 1)
    return label


def _color(i: int) -> str:
    return COLORS[i % len(COLORS)]


def plot_function_1d(loss, trajectories: Sequence = (), ax=None, xlim=(-2.0, 2.0),
                     title: str | None = None):
    """Draw a 1-D loss curve and each trajectory's iterates on it, joined in order."""
    ax = _ax(ax)
    xs = np.linspace(*xlim, 400)
    ax.plot(xs, loss.value(xs[:, None]), color="0.35", lw=1.2, label=f"f(x) = {loss.name}")
    for i, traj in enumerate(trajectories):
        p = traj.points[:, 0]
        inside = (p >= xlim[0]) & (p <= xlim[1])
        ax.plot(p[inside], traj.losses[inside], "o-", color=_color(i), lw=0.8, ms=3, alpha=0.85,
                label=_label(traj))
    ax.set(xlim=xlim, xlabel="x", ylabel="f(x)", title=title or _("Gradient descent on {loss}").format(loss=loss.name))
    ax.legend(loc="upper center")
    return ax


def plot_iterates(trajectories: Sequence, ax=None, coordinate: int = 0, title: str | None = None,
                  ylim: tuple | None = None):
    """Draw ``x_t`` (one coordinate) against step ``t`` for each trajectory."""
    ax = _ax(ax)
    for i, traj in enumerate(trajectories):
        steps = np.arange(traj.num_steps + 1)
        ax.plot(steps, traj.points[:, coordinate], "o-", color=_color(i), ms=3, lw=1, label=_label(traj))
        if traj.diverged:
            ax.plot(steps[-1], traj.points[-1, coordinate], "x", color=_color(i), ms=9, mew=2)
    ax.axhline(0.0, color="0.5", lw=0.8, ls=":")
    ax.set(xlabel=_("step t"), ylabel="$x_t$", title=title or _("Iterates against step"))
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.legend()
    return ax


def plot_contour(loss, trajectories: Iterable = (), ax=None, xlim=(-1.5, 1.5), ylim=(-1.5, 1.5),
                 levels: int = 15, title: str | None = None, resolution: int = 160):
    """Contour lines of a 2-D loss (log-spaced levels) with trajectories on top."""
    ax = _ax(ax)
    xs = np.linspace(*xlim, resolution)
    ys = np.linspace(*ylim, resolution)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)
    z = loss.value(grid) - getattr(loss, "min_value", 0.0)
    positive = z[z > 0]
    lo, hi = (positive.min(), positive.max()) if positive.size else (1e-3, 1.0)
    lv = np.geomspace(max(lo, hi * 1e-6), hi, levels)
    ax.contour(xs, ys, np.maximum(z, lv[0] * 0.5), levels=lv, colors="0.6", linewidths=0.7)
    minimizer = getattr(loss, "minimizer", None)
    if minimizer is not None:
        ax.plot(*minimizer, "*", color="k", ms=11, label=_("minimum"), zorder=5)
    for i, traj in enumerate(trajectories):
        p = traj.points
        ax.plot(p[:, 0], p[:, 1], "o-", color=_color(i), ms=2.5, lw=1, label=_label(traj))
        if traj.diverged:
            ax.plot(p[-1, 0], p[-1, 1], "x", color=_color(i), ms=9, mew=2)
    ax.set(xlim=xlim, ylim=ylim, xlabel="$x_1$", ylabel="$x_2$", title=title or _("Contours of {loss}").format(loss=loss.name))
    ax.set_aspect("equal", adjustable="box")
    ax.legend(loc="upper right")
    return ax


def plot_loss_curves(trajectories: Sequence, ax=None, f_star: float = 0.0, logy: bool = True,
                     title: str | None = None, predicted: dict | None = None):
    """Loss minus ``f_star`` against step (log scale by default).

    ``predicted`` maps a label to an array of predicted values, drawn dashed
    (e.g. ``{"predicted rate": f0 * rate ** (2 * t)}``).
    """
    ax = _ax(ax)
    for i, traj in enumerate(trajectories):
        gap = traj.losses - f_star
        steps = np.arange(len(gap))
        keep = gap > 0 if logy else np.ones_like(gap, dtype=bool)
        ax.plot(steps[keep], gap[keep], color=_color(i), label=_label(traj))
        if traj.diverged and keep[-1]:
            ax.plot(steps[-1], gap[-1], "x", color=_color(i), ms=9, mew=2)
    for j, (label, values) in enumerate((predicted or {}).items()):
        values = np.asarray(values, dtype=float)
        steps = np.arange(len(values))
        keep = values > 0 if logy else np.ones_like(values, dtype=bool)
        ax.plot(steps[keep], values[keep], "--", color="k", lw=1, alpha=0.7 - 0.2 * j, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=_("step t"), ylabel="$f(x_t) - f^*$" if f_star is not None else _("loss"),
           title=title or _("Loss against step"))
    ax.legend()
    return ax


def _schedule_label(schedule) -> str:
    return getattr(schedule, "__name__", None) or "schedule"


def plot_schedule(schedules, num_steps: int, ax=None, logy: bool = False, title: str | None = None,
                  xlabel: str = N_("step t")):
    """The LR against step of one schedule, a list of them, or a ``{label: schedule}`` dict.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from lrcourse import schedules
    >>> ax = plot_schedule({"cosine": schedules.cosine(0.1, 100)}, num_steps=101)
    >>> bool(ax.get_lines()[0].get_ydata()[-1] < 1e-12)
    True
    """
    from .schedules import evaluate

    if callable(schedules):
        schedules = [schedules]
    if not isinstance(schedules, dict):
        schedules = {_schedule_label(s): s for s in schedules}
    ax = _ax(ax)
    steps = np.arange(num_steps)
    for i, (label, schedule) in enumerate(schedules.items()):
        ax.plot(steps, evaluate(schedule, num_steps), color=_color(i), label=label)
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=_(xlabel), ylabel=_("learning rate $\\eta_t$"), title=title or _("Learning rate against step"))
    if len(schedules) > 1:
        ax.legend()
    return ax


def plot_histories(histories: Sequence, ax=None, metric: str = "epoch_loss", logy: bool = True,
                   title: str | None = None):
    """One curve per training run (:class:`lrcourse.training.History`) of a per-epoch ``metric``.

    ``metric`` is ``"epoch_loss"`` (mean training loss of each epoch),
    ``"val_loss"``, ``"val_accuracy"`` or ``"val_r2"``. Runs whose loss became inf/NaN end
    with an ``x`` at their last finite value.
    """
    names = {"epoch_loss": N_("training loss (epoch mean)"), "val_loss": N_("validation loss"),
             "val_accuracy": N_("validation accuracy"), "val_r2": N_("validation R²")}
    if metric not in names:
        raise choice_error("metric", metric, names)
    ax = _ax(ax)
    for i, history in enumerate(histories):
        values = np.asarray(getattr(history, metric), dtype=float)
        epochs = np.arange(1, len(values) + 1)
        keep = np.isfinite(values) & ((values > 0) if logy else True)
        ax.plot(epochs[keep], values[keep], color=_color(i), label=history.label)
        if not keep.all() and keep.any():
            last = np.flatnonzero(keep)[-1]
            ax.plot(epochs[last], values[last], "x", color=_color(i), ms=9, mew=2)
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=_("epoch"), ylabel=_(names[metric]), title=title or _(names[metric]).capitalize())
    ax.legend()
    return ax


def plot_plateau(scheduler, ax=None, title: str | None = None, metric_label: str = N_("validation loss")):
    """A plateau rule's run on one figure: the metric, the best so far, the cuts and (right axis) the LR.

    ``scheduler`` is a :mod:`lrcourse.plateau` rule after its steps. Epoch
    ``e`` shows the ``e``-th metric and the LR used *during* that epoch; a
    dotted line marks each epoch whose metric triggered a cut. Returns
    ``(ax, ax_lr)``.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from lrcourse import plateau
    >>> sched = plateau.ReduceLROnPlateau(0.1, patience=1).run([1.0, 0.9, 0.95, 0.96, 0.97])
    >>> ax, ax_lr = plot_plateau(sched)
    >>> [round(x) for x in ax_lr.get_lines()[0].get_ydata()[-2:] * 100]
    [10, 1]
    """
    ax = _ax(ax)
    metrics = np.asarray(scheduler.metrics, dtype=float)
    epochs = np.arange(1, len(metrics) + 1)
    ax.plot(epochs, metrics, "o-", color=COLORS[0], ms=3, label=metric_label)
    ax.plot(epochs, scheduler.bests, "--", color=COLORS[2], label=_("best so far"))
    for i, cut in enumerate(scheduler.cuts):
        ax.axvline(cut, color=COLORS[3], ls=":", lw=1.2, label=_("cut (end of epoch)") if i == 0 else None)
    ax.set(xlabel=_("epoch"), ylabel=_(metric_label), title=title or _("Reduce on plateau"))
    ax_lr = ax.twinx()
    ax_lr.step(epochs, scheduler.lrs[:len(metrics)], where="mid", color=COLORS[1], label=_("LR in the epoch"))
    ax_lr.set_yscale("log")
    ax_lr.set_ylabel(_("learning rate"))
    ax_lr.grid(False)
    ax_lr.spines["right"].set_visible(True)
    handles = ax.get_legend_handles_labels()
    more = ax_lr.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], loc="upper right")
    return ax, ax_lr


def _diverged_cap(means: np.ndarray, mode: str) -> float:
    """The y value above which a mean counts as diverged on a plot: 100x the best finite mean (min mode)."""
    finite = means[np.isfinite(means)]
    if mode != "min" or finite.size == 0 or finite.min() <= 0:
        return np.inf
    return 100.0 * float(finite.min())


def plot_search(results, ax=None, name: str = "lr", label: str | None = None, color: str | None = None,
                logy: bool = True, title: str | None = None):
    """Mean score ± standard deviation (error bars over the folds) against one hyperparameter, log x.

    ``results`` is a :class:`lrcourse.search.SearchResults`. The best trial is
    ringed. A trial whose mean is not finite or is more than 100x the best
    (a run that diverged) is drawn as an ``x`` on the top edge. Grid results
    are joined by a line, others are points. The y axis is logarithmic unless
    ``logy=False`` (an error bar that would reach below zero is cut there).

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from lrcourse import search
    >>> results = search.grid_search(lambda lr: (np.log10(lr) + 1) ** 2 + 0.1, search.log_grid(1e-3, 1, 4))
    >>> ax = plot_search(results)
    >>> ax.get_xscale(), ax.get_title()
    ('log', 'Grid search')
    """
    ax = _ax(ax)
    x = results.values(name)
    means, stds = results.means, results.stds
    order = np.argsort(x, kind="stable")
    x, means, stds = x[order], means[order], stds[order]
    cap = _diverged_cap(means, results.mode)
    ok = np.isfinite(means) & (means <= cap)
    color = color or COLORS[0]
    label = label or results.method
    style = "o-" if results.method in ("grid search", _("grid search")) else "o"
    ax.errorbar(x[ok], means[ok], yerr=stds[ok], fmt=style, color=color, ms=4, capsize=3, label=label)
    best = results.best
    if math.isfinite(best.mean):
        ax.plot(best.params[name], best.mean, "o", ms=12, mfc="none", mec=color, mew=1.5,
                label=_("best: {name}={value}").format(name=name, value=f"{best.params[name]:.3g}"))
    if not ok.all():
        top = float(np.max(means[ok] + stds[ok])) * 1.15 if ok.any() else 1.0
        ax.plot(x[~ok], np.full((~ok).sum(), top), "x", color=COLORS[3], ms=8, mew=2, label=_("diverged"))
    ax.set_xscale("log")
    if logy:
        _log_y(ax)
    what = _("validation score") if results.mode == "max" else _("validation loss")
    ax.set(xlabel=name, ylabel=what + (_(" (mean ± std over folds)") if len(best.scores) > 1 else ""),
           title=title or results.method.capitalize())
    ax.legend()
    return ax


def plot_trials_2d(results, x: str = "lr", y: str = "weight_decay", ax=None, title: str | None = None,
                   projection: bool = True):
    """Where a search's trials fell in a 2-D space (log-log), coloured by score (darker is better).

    With ``projection``, each trial's ``x`` value is also drawn as a tick on
    the bottom edge (the title counts them): the distinct values of the hyperparameter that matters
    are what a search really explores (Bergstra & Bengio, 2012). The best
    trial is ringed.
    """
    ax = _ax(ax)
    xs, ys = results.values(x), results.values(y)
    means = results.means
    cap = _diverged_cap(means, results.mode)
    shown = np.where(np.isfinite(means) & (means <= cap), means, np.nan)
    finite = shown[np.isfinite(shown)]
    # a diverged trial (NaN in shown) has no rank: searchsorted would put it past the last, off the colour scale
    rank = np.where(np.isfinite(shown), np.searchsorted(np.sort(finite), shown) / max(len(finite) - 1, 1), np.nan)
    if results.mode == "max":
        rank = 1 - rank
    colors = [(0.6, 0.6, 0.6) if not np.isfinite(r) else _shade(r) for r in rank]
    ax.scatter(xs, ys, c=colors, s=36, edgecolors="k", linewidths=0.4, zorder=3)
    best = results.best
    ax.plot(best.params[x], best.params[y], "o", ms=14, mfc="none", mec=COLORS[3], mew=1.5, zorder=4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    distinct = _(", {count} distinct {name} values").format(count=len(np.unique(xs)), name=x)
    if projection:
        for value in xs:
            ax.axvline(value, ymin=0, ymax=0.05, color=COLORS[0], lw=1.2)
    ax.set(xlabel=x, ylabel=y, title=title or _("{method}: {count} trials{distinct}").format(
        method=_(results.method).capitalize(), count=len(results), distinct=distinct))
    return ax


def _log_y(ax) -> None:
    """A log y axis labelled with plain numbers (0.2, 0.5, 1), not powers of ten."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _shade(r: float):
    """Dark blue for the best trials (r = 0) to pale for the worst (r = 1)."""
    base, pale = np.array([0.0, 0.2, 0.45]), np.array([0.8, 0.88, 0.95])
    return tuple(base + (pale - base) * float(r))


def plot_best_so_far(results_list: Sequence, ax=None, logy: bool = True, title: str | None = None):
    """The best score found after 1, 2, ... trials, one line per search (``{label: results}`` or a list)."""
    ax = _ax(ax)
    items = results_list.items() if isinstance(results_list, dict) else [(r.method, r) for r in results_list]
    for i, (label, results) in enumerate(items):
        best = results.best_so_far()
        trials = np.arange(1, len(best) + 1)
        keep = np.isfinite(best)
        ax.step(trials[keep], best[keep], where="post", color=_color(i), label=label, lw=2)
    if logy:
        _log_y(ax)
    ax.set(xlabel=_("trials"), ylabel=_("best validation loss so far"), title=title or _("Best found against trials"))
    ax.legend()
    return ax


def plot_range_test(test, ax=None, suggestions: Sequence[str] | None = ("steep", "minimum", "valley"),
                    title: str | None = None, skip_start: int | None = None, skip_end: int = 5):
    """An LR range test (:class:`lrcourse.search.RangeTest`): raw and smoothed loss against LR (log x).

    Each rule in ``suggestions`` is marked on the smoothed curve at the LR it
    suggests (see :func:`lrcourse.search.suggest_lr`). The y axis stops a
    little above the start of the curve, so the divergence at the end does
    not squash the rest.
    """
    ax = _ax(ax)
    lrs, raw, smooth = test.lrs, test.losses, test.smoothed
    ax.plot(lrs, raw, color=COLORS[0], alpha=0.3, lw=1, label=_("loss (raw)"))
    ax.plot(lrs, smooth, color=COLORS[0], lw=2, label=_("loss (smoothed)"))
    markers = {"steep": "v", "minimum": "s", "valley": "o"}
    for i, method in enumerate(suggestions or ()):
        lr = test.suggest(method, skip_start=skip_start, skip_end=skip_end)
        y = float(np.interp(np.log(lr), np.log(lrs), smooth))
        ax.plot(lr, y, markers.get(method, "D"), color=_color(i + 1), ms=9, zorder=4,
                label=f"{method}: {lr:.3g}")
    finite = smooth[np.isfinite(smooth)]
    if finite.size:
        low, high = float(finite.min()), float(np.max(finite[: max(1, int(np.argmin(finite)) + 1)]))
        ax.set_ylim(low - 0.05 * (high - low), high + 0.35 * (high - low))
    ax.set_xscale("log")
    ax.set(xlabel=_("learning rate"), ylabel=_("training loss"), title=title or _("LR range test"))
    ax.legend()
    return ax
