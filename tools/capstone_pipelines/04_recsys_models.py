"""More wrong capstone pipelines for 04_recsys_models (run by tools/capstone_tiers.py, not by make test).

Each entry replaces ``capstone_train``; the reference ``capstone_predict`` calls the returned module on the
query IDs under ``torch.no_grad()``. ``[max tier N]`` is the tier the pipeline must stay at or below.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from tests.wrong_answers import wrong


@wrong("capstone_train", "an embedding-MLP trained for one epoch at learning rate 3e-4: underfit [max tier 0]")
def capstone_train_underfit(train, time_budget_s):
    class EmbeddingMLP(nn.Module):
        def __init__(self, field_dims, k=8):
            super().__init__()
            self.register_buffer("offsets", torch.tensor(np.concatenate([[0], np.cumsum(field_dims)[:-1]])))
            self.embedding = nn.Embedding(int(sum(field_dims)), k)
            nn.init.normal_(self.embedding.weight, std=0.01)
            self.mlp = nn.Sequential(nn.Linear(len(field_dims) * k, 64), nn.ReLU(), nn.Linear(64, 1))

        def forward(self, x):
            return self.mlp(self.embedding(x + self.offsets).flatten(1)).squeeze(-1)

    torch.manual_seed(0)
    X, y = torch.from_numpy(train["X"]), torch.from_numpy(train["click"]).float()
    model = EmbeddingMLP(train["field_dims"])
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-4)
    for batch in torch.randperm(len(y), generator=torch.Generator().manual_seed(1)).split(1024):
        loss = F.binary_cross_entropy_with_logits(model(X[batch]), y[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


@wrong("capstone_train", "first order only: one weight per ID, logistic regression on the fields [max tier 0]")
def capstone_train_first_order(train, time_budget_s):
    class FirstOrder(nn.Module):
        def __init__(self, field_dims):
            super().__init__()
            self.register_buffer("offsets", torch.tensor(np.concatenate([[0], np.cumsum(field_dims)[:-1]])))
            self.weights = nn.Embedding(int(sum(field_dims)), 1)
            nn.init.zeros_(self.weights.weight)
            self.bias = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return self.bias + self.weights(x + self.offsets).sum(dim=(1, 2))

    torch.manual_seed(0)
    X, y = torch.from_numpy(train["X"]), torch.from_numpy(train["click"]).float()
    model = FirstOrder(train["field_dims"])
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(1)
    for _ in range(4):
        for batch in torch.randperm(len(y), generator=generator).split(1024):
            loss = F.binary_cross_entropy_with_logits(model(X[batch]), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.eval()


@wrong("capstone_train", "the item's smoothed training CTR only: no user, no context [max tier 0]")
def capstone_train_item_ctr(train, time_budget_s):
    class ItemCTR(nn.Module):
        def __init__(self, item_ctr):
            super().__init__()
            self.register_buffer("item_ctr", torch.from_numpy(item_ctr))

        def forward(self, x):
            return self.item_ctr[x[:, 1]]

    n_items = train["field_dims"][1]
    clicks = np.bincount(train["X"][:, 1], weights=train["click"], minlength=n_items)
    shown = np.bincount(train["X"][:, 1], minlength=n_items)
    return ItemCTR((clicks + 1.0) / (shown + 7.0))
