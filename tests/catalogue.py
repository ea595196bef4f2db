"""Catalogues of alternative implementations of a chapter's graded functions, one module per chapter.

Two kinds share this machinery:

- ``tests/wrong_answers/<chapter>.py``: plausible mistakes; every entry must fail its exercise's tests
  (``tests/test_answer_catalogues.py``), and at least one per exercise must get past the visible checks.
- ``tests/right_answers/<chapter>.py``: independently written correct versions (another random-draw
  order, an equivalent formula, float32 vs float64, loops vs vectorised, another tie-safe sort, another
  initialisation order); every entry must keep full marks.

An entry replaces one graded function, class or answer of the chapter:

    @wrong("dropout", "survivors are not rescaled by 1/(1-p)")
    def dropout_without_rescale(x, p, training, generator=None):
        ...

registers the function's source, renamed to ``dropout``. ``answer("eval_changes", name, why,
"{'Dropout'}")`` registers ``eval_changes = {'Dropout'}`` for a concept question. ``@helper`` marks a
function that entries of the same module call; its source is sent along with them.
"""

import importlib.util
import inspect
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

_REGISTRY = {}  # module name -> [Entry]
_HELPERS = {}  # module name -> [(function name, source)]


@dataclass(frozen=True)
class Entry:
    replaces: str  # the contract name the code rebinds
    name: str  # a short id, used in test ids
    description: str
    code: str
    also_fails: tuple = ()  # wrong answers: grade_ids of other exercises' test cells that may fail too

    @property
    def id(self):
        return f"{self.replaces}-{self.name}"


Mutant = Entry  # the wrong-answer catalogues' historical name


def _register(module, entry):
    entries = _REGISTRY.setdefault(module, [])
    assert all(e.id != entry.id for e in entries), f"duplicate catalogue entry {entry.id}"
    entries.append(entry)


def _source(obj):
    source = textwrap.dedent(inspect.getsource(obj))
    return source[re.search(r"^(def|class) ", source, re.M).start():]  # drop decorators


def helper(obj):
    """Mark a function that entries of this module call; its source is sent along with them."""
    _HELPERS.setdefault(obj.__module__, []).append((obj.__name__, _source(obj)))
    return obj


def entry(replaces, description, also_fails=()):
    """Register the decorated function or class as another version of ``replaces``."""

    def decorate(obj):
        source = re.sub(rf"^(def|class) {obj.__name__}\b", rf"\1 {replaces}", _source(obj), count=1)
        helpers = [h for name, h in _HELPERS.get(obj.__module__, []) if re.search(rf"\b{name}\(", source)]
        code = "\n\n".join([*helpers, source])
        _register(obj.__module__, Entry(replaces, obj.__name__, description, code, tuple(also_fails)))
        return obj

    return decorate


def answer(replaces, name, description, value, also_fails=()):
    """Register ``replaces = value`` (an answer to a concept question)."""
    module = inspect.stack()[1].frame.f_globals["__name__"]
    _register(module, Entry(replaces, name, description, f"{replaces} = {value}\n", tuple(also_fails)))


def load(kind, chapter):
    """The entries of ``tests/<kind>/<chapter>.py`` and the module itself (None if it does not exist)."""
    path = Path(__file__).parent / kind / f"{chapter}.py"
    if not path.exists():
        return [], None
    module_name = f"{kind}_{chapter}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # inspect.getsource needs it for class entries
        spec.loader.exec_module(module)
        _REGISTRY.setdefault(module_name, [])
    return list(_REGISTRY[module_name]), sys.modules[module_name]
