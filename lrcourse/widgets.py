"""Interactive explorers (ipywidgets) for the notebooks.

:class:`LRExplorer` puts a log-scale learning-rate slider and a
condition-number slider over gradient descent on a 2-D ill-conditioned
quadratic: moving either redraws the trajectory on the contour plot and the
loss curve. The figure is rendered to PNG and shown in an ``Image`` widget, so it
works the same in JupyterLab, Notebook 7 and headless execution with any
matplotlib backend (no ``ipympl`` needed, and no ``Output`` widget, whose
captured outputs nbval cannot route).

>>> import matplotlib
>>> matplotlib.use("Agg")
>>> explorer = LRExplorer(lr=0.1, kappa=10)
>>> explorer.lr_slider.value = 0.15
>>> explorer.trajectory.label
'lr=0.15'

:class:`ScheduleExplorer` draws any schedule of :mod:`lrcourse.schedules`
and shows only the sliders that schedule uses.

:class:`OptimizerExplorer` runs any optimizer of :mod:`lrcourse.optimizers` on
Rosenbrock's banana, with a dropdown for the optimizer and a log-scale LR slider.

>>> ox = OptimizerExplorer("Adam", lr=0.05)
>>> ox.optimizer_menu.value = "RMSprop"   # starts from an LR that suits RMSprop
>>> ox.optimizer
RMSprop(lr=0.01, alpha=0.99, eps=1e-08, weight_decay=0.0, momentum=0.0, centered=False)

:class:`HorizonExplorer` moves the end of a run: the cosine schedule changes from its first step,
the warmup-stable-decay (WSD) schedule only in its last ``decay_fraction``.

>>> hx = HorizonExplorer(max_steps=1000)
>>> hx.horizon_slider.value = 500
>>> hx.shared_steps        # steps 0..400 (the decay's first step still has lr) as in every longer run
401

:class:`PlateauExplorer` replays a recorded loss curve through the plateau rule
with sliders for ``patience``, ``factor`` and ``threshold``, showing where the
LR would be cut.

>>> px = PlateauExplorer([1.0, 0.8, 0.7, 0.71, 0.72, 0.705, 0.71, 0.72], patience=2)
>>> px.scheduler.cuts
[6]
>>> px.patience_slider.value = 1
>>> px.scheduler.cuts
[5, 7]

>>> sx = ScheduleExplorer("cosine")
>>> sx.kind.value = "one_cycle"
>>> sx.schedule.__name__
'one_cycle'
"""
from __future__ import annotations

import numpy as np

from . import descent, losses, optimizers, plateau, plotting, schedules
from ._validation import choice_error
from .i18n import N_, gettext_ as _

__all__ = ["LRExplorer", "ScheduleExplorer", "OptimizerExplorer", "PlateauExplorer", "HorizonExplorer",
           "ROSENBROCK_SETUPS"]


class _PNGFigure:
    """A bare matplotlib Figure shown as a PNG in an ``ipywidgets.Image``."""

    def _show(self) -> None:
        import io

        buffer = io.BytesIO()
        self.fig.savefig(buffer, format="png")
        self.image.value = buffer.getvalue()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


