"""Sequence tasks for 03_transformers."""

import torch

from course.data.common import torch_generator

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
