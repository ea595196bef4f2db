"""Course-wide rules that every chapter's source notebook keeps (issue 17, section A).

* R1 no cascades: a test cell depends only on its own exercise's solution (and locked code), unless it
  declares ``# builds on: <grade_id>`` with a reason; a concept check depends on no solution at all.
* R2 multiple choice that cannot be guessed: letters spread evenly; "always A/B/C/D", "the longest option"
  and "the option with the most qualifiers" score at most chance.
* R3 hints teach: no code blocks, at most one short code expression per hint.
* R4 text renders: no control characters (a ``\\tau`` that lost its backslash is a TAB).
* R6 capstones have the cells and the hidden split the course's capstone harness expects.
"""

import ast
import math
import re
from collections import Counter
from dataclasses import dataclass

import pytest

from course import notebooks
from tests.conftest import CHAPTERS
from tests.test_answer_catalogues import cell_bindings

NOTEBOOKS = {chapter: notebooks.read(notebooks.source_path(chapter)) for chapter in CHAPTERS}
BUILDS_ON = re.compile(r"^\s*#\s*builds on:\s*([\w, ]+?)\s*(?:\(|—|-|$)", re.M)


def _chapters():
    return [pytest.param(chapter, id=chapter) for chapter in CHAPTERS]


def _solution_body(source):
    start, end = source.find(notebooks.BEGIN_SOLUTION), source.find(notebooks.END_SOLUTION)
    return source[start + len(notebooks.BEGIN_SOLUTION):end] if 0 <= start < end else source


def constant_answers(source):
    """{name: value} if a solution cell only assigns literal constants (a concept check), else None."""
    try:
        tree = ast.parse(_solution_body(source))
    except SyntaxError:
        return None
    answers = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            return None
        try:
            answers[node.targets[0].id] = ast.literal_eval(node.value)
        except ValueError:
            return None
    return answers or None


def declared_builds_on(source):
    names = set()
    for match in BUILDS_ON.finditer(notebooks.visible_part(source)):
        names.update(part.strip() for part in match.group(1).split(",") if part.strip())
    return names


# --- R1 ------------------------------------------------------------------------------------------------
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _stored(nodes):
    """Names stored by ``nodes`` outside function bodies and comprehensions (their own scopes)."""
    names, stack = set(), list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, *COMPREHENSIONS)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return names