class LRExplorer(_PNGFigure):
    """GD on ``ill_conditioned(kappa)`` from ``x0``, redrawn whenever a slider moves.

    Attributes a test (or a curious learner) can read: ``lr_slider``,
    ``kappa_slider``, ``trajectory`` (the current run), ``path_line`` and
    ``loss_line`` (the drawn artists), ``fig`` and ``widget`` (what to display).
    """

    def __init__(self, lr: float = 0.1, kappa: float = 10.0, x0=(1.0, 1.0), num_steps: int = 60,
                 angle: float = 0.5):
        import ipywidgets as w
        from matplotlib.figure import Figure

        self.x0 = np.asarray(x0, dtype=float)
        self.num_steps = num_steps
        self.angle = angle
        self.lr_slider = w.FloatLogSlider(value=lr, base=10, min=-3, max=0.5, step=0.01,
                                          description="lr η", readout_format=".3g",
                                          continuous_update=False)
        self.kappa_slider = w.FloatLogSlider(value=kappa, base=10, min=0, max=2, step=0.05,
                                             description="κ", readout_format=".3g",
                                             continuous_update=False)
        self.status = w.HTML()
        self.image = w.Image(format="png")

        # A bare Figure (not pyplot) so the inline backend does not also show it at cell end.
        self.fig = Figure(figsize=(9.0, 3.8), dpi=80, layout="constrained")
        self.ax_contour, self.ax_loss = self.fig.subplots(1, 2)
        self.path_line = None
        self.loss_line = None
        self.redraws = 0
        self._update()
        self.lr_slider.observe(self._on_change, names="value")
        self.kappa_slider.observe(self._on_change, names="value")
        self.widget = w.VBox([w.HBox([self.lr_slider, self.kappa_slider]), self.status, self.image])

    def _on_change(self, change) -> None:
        self._update()

    def _update(self) -> None:
        lr, kappa = float(self.lr_slider.value), float(self.kappa_slider.value)
        loss = losses.ill_conditioned(kappa, angle=self.angle)
        self.loss = loss
        self.trajectory = descent.run(loss, self.x0, lr, self.num_steps, label=f"lr={lr:.3g}")
        eta_max = descent.max_stable_lr(loss)
        eta_opt, rate = descent.optimal_lr(loss)

        for ax in (self.ax_contour, self.ax_loss):
            ax.clear()
        plotting.plot_contour(loss, [self.trajectory], ax=self.ax_contour, xlim=(-1.6, 1.6),
                              ylim=(-1.6, 1.6), title=_("Trajectory, κ = {kappa}").format(kappa=f"{kappa:.3g}"))
        plotting.plot_loss_curves([self.trajectory], ax=self.ax_loss, title=_("Loss against step"),
                                  predicted={_("best rate (κ-1)/(κ+1)"):
                                             self.trajectory.losses[0] * rate ** (2 * np.arange(self.num_steps + 1))})
        self.path_line = self.ax_contour.get_lines()[1]
        self.loss_line = self.ax_loss.get_lines()[0]
        verdict = _("diverged") if self.trajectory.diverged else _("final loss {loss}").format(
            loss=f"{self.trajectory.final_loss:.3g}")
        self.status.value = (f"lr = {lr:.3g} &nbsp; | &nbsp; 2/L = {eta_max:.3g} &nbsp; | &nbsp; "
                             + _("best 2/(L+μ) = {lr}").format(lr=f"{eta_opt:.3g}") + f" &nbsp; | &nbsp; {verdict}")
        self.redraws += 1
        self._show()


