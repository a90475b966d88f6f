"""The schedule explorer widget, schedule/history plots, the digits data and the training loop."""
from __future__ import annotations

import math
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lrcourse import data, plateau, plotting, schedules, training  # noqa: E402
from lrcourse.widgets import ScheduleExplorer  # noqa: E402


# --------------------------------------------------------------------------- widget
@pytest.mark.parametrize("kind", list(ScheduleExplorer.KINDS))
def test_every_kind_draws_its_schedule_and_shows_only_its_sliders(kind):
    explorer = ScheduleExplorer(kind)
    total = explorer.controls["total_steps"].value
    np.testing.assert_array_equal(explorer.line.get_ydata(), schedules.evaluate(explorer.schedule, total))
    assert explorer.schedule.__name__ == kind
    shown = {n for n, c in explorer.controls.items() if c.layout.display != "none"}
    assert shown == {"total_steps", *ScheduleExplorer.KINDS[kind]}
    assert f"schedules.{kind}(" in explorer.code.value
    assert explorer.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_moving_a_slider_redraws_with_the_new_value():
    explorer = ScheduleExplorer("cosine", lr=0.1, total_steps=300)
    before, image = explorer.redraws, explorer.image.value
    explorer.controls["lr"].value = 0.01
    assert explorer.redraws == before + 1
    assert explorer.line.get_ydata()[0] == pytest.approx(0.01)
    assert explorer.image.value != image
    explorer.controls["total_steps"].value = 100
    assert len(explorer.line.get_ydata()) == 100
    explorer.kind.value = "step_decay"
    explorer.controls["gamma"].value = 0.5
    explorer.controls["step_size"].value = 10
    assert explorer.values[10] == pytest.approx(0.005)
    explorer.logy.value = True
    assert explorer.ax.get_yscale() == "log"


def test_the_shared_slider_is_labelled_with_each_schedules_own_argument():
    explorer = ScheduleExplorer("step_decay")
    labels = {}
    for kind in ("step_decay", "cosine_restarts", "cyclic"):
        explorer.kind.value = kind
        labels[kind] = explorer.controls["step_size"].description
    assert labels == {"step_decay": "step_size", "cosine_restarts": "first_cycle", "cyclic": "step_size_up"}
    import inspect

    from lrcourse import schedules
    assert all(arg in inspect.signature(getattr(schedules, kind)).parameters for kind, arg in labels.items())


def test_the_explorers_labels_are_in_the_course_language():
    from lrcourse import i18n
    with i18n.using("vi"):
        explorer = ScheduleExplorer("cosine")
    labels = {name: control.description for name, control in explorer.controls.items()}
    assert labels["lr"] == "lr (đỉnh)" and "tỷ số" in labels["min_lr"], labels
    assert explorer.kind.description == "lịch trình" and explorer.logy.description != "log scale"
    assert "Tốc độ học ở bước 0" in explorer.code.value and "LR at step" not in explorer.code.value


def test_warmup_longer_than_the_run_is_clipped_not_an_error():
    explorer = ScheduleExplorer("warmup_cosine", total_steps=100)
    explorer.controls["warmup_steps"].value = 300
    assert explorer.schedule(99) >= 0


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="kind must be one of"):
        ScheduleExplorer("sine")


# --------------------------------------------------------------------------- plots
def test_plot_schedule_takes_a_function_a_list_or_a_dict():
    a, b = schedules.cosine(0.1, 10), schedules.constant(0.05)
    ax = plotting.plot_schedule(a, 11)
    assert ax.get_ylabel().startswith("learning rate") and ax.get_title()
    ax = plotting.plot_schedule([a, b], 11)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["cosine", "constant"]
    ax = plotting.plot_schedule({"mine": a}, 11, logy=True)
    assert ax.get_yscale() == "log" and ax.get_lines()[0].get_label() == "mine"


