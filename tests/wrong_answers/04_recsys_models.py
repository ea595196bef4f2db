"""Wrong answers for 04_recsys_models (see tests/catalogue.py)."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from tests.wrong_answers import answer, helper, wrong

# --- Exercise 1: auc ---------------------------------------------------------------------------


@helper
def _auc(labels, scores, *, ties="average", rank_base=1, descending=False, subtract="P(P+1)/2", single=np.nan):
    """The rank formula with switches for one bug each (the mutants below use it)."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float(single)
    keyed = -scores if descending else scores
    if ties == "ordinal":
        ranks = np.empty(labels.size)
        ranks[np.argsort(keyed, kind="stable")] = np.arange(1, labels.size + 1)
    else:
        _, group, counts = np.unique(keyed, return_inverse=True, return_counts=True)
        last = np.cumsum(counts)
        per_group = last if ties == "max" else last - (counts - 1) / 2
        ranks = per_group[group.ravel()]
    ranks = ranks - 1 + rank_base
    offset = n_pos * (n_pos + 1) / 2 if subtract == "P(P+1)/2" else n_pos * (n_pos - 1) / 2
    return float((ranks[labels].sum() - offset) / (n_pos * n_neg))


@wrong("auc", "no tie handling: ordinal ranks from argsort", also_fails=("test_gauc",))
def auc_no_ties(labels, scores):
    return _auc(labels, scores, ties="ordinal")


@wrong("auc", "ties get the largest rank of their group (ties counted as wins)", also_fails=("test_gauc",))
def auc_max_rank_ties(labels, scores):
    return _auc(labels, scores, ties="max")


@wrong("auc", "0-based ranks", also_fails=("test_gauc",))
def auc_zero_based(labels, scores):
    return _auc(labels, scores, rank_base=0)


@wrong("auc", "ranks in descending score order (rank 1 = highest score)", also_fails=("test_gauc",))
def auc_descending(labels, scores):
    return _auc(labels, scores, descending=True)


@wrong("auc", "subtracts P(P-1)/2", also_fails=("test_gauc",))
def auc_wrong_offset(labels, scores):
    return _auc(labels, scores, subtract="P(P-1)/2")


@wrong("auc", "returns 0.5 instead of nan for a single class", also_fails=("test_gauc",))
def auc_single_class_half(labels, scores):
    return _auc(labels, scores, single=0.5)


@wrong("auc", "calls scikit-learn", also_fails=("test_gauc",))
def auc_sklearn(labels, scores):
    return float(roc_auc_score(labels, scores))


answer("why_auc", "notes_recall_view", "the notes' view: AUC finds more positives, accuracy avoids mistakes", '"B"')
answer("why_auc", "differentiable", "thinks AUC is used because it is differentiable", '"C"')
answer("why_auc", "swapped_definitions", "swaps the definitions of accuracy and AUC", '"A"')
answer("why_auc", "lowercase", "answers in lower case", '"d"')

# --- Exercise 2: gauc --------------------------------------------------------------------------


@helper
def _gauc(labels, scores, groups, *, weighting="impressions", single=None, keep_single_weight=False):
    labels, scores, groups = np.asarray(labels), np.asarray(scores, dtype=np.float64), np.asarray(groups)
    total = weight = 0.0
    for g in np.unique(groups):
        member = groups == g
        y, s = labels[member], scores[member]
        w = {"impressions": member.sum(), "one": 1.0, "positives": y.sum()}[weighting]
        if 0 < y.sum() < y.size:
            total += w * roc_auc_score(y, s)
            weight += w
        elif single is not None:
            total += w * single
            weight += w
        elif keep_single_weight:
            weight += w
    return total / weight if weight else float("nan")


@wrong("gauc", "plain mean of the per-user AUCs (no impression weights)")
def gauc_unweighted(labels, scores, groups):
    return _gauc(labels, scores, groups, weighting="one")


@wrong("gauc", "weights users by their number of positives")
def gauc_weighted_by_positives(labels, scores, groups):
    return _gauc(labels, scores, groups, weighting="positives")


@wrong("gauc", "single-class users counted with AUC 0.5")
def gauc_single_class_half(labels, scores, groups):
    return _gauc(labels, scores, groups, single=0.5)


@wrong("gauc", "single-class users skipped but their impressions kept in the denominator")
def gauc_single_class_in_denominator(labels, scores, groups):
    return _gauc(labels, scores, groups, keep_single_weight=True)


@wrong("gauc", "returns 0.0 instead of nan when no group has both classes")
def gauc_empty_zero(labels, scores, groups):
    value = _gauc(labels, scores, groups)
    return 0.0 if np.isnan(value) else value


@wrong("gauc", "global AUC, ignoring the groups")
def gauc_global(labels, scores, groups):
    return float(roc_auc_score(labels, scores))


answer("offline_online", "overfitting", "blames overfitting", '"B"')
answer("offline_online", "gauc_always_lower", "thinks GAUC is always lower than AUC", '"C"')
answer("offline_online", "lowercase", "answers in lower case", '"a"')

# --- Exercise 3: ndcg_at_k ---------------------------------------------------------------------


