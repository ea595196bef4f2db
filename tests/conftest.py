import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from course import ROOT, available_chapters

CHAPTERS = available_chapters()
SUMMARY = []  # lines for the end of the test report (counts the closing note quotes)
_REPORTED = []  # the lines collected from every test (and, under pytest-xdist, from every worker)


def pytest_configure(config):
    """Under pytest-xdist, the kernels of each worker get their share of the cores: two workers whose
    torch kernels each spin two threads on two cores run several times slower than with one each."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        from course.grading.parallel import share_cores

        share_cores(workers)


@pytest.fixture(autouse=True)
def _forward_summary_lines(request):
    """Attach the summary lines a test produced to its report, so that they reach the terminal
    summary from pytest-xdist workers too."""
    yield
    while SUMMARY:
        request.node.user_properties.append(("summary", SUMMARY.pop(0)))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Under pytest-xdist (``make test`` runs ``-n auto --dist loadgroup``), keep the tests that share an
    expensive fixture on one worker: those of the mock class together, the others by module."""
    for item in items:
        if not item.get_closest_marker("xdist_group"):
            group = "demo" if "demo_class" in getattr(item, "fixturenames", ()) else item.module.__name__
            item.add_marker(pytest.mark.xdist_group(group))


def pytest_collection_finish(session):
    """Refuse a pytest-xdist run whose groups silently do not work (each worker would then build every
    expensive fixture again): a grouped test's id must carry its group."""
    if session.config.getoption("loadgroup", default=False):
        for item in session.items:
            mark = item.get_closest_marker("xdist_group")
            if mark and not item.nodeid.endswith(f"@{mark.args[0]}"):
                raise pytest.UsageError(f"pytest-xdist did not tag {item.nodeid} with its group: this pytest and "
                                        "pytest-xdist do not work together for --dist loadgroup (see pyproject.toml)")


def pytest_runtest_logreport(report):
    if report.when == "teardown":
        _REPORTED.extend(value for key, value in report.user_properties if key == "summary")


def pytest_terminal_summary(terminalreporter):
    for line in _REPORTED + SUMMARY:
        terminalreporter.write_line(line)


def nbgrader_config():
    """The course's nbgrader configuration, loaded the way nbgrader loads it."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()


@dataclass
class DemoRun:
    course_dir: Path
    returncode: int
    output: str


@pytest.fixture(scope="session")
def demo_class(tmp_path_factory):
    """`python -m course demo`, run once per session; several tests inspect its gradebook.

    COURSE_DEMO_DIR=/path (a `python -m course demo CHAPTER --dir /path` kept earlier, e.g. of one
    chapter) reuses that class instead: for working on the tests that read it, not for CI."""
    if os.environ.get("COURSE_DEMO_DIR"):
        work = Path(os.environ["COURSE_DEMO_DIR"])
        return DemoRun(work / "course", 0, (work / "demo.log").read_text() if (work / "demo.log").exists() else "")
    work = tmp_path_factory.mktemp("demo") / "class"
    result = subprocess.run(
        [sys.executable, "-m", "course", "demo", "--dir", str(work)],
        cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    return DemoRun(work / "course", result.returncode, result.stdout + result.stderr)