def test_plot_histories_marks_runs_that_blew_up():
    ok = training.History("ok", epoch_loss=[1.0, 0.5, 0.2])
    bad = training.History("bad", epoch_loss=[1.0, 50.0, math.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = plotting.plot_histories([ok, bad])
    lines = ax.get_lines()
    assert len(lines) == 3  # two curves and an x at the last finite value of the bad run
    assert lines[2].get_marker() == "x" and lines[2].get_ydata()[0] == 50.0
    with pytest.raises(ValueError, match="metric must be one of"):
        plotting.plot_histories([ok], metric="accuracy")


# --------------------------------------------------------------------------- data
def test_digits_split_is_stratified_standardized_and_reproducible():
    split = data.digits(val_fraction=0.25, seed=0)
    assert split.X_train.shape == (1347, 64) and split.X_val.shape == (450, 64)
    np.testing.assert_allclose(split.X_train.mean(axis=0), 0, atol=1e-12)
    std = split.X_train.std(axis=0)
    assert np.all((np.abs(std - 1) < 1e-9) | (std == 0))
    all_labels = np.concatenate([split.y_train, split.y_val])
    share_val = np.bincount(split.y_val, minlength=10) / len(split.y_val)
    share_all = np.bincount(all_labels, minlength=10) / len(all_labels)
    np.testing.assert_allclose(share_val, share_all, atol=0.003)  # stratified: each class within a sample
    again = data.digits(val_fraction=0.25, seed=0)
    np.testing.assert_array_equal(split.X_val, again.X_val)
    other = data.digits(val_fraction=0.25, seed=1)
    assert not np.array_equal(split.y_val, other.y_val)
    assert "1347 train, 450 validation" in repr(split)


@pytest.mark.parametrize("kwargs, message", [
    (dict(val_fraction=1.0), r"val_fraction must be in \(0, 1\)"),
    (dict(val_fraction=0), r"val_fraction must be in \(0, 1\)"),
    (dict(seed=-1), "seed must be >= 0"),
])
def test_digits_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.digits(**kwargs)


# --------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def split():
    return data.digits()


def test_train_sets_the_schedules_lrs_per_batch(split):
    sched = schedules.warmup_cosine(0.05, 10, 44)
    history = training.train(training.mlp(64, 10), split, sched, epochs=2, batch_size=64)
    assert history.steps_per_epoch == 22
    assert history.lrs == [sched(t) for t in range(44)]
    assert len(history.train_loss) == 44 and len(history.val_accuracy) == 2
    assert history.val_accuracy[-1] > 0.8


def test_train_per_epoch_steps_the_schedule_once_an_epoch(split):
    sched = schedules.step_decay(0.05, step_size=1, gamma=0.5)
    history = training.train(training.mlp(64, 10), split, sched, epochs=3, batch_size=500, per="epoch")
    assert history.lrs == [0.05] * 3 + [0.025] * 3 + [0.0125] * 3


def test_train_is_reproducible_and_the_seed_matters(split):
    def run(seed):
        return training.train(training.mlp(64, 10, seed=seed), split, schedules.constant(0.05), epochs=1,
                              seed=seed)

    a, b, c = run(0), run(0), run(1)
    assert a.train_loss == b.train_loss and a.val_accuracy == b.val_accuracy
    assert a.train_loss != c.train_loss


def test_mlp_does_not_disturb_the_global_torch_generator():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    training.mlp(64, 10, seed=5)
    torch.testing.assert_close(torch.rand(3), expected)


def test_softmax_regression_and_a_custom_optimizer(split):
    model = training.mlp(64, 10, hidden=0)
    assert isinstance(model, torch.nn.Linear)
    history = training.train(model, split, schedules.constant(0.01), epochs=1,
                             optimizer=lambda params, lr: torch.optim.Adam(params, lr=lr))
    assert history.val_accuracy[-1] > 0.8
    assert "1 epochs" in repr(history)


@pytest.mark.parametrize("kwargs, message", [
    (dict(epochs=0), "epochs must be >= 1"),
    (dict(batch_size=0), "batch_size must be >= 1"),
    (dict(per="batch"), "per must be 'step' or 'epoch'"),
    (dict(schedule=0.1), "schedule must be a function"),
    (dict(momentum=-0.5), "momentum must be >= 0"),
    (dict(monitor="val_r2"), "monitor must be one of 'val_loss', 'val_accuracy', 'epoch_loss' for a classification"),
    (dict(schedule=plateau.ReduceLROnPlateau(0.1).run([1.0])), "stepped already"),
])
def test_train_rejects_bad_arguments(split, kwargs, message):
    args = dict(model=training.mlp(64, 10), split=split, schedule=schedules.constant(0.1), epochs=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        training.train(**args)


def test_a_plateau_rule_steps_once_an_epoch_on_the_validation_loss_as_torch_would(split):
    rule = plateau.ReduceLROnPlateau(0.5, factor=0.5, patience=0)
    history = training.train(training.mlp(64, 10), split, rule, epochs=10, batch_size=500)
    replay = plateau.ReduceLROnPlateau(0.5, factor=0.5, patience=0).run(history.val_loss)
    assert history.epoch_lrs == replay.lrs[:10] and history.cuts == replay.cuts == rule.cuts
    assert history.cuts  # at LR 0.5 the validation loss does go up at times
    assert history.lrs == [lr for lr in replay.lrs[:10] for _ in range(3)]


def test_early_stopping_ends_the_run_and_puts_the_best_weights_back(split):
    es = plateau.EarlyStopping(patience=2)
    model = training.mlp(64, 10)
    history = training.train(model, split, schedules.constant(0.5), epochs=40, batch_size=500,
                             early_stopping=es)
    assert history.stopped_epoch == es.stopped_epoch < 40 and len(history.val_loss) == history.stopped_epoch
    best = int(np.argmin(history.val_loss)) + 1
    assert history.best_epoch == best == es.best_epoch
    loss, _ = training.evaluate_model(model, split.X_val, split.y_val)
    assert loss == pytest.approx(history.val_loss[best - 1], rel=1e-12)


def test_regression_trains_with_the_mean_squared_error_and_reports_r2():
    reg = data.diabetes()
    model = training.mlp(reg.num_features, 1, hidden=0)
    history = training.train(model, reg, schedules.constant(0.01), epochs=30, batch_size=32)
    assert not history.val_accuracy and len(history.val_r2) == 30
    assert history.val_r2[-1] > 0.3 and history.val_loss[-1] < 0.7
    loss, r2 = training.evaluate_model(model, reg.X_val, reg.y_val, task="regression")
    assert r2 == pytest.approx(1 - loss / np.var(reg.y_val))
    assert "val R²" in repr(history)
    with pytest.raises(ValueError, match="regression split: it has no classes"):
        _ = reg.num_classes


def test_diabetes_split_is_standardized_on_the_training_set():
    reg = data.diabetes(val_fraction=0.2, seed=1)
    assert len(reg.y_train) + len(reg.y_val) == 442 and reg.task == "regression"
    assert abs(reg.y_train.mean()) < 1e-12 and abs(reg.y_train.std() - 1) < 1e-12
    np.testing.assert_allclose(reg.X_train.mean(axis=0), 0, atol=1e-12)


@pytest.mark.parametrize("cls, kwargs", [
    (torch.optim.AdamW, lambda lr, i: {"lr": lr, "weight_decay": [0.0, 0.1, 1.0][i]}),
    (torch.optim.Adam, lambda lr, i: {"lr": lr, "weight_decay": [0.0, 1e-3, 1e-2][i]}),
    (torch.optim.SGD, lambda lr, i: {"lr": [0.05, 0.2, 0.5][i], "momentum": 0.9}),
])
def test_train_side_by_side_gives_each_model_exactly_its_own_run(split, cls, kwargs):
    small = type(split)(split.X_train[:150], split.y_train[:150], split.X_val, split.y_val, "150 images")
    lr = 3e-3
    alone = [training.train(training.mlp(small.num_features, small.num_classes, hidden=16, seed=i), small,
                            schedules.constant(kwargs(lr, i)["lr"]), epochs=4, batch_size=32, seed=5,
                            optimizer=lambda params, lr, i=i: cls(params, **kwargs(lr, i))).final_val_loss
             for i in range(3)]
    models = [training.mlp(small.num_features, small.num_classes, hidden=16, seed=i) for i in range(3)]
    optimizer = cls([{"params": m.parameters(), **kwargs(lr, i)} for i, m in enumerate(models)], lr=lr)
    together = training.train_side_by_side(models, small, optimizer, epochs=4, batch_size=32, seed=5)
    assert together == alone  # bit for bit
    assert len(set(together)) == 3
    model = training.mlp(small.num_features, small.num_classes, hidden=16, seed=0)
    optimizer = cls([{"params": model.parameters(), **kwargs(lr, 0)}], lr=lr)
    other_batches = training.train_side_by_side([model], small, optimizer, epochs=4, batch_size=32, seed=6)
    assert other_batches[0] != together[0]  # the seed orders the batches


def test_train_side_by_side_rejects_models_the_optimizer_does_not_hold(split):
    a, b = (training.mlp(split.num_features, split.num_classes, hidden=8, seed=i) for i in range(2))
    with pytest.raises(ValueError, match=r"optimizer: models\[1\]'s parameters 0.weight, 0.bias, 2.weight, 2.bias "
                                         r"are in none of its param groups"):
        training.train_side_by_side([a, b], split, torch.optim.SGD(a.parameters(), lr=0.1), epochs=1)
    with pytest.raises(ValueError, match="models must be a non-empty list of torch modules"):
        training.train_side_by_side([], split, torch.optim.SGD(a.parameters(), lr=0.1), epochs=1)
    with pytest.raises(ValueError, match="optimizer must be a torch optimizer"):
        training.train_side_by_side([a], split, lambda params, lr: None, epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        training.train_side_by_side([a], split, torch.optim.SGD(a.parameters(), lr=0.1), epochs=0)
