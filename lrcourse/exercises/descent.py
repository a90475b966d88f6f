"""Checks and hints for notebook 01, gradient descent (``from lrcourse.exercises import descent as ex``).

Each exercise's ``grade_id`` in the notebook equals its name here.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from .. import descent as ref
from ..losses import TwoBasins, ill_conditioned, quadratic_1d
from ..i18n import N_, gettext_ as _
from ._core import Bound, Case, Exercise, Mistake, compare_choice, compare_close, fmt, fmt_pair
from .kinds import ProbedExercise

__all__ = ["gd_step", "gradient_descent", "max_stable_lr", "optimal_lr", "lr_regime",
           "basin_reached", "EXERCISES"]


class _Named:
    """A callable input that prints as a readable name in feedback."""

    def __init__(self, fn: Callable, name: str):
        self.fn, self.__name__ = fn, name

    def __call__(self, *args: Any) -> Any:
        # the case's own function: an overflow in it (exp(exp(exp(x)))) is not the learner's to be told about
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return self.fn(*args)

    def __deepcopy__(self, memo: dict) -> "_Named":
        return self


def _grad_of(loss, name: str) -> _Named:
    return _Named(loss.grad, name)


def _arr(*values) -> np.ndarray:
    return np.array(values, dtype=np.float64)


# --------------------------------------------------------------------------- gd_step
gd_step = Exercise(
    name="gd_step",
    points=1,
    reference=ref.gd_step,
    cases=[
        Case(dict(x=_arr(1.0, -2.0), grad=_arr(0.5, 0.5), lr=0.1)),
        Case(dict(x=_arr(3.0), grad=_arr(6.0), lr=0.5)),
        Case(dict(x=_arr(0.5, 0.25, -1.0), grad=_arr(-2.0, 0.0, 4.0), lr=0.3)),
        Case(dict(x=np.array([[1.0, 2.0], [3.0, 4.0]]), grad=np.array([[0.1, -0.2], [0.3, -0.4]]), lr=2.5),
             note=N_("a 2x2 array of parameters")),
    ],
    exempt={"bounds": "one step has no bound or threshold"},
    hint_text=N_("""
        Move against the gradient: the new point is x minus lr times grad.
        With NumPy arrays that is one expression and works for any shape.
    """),
    mistakes=[
        Mistake(lambda x, grad, lr: x + lr * grad,
                N_("Did you add the gradient instead of subtracting it?")),
        Mistake(lambda x, grad, lr: x - grad,
                N_("Did you forget to multiply the gradient by lr?")),
        Mistake(lambda x, grad, lr: -lr * grad,
                N_("You returned the step -lr * grad; return the new point x - lr * grad.")),
        Mistake(lambda x, grad, lr: x - lr * grad / np.linalg.norm(grad),
                N_("You normalised the gradient: x - lr * grad / |grad| takes a step of length lr whatever the "
                "slope. Gradient descent's step is lr times the gradient itself, x - lr * grad, short where the "
                "loss is flat.")),
        Mistake(lambda x, grad, lr: x - lr,
                N_("Did you subtract lr itself instead of lr * grad?")),
    ],
)


# --------------------------------------------------------------------------- gradient_descent
def _gradient_descent_in_place(grad, x0, lr, num_steps, max_norm=1e6):
    x = np.array(x0, dtype=np.float64)
    points = [x]  # every entry is this one array, updated in place
    with np.errstate(all="ignore"):
        for _ in range(num_steps):
            x -= lr * grad(x)
            if not np.all(np.isfinite(x)) or np.linalg.norm(x) > max_norm:
                return np.array(points), True
            points.append(x)
    return np.array(points), False


def _gradient_descent_reference(grad, x0, lr, num_steps, max_norm=1e6):
    x = np.array(x0, dtype=np.float64)
    points = [x]
    diverged = False
    with np.errstate(all="ignore"):
        for _ in range(num_steps):
            x = x - lr * grad(x)
            if not np.all(np.isfinite(x)) or np.linalg.norm(x) > max_norm:
                diverged = True
                break
            points.append(x)
    return np.array(points), diverged


def _compare_run(actual: Any, expected: Any) -> str | None:
    exp_points, exp_diverged = expected
    if not isinstance(actual, (tuple, list)) or len(actual) != 2:
        return _("return a pair (points, diverged)")
    points, diverged = actual
    try:
        points = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        return _("points must be an array of iterates")
    if points.ndim == exp_points.ndim - 1 and points.shape == exp_points.shape[1:]:
        return _("points must hold every iterate, x0 first, not only the last one")
    if points.shape[0] != exp_points.shape[0]:
        return _("{count} points instead of {expected}: x0 plus one point per step, stopping before the first "
                 "non-finite or too-large iterate").format(count=points.shape[0], expected=exp_points.shape[0])
    problem = compare_close(points, exp_points)
    if problem is not None:
        if problem:
            return problem
        bad = int(np.argmax(np.any(~np.isclose(points, exp_points, rtol=1e-9, atol=1e-12), axis=tuple(range(1, points.ndim)))))
        mine, want = fmt_pair(points[bad], exp_points[bad])
        return _("points[{index}] is {actual}, expected {expected}").format(index=bad, actual=mine, expected=want)
    if not isinstance(diverged, (bool, np.bool_)) or bool(diverged) != exp_diverged:
        return _("diverged is {actual}, expected {expected}").format(actual=fmt(diverged), expected=exp_diverged)
    return None


def _gd_appends_bad_point(grad, x0, lr, num_steps, max_norm=1e6):
    x = np.array(x0, dtype=np.float64)
    points, diverged = [x], False
    for _ in range(num_steps):
        x = x - lr * grad(x)
        points.append(x)
        if not np.all(np.isfinite(x)) or np.linalg.norm(x) > max_norm:
            diverged = True
            break
    return np.array(points), diverged


def _gd_no_divergence_check(grad, x0, lr, num_steps, max_norm=1e6):
    x = np.array(x0, dtype=np.float64)
    points = [x]
    for _ in range(num_steps):
        x = x - lr * grad(x)
        points.append(x)
    return np.array(points), False


def _gd_without_x0(grad, x0, lr, num_steps, max_norm=1e6):
    points, diverged = _gradient_descent_reference(grad, x0, lr, num_steps, max_norm)
    return points[1:], diverged


def _gd_norm_variant(norm, at_bound=False):
    def gd(grad, x0, lr, num_steps, max_norm=1e6):
        x = np.array(x0, dtype=np.float64)
        points, diverged = [x], False
        with np.errstate(all="ignore"):
            for _ in range(num_steps):
                x = x - lr * grad(x)
                size = norm(x)
                if not np.all(np.isfinite(x)) or size > max_norm or (at_bound and size >= max_norm):
                    diverged = True
                    break
                points.append(x)
        return np.array(points), diverged
    return gd


def _gd_one_step_short(grad, x0, lr, num_steps, max_norm=1e6):
    return _gradient_descent_reference(grad, x0, lr, max(num_steps - 1, 0), max_norm)


def _norm_margins(grad, x0, lr, num_steps, max_norm=1e6):
    """norm(x) - max_norm for every iterate the reference computes, the one that stops it included."""
    x, margins = np.array(x0, dtype=np.float64), []
    with np.errstate(all="ignore"):
        for _ in range(num_steps):
            x = x - lr * grad(x)
            if not np.all(np.isfinite(x)):
                break
            margins.append(float(np.linalg.norm(x)) - max_norm)
            if margins[-1] > 0:
                break
    return margins


#: The gradient of -|x|^2 / 2: gradient descent runs away from the maximum at 0, |x| grows by (1 + lr) a step.
_RUN_AWAY = _Named(lambda x: -np.asarray(x, dtype=np.float64), N_("grad of -|x|^2/2 (runs away)"))
_NAN_PAST_2 = _Named(lambda x: np.where(np.abs(np.asarray(x, dtype=np.float64)) > 2, np.nan,
                                        -np.asarray(x, dtype=np.float64)),
                     N_("grad of -|x|^2/2, NaN past |x| = 2"))

_q1 = quadratic_1d(2.0)
_q2 = ill_conditioned(10.0, angle=0.5)
_q3 = quadratic_1d(1.0)

gradient_descent = Exercise(
    name="gradient_descent",
    points=2,
    reference=_gradient_descent_reference,
    cases=[
        Case(dict(grad=_grad_of(_q1, N_("grad of 2*x^2/2")), x0=_arr(1.0), lr=0.1, num_steps=10, max_norm=1e6)),
        Case(dict(grad=_grad_of(_q2, N_("grad of a kappa=10 quadratic")), x0=_arr(1.0, 1.0), lr=0.15,
                  num_steps=25, max_norm=1e6)),
        Case(dict(grad=_grad_of(_q3, N_("grad of x^2/2")), x0=_arr(1.0), lr=3.0, num_steps=50, max_norm=1e6),
             note=N_("diverges: |x| doubles every step")),
        Case(dict(grad=_grad_of(_q3, N_("grad of x^2/2")), x0=_arr(1.0), lr=3.0, num_steps=50, max_norm=10.0),
             note=N_("a smaller max_norm")),
        Case(dict(grad=_Named(lambda x: np.exp(np.exp(np.exp(x))), N_("exp(exp(exp(x)))")), x0=_arr(2.0),
                  lr=0.001, num_steps=5, max_norm=1e6),
             note=N_("the gradient overflows to inf at the first step")),
        Case(dict(grad=_grad_of(_q1, N_("grad of 2*x^2/2")), x0=_arr(1.0), lr=0.1, num_steps=0, max_norm=1e6),
             note=N_("num_steps=0")),
        Case(dict(grad=_RUN_AWAY, x0=np.array([[3.0, 0.0], [0.0, 4.0]]), lr=1.0, num_steps=6, max_norm=20.0),
             note=N_("a 2x2 point whose norm doubles: 5, 10, then exactly max_norm=20, then 40")),
        Case(dict(grad=_RUN_AWAY, x0=np.array([[0.0, 3.0], [4.0, 0.0]]), lr=1.0, num_steps=6, max_norm=36.0),
             note=N_("the norm is np.linalg.norm(x), here 40 > 36, while the largest entry and the largest singular "
                     "value are 32")),
        Case(dict(grad=_RUN_AWAY, x0=np.array([[3.0, 1.0], [0.0, 2.0]]), lr=1.0, num_steps=6, max_norm=28.0),
             note=N_("a full-rank 2x2 point: after 3 steps np.linalg.norm(x) is 29.9 > 28, its largest singular value "
                     "26.1")),
        Case(dict(grad=_RUN_AWAY, x0=np.array([[3.0, 1.0], [0.0, 2.0]]), lr=1.0, num_steps=6, max_norm=25.0),
             note=N_("the same point: after 3 steps np.linalg.norm(x) is 29.9 > 25, its largest entry 24")),
        Case(dict(grad=_RUN_AWAY, x0=_arr(3.0, 4.0), lr=0.5, num_steps=3, max_norm=1e6),
             note=N_("a vector; not diverged within num_steps")),
        Case(dict(grad=_NAN_PAST_2, x0=_arr(0.5), lr=1.0, num_steps=6, max_norm=1e6),
             note=N_("the gradient turns NaN once |x| > 2: a NaN iterate has diverged, though its norm is not > max_norm")),
        Case(dict(grad=_RUN_AWAY, x0=_arr(-5.0), lr=1.0, num_steps=6, max_norm=20.0),
             note=N_("one coordinate: |x| is 10, then exactly max_norm=20, then 40")),
        Case(dict(grad=_RUN_AWAY, x0=_arr(3.0, -4.0), lr=1.0, num_steps=20),
             note=N_("max_norm left at its default, 1e6: 5, 10, 20, ... stops after 655360")),
    ],
    compare=_compare_run,
    bounds=(Bound("np.linalg.norm(x) > max_norm", lambda case: _norm_margins(**case.kwargs)),),
    hint_text=N_("""
        Start with points = [x0]. Repeat num_steps times: x = x - lr * grad(x); if x is not
        finite (np.all(np.isfinite(x)) is False) or np.linalg.norm(x) > max_norm, set
        diverged = True and stop *without* appending x; otherwise append it.
        Return (np.array(points), diverged).
    """),
    mistakes=[
        Mistake(_gradient_descent_in_place,
                N_("Every stored point is the final x: x -= lr * grad(x) changes one array in place, and the list "
                "holds that same array each time. Write x = x - lr * grad(x), a new array, or append x.copy().")),
        Mistake(_gd_appends_bad_point,
                N_("It looks like you appended the diverged iterate before stopping; stop before appending it.")),
        Mistake(_gd_no_divergence_check,
                N_("It looks like the loop never checks for divergence (non-finite or norm > max_norm).")),
        Mistake(_gd_without_x0, N_("Did you leave x0 out of points? points[0] must be the start.")),
        Mistake(_gd_one_step_short, N_("Off by one: take num_steps steps, giving num_steps + 1 points.")),
        Mistake(_gd_norm_variant(lambda x: np.linalg.norm(x, 2)),
                N_("np.linalg.norm(x, 2) of a 2-D iterate is its largest singular value (the spectral norm), not its "
                "Euclidean length: measure it with np.linalg.norm(x), no ord, which takes all the entries. The largest "
                "singular value is smaller, so your run goes on past max_norm.")),
        Mistake(_gd_norm_variant(lambda x: np.max(np.abs(x))),
                N_("Measure the iterate with np.linalg.norm(x), the Euclidean length; the largest entry is smaller, "
                "so your run goes on past max_norm.")),
        Mistake(_gd_norm_variant(lambda x: np.sum(np.abs(x))),
                N_("Measure the iterate with np.linalg.norm(x), the Euclidean length; the sum of the entries' sizes "
                "is larger, so your run stops too early.")),
        Mistake(_gd_norm_variant(np.linalg.norm, at_bound=True),
                N_("An iterate exactly at max_norm has not diverged: stop only when np.linalg.norm(x) > max_norm.")),
    ],
)


# --------------------------------------------------------------------------- max_stable_lr
_spd3 = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 1.0]])

def _draw_hessian(rng: np.random.Generator) -> Case:
    """A hidden case for the quadratic exercises: a random symmetric positive-definite H, 1x1 to 3x3."""
    n = int(rng.integers(1, 4))
    A = rng.normal(size=(n, n))
    return Case(dict(H=A @ A.T + float(rng.uniform(0.05, 1.0)) * np.eye(n)))


max_stable_lr = Exercise(
    name="max_stable_lr",
    points=1,
    reference=ref.max_stable_lr,
    cases=[
        Case(dict(H=np.diag([4.0, 1.0]))),
        Case(dict(H=np.array([[2.0]])), note=N_("1-D")),
        Case(dict(H=np.array([[2.0, 1.0], [1.0, 2.0]])), note=N_("not diagonal: eigenvalues 1 and 3")),
        Case(dict(H=_spd3), note=N_("3x3")),
        Case(dict(H=np.diag([1.0, 5.0, 3.0])), note=N_("3x3 diagonal: the largest eigenvalue is not the last entry")),
    ],
    exempt={"bounds": "a formula of H's eigenvalues: no threshold is applied to the cases"},
    draw=_draw_hessian,
    hint_text=N_("""
        GD on a quadratic is stable iff |1 - lr * lambda| < 1 for every eigenvalue lambda of H.
        The largest eigenvalue L is the binding one: lr < 2 / L. np.linalg.eigvalsh(H)
        returns the eigenvalues of a symmetric matrix in ascending order.
    """),
    mistakes=[
        Mistake(lambda H: 1.0 / np.linalg.eigvalsh(H)[-1],
                N_("1/L is the step that makes the steepest direction converge in one step; the *edge* of stability is 2/L.")),
        Mistake(lambda H: 2.0 / np.linalg.eigvalsh(H)[0],
                N_("Did you use the smallest eigenvalue? The largest one limits the step.")),
        Mistake(lambda H: 2.0 / np.max(np.diag(H)),
                N_("The diagonal of H is not its eigenvalues unless H is diagonal; use np.linalg.eigvalsh(H).")),
        Mistake(lambda H: 2.0 / np.trace(H),
                N_("The trace is the sum of all eigenvalues; the bound uses only the largest.")),
        Mistake(lambda H: 2.0 / np.linalg.norm(H),
                N_("np.linalg.norm(H) of a matrix is its Frobenius norm, the root of the sum of all squared "
                "entries, not its largest eigenvalue (they agree only when one eigenvalue is nonzero). Use "
                "np.linalg.eigvalsh(H)[-1], or np.linalg.norm(H, 2) for a symmetric positive H.")),
    ],
)


# --------------------------------------------------------------------------- optimal_lr
def _compare_pair(actual: Any, expected: Any) -> str | None:
    if not isinstance(actual, (tuple, list)) or len(actual) != 2:
        return _("return a pair (lr, rate)")
    for name, a, e in zip(("lr", "rate"), actual, expected, strict=True):
        problem = compare_close(a, e)
        if problem is not None:
            mine, want = fmt_pair(a, e)
            return _("{name} is {actual}, expected {expected}").format(name=name, actual=mine, expected=want) + (
                f": {problem}" if problem else "")
    return None


def _eig(H):
    eig = np.linalg.eigvalsh(H)
    return eig[-1], eig[0]


def _optimal_by_eigvals_order(H):
    ev = np.real(np.linalg.eigvals(H))
    mu, L = ev[0], ev[-1]
    kappa = L / mu
    return 2.0 / (L + mu), (kappa - 1) / (kappa + 1)


optimal_lr = Exercise(
    name="optimal_lr",
    points=2,
    reference=ref.optimal_lr,
    cases=[
        Case(dict(H=np.diag([3.0, 1.0]))),
        Case(dict(H=np.diag([1.0, 10.0])), note=N_("the steep direction is the second axis")),
        Case(dict(H=np.array([[2.0, 1.0], [1.0, 2.0]])), note=N_("not diagonal")),
        Case(dict(H=5.0 * np.eye(2)), note=N_("kappa = 1: one step solves it")),
        Case(dict(H=_spd3), note=N_("3x3")),
        Case(dict(H=np.diag([1.0, 5.0, 3.0])), note=N_("3x3 diagonal: the largest eigenvalue is not the last entry")),
    ],
    compare=_compare_pair,
    exempt={"bounds": "a formula of H's eigenvalues: no threshold is applied to the cases"},
    draw=_draw_hessian,
    hint_text=N_("""
        With L the largest and mu the smallest eigenvalue of H, the best constant step
        balances the fastest and the slowest direction: |1 - lr*mu| = |1 - lr*L|.
        Solve it for lr, then the rate is |1 - lr*mu| = (kappa - 1) / (kappa + 1) with
        kappa = L / mu. Return (lr, rate).
    """),
    mistakes=[
        Mistake(lambda H: (1.0 / _eig(H)[0], (_eig(H)[0] - _eig(H)[1]) / (_eig(H)[0] + _eig(H)[1])),
                N_("1/L only makes the steepest direction converge in one step; the best step is 2/(L + mu).")),
        Mistake(lambda H: (2.0 / sum(_eig(H)), 1.0 - _eig(H)[1] / _eig(H)[0]),
                N_("1 - 1/kappa is the rate of the step 1/L; the step 2/(L + mu) gives (kappa - 1)/(kappa + 1).")),
        Mistake(lambda H: (2.0 / sum(_eig(H)),
                           (np.sqrt(_eig(H)[0] / _eig(H)[1]) - 1) / (np.sqrt(_eig(H)[0] / _eig(H)[1]) + 1)),
                N_("(sqrt(kappa) - 1)/(sqrt(kappa) + 1) is heavy-ball momentum's rate (notebook 03); plain GD's is (kappa - 1)/(kappa + 1).")),
        Mistake(lambda H: ((_eig(H)[0] - _eig(H)[1]) / (_eig(H)[0] + _eig(H)[1]), 2.0 / sum(_eig(H))),
                N_("Did you swap the two? Return (lr, rate).")),
        Mistake(lambda H: (2.0 / _eig(H)[0] + _eig(H)[1], (_eig(H)[0] - _eig(H)[1]) / (_eig(H)[0] + _eig(H)[1])),
                N_("Mind the parentheses: 2 / L + mu is (2 / L) + mu; the best step is 2 / (L + mu).")),
        Mistake(lambda H: (2.0 / (H[0, 0] + H[-1, -1]), abs(H[0, 0] - H[-1, -1]) / (H[0, 0] + H[-1, -1])),
                N_("Use the eigenvalues of H (np.linalg.eigvalsh), not its diagonal entries.")),
        Mistake(lambda H: (2.0 / (np.max(np.diag(H)) + np.min(np.diag(H))),
                           (np.max(np.diag(H)) - np.min(np.diag(H))) / (np.max(np.diag(H)) + np.min(np.diag(H)))),
                N_("You took L and mu as the largest and smallest diagonal entries of H. They are its eigenvalues "
                   "only when H is diagonal: use np.linalg.eigvalsh(H).")),
        Mistake(_optimal_by_eigvals_order,
                N_("np.linalg.eigvals returns the eigenvalues in no particular order, so ev[0] and ev[-1] are not "
                "mu and L in general (here they came swapped, and the rate came out negative). Use "
                "np.linalg.eigvalsh(H), which sorts them in ascending order, or take min() and max().")),
        Mistake(lambda H: (2.0 / sum(_eig(H)), (_eig(H)[1] / _eig(H)[0] - 1) / (_eig(H)[1] / _eig(H)[0] + 1)),
                N_("L and mu are swapped: np.linalg.eigvalsh returns the eigenvalues in ascending order, so L, the "
                "largest, is the last and mu the first. With them swapped kappa = mu / L is below 1 and the rate "
                "comes out negative.")),
    ],
)


# --------------------------------------------------------------------------- lr_regime
def _lr_regime_reference(a, lr):
    return ref.lr_regime(a, lr)


def _regime_with(div, osc, slow):
    def fn(a, lr):
        h = lr * a
        if div(h):
            return "divergent"
        if osc(h):
            return "oscillating"
        return "slow" if slow(h) else "monotone"
    return fn


def _regime_margins(bound: float) -> Callable[[Case], list]:
    return lambda case: [case.kwargs["lr"] * case.kwargs["a"] - bound]


def _product_probe(fn: Callable, call: Callable) -> str:
    """Feedback when the learner's regime changes while lr * a stays the same."""
    for h in (0.05, 0.5, 1.5, 3.0):
        pairs = [(a, h / a) for a in (0.5, 1.0, 4.0)]  # exact: a is a power of 2
        answers = []
        for a, lr in pairs:
            try:
                answers.append(call(fn, [a, lr]))
            except Exception:
                return ""
        for (a, lr), answer in zip(pairs[1:], answers[1:]):
            if answer != answers[0]:
                return " " + _(
                    "Your answer changes while lr * a stays {h}: lr_regime(a={a1}, lr={lr1}) gives {answer1} but "
                    "lr_regime(a={a2}, lr={lr2}) gives {answer2}. Every step multiplies x by 1 - lr * a, so the "
                    "regime depends on the product h = lr * a alone: compute h first and test only h."
                ).format(h=fmt(h), a1=fmt(pairs[0][0]), lr1=fmt(pairs[0][1]), answer1=fmt(answers[0]), a2=fmt(a),
                         lr2=fmt(lr), answer2=fmt(answer))
    return ""


