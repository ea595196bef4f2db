"""Static scan of a submission for code that tampers with the grading harness.

A notebook is graded by running the student's cells and then the locked test cells in one
IPython kernel, so student code can reach the tests: it can register IPython hooks that rewrite
or skip the test cells, monkeypatch ``numpy``/``torch``/``course.checks`` so that comparisons
always pass, or rebind the names the tests use. None of that is needed to solve an exercise, so
this module reads the student's code (never runs it) and reports every such construct with its
line. ``course.grading.IntegrityCheck`` turns a report into a zero score that an instructor
can review and undo.

Trusted code (the locked cells nbgrader restores from the gradebook) is not scanned; it defines
what is protected: the names its imports, functions and classes bind, and the builtins it uses.
"""

import ast
import builtins
import re
from dataclasses import dataclass

from IPython.core.inputtransformer2 import TransformerManager

# Packages whose objects the tests rely on; nothing in them may be reassigned.
PROTECTED_PACKAGES = frozenset({
    "numpy", "torch", "scipy", "sklearn", "course", "math", "cmath", "random", "operator",
    "functools", "itertools", "collections", "copy", "builtins", "numbers", "types",
    "warnings", "typing", "tqdm", "pandas", "nbgrader", "IPython", "ipykernel",
})

# Modules that give access to the interpreter, the kernel or the test harness.
FORBIDDEN_MODULES = {
    "IPython": "controls the IPython kernel that runs the tests",
    "ipykernel": "controls the IPython kernel that runs the tests",
    "jupyter_client": "controls Jupyter kernels",
    "traitlets": "changes IPython's configuration",
    "nbgrader": "is the grading tool itself",
    "builtins": "changes Python's built-in functions",
    "sys": "reaches interpreter internals (sys.modules, settrace)",
    "importlib": "can reload or replace modules the tests use",
    "inspect": "reaches stack frames of the test code",
    "gc": "can find and modify any object, including the test helpers",
    "ctypes": "can rewrite memory",
    "signal": "can block the grader's timeout interrupt",
    "atexit": "runs code when the grader shuts the kernel down",
    "threading": "can run code behind the tests' back",
    "multiprocessing": "can run code behind the tests' back",
    "subprocess": "runs other programs",
    "pty": "runs other programs",
    "unittest": "its mock module patches the test helpers",
    "code": "compiles code at run time",
    "codeop": "compiles code at run time",
    "runpy": "runs code at run time",
    "marshal": "builds code objects",
    "faulthandler": "changes fatal-error handling",
    "course.checks": "is the test helpers' module",
    "course.grading": "is the grader's own code",
    "course.pipeline": "is the grader's own code",
    "__main__": "reaches the notebook's namespace and its input history (the test cells' code)",
}

FORBIDDEN_NAMES = {
    "get_ipython": "reaches the IPython kernel that runs the tests",
    "__builtins__": "changes Python's built-in functions",
    "__import__": "imports modules dynamically",
    "exec": "runs code built at run time",
    "eval": "runs code built at run time",
    "compile": "builds code at run time",
    "globals": "rewrites the notebook's namespace",
    "locals": "rewrites the notebook's namespace",
    "vars": "rewrites an object's namespace",
    "breakpoint": "stops the kernel",
    # IPython's input and output history: once a test cell ran, it holds the hidden tests' code,
    # which a student's function could print into the feedback.
    **{name: "reads the notebook's input/output history, which holds the test cells' code"
       for name in ("In", "Out", "_ih", "_oh", "_i", "_ii", "_iii", "_dh")},
}

FORBIDDEN_ATTRIBUTES = {
    "__dict__", "__globals__", "__builtins__", "__code__", "__closure__", "__subclasses__",
    "__setattr__", "__delattr__", "__import__", "__loader__", "__defaults__", "__kwdefaults__",
    "__bases__", "__mro__", "f_globals", "f_locals", "f_back", "f_builtins", "f_code",
    "tb_frame", "gi_frame", "cr_frame", "ag_frame", "_getframe",
}

