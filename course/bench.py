"""Timing for the notebooks' speed comparisons (exact vs histogram splits, naive vs fast FM)."""

import time


def best_time(function, *args, repeats=3):
    """The fastest of ``repeats`` wall-clock timings of ``function(*args)``, in seconds.

    The minimum is the least noisy estimate: slower runs only add interference from other work.
    """
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return min(times)
