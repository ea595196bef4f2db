"""`python -m course autograde` grades a class concurrently and ends exactly where serial
`nbgrader autograde` ends: same gradebook rows, same autograded notebooks (run once on a copy of
the mock class of `python -m course demo`, whose serial grading is the reference)."""

import re
import shutil
import subprocess
import sys
import time

import pytest
from nbgrader.api import Gradebook

from course import ROOT, notebooks
from course.grading.parallel import autograde, read_rows
from tests.conftest import CHAPTERS, SUMMARY

pytestmark = pytest.mark.slow
STUDENTS = ("solution-sam", "blank-bea", "partial-pat")


def _copy(demo_class, tmp_path):
    """The demo course before autograding: config, source, gradebook, submissions."""
    course = tmp_path / "course"
    source = demo_class.course_dir
    course.mkdir()
    for name in ("nbgrader_config.py", "gradebook.db"):
        shutil.copy(source / name, course / name)
    for name in ("source", "submitted"):
        shutil.copytree(source / name, course / name)
    return course


def _rows(course, chapter):
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {student: read_rows(gb, chapter, student) for student in STUDENTS}


def _normalised(path):
    """An autograded notebook, less what differs between any two runs (timings, temporary paths)."""
    def text(output):
        raw = output.get("text", "") + output.get("evalue", "") + str(output.get("data", {}).get("text/plain", ""))
        return re.sub(r"\d+(\.\d+)?", "#", re.sub(r"/tmp/\S+", "TMP", raw))

    def outputs(cell):
        merged = []
        for o in cell.get("outputs", []):
            item = [o.output_type, o.get("name") or o.get("ename"), text(o)]
            if merged and item[0] == "stream" and merged[-1][:2] == item[:2]:  # chunking varies run to run
                merged[-1][2] += item[2]
            else:
                merged.append(item)
        return merged

    return [(c.cell_type, c.source, notebooks.meta(c), outputs(c)) for c in notebooks.read(path).cells]


def _same_as_serial(demo_class, course, chapter):
    assert _rows(course, chapter) == _rows(demo_class.course_dir, chapter)
    for student in STUDENTS:
        relative = f"autograded/{student}/{chapter}/{chapter}.ipynb"
        assert _normalised(course / relative) == _normalised(demo_class.course_dir / relative), relative


def test_parallel_autograde_matches_serial_nbgrader(demo_class, tmp_path):
    chapter = CHAPTERS[0]
    course = _copy(demo_class, tmp_path)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "course", "autograde", chapter, "--jobs", "2",
                             "--course-dir", str(course)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert f"Autograded {len(STUDENTS)} submission(s)" in result.stdout
    assert "100%" in result.stderr, "one tqdm progress bar"
    _same_as_serial(demo_class, course, chapter)
    SUMMARY.append(f"parallel autograde --jobs 2 ({chapter}, 3 students): {time.perf_counter() - started:.0f} s, "
                   "same gradebook and notebooks as serial nbgrader")


def test_parallel_autograde_on_a_local_dask_cluster(demo_class, tmp_path):
    from distributed import LocalCluster

    chapter = CHAPTERS[1] if len(CHAPTERS) > 1 else CHAPTERS[0]
    course = _copy(demo_class, tmp_path)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        summary = autograde(course, chapter, scheduler=cluster.scheduler_address, progress=False)
    assert not summary.failed and len(summary.graded) == len(STUDENTS), summary.lines()
    assert "Dask cluster" in summary.workers
    _same_as_serial(demo_class, course, chapter)
    SUMMARY.append(f"dask autograde ({chapter}, 2 workers): {summary.seconds:.0f} s, same as serial nbgrader")
