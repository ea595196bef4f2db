"""Right answers for 05_recsys_retrieval (see tests/catalogue.py): each must keep full marks.

Written from the task text, not from the reference: other random-draw methods, loops instead of
vectorised code, other (valid) tie-breaking where the task leaves it open, another optimiser.
"""

import hashlib

import numpy as np
import scipy.sparse as sp
import torch
from scipy import optimize, special
from sklearn.cluster import KMeans

from tests.right_answers import answer, right


@right("item_cf_recommend", "plain loops over items and a sort on (-score, id)")
def item_cf_recommend_loops(R, S, user, k):
    row = R[user].toarray().ravel() if sp.issparse(R) else np.asarray(R)[user]
    seen = [i for i in range(row.size) if row[i] != 0]
    scored = []
    for j in range(row.size):
        if row[j] != 0:
            continue
        score = 0.0
        for i in seen:
            score += S[i][j]
        if score > 0:
            scored.append((-score, j))
    scored.sort()
    return np.array([j for _, j in scored[:k]], dtype=np.int64)


@right("user_cf_recommend", "dense arrays, explicit loops over users")
def user_cf_recommend_loops(R, user, k, n_neighbours):
    dense = np.asarray(R.todense() if sp.issparse(R) else R, dtype=np.float64)
    mine = dense[user] > 0
    candidates = []
    for v in range(dense.shape[0]):
        if v == user:
            continue
        theirs = dense[v] > 0
        if mine.sum() == 0 or theirs.sum() == 0:
            continue
        similarity = (mine & theirs).sum() / np.sqrt(mine.sum() * theirs.sum())
        if similarity > 0:
            candidates.append((-similarity, v))
    candidates.sort()
    scores = np.zeros(dense.shape[1])
    for negative_similarity, v in candidates[:n_neighbours]:
        scores += -negative_similarity * (dense[v] > 0)
    ranked = sorted((-scores[j], j) for j in range(dense.shape[1]) if not mine[j] and scores[j] > 0)
    return np.array([j for _, j in ranked[:k]], dtype=np.int64)


