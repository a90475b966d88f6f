"""The learning rate at scale (notebook 07): batch-size rules, the gradient noise scale, and μP.

* :func:`linear_scaling` and :func:`sqrt_scaling`: the LR for a new batch size
  from one tuned at a base batch size (Goyal et al. 2017 for SGD; the square
  root for Adam-type methods, Malladi et al. 2022).
* :func:`per_example_grads`, :func:`noise_scale` and :func:`noise_scale_from_batches`:
  McCandlish et al.'s (2018) simple noise scale :math:`B_{simple} = tr(\\Sigma)/|G|^2`,
  the batch size beyond which a bigger batch stops buying a proportionally bigger
  step. Exactly, from every example's gradient, or as in practice, from the
  gradient norms of two batch sizes.
* :func:`width_mlp` and :func:`adam_param_groups`: an MLP whose width can grow
  in the standard parametrization (SP) or in μP (Yang et al. 2021), and the
  per-layer Adam LRs that go with it. The μP rules are those of the ``mup``
  package (``MuReadout``, ``set_base_shapes``, ``MuAdam``), written out:
  ``tests/test_scale.py`` holds them against it.

>>> linear_scaling(0.1, base_batch=256, batch=1024), sqrt_scaling(1e-3, base_batch=256, batch=1024)
(0.4, 0.002)
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ._seeding import seeded
from ._validation import as_float, choice_error, integer, positive
from .i18n import gettext_ as _

__all__ = ["linear_scaling", "sqrt_scaling", "per_example_grads", "noise_scale", "noise_scale_from_batches",
           "Readout", "width_mlp", "adam_param_groups", "PARAMETRIZATIONS"]

PARAMETRIZATIONS = ("sp", "mup")


# --------------------------------------------------------------------------- batch size
def linear_scaling(base_lr: float, base_batch: int, batch: int) -> float:
    """The linear scaling rule (Goyal et al. 2017): multiply the LR by the factor the batch grew by.

    ``k`` times the batch averages ``k`` times more examples per step, so with
    ``k`` times fewer steps per epoch each step may go ``k`` times further, as
    long as the batch is below the critical batch size (and with a warmup).

    >>> linear_scaling(0.1, base_batch=256, batch=8192)
    3.2
    """
    base_lr = positive("base_lr", base_lr)
    base_batch = integer("base_batch", base_batch, minimum=1)
    batch = integer("batch", batch, minimum=1)
    return base_lr * batch / base_batch


def sqrt_scaling(base_lr: float, base_batch: int, batch: int) -> float:
    """The square-root rule for Adam-type methods: multiply the LR by the square root of the batch's growth.

    Adam divides by the gradient's RMS, so a bigger batch (a less noisy
    gradient) does not shrink its step; matching the noise of the updates
    instead gives ``lr * sqrt(k)`` (Malladi et al. 2022, Granziol et al. 2022).

    >>> sqrt_scaling(1e-3, base_batch=64, batch=256)
    0.002
    """
    base_lr = positive("base_lr", base_lr)
    base_batch = integer("base_batch", base_batch, minimum=1)
    batch = integer("batch", batch, minimum=1)
    return base_lr * math.sqrt(batch / base_batch)


# --------------------------------------------------------------------------- the gradient noise scale
def per_example_grads(model: Any, X: Any, y: Any) -> np.ndarray:
    """Every example's gradient of the cross-entropy, flattened: an ``(examples, parameters)`` array.

    Computed with ``torch.func`` (``vmap`` of ``grad``), in the model's dtype.
    """
    import torch
    from torch.func import functional_call, grad, vmap
    from torch.nn import functional as F

    params = {k: v.detach() for k, v in model.named_parameters()}
    X = torch.as_tensor(X, dtype=next(iter(params.values())).dtype)
    y = torch.as_tensor(y, dtype=torch.int64)
    if X.ndim < 2 or X.shape[0] != y.shape[0]:
        raise ValueError(_("X must be (examples, features) with one label in y per example, got shapes {shape} and "
                           "{shape2}").format(
            shape=tuple(X.shape), shape2=tuple(y.shape)))

    def loss(p: dict, x: Any, t: Any) -> Any:
        return F.cross_entropy(functional_call(model, p, (x.unsqueeze(0),)), t.unsqueeze(0))

    grads = vmap(grad(loss), in_dims=(None, 0, 0))(params, X, y)
    return torch.cat([g.reshape(len(y), -1) for g in grads.values()], dim=1).numpy()


def noise_scale(grads: Any) -> dict:
    r"""The simple noise scale :math:`B_{simple} = tr(\Sigma) / |G|^2` from per-example gradients.

    ``grads`` is ``(examples, parameters)``. :math:`G` is their mean (the full
    gradient) and :math:`tr(\Sigma)` the summed variance of one example's
    gradient (unbiased). A batch of :math:`B` examples has a gradient whose
    noise is :math:`tr(\Sigma)/B`: below :math:`B_{simple}` the noise dominates
    and doubling the batch nearly halves the steps needed; above it the
    gradient is nearly exact and a bigger batch buys little (McCandlish et al. 2018).

    Returns ``{"B_simple": ..., "G2": |G|^2, "trace": tr(Σ)}``.

    >>> g = np.array([[1.0, 0.0], [3.0, 0.0], [2.0, 2.0], [2.0, -2.0]])   # mean (2, 0)
    >>> {k: round(v, 6) for k, v in noise_scale(g).items()}   # variances 2/3 and 8/3
    {'B_simple': 0.833333, 'G2': 4.0, 'trace': 3.333333}
    """
    g = np.asarray(grads, dtype=np.float64)
    if g.ndim != 2 or g.shape[0] < 2:
        raise ValueError(_("grads must be a 2-D array (examples, parameters) with two or more examples, got shape "
                           "{shape}").format(
            shape=g.shape))
    mean = g.mean(axis=0)
    g2 = float(mean @ mean)
    trace = float(np.sum(g.var(axis=0, ddof=1)))
    return {"B_simple": trace / g2 if g2 > 0 else math.inf, "G2": g2, "trace": trace}


def noise_scale_from_batches(small_sq_norm: float, big_sq_norm: float, small_batch: int, big_batch: int) -> float:
    r"""The simple noise scale from the squared gradient norms at two batch sizes (McCandlish et al., App. A).

    :math:`E|G_B|^2 = |G|^2 + tr(\Sigma)/B`, so two batch sizes give unbiased estimates

    .. math::
        |G|^2 \approx \frac{B_{big}|G_{big}|^2 - B_{small}|G_{small}|^2}{B_{big} - B_{small}},\quad
        tr(\Sigma) \approx \frac{|G_{small}|^2 - |G_{big}|^2}{1/B_{small} - 1/B_{big}}

    and :math:`B_{simple}` is their ratio. Each estimate is noisy: average the
    two over many steps *before* dividing, as the paper does.

    >>> noise_scale_from_batches(small_sq_norm=5.0, big_sq_norm=4.25, small_batch=1, big_batch=4)
    0.25
    """
    small, big = (as_float("small_sq_norm", small_sq_norm), as_float("big_sq_norm", big_sq_norm))
    b_small = integer("small_batch", small_batch, minimum=1)
    b_big = integer("big_batch", big_batch, minimum=1)
    if b_big <= b_small:
        raise ValueError(_("big_batch must be > small_batch ({b_small}), got {b_big}").format(
            b_small=b_small, b_big=b_big))
    g2 = (b_big * big - b_small * small) / (b_big - b_small)
    trace = (small - big) / (1 / b_small - 1 / b_big)
    return trace / g2


# --------------------------------------------------------------------------- width: SP and μP
@functools.lru_cache(maxsize=None)
def _readout_class() -> type:
    from torch import nn

    class Readout(nn.Linear):
        """The output layer of μP: ``nn.Linear`` applied to ``x / width_mult`` (``mup.MuReadout``)."""

        def __init__(self, in_features: int, out_features: int, width_mult: float):
            super().__init__(in_features, out_features)
            self.width_mult = float(width_mult)

        def forward(self, x: Any) -> Any:
            return super().forward(x / self.width_mult)

    return Readout


def __getattr__(name: str) -> Any:
    if name == "Readout":  # defined on first use, so that importing this module does not import torch
        return _readout_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def width_mlp(num_features: int, num_classes: int, width: int, base_width: int | None = None, depth: int = 2,
              parametrization: str = "sp", seed: int = 0) -> Any:
    r"""An MLP with ``depth`` hidden ReLU layers of ``width`` units, in SP or μP, float64.

    Both start from torch's default (SP) initialization, drawn from ``seed``.
    ``"mup"`` then applies μP relative to ``base_width`` (width multiplier
    :math:`m = \text{width}/\text{base\_width}`), as ``mup.set_base_shapes``
    does for a ``MuReadout`` output layer:

    * the output layer divides its input by :math:`m`, and its weights and bias
      are multiplied by :math:`\sqrt m` (so its effective weights shrink as
      :math:`1/\text{width}`, not :math:`1/\sqrt{\text{width}}`);
    * the biases of the hidden-to-hidden layers are multiplied by :math:`\sqrt m`;
    * the input layer and the hidden weights keep their initialization.

    At ``width == base_width`` the two parametrizations are the same network.
    The LRs that complete μP come from :func:`adam_param_groups`.
    """
    from torch import nn

    num_features = integer("num_features", num_features, minimum=1)
    num_classes = integer("num_classes", num_classes, minimum=1)
    width = integer("width", width, minimum=1)
    base_width = width if base_width is None else integer("base_width", base_width, minimum=1)
    depth = integer("depth", depth, minimum=1)
    if parametrization not in PARAMETRIZATIONS:
        raise choice_error("parametrization", parametrization, PARAMETRIZATIONS)
    mult = width / base_width if parametrization == "mup" else 1.0
    Readout = _readout_class()

    def build() -> Any:
        layers: list = []
        for i in range(depth):
            layer = nn.Linear(num_features if i == 0 else width, width)
            layer.role = "input" if i == 0 else "hidden"
            layers += [layer, nn.ReLU()]
        out = Readout(width, num_classes, mult) if parametrization == "mup" else nn.Linear(width, num_classes)
        out.role = "output"
        return nn.Sequential(*layers, out)

    model = seeded(seed, build).double()
    if parametrization == "mup":
        import torch

        with torch.no_grad():
            for layer in model:
                if getattr(layer, "role", None) == "output":
                    layer.weight.mul_(mult ** 0.5)
                    layer.bias.mul_(mult ** 0.5)
                elif getattr(layer, "role", None) == "hidden":
                    layer.bias.mul_(mult ** 0.5)  # the bias of a layer whose fan-in grows
    model.parametrization, model.width_mult = parametrization, mult
    return model


def adam_param_groups(model: Any, lr: float, weight_decay: float = 0.0) -> list[dict]:
    r"""Adam's param groups for a :func:`width_mlp`: one LR for all in SP; μP's per-layer LRs in μP.

    In μP (``mup.MuAdam``), a weight whose two dimensions both grow with the
    width (a hidden-to-hidden matrix) gets ``lr / m`` and ``weight_decay * m``;
    everything else (the input layer, biases, the output layer, whose growing
    dimension is one) keeps ``lr``. Pass the groups to ``torch.optim.Adam`` or ``AdamW``.
    """
    from torch import nn

    lr = positive("lr", lr)
    weight_decay = as_float("weight_decay", weight_decay)
    parametrization = getattr(model, "parametrization", None)
    if parametrization not in PARAMETRIZATIONS:
        raise ValueError(_("model must be built by lrcourse.scale.width_mlp, got a model without a parametrization"))
    if parametrization == "sp":
        return [{"params": list(model.parameters()), "lr": lr, "weight_decay": weight_decay}]
    mult = model.width_mult
    hidden, other = [], []
    for layer in model:
        if isinstance(layer, nn.Linear):
            (hidden if layer.role == "hidden" else other).append(layer.weight)
            other.append(layer.bias)
    groups = [{"params": hidden, "lr": lr / mult, "weight_decay": weight_decay * mult}] if hidden else []
    return groups + [{"params": other, "lr": lr, "weight_decay": weight_decay}]


# --------------------------------------------------------------------------- a loop for the NumPy optimizers
class Run:
    """What :func:`fit` recorded: per step the LR (and ``d`` for D-Adaptation and Prodigy), and at each
    evaluation the full training loss, validation loss and validation accuracy."""

    def __init__(self, label: str):
        self.label = label
        self.lrs: list[float] = []
        self.ds: list[float] = []
        self.eval_steps: list[int] = []
        self.train_loss: list[float] = []
        self.val_loss: list[float] = []
        self.val_accuracy: list[float] = []
        self.diverged = False
        self.params: list[np.ndarray] = []

    @property
    def final_loss(self) -> float:
        """The last full training loss (``inf`` after a divergence)."""
        return self.train_loss[-1] if self.train_loss and not self.diverged else math.inf

    def __repr__(self) -> str:
        return f"Run({self.label!r}, steps={len(self.lrs)}, final_loss={self.final_loss:.4f})"


def fit(model: Any, split: Any, optimizer: Any, steps: int, batch_size: int = 32, schedule: Any = None,
        seed: int = 0, eval_every: int | None = None, label: str = "", evaluate_at: str = "params") -> Run:
    """Train a torch ``model`` with one of :mod:`lrcourse.optimizers`' NumPy optimizers for ``steps`` steps.

    Each step takes a mini-batch of ``split``'s training set (reshuffled every
    epoch from ``seed``), computes the cross-entropy's gradient with torch and
    hands the parameters and gradients to ``optimizer.step``: as a list of
    tensors for the layer-wise and distance-estimating optimizers
    (:class:`lrcourse.optimizers.MultiTensorOptimizer`), as one flat vector for
    the element-wise ones (which is the same thing for them). ``schedule``
    (``step -> lr``) sets ``optimizer.lr`` before each step. Every
    ``eval_every`` steps (and at the end) it records the loss on the whole
    training set and on the validation set; with ``evaluate_at="average"`` a
    schedule-free optimizer is evaluated at its average ``x``
    (:meth:`eval_params`), as it should be. The model is left with the last
    evaluated weights. A non-finite loss stops the run (``diverged``). ``evaluate_at="z"`` evaluates a
    schedule-free optimizer's ``z``, the sequence its base optimizer produces with a constant LR.
    """
    import torch
    from torch.nn import functional as F

    from .optimizers import MultiTensorOptimizer, Optimizer

    if not isinstance(optimizer, Optimizer):
        raise ValueError(_("optimizer must be an lrcourse.optimizers optimizer, got {type}").format(
            type=type(optimizer).__name__))
    steps = integer("steps", steps, minimum=1)
    batch_size = integer("batch_size", batch_size, minimum=1)
    eval_every = steps if eval_every is None else integer("eval_every", eval_every, minimum=1)
    if evaluate_at not in ("params", "average", "z"):
        raise ValueError(_("evaluate_at must be 'params', 'average' or 'z', got {evaluate_at!r}").format(
            evaluate_at=evaluate_at))
    if evaluate_at != "params" and not hasattr(optimizer, "eval_params"):
        raise ValueError(_("evaluate_at={evaluate_at!r} needs a schedule-free optimizer (one with eval_params)").format(
            evaluate_at=evaluate_at))
    optimizer.reset()
    tensors = list(model.parameters())
    shapes = [tuple(p.shape) for p in tensors]
    sizes = [p.numel() for p in tensors]
    layered = isinstance(optimizer, MultiTensorOptimizer)

    def pack(arrays: list) -> Any:
        return arrays if layered else np.concatenate([a.ravel() for a in arrays])

    def unpack(value: Any) -> list:
        if layered:
            return list(value)
        return [part.reshape(s) for part, s in zip(np.split(value, np.cumsum(sizes)[:-1]), shapes)]

    def load(arrays: list) -> None:
        with torch.no_grad():
            for p, a in zip(tensors, arrays):
                p.copy_(torch.from_numpy(a))

    X = torch.as_tensor(split.X_train, dtype=torch.float64)
    y = torch.as_tensor(split.y_train, dtype=torch.int64)
    X_val = torch.as_tensor(split.X_val, dtype=torch.float64)
    y_val = torch.as_tensor(split.y_val, dtype=torch.int64)
    generator = torch.Generator().manual_seed(integer("seed", seed, minimum=0))
    run = Run(label or repr(optimizer))
    params = pack([p.detach().numpy().copy() for p in tensors])
    order, start = torch.randperm(len(y), generator=generator), 0

    def evaluate(step: int) -> bool:
        if evaluate_at == "average":
            point = optimizer.eval_params(params)
        elif evaluate_at == "z":  # the base optimizer's own sequence (before the first step: the start)
            point = [st.get("z", p) for st, p in zip(optimizer.tensor_state, params)]
        else:
            point = params
        load(unpack(point))
        with torch.no_grad():
            loss = F.cross_entropy(model(X), y).item()
            out = model(X_val)
            val = F.cross_entropy(out, y_val).item()
            acc = (out.argmax(dim=1) == y_val).double().mean().item()
        run.eval_steps.append(step)
        run.train_loss.append(loss)
        run.val_loss.append(val)
        run.val_accuracy.append(acc)
        return math.isfinite(loss)

    with np.errstate(all="ignore"):
        for t in range(steps):
            if start >= len(y):
                order, start = torch.randperm(len(y), generator=generator), 0
            batch = order[start:start + batch_size]
            start += batch_size
            if schedule is not None:
                optimizer.lr = schedule(t)
            load(unpack(params))
            for p in tensors:
                p.grad = None
            loss = F.cross_entropy(model(X[batch]), y[batch])
            if not math.isfinite(loss.item()):
                run.diverged = True
                break
            loss.backward()
            run.lrs.append(optimizer.lr)
            params = optimizer.step(params, pack([p.grad.numpy().copy() for p in tensors]))
            if not all(np.all(np.isfinite(a)) for a in (params if layered else [params])):
                run.diverged = True
                break
            if hasattr(optimizer, "d"):
                run.ds.append(optimizer.d)
            if (t + 1) % eval_every == 0 or t + 1 == steps:
                if not evaluate(t + 1):
                    run.diverged = True
                    break
    run.params = unpack(params)
    return run


def width_sweep(split: Any, width: int, lrs: Any, parametrization: str = "sp", base_width: int = 16,
                depth: int = 2, steps: int = 100, batch_size: int = 32, seed: int = 0,
                betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> np.ndarray:
    """Train one :func:`width_mlp` per LR with Adam, all at once; return each one's final training loss.

    The ``K`` models start from the same weights and see the same batches;
    their weights are stacked on a leading axis, ``(K, out, in)``, so one
    batched matrix product (``torch.baddbmm``) serves all of them, and the
    Adam update (:class:`lrcourse.stacked.StackedOptimizer`) multiplies by the ``K`` LRs (times μP's
    per-layer factor from :func:`adam_param_groups`). Each loss equals, up to rounding, training
    ``width_mlp(..., seed=seed)`` with ``torch.optim.Adam(adam_param_groups(model, lr))``
    on the same batches (``tests/test_scale.py`` checks it). A diverged
    model's loss is ``inf``. Classification splits only.
    """
    import torch
    from torch import nn
    from torch.nn import functional as F

    from .stacked import StackedOptimizer, stack_linear

    lrs = np.asarray(lrs, dtype=float)
    if lrs.ndim != 1 or lrs.size == 0:
        raise ValueError(_("lrs must be a non-empty 1-D sequence of learning rates, got {lrs!r}").format(lrs=lrs))
    for lr in lrs:
        positive("lrs", lr)
    steps = integer("steps", steps, minimum=1)
    batch_size = integer("batch_size", batch_size, minimum=1)
    k = lrs.size
    template = width_mlp(split.num_features, split.num_classes, width, base_width, depth, parametrization, seed)
    groups = adam_param_groups(template, 1.0)
    factor = {id(p): g["lr"] for g in groups for p in g["params"]}  # μP's LR multiplier per tensor
    lr_k = torch.as_tensor(lrs, dtype=torch.float64).view(k, 1, 1)
    linears = [m for m in template if isinstance(m, nn.Linear)]
    params, scales = [], []
    for layer in linears:
        params += stack_linear(layer, k)
        scales += [lr_k * factor[id(layer.weight)], lr_k * factor[id(layer.bias)]]
    for p in params:
        p.requires_grad_()
    readout = 1.0 / template.width_mult if parametrization == "mup" else 1.0
    stepper = StackedOptimizer(params, scales, "adam", betas=betas, eps=eps)

    def forward(xt: Any) -> Any:  # xt: (K, features, batch)
        out = xt
        last = len(params) - 2
        for i in range(0, len(params), 2):
            if i == last:
                out = out * readout
            out = torch.baddbmm(params[i + 1], params[i], out)
            if i != last:
                out = torch.relu(out)
        return out  # (K, classes, batch)

    X = torch.as_tensor(split.X_train, dtype=torch.float64)
    y = torch.as_tensor(split.y_train, dtype=torch.int64)
    n = len(y)
    generator = torch.Generator().manual_seed(integer("seed", seed, minimum=0))
    order, start = torch.randperm(n, generator=generator), 0
    for t in range(1, steps + 1):
        if start >= n:
            order, start = torch.randperm(n, generator=generator), 0
        batch = order[start:start + batch_size]
        start += batch_size
        xt = X[batch].t().unsqueeze(0).expand(k, -1, -1)
        for p in params:
            p.grad = None
        out = forward(xt)
        loss = F.cross_entropy(out, y[batch].expand(k, -1), reduction="none").mean(dim=1)
        loss.sum().backward()
        with torch.no_grad():  # torch.optim.Adam's arithmetic, with one LR per model
            stepper.step([p.grad for p in params])
    with torch.no_grad():
        out = forward(X.t().unsqueeze(0).expand(k, -1, -1))
        final = F.cross_entropy(out, y.expand(k, -1), reduction="none").mean(dim=1).numpy()
    return np.where(np.isfinite(final), final, np.inf)
