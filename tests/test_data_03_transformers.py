"""The synthetic data of chapter 03_transformers is deterministic and well formed."""

import torch

from course import data


def test_digit_reversal_is_deterministic_and_reverses_the_real_digits():
    inputs, targets, lengths = data.digit_reversal(50, max_len=9, min_len=2, seed=3)
    again = data.digit_reversal(50, max_len=9, min_len=2, seed=3)
    assert all(torch.equal(a, b) for a, b in zip((inputs, targets, lengths), again, strict=True))
    assert not torch.equal(inputs, data.digit_reversal(50, max_len=9, min_len=2, seed=4)[0])
    assert inputs.shape == targets.shape == (50, 9) and lengths.shape == (50,)
    assert inputs.dtype == targets.dtype == lengths.dtype == torch.int64
    assert int(lengths.min()) >= 2 and int(lengths.max()) <= 9
    for row, target, n in zip(inputs, targets, lengths.tolist(), strict=True):
        assert torch.equal(target[:n], row[:n].flip(0))
        assert bool((row[:n] < 10).all()) and bool((row[n:] == data.PAD_DIGIT).all())
        assert bool((target[n:] == -100).all())
