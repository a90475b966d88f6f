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

Notebook 07's optimizers (:data:`AT_SCALE`) have no ``torch.optim`` counterpart:
:class:`LARS` and :class:`LAMB` (``pytorch_optimizer``), :class:`SGDScheduleFree` and
:class:`AdamWScheduleFree` (Meta's ``schedulefree``), :class:`DAdaptAdam`
(``dadaptation``) and :class:`Prodigy` (``prodigyopt``) each equal the class their
``reference`` names, with the same arguments
(``tests/test_optimizers_at_scale.py``, every flag combination, 1e-9). Their
``step`` takes one array or a list of arrays, one per tensor, because their
rules look at whole tensors (trust ratios) or at all of them (the ``d`` estimates).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from . import _validation as check
from .descent import DEFAULT_MAX_NORM, Trajectory
from .descent import run as _run_descent
from .i18n import gettext_ as _

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "run", "steps_to_reach", "heavy_ball",
           "OPTIMIZERS", "MultiTensorOptimizer", "LARS", "LAMB", "SGDScheduleFree", "AdamWScheduleFree",
           "DAdaptAdam", "Prodigy", "AT_SCALE"]


def _beta(name: str, value: Any) -> float:
    value = check.as_float(name, value)
    if not 0 <= value < 1:
        raise ValueError(_("{name} must be in [0, 1), got {value!r}").format(name=name, value=value))
    return value


