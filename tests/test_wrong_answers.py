"""The test cells catch every plausible wrong answer in tests/wrong_answers/<chapter>.py.

One kernel per chapter runs the source notebook once; each mutant is then executed after the
original solution cell, the affected test cells are re-run, and the original is restored.
"""

from collections import defaultdict
from dataclasses import dataclass, field

import pytest

from course import notebooks
from tests import wrong_answers
from tests.conftest import CHAPTERS, SUMMARY
from tests.kernel import Kernel

CATALOGUES = {chapter: wrong_answers.load(chapter) for chapter in CHAPTERS}
CASES = [(chapter, mutant) for chapter, mutants in CATALOGUES.items() for mutant in mutants]


@dataclass
class Verdict:
    target_failures: dict = field(default_factory=dict)  # grade_id -> error, for the exercise's tests
    visible_failures: dict = field(default_factory=dict)  # the same, with the hidden tests removed
    broken_others: dict = field(default_factory=dict)  # other test cells that failed

    @property
    def caught(self):
        return bool(self.target_failures)

    @property
    def hidden_only(self):
        return self.caught and not self.visible_failures


class MutationRun:
    """A chapter's source notebook, executed once in a kernel, ready to try mutants."""

    def __init__(self, chapter):
        path = notebooks.source_path(chapter)
        self.nb = notebooks.read(path)
        self.exercises = notebooks.exercises(self.nb)
        self.kernel = Kernel(path.parent)
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type == "code":
                outcome = self.kernel.run(cell.source, timeout=120)
                if notebooks.is_test(cell) and not outcome.ok:
                    raise AssertionError(f"{chapter}: the source solution fails cell {index}: {outcome.error}")
        # name -> names used by the cell that defines it, to follow calls between functions
        self.uses = defaultdict(set)
        for cell in self.nb.cells:
            if cell.cell_type == "code" and not notebooks.is_test(cell):
                for name in notebooks.defined_names(cell.source):
                    self.uses[name] |= notebooks.used_names(cell.source)

    def exercise_defining(self, name):
        for exercise in self.exercises:
            if name in notebooks.defined_names(self.nb.cells[exercise.index].source):
                return exercise
        raise AssertionError(f"no solution cell defines {name!r}")

    def depends_on(self, name):
        """Every name whose definition uses ``name``, directly or through other definitions."""
        found, frontier = {name}, [name]
        while frontier:
            current = frontier.pop()
            for other, used in self.uses.items():
                if current in used and other not in found:
                    found.add(other)
                    frontier.append(other)
        return found

    def judge(self, mutant):
        exercise = self.exercise_defining(mutant.replaces)
        affected = self.depends_on(mutant.replaces)
        verdict = Verdict()
        applied = self.kernel.run(mutant.code)
        assert applied.ok, f"mutant {mutant.id} does not even run: {applied.error}"
        try:
            own = {test.grade_id for test in exercise.tests}
            for test in exercise.tests:
                source = self.nb.cells[test.index].source
                outcome = self.kernel.run(source)
                if not outcome.ok:
                    verdict.target_failures[test.grade_id] = outcome.error
                visible = self.kernel.run(notebooks.visible_part(source))
                if not visible.ok:
                    verdict.visible_failures[test.grade_id] = visible.error
            for other in self.exercises:
                for test in other.tests:
                    source = self.nb.cells[test.index].source
                    if test.grade_id in own or test.grade_id in mutant.also_fails:
                        continue
                    if notebooks.used_names(source) & affected:
                        outcome = self.kernel.run(source)
                        if not outcome.ok:
                            verdict.broken_others[test.grade_id] = outcome.error
        finally:
            restored = self.kernel.run(self.nb.cells[exercise.index].source)
            assert restored.ok, restored.error
        return verdict


@pytest.fixture(scope="module")
def verdicts():
    results = {}
    for chapter in CHAPTERS:
        run = MutationRun(chapter)
        try:
            for mutant in CATALOGUES[chapter]:
                results[chapter, mutant.id] = (run.exercise_defining(mutant.replaces).name, run.judge(mutant))
        finally:
            run.kernel.shutdown()
    caught = sum(v.caught for _, v in results.values())
    hidden = sum(v.hidden_only for _, v in results.values())
    SUMMARY.append(f"wrong-answer catalogue: {caught} of {len(results)} mutants caught, "
                   f"{hidden} of them only by the hidden tests")
    return results


@pytest.mark.slow
@pytest.mark.parametrize("chapter,mutant", CASES, ids=[f"{c}-{m.id}" for c, m in CASES])
def test_wrong_answer_is_caught_by_its_exercise_only(verdicts, chapter, mutant):
    exercise, verdict = verdicts[chapter, mutant.id]
    assert verdict.caught, f"{mutant.description}: the tests of {exercise} pass"
    assert not verdict.broken_others, f"{mutant.description} also breaks {verdict.broken_others}"


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_exercise_has_a_catalogue_that_needs_the_hidden_tests(verdicts, chapter):
    nb = notebooks.read(notebooks.source_path(chapter))
    by_exercise = defaultdict(list)
    for (c, _), (exercise, verdict) in verdicts.items():
        if c == chapter:
            by_exercise[exercise].append(verdict)
    for exercise in notebooks.exercises(nb):
        found = by_exercise.get(exercise.name, [])
        assert len(found) >= 2, f"{exercise.name}: needs at least two wrong answers in the catalogue"
        assert any(v.hidden_only for v in found), (
            f"{exercise.name}: no wrong answer gets past the visible checks, so nothing shows the hidden tests matter")