def free_names(source):
    """The names a cell reads before it binds them itself, in execution order (a loop variable, a `with`
    target or an earlier assignment is bound for what follows; function bodies and comprehensions are
    their own scopes). A test cell's own temporaries (`expected = ...` then `expected` read) do not make
    it depend on an earlier cell's `expected`."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    free = set()

    def expression(node, bound):
        if node is None:
            return
        if isinstance(node, ast.Lambda):
            function(node, bound)
            return
        if isinstance(node, COMPREHENSIONS):
            inner = set(bound)
            for generator in node.generators:
                expression(generator.iter, inner)
                inner |= {n.id for n in ast.walk(generator.target) if isinstance(n, ast.Name)}
                for condition in generator.ifs:
                    expression(condition, inner)
            for part in ("elt", "key", "value"):
                expression(getattr(node, part, None), inner)
            return
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load) and node.id not in bound:
                free.add(node.id)
            return
        for child in ast.iter_child_nodes(node):
            expression(child, bound)

    def function(node, bound):
        args = node.args
        for child in [*args.defaults, *args.kw_defaults, *getattr(node, "decorator_list", [])]:
            expression(child, bound)
        inner = set(bound) | {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        inner |= {a.arg for a in (args.vararg, args.kwarg) if a}
        body = node.body if isinstance(node.body, list) else [node.body]
        inner |= {n.id for stmt in body for n in ast.walk(stmt)
                  if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        block(body, inner) if isinstance(node.body, list) else expression(node.body, inner)

    def targets(node):
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}

    def block(statements, bound):
        for statement in statements:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                function(statement, bound | {statement.name})
                bound.add(statement.name)
            elif isinstance(statement, ast.ClassDef):
                for child in [*statement.bases, *statement.decorator_list]:
                    expression(child, bound)
                block(statement.body, set(bound))
                bound.add(statement.name)
            elif isinstance(statement, (ast.For, ast.AsyncFor)):
                expression(statement.iter, bound)
                bound |= targets(statement.target)
                block(statement.body, bound)
                block(statement.orelse, bound)
            elif isinstance(statement, (ast.While, ast.If)):
                expression(statement.test, bound)
                block(statement.body, bound)
                block(statement.orelse, bound)
            elif isinstance(statement, (ast.With, ast.AsyncWith)):
                for item in statement.items:
                    expression(item.context_expr, bound)
                    if item.optional_vars is not None:
                        bound |= targets(item.optional_vars)
                block(statement.body, bound)
            elif isinstance(statement, ast.Try):
                block(statement.body, bound)
                for handler in statement.handlers:
                    expression(handler.type, bound)
                    if handler.name:
                        bound.add(handler.name)
                    block(handler.body, bound)
                block(statement.orelse, bound)
                block(statement.finalbody, bound)
            elif isinstance(statement, (ast.Import, ast.ImportFrom)):
                bound.update((a.asname or a.name).split(".")[0] for a in statement.names)
            elif isinstance(statement, ast.Assign):
                expression(statement.value, bound)
                for target in statement.targets:
                    if not isinstance(target, (ast.Name, ast.Tuple, ast.List)):
                        expression(target, bound)
                    bound |= targets(target)
            elif isinstance(statement, ast.AugAssign):
                expression(statement.value, bound)
                target = statement.target
                expression(ast.Name(target.id, ast.Load()) if isinstance(target, ast.Name) else target, bound)
                bound |= targets(target)
            else:
                expression(statement, bound)
                bound |= _stored([statement])

    block(tree.body, set())
    return free


def dependent_test_cells(cells, name, start):
    """The test cells after ``start`` that can read a value computed from ``name``: directly, or through
    locked cells in between, statement by statement (a statement that reads a tainted name taints what it
    binds or changes in place; one that rebinds a name from untainted values clears it). Test cells' own
    temporaries and imports carry no taint. A student's function that raises can also stop a locked cell
    before it binds its later names; that path is left to the catalogue harness, which runs wrong answers
    through every dependent cell."""
    tainted, found, side_effects = {name}, [], {}
    for index in range(start + 1, len(cells)):
        cell = cells[index]
        if cell.cell_type != "code" or notebooks.is_solution(cell):
            continue
        if notebooks.is_test(cell):
            if free_names(cell.source) & tainted:
                found.append(index)
            continue
        try:
            statements = ast.parse(cell.source).body
        except SyntaxError:
            continue
        for statement in statements:
            code = ast.unparse(statement)
            rebound, mutated = cell_bindings(code)
            rebound &= _stored([statement]) | {getattr(statement, "name", None)}
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                side_effects[statement.name] = global_side_effects(statement)
            reads = free_names(code)
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                tainted -= rebound
            elif reads & tainted:
                tainted |= rebound | mutated
                for function in reads & tainted:  # what a tainted function changes when called
                    tainted |= side_effects.get(function, set())
            else:
                tainted -= rebound - mutated
    return found


MUTATORS = {"append", "extend", "update", "add", "setdefault", "insert", "pop", "clear", "remove", "__setitem__"}


def global_side_effects(function):
    """The global names a function changes when called: `global` declarations, and names it does not
    bind locally that it assigns into (`results[k] = ...`, `obj.x = ...`) or grows (`results.append`)."""
    args = function.args
    local = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs} | _stored(function.body)
    declared, changed = set(), set()
    for node in ast.walk(function):
        if isinstance(node, ast.Global):
            declared.update(node.names)
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, ast.Store):
            root = node
            while isinstance(root, (ast.Subscript, ast.Attribute)):
                root = root.value
            if isinstance(root, ast.Name):
                changed.add(root.id)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS \
                and isinstance(node.func.value, ast.Name):
            changed.add(node.func.value.id)
    return (changed - local) | declared


def cascades(nb):
    """[(solution grade_id, test grade_id, why)] for every test cell that depends on another exercise's
    solution without declaring it (or, for a concept check, at all)."""
    cells, found = nb.cells, []
    exercises = notebooks.exercises(nb)
    concept_tests = {test.grade_id for ex in exercises if constant_answers(cells[ex.index].source) is not None
                     for test in ex.tests}
    for exercise in exercises:
        own = {test.grade_id for test in exercise.tests}
        for name in notebooks.defined_names(cells[exercise.index].source):
            for index in dependent_test_cells(cells, name, exercise.index):
                cell = cells[index]
                grade_id = notebooks.meta(cell).get("grade_id")
                if not notebooks.is_test(cell) or grade_id in own:
                    continue
                if grade_id in concept_tests:
                    found.append((exercise.name, grade_id, f"the concept check reads `{name}` (student code)"))
                elif exercise.name not in declared_builds_on(cell.source):
                    found.append((exercise.name, grade_id, f"reads `{name}` without `# builds on: {exercise.name}`"))
    return sorted(set(found))


@pytest.mark.parametrize("chapter", _chapters())
def test_no_test_cell_depends_on_another_exercise_undeclared(chapter):
    found = cascades(NOTEBOOKS[chapter])
    assert not found, "test cells that cost points for another exercise's mistakes:\n" + "\n".join(
        f"  {test} depends on {solution}: {why}" for solution, test, why in found)


@pytest.mark.parametrize("chapter", _chapters())
def test_declared_dependencies_name_real_exercises(chapter):
    nb = NOTEBOOKS[chapter]
    names = {ex.name for ex in notebooks.exercises(nb)}
    for cell in nb.cells:
        if notebooks.is_test(cell):
            unknown = declared_builds_on(cell.source) - names
            assert not unknown, f"{notebooks.meta(cell)['grade_id']}: `# builds on:` names no exercise: {unknown}"


def test_the_cascade_check_sees_a_dependency_through_a_locked_cell():
    import nbformat

    def code(source, **meta):
        return nbformat.v4.new_code_cell(source, metadata={"nbgrader": meta})

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        code("### BEGIN SOLUTION\ndef f(x):\n    return x\n### END SOLUTION", grade_id="f", solution=True),
        code("assert f(1) == 1", grade_id="test_f", grade=True, points=1),
        code("trained = f(2)", grade_id="train", locked=True),
        code("### BEGIN SOLUTION\ndef g(x):\n    return x\n### END SOLUTION", grade_id="g", solution=True),
        code("assert g(trained) == 2", grade_id="test_g", grade=True, points=1),
        code("### BEGIN SOLUTION\nanswer = 'B'\n### END SOLUTION", grade_id="concept", solution=True),
        code("assert answer == ('B' if trained == 2 else '?')", grade_id="test_concept", grade=True, points=1),
    ]
    assert [(s, t) for s, t, _ in cascades(nb)] == [("f", "test_concept"), ("f", "test_g")]
    nb.cells[4].source = "# builds on: f (g is applied to what f computed)\n" + nb.cells[4].source
    assert [(s, t) for s, t, _ in cascades(nb)] == [("f", "test_concept")]


# --- R2 ------------------------------------------------------------------------------------------------
OPTION = re.compile(r"^\s*[*-]\s+\*\*([A-H])[.)]\*\*\s*(.+?)\s*$", re.M)
QUALIFIER = re.compile(r"[,;:(]|—|\b(but|because|unless|only|when|while|if|whereas|so|and)\b", re.I)


@dataclass
class Question:
    name: str
    answer: str
    options: dict  # letter -> text


def option_dicts(source):
    """Letter-keyed dict literals a locked code cell assigns (`X_OPTIONS = {"A": "...", ...}`)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            if value and all(isinstance(k, str) and re.fullmatch(r"[A-H]", k) for k in value):
                found.update({k: str(v) for k, v in value.items()})
    return found