@helper
def _ndcg(relevance, scores, k, *, discount_offset=1, gain="linear", idcg="query", truncate_idcg=True,
          empty=0.0, ascending=False, per_query=False, tie="position"):
    relevance = np.asarray(relevance, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    k = min(k, relevance.shape[1])
    ranks = np.arange(1, relevance.shape[1] + 1)
    with np.errstate(divide="ignore"):
        discount_all = 1.0 / np.log2(ranks + discount_offset)
    discount = discount_all[:k]
    gains = 2**relevance - 1 if gain == "exponential" else relevance
    if tie == "against_position":  # a stable ascending sort, reversed: later documents first among ties
        ranked = np.argsort(scores, axis=1, kind="stable")[:, ::-1][:, :k]
    else:  # "quicksort" is np.argsort's default kind: ties in any order
        ranked = np.argsort(scores if ascending else -scores, axis=1,
                            kind=None if tie == "quicksort" else "stable")[:, :k]
    dcg = (np.take_along_axis(gains, ranked, axis=1) * discount).sum(axis=1)
    if idcg == "k_perfect":
        ideal = np.full(len(relevance), discount.sum())
    else:
        best = np.sort(gains, axis=1)[:, ::-1]
        ideal = (best[:, :k] * discount).sum(axis=1) if truncate_idcg else (best * discount_all).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ndcg = np.where(ideal > 0, dcg / np.where(ideal > 0, ideal, 1.0), empty)
    return ndcg if per_query else float(ndcg.mean())


@wrong("ndcg_at_k", "discount log2(rank) instead of log2(rank + 1)")
def ndcg_log2_rank(relevance, scores, k):
    return _ndcg(relevance, scores, k, discount_offset=0)


@wrong("ndcg_at_k", "exponential gain 2^rel - 1")
def ndcg_exponential_gain(relevance, scores, k):
    return _ndcg(relevance, scores, k, gain="exponential")


@wrong("ndcg_at_k", "IDCG of k perfect positions, even when fewer items are relevant")
def ndcg_idcg_k_perfect(relevance, scores, k):
    return _ndcg(relevance, scores, k, idcg="k_perfect")


@wrong("ndcg_at_k", "IDCG over all documents (not truncated at k)")
def ndcg_idcg_untruncated(relevance, scores, k):
    return _ndcg(relevance, scores, k, truncate_idcg=False)


@wrong("ndcg_at_k", "a query without relevant items gives nan")
def ndcg_empty_nan(relevance, scores, k):
    return _ndcg(relevance, scores, k, empty=np.nan)


@wrong("ndcg_at_k", "ranks by ascending score")
def ndcg_ascending(relevance, scores, k):
    return _ndcg(relevance, scores, k, ascending=True)


@wrong("ndcg_at_k", "np.argsort(-scores) with the default quicksort: ties in no defined order")
def ndcg_unstable_sort(relevance, scores, k):
    return _ndcg(relevance, scores, k, tie="quicksort")


@wrong("ndcg_at_k", "ties broken against position (stable ascending sort, reversed)")
def ndcg_ties_reversed(relevance, scores, k):
    return _ndcg(relevance, scores, k, tie="against_position")


@wrong("ndcg_at_k", "returns the per-query values instead of their mean")
def ndcg_per_query(relevance, scores, k):
    return _ndcg(relevance, scores, k, per_query=True)


# --- Exercise 4: mrr ---------------------------------------------------------------------------


@helper
def _mrr(relevance, scores, *, rank_base=1, all_relevant=False, skip_empty=False, ascending=False, tie="position"):
    scores = np.asarray(scores, dtype=np.float64)
    if tie == "against_position":
        ranked = np.argsort(scores, axis=1, kind="stable")[:, ::-1]
    else:
        ranked = np.argsort(scores if ascending else -scores, axis=1, kind=None if tie == "quicksort" else "stable")
    hits = np.take_along_axis(np.asarray(relevance) > 0, ranked, axis=1)
    values = []
    for row in hits:
        positions = np.flatnonzero(row) + rank_base
        if positions.size == 0:
            if not skip_empty:
                values.append(0.0)
            continue
        with np.errstate(divide="ignore"):
            values.append(np.mean(1.0 / positions) if all_relevant else 1.0 / positions[0])
    return float(np.mean(values))


@wrong("mrr", "0-based ranks")
def mrr_zero_based(relevance, scores):
    return _mrr(relevance, scores, rank_base=0)


@wrong("mrr", "averages the reciprocal ranks of ALL relevant items")
def mrr_all_relevant(relevance, scores):
    return _mrr(relevance, scores, all_relevant=True)


@wrong("mrr", "skips queries without relevant items")
def mrr_skip_empty(relevance, scores):
    return _mrr(relevance, scores, skip_empty=True)


@wrong("mrr", "ranks by ascending score")
def mrr_ascending(relevance, scores):
    return _mrr(relevance, scores, ascending=True)


@wrong("mrr", "np.argsort(-scores) with the default quicksort: ties in no defined order")
def mrr_unstable_sort(relevance, scores):
    return _mrr(relevance, scores, tie="quicksort")


@wrong("mrr", "ties broken against position (stable ascending sort, reversed)")
def mrr_ties_reversed(relevance, scores):
    return _mrr(relevance, scores, tie="against_position")


# --- Exercise 5: recall_at_k -------------------------------------------------------------------


@helper
def _recall(relevance, scores, k, *, denominator="relevant", keep_empty=False, tie="position"):
    relevant = np.asarray(relevance) > 0
    scores = np.asarray(scores, dtype=np.float64)
    if tie == "against_position":
        top = np.argsort(scores, axis=1, kind="stable")[:, ::-1][:, :k]
    else:
        top = np.argsort(-scores, axis=1, kind=None if tie == "quicksort" else "stable")[:, :k]
    found = np.take_along_axis(relevant, top, axis=1).sum(axis=1)
    n_relevant = relevant.sum(axis=1)
    denominators = {"relevant": n_relevant, "k": np.full(len(found), k),
                    "capped": np.minimum(n_relevant, k)}[denominator]
    keep = np.ones(len(found), dtype=bool) if keep_empty else n_relevant > 0
    if not keep.any():
        return float("nan")
    return float((found[keep] / np.maximum(denominators[keep], 1)).mean())


@wrong("recall_at_k", "divides by k (that is precision@k)")
def recall_divides_by_k(relevance, scores, k):
    return _recall(relevance, scores, k, denominator="k")


@wrong("recall_at_k", "divides by min(k, number of relevant items)")
def recall_capped(relevance, scores, k):
    return _recall(relevance, scores, k, denominator="capped")


@wrong("recall_at_k", "queries without relevant items count as 0")
def recall_keeps_empty(relevance, scores, k):
    return _recall(relevance, scores, k, keep_empty=True)


@wrong("recall_at_k", "np.argsort(-scores) with the default quicksort: ties in no defined order")
def recall_unstable_sort(relevance, scores, k):
    return _recall(relevance, scores, k, tie="quicksort")


@wrong("recall_at_k", "ties broken against position (stable ascending sort, reversed)")
def recall_ties_reversed(relevance, scores, k):
    return _recall(relevance, scores, k, tie="against_position")


answer("mrr_vs_ndcg", "both", "thinks MRR sees the lower relevant items too", '"both"')
answer("mrr_vs_ndcg", "mrr_only", "swaps the two metrics", '"MRR only"')
answer("mrr_vs_ndcg", "not_an_option", "answers with a name outside the options", '"NDCG"')

# --- concept checks of Section 3 ----------------------------------------------------------------

answer("embedding_facts", "lookup_differs", "thinks a lookup differs from one-hot times the matrix",
       '{"A", "B", "D", "E"}')
answer("embedding_facts", "exclusive_cheaper", "thinks exclusive tables are cheaper", '{"A", "B", "C", "D"}')
answer("embedding_facts", "a_list", "answers with a list", '["A", "B", "D"]')
answer("wide_part", "universal_approximator", "drops the wide part", '"A"')
answer("wide_part", "no_linear", "thinks an MLP cannot be linear", '"C"')
answer("wide_part", "calibration", "thinks the wide part is needed for probabilities", '"D"')
answer("wide_part", "lowercase", "answers in lower case", '"b"')

# --- Exercise 6: fm_interaction ----------------------------------------------------------------


@wrong("fm_interaction", "forgets the 1/2")
def fm_no_half(x, V):
    return ((x @ V) ** 2 - (x**2) @ (V**2)).sum(dim=1)


@wrong("fm_interaction", "keeps the self-interactions (no subtracted squares)")
def fm_self_interactions(x, V):
    return 0.5 * ((x @ V) ** 2).sum(dim=1)


@wrong("fm_interaction", "subtracts sum v^2 x instead of sum v^2 x^2 (right for 0/1 inputs only)")
def fm_x_not_squared(x, V):
    return 0.5 * ((x @ V) ** 2 - x @ (V**2)).sum(dim=1)


@wrong("fm_interaction", "sums over the batch too (returns a scalar)")
def fm_sums_batch(x, V):
    return 0.5 * ((x @ V) ** 2 - (x**2) @ (V**2)).sum()


# --- Exercise 7: DeepFM ------------------------------------------------------------------------


@helper
def _deepfm_init(self, field_dims, embed_dim, hidden, *, offsets=True, mlp_in=None, second_table=False,
                 default_init=False):
    nn.Module.__init__(self)
    starts = np.concatenate([[0], np.cumsum(field_dims)[:-1]]) if offsets else np.zeros(len(field_dims))
    self.register_buffer("offsets", torch.tensor(starts, dtype=torch.int64))
    n = int(sum(field_dims))
    self.embedding = nn.Embedding(n, embed_dim)
    if not default_init:
        nn.init.normal_(self.embedding.weight, std=0.01)
    if second_table:
        self.deep_embedding = nn.Embedding(n, embed_dim)
    self.linear = nn.Embedding(n, 1)
    if not default_init:
        nn.init.zeros_(self.linear.weight)
    self.bias = nn.Parameter(torch.zeros(1))
    layers, width = [], mlp_in or len(field_dims) * embed_dim
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, 1))
    self.mlp = nn.Sequential(*layers)


