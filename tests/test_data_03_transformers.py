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


def test_digit_sorting_sorts_the_real_symbols_by_one_secret_order_per_seed():
    inputs, targets, lengths = data.digit_sorting(300, seed=5)
    again = data.digit_sorting(300, seed=5)
    assert all(torch.equal(a, b) for a, b in zip((inputs, targets, lengths), again, strict=True))
    assert inputs.shape == targets.shape == (300, 12) and bool((inputs >= 0).all() and (inputs < 10).all())
    rank = {}
    for row, target, n in zip(inputs, targets, lengths.tolist(), strict=True):
        assert sorted(row[:n].tolist()) == sorted(target[:n].tolist()) and bool((target[n:] == -100).all())
        for a, b in zip(target[:n - 1].tolist(), target[1:n].tolist(), strict=True):
            rank.setdefault((a, b), True)
    assert not any((b, a) in rank for a, b in rank if a != b)  # one consistent order
    assert not torch.equal(targets, data.digit_sorting(300, seed=6)[1])


def test_next_item_sessions_follow_the_planted_chains():
    items, lengths = data.next_item_sessions(500, n_items=60, n_categories=3, seed=2)
    assert items.shape == (500, 12) and items.dtype == lengths.dtype == torch.int64
    assert int(lengths.min()) >= 4 and int(lengths.max()) <= 12
    padding = torch.arange(12) >= lengths[:, None]
    assert bool((items[padding] == 60).all()) and bool((items[~padding] < 60).all())
    again, _ = data.next_item_sessions(500, n_items=60, n_categories=3, seed=2)
    assert torch.equal(items, again)
