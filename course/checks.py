"""Assertion helpers for the notebooks' test cells.

Every helper raises ``AssertionError`` with a message that says what was expected, what came
back and, through ``hint``, which mistake usually causes the difference. Helpers return
``None``: a test cell that ends in a value would be read by nbgrader as partial credit.

The verdicts cannot be changed by patching numpy or torch afterwards: the numpy functions used
here are captured when this module is first imported (in each notebook's locked setup cell,
before any student code runs), arrays are compared as plain float64 ndarrays, and the module
itself refuses attribute assignment. The grader's integrity check (``course.grading.integrity``) flags
attempts anyway; this is the second line of defence.
"""

import sys
import types
import warnings

import numpy as _np

# Captured once, at import time (see the module docstring).
_array = _np.array
_abs = _np.abs
_isnan = _np.isnan
_errstate = _np.errstate
_isfinite = _np.isfinite
_logical_or = _np.logical_or
_logical_not = _np.logical_not
_count_nonzero = _np.count_nonzero
_flatnonzero = _np.flatnonzero
_unravel_index = _np.unravel_index
_ndarray = _np.ndarray
_float64 = _np.float64
_np_bool = _np.bool_
_np_generic = _np.generic

try:  # torch is optional: numpy-only chapters import this module too
    import torch as _torch

    _TensorBase = _torch._C.TensorBase
    _t_detach = _TensorBase.detach
    _t_cpu = _TensorBase.cpu
    _t_numpy = _TensorBase.numpy
    _t_to = _TensorBase.to
    _t_clone = _TensorBase.clone
    _T_FLOAT64 = _torch.float64
    # A tensor subclass could fake its data through __torch_function__; read the raw values.
    _no_torch_function = _torch._C.DisableTorchFunction
except ImportError:  # pragma: no cover - torch is a course dependency
    _torch = None
    _TensorBase = ()


def _fail(message, hint=""):
    if hint:
        message = f"{message}\nHint: {hint}"
    raise AssertionError(message)


def _is_tensor(x):
    return _torch is not None and isinstance(x, _TensorBase)


def _describe(x):
    if _is_tensor(x):
        return f"a torch tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    if isinstance(x, _ndarray):
        return f"a numpy array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__} {x!r:.80}"


def _as_float_array(x, name):
    """``x`` as a fresh base-class float64 ndarray, without calling methods of ``x``'s class."""
    if x is None:
        _fail(f"{name} is None. Did the function forget to `return` its result?")
    if _is_tensor(x):
        with _no_torch_function():
            t = _t_to(_t_cpu(_t_detach(x)), _T_FLOAT64)
            return _array(_t_numpy(t), dtype=_float64, subok=False)
    try:
        return _array(x, dtype=_float64, subok=False)
    except (TypeError, ValueError):
        _fail(f"{name} should be numbers (a tensor, an array or a float), got {_describe(x)}.")


def _format_index(index):
    return "[" + ", ".join(str(int(i)) for i in index) + "]" if index else "(scalar)"


def close(actual, expected, name="result", *, atol=1e-6, rtol=1e-5, hint=""):
    """Assert that ``actual`` matches ``expected`` elementwise: |a − e| ≤ atol + rtol·|e|.

    Shapes must agree exactly (no broadcasting). NaN is only accepted where NaN is expected;
    infinities must match exactly.
    """
    a = _as_float_array(actual, name)
    e = _as_float_array(expected, f"expected value for {name}")
    if a.shape != e.shape:
        _fail(f"{name} has shape {a.shape}, expected {e.shape}.", hint)
    if a.size == 0:
        return None
    a_nan, e_nan = _isnan(a), _isnan(e)
    with _errstate(invalid="ignore"):  # inf - inf where both are infinite is handled below
        diff = _abs(a - e)
    with _errstate(invalid="ignore"):
        ok = (diff <= atol + rtol * _abs(e)) & _isfinite(e)  # an infinite expected value needs an exact match
    ok = _logical_or(ok, a == e)  # equal infinities
    ok = ok & (a_nan == e_nan)
    ok = _logical_or(ok, a_nan & e_nan)
    bad = _flatnonzero(_logical_not(ok))
    if bad.size:
        first = _unravel_index(bad[0], a.shape)
        finite = _isfinite(diff)
        worst = diff[finite].max() if finite.any() else float("nan")
        detail = f"expected {e[first]:.6g}, got {a[first]:.6g}"
        if not _isfinite(a[first]) and _isfinite(e[first]):
            detail += " (a non-finite value: look for overflow, log(0) or 0/0)"
        _fail(
            f"{name} is wrong at {bad.size} of {a.size} entries (largest finite error {worst:.3g}, "
            f"tolerance atol={atol:g}, rtol={rtol:g}). First at index {_format_index(first)}: {detail}.",
            hint,
        )
    return None


def shape(actual, expected_shape, name="result", hint=""):
    """Assert that ``actual`` (tensor or array) has exactly ``expected_shape``."""
    got = _as_float_array(actual, name).shape
    expected_shape = tuple(int(s) for s in expected_shape)
    if got != expected_shape:
        _fail(f"{name} has shape {got}, expected {expected_shape}.", hint)
    return None


