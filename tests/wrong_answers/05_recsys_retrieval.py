"""Wrong answers for 05_recsys_retrieval (see tests/catalogue.py)."""

import hashlib
import heapq

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from scipy import optimize, special
from sklearn.cluster import KMeans

from tests.wrong_answers import answer, helper, wrong

# --- Section 1: concept checks ---------------------------------------------------------------

answer("retrieval_vs_ranking", "more_data", "thinks retrieval is fast because of more training data", '"A"')
answer("retrieval_vs_ranking", "no_user", "thinks retrieval is not personalised", '"B"')
answer("retrieval_vs_ranking", "gpu", "thinks retrieval is fast because it runs on GPUs", '"D"')
answer("retrieval_vs_ranking", "lowercase", "answers in lower case", '"c"')
answer("search_rec_ads", "swapped", "swaps search and recommendation", '("A", "C", "B")')
answer("search_rec_ads", "ads_as_search", "thinks advertising answers a query", '("C", "A", "C")')

# --- Exercise 1: item_cf_similarity ----------------------------------------------------------


@helper
def _cooccurrence(R):
    X = sp.csr_matrix(R, dtype=np.float64)
    co = (X.T @ X).toarray()
    return co, np.diag(co).copy()


@wrong("item_cf_similarity", "keeps the diagonal (each item is its own best neighbour)")
def item_cf_keeps_diagonal(R):
    co, n = _cooccurrence(R)
    denominator = np.sqrt(np.outer(n, n))
    return np.divide(co, denominator, out=np.zeros_like(co), where=denominator > 0)


@wrong("item_cf_similarity", "divides by |U_a| |U_b| (no square root)")
def item_cf_no_sqrt(R):
    co, n = _cooccurrence(R)
    denominator = np.outer(n, n)
    S = np.divide(co, denominator, out=np.zeros_like(co), where=denominator > 0)
    np.fill_diagonal(S, 0.0)
    return S


@wrong("item_cf_similarity", "Jaccard similarity |U_a & U_b| / |U_a | U_b|")
def item_cf_jaccard(R):
    co, n = _cooccurrence(R)
    union = n[:, None] + n[None, :] - co
    S = np.divide(co, union, out=np.zeros_like(co), where=union > 0)
    np.fill_diagonal(S, 0.0)
    return S


@wrong("item_cf_similarity", "np.asarray(R): breaks on scipy.sparse input")
def item_cf_dense_only(R):
    X = np.asarray(R, dtype=np.float64)
    co = X.T @ X
    n = np.diag(co).copy()
    denominator = np.sqrt(np.outer(n, n))
    S = np.divide(co, denominator, out=np.zeros_like(co), where=denominator > 0)
    np.fill_diagonal(S, 0.0)
    return S


# --- Exercise 2: item_cf_recommend -----------------------------------------------------------


@helper
def _recommend_from_scores(row, scores, k, *, include_seen=False, include_zero=False, larger_id_first=False):
    keep = np.ones(row.size, dtype=bool) if include_seen else row == 0
    if not include_zero:
        keep &= scores > 0
    candidates = np.flatnonzero(keep)
    ids = -candidates if larger_id_first else candidates
    order = np.lexsort((ids, -scores[candidates]))
    return candidates[order][:k].astype(np.int64)


@wrong("item_cf_recommend", "keeps every non-zero score (negative sums of signed similarities become candidates)")
def item_cf_recommend_nonzero(R, S, user, k):
    row = np.asarray(sp.csr_matrix(R)[user].todense(), dtype=np.float64).ravel()
    scores = row @ np.asarray(S, dtype=np.float64)
    candidates = np.flatnonzero((row == 0) & (scores != 0))
    return candidates[np.lexsort((candidates, -scores[candidates]))][:k].astype(np.int64)


@wrong("item_cf_recommend", "sums only the positive similarities (negative ones clipped to 0)")
def item_cf_recommend_clipped(R, S, user, k):
    row = np.asarray(sp.csr_matrix(R)[user].todense(), dtype=np.float64).ravel()
    scores = row @ np.maximum(np.asarray(S, dtype=np.float64), 0.0)
    candidates = np.flatnonzero((row == 0) & (scores > 0))
    return candidates[np.lexsort((candidates, -scores[candidates]))][:k].astype(np.int64)


@wrong("item_cf_recommend", "recommends items the user already interacted with")
def item_cf_recommend_seen(R, S, user, k):
    row = np.asarray(sp.csr_matrix(R)[user].todense(), dtype=np.float64).ravel()
    return _recommend_from_scores(row, row @ np.asarray(S), k, include_seen=True)


@wrong("item_cf_recommend", "ties broken by the LARGER item id")
def item_cf_recommend_ties_reversed(R, S, user, k):
    row = np.asarray(sp.csr_matrix(R)[user].todense(), dtype=np.float64).ravel()
    return _recommend_from_scores(row, row @ np.asarray(S), k, larger_id_first=True)


@wrong("item_cf_recommend", "pads the list with zero-score items")
def item_cf_recommend_zero_scores(R, S, user, k):
    row = np.asarray(sp.csr_matrix(R)[user].todense(), dtype=np.float64).ravel()
    return _recommend_from_scores(row, row @ np.asarray(S), k, include_zero=True)


@wrong("item_cf_recommend", "scores by the maximum similarity to the user's items instead of the sum")
def item_cf_recommend_max(R, S, user, k):
    row = np.asarray(sp.csr_matrix(R)[user].todense(), dtype=np.float64).ravel()
    S = np.asarray(S)
    scores = S[row > 0].max(axis=0) if (row > 0).any() else np.zeros(row.size)
    return _recommend_from_scores(row, scores, k)


@wrong("item_cf_recommend", "np.asarray(R)[user]: breaks on scipy.sparse input")
def item_cf_recommend_dense_only(R, S, user, k):
    row = np.asarray(R, dtype=np.float64)[user]
    return _recommend_from_scores(row, row @ np.asarray(S), k)


# --- Exercise 3: user_cf_recommend -----------------------------------------------------------


@helper
def _user_cf(R, user, k, n_neighbours, *, include_self=False, denominator="sqrt", votes=False):
    X = sp.csr_matrix(R, dtype=np.float64)
    row = np.asarray(X[user].todense()).ravel()
    sizes = np.asarray(X.sum(axis=1)).ravel()
    co = X @ row
    if denominator == "sqrt":
        den = np.sqrt(sizes * sizes[user])
    elif denominator == "product":
        den = sizes * sizes[user]
    else:  # jaccard
        den = sizes + sizes[user] - co
    sim = np.divide(co, den, out=np.zeros_like(co), where=den > 0)
    if not include_self:
        sim[user] = 0.0
    others = np.flatnonzero(sim > 0)
    neighbours = others[np.lexsort((others, -sim[others]))][:n_neighbours]
    weights = np.ones(neighbours.size) if votes else sim[neighbours]
    scores = weights @ X[neighbours].toarray() if neighbours.size else np.zeros(X.shape[1])
    candidates = np.flatnonzero((row == 0) & (scores > 0))
    return candidates[np.lexsort((candidates, -scores[candidates]))][:k].astype(np.int64)


@wrong("user_cf_recommend", "the user is their own most similar neighbour")
def user_cf_includes_self(R, user, k, n_neighbours):
    return _user_cf(R, user, k, n_neighbours, include_self=True)


@wrong("user_cf_recommend", "neighbours vote with weight 1 instead of their similarity")
def user_cf_unweighted(R, user, k, n_neighbours):
    return _user_cf(R, user, k, n_neighbours, votes=True)


@wrong("user_cf_recommend", "similarity divided by |I_u| |I_v| (no square root)")
def user_cf_no_sqrt(R, user, k, n_neighbours):
    return _user_cf(R, user, k, n_neighbours, denominator="product")


@wrong("user_cf_recommend", "Jaccard similarity between users")
def user_cf_jaccard(R, user, k, n_neighbours):
    return _user_cf(R, user, k, n_neighbours, denominator="jaccard")


# --- Exercise 4: mf_als ----------------------------------------------------------------------


@helper
def _als(R, mask, k, reg, n_iters, generator, *, zero_fill=False, weighted_reg=False, items_first=False):
    mask = np.asarray(mask, dtype=bool)
    R = np.asarray(R, dtype=np.float64)
    observed = np.ones_like(mask) if zero_fill else mask
    R = np.where(mask, R, 0.0)

    def solve(values, obs, other):
        out = np.zeros((values.shape[0], k))
        for row in range(values.shape[0]):
            cols = np.flatnonzero(obs[row])
            F_ = other[cols]
            penalty = reg * max(cols.size, 1) if weighted_reg else reg
            out[row] = np.linalg.solve(F_.T @ F_ + penalty * np.eye(k), F_.T @ values[row, cols])
        return out

    U = generator.normal(0.0, 0.1, (R.shape[0], k))
    V = generator.normal(0.0, 0.1, (R.shape[1], k))
    for _ in range(n_iters):
        if items_first:
            V = solve(R.T, observed.T, U)
            U = solve(R, observed, V)
        else:
            U = solve(R, observed, V)
            V = solve(R.T, observed.T, U)
    return U, V


