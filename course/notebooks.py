"""Reading the course's notebooks: exercises, their solution and test cells, hidden tests."""

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course import ROOT

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_HIDDEN_BLOCK = re.compile(rf"^[ \t]*{BEGIN_HIDDEN}.*?^[ \t]*{END_HIDDEN}[^\n]*\n?", re.S | re.M)


def source_path(chapter, root=ROOT):
    return Path(root) / "source" / chapter / f"{chapter}.ipynb"


def release_path(chapter, root=ROOT):
    return Path(root) / "release" / chapter / f"{chapter}.ipynb"


def read(path):
    return nbformat.read(str(path), as_version=4)


def meta(cell):
    """The cell's nbgrader metadata ({} for a cell without any)."""
    return cell.metadata.get("nbgrader", {})


def is_solution(cell):
    return bool(meta(cell).get("solution"))


def is_test(cell):
    return cell.cell_type == "code" and bool(meta(cell).get("grade")) and not meta(cell).get("solution")


@dataclass
class TestCell:
    index: int
    grade_id: str
    points: float


@dataclass
class Exercise:
    """A solution cell and the graded test cells that follow it (up to the next solution cell)."""

    name: str  # the solution cell's grade_id
    index: int
    tests: list = field(default_factory=list)

    @property
    def points(self):
        return sum(test.points for test in self.tests)


def exercises(nb):
    found = []
    for index, cell in enumerate(nb.cells):
        if is_solution(cell):
            found.append(Exercise(meta(cell)["grade_id"], index))
        elif is_test(cell) and found:
            found[-1].tests.append(TestCell(index, meta(cell)["grade_id"], float(meta(cell)["points"])))
    return found


def visible_part(source):
    """A test cell's source without its hidden tests (what a student sees)."""
    return _HIDDEN_BLOCK.sub("", source)


def defined_names(source):
    """Names that a cell's top-level code defines (functions, classes, assignments)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def used_names(source):
    """Every name a cell's code loads (at any depth)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