@helper
def _deepfm_forward(self, x, *, half=True, self_terms=False, sigmoid=False, mean_pool=False, second_table=False):
    rows = x + self.offsets
    e = self.embedding(rows)
    first = self.bias + self.linear(rows).sum(dim=(1, 2))
    square = e.sum(dim=1) ** 2
    fm = (square if self_terms else square - (e**2).sum(dim=1)).sum(dim=1) * (0.5 if half else 1.0)
    deep_e = self.deep_embedding(rows) if second_table else e
    deep_in = deep_e.mean(dim=1) if mean_pool else deep_e.flatten(1)
    deep = self.mlp(deep_in).squeeze(-1)
    out = first + fm + deep
    return torch.sigmoid(out) if sigmoid else out


@wrong("DeepFM", "no field offsets: every field looks up the same first rows")
class DeepFMNoOffsets(nn.Module):
    def __init__(self, field_dims, embed_dim, hidden=(64, 32)):
        _deepfm_init(self, field_dims, embed_dim, hidden, offsets=False)

    def forward(self, x):
        return _deepfm_forward(self, x)


@wrong("DeepFM", "FM part without the 1/2")
class DeepFMNoHalf(nn.Module):
    def __init__(self, field_dims, embed_dim, hidden=(64, 32)):
        _deepfm_init(self, field_dims, embed_dim, hidden)

    def forward(self, x):
        return _deepfm_forward(self, x, half=False)


@wrong("DeepFM", "FM part keeps the self-interactions")
class DeepFMSelfTerms(nn.Module):
    def __init__(self, field_dims, embed_dim, hidden=(64, 32)):
        _deepfm_init(self, field_dims, embed_dim, hidden)

    def forward(self, x):
        return _deepfm_forward(self, x, self_terms=True)


@wrong("DeepFM", "returns probabilities (sigmoid) instead of logits")
class DeepFMSigmoid(nn.Module):
    def __init__(self, field_dims, embed_dim, hidden=(64, 32)):
        _deepfm_init(self, field_dims, embed_dim, hidden)

    def forward(self, x):
        return _deepfm_forward(self, x, sigmoid=True)


@wrong("DeepFM", "keeps nn.Embedding's default N(0, 1) initialisation for both tables")
class DeepFMDefaultInit(nn.Module):
    def __init__(self, field_dims, embed_dim, hidden=(64, 32)):
        _deepfm_init(self, field_dims, embed_dim, hidden, default_init=True)

    def forward(self, x):
        return _deepfm_forward(self, x)


@wrong("DeepFM", "the deep part has its own embedding table (not shared)")
class DeepFMSecondTable(nn.Module):
    def __init__(self, field_dims, embed_dim, hidden=(64, 32)):
        _deepfm_init(self, field_dims, embed_dim, hidden, second_table=True)

    def forward(self, x):
        return _deepfm_forward(self, x, second_table=True)


@wrong("DeepFM", "MLP on the mean of the field embeddings instead of their concatenation")
class DeepFMMeanPool(nn.Module):
    def __init__(self, field_dims, embed_dim, hidden=(64, 32)):
        _deepfm_init(self, field_dims, embed_dim, hidden, mlp_in=embed_dim)

    def forward(self, x):
        return _deepfm_forward(self, x, mean_pool=True)


# --- Exercise 8: cross_layer -------------------------------------------------------------------


@wrong("cross_layer", "uses x0 inside the bracket: W x0 instead of W x_l")
def cross_layer_x0_inside(x0, x, W, b):
    return x0 * (x0 @ W.T + b) + x


@wrong("cross_layer", "x @ W instead of x @ W.T")
def cross_layer_not_transposed(x0, x, W, b):
    return x0 * (x @ W + b) + x


@wrong("cross_layer", "forgets the residual + x")
def cross_layer_no_residual(x0, x, W, b):
    return x0 * (x @ W.T + b)


@wrong("cross_layer", "updates x in place (x += ...), changing the caller's tensor")
def cross_layer_in_place(x0, x, W, b):
    return x.add_(x0 * (x @ W.T + b))


@wrong("cross_layer", "reads the notes' '·' as a dot product")
def cross_layer_dot_product(x0, x, W, b):
    return (x0 * (x @ W.T + b)).sum(dim=1, keepdim=True) + x


# --- Exercise 9: din_attention -----------------------------------------------------------------


@helper
def _din(query, keys, key_mask, mlp, *, use_mask=True, mask_weights=True, order="kq", mean=False):
    q = query.unsqueeze(1).expand_as(keys)
    parts = [keys, q, keys - q, keys * q] if order == "kq" else [q, keys, q - keys, q * keys]
    raw = mlp(torch.cat(parts, dim=-1)).squeeze(-1)
    masked = torch.where(key_mask, raw, 0.0) if use_mask else raw
    pooled = (masked.unsqueeze(-1) * keys).sum(dim=1)
    if mean:
        pooled = pooled / key_mask.sum(dim=1, keepdim=True).clamp(min=1)
    return pooled, masked if mask_weights else raw


@wrong("din_attention", "softmax-normalised weights (as in Transformer attention)")
def din_softmax(query, keys, key_mask, mlp):
    q = query.unsqueeze(1).expand_as(keys)
    raw = mlp(torch.cat([keys, q, keys - q, keys * q], dim=-1)).squeeze(-1)
    weights = torch.softmax(raw.masked_fill(~key_mask, float("-inf")), dim=-1)
    return (weights.unsqueeze(-1) * keys).sum(dim=1), weights


@wrong("din_attention", "ignores the padding mask")
def din_no_mask(query, keys, key_mask, mlp):
    return _din(query, keys, key_mask, mlp, use_mask=False)