@right("mf_als", "one least-squares problem per row on the stacked system [F; sqrt(reg) I]")
def mf_als_lstsq(R, mask, k, reg, n_iters, generator):
    R = np.asarray(R, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    U = generator.normal(0.0, 0.1, (R.shape[0], k))
    V = generator.normal(0.0, 0.1, (R.shape[1], k))
    ridge = np.sqrt(reg) * np.eye(k)

    def update(values, observed, other):
        out = np.zeros((values.shape[0], k))
        for row in range(values.shape[0]):
            cols = np.flatnonzero(observed[row])
            A = np.vstack([other[cols], ridge])
            b = np.concatenate([values[row, cols], np.zeros(k)])
            out[row] = np.linalg.lstsq(A, b, rcond=None)[0]
        return out

    for _ in range(n_iters):
        U = update(R, mask, V)
        V = update(R.T, mask.T, U)
    return U, V


@right("node2vec_walk", "inverse-CDF draws from generator.random() on a dense copy of the graph")
def node2vec_walk_inverse_cdf(adj, start, length, p, q, generator):
    A = np.asarray(adj.todense() if sp.issparse(adj) else adj, dtype=np.float64)
    walk = [int(start)]
    for _ in range(length - 1):
        current = walk[-1]
        neighbours = np.flatnonzero(A[current] > 0)
        if neighbours.size == 0:
            break
        weights = A[current, neighbours].copy()
        if len(walk) >= 2:
            previous = walk[-2]
            for index, x in enumerate(neighbours):
                if x == previous:
                    weights[index] /= p
                elif A[previous, x] <= 0:
                    weights[index] /= q
        cumulative = np.cumsum(weights) / weights.sum()
        pick = min(int(np.searchsorted(cumulative, generator.random(), side="right")), neighbours.size - 1)
        walk.append(int(neighbours[pick]))
    return np.array(walk, dtype=np.int64)


@right("sample_negatives", "inverse CDF: searchsorted on the cumulative distribution")
def sample_negatives_inverse_cdf(counts, n, power, generator):
    counts = np.asarray(counts, dtype=np.float64)
    weights = np.zeros_like(counts)
    weights[counts > 0] = counts[counts > 0] ** power
    cumulative = np.cumsum(weights / weights.sum())
    draws = np.searchsorted(cumulative, generator.random(n), side="right")
    return np.minimum(draws, np.flatnonzero(weights > 0)[-1]).astype(np.int64)


@right("in_batch_softmax_loss", "explicit normalisation and log-sum-exp, no F.cross_entropy")
def in_batch_softmax_loss_manual(user_emb, item_emb, temperature, item_log_q=None):
    u = user_emb / user_emb.norm(dim=1, keepdim=True).clamp_min(1e-12)
    v = item_emb / item_emb.norm(dim=1, keepdim=True).clamp_min(1e-12)
    logits = (u @ v.T) / temperature
    if item_log_q is not None:
        logits = logits - item_log_q.reshape(1, -1)
    return (torch.logsumexp(logits, dim=1) - torch.diagonal(logits)).mean()


@right("dat_mimic_loss", "the paper's form (y a_u + (1 - y) sg(p_v) - sg(p_v))^2 with float labels")
def dat_mimic_loss_paper_form(p_u, p_v, a_u, a_v, labels):
    y = labels.to(a_u.dtype).unsqueeze(1)
    target_u, target_v = p_v.detach(), p_u.detach()
    loss_u = ((y * a_u + (1 - y) * target_u - target_u) ** 2).sum(dim=1).mean()
    loss_v = ((y * a_v + (1 - y) * target_v - target_v) ** 2).sum(dim=1).mean()
    return loss_u + loss_v


@right("dat_mimic_loss", "a loop over the positive pairs, targets taken under torch.no_grad")
def dat_mimic_loss_loop(p_u, p_v, a_u, a_v, labels):
    with torch.no_grad():
        target_u, target_v = p_v.clone(), p_u.clone()
    total = a_u.new_zeros(()) + 0 * a_v.sum()
    for t in range(len(labels)):
        if bool(labels[t]):
            total = total + torch.sum((a_u[t] - target_u[t]) ** 2) + torch.sum((a_v[t] - target_v[t]) ** 2)
    return total / len(labels)


@right("dat_mimic_loss", "boolean mask of the positives, then one sum divided by T")
def dat_mimic_loss_masked(p_u, p_v, a_u, a_v, labels):
    positive = labels != 0
    squared = (a_u[positive] - p_v[positive].detach()).square() + (a_v[positive] - p_u[positive].detach()).square()
    return squared.sum() / labels.shape[0]


@right("category_alignment_loss", "torch.cov on the transposed rows, categories visited in sorted order")
def category_alignment_loss_torch_cov(item_vecs, categories):
    ids = sorted(set(categories.tolist()))
    counts = [int((categories == c).sum()) for c in ids]
    major = ids[counts.index(max(counts))]  # list.index finds the first maximum: the smallest tied id
    loss = torch.zeros((), dtype=item_vecs.dtype)
    for c, n in zip(ids, counts, strict=True):
        if c == major or n < 2:
            continue
        difference = torch.cov(item_vecs[categories == major].T) - torch.cov(item_vecs[categories == c].T)
        loss = loss + (difference**2).sum()
    return loss


@right("category_alignment_loss", "bincount for the counts, uncentred formula (S^T S - n m m^T) / (n - 1), trace norm")
def category_alignment_loss_bincount(item_vecs, categories):
    counts = torch.bincount(categories)
    major = int(torch.argmax(counts))  # argmax returns the first maximum

    def covariance(rows):
        n, mean = rows.shape[0], rows.mean(dim=0, keepdim=True)
        return (rows.T @ rows - n * mean.T @ mean) / (n - 1)

    terms = []
    for c in torch.nonzero(counts >= 2).flatten().tolist():
        if c != major:
            difference = covariance(item_vecs[categories == major]) - covariance(item_vecs[categories == c])
            terms.append(torch.trace(difference.T @ difference))
    return torch.stack(terms).sum() if terms else item_vecs.sum() * 0


@right("category_alignment_loss", "one-hot membership matrix: all category means and covariances with einsum")
def category_alignment_loss_one_hot(item_vecs, categories):
    ids, inverse, counts = torch.unique(categories, return_inverse=True, return_counts=True)
    membership = torch.nn.functional.one_hot(inverse, len(ids)).to(item_vecs.dtype)  # (n, K)
    means = membership.T @ item_vecs / counts[:, None].to(item_vecs.dtype)  # (K, d)
    centred = item_vecs - means[inverse]
    scatter = torch.einsum("nk,ni,nj->kij", membership, centred, centred)  # (K, d, d)
    denominators = (counts - 1).clamp_min(1).to(item_vecs.dtype)
    covariances = scatter / denominators[:, None, None]
    major = int(torch.argmax(counts))
    keep = (counts >= 2) & (torch.arange(len(ids)) != major)
    return ((covariances[keep] - covariances[major]) ** 2).sum()


# --- Exercise 7b: neighbour_purity -------------------------------------------------------------------


@right("neighbour_purity", "plain loops: cosine from the dot product and the norms, sorted on (-cosine, index)")
def neighbour_purity_loops(vectors, labels, k):
    rows = np.asarray(vectors, dtype=np.float64)
    n = len(rows)
    k = min(k, n - 1)
    if n < 2 or k <= 0:
        return float("nan")
    norms = np.sqrt((rows * rows).sum(axis=1))
    shares = []
    for i in range(n):
        cosines = []
        for j in range(n):
            if j == i:
                continue
            cos = 0.0 if norms[i] == 0 or norms[j] == 0 else float(rows[i] @ rows[j]) / (norms[i] * norms[j])
            cosines.append((-cos, j))
        cosines.sort()
        shares.append(sum(labels[j] == labels[i] for _, j in cosines[:k]) / k)
    return float(np.mean(shares))


@right("neighbour_purity", "np.lexsort on (index, -cosine) with the diagonal masked by a boolean, counts per row")
def neighbour_purity_lexsort(vectors, labels, k):
    x = np.array(vectors, dtype=np.float64)  # a copy
    labels = np.asarray(labels)
    n = x.shape[0]
    if n < 2 or k < 1:
        return float("nan")
    k = min(k, n - 1)
    lengths = np.sqrt(np.einsum("ij,ij->i", x, x))
    nonzero = lengths > 0
    x[nonzero] /= lengths[nonzero, None]
    cosine = x @ x.T
    cosine[np.eye(n, dtype=bool)] = -np.inf
    index = np.broadcast_to(np.arange(n), (n, n))
    order = np.lexsort((index, -cosine), axis=1)[:, :k]
    matches = (labels[order] == labels[:, None]).sum(axis=1)
    return float(matches.sum() / (n * k))


@right("neighbour_purity", "torch: F.normalize, a stable descending torch.sort")
def neighbour_purity_torch(vectors, labels, k):
    x = torch.as_tensor(np.asarray(vectors), dtype=torch.float64)
    n = x.shape[0]
    k = min(int(k), n - 1)
    if k < 1:
        return float("nan")
    unit = torch.nn.functional.normalize(x, dim=1)  # a zero row stays zero
    cosine = unit @ unit.T
    cosine.fill_diagonal_(-float("inf"))
    order = torch.sort(cosine, dim=1, descending=True, stable=True).indices[:, :k].numpy()
    labels = np.asarray(labels)
    return (labels[order] == labels[:, None]).mean().item()


answer("embedding_lessons", "frozenset", "a frozenset instead of a set", 'frozenset({"A", "C", "E"})')


@right("huffman_codes", "another valid tie rule: newest node first among equal weights, first popped gets bit 1")
def huffman_codes_other_ties(counts):
    counts = [float(c) for c in counts]
    n = len(counts)
    if n == 1:
        return [""], [np.zeros(0, dtype=np.int64)]
    pool = [(w, -i, ("leaf", i)) for i, w in enumerate(counts)]
    children = {}
    for j in range(n - 1):
        pool.sort()
        first, second = pool.pop(0), pool.pop(0)
        children[j] = (second[2], first[2])  # (bit 0, bit 1)
        pool.append((first[0] + second[0], -(n + j), ("inner", j)))
    codes, paths = [""] * n, [None] * n

    def descend(node, code, path):
        kind, index = node
        if kind == "leaf":
            codes[index], paths[index] = code, np.array(path, dtype=np.int64)
            return
        zero, one = children[index]
        descend(zero, code + "0", path + [index])
        descend(one, code + "1", path + [index])

    descend(("inner", n - 2), "", [])
    return codes, paths


@right("spectral_clustering", "the k largest eigenvectors of D^-1/2 W D^-1/2 (the same space), via scipy")
def spectral_clustering_adjacency(W, k, generator):
    dense = np.asarray(W.todense() if sp.issparse(W) else W, dtype=np.float64)
    degree = dense.sum(axis=0)
    scale = np.zeros_like(degree)
    scale[degree > 0] = degree[degree > 0] ** -0.5
    normalised = dense * scale[:, None] * scale[None, :]
    values, vectors = np.linalg.eigh(normalised)
    U = vectors[:, np.argsort(-values, kind="stable")[:k]]
    lengths = np.sqrt((U**2).sum(axis=1))
    U[lengths > 0] /= lengths[lengths > 0, None]
    seed = int(generator.integers(2**31 - 1))
    return np.asarray(KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(U), dtype=np.int64)


@right("IVFIndex", "per-item loops for the assignments, the same initialisation call")
class IVFIndexLoops:
    def build(self, items, n_lists, generator):
        self.items = np.array(items, dtype=np.float64)
        start = generator.choice(len(self.items), n_lists, replace=False)
        self.centroids = self.items[start].copy()

        def assign():
            return np.array([int(np.argmin(((self.centroids - x) ** 2).sum(axis=1))) for x in self.items])

        for _ in range(10):
            labels = assign()
            for j in range(n_lists):
                if np.any(labels == j):
                    self.centroids[j] = self.items[labels == j].mean(axis=0)
        labels = assign()
        self.lists = [np.array(sorted(np.flatnonzero(labels == j)), dtype=np.int64) for j in range(n_lists)]
        return self

    def search(self, queries, k, n_probe):
        queries = np.asarray(queries, dtype=np.float64).reshape(-1, self.items.shape[1])
        ids = -np.ones((len(queries), k), dtype=np.int64)
        counts = np.zeros(len(queries), dtype=np.int64)
        for qi, query in enumerate(queries):
            cell_distances = ((self.centroids - query) ** 2).sum(axis=1)
            cells = sorted(range(len(self.centroids)), key=lambda j: (cell_distances[j], j))[:n_probe]
            scored = []
            for j in cells:
                for item in self.lists[j]:
                    scored.append((float(((self.items[item] - query) ** 2).sum()), int(item)))
            scored.sort()
            for position, (_, item) in enumerate(scored[:k]):
                ids[qi, position] = item
            counts[qi] = len(self.centroids) + len(scored)
        return ids, counts


@right("greedy_graph_search", "sorted Python lists instead of heaps")
def greedy_graph_search_lists(neighbours, vectors, query, entry, ef, k):
    import bisect

    width = max(ef, k)
    vectors = np.asarray(vectors, dtype=np.float64)
    computed = 0

    def distance(node):
        nonlocal computed
        computed += 1
        return float(np.sum((vectors[node] - np.asarray(query, dtype=np.float64)) ** 2))

    first = (distance(entry), int(entry))
    visited, candidates, results = {int(entry)}, [first], [first]
    while candidates:
        nearest = candidates.pop(0)
        if nearest > results[-1]:
            break
        for e in neighbours[nearest[1]]:
            e = int(e)
            if e in visited:
                continue
            visited.add(e)
            node = (distance(e), e)
            if len(results) < width or node < results[-1]:
                bisect.insort(candidates, node)
                bisect.insort(results, node)
                if len(results) > width:
                    results.pop()
    return np.array([node for _, node in results[:k]], dtype=np.int64), computed


@right("multi_interest_routing", "explicit loops over behaviours and capsules")
def multi_interest_routing_loops(behaviour_emb, n_interests, n_iters):
    E = [np.asarray(e, dtype=np.float64) for e in np.asarray(behaviour_emb)]
    K = min(n_interests, len(E))
    seeds = [0]
    while len(seeds) < K:
        gaps = [min(float(np.dot(e - E[s], e - E[s])) for s in seeds) for e in E]
        best = max(range(len(E)), key=lambda i: (gaps[i], -i))
        seeds.append(best)
    logits = [[float(np.dot(e, E[s])) for s in seeds] for e in E]
    capsules = []
    for _ in range(n_iters):
        weights = []
        for row in logits:
            top = max(row)
            exps = [np.exp(x - top) for x in row]
            weights.append([x / sum(exps) for x in exps])
        capsules = []
        for j in range(K):
            z = sum(weights[i][j] * E[i] for i in range(len(E)))
            norm2 = float(np.dot(z, z))
            capsules.append(z * (norm2 / (1 + norm2)) / np.sqrt(norm2) if norm2 > 0 else np.zeros_like(z))
        logits = [[logits[i][j] + float(np.dot(capsules[j], E[i])) for j in range(K)] for i in range(len(E))]
    return np.array(capsules)


@right("fit_beta_prior", "BFGS on (log alpha, log beta) with the analytic gradient (digamma)")
def fit_beta_prior_gradient(clicks, impressions):
    c = np.asarray(clicks, dtype=np.float64)
    n = np.asarray(impressions, dtype=np.float64)
    c, n = c[n > 0], n[n > 0]

    def objective(x):
        a, b = np.exp(x)
        value = -(special.betaln(c + a, n - c + b) - special.betaln(a, b)).sum()
        common = special.digamma(n + a + b) - special.digamma(a + b)
        grad_a = -(special.digamma(c + a) - special.digamma(a) - common).sum() * a
        grad_b = -(special.digamma(n - c + b) - special.digamma(b) - common).sum() * b
        return value, np.array([grad_a, grad_b])

    result = optimize.minimize(objective, np.zeros(2), jac=True, method="BFGS", options={"gtol": 1e-9})
    return float(np.exp(result.x[0])), float(np.exp(result.x[1]))


@right("time_decayed_popularity", "a dictionary of totals and a sort on (-score, id)")
def time_decayed_popularity_dict(item_ids, timestamps, now, half_life):
    totals = {}
    for item, t in zip(np.asarray(item_ids).tolist(), np.asarray(timestamps, dtype=float).tolist(), strict=True):
        if t <= now:
            totals[item] = totals.get(item, 0.0) + 2.0 ** (-(now - t) / half_life)
    ranked = sorted(totals.items(), key=lambda pair: (-pair[1], pair[0]))
    return (np.array([i for i, _ in ranked], dtype=np.int64), np.array([s for _, s in ranked], dtype=np.float64))


@right("cold_start_item_embedding", "a loop over new items, cosine from the dot product and the norms")
def cold_start_item_embedding_loop(content, known_content, known_emb, k):
    content = np.asarray(content, dtype=np.float64)
    known_content = np.asarray(known_content, dtype=np.float64)
    known_emb = np.asarray(known_emb, dtype=np.float64)
    known_norms = np.linalg.norm(known_content, axis=1)
    out = np.zeros((len(content), known_emb.shape[1]))
    for i, x in enumerate(content):
        cosines = known_content @ x / (known_norms * np.linalg.norm(x))
        order = sorted(range(len(known_content)), key=lambda j: (-cosines[j], j))[:k]
        out[i] = known_emb[order].mean(axis=0)
    return out


@right("snake_merge", "a generator of (rank, channel) positions")
def snake_merge_positions(channel_lists, k):
    lists = [list(np.asarray(x).ravel()) for x in channel_lists]
    positions = ((rank, c) for rank in range(max(map(len, lists), default=0)) for c in range(len(lists)))
    items, sources, taken = [], [], set()
    for rank, c in positions:
        if len(items) == k:
            break
        if rank < len(lists[c]) and int(lists[c][rank]) not in taken:
            taken.add(int(lists[c][rank]))
            items.append(int(lists[c][rank]))
            sources.append(c)
    return np.array(items, dtype=np.int64), np.array(sources, dtype=np.int64)


@right("mmr_rerank", "the brute-force definition: every step re-evaluates every remaining item")
def mmr_rerank_brute_force(relevance, item_sim, lam, k):
    chosen = []
    for _ in range(min(k, len(relevance))):
        best = None
        for i in range(len(relevance)):
            if i in chosen:
                continue
            penalty = max(item_sim[i][j] for j in chosen) if chosen else 0.0
            score = lam * relevance[i] - (1 - lam) * penalty
            if best is None or score > best[0]:
                best = (score, i)
        chosen.append(best[1])
    return np.array(chosen, dtype=np.int64)


@right("coverage_and_tail_share", "Python sets and a sorted ranking")
def coverage_and_tail_share_sets(recommendations, popularity, tail_fraction):
    slots = [int(i) for lst in recommendations for i in np.asarray(lst).ravel()]
    if not slots:
        return 0.0, float("nan")
    n = len(popularity)
    ranking = sorted(range(n), key=lambda i: (-popularity[i], i))
    tail = set(ranking[n - int(round(tail_fraction * n)):]) if round(tail_fraction * n) > 0 else set()
    return len(set(slots)) / n, sum(i in tail for i in slots) / len(slots)


@right("ab_bucket", "SHA-256 of the whole digest as a big integer")
def ab_bucket_sha256(user_ids, salt, n_buckets):
    return np.array([int(hashlib.sha256(f"{salt}:{int(u)}".encode()).hexdigest(), 16) % n_buckets
                     for u in np.asarray(user_ids).ravel()], dtype=np.int64)


@right("mmr_rerank", "the usual start: the most relevant item first for every lambda (also at lambda = 0)")
def mmr_rerank_relevant_first(relevance, item_sim, lam, k):
    relevance = np.asarray(relevance, dtype=np.float64)
    item_sim = np.asarray(item_sim, dtype=np.float64)
    n = relevance.size
    if min(k, n) == 0:
        return np.zeros(0, dtype=np.int64)
    chosen = [int(np.argmax(relevance))]
    penalty = item_sim[chosen[0]].copy()
    while len(chosen) < min(k, n):
        score = lam * relevance - (1 - lam) * penalty
        score[chosen] = -np.inf
        best = int(np.argmax(score))
        chosen.append(best)
        penalty = np.maximum(penalty, item_sim[best])
    return np.array(chosen, dtype=np.int64)


@right("fit_beta_prior", "Nelder-Mead on the MEAN negative log-likelihood from a method-of-moments start")
def fit_beta_prior_mean_nelder_mead(clicks, impressions):
    c = np.asarray(clicks, dtype=np.float64)
    n = np.asarray(impressions, dtype=np.float64)
    c, n = c[n > 0], n[n > 0]
    m, v = (c / n).mean(), max((c / n).var(), 1e-12)
    total = max(m * (1 - m) / v - 1, 1e-3)

    def mean_nll(x):
        a, b = np.exp(x)
        return -(special.betaln(c + a, n - c + b) - special.betaln(a, b)).mean()

    start = np.log([max(m * total, 1e-3), max((1 - m) * total, 1e-3)])
    result = optimize.minimize(mean_nll, start, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-13})
    return float(np.exp(result.x[0])), float(np.exp(result.x[1]))


