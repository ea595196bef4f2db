"""The synthetic impression log of 04_recsys_models."""

import numpy as np

from course.data.common import rng

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
