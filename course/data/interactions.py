"""A synthetic user-item interaction log with a planted truth (05_recsys_retrieval, 06, 07).

Retrieval methods are judged by how well they recover what generated the data, so the log is
generated from a small, fully known model:

* **Items** belong to categories (uneven sizes). Each item has a planted latent vector
  ``item_factors[i] = centre[category] + noise``, a long-tailed base popularity (Zipf, exponent 1),
  **content features** (a noisy linear map of its latent vector: what a cold-start model may see),
  and a release day: most items exist from day 0, ``new_item_fraction`` of them are released only
  after ``t_split`` (cold-start items: never seen in training).
* **Users** have 1, 2 or 3 planted **interests** (categories, with weights and one taste vector per
  interest) and a long-tailed activity (many users with one or two sessions, a few very active).
* **Sessions**: a user opens sessions at random times over ``n_days`` days; each session follows
  one interest and draws a few distinct items, with probability

      (1 - explore) * softmax_i(log popularity_i + <taste_k, item_factors_i>) + explore * popularity_i

  over the items already released. So items that co-occur in sessions share a category (Item2Vec,
  ItemCF and the co-click graph can find the categories), popular items are over-represented (the
  long tail), and a user's sessions switch between interests (multi-interest retrieval).
* **Ratings** (for matrix factorisation): ``3 + 0.25 * <user_factors_u, item_factors_i>`` plus
  Gaussian noise of standard deviation ``rating_noise``, so the best achievable RMSE is known.

``interaction_log()`` returns an :class:`InteractionLog` with the events (sorted by user, then time)
and the planted truth; its methods build the usual views (interaction matrix, sessions, histories,
co-click graph, ratings, the true next-item distribution).
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from course.data.common import rng

MAX_INTERESTS = 3
RATING_OFFSET, RATING_SCALE = 3.0, 0.25


@dataclass(frozen=True, eq=False)
class InteractionLog:
    """Events and planted truth of ``interaction_log()``; arrays are numpy, ids are int64 from 0."""

    # the catalogue
    item_category: np.ndarray  # (n_items,) category of every item
    item_factors: np.ndarray  # (n_items, dim) planted latent vectors
    item_content: np.ndarray  # (n_items, content_dim) content features (a noisy linear map of the factors)
    item_popularity: np.ndarray  # (n_items,) planted base popularity, sums to 1
    item_release: np.ndarray  # (n_items,) day from which an item can be consumed (0 for the original catalogue)
    category_centres: np.ndarray  # (n_categories, dim)
    # the users
    user_interests: np.ndarray  # (n_users, 3) category of each planted interest, -1 where the user has fewer
    user_interest_weights: np.ndarray  # (n_users, 3) how often each interest drives a session (0 where none)
    user_interest_factors: np.ndarray  # (n_users, 3, dim) taste vector of each interest (0 where none)
    user_factors: np.ndarray  # (n_users, dim) the weighted mean of a user's interest vectors
    # the events, sorted by user and then time
    user: np.ndarray  # (n_events,)
    item: np.ndarray  # (n_events,)
    timestamp: np.ndarray  # (n_events,) float64, in days
    session: np.ndarray  # (n_events,) session id, increasing with (user, time)
    session_interest: np.ndarray  # (n_events,) which of the user's interests (0..2) drove the session
    # settings
    t_split: float  # events before this day are the training period, the rest the test period
    n_days: float
    explore: float  # the share of draws that follow popularity alone
    rating_noise: float
    seed: int

    @property
    def n_users(self):
        return self.user_interests.shape[0]

    @property
    def n_items(self):
        return self.item_category.shape[0]

    @property
    def n_categories(self):
        return self.category_centres.shape[0]

    @property
    def train(self):
        """Boolean mask of the events in the training period (timestamp < t_split)."""
        return self.timestamp < self.t_split

    @property
    def test(self):
        return ~self.train

    @property
    def item_is_new(self):
        """Items released after ``t_split``: they never occur in the training period."""
        return self.item_release >= self.t_split

    def _events(self, mask):
        return np.ones(self.user.size, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)

    def interaction_matrix(self, mask=None):
        """Binary (n_users, n_items) ``scipy.sparse.csr_matrix`` (float64) of the events in ``mask``."""
        keep = self._events(mask)
        matrix = sp.csr_matrix((np.ones(int(keep.sum())), (self.user[keep], self.item[keep])),
                               shape=(self.n_users, self.n_items))
        matrix.data[:] = 1.0  # repeated interactions count once
        return matrix

    def sessions(self, mask=None):
        """The item sequences of the sessions in ``mask``, in time order (a list of int64 arrays)."""
        keep = self._events(mask)
        session, item = self.session[keep], self.item[keep]
        starts = np.flatnonzero(np.r_[True, session[1:] != session[:-1]])
        return np.split(item, starts[1:])

    def user_histories(self, mask=None):
        """Every user's items in time order (a list of n_users int64 arrays, possibly empty)."""
        keep = self._events(mask)
        user, item = self.user[keep], self.item[keep]
        bounds = np.searchsorted(user, np.arange(self.n_users + 1))
        return [item[bounds[u]:bounds[u + 1]] for u in range(self.n_users)]

    def co_click_graph(self, mask=None):
        """Symmetric (n_items, n_items) csr matrix: how many sessions in ``mask`` contain both items
        (zero diagonal). Its communities are the planted categories."""
        rows, cols = [], []
        for items in self.sessions(mask):
            items = np.unique(items)
            a, b = np.meshgrid(items, items, indexing="ij")
            off = a != b
            rows.append(a[off])
            cols.append(b[off])
        rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)
        graph = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(self.n_items, self.n_items))
        graph.sum_duplicates()
        return graph

    def true_rating(self, users=None, items=None):
        """The planted, noise-free rating matrix (len(users), len(items)) (all users/items by default)."""
        users = np.arange(self.n_users) if users is None else np.asarray(users)
        items = np.arange(self.n_items) if items is None else np.asarray(items)
        return RATING_OFFSET + RATING_SCALE * self.user_factors[users] @ self.item_factors[items].T

    def ratings(self, mask=None):
        """``(R, observed)``: dense (n_users, n_items) noisy ratings and the boolean mask of the
        user-item pairs with an event in ``mask``. The noise is fixed per pair (the same on every call);
        entries of R outside ``observed`` are the held-out truth plus noise, for evaluation only."""
        noise = rng(self.seed + 1).normal(0.0, self.rating_noise, (self.n_users, self.n_items))
        observed = self.interaction_matrix(mask).toarray() > 0
        return self.true_rating() + noise, observed

    def true_item_probs(self, users=None, day=None):
        """The planted next-item distribution (len(users), n_items) of a session opened on ``day``
        (default ``t_split``): the interest mixture of the generating model. Rows sum to 1."""
        users = np.arange(self.n_users) if users is None else np.asarray(users)
        day = self.t_split if day is None else day
        released = self.item_release <= day
        probs = np.zeros((users.size, self.n_items))
        for k in range(MAX_INTERESTS):
            weight = self.user_interest_weights[users, k]
            active = weight > 0
            if active.any():
                per_interest = _session_probs(self.user_interest_factors[users[active], k], self.item_factors,
                                              self.item_popularity, released[None, :], self.explore)
                probs[active] += weight[active, None] * per_interest
        return probs


