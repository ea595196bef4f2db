"""Capstones: the student's whole pipeline, graded by what it achieves on data it never saw.

A chapter's capstone is a :class:`Spec`: how to draw a split from a seed, the metric, the tiers and
the training budget. The student writes ``capstone_train(train, time_budget_s) -> model`` and
``capstone_predict(model, queries) -> predictions``; :func:`run` draws a split, trains, predicts,
scores and prints a small report, and :func:`require` is what a tier's test cell calls::

    capstone_result = capstone.run(CAPSTONE, capstone_train, capstone_predict, seed=CAPSTONE.validation_seed)
    capstone.require(CAPSTONE, capstone_train, capstone_predict, tier=2)               # visible check
    capstone.require(CAPSTONE, capstone_train, capstone_predict, tier=2, seed=...)     # hidden test

Runs are memoised on (spec, seed, the two function objects): every tier cell of one split trains once.
While the student's code runs, the data-set generators of ``course.data`` refuse to work (the capstone
gets its data as arguments; training on extra draws from the generator would be training on the test
distribution's source), and a hard limit of ``grace * budget_s`` seconds stops a run that overruns.
An exception, an overrun or a metric that is not a finite number scores tier 0 with a message that
says which.
"""

import contextlib
import importlib
import math
import pkgutil
import signal
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OverBudget", "Result", "Spec", "Split", "require", "run", "tier_of"]


class OverBudget(Exception):
    """Raised inside the student's code when the hard time limit is reached."""


@dataclass(frozen=True)
class Split:
    """What one seed of a capstone's data gives: the training data the student's ``capstone_train``
    receives, the ``queries`` its ``capstone_predict`` answers and the ``targets`` the metric compares
    the answers with (never shown to the student's code)."""

    train: Any
    queries: Any
    targets: Any


@dataclass(frozen=True, eq=False)
class Spec:
    name: str
    make_split: Callable[[int], Split]
    metric: Callable[[Any, Any], float]
    metric_name: str
    tiers: tuple  # ((threshold, label), ...) in increasing difficulty; tier k = the k-th threshold reached
    budget_s: float  # the training budget stated to the student (an idle 2-core machine)
    higher_is_better: bool = True
    baselines: dict = field(default_factory=dict)  # name -> measured metric, printed for orientation
    validation_seed: int = 0
    grace: float = 2.0  # the hard limit is grace * budget_s (graders are often busier than laptops)
    predict_budget_s: float | None = None  # defaults to budget_s

    def __post_init__(self):
        object.__setattr__(self, "tiers", tuple((float(t), str(label)) for t, label in self.tiers))
        thresholds = [t for t, _ in self.tiers]
        ordered = sorted(thresholds, reverse=not self.higher_is_better)
        if thresholds != ordered or len(set(thresholds)) != len(thresholds):
            raise ValueError(f"{self.name}: tiers must get strictly harder: {thresholds}")

    @property
    def top_tier(self):
        return len(self.tiers)


@dataclass
class Result:
    spec_name: str
    seed: int
    value: float | None = None  # the metric, None if the run failed
    tier: int = 0
    train_seconds: float | None = None
    predict_seconds: float | None = None
    error: str | None = None  # one line: what went wrong
    details: str = ""  # the traceback of the student's exception, if any

    @property
    def ok(self):
        return self.error is None


def tier_of(spec, value):
    """The number of tiers ``value`` reaches (0 if none, or if it is not a finite number)."""
    if value is None or not math.isfinite(value):
        return 0
    reached = 0
    for threshold, _ in spec.tiers:
        if (value >= threshold) if spec.higher_is_better else (value <= threshold):
            reached += 1
    return reached


# --- guards around the student's code ---------------------------------------------------------------
def _generator_modules():
    import course.data as package

    modules = [package]
    for info in pkgutil.iter_modules(package.__path__):
        if info.name != "common":  # rng(), torch_generator(): seeding helpers, not data sets
            modules.append(importlib.import_module(f"{package.__name__}.{info.name}"))
    return modules


def _blocked(name):
    def refuse(*args, **kwargs):
        raise RuntimeError(f"course.data.{name} is not available inside the capstone: capstone_train and "
                           "capstone_predict get their data as arguments")

    return refuse


@contextlib.contextmanager
def _data_generators_blocked():
    import course.data.common as common

    helpers = {id(obj) for obj in vars(common).values()}
    saved = []
    for module in _generator_modules():
        for name, obj in list(vars(module).items()):
            if callable(obj) and not name.startswith("_") and not isinstance(obj, type) and id(obj) not in helpers \
                    and getattr(obj, "__module__", "").startswith("course.data"):
                saved.append((module, name, obj))
                setattr(module, name, _blocked(name))
    try:
        yield
    finally:
        for module, name, obj in saved:
            setattr(module, name, obj)


@contextlib.contextmanager
def _hard_limit(seconds):
    """Raise OverBudget in the running code after ``seconds`` (main thread, POSIX); elsewhere the
    elapsed time is checked afterwards only."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def stop(signum, frame):
        raise OverBudget(f"stopped after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _student_call(fn, args, limit, what):
    """``(value, seconds, error, details)`` of calling the student's ``fn`` under the guards."""
    started = time.perf_counter()
    try:
        with _data_generators_blocked(), _hard_limit(limit):
            value = fn(*args)
    except OverBudget:
        stopped = f"{what} ran past the hard limit of {limit:.0f} s and was stopped"
        return None, time.perf_counter() - started, stopped, ""
    except Exception as error:  # noqa: BLE001 - the student's code may raise anything; report it
        details = "".join(traceback.format_exception(type(error), error, error.__traceback__.tb_next))
        return None, time.perf_counter() - started, f"{what} raised {type(error).__name__}: {error}", details
    seconds = time.perf_counter() - started
    if seconds > limit:  # where no signal could stop it
        return None, seconds, f"{what} took {seconds:.1f} s, past the hard limit of {limit:.0f} s", ""
    return value, seconds, None, ""


