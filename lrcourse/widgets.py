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
"""
from __future__ import annotations

import numpy as np

from . import descent, losses, plotting

__all__ = ["LRExplorer"]


class LRExplorer:
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
                              ylim=(-1.6, 1.6), title=f"Trajectory, κ = {kappa:.3g}")
        plotting.plot_loss_curves([self.trajectory], ax=self.ax_loss, title="Loss against step",
                                  predicted={"best rate (κ-1)/(κ+1)":
                                             self.trajectory.losses[0] * rate ** (2 * np.arange(self.num_steps + 1))})
        self.path_line = self.ax_contour.get_lines()[1]
        self.loss_line = self.ax_loss.get_lines()[0]
        verdict = "diverged" if self.trajectory.diverged else f"final loss {self.trajectory.final_loss:.3g}"
        self.status.value = (f"lr = {lr:.3g} &nbsp; | &nbsp; 2/L = {eta_max:.3g} &nbsp; | &nbsp; "
                             f"best 2/(L+μ) = {eta_opt:.3g} &nbsp; | &nbsp; {verdict}")
        self.redraws += 1
        self._show()

    def _show(self) -> None:
        import io

        buffer = io.BytesIO()
        self.fig.savefig(buffer, format="png")
        self.image.value = buffer.getvalue()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
