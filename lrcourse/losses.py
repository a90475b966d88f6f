"""Toy losses with values, gradients and (where it is constant) Hessians.

Every loss works on points with the coordinates on the last axis, so one call
evaluates a single point ``x.shape == (dim,)`` or a whole grid
``x.shape == (ny, nx, dim)`` (that is how the contour plots are drawn).

>>> from lrcourse.losses import Quadratic
>>> f = Quadratic([[3.0, 0.0], [0.0, 1.0]])
>>> float(f.value([1.0, 1.0])), f.grad([1.0, 1.0]).tolist()
(2.0, [3.0, 1.0])
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from . import _validation as check
from .i18n import gettext_ as _

__all__ = [
    "Loss",
    "Quadratic",
    "Rosenbrock",
    "TwoBasins",
    "quadratic_1d",
    "ill_conditioned",
]


class Loss:
    """Base class: a differentiable function of a point in ``dim`` dimensions."""

    dim: int = 1
    name: str = "loss"
    #: the value at the global minimum (used for log-scale loss plots)
    min_value: float = 0.0

    def value(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def grad(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.value(x)

    def _points(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 0 and self.dim == 1:
            x = x.reshape(1)
        if x.shape[-1:] != (self.dim,):
            raise ValueError(_("x must have {dim} coordinate(s) on its last axis, got shape {shape}").format(
                dim=self.dim, shape=x.shape))
        return x

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


class Quadratic(Loss):
    r"""The quadratic :math:`f(x) = \tfrac12 (x - c)^\top H (x - c)`.

    ``H`` is symmetric positive semi-definite; its largest eigenvalue ``L`` is
    the smoothness constant and its smallest ``mu`` the strong convexity
    constant, so gradient descent is stable for ``0 < lr < 2 / L``.

    >>> f = Quadratic([[4.0]])          # f(x) = 4 x^2 / 2
    >>> f.L, f.mu, float(f.value([1.0]))
    (4.0, 4.0, 2.0)
    """

    def __init__(self, H: Sequence[Sequence[float]] | np.ndarray, center=None, name: str | None = None):
        H = check.finite_array("H", H, ndim=2)
        if H.shape[0] != H.shape[1] or H.shape[0] == 0:
            raise ValueError(_("H must be a non-empty square matrix, got shape {shape}").format(shape=H.shape))
        if not np.allclose(H, H.T, rtol=1e-12, atol=1e-12):
            raise ValueError(_("H must be symmetric"))
        self.H = H
        self.dim = H.shape[0]
        self.eigenvalues = np.linalg.eigvalsh(H)  # ascending
        if self.eigenvalues[0] < -1e-12 * max(1.0, abs(self.eigenvalues[-1])):
            raise ValueError(_("H must be positive semi-definite, got smallest eigenvalue {eigenvalues:.4g}").format(
                eigenvalues=self.eigenvalues[0]))
        if center is None:
            self.center = np.zeros(self.dim)
        else:
            self.center = check.point("center", center, self.dim)
        self.name = name or f"quadratic (kappa={self.condition_number:.4g})"

    @property
    def L(self) -> float:
        """Largest eigenvalue of ``H`` (the smoothness constant)."""
        return float(self.eigenvalues[-1])

    @property
    def mu(self) -> float:
        """Smallest eigenvalue of ``H`` (the strong-convexity constant)."""
        return float(self.eigenvalues[0])

    @property
    def condition_number(self) -> float:
        """``L / mu`` (infinite when ``mu == 0``)."""
        return self.L / self.mu if self.mu > 0 else math.inf

    @property
    def minimizer(self) -> np.ndarray:
        return self.center.copy()

    def value(self, x) -> np.ndarray:
        d = self._points(x) - self.center
        return 0.5 * np.einsum("...i,ij,...j->...", d, self.H, d)

    def grad(self, x) -> np.ndarray:
        d = self._points(x) - self.center
        return d @ self.H  # H is symmetric, so d @ H == H @ d for every point

    def hessian(self, x=None) -> np.ndarray:
        """The (constant) Hessian ``H``."""
        return self.H.copy()


def quadratic_1d(a: float) -> Quadratic:
    """The 1-D quadratic ``f(x) = a x^2 / 2`` with curvature ``a > 0``.

    >>> quadratic_1d(2.0).L
    2.0
    """
    a = check.positive("a", a)
    return Quadratic([[a]], name=f"a*x^2/2 (a={a:g})")


def ill_conditioned(kappa: float, mu: float = 1.0, angle: float = 0.0) -> Quadratic:
    """A 2-D quadratic with eigenvalues ``mu`` and ``L = kappa * mu``.

    ``angle`` (radians) rotates the steep direction away from the x-axis.

    >>> f = ill_conditioned(10.0)
    >>> f.mu, f.L, f.condition_number
    (1.0, 10.0, 10.0)
    """
    kappa = check.as_float("kappa", kappa)
    if kappa < 1:
        raise ValueError(_("kappa must be >= 1, got {kappa!r}").format(kappa=kappa))
    mu = check.positive("mu", mu)
    angle = check.as_float("angle", angle)
    c, s = math.cos(angle), math.sin(angle)
    R = np.array([[c, -s], [s, c]])
    H = R @ np.diag([kappa * mu, mu]) @ R.T
    H = 0.5 * (H + H.T)
    q = Quadratic(H, name=f"quadratic (kappa={kappa:g})")
    # eigvalsh of the rotated matrix is exact only to rounding; report the intended values
    q.eigenvalues = np.array([mu, kappa * mu])
    return q


class Rosenbrock(Loss):
    r"""Rosenbrock's banana :math:`f(x, y) = (a - x)^2 + b (y - x^2)^2`, minimum at ``(a, a^2)``."""

    dim = 2

    def __init__(self, a: float = 1.0, b: float = 100.0):
        self.a = check.as_float("a", a)
        self.b = check.positive("b", b)
        self.name = f"Rosenbrock (a={self.a:g}, b={self.b:g})"

    @property
    def minimizer(self) -> np.ndarray:
        return np.array([self.a, self.a**2])

    def value(self, x) -> np.ndarray:
        x = self._points(x)
        u, v = x[..., 0], x[..., 1]
        return (self.a - u) ** 2 + self.b * (v - u**2) ** 2

    def grad(self, x) -> np.ndarray:
        x = self._points(x)
        u, v = x[..., 0], x[..., 1]
        du = -2 * (self.a - u) - 4 * self.b * u * (v - u**2)
        dv = 2 * self.b * (v - u**2)
        return np.stack([du, dv], axis=-1)

    def hessian(self, x) -> np.ndarray:
        x = self._points(x)
        u, v = x[..., 0], x[..., 1]
        huu = 2 - 4 * self.b * (v - u**2) + 8 * self.b * u**2
        huv = -4 * self.b * u
        hvv = np.full_like(u, 2 * self.b)
        return np.stack([np.stack([huu, huv], -1), np.stack([huv, hvv], -1)], -2)


