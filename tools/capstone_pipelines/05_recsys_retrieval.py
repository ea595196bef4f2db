"""More wrong capstone pipelines for 05_recsys_retrieval (run by tools/capstone_tiers.py, not by make test)."""

import numpy as np
import torch
import torch.nn.functional as F

from tests.wrong_answers import helper, wrong


@helper
def _capstone_two_tower(train, *, tau=0.05, log_q_correction=True, content_features=True, epochs=5):
    history_length, dim = 20, 64
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    n_items = train["n_items"]
    users, items = train["user"], train["item"]
    position = np.arange(users.size) - np.searchsorted(users, users)
    history = np.full((users.size, history_length), n_items)
    for back in range(1, history_length + 1):
        has = np.flatnonzero(position >= back)
        history[has, history_length - back] = items[has - back]
    X, Y = torch.from_numpy(history[position >= 1]), torch.from_numpy(items[position >= 1])
    counts = np.bincount(items, minlength=n_items)
    log_q = torch.from_numpy(np.log(np.maximum(counts, 1) / counts.sum())).float()
    content = torch.from_numpy(train["item_content"]).float()
    content = torch.cat([(content - content.mean(0)) / content.std(0), torch.zeros(1, content.shape[1])])
    ids = torch.nn.Embedding(n_items + 1, dim)
    linear = torch.nn.Linear(content.shape[1], dim, bias=False)
    tower = torch.nn.Sequential(torch.nn.Linear(dim, dim), torch.nn.ReLU(), torch.nn.Linear(dim, dim))
    if content_features:
        torch.nn.init.zeros_(ids.weight)

    def item_vectors(i):
        return ids(i) + linear(content[i]) if content_features else ids(i)

    def user_vectors(h):
        real = (h < n_items).unsqueeze(-1).float()
        return tower((item_vectors(h) * real).sum(1) / real.sum(1).clamp(min=1.0))

    optimiser = torch.optim.Adam([*ids.parameters(), *linear.parameters(), *tower.parameters()], lr=0.03)
    for _ in range(epochs):
        for batch in torch.randperm(len(Y), generator=generator).split(1024):
            logits = F.normalize(user_vectors(X[batch]), dim=-1) @ F.normalize(item_vectors(Y[batch]), dim=-1).T / tau
            if log_q_correction:
                logits = logits - log_q[Y[batch]][None, :]
            loss = F.cross_entropy(logits, torch.arange(len(batch)))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    seen = [items[users == u] for u in range(train["n_users"])]
    last = np.full((train["n_users"], history_length), n_items)
    for u, past in enumerate(seen):
        if past.size:
            last[u, -min(past.size, history_length):] = past[-history_length:]
    with torch.no_grad():
        return {"users": F.normalize(user_vectors(torch.from_numpy(last)), dim=-1).numpy(),
                "items": F.normalize(item_vectors(torch.arange(n_items)), dim=-1).numpy(), "seen": seen}


@wrong("capstone_train", "popularity: the most-clicked unseen items for everybody [max tier 1]")
def capstone_train_popularity(train, time_budget_s):
    counts = np.bincount(train["item"], minlength=train["n_items"]).astype(np.float64)
    seen = [train["item"][train["user"] == u] for u in range(train["n_users"])]
    return {"users": np.ones((train["n_users"], 1)), "items": (counts / counts.max())[:, None], "seen": seen}
