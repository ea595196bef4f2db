"""The test cells fail every wrong answer and pass every right one.

``tests/wrong_answers/<chapter>.py`` lists plausible mistakes, ``tests/right_answers/<chapter>.py``
independently written correct versions (see ``tests/catalogue.py``). One kernel per chapter runs
the source notebook once. A wrong answer is then executed after the original solution cell and the
test cells it can affect are re-run, and the original is restored. Right answers are graded as
whole notebooks, as nbgrader grades them: a fresh kernel runs every cell in order (training and demo
cells included) with right answers in place of the solutions, several at once (see ``judge_right``).
"""

import ast
import functools
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field

import pytest

from course import notebooks
from tests import right_answers, wrong_answers
from tests.conftest import CHAPTERS, SUMMARY
from tests.kernel import Kernel

WRONG = {chapter: wrong_answers.load(chapter) for chapter in CHAPTERS}
RIGHT = {chapter: right_answers.load(chapter)[0] for chapter in CHAPTERS}
EXEMPT = {chapter: right_answers.load(chapter)[1] for chapter in CHAPTERS}

# What makes an exercise one where correct answers can differ from the reference.
RANDOM_DRAWS = re.compile(r"\b(generator|rng|rand\w*|bernoulli|multinomial|permutation|shuffle|choice|normal_|"
                          r"uniform_|np\.random|nn\.Module|nn\.init)\b")
TIE_RULE = re.compile(r"\b(ties?|tied|tie-break\w*)\b", re.I)


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


