"""What instructors see: readable feedback, `course stats`, `course export`, `course prepare --chapters`.

The fast tests need nothing; the others read the mock class of `python -m course demo` (the session's
``demo_class``: no extra grading) or grade nothing at all.
"""

import csv
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook

from course import ROOT, notebooks, pipeline, report
from course.grading.feedback import index_html, math_to_mathml, tidy_error

CHAPTER = "01_fundamentals"


# --- feedback formatting (fast) -------------------------------------------------------------------
def _error(traceback):
    return nbformat.v4.new_output("error", ename="AssertionError", evalue="expected 3, got 4\nHint: off by one",
                                  traceback=traceback)


def test_feedback_error_shows_the_message_first_and_no_grader_frames_or_paths():
    output = _error([
        "\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
        "Cell \x1b[0;32mIn[12], line 4\x1b[0m\n      2 checks.close(f(1), 3)\n----> 4 checks.close(f(2), 3)",
        "File \x1b[0;32m/root/course/course/checks.py:120\x1b[0m, in \x1b[0;36mclose\x1b[0m\n    118 _fail(msg)",
        "File /usr/lib/python3.11/site-packages/numpy/core/x.py:3, in f()",
        "\x1b[0;31mAssertionError\x1b[0m: expected 3, got 4\nHint: off by one",
    ])
    tidy_error(output)
    assert output.traceback[0] == "AssertionError: expected 3, got 4\nHint: off by one"
    text = "\n".join(output.traceback)
    assert "checks.py" not in text and "/usr/lib" not in text and "/root" not in text
    assert "Cell In[12], line 4" in text and "----> 4 checks.close(f(2), 3)" in text
    assert "\x1b[" not in text


def test_feedback_error_without_cell_frames_is_just_the_message():
    output = tidy_error(_error(["File /srv/x/course/checks.py:1, in close()", "AssertionError: expected 3"]))
    assert output.traceback == ["AssertionError: expected 3, got 4\nHint: off by one"]


def test_math_becomes_mathml_outside_code_and_prices_stay_text():
    text = math_to_mathml("Loss $L=-\\log p$, then $$\\frac{a}{b}$$; `$x$` is code; it costs $5 and $6.")
    assert text.count("<math") == 2 and 'display="block"' in text and 'display="inline"' in text
    assert "$L" not in text and "\\frac" not in text
    assert "`$x$`" in text and "costs $5 and $6." in text


def test_math_that_the_converter_cannot_read_is_shown_as_code_not_dropped():
    text = math_to_mathml("odd $\\begin{nonsense}$ end")
    assert "odd " in text and " end" in text


def test_feedback_index_names_exercises_with_points_and_first_failure():
    page = index_html([
        {"exercise": "layer_norm", "anchor": "test_layer_norm", "score": 2.0, "points": 2.0, "message": ""},
        {"exercise": "dropout", "anchor": "test_dropout", "score": 0.0, "points": 3.0,
         "message": "AssertionError: p=1 <must> give zeros"},
    ])
    assert 'href="#test_layer_norm">layer_norm</a>' in page and "2 / 2" in page and "passed" in page
    assert "0 / 3" in page and "&lt;must&gt;" in page and "Test cell" not in page


# --- on the mock class (python -m course demo, shared with test_grading) --------------------------


@pytest.mark.slow
def test_feedback_page_is_readable_and_renders_math_offline(demo_class):
    page = (demo_class.course_dir / "feedback" / "blank-bea" / CHAPTER / f"{CHAPTER}.html").read_text()
    assert "mathjax" not in page.lower(), "the feedback must not load MathJax (a CDN, and untrusted in Lab)"
    assert "<math" in page and "$$" not in page
    assert 'class="course-index"' in page and ">Test cell<" not in page
    first = notebooks.exercises(notebooks.read(notebooks.source_path(CHAPTER)))[0].name
    assert f">{first}</a>" in page and "NotImplementedError" in page
    assert "course/checks.py" not in page and "site-packages" not in page
    assert "white-space: pre-wrap" in page


