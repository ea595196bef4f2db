"""The synthetic click/conversion log of 04_recsys_models is deterministic and has the promised structure."""

import numpy as np
import pytest

from course import data


@pytest.fixture(scope="module")
def log():
    return data.click_log(n_impressions=40_000, n_users=300, n_items=400, n_categories=12, seed=3)


def test_same_seed_same_log_and_other_seed_other_log(log):
    again = data.click_log(n_impressions=40_000, n_users=300, n_items=400, n_categories=12, seed=3)
    other = data.click_log(n_impressions=40_000, n_users=300, n_items=400, n_categories=12, seed=4)
    for key, value in log.items():
        assert np.array_equal(np.asarray(value), np.asarray(again[key])), key
    assert not np.array_equal(log["true_ctr"], other["true_ctr"])


def test_shapes_dtypes_and_ranges(log):
    n = 40_000
    assert log["X"].shape == (n, 6) and log["X"].dtype == np.int64
    assert log["field_dims"] == (300, 400, 12, 6, 4, 8)
    for column, (name, size) in enumerate(zip(data.CLICK_LOG_FIELDS, log["field_dims"], strict=True)):
        assert np.array_equal(log["X"][:, column], log[name])
        assert log[name].min() >= 0 and log[name].max() < size, name
    assert np.array_equal(log["category"], log["item_category"][log["item"]])
    for key in ("click", "conversion", "true_ctr", "true_cvr"):
        assert log[key].shape == (n,) and log[key].dtype == np.float64
    assert set(np.unique(log["click"])) <= {0.0, 1.0} and set(np.unique(log["conversion"])) <= {0.0, 1.0}
    assert np.all((log["true_ctr"] > 0) & (log["true_ctr"] < 1) & (log["true_cvr"] > 0) & (log["true_cvr"] < 1))


def test_labels_follow_the_true_probabilities(log):
    click, conversion = log["click"], log["conversion"]
    assert np.all(conversion <= click), "a conversion needs a click"
    ctr_sd = np.sqrt(log["true_ctr"].mean() / len(click))
    assert abs(click.mean() - log["true_ctr"].mean()) < 5 * ctr_sd
    clicked = click == 1
    cvr_sd = np.sqrt(0.25 / clicked.sum())
    assert abs(conversion[clicked].mean() - log["true_cvr"][clicked].mean()) < 5 * cvr_sd


def test_popularity_is_long_tailed(log):
    counts = np.sort(np.bincount(log["item"], minlength=400))[::-1]
    assert counts[:40].sum() > 0.5 * counts.sum(), "the top 10% of items should get most impressions"


def test_planted_interaction_is_there(log):
    """The CTR of a category depends on the user's age group beyond the two main effects."""
    ctr = log["true_ctr"]
    table = np.zeros((6, 12))
    for age in range(6):
        for category in range(12):
            table[age, category] = ctr[(log["age"] == age) & (log["category"] == category)].mean()
    logit = np.log(table / (1 - table))
    residual = logit - logit.mean(axis=0) - logit.mean(axis=1, keepdims=True) + logit.mean()
    assert residual.std() > 0.3