# --- running and grading -------------------------------------------------------------------------------
_RUNS = {}  # (id(spec), seed, id(train_fn), id(predict_fn)) -> (spec, train_fn, predict_fn, Result)


def run(spec, train_fn, predict_fn, seed=None, verbose=True):
    """Train and evaluate the student's pipeline on the split drawn with ``seed`` (the validation seed by
    default) and return a :class:`Result`. Never raises for the student's mistakes: they are recorded in
    ``Result.error`` (and printed when ``verbose``)."""
    seed = spec.validation_seed if seed is None else int(seed)
    key = (id(spec), seed, id(train_fn), id(predict_fn))
    cached = _RUNS.get(key)
    if cached is not None and cached[0] is spec and cached[1] is train_fn and cached[2] is predict_fn:
        result = cached[3]
    else:
        result = _evaluate(spec, train_fn, predict_fn, seed)
        _RUNS[key] = (spec, train_fn, predict_fn, result)
    if verbose:
        print(report(spec, result))
    return result


def _evaluate(spec, train_fn, predict_fn, seed):
    result = Result(spec.name, seed)
    split = spec.make_split(seed)
    limit = spec.grace * spec.budget_s
    model, result.train_seconds, result.error, result.details = _student_call(
        train_fn, (split.train, spec.budget_s), limit, "capstone_train")
    if result.error:
        return result
    predict_limit = spec.grace * (spec.predict_budget_s or spec.budget_s)
    predictions, result.predict_seconds, result.error, result.details = _student_call(
        predict_fn, (model, split.queries), predict_limit, "capstone_predict")
    if result.error:
        return result
    try:
        value = float(spec.metric(predictions, split.targets))
    except Exception as error:  # noqa: BLE001 - malformed predictions: say what the metric made of them
        result.error = f"the predictions could not be scored ({type(error).__name__}: {error})"
        return result
    if not math.isfinite(value):
        result.error = f"the {spec.metric_name} of the predictions is {value}, not a finite number"
        return result
    result.value = value
    result.tier = tier_of(spec, value)
    return result


def report(spec, result):
    """A few lines for the student: the metric, the time taken, the baselines and the tiers."""
    where = "validation split" if result.seed == spec.validation_seed else f"split {result.seed}"
    lines = [f"Capstone: {spec.name} ({where})"]
    if result.error:
        lines.append(f"  FAILED: {result.error}")
        if result.details:
            lines.append("  " + result.details.rstrip().replace("\n", "\n  "))
    else:
        lines.append(f"  {spec.metric_name} = {result.value:.4f}   (training {result.train_seconds:.1f} s of a "
                     f"{spec.budget_s:g} s budget; prediction {result.predict_seconds:.1f} s)")
    for name, value in spec.baselines.items():
        lines.append(f"  baseline {name:<28} {spec.metric_name} = {value:.4f}")
    sign = ">=" if spec.higher_is_better else "<="
    for k, (threshold, label) in enumerate(spec.tiers, start=1):
        mark = "reached" if result.tier >= k else "not reached"
        lines.append(f"  tier {k}: {spec.metric_name} {sign} {threshold:.4f}  ({label})  {mark}")
    return "\n".join(lines)


def require(spec, train_fn, predict_fn, tier, seed=None):
    """The check of one tier's test cell: the pipeline reaches ``tier`` on the split of ``seed`` (the
    validation split by default). Raises AssertionError with the measured value and the threshold."""
    if not 1 <= tier <= spec.top_tier:
        raise ValueError(f"tier must be in 1..{spec.top_tier}")
    hidden = seed is not None and int(seed) != spec.validation_seed
    result = run(spec, train_fn, predict_fn, seed=seed, verbose=False)
    where = "an unseen split" if hidden else "the validation split"
    threshold, label = spec.tiers[tier - 1]
    if result.error:
        raise AssertionError(f"Capstone tier {tier} ({label}) on {where}: your pipeline did not produce a score: "
                             f"{result.error}.")
    if result.tier < tier:
        relation = "at least" if spec.higher_is_better else "at most"
        raise AssertionError(
            f"Capstone tier {tier} ({label}) on {where}: expected {spec.metric_name} {relation} {threshold:.4f}, "
            f"got {result.value:.4f}.\nHint: compare with the baselines printed by the validation run; "
            "a pipeline that reaches a tier on the validation split but not on an unseen one is usually tuned "
            "to the validation split (or relies on luck of one seed).")


def forget():
    """Drop the memoised runs (tools that try many pipelines call this between them)."""
    _RUNS.clear()


class _ReadOnlyModule(types.ModuleType):
    def __setattr__(self, name, value):
        raise AttributeError(f"course.capstone is read-only (tried to set {name!r}).")

    def __delattr__(self, name):
        raise AttributeError(f"course.capstone is read-only (tried to delete {name!r}).")


sys.modules[__name__].__class__ = _ReadOnlyModule
