import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from course import ROOT, available_chapters

CHAPTERS = available_chapters()
SUMMARY = []  # lines for the end of the test report (counts the closing note quotes)


def pytest_terminal_summary(terminalreporter):
    for line in SUMMARY:
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
    """`python -m course demo`, run once per session; several tests inspect its gradebook."""
    work = tmp_path_factory.mktemp("demo") / "class"
    result = subprocess.run(
        [sys.executable, "-m", "course", "demo", "--dir", str(work)],
        cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    return DemoRun(work / "course", result.returncode, result.stdout + result.stderr)