class ScheduleExplorer(_PNGFigure):
    """Pick a schedule and move its parameters; the LR curve (and its code) update live.

    ``kind`` is a dropdown of :data:`KINDS`; the sliders a kind does not use
    are hidden. Readable state: ``schedule`` (the current function),
    ``values`` (its LRs over ``total_steps``), ``line``, ``code`` (an HTML
    widget with the call that builds it), ``redraws``.
    """

    #: The schedules offered, and the sliders each one uses.
    KINDS = {
        "constant": ("lr",),
        "step_decay": ("lr", "step_size", "gamma"),
        "exponential": ("lr", "gamma"),
        "polynomial": ("lr", "power"),
        "cosine": ("lr", "min_lr"),
        "linear_warmup": ("lr", "warmup_steps", "start_factor"),
        "warmup_cosine": ("lr", "warmup_steps", "start_factor", "min_lr"),
        "cosine_restarts": ("lr", "step_size", "cycle_mult", "min_lr"),
        "cyclic": ("lr", "step_size", "mode", "gamma"),
        "one_cycle": ("lr", "pct_start", "anneal", "three_phase"),
    }
    #: the name each schedule gives the slider "step_size" (its label follows the schedule chosen)
    STEP_SIZE_ARGUMENT = {"step_decay": "step_size", "cosine_restarts": "first_cycle", "cyclic": "step_size_up"}

    def __init__(self, kind: str = "warmup_cosine", lr: float = 0.1, total_steps: int = 300):
        import ipywidgets as w
        from matplotlib.figure import Figure

        if kind not in self.KINDS:
            raise choice_error("kind", kind, self.KINDS)
        style = {"description_width": "90px"}
        self.kind = w.Dropdown(options=list(self.KINDS), value=kind, description=_("schedule"), style=style)
        self.controls = {
            "lr": w.FloatLogSlider(value=lr, base=10, min=-4, max=0, step=0.05, description=_("lr (peak)"),
                                   readout_format=".3g", style=style),
            "total_steps": w.IntSlider(value=total_steps, min=20, max=1000, step=10, description="total_steps",
                                       style=style),
            "step_size": w.IntSlider(value=60, min=1, max=500, description="step_size", style=style),
            "gamma": w.FloatSlider(value=0.5, min=0.5, max=1.0, step=0.005, description="gamma",
                                   readout_format=".3f", style=style),
            "power": w.FloatSlider(value=2.0, min=0.25, max=4.0, step=0.25, description="power", style=style),
            "min_lr": w.FloatSlider(value=0.0, min=0.0, max=0.9, step=0.05, description=_("min_lr / lr"),
                                    style=style),
            "warmup_steps": w.IntSlider(value=30, min=1, max=300, description="warmup_steps", style=style),
            "start_factor": w.FloatSlider(value=1 / 3, min=0.01, max=1.0, step=0.01, description="start_factor",
                                          style=style),
            "cycle_mult": w.IntSlider(value=2, min=1, max=3, description="cycle_mult", style=style),
            "mode": w.Dropdown(options=list(schedules.CYCLIC_MODES), value="triangular", description="mode",
                               style=style),
            "pct_start": w.FloatSlider(value=0.3, min=0.05, max=0.5, step=0.05, description="pct_start",
                                       style=style),
            "anneal": w.Dropdown(options=list(schedules.ANNEAL_STRATEGIES), value="cos", description="anneal",
                                 style=style),
            "three_phase": w.Checkbox(value=False, description="three_phase", style=style),
        }
        self.logy = w.Checkbox(value=False, description=_("log scale"), style=style)
        self.code = w.HTML()
        self.image = w.Image(format="png")
        self.fig = Figure(figsize=(7.5, 3.4), dpi=80, layout="constrained")
        self.ax = self.fig.subplots()
        self.line = None
        self.redraws = 0
        self._update()
        for control in (self.kind, self.logy, *self.controls.values()):
            control.observe(self._on_change, names="value")
        self.widget = w.HBox([w.VBox([self.kind, *self.controls.values(), self.logy],
                                     layout=w.Layout(width="330px")),
                              w.VBox([self.image, self.code])])

    def _on_change(self, change) -> None:
        self._update()

    def build(self) -> "schedules.Schedule":
        """The schedule the controls describe."""
        c = {name: control.value for name, control in self.controls.items()}
        kind, lr, total = self.kind.value, float(c["lr"]), int(c["total_steps"])
        warmup = min(int(c["warmup_steps"]), total - 1)
        min_lr = lr * float(c["min_lr"])
        if kind == "constant":
            return schedules.constant(lr)
        if kind == "step_decay":
            return schedules.step_decay(lr, int(c["step_size"]), float(c["gamma"]))
        if kind == "exponential":
            return schedules.exponential(lr, float(c["gamma"]))
        if kind == "polynomial":
            return schedules.polynomial(lr, total, float(c["power"]))
        if kind == "cosine":
            return schedules.cosine(lr, total, min_lr)
        if kind == "linear_warmup":
            return schedules.linear_warmup(lr, warmup, float(c["start_factor"]))
        if kind == "warmup_cosine":
            return schedules.warmup_cosine(lr, warmup, total, float(c["start_factor"]), min_lr)
        if kind == "cosine_restarts":
            return schedules.cosine_restarts(lr, int(c["step_size"]), int(c["cycle_mult"]), min_lr)
        if kind == "cyclic":
            return schedules.cyclic(lr / 10, lr, int(c["step_size"]), mode=c["mode"], gamma=float(c["gamma"]))
        return schedules.one_cycle(lr, total, float(c["pct_start"]), anneal=c["anneal"],
                                   three_phase=bool(c["three_phase"]))

    def _update(self) -> None:
        used = {"total_steps", *self.KINDS[self.kind.value]}
        for name, control in self.controls.items():
            control.layout.display = None if name in used else "none"
        # one slider, the argument each schedule calls it by
        self.controls["step_size"].description = self.STEP_SIZE_ARGUMENT.get(self.kind.value, "step_size")
        self.schedule = self.build()
        total = int(self.controls["total_steps"].value)
        self.values = schedules.evaluate(self.schedule, total)
        self.ax.clear()
        plotting.plot_schedule({self.schedule.__name__: self.schedule}, total, ax=self.ax,
                               logy=bool(self.logy.value),
                               title=_("{schedule}: LR against step").format(schedule=self.schedule.__name__))
        self.line = self.ax.get_lines()[0]
        call = self.schedule.__qualname__
        self.code.value = f"<code>schedules.{call}</code><br>" + _(
            "LR at step 0: {first} &nbsp; | &nbsp; max: {peak} &nbsp; | &nbsp; last step: {last}").format(
            first=f"{self.values[0]:.3g}", peak=f"{self.values.max():.3g}", last=f"{self.values[-1]:.3g}")
        self.redraws += 1
        self._show()


