"""ruff passes on the course package, the tests, the tools and the notebooks' code."""

import subprocess
import sys
from pathlib import Path

from course import ROOT


def test_ruff():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run([str(ruff), "check", "course", "tests", "tools", "source", "deploy", "nbgrader_config.py"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
