"""A small, seeded torch training loop for the notebooks' experiments on real data.

:func:`train` fits a classifier with mini-batch SGD (or any torch optimizer)
while a learning-rate schedule from :mod:`lrcourse.schedules` sets the LR,
stepped per batch or per epoch, and records what happened in a
:class:`History`. Everything runs in float64 on the CPU and is seeded, so a
notebook prints the same numbers on every run.

>>> from lrcourse import data, schedules
>>> split = data.digits()
>>> history = train(mlp(split.num_features, split.num_classes), split,
...                 schedules.constant(0.05), epochs=2, label="constant")
>>> len(history.lrs), len(history.val_accuracy)
(44, 2)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ._validation import integer, non_negative

__all__ = ["History", "mlp", "train", "evaluate_model"]


@dataclass
class History:
    """What a training run recorded.

    ``lrs`` and ``train_loss`` have one entry per optimizer step (batch);
    ``epoch_loss`` (mean training loss of the epoch), ``val_loss`` and
    ``val_accuracy`` one entry per epoch.
    """

    label: str
    lrs: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    steps_per_epoch: int = 0

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
        if not self.val_accuracy:
            return f"History({self.label!r}, not trained)"
        return (f"History({self.label!r}: {len(self.val_accuracy)} epochs, val accuracy "
                f"{self.final_val_accuracy:.3f}, val loss {self.final_val_loss:.4f})")


def mlp(num_features: int, num_classes: int, hidden: int = 64, seed: int = 0) -> Any:
    """A one-hidden-layer ReLU network in float64, initialised from ``seed``.

    ``hidden=0`` gives softmax (multinomial logistic) regression.
    """
    import torch
    from torch import nn

    num_features = integer("num_features", num_features, minimum=1)
    num_classes = integer("num_classes", num_classes, minimum=2)
    hidden = integer("hidden", hidden, minimum=0)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(integer("seed", seed, minimum=0))
    try:
        if hidden == 0:
            model = nn.Linear(num_features, num_classes)
        else:
            model = nn.Sequential(nn.Linear(num_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
    finally:
        torch.random.set_rng_state(generator_state)  # seeding here does not disturb the caller's stream
    return model.double()


def evaluate_model(model: Any, X: Any, y: Any) -> tuple[float, float]:
    """``(mean cross-entropy, accuracy)`` of ``model`` on ``X, y``."""
    import torch
    from torch.nn import functional as F

    X = torch.as_tensor(X, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.int64)
    model.eval()
    with torch.no_grad():
        logits = model(X)
        loss = F.cross_entropy(logits, y).item()
        accuracy = (logits.argmax(dim=1) == y).double().mean().item()
    model.train()
    return loss, accuracy


def train(model: Any, split: Any, schedule: Callable[[int], float], epochs: int, batch_size: int = 64,
          per: str = "step", optimizer: Callable[..., Any] | None = None, momentum: float = 0.9,
          weight_decay: float = 0.0, seed: int = 0, label: str = "", progress: bool = False) -> History:
    """Train ``model`` on ``split`` (a :class:`lrcourse.data.Split`) with LRs from ``schedule``.

    ``per="step"`` steps the schedule after every batch (its step counts
    batches: size it with ``epochs * steps_per_epoch``); ``per="epoch"`` after
    every epoch (its step counts epochs). The loop calls ``optimizer.step()``
    then ``scheduler.step()``, the order torch documents. ``optimizer`` is a
    factory ``params, lr -> torch optimizer``; the default is SGD with
    ``momentum`` and ``weight_decay``. Batches are shuffled with a generator
    seeded by ``seed``. ``progress=True`` shows a tqdm bar over the epochs.
    """
    import torch
    from torch.nn import functional as F

    from .schedules import to_torch

    epochs = integer("epochs", epochs, minimum=1)
    batch_size = integer("batch_size", batch_size, minimum=1)
    if per not in ("step", "epoch"):
        raise ValueError(f"per must be 'step' or 'epoch', got {per!r}")
    if not callable(schedule):
        raise ValueError(f"schedule must be a function step -> lr, got {schedule!r}")
    momentum = non_negative("momentum", momentum)
    weight_decay = non_negative("weight_decay", weight_decay)
    seed = integer("seed", seed, minimum=0)

    X = torch.as_tensor(split.X_train, dtype=torch.float64)
    y = torch.as_tensor(split.y_train, dtype=torch.int64)
    n = len(y)
    if optimizer is None:
        opt = torch.optim.SGD(model.parameters(), lr=schedule(0), momentum=momentum, weight_decay=weight_decay)
    else:
        opt = optimizer(model.parameters(), lr=schedule(0))
    scheduler = to_torch(schedule, opt)
    generator = torch.Generator().manual_seed(seed)
    history = History(label=label or getattr(schedule, "__name__", "run"), steps_per_epoch=-(-n // batch_size))

    epoch_iter: Any = range(epochs)
    if progress:
        from tqdm.auto import tqdm

        epoch_iter = tqdm(epoch_iter, desc=history.label, leave=False)
    for _ in epoch_iter:
        order = torch.randperm(n, generator=generator)
        losses = []
        for start in range(0, n, batch_size):
            batch = order[start:start + batch_size]
            history.lrs.append(opt.param_groups[0]["lr"])
            opt.zero_grad()
            loss = F.cross_entropy(model(X[batch]), y[batch])
            loss.backward()
            opt.step()
            if per == "step":
                scheduler.step()
            losses.append(loss.item())
        if per == "epoch":
            scheduler.step()
        history.train_loss.extend(losses)
        history.epoch_loss.append(float(np.mean(losses)))
        val_loss, val_acc = evaluate_model(model, split.X_val, split.y_val)
        history.val_loss.append(val_loss)
        history.val_accuracy.append(val_acc)
    return history
