"""Sequence tasks for 03_transformers."""

import numpy as np
import torch

from course.data.common import rng, torch_generator

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


def digit_sorting(n_examples, max_len=12, min_len=3, seed=0):
    """The capstone task of 03: sort strings of symbols 0..9 by a secret order; the padding holds leftovers.

    The ten symbols are ranked by a random order drawn from ``seed`` (not 0 < 1 < ... < 9: a model must
    learn it from the examples, and it differs from seed to seed). Returns ``(inputs, targets, lengths)``:
    ``inputs`` (n, max_len) int64 symbols 0..9 everywhere, of which only the first ``length`` are the
    sequence (the rest are arbitrary leftovers, as in a reused buffer: only ``lengths`` says where a
    sequence ends); ``targets`` (n, max_len) int64, the real symbols sorted by the secret order, and -100
    at padded positions; ``lengths`` (n,) int64 in [min_len, max_len].
    """
    generator = torch_generator(seed)
    rank = torch.randperm(10, generator=generator)  # rank[s]: the position of symbol s in the secret order
    lengths = torch.randint(min_len, max_len + 1, (n_examples,), generator=generator)
    inputs = torch.randint(0, 10, (n_examples, max_len), generator=generator)
    real = torch.arange(max_len) < lengths[:, None]
    keys = rank[inputs].masked_fill(~real, 10)  # the leftovers sort to the end
    ordered = torch.gather(inputs, 1, keys.sort(dim=1, stable=True).indices)
    targets = ordered.masked_fill(~real, -100)
    return inputs, targets, lengths


def next_item_sessions(n_sessions, n_items=120, n_categories=6, max_len=12, min_len=4, p_next=0.6, p_noise=0.2,
                       seed=0):
    """Synthetic browsing sessions with a planted order, for next-item recommendation (03).

    Items ``0 .. n_items - 1`` fall into ``n_categories`` equal categories; inside each category the
    items form a planted **chain** (a random cyclic order: think of the episodes of a series or the
    next product of a range); every item has a long-tailed base popularity (Zipf, exponent 1). A session
    follows one category (its interest, drawn uniformly). Its first item is drawn by popularity within
    the category; every later item is

    * with probability ``p_noise`` a **noise click**: an item of any category, drawn by popularity;
    * with probability ``p_next`` the chain **successor** of the *anchor*, the session's last item
      that was not a noise click;
    * otherwise another item of the session's category, drawn by popularity.

    So the last item predicts the next one well unless it was a noise click; a model that reads the
    whole sequence can look past noise clicks to the anchor and knows the session's category.

    Returns ``(items, lengths)``: ``items`` (n_sessions, max_len) int64, the session's items followed by
    ``n_items`` (the padding id) after its length; ``lengths`` (n_sessions,) int64 in [min_len, max_len].
    """
    if n_items % n_categories:
        raise ValueError("n_items must be a multiple of n_categories")
    r = rng(seed)
    per_category = n_items // n_categories
    layout = r.permutation(n_items).reshape(n_categories, per_category)  # row c: category c's chain, in order
    successor = np.empty(n_items, dtype=np.int64)
    successor[layout] = np.roll(layout, -1, axis=1)
    category = np.empty(n_items, dtype=np.int64)
    category[layout] = np.arange(n_categories)[:, None]
    popularity = 1.0 / np.arange(1, n_items + 1)
    popularity = popularity[r.permutation(n_items)]
    popularity /= popularity.sum()
    within = popularity[layout] / popularity[layout].sum(axis=1, keepdims=True)  # (n_categories, per_category)

    lengths = r.integers(min_len, max_len + 1, n_sessions)
    interest = r.integers(0, n_categories, n_sessions)
    items = np.full((n_sessions, max_len), n_items, dtype=np.int64)
    cumulative_within = within.cumsum(axis=1)
    cumulative_all = popularity.cumsum()

    def by_popularity_within(cats, u):
        index = (u[:, None] > cumulative_within[cats]).sum(axis=1).clip(max=per_category - 1)
        return layout[cats, index]

    anchor = by_popularity_within(interest, r.random(n_sessions))
    items[:, 0] = anchor
    for t in range(1, max_len):
        kind = r.random(n_sessions)
        noise = np.searchsorted(cumulative_all, r.random(n_sessions) * cumulative_all[-1], side="right")
        noise = noise.clip(max=n_items - 1)
        other = by_popularity_within(interest, r.random(n_sessions))
        chosen = np.where(kind < p_noise, noise, np.where(kind < p_noise + p_next, successor[anchor], other))
        alive = t < lengths
        items[alive, t] = chosen[alive]
        anchor = np.where(alive & (kind >= p_noise), chosen, anchor)
    return torch.from_numpy(items), torch.from_numpy(lengths.astype(np.int64))
