"""Notebook 04's checks: expected answers come from torch, the library classes pass, wrong answers fail."""
from __future__ import annotations

import math

import pytest

from lrcourse import plateau as P
from lrcourse.exercises import plateau as ex


def test_is_improvement_cases_are_torchs_rule():
    import torch

    opt = torch.optim.SGD([torch.zeros(1)], lr=0.1)
    for case in ex.is_improvement.cases:
        kw = {"mode": "min", "threshold_mode": "rel", "threshold": 1e-4, **case.kwargs}  # torch's defaults, too
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=kw["mode"], threshold=kw["threshold"],
                                                           threshold_mode=kw["threshold_mode"])
        assert ex.is_improvement.expected(case) == sched._is_better(kw["current"], kw["best"])


def test_first_cut_cases_agree_with_the_library():
    for case in ex.first_cut_epoch.cases:
        kw = dict(case.kwargs)
        assert ex.first_cut_epoch.expected(case) == P.first_cut_epoch(kw.pop("metrics"), **kw)


def test_the_library_classes_pass_the_class_exercises(capsys):
    ex.PlateauScheduler.check(P.ReduceLROnPlateau)
    ex.EarlyStopping.check(P.EarlyStopping)
    assert capsys.readouterr().out.count("✓") == 2


def test_every_plateau_case_cuts_and_the_streams_cover_nan_and_negatives():
    for case in ex.PlateauScheduler.cases:
        cuts = P.ReduceLROnPlateau(**case.kwargs).run(case.metrics).cuts
        assert bool(cuts) != ("eps" in case.note), case.note  # only the eps case never cuts
    metrics = [m for c in ex.PlateauScheduler.cases for m in c.metrics]
    assert any(math.isnan(m) for m in metrics) and any(m < 0 for m in metrics)


def test_settings_goals_have_several_answers_and_the_defaults_miss_them():
    ok = [(p, f) for p in range(12) for f in (0.1, 0.2, 0.25, 0.3, 0.4, 0.5) if ex._settings_report(p, f) == []]
    assert (6, 0.25) in ok and len(ok) >= 5
    assert {p for p, _ in ok} == {4, 5, 6, 7}  # the stream's longest gap is 4, the plateau starts after epoch 30
    assert ex._settings_report(10, 0.1) and ex._settings_report(3, 0.3)


def test_settings_report_prints_the_goals_missed(capsys):
    ex.settings_report(2, 0.5)
    out = capsys.readouterr().out
    assert "noisy descent, at epoch 9" in out and "outside [0.001, 0.01]" in out
    ex.settings_report(6, 0.25)
    assert capsys.readouterr().out == "all goals met\n"


def test_a_missing_attribute_is_named():
    class NoBest(ex._Plateau):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            del self.best
            self.best_metric = math.inf

        def _better(self, metric):
            return P.is_improvement(metric, self.best_metric, self.mode, self.threshold_mode, self.threshold)

        def _count(self, metric):
            if self._better(metric):
                self.best_metric, self.num_bad_epochs = metric, 0
            else:
                self.num_bad_epochs += 1

    with pytest.raises(AssertionError, match="your object has no attribute 'best'.*keep it as self.best"):
        ex.PlateauScheduler.check(NoBest)


def test_a_crash_in_step_names_the_epoch_and_metric():
    class Crashes(ex._Plateau):
        def step(self, metric):
            if metric != metric:
                raise ValueError("nan!")
            return super().step(metric)

    with pytest.raises(AssertionError, match=r"step\(nan\) at epoch 3 raised ValueError: nan!"):
        ex.PlateauScheduler.check(Crashes)


class _ReturnsNothing(ex._Plateau):
    def step(self, metric):
        super().step(metric)


class _CutsFromInitial(ex._Plateau):
    def __init__(self, lr, **kwargs):
        super().__init__(lr, **kwargs)
        self.lr0 = lr

    def _new_lr(self):
        return max(self.lr0 * self.factor, self.min_lr)


class _AlwaysAbs(ex._Plateau):
    def _better(self, metric):
        return P.is_improvement(metric, self.best, self.mode, "abs", self.threshold)


class _NeverCoolsDown(ex._Plateau):
    def _cool(self):
        if self.cooldown_counter > 0:
            self.num_bad_epochs = 0


class _StopsAtFirstBad(ex._EarlyStopping):
    def _stop(self):
        return self.num_bad_epochs >= 1


class _StopString(ex._EarlyStopping):
    def step(self, metric):
        return "stop" if super().step(metric) else "go on"


class _NoBestEpoch(ex._EarlyStopping):
    def _epoch_label(self):
        return None


class _IgnoresMode(ex._EarlyStopping):
    def _better(self, metric):
        return P.is_improvement(metric, self.best if self.mode == "min" else -self.best, "min", "abs",
                                self.min_delta)


#: Plausible wrong answers beyond the known mistakes; tests/test_exercises.py feeds them to the checks.
WRONG_ANSWERS = {
    "is_improvement": [
        lambda current, best, mode="min", threshold_mode="rel", threshold=1e-4: int(
            P.is_improvement(current, best, mode, threshold_mode, threshold)),
        lambda current, best, mode="min", threshold_mode="rel", threshold=1e-4: "yes",
        lambda current, best, mode="min", threshold_mode="rel", threshold=1e-4: P.is_improvement(
            current, best, mode, threshold_mode, 0.0 if mode == "max" else threshold),
        lambda current, best, mode="min", threshold_mode="rel", threshold=1e-4: bool(current < best),
    ],
    "PlateauScheduler": [_ReturnsNothing, _CutsFromInitial, _AlwaysAbs, _NeverCoolsDown, "PlateauScheduler"],
    "first_cut_epoch": [
        lambda metrics, patience, mode="min", threshold=1e-4, threshold_mode="rel": ex._first_cut_epoch(
            metrics, patience, mode, threshold, threshold_mode) or 0,
        lambda metrics, patience, mode="min", threshold=1e-4, threshold_mode="rel": float(ex._first_cut_epoch(
            metrics, patience, mode, threshold, threshold_mode) or 0),
        lambda metrics, patience, mode="min", threshold=1e-4, threshold_mode="rel": patience + 1,
        lambda metrics, patience, mode="min", threshold=1e-4, threshold_mode="rel": ex._first_cut_epoch(
            metrics, patience, "min", threshold, threshold_mode),
    ],
    "EarlyStopping": [_StopsAtFirstBad, _StopString, _NoBestEpoch, _IgnoresMode],
    "plateau_settings": [
        lambda: {"patience": 6, "factor": 0.25},
        lambda: (4, 0.5),
        lambda: (8, 0.2),
        lambda: (3, 0.3),
        lambda: (6, 1.5),
        lambda: (6.0, 0.25),
    ],
}