lr_regime = ProbedExercise(
    name="lr_regime",
    points=2,
    reference=_lr_regime_reference,
    cases=[
        Case(dict(a=1.0, lr=0.05)),
        Case(dict(a=1.0, lr=0.5)),
        Case(dict(a=0.5, lr=3.0)),
        Case(dict(a=10.0, lr=0.25)),
        Case(dict(a=100.0, lr=0.0005), note=N_("a steep loss with a tiny step")),
        Case(dict(a=2.0, lr=0.05), note=N_("edge: lr * a exactly 0.1")),
        Case(dict(a=2.0, lr=0.5), note=N_("edge: lr * a exactly 1, one step to the minimum")),
        Case(dict(a=4.0, lr=0.5), note=N_("edge: lr * a exactly 2, bounces forever")),
        Case(dict(a=4.0, lr=0.3)),
        Case(dict(a=10.0, lr=0.05), note=N_("a steep loss: lr is small, but lr * a = 0.5")),
        Case(dict(a=0.25, lr=0.2), note=N_("a flat loss: lr is 0.2, but lr * a = 0.05")),
        Case(dict(a=8.0, lr=0.25), note=N_("edge: lr * a exactly 2 again, from other numbers")),
    ],
    compare=compare_choice(ref.REGIMES),
    probe=_product_probe,
    bounds=(Bound("lr * a < 0.1 (slow)", _regime_margins(0.1)),
            Bound("lr * a > 1 (oscillating)", _regime_margins(1.0)),
            Bound("lr * a >= 2 (divergent)", _regime_margins(2.0))),
    hint_text=N_("""
        Everything depends on h = lr * a, because x_t = (1 - h)**t * x0.
        h >= 2: |1 - h| >= 1, it never converges -> "divergent".
        1 < h < 2: 1 - h is negative, x flips sign every step but shrinks -> "oscillating".
        0.1 <= h <= 1: shrinks without overshooting -> "monotone".
        h < 0.1: less than 10 % of the error removed per step -> "slow".
    """),
    mistakes=[
        Mistake(lambda a, lr: _lr_regime_reference(a / 2, lr),
                N_("You halved the curvature: the loss a/2 * x^2 has curvature (second derivative) a, not a/2, so "
                "the regime depends on h = lr * a.")),
        Mistake(_regime_with(lambda h: h > 2, lambda h: h > 1, lambda h: h < 0.1),
                N_("At lr * a == 2 the factor is exactly -1: x bounces between x0 and -x0 forever, "
                "which is not convergence, so it counts as divergent.")),
        Mistake(_regime_with(lambda h: h >= 2, lambda h: h >= 1, lambda h: h < 0.1),
                N_("At lr * a == 1 the factor is 0: one step lands on the minimum, no overshoot, so it is monotone.")),
        Mistake(_regime_with(lambda h: h >= 1, lambda h: False, lambda h: h < 0.1),
                N_("Between 1/a and 2/a the iterates overshoot but still converge: that is oscillating, not divergent.")),
        Mistake(_regime_with(lambda h: h >= 2, lambda h: h > 1, lambda h: h <= 0.1),
                N_("At lr * a == 0.1 the step removes exactly 10 % of the error: that is monotone, not slow.")),
    ],
)