@wrong("din_attention", "masks the pooled vector but returns unmasked weights")
def din_weights_unmasked(query, keys, key_mask, mlp):
    return _din(query, keys, key_mask, mlp, mask_weights=False)


@wrong("din_attention", "concatenates [q, k, q - k, q * k] (another order than specified)")
def din_other_order(query, keys, key_mask, mlp):
    return _din(query, keys, key_mask, mlp, order="qk")


@wrong("din_attention", "mean pooling (divides by the number of behaviours)")
def din_mean_pooling(query, keys, key_mask, mlp):
    return _din(query, keys, key_mask, mlp, mean=True)


# --- Exercise 9b: scenario_target_attention ----------------------------------------------------


@helper
def _scenario(history, mask, target, scenario, W_q, *, normalise="masked", scale="d", order="scenario first",
              target_only=False, W_q_data=False):
    W = W_q.data if W_q_data else W_q
    d_s, d = scenario.shape[-1], history.shape[-1]
    if target_only:
        query = target @ W[d_s:]
    else:
        query = torch.cat([scenario, target] if order == "scenario first" else [target, scenario], dim=-1) @ W
    divisor = {"d": d**0.5, "none": 1.0, "d_s + d": (d_s + d) ** 0.5}[scale]
    scores = (history @ query.unsqueeze(-1)).squeeze(-1) / divisor
    if normalise == "masked":
        weights = torch.where(mask, torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1), 0.0)
    elif normalise == "unmasked":
        weights = torch.softmax(scores, dim=-1)
    elif normalise == "mask after":
        weights = torch.softmax(scores, dim=-1) * mask
    elif normalise == "-inf only":
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    elif normalise == "log mask":
        weights = torch.softmax(scores + torch.log(mask.to(scores.dtype)), dim=-1).nan_to_num(0.0)
    elif normalise == "max over all":
        e = torch.exp(scores - scores.max(dim=-1, keepdim=True).values) * mask
        weights = e / e.sum(dim=-1, keepdim=True).clamp_min(1e-30)
    return (weights.unsqueeze(-1) * history).sum(dim=1), weights


@wrong("scenario_target_attention", "softmax over all L positions: the padding gets weight")
def scenario_softmax_unmasked(history, mask, target, scenario, W_q):
    return _scenario(history, mask, target, scenario, W_q, normalise="unmasked")


@wrong("scenario_target_attention", "softmax over all positions, then the padding zeroed: real weights sum to < 1")
def scenario_mask_after_softmax(history, mask, target, scenario, W_q):
    return _scenario(history, mask, target, scenario, W_q, normalise="mask after")


@wrong("scenario_target_attention", "scores not divided by sqrt(d)")
def scenario_no_sqrt(history, mask, target, scenario, W_q):
    return _scenario(history, mask, target, scenario, W_q, scale="none")


@wrong("scenario_target_attention", "scores divided by sqrt(d_s + d), the width of the concatenation, not sqrt(d)")
def scenario_sqrt_of_concat_width(history, mask, target, scenario, W_q):
    return _scenario(history, mask, target, scenario, W_q, scale="d_s + d")


@wrong("scenario_target_attention", "query from the target alone (target @ W_q[d_s:]): the scenario changes nothing")
def scenario_target_only_query(history, mask, target, scenario, W_q):
    return _scenario(history, mask, target, scenario, W_q, target_only=True)


@wrong("scenario_target_attention", "concatenates [target; scenario] (the other order than specified)")
def scenario_target_first(history, mask, target, scenario, W_q):
    return _scenario(history, mask, target, scenario, W_q, order="target first")


@wrong("scenario_target_attention", "masked_fill(-inf) then softmax, nothing more: NaN for a row without behaviours")
def scenario_nan_for_empty_rows(history, mask, target, scenario, W_q):
    return _scenario(history, mask, target, scenario, W_q, normalise="-inf only")


@wrong("scenario_target_attention", "additive mask scores + log(mask), weights repaired by nan_to_num: the forward "
                                    "pass is right, the gradients of an empty row are NaN")
def scenario_additive_log_mask(history, mask, target, scenario, W_q):
    return _scenario(history, mask, target, scenario, W_q, normalise="log mask")


@wrong("scenario_target_attention", "empty rows made to attend to position 0 by writing into the caller's mask")
def scenario_writes_mask(history, mask, target, scenario, W_q):
    empty = ~mask.any(dim=1)
    mask[empty, 0] = True  # every row now has a "real" position, so the softmax has no 0/0
    query = torch.cat([scenario, target], dim=-1) @ W_q
    scores = (history @ query.unsqueeze(-1)).squeeze(-1) / history.shape[-1] ** 0.5
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) * (~empty).unsqueeze(1)
    return (weights.unsqueeze(-1) * history).sum(dim=1), weights


@wrong("scenario_target_attention", "projects with W_q.data (an old-PyTorch habit): no gradient reaches W_q")
def scenario_W_q_data(history, mask, target, scenario, W_q):
    return _scenario(history, mask, target, scenario, W_q, W_q_data=True)


@wrong("scenario_target_attention", "exp(score - max over ALL positions) times the mask: padded rows with large scores "
                                    "make every real weight underflow to 0")
def scenario_max_over_padding(history, mask, target, scenario, W_q):
    return _scenario(history, mask, target, scenario, W_q, normalise="max over all")


@wrong("scenario_target_attention", "weights collected in torch.zeros(B, L), float32 whatever the inputs' dtype")
def scenario_float32_buffer(history, mask, target, scenario, W_q):
    query = torch.cat([scenario, target], dim=-1) @ W_q
    scores = (history @ query.unsqueeze(-1)).squeeze(-1) / history.shape[-1] ** 0.5
    weights = torch.zeros(mask.shape)
    for b in range(mask.shape[0]):
        if mask[b].any():
            weights[b, mask[b]] = torch.softmax(scores[b, mask[b]], dim=0)
    return (weights.unsqueeze(-1) * history).sum(dim=1), weights


# --- Exercise 10: dice -------------------------------------------------------------------------


@helper
def _dice(x, alpha, eps, *, eps_inside=True, correction=0, dim=0, swap=False, hard=False):
    mean = x.mean(dim=dim, keepdim=True)
    var = x.var(dim=dim, correction=correction, keepdim=True)
    z = (x - mean) / (torch.sqrt(var + eps) if eps_inside else torch.sqrt(var) + eps)
    p = (z > 0).to(x.dtype) if hard else torch.sigmoid(z)
    return (1 - p) * x + p * alpha * x if swap else p * x + (1 - p) * alpha * x


@wrong("dice", "eps added outside the square root")
def dice_eps_outside(x, alpha, eps=1e-8):
    return _dice(x, alpha, eps, eps_inside=False)


@wrong("dice", "unbiased batch variance")
def dice_unbiased(x, alpha, eps=1e-8):
    return _dice(x, alpha, eps, correction=1)


