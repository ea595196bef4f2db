"""Hostile submissions get the score they deserve from plain `nbgrader autograde`.

All students below are graded in one `nbgrader autograde` run of a scratch course, so the
tests also show that one student's sabotage neither stops the run nor touches others' grades.
The attacks need only the start of 01_fundamentals (dropout 3 points, batch_norm 3 + 2, layer_norm 2,
eval_changes 1), so the scratch course grades that part of the chapter: twelve students stay quick.
"""

import copy
import subprocess
import sys

import nbformat
import pytest

from course import notebooks, pipeline
from course.grading import CLEARED_MARKER, FLAG_MARKER
from tests import wrong_answers
from tests.conftest import SUMMARY

pytestmark = pytest.mark.slow

CHAPTER = "01_fundamentals"
LAST_CELL = "test_eval_changes"


def _opening(nb):
    """The chapter's cells up to LAST_CELL."""
    nb = copy.deepcopy(nb)
    end = next(i for i, c in enumerate(nb.cells) if notebooks.meta(c).get("grade_id") == LAST_CELL)
    nb.cells = nb.cells[:end + 1]
    return nb


SOURCE = _opening(notebooks.read(notebooks.source_path(CHAPTER)))
RELEASE = _opening(notebooks.read(notebooks.release_path(CHAPTER)))
MUTANTS = {m.id: m for m in wrong_answers.load(CHAPTER)}
FULL = float(sum(exercise.points for exercise in notebooks.exercises(SOURCE)))


def _cell(nb, grade_id):
    return next(c for c in nb.cells if notebooks.meta(c).get("grade_id") == grade_id)


def _solution(grade_id):
    return _cell(SOURCE, grade_id).source


def _edit(base, **sources):
    nb = copy.deepcopy(base)
    for grade_id, source in sources.items():
        _cell(nb, grade_id).source = source
    return nb


def _insert_after(nb, grade_id, source):
    index = next(i for i, c in enumerate(nb.cells) if notebooks.meta(c).get("grade_id") == grade_id)
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return nb


def _wrong_answers():
    """Plausible mistakes in every exercise (as a student's release notebook)."""
    return _edit(RELEASE,
                 dropout=MUTANTS["dropout-dropout_no_rescale"].code,
                 batch_norm=MUTANTS["batch_norm-batch_norm_affine_swapped"].code,
                 layer_norm=MUTANTS["layer_norm-layer_norm_unbiased"].code,
                 eval_changes=MUTANTS["eval_changes-only_dropout"].code)


LOOP = _solution("dropout").replace("    ### BEGIN SOLUTION", "    while True:\n        pass\n    ### BEGIN SOLUTION")
DEAF = ("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n\n" + _solution("dropout")
        + "\n\nwhile True:\n    pass\n")
CRASH = _solution("layer_norm").replace("    ### BEGIN SOLUTION",
                                       "    import os\n    os._exit(1)\n    ### BEGIN SOLUTION")
PATCH = """import numpy as np
import torch
np.allclose = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.abs = lambda x: x * 0
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None
"""
REDEFINE = """class _Anything:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


checks = _Anything()
"""
INPUT_HOOK = """ip = get_ipython()
ip.input_transformers_cleanup.append(lambda lines: ["pass\\n"] if any("checks." in l for l in lines) else lines)
"""
AST_HOOK = """import ast


class Skip(ast.NodeTransformer):
    def visit_Module(self, node):
        return ast.Module(body=[ast.Pass()], type_ignores=[]) if "checks" in ast.dump(node) else node


__import__("IPython").get_ipython().ast_transformers.append(Skip())
"""
EVENT_HOOK = """class _Anything:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


get_ipython().events.register("pre_run_cell", lambda info: get_ipython().user_ns.update(checks=_Anything()))
"""
RAISE = {name: f"def {name}(*args, **kwargs):\n    raise ValueError('no idea')\n"
         for name in ("dropout", "batch_norm", "layer_norm")}


def _without(nb, *grade_ids):
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if notebooks.meta(c).get("grade_id") not in grade_ids]
    return nb


SUBMISSIONS = {
    "honest-sam": SOURCE,
    "loop-lou": _edit(SOURCE, dropout=LOOP),
    "deaf-dora": _edit(SOURCE, dropout=DEAF),
    "crash-cat": _edit(SOURCE, layer_norm=CRASH),
    "delete-dan": _without(SOURCE, "setup", "test_batch_norm_eval"),
    "edit-eve": _edit(SOURCE, layer_norm=MUTANTS["layer_norm-layer_norm_unbiased"].code,
                      test_layer_norm='print("all good")'),
    "patch-pete": _insert_after(_wrong_answers(), "setup", PATCH),
    "redefine-rex": _insert_after(_wrong_answers(), "setup", REDEFINE),
    "hook-hal": _insert_after(copy.deepcopy(RELEASE), "setup", INPUT_HOOK),
    "hook-hank": _insert_after(copy.deepcopy(RELEASE), "setup", AST_HOOK),
    "hook-eva": _insert_after(_wrong_answers(), "setup", EVENT_HOOK),
    "raise-ray": _edit(RELEASE, **RAISE),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = pipeline.make_course(tmp_path_factory.mktemp("hostile") / "course", [CHAPTER])
    nbformat.write(SOURCE, str(course / "source" / CHAPTER / f"{CHAPTER}.ipynb"))
    pipeline.generate(course, CHAPTER)
    for student, nb in SUBMISSIONS.items():
        folder = course / "submitted" / student / CHAPTER
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / f"{CHAPTER}.ipynb"))
    result = pipeline.autograde(course, CHAPTER)
    pipeline.feedback(course, CHAPTER)
    return course, result