def is_tensor(actual, name="result", dtype=None, hint=""):
    """Assert that ``actual`` is a torch tensor (and, if given, of ``dtype``)."""
    if not _is_tensor(actual):
        _fail(f"{name} should be a torch tensor, got {_describe(actual)}.", hint)
    if dtype is not None and actual.dtype != dtype:
        _fail(f"{name} has dtype {actual.dtype}, expected {dtype}.", hint)
    return None


def is_array(actual, name="result", hint=""):
    """Assert that ``actual`` is a numpy array."""
    if not isinstance(actual, _ndarray):
        _fail(f"{name} should be a numpy array, got {_describe(actual)}.", hint)
    return None


def true(condition, message, hint=""):
    """Assert a property computed by the test; ``condition`` must be a real boolean."""
    if type(condition) not in (bool, _np_bool):
        _fail(f"internal check error: condition for '{message}' is {type(condition).__name__}, not bool.")
    if not condition:
        _fail(message, hint)
    return None


def between(value, low, high, name="value", hint=""):
    """Assert ``low <= value <= high`` for a scalar."""
    v = _as_float_array(value, name)
    if v.shape not in ((), (1,)):
        _fail(f"{name} should be a single number, got shape {v.shape}.", hint)
    v = float(v.reshape(()))
    if not low <= v <= high:
        _fail(f"{name} = {v:.6g}, expected a value between {low:.6g} and {high:.6g}.", hint)
    return None


def equal(actual, expected, name="result", hint=""):
    """Assert exact equality of plain values (str, int, bool, tuples, sets) or of arrays."""
    if isinstance(expected, (str, bool, int, tuple, frozenset, set)) or expected is None:
        got = actual.item() if isinstance(actual, _np_generic) else actual
        sets = (set, frozenset)
        same_kind = type(got) is type(expected) or (type(got) in sets and type(expected) in sets)
        if not same_kind:
            _fail(f"{name} should be a {type(expected).__name__}, got {_describe(actual)}.", hint)
        if got != expected:
            _fail(f"{name}: expected {expected!r}, got {got!r}.", hint)
        return None
    close(actual, expected, name, atol=0.0, rtol=0.0, hint=hint)
    return None


def choice(answer, options, name="answer"):
    """Assert that ``answer`` is one of ``options`` (a format check for concept questions)."""
    if not isinstance(answer, str) or answer not in options:
        _fail(f"{name} should be one of {sorted(options)}, got {answer!r}.")
    return None


def _functions(obj):
    """The Python functions behind a function, a method or a class's methods."""
    if isinstance(obj, (types.MethodType, staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, types.FunctionType):
        return [obj]
    if isinstance(obj, type):
        return [f for member in vars(obj).values() for f in _functions(member)]
    return []


def avoids(function, names, name="your function", hint=""):
    """Assert that ``function`` (and the notebook functions it calls) never uses one of ``names``.

    The exercises compare against library functions; calling them would pass without learning.
    """
    forbidden, used, seen = set(names), set(), set()
    queue = _functions(function)
    while queue:
        fn = queue.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        codes = [fn.__code__]
        while codes:
            code = codes.pop()
            used.update(code.co_names)
            codes.extend(const for const in code.co_consts if isinstance(const, types.CodeType))
            for n in code.co_names:
                if n not in forbidden:
                    queue.extend(_functions(fn.__globals__.get(n)))
        for cell in fn.__closure__ or ():
            queue.extend(_functions(cell.cell_contents))
    hits = sorted(used & forbidden)
    if hits:
        _fail(
            f"{name} uses {', '.join(hits)}. Implement the computation yourself: the tests compare "
            "against the library version.",
            hint,
        )
    return None


def snapshot(x):
    """A detached copy of ``x`` to compare with later, to prove a function did not modify it."""
    if _is_tensor(x):
        with _no_torch_function():
            return _t_clone(_t_detach(x))
    return _array(x, copy=True)


def unchanged(before, after, name="input"):
    """Assert that ``after`` still equals the ``snapshot`` taken ``before`` a call."""
    a = _as_float_array(after, name)
    b = _as_float_array(before, name)
    same = a.shape == b.shape and bool(((a == b) | (_isnan(a) & _isnan(b))).all())
    if not same:
        _fail(
            f"{name} was modified in place. Work on a new tensor/array and return it instead.",
            "operations ending in an underscore (x.mul_(...)), `x[...] = ...` and `x *= ...` "
            "change the caller's data.",
        )
    return None


def show_warnings_on_stdout():
    """Print warnings to stdout from now on.

    nbgrader scores a test cell that writes anything to stderr as failed; a warning raised by
    correct code (say, a variance over one element) should be visible but cost no points.
    """

    def show(message, category, filename, lineno, file=None, line=None):
        sys.stdout.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = show
    return None


class _ReadOnlyModule(types.ModuleType):
    def __setattr__(self, name, value):
        raise AttributeError(f"course.checks is read-only (tried to set {name!r}).")

    def __delattr__(self, name):
        raise AttributeError(f"course.checks is read-only (tried to delete {name!r}).")


sys.modules[__name__].__class__ = _ReadOnlyModule
