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


@wrong("capstone_train", "dropout 0.3 after each ReLU and no model.eval(): early stopping and predictions run with "
                         "dropout on, a different random sub-network for every query [max tier 2]")
def capstone_train_no_eval(train, time_budget_s):
    X, y = torch.as_tensor(train[0]), torch.as_tensor(train[1])
    mean, std = X.mean(0), X.std(0)
    X = (X - mean) / std
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(y), generator=g)
    val, fit = order[: len(y) // 5], order[len(y) // 5:]
    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 128), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                                torch.nn.Linear(128, 128), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                                torch.nn.Linear(128, 3))
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=1e-2, total_steps=600)
    best_accuracy, best_state = -1.0, None
    for step in range(600):
        batch = fit[torch.randint(len(fit), (128,), generator=g)]
        loss = F.cross_entropy(model(X[batch]), y[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 50 == 49:
            with torch.no_grad():  # the mistake: no model.eval(), so dropout stays on
                accuracy = (model(X[val]).argmax(1) == y[val]).float().mean().item()
            if accuracy >= best_accuracy:
                best_accuracy, best_state = accuracy, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return model, mean, std