def cell_bindings(source):
    """``(rebound, mutated)``: the names a cell's code binds (assignments, loops, ``with``, imports,
    ``def``/``class``, at any depth outside function bodies) and the names it changes in place
    (``x[i] = ...``, ``x.a = ...``, ``x += ...`` on a subscript or attribute)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(), set()
    rebound, mutated = set(), set()

    def base(node):
        while isinstance(node, (ast.Subscript, ast.Attribute, ast.Starred)):
            node = node.value
        return node.id if isinstance(node, ast.Name) else None

    def visit(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            rebound.add(node.name)
            return  # its body runs later, in its own scope
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            rebound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            rebound.add(node.id)
        if isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, ast.Store):
            name = base(node)
            if name:
                mutated.add(name)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return rebound, mutated


def dependent_cells(cells, name, start):
    """The code cells after ``start`` whose outcome can depend on a new definition of ``name``,
    in notebook order: a cell depends on it if it reads a name whose latest value came from
    ``name`` or from a cell that depends on it (a function calling it, a model trained with it)."""
    tainted, found = {name}, []
    for index in range(start + 1, len(cells)):
        cell = cells[index]
        if cell.cell_type != "code":
            continue
        rebound, mutated = cell_bindings(cell.source)
        if notebooks.used_names(cell.source) & tainted:
            found.append(index)
            tainted |= rebound | mutated
        else:
            tainted -= rebound - mutated  # rebound from untainted values only
    return found


class CatalogueRun:
    """A chapter's source notebook, executed once in a kernel, ready to try catalogue entries."""

    def __init__(self, chapter):
        self.path = path = notebooks.source_path(chapter)
        self.nb = notebooks.read(path)
        self.exercises = notebooks.exercises(self.nb)
        self.kernel = Kernel(path.parent)
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type == "code":
                outcome = self.kernel.run(cell.source, timeout=120)
                if notebooks.is_test(cell) and not outcome.ok:
                    raise AssertionError(f"{chapter}: the source solution fails cell {index}: {outcome.error}")

    def exercise_defining(self, name):
        for exercise in self.exercises:
            if name in notebooks.defined_names(self.nb.cells[exercise.index].source):
                return exercise
        raise AssertionError(f"no solution cell defines {name!r}")

    def dependent_cells(self, name, start):
        return dependent_cells(self.nb.cells, name, start)

    def judge(self, entry):
        """Run a wrong answer: the exercise's test cells (in full and with only their visible checks)
        and every other test cell that depends on it."""
        exercise = self.exercise_defining(entry.replaces)
        own = {test.grade_id for test in exercise.tests}
        verdict = Verdict()
        applied = self.kernel.run(entry.code)
        assert applied.ok, f"{entry.id} does not even run: {applied.error}"
        try:
            for test in exercise.tests:
                source = self.nb.cells[test.index].source
                visible = notebooks.visible_part(source)
                seen = self.kernel.run(visible)
                if not seen.ok:
                    verdict.visible_failures[test.grade_id] = seen.error
                    if source.startswith(visible.rstrip()):  # the hidden tests come last: the full cell fails too
                        verdict.target_failures[test.grade_id] = seen.error
                        continue
                outcome = self.kernel.run(source)
                if not outcome.ok:
                    verdict.target_failures[test.grade_id] = outcome.error
            for index in self.dependent_cells(entry.replaces, exercise.index):
                cell = self.nb.cells[index]
                grade_id = notebooks.meta(cell).get("grade_id")
                if not notebooks.is_test(cell) or grade_id in own or grade_id in entry.also_fails:
                    continue
                outcome = self.kernel.run(cell.source)
                if not outcome.ok:
                    verdict.broken_others[grade_id] = outcome.error
        finally:
            restored = self.kernel.run(self.nb.cells[exercise.index].source)
            assert restored.ok, restored.error
        return verdict

    def run_with(self, entries):
        """Grade a notebook with ``entries`` in place, as nbgrader grades it: a fresh kernel runs every
        cell in order, each entry right after the solution cell that defines the name it replaces.
        Returns {grade_id: error} for every test cell that fails, and every other cell that fails
        after the first entry (a training or demo cell whose results later cells read)."""
        after = defaultdict(list)
        for entry in entries:
            after[self.exercise_defining(entry.replaces).index].append(entry)
        kernel, failures = Kernel(self.path.parent), {}
        try:
            for index, cell in enumerate(self.nb.cells):
                if cell.cell_type != "code":
                    continue
                outcome = kernel.run(cell.source, timeout=120)
                if not outcome.ok and (index > min(after) or notebooks.is_test(cell)):
                    failures[notebooks.meta(cell).get("grade_id", str(index))] = outcome.error
                for entry in after.get(index, ()):
                    applied = kernel.run(entry.code)
                    assert applied.ok, f"{entry.id} does not even run: {applied.error}"
        finally:
            kernel.shutdown()
        return failures

    def verdict_of(self, entry, failures):
        own = {test.grade_id for test in self.exercise_defining(entry.replaces).tests}
        verdict = Verdict()
        for grade_id, error in failures.items():
            (verdict.target_failures if grade_id in own else verdict.broken_others)[grade_id] = error
        return verdict

    def judge_right(self, entries):
        """{entry id: Verdict} for a chapter's right answers. Any mix of right answers is a right
        notebook, so they are graded together, in rounds: round k holds the k-th right answer of every
        name. A round that loses a point is graded again one entry at a time, to say which entry fails
        (or, if each passes alone, that they fail together)."""
        rounds, seen = defaultdict(list), defaultdict(int)
        for entry in entries:
            rounds[seen[entry.replaces]].append(entry)
            seen[entry.replaces] += 1
        verdicts = {}
        for k in sorted(rounds):
            together = self.run_with(rounds[k])
            alone = {entry.id: self.verdict_of(entry, self.run_with([entry]) if together else {})
                     for entry in rounds[k]}
            if together and not any(v.caught or v.broken_others for v in alone.values()):
                for verdict in alone.values():
                    verdict.broken_others.update({f"{grade_id} (together with the other right answers of round {k})":
                                                  error for grade_id, error in together.items()})
            verdicts.update(alone)
        return verdicts


@functools.cache
def verdicts(chapter):
    """{("wrong"|"right", entry id): (exercise name, Verdict)} for one chapter, computed once per process."""
    started = time.perf_counter()
    run = CatalogueRun(chapter)
    results = {}
    try:
        for entry in WRONG[chapter]:
            results["wrong", entry.id] = (run.exercise_defining(entry.replaces).name, run.judge(entry))
    finally:
        run.kernel.shutdown()
    right_verdicts = run.judge_right(RIGHT[chapter])
    for entry in RIGHT[chapter]:
        results["right", entry.id] = (run.exercise_defining(entry.replaces).name, right_verdicts[entry.id])
    wrong = [v for (kind, _), (_, v) in results.items() if kind == "wrong"]
    right = [v for (kind, _), (_, v) in results.items() if kind == "right"]
    SUMMARY.append(f"{chapter}: {sum(v.caught for v in wrong)} of {len(wrong)} wrong answers caught "
                   f"({sum(v.hidden_only for v in wrong)} only by the hidden tests); "
                   f"{sum(not v.caught and not v.broken_others for v in right)} of {len(right)} right answers "
                   f"keep full marks ({time.perf_counter() - started:.0f} s)")
    return results


