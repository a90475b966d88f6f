"""Fine-tuning a pretrained CNN: devices, heads, layer groups, freezing, and a GPU-aware training loop.

:func:`fit` trains any torch classifier on an :class:`lrcourse.data.ImageSplit`
with the optimizer you build (parameter groups and their LRs are yours) and
an optional per-step scheduler (``lrcourse.schedules.to_torch``), and records
a :class:`FitHistory`: the loss and accuracy, and the LR of **every parameter
group at every step**. It uses what the machine has:

- the device: CUDA, then Apple's MPS, then the CPU (:func:`select_device`);
- on CUDA, mixed precision (bf16 autocast where the GPU supports it, else
  fp16 with a gradient scaler), channels-last memory format, and pinned host
  memory with non-blocking copies;
- a ``tqdm.auto`` progress bar, if asked.

On a CPU it runs in float32 with none of that, so results there are exact
and repeatable. Helpers for the fine-tuning recipes of notebook 06:
:func:`replace_head`, :func:`layer_groups`, :func:`discriminative_groups`,
:func:`freeze` and :func:`unfreeze`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ._seeding import seeded
from ._validation import choice_error, integer, positive
from .i18n import gettext_ as _

__all__ = ["select_device", "replace_head", "layer_groups", "discriminative_groups", "freeze", "unfreeze",
           "FitHistory", "fit", "evaluate", "AMP_MODES"]

AMP_MODES = ("auto", "bf16", "fp16", None)


def select_device(prefer: str | None = None) -> Any:
    """The best device here: CUDA, then Apple MPS, then the CPU; ``prefer`` forces one ("cpu", "cuda", "mps")."""
    import torch

    if prefer is not None:
        if prefer not in ("cpu", "cuda", "mps"):
            raise ValueError(_("prefer must be 'cpu', 'cuda', 'mps' or None, got {prefer!r}").format(prefer=prefer))
        available = {"cpu": True, "cuda": torch.cuda.is_available(),
                     "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()}
        if not available[prefer]:
            raise ValueError(_("prefer={prefer!r}, but this machine has no {upper} device").format(
                prefer=prefer, upper=prefer.upper()))
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def replace_head(model: Any, num_classes: int, seed: int = 0) -> Any:
    """Put a fresh ``fc`` layer with ``num_classes`` outputs on ``model`` (seeded), on the model's device."""
    from torch import nn

    num_classes = integer("num_classes", num_classes, minimum=1)
    old = getattr(model, "fc", None)
    if not isinstance(old, nn.Linear):
        raise ValueError(_("model must have a linear head named fc (as torchvision's and lrcourse's ResNets do)"))
    model.fc = seeded(seed, lambda: nn.Linear(old.in_features, num_classes)).to(old.weight.device, old.weight.dtype)
    return model


def layer_groups(model: Any) -> list[tuple[str, list]]:
    """The model's parameters in depth order, one group per stage: stem, layer1, ..., fc.

    Every parameter belongs to exactly one group; the stem is everything
    before ``layer1`` (``conv1``, ``bn1``).
    """
    groups: dict[str, list] = {}
    for name, param in model.named_parameters():
        top = name.split(".", 1)[0]
        key = top if top.startswith("layer") or top == "fc" else "stem"
        groups.setdefault(key, []).append(param)
    order = ["stem"] + sorted((k for k in groups if k.startswith("layer")), key=lambda k: int(k[5:])) + ["fc"]
    return [(k, groups[k]) for k in order if k in groups]


def discriminative_groups(model: Any, head_lr: float, factor: float = 0.5) -> list[dict]:
    """Optimizer parameter groups with LRs that shrink by ``factor`` per stage from the head down.

    The head gets ``head_lr``, the last stage ``head_lr * factor``, the one
    before ``head_lr * factor ** 2``, ... down to the stem (Howard & Ruder's
    discriminative fine-tuning, ULMFiT 2018). ``factor=1`` is one LR for all.
    Each group carries its ``name``.
    """
    head_lr = positive("head_lr", head_lr)
    factor = positive("factor", factor)
    if factor > 1:
        raise ValueError(_("factor must be in (0, 1], got {factor!r}").format(factor=factor))
    groups = layer_groups(model)
    depth = len(groups) - 1
    return [{"params": params, "lr": head_lr * factor ** (depth - i), "name": name}
            for i, (name, params) in enumerate(groups)]


