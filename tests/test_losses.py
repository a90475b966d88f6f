"""Toy losses: gradients and Hessians agree with finite differences; bad input is rejected."""
from __future__ import annotations

import numpy as np
import pytest

from lrcourse import losses

RNG = np.random.default_rng(1234)


def _numeric_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f.value(x + e) - f.value(x - e)) / (2 * h)
    return g


def _random_spd(d):
    A = RNG.normal(size=(d, d))
    return A @ A.T + 0.1 * np.eye(d)


@pytest.mark.parametrize("make", [
    lambda: losses.Quadratic(_random_spd(3), center=RNG.normal(size=3)),
    lambda: losses.ill_conditioned(30.0, angle=0.7),
    lambda: losses.quadratic_1d(2.5),
    lambda: losses.Rosenbrock(),
    lambda: losses.Rosenbrock(a=-0.5, b=10.0),
    lambda: losses.TwoBasins(),
    lambda: losses.TwoBasins(x_global=-2.0, x_trap=1.0, depth=3.0, width=0.3),
])
def test_gradient_matches_finite_differences(make):
    f = make()
    for _ in range(20):
        x = RNG.uniform(-2, 2, size=f.dim)
        np.testing.assert_allclose(f.grad(x), _numeric_grad(f, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("f", [losses.Rosenbrock(), losses.TwoBasins()])
def test_hessian_matches_finite_differences_of_the_gradient(f):
    h = 1e-6
    for _ in range(10):
        x = RNG.uniform(-1.5, 1.5, size=f.dim)
        numeric = np.stack([(f.grad(x + h * e) - f.grad(x - h * e)) / (2 * h) for e in np.eye(f.dim)], axis=-1)
        np.testing.assert_allclose(f.hessian(x), numeric, rtol=1e-5, atol=1e-4)


def test_losses_evaluate_whole_grids_at_once():
    f = losses.ill_conditioned(10.0, angle=0.3)
    grid = RNG.normal(size=(4, 5, 2))
    values = f.value(grid)
    assert values.shape == (4, 5)
    np.testing.assert_allclose(values[2, 3], f.value(grid[2, 3]))
    assert f.grad(grid).shape == (4, 5, 2)


def test_quadratic_constants():
    f = losses.Quadratic([[2.0, 1.0], [1.0, 2.0]])
    assert f.mu == pytest.approx(1.0) and f.L == pytest.approx(3.0)
    assert f.condition_number == pytest.approx(3.0)
    g = losses.ill_conditioned(50.0, mu=2.0, angle=1.1)
    np.testing.assert_allclose(np.linalg.eigvalsh(g.H), [2.0, 100.0], rtol=1e-12)
    assert g.condition_number == pytest.approx(50.0)
    assert losses.Quadratic([[1.0, 0], [0, 0]]).condition_number == np.inf


def test_two_basins_has_a_sharp_poor_trap_and_a_wide_good_minimum():
    f = losses.TwoBasins()
    assert f.value([f.local_min]) > f.value([f.global_min]) + 1
    assert f.curvature(f.local_min) > 20 * f.curvature(f.global_min)
    for x in (f.local_min, f.global_min):
        assert abs(f.grad([x])[0]) < 1e-9
        assert f.curvature(x) > 0
    assert repr(f) == "TwoBasins()"
    assert repr(losses.TwoBasins(x_trap=1.0)) == "TwoBasins(x_trap=1)"


@pytest.mark.parametrize("call, argument", [
    (lambda: losses.Quadratic([[1.0, 2.0], [0.0, 1.0]]), "H must be symmetric"),
    (lambda: losses.Quadratic([[1.0, 0.0], [0.0, -1.0]]), "H must be positive semi-definite"),
    (lambda: losses.Quadratic([1.0, 2.0]), "H must be 2-dimensional"),
    (lambda: losses.Quadratic([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), "H must be a non-empty square"),
    (lambda: losses.Quadratic([[np.nan]]), "H must contain only finite"),
    (lambda: losses.Quadratic([[1.0]], center=[1.0, 2.0]), "center must have shape (1,)"),
    (lambda: losses.quadratic_1d(0.0), "a must be > 0"),
    (lambda: losses.quadratic_1d(-1.0), "a must be > 0, got -1.0"),
    (lambda: losses.ill_conditioned(0.5), "kappa must be >= 1"),
    (lambda: losses.ill_conditioned(10.0, mu=-1.0), "mu must be > 0"),
    (lambda: losses.Rosenbrock(b=0.0), "b must be > 0"),
    (lambda: losses.TwoBasins(width=-1.0), "width must be > 0"),
    (lambda: losses.TwoBasins(depth=0.1), "do not make a trap"),
    (lambda: losses.quadratic_1d("2"), "a must be a real number"),
])
def test_bad_arguments_raise_value_error_naming_the_argument(call, argument):
    with pytest.raises(ValueError, match=argument.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_points_of_the_wrong_dimension_are_rejected():
    with pytest.raises(ValueError, match="x must have 2 coordinate"):
        losses.Rosenbrock().value([1.0, 2.0, 3.0])
