"""nbgrader preprocessors that make ``nbgrader autograde`` robust against hostile submissions.

``nbgrader_config.py`` puts them into nbgrader's own autograde pipeline, so the protection
holds for plain ``nbgrader autograde``, the formgrader and ``python -m course`` alike:

- ``OverwriteCells``: nbgrader's, plus putting back locked code cells (tests, setup) that a
  student deleted, at their original place.
- ``Execute``: nbgrader's, run in a contained kernel (``course.grading.sandbox``: memory,
  processes, files, network), with a wall-clock limit per notebook, plus recovery when a cell
  kills the kernel (``os._exit``, a segfault, the memory limit) or hangs through the timeout
  interrupt: the kernel is restarted, the cells above are re-run silently, and grading goes on.
  nbgrader alone drops the whole submission.
- ``IntegrityCheck``: scans the student's code (``course.grading.integrity``); a flagged notebook gets
  a manual-score override of 0 on every graded cell and a comment that names the offending
  lines. Instructors see both in formgrader and can undo them (``python -m course unflag``).
"""

import copy
import time
from pathlib import Path

import nbformat
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    IgnorePattern,
    LimitOutput,
    NbGraderPreprocessor,
    OverwriteKernelspec,
    SaveAutoGrades,
)
from nbgrader.preprocessors import Execute as NbGraderExecute
from nbgrader.preprocessors import OverwriteCells as NbGraderOverwriteCells
from traitlets import Bool, Integer, Unicode

from course.grading.integrity import scan_notebook
from course.grading.sandbox import Sandbox, SandboxedKernelManager, format_size
from course.notebooks import visible_part

RESTORED_NOTE = "# Restored by the grader: this locked cell was missing from the submission.\n"
FLAG_MARKER = "[integrity check]"
CLEARED_MARKER = "[integrity check cleared]"


def _same_code(a, b):
    """Equal up to trailing whitespace and blank lines (what nbgrader's release step may change)."""
    def lines(text):
        return [line.rstrip() for line in text.splitlines() if line.strip()]
    return lines(a) == lines(b)


def _strip_restored_note(source):
    return source[len(RESTORED_NOTE):] if source.startswith(RESTORED_NOTE) else source


def _error_output(ename, evalue):
    return nbformat.v4.new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"\x1b[0;31m{ename}\x1b[0m: {evalue}"]
    )


class OverwriteCells(NbGraderOverwriteCells):
    """Restore locked cells from the gradebook, and put back locked code cells that are missing.

    nbgrader's own ``add_missing_cells`` only restores grade cells, and fails when the cell
    before the missing one is an ordinary read-only cell; this version restores every locked code
    cell (a deleted setup cell breaks all tests after it) after its nearest surviving
    predecessor in the source notebook.
    """

    add_missing_cells = Bool(True, help="Put back locked code cells missing from a submission.").tag(config=True)

    def add_missing_grade_cells(self, nb, resources):
        master = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        sources = {cell.name: cell for cell in master.source_cells}
        points = {cell.name: cell.max_score for cell in master.grade_cells}
        order = self._master_order(resources) or [cell.name for cell in master.source_cells]

        def present():
            return {
                cell.metadata.get("nbgrader", {}).get("grade_id"): i
                for i, cell in enumerate(nb.cells)
                if "nbgrader" in cell.metadata
            }

        for position, name in enumerate(order):
            source_cell = sources.get(name)
            if source_cell is None or source_cell.cell_type != "code" or not source_cell.locked:
                continue
            where = present()
            if name in where:
                continue
            before = [where[n] for n in order[:position] if n in where]
            index = max(before) + 1 if before else 0
            self.log.warning("Locked cell %s is missing from the submission; restoring it", name)
            nb.cells.insert(index, self._restored_cell(source_cell, points.get(name)))
        return nb, resources

    def add_missing_task_cells(self, nb, resources):
        return nb, resources  # the course has no task cells

    def preprocess_cell(self, cell, resources, cell_index):
        """A locked cell that differs from its master only by the hidden tests (which the release never
        had) is put back silently: nbgrader would warn "Attribute 'checksum' … has changed!" for every
        test cell of every untouched submission (nbgrader #1961), drowning the real edits."""
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            try:
                master = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
            except MissingEntry:
                master = None
            if master is not None and master.locked and cell.cell_type == master.cell_type:
                if _same_code(_strip_restored_note(cell.source), visible_part(master.source)):
                    cell.source = master.source
        return super().preprocess_cell(cell, resources, cell_index)

    def _master_order(self, resources):
        """grade_ids in source-notebook order (the gradebook does not record positions)."""
        coursedir = CourseDirectory(config=self.config)
        path = Path(coursedir.format_path(coursedir.source_directory, ".", self.assignment_id))
        path = path / f"{self.notebook_id}.ipynb"
        if not path.exists():
            return None
        source_nb = nbformat.read(path, as_version=4)
        return [c.metadata["nbgrader"]["grade_id"] for c in source_nb.cells if "nbgrader" in c.metadata]

    @staticmethod
    def _restored_cell(source_cell, max_score):
        cell = nbformat.v4.new_code_cell(RESTORED_NOTE + source_cell.source)
        cell.metadata = {
            "deletable": False,
            "editable": False,
            "nbgrader": {
                "grade": max_score is not None,
                "grade_id": source_cell.name,
                "locked": True,
                "schema_version": 3,
                "solution": False,
                "task": False,
                "checksum": source_cell.checksum,
            },
        }
        if max_score is not None:
            cell.metadata["nbgrader"]["points"] = max_score
        return cell


