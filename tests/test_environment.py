"""The environment files agree, and the installed tools are what the course needs."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from course import ROOT
from tests.conftest import nbgrader_config

CONDA_ONLY = {"python", "pip"}


def _requirement(line):
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", line)
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def _pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(_requirement(line) for line in lines)


def _environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda, pip = {}, {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip.update(_requirement(line) for line in dep["pip"] if not line.startswith("-"))
        else:
            name, spec = _requirement(dep.replace("=", "==", 1) if re.match(r"^[\w-]+=[^=]", dep) else dep)
            conda[name] = spec
    return conda, pip, env


def test_environment_yml_names_the_same_packages_as_pyproject():
    conda, pip, _ = _environment()
    declared = {**{k: v for k, v in conda.items() if k not in CONDA_ONLY}, **pip}
    assert declared == _pyproject()


def test_environment_yml_uses_python_311_and_installs_the_course_package():
    conda, _, env = _environment()
    assert conda["python"] == "==3.11"
    pip_lines = next(dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict))
    assert "-e ." in pip_lines


def test_torch_is_pinned_to_the_cpu_build_version():
    assert _pyproject()["torch"] == "==2.13.0"


def _jupyter(*args):
    bindir = Path(sys.executable).parent
    result = subprocess.run([str(bindir / "jupyter"), *args], capture_output=True, text=True)
    return re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)


def test_pip_install_brings_the_nbgrader_lab_extension():
    listing = _jupyter("labextension", "list")
    assert re.search(r"@jupyter/nbgrader v0\.9\.\d+ enabled\s+OK", listing), listing


def test_nbgrader_server_extensions_are_enabled():
    listing = _jupyter("server", "extension", "list")
    for extension in ("formgrader", "assignment_list", "validate_assignment", "course_list"):
        assert re.search(rf"nbgrader\.server_extensions\.{extension} enabled", listing), listing


def test_nbgrader_config_is_safe():
    config = nbgrader_config()
    assert 0 < config.Execute.timeout <= 60 and config.Execute.interrupt_on_timeout is True
    assert {"*solution*", ".ipynb_checkpoints", "*.db"} <= set(config.CourseDirectory.ignore)
    assert 'raise NotImplementedError("' in config.ClearSolutions.code_stub["python"]
    autograde = [f"{p.__module__}.{p.__name__}" for p in config.Autograde.autograde_preprocessors]
    sanitize = [f"{p.__module__}.{p.__name__}" for p in config.Autograde.sanitize_preprocessors]
    feedback = [p.__name__ for p in config.GenerateFeedback.preprocessors]
    assert "course.grading.preprocessors.Execute" in autograde
    assert "course.grading.preprocessors.OverwriteCells" in sanitize
    assert autograde.index("nbgrader.preprocessors.saveautogrades.SaveAutoGrades") < autograde.index(
        "course.grading.preprocessors.IntegrityCheck"), "the integrity check must run after the scores are saved"
    assert feedback.index("GetGrades") < feedback.index("HideHiddenTests"), "feedback must hide the hidden tests"
    assert config.Sandbox.network is False and config.Sandbox.memory_limit == "4G"