#: The optimizers the Rosenbrock explorer offers: a label, the class and its
#: hyperparameters other than ``lr``, and an LR that works for it from (-1.5, 2).
ROSENBROCK_SETUPS: dict[str, tuple[type, dict, float]] = {
    "SGD": (optimizers.SGD, {}, 1e-3),
    "SGD + momentum 0.9": (optimizers.SGD, {"momentum": 0.9}, 2e-4),
    "Nesterov 0.9": (optimizers.SGD, {"momentum": 0.9, "nesterov": True}, 2e-4),
    "Adagrad": (optimizers.Adagrad, {}, 0.5),
    "RMSprop": (optimizers.RMSprop, {}, 0.01),
    "Adam": (optimizers.Adam, {}, 0.1),
}


class OptimizerExplorer(_PNGFigure):
    """An optimizer of :mod:`lrcourse.optimizers` on Rosenbrock's banana, redrawn when a control changes.

    ``optimizer_menu`` picks one of :data:`ROSENBROCK_SETUPS`; ``lr_slider`` (log
    scale) sets its LR. Readable: ``optimizer`` (the current one),
    ``trajectory``, ``status``, ``redraws``.
    """

    def __init__(self, name: str = "Adam", lr: float | None = None, num_steps: int = 500, x0=(-1.5, 2.0)):
        import ipywidgets as w
        from matplotlib.figure import Figure

        if name not in ROSENBROCK_SETUPS:
            raise ValueError(_("name must be one of {names}, got {name!r}").format(
                names=sorted(ROSENBROCK_SETUPS), name=name))
        self.loss = losses.Rosenbrock()
        self.x0 = np.asarray(x0, dtype=float)
        self.num_steps = num_steps
        self.optimizer_menu = w.Dropdown(options=list(ROSENBROCK_SETUPS), value=name, description=_("optimizer"))
        self.lr_slider = w.FloatLogSlider(value=lr or ROSENBROCK_SETUPS[name][2], base=10, min=-5, max=0.5,
                                          step=0.05, description="lr η", readout_format=".3g",
                                          continuous_update=False)
        self.status = w.HTML()
        self.image = w.Image(format="png")
        self.fig = Figure(figsize=(9.0, 3.8), dpi=80, layout="constrained")
        self.ax_contour, self.ax_loss = self.fig.subplots(1, 2)
        self.redraws = 0
        self._update()
        self.optimizer_menu.observe(self._on_menu, names="value")
        self.lr_slider.observe(self._on_change, names="value")
        self.widget = w.VBox([w.HBox([self.optimizer_menu, self.lr_slider]), self.status, self.image])

    def _on_menu(self, change) -> None:
        # A new optimizer starts from the LR that suits it; setting the slider redraws.
        lr = ROSENBROCK_SETUPS[change["new"]][2]
        if self.lr_slider.value != lr:
            self.lr_slider.value = lr
        else:
            self._update()

    def _on_change(self, change) -> None:
        self._update()

    def _update(self) -> None:
        cls, params, _start_lr = ROSENBROCK_SETUPS[self.optimizer_menu.value]
        self.optimizer = cls(lr=float(self.lr_slider.value), **params)
        self.trajectory = optimizers.run(self.optimizer, self.loss, self.x0, self.num_steps,
                                         label=self.optimizer_menu.value)
        for ax in (self.ax_contour, self.ax_loss):
            ax.clear()
        plotting.plot_contour(self.loss, [self.trajectory], ax=self.ax_contour, xlim=(-2.0, 2.0), ylim=(-1.0, 3.0),
                              title=_("Rosenbrock: trajectory"))
        plotting.plot_loss_curves([self.trajectory], ax=self.ax_loss, title=_("Loss against step"))
        distance = float(np.linalg.norm(self.trajectory.final - self.loss.minimizer))
        verdict = _("diverged") if self.trajectory.diverged else \
            _("after {steps} steps: loss {loss}, distance to (1, 1) {distance}").format(
                steps=self.trajectory.num_steps, loss=f"{self.trajectory.final_loss:.3g}", distance=f"{distance:.3g}")
        self.status.value = f"{self.optimizer!r}<br>{verdict}"
        self.redraws += 1
        self._show()