@wrong("dice", "alpha on the positive side (p and 1 - p swapped)")
def dice_swapped(x, alpha, eps=1e-8):
    return _dice(x, alpha, eps, swap=True)


@wrong("dice", "statistics over the features of each example (dim=1)")
def dice_wrong_axis(x, alpha, eps=1e-8):
    return _dice(x, alpha, eps, dim=1)


@wrong("dice", "hard step on the normalised input (PReLU around the mean)")
def dice_hard_step(x, alpha, eps=1e-8):
    return _dice(x, alpha, eps, hard=True)


# --- Exercise 11: sim_hard_search --------------------------------------------------------------


@helper
def _sim(hist_items, hist_cats, target_cat, k, *, oldest=False, chronological=False, fill=False, any_cat=False):
    B, T = hist_items.shape
    positions = torch.arange(T).expand(B, T)
    match = torch.ones_like(hist_cats, dtype=torch.bool) if any_cat else hist_cats == target_cat.unsqueeze(1)
    preference = T - 1 - positions if oldest else positions  # larger = kept first
    key = torch.where(match, preference + T, preference if fill else torch.full_like(preference, -1))
    ranked = key.sort(dim=1, descending=True).values[:, :k]
    if ranked.shape[1] < k:
        ranked = F.pad(ranked, (0, k - ranked.shape[1]), value=-1)
    mask = ranked >= 0
    preferred = torch.where(ranked >= T, ranked - T, ranked)
    index = T - 1 - preferred if oldest else preferred
    if chronological:
        index, mask = index.flip(dims=[1]), mask.flip(dims=[1])
    items = torch.where(mask, hist_items.gather(1, index.clamp(0, T - 1)), 0)
    return items, mask


@wrong("sim_hard_search", "keeps the OLDEST matching behaviours")
def sim_oldest(hist_items, hist_cats, target_cat, k):
    return _sim(hist_items, hist_cats, target_cat, k, oldest=True)


@wrong("sim_hard_search", "the k most recent matches, but oldest first")
def sim_chronological(hist_items, hist_cats, target_cat, k):
    return _sim(hist_items, hist_cats, target_cat, k, chronological=True)


@wrong("sim_hard_search", "fills up with non-matching behaviours when fewer than k match")
def sim_fills(hist_items, hist_cats, target_cat, k):
    return _sim(hist_items, hist_cats, target_cat, k, fill=True)


@wrong("sim_hard_search", "no padding when k > T: returns only T columns")
def sim_no_pad(hist_items, hist_cats, target_cat, k):
    B, T = hist_items.shape
    positions = torch.arange(T).expand(B, T)
    match = hist_cats == target_cat.unsqueeze(1)
    ranked = torch.where(match, positions, -1).sort(dim=1, descending=True).values[:, :k]
    mask = ranked >= 0
    return torch.where(mask, hist_items.gather(1, ranked.clamp(min=0)), 0), mask


@wrong("sim_hard_search", "ignores the category (the k most recent behaviours)")
def sim_any_category(hist_items, hist_cats, target_cat, k):
    return _sim(hist_items, hist_cats, target_cat, k, any_cat=True)


# --- Exercise 12: MMoE -------------------------------------------------------------------------


@helper
def _mmoe_init(self, in_dim, n_experts, expert_dim, n_tasks, tower_hidden, *, n_gates=None):
    nn.Module.__init__(self)
    self.experts = nn.ModuleList([nn.Sequential(nn.Linear(in_dim, expert_dim), nn.ReLU()) for _ in range(n_experts)])
    self.gates = nn.ModuleList([nn.Linear(in_dim, n_experts) for _ in range(n_gates or n_tasks)])
    self.towers = nn.ModuleList([nn.Sequential(nn.Linear(expert_dim, tower_hidden), nn.ReLU(),
                                               nn.Linear(tower_hidden, 1)) for _ in range(n_tasks)])


@helper
def _mmoe_forward(self, x, *, gate_dim=-1, softmax=True, shared_gate=False, detach=False, squeeze_all=False):
    outputs = torch.stack([expert(x) for expert in self.experts], dim=1)
    logits = []
    for t, tower in enumerate(self.towers):
        gate = self.gates[0] if shared_gate else self.gates[t]
        scores = gate(x)
        weights = torch.softmax(scores, dim=gate_dim) if softmax else scores
        if detach:
            weights = weights.detach()
        out = tower((weights.unsqueeze(-1) * outputs).sum(dim=1))
        logits.append(out.squeeze() if squeeze_all else out.squeeze(-1))
    return torch.stack(logits, dim=-1)


@wrong("MMoE", "one gate shared by all tasks (that is MoE)")
class MMoEOneGate(nn.Module):
    def __init__(self, in_dim, n_experts, expert_dim, n_tasks, tower_hidden):
        _mmoe_init(self, in_dim, n_experts, expert_dim, n_tasks, tower_hidden, n_gates=1)

    def forward(self, x):
        return _mmoe_forward(self, x, shared_gate=True)


@wrong("MMoE", "softmax over the batch instead of over the experts")
class MMoEBatchSoftmax(nn.Module):
    def __init__(self, in_dim, n_experts, expert_dim, n_tasks, tower_hidden):
        _mmoe_init(self, in_dim, n_experts, expert_dim, n_tasks, tower_hidden)

    def forward(self, x):
        return _mmoe_forward(self, x, gate_dim=0)


@wrong("MMoE", "raw gate outputs without softmax")
class MMoENoSoftmax(nn.Module):
    def __init__(self, in_dim, n_experts, expert_dim, n_tasks, tower_hidden):
        _mmoe_init(self, in_dim, n_experts, expert_dim, n_tasks, tower_hidden)

    def forward(self, x):
        return _mmoe_forward(self, x, softmax=False)


@wrong("MMoE", "gate weights detached: the gates never learn")
class MMoEDetachedGates(nn.Module):
    def __init__(self, in_dim, n_experts, expert_dim, n_tasks, tower_hidden):
        _mmoe_init(self, in_dim, n_experts, expert_dim, n_tasks, tower_hidden)

    def forward(self, x):
        return _mmoe_forward(self, x, detach=True)


@wrong("MMoE", "squeeze() instead of squeeze(-1): breaks for a batch of one")
class MMoESqueezeAll(nn.Module):
    def __init__(self, in_dim, n_experts, expert_dim, n_tasks, tower_hidden):
        _mmoe_init(self, in_dim, n_experts, expert_dim, n_tasks, tower_hidden)

    def forward(self, x):
        return _mmoe_forward(self, x, squeeze_all=True)


# --- Exercise 13: esmm_loss --------------------------------------------------------------------


@wrong("esmm_loss", "trains CVR on clicked impressions only (the bias ESMM removes)")
def esmm_cvr_on_clicks(p_ctr, p_cvr, click, conversion):
    clicked = click == 1
    return F.binary_cross_entropy(p_ctr, click) + F.binary_cross_entropy(p_cvr[clicked], conversion[clicked])