@wrong("mf_als", "treats unobserved entries as zeros (factorises the zero-filled matrix)")
def mf_als_zero_filled(R, mask, k, reg, n_iters, generator):
    return _als(R, mask, k, reg, n_iters, generator, zero_fill=True)


@wrong("mf_als", "ALS-WR penalty: reg scaled by the row's number of observations")
def mf_als_weighted_reg(R, mask, k, reg, n_iters, generator):
    return _als(R, mask, k, reg, n_iters, generator, weighted_reg=True)


@wrong("mf_als", "solves the items first, so the returned V is not the last step")
def mf_als_items_first(R, mask, k, reg, n_iters, generator):
    return _als(R, mask, k, reg, n_iters, generator, items_first=True)


@wrong("mf_als", "uses the raw R, so unobserved entries leak into the right-hand side")
def mf_als_leaks_unobserved(R, mask, k, reg, n_iters, generator):
    mask = np.asarray(mask, dtype=bool)
    R = np.asarray(R, dtype=np.float64)
    W = mask.astype(np.float64)

    def solve(values, weights, other):
        outer = (other[:, :, None] * other[:, None, :]).reshape(len(other), k * k)
        gram = (weights @ outer).reshape(-1, k, k) + reg * np.eye(k)
        return np.linalg.solve(gram, (values @ other)[..., None])[..., 0]

    U = generator.normal(0.0, 0.1, (R.shape[0], k))
    V = generator.normal(0.0, 0.1, (R.shape[1], k))
    for _ in range(n_iters):
        U = solve(R, W, V)
        V = solve(R.T, W.T, U)
    return U, V


# --- Exercise 5: unigram_noise ---------------------------------------------------------------


@wrong("unigram_noise", "ignores the power (plain unigram)", also_fails=("test_sample_negatives",))
def unigram_noise_no_power(counts, power=0.75):
    counts = np.asarray(counts, dtype=np.float64)
    return counts / counts.sum()


@wrong("unigram_noise", "counts ** power without masking: unseen items get mass when power = 0",
       also_fails=("test_sample_negatives",))
def unigram_noise_zero_power(counts, power=0.75):
    weights = np.asarray(counts, dtype=np.float64) ** power
    return weights / weights.sum()


@wrong("unigram_noise", "raises the normalised frequencies to the power and does not renormalise",
       also_fails=("test_sample_negatives",))
def unigram_noise_not_renormalised(counts, power=0.75):
    counts = np.asarray(counts, dtype=np.float64)
    return np.where(counts > 0, (counts / counts.sum()) ** power, 0.0)


# --- Exercise 6: sgns_loss -------------------------------------------------------------------


@wrong("sgns_loss", "sum over the batch instead of the mean")
def sgns_loss_sum(center, context, negatives):
    positive = (center * context).sum(dim=-1)
    negative = torch.einsum("bkd,bd->bk", negatives, center)
    return -(F.logsigmoid(positive) + F.logsigmoid(-negative).sum(dim=-1)).sum()


@wrong("sgns_loss", "no minus sign for the negatives: log sigma(+u_n.v_c)")
def sgns_loss_negative_sign(center, context, negatives):
    positive = (center * context).sum(dim=-1)
    negative = torch.einsum("bkd,bd->bk", negatives, center)
    return -(F.logsigmoid(positive) + F.logsigmoid(negative).sum(dim=-1)).mean()


@wrong("sgns_loss", "mean over the negatives instead of their sum")
def sgns_loss_mean_negatives(center, context, negatives):
    positive = (center * context).sum(dim=-1)
    negative = torch.einsum("bkd,bd->bk", negatives, center)
    return -(F.logsigmoid(positive) + F.logsigmoid(-negative).mean(dim=-1)).mean()


@wrong("sgns_loss", "-log(sigmoid(x)): infinite for dot products of -1000")
def sgns_loss_unstable(center, context, negatives):
    positive = (center * context).sum(dim=-1)
    negative = torch.einsum("bkd,bd->bk", negatives, center)
    return -(torch.log(torch.sigmoid(positive)) + torch.log(torch.sigmoid(-negative)).sum(dim=-1)).mean()


# --- Exercise 7: nce_loss --------------------------------------------------------------------


@helper
def _nce(center, context, negatives, log_q, k, *, sign=1.0, with_k=True, shift_negatives=True, stable=True):
    shift = log_q + (float(np.log(k)) if with_k else 0.0)
    positive = (center * context).sum(dim=-1) - sign * shift[:, 0]
    negative = torch.einsum("bkd,bd->bk", negatives, center) - (sign * shift[:, 1:] if shift_negatives else 0.0)
    if stable:
        return -(F.logsigmoid(positive) + F.logsigmoid(-negative).sum(dim=-1)).mean()
    return -(torch.log(torch.sigmoid(positive)) + torch.log(torch.sigmoid(-negative)).sum(dim=-1)).mean()


@wrong("nce_loss", "adds log(k q) instead of subtracting it")
def nce_loss_adds(center, context, negatives, log_q, k):
    return _nce(center, context, negatives, log_q, k, sign=-1.0)


@wrong("nce_loss", "forgets the k in log(k q)")
def nce_loss_without_k(center, context, negatives, log_q, k):
    return _nce(center, context, negatives, log_q, k, with_k=False)


@wrong("nce_loss", "corrects only the positive's score")
def nce_loss_positive_only(center, context, negatives, log_q, k):
    return _nce(center, context, negatives, log_q, k, shift_negatives=False)


@wrong("nce_loss", "-log(sigmoid(x)): infinite for a score of -1000")
def nce_loss_unstable(center, context, negatives, log_q, k):
    return _nce(center, context, negatives, log_q, k, stable=False)


# --- Exercise 7b: neighbour_purity and the concept check after it ------------------------------------


@helper
def _purity(vectors, labels, k, *, similarity="cosine", self_excluded=True, order="stable", cap=True,
            divide_by_k=False, guard=True, in_place=False, empty=float("nan"), twin_cutoff=None):
    vectors = np.asarray(vectors, dtype=np.float64)
    labels = np.asarray(labels)
    n = len(vectors)
    k_used = min(int(k), n - 1) if cap else int(k)
    if min(int(k), n - 1) < 1:
        return empty
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if in_place:
        vectors /= np.maximum(norms, 1e-12)
        unit = vectors
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            unit = vectors / (np.maximum(norms, 1e-12) if guard else norms)
    if similarity == "dot":
        scores = vectors @ vectors.T
    elif similarity == "euclid":
        scores = -((vectors[:, None, :] - vectors[None, :, :]) ** 2).sum(-1)
    else:
        scores = unit @ unit.T
    if twin_cutoff is not None:
        scores[scores >= twin_cutoff] = -np.inf  # "removes the item itself" by value
    if self_excluded:
        np.fill_diagonal(scores, -np.inf)
    if order == "ascending":  # the minus sign forgotten: the item itself (-inf) first, then the farthest items
        nearest = np.argsort(scores, axis=1, kind="stable")[:, :k_used]
    elif order == "reversed":
        nearest = np.argsort(scores, axis=1, kind="stable")[:, ::-1][:, :k_used]
    elif order == "unstable":
        nearest = np.argsort(-scores, axis=1)[:, :k_used]
    else:
        nearest = np.argsort(-scores, axis=1, kind="stable")[:, :k_used]
    same = (labels[nearest] == labels[:, None]).sum(axis=1)
    return float((same / (k if divide_by_k else nearest.shape[1])).mean())


@wrong("neighbour_purity", "counts the item itself among its neighbours (purity inflated)")
def neighbour_purity_with_self(vectors, labels, k):
    return _purity(vectors, labels, k, self_excluded=False)


@wrong("neighbour_purity", "dot product instead of cosine: long vectors become everybody's neighbour")
def neighbour_purity_dot(vectors, labels, k):
    return _purity(vectors, labels, k, similarity="dot")


@wrong("neighbour_purity", "argsort ascending (no minus sign): the item itself, then the farthest items")
def neighbour_purity_farthest(vectors, labels, k):
    return _purity(vectors, labels, k, order="ascending")


@wrong("neighbour_purity", "reverses an ascending sort: ties go to the larger index")
def neighbour_purity_reversed_ties(vectors, labels, k):
    return _purity(vectors, labels, k, order="reversed")


@wrong("neighbour_purity", "np.argsort's default (unstable) sort: arbitrary order among ties")
def neighbour_purity_unstable(vectors, labels, k):
    return _purity(vectors, labels, k, order="unstable")


@wrong("neighbour_purity", "divides by the norms unguarded: a zero row gives NaN cosines")
def neighbour_purity_nan_zero_rows(vectors, labels, k):
    return _purity(vectors, labels, k, guard=False)


@wrong("neighbour_purity", "k not capped at n - 1: the item itself slips in at the end")
def neighbour_purity_uncapped(vectors, labels, k):
    return _purity(vectors, labels, k, cap=False)


@wrong("neighbour_purity", "divides the matches by k even when fewer than k neighbours exist")
def neighbour_purity_divides_by_k(vectors, labels, k):
    return _purity(vectors, labels, k, divide_by_k=True)


