"""A small, seeded torch training loop for the notebooks' experiments on real data.

:func:`train` fits a classifier with mini-batch SGD (or any torch optimizer)
while a learning-rate schedule from :mod:`lrcourse.schedules` sets the LR,
stepped per batch or per epoch, and records what happened in a
:class:`History`. Everything runs in float64 on the CPU and is seeded, so a
notebook prints the same numbers on every run.

``schedule`` may also be a :class:`lrcourse.plateau.ReduceLROnPlateau`: then
the LR is set once per epoch from the validation loss (or another
``monitor``), and an :class:`lrcourse.plateau.EarlyStopping` can end the run
early and put the best weights back. A regression split
(:func:`lrcourse.data.diabetes`) is trained with the mean-squared error.

>>> from lrcourse import data, schedules
>>> split = data.digits()
>>> history = train(mlp(split.num_features, split.num_classes), split,
...                 schedules.constant(0.05), epochs=2, label="constant")
>>> len(history.lrs), len(history.val_accuracy)
(44, 2)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ._seeding import seeded
from ._validation import integer, non_negative
from .i18n import N_, gettext_ as _

#: a split's task as the error messages name it
TASKS = {"classification": N_("classification"), "regression": N_("regression")}

__all__ = ["History", "mlp", "train", "train_side_by_side", "evaluate_model"]


@dataclass
class History:
    """What a training run recorded.

    ``lrs`` and ``train_loss`` have one entry per optimizer step (batch);
    ``epoch_loss`` (mean training loss of the epoch), ``val_loss`` and
    ``val_accuracy`` (``val_r2`` for regression) one entry per epoch.
    ``cuts`` lists the epochs (from 1) after which a plateau rule cut the LR;
    with early stopping, ``stopped_epoch`` is where it stopped (None if it ran
    to the end) and ``best_epoch`` the epoch whose weights the model ends with.
    """

    label: str
    lrs: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    val_r2: list[float] = field(default_factory=list)
    steps_per_epoch: int = 0
    cuts: list[int] = field(default_factory=list)
    stopped_epoch: int | None = None
    best_epoch: int | None = None

    @property
    def epoch_lrs(self) -> list[float]:
        """The LR each epoch started with."""
        return self.lrs[::self.steps_per_epoch]

    @property
    def final_val_accuracy(self) -> float:
        return self.val_accuracy[-1]

    @property
    def final_val_loss(self) -> float:
        return self.val_loss[-1]

    @property
    def best_val_accuracy(self) -> float:
        return max(self.val_accuracy)

    def __repr__(self) -> str:
        if not self.val_loss:
            return f"History({self.label!r}, not trained)"
        score = (f"val R² {self.val_r2[-1]:.3f}" if self.val_r2 else f"val accuracy {self.final_val_accuracy:.3f}")
        return f"History({self.label!r}: {len(self.val_loss)} epochs, {score}, val loss {self.final_val_loss:.4f})"


def mlp(num_features: int, num_classes: int, hidden: int = 64, seed: int = 0) -> Any:
    """A one-hidden-layer ReLU network in float64, initialised from ``seed``.

    ``hidden=0`` gives softmax (multinomial logistic) regression;
    ``num_classes=1`` gives one output, for regression.
    """
    from torch import nn

    num_features = integer("num_features", num_features, minimum=1)
    num_classes = integer("num_classes", num_classes, minimum=1)
    hidden = integer("hidden", hidden, minimum=0)
    if hidden == 0:
        model = seeded(seed, lambda: nn.Linear(num_features, num_classes))
    else:
        model = seeded(seed, lambda: nn.Sequential(nn.Linear(num_features, hidden), nn.ReLU(),
                                                   nn.Linear(hidden, num_classes)))
    return model.double()


def evaluate_model(model: Any, X: Any, y: Any, task: str = "classification") -> tuple[float, float]:
    """``(mean cross-entropy, accuracy)`` of ``model`` on ``X, y``; ``(MSE, R²)`` for regression."""
    import torch

    X = torch.as_tensor(X, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64 if task == "regression" else torch.int64)
    model.eval()
    with torch.no_grad():
        out = model(X)
        loss = _loss(out, y, task).item()
        if task == "regression":
            score = 1.0 - loss / torch.mean((y - y.mean()) ** 2).item()
        else:
            score = (out.argmax(dim=1) == y).double().mean().item()
    model.train()
    return loss, score


def _loss(out: Any, y: Any, task: str) -> Any:
    from torch.nn import functional as F

    if task == "regression":
        return F.mse_loss(out.squeeze(-1), y)
    return F.cross_entropy(out, y)


def _training_tensors(split: Any, task: str) -> tuple[Any, Any]:
    import torch

    X = torch.as_tensor(split.X_train, dtype=torch.float64)
    return X, torch.as_tensor(split.y_train, dtype=torch.float64 if task == "regression" else torch.int64)


MONITORS = ("val_loss", "val_accuracy", "val_r2", "epoch_loss")


def train(model: Any, split: Any, schedule: Any, epochs: int, batch_size: int = 64,
          per: str = "step", optimizer: Callable[..., Any] | None = None, momentum: Any = 0.9,
          weight_decay: float = 0.0, seed: int = 0, label: str = "", progress: bool = False,
          monitor: str = "val_loss", early_stopping: Any = None) -> History:
    """Train ``model`` on ``split`` (a :class:`lrcourse.data.Split`) with LRs from ``schedule``.

    ``per="step"`` steps the schedule after every batch (its step counts
    batches: size it with ``epochs * steps_per_epoch``); ``per="epoch"`` after
    every epoch (its step counts epochs). The loop calls ``optimizer.step()``
    then ``scheduler.step()``, the order torch documents. ``optimizer`` is a
    factory ``params, lr -> torch optimizer``; the default is SGD with
    ``momentum`` and ``weight_decay``. ``momentum`` may also be a schedule
    ``step -> momentum`` (e.g. :func:`lrcourse.schedules.one_cycle_momentum`),
    stepped with the LR's (``per``), as torch's ``OneCycleLR`` cycles SGD's
    momentum. Batches are shuffled with a generator seeded by ``seed``.
    ``progress=True`` shows a tqdm bar over the epochs.

    ``schedule`` may instead be a plateau rule of :mod:`lrcourse.plateau`
    (fresh, not stepped yet): it starts at its ``lr`` and, after every epoch,
    steps on the ``monitor`` metric (``"val_loss"``, ``"val_accuracy"``,
    ``"val_r2"`` or ``"epoch_loss"``) and sets the optimizer's LR. An
    ``early_stopping`` (:class:`lrcourse.plateau.EarlyStopping`) watches the
    same metric, ends the run when it says so, and its best weights are put
    back into ``model`` at the end.
    """
    import torch

    from .schedules import to_torch

    epochs = integer("epochs", epochs, minimum=1)
    batch_size = integer("batch_size", batch_size, minimum=1)
    if per not in ("step", "epoch"):
        raise ValueError(_("per must be 'step' or 'epoch', got {per!r}").format(per=per))
    plateau = None if callable(schedule) else schedule
    if plateau is not None and not (hasattr(plateau, "step") and hasattr(plateau, "lr")):
        raise ValueError(_("schedule must be a function step -> lr or a plateau rule, got {schedule!r}").format(
            schedule=schedule))
    if plateau is not None and plateau.last_epoch:
        raise ValueError(_("schedule: the plateau rule has been stepped already; pass a fresh one"))
    task = getattr(split, "task", "classification")
    allowed = [m for m in MONITORS if m != ("val_accuracy" if task == "regression" else "val_r2")]
    if monitor not in allowed:
        raise ValueError(_("monitor must be one of {choices} for a {task} split, got {monitor!r}").format(
            choices=', '.join(map(repr, allowed)), task=_(TASKS.get(task, task)), monitor=monitor))
    momentum_schedule = momentum if callable(momentum) else None
    if momentum_schedule is not None and optimizer is not None:
        raise ValueError(_("momentum: a momentum schedule drives the default SGD; pass optimizer=None with it"))
    momentum = non_negative("momentum", momentum_schedule(0) if momentum_schedule else momentum)
    weight_decay = non_negative("weight_decay", weight_decay)
    seed = integer("seed", seed, minimum=0)

    X, y = _training_tensors(split, task)
    n = len(y)
    lr0 = plateau.lr if plateau is not None else schedule(0)
    if optimizer is None:
        opt = torch.optim.SGD(model.parameters(), lr=lr0, momentum=momentum, weight_decay=weight_decay)
    else:
        opt = optimizer(model.parameters(), lr=lr0)
    scheduler = to_torch(schedule, opt) if plateau is None else None
    momentum_step = 0

    def next_momentum() -> None:
        nonlocal momentum_step
        momentum_step += 1
        if momentum_schedule is not None:
            value = non_negative("momentum", momentum_schedule(momentum_step))
            for group in opt.param_groups:
                group["momentum"] = value
    generator = torch.Generator().manual_seed(seed)
    default_label = getattr(schedule, "__name__", None) or type(schedule).__name__
    history = History(label=label or default_label, steps_per_epoch=-(-n // batch_size))

    epoch_iter: Any = range(epochs)
    if progress:
        from tqdm.auto import tqdm

        epoch_iter = tqdm(epoch_iter, desc=history.label, leave=False)
    for epoch in epoch_iter:
        order = torch.randperm(n, generator=generator)
        losses = []
        for start in range(0, n, batch_size):
            batch = order[start:start + batch_size]
            history.lrs.append(opt.param_groups[0]["lr"])
            opt.zero_grad()
            loss = _loss(model(X[batch]), y[batch], task)
            loss.backward()
            opt.step()
            if per == "step" and scheduler is not None:
                scheduler.step()
            if per == "step":
                next_momentum()
            losses.append(loss.item())
        if per == "epoch" and scheduler is not None:
            scheduler.step()
        if per == "epoch":
            next_momentum()
        history.train_loss.extend(losses)
        history.epoch_loss.append(float(np.mean(losses)))
        val_loss, val_score = evaluate_model(model, split.X_val, split.y_val, task)
        history.val_loss.append(val_loss)
        (history.val_r2 if task == "regression" else history.val_accuracy).append(val_score)
        metric = getattr(history, monitor)
        if plateau is not None:
            new_lr = plateau.step(metric[-1])
            for group in opt.param_groups:
                group["lr"] = new_lr
        if early_stopping is not None and early_stopping.step(metric[-1], model):
            history.stopped_epoch = epoch + 1
            break
    if plateau is not None:
        history.cuts = list(plateau.cuts)  # the rule was fresh, so its epochs are the run's
    if early_stopping is not None and early_stopping.best_state is not None:
        history.best_epoch = early_stopping.restore(model)
    return history


def train_side_by_side(models: Sequence[Any], split: Any, optimizer: Any, epochs: int, batch_size: int = 64,
                       seed: int = 0) -> list[float]:
    """Train several models at once on the same batches, with one optimizer; return their final validation losses.

    ``optimizer`` is a torch optimizer whose param groups hold the models' parameters, each group with
    its own hyperparameters (``lr``, ``weight_decay`` ...), constant over the run. Every step shows the
    same batch (shuffled as :func:`train` shuffles with ``seed``) to every model, and one backward pass
    through the *sum* of their losses gives each model exactly its own gradient. Optimizers whose update
    treats each parameter on its own (SGD, Adam, AdamW, RMSprop ... on the CPU) then give each model
    bit for bit what ``train(model, split, schedules.constant(lr), epochs, batch_size, optimizer=...,
    seed=seed)`` gives it alone, in less time: the optimizer's and the loop's per-step costs are paid
    once instead of once per model (about 1.5x faster per run for five of notebook 03's MLPs). Returns
    ``evaluate_model``'s loss on the validation set, one per model, after the last epoch.
    """
    import torch

    models = list(models)
    if not models or not all(isinstance(m, torch.nn.Module) for m in models):
        raise ValueError(_("models must be a non-empty list of torch modules, got {models!r}").format(models=models))
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(_("optimizer must be a torch optimizer over the models' parameters, got {optimizer!r}").format(
            optimizer=optimizer))
    epochs = integer("epochs", epochs, minimum=1)
    batch_size = integer("batch_size", batch_size, minimum=1)
    seed = integer("seed", seed, minimum=0)
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
    for i, model in enumerate(models):
        missing = [name for name, p in model.named_parameters() if p.requires_grad and id(p) not in in_optimizer]
        if missing:
            raise ValueError(_("optimizer: models[{i}]'s parameters {missing} are in none of its param groups, so "
                               "they would not train").format(
                i=i, missing=', '.join(missing)))
    task = getattr(split, "task", "classification")
    X, y = _training_tensors(split, task)
    n = len(y)
    generator = torch.Generator().manual_seed(seed)
    for model in models:
        model.train()
    for _epoch in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad()
            sum(_loss(model(X[batch]), y[batch], task) for model in models).backward()
            optimizer.step()
    return [evaluate_model(model, split.X_val, split.y_val, task)[0] for model in models]