@wrong("esmm_loss", "CTCVR label is the conversion (not click * conversion)")
def esmm_conversion_label(p_ctr, p_cvr, click, conversion):
    return F.binary_cross_entropy(p_ctr, click) + F.binary_cross_entropy(p_ctr * p_cvr, conversion)


@wrong("esmm_loss", "sums the BCE over impressions instead of averaging")
def esmm_sum(p_ctr, p_cvr, click, conversion):
    return (F.binary_cross_entropy(p_ctr, click, reduction="sum")
            + F.binary_cross_entropy(p_ctr * p_cvr, click * conversion, reduction="sum"))


@wrong("esmm_loss", "CVR against the conversion on all impressions, no CTCVR product")
def esmm_cvr_everywhere(p_ctr, p_cvr, click, conversion):
    return F.binary_cross_entropy(p_ctr, click) + F.binary_cross_entropy(p_cvr, conversion)


# --- Exercise 14: uncertainty_weighted_loss ----------------------------------------------------


@wrong("uncertainty_weighted_loss", "exp(+s) instead of exp(-s)")
def uncertainty_exp_plus(losses, log_vars):
    return (0.5 * torch.exp(log_vars) * losses + 0.5 * log_vars).sum()


@wrong("uncertainty_weighted_loss", "regulariser s instead of s / 2")
def uncertainty_full_s(losses, log_vars):
    return (0.5 * torch.exp(-log_vars) * losses + log_vars).sum()


@wrong("uncertainty_weighted_loss", "forgets the 1/2 on the weighted loss")
def uncertainty_no_half(losses, log_vars):
    return (torch.exp(-log_vars) * losses + 0.5 * log_vars).sum()


@wrong("uncertainty_weighted_loss", "the task weights exp(-s) detached: s learns only from its penalty")
def uncertainty_detached_weight(losses, log_vars):
    return (0.5 * torch.exp(-log_vars.detach()) * losses + 0.5 * log_vars).sum()


@wrong("uncertainty_weighted_loss", "mean over tasks instead of sum")
def uncertainty_mean(losses, log_vars):
    return (0.5 * torch.exp(-log_vars) * losses + 0.5 * log_vars).mean()


# --- Exercise 15: calibrate_sampled_ctr --------------------------------------------------------


@wrong("calibrate_sampled_ctr", "multiplies by the sampling rate")
def calibrate_times_rate(p, neg_rate):
    return np.asarray(p, dtype=np.float64) * neg_rate


@wrong("calibrate_sampled_ctr", "applies the sampling map instead of its inverse")
def calibrate_forward_map(p, neg_rate):
    p = np.asarray(p, dtype=np.float64)
    return p / (p + (1 - p) * neg_rate)


@wrong("calibrate_sampled_ctr", "modifies p in place")
def calibrate_in_place(p, neg_rate):
    p = np.asarray(p, dtype=np.float64)
    p /= p + (1 - p) / neg_rate
    return p


# --- Section 6.1: what AUC does not see (concept check) ----------------------------------------

answer("auc_blind", "negatives_too", "thinks NDCG sees the order among the negatives as well (AUC 'blind' to it)",
       '{"squash", "reverse positives", "reverse negatives"}')
answer("auc_blind", "within_class_only", "thinks squashing the probabilities changes AUC: only the two reorderings",
       '{"reverse positives", "reverse negatives"}')
answer("auc_blind", "user_shift_blind", "thinks a per-user shift keeps the global AUC, as it keeps GAUC",
       '{"squash", "reverse positives", "user shift"}\nauc_mixes_users = set()')
answer("auc_blind", "values_only", "only the notes' first point: misses the order among the positives",
       '{"squash"}')
answer("auc_blind", "swapped_sets", "exchanges the two sets",
       '{"user shift"}\nauc_mixes_users = {"squash", "reverse positives"}')
answer("auc_mixes_users", "every_auc_change", "lists every row where AUC changes, the swaps included",
       '{"user shift", "swap at top", "swap at bottom"}')
answer("auc_mixes_users", "squash_mixes", "thinks squashing the probabilities changes the global ranking",
       '{"squash", "user shift"}')
answer("auc_mixes_users", "bottom_swap", "thinks a swap at the bottom of the list is invisible to the users' metrics",
       '{"user shift", "swap at bottom"}')
answer("auc_mixes_users", "empty", "thinks nothing changes AUC without changing a user's list", "set()")
answer("auc_blind", "a_list", "answers with a list", '["squash", "reverse positives"]')
answer("auc_mixes_users", "short_name", "answers with a name that is not in AUC_TRANSFORMS", '{"shift"}')
answer("auc_mixes_users", "a_string", "answers with a bare string", '"user shift"')

# --- Exercise 16: fuse_scores ------------------------------------------------------------------


@helper
def _fuse(scores, weights, alphas, betas, mode, *, alpha_outside=False, products_as_sums=False, no_weights=False,
          no_error=False):
    scores = np.asarray(scores, dtype=np.float64)
    if mode == "weighted_sum":
        return scores @ weights
    if mode == "exp_product":
        powered = scores**betas
        return powered.sum(axis=1) if products_as_sums else powered.prod(axis=1)
    w = np.ones_like(weights) if no_weights and mode == "weighted_exp_product" else weights
    terms = alphas + (w * scores) ** betas if alpha_outside else (alphas + w * scores) ** betas
    if mode == "weighted_exp_sum":
        return terms.sum(axis=1)
    if mode == "weighted_exp_product":
        return terms.sum(axis=1) if products_as_sums else terms.prod(axis=1)
    if no_error:
        return np.zeros(len(scores))
    raise ValueError(mode)


@wrong("fuse_scores", "the offset alpha added outside the power")
def fuse_alpha_outside(scores, weights, alphas, betas, mode):
    return _fuse(scores, weights, alphas, betas, mode, alpha_outside=True)


@wrong("fuse_scores", "product modes computed as sums")
def fuse_products_as_sums(scores, weights, alphas, betas, mode):
    return _fuse(scores, weights, alphas, betas, mode, products_as_sums=True)


@wrong("fuse_scores", "weighted_exp_product ignores the weights")
def fuse_product_no_weights(scores, weights, alphas, betas, mode):
    return _fuse(scores, weights, alphas, betas, mode, no_weights=True)


@wrong("fuse_scores", "returns zeros for an unknown mode instead of raising")
def fuse_no_error(scores, weights, alphas, betas, mode):
    return _fuse(scores, weights, alphas, betas, mode, no_error=True)


answer("coarse_score_feature", "strong_feature", "adds the coarse score as a harmless strong feature", '"A"')
answer("coarse_score_feature", "latency", "sees only a latency problem", '"B"')
answer("coarse_score_feature", "auc_guard", "trusts the offline AUC to reject a harmful feature", '"D"')
answer("coarse_score_feature", "lowercase", "answers in lower case", '"c"')

# --- Section 7: LTR families, ranknet_loss, lambdarank_lambdas ---------------------------------

answer("ltr_families", "listnet_pairwise", "calls ListNet pairwise",
       '("pointwise", "pairwise", "pairwise", "pairwise", "pointwise", "listwise")')