class PlateauExplorer(_PNGFigure):
    """Patience, factor and threshold sliders over a recorded metric curve: when would the LR be cut?

    The curve is replayed as recorded, so it does not react to the cuts (in
    a real run a smaller LR changes the curve that follows). Readable state:
    ``scheduler`` (the :class:`lrcourse.plateau.ReduceLROnPlateau` after the
    replay), ``patience_slider``, ``factor_slider``, ``threshold_slider``,
    ``status`` and ``redraws``.
    """

    def __init__(self, metrics, lr: float = 0.1, patience: int = 5, factor: float = 0.5, threshold: float = 1e-4,
                 threshold_mode: str = "rel", mode: str = "min", metric_label: str = N_("validation loss")):
        import ipywidgets as w
        from matplotlib.figure import Figure

        self.metrics = [float(m) for m in metrics]
        if not self.metrics:
            raise ValueError(_("metrics must hold at least one value"))
        self.lr = lr
        self.mode, self.threshold_mode, self.metric_label = mode, threshold_mode, metric_label
        plateau.ReduceLROnPlateau(lr, mode=mode, patience=patience, factor=factor, threshold=threshold,
                                  threshold_mode=threshold_mode)  # validates the arguments up front
        style = {"description_width": "80px"}
        self.patience_slider = w.IntSlider(value=patience, min=0, max=30, description="patience", style=style,
                                           continuous_update=False)
        self.factor_slider = w.FloatSlider(value=factor, min=0.05, max=0.95, step=0.05, description="factor",
                                           style=style, continuous_update=False)
        self.threshold_slider = w.FloatLogSlider(value=max(threshold, 1e-6), base=10, min=-6, max=-0.5, step=0.25,
                                                 description="threshold", readout_format=".1e", style=style,
                                                 continuous_update=False)
        self.status = w.HTML()
        self.image = w.Image(format="png")
        self.fig = Figure(figsize=(8.0, 3.6), dpi=80, layout="constrained")
        self.ax = self.fig.subplots()
        self.redraws = 0
        self._update()
        for slider in (self.patience_slider, self.factor_slider, self.threshold_slider):
            slider.observe(self._on_change, names="value")
        self.widget = w.VBox([w.HBox([self.patience_slider, self.factor_slider, self.threshold_slider]),
                              self.status, self.image])

    def _on_change(self, change) -> None:
        self._update()

    def _update(self) -> None:
        self.scheduler = plateau.ReduceLROnPlateau(
            self.lr, mode=self.mode, patience=int(self.patience_slider.value), factor=float(self.factor_slider.value),
            threshold=float(self.threshold_slider.value), threshold_mode=self.threshold_mode).run(self.metrics)
        for extra in self.fig.axes[1:]:
            extra.remove()
        self.ax.clear()
        plotting.plot_plateau(self.scheduler, ax=self.ax, metric_label=self.metric_label,
                              title=_("Where the plateau rule cuts the LR on this curve"))
        cuts = ", ".join(map(str, self.scheduler.cuts)) or _("none")
        self.status.value = _("cuts after epochs: {cuts} &nbsp; | &nbsp; final LR {lr} ({fraction} of the initial)").format(
            cuts=cuts, lr=f"{self.scheduler.lr:.3g}", fraction=f"{self.scheduler.lr / self.lr:.3g}")
        self.redraws += 1
        self._show()


