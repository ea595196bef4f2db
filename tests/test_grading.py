"""The real nbgrader pipeline on the mock class of `python -m course demo` (run once per session)."""

import csv

import pytest

from course import notebooks, pipeline
from tests.conftest import CHAPTERS, SUMMARY
from tests.feedback_check import failures, hidden_lines, text_lines

pytestmark = pytest.mark.slow


def test_demo_runs_end_to_end(demo_class):
    assert demo_class.returncode == 0, demo_class.output[-4000:]
    assert "Demo OK" in demo_class.output
    for student in ("solution-sam", "blank-bea", "partial-pat"):
        assert student in demo_class.output
    SUMMARY.append("demo: " + next(line for line in demo_class.output.splitlines() if line.startswith("Grading")))


def test_demo_prints_each_capstone_tier(demo_class):
    lines = demo_class.output.splitlines()
    start = lines.index("Capstones (tier reached on the validation and the unseen split / top tier):")
    rows = {line.split()[0]: line.split()[1:] for line in lines[start + 3:start + 6]}
    assert len(rows["solution-sam"]) == len(CHAPTERS), lines[start:start + 6]
    for cell in rows["solution-sam"]:
        reached, top = cell.split("/")
        assert reached == top != "0", f"solution-sam's capstone tiers: {rows['solution-sam']}"
    assert all(cell.startswith("0/") for cell in rows["blank-bea"]), f"blank-bea: {rows['blank-bea']}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_solutions_score_full_marks(demo_class, chapter):
    grade = pipeline.grades(demo_class.course_dir, chapter, "solution-sam")
    for cell in grade.cells.values():
        assert cell.auto_score == cell.max_score, f"{cell.grade_id}: {cell.auto_score}/{cell.max_score}"
        assert cell.manual_score is None, f"{cell.grade_id} was overridden (integrity check?)"
    assert grade.score == grade.max_score > 0


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_release_stubs_score_zero_on_every_test_cell(demo_class, chapter):
    grade = pipeline.grades(demo_class.course_dir, chapter, "blank-bea")
    source = notebooks.read(notebooks.source_path(chapter))
    test_ids = {t.grade_id for e in notebooks.exercises(source) for t in e.tests}
    assert set(grade.cells) == test_ids
    for cell in grade.cells.values():
        assert cell.auto_score == 0, f"{cell.grade_id} passes on the release stub"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_one_solved_exercise_earns_exactly_its_points(demo_class, chapter):
    grade = pipeline.grades(demo_class.course_dir, chapter, "partial-pat")
    first = notebooks.exercises(notebooks.read(notebooks.source_path(chapter)))[0]
    solved = {t.grade_id for t in first.tests}
    for cell in grade.cells.values():
        expected = cell.max_score if cell.grade_id in solved else 0
        assert cell.score == expected, f"{cell.grade_id}: {cell.score}, expected {expected}"
    assert 0 < grade.score < grade.max_score


def test_feedback_and_grades_csv(demo_class):
    course = demo_class.course_dir
    with open(course / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * len(CHAPTERS)
    for row in rows:
        grade = pipeline.grades(course, row["assignment"], row["student_id"])
        assert float(row["raw_score"]) == grade.score and float(row["max_score"]) == grade.max_score
        html = course / "feedback" / row["student_id"] / row["assignment"] / f"{row['assignment']}.html"
        assert html.exists(), html
        assert f"{grade.score:.1f} / {grade.max_score:.1f}" in html.read_text(), f"{html} does not show the score"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_feedback_never_shows_hidden_test_code_but_shows_the_failures(demo_class, chapter):
    assert hidden_lines(chapter), "the chapter has hidden tests"
    messages, course = 0, demo_class.course_dir
    for student in ("solution-sam", "blank-bea", "partial-pat"):
        autograded = notebooks.read(course / "autograded" / student / chapter / f"{chapter}.ipynb")
        lines, text = text_lines(course / "feedback" / student / chapter / f"{chapter}.html")
        leaked = sorted(hidden_lines(chapter, autograded) & lines)
        assert not leaked, f"{student}'s feedback shows hidden-test code: {leaked[:5]}"
        assert "# hidden tests: not shown" in text
        for grade_id, message in failures(autograded):
            assert message in text, f"{student}/{grade_id}: the failure message is missing from the feedback"
            messages += 1
        # the instructor's copy (formgrader) keeps the full hidden tests
        assert any("### BEGIN HIDDEN TESTS" in c.source for c in autograded.cells)
    SUMMARY.append(f"feedback {chapter}: {len(hidden_lines(chapter))} hidden-test lines, none in the 3 students' "
                   f"feedback; {messages} failure messages shown")
