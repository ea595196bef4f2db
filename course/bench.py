"""Timing and memory for the notebooks' comparisons (exact vs histogram splits, naive vs fast FM, tiled attention)."""

import time


def best_time(function, *args, repeats=3, budget=None):
    """The fastest of ``repeats`` wall-clock timings of ``function(*args)``, in seconds.

    The minimum is the least noisy estimate: slower runs only add interference from other work.
    With ``budget`` (seconds), no further repeat starts once the timings so far add up to it, so a
    slow (e.g. quadratic) student solution is timed once instead of three times.
    """
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
        if budget is not None and sum(times) >= budget:
            break
    return min(times)


def largest_tensor(function, *args, **kwargs):
    """``(result, n)``: the result of ``function(*args, **kwargs)`` and the number of elements of the largest
    tensor created while it ran (every output of every torch operation, views included).

    Shows what an algorithm materialises, e.g. whether attention ever builds the full T x T score matrix.
    """
    import torch  # imported here: the numpy-only chapters use best_time without torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class Watcher(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.largest = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for t in out if isinstance(out, (tuple, list)) else [out]:
                if isinstance(t, torch.Tensor):
                    self.largest = max(self.largest, t.numel())
            return out

    watcher = Watcher()
    with watcher:
        result = function(*args, **kwargs)
    return result, watcher.largest
