"""The reusable kinds of exercise: each notebook's module (``lrcourse.exercises.descent`` ...) holds only its
exercises, as data built from :class:`~lrcourse.exercises.Exercise` and these kinds.

==========================  =====================================================================  =============
kind                        the answer, and how it is checked                                      used in
==========================  =====================================================================  =============
``Exercise``                a function of the case's arguments, compared value by value           every notebook
``ProbedExercise``          the same, with a probe naming a cause no known mistake lists          01
``ScheduleExercise``        a schedule factory, checked LR by LR against torch, then for purity  02, 07
``StepExercise``            one optimizer step, fed its own state step after step vs torch.optim  03
``TableExercise``           an answer with few values (True/False, an epoch)                      04, 05
``StreamExercise``          a class with ``step(metric)``, checked epoch by epoch                 04
``GoalExercise``            any answer that meets the stated goals                                04
``FoldsExercise``           a k-fold split, checked by its properties                             05
``CVExercise``              a CV search (its folds summarised in feedback)                        05
``SamplerExercise``         random draws (their distribution tested when they differ)             05
``ObservedExercise``        what a function did to fresh torch objects                            06
``SchedulerExercise``       the same, for an LR scheduler built on an optimizer                    06
``LoopExercise``            the same, for a training loop (its calls' order, every LR used)       06
==========================  =====================================================================  =============

**Override points** of :class:`~lrcourse.exercises.Exercise` (a kind overrides some; each gets the call's
:class:`~lrcourse.exercises._core.CheckRun` where it needs the learner's function or the cases being tried, and
keeps nothing on the exercise, so checks are re-entrant):

* ``expected(case)`` — the right answer; ``describe(value)`` — how it reads in feedback;
  ``_expected_source()`` — where it comes from ("what torch.optim.Adam gives");
* ``_call_text(case)`` — how the call reads in feedback;
* ``_check(run)`` — run the learner's answer on ``run.cases`` (the default: call, then ``_verify``, case by case);
* ``_verify(run, case, actual, expected)`` — raise feedback unless ``actual`` is right;
* ``_answer(fn, case, call)`` and ``_same_answer(mine, theirs)`` — what an answer gives on a case, and when two
  agree: how a known mistake is recognised; ``_diagnosis_cases(cases)`` — which cases to compare on;
* ``_diagnose(run, case, actual)`` — the known mistake's message (call ``super()``, then add a cause of your own).
"""
from .observed import LoopCase, LoopExercise, ModelCase, ObservedExercise, SchedulerCase, SchedulerExercise
from .probed import ProbedExercise
from .resampling import CVExercise, FoldsExercise, SamplerExercise
from .schedules import ScheduleCase, ScheduleExercise
from .steps import StepCase, StepExercise
from .streams import GoalExercise, StreamCase, StreamExercise, TableExercise

__all__ = ["ProbedExercise", "ScheduleCase", "ScheduleExercise", "StepCase", "StepExercise", "TableExercise",
           "StreamCase", "StreamExercise", "GoalExercise", "FoldsExercise", "CVExercise", "SamplerExercise",
           "ModelCase", "ObservedExercise", "SchedulerCase", "SchedulerExercise", "LoopCase", "LoopExercise"]