# Dangerous functions of allowed modules, as (module, attribute).
FORBIDDEN_CALLS = {
    ("os", "system"), ("os", "popen"), ("os", "kill"), ("os", "killpg"), ("os", "fork"),
    ("os", "remove"), ("os", "unlink"), ("os", "rmdir"), ("os", "removedirs"), ("os", "rename"),
    ("os", "replace"), ("os", "chdir"), ("os", "putenv"), ("shutil", "rmtree"),
    ("shutil", "move"), ("os", "execv"), ("os", "execl"), ("os", "spawnl"), ("os", "spawnv"),
}

ALLOWED_MAGICS = {"time", "timeit", "matplotlib"}
CODE_MAGICS = {"time", "timeit"}  # line magics whose argument is Python code

# Roots of attribute chains that reach shared objects: `type(x).__eq__ = ...`.
_META_ROOTS = {"type", "getattr", "object", "super", "vars", "globals"}

_TRANSFORMER = TransformerManager()


@dataclass(frozen=True)
class Finding:
    cell: int  # index of the cell in the notebook
    line: int  # 1-based line in the cell
    code: str  # the offending line, stripped
    reason: str

    def __str__(self):
        return f"cell {self.cell}, line {self.line}: `{self.code}` ({self.reason})"


@dataclass
class Protected:
    """What trusted code binds: imports (name -> module), other definitions, builtins it uses."""

    imports: dict
    defined: set
    builtins_used: set

    @property
    def names(self):
        return set(self.imports) | self.defined | self.builtins_used


def _to_python(source):
    """IPython syntax (magics, shell escapes) as plain Python, as the kernel would see it."""
    try:
        return _TRANSFORMER.transform_cell(source)
    except Exception:  # noqa: BLE001 - malformed IPython syntax; ast.parse reports it next
        return source


def _parse(source):
    try:
        return ast.parse(_to_python(source))
    except (SyntaxError, ValueError):
        return None  # the kernel cannot run it either


def _root_name(node):
    """``a`` for ``a.b.c``, ``a[0].b`` or ``a.b()``; None otherwise."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _import_bindings(node):
    """(bound name, fully qualified module or object) for an import statement."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                yield alias.asname, alias.name
            else:
                top = alias.name.split(".")[0]
                yield top, top
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        for alias in node.names:
            yield alias.asname or alias.name, f"{node.module}.{alias.name}"


def _imported_modules(node):
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return []