# --------------------------------------------------------------------------- basin_reached
def _basin_reference(loss, x0, lr, num_steps=200):
    return ref.basin_reached(loss, x0, lr, num_steps)


def _basin_by_lr(loss, x0, lr, num_steps=200):
    if lr >= 2.0 / loss.curvature(loss.global_min):
        return "diverged"
    return "local" if lr < 2.0 / loss.curvature(loss.local_min) else "global"


def _basin_one_step_short(loss, x0, lr, num_steps=200):
    run = ref.run(loss, x0, lr, num_steps)
    return "diverged" if run.diverged else ref.nearest_minimum(loss, float(run.points[max(len(run.points) - 2, 0)][0]))


def _basin_by_loss_value(loss, x0, lr, num_steps=200):
    run = ref.run(loss, x0, lr, num_steps)
    if run.diverged:
        return "diverged"
    v = float(loss.value(run.final))
    near_trap = abs(v - float(loss.value(np.array([loss.local_min])))) < abs(v - float(loss.value(np.array([loss.global_min]))))
    return "local" if near_trap else "global"


def _basin_default_minima(loss, x0, lr, num_steps=200):
    run = ref.run(loss, x0, lr, num_steps)
    if run.diverged:
        return "diverged"
    default = TwoBasins()
    x = float(run.final[0])
    return "local" if abs(x - default.local_min) < abs(x - default.global_min) else "global"