answer("cold_start_strategies", "hot_list_both", "a hot list over a new-item pool serves new items too: 'both'",
       '("item", "both", "user", "item", "item", "both")')


@right("capstone_train", "another architecture and optimiser: GELU user tower, 48 dimensions, AdamW, batches of 2,048")
def capstone_train_adamw(train, time_budget_s):
    torch.manual_seed(1)
    n_items, history_length = train["n_items"], 30
    users, items = np.asarray(train["user"]), np.asarray(train["item"])
    starts = np.searchsorted(users, users)
    rank = np.arange(len(users)) - starts
    histories = np.full((len(users), history_length), n_items)
    for lag in range(1, history_length + 1):
        rows = np.flatnonzero(rank >= lag)
        histories[rows, -lag] = items[rows - lag]
    usable = rank > 0
    H, targets = torch.from_numpy(histories[usable]), torch.from_numpy(items[usable])
    frequency = np.bincount(items, minlength=n_items) + 1.0
    log_q = torch.log(torch.from_numpy(frequency / frequency.sum()).float())
    raw = torch.tensor(train["item_content"], dtype=torch.float32)
    features = torch.zeros(n_items + 1, raw.shape[1])
    features[:n_items] = (raw - raw.mean(0)) / raw.std(0)
    content_map = torch.nn.Linear(raw.shape[1], 48)
    id_table = torch.nn.Embedding(n_items + 1, 48)
    torch.nn.init.normal_(id_table.weight, std=1e-3)
    user_tower = torch.nn.Sequential(torch.nn.Linear(48, 96), torch.nn.GELU(), torch.nn.Linear(96, 48))
    parameters = [*content_map.parameters(), *id_table.parameters(), *user_tower.parameters()]
    optimiser = torch.optim.AdamW(parameters, lr=0.02, weight_decay=1e-4)

    def embed(i):
        return content_map(features[i]) + id_table(i)

    def encode(h):
        mask = (h != n_items).float().unsqueeze(-1)
        return user_tower((embed(h) * mask).sum(1) / mask.sum(1).clamp(min=1.0))

    for _ in range(7):
        for batch in torch.randperm(len(targets)).split(2048):
            u = torch.nn.functional.normalize(encode(H[batch]), dim=-1)
            v = torch.nn.functional.normalize(embed(targets[batch]), dim=-1)
            logits = u @ v.T / 0.05 - log_q[targets[batch]].unsqueeze(0)
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    seen = [items[users == u] for u in range(train["n_users"])]
    latest = np.full((train["n_users"], history_length), n_items)
    for u, past in enumerate(seen):
        tail = past[-history_length:]
        if tail.size:
            latest[u, history_length - tail.size:] = tail
    with torch.no_grad():
        return {"users": torch.nn.functional.normalize(encode(torch.from_numpy(latest)), dim=-1).numpy(),
                "items": torch.nn.functional.normalize(embed(torch.arange(n_items)), dim=-1).numpy(), "seen": seen}


