"""Right answers for 01_fundamentals (see tests/catalogue.py): each must keep full marks.

Written from the task text, not from the reference solution: other random draws, equivalent formulas,
other library calls and loops where a strong student could reasonably write them.
"""

import math
import textwrap

import numpy as np
import torch
import torch.nn.functional as F

from course import data
from tests.right_answers import answer, right

# --- Exercise 1: dropout ----------------------------------------------------------------------


@right("dropout", "a Bernoulli keep-mask from torch.bernoulli (another kind of random draw)")
def dropout_bernoulli(x, p, training, generator=None):
    if not training:
        return x.clone()
    if p >= 1:
        return torch.zeros_like(x)
    keep = torch.bernoulli(torch.full_like(x, 1 - p), generator=generator)
    return x * keep / (1 - p)


@right("dropout", "float32 uniforms whatever the dtype, kept where u < 1 - p, torch.where instead of a product")
def dropout_float32_uniform_where(x, p, training, generator=None):
    if not training or p == 0:
        return x.clone()
    if p == 1:
        return torch.zeros_like(x)
    u = torch.rand(x.shape, generator=generator)  # float32 draws, compared in float32
    return torch.where(u < 1 - p, x / (1 - p), torch.zeros_like(x))


# --- Exercise 2: batch_norm --------------------------------------------------------------------


@right("batch_norm", "two-pass variance by hand, N/(N-1) written as a sum over N-1, rsqrt, fresh copies")
def batch_norm_by_hand(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    if not training:
        inv_std = torch.rsqrt(running_var + eps)
        return (x - running_mean) * inv_std * gamma + beta, running_mean + 0, running_var + 0
    n = x.shape[0]
    mean = x.sum(dim=0) / n
    centred = x - mean
    squares = (centred * centred).sum(dim=0)
    y = centred * torch.rsqrt(squares / n + eps) * gamma + beta
    new_mean = running_mean + momentum * (mean - running_mean)
    new_var = running_var + momentum * (squares / (n - 1) - running_var)
    return y, new_mean, new_var


# --- Exercise 3: layer_norm --------------------------------------------------------------------


@right("layer_norm", "one-pass variance E[x^2] - E[x]^2 and a division by the standard deviation")
def layer_norm_one_pass(x, gamma, beta, eps=1e-5):
    d = x.shape[-1]
    mean = x.sum(dim=-1, keepdim=True) / d
    var = (x * x).sum(dim=-1, keepdim=True) / d - mean * mean
    return (x - mean) / (var + eps).sqrt() * gamma + beta


# --- Exercises 4-7: concept answers --------------------------------------------------------------

answer("eval_changes", "frozenset_other_order", "a frozenset, listed in another order",
       'frozenset(["BatchNorm1d", "Dropout"])')
answer("variance_ratio", "derived", "derived instead of measured: Var[m x / (1-p)] = 1/(1-p), so the ratio is 1 - p",
       "1 - 0.5")
# A measurement with the chapter's own dropout and batch_norm and another seed (the value is a code block).
answer("variance_ratio", "own_functions_other_seed",
       "measured with the student's own dropout and batch_norm and another random stream",
       textwrap.dedent("""\
           None
           _g = data.torch_generator(2024)
           _mean, _var = torch.zeros(8), torch.ones(8)
           for _ in range(300):
               _out, _mean, _var = batch_norm(dropout(torch.randn(256, 8, generator=_g), 0.5, True, generator=_g),
                                              torch.ones(8), torch.zeros(8), _mean, _var, True)
           _eval, _, _ = batch_norm(torch.randn(4096, 8, generator=_g), torch.ones(8), torch.zeros(8), _mean, _var,
                                    False)
           variance_ratio = float(_eval.var() / _out.var())
           """))

# --- Exercise 8: gelu --------------------------------------------------------------------------


@right("gelu", "exact form through erfc, tanh form as x * sigmoid(2u) (the same function)")
def gelu_erfc_sigmoid(x, approximate="none"):
    if approximate == "tanh":
        u = math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)
        return x * torch.sigmoid(2 * u)
    return 0.5 * x * torch.erfc(-x / math.sqrt(2))


# --- Exercise 9: mlp_backward ------------------------------------------------------------------


@right("mlp_backward", "einsum, a boolean mask with where, the element count from y")
def mlp_backward_einsum(x, y, W1, b1, W2, b2):
    z = torch.einsum("nd,dh->nh", x, W1) + b1
    h = torch.where(z > 0, z, torch.zeros_like(z))
    out = torch.einsum("nh,hk->nk", h, W2) + b2
    diff = out - y
    count = y.numel()
    d_out = diff * (2.0 / count)
    d_z = torch.where(z > 0, torch.einsum("nk,hk->nh", d_out, W2), torch.zeros_like(z))
    return {"loss": (diff * diff).sum() / count, "dW2": torch.einsum("nh,nk->hk", h, d_out), "db2": d_out.sum(0),
            "dW1": torch.einsum("nd,nh->dh", x, d_z), "db1": d_z.sum(0)}