@wrong("neighbour_purity", "normalises the caller's array in place")
def neighbour_purity_in_place(vectors, labels, k):
    return _purity(vectors, labels, k, in_place=True)


@wrong("neighbour_purity", "nearest by Euclidean distance of the raw vectors, not by cosine")
def neighbour_purity_euclidean(vectors, labels, k):
    return _purity(vectors, labels, k, similarity="euclid")


@wrong("neighbour_purity", "excludes every cosine >= 1 - 1e-9 to drop the item itself, identical twins too")
def neighbour_purity_drops_twins(vectors, labels, k):
    return _purity(vectors, labels, k, twin_cutoff=1 - 1e-9)


@wrong("neighbour_purity", "returns 0.0 when there is no neighbour to judge")
def neighbour_purity_zero_when_empty(vectors, labels, k):
    return _purity(vectors, labels, k, empty=0.0)


@wrong("neighbour_purity", "returns a 0-d numpy array, not a Python float")
def neighbour_purity_array(vectors, labels, k):
    return np.array(_purity(vectors, labels, k))


answer("best_by_purity", "itemcf", "thinks ItemCF's vectors cluster best (it retrieves best)", '"ItemCF"')
answer("best_by_purity", "item2vec", "picks the learned embedding without reading the table", '"Item2Vec"')
answer("best_by_recall", "purest", "assumes the purest vectors retrieve best", '"content features"')
answer("best_by_recall", "item2vec", "assumes the learned embedding retrieves best", '"Item2Vec"')
answer("embedding_lessons", "purity_predicts", "thinks purity ranks the embeddings as recall does",
       '{"A", "B", "C", "E"}')
answer("embedding_lessons", "offline_final", "thinks offline recall settles it without an A/B test",
       '{"A", "C", "D", "E"}')
answer("embedding_lessons", "notes_only", "keeps only the statements close to the notes' wording", '{"A", "E"}')

# --- concept checks of Section 4.1 -----------------------------------------------------------

answer("cbow_vs_skipgram", "skipgram_faster", "thinks skip-gram is the faster one", '"B"')
answer("cbow_vs_skipgram", "cbow_rare", "thinks CBOW is better for rare words", '"D"')
answer("cbow_vs_skipgram", "same_model", "thinks the two cost the same", '"C"')
answer("word2vec_drawbacks", "notes_only", "only the two drawbacks the notes name", '{"A", "B"}')
answer("word2vec_drawbacks", "needs_labels", "thinks Word2Vec needs labels", '{"A", "B", "C", "D"}')

# --- Exercise 8: huffman_codes ---------------------------------------------------------------


@helper
def _huffman(counts, *, largest=False, reverse_codes=False, single="", node_offset=0):
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.size
    if n == 1:
        return [single], [np.zeros(len(single), dtype=np.int64)]
    parent = np.full(2 * n - 1, -1)
    bit = np.zeros(2 * n - 1, dtype=int)
    sign = -1.0 if largest else 1.0
    heap = [(sign * counts[i], i, i) for i in range(n)]
    heapq.heapify(heap)
    for j in range(n - 1):
        w1, _, a = heapq.heappop(heap)
        w2, _, b = heapq.heappop(heap)
        parent[a], parent[b] = n + j, n + j
        bit[a], bit[b] = 0, 1
        heapq.heappush(heap, (w1 + w2, n + j, n + j))
    codes, paths = [], []
    for leaf in range(n):
        bits, nodes, node = [], [], leaf
        while node != 2 * n - 2:
            bits.append(str(bit[node]))
            nodes.append(parent[node] - n + node_offset)
            node = parent[node]
        code = "".join(bits) if reverse_codes else "".join(reversed(bits))
        codes.append(code)
        paths.append(np.array(nodes[::-1], dtype=np.int64))
    return codes, paths


@wrong("huffman_codes", "merges the two LARGEST nodes")
def huffman_largest(counts):
    return _huffman(counts, largest=True)


@wrong("huffman_codes", "code bits read from the leaf up (reversed codes)")
def huffman_reversed_codes(counts):
    return _huffman(counts, reverse_codes=True)


@wrong("huffman_codes", "inner nodes numbered n..2n-2 (the ids of the merge heap)")
def huffman_node_ids_offset(counts):
    return _huffman(counts, node_offset=len(counts))


@wrong("huffman_codes", "a single item gets the code '0'")
def huffman_single_zero(counts):
    return _huffman(counts, single="0")


# --- Exercise 9: node2vec_walk ---------------------------------------------------------------


@helper
def _walk(adj, start, length, p, q, generator, *, swap=False, unweighted=False, first_order_distance=False):
    A = sp.csr_matrix(adj, dtype=np.float64)

    def neighbours(node):
        lo, hi = A.indptr[node], A.indptr[node + 1]
        ids, w = A.indices[lo:hi], A.data[lo:hi]
        return ids[w > 0], (np.ones(int((w > 0).sum())) if unweighted else w[w > 0])

    if swap:
        p, q = q, p
    walk = [int(start)]
    while len(walk) < length:
        ids, w = neighbours(walk[-1])
        if ids.size == 0:
            break
        if len(walk) > 1:
            prev = walk[-2]
            prev_ids, _ = neighbours(prev)
            adjacent = np.zeros(ids.size, dtype=bool) if first_order_distance else np.isin(ids, prev_ids)
            w = w * np.where(ids == prev, 1.0 / p, np.where(adjacent, 1.0, 1.0 / q))
        walk.append(int(generator.choice(ids, p=w / w.sum())))
    return np.array(walk, dtype=np.int64)


@wrong("node2vec_walk", "p and q swapped")
def node2vec_swapped(adj, start, length, p, q, generator):
    return _walk(adj, start, length, p, q, generator, swap=True)


@wrong("node2vec_walk", "ignores the edge weights")
def node2vec_unweighted(adj, start, length, p, q, generator):
    return _walk(adj, start, length, p, q, generator, unweighted=True)


@wrong("node2vec_walk", "neighbours of the previous node also get 1/q (only 'return' vs 'not return')")
def node2vec_no_distance_one(adj, start, length, p, q, generator):
    return _walk(adj, start, length, p, q, generator, first_order_distance=True)


@wrong("node2vec_walk", "length counts steps: returns length + 1 nodes")
def node2vec_length_steps(adj, start, length, p, q, generator):
    return _walk(adj, start, length + 1, p, q, generator)


# --- Exercise 10: sample_negatives -----------------------------------------------------------


@wrong("sample_negatives", "ignores the power: draws proportional to the counts")
def sample_negatives_no_power(counts, n, power, generator):
    counts = np.asarray(counts, dtype=np.float64)
    return generator.choice(counts.size, size=n, p=counts / counts.sum()).astype(np.int64)


@wrong("sample_negatives", "uniform over the items with a positive count")
def sample_negatives_uniform(counts, n, power, generator):
    seen = np.flatnonzero(np.asarray(counts) > 0)
    return seen[generator.integers(0, seen.size, n)].astype(np.int64)


@wrong("sample_negatives", "draws without replacement")
def sample_negatives_without_replacement(counts, n, power, generator):
    probabilities = np.where(np.asarray(counts) > 0, np.asarray(counts, dtype=float) ** power, 0.0)
    probabilities /= probabilities.sum()
    return generator.choice(len(probabilities), size=n, replace=False, p=probabilities).astype(np.int64)


# --- Exercise 11: in_batch_softmax_loss ------------------------------------------------------


@helper
def _in_batch(user_emb, item_emb, temperature, item_log_q=None, *, multiply=False, normalise=True, dim=-1,
              log_q_sign=1.0, log_q_rows=False):
    u = F.normalize(user_emb, dim=dim) if normalise else user_emb
    v = F.normalize(item_emb, dim=dim) if normalise else item_emb
    logits = u @ v.T * temperature if multiply else u @ v.T / temperature
    if item_log_q is not None:
        correction = item_log_q[:, None] if log_q_rows else item_log_q[None, :]
        logits = logits - log_q_sign * correction
    return F.cross_entropy(logits, torch.arange(len(logits)))


@wrong("in_batch_softmax_loss", "multiplies by the temperature")
def in_batch_multiplies(user_emb, item_emb, temperature, item_log_q=None):
    return _in_batch(user_emb, item_emb, temperature, item_log_q, multiply=True)


@wrong("in_batch_softmax_loss", "no L2 normalisation (raw inner products)")
def in_batch_unnormalised(user_emb, item_emb, temperature, item_log_q=None):
    return _in_batch(user_emb, item_emb, temperature, item_log_q, normalise=False)


@wrong("in_batch_softmax_loss", "normalises the columns (dim=0)")
def in_batch_normalises_columns(user_emb, item_emb, temperature, item_log_q=None):
    return _in_batch(user_emb, item_emb, temperature, item_log_q, dim=0)


@wrong("in_batch_softmax_loss", "ADDS log q (the correction with the wrong sign)")
def in_batch_adds_log_q(user_emb, item_emb, temperature, item_log_q=None):
    return _in_batch(user_emb, item_emb, temperature, item_log_q, log_q_sign=-1.0)


