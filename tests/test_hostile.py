"""Hostile submissions get the score they deserve from plain `nbgrader autograde`.

All students below are graded in one `nbgrader autograde` run of a scratch course, so the
tests also show that one student's sabotage neither stops the run nor touches others' grades.
The attacks need only the start of 01_fundamentals (dropout 3 points, batch_norm 3 + 2, layer_norm 2,
eval_changes 1), so the scratch course grades that part of the chapter: the students stay quick.

The run uses the course's containment (course/grading/sandbox.py) with small limits (LIMITS), so
that the memory hog and the fork bomb are cheap. A second, small run pretends bubblewrap and
cgroups are missing: it must say loudly which guarantees are lost, and they really are.
"""

import copy
import hashlib
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

import course
from course import notebooks, pipeline
from course.grading import CLEARED_MARKER, FLAG_MARKER
from tests import wrong_answers
from tests.conftest import SUMMARY
from tests.feedback_check import failures, hidden_lines, text_lines

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


# Containment (section 2 of issue 14). Limits small enough to make the attacks cheap.
LIMITS = """
c.Execute.timeout = 15
c.Sandbox.memory_limit = "1G"
c.Sandbox.max_processes = 128
"""
HOG = "import numpy as np\n_hog = np.ones(2 * 1024**3 // 8)  # 2 GiB, twice the limit\n\n" + _solution("dropout")
FORK_BOMB = """import os
import time

if os.fork() == 0:  # a daemon that would outlive grading
    os.setsid()
    os.execv("/bin/sleep", ["sleep", "3607"])
while True:  # a fork bomb
    if os.fork() == 0:
        time.sleep(3600)
        os._exit(0)
""" + _solution("batch_norm")
EVIL_CHECKS = "def __getattr__(name):\n    return lambda *args, **kwargs: None\n"
TAMPER = """import pathlib

results = {}
for name, path in TARGETS.items():
    try:
        if name == "checks":
            pathlib.Path(path).write_text(EVIL)
        else:
            with open(path, "a") as f:
                f.write("\\n# tampered\\n")
        results[name] = "WRITTEN"
    except OSError as error:
        results[name] = f"blocked ({error.strerror})"
print("tamper:", results)
"""
PROBE = """import socket

try:
    with socket.create_connection(("127.0.0.1", PORT), timeout=5) as connection:
        connection.sendall(b"the hidden tests of 01_fundamentals")
    print("network: sent")
except OSError as error:
    print(f"network: blocked ({error})")
"""


def _tamper_targets(course_dir):
    """What a student must not be able to write: the course package, the course, other students,
    the instructor's home and the Python environment."""
    return {
        "checks": str(Path(course.__file__).parent / "checks.py"),
        "source": str(course_dir / "source" / CHAPTER / f"{CHAPTER}.ipynb"),
        "gradebook": str(course_dir / "gradebook.db"),
        "other_submission": str(course_dir / "submitted" / "honest-sam" / CHAPTER / f"{CHAPTER}.ipynb"),
        "autograded": str(course_dir / "autograded" / "planted.txt"),
        "home": str(Path.home() / "course-tamper-test.txt"),
        "environment": str(Path(np_file()).parent / "version.py"),
    }


def np_file():
    import numpy

    return numpy.__file__


def _tamper_cell(course_dir):
    return f"TARGETS = {_tamper_targets(course_dir)!r}\nEVIL = {EVIL_CHECKS!r}\n" + TAMPER


def _contained(course_dir, port):
    """The submissions of the containment cases (they need the scratch course's paths and the port)."""
    return {
        "files-fay": _insert_after(copy.deepcopy(SOURCE), "setup", _tamper_cell(course_dir)),
        "memory-max": _edit(SOURCE, dropout=HOG),
        "fork-flo": _edit(SOURCE, batch_norm=FORK_BOMB),
        "net-nick": _insert_after(copy.deepcopy(SOURCE), "setup", PROBE.replace("PORT", str(port))),
        "wrong-wes": _wrong_answers(),  # graded after files-fay: her rewritten checks.py would pass him
    }


