"""`python -m course check` grades a learner's copy and never writes to it or to source/."""

import hashlib
import subprocess
import sys

import nbformat
import pytest

from course import ROOT, notebooks
from tests import wrong_answers
from tests.feedback_check import NUMBER_PREFIX, hidden_lines

pytestmark = pytest.mark.slow
CHAPTER = "01_fundamentals"


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_check_reports_points_and_first_failure_per_exercise(tmp_path):
    nb = notebooks.read(notebooks.release_path(CHAPTER))
    source = notebooks.read(notebooks.source_path(CHAPTER))
    solved = {notebooks.meta(c)["grade_id"]: c.source for c in source.cells if notebooks.is_solution(c)}
    wrong = {m.id: m for m in wrong_answers.load(CHAPTER)}["dropout-dropout_nan_at_p1"]  # caught by a hidden test
    for cell in nb.cells:
        if notebooks.meta(cell).get("grade_id") == "layer_norm":
            cell.source = solved["layer_norm"]
        if notebooks.meta(cell).get("grade_id") == "dropout":
            cell.source = wrong.code
    copy = tmp_path / "my 01_fundamentals work.ipynb"
    nbformat.write(nb, str(copy))
    before, source_before = _digest(copy), _digest(notebooks.source_path(CHAPTER))

    result = subprocess.run([sys.executable, "-m", "course", "check", str(copy)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any("layer_norm" in line and "2 / 2" in line and "passed" in line for line in lines), result.stdout
    dropout = next(line for line in lines if "dropout" in line and "0 / 3" in line)
    assert "Error" in dropout and "NotImplementedError" not in dropout, dropout  # the hidden test's message
    assert any("batch_norm" in line and "NotImplementedError" in line for line in lines)
    shown = {line.strip() for line in lines} | {NUMBER_PREFIX.sub("", line).strip() for line in lines}
    assert not shown & hidden_lines(CHAPTER), "check must not print hidden-test code"
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