def multiple_choice(nb):
    """The chapter's multiple-choice questions: an answer cell assigning one letter, with its options in the
    markdown (`* **A.** ...`) or a locked dict of options since the previous solution cell."""
    questions, markdown, coded = [], [], {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            markdown.append(cell.source)
            continue
        if not notebooks.is_solution(cell) and not notebooks.is_test(cell):
            coded.update(option_dicts(cell.source))
        if notebooks.is_solution(cell):
            answers = constant_answers(cell.source) or {}
            options = dict(OPTION.findall("\n".join(markdown))) or coded
            letters = [(name, value) for name, value in answers.items()
                       if isinstance(value, str) and re.fullmatch(r"[A-H]", value)]
            if len(letters) == 1 and len(options) >= 2:
                name, value = letters[0]
                assert value in options, f"{name} = {value!r} is not one of the options {sorted(options)}"
                questions.append(Question(name, value, options))
            coded = {}
        markdown = []
    return questions


def guesser_scores(questions):
    def longest(q):
        return max(sorted(q.options), key=lambda letter: len(q.options[letter]))

    def most_qualified(q):
        return max(sorted(q.options), key=lambda letter: len(QUALIFIER.findall(q.options[letter])))

    scores = {f"always {letter}": sum(q.answer == letter for q in questions) for letter in "ABCD"}
    scores["longest option"] = sum(q.answer == longest(q) for q in questions)
    scores["most qualifiers"] = sum(q.answer == most_qualified(q) for q in questions)
    return scores


def chance(questions):
    return math.ceil(sum(1 / len(q.options) for q in questions) - 1e-9)


@pytest.mark.parametrize("chapter", _chapters())
def test_multiple_choice_cannot_be_guessed(chapter):
    questions = multiple_choice(NOTEBOOKS[chapter])
    if not questions:
        return
    limit = chance(questions)
    scores = guesser_scores(questions)
    beaten = {name: score for name, score in scores.items() if score > limit}
    assert not beaten, (f"{chapter}: guessers beat chance ({limit} of {len(questions)} questions): {beaten}; "
                        f"answers {[q.answer for q in questions]}")
    shared = min(len(q.options) for q in questions)
    counts = Counter(q.answer for q in questions if ord(q.answer) - ord("A") < shared)
    spread = [counts.get(chr(ord("A") + i), 0) for i in range(shared)]
    assert max(spread) - min(spread) <= 1 or len(questions) < shared and max(spread) <= 1, \
        f"{chapter}: right letters are not spread evenly: {dict(zip('ABCDEFGH', spread, strict=False))}"


def test_the_guessers_find_a_length_cue():
    long = "the right one, because it is qualified: only when it holds"
    questions = [Question(f"q{i}", "B", {"A": "short", "B": long, "C": "short too", "D": "also short"})
                 for i in range(4)]
    scores = guesser_scores(questions)
    assert scores["longest option"] == 4 and scores["most qualifiers"] == 4 and scores["always B"] == 4
    assert chance(questions) == 1


# --- R3 ------------------------------------------------------------------------------------------------
DETAILS = re.compile(r"<details>(.*?)</details>", re.S)
SUMMARY = re.compile(r"<summary>(.*?)</summary>", re.S)
INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.S)
CODE_CHARS = set("()=[]+-*/@<>:")


