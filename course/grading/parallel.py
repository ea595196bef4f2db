"""A class graded in parallel: ``python -m course autograde CHAPTER [--jobs N] [--scheduler ADDRESS]``.

``nbgrader autograde`` grades one submission after another. Here a coordinator hands each
submission to a stateless worker and alone writes the course's gradebook and ``autograded/``:

- a worker (``grade``) gets one ``Submission``: the student's files, the chapter's source files,
  the course's ``nbgrader_config.py``, a gradebook holding only the master notebooks, and the
  student's earlier rows (an instructor's manual scores or cleared integrity flag). It runs the
  real nbgrader ``Autograde`` converter, with the course's hardened preprocessors and contained
  kernel, in a scratch course directory of its own, and returns the autograded files and the
  gradebook rows of that one submission (``Graded``). It shares nothing with other workers;
- the coordinator writes each result as it arrives, so the gradebook, ``autograded/`` and the
  scores end up exactly as a serial ``nbgrader autograde --force`` leaves them.

Workers sit behind ``concurrent.futures.Executor``: local processes by default
(``ProcessPoolExecutor``), or a Dask distributed cluster (``--scheduler tcp://host:8786``) whose
workers have this package installed and run one task per process (``--nthreads 1``; each task
starts a kernel with its own memory limit, so size ``--jobs``/workers to memory / the limit).
"""

import logging
import os
import shutil
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from io import StringIO
from multiprocessing import get_context
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from sqlalchemy.exc import SAWarning
from traitlets.config.loader import PyFileConfigLoader

CONFIG = "nbgrader_config.py"


@dataclass
class Submission:
    """Everything a worker needs to grade one student's chapter (plain data, so it pickles)."""

    assignment: str
    student: str
    config: str  # the course's nbgrader_config.py
    source: dict  # relative path -> bytes, the chapter's source directory
    submitted: dict  # relative path -> bytes, the student's submitted directory
    gradebook: bytes  # the master notebooks, no submissions
    previous: dict | None = None  # this submission's rows from an earlier grading (see read_rows)


@dataclass
class Graded:
    assignment: str
    student: str
    ok: bool
    log: str
    files: dict = field(default_factory=dict)  # relative path -> (bytes, mode), autograded directory
    rows: dict | None = None
    seconds: float = 0.0


# --- gradebook rows of one submission ---------------------------------------------------------
def read_rows(gb, assignment, student):
    """What autograding writes to the gradebook for one submission, as plain data."""
    submission = gb.find_submission(assignment, student)
    return {
        "timestamp": submission.timestamp,
        "notebooks": {
            nb.name: {
                "flagged": nb.flagged,
                "late_submission_penalty": nb.late_submission_penalty,
                "grades": {g.name: {"auto_score": g.auto_score, "manual_score": g.manual_score,
                                    "extra_credit": g.extra_credit, "needs_manual_grade": g.needs_manual_grade}
                           for g in nb.grades},
                "comments": {c.name: {"auto_comment": c.auto_comment, "manual_comment": c.manual_comment}
                             for c in nb.comments},
            }
            for nb in submission.notebooks
        },
    }


def write_rows(gb, assignment, student, rows):
    """Store ``rows`` (from ``read_rows``) as this submission's gradebook entries."""
    gb.update_or_create_student(student)
    if rows["timestamp"] is not None:
        gb.update_or_create_submission(assignment, student, timestamp=rows["timestamp"])
    else:
        gb.update_or_create_submission(assignment, student)
    for name, notebook in rows["notebooks"].items():
        submitted = gb.find_submission_notebook(name, assignment, student)
        submitted.flagged = notebook["flagged"]
        submitted.late_submission_penalty = notebook["late_submission_penalty"]
        for grade in submitted.grades:
            for key, value in notebook["grades"].get(grade.name, {}).items():
                setattr(grade, key, value)
        for comment in submitted.comments:
            for key, value in notebook["comments"].get(comment.name, {}).items():
                setattr(comment, key, value)
    gb.db.commit()