# --- Exercise 10: gradient_norms ---------------------------------------------------------------


@right("gradient_norms", "loss.backward() on leaf weights, F.linear, torch.linalg.matrix_norm")
def gradient_norms_backward(depth, activation, init, seed):
    g = data.torch_generator(seed)
    x = torch.randn(128, 64, generator=g, dtype=torch.float64)
    std = {"small": 0.01, "he": (2 / 64) ** 0.5, "large": 2 * (2 / 64) ** 0.5}[init]
    weights = []
    for _ in range(depth):
        weights.append((std * torch.randn(64, 64, generator=g, dtype=torch.float64)).requires_grad_(True))
    act = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": F.relu}[activation]
    h = x
    for W in weights:
        h = act(F.linear(h, W.T))
    h.pow(2).mean().backward()
    return [float(torch.linalg.matrix_norm(W.grad)) for W in weights]


# --- Exercises 11-14: optimisers ---------------------------------------------------------------


@right("sgd_momentum_step", "torch.add with alpha, a fresh buffer on the first step")
def sgd_momentum_torch_add(param, grad, buf, lr, momentum, weight_decay=0.0):
    d = torch.add(grad, param, alpha=weight_decay)
    new_buf = d.clone() if buf is None else torch.add(d, buf, alpha=momentum)
    return torch.add(param, new_buf, alpha=-lr), new_buf


@right("rmsprop_step", "torch.addcmul and torch.addcdiv (out of place)")
def rmsprop_addcmul(param, grad, square_avg, lr, alpha=0.99, eps=1e-8):
    new_avg = torch.addcmul(square_avg * alpha, grad, grad, value=1 - alpha)
    return torch.addcdiv(param, grad, new_avg.sqrt().add(eps), value=-lr), new_avg


@right("adam_step", "bias corrections folded into the step size and the denominator (PyTorch's own arrangement)")
def adam_folded(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    b1, b2 = betas
    if decoupled:
        param = param * (1 - lr * weight_decay)
    elif weight_decay:
        grad = grad + weight_decay * param
    m = m * b1 + grad * (1 - b1)
    v = v * b2 + grad * grad * (1 - b2)
    correction1, correction2 = 1 - b1**t, 1 - b2**t
    denom = v.sqrt() / math.sqrt(correction2) + eps
    return param - (lr / correction1) * m / denom, m, v


@right("lookahead_step", "torch.lerp, a copy for the fast weights")
def lookahead_lerp(slow, fast, alpha):
    new_slow = torch.lerp(slow, fast, alpha)
    return new_slow, new_slow.detach().clone()


# --- Exercise 15: warmup_cosine_lr -------------------------------------------------------------


@right("warmup_cosine_lr", "progress clamped at 1 instead of a separate branch after total_steps")
def warmup_cosine_clamped(step, base_lr, warmup_steps, total_steps, min_lr=0.0):
    if warmup_steps > 0 and step < warmup_steps:
        return float(base_lr * (step + 1) / warmup_steps)
    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    cosine = (1 + math.cos(math.pi * progress)) / 2
    return float(min_lr + (base_lr - min_lr) * cosine)


# --- Exercises 16-18: losses -------------------------------------------------------------------


@right("cross_entropy", "gather for the true logit, -(z_y - M - log sum exp(z - M))")
def cross_entropy_gather(logits, target):
    shift = logits.amax(dim=1, keepdim=True)
    shifted = logits - shift
    log_norm = torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))
    picked = shifted.gather(1, target.unsqueeze(1))
    return -(picked - log_norm).mean()


@right("kl_divergence", "p * log(p / q) where p > 0 (one log of a ratio)")
def kl_ratio(p, q):
    return torch.where(p > 0, p * torch.log(p / q), torch.zeros_like(p)).sum(-1)


@right("focal_loss", "p_t = exp(-ce), the modulating factor as -expm1(-ce)")
def focal_from_ce(logits, targets, gamma=2.0, alpha=0.25):
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    factor = (-torch.expm1(-ce)) ** gamma
    if alpha is None:
        weight = torch.ones_like(ce)
    else:
        weight = torch.where(targets == 1, torch.full_like(ce, alpha), torch.full_like(ce, 1 - alpha))
    return (weight * factor * ce).mean()