@wrong("in_batch_softmax_loss", "subtracts log q per row (a constant per row: no correction at all)")
def in_batch_log_q_rows(user_emb, item_emb, temperature, item_log_q=None):
    return _in_batch(user_emb, item_emb, temperature, item_log_q, log_q_rows=True)


# --- concept checks of Section 5 -------------------------------------------------------------

answer("exposed_negatives", "best_everywhere", "the YouTube paragraph's view: exposed items are negatives everywhere",
       '"A"')
answer("exposed_negatives", "retrieval_only", "swaps the stages", '"C"')
answer("exposed_negatives", "neither", "thinks impressions cannot be used at all", '"B"')
answer("low_activity_users", "never", "never sends low-activity users to the two tower", '"A"')
answer("low_activity_users", "tower_wins", "assumes the tower wins by a wide margin", '"C"')

# --- Exercise 11b: dat_mimic_loss --------------------------------------------------------------


@helper
def _mimic(p_u, p_v, a_u, a_v, labels, *, detach=True, own_tower=False, per_coordinate=False, root=False,
           over="all", y_mask=True):
    y = labels.to(a_u.dtype)
    target_u, target_v = (p_u, p_v) if own_tower else (p_v, p_u)
    if detach:
        target_u, target_v = target_u.detach(), target_v.detach()
    reduce = (lambda t: t.mean(dim=1)) if per_coordinate else (lambda t: t.sum(dim=1))
    user_side, item_side = reduce((a_u - target_u) ** 2), reduce((a_v - target_v) ** 2)
    if root:
        user_side, item_side = user_side.sqrt(), item_side.sqrt()
    per_pair = (y if y_mask else torch.ones_like(y)) * (user_side + item_side)
    return per_pair.sum() / y.sum() if over == "positives" else per_pair.mean()


@wrong("dat_mimic_loss", "no stop-gradient: the towers' outputs receive gradient from the mimic loss")
def dat_mimic_no_stop_gradient(p_u, p_v, a_u, a_v, labels):
    return _mimic(p_u, p_v, a_u, a_v, labels, detach=False)


@wrong("dat_mimic_loss", "averages over the positive pairs only (divides by their number, not by T)")
def dat_mimic_mean_over_positives(p_u, p_v, a_u, a_v, labels):
    return _mimic(p_u, p_v, a_u, a_v, labels, over="positives")


@wrong("dat_mimic_loss", "counts the negatives too (no label mask)")
def dat_mimic_counts_negatives(p_u, p_v, a_u, a_v, labels):
    return _mimic(p_u, p_v, a_u, a_v, labels, y_mask=False)


@wrong("dat_mimic_loss", "pairs each augmented vector with its own tower's output (a_u with p_u)")
def dat_mimic_own_tower(p_u, p_v, a_u, a_v, labels):
    return _mimic(p_u, p_v, a_u, a_v, labels, own_tower=True)


@wrong("dat_mimic_loss", "averages the squared differences over the d coordinates (mse per pair)")
def dat_mimic_mean_over_coordinates(p_u, p_v, a_u, a_v, labels):
    return _mimic(p_u, p_v, a_u, a_v, labels, per_coordinate=True)


@wrong("dat_mimic_loss", "Euclidean distance, not its square")
def dat_mimic_not_squared(p_u, p_v, a_u, a_v, labels):
    return _mimic(p_u, p_v, a_u, a_v, labels, root=True)


@wrong("dat_mimic_loss", "detaches everything: the augmented vectors get no gradient either")
def dat_mimic_all_detached(p_u, p_v, a_u, a_v, labels):
    with torch.no_grad():
        return _mimic(p_u, p_v, a_u, a_v, labels)


@wrong("dat_mimic_loss", "the paper's y a + (1 - y) p - p with the raw labels: fails on bool labels")
def dat_mimic_paper_form_raw_labels(p_u, p_v, a_u, a_v, labels):
    y = labels[:, None]
    target_u, target_v = p_v.detach(), p_u.detach()
    loss_u = ((y * a_u + (1 - y) * target_u - target_u) ** 2).sum(dim=1).mean()
    loss_v = ((y * a_v + (1 - y) * target_v - target_v) ** 2).sum(dim=1).mean()
    return loss_u + loss_v


@wrong("dat_mimic_loss", "computes in float32 whatever the input dtype")
def dat_mimic_float32(p_u, p_v, a_u, a_v, labels):
    return _mimic(p_u.float(), p_v.float(), a_u.float(), a_v.float(), labels)


# --- Exercise 11c: category_alignment_loss -----------------------------------------------------


@helper
def _cal(item_vecs, categories, *, cov="columns", major_rule="smallest_id", min_rows=2, reduce="sum",
         squared=True, dtype=None, empty=None):
    x = item_vecs if dtype is None else item_vecs.to(dtype)
    ids = sorted(set(categories.tolist()))
    counts = {c: int((categories == c).sum()) for c in ids}
    if major_rule == "first_row":
        major = int(categories[0])
    elif major_rule == "smallest_id":
        major = min(ids, key=lambda c: (-counts[c], c))
    elif major_rule == "largest_id_on_ties":
        major = sorted(ids, key=lambda c: counts[c])[-1]
    elif major_rule == "first_appearance_on_ties":
        order = list(dict.fromkeys(categories.tolist()))
        major = max(order, key=lambda c: counts[c])
    else:  # "id_0"
        major = ids[0]

    def covariance(rows):
        if cov == "rows":
            return torch.cov(rows)
        centred = rows - rows.mean(dim=0)
        return centred.T @ centred / (len(rows) - (0 if cov == "biased" else 1))

    others = [c for c in ids if c != major and counts[c] >= min_rows]
    if not others:
        return empty if empty is not None else x.new_zeros(())
    major_cov = covariance(x[categories == major])
    terms = [((major_cov - covariance(x[categories == c])) ** 2).sum() for c in others]
    if not squared:
        terms = [t.sqrt() for t in terms]
    total = torch.stack(terms).sum()
    return total / len(terms) if reduce == "mean" else total


@wrong("category_alignment_loss", "torch.cov(S) without transposing: the rows are taken as the variables")
def cal_rows_as_variables(item_vecs, categories):
    return _cal(item_vecs, categories, cov="rows")


@wrong("category_alignment_loss", "biased covariance: divides by n instead of n - 1")
def cal_biased_covariance(item_vecs, categories):
    return _cal(item_vecs, categories, cov="biased")


@wrong("category_alignment_loss", "takes the first row's category as the major one")
def cal_major_first_row(item_vecs, categories):
    return _cal(item_vecs, categories, major_rule="first_row")


@wrong("category_alignment_loss", "takes category 0 (the smallest id) as the major one whatever the counts")
def cal_major_smallest_id(item_vecs, categories):
    return _cal(item_vecs, categories, major_rule="id_0")


@wrong("category_alignment_loss", "averages over the other categories instead of summing")
def cal_mean_over_categories(item_vecs, categories):
    return _cal(item_vecs, categories, reduce="mean")


@wrong("category_alignment_loss", "Frobenius norm, not its square")
def cal_not_squared(item_vecs, categories):
    return _cal(item_vecs, categories, squared=False)


@wrong("category_alignment_loss", "keeps one-row categories (covariance 0/0 = NaN)")
def cal_keeps_singletons(item_vecs, categories):
    return _cal(item_vecs, categories, min_rows=1)


@wrong("category_alignment_loss", "goes through NumPy: np.cov values, no gradient")
def cal_numpy(item_vecs, categories):
    x, c = item_vecs.detach().numpy(), categories.numpy()
    ids, counts = np.unique(c, return_counts=True)
    major = ids[counts.argmax()]
    total = 0.0
    for category, n in zip(ids, counts, strict=True):
        if category != major and n >= 2:
            total += ((np.cov(x[c == major], rowvar=False) - np.cov(x[c == category], rowvar=False)) ** 2).sum()
    return torch.tensor(total, dtype=item_vecs.dtype)


@wrong("category_alignment_loss", "ties for the major category go to the first category in the batch")
def cal_tie_first_appearance(item_vecs, categories):
    return _cal(item_vecs, categories, major_rule="first_appearance_on_ties")


@wrong("category_alignment_loss", "sorts the categories by count and takes the last: ties go to the largest id")
def cal_tie_largest_id(item_vecs, categories):
    return _cal(item_vecs, categories, major_rule="largest_id_on_ties")


@wrong("category_alignment_loss", "skips categories with exactly 2 rows (n > 2 instead of n >= 2)")
def cal_skips_two_rows(item_vecs, categories):
    return _cal(item_vecs, categories, min_rows=3)


@wrong("category_alignment_loss", "computes in float32 whatever the input dtype")
def cal_float32(item_vecs, categories):
    return _cal(item_vecs, categories, dtype=torch.float32)


@wrong("category_alignment_loss", "returns the Python float 0.0 when nothing is aligned")
def cal_python_zero(item_vecs, categories):
    return _cal(item_vecs, categories, empty=0.0)


# --- Exercise 12: lightgcn_propagate ---------------------------------------------------------


