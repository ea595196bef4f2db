"""What an instructor needs after grading and nbgrader lacks: per-exercise statistics and an LMS export.

- ``stats(course_dir, chapter)``: for each exercise of a chapter, the distribution of scores over the
  submissions, and for each graded test cell (which holds the hidden tests) how many students fail it
  and with which message, the most common first: what to re-teach. A submission whose solution cell is
  still the released stub counts as "not attempted", apart from the messages. ``stats_figure`` draws it.
- ``export(course_dir, chapters, lms)``: one CSV row per student of the gradebook's roster, one column
  per exercise (and a total per chapter), in the columns Canvas or Moodle import. A missing submission
  is an empty cell, never a zero.

Both read only the course's gradebook and its ``autograded/`` notebooks, and never change them.
"""

import csv
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from course import notebooks


@dataclass
class TestStats:
    grade_id: str
    points: float
    failed: int = 0
    not_attempted: int = 0  # failed with the solution cell left as released (the stub)
    messages: Counter = field(default_factory=Counter)  # first line of an attempted failure -> students


@dataclass
class ExerciseStats:
    name: str
    points: float
    scores: list = field(default_factory=list)  # one per submission
    tests: list = field(default_factory=list)  # TestStats in notebook order

    @property
    def full(self):
        return sum(score >= self.points for score in self.scores)

    @property
    def zero(self):
        return sum(score == 0 for score in self.scores)


@dataclass
class ChapterStats:
    chapter: str
    students: list
    totals: list
    max_score: float
    exercises: list


def _db(course_dir):
    return f"sqlite:///{Path(course_dir).resolve() / 'gradebook.db'}"


def _structure(course_dir, chapter):
    """The chapter's exercises and test cells, from the course's source notebook (else this package's)."""
    path = notebooks.source_path(chapter, course_dir)
    return notebooks.exercises(notebooks.read(path if path.exists() else notebooks.source_path(chapter)))


def _stubs(course_dir, chapter):
    """grade_id -> the released (stub) source of each solution cell."""
    path = notebooks.release_path(chapter, course_dir)
    path = path if path.exists() else notebooks.release_path(chapter)
    if not path.exists():
        return {}
    return {notebooks.meta(c)["grade_id"]: c.source for c in notebooks.read(path).cells if notebooks.is_solution(c)}


def _first_failure(cell):
    """The first line of a graded cell's failure message ('' when it has none)."""
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            text = f"{output.ename}: {output.evalue}" if output.evalue else output.ename
            return text.strip().splitlines()[0] if text.strip() else output.ename
    return ""


def stats(course_dir, chapter):
    """``ChapterStats`` of every graded submission of ``chapter`` in ``course_dir``."""
    course_dir = Path(course_dir)
    exercises = [ExerciseStats(e.name, e.points, tests=[TestStats(t.grade_id, t.points) for t in e.tests])
                 for e in _structure(course_dir, chapter)]
    students, totals, max_score = [], [], sum(e.points for e in exercises)
    stubs = _stubs(course_dir, chapter)
    with Gradebook(_db(course_dir)) as gb:
        for submission in gb.assignment_submissions(chapter):
            try:
                nb = gb.find_submission_notebook(chapter, chapter, submission.student.id)
            except MissingEntry:
                continue
            scores = {g.name: float(g.score) for g in nb.grades}
            if all(g.auto_score is None and g.manual_score is None for g in nb.grades):
                continue  # collected, never graded
            students.append(submission.student.id)
            totals.append(float(nb.score))
            path = course_dir / "autograded" / submission.student.id / chapter / f"{chapter}.ipynb"
            cells = {}
            if path.exists():
                cells = {notebooks.meta(c).get("grade_id"): c for c in notebooks.read(path).cells}
            for exercise in exercises:
                exercise.scores.append(sum(scores.get(t.grade_id, 0.0) for t in exercise.tests))
                answer = cells.get(exercise.name)
                untouched = answer is not None and exercise.name in stubs and \
                    answer.source.strip() == stubs[exercise.name].strip()
                for test in exercise.tests:
                    if scores.get(test.grade_id, 0.0) < test.points:
                        test.failed += 1
                        if untouched:
                            test.not_attempted += 1
                            continue
                        message = _first_failure(cells.get(test.grade_id, {})) or "failed (no message)"
                        test.messages[message[:160]] += 1
    return ChapterStats(chapter, students, totals, max_score, exercises)


