"""More wrong capstone pipelines for 01_fundamentals (run by tools/capstone_tiers.py, not by make test)."""

import torch
import torch.nn.functional as F

from tests.wrong_answers import wrong


@wrong("capstone_train", "scikit-learn's MLPClassifier with its default settings [max tier 2]")
def capstone_train_sklearn_default(train, time_budget_s):
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(random_state=0).fit(*train)
    return (lambda z: torch.as_tensor(model.predict_proba(z.numpy()))), torch.zeros(1), torch.ones(1)


@wrong("capstone_train", "the reference network without its ReLUs: a stack of linear layers is one linear map "
                         "[max tier 1]")
def capstone_train_no_activation(train, time_budget_s):
    X, y = torch.as_tensor(train[0]), torch.as_tensor(train[1])
    mean, std = X.mean(0), X.std(0)
    X = (X - mean) / std
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 128), torch.nn.Linear(128, 128), torch.nn.Linear(128, 3))
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(1000):
        batch = torch.randint(len(y), (64,), generator=g)
        loss = F.cross_entropy(model(X[batch]), y[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval(), mean, std
