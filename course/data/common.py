"""Random generators and small helpers every data set uses."""

import numpy as np
import torch


def rng(seed):
    """A numpy random generator for ``seed``."""
    return np.random.default_rng(seed)


def torch_generator(seed):
    """A torch CPU random generator for ``seed``."""
    return torch.Generator().manual_seed(seed)


def float32_exact(values):
    """``values`` rounded to the nearest float32, returned as float64.

    scikit-learn's trees compare features in float32; data that are exact in float32 make a
    hand-written tree and scikit-learn's see the same thresholds.
    """
    return np.asarray(values).astype(np.float32).astype(np.float64)
