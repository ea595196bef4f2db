"""Static checks of the source and release notebooks (no execution)."""

import ast
import re

import nbformat
import pytest

from course import ROOT, notebooks
from tests.conftest import CHAPTERS

REQUIRED_KEYS = {"grade", "grade_id", "locked", "schema_version", "solution", "task"}
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])(?:/(?:home|Users|root|tmp|work|mnt|var|opt|usr|etc)/|[A-Za-z]:\\)")


@pytest.fixture(params=CHAPTERS, scope="module")
def source(request):
    return request.param, notebooks.read(notebooks.source_path(request.param))


def test_there_is_at_least_one_chapter():
    assert "01_fundamentals" in CHAPTERS


def test_valid_nbformat_and_python3_kernel(source):
    chapter, nb = source
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.metadata["kernelspec"]["language"] == "python"


def test_every_cell_has_consistent_nbgrader_metadata(source):
    _, nb = source
    ids = []
    for cell in nb.cells:
        meta = notebooks.meta(cell)
        missing = REQUIRED_KEYS - set(meta)
        assert not missing, f"cell {cell.get('id')}: nbgrader metadata lacks {missing}"
        assert meta["schema_version"] == 3 and meta["task"] is False
        assert re.fullmatch(r"[a-z0-9_]+", meta["grade_id"]), meta["grade_id"]
        ids.append(meta["grade_id"])
        if meta["solution"]:
            assert cell.cell_type == "code" and not meta["grade"] and not meta["locked"], meta["grade_id"]
        elif meta["grade"]:
            assert cell.cell_type == "code" and meta["locked"] and meta["points"] > 0, meta["grade_id"]
        else:
            assert meta["locked"], f"{meta['grade_id']}: instructional cells are read-only"
    duplicates = {i for i in ids if ids.count(i) > 1}
    assert not duplicates, f"duplicate grade_ids: {duplicates}"


def test_solution_cells_have_markers_and_are_followed_by_tests(source):
    _, nb = source
    exercises = notebooks.exercises(nb)
    assert exercises, "a chapter has graded exercises"
    for exercise in exercises:
        cell = nb.cells[exercise.index]
        assert notebooks.BEGIN_SOLUTION in cell.source and notebooks.END_SOLUTION in cell.source, exercise.name
        assert exercise.tests, f"solution cell {exercise.name} has no graded test cell after it"
    first_solution = exercises[0].index
    orphans = [notebooks.meta(c)["grade_id"] for c in nb.cells[:first_solution] if notebooks.is_test(c)]
    assert not orphans, f"test cells before any solution cell: {orphans}"


def test_test_cells_have_visible_and_hidden_tests(source):
    _, nb = source
    for cell in nb.cells:
        if not notebooks.is_test(cell):
            continue
        grade_id = notebooks.meta(cell)["grade_id"]
        assert cell.source.count(notebooks.BEGIN_HIDDEN) == 1 == cell.source.count(notebooks.END_HIDDEN), grade_id
        visible = notebooks.visible_part(cell.source)
        hidden = cell.source.split(notebooks.BEGIN_HIDDEN)[1].split(notebooks.END_HIDDEN)[0]
        # a capstone's tier cell checks the validation split (visible) and an unseen split (hidden)
        assert "checks." in visible or "capstone.require(" in visible, f"{grade_id}: no visible checks"
        assert "checks." in hidden or "capstone.require(" in hidden, f"{grade_id}: no hidden tests"


def test_test_cells_never_end_in_a_value(source):
    """nbgrader reads a test cell's result value as partial credit; our cells must end in a statement."""
    _, nb = source
    for cell in nb.cells:
        if notebooks.is_test(cell):
            last = ast.parse(cell.source).body[-1]
            if isinstance(last, ast.Expr):
                func = last.value.func if isinstance(last.value, ast.Call) else None
                name = ast.unparse(func) if func is not None else ""
                assert name == "print" or name.startswith(("checks.", "capstone.require")), \
                    notebooks.meta(cell)["grade_id"]


def test_outputs_and_execution_counts_are_cleared(source):
    _, nb = source
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, notebooks.meta(cell)["grade_id"]


def test_no_absolute_paths(source):
    _, nb = source
    for cell in nb.cells:
        assert not ABSOLUTE_PATH.search(cell.source), f"{notebooks.meta(cell)['grade_id']}: absolute path"


def test_chapter_ends_with_an_errata_box(source):
    _, nb = source
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert any("Errata" in text for text in markdown[-3:]), "the chapter should end with an Errata box"


def test_source_notebooks_round_trip_through_the_text_form(source, tmp_path):
    """tools/nbtext.py is how chapters are edited as text; it must not lose or change anything."""
    import importlib.util

    from course import ROOT

    spec = importlib.util.spec_from_file_location("nbtext", ROOT / "tools" / "nbtext.py")
    nbtext = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nbtext)
    _, nb = source
    again = nbtext.to_notebook(nbtext.to_text(nb))
    assert nbformat.writes(again) == nbformat.writes(nb)


def test_the_readme_chapter_table_counts_exercises_and_points(source):
    chapter, nb = source
    readme = (ROOT / "README.md").read_text()
    row = re.search(rf"^\| `{chapter}` \|.*\| (\d+) exercises, (\d+) points \|$", readme, re.M)
    assert row, f"README's chapter table has no '| `{chapter}` | ... | N exercises, P points |' row"
    points = sum(notebooks.meta(cell).get("points", 0) for cell in nb.cells if notebooks.meta(cell).get("grade"))
    assert (int(row[1]), int(row[2])) == (len(notebooks.exercises(nb)), points), row[0]
