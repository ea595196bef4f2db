"""Small shared helpers of the course package: course.bench and course.data.float32_exact."""

import numpy as np

from course import bench, data


def test_float32_exact_values_survive_a_float32_round_trip():
    values = data.float32_exact(data.rng(0).normal(size=100))
    assert values.dtype == np.float64
    assert np.array_equal(values.astype(np.float32).astype(np.float64), values)


def test_best_time_returns_the_fastest_of_its_runs():
    calls = []
    seconds = bench.best_time(calls.append, 1, repeats=4)
    assert calls == [1, 1, 1, 1] and 0 <= seconds < 1


def test_best_time_stops_repeating_a_slow_function_at_its_budget():
    import time

    calls = []
    seconds = bench.best_time(lambda: (calls.append(1), time.sleep(0.05)), repeats=5, budget=0.08)
    assert len(calls) == 2 and seconds >= 0.05


def test_largest_tensor_sees_the_intermediate_score_matrix():
    import torch

    q = torch.randn(1, 64, 8)
    out, largest = bench.largest_tensor(lambda a: torch.softmax(a @ a.transpose(-2, -1), dim=-1) @ a, q)
    assert out.shape == (1, 64, 8) and largest == 64 * 64
    _, small = bench.largest_tensor(lambda a: (a * 2).sum(), q)
    assert small == 64 * 8