def _prefixes(model: Any, prefixes: Sequence[str] | None) -> list:
    if prefixes is None:
        return list(model.parameters())
    if isinstance(prefixes, str):
        prefixes = [prefixes]
    names = {n.split(".", 1)[0] for n, _ in model.named_parameters()}
    unknown = [p for p in prefixes if p.split(".", 1)[0] not in names]
    if unknown:
        raise ValueError(_("prefixes {unknown} name no parameters; the model's top-level names are {names}").format(
            unknown=unknown, names=sorted(names)))
    return [p for n, p in model.named_parameters() if any(n == q or n.startswith(q + ".") for q in prefixes)]


def _batchnorm_layers(model: Any) -> list:
    import torch

    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def freeze(model: Any, prefixes: Sequence[str] | None = None, train_bn: bool = False) -> Any:
    """Stop gradients for the parameters under ``prefixes`` (e.g. ``["stem", "layer1"]`` by top-level
    name: ``"conv1"``, ``"layer1"``...); all of them when ``None``. Returns ``model``.

    ``train_bn=True`` leaves the BatchNorm layers' own parameters (their scale and shift) trainable, as
    fastai's ``freeze`` does by default (``Learner(train_bn=True)``). Freezing never stops a BatchNorm
    layer from updating its running statistics in train mode: that is :func:`fit`'s ``batchnorm``.
    """
    if not isinstance(train_bn, bool):
        raise ValueError(_("train_bn must be True or False, got {train_bn!r}").format(train_bn=train_bn))
    keep = {id(p) for m in _batchnorm_layers(model) for p in m.parameters(recurse=False)} if train_bn else set()
    for p in _prefixes(model, prefixes):
        if id(p) not in keep:
            p.requires_grad_(False)
    return model


def unfreeze(model: Any, prefixes: Sequence[str] | None = None) -> Any:
    """Let gradients flow again to the parameters under ``prefixes`` (all when ``None``). Returns ``model``."""
    for p in _prefixes(model, prefixes):
        p.requires_grad_(True)
    return model


@dataclass
class FitHistory:
    """What :func:`fit` recorded.

    ``lrs[step][g]`` is the LR of parameter group ``g`` during ``step``;
    ``train_loss`` has one entry per step; ``epoch_loss``, ``epoch_seconds`` and
    ``images_per_second`` one per epoch; ``val_loss`` and ``val_accuracy`` one
    per validated epoch, listed in ``val_epochs`` (from 1).
    """

    label: str
    group_names: list = field(default_factory=list)
    lrs: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    epoch_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    val_epochs: list = field(default_factory=list)
    epoch_seconds: list = field(default_factory=list)
    images_per_second: list = field(default_factory=list)
    device: str = "cpu"
    precision: str = "float32"
    steps_per_epoch: int = 0

    @property
    def final_val_accuracy(self) -> float:
        return self.val_accuracy[-1]

    def group_lrs(self, name: str) -> np.ndarray:
        """The LR of the group called ``name`` at every step."""
        if name not in self.group_names:
            raise ValueError(_("name must be one of {group_names}, got {name!r}").format(
                group_names=self.group_names, name=name))
        return np.array([step[self.group_names.index(name)] for step in self.lrs])

    def __repr__(self) -> str:
        if not self.val_accuracy:
            return f"FitHistory({self.label!r}, not trained)"
        return (f"FitHistory({self.label!r}: {len(self.epoch_loss)} epochs on {self.device} ({self.precision}), "
                f"val accuracy {self.final_val_accuracy:.3f}, val loss {self.val_loss[-1]:.4f})")


def _precision(amp: Any, device: Any) -> tuple[Any, bool]:
    """(autocast dtype or None, whether to use a gradient scaler) for ``amp`` on ``device``."""
    import torch

    if amp not in AMP_MODES:
        raise choice_error("amp", amp, AMP_MODES)
    if device.type != "cuda" or amp is None:
        if amp in ("bf16", "fp16") and device.type != "cuda":
            raise ValueError(_("amp={amp!r} needs a CUDA device; this run is on {type}").format(
                amp=amp, type=device.type))
        return None, False
    if amp == "auto":
        amp = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return (torch.bfloat16, False) if amp == "bf16" else (torch.float16, True)