@helper
def _lightgcn(R, user_emb, item_emb, n_layers, *, norm="symmetric", layers="mean", sequential=False,
              self_loops=False, dense_only=False):
    R = np.asarray(R, dtype=np.float64) if dense_only else sp.coo_matrix(R, dtype=np.float64).toarray()
    du, di = R.sum(1), R.sum(0)
    if norm == "user_twice":
        scale = np.outer(du, np.ones_like(di))  # sqrt(|N_u|) * sqrt(|N_u|)
    else:
        scale = np.sqrt(np.outer(du, di))
    A = torch.from_numpy(np.divide(R, scale, out=np.zeros_like(R), where=scale > 0)).to(user_emb.dtype)
    users, items = user_emb, item_emb
    collected_u, collected_i = [user_emb], [item_emb]
    for _ in range(n_layers):
        if sequential:
            users = A @ items + (users if self_loops else 0)
            items = A.T @ users + (items if self_loops else 0)
        else:
            users, items = A @ items + (users if self_loops else 0), A.T @ users + (items if self_loops else 0)
        collected_u.append(users)
        collected_i.append(items)
    if layers == "last":
        return collected_u[-1], collected_i[-1]
    if layers == "skip0":
        return torch.stack(collected_u[1:]).mean(0), torch.stack(collected_i[1:]).mean(0)
    return torch.stack(collected_u).mean(0), torch.stack(collected_i).mean(0)


@wrong("lightgcn_propagate", "the notes' normalisation 1/(sqrt|N_u| sqrt|N_u|): the user's degree twice")
def lightgcn_user_degree_twice(R, user_emb, item_emb, n_layers):
    return _lightgcn(R, user_emb, item_emb, n_layers, norm="user_twice")


@wrong("lightgcn_propagate", "returns the last layer instead of the mean of layers 0..K")
def lightgcn_last_layer(R, user_emb, item_emb, n_layers):
    return _lightgcn(R, user_emb, item_emb, n_layers, layers="last")


@wrong("lightgcn_propagate", "items are updated from the NEW user embeddings of the same layer")
def lightgcn_sequential(R, user_emb, item_emb, n_layers):
    return _lightgcn(R, user_emb, item_emb, n_layers, sequential=True)


@wrong("lightgcn_propagate", "adds self-loops (each layer keeps the node's own embedding)")
def lightgcn_self_loops(R, user_emb, item_emb, n_layers):
    return _lightgcn(R, user_emb, item_emb, n_layers, self_loops=True)


@wrong("lightgcn_propagate", "np.asarray(R): breaks on scipy.sparse input")
def lightgcn_dense_only(R, user_emb, item_emb, n_layers):
    return _lightgcn(R, user_emb, item_emb, n_layers, dense_only=True)


# --- Exercise 13: bpr_loss -------------------------------------------------------------------


@wrong("bpr_loss", "reversed: -log sigma(neg - pos)")
def bpr_loss_reversed(pos_scores, neg_scores):
    return F.softplus(pos_scores - neg_scores).mean()


@wrong("bpr_loss", "-log(sigmoid(x)): infinite for a difference of -1000")
def bpr_loss_unstable(pos_scores, neg_scores):
    return -torch.log(torch.sigmoid(pos_scores - neg_scores)).mean()


@wrong("bpr_loss", "sum instead of mean")
def bpr_loss_sum(pos_scores, neg_scores):
    return F.softplus(neg_scores - pos_scores).sum()


# --- Exercise 14: spectral_clustering --------------------------------------------------------


@helper
def _spectral(W, k, generator, *, laplacian="sym", largest=False, row_norm=True, isolated_zero=True):
    W = W.toarray() if sp.issparse(W) else np.asarray(W, dtype=np.float64)
    W = W.astype(np.float64)
    d = W.sum(axis=1)
    if isolated_zero:
        inv = np.where(d > 0, 1.0 / np.sqrt(np.where(d > 0, d, 1.0)), 0.0)
    else:
        with np.errstate(divide="ignore"):
            inv = 1.0 / np.sqrt(d)
    L = np.diag(d) - W if laplacian == "unnormalised" else np.eye(len(W)) - inv[:, None] * W * inv[None, :]
    _, vectors = np.linalg.eigh(L)
    U = vectors[:, -k:] if largest else vectors[:, :k]
    if row_norm:
        norms = np.linalg.norm(U, axis=1, keepdims=True)
        U = np.divide(U, norms, out=np.zeros_like(U), where=norms > 0)
    seed = int(generator.integers(2**31 - 1))
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(U).astype(np.int64)


@wrong("spectral_clustering", "eigenvectors of the LARGEST eigenvalues")
def spectral_largest(W, k, generator):
    return _spectral(W, k, generator, largest=True)


@wrong("spectral_clustering", "no row normalisation before k-means (the notes' recipe)")
def spectral_no_row_norm(W, k, generator):
    return _spectral(W, k, generator, row_norm=False)


@wrong("spectral_clustering", "unnormalised Laplacian D - W")
def spectral_unnormalised(W, k, generator):
    return _spectral(W, k, generator, laplacian="unnormalised")


@wrong("spectral_clustering", "1/sqrt(0) for isolated nodes (nan in the Laplacian)")
def spectral_isolated_nan(W, k, generator):
    return _spectral(W, k, generator, isolated_zero=False)


@wrong("spectral_clustering", "calls scikit-learn's SpectralClustering, which the task forbids")
def spectral_sklearn(W, k, generator):
    from sklearn.cluster import SpectralClustering

    seed = int(generator.integers(2**31 - 1))
    W = W.toarray() if sp.issparse(W) else np.asarray(W, dtype=np.float64)
    return SpectralClustering(k, affinity="precomputed", random_state=seed).fit_predict(W).astype(np.int64)


# --- Exercise 15: IVFIndex -------------------------------------------------------------------


@helper
def _ivf_build(index, items, n_lists, generator, n_iters=10, list_order="id"):
    def _sq_dist(a, b):
        return (a**2).sum(1)[:, None] - 2 * a @ b.T + (b**2).sum(1)[None, :]

    index.items = np.array(items, dtype=np.float64)
    centroids = index.items[generator.choice(len(index.items), n_lists, replace=False)].copy()
    for _ in range(n_iters):
        assignment = np.argmin(_sq_dist(index.items, centroids), axis=1)
        for j in range(n_lists):
            if (assignment == j).any():
                centroids[j] = index.items[assignment == j].mean(axis=0)
    distances = _sq_dist(index.items, centroids)
    assignment = np.argmin(distances, axis=1)
    index.centroids = centroids
    index.lists = []
    for j in range(n_lists):
        members = np.flatnonzero(assignment == j)
        if list_order == "distance":
            members = members[np.argsort(distances[members, j], kind="stable")]
        index.lists.append(members.astype(np.int64))
    return index


@helper
def _ivf_search(index, queries, k, n_probe, pad=-1, count_centroids=True):
    queries = np.atleast_2d(np.asarray(queries, dtype=np.float64))
    ids = np.full((len(queries), k), pad, dtype=np.int64)
    n_distances = np.zeros(len(queries), dtype=np.int64)
    centroid_distances = ((queries[:, None, :] - index.centroids[None, :, :]) ** 2).sum(-1)
    for qi, query in enumerate(queries):
        probe = np.argsort(centroid_distances[qi], kind="stable")[:n_probe]
        candidates = np.concatenate([index.lists[j] for j in probe])
        distances = ((index.items[candidates] - query) ** 2).sum(axis=1)
        order = np.lexsort((candidates, distances))[:k]
        ids[qi, : order.size] = candidates[order]
        n_distances[qi] = (len(index.centroids) if count_centroids else 0) + candidates.size
    return ids, n_distances


@wrong("IVFIndex", "no Lloyd iterations: the centroids stay at the random initial items")
class IVFIndexNoLloyd:
    def build(self, items, n_lists, generator):
        return _ivf_build(self, items, n_lists, generator, n_iters=0)

    def search(self, queries, k, n_probe):
        return _ivf_search(self, queries, k, n_probe)


@wrong("IVFIndex", "pads missing results with 0 instead of -1")
class IVFIndexPadsZero:
    def build(self, items, n_lists, generator):
        return _ivf_build(self, items, n_lists, generator)

    def search(self, queries, k, n_probe):
        return _ivf_search(self, queries, k, n_probe, pad=0)


@wrong("IVFIndex", "stores each list sorted by distance to its centroid, not by item id")
class IVFIndexListsByDistance:
    def build(self, items, n_lists, generator):
        return _ivf_build(self, items, n_lists, generator, list_order="distance")

    def search(self, queries, k, n_probe):
        return _ivf_search(self, queries, k, n_probe)


@wrong("IVFIndex", "counts only the item distances, not the centroid distances")
class IVFIndexCountsItemsOnly:
    def build(self, items, n_lists, generator):
        return _ivf_build(self, items, n_lists, generator)

    def search(self, queries, k, n_probe):
        return _ivf_search(self, queries, k, n_probe, count_centroids=False)


@wrong("IVFIndex", "5 Lloyd iterations instead of 10 (indistinguishable on converged blobs)")
class IVFIndexFiveIterations:
    def build(self, items, n_lists, generator):
        return _ivf_build(self, items, n_lists, generator, n_iters=5)

    def search(self, queries, k, n_probe):
        return _ivf_search(self, queries, k, n_probe)