def _basin_only_non_finite(loss, x0, lr, num_steps=200):
    run = ref.run(loss, x0, lr, num_steps, max_norm=np.inf)
    return "diverged" if run.diverged else ref.nearest_minimum(loss, float(run.final[0]))


def _basin_no_divergence(loss, x0, lr, num_steps=200):
    return ref.nearest_minimum(loss, float(ref.run(loss, x0, lr, num_steps).final[0]))


def _basin_by_start(loss, x0, lr, num_steps=200):
    if ref.run(loss, x0, lr, num_steps).diverged:
        return "diverged"
    return ref.nearest_minimum(loss, float(np.asarray(x0).reshape(-1)[0]))


def _basin_on_default_loss(loss, x0, lr, num_steps=200):
    return ref.basin_reached(TwoBasins(), x0, lr, num_steps)


def _basin_with_tolerance(loss, x0, lr, num_steps=200):
    traj = ref.run(loss, x0, lr, num_steps)
    if traj.diverged:
        return "diverged"
    final = float(traj.final[0])
    if abs(final - loss.local_min) < 1e-3:
        return "local"
    return "global" if abs(final - loss.global_min) < 1e-3 else "diverged"


def _basin_fixed_steps(loss, x0, lr, num_steps=200):
    return ref.basin_reached(loss, x0, lr, 200)


