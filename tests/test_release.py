"""release/ is exactly what nbgrader generates from source/, and it ships no solution material."""

import fnmatch
import re
import subprocess

import pytest

from course import ROOT, notebooks, pipeline
from tests.conftest import CHAPTERS, nbgrader_config


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    course = pipeline.make_course(tmp_path_factory.mktemp("release") / "course", CHAPTERS)
    for chapter in CHAPTERS:
        pipeline.generate(course, chapter)
    return course


def _cells(nb):
    return [(c.cell_type, c.source, c.metadata) for c in nb.cells]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_committed_release_matches_a_fresh_generate_assignment(regenerated, chapter):
    fresh = notebooks.read(notebooks.release_path(chapter, regenerated))
    committed = notebooks.read(notebooks.release_path(chapter))
    assert _cells(committed) == _cells(fresh), "release/ is stale: run `make release` and commit it"
    assert committed.metadata == fresh.metadata
    fresh_files = sorted(p.relative_to(regenerated / "release")
                         for p in (regenerated / "release" / chapter).rglob("*") if p.is_file())
    assert [p for p in _shipped() if p.parts[0] == chapter] == fresh_files


def _secret_lines(source_nb):
    """Lines of solutions and hidden tests that appear nowhere else in the source notebook."""
    secret, public = set(), set()
    for cell in source_nb.cells:
        text = cell.source
        blocks = re.findall(rf"{notebooks.BEGIN_SOLUTION}(.*?){notebooks.END_SOLUTION}", text, re.S)
        blocks += re.findall(rf"{notebooks.BEGIN_HIDDEN}(.*?){notebooks.END_HIDDEN}", text, re.S)
        for block in blocks:
            secret.update(line.strip() for line in block.splitlines())
            text = text.replace(block, "")
        public.update(line.strip() for line in text.splitlines())
    return {line for line in secret - public if len(line) > 12}


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_release_contains_no_solutions_or_hidden_tests(chapter):
    secrets = _secret_lines(notebooks.read(notebooks.source_path(chapter)))
    assert secrets, "the source notebook should have solutions and hidden tests"
    for path in (ROOT / "release" / chapter).rglob("*"):
        if not path.is_file():
            continue  # (checkpoints of an opened notebook are scanned too: nothing may leak anywhere)
        text = path.read_text(errors="ignore")
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text, f"{path} contains {marker}"
        if path.suffix == ".ipynb":
            lines = {line.strip() for c in notebooks.read(path).cells for line in c.source.splitlines()}
            leaked = secrets & lines
            assert not leaked, f"{path} leaks solution or hidden-test lines: {sorted(leaked)[:3]}"


def _shipped():
    """Files under release/ that the repository ships (tracked by git, or all files outside a checkout)."""
    release = ROOT / "release"
    if (ROOT / ".git").exists():
        listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "release"],
                                cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
        return sorted((ROOT / name).relative_to(release) for name in listed)
    return sorted(p.relative_to(release) for p in release.rglob("*") if p.is_file())


def test_release_ships_nothing_the_ignore_list_excludes():
    ignore = nbgrader_config().CourseDirectory.ignore
    for path in _shipped():
        for part in path.parts:
            assert not any(fnmatch.fnmatch(part, pattern) for pattern in ignore), path