# --- Exercise 20: logistic_grad ----------------------------------------------------------------


@right("logistic_grad", "a two-branch stable sigmoid on boolean masks, the gradient as a mean of rows")
def logistic_grad_two_branches(w, X, y):
    z = X @ w
    p = np.empty_like(z)
    positive = z >= 0
    p[positive] = 1 / (1 + np.exp(-z[positive]))
    e = np.exp(z[~positive])
    p[~positive] = e / (1 + e)
    return ((p - y)[:, None] * X).mean(axis=0)


# --- Exercise 22: soft_threshold and lasso_ista ------------------------------------------------


@right("soft_threshold", "w minus its clip to [-lam, lam]")
def soft_threshold_clip(w, lam):
    return w - np.clip(w, -lam, lam)


@right("lasso_ista", "L from the largest eigenvalue of X^T X / n, the proximal step written out with np.where")
def lasso_ista_eigen(X, y, lam, n_steps):
    n = X.shape[0]
    gram, xty = X.T @ X / n, X.T @ y / n
    lipschitz = np.linalg.eigvalsh(gram)[-1]
    w = np.zeros(X.shape[1])
    for _ in range(n_steps):
        v = w - (gram @ w - xty) / lipschitz
        w = np.where(np.abs(v) > lam / lipschitz, v - np.sign(v) * lam / lipschitz, 0.0)
    return w


# --- Exercise 23: ridge_map --------------------------------------------------------------------


@right("ridge_map", "least squares on the augmented system [X; sqrt(lam) I] w = [y; 0]")
def ridge_map_augmented(X, y, lam):
    d = X.shape[1]
    A = np.vstack([X, np.sqrt(lam) * np.eye(d)])
    b = np.concatenate([y, np.zeros(d)])
    return np.linalg.lstsq(A, b, rcond=None)[0]


@right("ridge_map", "the dual form X^T (X X^T + lam I)^-1 y")
def ridge_map_dual(X, y, lam):
    return X.T @ np.linalg.solve(X @ X.T + lam * np.eye(X.shape[0]), y)


answer("map_answers", "fraction_written_out", "alpha written as the fraction 1 / 16",
       "(1 / 16, 'laplace', 'MLE')")

# --- Exercise 25: class_balanced_weights -------------------------------------------------------


@right("class_balanced_weights", "inverse effective number (1 - beta^n)/(1 - beta) with expm1 and log1p")
def class_balanced_expm1(counts, beta):
    n = counts.double()
    if beta == 0:
        effective = torch.ones_like(n)
    else:
        effective = -torch.expm1(n * math.log(beta)) / (1 - beta)
    weights = 1 / effective
    return weights / weights.sum() * counts.numel()


# --- Exercise 26: smote ------------------------------------------------------------------------


@right("smote", "one point at a time: base, neighbour and lambda drawn in turn (another draw order), choice()")
def smote_loop(X_minority, n_new, k, generator):
    n = len(X_minority)
    distances = np.linalg.norm(X_minority[:, None, :] - X_minority[None, :, :], axis=-1)
    neighbours = [[j for j in np.argsort(distances[i]) if j != i][:k] for i in range(n)]
    out = []
    for _ in range(n_new):
        i = int(generator.integers(n))
        j = generator.choice(neighbours[i])
        lam = generator.uniform(0.0, 1.0)
        out.append(X_minority[i] + lam * (X_minority[j] - X_minority[i]))
    return np.array(out).reshape(n_new, X_minority.shape[1])


# --- Exercises 26b-d: Borderline-SMOTE's danger set, Tomek links, cluster centroids -------------------


@right("borderline_danger", "a loop over the minority points, np.linalg.norm and argpartition")
def borderline_danger_loop(X, y, k):
    out = np.zeros(len(y), dtype=bool)
    for i in np.flatnonzero(y == 1):
        d = np.linalg.norm(X - X[i], axis=1)
        d[i] = np.inf
        nearest = np.argpartition(d, k - 1)[:k] if k < len(d) else np.argsort(d)[:k]
        majority = int(np.count_nonzero(y[nearest] == 0))
        out[i] = 2 * majority >= k and majority < k
    return out


@right("tomek_majority", "scikit-learn's NearestNeighbors (two neighbours: the point itself and its nearest)")
def tomek_sklearn(X, y):
    from sklearn.neighbors import NearestNeighbors

    nearest = NearestNeighbors(n_neighbors=2).fit(X).kneighbors(X, return_distance=False)[:, 1]
    return np.array([y[i] == 0 and y[nearest[i]] != y[i] and nearest[nearest[i]] == i for i in range(len(y))])