# --- the worker ---------------------------------------------------------------------------------
def _write_tree(root, files):
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _read_tree(root, with_mode=False):
    files = {}
    for path in sorted(Path(root).rglob("*")):
        if path.is_file() and not path.is_symlink():
            rel = str(path.relative_to(root))
            files[rel] = (path.read_bytes(), path.stat().st_mode & 0o7777) if with_mode else path.read_bytes()
    return files


def grade(job):
    """Autograde one submission in a scratch course directory: a ``Submission`` in, ``Graded`` out."""
    from nbgrader.converters import Autograde
    from nbgrader.converters.base import NbGraderException

    started = time.perf_counter()
    warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's own, when it adds a submission
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        root = Path(tmp) / "course"
        root.mkdir()
        (root / CONFIG).write_text(job.config)
        _write_tree(root / "source" / job.assignment, job.source)
        _write_tree(root / "submitted" / job.student / job.assignment, job.submitted)
        (root / "gradebook.db").write_bytes(job.gradebook)
        db_url = f"sqlite:///{root / 'gradebook.db'}"
        if job.previous:
            with Gradebook(db_url) as gb:
                write_rows(gb, job.assignment, job.student, job.previous)

        log = logging.getLogger(f"course.grade.{job.student}.{job.assignment}.{os.getpid()}")
        log.propagate = False
        log.setLevel(logging.INFO)
        buffer = StringIO()
        handler = logging.StreamHandler(buffer)
        handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
        log.addHandler(handler)
        config = PyFileConfigLoader(CONFIG, path=str(root)).load_config()
        config.CourseDirectory.root = str(root)
        config.CourseDirectory.assignment_id = job.assignment
        config.CourseDirectory.student_id = job.student
        ok = True
        try:
            coursedir = CourseDirectory(config=config, log=log)
            converter = Autograde(coursedir=coursedir, config=config, log=log)
            converter.force = True
            converter.start()
        except NbGraderException:
            ok = False
        except Exception:  # noqa: BLE001 - report it as this submission's failure, keep the run going
            log.exception("Autograding %s/%s failed", job.student, job.assignment)
            ok = False
        finally:
            log.removeHandler(handler)
        rows = None
        with Gradebook(db_url) as gb:
            try:
                rows = read_rows(gb, job.assignment, job.student)
            except MissingEntry:
                pass
        dest = root / "autograded" / job.student / job.assignment
        files = _read_tree(dest, with_mode=True) if ok and dest.exists() else {}
    return Graded(job.assignment, job.student, ok, buffer.getvalue(), files, rows, time.perf_counter() - started)


# --- the coordinator ----------------------------------------------------------------------------
def _master_gradebook(course_dir):
    """The course's gradebook without any submission (what every worker starts from)."""
    with tempfile.TemporaryDirectory(prefix="course-master-") as tmp:
        copy = Path(tmp) / "gradebook.db"
        shutil.copy(course_dir / "gradebook.db", copy)
        with Gradebook(f"sqlite:///{copy}") as gb:
            for assignment in gb.assignments:
                for submission in list(assignment.submissions):
                    gb.remove_submission(assignment.name, submission.student.id)
            for student in list(gb.students):
                gb.remove_student(student.id)
        return copy.read_bytes()


