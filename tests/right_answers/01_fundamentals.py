"""Right answers for 01_fundamentals (see tests/catalogue.py): each must keep full marks."""

import torch

from tests.right_answers import right


@right("dropout", "a Bernoulli keep-mask from torch.bernoulli (another kind of random draw)")
def dropout_bernoulli(x, p, training, generator=None):
    if not training:
        return x.clone()
    if p >= 1:
        return torch.zeros_like(x)
    keep = torch.bernoulli(torch.full_like(x, 1 - p), generator=generator)
    return x * keep / (1 - p)