@wrong("IVFIndex", "another initialisation: the first n_lists items of a permutation")
class IVFIndexPermutationStart:
    def build(self, items, n_lists, generator):
        class _Permuting:  # generator.choice replaced by a permutation prefix
            def choice(self, n, size, replace=False):
                return generator.permutation(n)[:size]

        return _ivf_build(self, items, n_lists, _Permuting())

    def search(self, queries, k, n_probe):
        return _ivf_search(self, queries, k, n_probe)


# --- Exercise 16: greedy_graph_search --------------------------------------------------------


@helper
def _graph_search(neighbours, vectors, query, entry, ef, k, *, beam=None, break_on_equal=False, mark_all=True,
                  count_entry=True):
    vectors = np.asarray(vectors, dtype=np.float64)
    ef = max(ef, k) if beam is None else beam

    def dist(node):
        return float(((vectors[node] - query) ** 2).sum())

    start = (dist(entry), int(entry))
    n_distances = 1 if count_entry else 0
    visited = {int(entry)}
    candidates, results = [start], [(-start[0], -start[1])]
    while candidates:
        current = heapq.heappop(candidates)
        farthest = (-results[0][0], -results[0][1])
        if current > farthest or (break_on_equal and current[0] >= farthest[0] and current != farthest):
            break
        for e in neighbours[current[1]]:
            e = int(e)
            if e in visited:
                continue
            found = (dist(e), e)
            n_distances += 1
            if len(results) < ef or found < (-results[0][0], -results[0][1]):
                visited.add(e)
                heapq.heappush(candidates, found)
                heapq.heappush(results, (-found[0], -found[1]))
                if len(results) > ef:
                    heapq.heappop(results)
            elif mark_all:
                visited.add(e)
    best = sorted((-d, -i) for d, i in results)[:k]
    return np.array([i for _, i in best], dtype=np.int64), n_distances


@wrong("greedy_graph_search", "pure greedy search: a beam of 1 whatever ef")
def graph_search_greedy(neighbours, vectors, query, entry, ef, k):
    return _graph_search(neighbours, vectors, query, entry, ef, k, beam=1)


@wrong("greedy_graph_search", "keeps only k results, ignoring ef")
def graph_search_beam_k(neighbours, vectors, query, entry, ef, k):
    return _graph_search(neighbours, vectors, query, entry, ef, k, beam=k)


@wrong("greedy_graph_search", "marks a node visited only when it enters the beam (distances recomputed)")
def graph_search_marks_late(neighbours, vectors, query, entry, ef, k):
    return _graph_search(neighbours, vectors, query, entry, ef, k, mark_all=False)


@wrong("greedy_graph_search", "does not count the entry's distance computation")
def graph_search_no_entry_count(neighbours, vectors, query, entry, ef, k):
    return _graph_search(neighbours, vectors, query, entry, ef, k, count_entry=False)


@wrong("greedy_graph_search", "compares distances only: exact ties keep the node found first, not the smaller id")
def graph_search_distance_only(neighbours, vectors, query, entry, ef, k):
    vectors = np.asarray(vectors, dtype=np.float64)
    ef = max(ef, k)

    def dist(node):
        return float(((vectors[node] - query) ** 2).sum())

    n_distances = 1
    visited = {int(entry)}
    candidates, results = [(dist(entry), int(entry))], [(dist(entry), int(entry))]
    while candidates:
        candidates.sort(key=lambda x: x[0])
        current = candidates.pop(0)
        if current[0] > max(d for d, _ in results):
            break
        for e in neighbours[current[1]]:
            e = int(e)
            if e in visited:
                continue
            visited.add(e)
            d = dist(e)
            n_distances += 1
            farthest = max(results, key=lambda x: x[0])
            if len(results) < ef or d < farthest[0]:
                candidates.append((d, e))
                results.append((d, e))
                if len(results) > ef:
                    results.remove(max(results, key=lambda x: x[0]))
    results.sort(key=lambda x: x[0])
    return np.array([i for _, i in results[:k]], dtype=np.int64), n_distances


answer("vector_vs_rule", "notes_view", "thinks vector retrieval always needs the most compute (drops A)",
       '{"B", "E"}')
answer("vector_vs_rule", "no_training", "thinks vector retrieval needs no training data", '{"A", "B", "C", "E"}')

# --- Exercise 17: multi_interest_routing -----------------------------------------------------


@helper
def _routing(E, K, n_iters, *, softmax_axis=1, accumulate=True, seeds_from_last=False, squash="ok"):
    E = np.asarray(E, dtype=np.float64)
    K = min(K, len(E))
    seeds = [0]
    nearest = ((E - E[0]) ** 2).sum(axis=1)
    for _ in range(1, K):
        s = int(np.argmax(nearest))
        seeds.append(s)
        gap = ((E - E[s]) ** 2).sum(axis=1)
        nearest = gap if seeds_from_last else np.minimum(nearest, gap)
    b0 = E @ E[seeds].T
    b = b0.copy()
    for _ in range(n_iters):
        w = np.exp(b - b.max(axis=softmax_axis, keepdims=True))
        w /= w.sum(axis=softmax_axis, keepdims=True)
        z = w.T @ E
        norm = np.linalg.norm(z, axis=1, keepdims=True)
        if squash == "ok":
            u = np.divide(norm**2 / (1 + norm**2) * z, norm, out=np.zeros_like(z), where=norm > 0)
        elif squash == "linear":
            u = np.divide(norm / (1 + norm) * z, norm, out=np.zeros_like(z), where=norm > 0)
        else:
            u = z
        b = (b + E @ u.T) if accumulate else (b0 + E @ u.T)
    return u


@wrong("multi_interest_routing", "no squash: the capsules are the raw weighted sums")
def routing_no_squash(behaviour_emb, n_interests, n_iters):
    return _routing(behaviour_emb, n_interests, n_iters, squash="none")


@wrong("multi_interest_routing", "squash with |z| / (1 + |z|) instead of |z|^2 / (1 + |z|^2)")
def routing_linear_squash(behaviour_emb, n_interests, n_iters):
    return _routing(behaviour_emb, n_interests, n_iters, squash="linear")


@wrong("multi_interest_routing", "logits reset every round (agreement not accumulated)")
def routing_no_accumulation(behaviour_emb, n_interests, n_iters):
    return _routing(behaviour_emb, n_interests, n_iters, accumulate=False)


@wrong("multi_interest_routing", "softmax over the behaviours instead of over the capsules")
def routing_softmax_over_behaviours(behaviour_emb, n_interests, n_iters):
    return _routing(behaviour_emb, n_interests, n_iters, softmax_axis=0)


@wrong("multi_interest_routing", "each new seed is the farthest from the LAST seed only")
def routing_seeds_from_last(behaviour_emb, n_interests, n_iters):
    return _routing(behaviour_emb, n_interests, n_iters, seeds_from_last=True)


# --- Exercise 18: smoothed_ctr and fit_beta_prior --------------------------------------------


@wrong("smoothed_ctr", "forgets beta in the denominator")
def smoothed_ctr_no_beta(clicks, impressions, prior_alpha, prior_beta):
    return (np.asarray(clicks, dtype=float) + prior_alpha) / (np.asarray(impressions, dtype=float) + prior_alpha)


@wrong("fit_beta_prior", "method of moments on the raw rates (binomial noise counted as prior variance)",
       also_fails=())
def fit_beta_prior_moments(clicks, impressions):
    clicks, impressions = np.asarray(clicks, dtype=float), np.asarray(impressions, dtype=float)
    rates = clicks[impressions > 0] / impressions[impressions > 0]
    m, v = rates.mean(), rates.var()
    total = m * (1 - m) / v - 1
    return float(m * total), float((1 - m) * total)


@wrong("fit_beta_prior", "does not skip items without impressions (0/0 in the starting point)")
def fit_beta_prior_no_filter(clicks, impressions):
    c, n = np.asarray(clicks, dtype=float), np.asarray(impressions, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = c / n
    m, v = rates.mean(), rates.var()
    total = m * (1 - m) / v - 1
    start = np.log([m * total, (1 - m) * total])

    def nll(x):
        a, b = np.exp(x)
        return -(special.betaln(c + a, n - c + b) - special.betaln(a, b)).sum()

    result = optimize.minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12})
    return float(np.exp(result.x[0])), float(np.exp(result.x[1]))


@wrong("fit_beta_prior", "maximises a binomial likelihood with the prior mean as the rate (alpha + beta unidentified)")
def fit_beta_prior_pooled(clicks, impressions):
    c, n = np.asarray(clicks, dtype=float), np.asarray(impressions, dtype=float)
    m = c.sum() / n.sum()
    return float(m * 100), float((1 - m) * 100)


# --- Exercise 19: time_decayed_popularity ----------------------------------------------------