@dataclass
class Summary:
    graded: list
    failed: list
    skipped: list
    seconds: float
    workers: str
    containment: list  # guarantees lost, one message each
    describe: str = ""
    outcomes: dict = field(default_factory=dict)  # student -> Outcome, of the graded submissions

    def lines(self):
        out = [self.describe] if self.describe else []
        if not self.graded and not self.failed:
            out.append("Nothing to grade" + (f": {len(self.skipped)} submission(s) already graded (use --force to "
                                             "regrade)" if self.skipped else ": no collected submissions"))
        else:
            out.append(f"Autograded {len(self.graded)} submission(s) in {self.seconds:.0f} s with {self.workers}"
                       + (f"; {len(self.skipped)} already graded (use --force to regrade)" if self.skipped else ""))
        if self.outcomes:
            width = max(len(student) for student in self.outcomes)
            out.append(f"  {'student'.ljust(width)}  {'score':>11}  notes")
            for student, outcome in sorted(self.outcomes.items()):
                out.append(f"  {student.ljust(width)}  {outcome.score:>5g} / {outcome.max_score:<4g}  "
                           + ("; ".join(outcome.notes()) or "-"))
            flagged = sum(o.flagged for o in self.outcomes.values())
            timeouts = sum(o.timeouts + o.restarts for o in self.outcomes.values())
            out.append(f"  {flagged} flagged by the integrity check, {timeouts} cell(s) timed out or restarted the "
                       "kernel")
        for result in self.failed:
            out.append(f"FAILED {result.student}/{result.assignment}:")
            out.extend("    " + line for line in result.log.strip().splitlines()[-15:])
        for message in self.containment:
            out.append(f"WARNING: containment lost, {message}")
        return out


@dataclass
class Outcome:
    """What an instructor wants to know of one graded submission besides its score."""

    score: float
    max_score: float
    flagged: bool = False
    timeouts: int = 0  # cells interrupted at the time limit (or not run: notebook limit)
    restarts: int = 0  # cells that killed or hung the kernel (it was restarted)
    errors: int = 0  # graded cells that failed

    def notes(self):
        notes = ["FLAGGED (integrity check: score 0, review in formgrader)"] if self.flagged else []
        if self.timeouts:
            notes.append(f"{self.timeouts} cell(s) timed out")
        if self.restarts:
            notes.append(f"kernel restarted {self.restarts}x")
        if self.errors:
            notes.append(f"{self.errors} test cell(s) failed")
        return notes


_TIMEOUT_NAMES = {"CellTimeoutError", "NotebookTimeout", "NotExecuted"}
_RESTART_NAMES = {"DeadKernelError"}


def outcome(course_dir, coursedir, assignment, student):
    """The ``Outcome`` of a graded submission, from the gradebook and its autograded notebooks."""
    import nbformat

    from course.grading.preprocessors import FLAG_MARKER

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        submission = gb.find_submission(assignment, student)
        result = Outcome(float(submission.score), float(submission.max_score))
        result.flagged = any((c.manual_comment or "").startswith(FLAG_MARKER)
                             for nb in submission.notebooks for c in nb.comments)
    folder = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    for path in folder.glob("*.ipynb"):
        for cell in nbformat.read(str(path), as_version=4).cells:
            names = {o.get("ename") for o in cell.get("outputs", []) if o.get("output_type") == "error"}
            result.timeouts += bool(names & _TIMEOUT_NAMES)
            result.restarts += bool(names & _RESTART_NAMES)
            grade = cell.metadata.get("nbgrader", {})
            result.errors += bool(names) and bool(grade.get("grade")) and not grade.get("solution")
    return result


def _load_config(course_dir):
    return PyFileConfigLoader(CONFIG, path=str(course_dir)).load_config()


def _submissions(coursedir, assignment, students, force):
    """(student, submitted dir) to grade, and the students skipped as already graded."""
    todo, skipped = [], []
    pattern = Path(coursedir.format_path(coursedir.submitted_directory, "*", assignment))
    for folder in sorted(pattern.parent.parent.glob(f"*/{assignment}")):
        student = folder.parent.name
        if students and student not in students or not list(folder.glob("*.ipynb")):
            continue
        dest = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
        new = coursedir.get_existing_timestamp(str(folder))
        old = coursedir.get_existing_timestamp(str(dest))
        if not force and dest.exists() and not (new and old and new > old):
            skipped.append(student)
            continue
        todo.append((student, folder))
    return todo, skipped