answer("ltr_families", "bpr_pointwise", "calls BPR pointwise",
       '("pointwise", "pairwise", "pointwise", "listwise", "pointwise", "listwise")')
answer("ltr_families", "a_list", "answers with a list",
       '["pointwise", "pairwise", "pairwise", "listwise", "pointwise", "listwise"]')


@wrong("ranknet_loss", "log(1 + exp(z)) computed directly (overflows)")
def ranknet_naive(s_i, s_j, sigma=1.0):
    return torch.log(1 + torch.exp(-sigma * (s_i - s_j)))


@wrong("ranknet_loss", "sign flipped: rewards the less relevant item")
def ranknet_sign(s_i, s_j, sigma=1.0):
    return F.softplus(sigma * (s_i - s_j))


@wrong("ranknet_loss", "ignores sigma")
def ranknet_no_sigma(s_i, s_j, sigma=1.0):
    return F.softplus(-(s_i - s_j))


@wrong("ranknet_loss", "softplus on detached scores: right values, no gradient")
def ranknet_detached(s_i, s_j, sigma=1.0):
    return F.softplus(-sigma * (s_i.detach() - s_j.detach()))


@wrong("ranknet_loss", "returns the mean instead of per-pair losses")
def ranknet_mean(s_i, s_j, sigma=1.0):
    return F.softplus(-sigma * (s_i - s_j)).mean()


@helper
def _lambdas(scores, relevance, k, *, weight=True, sign=1.0, gain="linear", use_k=True, discount_offset=1,
             tie="position"):
    scores = np.asarray(scores, dtype=np.float64)
    relevance = np.asarray(relevance, dtype=np.float64)
    n = scores.size
    k = n if (k is None or not use_k) else min(k, n)
    rank = np.empty(n, dtype=np.int64)
    if tie == "against_position":
        rank[np.argsort(scores, kind="stable")[::-1]] = np.arange(1, n + 1)
    else:
        rank[np.argsort(-scores, kind=None if tie == "quicksort" else "stable")] = np.arange(1, n + 1)
    with np.errstate(divide="ignore"):
        discount = np.where(rank <= k, 1.0 / np.log2(rank + discount_offset), 0.0)
        ideal_discount = 1.0 / np.log2(np.arange(1, k + 1) + discount_offset)
    gains = 2**relevance - 1 if gain == "exponential" else relevance
    idcg = (np.sort(gains)[::-1][:k] * ideal_discount).sum()
    if idcg == 0:
        return np.zeros(n)
    delta = np.abs((gains[:, None] - gains[None, :]) * (discount[:, None] - discount[None, :])) / idcg
    if not weight:
        delta = np.ones_like(delta)
    better = relevance[:, None] > relevance[None, :]
    with np.errstate(invalid="ignore"):
        pair_grad = np.where(better, -expit(-(scores[:, None] - scores[None, :])) * delta, 0.0)
    return sign * (pair_grad.sum(axis=1) - pair_grad.sum(axis=0))


@wrong("lambdarank_lambdas", "plain RankNet gradients: no |delta NDCG| weights")
def lambdas_unweighted(scores, relevance, k=None):
    return _lambdas(scores, relevance, k, weight=False)


@wrong("lambdarank_lambdas", "sign flipped (positive = push up)")
def lambdas_sign(scores, relevance, k=None):
    return _lambdas(scores, relevance, k, sign=-1.0)


@wrong("lambdarank_lambdas", "exponential gain 2^rel - 1 in |delta NDCG|")
def lambdas_exponential_gain(scores, relevance, k=None):
    return _lambdas(scores, relevance, k, gain="exponential")


@wrong("lambdarank_lambdas", "ignores the cut-off k")
def lambdas_ignore_k(scores, relevance, k=None):
    return _lambdas(scores, relevance, k, use_k=False)


@wrong("lambdarank_lambdas", "discount 1/log2(rank) instead of 1/log2(rank + 1)")
def lambdas_log2_rank(scores, relevance, k=None):
    return _lambdas(scores, relevance, k, discount_offset=0)


@wrong("lambdarank_lambdas", "np.argsort(-scores) with the default quicksort: ties in no defined order")
def lambdas_unstable_sort(scores, relevance, k=None):
    return _lambdas(scores, relevance, k, tie="quicksort")


@wrong("lambdarank_lambdas", "ties broken against position (stable ascending sort, reversed)")
def lambdas_ties_reversed(scores, relevance, k=None):
    return _lambdas(scores, relevance, k, tie="against_position")


# --- Exercise 1b: roc_points -------------------------------------------------------------------


@helper
def _roc(labels, scores, *, per_sample=False, ascending=False, start=True, fpr_over_n=False):
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    if per_sample:
        group = np.empty(labels.size, dtype=np.int64)
        group[np.argsort(-scores, kind="stable")] = np.arange(labels.size)
    else:
        _, group = np.unique(scores if ascending else -scores, return_inverse=True)
        group = group.ravel()
    tp = np.cumsum(np.bincount(group, weights=labels.astype(float)))
    fp = np.cumsum(np.bincount(group, weights=(~labels).astype(float)))
    tpr, fpr = tp / labels.sum(), fp / (labels.size if fpr_over_n else (~labels).sum())
    if start:
        tpr, fpr = np.concatenate([[0.0], tpr]), np.concatenate([[0.0], fpr])
    return fpr, tpr


@wrong("roc_points", "one point per sample: tied samples enter one by one")
def roc_per_sample(labels, scores):
    return _roc(labels, scores, per_sample=True)


@wrong("roc_points", "thresholds from the lowest score up")
def roc_ascending(labels, scores):
    return _roc(labels, scores, ascending=True)


@wrong("roc_points", "no (0, 0) point at the start")
def roc_no_start(labels, scores):
    return _roc(labels, scores, start=False)


@wrong("roc_points", "FPR divided by all samples instead of the negatives")
def roc_fpr_over_n(labels, scores):
    return _roc(labels, scores, fpr_over_n=True)


# --- Section 3.6: the one-epoch concept check --------------------------------------------------

answer("one_epoch_answer", "last_epoch", "thinks more epochs are always better", '(2.0, "cross ID")')
answer("one_epoch_answer", "no_cross", "thinks the model without the cross ID ends best",
       '(1.0, "no cross ID")')
answer("one_epoch_answer", "a_list", "answers with a list", '[1.0, "cross ID, embeddings re-initialised"]')

# --- Section 5.1: multi-task designs -----------------------------------------------------------

answer("mtl_designs", "moe_mmoe_swapped", "swaps MoE (one gate) and MMoE (a gate per task)",
       '(("PLE", "gated"), ("shared bottom", "hard"), ("cross-stitch", "soft"), ("MoE", "gated"), '
       '("MMoE", "gated"))')
answer("mtl_designs", "notes_soft", "files MMoE and PLE under soft sharing, as the notes do",
       '(("PLE", "soft"), ("shared bottom", "hard"), ("cross-stitch", "soft"), ("MMoE", "soft"), '
       '("MoE", "gated"))')