class Execute(NbGraderExecute):
    """nbgrader's Execute in a contained kernel, plus recovery from a dead or unresponsive kernel."""

    max_kernel_restarts = Integer(
        3, help="How often a notebook's kernel may be restarted before the remaining cells fail."
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        sandbox = Sandbox(config=kwargs.get("config"), parent=kwargs.get("parent"))
        if sandbox.enabled:
            kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)
        self.sandbox = Sandbox(parent=self)

    def preprocess(self, nb, resources=None, km=None):
        self._restarts = 0
        self._executed = []  # code cells run in order, replayed after a restart
        self._skip_on_replay = set()  # cells that killed, hung or timed out
        limit = self.sandbox.notebook_timeout
        self._deadline = time.monotonic() + limit if limit else None
        return super().preprocess(nb, resources, km)

    def _remaining(self):
        return None if self._deadline is None else self._deadline - time.monotonic()

    def _get_timeout(self, cell):
        timeout, remaining = super()._get_timeout(cell), self._remaining()
        if remaining is None:
            return timeout
        return max(1, int(min(timeout, remaining) if timeout else remaining))

    def _not_run(self, cell, why):
        cell.outputs = [_error_output("NotExecuted", f"Not run: {why}, so grading stopped here.")]
        return cell

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if self._restarts > self.max_kernel_restarts:
            return self._not_run(cell, f"the kernel had to be restarted {self._restarts} times"), resources
        remaining = self._remaining()
        if remaining is not None and remaining <= 0:
            return self._not_run(cell, f"the notebook reached its wall-clock limit of "
                                       f"{self.sandbox.notebook_timeout} s"), resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except (DeadKernelError, CellTimeoutError) as error:
            cell = self.nb.cells[index]
            reason = getattr(self.km, "death_reason", lambda: None)()
            if isinstance(error, DeadKernelError) and reason:
                message = (f"The kernel was stopped: {reason} while running this cell. The grader "
                           "restarted it and re-ran the cells above to grade the rest of the notebook.")
            elif isinstance(error, DeadKernelError):
                message = ("The kernel died while running this cell (os._exit(), exit(), a crash in "
                           "compiled code or running out of memory). The grader restarted it and "
                           "re-ran the cells above to grade the rest of the notebook.")
            else:
                message = ("This cell did not stop at the time limit and ignored the interrupt. The "
                           "grader restarted the kernel and re-ran the cells above to grade the rest.")
            cell.outputs.append(_error_output(type(error).__name__, message))
            self._skip_on_replay.add(index)
            self._restart_and_replay()
            return cell, self.resources
        if any(out.get("ename") == "CellTimeoutError" for out in cell.outputs):
            self._skip_on_replay.add(index)  # it would time out again
            remaining = self._remaining()
            if remaining is not None and remaining <= 1:
                cell.outputs.append(_error_output("NotebookTimeout", (
                    f"The notebook reached its wall-clock limit of {self.sandbox.notebook_timeout} s "
                    "during this cell.")))
        if any(out.get("ename") == "MemoryError" for out in cell.outputs) and self.sandbox.memory_bytes:
            cell.outputs.append(_error_output("MemoryError", (
                f"memory limit of {format_size(self.sandbox.memory_bytes)} exceeded (address space)")))
        self._executed.append(index)
        return cell, resources

    def _restart_and_replay(self):
        self._restarts += 1
        self.log.warning("Restarting the kernel (restart %d)", self._restarts)
        try:
            run_sync(self.km.shutdown_kernel)(now=True)
        except Exception:  # noqa: BLE001 - the kernel may already be gone
            pass
        self._cleanup_kernel()
        self.km = self.create_kernel_manager()
        self.start_new_kernel()
        self.start_new_kernel_client()
        for index in self._executed:
            if index in self._skip_on_replay:
                continue
            original = self.nb.cells[index]
            try:
                self.execute_cell(copy.deepcopy(original), index, store_history=False)
            except (DeadKernelError, CellTimeoutError):
                self._skip_on_replay.add(index)
                self.nb.cells[index] = original
                self._restart_and_replay()
                return
            finally:
                self.nb.cells[index] = original


