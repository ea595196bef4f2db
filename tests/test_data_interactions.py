"""course.data.interaction_log: deterministic, consistent views, and a planted truth the data follow."""

import numpy as np
import pytest

from course import data
from course.data.interactions import _session_probs


@pytest.fixture(scope="module")
def log():
    return data.interaction_log()


def test_same_seed_same_log_and_another_seed_differs(log):
    again = data.interaction_log()
    for name in ("user", "item", "timestamp", "session", "item_content", "item_factors"):
        assert np.array_equal(getattr(log, name), getattr(again, name)), name
    assert not np.array_equal(data.interaction_log(seed=1).item[:100], log.item[:100])


def test_shapes_ids_and_order(log):
    assert log.item_factors.shape == (log.n_items, 16) and log.item_content.shape == (log.n_items, 24)
    assert log.user.min() >= 0 and log.user.max() < log.n_users
    assert log.item.min() >= 0 and log.item.max() < log.n_items
    assert np.all(np.diff(log.user) >= 0), "events are sorted by user"
    assert np.all(np.diff(log.session) >= 0), "sessions are numbered in (user, time) order"
    same_session = log.session[1:] == log.session[:-1]
    assert np.all(np.diff(log.timestamp)[same_session] > 0), "time increases within a session"
    for items in log.sessions()[:500]:
        assert np.unique(items).size == items.size, "a session never repeats an item"
    assert np.isclose(log.item_popularity.sum(), 1.0)
    np.testing.assert_allclose(log.user_interest_weights.sum(axis=1), 1.0)
    assert set(np.unique((log.user_interests >= 0).sum(axis=1))) == {1, 2, 3}


def test_new_items_appear_only_after_their_release_and_never_in_training(log):
    assert log.item_is_new.sum() == 100
    assert not log.item_is_new[log.item[log.train]].any()
    assert np.all(log.timestamp >= log.item_release[log.item])
    assert log.item_is_new[log.item[log.test]].any()


def test_views_agree_with_the_events(log):
    matrix = log.interaction_matrix(log.train)
    assert matrix.shape == (log.n_users, log.n_items) and set(np.unique(matrix.data)) == {1.0}
    pairs = set(zip(log.user[log.train].tolist(), log.item[log.train].tolist(), strict=True))
    assert matrix.nnz == len(pairs)
    histories = log.user_histories(log.train)
    assert sum(h.size for h in histories) == log.train.sum()
    assert sum(s.size for s in log.sessions(log.train)) == log.train.sum()
    graph = log.co_click_graph(log.train)
    assert (graph != graph.T).nnz == 0 and graph.diagonal().sum() == 0


def test_the_data_follow_the_planted_model(log):
    # sessions mostly stay in the category of the interest that drives them
    in_interest = log.item_category[log.item] == log.user_interests[log.user, log.session_interest]
    assert in_interest.mean() > 0.6
    # the first item of every session is one draw from that session's distribution: their empirical
    # distribution is close to the mean of those distributions (total variation ~0.06 from sampling noise)
    first = np.flatnonzero(np.r_[True, log.session[1:] != log.session[:-1]])
    users, interest, day = log.user[first], log.session_interest[first], log.timestamp[first]
    released = log.item_release[None, :] <= day[:, None]
    expected = _session_probs(log.user_interest_factors[users, interest], log.item_factors, log.item_popularity,
                              released, log.explore).mean(axis=0)
    observed = np.bincount(log.item[first], minlength=log.n_items) / first.size
    assert 0.5 * np.abs(observed - expected).sum() < 0.1
    assert 0.5 * np.abs(observed - np.full(log.n_items, 1 / log.n_items)).sum() > 0.3
    # the true next-item distribution of a user mixes the user's interests; nothing unreleased
    probs = log.true_item_probs(day=log.n_days)
    assert np.allclose(probs.sum(axis=1), 1.0) and np.all(probs[:, log.item_is_new] > 0)
    assert np.all(log.true_item_probs(day=0.0)[:, log.item_is_new] == 0)
    # long tail: the most popular fifth of the catalogue gets most interactions
    counts = np.sort(np.bincount(log.item, minlength=log.n_items))[::-1]
    assert counts[: log.n_items // 5].sum() > 0.6 * counts.sum()


def test_ratings_are_the_planted_low_rank_matrix_plus_the_stated_noise(log):
    ratings, observed = log.ratings(log.train)
    again, _ = log.ratings(log.train)
    assert np.array_equal(ratings, again)
    residual = (ratings - log.true_rating())[observed]
    assert abs(residual.std() - log.rating_noise) < 0.02 and abs(residual.mean()) < 0.02
    assert np.linalg.matrix_rank(log.true_rating()[:100] - 3.0) == log.item_factors.shape[1]
