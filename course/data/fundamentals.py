"""Data for 01_fundamentals."""

import torch

from course.data.common import torch_generator


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