def hint_problems(markdown):
    problems = []
    for block in DETAILS.findall(markdown):
        summary = SUMMARY.search(block)
        title = summary.group(1).strip() if summary else "(no summary)"
        if not re.match(r"Hint \d", title):
            continue
        body = SUMMARY.sub("", block)
        if "```" in body or "~~~" in body or re.search(r"<(pre|code)\b", body):
            problems.append(f"{title}: contains a code block")
        lines = body.split("\n")
        for before, line in zip(lines, lines[1:], strict=False):
            if re.match(r"( {4,}|\t)\S", line) and not before.strip() and not re.match(r"\s*([*-]|\d+\.)\s", line):
                problems.append(f"{title}: contains an indented code block")
                break
        code = [span for _, span in INLINE_CODE.findall(body) if CODE_CHARS & set(span)]
        if len(code) > 1:
            problems.append(f"{title}: {len(code)} code expressions ({'; '.join(code)[:120]}); at most one")
        problems.extend(f"{title}: a code expression of {len(span)} characters (at most 60): {span[:70]}"
                        for span in code if len(span) > 60)
    return problems


@pytest.mark.parametrize("chapter", _chapters())
def test_hints_teach_instead_of_solving(chapter):
    problems = []
    for cell in NOTEBOOKS[chapter].cells:
        if cell.cell_type == "markdown":
            grade_id = notebooks.meta(cell).get("grade_id", "?")
            problems.extend(f"{grade_id}: {p}" for p in hint_problems(cell.source))
    assert not problems, f"{chapter}: hints that give the code away:\n  " + "\n  ".join(problems)