@helper
def _hot(item_ids, timestamps, now, half_life, *, future=False, base=0.5, larger_first=False):
    item_ids = np.asarray(item_ids, dtype=np.int64)
    timestamps = np.asarray(timestamps, dtype=np.float64)
    keep = np.ones(item_ids.size, dtype=bool) if future else timestamps <= now
    if not keep.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    if base == "e":
        weights = np.exp(-(now - timestamps[keep]) / half_life)
    else:
        weights = base ** ((now - timestamps[keep]) / half_life)
    totals = np.bincount(item_ids[keep], weights=weights)
    items = np.flatnonzero(np.bincount(item_ids[keep]) > 0)
    order = np.lexsort((-items if larger_first else items, -totals[items]))
    return items[order], totals[items][order]


@wrong("time_decayed_popularity", "counts future events too")
def hot_list_future(item_ids, timestamps, now, half_life):
    return _hot(item_ids, timestamps, now, half_life, future=True)


@wrong("time_decayed_popularity", "decay exp(-dt / h): h is then a time constant, not a half-life")
def hot_list_exp(item_ids, timestamps, now, half_life):
    return _hot(item_ids, timestamps, now, half_life, base="e")


@wrong("time_decayed_popularity", "ties broken by the larger item id")
def hot_list_ties_reversed(item_ids, timestamps, now, half_life):
    return _hot(item_ids, timestamps, now, half_life, larger_first=True)


@wrong("time_decayed_popularity", "lists items with a positive total (an underflowing weight drops its item)")
def hot_list_positive_only(item_ids, timestamps, now, half_life):
    item_ids = np.asarray(item_ids, dtype=np.int64)
    timestamps = np.asarray(timestamps, dtype=np.float64)
    keep = timestamps <= now
    if not keep.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    totals = np.bincount(item_ids[keep], weights=0.5 ** ((now - timestamps[keep]) / half_life))
    items = np.flatnonzero(totals > 0)
    order = np.lexsort((items, -totals[items]))
    return items[order], totals[items][order]


# --- Exercise 20: cold_start_item_embedding --------------------------------------------------


@helper
def _cold(content, known_content, known_emb, k, *, similarity="cosine", divide_by_k=False):
    content = np.asarray(content, dtype=np.float64)
    known_content = np.asarray(known_content, dtype=np.float64)
    if similarity == "dot":
        scores = content @ known_content.T
    elif similarity == "euclid":
        scores = -((content[:, None, :] - known_content[None, :, :]) ** 2).sum(-1)
    else:
        a = content / np.linalg.norm(content, axis=1, keepdims=True)
        b = known_content / np.linalg.norm(known_content, axis=1, keepdims=True)
        scores = a @ b.T
    similar = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    picked = np.asarray(known_emb, dtype=np.float64)[similar]
    return picked.sum(axis=1) / k if divide_by_k else picked.mean(axis=1)


@wrong("cold_start_item_embedding", "dot product of the content vectors instead of the cosine")
def cold_start_dot(content, known_content, known_emb, k):
    return _cold(content, known_content, known_emb, k, similarity="dot")


@wrong("cold_start_item_embedding", "nearest by Euclidean distance")
def cold_start_euclid(content, known_content, known_emb, k):
    return _cold(content, known_content, known_emb, k, similarity="euclid")


@wrong("cold_start_item_embedding", "divides by k even when fewer than k known items exist")
def cold_start_divide_by_k(content, known_content, known_emb, k):
    return _cold(content, known_content, known_emb, k, divide_by_k=True)


answer("cold_start_strategies", "hot_list_items", "thinks hot lists solve item cold start",
       '("item", "item", "user", "item", "item", "both")')
answer("cold_start_strategies", "bandit_user", "thinks exploration only helps new users",
       '("item", "user", "user", "item", "item", "user")')

# --- Exercise 21: snake_merge ----------------------------------------------------------------


@wrong("snake_merge", "concatenates the channels (all of channel 0 first) and de-duplicates")
def snake_merge_concatenate(channel_lists, k):
    items, sources = [], []
    for c, ranked in enumerate(channel_lists):
        for item in ranked:
            if int(item) not in items and len(items) < k:
                items.append(int(item))
                sources.append(c)
    return np.array(items, dtype=np.int64), np.array(sources, dtype=np.int64)


@wrong("snake_merge", "a duplicate makes its channel move on to its next item in the same round")
def snake_merge_skip_ahead(channel_lists, k):
    items, sources, pointers = [], [], [0] * len(channel_lists)
    while len(items) < k and any(p < len(x) for p, x in zip(pointers, channel_lists, strict=True)):
        for c, ranked in enumerate(channel_lists):
            while pointers[c] < len(ranked) and int(ranked[pointers[c]]) in items:
                pointers[c] += 1
            if pointers[c] < len(ranked) and len(items) < k:
                items.append(int(ranked[pointers[c]]))
                sources.append(c)
                pointers[c] += 1
    return np.array(items, dtype=np.int64), np.array(sources, dtype=np.int64)


@wrong("snake_merge", "checks k only after a full round (returns more than k items)")
def snake_merge_full_rounds(channel_lists, k):
    items, sources = [], []
    for rank in range(max((len(x) for x in channel_lists), default=0)):
        if len(items) >= k:
            break
        for c, ranked in enumerate(channel_lists):
            if rank < len(ranked) and int(ranked[rank]) not in items:
                items.append(int(ranked[rank]))
                sources.append(c)
    return np.array(items, dtype=np.int64), np.array(sources, dtype=np.int64)


# --- Exercise 22: exclusive_share ------------------------------------------------------------


@wrong("exclusive_share", "divides by the items the channel retrieved, not by all shown items")
def exclusive_share_of_channel(attribution, channel):
    attribution = np.asarray(attribution, dtype=bool)
    mine = attribution[:, channel]
    return float((mine & (attribution.sum(axis=1) == 1)).sum() / max(mine.sum(), 1))


@wrong("exclusive_share", "nothing shown gives 0.0 instead of nan")
def exclusive_share_empty_zero(attribution, channel):
    attribution = np.asarray(attribution, dtype=bool)
    if attribution.shape[0] == 0:
        return 0.0
    return float((attribution[:, channel] & (attribution.sum(axis=1) == 1)).mean())


@wrong("exclusive_share", "counts every item the channel retrieved (no exclusivity)")
def exclusive_share_any(attribution, channel):
    attribution = np.asarray(attribution, dtype=bool)
    return float(attribution[:, channel].mean()) if attribution.shape[0] else float("nan")


# --- Exercise 23: mmr_rerank -----------------------------------------------------------------


@helper
def _mmr(relevance, item_sim, lam, k, *, penalty="max", floor_zero=False, swap_lambda=False):
    relevance = np.asarray(relevance, dtype=np.float64)
    item_sim = np.asarray(item_sim, dtype=np.float64)
    selected = []
    for _ in range(min(k, relevance.size)):
        best, best_score = None, None
        for i in range(relevance.size):
            if i in selected:
                continue
            sims = [item_sim[i, j] for j in selected]
            if penalty == "sum":
                pen = sum(sims)
            else:
                pen = max(sims + ([0.0] if floor_zero else []), default=0.0)
            score = (1 - lam) * relevance[i] - lam * pen if swap_lambda else lam * relevance[i] - (1 - lam) * pen
            if best_score is None or score > best_score:
                best, best_score = i, score
        selected.append(best)
    return np.array(selected, dtype=np.int64)


@wrong("mmr_rerank", "penalty = SUM of similarities to the selected items")
def mmr_sum_penalty(relevance, item_sim, lam, k):
    return _mmr(relevance, item_sim, lam, k, penalty="sum")


@wrong("mmr_rerank", "the max similarity starts from 0 (negative similarities clipped)")
def mmr_floor_zero(relevance, item_sim, lam, k):
    return _mmr(relevance, item_sim, lam, k, floor_zero=True)


@wrong("mmr_rerank", "lambda weights the penalty instead of the relevance")
def mmr_swapped_lambda(relevance, item_sim, lam, k):
    return _mmr(relevance, item_sim, lam, k, swap_lambda=True)


# --- Exercise 24: coverage_and_tail_share ----------------------------------------------------


@helper
def _coverage(recommendations, popularity, tail_fraction, *, distinct_tail=False, slot_coverage=False,
              larger_first=False, floor=False):
    popularity = np.asarray(popularity, dtype=np.float64)
    n = popularity.size
    shown = [int(i) for x in recommendations for i in np.asarray(x).ravel()]
    if not shown:
        return 0.0, float("nan")
    n_tail = int(tail_fraction * n) if floor else int(round(tail_fraction * n))
    ids = np.arange(n)
    order = np.lexsort((-ids if larger_first else ids, -popularity))
    tail = np.zeros(n, dtype=bool)
    tail[order[n - n_tail:]] = True
    coverage = len(shown) / n if slot_coverage else len(set(shown)) / n
    pool = sorted(set(shown)) if distinct_tail else shown
    return float(coverage), float(np.mean(tail[pool]))


@wrong("coverage_and_tail_share", "tail share over distinct items instead of impressions")
def coverage_distinct_tail(recommendations, popularity, tail_fraction):
    return _coverage(recommendations, popularity, tail_fraction, distinct_tail=True)


@wrong("coverage_and_tail_share", "coverage counts slots, not distinct items")
def coverage_slots(recommendations, popularity, tail_fraction):
    return _coverage(recommendations, popularity, tail_fraction, slot_coverage=True)