answer("mtl_designs", "cross_stitch_hard", "calls cross-stitch hard sharing",
       '(("PLE", "gated"), ("shared bottom", "hard"), ("cross-stitch", "hard"), ("MMoE", "gated"), '
       '("MoE", "gated"))')

# --- Exercise 14b: gradnorm_loss ---------------------------------------------------------------


@helper
def _gradnorm(grad_norms, losses, initial_losses, alpha, *, detach_mean=True, detach_losses=True, inverted=False,
              normalise=True, squared=False):
    ratios = initial_losses / losses if inverted else losses / initial_losses
    if detach_losses:
        ratios = ratios.detach()
    rates = ratios / ratios.mean() if normalise else ratios
    mean_norm = grad_norms.detach().mean() if detach_mean else grad_norms.mean()
    gap = grad_norms - mean_norm * rates**alpha
    return (gap**2).sum() if squared else gap.abs().sum()


@wrong("gradnorm_loss", "the mean norm in the target not detached: gradient flows through the targets")
def gradnorm_mean_attached(grad_norms, losses, initial_losses, alpha):
    return _gradnorm(grad_norms, losses, initial_losses, alpha, detach_mean=False)


@wrong("gradnorm_loss", "the training rates not detached: gradient reaches the task losses")
def gradnorm_losses_attached(grad_norms, losses, initial_losses, alpha):
    return _gradnorm(grad_norms, losses, initial_losses, alpha, detach_losses=False)


@wrong("gradnorm_loss", "loss ratio inverted: L(0) / L (a fast task gets the large target)")
def gradnorm_inverted(grad_norms, losses, initial_losses, alpha):
    return _gradnorm(grad_norms, losses, initial_losses, alpha, inverted=True)


@wrong("gradnorm_loss", "loss ratios not divided by their mean")
def gradnorm_unnormalised(grad_norms, losses, initial_losses, alpha):
    return _gradnorm(grad_norms, losses, initial_losses, alpha, normalise=False)


@wrong("gradnorm_loss", "squared distance instead of L1")
def gradnorm_squared(grad_norms, losses, initial_losses, alpha):
    return _gradnorm(grad_norms, losses, initial_losses, alpha, squared=True)


# --- Section 6.2: the sign of the negative-feedback factor -------------------------------------

answer("notes_alpha", "notes_literal", "takes the notes' + sign literally: alpha = +0.4",
       "0.4\nraising_pneg = 0.5 * (1 - 0.4 * 0.3) - 0.5 * (1 - 0.4 * 0.1)")
answer("notes_alpha", "score_rises", "thinks more negative feedback raises the score",
       "-0.4\nraising_pneg = 0.5 * 0.4 * 0.2")

# --- Exercise 19: distillation_loss ------------------------------------------------------------


@helper
def _distill(student, teacher, labels, weight, *, detach=True, swapped=False, logits_as_targets=False,
             unstable=False, reduce="mean"):
    teacher = teacher.detach() if detach else teacher
    soft = teacher if logits_as_targets else torch.sigmoid(teacher)
    if unstable:
        p = torch.sigmoid(student)
        hard = F.binary_cross_entropy(p, labels, reduction=reduce)
        distill = F.binary_cross_entropy(p, soft, reduction=reduce)
    else:
        hard = F.binary_cross_entropy_with_logits(student, labels, reduction=reduce)
        distill = F.binary_cross_entropy_with_logits(student, soft, reduction=reduce)
    if swapped:
        return weight * hard + (1 - weight) * distill
    return (1 - weight) * hard + weight * distill


@wrong("distillation_loss", "teacher not detached: the gradient pulls the ranker towards the student")
def distillation_attached(student_logits, teacher_logits, labels, weight):
    return _distill(student_logits, teacher_logits, labels, weight, detach=False)


@wrong("distillation_loss", "weight on the click loss instead of the distillation loss")
def distillation_swapped(student_logits, teacher_logits, labels, weight):
    return _distill(student_logits, teacher_logits, labels, weight, swapped=True)


@wrong("distillation_loss", "teacher logits used as soft targets without the sigmoid")
def distillation_raw_logits(student_logits, teacher_logits, labels, weight):
    return _distill(student_logits, teacher_logits, labels, weight, logits_as_targets=True)


@wrong("distillation_loss", "sigmoid, then F.binary_cross_entropy: wrong for large logits")
def distillation_unstable(student_logits, teacher_logits, labels, weight):
    return _distill(student_logits, teacher_logits, labels, weight, unstable=True)


@wrong("distillation_loss", "sums over impressions instead of averaging")
def distillation_sum(student_logits, teacher_logits, labels, weight):
    return _distill(student_logits, teacher_logits, labels, weight, reduce="sum")


# --- Exercise 20: topk_consistency -------------------------------------------------------------


@helper
def _consistency(ranker_scores, preranker_scores, k, K, *, use_K=True, divide_by_K=False, swap=False,
                 kind="stable", cap=True):
    ranker_scores, preranker_scores = np.asarray(ranker_scores), np.asarray(preranker_scores)
    if swap:
        ranker_scores, preranker_scores = preranker_scores, ranker_scores
    n = ranker_scores.shape[1]
    kk, KK = (min(k, n), min(K, n)) if cap else (k, K)
    KK = KK if use_K else kk
    top_r = np.argsort(-ranker_scores, axis=1, kind=kind)[:, :kk]
    top_p = np.argsort(-preranker_scores, axis=1, kind=kind)[:, :KK]
    hits = np.array([len(set(a) & set(b)) for a, b in zip(top_r, top_p, strict=True)])
    return float((hits / (KK if divide_by_K else kk)).mean())


@wrong("topk_consistency", "the pre-ranker's top k instead of its top K")
def consistency_ignores_K(ranker_scores, preranker_scores, k, K):
    return _consistency(ranker_scores, preranker_scores, k, K, use_K=False)


@wrong("topk_consistency", "divides by K instead of k")
def consistency_over_K(ranker_scores, preranker_scores, k, K):
    return _consistency(ranker_scores, preranker_scores, k, K, divide_by_K=True)


@wrong("topk_consistency", "roles swapped: the pre-ranker's top k within the ranker's top K")
def consistency_swapped(ranker_scores, preranker_scores, k, K):
    return _consistency(ranker_scores, preranker_scores, k, K, swap=True)


@wrong("topk_consistency", "np.argsort(-scores) with the default quicksort: ties in no defined order")
def consistency_unstable(ranker_scores, preranker_scores, k, K):
    return _consistency(ranker_scores, preranker_scores, k, K, kind="quicksort")


@wrong("topk_consistency", "divides by k even when k > n_candidates")
def consistency_uncapped(ranker_scores, preranker_scores, k, K):
    return _consistency(ranker_scores, preranker_scores, k, K, cap=False)


# --- Capstone: capstone_train (more pipelines in tools/capstone_pipelines/04_recsys_models.py) -----------------


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