class HorizonExplorer(_PNGFigure):
    """Where does the run end? A horizon slider over a cosine and a WSD schedule of that length.

    The cosine schedule is planned for its horizon: moving the slider changes
    its LR from the first steps on, so a cosine run cannot be extended or cut
    short. WSD holds ``lr`` until the last ``decay_fraction`` of the run: its
    LRs before the decay are the same for every horizon at least as long, so
    one stable run serves them all. Readable state: ``cosine`` and ``wsd`` (the
    schedules), ``shared_steps`` (the steps of the WSD run shared with the
    longest horizon), ``status``, ``redraws``.
    """

    def __init__(self, lr: float = 0.01, max_steps: int = 1000, horizon: int | None = None,
                 decay_fraction: float = 0.2, decay: str = "1-sqrt"):
        import ipywidgets as w
        from matplotlib.figure import Figure

        self.lr = float(lr)
        self.max_steps = int(max_steps)
        if self.max_steps < 20:
            raise ValueError(_("max_steps must be >= 20, got {max_steps!r}").format(max_steps=max_steps))
        schedules.wsd(self.lr, 0, 1, 1, decay=decay)  # validates lr and decay up front
        style = {"description_width": "110px"}
        self.horizon_slider = w.IntSlider(value=horizon or self.max_steps // 2, min=10, max=self.max_steps,
                                          step=10, description=_("stop at step"), style=style,
                                          continuous_update=False)
        self.fraction_slider = w.FloatSlider(value=decay_fraction, min=0.05, max=0.5, step=0.05,
                                             description=_("decay fraction"), style=style, continuous_update=False)
        self.decay_menu = w.Dropdown(options=list(schedules.WSD_DECAYS), value=decay, description=_("decay"),
                                     style=style)
        self.status = w.HTML()
        self.image = w.Image(format="png")
        self.fig = Figure(figsize=(8.0, 3.4), dpi=80, layout="constrained")
        self.ax = self.fig.subplots()
        self.redraws = 0
        self._update()
        for control in (self.horizon_slider, self.fraction_slider, self.decay_menu):
            control.observe(self._on_change, names="value")
        self.widget = w.VBox([w.HBox([self.horizon_slider, self.fraction_slider, self.decay_menu]),
                              self.status, self.image])

    def _on_change(self, change) -> None:
        self._update()

    def _wsd(self, horizon: int) -> "schedules.Schedule":
        decay_steps = max(1, round(float(self.fraction_slider.value) * horizon))
        return schedules.wsd(self.lr, 0, horizon - decay_steps, decay_steps, decay=self.decay_menu.value)

    def _update(self) -> None:
        horizon = int(self.horizon_slider.value)
        self.cosine = schedules.cosine(self.lr, horizon)
        self.wsd = self._wsd(horizon)
        longest = schedules.evaluate(self._wsd(self.max_steps), horizon)
        mine = schedules.evaluate(self.wsd, horizon)
        self.shared_steps = int(np.argmax(mine != longest)) if np.any(mine != longest) else horizon
        steps = np.arange(self.max_steps)
        self.ax.clear()
        self.ax.plot(steps, schedules.evaluate(schedules.cosine(self.lr, self.max_steps), self.max_steps),
                     color="0.75", lw=1, ls="--", label=_("cosine planned for {steps} steps").format(steps=self.max_steps))
        self.ax.plot(steps[:horizon], schedules.evaluate(self.cosine, horizon), color=plotting.COLORS[0],
                     label=_("cosine planned for {steps} steps").format(steps=horizon))
        self.ax.plot(steps[:horizon], mine, color=plotting.COLORS[1], label=_("WSD for {steps} steps").format(steps=horizon))
        self.ax.axvline(self.shared_steps, color=plotting.COLORS[1], lw=0.8, ls=":")
        self.ax.set(xlim=(0, self.max_steps), xlabel=_("step"), ylabel=_("learning rate"),
                    title=_("Stopping at step {steps}: what each schedule had to know in advance").format(steps=horizon))
        self.ax.legend(loc="lower left")
        self.status.value = _("WSD: the first {shared} of {steps} steps are the same as in the {max}-step run "
                              "(one stable run, decayed where you stop). Cosine: its LR differs from step 1 on.").format(
            shared=self.shared_steps, steps=horizon, max=self.max_steps)
        self.redraws += 1
        self._show()
