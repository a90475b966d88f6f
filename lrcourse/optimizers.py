"""Momentum and adaptive optimizers in NumPy, with torch.optim's names, defaults and update rules.

Each class is a short, readable version of its ``torch.optim`` counterpart: the
same hyperparameter names and defaults, and the same arithmetic, so its
iterates equal torch's (``tests/test_optimizers.py`` checks it over hundreds of
steps, random problems and every flag combination, to 1e-10 in float64).

``new_params = opt.step(params, grad)`` works on arrays of any shape and never
modifies its inputs; the optimizer keeps its state (momentum buffers, moment
estimates, the step count) for one parameter array. ``opt.lr`` may be changed
between steps, so any schedule from :mod:`lrcourse.schedules` can drive it.

>>> import numpy as np
>>> opt = Adam(lr=0.1)
>>> opt.step(np.array([1.0, -2.0]), np.array([0.5, 0.5]))
array([ 0.9, -2.1])

:func:`run` applies an optimizer to a toy loss of :mod:`lrcourse.losses` and
returns the same :class:`lrcourse.descent.Trajectory` as gradient descent, so
notebook 01's plots work unchanged.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from . import _validation as check
from .descent import DEFAULT_MAX_NORM, Trajectory
from .descent import run as _run_descent

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "run", "steps_to_reach", "heavy_ball",
           "OPTIMIZERS"]


def _beta(name: str, value: Any) -> float:
    value = check.as_float(name, value)
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return value


class Optimizer:
    """Base class: validation of ``lr``, the state of one parameter array, ``step`` and ``reset``."""

    #: The torch.optim class this one equals.
    torch_name = ""

    def __init__(self, lr: float):
        self.lr = lr
        self.reset()

    @property
    def lr(self) -> float:
        """The learning rate of the next step (settable, e.g. by a schedule)."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = check.non_negative("lr", value)

    def reset(self) -> None:
        """Forget the state (buffers, moments, step count), as a freshly made optimizer."""
        self.state: dict[str, Any] = {}
        self.steps = 0
        self._shape: tuple | None = None

    def step(self, params, grad) -> np.ndarray:
        """One update: return the new parameters (a new array; ``params`` and ``grad`` are not changed)."""
        p = check.finite_array("params", params)
        g = np.array(grad, dtype=np.float64)
        if g.shape != p.shape:
            raise ValueError(f"grad must have the shape of params {p.shape}, got shape {g.shape}")
        if self._shape is not None and p.shape != self._shape:
            raise ValueError(f"params must keep the shape {self._shape} this optimizer has state for, got "
                             f"shape {p.shape} (call reset() to start over)")
        self._shape = p.shape
        self.steps += 1
        return self._update(p, g)

    def _update(self, p: np.ndarray, g: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def hyperparameters(self) -> dict:
        """The constructor arguments, as torch.optim names them."""
        return {"lr": self.lr, **self._hyper}

    def to_torch(self, params: list) -> Any:
        """The torch.optim optimizer with the same hyperparameters, over ``params``."""
        import torch

        return getattr(torch.optim, self.torch_name)(params, **self.hyperparameters)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    r"""Stochastic gradient descent with (heavy-ball or Nesterov) momentum (``torch.optim.SGD``).

    .. math::
        g \leftarrow g + \lambda\theta,\quad
        b \leftarrow \mu b + (1-\tau) g \;(b = g \text{ on the first step}),\quad
        \theta \leftarrow \theta - \eta\,(g + \mu b \text{ if nesterov else } b)

    >>> opt = SGD(lr=0.1, momentum=0.9)
    >>> x = opt.step(np.array([1.0]), np.array([1.0])); opt.step(x, np.array([1.0]))
    array([0.71])
    """

    torch_name = "SGD"

    def __init__(self, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        self._hyper = dict(momentum=check.non_negative("momentum", momentum),
                           dampening=check.as_float("dampening", dampening),
                           weight_decay=check.non_negative("weight_decay", weight_decay),
                           nesterov=bool(nesterov))
        if nesterov and (self._hyper["momentum"] <= 0 or self._hyper["dampening"] != 0):
            raise ValueError("nesterov=True requires momentum > 0 and dampening = 0, got "
                             f"momentum={momentum!r}, dampening={dampening!r}")
        super().__init__(lr)

    def _update(self, p, g):
        h = self._hyper
        if h["weight_decay"]:
            g = g + h["weight_decay"] * p
        if h["momentum"]:
            buf = self.state.get("momentum_buffer")
            buf = g.copy() if buf is None else h["momentum"] * buf + (1 - h["dampening"]) * g
            self.state["momentum_buffer"] = buf
            g = g + h["momentum"] * buf if h["nesterov"] else buf
        return p - self.lr * g


class Adagrad(Optimizer):
    r"""AdaGrad: per-parameter steps scaled by the root of the summed squared gradients (``torch.optim.Adagrad``).

    .. math::
        s \leftarrow s + g^2,\quad
        \theta \leftarrow \theta - \frac{\eta}{1 + (t-1)\,\text{lr\_decay}}\,\frac{g}{\sqrt{s} + \epsilon}
    """

    torch_name = "Adagrad"

    def __init__(self, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10):
        self._hyper = dict(lr_decay=check.non_negative("lr_decay", lr_decay),
                           weight_decay=check.non_negative("weight_decay", weight_decay),
                           initial_accumulator_value=check.non_negative("initial_accumulator_value",
                                                                        initial_accumulator_value),
                           eps=check.non_negative("eps", eps))
        super().__init__(lr)

    def _update(self, p, g):
        h = self._hyper
        if h["weight_decay"]:
            g = g + h["weight_decay"] * p
        clr = self.lr / (1 + (self.steps - 1) * h["lr_decay"])
        s = self.state.get("sum", np.full_like(p, h["initial_accumulator_value"])) + g * g
        self.state["sum"] = s
        return p - clr * g / (np.sqrt(s) + h["eps"])


class RMSprop(Optimizer):
    r"""RMSProp: divide by the root of a moving average of squared gradients (``torch.optim.RMSprop``).

    .. math::
        v \leftarrow \alpha v + (1-\alpha) g^2,\quad
        \theta \leftarrow \theta - \eta\,\frac{g}{\sqrt{v - \bar g^2 \,[\text{centered}]} + \epsilon}
    """

    torch_name = "RMSprop"

    def __init__(self, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False):
        self._hyper = dict(alpha=check.non_negative("alpha", alpha), eps=check.non_negative("eps", eps),
                           weight_decay=check.non_negative("weight_decay", weight_decay),
                           momentum=check.non_negative("momentum", momentum), centered=bool(centered))
        super().__init__(lr)

    def _update(self, p, g):
        h = self._hyper
        if h["weight_decay"]:
            g = g + h["weight_decay"] * p
        alpha = h["alpha"]
        v = alpha * self.state.get("square_avg", np.zeros_like(p)) + (1 - alpha) * g * g
        self.state["square_avg"] = v
        if h["centered"]:
            m = self.state.get("grad_avg", np.zeros_like(p))
            m = m + (1 - alpha) * (g - m)
            self.state["grad_avg"] = m
            avg = np.sqrt(v - m * m) + h["eps"]
        else:
            avg = np.sqrt(v) + h["eps"]
        if h["momentum"] > 0:
            buf = h["momentum"] * self.state.get("momentum_buffer", np.zeros_like(p)) + g / avg
            self.state["momentum_buffer"] = buf
            return p - self.lr * buf
        return p - self.lr * g / avg


class Adam(Optimizer):
    r"""Adam: momentum on the gradient and on its square, with bias correction (``torch.optim.Adam``).

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad
        \theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t}\,\frac{m}{\sqrt{v}/\sqrt{1-\beta_2^t} + \epsilon}

    ``weight_decay`` adds ``weight_decay * θ`` to the gradient (L2 regularization);
    :class:`AdamW` decouples it. ``amsgrad`` uses the running maximum of ``v``.
    """

    torch_name = "Adam"
    _decoupled = False

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False):
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}") from None
        self._hyper = dict(betas=(_beta("betas[0]", beta1), _beta("betas[1]", beta2)),
                           eps=check.non_negative("eps", eps),
                           weight_decay=check.non_negative("weight_decay", weight_decay), amsgrad=bool(amsgrad))
        super().__init__(lr)

    def _update(self, p, g):
        h = self._hyper
        beta1, beta2 = h["betas"]
        if h["weight_decay"]:
            if self._decoupled:
                p = p * (1 - self.lr * h["weight_decay"])
            else:
                g = g + h["weight_decay"] * p
        m = self.state.get("exp_avg", np.zeros_like(p))
        m = m + (1 - beta1) * (g - m)
        v = beta2 * self.state.get("exp_avg_sq", np.zeros_like(p)) + (1 - beta2) * g * g
        self.state["exp_avg"], self.state["exp_avg_sq"] = m, v
        if h["amsgrad"]:
            v = np.maximum(self.state.get("max_exp_avg_sq", v), v)
            self.state["max_exp_avg_sq"] = v
        t = self.steps
        step_size = self.lr / (1 - beta1 ** t)
        denom = np.sqrt(v) / math.sqrt(1 - beta2 ** t) + h["eps"]
        return p - step_size * m / denom


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter 2019; ``torch.optim.AdamW``).

    Before the Adam step the weights shrink by ``lr * weight_decay``:
    :math:`\theta \leftarrow \theta\,(1 - \eta\lambda)`; the decay never enters
    the moment estimates.
    """

    torch_name = "AdamW"
    _decoupled = True

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(lr, betas, eps, weight_decay, amsgrad)


#: The optimizers by name.
OPTIMIZERS: dict[str, type[Optimizer]] = {c.__name__: c for c in (SGD, Adagrad, RMSprop, Adam, AdamW)}


def run(optimizer: Optimizer, loss, x0, num_steps: int = 100, lr: float | Callable[[int], float] | None = None,
        *, max_norm: float = DEFAULT_MAX_NORM, label: str | None = None) -> Trajectory:
    """Apply ``optimizer`` to a toy ``loss`` from ``x0``; return a :class:`lrcourse.descent.Trajectory`.

    The optimizer is reset first. ``lr`` (a number or a schedule ``step -> lr``)
    overrides the optimizer's own; divergence is handled as in
    :func:`lrcourse.descent.run`.

    >>> from lrcourse.losses import ill_conditioned
    >>> run(SGD(lr=0.1, momentum=0.5), ill_conditioned(10.0), [1.0, 1.0], 50).final_loss < 1e-6
    True
    """
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"optimizer must be an lrcourse.optimizers.Optimizer, got {type(optimizer).__name__}")
    optimizer.reset()

    def update(x: np.ndarray, grad: np.ndarray, eta: float) -> np.ndarray:
        optimizer.lr = eta
        return optimizer.step(x, grad)

    return _run_descent(loss, x0, optimizer.lr if lr is None else lr, num_steps, max_norm=max_norm,
                        label=label or repr(optimizer), update=update)


def steps_to_reach(optimizer: Optimizer, loss, x0, tol: float, max_steps: int = 100_000) -> int | None:
    """The number of steps ``optimizer`` needs until ``loss(x) < tol``, or ``None`` if not within ``max_steps``.

    The optimizer is reset first and keeps its own LR; 0 means ``x0`` is already there.

    >>> from lrcourse.losses import ill_conditioned
    >>> steps_to_reach(SGD(lr=1.0), ill_conditioned(1.0), [1.0, 1.0], tol=1e-8)
    1
    """
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"optimizer must be an lrcourse.optimizers.Optimizer, got {type(optimizer).__name__}")
    tol = check.positive("tol", tol)
    max_steps = check.integer("max_steps", max_steps, minimum=0)
    optimizer.reset()
    x = check.finite_array("x0", x0)
    with np.errstate(all="ignore"):
        for t in range(max_steps + 1):
            value = float(loss(x))
            if value < tol:
                return t
            if not math.isfinite(value) or t == max_steps:
                return None
            x = optimizer.step(x, loss.grad(x))
    return None  # pragma: no cover - the loop always returns


def heavy_ball(loss) -> SGD:
    r"""Polyak's heavy-ball momentum tuned for a quadratic with eigenvalues in ``[mu, L]``.

    ``lr = 4 / (sqrt(L) + sqrt(mu))**2`` and ``momentum = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))**2``
    give the rate :math:`(\sqrt\kappa - 1)/(\sqrt\kappa + 1)` per step, against
    :math:`(\kappa - 1)/(\kappa + 1)` for gradient descent at its best LR.
    ``torch.optim.SGD``'s momentum is heavy-ball momentum: ``lr`` and
    ``momentum`` are Polyak's step and momentum coefficient.

    >>> from lrcourse.losses import ill_conditioned
    >>> opt = heavy_ball(ill_conditioned(100.0))   # L = 100, mu = 1
    >>> round(opt.lr, 6), round(opt.hyperparameters["momentum"], 6)   # 4/11**2, (9/11)**2
    (0.033058, 0.669421)
    """
    L, mu = float(loss.L), float(loss.mu)
    root_kappa = math.sqrt(L / mu)
    return SGD(lr=4.0 / (math.sqrt(L) + math.sqrt(mu)) ** 2,
               momentum=((root_kappa - 1.0) / (root_kappa + 1.0)) ** 2)