@pytest.mark.slow
def test_demo_grading_logs_no_spurious_warnings(demo_class):
    assert "Attribute 'checksum'" not in demo_class.output, "nbgrader #1961 warnings on untouched submissions"
    assert "display_data_priority" not in demo_class.output


@pytest.mark.slow
def test_stats_counts_scores_and_failures_per_exercise(demo_class, tmp_path):
    result = report.stats(demo_class.course_dir, CHAPTER)
    assert sorted(result.students) == ["blank-bea", "partial-pat", "solution-sam"]
    first = result.exercises[0]
    assert sorted(first.scores) == [0, first.points, first.points]  # pat solved only the first exercise
    for exercise in result.exercises[1:]:
        assert sorted(exercise.scores) == [0, 0, exercise.points]
        for test in exercise.tests:  # bea and pat left it as released: not attempted, no messages
            assert test.failed == 2 and test.not_attempted == 2 and not test.messages, (test.grade_id, test)
    lines = report.stats_lines(result)
    assert "2 left the exercise as released" in "\n".join(lines) and lines[0].startswith(f"{CHAPTER}: 3 graded")
    figure = tmp_path / "stats.png"
    cli = subprocess.run([sys.executable, "-m", "course", "stats", CHAPTER, "--course-dir",
                          str(demo_class.course_dir), "--figure", str(figure)],
                         capture_output=True, text=True, cwd=ROOT)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert first.name in cli.stdout and figure.stat().st_size > 10_000


@pytest.mark.slow
def test_export_has_a_column_per_exercise_and_missing_is_not_zero(demo_class, tmp_path):
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    shutil.copy(demo_class.course_dir / "gradebook.db", course / "gradebook.db")
    shutil.copytree(demo_class.course_dir / "source" / CHAPTER, course / "source" / CHAPTER)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        gb.add_student("absent-abe", first_name="Abe", last_name="Absent")
    path, rows, missing = report.export(course, [CHAPTER], "canvas")
    assert rows == 4 and missing == 1
    with open(path, newline="") as f:
        table = list(csv.reader(f))
    header, possible, body = table[0], table[1], {row[3]: row for row in table[2:]}
    exercises = notebooks.exercises(notebooks.read(notebooks.source_path(CHAPTER)))
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert header[5:] == [f"{CHAPTER}: {e.name}" for e in exercises] + [f"{CHAPTER} total"]
    total = sum(e.points for e in exercises)
    assert possible[0] == "Points Possible" and possible[-1] == f"{total:g}"
    assert body["absent-abe"][5:] == [""] * (len(exercises) + 1), "a missing submission is empty, not 0"
    assert body["blank-bea"][5:] == ["0"] * (len(exercises) + 1)
    assert body["solution-sam"][-1] == f"{total:g}"
    assert body["partial-pat"][5] == f"{exercises[0].points:g}" and body["absent-abe"][0] == "Abe Absent"
    moodle, _, _ = report.export(course, [CHAPTER], "moodle", tmp_path / "moodle.csv")
    assert moodle.read_text().splitlines()[0].startswith("Username,First name,Last name,Email address,")


# --- prepare releases only what it is asked to ------------------------------------------------------
@pytest.mark.slow
def test_prepare_releases_only_the_chapters_asked_for_and_respects_an_unrelease(tmp_path, monkeypatch):
    course = pipeline.make_course(tmp_path / "course", [CHAPTER])
    shutil.copytree(ROOT / "release" / CHAPTER, course / "release" / CHAPTER)
    monkeypatch.setenv("COURSE_EXCHANGE", str(tmp_path / "exchange"))
    quiet = lambda *_: None  # noqa: E731
    exchange, released = pipeline.prepare(course, [CHAPTER], log=quiet)
    assert released == [] and exchange == tmp_path / "exchange"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert gb.find_assignment(CHAPTER).notebooks, "the chapter is recorded for formgrader"
    _, released = pipeline.prepare(course, [CHAPTER], release=[CHAPTER], log=quiet)
    assert released == [CHAPTER]
    pipeline.nbgrader(["list", "--remove", CHAPTER], course)  # what Formgrader's "unrelease" runs
    _, released = pipeline.prepare(course, [CHAPTER], log=quiet)
    assert released == [], "prepare without --chapters must not undo an un-release"
    assert (course / "work").is_dir(), "fetched chapters go to work/, not beside source/"


