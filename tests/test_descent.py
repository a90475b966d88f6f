"""The reference gradient-descent runner and the learning-rate facts of notebook 01."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from lrcourse import descent, losses

RNG = np.random.default_rng(2024)


@pytest.mark.parametrize("seed", range(40))
def test_iterates_equal_the_closed_form(seed):
    rng = np.random.default_rng(seed)
    a = float(rng.uniform(0.1, 10.0))
    lr = float(rng.uniform(0.01, 1.99)) / a  # every stable regime
    x0 = float(rng.uniform(-5, 5))
    traj = descent.run(losses.quadratic_1d(a), [x0], lr, num_steps=60)
    assert not traj.diverged and traj.num_steps == 60
    np.testing.assert_allclose(traj.points[:, 0], descent.closed_form_1d(a, x0, lr, np.arange(61)),
                               rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(traj.losses, 0.5 * a * traj.points[:, 0] ** 2, rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(traj.lrs, np.full(60, lr))


def test_iterates_equal_the_closed_form_in_the_eigenbasis():
    f = losses.ill_conditioned(20.0, angle=0.4)
    x0 = np.array([0.3, -1.2])
    lr = 0.08
    traj = descent.run(f, x0, lr, num_steps=50)
    eigvals, eigvecs = np.linalg.eigh(f.H)
    coords = eigvecs.T @ x0
    expected = np.array([eigvecs @ (coords * (1 - lr * eigvals) ** t) for t in range(51)])
    np.testing.assert_allclose(traj.points, expected, atol=1e-12)


@pytest.mark.parametrize("lr, max_norm, steps", [(3.0, 1e6, 19), (3.0, 10.0, 3), (2.5, 1e6, 34)])
def test_divergence_stops_the_run_before_the_bad_iterate(lr, max_norm, steps):
    # lr=3 on x^2/2 doubles |x| every step: 2**19 < 1e6 < 2**20, 2**3 < 10 < 2**4
    traj = descent.run(losses.quadratic_1d(1.0), [1.0], lr, num_steps=500, max_norm=max_norm)
    assert traj.diverged
    assert traj.num_steps == steps
    assert np.all(np.abs(traj.points) <= max_norm)
    assert np.all(np.isfinite(traj.losses))
    assert len(traj.lrs) == traj.num_steps
    assert f"diverged at step {steps + 1}" in repr(traj)


def test_overflow_and_nan_are_caught_without_warnings():
    class Explosive(losses.Loss):
        dim = 1
        name = "explosive"

        def value(self, x):
            return np.asarray(x)[..., 0] ** 2

        def grad(self, x):
            return np.exp(np.exp(np.asarray(x)))  # overflows to inf at x = 10

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning fails the test
        traj = descent.run(Explosive(), [10.0], 1.0, num_steps=10, max_norm=math.inf)
    assert traj.diverged and traj.num_steps == 0

    class NaNLoss(Explosive):
        def grad(self, x):
            return np.full_like(np.asarray(x, dtype=float), np.nan)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traj = descent.run(NaNLoss(), [0.0], 0.1, num_steps=10)
    assert traj.diverged and traj.num_steps == 0


def test_a_converging_run_is_not_marked_diverged():
    traj = descent.run(losses.quadratic_1d(1.0), [1.0], 1.9, num_steps=1000)
    assert not traj.diverged and traj.num_steps == 1000


def test_schedules_are_called_with_the_step_number():
    seen = []

    def schedule(step):
        seen.append(step)
        return 0.1 / (1 + step)

    traj = descent.run(losses.quadratic_1d(1.0), [1.0], schedule, num_steps=5)
    assert seen == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(traj.lrs, [0.1 / (1 + t) for t in range(5)])
    x = 1.0
    for t in range(5):
        x -= 0.1 / (1 + t) * x
    assert traj.final[0] == pytest.approx(x, rel=1e-14)
    with pytest.raises(ValueError, match="lr schedule must return a number > 0, got -1"):
        descent.run(losses.quadratic_1d(1.0), [1.0], lambda t: -1.0, num_steps=3)


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=0.0), "lr must be > 0, got 0.0"),
    (dict(lr=-0.1), "lr must be > 0, got -0.1"),
    (dict(lr=float("nan")), "lr must be finite"),
    (dict(x0=[np.inf, 0.0]), "x0 must contain only finite numbers"),
    (dict(x0=[np.nan, 0.0]), "x0 must contain only finite numbers"),
    (dict(x0=[1.0, 2.0, 3.0]), r"x0 must have shape \(2,\) to match the loss, got shape \(3,\)"),
    (dict(x0=[[1.0, 2.0]]), r"x0 must have shape \(2,\)"),
    (dict(x0="a"), "x0 must be an array of numbers"),
    (dict(num_steps=-1), "num_steps must be >= 0"),
    (dict(num_steps=2.5), "num_steps must be an integer"),
    (dict(max_norm=0.0), "max_norm must be > 0"),
])
def test_bad_arguments_raise_value_error_naming_the_argument(kwargs, message):
    args = dict(loss=losses.ill_conditioned(10.0), x0=[1.0, 1.0], lr=0.1, num_steps=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        descent.run(**args)


def test_run_rejects_something_that_is_not_a_loss():
    with pytest.raises(ValueError, match="loss must be an lrcourse.losses.Loss"):
        descent.run(lambda x: x, [1.0], 0.1)


def test_scalar_start_is_accepted_for_1d_losses():
    assert descent.run(losses.quadratic_1d(1.0), 2.0, 0.5, 1).final[0] == 1.0


@pytest.mark.parametrize("seed", range(10))
def test_max_stable_lr_is_the_edge_found_by_bisection(seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(3, 3))
    f = losses.Quadratic(A @ A.T + 0.5 * np.eye(3))
    bound = descent.max_stable_lr(f)
    assert bound == pytest.approx(2 / np.linalg.eigvalsh(f.H)[-1], rel=1e-12)
    found = descent.find_max_stable_lr(f, np.ones(3), lo=1e-4, hi=100.0, num_steps=3000)
    assert found == pytest.approx(bound, rel=2e-3)
    assert not descent.run(f, np.ones(3), 0.99 * bound, 4000).diverged
    assert descent.run(f, np.ones(3), 1.01 * bound, 4000).diverged


def test_find_max_stable_lr_validates_its_bracket():
    f = losses.quadratic_1d(1.0)
    with pytest.raises(ValueError, match="lo must be a stable learning rate"):
        descent.find_max_stable_lr(f, [1.0], lo=3.0, hi=5.0)
    with pytest.raises(ValueError, match="hi must be an unstable learning rate"):
        descent.find_max_stable_lr(f, [1.0], lo=0.1, hi=1.0)
    with pytest.raises(ValueError, match="lo must be < hi"):
        descent.find_max_stable_lr(f, [1.0], lo=1.0, hi=0.5)


@pytest.mark.parametrize("kappa", [1.0, 2.0, 10.0, 100.0])
def test_optimal_lr_contracts_at_exactly_the_predicted_rate(kappa):
    f = losses.ill_conditioned(kappa, angle=0.5)
    eta, rho = descent.optimal_lr(f)
    assert eta == pytest.approx(2 / (kappa + 1))
    assert rho == pytest.approx((kappa - 1) / (kappa + 1))
    traj = descent.run(f, [1.0, 1.0], eta, num_steps=40)
    if kappa > 1:
        assert descent.measured_rate(traj, f.minimizer) == pytest.approx(rho, rel=1e-9)
        # any other constant step is slower
        for other in (0.9 * eta, 1.1 * eta):
            slower = descent.run(f, [1.0, 1.0], other, num_steps=300)
            assert slower.diverged or descent.measured_rate(slower, f.minimizer, first=100) > rho
    else:
        assert np.allclose(traj.points[1], 0.0)


def test_optimal_and_stable_lr_validate_the_hessian():
    with pytest.raises(ValueError, match="H must be symmetric"):
        descent.max_stable_lr([[1.0, 2.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="H must be positive definite"):
        descent.optimal_lr([[1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="H must be a square matrix"):
        descent.optimal_lr([[1.0, 0.0]])
    assert descent.max_stable_lr(4.0) == 0.5


@pytest.mark.parametrize("a, lr, regime", [
    (1.0, 0.01, "slow"), (2.0, 0.05, "monotone"), (1.0, 0.5, "monotone"), (2.0, 0.5, "monotone"),
    (1.0, 1.5, "oscillating"), (4.0, 0.5, "divergent"), (1.0, 2.5, "divergent"), (100.0, 0.0009, "slow"),
])
def test_lr_regime(a, lr, regime):
    assert descent.lr_regime(a, lr) == regime


@pytest.mark.parametrize("seed", range(30))
def test_lr_regime_agrees_with_what_gd_does(seed):
    rng = np.random.default_rng(seed)
    a = float(rng.uniform(0.1, 10))
    lr = float(np.exp(rng.uniform(np.log(0.01), np.log(3.0)))) / a
    regime = descent.lr_regime(a, lr)
    x = descent.run(losses.quadratic_1d(a), [1.0], lr, num_steps=30).points[:, 0]
    if regime == "divergent":
        assert abs(x[-1]) >= 1.0
    else:
        assert abs(x[-1]) < 1.0
        assert (np.all(x >= 0)) == (regime in ("slow", "monotone"))
        if regime == "slow":
            assert x[1] > 0.9


def test_lr_regime_validates():
    with pytest.raises(ValueError, match="lr must be > 0"):
        descent.lr_regime(1.0, 0.0)
    with pytest.raises(ValueError, match="a must be > 0"):
        descent.lr_regime(-1.0, 0.1)


def test_basin_reached():
    f = losses.TwoBasins()
    assert [descent.basin_reached(f, -1.0, lr) for lr in (0.01, 0.05, 0.3, 1.0, 2.5)] == \
        ["local", "local", "global", "global", "diverged"]
    assert descent.basin_reached(f, 5.0, 0.03) == "global"


def test_measured_rate_validates_the_window():
    traj = descent.run(losses.quadratic_1d(1.0), [1.0], 0.5, 10)
    assert descent.measured_rate(traj, [0.0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="need 0 <= first < last"):
        descent.measured_rate(traj, [0.0], first=5, last=5)
