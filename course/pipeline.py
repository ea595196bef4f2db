"""Thin wrappers around the nbgrader command line, for the course root or a scratch course.

Every step runs the real ``nbgrader`` (``python -m nbgrader``) in the course directory, so it
reads that directory's ``nbgrader_config.py`` exactly as an instructor's run would.
"""

import csv
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default import ExchangeFetchAssignment, ExchangeSubmit
from traitlets.config import Config

from course import ROOT
from course.notebooks import source_path

COURSE_ID = "ml-recsys"


class NbgraderError(RuntimeError):
    pass


def nbgrader(args, cwd, check=True):
    """Run ``nbgrader ARGS`` in ``cwd``; raise NbgraderError with its log if it fails and ``check``."""
    # nbgrader runs helper programs (alembic) that live beside this interpreter.
    full_env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        log = (result.stdout + result.stderr).strip().splitlines()
        raise NbgraderError(f"nbgrader {' '.join(args)} failed in {cwd}:\n" + "\n".join(log[-40:]))
    return result


def make_course(directory, chapters, root=ROOT):
    """A scratch course in ``directory``: the course's nbgrader_config.py and source notebooks."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(root) / "nbgrader_config.py", directory / "nbgrader_config.py")
    for chapter in chapters:
        shutil.copytree(source_path(chapter, root).parent, directory / "source" / chapter, dirs_exist_ok=True)
    return directory


def generate(course_dir, chapter="*"):
    """``nbgrader generate_assignment``: release/<chapter> from source/<chapter> (all chapters for
    "*"), and the notebooks' master copies in the gradebook."""
    nbgrader(["generate_assignment", chapter, "--force"], course_dir)


def release_to_exchange(course_dir, chapter, exchange):
    nbgrader(["release_assignment", chapter, "--force", f"--Exchange.root={exchange}"], course_dir)


def course_config(course_dir):
    """The course directory's nbgrader configuration, loaded the way nbgrader loads it."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config()


def exchange_root(course_dir):
    """The exchange this course's nbgrader_config.py chooses (see the Exchange section there)."""
    config = course_config(course_dir)
    return Path(config.Exchange.root) if "root" in config.Exchange else Path("/usr/local/share/nbgrader/exchange")


def prepare(course_dir, chapters, release=(), log=print):
    """Make a course directory ready for the formgrader: every chapter in ``chapters`` recorded in the
    gradebook (without touching the committed release/), and only the chapters in ``release`` released
    to the exchange. A chapter nobody asked for is never released: on a shared exchange that would
    publish it to every student, or undo the instructor's un-release. Returns (exchange, released:
    the chapters students can fetch now)."""
    course_dir = Path(course_dir).resolve()
    exchange = exchange_root(course_dir)
    exchange.mkdir(parents=True, exist_ok=True)
    (course_dir / "work").mkdir(exist_ok=True)  # where Lab's Assignment List fetches to (nbgrader_config.py)
    known = set()
    if (course_dir / "gradebook.db").exists():
        with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
            known = {a.name for a in gb.assignments if a.notebooks}
    missing = [chapter for chapter in chapters if chapter not in known]
    if missing:
        with tempfile.TemporaryDirectory(prefix="course-prepare-") as scratch:
            nbgrader(["generate_assignment", missing[0] if len(missing) == 1 else "*", "--force",
                      f"--CourseDirectory.release_directory={scratch}"], course_dir)
        log(f"gradebook: recorded {', '.join(missing)}")
    outbound = exchange / COURSE_ID / "outbound"
    for chapter in release:
        if not (outbound / chapter).exists() and (course_dir / "release" / chapter).exists():
            nbgrader(["release_assignment", chapter], course_dir)
            log(f"exchange: released {chapter} to {exchange}")
    released = sorted(p.name for p in outbound.iterdir()) if outbound.is_dir() else []
    return exchange, released


def _as_student(exchange_class, home, chapter, exchange, student="*"):
    """Run a student-side exchange step in this process (what `nbgrader fetch_assignment` and
    `nbgrader submit` do, without starting a process per student and chapter)."""
    config = Config()
    config.Exchange.root = str(exchange)
    config.Exchange.assignment_dir = str(home)
    config.Exchange.cache = str(Path(home) / ".nbgrader-cache")  # not the real user's receipts
    config.CourseDirectory.course_id = COURSE_ID
    config.CourseDirectory.assignment_id = chapter
    config.CourseDirectory.student_id = student
    coursedir = CourseDirectory(config=config)
    exchange_class(coursedir=coursedir, authenticator=Authenticator(config=config), config=config).start()


def fetch(home, chapter, exchange):
    """A student fetches the released chapter into their ``home`` directory."""
    Path(home).mkdir(parents=True, exist_ok=True)
    _as_student(ExchangeFetchAssignment, home, chapter, exchange)
    return Path(home) / chapter


def submit(home, chapter, exchange, student):
    """A student submits their folder (on a shared machine the id would come from the login)."""
    _as_student(ExchangeSubmit, home, chapter, exchange, student)


def collect(course_dir, chapter, exchange):
    nbgrader(["collect", chapter, "--update", f"--Exchange.root={exchange}"], course_dir)


def autograde(course_dir, chapter="*", student=None):
    """Autograde every collected submission of ``chapter`` ("*": of every chapter), or one student's.

    nbgrader exits non-zero when any submission could not be processed; the others are still
    graded, so the result is returned rather than raised.
    """
    args = ["autograde", chapter, "--force"]
    if student:
        args.append(f"--student={student}")
    return nbgrader(args, course_dir, check=False)


def feedback(course_dir, chapter="*"):
    """``nbgrader generate_feedback``; returns its log."""
    result = nbgrader(["generate_feedback", chapter, "--force"], course_dir)
    return result.stdout + result.stderr


def export(course_dir):
    """``nbgrader export``: grades.csv in the course directory; returns its rows."""
    nbgrader(["export"], course_dir)
    with open(Path(course_dir) / "grades.csv", newline="") as f:
        return list(csv.DictReader(f))


@dataclass
class CellGrade:
    grade_id: str
    score: float
    max_score: float
    auto_score: float | None
    manual_score: float | None


@dataclass
class NotebookGrade:
    student: str
    chapter: str
    score: float
    max_score: float
    cells: dict = field(default_factory=dict)  # grade_id -> CellGrade
    comments: dict = field(default_factory=dict)  # grade_id -> comment text


def grades(course_dir, chapter, student):
    """Scores of one student's notebook for ``chapter``, read from the course's gradebook."""
    db_url = f"sqlite:///{Path(course_dir).resolve() / 'gradebook.db'}"
    with Gradebook(db_url) as gb:
        nb = gb.find_submission_notebook(chapter, chapter, student)
        cells = {
            g.name: CellGrade(g.name, float(g.score), float(g.max_score), g.auto_score, g.manual_score)
            for g in nb.grades
        }
        comments = {c.name: c.comment for c in nb.comments if c.comment}
        return NotebookGrade(student, chapter, float(nb.score), float(nb.max_score), cells, comments)