class Listener:
    """A TCP listener on the grader's loopback that records what reaches it."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port, self.received, self.stopped = self.sock.getsockname()[1], [], False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopped:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(2)
                try:
                    self.received.append(connection.recv(1000))
                except OSError:
                    self.received.append(b"(connected)")

    def close(self):
        self.stopped = True
        self.thread.join()
        self.sock.close()


def _snapshot(paths):
    return {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() if Path(p).exists() else None for p in paths}


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


def _submit(course_dir, student, nb):
    folder = course_dir / "submitted" / student / CHAPTER
    folder.mkdir(parents=True)
    nbformat.write(nb, str(folder / f"{CHAPTER}.ipynb"))


@pytest.fixture(scope="module")
def listener():
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def graded(tmp_path_factory, listener):
    course_dir = pipeline.make_course(tmp_path_factory.mktemp("hostile") / "course", [CHAPTER])
    with open(course_dir / "nbgrader_config.py", "a") as f:
        f.write(LIMITS)
    nbformat.write(SOURCE, str(course_dir / "source" / CHAPTER / f"{CHAPTER}.ipynb"))
    pipeline.generate(course_dir, CHAPTER)
    for student, nb in {**SUBMISSIONS, **_contained(course_dir, listener.port)}.items():
        _submit(course_dir, student, nb)
    targets = _tamper_targets(course_dir)
    fixed = [p for name, p in targets.items() if name != "gradebook"]  # nbgrader itself writes the gradebook
    before = _snapshot(fixed)
    backup = {p: Path(p).read_bytes() for p, digest in before.items() if digest}
    try:
        result = pipeline.autograde(course_dir, CHAPTER)
    finally:  # a sandbox that failed must not leave the repository or the venv damaged
        after = _snapshot(fixed)
        for path in fixed:
            if after[path] != before[path]:
                Path(path).write_bytes(backup[path]) if path in backup else Path(path).unlink()
    intact = {name: after[path] == before[path] for name, path in targets.items() if path in fixed}
    intact["gradebook"] = b"# tampered" not in Path(targets["gradebook"]).read_bytes()
    pipeline.feedback(course_dir, CHAPTER)
    return course_dir, result, intact


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
    course, result, _ = graded
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    students = sorted(p.name for p in (course / "submitted").iterdir())
    for student in students:
        assert (course / "autograded" / student / CHAPTER / f"{CHAPTER}.ipynb").exists(), student
        assert (course / "feedback" / student / CHAPTER / f"{CHAPTER}.html").exists(), student
    assert "CONTAINMENT LOST" not in result.stdout + result.stderr, "this machine must give every guarantee"
    SUMMARY.append(f"hostile submissions: {len(students) - 1} cases graded in one run next to honest-sam")


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
    course = graded[0]
    subprocess.run([sys.executable, "-m", "course", "unflag", CHAPTER, "hook-hal", "--course-dir", str(course)],
                   check=True, capture_output=True)
    assert _grade(graded, "hook-hal").score == FULL
    pipeline.autograde(course, CHAPTER, "hook-hal")
    grade = _grade(graded, "hook-hal")
    assert grade.score == FULL
    assert any(CLEARED_MARKER in (text or "") for text in grade.comments.values())


def test_a_fixed_resubmission_loses_the_flag(graded):
    course = graded[0]
    nbformat.write(SOURCE, str(course / "submitted" / "patch-pete" / CHAPTER / f"{CHAPTER}.ipynb"))
    pipeline.autograde(course, CHAPTER, "patch-pete")
    grade = _grade(graded, "patch-pete")
    assert grade.score == FULL
    assert not any(FLAG_MARKER in (text or "") for text in grade.comments.values())


# --- containment (issue 14, section 2) ---------------------------------------------------------
def _outputs(graded, student, grade_id=None, index=None):
    nb = _autograded(graded, student)
    cell = _cell(nb, grade_id) if grade_id else nb.cells[index]
    return "\n".join(o.get("text", "") + o.get("ename", "") + ": " + o.get("evalue", "") for o in cell.outputs)


def _printed(graded, student, prefix):
    nb = _autograded(graded, student)
    return next(line for c in nb.cells for o in c.get("outputs", []) for line in o.get("text", "").splitlines()
                if line.startswith(prefix))


def test_a_submission_cannot_write_outside_its_own_directory(graded):
    report = _printed(graded, "files-fay", "tamper:")
    assert "WRITTEN" not in report, report
    assert all(graded[2].values()), graded[2]  # nothing changed on disk
    SUMMARY.append(f"files-fay: {report}")


def test_rewriting_the_course_package_does_not_change_later_students_grades(graded):
    # files-fay tried to replace course/checks.py by one where every check passes; wrong-wes (graded
    # after her in the same run) would then score points with wrong answers.
    assert _auto_total(_grade(graded, "wrong-wes")) == 0
    assert _grade(graded, "honest-sam").score == FULL
    SUMMARY.append(f"files-fay scored {_grade(graded, 'files-fay').score:g}/{FULL:g}; wrong-wes after her 0")


def test_a_memory_hog_loses_only_that_exercise_with_a_clear_message(graded):
    grade = _grade(graded, "memory-max")
    assert grade.cells["test_dropout"].score == 0
    assert grade.score == FULL - 3, {c.grade_id: c.score for c in grade.cells.values()}
    assert "memory limit of 1 GiB exceeded" in _outputs(graded, "memory-max", "dropout")


def _processes_under(path):
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cwd.startswith(str(path)) or "sleep 3607" in cmdline:
            found.append((proc.name, cwd, cmdline))
    return found


def test_a_fork_bomb_is_contained_and_nothing_outlives_grading(graded):
    grade = _grade(graded, "fork-flo")
    assert grade.cells["test_batch_norm_train"].auto_score == 0
    assert "BlockingIOError" in _outputs(graded, "fork-flo", "batch_norm")  # fork failed at the limit
    assert _auto_total(grade) >= 3, "the other exercises were still graded"
    assert _processes_under(graded[0]) == []
    SUMMARY.append(f"fork-flo: auto score {_auto_total(grade):g}/{FULL:g}, final {grade.score:g}")


def test_no_network_from_a_submission(graded, listener):
    assert "network: blocked" in _printed(graded, "net-nick", "network:")
    assert listener.received == []
    assert _grade(graded, "net-nick").score == FULL


@pytest.fixture(scope="module")
def fallback(graded, listener):
    """One more student, graded with bubblewrap and cgroups pretended missing, and a notebook
    wall-clock limit small enough for a student who sleeps in every exercise."""
    course_dir = graded[0]
    canary = course_dir / "source" / "canary.txt"
    probe = f"with open({str(canary)!r}, 'w') as f:\n    f.write('written')\n" + PROBE.replace(
        "PORT", str(listener.port))
    _submit(course_dir, "fallback-fred", _insert_after(copy.deepcopy(SOURCE), "setup", probe))
    sleepy = {name: "import time\ntime.sleep(9)\n\n" + _solution(name)
              for name in ("dropout", "batch_norm", "layer_norm", "eval_changes")}
    _submit(course_dir, "time-tim", _edit(SOURCE, **sleepy))
    result = pipeline.nbgrader(["autograde", CHAPTER, "--Sandbox.bwrap=", "--Sandbox.cgroups=False",
                                "--Sandbox.notebook_timeout=20", "--Sandbox.memory_limit=4G"], course_dir, check=False)
    return result, canary


def test_missing_mechanisms_are_reported_loudly_and_really_lost(graded, fallback, listener):
    result, canary = fallback
    log = result.stdout + result.stderr
    assert "CONTAINMENT LOST, files:" in log and "CONTAINMENT LOST, network:" in log, log[-3000:]
    assert "bubblewrap disabled" in log
    if "as the grader's own user" in log:  # what the log says is lost, is lost
        assert canary.read_text() == "written"
    assert "network: sent" in _printed(graded, "fallback-fred", "network:")
    assert _grade(graded, "fallback-fred").score == FULL
    SUMMARY.append("fallback (no bubblewrap, no cgroups): " + "; ".join(
        line.split("CONTAINMENT LOST, ")[1] for line in log.splitlines() if "CONTAINMENT LOST" in line)[:400])


def test_a_notebook_stops_at_its_wall_clock_limit(graded, fallback):
    grade = _grade(graded, "time-tim")
    assert grade.score < FULL
    nb = _autograded(graded, "time-tim")
    stopped = [notebooks.meta(c).get("grade_id") for c in nb.cells for o in c.get("outputs", [])
               if "wall-clock limit of 20 s" in o.get("evalue", "")]
    assert stopped, "no cell reports the notebook's wall-clock limit"
    SUMMARY.append(f"time-tim: {grade.score:g}/{FULL:g}, stopped at {stopped[0]}")


def test_feedback_shows_failure_messages_but_no_hidden_test_code(graded):
    course_dir, shown = graded[0], 0
    for folder in sorted((course_dir / "feedback").iterdir()):
        student = folder.name
        autograded = _autograded(graded, student)
        lines, text = text_lines(folder / CHAPTER / f"{CHAPTER}.html")
        assert not hidden_lines(CHAPTER, autograded) & lines, student
        for grade_id, message in failures(autograded):
            assert message in text, f"{student}/{grade_id}: {message}"
            shown += 1
    assert shown > 0