class TwoBasins(Loss):
    r"""A 1-D non-convex loss: a wide, good basin and a sharp, poor trap.

    .. math::
        f(x) = \tfrac{\mu}{2}(x - x_g)^2 - d \, e^{-(x - x_t)^2 / (2 w^2)}

    The wide quadratic has its minimum (the global one, curvature ``mu``) near
    ``x_g``; the narrow Gaussian dip of depth ``d`` and width ``w`` near ``x_t``
    makes a sharp local minimum with a higher loss. A learning rate above
    ``2 / f''(local_min)`` cannot settle in the trap, while any rate below
    ``2 / f''(global_min)`` can still settle in the wide basin.

    >>> f = TwoBasins()
    >>> round(f.local_min, 4), round(f.global_min, 4)
    (0.0979, 3.0)
    """

    dim = 1

    def __init__(self, mu: float = 1.0, x_global: float = 3.0, x_trap: float = 0.0,
                 depth: float = 2.0, width: float = 0.25):
        self.mu = check.positive("mu", mu)
        self.x_global = check.as_float("x_global", x_global)
        self.x_trap = check.as_float("x_trap", x_trap)
        self.depth = check.positive("depth", depth)
        self.width = check.positive("width", width)
        self.name = "two basins"
        minima = self._minima()
        if len(minima) != 2:
            raise ValueError(_("these parameters do not make a trap: the loss has {n_minima} local minimum/minima; "
                               "make depth larger or width smaller").format(
                n_minima=len(minima)))
        values = [float(self.value([m])) for m in minima]
        order = np.argsort(values)
        self.global_min = float(minima[order[0]])
        self.local_min = float(minima[order[1]])
        self.min_value = values[order[0]]

    def __repr__(self) -> str:
        defaults = dict(mu=1.0, x_global=3.0, x_trap=0.0, depth=2.0, width=0.25)
        args = ", ".join(f"{k}={getattr(self, k):g}" for k, v in defaults.items() if getattr(self, k) != v)
        return f"TwoBasins({args})"

    def value(self, x) -> np.ndarray:
        x = self._points(x)[..., 0]
        z = (x - self.x_trap) / self.width
        return 0.5 * self.mu * (x - self.x_global) ** 2 - self.depth * np.exp(-0.5 * z * z)

    def grad(self, x) -> np.ndarray:
        x = self._points(x)[..., 0]
        z = (x - self.x_trap) / self.width
        g = self.mu * (x - self.x_global) + self.depth * z / self.width * np.exp(-0.5 * z * z)
        return g[..., None]

    def hessian(self, x) -> np.ndarray:
        x = self._points(x)[..., 0]
        z = (x - self.x_trap) / self.width
        h = self.mu + self.depth / self.width**2 * (1 - z * z) * np.exp(-0.5 * z * z)
        return h[..., None, None]

    def curvature(self, x: float) -> float:
        """``f''(x)`` as a float."""
        return float(self.hessian([x])[0, 0])

    def _minima(self) -> list[float]:
        # Bracket the sign changes of f' on a fine grid, then refine each by
        # bisection: robust and exact to rounding, with no SciPy dependency.
        span = 6 * self.width + abs(self.x_global - self.x_trap) + 1
        lo, hi = min(self.x_trap, self.x_global) - span, max(self.x_trap, self.x_global) + span
        grid = np.linspace(lo, hi, 20001)
        g = self.grad(grid[:, None])[:, 0]
        minima = []
        for i in np.nonzero((g[:-1] < 0) & (g[1:] >= 0))[0]:
            a, b = grid[i], grid[i + 1]
            for _halving in range(200):
                m = 0.5 * (a + b)
                if m in (a, b):
                    break
                if self.grad([m])[0] < 0:
                    a = m
                else:
                    b = m
            minima.append(0.5 * (a + b))
        return minima