@wrong("coverage_and_tail_share", "popularity ties: the larger id counts as more popular")
def coverage_ties_reversed(recommendations, popularity, tail_fraction):
    return _coverage(recommendations, popularity, tail_fraction, larger_first=True)


@wrong("coverage_and_tail_share", "int(tail_fraction * n) (floor) instead of round")
def coverage_floor(recommendations, popularity, tail_fraction):
    return _coverage(recommendations, popularity, tail_fraction, floor=True)


# --- Exercise 25: ab_bucket ------------------------------------------------------------------


@wrong("ab_bucket", "Python's built-in hash(): changes with every process")
def ab_bucket_builtin_hash(user_ids, salt, n_buckets):
    return np.array([hash(f"{salt}:{int(u)}") % n_buckets for u in np.asarray(user_ids).ravel()], dtype=np.int64)


@wrong("ab_bucket", "random draws seeded by the salt: a user's bucket depends on their position in the call")
def ab_bucket_seeded_random(user_ids, salt, n_buckets):
    seed = int.from_bytes(hashlib.md5(salt.encode()).digest()[:4], "big")
    return np.random.default_rng(seed).integers(0, n_buckets, np.asarray(user_ids).size).astype(np.int64)


@wrong("ab_bucket", "only the first byte of the digest: 256 values modulo 100 are not uniform")
def ab_bucket_one_byte(user_ids, salt, n_buckets):
    return np.array([hashlib.md5(f"{salt}:{int(u)}".encode()).digest()[0] % n_buckets
                     for u in np.asarray(user_ids).ravel()], dtype=np.int64)


@wrong("ab_bucket", "the salt only shifts the id: layers are perfectly correlated")
def ab_bucket_shifted(user_ids, salt, n_buckets):
    shift = int.from_bytes(hashlib.md5(salt.encode()).digest()[:4], "big")
    return ((np.asarray(user_ids).ravel().astype(np.int64) * 7919 + shift) % n_buckets).astype(np.int64)



# --- Capstone: two-tower retrieval (pipelines that must stay at or below their tier) --------------


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


@wrong("capstone_train", "no logQ correction: popular items are pushed down as in-batch negatives [max tier 1]")
def capstone_train_no_log_q(train, time_budget_s):
    return _capstone_two_tower(train, log_q_correction=False)


@wrong("capstone_train", "temperature 1: cosine logits in [-1, 1], the popularity prior dominates [max tier 1]")
def capstone_train_tau_one(train, time_budget_s):
    return _capstone_two_tower(train, tau=1.0)


# --- Exercises 16b and 16c: product quantisation --------------------------------------------------


@helper
def _pq_kmeans(sub, centroids, n_iters):
    for _ in range(n_iters):
        assignment = np.argmin(((sub[:, None, :] - centroids[None, :, :]) ** 2).sum(-1), axis=1)
        for j in range(len(centroids)):
            if (assignment == j).any():
                centroids[j] = sub[assignment == j].mean(axis=0)
    return centroids


@wrong("pq_train", "interleaved sub-spaces (columns m, m + M, ...) instead of consecutive blocks")
def pq_train_interleaved(items, n_subspaces, n_centroids, generator):
    items = np.asarray(items, dtype=np.float64)
    books = []
    for m in range(n_subspaces):
        sub = items[:, m::n_subspaces]
        books.append(_pq_kmeans(sub, sub[generator.choice(len(sub), n_centroids, replace=False)].copy(), 10))
    return np.stack(books)


@wrong("pq_train", "one draw of initial rows shared by all sub-spaces")
def pq_train_shared_start(items, n_subspaces, n_centroids, generator):
    items = np.asarray(items, dtype=np.float64)
    width = items.shape[1] // n_subspaces
    rows = generator.choice(len(items), n_centroids, replace=False)
    return np.stack([_pq_kmeans(items[:, m * width:(m + 1) * width], items[rows, m * width:(m + 1) * width].copy(), 10)
                     for m in range(n_subspaces)])


@wrong("pq_train", "5 Lloyd iterations instead of 10")
def pq_train_five_iterations(items, n_subspaces, n_centroids, generator):
    items = np.asarray(items, dtype=np.float64)
    width = items.shape[1] // n_subspaces
    books = []
    for m in range(n_subspaces):
        sub = items[:, m * width:(m + 1) * width]
        books.append(_pq_kmeans(sub, sub[generator.choice(len(sub), n_centroids, replace=False)].copy(), 5))
    return np.stack(books)


@wrong("pq_asymmetric_distances", "looks up every sub-space's table with the codes of sub-space 0")
def pq_adc_first_column(queries, codebooks, codes):
    queries = np.asarray(queries, dtype=np.float64)
    M, _, width = codebooks.shape
    tables = ((queries.reshape(len(queries), M, 1, width) - codebooks[None]) ** 2).sum(-1)
    return sum(tables[:, m, np.asarray(codes)[:, 0]] for m in range(M))


@wrong("pq_asymmetric_distances", "Euclidean, not squared, distances per sub-space")
def pq_adc_unsquared(queries, codebooks, codes):
    queries = np.asarray(queries, dtype=np.float64)
    M, _, width = codebooks.shape
    tables = np.sqrt(((queries.reshape(len(queries), M, 1, width) - codebooks[None]) ** 2).sum(-1))
    return sum(tables[:, m, np.asarray(codes)[:, m]] for m in range(M))


@wrong("pq_asymmetric_distances", "float32 distance tables (about 1e-7 relative error)")
def pq_adc_float32(queries, codebooks, codes):
    queries = np.asarray(queries, dtype=np.float32)
    M, _, width = codebooks.shape
    tables = ((queries.reshape(len(queries), M, 1, width) - codebooks[None].astype(np.float32)) ** 2).sum(-1)
    return sum(tables[:, m, np.asarray(codes)[:, m]] for m in range(M)).astype(np.float64)


# --- hidden-only mistakes of Exercises 5-7, 11 and 13 (their visible checks now name the classic bugs) ---


@wrong("unigram_noise", "casts the counts to int (fractional counts truncated)")
def unigram_noise_int_counts(counts, power=0.75):
    counts = np.asarray(counts).astype(np.int64)
    weights = np.where(counts > 0, counts.astype(np.float64) ** power, 0.0)
    return weights / weights.sum()


@wrong("sgns_loss", "computes in float32 whatever the input dtype")
def sgns_loss_float32(center, context, negatives):
    center, context, negatives = center.float(), context.float(), negatives.float()
    positive = (center * context).sum(dim=-1)
    negative = torch.einsum("bkd,bd->bk", negatives, center)
    return -(F.logsigmoid(positive) + F.logsigmoid(-negative).sum(dim=-1)).mean()


@wrong("nce_loss", "computes in float32 whatever the input dtype")
def nce_loss_float32(center, context, negatives, log_q, k):
    center, context, negatives, log_q = center.float(), context.float(), negatives.float(), log_q.float()
    shift = log_q + float(np.log(k))
    positive = (center * context).sum(dim=-1) - shift[:, 0]
    negative = torch.einsum("bkd,bd->bk", negatives, center) - shift[:, 1:]
    return -(F.logsigmoid(positive) + F.logsigmoid(-negative).sum(dim=-1)).mean()


@wrong("in_batch_softmax_loss", "computes in float32 whatever the input dtype")
def in_batch_float32(user_emb, item_emb, temperature, item_log_q=None):
    logits = F.normalize(user_emb.float(), dim=-1) @ F.normalize(item_emb.float(), dim=-1).T / temperature
    if item_log_q is not None:
        logits = logits - item_log_q.float()[None, :]
    return F.cross_entropy(logits, torch.arange(len(logits)))


@wrong("bpr_loss", "computes in float32 whatever the input dtype")
def bpr_loss_float32(pos_scores, neg_scores):
    return F.softplus(neg_scores.float() - pos_scores.float()).mean()


# --- Exercise 20b: creator_metrics ----------------------------------------------------------------


@wrong("creator_metrics", "divides by the number of visits instead of the distinct active users")
def creator_metrics_visits(active_users, post_authors):
    n = len(active_users)
    if n == 0:
        return float("nan"), float("nan")
    return float(len(set(np.asarray(post_authors).tolist())) / n), float(len(post_authors) / n)


@wrong("creator_metrics", "penetration counts posts, not distinct authors")
def creator_metrics_posts_as_authors(active_users, post_authors):
    n = np.unique(np.asarray(active_users)).size
    if n == 0:
        return float("nan"), float("nan")
    return float(len(post_authors) / n), float(len(post_authors) / n)


@wrong("creator_metrics", "no active user gives (0.0, 0.0)")
def creator_metrics_zero(active_users, post_authors):
    n = max(np.unique(np.asarray(active_users)).size, 1)
    return float(np.unique(np.asarray(post_authors)).size / n), float(len(post_authors) / n)


answer("retrieval_practice", "boost_more", "thinks more boost for new items is always better",
       '{"A", "B", "C", "D", "G", "I", "J", "K", "L", "M"}')
answer("retrieval_practice", "pv_growth", "reads one channel's growing impression share as an overall gain",
       '{"B", "C", "D", "F", "G", "I", "J", "K", "L", "M"}')
