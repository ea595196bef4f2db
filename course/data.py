"""Deterministic synthetic data for the notebooks and tests.

Every function takes a ``seed`` and returns the same data for the same arguments on every
machine, so figures, numbers in the text and tests agree run to run.
"""

import numpy as np
import torch


def rng(seed):
    """A numpy random generator for ``seed``."""
    return np.random.default_rng(seed)


def torch_generator(seed):
    """A torch CPU random generator for ``seed``."""
    return torch.Generator().manual_seed(seed)


def feature_batches(n_batches, batch_size, means, stds, seed=0, dtype=torch.float32):
    """``n_batches`` tensors of shape (batch_size, C) drawn from N(means, stds²) per channel.

    A stand-in for the activations a BatchNorm layer sees during training: a stream of small
    batches from one fixed distribution whose true mean and variance are known.
    """
    means = torch.as_tensor(means, dtype=dtype)
    stds = torch.as_tensor(stds, dtype=dtype)
    generator = torch_generator(seed)
    return [
        means + stds * torch.randn(batch_size, len(means), generator=generator, dtype=dtype)
        for _ in range(n_batches)
    ]
