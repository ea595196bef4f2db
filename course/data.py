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


PAD_DIGIT = 10  # the padding token of ``digit_reversal`` (digits are 0..9)


def digit_reversal(n_examples, max_len=12, min_len=3, seed=0):
    """A synthetic sequence task: reverse strings of digits of random length, padded to ``max_len``.

    Returns ``(inputs, targets, lengths)``: ``inputs`` (n, max_len) int64 digits 0..9 followed by
    ``PAD_DIGIT``; ``targets`` (n, max_len) int64, the first ``length`` digits reversed and -100
    (cross-entropy's ``ignore_index``) at padded positions; ``lengths`` (n,) int64 in [min_len, max_len].
    """
    generator = torch_generator(seed)
    lengths = torch.randint(min_len, max_len + 1, (n_examples,), generator=generator)
    digits = torch.randint(0, 10, (n_examples, max_len), generator=generator)
    position = torch.arange(max_len)
    real = position < lengths[:, None]
    source = (lengths[:, None] - 1 - position).clamp(min=0)
    targets = torch.gather(digits, 1, source).masked_fill(~real, -100)
    inputs = digits.masked_fill(~real, PAD_DIGIT)
    return inputs, targets, lengths