def protected_from(trusted_sources):
    """The names that trusted cells bind or use as builtins."""
    imports, defined, loaded, bound = {}, set(), set(), set()
    for source in trusted_sources:
        tree = _parse(source)
        if tree is None:
            continue
        for node in tree.body:  # module-level definitions are what later cells can see
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for name, target in _import_bindings(node):
                    imports[name] = target
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.add(node.name)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound.add(node.name)
            elif isinstance(node, ast.Name):
                (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
    builtin_names = set(dir(builtins))
    builtins_used = {n for n in loaded - bound - set(imports) if n in builtin_names}
    return Protected(imports=imports, defined=defined, builtins_used=builtins_used)


class _Scanner(ast.NodeVisitor):
    def __init__(self, protected, aliases):
        self.protected = protected
        self.aliases = aliases  # names that refer to protected modules or their members
        self.found = []  # (line, reason)
        self.depth = 0  # > 0 inside a function or class body

    def flag(self, node, reason):
        self.found.append((node.lineno, reason))

    def _is_protected_root(self, root):
        """Whether ``root`` names a protected module (or an alias of one) or a trusted definition."""
        if root in self.aliases:
            return self.aliases[root].split(".")[0] in PROTECTED_PACKAGES
        return root in self.protected.defined or root in self.protected.builtins_used or root in _META_ROOTS

    # --- bindings -------------------------------------------------------------------
    def _check_binding(self, node, name, target=None):
        if self.depth:
            return
        if name in self.protected.imports:
            if target is not None and target == self.protected.imports[name]:
                return  # re-importing the same thing under the same name is harmless
            self.flag(node, f"rebinds `{name}`, which the test cells use")
        elif name in self.protected.defined:
            self.flag(node, f"redefines `{name}`, which the test cells use")
        elif name in self.protected.builtins_used:
            self.flag(node, f"shadows the built-in `{name}`, which the test cells use")

    def _check_store_target(self, node, target):
        if isinstance(target, ast.Name):
            self._check_binding(node, target.id)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            root = _root_name(target)
            if self._is_protected_root(root):
                self.flag(node, f"monkeypatches `{root}`, which the tests rely on")
            elif isinstance(target, ast.Attribute) and target.attr.startswith("__"):
                self.flag(node, f"assigns the special attribute `{target.attr}`")
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._check_store_target(node, element)
        elif isinstance(target, ast.Starred):
            self._check_store_target(node, target.value)

    def visit_Assign(self, node):
        for target in node.targets:
            self._check_store_target(node, target)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._check_store_target(node, node.target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self._check_store_target(node, node.target)
        self.generic_visit(node)

    def visit_Delete(self, node):
        for target in node.targets:
            self._check_store_target(node, target)
        self.generic_visit(node)

    def visit_For(self, node):
        self._check_store_target(node, node.target)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_With(self, node):
        for item in node.items:
            if item.optional_vars is not None:
                self._check_store_target(node, item.optional_vars)
        self.generic_visit(node)

    visit_AsyncWith = visit_With

    def visit_NamedExpr(self, node):
        self._check_store_target(node, node.target)
        self.generic_visit(node)

    def visit_Global(self, node):
        for name in node.names:
            if name in self.protected.names:
                self.flag(node, f"declares `{name}` global to rebind it inside a function")

    visit_Nonlocal = visit_Global

    def _visit_definition(self, node):
        self._check_binding(node, node.name)
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _visit_definition

    def visit_Lambda(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    # --- imports --------------------------------------------------------------------
    def _visit_import(self, node):
        for module in _imported_modules(node):
            for forbidden, why in FORBIDDEN_MODULES.items():
                if module == forbidden or module.startswith(forbidden + "."):
                    self.flag(node, f"imports `{forbidden}`, which {why}")
                    break
        if isinstance(node, ast.ImportFrom) and node.level:
            self.flag(node, "uses a relative import")
        for name, target in _import_bindings(node):
            self._check_binding(node, name, target)

    visit_Import = visit_ImportFrom = _visit_import

    # --- names, attributes, calls ---------------------------------------------------
    def visit_Name(self, node):
        if node.id in FORBIDDEN_NAMES:
            self.flag(node, f"uses `{node.id}`, which {FORBIDDEN_NAMES[node.id]}")

    def visit_Attribute(self, node):
        if node.attr in FORBIDDEN_ATTRIBUTES:
            self.flag(node, f"uses `.{node.attr}`, which reaches interpreter internals")
        elif node.attr.startswith("_") and isinstance(node.value, (ast.Name, ast.Attribute)):
            dotted = _dotted(node.value)
            first, _, rest = (dotted or "").partition(".")
            target = ".".join(part for part in (self.aliases.get(first, ""), rest) if part)
            if target.split(".")[0] == "course":
                self.flag(node, f"reads `{node.attr}`, private state of the course's test helpers")
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        magic = _magic_name(node)
        if magic is not None:
            self._visit_magic(node, magic)
            return
        if isinstance(func, ast.Name) and func.id in ("setattr", "delattr") and node.args:
            root = _root_name(node.args[0])
            if self._is_protected_root(root):
                self.flag(node, f"uses {func.id}() on `{root}`, which the tests rely on")
        dotted = _dotted(func)
        if dotted:
            first, _, rest = dotted.partition(".")
            full = ".".join(part for part in (self.aliases.get(first, first), rest) if part)
            module, _, attr = full.rpartition(".")
            if (module, attr) in FORBIDDEN_CALLS:
                self.flag(node, f"calls `{full}`, which changes the grader's files or processes")
        self.generic_visit(node)

    def _visit_magic(self, node, magic):
        if magic not in ALLOWED_MAGICS:
            if magic.isidentifier():
                magic = f"the IPython magic `%{magic}`"
            self.flag(node, f"uses {magic}, which the grader does not allow")
            return
        code = _magic_code(node)
        if code is None:
            return
        tree = _parse(code)
        if tree is None:
            self.flag(node, f"the code run by %{magic} cannot be checked")
            return
        child = _Scanner(self.protected, self.aliases)
        child.depth = self.depth
        child.visit(tree)
        offset = node.lineno - (0 if node.func.attr == "run_cell_magic" else 1)
        self.found.extend((offset + line, reason) for line, reason in child.found)


def _magic_name(call):
    """The magic's name for ``get_ipython().run_line_magic('name', ...)`` (and cell magics),
    a description for any other call on ``get_ipython()``, None for other calls."""
    func = call.func
    if not (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "get_ipython"
    ):
        return None
    if func.attr in ("run_line_magic", "run_cell_magic") and call.args:
        first = call.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    if func.attr in ("system", "getoutput"):
        return "a shell command (`!...`)"
    return f"`get_ipython().{func.attr}`"


def _magic_code(call):
    """The Python code an allowed magic runs (a line magic's statement, a cell magic's body)."""
    cell_magic = call.func.attr == "run_cell_magic"
    if not cell_magic and call.args[0].value not in CODE_MAGICS:
        return None
    index = 2 if cell_magic else 1
    if len(call.args) <= index or not isinstance(call.args[index], ast.Constant):
        return ""
    code = str(call.args[index].value)
    if not cell_magic:  # drop %timeit's options such as -n 10 -r 3 -q
        code = re.sub(r"^\s*(?:-[nr]\s*\d+\s+|-[a-zA-Z]\s+)*", "", code)
    return code


def _module_aliases(trees, protected):
    """Names that refer to protected modules or objects reached from them, with their target."""
    aliases = {}
    for name, target in protected.imports.items():
        aliases[name] = target
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for name, target in _import_bindings(node):
                    if target.split(".")[0] in PROTECTED_PACKAGES | {"os", "shutil"}:
                        aliases[name] = target
    # follow plain aliasing (`x = np`, `t = torch.testing`, `f = getattr(np, "testing")`)
    changed = True
    while changed:
        changed = False
        for tree in trees:
            for node in ast.walk(tree):
                if not isinstance(node, ast.Assign):
                    continue
                value = node.value
                if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "getattr":
                    value = value.args[0] if value.args else None
                if not isinstance(value, (ast.Name, ast.Attribute)):
                    continue
                root = _root_name(value)
                if root not in aliases:
                    continue
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id not in aliases:
                        aliases[target.id] = aliases[root]
                        changed = True
    return aliases


def scan_cells(cells, protected):
    """Scan untrusted code cells, given as (index, source) pairs, against ``protected``."""
    parsed = [(index, source, _parse(source)) for index, source in cells]
    aliases = _module_aliases([tree for _, _, tree in parsed if tree is not None], protected)
    findings = []
    for index, source, tree in parsed:
        if tree is None:
            continue
        scanner = _Scanner(protected, aliases)
        scanner.visit(tree)
        lines = source.splitlines()  # the transformation keeps line numbers
        for line, reason in sorted(set(scanner.found)):
            code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
            findings.append(Finding(cell=index, line=line, code=code, reason=reason))
    return findings


# The seeding helpers of course.data; everything else there draws data sets.
DATA_HELPERS = frozenset({"rng", "torch_generator", "float32_exact"})


def _setup_names(source):
    """What a trusted capstone set-up cell (``capstone_setup``, ``capstone_spec``) puts off-limits for the
    capstone: every name it binds (the split, the metric, the spec: they reach the unseen split's targets)
    and the names listed in its
    ``CAPSTONE_OFF_LIMITS`` (e.g. the notebook object that holds the planted truth)."""
    tree = _parse(source)
    if tree is None:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            if any(isinstance(t, ast.Name) and t.id == "CAPSTONE_OFF_LIMITS" for t in targets) \
                    and isinstance(node.value, (ast.Tuple, ast.List, ast.Set)):
                names.update(e.value for e in node.value.elts
                             if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return names


class _FreeUses(ast.NodeVisitor):
    """Lines where the names of ``watched`` are used without being bound in the enclosing function (or
    are bound at the cell's top level, which would replace the notebook's object)."""

    def __init__(self, watched):
        self.watched, self.scopes, self.found = watched, [], set()

    def _function(self, node):
        args = node.args
        bound = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        bound |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        body = node.body if isinstance(node.body, list) else [node.body]
        for statement in body:
            for inner in ast.walk(statement):
                if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store):
                    bound.add(inner.id)
                elif isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    bound.add(inner.name)
                elif isinstance(inner, (ast.Import, ast.ImportFrom)):
                    bound.update(name for name, _ in _import_bindings(inner))
        for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.visit(default)
        self.scopes.append(bound)
        for statement in body:
            self.visit(statement)
        self.scopes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Name(self, node):
        if node.id in self.watched and not any(node.id in scope for scope in self.scopes):
            self.found.add(node.lineno)


def scan_capstone(index, source, protected, off_limits=frozenset()):
    """A capstone gets its data as arguments: its cell may not draw more from ``course.data`` (more
    draws from the generator would be training on the source of the unseen split), nor read what the
    locked capstone set-up defines or declares off-limits (``off_limits``: it reaches the unseen split's
    targets or the notebook's planted truth)."""
    tree = _parse(source)
    if tree is None:
        return []
    aliases = _module_aliases([tree], protected)
    draws = "draws data from course.data inside the capstone (it gets its data as arguments)"
    reads = ("reads the capstone's locked set-up or the notebook's planted truth (the capstone learns from "
             "its arguments only)")
    lines = source.splitlines()
    found = set()
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            targets = [target for _, target in _import_bindings(node)]
        elif isinstance(node, (ast.Attribute, ast.Name)):
            dotted = _dotted(node)
            if dotted:
                first, _, rest = dotted.partition(".")
                if first in aliases:
                    targets = [".".join(part for part in (aliases[first], rest) if part)]
        for target in targets:
            parts = target.split(".")
            if parts[:2] == ["course", "data"] and len(parts) > 2 and parts[-1] not in DATA_HELPERS \
                    and parts[2] != "common":
                found.add((node.lineno, draws))
    free_uses = _FreeUses(off_limits)
    free_uses.visit(tree)
    found.update((line, reads) for line in free_uses.found)
    return [Finding(cell=index, line=line, code=lines[line - 1].strip() if 0 < line <= len(lines) else "",
                    reason=reason) for line, reason in sorted(found)]


def scan_notebook(nb, is_trusted):
    """Findings for every code cell of ``nb`` for which ``is_trusted(cell)`` is False."""
    trusted, untrusted, capstones, off_limits = [], [], [], set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        (trusted if is_trusted(cell) else untrusted).append((index, cell.source))
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not is_trusted(cell) and grade_id == "capstone":
            capstones.append((index, cell.source))
        if is_trusted(cell) and (grade_id or "").startswith("capstone_"):  # capstone_setup, capstone_spec
            off_limits |= _setup_names(cell.source)
    protected = protected_from(source for _, source in trusted)
    findings = scan_cells(untrusted, protected)
    for index, source in capstones:
        findings.extend(scan_capstone(index, source, protected, off_limits))
    return findings
