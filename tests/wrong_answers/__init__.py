"""Catalogues of plausible wrong answers, one module per chapter (``<chapter>.py``).

Each entry replaces one graded function, class or answer of a chapter with a buggy version.
``tests/test_wrong_answers.py`` runs the chapter's source notebook once in a kernel, then, for
every entry, executes the buggy code after the original solution cell and proves that the
exercise's test cells fail while every other test cell that could be affected still passes.

    @wrong("dropout", "survivors are not rescaled by 1/(1-p)")
    def dropout_without_rescale(x, p, training, generator=None):
        ...

registers the function's source, renamed to ``dropout``. ``answer("eval_changes", why,
"{'Dropout'}")`` registers ``eval_changes = {'Dropout'}`` for a concept question.
"""

import importlib.util
import inspect
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

_REGISTRY = {}
_HELPERS = {}  # module -> source of helper functions that its mutants may call


@dataclass(frozen=True)
class Mutant:
    replaces: str  # the contract name the buggy code rebinds
    name: str  # a short id, used in test ids
    description: str
    code: str
    also_fails: tuple = ()  # grade_ids of other exercises' test cells that may fail too

    @property
    def id(self):
        return f"{self.replaces}-{self.name}"


def _register(module, mutant):
    entries = _REGISTRY.setdefault(module, [])
    assert all(m.id != mutant.id for m in entries), f"duplicate mutant {mutant.id}"
    entries.append(mutant)


def _source(obj):
    source = textwrap.dedent(inspect.getsource(obj))
    return source[re.search(r"^(def|class) ", source, re.M).start():]  # drop decorators


def helper(obj):
    """Mark a function that mutants of this module call; its source is sent along with them."""
    _HELPERS.setdefault(obj.__module__, []).append((obj.__name__, _source(obj)))
    return obj


def wrong(replaces, description, also_fails=()):
    """Register the decorated function or class as a wrong version of ``replaces``."""

    def decorate(obj):
        source = re.sub(rf"^(def|class) {obj.__name__}\b", rf"\1 {replaces}", _source(obj), count=1)
        helpers = [h for name, h in _HELPERS.get(obj.__module__, []) if re.search(rf"\b{name}\(", source)]
        code = "\n\n".join([*helpers, source])
        _register(obj.__module__, Mutant(replaces, obj.__name__, description, code, tuple(also_fails)))
        return obj

    return decorate


def answer(replaces, name, description, value, also_fails=()):
    """Register ``replaces = value`` (a wrong answer to a concept question)."""
    frame = inspect.stack()[1]
    module = frame.frame.f_globals["__name__"]
    _register(module, Mutant(replaces, name, description, f"{replaces} = {value}\n", tuple(also_fails)))


def load(chapter):
    """The mutants of ``chapter`` (an empty list if it has no catalogue yet)."""
    path = Path(__file__).parent / f"{chapter}.py"
    if not path.exists():
        return []
    module_name = f"wrong_answers_{chapter}"
    if module_name not in _REGISTRY:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # inspect.getsource needs it for class mutants
        spec.loader.exec_module(module)
        _REGISTRY.setdefault(module_name, [])
    return list(_REGISTRY[module_name])