def test_the_hint_check_tells_ideas_from_solutions():
    idea = ("<details><summary>Hint 2 (the approach)</summary>\n\nNormalise both rows, then take "
            "$\\cos(u_i, v_j)/\\tau$ with `F.normalize` and subtract $\\log q_j$: "
            "`logits - log_q[None, :]`.\n</details>")
    solution = ("<details><summary>Hint 2 (close to code)</summary>\n\n`u = F.normalize(u, dim=-1)`, "
                "`logits = u @ v.T / t`, then `F.cross_entropy(logits, torch.arange(B))`.\n</details>")
    block = "<details><summary>Hint 2</summary>\n\n```python\nx = 1\n```\n</details>"
    assert hint_problems(idea) == []
    assert hint_problems(solution) and hint_problems(block)


# --- R4 ------------------------------------------------------------------------------------------------
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
LOST_NEWLINE_COMMAND = re.compile(r"\$[^$\n]*\n(abla|eq\b|u\b|eg\b|otin\b|ewline\b)[^$]*\$")


@pytest.mark.parametrize("chapter", _chapters())
def test_no_control_characters_or_lost_backslashes(chapter):
    found = []
    for index, cell in enumerate(NOTEBOOKS[chapter].cells):
        where = notebooks.meta(cell).get("grade_id", f"cell {index}")
        for match in CONTROL.finditer(cell.source):
            context = cell.source[max(0, match.start() - 20):match.end() + 20]
            found.append(f"{where}: {match.group()!r} in {context!r}")
        if cell.cell_type == "markdown":
            found.extend(f"{where}: a LaTeX command lost its backslash: {m.group()[:60]!r}"
                         for m in LOST_NEWLINE_COMMAND.finditer(cell.source))
    assert not found, "\n".join(found)


# --- R6 ------------------------------------------------------------------------------------------------
CAPSTONE_CHAPTERS = [chapter for chapter in CHAPTERS
                     if any(notebooks.meta(cell).get("grade_id") == "capstone" for cell in NOTEBOOKS[chapter].cells)]


@pytest.mark.parametrize("chapter", CAPSTONE_CHAPTERS)
def test_the_capstone_has_its_cells_and_an_unseen_split(chapter):
    nb = NOTEBOOKS[chapter]
    by_id = {notebooks.meta(cell).get("grade_id"): cell for cell in nb.cells}
    solution = by_id["capstone"]
    assert {"capstone_train", "capstone_predict"} <= notebooks.defined_names(solution.source)
    assert "capstone_validate" in by_id and not notebooks.is_solution(by_id["capstone_validate"])
    exercise = next(ex for ex in notebooks.exercises(nb) if ex.name == "capstone")
    tiers = [test.grade_id for test in exercise.tests]
    assert tiers == [f"test_capstone_tier{k}" for k in range(1, len(tiers) + 1)] and len(tiers) >= 2, tiers
    for grade_id in tiers:
        source = by_id[grade_id].source
        visible, hidden = notebooks.visible_part(source), source.replace(notebooks.visible_part(source), "")
        k = int(grade_id[-1])
        assert f"tier={k}" in visible and "seed=" not in visible, f"{grade_id}: visible check on the validation split"
        assert re.search(rf"capstone\.require\(.*tier={k}, seed=\d+", source.split(notebooks.BEGIN_HIDDEN)[-1]) \
            or re.search(rf"tier={k}, seed=\d+", hidden), f"{grade_id}: hidden check on an unseen seed"