def _grade(graded, student):
    return pipeline.grades(graded[0], CHAPTER, student)


def _autograded(graded, student):
    return notebooks.read(graded[0] / "autograded" / student / CHAPTER / f"{CHAPTER}.ipynb")


def _auto_total(grade):
    return sum(cell.auto_score or 0 for cell in grade.cells.values())


def _flag_report(graded, student):
    first = _autograded(graded, student).cells[0]
    return first.source if first.cell_type == "markdown" and FLAG_MARKER in first.source else ""


def test_the_grading_run_finishes_for_everyone(graded):
    course, result = graded
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    for student in SUBMISSIONS:
        assert (course / "autograded" / student / CHAPTER / f"{CHAPTER}.ipynb").exists(), student
        assert (course / "feedback" / student / CHAPTER / f"{CHAPTER}.html").exists(), student
    SUMMARY.append(f"hostile submissions: {len(SUBMISSIONS) - 1} cases graded in one run next to honest-sam")


def test_an_honest_student_in_the_same_run_keeps_full_marks(graded):
    grade = _grade(graded, "honest-sam")
    assert grade.score == FULL and not _flag_report(graded, "honest-sam")


def test_an_infinite_loop_times_out_and_only_that_exercise_scores_zero(graded):
    grade = _grade(graded, "loop-lou")
    assert grade.cells["test_dropout"].score == 0
    assert grade.score == FULL - 3
    errors = [o for o in _cell(_autograded(graded, "loop-lou"), "test_dropout").outputs if o.output_type == "error"]
    assert any(o.ename in ("CellTimeoutError", "KeyboardInterrupt") for o in errors)


def test_a_kernel_that_ignores_the_interrupt_is_restarted_and_flagged(graded):
    grade = _grade(graded, "deaf-dora")
    assert _auto_total(grade) == FULL - 3  # the hung cell defined dropout; everything else was graded
    assert grade.score == 0 and "signal" in _flag_report(graded, "deaf-dora")


def test_killing_the_kernel_costs_only_the_exercise_that_does_it(graded):
    grade = _grade(graded, "crash-cat")
    assert grade.cells["test_layer_norm"].score == 0
    assert grade.score == FULL - 2
    messages = [o.evalue for o in _cell(_autograded(graded, "crash-cat"), "test_layer_norm").outputs
                if o.output_type == "error"]
    assert any("kernel died" in m for m in messages), messages


def test_deleted_locked_cells_are_restored_in_place(graded):
    assert _grade(graded, "delete-dan").score == FULL
    ids = [notebooks.meta(c).get("grade_id") for c in _autograded(graded, "delete-dan").cells]
    assert ids.index("setup") == [notebooks.meta(c).get("grade_id") for c in SOURCE.cells].index("setup")
    assert ids.index("test_batch_norm_eval") == ids.index("test_batch_norm_train") + 1


def test_an_edited_test_cell_is_restored(graded):
    grade = _grade(graded, "edit-eve")
    assert grade.cells["test_layer_norm"].score == 0 and grade.score == FULL - 2
    assert "all good" not in _cell(_autograded(graded, "edit-eve"), "test_layer_norm").source


def test_patched_comparison_functions_do_not_turn_wrong_answers_into_passes(graded):
    grade = _grade(graded, "patch-pete")
    assert _auto_total(grade) == 0, {c.grade_id: c.auto_score for c in grade.cells.values()}
    assert grade.score == 0 and "np.allclose" in _flag_report(graded, "patch-pete")


@pytest.mark.parametrize("student,evidence", [("redefine-rex", "checks = _Anything()"),
                                              ("hook-hal", "get_ipython"),
                                              ("hook-hank", "__import__"),
                                              ("hook-eva", "get_ipython")])
def test_tampering_with_the_harness_is_flagged_and_scores_zero(graded, student, evidence):
    grade = _grade(graded, student)
    # Without the integrity check nbgrader would give these blank or wrong answers points
    # (full marks where the hook skips the test cells):
    auto = _auto_total(grade)
    assert auto == FULL if student in ("hook-hal", "hook-hank") else auto > 0, "the attack stopped working"
    assert grade.score == 0
    report = _flag_report(graded, student)
    assert evidence in report
    assert any(FLAG_MARKER in (text or "") for text in grade.comments.values()), "formgrader shows the report"
    feedback = (graded[0] / "feedback" / student / CHAPTER / f"{CHAPTER}.html").read_text()
    assert FLAG_MARKER in feedback


def test_code_that_raises_everywhere_scores_zero_without_a_flag(graded):
    grade = _grade(graded, "raise-ray")
    assert grade.score == 0 and not _flag_report(graded, "raise-ray")


def test_an_instructor_can_undo_a_flag_and_it_sticks(graded):
    course, _ = graded
    subprocess.run([sys.executable, "-m", "course", "unflag", CHAPTER, "hook-hal", "--course-dir", str(course)],
                   check=True, capture_output=True)
    assert _grade(graded, "hook-hal").score == FULL
    pipeline.autograde(course, CHAPTER, "hook-hal")
    grade = _grade(graded, "hook-hal")
    assert grade.score == FULL
    assert any(CLEARED_MARKER in (text or "") for text in grade.comments.values())


def test_a_fixed_resubmission_loses_the_flag(graded):
    course, _ = graded
    nbformat.write(SOURCE, str(course / "submitted" / "patch-pete" / CHAPTER / f"{CHAPTER}.ipynb"))
    pipeline.autograde(course, CHAPTER, "patch-pete")
    grade = _grade(graded, "patch-pete")
    assert grade.score == FULL
    assert not any(FLAG_MARKER in (text or "") for text in grade.comments.values())
