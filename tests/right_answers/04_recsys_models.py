"""Right answers for 04_recsys_models (see tests/catalogue.py): each must keep full marks.

Written from the task texts, not from the reference solutions: unstable sorts with explicit tie
handling, pairwise rank counts instead of sorting, loops over groups, another initialisation
order of the nn.Modules, equivalent formulas.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.special import expit

from tests.right_answers import answer, right

# --- Exercise 1: auc --------------------------------------------------------------------------


@right("auc", "average ranks from searchsorted on the sorted scores (left and right ends of each tie group)")
def auc_searchsorted(labels, scores):
    labels = np.asarray(labels) == 1
    scores = np.asarray(scores, dtype=float)
    P, N = int(labels.sum()), int((~labels).sum())
    if P == 0 or N == 0:
        return float("nan")
    ordered = np.sort(scores)  # the default (unstable) sort: only the values matter here
    below = np.searchsorted(ordered, scores[labels], side="left")  # samples strictly below
    equal = np.searchsorted(ordered, scores[labels], side="right") - below
    average_rank = below + (equal + 1) / 2
    return float((average_rank.sum() - P * (P + 1) / 2) / (P * N))


@right("auc", "unstable argsort, then each tie group's ranks replaced by their mean via group starts")
def auc_group_means(labels, scores):
    y = np.asarray(labels).astype(np.float64)
    s = np.asarray(scores).astype(np.float64)
    n_pos = y.sum()
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s)  # quicksort: tied samples in any order
    sorted_scores = s[order]
    new_group = np.r_[True, sorted_scores[1:] != sorted_scores[:-1]]
    group_id = np.cumsum(new_group) - 1
    positions = np.arange(1, len(s) + 1, dtype=np.float64)
    group_mean = np.bincount(group_id, weights=positions) / np.bincount(group_id)
    ranks = np.empty_like(positions)
    ranks[order] = group_mean[group_id]
    return float(((ranks * y).sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# --- Exercise 2: gauc -------------------------------------------------------------------------


@right("gauc", "a loop over np.unique(groups) with a boolean mask per group")
def gauc_unique_loop(labels, scores, groups):
    labels, scores, groups = np.asarray(labels), np.asarray(scores), np.asarray(groups)
    weighted, impressions = 0.0, 0
    for group in np.unique(groups):
        member = groups == group
        value = auc(labels[member], scores[member])  # noqa: F821  (defined in the notebook)
        if value == value:  # not nan: both classes present
            weighted += value * member.sum()
            impressions += member.sum()
    return float(weighted / impressions) if impressions else float("nan")


# --- Exercise 3: ndcg_at_k --------------------------------------------------------------------


@right("ndcg_at_k", "np.lexsort with the position as the secondary key (another tie-safe sort)")
def ndcg_lexsort(relevance, scores, k):
    relevance = np.asarray(relevance, dtype=float)
    scores = np.asarray(scores, dtype=float)
    n_queries, n_docs = relevance.shape
    k = min(k, n_docs)
    discount = 1 / np.log2(np.arange(1, k + 1) + 1)
    position = np.arange(n_docs)
    values = []
    for rel, s in zip(relevance, scores, strict=True):
        order = np.lexsort((position, -s))[:k]  # last key is primary: -score, then position
        dcg = (rel[order] * discount).sum()
        idcg = (np.sort(rel)[::-1][:k] * discount).sum()
        values.append(dcg / idcg if idcg > 0 else 0.0)
    return float(np.mean(values))


@right("ndcg_at_k", "ranks from pairwise counts (higher scores, plus equal scores earlier), no sort at all")
def ndcg_pairwise_ranks(relevance, scores, k):
    relevance = np.asarray(relevance, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    n_docs = scores.shape[1]
    earlier = np.tri(n_docs, k=-1, dtype=bool)  # earlier[i, j]: j comes before i
    higher = scores[:, None, :] > scores[:, :, None]
    tied_earlier = (scores[:, None, :] == scores[:, :, None]) & earlier
    rank = 1 + higher.sum(axis=2) + tied_earlier.sum(axis=2)  # (queries, docs), 1-based
    gain_discount = np.where(rank <= k, 1 / np.log2(rank + 1), 0.0)
    dcg = (relevance * gain_discount).sum(axis=1)
    ideal = -np.sort(-relevance, axis=1)[:, :k]
    idcg = (ideal / np.log2(np.arange(2, ideal.shape[1] + 2))).sum(axis=1)
    return float(np.where(idcg > 0, dcg / np.where(idcg > 0, idcg, 1.0), 0.0).mean())


# --- Exercise 4: mrr --------------------------------------------------------------------------


@right("mrr", "the best rank among relevant documents, ranks from pairwise counts")
def mrr_pairwise_ranks(relevance, scores):
    scores = np.asarray(scores, dtype=np.float64)
    relevant = np.asarray(relevance) > 0
    n_docs = scores.shape[1]
    earlier = np.tri(n_docs, k=-1, dtype=bool)
    rank = 1 + (scores[:, None, :] > scores[:, :, None]).sum(2) + \
        ((scores[:, None, :] == scores[:, :, None]) & earlier).sum(2)
    best = np.where(relevant, rank, n_docs + 1).min(axis=1)
    return float(np.where(best <= n_docs, 1.0 / best, 0.0).mean())


@right("mrr", "per-query loop over a stable ranking, stopping at the first relevant document")
def mrr_loop(relevance, scores):
    total = 0.0
    relevance, scores = np.asarray(relevance), np.asarray(scores)
    for rel, s in zip(relevance, scores, strict=True):
        for rank, doc in enumerate(sorted(range(len(s)), key=lambda j: (-s[j], j)), start=1):
            if rel[doc] > 0:
                total += 1.0 / rank
                break
    return float(total / len(relevance))


# --- Exercise 5: recall_at_k ------------------------------------------------------------------


@right("recall_at_k", "np.lexsort per query (score, then position), k capped at n_docs")
def recall_lexsort(relevance, scores, k):
    relevant = np.asarray(relevance) > 0
    scores = np.asarray(scores, dtype=float)
    recalls = []
    for rel, s in zip(relevant, scores, strict=True):
        if rel.any():
            top = np.lexsort((np.arange(len(s)), -s))[: min(k, len(s))]
            recalls.append(rel[top].sum() / rel.sum())
    return float(np.mean(recalls)) if recalls else float("nan")


@right("recall_at_k", "a document is in the top k when its pairwise rank is <= k (no sort)")
def recall_pairwise_ranks(relevance, scores, k):
    relevant = np.asarray(relevance) > 0
    scores = np.asarray(scores, dtype=np.float64)
    n_docs = scores.shape[1]
    earlier = np.tri(n_docs, k=-1, dtype=bool)
    rank = 1 + (scores[:, None, :] > scores[:, :, None]).sum(2) + \
        ((scores[:, None, :] == scores[:, :, None]) & earlier).sum(2)
    hits = (relevant & (rank <= k)).sum(axis=1)
    n_relevant = relevant.sum(axis=1)
    if not (n_relevant > 0).any():
        return float("nan")
    return float(np.mean(hits[n_relevant > 0] / n_relevant[n_relevant > 0]))


# --- Exercise 6: fm_interaction ---------------------------------------------------------------


@right("fm_interaction", "einsum, and the squared term summed over f first: (x^2) @ (sum_f V^2)")
def fm_interaction_einsum(x, V):
    square_of_sum = torch.einsum("bd,dk->bk", x, V).pow(2).sum(dim=1)
    sum_of_squares = (x * x) @ (V * V).sum(dim=1)
    return (square_of_sum - sum_of_squares) / 2


# --- Exercise 7: DeepFM -----------------------------------------------------------------------


@right("DeepFM", "MLP and first-order weights created before the embedding table; torch.cumsum offsets")
class DeepFMOtherOrder(nn.Module):
    def __init__(self, field_dims, embed_dim, hidden=(64, 32)):
        super().__init__()
        sizes = torch.tensor(field_dims, dtype=torch.int64)
        n = int(sizes.sum())
        widths = [len(field_dims) * embed_dim, *hidden]
        layers = []
        for w_in, w_out in zip(widths[:-1], widths[1:], strict=True):
            layers.append(nn.Linear(w_in, w_out))
            layers.append(nn.ReLU())
        self.mlp = nn.Sequential(*layers, nn.Linear(widths[-1], 1))
        self.linear = nn.Embedding(n, 1)
        nn.init.zeros_(self.linear.weight)
        self.bias = nn.Parameter(torch.zeros(1))
        self.embedding = nn.Embedding(n, embed_dim)
        nn.init.normal_(self.embedding.weight, mean=0.0, std=0.01)
        self.register_buffer("offsets", torch.cumsum(sizes, dim=0) - sizes)

    def forward(self, x):
        ids = x + self.offsets
        e = self.embedding(ids)
        sum_then_square = e.sum(dim=1).pow(2)
        square_then_sum = e.pow(2).sum(dim=1)
        fm = 0.5 * (sum_then_square - square_then_sum).sum(dim=1)
        deep = self.mlp(e.reshape(len(x), -1))[:, 0]
        return self.bias[0] + self.linear(ids)[..., 0].sum(dim=1) + fm + deep


@right("DeepFM", "pairwise FM term from an explicit upper triangle of the field-by-field dot products")
class DeepFMPairs(nn.Module):
    def __init__(self, field_dims, embed_dim, hidden=(64, 32)):
        super().__init__()
        self.register_buffer("offsets", torch.tensor([0, *np.cumsum(field_dims)[:-1].tolist()], dtype=torch.int64))
        total = int(np.sum(field_dims))
        self.embedding = nn.Embedding(total, embed_dim)
        self.linear = nn.Embedding(total, 1)
        self.bias = nn.Parameter(torch.zeros(1))
        dims = [len(field_dims) * embed_dim] + list(hidden)
        blocks = []
        for i in range(len(hidden)):
            blocks += [nn.Linear(dims[i], dims[i + 1]), nn.ReLU()]
        self.mlp = nn.Sequential(*blocks, nn.Linear(dims[-1], 1))
        with torch.no_grad():
            self.embedding.weight.normal_(0.0, 0.01)
            self.linear.weight.zero_()

    def forward(self, x):
        rows = x + self.offsets
        e = self.embedding(rows)  # (B, F, k)
        dots = e @ e.transpose(1, 2)  # (B, F, F)
        fm = torch.triu(dots, diagonal=1).sum(dim=(1, 2))
        return self.bias + self.linear(rows).sum(dim=(1, 2)) + fm + self.mlp(e.flatten(1)).squeeze(1)


# --- Exercise 8: cross_layer ------------------------------------------------------------------


@right("cross_layer", "torch.addmm for W x + b, then the element-wise product and the residual")
def cross_layer_addmm(x0, x, W, b):
    return torch.addmm(b, x, W.t()).mul(x0).add(x)


# --- Exercise 9: din_attention ----------------------------------------------------------------


@right("din_attention", "query repeated, weights multiplied by the mask, pooled with a batched matmul")
def din_attention_bmm(query, keys, key_mask, mlp):
    T = keys.shape[1]
    q = query[:, None, :].repeat(1, T, 1)
    scores = mlp(torch.cat((keys, q, keys - q, keys * q), dim=2))[..., 0]
    weights = scores * key_mask.to(scores.dtype)
    pooled = torch.bmm(weights[:, None, :], keys)[:, 0]
    return pooled, weights


# --- Exercise 9b: scenario_target_attention ---------------------------------------------------


@right("scenario_target_attention", "query as scenario @ W_q[:d_s] + target @ W_q[d_s:], einsum, masked_fill(-inf) "
                                    "softmax repaired by nan_to_num")
def scenario_einsum_nan_to_num(history, mask, target, scenario, W_q):
    d_s = scenario.shape[1]
    q = scenario @ W_q[:d_s] + target @ W_q[d_s:]
    a = torch.einsum("bld,bd->bl", history, q) / history.shape[2] ** 0.5
    w = torch.softmax(a.masked_fill(~mask, float("-inf")), dim=1).nan_to_num(0.0)
    return torch.einsum("bl,bld->bd", w, history), w


@right("scenario_target_attention", "softmax written out (max over the real positions, exp, division by the row sum, "
                                    "1 for empty rows) with every masked branch selected by torch.where; bmm")
def scenario_manual_softmax(history, mask, target, scenario, W_q):
    q = torch.cat((scenario, target), 1) @ W_q
    a = torch.bmm(history, q[:, :, None])[:, :, 0] / (history.shape[2] ** 0.5)
    has_any = mask.any(dim=1, keepdim=True)
    top = torch.where(mask, a, float("-inf")).amax(dim=1, keepdim=True)
    top = torch.where(has_any, top, torch.zeros_like(top))
    e = torch.where(mask, torch.exp(torch.where(mask, a, top) - top), torch.zeros_like(a))
    w = e / torch.where(has_any, e.sum(dim=1, keepdim=True), torch.ones_like(top))
    return torch.bmm(w[:, None, :], history)[:, 0], w


@right("scenario_target_attention", "a loop over rows: softmax over the real positions only, scattered into a zero row "
                                    "of the inputs' dtype with index_put")
def scenario_row_loop(history, mask, target, scenario, W_q):
    B, L, d = history.shape
    rows, pooled = [], []
    for b in range(B):
        q = torch.cat([scenario[b], target[b]]) @ W_q
        idx = mask[b].nonzero()[:, 0]
        w_real = torch.softmax(history[b, idx] @ q / d**0.5, dim=0)
        rows.append(torch.zeros(L, dtype=history.dtype).index_put((idx,), w_real))
        pooled.append(w_real @ history[b, idx])
    return torch.stack(pooled), torch.stack(rows)


# --- Exercise 10: dice ------------------------------------------------------------------------


@right("dice", "biased variance written out, rsqrt, and (1 - p) alpha x + p x regrouped as x (alpha + p (1 - alpha))")
def dice_regrouped(x, alpha, eps=1e-8):
    centred = x - x.mean(dim=0, keepdim=True)
    variance = (centred ** 2).mean(dim=0, keepdim=True)
    p = torch.sigmoid(centred * torch.rsqrt(variance + eps))
    return x * (alpha + p * (1 - alpha))


# --- Exercise 11: sim_hard_search -------------------------------------------------------------


@right("sim_hard_search", "time reversed, each match numbered by a cumulative sum, scattered into its slot")
def sim_hard_search_cumsum(hist_items, hist_cats, target_cat, k):
    items_rev = hist_items.flip(1)  # most recent first
    match = hist_cats.flip(1) == target_cat[:, None]
    slot = match.long().cumsum(dim=1) - 1  # 0 for the most recent match, 1 for the next, ...
    keep = match & (slot < k)
    B = hist_items.shape[0]
    items = torch.zeros(B, k + 1, dtype=torch.int64)
    mask = torch.zeros(B, k + 1, dtype=torch.bool)
    target = torch.where(keep, slot, k)  # everything not kept goes to a spare column
    items.scatter_(1, target, torch.where(keep, items_rev, 0))
    mask.scatter_(1, target, keep)
    return items[:, :k], mask[:, :k]


@right("sim_hard_search", "stable argsort of the match flags (most recent first), then gather")
def sim_hard_search_argsort(hist_items, hist_cats, target_cat, k):
    recent_first_items = torch.flip(hist_items, dims=[1])
    recent_first_match = torch.flip(hist_cats, dims=[1]).eq(target_cat.unsqueeze(1))
    order = torch.argsort((~recent_first_match).to(torch.int8), dim=1, stable=True)  # matches first, in time order
    picked_items = recent_first_items.gather(1, order)
    picked_mask = recent_first_match.gather(1, order)
    T = hist_items.shape[1]
    if k > T:
        picked_items = F.pad(picked_items, (0, k - T))
        picked_mask = F.pad(picked_mask, (0, k - T), value=False)
    picked_items, picked_mask = picked_items[:, :k], picked_mask[:, :k]
    return picked_items * picked_mask, picked_mask


# --- Exercise 12: MMoE ------------------------------------------------------------------------


@right("MMoE", "towers, then gates, then experts created (another initialisation order); einsum mixtures")
class MMoEOtherOrder(nn.Module):
    def __init__(self, in_dim, n_experts, expert_dim, n_tasks, tower_hidden):
        super().__init__()
        self.towers = nn.ModuleList()
        for _ in range(n_tasks):
            self.towers.append(nn.Sequential(nn.Linear(expert_dim, tower_hidden), nn.ReLU(),
                                             nn.Linear(tower_hidden, 1)))
        self.gates = nn.ModuleList(nn.Linear(in_dim, n_experts) for _ in range(n_tasks))
        self.experts = nn.ModuleList(nn.Sequential(nn.Linear(in_dim, expert_dim), nn.ReLU())
                                     for _ in range(n_experts))

    def forward(self, x):
        expert_out = torch.stack([e(x) for e in self.experts], dim=2)  # (B, expert_dim, n_experts)
        columns = []
        for t in range(len(self.towers)):
            gate = F.softmax(self.gates[t](x), dim=1)  # (B, n_experts)
            mixture = torch.einsum("bde,be->bd", expert_out, gate)
            columns.append(self.towers[t](mixture))
        return torch.cat(columns, dim=1)


@right("MMoE", "the gate logits of all tasks stacked first, log-softmax exponentiated")
class MMoEStackedGates(nn.Module):
    def __init__(self, in_dim, n_experts, expert_dim, n_tasks, tower_hidden):
        super().__init__()
        self.gates = nn.ModuleList([nn.Linear(in_dim, n_experts) for _ in range(n_tasks)])
        self.experts = nn.ModuleList([nn.Sequential(nn.Linear(in_dim, expert_dim), nn.ReLU())
                                      for _ in range(n_experts)])
        self.towers = nn.ModuleList([nn.Sequential(nn.Linear(expert_dim, tower_hidden), nn.ReLU(),
                                                   nn.Linear(tower_hidden, 1)) for _ in range(n_tasks)])

    def forward(self, x):
        experts = torch.stack([expert(x) for expert in self.experts], dim=1)  # (B, E, D)
        gates = torch.stack([gate(x) for gate in self.gates], dim=1).log_softmax(dim=-1).exp()  # (B, T, E)
        mixtures = gates @ experts  # (B, T, D)
        return torch.cat([tower(mixtures[:, t]) for t, tower in enumerate(self.towers)], dim=-1)


# --- Exercise 13: esmm_loss -------------------------------------------------------------------


@right("esmm_loss", "binary cross-entropy written out, logs clamped at -100 like F.binary_cross_entropy")
def esmm_loss_by_hand(p_ctr, p_cvr, click, conversion):
    def bce(p, y):
        return -(y * torch.log(p).clamp(min=-100) + (1 - y) * torch.log1p(-p).clamp(min=-100)).mean()

    return bce(p_ctr, click) + bce(p_ctr * p_cvr, click * conversion)


# --- Exercise 14: uncertainty_weighted_loss ---------------------------------------------------


@right("uncertainty_weighted_loss", "L / (2 sigma^2) + log sigma with sigma = exp(s / 2) (the notes' form)")
def uncertainty_sigma_form(losses, log_vars):
    sigma = torch.exp(log_vars / 2)
    return torch.sum(losses / (2 * sigma**2) + torch.log(sigma))


# --- Exercise 15: calibrate_sampled_ctr -------------------------------------------------------


@right("calibrate_sampled_ctr", "r p / (r p + 1 - p)")
def calibrate_rescaled(p, neg_rate):
    p = np.array(p, dtype=np.float64)
    return neg_rate * p / (neg_rate * p + 1.0 - p)


# --- Section 6.1: what AUC does not see (concept check) ----------------------------------------

answer("auc_blind", "computed_from_the_table",
       "computed from the locked cell's auc_limit_changes instead of read off the printed table",
       '{name for name, changed in auc_limit_changes.items() if "AUC" not in changed and changed}\n'
       'auc_mixes_users = {name for name, changed in auc_limit_changes.items()\n'
       '                   if "AUC" in changed and not changed & {"GAUC", "NDCG"}}')
answer("auc_blind", "frozensets", "frozensets, listed in another order",
       'frozenset(["reverse positives", "squash"])\nauc_mixes_users = frozenset(["user shift"])')

# --- Exercise 16: fuse_scores -----------------------------------------------------------------


@right("fuse_scores", "a loop over the objectives, products accumulated in place")
def fuse_scores_loop(scores, weights, alphas, betas, mode):
    modes = ("weighted_sum", "exp_product", "weighted_exp_sum", "weighted_exp_product")
    if mode not in modes:
        raise ValueError(mode)
    scores = np.asarray(scores, dtype=np.float64)
    fused = np.zeros(len(scores)) if mode in ("weighted_sum", "weighted_exp_sum") else np.ones(len(scores))
    for i in range(scores.shape[1]):
        s = scores[:, i]
        if mode == "weighted_sum":
            fused += weights[i] * s
        elif mode == "exp_product":
            fused *= s ** betas[i]
        elif mode == "weighted_exp_sum":
            fused += (alphas[i] + weights[i] * s) ** betas[i]
        else:
            fused *= (alphas[i] + weights[i] * s) ** betas[i]
    return fused


# --- Exercise 17: ranknet_loss ----------------------------------------------------------------


@right("ranknet_loss", "-log sigmoid(sigma (s_i - s_j)) through F.logsigmoid")
def ranknet_logsigmoid(s_i, s_j, sigma=1.0):
    return -F.logsigmoid(sigma * (s_i - s_j))


# --- Exercise 18: lambdarank_lambdas ----------------------------------------------------------


@right("lambdarank_lambdas", "lexsort ranking, pair gradients from logaddexp, lambdas as row minus column sums")
def lambdarank_lexsort(scores, relevance, k=None):
    s = np.asarray(scores, dtype=np.float64)
    rel = np.asarray(relevance, dtype=np.float64)
    n = len(s)
    cut = n if k is None or k > n else k
    order = np.lexsort((np.arange(n), -s))
    rank = np.empty(n)
    rank[order] = np.arange(1, n + 1)
    disc = np.where(rank <= cut, 1 / np.log2(1 + rank), 0.0)
    idcg = (np.sort(rel)[::-1][:cut] / np.log2(np.arange(2, cut + 2))).sum()
    if idcg <= 0:
        return np.zeros(n)
    weight = np.abs(rel[:, None] - rel[None, :]) * np.abs(disc[:, None] - disc[None, :]) / idcg
    sigmoid_neg = np.exp(-np.logaddexp(0.0, s[:, None] - s[None, :]))  # 1 / (1 + e^{s_i - s_j}), stable
    push = np.where(rel[:, None] > rel[None, :], weight * sigmoid_neg, 0.0)
    return -push.sum(axis=1) + push.sum(axis=0)


@right("lambdarank_lambdas", "pairwise-count ranks, expit, lambdas accumulated with np.add.at")
def lambdarank_pairwise(scores, relevance, k=None):
    scores = np.asarray(scores, dtype=np.float64)
    relevance = np.asarray(relevance, dtype=np.float64)
    n = scores.size
    k = n if k is None else min(k, n)
    earlier = np.tri(n, k=-1, dtype=bool)
    rank = 1 + (scores[None, :] > scores[:, None]).sum(1) + ((scores[None, :] == scores[:, None]) & earlier).sum(1)
    discount = np.where(rank <= k, 1.0 / np.log2(rank + 1.0), 0.0)
    idcg = np.sum(np.sort(relevance)[::-1][:k] / np.log2(np.arange(k) + 2.0))
    lambdas = np.zeros(n)
    if idcg == 0:
        return lambdas
    i, j = np.nonzero(relevance[:, None] > relevance[None, :])
    delta = np.abs((relevance[i] - relevance[j]) * (discount[i] - discount[j])) / idcg
    g = -delta * expit(scores[j] - scores[i])  # dC_ij/ds_i
    np.add.at(lambdas, i, g)
    np.add.at(lambdas, j, -g)
    return lambdas


# --- Exercise 1b: roc_points -------------------------------------------------------------------


@right("roc_points", "a loop over the distinct scores from the highest, counting samples at or above each")
def roc_points_loop(labels, scores):
    labels = np.asarray(labels) == 1
    scores = np.asarray(scores, dtype=float)
    fpr, tpr = [0.0], [0.0]
    for threshold in np.sort(np.unique(scores))[::-1]:
        called = scores >= threshold
        tpr.append((called & labels).sum() / labels.sum())
        fpr.append((called & ~labels).sum() / (~labels).sum())
    return np.array(fpr, dtype=np.float64), np.array(tpr, dtype=np.float64)


# --- Exercise 14b: gradnorm_loss ---------------------------------------------------------------


@right("gradnorm_loss", "targets computed under torch.no_grad, relative rates as ratio / mean ratio")
def gradnorm_no_grad(grad_norms, losses, initial_losses, alpha):
    with torch.no_grad():
        ratio = losses / initial_losses
        target = grad_norms.mean() * (ratio * len(ratio) / ratio.sum()) ** alpha
    return torch.sum(torch.abs(grad_norms - target))


# --- Exercise 19: distillation_loss ------------------------------------------------------------


@right("distillation_loss", "one BCE with the mixed target (1 - w) y + w sigmoid(t): BCE is linear in its target")
def distillation_mixed_target(student_logits, teacher_logits, labels, weight):
    target = (1 - weight) * labels + weight * torch.sigmoid(teacher_logits).detach()
    return F.binary_cross_entropy_with_logits(student_logits, target)


# --- Exercise 20: topk_consistency -------------------------------------------------------------


@right("topk_consistency", "per-query sets from np.lexsort (score, then position)")
def consistency_lexsort(ranker_scores, preranker_scores, k, K):
    shares = []
    for rank_row, pre_row in zip(np.asarray(ranker_scores), np.asarray(preranker_scores), strict=True):
        positions = np.arange(len(rank_row))
        top_k = set(np.lexsort((positions, -rank_row))[:k].tolist())
        top_K = set(np.lexsort((positions, -pre_row))[:K].tolist())
        shares.append(len(top_k & top_K) / len(top_k))
    return float(np.mean(shares))


# --- Capstone --------------------------------------------------------------------------------------------


@right("capstone_train", "a factorization machine (no MLP) with AdamW, batch 2048, 6 epochs")
def capstone_train_fm(train, time_budget_s):
    class FM(nn.Module):
        def __init__(self, field_dims, k=8):
            super().__init__()
            self.register_buffer("offsets", torch.tensor(np.concatenate([[0], np.cumsum(field_dims)[:-1]])))
            n = int(sum(field_dims))
            self.embedding = nn.Embedding(n, k)
            nn.init.normal_(self.embedding.weight, std=0.01)
            self.linear = nn.Embedding(n, 1)
            nn.init.zeros_(self.linear.weight)
            self.bias = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            rows = x + self.offsets
            e = self.embedding(rows)
            return self.bias + self.linear(rows).sum(dim=(1, 2)) + 0.5 * (e.sum(1) ** 2 - (e**2).sum(1)).sum(1)

    torch.manual_seed(0)
    X, y = torch.from_numpy(train["X"]), torch.from_numpy(train["click"]).float()
    model = FM(train["field_dims"])
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(1)
    for _ in range(6):
        for batch in torch.randperm(len(y), generator=generator).split(2048):
            loss = F.binary_cross_entropy_with_logits(model(X[batch]), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.eval()