def evaluate(model: Any, X: Any, y: Any, batch_size: int = 512, device: Any = None) -> tuple[float, float]:
    """``(mean cross-entropy, accuracy)`` of ``model`` on images ``X`` and labels ``y`` (eval mode, no grad)."""
    import torch
    from torch.nn import functional as F

    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            xb, yb = X[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
            out = model(xb).float()
            total_loss += F.cross_entropy(out, yb, reduction="sum").item()
            correct += (out.argmax(1) == yb).sum().item()
    model.train(was_training)
    return total_loss / len(y), correct / len(y)


def fit(model: Any, split: Any, optimizer: Any, epochs: int, scheduler: Any = None, batch_size: int = 64,
        device: Any = None, amp: Any = "auto", channels_last: bool | None = None, progress: bool = False,
        seed: int = 0, label: str = "", val_every: int = 1, batchnorm: str = "train") -> FitHistory:
    """Train ``model`` on ``split.X_train`` for ``epochs``, validating on ``split.X_val`` every ``val_every``
    epochs and after the last.

    ``optimizer`` is a torch optimizer over the model's parameters, with as
    many groups and LRs as you like; ``scheduler`` (e.g.
    ``schedules.to_torch([...], optimizer)``) is stepped after **every
    batch**. Batches are shuffled with a generator seeded by ``seed``. The
    model is moved to ``device`` (default :func:`select_device`).
    ``amp="auto"`` uses bf16 autocast on CUDA GPUs that support it and fp16
    with a gradient scaler on the others; ``None`` turns it off. It does
    nothing on a CPU. ``channels_last`` defaults to ``True`` on CUDA.

    ``batchnorm`` is what the BatchNorm layers do while training. ``"train"``
    (torch's ``model.train()``): each normalizes with the batch's statistics
    and overwrites its running statistics with them, *frozen or not*
    (``requires_grad`` stops the gradient, not the statistics). ``"eval"``:
    each stays in inference mode, normalizing with its stored statistics and
    leaving them unchanged, while its scale and shift still train unless
    frozen, as the Keras fine-tuning guide advises for pretrained models.
    """
    import torch
    from torch.nn import functional as F
    from torch.utils.data import DataLoader, TensorDataset

    epochs = integer("epochs", epochs, minimum=1)
    batch_size = integer("batch_size", batch_size, minimum=1)
    val_every = integer("val_every", val_every, minimum=1)
    if batchnorm not in ("train", "eval"):
        raise ValueError(_("batchnorm must be 'train' or 'eval', got {batchnorm!r}").format(batchnorm=batchnorm))
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(_("optimizer must be a torch.optim.Optimizer, got {type}").format(
            type=type(optimizer).__name__))
    device = torch.device(device) if device is not None else select_device()
    autocast_dtype, use_scaler = _precision(amp, device)
    channels_last = device.type == "cuda" if channels_last is None else bool(channels_last)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model.to(device=device, memory_format=memory_format)

    data = TensorDataset(torch.as_tensor(split.X_train), torch.as_tensor(split.y_train))
    generator = torch.Generator().manual_seed(integer("seed", seed, minimum=0))
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, generator=generator,
                        pin_memory=device.type == "cuda")
    scaler = torch.amp.GradScaler("cuda") if use_scaler else None
    names = [g.get("name", f"group {i}") for i, g in enumerate(optimizer.param_groups)]
    precision = {None: "float32", torch.bfloat16: "bf16 autocast", torch.float16: "fp16 autocast + scaler"}
    history = FitHistory(label=label, group_names=names, device=str(device),
                         precision=precision[autocast_dtype], steps_per_epoch=len(loader))
    epoch_iter: Any = range(epochs)
    if progress:
        from tqdm.auto import tqdm

        epoch_iter = tqdm(epoch_iter, desc=label or "fit", leave=False)
    for epoch in epoch_iter:
        model.train()
        if batchnorm == "eval":
            for module in _batchnorm_layers(model):
                module.eval()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        losses = []
        for xb, yb in loader:
            xb = xb.to(device, non_blocking=True, memory_format=memory_format)
            yb = yb.to(device, non_blocking=True)
            history.lrs.append([g["lr"] for g in optimizer.param_groups])
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                loss = F.cross_entropy(model(xb), yb)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(loss.detach())
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        step_losses = torch.stack(losses).float().cpu().tolist()
        history.train_loss.extend(step_losses)
        history.epoch_loss.append(float(np.mean(step_losses)))
        history.epoch_seconds.append(seconds)
        history.images_per_second.append(len(data) / seconds)
        if (epoch + 1) % val_every == 0 or epoch + 1 == epochs:
            val_loss, val_acc = evaluate(model, split.X_val, split.y_val, device=device)
            history.val_loss.append(val_loss)
            history.val_accuracy.append(val_acc)
            history.val_epochs.append(epoch + 1)
    return history
