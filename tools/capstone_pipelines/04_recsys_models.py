"""More wrong capstone pipelines for 04_recsys_models (run by tools/capstone_tiers.py, not by make test).

Each entry replaces ``capstone_train``; the reference ``capstone_predict`` calls the returned module on the
query IDs under ``torch.no_grad()``. ``[max tier N]`` is the tier the pipeline must stay at or below.
"""

import numpy as np
import torch
import torch.nn as nn

from tests.wrong_answers import wrong


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