def test_formgrader_dialog_log_starts_at_info_even_when_the_server_logger_is_at_debug():
    import logging

    import nbgrader.apps.api as api

    from course.grading import quiet_formgrader_dialogs

    quiet_formgrader_dialogs()

    class App:
        log = logging.getLogger("course-test-serverapp")

        def start(self):
            self.log.debug("a DEBUG line")
            self.log.info("an INFO line")

    App.log.setLevel(logging.DEBUG)
    result = api.capture_log(App())
    assert "an INFO line" in result["log"] and "DEBUG" not in result["log"]
    assert App.log.level == logging.DEBUG, "the server's own logger is left as it was"


def test_autograde_summary_names_scores_flags_and_timeouts_and_nothing_to_grade_prints_no_bar():
    from course.grading.parallel import Graded, Outcome, Summary

    graded = [Graded(CHAPTER, "ann", True, ""), Graded(CHAPTER, "bob", True, "")]
    outcomes = {"ann": Outcome(55, 55), "bob": Outcome(0, 55, flagged=True, timeouts=2, restarts=1, errors=27)}
    text = "\n".join(Summary(graded, [], ["cy"], 12.0, "2 local processes", [], outcomes=outcomes).lines())
    assert "Autograded 2 submission(s)" in text and "1 already graded" in text
    ann = next(line for line in text.splitlines() if line.strip().startswith("ann"))
    bob = next(line for line in text.splitlines() if line.strip().startswith("bob"))
    assert "55 / 55" in ann and ann.rstrip().endswith("-")
    assert "0 / 55" in bob and "FLAGGED" in bob and "2 cell(s) timed out" in bob and "kernel restarted 1x" in bob
    assert "1 flagged by the integrity check, 3 cell(s) timed out or restarted the kernel" in text
    empty = Summary([], [], ["ann"], 0.0, "no workers", []).lines()
    assert empty == ["Nothing to grade: 1 submission(s) already graded (use --force to regrade)"]


def test_autograde_with_nothing_collected_starts_no_workers_and_no_progress_bar(tmp_path, capsys):
    from course.grading.parallel import autograde

    course = pipeline.make_course(tmp_path / "course", [CHAPTER])
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    summary = autograde(course, CHAPTER)
    assert summary.workers == "no workers" and not summary.graded
    assert "autograde" not in capsys.readouterr().err, "no (empty) progress bar"


def test_collect_refuses_a_submission_owned_by_another_account(caplog):
    """On a hub, `nbgrader submit --student student2` by student1 yields a folder named for student2 but owned by
    student1: it is never collected (student2's own latest submission is), and the log says so."""
    import logging
    from datetime import datetime

    from course.grading.exchange import OwnerCheckedCollect

    class Probe:
        log = logging.getLogger("course-test-collect")
        _refuse = OwnerCheckedCollect._refuse

    own = {"username": "student2", "owner": "student2", "filename": "own", "timestamp": datetime(2026, 1, 1)}
    fake = {"username": "student2", "owner": "student1", "filename": "fake", "timestamp": datetime(2026, 1, 2)}
    with caplog.at_level(logging.WARNING, logger="course-test-collect"):
        chosen = OwnerCheckedCollect._sort_by_timestamp(Probe(), [fake, own])
    assert chosen[0] is own and fake not in chosen
    assert "REFUSED fake: submitted as student2 by the Unix user student1" in caplog.text