_two = TwoBasins()
_two_mirror = TwoBasins(x_global=-2.0, x_trap=1.0)
_two_wide = TwoBasins(mu=0.5, x_global=4.0, x_trap=-1.0, depth=3.0, width=0.4)

basin_reached = Exercise(
    name="basin_reached",
    points=2,
    reference=_basin_reference,
    cases=[
        Case(dict(loss=_two, x0=-1.0, lr=0.03, num_steps=200)),
        Case(dict(loss=_two, x0=-1.0, lr=0.3, num_steps=200)),
        Case(dict(loss=_two, x0=-1.0, lr=2.5, num_steps=200)),
        Case(dict(loss=_two, x0=5.0, lr=0.03, num_steps=200), note=N_("starts in the wide basin")),
        Case(dict(loss=_two, x0=-0.5, lr=1.0, num_steps=200)),
        Case(dict(loss=_two_mirror, x0=1.5, lr=0.02, num_steps=200), note=N_("another loss: the trap is at x=1")),
        Case(dict(loss=_two_mirror, x0=1.5, lr=0.5, num_steps=200), note=N_("another loss: the trap is at x=1")),
        Case(dict(loss=_two, x0=1.0, lr=0.05, num_steps=5),
             note=N_("5 steps: the run stops far from both minima, a little nearer the trap")),
        Case(dict(loss=_two, x0=1.3, lr=0.05, num_steps=5),
             note=N_("5 steps: the run stops far from both minima, a little nearer the global one")),
        Case(dict(loss=_two_wide, x0=1.0, lr=0.1, num_steps=400), note=N_("a third loss: trap at x=-1")),
        Case(dict(loss=_two_wide, x0=-0.8, lr=0.1, num_steps=400), note=N_("a third loss: trap at x=-1")),
        Case(dict(loss=_two, x0=1.3, lr=0.05), note=N_("num_steps left at its default, 200")),
        Case(dict(loss=_two, x0=1.0, lr=0.03, num_steps=10),
             note=N_("10 steps: the run stops nearer the trap, but its loss is nearer the global minimum's")),
        Case(dict(loss=_two, x0=-1.0, lr=0.3, num_steps=3),
             note=N_("3 steps: the last step jumps over the barrier into the wide basin")),
    ],
    exempt={"bounds": "the text names no tie between the minima (a tie would be arbitrary); instead two cases "
                      "stop after 5 steps just either side of the midpoint, far from both minima, so a fixed "
                      "tolerance around a minimum fails"},
    compare=compare_choice(("local", "global", "diverged")),
    hint_text=N_("""
        Run gradient descent from x0 (your gradient_descent with loss.grad and np.array([x0]),
        or lrcourse.descent.run). If the run diverged return "diverged"; otherwise compare the
        *final* iterate's distance to loss.local_min and to loss.global_min and return
        "local" or "global" for the nearer one.
    """),
    mistakes=[
        Mistake(_basin_by_lr,
                N_("Did you decide from lr alone? Where a run ends also depends on where it starts; run it.")),
        Mistake(_basin_no_divergence,
                N_("A run that diverged must return \"diverged\".")),
        Mistake(_basin_only_non_finite,
                N_("A run whose iterates grow without bound has diverged while they are still finite: "
                "gradient_descent stops when np.linalg.norm(x) > max_norm (1e6 by default) as well as when x is "
                "not finite. At lr = 2.5, 200 steps that multiply |x| by 1.5 each end near 1e35: finite, and diverged.")),
        Mistake(_basin_by_start,
                N_("Use the final iterate, not the start point.")),
        Mistake(_basin_on_default_loss,
                N_("Your answers are those of the notebook's loss (trap = losses.TwoBasins()), whatever loss is "
                "passed: use the loss argument (loss.grad, loss.local_min, loss.global_min), not a global.")),
        Mistake(_basin_with_tolerance,
                N_("A run that is still on its way is not \"diverged\": compare the final iterate's distance to "
                "each minimum and return the nearer one, with no tolerance.")),
        Mistake(_basin_fixed_steps, N_("Take num_steps steps, not a fixed 200.")),
        Mistake(lambda loss, x0, lr, num_steps=200: {"local": "global", "global": "local"}.get(
                    _basin_reference(loss, x0, lr, num_steps), "diverged"),
                N_("Your answer names the farther minimum: the basin is the one whose minimum is nearer the final "
                "iterate (the smaller distance).")),
        Mistake(_basin_by_loss_value,
                N_("You compared loss values: the basin is decided by where the final iterate is, its distance to "
                "loss.local_min and to loss.global_min, not by which minimum's loss its loss is closer to.")),
        Mistake(_basin_default_minima,
                N_("Your minima are the notebook's loss's (trap near 0.1, global at 3) whatever loss is passed: "
                "read loss.local_min and loss.global_min.")),
        Mistake(_basin_one_step_short,
                N_("You judged the iterate before the last one: the run ends at the final iterate, points[-1], "
                "and its last step can cross the barrier between the basins.")),
    ],
)

#: Every exercise of notebook 01, in notebook order.
EXERCISES = (gd_step, lr_regime, gradient_descent, max_stable_lr, optimal_lr, basin_reached)