def _session_probs(taste, item_factors, popularity, released, explore):
    """(n, n_items) item distribution of sessions with these taste vectors; ``released`` (n or 1, n_items)."""
    logits = np.log(popularity)[None, :] + taste @ item_factors.T
    logits = np.where(released, logits, -np.inf)
    logits -= logits.max(axis=1, keepdims=True)
    preference = np.exp(logits)
    preference /= preference.sum(axis=1, keepdims=True)
    base = np.where(released, popularity[None, :], 0.0)
    base = base / base.sum(axis=1, keepdims=True)
    return (1 - explore) * preference + explore * base


def interaction_log(n_users=2000, n_items=1000, n_categories=10, dim=16, content_dim=24, n_days=60.0,
                    t_split=50.0, new_item_fraction=0.1, explore=0.05, rating_noise=0.5, seed=0):
    """A deterministic synthetic interaction log with a planted truth (see the module docstring).

    Defaults: 2,000 users, 1,000 items in 10 categories, about 70,000 events over 60 days, the last
    10 days (``t_split`` = 50) being the test period, 10% of the items released only then.
    """
    r = rng(seed)
    # the catalogue
    category_share = r.dirichlet(np.full(n_categories, 5.0))
    item_category = r.choice(n_categories, n_items, p=category_share)
    centres = r.normal(0.0, 1.0, (n_categories, dim))
    centres *= 2.5 / np.linalg.norm(centres, axis=1, keepdims=True)
    item_factors = centres[item_category] + r.normal(0.0, 0.6, (n_items, dim))
    popularity = 1.0 / np.arange(1, n_items + 1)
    popularity = popularity[r.permutation(n_items)]
    popularity /= popularity.sum()
    projection = r.normal(0.0, 1.0 / np.sqrt(dim), (dim, content_dim))
    item_content = item_factors @ projection + r.normal(0.0, 0.3, (n_items, content_dim))
    release = np.zeros(n_items)
    new = r.choice(n_items, int(round(new_item_fraction * n_items)), replace=False)
    release[new] = r.uniform(t_split, n_days - 2.0, new.size)

    # the users
    interests = np.full((n_users, MAX_INTERESTS), -1, dtype=np.int64)
    weights = np.zeros((n_users, MAX_INTERESTS))
    n_interests = r.choice([1, 2, 3], n_users, p=[0.4, 0.4, 0.2])
    for u in range(n_users):
        k = n_interests[u]
        interests[u, :k] = r.choice(n_categories, k, replace=False, p=category_share)
        weights[u, :k] = r.dirichlet(np.full(k, 2.0))
    interest_factors = np.where(interests[..., None] >= 0,
                                centres[interests.clip(min=0)] + r.normal(0.0, 0.6, (n_users, MAX_INTERESTS, dim)),
                                0.0)
    user_factors = np.einsum("uk,ukd->ud", weights, interest_factors)

    # the sessions: who, when, which interest, how long
    activity = r.lognormal(1.2, 0.8, n_users)
    n_sessions = np.minimum(1 + r.poisson(activity), 40)
    session_user = np.repeat(np.arange(n_users), n_sessions)
    session_start = r.uniform(0.0, n_days, session_user.size)
    order = np.lexsort((session_start, session_user))
    session_user, session_start = session_user[order], session_start[order]
    cumulative = np.cumsum(weights[session_user], axis=1)
    session_interest = (r.random(session_user.size)[:, None] > cumulative).sum(axis=1).clip(max=MAX_INTERESTS - 1)
    session_length = np.minimum(1 + r.poisson(3.0, session_user.size), 12)

    # the items of each session: a sample without replacement from the session's distribution, by the
    # exponential race (the k smallest E_i / p_i, E_i ~ Exp(1), are a weighted sample without replacement)
    max_length = int(session_length.max())
    chosen = np.empty((session_user.size, max_length), dtype=np.int64)
    for start in range(0, session_user.size, 2048):
        block = slice(start, start + 2048)
        released = release[None, :] <= session_start[block, None]
        probs = _session_probs(interest_factors[session_user[block], session_interest[block]], item_factors,
                               popularity, released, explore)
        with np.errstate(divide="ignore"):
            race = r.standard_exponential(probs.shape) / probs
        top = np.argpartition(race, max_length - 1, axis=1)[:, :max_length]
        order = np.argsort(np.take_along_axis(race, top, axis=1), axis=1, kind="stable")
        chosen[block] = np.take_along_axis(top, order, axis=1)

    taken = np.arange(max_length)[None, :] < session_length[:, None]
    session_id = np.broadcast_to(np.arange(session_user.size)[:, None], taken.shape)[taken]
    gaps = r.exponential(2.0 / 1440, taken.shape).cumsum(axis=1)  # about two minutes between clicks
    timestamp = (session_start[:, None] + gaps)[taken]
    return InteractionLog(
        item_category=item_category.astype(np.int64), item_factors=item_factors, item_content=item_content,
        item_popularity=popularity, item_release=release, category_centres=centres,
        user_interests=interests, user_interest_weights=weights, user_interest_factors=interest_factors,
        user_factors=user_factors,
        user=session_user[session_id].astype(np.int64), item=chosen[taken], timestamp=timestamp,
        session=session_id.astype(np.int64), session_interest=session_interest[session_id].astype(np.int64),
        t_split=float(t_split), n_days=float(n_days), explore=float(explore), rating_noise=float(rating_noise),
        seed=int(seed),
    )