def _cases(kind, catalogue):
    return [pytest.param(chapter, entry, id=f"{chapter}-{entry.id}", marks=pytest.mark.xdist_group(chapter))
            for chapter, entries in catalogue.items() for entry in entries]


def _chapters():
    return [pytest.param(chapter, id=chapter, marks=pytest.mark.xdist_group(chapter)) for chapter in CHAPTERS]


@pytest.mark.slow
@pytest.mark.parametrize("chapter,entry", _cases("wrong", WRONG))
def test_wrong_answer_is_caught_by_its_exercise_only(chapter, entry):
    exercise, verdict = verdicts(chapter)["wrong", entry.id]
    assert verdict.caught, f"{entry.description}: the tests of {exercise} pass"
    assert not verdict.broken_others, f"{entry.description} also breaks {verdict.broken_others}"


@pytest.mark.slow
@pytest.mark.parametrize("chapter,entry", _cases("right", RIGHT))
def test_right_answer_keeps_full_marks(chapter, entry):
    exercise, verdict = verdicts(chapter)["right", entry.id]
    assert not verdict.caught, f"{entry.description}: a correct {exercise} fails {verdict.target_failures}"
    assert not verdict.broken_others, f"{entry.description}: a correct {exercise} breaks {verdict.broken_others}"


@pytest.mark.slow
@pytest.mark.parametrize("chapter", _chapters())
def test_every_exercise_has_a_catalogue_that_needs_the_hidden_tests(chapter):
    by_exercise = defaultdict(list)
    for (kind, _), (exercise, verdict) in verdicts(chapter).items():
        if kind == "wrong":
            by_exercise[exercise].append(verdict)
    for exercise in notebooks.exercises(notebooks.read(notebooks.source_path(chapter))):
        found = by_exercise.get(exercise.name, [])
        assert len(found) >= 2, f"{exercise.name}: needs at least two wrong answers in the catalogue"
        assert any(v.hidden_only for v in found), (
            f"{exercise.name}: no wrong answer gets past the visible checks, so nothing shows the hidden tests matter")


def exercises_needing_right_answers(nb):
    """{exercise name: reason} for exercises whose correct answers can differ from the reference:
    random draws or an nn.Module in the solution, or a tie rule in the task text."""
    needed, text_start = {}, 0
    for exercise in notebooks.exercises(nb):
        solution = nb.cells[exercise.index].source
        body = solution.split(notebooks.BEGIN_SOLUTION, 1)[-1]
        task = "\n".join(c.source for c in nb.cells[text_start:exercise.index] if c.cell_type == "markdown")
        text_start = (exercise.tests[-1].index if exercise.tests else exercise.index) + 1
        draws = RANDOM_DRAWS.search(body) or RANDOM_DRAWS.search(solution.split(notebooks.BEGIN_SOLUTION)[0])
        if draws:
            needed[exercise.name] = f"uses {draws.group(0)}"
        elif TIE_RULE.search(task):
            needed[exercise.name] = "its task states a tie rule"
    return needed


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_exercises_with_randomness_or_a_tie_rule_have_a_right_answer(chapter):
    nb = notebooks.read(notebooks.source_path(chapter))
    names = {exercise.name for exercise in notebooks.exercises(nb)}
    covered = {entry.replaces for entry in RIGHT[chapter]}
    covered_exercises = set()
    for exercise in notebooks.exercises(nb):
        if notebooks.defined_names(nb.cells[exercise.index].source) & covered:
            covered_exercises.add(exercise.name)
    unknown = set(EXEMPT[chapter]) - names
    assert not unknown, f"EXEMPT names exercises that do not exist: {unknown}"
    missing = {name: why for name, why in exercises_needing_right_answers(nb).items()
               if name not in covered_exercises and name not in EXEMPT[chapter]}
    assert not missing, (f"these exercises need an independently written right answer in "
                         f"tests/right_answers/{chapter}.py (or an EXEMPT reason): {missing}")