class IntegrityCheck(NbGraderPreprocessor):
    """Zero the score of a notebook whose student code tampers with the test harness.

    Runs after ``SaveAutoGrades``, so the autograder's own scores stay in the gradebook and an
    instructor can restore them: ``python -m course unflag ASSIGNMENT STUDENT``.
    """

    enabled = Bool(True, help="Scan submissions for tampering with the tests.").tag(config=True)
    advice = Unicode(
        "Instructors: review the lines above in formgrader; to restore the autograder's scores "
        "run `python -m course unflag {assignment} {student}`.",
        help="Appended to every report; {assignment} and {student} are filled in.",
    ).tag(config=True)

    def preprocess(self, nb, resources):
        if not self.enabled:
            return nb, resources
        info = resources["nbgrader"]
        notebook_id, assignment_id, student_id = info["notebook"], info["assignment"], info["student"]
        with Gradebook(info["db_url"]) as gb:
            master = {c.name: c for c in gb.find_notebook(notebook_id, assignment_id).source_cells}

            def is_trusted(cell):
                master_cell = master.get(cell.metadata.get("nbgrader", {}).get("grade_id"))
                return (
                    master_cell is not None
                    and master_cell.locked
                    and _strip_restored_note(cell.source) == master_cell.source
                )

            findings = scan_notebook(nb, is_trusted)
            submission = gb.find_submission_notebook(notebook_id, assignment_id, student_id)
            comments = {comment.name: comment for comment in submission.comments}
            cleared = any((c.manual_comment or "").startswith(CLEARED_MARKER) for c in comments.values())
            if not findings or cleared:
                self._remove_flag(gb, submission, comments)
                if findings:
                    self.log.warning("%s: integrity findings ignored (cleared by an instructor)", student_id)
                return nb, resources

            report = self._report(nb, findings, assignment_id, student_id)
            self.log.warning("%s: integrity check failed, score set to 0\n%s", student_id, report)
            for grade in submission.grades:
                grade.manual_score = 0.0
                grade.needs_manual_grade = True
            target = self._comment_cell(nb, findings, comments)
            if target is not None:
                comments[target].manual_comment = report
            gb.db.commit()

        nb.cells.insert(0, nbformat.v4.new_markdown_cell(report))
        return nb, resources

    def _report(self, nb, findings, assignment_id, student_id):
        lines = [f"{FLAG_MARKER} **This notebook scored 0.** It contains code that changes how the "
                 "tests run, which no exercise needs. Remove it and submit again:", ""]
        for finding in findings:
            grade_id = nb.cells[finding.cell].metadata.get("nbgrader", {}).get("grade_id")
            where = f"solution cell `{grade_id}`" if grade_id else f"cell {finding.cell + 1}"
            lines.append(f"- {where}, line {finding.line}: `{finding.code}` ({finding.reason})")
        lines += ["", self.advice.format(assignment=assignment_id, student=student_id)]
        return "\n".join(lines)

    @staticmethod
    def _comment_cell(nb, findings, comments):
        """The solution cell to carry the report: the first flagged one, else the first one."""
        names = [nb.cells[f.cell].metadata.get("nbgrader", {}).get("grade_id") for f in findings]
        names += [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells if utils.is_solution(c)]
        return next((name for name in names if name in comments), None)

    @staticmethod
    def _remove_flag(gb, submission, comments):
        """Undo an earlier flag of this submission (it was fixed, or an instructor cleared it)."""
        flagged = [c for c in comments.values() if (c.manual_comment or "").startswith(FLAG_MARKER)]
        if not flagged:
            return
        for grade in submission.grades:
            if grade.manual_score == 0.0:
                grade.manual_score = None
                grade.needs_manual_grade = grade.auto_score is None
        for comment in flagged:
            comment.manual_comment = None
        gb.db.commit()


def unflag(db_url, assignment_id, student_id, notebook_id=None):
    """Restore the autograder's scores of a flagged submission and keep later runs from re-flagging it.

    Returns the number of notebooks changed.
    """
    changed = 0
    with Gradebook(db_url) as gb:
        submission = gb.find_submission(assignment_id, student_id)
        for notebook in submission.notebooks:
            if notebook_id and notebook.name != notebook_id:
                continue
            comments = list(notebook.comments)
            for grade in notebook.grades:
                grade.manual_score = None
                grade.needs_manual_grade = grade.auto_score is None
            for comment in comments:
                if (comment.manual_comment or "").startswith(FLAG_MARKER):
                    comment.manual_comment = None
            if comments:
                note = f"{CLEARED_MARKER} An instructor reviewed the integrity report and restored the scores."
                previous = comments[0].manual_comment
                comments[0].manual_comment = f"{note}\n\n{previous}" if previous else note
            changed += 1
        gb.db.commit()
    return changed


# The pipelines nbgrader_config.py installs: nbgrader's defaults with the classes above.
SANITIZE_PREPROCESSORS = [ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata]
AUTOGRADE_PREPROCESSORS = [
    Execute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    IntegrityCheck,
    AssignLatePenalties,
    CheckCellMetadata,
]
