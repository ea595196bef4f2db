"""course.capstone: runs, tiers, the guards around the student's code, and the integrity rules."""

import time

import nbformat
import numpy as np
import pytest

from course import capstone
from course import data as course_data
from course.grading.integrity import protected_from, scan_notebook


def _split(seed):
    generator = np.random.default_rng(seed)
    x = generator.normal(size=(200, 2))
    y = (x[:, 0] > 0).astype(int)
    return capstone.Split(train=(x[:100], y[:100]), queries=x[100:], targets=y[100:])


def _accuracy(predictions, targets):
    return float(np.mean(np.asarray(predictions) == targets))


SPEC = capstone.Spec(name="toy", make_split=_split, metric=_accuracy, metric_name="accuracy",
                     tiers=[(0.6, "beats chance"), (0.9, "the reference")], budget_s=0.5,
                     baselines={"chance": 0.5}, validation_seed=0)


def good_train(train, time_budget_s):
    return 0.0


def good_predict(model, queries):
    return (queries[:, 0] > model).astype(int)


def test_a_good_pipeline_reaches_the_top_tier_and_is_trained_once_per_split(capsys):
    calls = []

    def train(train, time_budget_s):
        calls.append(1)
        return 0.0

    result = capstone.run(SPEC, train, good_predict)
    assert result.ok and result.value == 1.0 and result.tier == 2
    assert "accuracy = 1.0000" in capsys.readouterr().out
    capstone.require(SPEC, train, good_predict, tier=2)
    capstone.require(SPEC, train, good_predict, tier=2, seed=5)
    capstone.require(SPEC, train, good_predict, tier=1, seed=5)
    assert len(calls) == 2  # the validation split and split 5, once each


def test_a_weak_pipeline_fails_the_upper_tier_with_the_numbers():
    def predict(model, queries):
        return (queries[:, 0] + queries[:, 1] > 0).astype(int)

    result = capstone.run(SPEC, good_train, predict, seed=3, verbose=False)
    assert 0.6 <= result.value < 0.9 and result.tier == 1
    capstone.require(SPEC, good_train, predict, tier=1, seed=3)
    with pytest.raises(AssertionError, match=r"tier 2 .*unseen split: expected accuracy at least 0\.9000, got 0\.\d+"):
        capstone.require(SPEC, good_train, predict, tier=2, seed=3)


def test_errors_and_overruns_score_tier_zero_with_a_clear_message(capsys):
    def broken(train, time_budget_s):
        raise ValueError("shapes do not match")

    def slow(train, time_budget_s):
        deadline = time.process_time() + 10  # CPU time: the limit counts CPU time, whatever the machine's load
        while time.process_time() < deadline:
            pass

    result = capstone.run(SPEC, broken, good_predict, seed=1)
    assert result.tier == 0 and "capstone_train raised ValueError: shapes do not match" in result.error
    assert "shapes do not match" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="did not produce a score"):
        capstone.require(SPEC, broken, good_predict, tier=1, seed=1)
    started = time.process_time()
    result = capstone.run(SPEC, slow, good_predict, seed=1, verbose=False)
    assert time.process_time() - started < 5  # stopped at 2 x the 1 s budget per thread, long before the 10 s
    assert result.tier == 0 and "hard limit" in result.error
    malformed = capstone.run(SPEC, good_train, lambda model, queries: np.zeros(3), seed=1, verbose=False)
    assert malformed.tier == 0 and "could not be scored" in malformed.error


def test_data_generators_are_blocked_inside_the_student_code_only():
    def sneaky(train, time_budget_s):
        return course_data.interaction_log(seed=1)

    result = capstone.run(SPEC, sneaky, good_predict, seed=2, verbose=False)
    assert "not available inside the capstone" in result.error
    assert callable(course_data.interaction_log) and course_data.interaction_log.__name__ == "interaction_log"

    def seeded(train, time_budget_s):
        course_data.rng(0)  # the seeding helpers stay available
        return 0.0

    assert capstone.run(SPEC, seeded, good_predict, seed=2, verbose=False).ok


def test_tiers_must_get_harder_and_lower_is_better_works():
    with pytest.raises(ValueError):
        capstone.Spec(name="x", make_split=_split, metric=_accuracy, metric_name="a",
                      tiers=[(0.9, "a"), (0.6, "b")], budget_s=1)
    loss = capstone.Spec(name="x", make_split=_split, metric=_accuracy, metric_name="error",
                         tiers=[(0.5, "a"), (0.1, "b")], budget_s=1, higher_is_better=False)
    assert [capstone.tier_of(loss, v) for v in (0.7, 0.3, 0.05, float("nan"))] == [0, 1, 2, 0]


def test_the_module_is_read_only():
    with pytest.raises(AttributeError):
        capstone.require = lambda *args, **kwargs: None


def _notebook(locked, student):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(locked, metadata={"nbgrader": {"grade_id": "setup", "locked": True}}),
                nbformat.v4.new_code_cell(student, metadata={"nbgrader": {"grade_id": "capstone", "solution": True}})]
    return nb


@pytest.mark.parametrize("student, flagged", [
    ("def capstone_train(train, budget):\n    more = data.interaction_log(seed=3)\n", True),
    ("from course.data import interaction_log\n", True),
    ("import course.data.interactions as inter\nx = inter.interaction_log\n", True),
    ("def capstone_train(train, budget):\n    g = data.rng(0)\n    return g\n", False),
    ("x = capstone._RUNS\n", True),
    ("def capstone_train(train, budget):\n    return train\n", False),
])
def test_integrity_scan_flags_extra_data_and_private_state_in_the_capstone(student, flagged):
    nb = _notebook("from course import capstone, data\n", student)
    findings = scan_notebook(nb, lambda cell: cell.metadata["nbgrader"].get("locked", False))
    assert bool(findings) == flagged, findings
    assert protected_from(["from course import data"]).imports["data"] == "course.data"



SETUP = ("from course import capstone, data\n"
         "task = data.slate_task()\n"
         "CAPSTONE_OFF_LIMITS = ('task',)\n"
         "def make_capstone_split(seed):\n    return seed\n"
         "CAPSTONE = capstone.Spec\n")


@pytest.mark.parametrize("student, flagged", [
    ("def capstone_train(train, budget):\n    return make_capstone_split(3)\n", True),
    ("def capstone_train(train, budget):\n    return CAPSTONE\n", True),
    ("def capstone_train(train, budget):\n    return task.true_reward\n", True),
    ("peek = lambda: task\n", True),
    ("CAPSTONE = None\n", True),
    ("def capstone_train(train, budget):\n    task = train\n    return task\n", False),
    ("def capstone_train(train, budget, task=None):\n    return [task for task in train]\n", False),
    ("def capstone_train(train, budget):\n    return train.prompts\n", False),
])
def test_integrity_scan_flags_the_capstone_reading_its_setup_or_the_planted_truth(student, flagged):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP, metadata={"nbgrader": {"grade_id": "capstone_setup", "locked": True}}),
                nbformat.v4.new_code_cell(student, metadata={"nbgrader": {"grade_id": "capstone", "solution": True}})]
    findings = scan_notebook(nb, lambda cell: cell.metadata["nbgrader"].get("locked", False))
    assert bool(findings) == flagged, findings