@right("pq_train", "loops over sub-spaces, iterations and centroids; distances vectorised over points")
def pq_train_loops(items, n_subspaces, n_centroids, generator):
    X = np.asarray(items, dtype=np.float64)
    width = X.shape[1] // n_subspaces
    books = np.zeros((n_subspaces, n_centroids, width))
    for m in range(n_subspaces):
        block = X[:, m * width:(m + 1) * width]
        centres = block[generator.choice(X.shape[0], n_centroids, replace=False)].copy()
        for _ in range(10):
            distances = np.stack([((block - centres[j]) ** 2).sum(axis=1) for j in range(n_centroids)], axis=1)
            labels = distances.argmin(axis=1)  # the first minimum: ties to the lower index
            for j in range(n_centroids):
                if (labels == j).any():
                    centres[j] = block[labels == j].mean(axis=0)
        books[m] = centres
    return books


@right("pq_asymmetric_distances", "reconstruct the items from their codes, then exact squared distances")
def pq_asymmetric_distances_reconstruct(queries, codebooks, codes):
    codes = np.asarray(codes)
    books = np.asarray(codebooks, dtype=np.float64)
    recon = np.concatenate([books[m][codes[:, m]] for m in range(books.shape[0])], axis=1)
    q = np.asarray(queries, dtype=np.float64)
    return (q**2).sum(1)[:, None] - 2 * q @ recon.T + (recon**2).sum(1)[None, :]
