"""course.data.slate_task: the slate task of 07_alignment and its true reward."""

import numpy as np
import pytest

from course import data
from course.data.alignment import BOS, N_SPECIAL, PAD, SEP


@pytest.fixture(scope="module")
def task():
    return data.slate_task()


def test_deterministic_and_consistent_with_the_log(task):
    again = data.slate_task()
    users = task.users_with_history()
    assert np.array_equal(users, again.users_with_history())
    np.testing.assert_array_equal(task.prompts(users), again.prompts(users))
    np.testing.assert_allclose(task.relevance.sum(axis=1), 1.0)
    assert task.vocab_size == N_SPECIAL + task.log.n_categories == 13
    histories = task.log.user_histories(task.log.train)
    for u in users[:50]:
        assert np.array_equal(task.histories[u], task.log.item_category[histories[u]])


def test_prompts_demonstrations_and_corpus(task):
    users = task.users_with_history()
    assert all(len(task.histories[u]) >= task.history_len for u in users)
    prompts = task.prompts(users[:5])
    assert prompts.shape == (5, task.prompt_len) and prompts.dtype == np.int64
    assert (prompts[:, 0] == BOS).all() and (prompts[:, -1] == SEP).all()
    np.testing.assert_array_equal(prompts[0, 1:-1], task.histories[users[0]][-task.history_len:] + N_SPECIAL)
    p, r, owners = task.demonstrations(users[:3])
    expected = sum(len(task.histories[u]) - task.history_len - task.slate_len + 1 for u in users[:3])
    assert p.shape == (expected, task.prompt_len) and r.shape == (expected, task.slate_len)
    first = task.histories[owners[0]] + N_SPECIAL
    np.testing.assert_array_equal(r[0], first[task.history_len:task.history_len + task.slate_len])
    corpus = task.pretraining_corpus()
    assert corpus.shape[1] == task.seq_len and (corpus[:, 0] == BOS).all() and (corpus[:, 1:] >= N_SPECIAL).all()


def test_true_reward_by_hand(task):
    users = task.users_with_history()[:40]
    slates = data.rng(0).integers(N_SPECIAL, task.vocab_size, (40, task.slate_len))
    expected = []
    for u, slate in zip(users, slates, strict=True):
        shown, value = {}, 0.0
        for token in slate:
            c = token - N_SPECIAL
            value += task.relevance[u, c] * task.decay ** shown.get(c, 0)
            shown[c] = shown.get(c, 0) + 1
        slot_values = sorted((task.relevance[u, c] * task.decay**m for c in range(10) for m in range(4)), reverse=True)
        expected.append(value / sum(slot_values[:task.slate_len]))
    np.testing.assert_allclose(task.true_reward(users, slates), expected, rtol=1e-12)


def test_best_slates_score_one_and_special_tokens_score_nothing(task):
    users = task.users_with_history()[:200]
    best = task.best_slates(users)
    np.testing.assert_allclose(task.true_reward(users, best), 1.0)
    rewards = task.true_reward(users, data.rng(1).integers(0, task.vocab_size, (200, task.slate_len)))
    assert (rewards >= 0).all() and (rewards <= 1 + 1e-12).all()
    only_special = np.tile([PAD, BOS, SEP, PAD], (200, 1))
    np.testing.assert_array_equal(task.true_reward(users, only_special), 0.0)


def test_diminishing_returns(task):
    u = task.users_with_history()[:1]
    top = int(np.argmax(task.relevance[u[0]])) + N_SPECIAL
    once = task.true_reward(u, [[top, PAD, PAD, PAD]])[0]
    twice = task.true_reward(u, [[top, top, PAD, PAD]])[0]
    np.testing.assert_allclose(twice - once, task.decay * once)


def test_simulated_preferences_follow_bradley_terry(task):
    users = np.repeat(task.users_with_history()[:1], 20000)
    u = users[0]
    order = np.argsort(-task.relevance[u])
    good = np.tile(np.repeat(order[0], 4) + N_SPECIAL, (20000, 1))
    worse = np.tile(np.r_[np.repeat(order[0], 3), order[1]] + N_SPECIAL, (20000, 1))
    margin = task.true_reward(users[:1], good[:1])[0] - task.true_reward(users[:1], worse[:1])[0]
    prefer = task.simulated_preferences(users, good, worse, temperature=0.05, seed=0)
    p = 1 / (1 + np.exp(-margin / 0.05))
    # 20000 draws: standard error <= 0.0036; 6 standard errors, false-failure probability < 1e-8
    assert abs(prefer.mean() - p) < 6 * np.sqrt(p * (1 - p) / 20000) + 1e-9
    assert np.array_equal(prefer, task.simulated_preferences(users, good, worse, temperature=0.05, seed=0))


def test_main_interest_breaks_ties_by_recency(task):
    prompts = np.array([[BOS, 3, 4, 3, 4, 5, 6, SEP], [BOS, 7, 7, 7, 8, 8, 9, SEP], [BOS, 3, 4, 5, 6, 7, 8, SEP]])
    np.testing.assert_array_equal(task.main_interest(prompts), [4, 7, 8])
    assert task.decode([BOS, 3, SEP]) == "<bos> c0 <sep>"
