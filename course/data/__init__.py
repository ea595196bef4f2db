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


# --- 04_recsys_models -----------------------------------------------------------------------

CLICK_LOG_FIELDS = ("user", "item", "category", "age", "device", "hour")


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def click_log(n_impressions=150_000, n_users=500, n_items=600, n_categories=20, seed=0):
    """A synthetic impression log with clicks, conversions and their TRUE probabilities.

    Each impression shows one item to one user in a context (device, hour bucket). Items
    belong to categories; item popularity is long-tailed (Zipf, exponent 1.1), so a few
    items get most impressions. The true click logit is

        bias + user activity + item quality
        + <user taste, category vector>            (user x category, low rank)
        + age x category table                     (a planted pairwise interaction)
        + device x hour table                      (another one)

    and ``true_ctr = sigmoid(logit)``; ``click ~ Bernoulli(true_ctr)``. Conversions happen
    only after a click: ``true_cvr`` has its own logit (item quality, age x category) and
    ``conversion = click * Bernoulli(true_cvr)``. A model can therefore be compared with the
    oracle that knows ``true_ctr``.

    Returns a dict of numpy arrays of length ``n_impressions`` (``user``, ``item``,
    ``category``, ``age``, ``device``, ``hour`` as int64 field-local ids, ``click`` and
    ``conversion`` as float64 0/1, ``true_ctr``, ``true_cvr``), plus ``X`` (n, 6) int64, the six
    fields in the order of ``CLICK_LOG_FIELDS``, ``field_dims`` (a tuple of six ints) and
    ``item_category`` (n_items,), the category of every item.
    """
    r = rng(seed)
    n_age, n_device, n_hour = 6, 4, 8
    item_category = r.integers(0, n_categories, n_items)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 1.1
    popularity = popularity[r.permutation(n_items)]
    popularity /= popularity.sum()
    user_age = r.integers(0, n_age, n_users)
    user_activity = r.normal(0.0, 0.4, n_users)
    item_quality = r.normal(0.0, 0.5, n_items)
    user_taste = r.normal(0.0, 1.0, (n_users, 3))
    category_vector = r.normal(0.0, 0.6, (n_categories, 3))
    age_category = r.normal(0.0, 0.8, (n_age, n_categories))
    device_hour = r.normal(0.0, 0.6, (n_device, n_hour))
    item_price = r.normal(0.0, 1.0, n_items)
    age_price = r.normal(0.0, 0.7, n_age)

    user = r.integers(0, n_users, n_impressions)
    item = r.choice(n_items, n_impressions, p=popularity)
    category = item_category[item]
    age = user_age[user]
    device = r.integers(0, n_device, n_impressions)
    hour = r.integers(0, n_hour, n_impressions)

    ctr_logit = (-2.2 + user_activity[user] + item_quality[item]
                 + np.einsum("nf,nf->n", user_taste[user], category_vector[category])
                 + age_category[age, category] + device_hour[device, hour])
    cvr_logit = -1.5 + 0.8 * item_quality[item] + age_price[age] * item_price[item] + 0.5 * age_category[age, category]
    true_ctr, true_cvr = _sigmoid(ctr_logit), _sigmoid(cvr_logit)
    click = (r.random(n_impressions) < true_ctr).astype(np.float64)
    conversion = click * (r.random(n_impressions) < true_cvr)

    columns = dict(user=user, item=item, category=category, age=age, device=device, hour=hour)
    columns = {name: columns[name].astype(np.int64) for name in CLICK_LOG_FIELDS}
    return dict(
        **columns,
        click=click, conversion=conversion.astype(np.float64), true_ctr=true_ctr, true_cvr=true_cvr,
        X=np.stack([columns[name] for name in CLICK_LOG_FIELDS], axis=1),
        field_dims=(n_users, n_items, n_categories, n_age, n_device, n_hour),
        item_category=item_category.astype(np.int64),
    )


def float32_exact(values):
    """``values`` rounded to the nearest float32, returned as float64.

    scikit-learn's trees compare features in float32; data that are exact in float32 make a
    hand-written tree and scikit-learn's see the same thresholds.
    """
    return np.asarray(values).astype(np.float32).astype(np.float64)
