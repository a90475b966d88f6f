"""The LR explorer redraws when a slider moves; plots handle diverged runs quietly."""
from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lrcourse import descent, losses, plotting  # noqa: E402
from lrcourse.widgets import LRExplorer  # noqa: E402


def test_moving_the_lr_slider_redraws_trajectory_and_loss_curve():
    explorer = LRExplorer(lr=0.05, kappa=10.0)
    path_before = explorer.path_line.get_xydata().copy()
    loss_before = explorer.loss_line.get_ydata().copy()
    image_before = explorer.image.value
    assert image_before[:8] == b"\x89PNG\r\n\x1a\n"

    explorer.lr_slider.value = 0.15

    assert explorer.trajectory.lrs[0] == pytest.approx(0.15)
    assert not np.array_equal(explorer.path_line.get_xydata(), path_before)
    assert not np.array_equal(explorer.loss_line.get_ydata(), loss_before)
    assert explorer.image.value != image_before
    np.testing.assert_allclose(explorer.path_line.get_xydata(), explorer.trajectory.points)
    assert "0.15" in explorer.status.value


def test_the_lr_slider_is_logarithmic_and_kappa_changes_the_problem():
    explorer = LRExplorer(lr=0.1, kappa=10.0)
    assert type(explorer.lr_slider).__name__ == "FloatLogSlider"
    before = explorer.redraws
    explorer.kappa_slider.value = 50.0
    assert explorer.redraws == before + 1
    assert explorer.loss.condition_number == pytest.approx(50.0)
    assert "κ = 50" in explorer.ax_contour.get_title()


def test_a_divergent_lr_is_drawn_and_reported_without_warnings():
    explorer = LRExplorer(lr=0.1, kappa=10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        explorer.lr_slider.value = 3.0
    assert explorer.trajectory.diverged
    assert "diverged" in explorer.status.value


def test_plots_have_titles_labels_and_legends_and_survive_divergence():
    f = losses.ill_conditioned(10.0)
    runs = [descent.run(f, [1.0, 1.0], lr, 50) for lr in (0.1, 0.25)]
    assert runs[1].diverged
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig, (ax1, ax2, ax3) = plotting.subplots(ncols=3)
        plotting.plot_contour(f, runs, ax=ax1)
        plotting.plot_loss_curves(runs, ax=ax2, predicted={"rate": 0.8 ** np.arange(50)})
        plotting.plot_iterates(runs, ax=ax3)
    for ax in (ax1, ax2, ax3):
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any("diverged at step" in label for label in labels)
    assert ax2.get_yscale() == "log"
    plt.close(fig)


def test_function_plot_of_a_1d_loss():
    f = losses.TwoBasins()
    runs = [descent.run(f, [-1.0], lr, 100) for lr in (0.03, 2.5)]
    ax = plotting.plot_function_1d(f, runs, xlim=(-2, 5))
    assert "diverged" in ax.get_legend().get_texts()[-1].get_text()
    plt.close(ax.figure)


def test_use_style_sets_the_course_palette():
    plotting.use_style()
    assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0] == plotting.COLORS[0]


def test_the_optimizer_explorer_switches_optimizer_and_lr_and_redraws():
    from lrcourse import optimizers
    from lrcourse.widgets import ROSENBROCK_SETUPS, OptimizerExplorer

    explorer = OptimizerExplorer("Adam", lr=0.1, num_steps=200)
    assert isinstance(explorer.optimizer, optimizers.Adam) and explorer.optimizer.lr == pytest.approx(0.1)
    image, redraws = explorer.image.value, explorer.redraws
    assert image[:8] == b"\x89PNG\r\n\x1a\n"

    explorer.optimizer_menu.value = "Nesterov 0.9"
    assert explorer.redraws == redraws + 1          # one redraw, not one per control that moved
    assert explorer.optimizer.hyperparameters["nesterov"] is True
    assert explorer.optimizer.lr == pytest.approx(ROSENBROCK_SETUPS["Nesterov 0.9"][2])
    assert explorer.image.value != image
    expected = optimizers.run(optimizers.SGD(lr=2e-4, momentum=0.9, nesterov=True), losses.Rosenbrock(),
                              [-1.5, 2.0], 200)
    np.testing.assert_allclose(explorer.trajectory.points, expected.points)

    explorer.lr_slider.value = 0.01                 # far too large for SGD on the banana
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        explorer.lr_slider.value = 0.02
    assert explorer.trajectory.diverged and "diverged" in explorer.status.value