def stats_lines(result, top=3):
    """``stats`` as text: the chapter's distribution, then one block per exercise, weakest first."""
    n = len(result.students)
    if not n:
        return [f"{result.chapter}: no graded submissions in the gradebook yet"]
    lines = [f"{result.chapter}: {n} graded submission(s); total median {statistics.median(result.totals):g} "
             f"/ {result.max_score:g}, mean {statistics.mean(result.totals):.1f}, "
             f"min {min(result.totals):g}, max {max(result.totals):g}", ""]
    width = max(len(e.name) for e in result.exercises)
    lines.append(f"{'exercise'.ljust(width)}  points  mean   full marks  zero")
    order = sorted(result.exercises, key=lambda e: statistics.mean(e.scores) / e.points if e.points else 1)
    for exercise in order:
        mean = statistics.mean(exercise.scores)
        lines.append(f"{exercise.name.ljust(width)}  {exercise.points:6g}  {mean:5.2f}  {exercise.full:4d} / {n:<4d}"
                     f"  {exercise.zero:4d}")
        for test in exercise.tests:
            if not test.failed:
                continue
            lines.append(f"    {test.grade_id}: {test.failed} of {n} fail it"
                         + (f" ({test.not_attempted} left the exercise as released)" if test.not_attempted else ""))
            for message, count in test.messages.most_common(top):
                lines.append(f"      {count:3d} x {message}")
            if len(test.messages) > top:
                lines.append(f"      ... and {len(test.messages) - top} other message(s)")
    return lines


def stats_figure(result, path):
    """Two panels: each exercise's score distribution (share of its points), and per test cell the
    students who fail it, split into 'not attempted' and a real failure. Saved to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [e.name for e in result.exercises]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 0.35 * len(names) + 2), sharey=True)
    shares = [[s / e.points if e.points else 1 for s in e.scores] for e in result.exercises]
    left.boxplot(shares, vert=False, widths=0.6)
    for row, values in enumerate(shares, start=1):
        left.scatter(values, [row] * len(values), s=12, alpha=0.5, color="tab:blue")
    left.set_yticks(range(1, len(names) + 1), names)
    left.set_xlim(-0.05, 1.05)
    left.set_xlabel("score / points of the exercise")
    left.set_title(f"{result.chapter}: score distribution ({len(result.students)} submissions)")
    attempted = [sum(sum(t.messages.values()) for t in e.tests) for e in result.exercises]
    skipped = [sum(t.not_attempted for t in e.tests) for e in result.exercises]
    rows = range(1, len(names) + 1)
    right.barh(rows, attempted, color="tab:red", label="failing test (attempted)")
    right.barh(rows, skipped, left=attempted, color="lightgrey", label="not attempted (left as released)")
    right.set_xlabel("failed test cells, summed over students")
    right.set_title("where students fail: re-teach the red")
    right.legend(loc="lower right")
    left.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


# --- export -----------------------------------------------------------------------------------
LMS_HEADERS = {
    # Canvas's gradebook import: these five columns, then one per assignment; the second row holds the
    # points possible. Canvas matches students by ID or SIS Login ID.
    "canvas": ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"],
    # Moodle's "Import grades from CSV": any identifier column (map "Username" to username on import).
    "moodle": ["Username", "First name", "Last name", "Email address"],
    "plain": ["student_id"],
}


def _student_columns(student, lms):
    name = " ".join(part for part in (student.first_name, student.last_name) if part) or student.id
    if lms == "canvas":
        return [name, student.lms_user_id or "", "", student.id, ""]
    if lms == "moodle":
        return [student.id, student.first_name or "", student.last_name or "", student.email or ""]
    return [student.id]


def export(course_dir, chapters=None, lms="canvas", out=None):
    """Write the per-exercise grade CSV; returns (path, rows written, missing submissions)."""
    course_dir = Path(course_dir)
    out = Path(out) if out else course_dir / f"grades_{lms}.csv"
    with Gradebook(_db(course_dir)) as gb:
        known = [a.name for a in gb.assignments]
        chapters = [c for c in (chapters or known) if c in known]
        structure = {c: _structure(course_dir, c) for c in chapters}
        columns, possible = [], []
        for chapter in chapters:
            for exercise in structure[chapter]:
                columns.append(f"{chapter}: {exercise.name}")
                possible.append(f"{exercise.points:g}")
            columns.append(f"{chapter} total")
            possible.append(f"{sum(e.points for e in structure[chapter]):g}")
        header = LMS_HEADERS[lms]
        rows, missing = [], 0
        for student in gb.students:
            values = []
            for chapter in chapters:
                try:
                    nb = gb.find_submission_notebook(chapter, chapter, student.id)
                except MissingEntry:
                    nb = None
                graded = nb is not None and any(g.auto_score is not None or g.manual_score is not None
                                                for g in nb.grades)
                if not graded:
                    missing += 1
                    values += [""] * (len(structure[chapter]) + 1)  # missing, not zero
                    continue
                scores = {g.name: float(g.score) for g in nb.grades}
                for exercise in structure[chapter]:
                    values.append(f"{sum(scores.get(t.grade_id, 0.0) for t in exercise.tests):g}")
                values.append(f"{float(nb.score):g}")
            rows.append(_student_columns(student, lms) + values)
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header + columns)
        if lms == "canvas":
            writer.writerow(["Points Possible"] + [""] * (len(header) - 1) + possible)
        writer.writerows(rows)
    return out, len(rows), missing