@right("cluster_centroids", "k-means++ initialisation, distances by the expansion |x|^2 - 2 x.c + |c|^2")
def cluster_centroids_plus_plus(X_majority, n_keep, generator):
    X = np.asarray(X_majority, dtype=np.float64)
    centroids = [X[generator.integers(len(X))]]
    for _ in range(1, n_keep):
        d2 = np.min(((X[:, None, :] - np.array(centroids)[None]) ** 2).sum(-1), axis=1)
        centroids.append(X[generator.choice(len(X), p=d2 / d2.sum())])
    centroids = np.array(centroids)
    previous = None
    for _ in range(300):
        d2 = (X**2).sum(1)[:, None] - 2 * X @ centroids.T + (centroids**2).sum(1)[None, :]
        assignment = d2.argmin(axis=1)
        if previous is not None and np.array_equal(assignment, previous):
            break
        previous = assignment
        for c in range(n_keep):
            members = X[assignment == c]
            centroids[c] = members.mean(axis=0) if len(members) else X[generator.integers(len(X))]
    # one exact assignment step so that the fixed point holds with the plain distance too
    assignment = ((X[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(axis=1)
    for c in range(n_keep):
        if np.any(assignment == c):
            centroids[c] = X[assignment == c].mean(axis=0)
    return centroids


# --- Exercise 27: fgm_perturbation -------------------------------------------------------------


@right("fgm_perturbation", "torch.linalg.vector_norm, epsilon / norm as one factor")
def fgm_vector_norm(grad, epsilon):
    norm = torch.linalg.vector_norm(grad)
    if norm.item() == 0:
        return grad * 0
    return grad * (epsilon / norm)


# --- Exercise 8b: collapse_linear ---------------------------------------------------------------


@right("collapse_linear", "the stack applied to the identity and to zero: b = f(0), W = f(I) - f(0)")
def collapse_linear_probe(weights, biases):
    d = weights[0].shape[0]
    probe = torch.cat([torch.zeros(1, d, dtype=weights[0].dtype), torch.eye(d, dtype=weights[0].dtype)])
    for W_l, b_l in zip(weights, biases, strict=True):
        probe = probe @ W_l + b_l
    return probe[1:] - probe[0], probe[0].clone()


# --- Exercise 28: precision_recall_f1 -----------------------------------------------------------


@right("precision_recall_f1", "confusion counts by np.count_nonzero, F1 as 2PR / (P + R)")
def prf_counts(scores, labels, threshold):
    predicted = np.asarray(scores) >= threshold
    positive = np.asarray(labels) == 1
    tp = np.count_nonzero(predicted & positive)
    precision = tp / np.count_nonzero(predicted) if np.count_nonzero(predicted) else 0.0
    recall = tp / np.count_nonzero(positive) if np.count_nonzero(positive) else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return float(precision), float(recall), float(f1)


# --- Capstone -----------------------------------------------------------------------------------


@right("capstone_train", "GELU network, plain Adam with a hand-written warmup + cosine schedule, a validation fifth of "
                         "another shuffle, early stopping every 40 steps")
def capstone_train_gelu_adam(train, time_budget_s):
    X = torch.as_tensor(train[0], dtype=torch.float32)
    y = torch.as_tensor(train[1])
    g = torch.Generator().manual_seed(1)
    torch.manual_seed(1)
    shuffled = torch.randperm(len(y), generator=g)
    val, fit = shuffled[: len(y) // 5], shuffled[len(y) // 5:]
    centre, scale = X[fit].mean(0), X[fit].std(0)
    Z = (X - centre) / scale
    net = torch.nn.Sequential(torch.nn.Linear(Z.shape[1], 128), torch.nn.GELU(), torch.nn.Linear(128, 128),
                              torch.nn.GELU(), torch.nn.Linear(128, 3))
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)
    steps, warmup = 1000, 100
    best, best_weights = -1.0, None
    for step in range(steps):
        progress = (step - warmup) / (steps - warmup)
        for group in optimiser.param_groups:
            group["lr"] = 1e-2 * ((step + 1) / warmup if step < warmup else 0.5 * (1 + math.cos(math.pi * progress)))
        idx = fit[torch.randint(len(fit), (64,), generator=g)]
        loss = F.cross_entropy(net(Z[idx]), y[idx]) + 1e-3 * net[0].weight.abs().sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 40 == 39:
            with torch.no_grad():
                score = (net(Z[val]).argmax(1) == y[val]).float().mean().item()
            if score >= best:
                best, best_weights = score, [p.detach().clone() for p in net.parameters()]
    with torch.no_grad():
        for p, w in zip(net.parameters(), best_weights, strict=True):
            p.copy_(w)
    return net.eval(), centre, scale