def _store(course_dir, coursedir, result, permissions):
    dest = Path(coursedir.format_path(coursedir.autograded_directory, result.student, result.assignment))
    if dest.exists():
        shutil.rmtree(dest)
    if result.ok:
        for rel, (data, _mode) in result.files.items():
            path = dest / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            os.chmod(path, permissions)
    if result.rows is not None:
        with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
            write_rows(gb, result.assignment, result.student, result.rows)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def share_cores(jobs):
    """Give each of ``jobs`` concurrent kernels its share of this machine's cores (at least one thread),
    unless the grader set the thread variables already. The kernels inherit them (``Sandbox.env_keep``):
    torch and BLAS otherwise start one thread per core in every kernel, and the oversubscribed
    threads make a training cell several times slower, past the cell timeout."""
    threads = str(max(1, (os.cpu_count() or 1) // max(1, jobs)))
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, threads)


def _executor(jobs, scheduler):
    if scheduler:
        from distributed import Client

        client = Client(scheduler)
        workers = len(client.scheduler_info().get("workers", {}))
        return client.get_executor(pure=False), f"a Dask cluster at {scheduler} ({workers} workers)", client
    jobs = jobs or os.cpu_count() or 1
    share_cores(jobs)  # before the workers start: they and their kernels inherit the environment
    return (ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")),
            f"{jobs} local process{'es' if jobs > 1 else ''}", None)


def autograde(course_dir, assignment, jobs=None, scheduler=None, students=None, force=False, progress=True):
    """Autograde the collected submissions of ``assignment`` concurrently; returns a ``Summary``."""
    from tqdm.auto import tqdm

    from course.grading.sandbox import Sandbox

    warnings.filterwarnings("ignore", category=SAWarning)
    course_dir = Path(course_dir).resolve()
    config = _load_config(course_dir)
    config.CourseDirectory.root = str(course_dir)
    coursedir = CourseDirectory(config=config)
    todo, skipped = _submissions(coursedir, assignment, students, force)
    sandbox = Sandbox(config=config)
    lost = sandbox.lost()
    for message in lost:
        logging.getLogger("course").warning("CONTAINMENT LOST, %s", message)
    if lost and sandbox.require:
        raise RuntimeError("Sandbox.require is set and containment is incomplete: " + "; ".join(lost))
    permissions = int(str(664 if coursedir.groupshared else 444), 8)

    started = time.perf_counter()
    if not todo:  # no pool, no (empty) progress bar
        return Summary([], [], skipped, time.perf_counter() - started, "no workers", lost, sandbox.describe())
    source_dir = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
    shared = {"config": (course_dir / CONFIG).read_text(), "source": _read_tree(source_dir),
              "gradebook": _master_gradebook(course_dir)}
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        previous = {}
        for student, _ in todo:
            try:
                previous[student] = read_rows(gb, assignment, student)
            except MissingEntry:
                previous[student] = None

    executor, workers, client = _executor(jobs, scheduler)
    graded, failed = [], []
    try:
        with executor, tqdm(total=len(todo), desc=f"autograde {assignment}", unit="submission",
                            disable=not progress) as bar:
            futures = {
                executor.submit(grade, Submission(assignment, student, submitted=_read_tree(folder),
                                                  previous=previous[student], **shared)): student
                for student, folder in todo
            }
            for future in as_completed(futures):
                try:
                    result = future.result()
                except Exception as error:  # noqa: BLE001 - a lost worker fails its submission only
                    result = Graded(assignment, futures[future], False, f"worker failed: {error!r}")
                _store(course_dir, coursedir, result, permissions)
                (graded if result.ok else failed).append(result)
                bar.set_postfix_str(f"{result.student} {result.seconds:.0f} s")
                bar.update()
    finally:
        if client is not None:
            client.close()
    outcomes = {}
    for result in graded:
        try:
            outcomes[result.student] = outcome(course_dir, coursedir, assignment, result.student)
        except MissingEntry:
            pass
    return Summary(graded, failed, skipped, time.perf_counter() - started, workers, lost, sandbox.describe(),
                   outcomes)
