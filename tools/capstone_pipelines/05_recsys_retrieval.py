"""More wrong capstone pipelines for 05_recsys_retrieval (run by tools/capstone_tiers.py, not by make test)."""

import numpy as np

from tests.wrong_answers import wrong


@wrong("capstone_train", "popularity: the most-clicked unseen items for everybody [max tier 1]")
def capstone_train_popularity(train, time_budget_s):
    counts = np.bincount(train["item"], minlength=train["n_items"]).astype(np.float64)
    seen = [train["item"][train["user"] == u] for u in range(train["n_users"])]
    return {"users": np.ones((train["n_users"], 1)), "items": (counts / counts.max())[:, None], "seen": seen}
