"""`python -m course check` grades a learner's copy and never writes to it or to source/."""

import hashlib
import subprocess
import sys

import nbformat
import pytest

from course import ROOT, notebooks

pytestmark = pytest.mark.slow
CHAPTER = "01_fundamentals"


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_check_reports_points_and_first_failure_per_exercise(tmp_path):
    nb = notebooks.read(notebooks.release_path(CHAPTER))
    source = notebooks.read(notebooks.source_path(CHAPTER))
    solved = {notebooks.meta(c)["grade_id"]: c.source for c in source.cells if notebooks.is_solution(c)}
    for cell in nb.cells:
        if notebooks.meta(cell).get("grade_id") == "layer_norm":
            cell.source = solved["layer_norm"]
    copy = tmp_path / "my 01_fundamentals work.ipynb"
    nbformat.write(nb, str(copy))
    before, source_before = _digest(copy), _digest(notebooks.source_path(CHAPTER))

    result = subprocess.run([sys.executable, "-m", "course", "check", str(copy)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any("layer_norm" in line and "2 / 2" in line and "passed" in line for line in lines), result.stdout
    assert any("dropout" in line and "0 / 3" in line and "NotImplementedError" in line for line in lines)
    total = sum(exercise.points for exercise in notebooks.exercises(source))
    assert f"total: 2 / {total:g} points" in result.stdout
    assert _digest(copy) == before, "check must not modify the learner's notebook"
    assert _digest(notebooks.source_path(CHAPTER)) == source_before
    assert not list(copy.parent.glob("*.html")) and len(list(tmp_path.iterdir())) == 1


def test_check_refuses_an_unknown_notebook(tmp_path):
    stray = tmp_path / "homework.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), str(stray))
    result = subprocess.run([sys.executable, "-m", "course", "check", str(stray)], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 2 and "--chapter" in result.stdout
