"""Train ``K`` models at once: their tensors stacked on a leading axis, one update rule for all, one LR each.

:func:`lrcourse.search.sweep` (notebooks 03, 05 and 06's LR sweeps) and :func:`lrcourse.scale.width_sweep`
(notebook 07's widths) stack ``K`` copies of a model and take one step for all of them; the update rules
they share are here, once: :class:`StackedOptimizer` runs torch's SGD (with momentum), RMSprop, Adam and
AdamW arithmetic on stacked tensors, each model with its own LR (and weight decay) through a tensor that
broadcasts against its parameters.

The rules are held equal, model by model, to :mod:`lrcourse.optimizers` (the NumPy optimizers of
notebook 03) and so to ``torch.optim`` (``tests/test_stacked.py``); the sweeps built on them are held
equal to separate ``torch.optim`` runs (``tests/test_search.py``, ``tests/test_scale.py``).

>>> import torch
>>> params = [torch.zeros(2, 3)]                          # two models, three weights each
>>> lrs = [torch.tensor([[0.1], [0.01]])]                 # one LR per model, broadcast over its weights
>>> opt = StackedOptimizer(params, lrs, "sgd")
>>> opt.step([torch.ones(2, 3)])
>>> params[0][:, 0].tolist()
[-0.1, -0.01]
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from ._validation import choice_error
from .i18n import gettext_ as _

__all__ = ["RULES", "StackedOptimizer", "stack_linear"]

#: The update rules a stack can take, named as :func:`lrcourse.search.sweep`'s ``optimizer`` names them.
RULES = ("sgd", "adam", "adamw", "rmsprop")


class StackedOptimizer:
    """One optimizer for ``K`` stacked models, in place, under ``torch.no_grad()`` by its caller.

    ``params``: the stacked tensors (the model on a leading axis, or any layout the caller chooses);
    ``lrs[i]`` broadcasts each model's LR against ``params[i]``; ``decays[i]`` likewise its weight decay
    (``None``: no decay). ``rule`` is one of :data:`RULES`: ``"sgd"`` (``momentum`` as torch's SGD,
    no dampening or Nesterov), ``"rmsprop"`` (``alpha``, ``eps``; not centered, no momentum), ``"adam"``
    (weight decay added to the gradient, L2) or ``"adamw"`` (the weights shrunk by ``lr * decay`` first),
    with ``betas`` and ``eps``. SGD and RMSprop add the weight decay to the gradient, as torch does.
    """

    def __init__(self, params: Sequence[Any], lrs: Sequence[Any], rule: str = "sgd", decays: Sequence[Any] | None = None,
                 momentum: float = 0.0, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 alpha: float = 0.99):
        if rule not in RULES:
            raise choice_error("rule", rule, RULES)
        if len(lrs) != len(params) or (decays is not None and len(decays) != len(params)):
            raise ValueError(_("lrs and decays must have one entry per tensor ({n_params}), got {n_lrs} "
                               "and {value}").format(
                n_params=len(params), n_lrs=len(lrs), value=None if decays is None else len(decays)))
        self.params, self.lrs, self.decays, self.rule = list(params), list(lrs), decays, rule
        self.momentum, self.betas, self.eps, self.alpha = momentum, betas, eps, alpha
        self.t = 0  # steps taken
        self._buffers: list | None = None  # momentum (SGD), square average (RMSprop), or [m, v] (Adam)

    def step(self, grads: Sequence[Any]) -> None:
        """One step of every model, given each stacked tensor's gradient (left unchanged)."""
        import torch

        self.t += 1
        params = self.params
        grads = list(grads)
        if self.decays is not None and self.rule == "adamw":  # decoupled: AdamW shrinks the weights first
            for p, s, d in zip(params, self.lrs, self.decays, strict=True):
                p.mul_(1 - s * d)
        elif self.decays is not None:  # L2: torch's SGD, RMSprop and Adam add weight_decay * w to the gradient
            grads = [g + d * p for g, d, p in zip(grads, self.decays, params, strict=True)]
        if self.rule == "sgd":
            if self.momentum:
                if self._buffers is None:
                    self._buffers = [g.clone() for g in grads]
                else:
                    torch._foreach_mul_(self._buffers, self.momentum)
                    torch._foreach_add_(self._buffers, grads)
                grads = self._buffers
            torch._foreach_sub_(params, torch._foreach_mul(grads, self.lrs))
        elif self.rule == "rmsprop":
            if self._buffers is None:
                self._buffers = [torch.zeros_like(p) for p in params]
            for p, g, v, s in zip(params, grads, self._buffers, self.lrs, strict=True):
                v.mul_(self.alpha).addcmul_(g, g, value=1 - self.alpha)
                p.sub_(s * g / (v.sqrt() + self.eps))
        else:
            if self._buffers is None:
                self._buffers = [[torch.zeros_like(p) for p in params] for _ in range(2)]
            beta1, beta2 = self.betas
            bc1, bc2_sqrt = 1 - beta1 ** self.t, math.sqrt(1 - beta2 ** self.t)
            for p, g, m, v, s in zip(params, grads, *self._buffers, self.lrs, strict=True):
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                p.sub_(s / bc1 * m / (v.sqrt() / bc2_sqrt + self.eps))


def stack_linear(layer: Any, k: int) -> list:
    """``K`` copies of a ``torch.nn.Linear``'s weight and bias, stacked for a batched product: ``(K, out, in)`` and
    ``(K, out, 1)`` (activations kept as ``(K, units, batch)``, ``torch.baddbmm(bias, weight, x)``); new leaf
    tensors, detached from ``layer``."""
    return [layer.weight.detach().expand(k, -1, -1).clone(), layer.bias.detach().view(1, -1, 1).repeat(k, 1, 1)]
