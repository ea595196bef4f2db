"""course.checks: helpful messages, and verdicts that patching numpy/torch cannot change."""

import numpy as np
import pytest
import torch

from course import checks


def _message(call, *args, **kwargs):
    with pytest.raises(AssertionError) as info:
        call(*args, **kwargs)
    return str(info.value)


def test_close_reports_where_and_how_much():
    message = _message(checks.close, torch.tensor([1.0, 2.0, 3.5]), torch.tensor([1.0, 2.0, 3.0]), "y",
                       hint="divide by N")
    assert "y is wrong at 1 of 3 entries" in message and "index [2]" in message
    assert "expected 3, got 3.5" in message and "Hint: divide by N" in message


def test_close_checks_shapes_without_broadcasting():
    assert "shape (3,), expected (1, 3)" in _message(checks.close, np.zeros(3), np.zeros((1, 3)), "y")


def test_close_accepts_matching_values_and_nans():
    checks.close(torch.tensor([1.0, float("nan")]), np.array([1.0 + 1e-9, np.nan]), "y")
    assert "non-finite" in _message(checks.close, torch.tensor([float("nan")]), torch.tensor([1.0]), "y")


def test_close_needs_an_exact_match_where_infinity_is_expected():
    inf = float("inf")
    checks.close(np.array([inf, -inf, 1.0]), np.array([inf, -inf, 1.0]), "y")
    assert "wrong at 1 of 2" in _message(checks.close, np.array([1e300, 1.0]), np.array([inf, 1.0]), "y", rtol=0.5)
    assert "wrong at 1 of 2" in _message(checks.close, np.array([-inf, 1.0]), np.array([inf, 1.0]), "y")


def test_none_means_a_missing_return():
    assert "forget to `return`" in _message(checks.close, None, torch.zeros(2), "y")


def test_unchanged_detects_in_place_modification():
    x = torch.ones(3)
    before = checks.snapshot(x)
    x.mul_(2)
    assert "modified in place" in _message(checks.unchanged, before, x, "x")


def test_equal_is_strict_about_types():
    checks.equal({"a", "b"}, frozenset({"a", "b"}), "answer")
    assert "should be a frozenset" in _message(checks.equal, ["a", "b"], frozenset({"a", "b"}), "answer")
    assert "expected 'b'" in _message(checks.equal, "a", "b", "answer")


def test_true_requires_a_real_boolean():
    assert "not bool" in _message(checks.true, torch.tensor(True), "x")
    checks.true(np.bool_(True), "x")


def test_avoids_finds_library_calls_in_helpers():
    def helper(x):
        return torch.nn.functional.dropout(x, 0.5)

    def student(x):
        return helper(x)

    assert "uses dropout" in _message(checks.avoids, student, ["dropout"], "student")
    checks.avoids(lambda x: x * 2, ["dropout"], "lambda")


def test_the_module_is_read_only():
    with pytest.raises(AttributeError):
        checks.close = lambda *args, **kwargs: None
    with pytest.raises(AttributeError):
        del checks.close


def test_verdicts_survive_patched_numpy_and_torch(monkeypatch):
    for module, name, fake in [(np, "allclose", lambda *a, **k: True), (np, "abs", lambda x: x * 0),
                               (np, "isnan", lambda x: x != x), (np, "array", lambda *a, **k: np.zeros(3)),
                               (torch, "allclose", lambda *a, **k: True), (torch, "equal", lambda *a, **k: True)]:
        monkeypatch.setattr(module, name, fake)
    monkeypatch.setattr(torch.Tensor, "__eq__", lambda a, b: torch.ones_like(a, dtype=torch.bool))
    monkeypatch.setattr(torch.Tensor, "numpy", lambda self: np.ones(self.shape))
    with pytest.raises(AssertionError):
        checks.close(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 5.0]), "y")
    checks.close(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0]), "y")


def test_a_tensor_subclass_cannot_fake_its_values():
    class Liar(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return torch.zeros(2)

    liar = torch.tensor([7.0, 7.0]).as_subclass(Liar)
    with pytest.raises(AssertionError):
        checks.close(liar, torch.zeros(2), "y")
