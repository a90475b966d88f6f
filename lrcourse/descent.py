r"""Gradient descent, its closed form on quadratics, and the learning-rate facts of notebook 01.

The update rule is :math:`x_{t+1} = x_t - \eta \nabla f(x_t)`. On the 1-D
quadratic :math:`f(x) = a x^2 / 2` it has the closed form
:math:`x_t = (1 - \eta a)^t x_0`, so the step is stable iff
:math:`|1 - \eta a| < 1`, i.e. :math:`0 < \eta < 2/a`.

>>> from lrcourse.losses import quadratic_1d
>>> traj = run(quadratic_1d(1.0), x0=[1.0], lr=0.5, num_steps=3)
>>> traj.points[:, 0].tolist()
[1.0, 0.5, 0.25, 0.125]
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Union

import numpy as np

from . import _validation as check
from .i18n import gettext_ as _
from .losses import Loss, Quadratic

__all__ = [
    "Trajectory",
    "gd_step",
    "run",
    "closed_form_1d",
    "max_stable_lr",
    "optimal_lr",
    "lr_regime",
    "REGIMES",
    "find_max_stable_lr",
    "measured_rate",
    "basin_reached",
    "nearest_minimum",
]

#: A learning rate: a positive number, or a schedule ``step -> lr``.
LearningRate = Union[float, Callable[[int], float]]

#: Iterates whose norm exceeds this are treated as diverged.
DEFAULT_MAX_NORM = 1e6


@dataclass(frozen=True)
class Trajectory:
    """The result of an optimizer run on a toy loss.

    ``points[t]`` is the iterate after ``t`` steps (``points[0]`` is the start)
    and ``losses[t]`` its loss. A run that overflowed, produced NaN or left the
    ball of radius ``max_norm`` stops early with ``diverged=True``; its arrays
    hold only the finite iterates before that, so they can always be plotted.
    ``lrs[t]`` is the learning rate used for step ``t`` (from ``points[t]`` to
    ``points[t + 1]``).
    """

    points: np.ndarray
    losses: np.ndarray
    lrs: np.ndarray
    diverged: bool
    label: str = ""

    @property
    def num_steps(self) -> int:
        """Steps actually taken (fewer than requested if the run diverged)."""
        return len(self.points) - 1

    @property
    def final(self) -> np.ndarray:
        """The last finite iterate."""
        return self.points[-1]

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])

    def __repr__(self) -> str:
        status = _("diverged at step {step}").format(step=self.num_steps + 1) if self.diverged \
            else _("{count} steps").format(count=self.num_steps)
        loss = self.final_loss
        # Losses below 1e-12 are rounding noise whose last digits vary across machines.
        text = f"{loss:.4g}" if abs(loss) >= 1e-12 else "< 1e-12"
        return _("Trajectory({label}: {status}, final loss {loss})").format(
            label=self.label or _("run"), status=status, loss=text)


def gd_step(x, grad, lr: float) -> np.ndarray:
    """One gradient-descent step: ``x - lr * grad`` (a new array).

    >>> gd_step(np.array([1.0, -2.0]), np.array([0.5, 0.5]), 0.1).tolist()
    [0.95, -2.05]
    """
    return np.asarray(x, dtype=np.float64) - lr * np.asarray(grad, dtype=np.float64)


def _schedule(lr: LearningRate) -> Callable[[int], float]:
    if callable(lr):
        return lr
    value = check.positive("lr", lr)
    return lambda step: value


def run(loss: Loss, x0, lr: LearningRate, num_steps: int = 100, *,
        max_norm: float = DEFAULT_MAX_NORM, label: str | None = None,
        update: Callable[[np.ndarray, np.ndarray, float], np.ndarray] | None = None) -> Trajectory:
    """Run gradient descent on ``loss`` from ``x0`` and return the :class:`Trajectory`.

    ``lr`` is a positive number or a schedule ``step -> lr`` (e.g. from
    ``lrcourse.schedules``). The run stops early, marked ``diverged``, as soon
    as an iterate or its loss is not finite or the iterate's norm exceeds
    ``max_norm``; no overflow warning is emitted. ``update(x, grad, lr)``
    replaces the gradient step ``x - lr * grad`` (``lrcourse.optimizers.run``
    passes an optimizer's step).

    >>> from lrcourse.losses import quadratic_1d
    >>> run(quadratic_1d(1.0), [1.0], lr=3.0, num_steps=100).diverged
    True
    """
    if not isinstance(loss, Loss):
        raise ValueError(_("loss must be an lrcourse.losses.Loss, got {type}").format(type=type(loss).__name__))
    x = check.point("x0", x0, loss.dim)
    schedule = _schedule(lr)
    num_steps = check.integer("num_steps", num_steps, minimum=0)
    if not (isinstance(max_norm, (int, float)) and max_norm > 0):  # math.inf turns the norm check off
        raise ValueError(_("max_norm must be > 0 (math.inf to disable it), got {max_norm!r}").format(max_norm=max_norm))

    points, losses, lrs = [x], [float(loss.value(x))], []
    diverged = False
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for t in range(num_steps):
            eta = schedule(t)
            if not (isinstance(eta, (int, float, np.floating)) and math.isfinite(eta) and eta > 0):
                raise ValueError(_("lr schedule must return a number > 0, got {eta!r} at step {t}").format(
                    eta=eta, t=t))
            x = x - eta * loss.grad(x) if update is None else update(x, loss.grad(x), float(eta))
            value = float(loss.value(x))
            lrs.append(float(eta))
            if not (np.all(np.isfinite(x)) and math.isfinite(value) and np.linalg.norm(x) <= max_norm):
                diverged = True
                break
            points.append(x)
            losses.append(value)
    if label is None:
        label = f"lr={float(lr):.4g}" if not callable(lr) else "scheduled"
    return Trajectory(
        points=np.array(points),
        losses=np.array(losses),
        lrs=np.array(lrs[: len(points) - 1]),
        diverged=diverged,
        label=label,
    )


def closed_form_1d(a: float, x0: float, lr: float, t) -> np.ndarray:
    """``x_t = (1 - lr * a)**t * x0`` — GD on ``f(x) = a x^2 / 2`` without iterating.

    >>> closed_form_1d(1.0, 1.0, 0.5, np.arange(4)).tolist()
    [1.0, 0.5, 0.25, 0.125]
    """
    a = check.positive("a", a)
    lr = check.positive("lr", lr)
    x0 = check.as_float("x0", x0)
    return (1.0 - lr * a) ** np.asarray(t, dtype=np.float64) * x0


def _eigenvalues(H) -> np.ndarray:
    if isinstance(H, Quadratic):
        return np.asarray(H.eigenvalues)
    H = check.finite_array("H", H)
    if H.ndim == 0:
        H = H.reshape(1, 1)
    if H.ndim != 2 or H.shape[0] != H.shape[1]:
        raise ValueError(_("H must be a square matrix, got shape {shape}").format(shape=H.shape))
    if not np.allclose(H, H.T):
        raise ValueError(_("H must be symmetric"))
    eig = np.linalg.eigvalsh(H)
    if eig[0] <= 0:
        raise ValueError(_("H must be positive definite, got smallest eigenvalue {eig:.4g}").format(eig=eig[0]))
    return eig


def max_stable_lr(H) -> float:
    """The largest stable constant step on a quadratic with Hessian ``H``: ``2 / L``.

    GD converges iff ``0 < lr < 2 / L`` where ``L`` is the largest eigenvalue.

    >>> max_stable_lr([[4.0, 0.0], [0.0, 1.0]])
    0.5
    """
    return 2.0 / float(_eigenvalues(H)[-1])


def optimal_lr(H) -> tuple[float, float]:
    """The best constant step ``2 / (L + mu)`` and its rate ``(kappa - 1) / (kappa + 1)``.

    With this step, the distance to the minimum shrinks by exactly the rate at
    every step (in both extreme eigen-directions).

    >>> optimal_lr([[3.0, 0.0], [0.0, 1.0]])
    (0.5, 0.5)
    """
    eig = _eigenvalues(H)
    L, mu = float(eig[-1]), float(eig[0])
    return 2.0 / (L + mu), (L - mu) / (L + mu)


#: The four regimes of a constant step on ``a x^2 / 2``, from small to large lr.
REGIMES = ("slow", "monotone", "oscillating", "divergent")


def lr_regime(a: float, lr: float, slow_below: float = 0.1) -> str:
    """Classify ``lr`` on ``f(x) = a x^2 / 2`` by the factor ``r = 1 - lr * a``.

    * ``"slow"``:        ``lr * a < slow_below`` (less than 10 % of the error removed per step);
    * ``"monotone"``:    ``slow_below <= lr * a <= 1`` (``0 <= r``: no overshoot);
    * ``"oscillating"``: ``1 < lr * a < 2`` (``-1 < r < 0``: overshoots, still converges);
    * ``"divergent"``:   ``lr * a >= 2`` (``|r| >= 1``: never converges).

    >>> [lr_regime(1.0, lr) for lr in (0.01, 0.5, 1.5, 2.5)]
    ['slow', 'monotone', 'oscillating', 'divergent']
    """
    a = check.positive("a", a)
    lr = check.positive("lr", lr)
    slow_below = check.positive("slow_below", slow_below)
    h = lr * a
    if h >= 2:
        return "divergent"
    if h > 1:
        return "oscillating"
    if h >= slow_below:
        return "monotone"
    return "slow"


def find_max_stable_lr(loss: Loss, x0, lo: float, hi: float, *, num_steps: int = 1000,
                       rtol: float = 1e-9) -> float:
    """Find the stability edge numerically by bisection on ``lr``.

    A rate counts as stable when ``num_steps`` of GD from ``x0`` end with a
    lower loss than they started with (and did not diverge). ``lo`` must be
    stable and ``hi`` unstable; the edge is returned to relative tolerance
    ``rtol``. On a quadratic the answer approaches ``2 / L``.

    >>> from lrcourse.losses import quadratic_1d
    >>> round(find_max_stable_lr(quadratic_1d(4.0), [1.0], lo=0.01, hi=10.0), 6)
    0.5
    """
    lo = check.positive("lo", lo)
    hi = check.positive("hi", hi)
    if not lo < hi:
        raise ValueError(_("lo must be < hi, got lo={lo!r}, hi={hi!r}").format(lo=lo, hi=hi))
    rtol = check.positive("rtol", rtol)

    def stable(lr: float) -> bool:
        traj = run(loss, x0, lr, num_steps)
        return (not traj.diverged) and traj.losses[-1] < traj.losses[0]

    if not stable(lo):
        raise ValueError(_("lo must be a stable learning rate, but lr={lo:g} does not converge").format(lo=lo))
    if stable(hi):
        raise ValueError(_("hi must be an unstable learning rate, but lr={hi:g} converges").format(hi=hi))
    while hi - lo > rtol * hi:
        mid = 0.5 * (lo + hi)
        if stable(mid):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def measured_rate(traj: Trajectory, minimizer, first: int = 0, last: int | None = None) -> float:
    """The average contraction of the distance to ``minimizer`` per step between two steps.

    Returns ``(|x_last - x*| / |x_first - x*|) ** (1 / (last - first))``: the
    number to compare with a predicted linear rate such as ``(kappa-1)/(kappa+1)``.
    """
    minimizer = check.finite_array("minimizer", minimizer)
    last = traj.num_steps if last is None else last
    if not 0 <= first < last <= traj.num_steps:
        raise ValueError(_("need 0 <= first < last <= {num_steps}, got first={first}, last={last}").format(
            num_steps=traj.num_steps, first=first, last=last))
    d0 = np.linalg.norm(traj.points[first] - minimizer)
    d1 = np.linalg.norm(traj.points[last] - minimizer)
    return float((d1 / d0) ** (1.0 / (last - first)))


def basin_reached(loss, x0, lr: float, num_steps: int = 200) -> str:
    """Where GD on a :class:`~lrcourse.losses.TwoBasins` loss ends up.

    Returns ``"diverged"`` if the run diverged, otherwise ``"local"`` or
    ``"global"``: the minimum the final iterate is closer to.

    >>> from lrcourse.losses import TwoBasins
    >>> [basin_reached(TwoBasins(), -1.0, lr) for lr in (0.03, 0.3, 2.5)]
    ['local', 'global', 'diverged']
    """
    traj = run(loss, x0, lr, num_steps)
    return "diverged" if traj.diverged else nearest_minimum(loss, float(traj.final[0]))


def nearest_minimum(loss, x: float) -> str:
    """``"local"`` or ``"global"``: which minimum of a :class:`~lrcourse.losses.TwoBasins` loss ``x`` is closer to."""
    return "local" if abs(x - loss.local_min) < abs(x - loss.global_min) else "global"