def _betas(betas: Any) -> tuple[float, float]:
    try:
        beta1, beta2 = betas
    except (TypeError, ValueError):
        raise ValueError(_("betas must be a pair (beta1, beta2), got {betas!r}").format(betas=betas)) from None
    return _beta("betas[0]", beta1), _beta("betas[1]", beta2)


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
            raise ValueError(_("grad must have the shape of params {shape}, got shape {shape2}").format(
                shape=p.shape, shape2=g.shape))
        if self._shape is not None and p.shape != self._shape:
            raise ValueError(_("params must keep the shape {shape} this optimizer has state for, got shape {shape2} "
                               "(call reset() to start over)").format(
                shape=self._shape, shape2=p.shape))
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
            raise ValueError(_("nesterov=True requires momentum > 0 and dampening = 0, got momentum={momentum!r}, "
                               "dampening={dampening!r}").format(
                momentum=momentum, dampening=dampening))
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
        self._hyper = dict(betas=_betas(betas),
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


# --------------------------------------------------------------------------- notebook 07: the LR at scale
def _tensor_list(value: Any) -> bool:
    """True for a list or tuple of NumPy arrays: several parameter tensors (layers) in one step."""
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(isinstance(v, np.ndarray) for v in value)


class MultiTensorOptimizer(Optimizer):
    """Base of the optimizers that look at whole tensors, or at all of them at once.

    LARS and LAMB scale each tensor's step by a trust ratio of norms, so they need
    to know where one layer ends; D-Adaptation and Prodigy estimate one distance
    ``d`` from all tensors together. ``step`` therefore takes either one array
    (one tensor) or a list of arrays (one per tensor, e.g. ``[W1, b1, W2, b2]``)
    and returns the same kind. The state of tensor ``i`` is ``tensor_state[i]``;
    what is shared by all tensors is in ``state``.

    ``reference`` names the maintained package and class that the optimizer
    equals (``tests/test_optimizers_at_scale.py`` holds it against them);
    :meth:`to_reference` builds that optimizer with the same arguments.
    """

    #: (package, class) of the reference implementation.
    reference: tuple[str, str] = ("", "")

    def reset(self) -> None:
        super().reset()
        self.tensor_state: list[dict[str, Any]] = []

    def step(self, params, grad):
        """One update of one array or of a list of arrays; returns new arrays, never changes its inputs."""
        many = _tensor_list(params)
        if many:
            if not isinstance(grad, (list, tuple)) or len(grad) != len(params):
                raise ValueError(_("grad must be a list of {n_params} arrays, one per array of params, got "
                                   "{type}").format(
                    n_params=len(params), type=type(grad).__name__))
            ps = [check.finite_array(f"params[{i}]", p) for i, p in enumerate(params)]
            gs = [np.array(g, dtype=np.float64) for g in grad]
        else:
            ps = [check.finite_array("params", params)]
            gs = [np.array(grad, dtype=np.float64)]
        for i, (p, g) in enumerate(zip(ps, gs)):
            if g.shape != p.shape:
                name = f"grad[{i}]" if many else "grad"
                raise ValueError(_("{name} must have the shape of params {shape}, got shape {shape2}").format(
                    name=name, shape=p.shape, shape2=g.shape))
        shapes = tuple(p.shape for p in ps)
        if self._shape is not None and shapes != self._shape:
            want = self._shape if many else self._shape[0]
            raise ValueError(_("params must keep the shape {want} this optimizer has state for, got shape {value} "
                               "(call reset() to start over)").format(
                want=want, value=shapes if many else shapes[0]))
        if self._shape is None:
            self.tensor_state = [{} for _ in ps]
        self._shape = shapes
        self.steps += 1
        new = [np.asarray(x, dtype=np.float64) for x in self._update_all(ps, gs)]  # 0-d stays an array
        return new if many else new[0]

    def _update(self, p, g):  # pragma: no cover - step() calls _update_all
        return self._update_all([p], [g])[0]

    def _update_all(self, ps: list[np.ndarray], gs: list[np.ndarray]) -> list[np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def reference_arguments(self) -> dict:
        """The reference class's keyword arguments for the same optimizer."""
        return dict(self.hyperparameters)

    def to_reference(self, params: list) -> Any:
        """The reference package's optimizer (a test dependency, imported here) over ``params``."""
        import importlib

        package, name = self.reference
        return getattr(importlib.import_module(package), name)(params, **self.reference_arguments())

    def to_torch(self, params: list) -> Any:
        """There is no torch.optim counterpart: the same as :meth:`to_reference`."""
        return self.to_reference(params)


def _unit_closed(name: str, value: Any) -> float:
    value = check.as_float(name, value)
    if not 0 <= value <= 1:
        raise ValueError(_("{name} must be in [0, 1], got {value!r}").format(name=name, value=value))
    return value


def _norm(x: np.ndarray) -> float:
    """The 2-norm of all entries (Frobenius for a matrix), as ``torch.linalg.norm`` computes it."""
    return float(np.sqrt(np.sum(x * x)))


class LARS(MultiTensorOptimizer):
    r"""LARS: SGD whose step for each weight tensor is scaled by a trust ratio (You, Gitman & Ginsburg 2017).

    For each tensor with two or more dimensions (weights, not biases or norms):

    .. math::
        \text{trust} = \frac{\tau\,\lVert\theta\rVert}{\lVert g\rVert + \lambda\lVert\theta\rVert},\quad
        g \leftarrow \text{trust}\,(g + \lambda\theta),\quad
        b \leftarrow \mu b + (1-\tau_d) g,\quad \theta \leftarrow \theta - \eta\,b

    (trust = 1 when a norm is 0). Scalars and vectors take a plain momentum-SGD
    step, without weight decay or trust ratio, as in ``pytorch_optimizer.LARS``,
    which this class equals with the same arguments. Unlike ``torch.optim.SGD``
    the momentum buffer starts at 0, so the first step is ``(1 - dampening) g``.

    >>> opt = LARS(lr=1.0, momentum=0.0, trust_coefficient=0.1)
    >>> w = np.array([[3.0, 4.0]]); g = np.array([[0.0, 10.0]])   # |w| = 5, |g| = 10
    >>> opt.step(w, g)            # trust = 0.1 * 5 / 10 = 0.05: the step is 0.05 * g
    array([[3. , 3.5]])
    """

    reference = ("pytorch_optimizer", "LARS")

    def __init__(self, lr: float = 1e-3, weight_decay: float = 0.0, momentum: float = 0.9, dampening: float = 0.0,
                 trust_coefficient: float = 1e-3, nesterov: bool = False):
        self._hyper = dict(weight_decay=check.non_negative("weight_decay", weight_decay),
                           momentum=_beta("momentum", momentum), dampening=_beta("dampening", dampening),
                           trust_coefficient=check.non_negative("trust_coefficient", trust_coefficient),
                           nesterov=bool(nesterov))
        super().__init__(lr)

    def _update_all(self, ps, gs):
        h = self._hyper
        wd, mu = h["weight_decay"], h["momentum"]
        out = []
        for p, g, st in zip(ps, gs, self.tensor_state):
            if p.ndim > 1:
                p_norm, g_norm = _norm(p), _norm(g)
                denom = g_norm + wd * p_norm
                trust = h["trust_coefficient"] * p_norm / denom if p_norm > 0 and denom > 0 else 1.0
                st["trust_ratio"] = trust
                g = (g + wd * p) * trust
            if mu > 0:
                buf = mu * st.get("momentum_buffer", np.zeros_like(p)) + (1 - h["dampening"]) * g
                st["momentum_buffer"] = buf
                g = g + mu * buf if h["nesterov"] else buf
            out.append(p - self.lr * g)
        return out


class LAMB(MultiTensorOptimizer):
    r"""LAMB: Adam's direction, with each tensor's step scaled by a trust ratio (You et al. 2020).

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad
        u = \frac{m}{\sqrt v + \epsilon} \;[+\,\lambda\theta],\quad
        \text{trust} = \frac{\min(\lVert\theta\rVert, 10)}{\lVert u\rVert + \epsilon},\quad
        \theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t}\,\text{trust}\,u

    (trust = 1 when a norm is 0). The trust ratio makes the step of every
    tensor :math:`\eta \lVert\theta\rVert` long, whatever its gradient's scale:
    the step is relative to the weight. ``bias_correction=True`` (the default
    of ``pytorch_optimizer``) divides it by :math:`1-\beta_1^t`, which makes the
    first steps longer (10× at step 1 for β1 = 0.9), because the correction is
    applied after the trust ratio has normalized the direction; ``False`` keeps
    the step at :math:`\eta\min(\lVert\theta\rVert, 10)` from the first step, as
    in the paper, where the bias corrections cancel in the ratio.
    ``weight_decouple=True`` (the default) shrinks the weights by
    ``1 - lr * weight_decay`` before the step, as AdamW; ``False`` adds
    ``weight_decay * θ`` to ``u`` inside the trust ratio, as in the paper.

    This is ``pytorch_optimizer.Lamb`` with the same arguments
    (``bias_correction`` is its ``adam_debias`` negated); the last trust ratio
    of tensor ``i`` is ``tensor_state[i]["trust_ratio"]``.

    >>> opt = LAMB(lr=0.01, bias_correction=False)
    >>> w = np.array([[3.0, 4.0]])                          # |w| = 5
    >>> step = w - opt.step(w, np.array([[1e-3, 1e3]]))     # any gradient scale
    >>> round(float(np.linalg.norm(step)), 6)               # = lr * |w|
    0.05
    """

    reference = ("pytorch_optimizer", "Lamb")
    #: The clip of the weight norm in the trust ratio (``pytorch_optimizer.Lamb.clamp``).
    clamp = 10.0

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.0, weight_decouple: bool = True, bias_correction: bool = True):
        self._hyper = dict(betas=_betas(betas), eps=check.non_negative("eps", eps),
                           weight_decay=check.non_negative("weight_decay", weight_decay),
                           weight_decouple=bool(weight_decouple), bias_correction=bool(bias_correction))
        super().__init__(lr)

    def reference_arguments(self) -> dict:
        args = dict(self.hyperparameters)
        args["adam_debias"] = not args.pop("bias_correction")
        return args

    def _update_all(self, ps, gs):
        h = self._hyper
        beta1, beta2 = h["betas"]
        wd, eps = h["weight_decay"], h["eps"]
        step_size = self.lr / (1 - beta1 ** self.steps) if h["bias_correction"] else self.lr
        out = []
        for p, g, st in zip(ps, gs, self.tensor_state):
            m = beta1 * st.get("exp_avg", np.zeros_like(p)) + (1 - beta1) * g
            v = beta2 * st.get("exp_avg_sq", np.zeros_like(p)) + (1 - beta2) * g * g
            st["exp_avg"], st["exp_avg_sq"] = m, v
            if wd and h["weight_decouple"]:
                p = p * (1 - wd * self.lr)
            u = m / (np.sqrt(v) + eps)
            if wd and not h["weight_decouple"]:
                u = u + wd * p
            w_norm, u_norm = min(_norm(p), self.clamp), _norm(u)
            trust = 1.0 if w_norm == 0 or u_norm == 0 else w_norm / (u_norm + eps)
            st["trust_ratio"] = trust
            out.append(p - step_size * trust * u)
        return out


class _ScheduleFree(MultiTensorOptimizer):
    r"""Schedule-free learning (Defazio et al. 2024): the shared part of the SGD and AdamW versions.

    Three sequences: ``z`` takes the base optimizer's steps, ``x`` is a running
    average of ``z``, and the gradient is taken at ``y``, between them:

    .. math::
        y_t = (1-\beta) z_t + \beta x_t,\quad z_{t+1} = z_t - \gamma_t\,\hat g(y_t),\quad
        x_{t+1} = (1 - c_{t+1})\,x_t + c_{t+1}\,z_{t+1},\quad
        c_{t+1} = \frac{w_{t+1}}{\sum_{i\le t+1} w_i},\; w_t = t^r\,\gamma_{max}^{p}

    With ``r = 0`` and a constant LR, ``c_t = 1/t``: ``x`` is the plain mean of
    all ``z`` so far. ``step(y, grad at y)`` returns the next ``y`` (the
    parameters to train with); :meth:`eval_params` returns ``x``, the point to
    evaluate, test and checkpoint. ``warmup_steps`` ramps the LR linearly from
    ``lr / warmup_steps``; the weights ``w_t`` then grow with it
    (``weight_lr_power``), so the average forgets the warmup's iterates.

    The arithmetic is that of Meta's ``schedulefree`` package (the ``y``
    update ``y ← (1-c) y + c z + γ (β (1-c) - 1) ĝ`` is the two lines above,
    rearranged); ``tests/test_optimizers_at_scale.py`` holds it against them.
    """

    def __init__(self, lr: float, weight_decay: float, warmup_steps: int, r: float, weight_lr_power: float):
        self._hyper.update(weight_decay=check.non_negative("weight_decay", weight_decay),
                           warmup_steps=check.integer("warmup_steps", warmup_steps, minimum=0),
                           r=check.non_negative("r", r),
                           weight_lr_power=check.non_negative("weight_lr_power", weight_lr_power))
        super().__init__(lr)

    def reset(self) -> None:
        super().reset()
        self.state.update(k=0, weight_sum=0.0, lr_max=-1.0, scheduled_lr=0.0)

    @property
    def _beta1(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _direction(self, p, g, st) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _update_all(self, ps, gs):
        h, s = self._hyper, self.state
        k = s["k"]
        lr = self.lr * ((k + 1) / h["warmup_steps"] if k < h["warmup_steps"] else 1.0)
        s["scheduled_lr"] = lr
        s["lr_max"] = lr_max = max(lr, s["lr_max"])
        weight = (k + 1) ** h["r"] * lr_max ** h["weight_lr_power"]
        s["weight_sum"] += weight
        c = weight / s["weight_sum"] if s["weight_sum"] else 0.0
        beta = self._beta1
        out = []
        for y, g, st in zip(ps, gs, self.tensor_state):
            z = st.setdefault("z", y.copy())
            d = self._direction(y, g, st)
            if h["weight_decay"]:
                d = d + h["weight_decay"] * y
            out.append(y + c * (z - y) + lr * (beta * (1 - c) - 1) * d)
            st["z"] = z - lr * d
        s["k"] = k + 1
        return out

    def eval_params(self, params):
        r"""The averaged point ``x`` for parameters ``y`` from :meth:`step`: ``x = (y - (1-β) z) / β``.

        Evaluate (and save) the model at ``x``; keep training from ``y``. Before
        the first step ``x = y``. This is what ``optimizer.eval()`` of the
        ``schedulefree`` package does to the model's parameters.
        """
        many = _tensor_list(params)
        ps = [check.finite_array("params", p) for p in (params if many else [params])]
        if self._shape is not None and tuple(p.shape for p in ps) != self._shape:
            raise ValueError(_("params must have the shape {value} this optimizer has state for").format(
                value=self._shape if many else self._shape[0]))
        beta = self._beta1
        xs = [y + (1 - 1 / beta) * (st["z"] - y) if "z" in st else y
              for y, st in zip(ps, self.tensor_state or [{} for _ in ps])]
        return xs if many else xs[0]


class SGDScheduleFree(_ScheduleFree):
    r"""Schedule-free SGD (``schedulefree.SGDScheduleFree``): no LR schedule, yet the result of one.

    ``z`` takes plain SGD steps with a constant LR; the returned ``y`` and the
    average ``x`` (:meth:`eval_params`) are described in :class:`_ScheduleFree`.
    ``momentum`` is the interpolation ``β`` in (0, 1): ``y = (1-β) z + β x``.

    >>> opt = SGDScheduleFree(lr=0.5, momentum=0.9)
    >>> y = opt.step(np.array([1.0]), np.array([2.0]))    # the first step is plain SGD: 1 - 0.5 * 2
    >>> y, opt.eval_params(y)
    (array([0.]), array([0.]))
    """

    reference = ("schedulefree", "SGDScheduleFree")

    def __init__(self, lr: float = 1.0, momentum: float = 0.9, weight_decay: float = 0.0, warmup_steps: int = 0,
                 r: float = 0.0, weight_lr_power: float = 2.0):
        momentum = check.as_float("momentum", momentum)
        if not 0 < momentum < 1:
            raise ValueError(_("momentum must be in (0, 1), got {momentum!r}").format(momentum=momentum))
        self._hyper = dict(momentum=momentum)
        super().__init__(lr, weight_decay, warmup_steps, r, weight_lr_power)

    @property
    def _beta1(self) -> float:
        return self._hyper["momentum"]

    def _direction(self, p, g, st):
        return g


class AdamWScheduleFree(_ScheduleFree):
    r"""Schedule-free AdamW (``schedulefree.AdamWScheduleFree``).

    ``z`` takes Adam-normalized steps without a first moment,
    :math:`\hat g = g / (\sqrt{v / (1-\beta_2^t)} + \epsilon)`, plus
    ``weight_decay * y`` (the decay is applied at ``y``, as in the package);
    ``betas[0]`` is the interpolation ``β`` of :class:`_ScheduleFree`.

    >>> opt = AdamWScheduleFree(lr=0.1)
    >>> np.round(opt.step(np.array([1.0, 1.0]), np.array([5.0, -0.01])), 4)   # sign-like first step
    array([0.9, 1.1])
    """

    reference = ("schedulefree", "AdamWScheduleFree")

    def __init__(self, lr: float = 0.0025, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, warmup_steps: int = 0, r: float = 0.0, weight_lr_power: float = 2.0):
        betas = _betas(betas)
        if betas[0] == 0:
            raise ValueError(_("betas[0] must be in (0, 1), got {betas!r}").format(betas=betas[0]))
        self._hyper = dict(betas=betas, eps=check.non_negative("eps", eps))
        super().__init__(lr, weight_decay, warmup_steps, r, weight_lr_power)

    @property
    def _beta1(self) -> float:
        return self._hyper["betas"][0]

    def _direction(self, p, g, st):
        beta2 = self._hyper["betas"][1]
        v = beta2 * st.get("exp_avg_sq", np.zeros_like(p)) + (1 - beta2) * g * g
        st["exp_avg_sq"] = v
        return g / (np.sqrt(v / (1 - beta2 ** (self.state["k"] + 1))) + self._hyper["eps"])


class _DistanceAdaptive(MultiTensorOptimizer):
    """What D-Adaptation and Prodigy share: ``lr`` is a multiplier of the estimated distance ``d``."""

    def __init__(self, lr: float, betas, eps: float, weight_decay: float, decouple: bool, use_bias_correction: bool,
                 d0: float, growth_rate: float):
        self._hyper.update(betas=_betas(betas), eps=check.positive("eps", eps),
                           weight_decay=check.non_negative("weight_decay", weight_decay), decouple=bool(decouple),
                           use_bias_correction=bool(use_bias_correction), d0=check.positive("d0", d0),
                           growth_rate=self._growth(growth_rate))
        super().__init__(check.positive("lr", lr))

    @staticmethod
    def _growth(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 1:
            raise ValueError(_("growth_rate must be a number >= 1 (float('inf') for no limit), got {value!r}").format(
                value=value))
        return float(value)

    def reset(self) -> None:
        super().reset()
        self.state.update(d=self._hyper["d0"], k=0)

    @property
    def d(self) -> float:
        """The current estimate of the distance to the solution, the LR that the method found."""
        return self.state["d"]

    @property
    def effective_lr(self) -> float:
        """``d * lr``: the Adam LR that the method is using now."""
        return self.state["d"] * self.lr

    def _gradient(self, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        """The gradient the estimate uses: with coupled weight decay (``decouple=False``) it includes ``wd * p``."""
        wd = self._hyper["weight_decay"]
        return g + wd * p if wd and not self._hyper["decouple"] else g

    def _bias_correction(self) -> float:
        beta1, beta2 = self._hyper["betas"]
        k = self.state["k"]
        if not self._hyper["use_bias_correction"]:
            return 1.0
        return (1 - beta2 ** (k + 1)) ** 0.5 / (1 - beta1 ** (k + 1))


class DAdaptAdam(_DistanceAdaptive):
    r"""D-Adaptation for Adam (Defazio & Mishchenko 2023): Adam whose LR ``d`` is estimated as it goes.

    ``d`` is a lower bound on the distance from the start to the solution,
    built from the weighted sum of the steps taken, ``s``:

    .. math::
        s \leftarrow \sqrt{\beta_2}\,s + (1-\sqrt{\beta_2})\,d\eta\,g,\quad
        r \leftarrow \sqrt{\beta_2}\,r + (1-\sqrt{\beta_2})\,d\eta\,\langle g, s/(\sqrt v+\epsilon)\rangle,\quad
        d \leftarrow \max\!\left(d, \frac{r}{(1-\sqrt{\beta_2})\,\lVert s\rVert_1}\right)

    and Adam's step uses ``d * lr`` as its LR (``lr`` = 1, the default, means
    "use the estimate as it is"). ``d`` never decreases; it starts at ``d0``.
    This is ``dadaptation.DAdaptAdam`` (one layer scale, no FSDP) with the same
    arguments: ``effective_lr`` is ``d * lr``.
    """

    reference = ("dadaptation", "DAdaptAdam")

    def __init__(self, lr: float = 1.0, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decouple: bool = False, use_bias_correction: bool = False,
                 d0: float = 1e-6, growth_rate: float = float("inf")):
        self._hyper = {}
        super().__init__(lr, betas, eps, weight_decay, decouple, use_bias_correction, d0, growth_rate)

    def reset(self) -> None:
        super().reset()
        self.state["numerator_weighted"] = 0.0

    def _update_all(self, ps, gs):
        h, s = self._hyper, self.state
        beta1, beta2 = h["betas"]
        sqrt_beta2 = beta2 ** 0.5
        d, eps, wd = s["d"], h["eps"], h["weight_decay"]
        dlr = d * self.lr * self._bias_correction()
        numerator, sk_l1 = 0.0, 0.0
        for p, g, st in zip(ps, gs, self.tensor_state):
            g = self._gradient(p, g)
            m, v, sk = (st.get(key, np.zeros_like(p)) for key in ("exp_avg", "exp_avg_sq", "s"))
            numerator += dlr * float(np.dot(g.ravel(), (sk / (np.sqrt(v) + eps)).ravel()))
            st["exp_avg"] = beta1 * m + dlr * (1 - beta1) * g
            st["exp_avg_sq"] = beta2 * v + (1 - beta2) * g * g
            st["s"] = sk = sqrt_beta2 * sk + dlr * (1 - sqrt_beta2) * g
            sk_l1 += float(np.abs(sk).sum())
        numerator = sqrt_beta2 * s["numerator_weighted"] + (1 - sqrt_beta2) * numerator
        if sk_l1 == 0:  # every gradient so far was 0: nothing to estimate from, and no step
            return ps
        d_hat = numerator / ((1 - sqrt_beta2) * sk_l1)
        s["d"] = max(d, min(d_hat, d * h["growth_rate"]))
        s["numerator_weighted"] = numerator
        out = []
        for p, st in zip(ps, self.tensor_state):
            if wd and h["decouple"]:
                p = p - wd * dlr * p
            out.append(p - st["exp_avg"] / (np.sqrt(st["exp_avg_sq"]) + eps))
        s["k"] += 1
        return out


class Prodigy(_DistanceAdaptive):
    r"""Prodigy (Mishchenko & Defazio 2024): D-Adaptation's estimate of ``d``, weighted to grow faster.

    .. math::
        r \leftarrow \beta_3 r + \tfrac{d^2\eta}{d_0}\langle g, \theta_0 - \theta\rangle,\quad
        s \leftarrow \beta_3 s + \tfrac{d^2\eta}{d_0} g,\quad
        d \leftarrow \max\!\left(d, \frac{c_d\, r}{\lVert s\rVert_1}\right),\quad
        \theta \leftarrow \theta - d\eta\,\frac{m}{\sqrt v + d\,\epsilon}

    with Adam's moments of ``d g`` (``m``, ``v``), ``β3 = sqrt(β2)`` by default
    and ``d_coef`` = :math:`c_d`. ``d`` never decreases. This is
    ``prodigyopt.Prodigy`` (``slice_p=1``, no FSDP) with the same arguments,
    including two details of the package: the ``d`` in ``d ε`` is the new
    estimate while the step size ``d η`` uses the one before, and with
    ``safeguard_warmup`` the ``η`` leaves the sum ``s``.
    """

    reference = ("prodigyopt", "Prodigy")

    def __init__(self, lr: float = 1.0, betas: tuple[float, float] = (0.9, 0.999), beta3: float | None = None,
                 eps: float = 1e-8, weight_decay: float = 0.0, decouple: bool = True,
                 use_bias_correction: bool = False, safeguard_warmup: bool = False, d0: float = 1e-6,
                 d_coef: float = 1.0, growth_rate: float = float("inf")):
        self._hyper = dict(beta3=None if beta3 is None else _beta("beta3", beta3),
                           safeguard_warmup=bool(safeguard_warmup), d_coef=check.positive("d_coef", d_coef))
        super().__init__(lr, betas, eps, weight_decay, decouple, use_bias_correction, d0, growth_rate)

    def reset(self) -> None:
        super().reset()
        self.state.update(d_max=self._hyper["d0"], d_numerator=0.0)

    def _update_all(self, ps, gs):
        h, s = self._hyper, self.state
        beta1, beta2 = h["betas"]
        beta3 = math.sqrt(beta2) if h["beta3"] is None else h["beta3"]
        d, d0, eps, wd = s["d"], h["d0"], h["eps"], h["weight_decay"]
        dlr = d * self.lr * self._bias_correction()
        delta_numerator, d_denom = 0.0, 0.0
        grads = [self._gradient(p, g) for p, g in zip(ps, gs)]  # the beta1 = 0 step uses them again below
        for p, g, st in zip(ps, grads, self.tensor_state):
            if "p0" not in st:
                st["p0"] = p.copy()
            sk = st.get("s", np.zeros_like(p))
            delta_numerator += (d / d0) * dlr * float(np.dot(g.ravel(), (st["p0"] - p).ravel()))
            if beta1 > 0:
                st["exp_avg"] = beta1 * st.get("exp_avg", np.zeros_like(p)) + d * (1 - beta1) * g
            st["exp_avg_sq"] = beta2 * st.get("exp_avg_sq", np.zeros_like(p)) + d * d * (1 - beta2) * g * g
            st["s"] = sk = beta3 * sk + (d / d0) * (d if h["safeguard_warmup"] else dlr) * g
            d_denom += float(np.abs(sk).sum())
        if d_denom == 0:  # every gradient so far was 0: nothing to estimate from, and no step
            return ps
        numerator = beta3 * s["d_numerator"] + delta_numerator
        d_hat = h["d_coef"] * numerator / d_denom
        if d == d0:
            d = max(d, d_hat)
        s["d_max"] = d_max = max(s["d_max"], d_hat)
        s["d"] = d = min(d_max, d * h["growth_rate"])
        s.update(d_numerator=numerator, d_hat=d_hat)
        out = []
        for p, g, st in zip(ps, grads, self.tensor_state):
            denom = np.sqrt(st["exp_avg_sq"]) + d * eps
            if wd and h["decouple"]:
                p = p - wd * dlr * p
            out.append(p - dlr * st["exp_avg"] / denom if beta1 > 0 else p - dlr * d * g / denom)
        s["k"] += 1
        return out


#: The optimizers of notebook 07 by name; each equals its ``reference`` package's class.
AT_SCALE: dict[str, type[MultiTensorOptimizer]] = {
    c.__name__: c for c in (LARS, LAMB, SGDScheduleFree, AdamWScheduleFree, DAdaptAdam, Prodigy)}


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
        raise ValueError(_("optimizer must be an lrcourse.optimizers.Optimizer, got {type}").format(
            type=type(optimizer).__name__))
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
        raise ValueError(_("optimizer must be an lrcourse.optimizers.Optimizer, got {type}").format(
            type=type(optimizer).__name__))
    tol = check.positive("tol", tol)
    max_steps = check.integer("max_steps", max_steps, minimum=0)
    optimizer.reset()
    x = check.finite_array("x0", x0)
    step = optimizer.step
    if type(optimizer).step is Optimizer.step:
        # The library's own step, without checking its arguments again at each of up to 100,000 steps: x is
        # checked above and stays finite (the loop stops at the first loss that is not), and every gradient
        # comes fresh from the loss, of x's shape. Same arithmetic, about 40 % less time.
        optimizer._shape = x.shape

        def step(p: np.ndarray, g: np.ndarray) -> np.ndarray:
            optimizer.steps += 1
            return optimizer._update(p, g)

    with np.errstate(all="ignore"):
        for t in range(max_steps + 1):
            value = float(loss(x))
            if value < tol:
                return t
            if not math.isfinite(value) or t == max_steps:
                return None
            x = step(x, loss.grad(x))
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