def test_every_rosenbrock_setup_gets_close_at_its_default_lr():
    from lrcourse import optimizers
    from lrcourse.widgets import ROSENBROCK_SETUPS, OptimizerExplorer

    for name, (cls, extra, lr) in ROSENBROCK_SETUPS.items():
        traj = optimizers.run(cls(lr=lr, **extra), losses.Rosenbrock(), [-1.5, 2.0], 500)
        assert not traj.diverged and traj.final_loss < 5.0, name
    with pytest.raises(ValueError, match="name must be one of"):
        OptimizerExplorer("LBFGS")


def test_the_plateau_explorer_moves_the_cuts_with_its_sliders():
    from lrcourse import plateau
    from lrcourse.widgets import PlateauExplorer

    stream = [1.0, 0.8, 0.7] + [0.7 * (1 + 0.01 * (i % 3)) for i in range(20)] + [0.69995] * 5
    px = PlateauExplorer(stream, lr=0.1, patience=4, factor=0.5, threshold=1e-4)
    assert px.scheduler.cuts == plateau.ReduceLROnPlateau(0.1, patience=4, factor=0.5).run(stream).cuts
    first, redraws, png = px.scheduler.cuts, px.redraws, px.image.value
    px.patience_slider.value = 1
    assert px.scheduler.cuts[0] < first[0] and px.redraws == redraws + 1 and px.image.value != png
    px.factor_slider.value = 0.2
    assert px.scheduler.lr == pytest.approx(0.1 * 0.2 ** len(px.scheduler.cuts))
    px.threshold_slider.value = 1e-6  # now the last five epochs' 0.00005 gain counts as an improvement
    assert px.scheduler.best == 0.69995 and "cuts after epochs" in px.status.value
    assert len(px.fig.axes) == 2  # the LR twin axis is replaced, not stacked, on every redraw


def test_the_plateau_explorer_rejects_bad_arguments():
    from lrcourse.widgets import PlateauExplorer

    with pytest.raises(ValueError, match="metrics must hold"):
        PlateauExplorer([])
    with pytest.raises(ValueError, match="factor must be in"):
        PlateauExplorer([1.0], factor=1.0)


def test_plot_plateau_draws_metric_best_cuts_and_lr():
    from lrcourse import plateau

    sched = plateau.ReduceLROnPlateau(0.1, patience=1).run([1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99])
    ax, ax_lr = plotting.plot_plateau(sched, title="t")
    labels = ax.get_legend().get_texts()
    assert [t.get_text() for t in labels] == ["validation loss", "best so far", "cut (end of epoch)",
                                              "LR in the epoch"]
    assert ax.get_title() == "t" and ax_lr.get_yscale() == "log"
    plt.close("all")


def test_the_horizon_explorer_moves_the_end_and_only_wsds_decay_follows():
    from lrcourse import schedules
    from lrcourse.widgets import HorizonExplorer

    hx = HorizonExplorer(lr=0.03, max_steps=600, horizon=400, decay_fraction=0.2)
    assert hx.cosine.__qualname__ == "cosine(lr=0.03, total_steps=400, min_lr=0.0)"
    assert hx.shared_steps == 321  # steps 0..320: the stable phase and the decay's first step (1 - sqrt(0) = 1)
    redraws = hx.redraws
    hx.horizon_slider.value = 200
    assert hx.redraws == redraws + 1 and hx.shared_steps == 161
    np.testing.assert_allclose(schedules.evaluate(hx.wsd, 161), 0.03)  # WSD: the same LR as the 600-step run
    assert schedules.evaluate(hx.cosine, 2)[1] < 0.03  # cosine: already different at step 1
    hx.decay_menu.value = "linear"
    assert hx.wsd.__qualname__.endswith("decay='linear')")
    hx.fraction_slider.value = 0.5
    assert hx.shared_steps == 101
    assert "101 of 200" in hx.status.value and hx.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_horizon_explorer_rejects_bad_arguments():
    from lrcourse.widgets import HorizonExplorer

    with pytest.raises(ValueError, match="max_steps must be >= 20"):
        HorizonExplorer(max_steps=10)
    with pytest.raises(ValueError, match="lr must be > 0"):
        HorizonExplorer(lr=0.0)
    with pytest.raises(ValueError, match="decay must be one of"):
        HorizonExplorer(decay="sqrt")
