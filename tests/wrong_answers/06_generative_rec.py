"""Wrong answers for 06_generative_rec (see tests/catalogue.py)."""

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from tests.wrong_answers import answer, helper, wrong

QUANTISER_USERS = ("test_residual_quantize", "test_rq_kmeans", "test_vq_straight_through")

# --- Exercise 1: nearest_code ---------------------------------------------------------------


@wrong("nearest_code", "largest inner product instead of smallest distance",
       also_fails=QUANTISER_USERS)
def nearest_code_inner_product(x, codebook):
    return (x @ codebook.T).argmax(dim=-1)


@wrong("nearest_code", "argmax of the distances",
       also_fails=QUANTISER_USERS)
def nearest_code_farthest(x, codebook):
    distances = (x * x).sum(-1, keepdim=True) - 2 * x @ codebook.T + (codebook * codebook).sum(-1)
    return distances.argmax(dim=-1)


@wrong("nearest_code", "a Python loop over the points",
       also_fails=QUANTISER_USERS)
def nearest_code_loop(x, codebook):
    return torch.stack([((codebook - point) ** 2).sum(-1).argmin() for point in x])


@wrong("nearest_code", "ties to the largest index",
       also_fails=QUANTISER_USERS)
def nearest_code_last_tie(x, codebook):
    distances = (x * x).sum(-1, keepdim=True) - 2 * x @ codebook.T + (codebook * codebook).sum(-1)
    return codebook.shape[0] - 1 - distances.flip(-1).argmin(dim=-1)


# --- Exercise 2: residual_quantize ----------------------------------------------------------


@wrong("residual_quantize", "every level quantises the original vector (multi-level VQ)",
       also_fails=("test_rq_kmeans",))
def residual_quantize_vq(x, codebooks):
    codes = [nearest_code(x, codebook) for codebook in codebooks]  # noqa: F821
    reconstruction = sum(codebook[code] for codebook, code in zip(codebooks, codes, strict=True))
    return torch.stack(codes, dim=1), reconstruction


@wrong("residual_quantize", "subtracts in place from x (residual = x; residual -= ...)",
       also_fails=("test_rq_kmeans",))
def residual_quantize_in_place(x, codebooks):
    residual = x
    codes = []
    reconstruction = torch.zeros_like(x)
    for codebook in codebooks:
        code = nearest_code(residual, codebook)  # noqa: F821
        reconstruction = reconstruction + codebook[code]
        residual -= codebook[code]
        codes.append(code)
    return torch.stack(codes, dim=1), reconstruction


@wrong("residual_quantize", "reconstruction accumulated in float32 whatever the input dtype",
       also_fails=("test_rq_kmeans",))
def residual_quantize_float32(x, codebooks):
    residual = x
    reconstruction = torch.zeros(x.shape)
    codes = []
    for codebook in codebooks:
        code = nearest_code(residual, codebook)  # noqa: F821
        reconstruction = reconstruction + codebook[code].float()
        residual = x - reconstruction.to(x.dtype)
        codes.append(code)
    return torch.stack(codes, dim=1), reconstruction


@wrong("residual_quantize", "returns only the last level's codeword as the reconstruction",
       also_fails=("test_rq_kmeans",))
def residual_quantize_last_only(x, codebooks):
    residual = x
    codes = []
    for codebook in codebooks:
        code = nearest_code(residual, codebook)  # noqa: F821
        residual = residual - codebook[code]
        codes.append(code)
    return torch.stack(codes, dim=1), codebook[code]


# --- Exercise 3: rq_kmeans and semantic_ids -------------------------------------------------


@wrong("rq_kmeans", "every level clusters the original vectors, not the residuals")
def rq_kmeans_no_residual(x, n_levels, codebook_size, generator):
    codebooks = []
    for _ in range(n_levels):
        centroids = x[torch.randperm(x.shape[0], generator=generator)[:codebook_size]].clone()
        assignment = None
        for _ in range(100):
            new_assignment = nearest_code(x, centroids)  # noqa: F821
            if assignment is not None and torch.equal(new_assignment, assignment):
                break
            assignment = new_assignment
            sums = torch.zeros_like(centroids).index_add_(0, assignment, x)
            counts = torch.bincount(assignment, minlength=codebook_size).to(x.dtype)
            centroids = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centroids)
        codebooks.append(centroids)
    return torch.stack(codebooks)


@wrong("rq_kmeans", "initialises with the first codebook_size rows (no random draw)")
def rq_kmeans_first_rows(x, n_levels, codebook_size, generator):
    residual = x.clone()
    codebooks = []
    for _ in range(n_levels):
        centroids = residual[:codebook_size].clone()
        assignment = None
        for _ in range(100):
            new_assignment = nearest_code(residual, centroids)  # noqa: F821
            if assignment is not None and torch.equal(new_assignment, assignment):
                break
            assignment = new_assignment
            sums = torch.zeros_like(centroids).index_add_(0, assignment, residual)
            counts = torch.bincount(assignment, minlength=codebook_size).to(x.dtype)
            centroids = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centroids)
        codebooks.append(centroids)
        residual = residual - centroids[nearest_code(residual, centroids)]  # noqa: F821
    return torch.stack(codebooks)


@wrong("rq_kmeans", "draws the initial rows from the global random state, not from the generator")
def rq_kmeans_global_rng(x, n_levels, codebook_size, generator):
    residual = x.clone()
    codebooks = []
    for _ in range(n_levels):
        centroids = residual[torch.randperm(residual.shape[0])[:codebook_size]].clone()
        assignment = None
        for _ in range(100):
            new_assignment = nearest_code(residual, centroids)  # noqa: F821
            if assignment is not None and torch.equal(new_assignment, assignment):
                break
            assignment = new_assignment
            sums = torch.zeros_like(centroids).index_add_(0, assignment, residual)
            counts = torch.bincount(assignment, minlength=codebook_size).to(x.dtype)
            centroids = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centroids)
        codebooks.append(centroids)
        residual = residual - centroids[nearest_code(residual, centroids)]  # noqa: F821
    return torch.stack(codebooks)


@wrong("rq_kmeans", "stops after the first update (one assign-update step)")
def rq_kmeans_one_step(x, n_levels, codebook_size, generator):
    residual = x.clone()
    codebooks = []
    for _ in range(n_levels):
        centroids = residual[torch.randperm(residual.shape[0], generator=generator)[:codebook_size]].clone()
        assignment = nearest_code(residual, centroids)  # noqa: F821
        sums = torch.zeros_like(centroids).index_add_(0, assignment, residual)
        counts = torch.bincount(assignment, minlength=codebook_size).to(x.dtype)
        centroids = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centroids)
        codebooks.append(centroids)
        residual = residual - centroids[nearest_code(residual, centroids)]  # noqa: F821
    return torch.stack(codebooks)


@wrong("semantic_ids", "collision index starts at 1")
def semantic_ids_from_one(codes):
    seen, suffix = {}, []
    for row in codes.tolist():
        seen[tuple(row)] = seen.get(tuple(row), 0) + 1
        suffix.append(seen[tuple(row)])
    return torch.cat([codes, torch.tensor(suffix, dtype=torch.int64).reshape(-1, 1)], dim=1)


@wrong("semantic_ids", "counts collisions of the first code only")
def semantic_ids_first_code(codes):
    seen, suffix = {}, []
    for row in codes.tolist():
        suffix.append(seen.get(row[0], 0))
        seen[row[0]] = suffix[-1] + 1
    return torch.cat([codes, torch.tensor(suffix, dtype=torch.int64).reshape(-1, 1)], dim=1)


@wrong("semantic_ids", "numbers the rows of each code from the last one backwards")
def semantic_ids_reversed(codes):
    rows = codes.tolist()
    total = {}
    for row in rows:
        total[tuple(row)] = total.get(tuple(row), 0) + 1
    seen, suffix = {}, []
    for row in rows:
        seen[tuple(row)] = seen.get(tuple(row), 0) + 1
        suffix.append(total[tuple(row)] - seen[tuple(row)])
    return torch.cat([codes, torch.tensor(suffix, dtype=torch.int64).reshape(-1, 1)], dim=1)


answer("vq_vs_rq", "vq_better", "multi-level VQ is the better code", '"A"')
answer("vq_vs_rq", "same_error", "both reach the same error (search order only)", '"B"')
answer("vq_vs_rq", "shared_codebook", "RQ shares one codebook of 48", '"D"')
answer("sid_cold_start", "random_ids", "semantic IDs are random", '"B"')
answer("sid_cold_start", "own_embedding", "every item keeps its own embedding", '"C"')
answer("sid_cold_start", "debias", "semantic IDs remove popularity bias", '"D"')

# --- Exercise 4: codebook_usage and ema_codebook_update -------------------------------------


@wrong("codebook_usage", "usage divided by the number of codes drawn instead of the codebook size")
def codebook_usage_per_sample(codes, codebook_size):
    counts = torch.bincount(codes.reshape(-1), minlength=codebook_size).double()
    p = counts[counts > 0] / counts.sum()
    return float((counts > 0).sum() / codes.numel()), float(torch.exp(-(p * p.log()).sum()))


@wrong("codebook_usage", "perplexity as 2 ** entropy in nats")
def codebook_usage_base2(codes, codebook_size):
    counts = torch.bincount(codes.reshape(-1), minlength=codebook_size).double()
    p = counts[counts > 0] / counts.sum()
    return float((counts > 0).double().mean()), float(2 ** (-(p * p.log()).sum()))


@wrong("codebook_usage", "does not flatten the codes (bincount of a 2-D tensor fails)")
def codebook_usage_no_flatten(codes, codebook_size):
    counts = torch.bincount(codes, minlength=codebook_size).double()
    p = counts[counts > 0] / counts.sum()
    return float((counts > 0).double().mean()), float(torch.exp(-(p * p.log()).sum()))


@helper
def _ema_core(codebook, cluster_size, embed_sum, x, codes, decay, eps):
    K = codebook.shape[0]
    one_hot = F.one_hot(codes, K).to(x.dtype)
    cluster_size = decay * cluster_size + (1 - decay) * one_hot.sum(0)
    embed_sum = decay * embed_sum + (1 - decay) * one_hot.T @ x
    n = cluster_size.sum()
    smoothed = (cluster_size + eps) / (n + K * eps) * n
    return embed_sum / smoothed[:, None], cluster_size, embed_sum, one_hot


@wrong("ema_codebook_update", "no Laplace smoothing: codeword = embed_sum / cluster_size")
def ema_no_smoothing(codebook, cluster_size, embed_sum, x, codes, decay, eps, generator):
    one_hot = F.one_hot(codes, codebook.shape[0]).to(x.dtype)
    cluster_size = decay * cluster_size + (1 - decay) * one_hot.sum(0)
    embed_sum = decay * embed_sum + (1 - decay) * one_hot.T @ x
    codebook = embed_sum / cluster_size.clamp(min=1e-12)[:, None]
    if generator is not None:
        dead = cluster_size < 1.0
        picks = torch.randint(x.shape[0], (int(dead.sum()),), generator=generator)
        codebook, embed_sum = codebook.clone(), embed_sum.clone()
        codebook[dead] = x[picks]
        embed_sum[dead] = x[picks]
        cluster_size = torch.where(dead, torch.ones_like(cluster_size), cluster_size)
    return codebook, cluster_size, embed_sum


@wrong("ema_codebook_update", "decay on the new statistics instead of the old ones")
def ema_decay_swapped(codebook, cluster_size, embed_sum, x, codes, decay, eps, generator):
    K = codebook.shape[0]
    one_hot = F.one_hot(codes, K).to(x.dtype)
    cluster_size = (1 - decay) * cluster_size + decay * one_hot.sum(0)
    embed_sum = (1 - decay) * embed_sum + decay * one_hot.T @ x
    n = cluster_size.sum()
    codebook = embed_sum / ((cluster_size + eps) / (n + K * eps) * n)[:, None]
    if generator is not None:
        dead = cluster_size < 1.0
        picks = torch.randint(x.shape[0], (int(dead.sum()),), generator=generator)
        codebook, embed_sum = codebook.clone(), embed_sum.clone()
        codebook[dead] = x[picks]
        embed_sum[dead] = x[picks]
        cluster_size = torch.where(dead, torch.ones_like(cluster_size), cluster_size)
    return codebook, cluster_size, embed_sum


@wrong("ema_codebook_update", "restarts the codes unused in this batch instead of those with cluster_size < 1")
def ema_restart_unused(codebook, cluster_size, embed_sum, x, codes, decay, eps, generator):
    codebook, cluster_size, embed_sum, one_hot = _ema_core(codebook, cluster_size, embed_sum, x, codes, decay, eps)
    if generator is not None:
        dead = one_hot.sum(0) == 0
        picks = torch.randint(x.shape[0], (int(dead.sum()),), generator=generator)
        codebook, embed_sum = codebook.clone(), embed_sum.clone()
        codebook[dead] = x[picks]
        embed_sum[dead] = x[picks]
        cluster_size = torch.where(dead, torch.ones_like(cluster_size), cluster_size)
    return codebook, cluster_size, embed_sum


@wrong("ema_codebook_update", "restarts the codeword but leaves cluster_size and embed_sum as they were")
def ema_restart_codeword_only(codebook, cluster_size, embed_sum, x, codes, decay, eps, generator):
    codebook, cluster_size, embed_sum, _ = _ema_core(codebook, cluster_size, embed_sum, x, codes, decay, eps)
    if generator is not None:
        dead = cluster_size < 1.0
        codebook = codebook.clone()
        codebook[dead] = x[torch.randint(x.shape[0], (int(dead.sum()),), generator=generator)]
    return codebook, cluster_size, embed_sum


@wrong("ema_codebook_update", "restarts every dead code with the same batch row")
def ema_restart_one_row(codebook, cluster_size, embed_sum, x, codes, decay, eps, generator):
    codebook, cluster_size, embed_sum, _ = _ema_core(codebook, cluster_size, embed_sum, x, codes, decay, eps)
    if generator is not None:
        dead = cluster_size < 1.0
        pick = int(torch.randint(x.shape[0], (1,), generator=generator))
        codebook, embed_sum = codebook.clone(), embed_sum.clone()
        codebook[dead] = x[pick]
        embed_sum[dead] = x[pick]
        cluster_size = torch.where(dead, torch.ones_like(cluster_size), cluster_size)
    return codebook, cluster_size, embed_sum


@wrong("ema_codebook_update", "updates the running statistics in place (mul_ / add_)")
def ema_in_place(codebook, cluster_size, embed_sum, x, codes, decay, eps, generator):
    K = codebook.shape[0]
    one_hot = F.one_hot(codes, K).to(x.dtype)
    cluster_size.mul_(decay).add_((1 - decay) * one_hot.sum(0))
    embed_sum.mul_(decay).add_((1 - decay) * one_hot.T @ x)
    n = cluster_size.sum()
    codebook = embed_sum / ((cluster_size + eps) / (n + K * eps) * n)[:, None]
    cluster_size, embed_sum = cluster_size.clone(), embed_sum.clone()
    if generator is not None:
        dead = cluster_size < 1.0
        picks = torch.randint(x.shape[0], (int(dead.sum()),), generator=generator)
        codebook[dead] = x[picks]
        embed_sum[dead] = x[picks]
        cluster_size = torch.where(dead, torch.ones_like(cluster_size), cluster_size)
    return codebook, cluster_size, embed_sum


# --- Exercise 5: vq_straight_through --------------------------------------------------------


@wrong("vq_straight_through", "beta on the codebook loss instead of the commitment loss")
def vq_beta_swapped(z, codebook, beta):
    e = codebook[nearest_code(z.detach(), codebook.detach())]  # noqa: F821
    return z + (e - z).detach(), beta * F.mse_loss(e, z.detach()) + F.mse_loss(z, e.detach())


@wrong("vq_straight_through", "returns the codeword itself: no gradient reaches z")
def vq_no_straight_through(z, codebook, beta):
    e = codebook[nearest_code(z.detach(), codebook.detach())]  # noqa: F821
    return e, F.mse_loss(e, z.detach()) + beta * F.mse_loss(z, e.detach())


@wrong("vq_straight_through", "no stop-gradients in the losses: (1 + beta) * mse(z, e)")
def vq_no_detach_in_loss(z, codebook, beta):
    e = codebook[nearest_code(z.detach(), codebook.detach())]  # noqa: F821
    return z + (e - z).detach(), (1 + beta) * F.mse_loss(z, e)


@wrong("vq_straight_through", "sums the squared errors instead of averaging")
def vq_sum_loss(z, codebook, beta):
    e = codebook[nearest_code(z.detach(), codebook.detach())]  # noqa: F821
    return z + (e - z).detach(), ((e - z.detach()) ** 2).sum() + beta * ((z - e.detach()) ** 2).sum()


# --- Exercise 6: SIDTrie and constrained_beam_search ----------------------------------------


@wrong("SIDTrie", "allowed tokens in insertion order, not sorted")
class SIDTrieInsertionOrder:
    def __init__(self):
        self.children = {}

    @classmethod
    def from_ids(cls, ids):
        trie = cls()
        for row in ids.tolist() if torch.is_tensor(ids) else ids:
            row = tuple(int(t) for t in row)
            for depth in range(len(row)):
                children = trie.children.setdefault(row[:depth], [])
                if row[depth] not in children:
                    children.append(row[depth])
        return trie

    def allowed_next(self, prefix):
        prefix = tuple(int(t) for t in (prefix.tolist() if torch.is_tensor(prefix) else prefix))
        return list(self.children.get(prefix, []))


@wrong("SIDTrie", "looks up a tensor prefix without converting it (tensor elements never match)")
class SIDTrieTensorKeys:
    def __init__(self):
        self.children = {}

    @classmethod
    def from_ids(cls, ids):
        trie = cls()
        for row in ids.tolist() if torch.is_tensor(ids) else ids:
            row = tuple(int(t) for t in row)
            for depth in range(len(row)):
                trie.children.setdefault(row[:depth], set()).add(row[depth])
        return trie

    def allowed_next(self, prefix):
        return sorted(self.children.get(tuple(prefix), ()))


@wrong("SIDTrie", "the root has no children (the empty prefix is not stored)",
       also_fails=("test_constrained_beam_search", "test_generate_with_cache"))
class SIDTrieNoRoot:
    def __init__(self):
        self.children = {}

    @classmethod
    def from_ids(cls, ids):
        trie = cls()
        for row in ids.tolist() if torch.is_tensor(ids) else ids:
            row = tuple(int(t) for t in row)
            for depth in range(1, len(row)):
                trie.children.setdefault(row[:depth], set()).add(row[depth])
        return trie

    def allowed_next(self, prefix):
        prefix = tuple(int(t) for t in (prefix.tolist() if torch.is_tensor(prefix) else prefix))
        return sorted(self.children.get(prefix, ()))


@helper
def _finish(beams, n_levels):
    sequences = torch.tensor([p for p, _ in beams], dtype=torch.int64).reshape(len(beams), n_levels)
    return sequences, torch.tensor([s for _, s in beams], dtype=torch.float64)


@wrong("constrained_beam_search", "keeps the beam_size best extensions of EACH beam (the beam grows)",
       also_fails=("test_generate_with_cache",))
def beam_search_per_beam(step_logprobs_fn, trie, beam_size, n_levels):
    beams = [((), 0.0)]
    for _ in range(n_levels):
        logprobs = step_logprobs_fn(torch.tensor([p for p, _ in beams], dtype=torch.int64).reshape(len(beams), -1))
        candidates = []
        for row, (prefix, score) in enumerate(beams):
            own = [(prefix + (t,), score + float(logprobs[row, t])) for t in trie.allowed_next(prefix)]
            candidates += sorted(own, key=lambda c: -c[1])[:beam_size]
        beams = sorted(candidates, key=lambda c: -c[1])
    return _finish(beams[:beam_size], n_levels)


@wrong("constrained_beam_search", "renormalises the log-probabilities over the allowed tokens",
       also_fails=("test_generate_with_cache",))
def beam_search_renormalised(step_logprobs_fn, trie, beam_size, n_levels):
    beams = [((), 0.0)]
    for _ in range(n_levels):
        logprobs = step_logprobs_fn(torch.tensor([p for p, _ in beams], dtype=torch.int64).reshape(len(beams), -1))
        candidates = []
        for row, (prefix, score) in enumerate(beams):
            allowed = trie.allowed_next(prefix)
            renormalised = torch.log_softmax(logprobs[row, allowed], dim=-1)
            candidates += [(prefix + (t,), score + float(lp)) for t, lp in zip(allowed, renormalised, strict=True)]
        beams = sorted(candidates, key=lambda c: -c[1])[:beam_size]
    return _finish(beams, n_levels)


@wrong("constrained_beam_search", "calls the model once per beam instead of once per step",
       also_fails=("test_generate_with_cache",))
def beam_search_per_beam_calls(step_logprobs_fn, trie, beam_size, n_levels):
    beams = [((), 0.0)]
    for _ in range(n_levels):
        candidates = []
        for prefix, score in beams:
            logprobs = step_logprobs_fn(torch.tensor([prefix], dtype=torch.int64).reshape(1, -1))[0]
            candidates += [(prefix + (t,), score + float(logprobs[t])) for t in trie.allowed_next(prefix)]
        beams = sorted(candidates, key=lambda c: -c[1])[:beam_size]
    return _finish(beams, n_levels)


@wrong("constrained_beam_search", "sums probabilities instead of log-probabilities",
       also_fails=("test_generate_with_cache",))
def beam_search_probabilities(step_logprobs_fn, trie, beam_size, n_levels):
    beams = [((), 0.0)]
    for _ in range(n_levels):
        logprobs = step_logprobs_fn(torch.tensor([p for p, _ in beams], dtype=torch.int64).reshape(len(beams), -1))
        candidates = [(p + (t,), s + math.exp(float(logprobs[i, t]))) for i, (p, s) in enumerate(beams)
                      for t in trie.allowed_next(p)]
        beams = sorted(candidates, key=lambda c: -c[1])[:beam_size]
    return _finish(beams, n_levels)


# --- Exercise 7: TinyDecoder ----------------------------------------------------------------


@helper
def _build_decoder(self, vocab_size, d_model, n_heads, n_layers, max_len):
    self.n_heads = n_heads
    self.embed = nn.Embedding(vocab_size, d_model)
    self.pos = nn.Embedding(max_len, d_model)
    self.layers = nn.ModuleList([nn.ModuleDict({
        "ln1": nn.LayerNorm(d_model), "attn_in": nn.Linear(d_model, 3 * d_model),
        "attn_out": nn.Linear(d_model, d_model), "ln2": nn.LayerNorm(d_model),
        "ff1": nn.Linear(d_model, 4 * d_model), "ff2": nn.Linear(4 * d_model, d_model),
    }) for _ in range(n_layers)])
    self.ln_f = nn.LayerNorm(d_model)
    self.head = nn.Linear(d_model, vocab_size)


@helper
def _decoder_forward(self, tokens, kv_cache, bug):
    """TinyDecoder.forward with one switch per bug (the classes below use it)."""
    N, T = tokens.shape
    past = 0 if kv_cache is None else kv_cache[0][0].shape[2]
    first_position = 0 if bug == "positions_from_zero" else past
    h = self.embed(tokens) + self.pos(torch.arange(first_position, first_position + T))
    allowed = torch.ones(T, past + T, dtype=torch.bool).tril(diagonal=past)
    new_cache = []
    for index, layer in enumerate(self.layers):
        x = h if bug == "post_ln" else layer.ln1(h)
        if bug == "qvk":
            q, v, k = layer.attn_in(x).chunk(3, dim=-1)
        else:
            q, k, v = layer.attn_in(x).chunk(3, dim=-1)
        q, k, v = (t.reshape(N, T, self.n_heads, -1).transpose(1, 2) for t in (q, k, v))
        if bug == "short_cache":
            new_cache.append((k, v))
        if kv_cache is not None:
            k = torch.cat([kv_cache[index][0], k], dim=2)
            v = torch.cat([kv_cache[index][1], v], dim=2)
        if bug != "short_cache":
            new_cache.append((k, v))
        if bug == "is_causal":
            attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        elif bug == "no_mask_with_cache":
            attended = F.scaled_dot_product_attention(q, k, v, is_causal=kv_cache is None)
        else:
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        attended = layer.attn_out(attended.transpose(1, 2).reshape(N, T, -1))
        if bug == "post_ln":
            h = layer.ln1(h + attended)
            h = layer.ln2(h + layer.ff2(F.gelu(layer.ff1(h))))
        else:
            h = h + attended
            gelu = F.gelu(layer.ff1(layer.ln2(h)), approximate="tanh" if bug == "tanh_gelu" else "none")
            h = h + layer.ff2(gelu)
    return self.head(self.ln_f(h)), new_cache


@wrong("TinyDecoder", "positions restart at 0 for the tokens after the cache")
class TinyDecoderPositionsFromZero(nn.Module):
    def __init__(self, vocab_size, d_model, n_heads, n_layers, max_len):
        super().__init__()
        _build_decoder(self, vocab_size, d_model, n_heads, n_layers, max_len)

    def forward(self, tokens, kv_cache=None):
        return _decoder_forward(self, tokens, kv_cache, bug="positions_from_zero")


@wrong("TinyDecoder", "is_causal=True also with a cache (mask aligned to the top-left corner)")
class TinyDecoderIsCausal(nn.Module):
    def __init__(self, vocab_size, d_model, n_heads, n_layers, max_len):
        super().__init__()
        _build_decoder(self, vocab_size, d_model, n_heads, n_layers, max_len)

    def forward(self, tokens, kv_cache=None):
        return _decoder_forward(self, tokens, kv_cache, bug="is_causal")


@wrong("TinyDecoder", "no mask at all when a cache is given (fine for one new token, wrong for a chunk)")
class TinyDecoderNoMaskWithCache(nn.Module):
    def __init__(self, vocab_size, d_model, n_heads, n_layers, max_len):
        super().__init__()
        _build_decoder(self, vocab_size, d_model, n_heads, n_layers, max_len)

    def forward(self, tokens, kv_cache=None):
        return _decoder_forward(self, tokens, kv_cache, bug="no_mask_with_cache")


@wrong("TinyDecoder", "the tanh approximation of GELU")
class TinyDecoderTanhGelu(nn.Module):
    def __init__(self, vocab_size, d_model, n_heads, n_layers, max_len):
        super().__init__()
        _build_decoder(self, vocab_size, d_model, n_heads, n_layers, max_len)

    def forward(self, tokens, kv_cache=None):
        return _decoder_forward(self, tokens, kv_cache, bug="tanh_gelu")


@wrong("TinyDecoder", "post-LN blocks (normalise after the residual addition)")
class TinyDecoderPostLN(nn.Module):
    def __init__(self, vocab_size, d_model, n_heads, n_layers, max_len):
        super().__init__()
        _build_decoder(self, vocab_size, d_model, n_heads, n_layers, max_len)

    def forward(self, tokens, kv_cache=None):
        return _decoder_forward(self, tokens, kv_cache, bug="post_ln")


@wrong("TinyDecoder", "the cache keeps only the new tokens' keys and values")
class TinyDecoderShortCache(nn.Module):
    def __init__(self, vocab_size, d_model, n_heads, n_layers, max_len):
        super().__init__()
        _build_decoder(self, vocab_size, d_model, n_heads, n_layers, max_len)

    def forward(self, tokens, kv_cache=None):
        return _decoder_forward(self, tokens, kv_cache, bug="short_cache")


@wrong("TinyDecoder", "query, value, key order in attn_in")
class TinyDecoderQVK(nn.Module):
    def __init__(self, vocab_size, d_model, n_heads, n_layers, max_len):
        super().__init__()
        _build_decoder(self, vocab_size, d_model, n_heads, n_layers, max_len)

    def forward(self, tokens, kv_cache=None):
        return _decoder_forward(self, tokens, kv_cache, bug="qvk")


answer("kv_stale", "tokens", "the tokens go stale", '"A"')
answer("kv_stale", "positions", "the positions shift", '"B"')
answer("kv_stale", "nothing", "nothing goes stale", '"C"')
answer("kv_reuse", "notes_premise", "the notes' premise: kept tokens reuse their cache",
       '{"append": 60, "truncate": 51, "memory": 56}')
answer("kv_reuse", "memory_only_front", "only the regenerated memory tokens change",
       '{"append": 60, "truncate": 0, "memory": 56}')

# --- Exercise 8: sid_sequence and generate_with_cache ---------------------------------------


@wrong("sid_sequence", "a sep after every session, the last one included")
def sid_sequence_trailing_sep(items, sessions, item_tokens, bos, sep):
    pieces = [torch.tensor([bos])]
    for j in range(len(items)):
        pieces.append(item_tokens[items[j]])
        if j == len(items) - 1 or sessions[j + 1] != sessions[j]:
            pieces.append(torch.tensor([sep]))
    return torch.cat(pieces).to(torch.int64)


@wrong("sid_sequence", "compares each session with the first one instead of the previous one")
def sid_sequence_first_session(items, sessions, item_tokens, bos, sep):
    pieces = [torch.tensor([bos])]
    for j in range(len(items)):
        if j > 0 and sessions[j] != sessions[0]:
            pieces.append(torch.tensor([sep]))
        pieces.append(item_tokens[items[j]])
    return torch.cat(pieces).to(torch.int64)


@wrong("sid_sequence", "no bos")
def sid_sequence_no_bos(items, sessions, item_tokens, bos, sep):
    pieces = [torch.zeros(0, dtype=torch.int64)]
    for j in range(len(items)):
        if j > 0 and sessions[j] != sessions[j - 1]:
            pieces.append(torch.tensor([sep]))
        pieces.append(item_tokens[items[j]])
    return torch.cat(pieces).to(torch.int64)


@wrong("generate_with_cache", "re-runs the whole sequence at every step (correct, but no cache)")
def generate_without_cache(model, prefix, trie, beam_size, n_levels):
    with torch.no_grad():
        def step(generated):
            tokens = torch.cat([prefix[None].expand(generated.shape[0], -1), generated], dim=1)
            return torch.log_softmax(model(tokens)[0][:, -1], dim=-1)

        return constrained_beam_search(step, trie, beam_size, n_levels)  # noqa: F821


@wrong("generate_with_cache", "raw logits instead of log-probabilities")
def generate_raw_logits(model, prefix, trie, beam_size, n_levels):
    with torch.no_grad():
        logits, cache = model(prefix[None])

        def step(generated):
            n = generated.shape[0]
            if generated.shape[1] == 0:
                return logits[0, -1][None].expand(n, -1)
            expanded = [(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in cache]
            return model(generated, expanded)[0][:, -1]

        return constrained_beam_search(step, trie, beam_size, n_levels)  # noqa: F821


@wrong("generate_with_cache", "feeds only the last generated token each step (the cache misses earlier ones)")
def generate_last_token_only(model, prefix, trie, beam_size, n_levels):
    with torch.no_grad():
        logits, cache = model(prefix[None])
        first = torch.log_softmax(logits[0, -1], dim=-1)

        def step(generated):
            n = generated.shape[0]
            if generated.shape[1] == 0:
                return first[None].expand(n, -1)
            expanded = [(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in cache]
            return torch.log_softmax(model(generated[:, -1:], expanded)[0][:, -1], dim=-1)

        return constrained_beam_search(step, trie, beam_size, n_levels)  # noqa: F821


@wrong("generate_with_cache", "no torch.no_grad(): every model call records an autograd graph")
def generate_with_grad(model, prefix, trie, beam_size, n_levels):
    logits, cache = model(prefix[None])
    first = torch.log_softmax(logits[0, -1], dim=-1).detach()

    def step(generated):
        n = generated.shape[0]
        if generated.shape[1] == 0:
            return first[None].expand(n, -1)
        expanded = [(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in cache]
        return torch.log_softmax(model(generated, expanded)[0][:, -1], dim=-1).detach()

    return constrained_beam_search(step, trie, beam_size, n_levels)  # noqa: F821


# --- Exercise 9: tiled_attention -------------------------------------------------------------


@wrong("tiled_attention", "forgets to rescale the running output and sum when the maximum grows")
def tiled_no_rescale(q, k, v, block_size, causal=False):
    T_q, T_k = q.shape[-2], k.shape[-2]
    running_max = torch.full(q.shape[:-1], float("-inf"), dtype=q.dtype)
    running_sum = torch.zeros(q.shape[:-1], dtype=q.dtype)
    acc = torch.zeros(*q.shape[:-1], v.shape[-1], dtype=q.dtype)
    for start in range(0, T_k, block_size):
        stop = min(start + block_size, T_k)
        scores = q @ k[..., start:stop, :].transpose(-2, -1) / math.sqrt(q.shape[-1])
        if causal:
            scores = scores.masked_fill(torch.arange(start, stop)[None, :] > torch.arange(T_q)[:, None], -math.inf)
        running_max = torch.maximum(running_max, scores.amax(dim=-1))
        p = torch.exp(scores - running_max[..., None])
        running_sum = running_sum + p.sum(dim=-1)
        acc = acc + p @ v[..., start:stop, :]
    return acc / running_sum[..., None]


@wrong("tiled_attention", "builds the full score matrix and normalises it by hand")
def tiled_full_matrix(q, k, v, block_size, causal=False):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        T = q.shape[-2]
        scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), -math.inf)
    weights = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
    return (weights / weights.sum(dim=-1, keepdim=True)) @ v


@wrong("tiled_attention", "no running maximum: exp of the raw scores (overflows for large scores)")
def tiled_no_max(q, k, v, block_size, causal=False):
    T_q, T_k = q.shape[-2], k.shape[-2]
    running_sum = torch.zeros(q.shape[:-1], dtype=q.dtype)
    acc = torch.zeros(*q.shape[:-1], v.shape[-1], dtype=q.dtype)
    for start in range(0, T_k, block_size):
        stop = min(start + block_size, T_k)
        scores = q @ k[..., start:stop, :].transpose(-2, -1) / math.sqrt(q.shape[-1])
        if causal:
            scores = scores.masked_fill(torch.arange(start, stop)[None, :] > torch.arange(T_q)[:, None], -math.inf)
        p = torch.exp(scores)
        running_sum = running_sum + p.sum(dim=-1)
        acc = acc + p @ v[..., start:stop, :]
    return acc / running_sum[..., None]


@wrong("tiled_attention", "builds the full (T, T) causal mask and slices it per block")
def tiled_full_mask(q, k, v, block_size, causal=False):
    T_q, T_k = q.shape[-2], k.shape[-2]
    running_max = torch.full(q.shape[:-1], float("-inf"), dtype=q.dtype)
    running_sum = torch.zeros(q.shape[:-1], dtype=q.dtype)
    acc = torch.zeros(*q.shape[:-1], v.shape[-1], dtype=q.dtype)
    future = torch.ones(T_q, T_k, dtype=torch.bool).triu(1)
    for start in range(0, T_k, block_size):
        stop = min(start + block_size, T_k)
        scores = q @ k[..., start:stop, :].transpose(-2, -1) / math.sqrt(q.shape[-1])
        if causal:
            scores = scores.masked_fill(future[:, start:stop], -math.inf)
        new_max = torch.maximum(running_max, scores.amax(dim=-1))
        p = torch.exp(scores - new_max[..., None])
        correction = torch.exp(running_max - new_max)
        running_sum = running_sum * correction + p.sum(dim=-1)
        acc = acc * correction[..., None] + p @ v[..., start:stop, :]
        running_max = new_max
    return acc / running_sum[..., None]


@wrong("tiled_attention", "causal mask excludes the diagonal (j < i)")
def tiled_strict_causal(q, k, v, block_size, causal=False):
    T_q, T_k = q.shape[-2], k.shape[-2]
    running_max = torch.full(q.shape[:-1], float("-inf"), dtype=q.dtype)
    running_sum = torch.zeros(q.shape[:-1], dtype=q.dtype)
    acc = torch.zeros(*q.shape[:-1], v.shape[-1], dtype=q.dtype)
    for start in range(0, T_k, block_size):
        stop = min(start + block_size, T_k)
        scores = q @ k[..., start:stop, :].transpose(-2, -1) / math.sqrt(q.shape[-1])
        if causal:
            scores = scores.masked_fill(torch.arange(start, stop)[None, :] >= torch.arange(T_q)[:, None], -1e30)
        new_max = torch.maximum(running_max, scores.amax(dim=-1))
        p = torch.exp(scores - new_max[..., None])
        correction = torch.exp(running_max - new_max)
        running_sum = running_sum * correction + p.sum(dim=-1)
        acc = acc * correction[..., None] + p @ v[..., start:stop, :]
        running_max = new_max
    return acc / running_sum[..., None]


answer("flash_attention_is", "kv_compression", "FlashAttention as KV compression (the notes)",
       '{"approximate", "smaller_kv_cache", "no_score_matrix"}')
answer("flash_attention_is", "fewer_flops", "exact, no score matrix, and fewer FLOPs",
       '{"exact", "no_score_matrix", "fewer_flops"}')
answer("flash_attention_is", "missing_traffic", "exact and no score matrix, but not the memory traffic",
       '{"exact", "no_score_matrix"}')
answer("long_sequence_costs", "merge_concat_notes", "token merge as 1/k of the scores (the notes' concat figure)",
       '{"full": 16777216, "global_tokens": 16908544, "token_merge": 4194304, "perceiver": 266240, '
       '"global_queries": 65536, "sliding_window": 1015936, "moba": 4227072}')
answer("long_sequence_costs", "window_times_t", "the sliding window as T * W (the first rows see fewer keys)",
       '{"full": 16777216, "global_tokens": 16908544, "token_merge": 1048576, "perceiver": 266240, '
       '"global_queries": 65536, "sliding_window": 1048576, "moba": 4227072}')

# --- Exercise 10: sliding_window_mask, quantize_per_channel, dequantize ------------------------


@wrong("sliding_window_mask", "window + 1 keys per query (i - j <= window)")
def sliding_window_one_too_many(T, window):
    offset = torch.arange(T)[:, None] - torch.arange(T)[None, :]
    return (offset >= 0) & (offset <= window)


@wrong("sliding_window_mask", "a symmetric band, not causal")
def sliding_window_symmetric(T, window):
    offset = torch.arange(T)[:, None] - torch.arange(T)[None, :]
    return offset.abs() < window


@wrong("sliding_window_mask", "a 0/1 float mask instead of a boolean one")
def sliding_window_float(T, window):
    offset = torch.arange(T)[:, None] - torch.arange(T)[None, :]
    return ((offset >= 0) & (offset < window)).float()


@wrong("quantize_per_channel", "one scale for the whole tensor instead of one per channel")
def quantize_per_tensor(x, n_bits):
    low, high = x.min(), x.max()
    levels = 2 ** n_bits - 1
    scale = ((high - low) / levels).expand(x.shape[-1]).clone()
    zero_point = -low / scale
    return torch.clamp(torch.round(x / scale + zero_point), 0, levels).to(torch.uint8), scale, zero_point


@wrong("quantize_per_channel", "integer zero point (rounded), as PyTorch's observers do")
def quantize_integer_zero_point(x, n_bits):
    flat = x.reshape(-1, x.shape[-1])
    low, high = flat.amin(dim=0), flat.amax(dim=0)
    levels = 2 ** n_bits - 1
    scale = torch.where(high > low, (high - low) / levels, torch.ones_like(high))
    zero_point = torch.round(-low / scale)
    return torch.clamp(torch.round(x / scale + zero_point), 0, levels).to(torch.uint8), scale, zero_point


@wrong("quantize_per_channel", "statistics over the first dimension only (wrong for 3-D and 4-D caches)")
def quantize_first_dim(x, n_bits):
    low, high = x.amin(dim=0), x.amax(dim=0)
    while low.dim() > 1:
        low, high = low[0], high[0]
    levels = 2 ** n_bits - 1
    scale = torch.where(high > low, (high - low) / levels, torch.ones_like(high))
    zero_point = -low / scale
    return torch.clamp(torch.round(x / scale + zero_point), 0, levels).to(torch.uint8), scale, zero_point


@wrong("quantize_per_channel", "no special case for a constant channel (0 / 0)")
def quantize_constant_nan(x, n_bits):
    flat = x.reshape(-1, x.shape[-1])
    low, high = flat.amin(dim=0), flat.amax(dim=0)
    levels = 2 ** n_bits - 1
    scale = (high - low) / levels
    zero_point = -low / scale
    return torch.clamp(torch.round(x / scale + zero_point).nan_to_num(0.0), 0, levels).to(torch.uint8), scale, \
        zero_point


@wrong("quantize_per_channel", "floor instead of round")
def quantize_floor(x, n_bits):
    flat = x.reshape(-1, x.shape[-1])
    low, high = flat.amin(dim=0), flat.amax(dim=0)
    levels = 2 ** n_bits - 1
    scale = torch.where(high > low, (high - low) / levels, torch.ones_like(high))
    zero_point = -low / scale
    return torch.clamp(torch.floor(x / scale + zero_point), 0, levels).to(torch.uint8), scale, zero_point


@wrong("dequantize", "q * scale + zero_point (the zero point used as an offset in x's units)")
def dequantize_offset(q, scale, zero_point):
    return q.to(scale.dtype) * scale + zero_point


@wrong("dequantize", "returns float32 whatever the dtype of the scale")
def dequantize_float32(q, scale, zero_point):
    return ((q.to(scale.dtype) - zero_point) * scale).float()


# --- Exercise 11: topk_moe and load_balancing_loss ------------------------------------------


@wrong("topk_moe", "weights are the full-softmax probabilities of the chosen experts (not renormalised)")
def topk_moe_unnormalised(x, gate_weight, experts, k):
    router_logits = x @ gate_weight.T
    probs = torch.softmax(router_logits, dim=-1)
    weights, expert_index = probs.topk(k, dim=-1)
    out = None
    for e, expert in enumerate(experts):
        token, slot = torch.nonzero(expert_index == e, as_tuple=True)
        if token.numel():
            y = expert(x[token]) * weights[token, slot, None]
            out = torch.zeros(x.shape[0], y.shape[-1], dtype=y.dtype) if out is None else out
            out = out.index_add(0, token, y)
    return out, router_logits, expert_index


@wrong("topk_moe", "runs every expert on every token and masks the result (dense compute)")
def topk_moe_dense(x, gate_weight, experts, k):
    router_logits = x @ gate_weight.T
    top_logits, expert_index = router_logits.topk(k, dim=-1)
    weights = torch.zeros_like(router_logits).scatter(1, expert_index, torch.softmax(top_logits, dim=-1))
    outputs = torch.stack([expert(x) for expert in experts], dim=1)
    return (outputs * weights[:, :, None]).sum(dim=1), router_logits, expert_index


@wrong("topk_moe", "calls the experts token by token")
def topk_moe_per_token(x, gate_weight, experts, k):
    router_logits = x @ gate_weight.T
    top_logits, expert_index = router_logits.topk(k, dim=-1)
    weights = torch.softmax(top_logits, dim=-1)
    rows = []
    for n in range(x.shape[0]):
        rows.append(sum(weights[n, j] * experts[int(expert_index[n, j])](x[n:n + 1])[0] for j in range(k)))
    return torch.stack(rows), router_logits, expert_index


@wrong("topk_moe", "expert_index in increasing order of logit")
def topk_moe_ascending(x, gate_weight, experts, k):
    router_logits = x @ gate_weight.T
    top_logits, expert_index = router_logits.topk(k, dim=-1)
    top_logits, expert_index = top_logits.flip(-1), expert_index.flip(-1)
    weights = torch.softmax(top_logits, dim=-1)
    out = None
    for e, expert in enumerate(experts):
        token, slot = torch.nonzero(expert_index == e, as_tuple=True)
        if token.numel():
            y = expert(x[token]) * weights[token, slot, None]
            out = torch.zeros(x.shape[0], y.shape[-1], dtype=y.dtype) if out is None else out
            out = out.index_add(0, token, y)
    return out, router_logits, expert_index


@wrong("load_balancing_loss", "Hugging Face's Mixtral sum over the k slots (k times too large)")
def balance_loss_times_k(router_logits, expert_index, n_experts):
    probs = torch.softmax(router_logits, dim=-1)
    counts = torch.bincount(expert_index.reshape(-1), minlength=n_experts).to(probs.dtype)
    return n_experts * (counts / expert_index.shape[0] * probs.mean(dim=0)).sum()


@wrong("load_balancing_loss", "counts the argmax of the probabilities instead of the routed experts")
def balance_loss_argmax(router_logits, expert_index, n_experts):
    probs = torch.softmax(router_logits, dim=-1)
    counts = torch.bincount(probs.argmax(dim=-1), minlength=n_experts).to(probs.dtype)
    return n_experts * (counts / probs.shape[0] * probs.mean(dim=0)).sum()


@wrong("load_balancing_loss", "forgets the factor n_experts")
def balance_loss_no_factor(router_logits, expert_index, n_experts):
    probs = torch.softmax(router_logits, dim=-1)
    counts = torch.bincount(expert_index.reshape(-1), minlength=n_experts).to(probs.dtype)
    return (counts / expert_index.numel() * probs.mean(dim=0)).sum()


# --- Exercise 12: encode_once_decode_many ---------------------------------------------------


@wrong("encode_once_decode_many", "encodes the history once per beam")
def encode_per_beam(model, history, beam_prefixes):
    memory = torch.cat([model.encode(history[None]) for _ in range(beam_prefixes.shape[0])])
    return torch.log_softmax(model.decode(beam_prefixes, memory)[:, -1], dim=-1)


@wrong("encode_once_decode_many", "encodes B copies of the history in one batch")
def encode_copies(model, history, beam_prefixes):
    memory = model.encode(history[None].expand(beam_prefixes.shape[0], -1))
    return torch.log_softmax(model.decode(beam_prefixes, memory)[:, -1], dim=-1)


@wrong("encode_once_decode_many", "returns logits instead of log-probabilities")
def encode_returns_logits(model, history, beam_prefixes):
    memory = model.encode(history[None])
    return model.decode(beam_prefixes, memory.expand(beam_prefixes.shape[0], -1, -1))[:, -1]


@wrong("encode_once_decode_many", "decodes the beams one at a time")
def encode_decode_one_by_one(model, history, beam_prefixes):
    memory = model.encode(history[None])
    rows = [model.decode(beam_prefixes[b:b + 1], memory)[0, -1] for b in range(beam_prefixes.shape[0])]
    return torch.log_softmax(torch.stack(rows), dim=-1)


answer("static_cache_valid", "always", "the static encoding can always be cached", '"A"')
answer("static_cache_valid", "never", "encoder outputs can never be cached", '"C"')
answer("static_cache_valid", "no_cross", "only without cross-attention", '"D"')

# --- Section 10: OneRec ---------------------------------------------------------------------

answer("session_wise", "loss_weighting", "session-wise = loss weighting", '"A"')
answer("session_wise", "retraining", "session-wise = retraining per session", '"B"')
answer("session_wise", "first_item", "session-wise = first item only", '"D"')


@wrong("make_preference_pairs", "chosen and rejected swapped")
def pairs_swapped(candidates, reward_scores, margin):
    best, worst = reward_scores.argmax(dim=1), reward_scores.argmin(dim=1)
    gap = reward_scores.amax(dim=1) - reward_scores.amin(dim=1)
    keep = torch.nonzero((gap >= margin) & (gap > 0)).reshape(-1)
    rows = torch.arange(candidates.shape[0])
    return keep, candidates[rows, worst][keep], candidates[rows, best][keep]


@wrong("make_preference_pairs", "keeps a pair only if the gap is strictly larger than the margin")
def pairs_strict_margin(candidates, reward_scores, margin):
    best, worst = reward_scores.argmax(dim=1), reward_scores.argmin(dim=1)
    gap = reward_scores.amax(dim=1) - reward_scores.amin(dim=1)
    keep = torch.nonzero((gap > margin) & (gap > 0)).reshape(-1)
    rows = torch.arange(candidates.shape[0])
    return keep, candidates[rows, best][keep], candidates[rows, worst][keep]


@wrong("make_preference_pairs", "ties go to the last candidate in beam order")
def pairs_last_tie(candidates, reward_scores, margin):
    C = reward_scores.shape[1]
    best = C - 1 - reward_scores.flip(1).argmax(dim=1)
    worst = C - 1 - reward_scores.flip(1).argmin(dim=1)
    gap = reward_scores.amax(dim=1) - reward_scores.amin(dim=1)
    keep = torch.nonzero((gap >= margin) & (gap > 0)).reshape(-1)
    rows = torch.arange(candidates.shape[0])
    return keep, candidates[rows, best][keep], candidates[rows, worst][keep]


@wrong("make_preference_pairs", "keeps users whose candidates all score the same when the margin is 0")
def pairs_keep_equal(candidates, reward_scores, margin):
    best, worst = reward_scores.argmax(dim=1), reward_scores.argmin(dim=1)
    gap = reward_scores.amax(dim=1) - reward_scores.amin(dim=1)
    keep = torch.nonzero(gap >= margin).reshape(-1)
    rows = torch.arange(candidates.shape[0])
    return keep, candidates[rows, best][keep], candidates[rows, worst][keep]


answer("dpo_in_recsys", "needs_rm", "DPO needs a reward model in its loss", '"B"')
answer("dpo_in_recsys", "needs_rl", "DPO needs on-policy RL", '"C"')
answer("dpo_in_recsys", "no_negatives", "no negative feedback at all", '"D"')
answer("dr_vs_sid", "same", "the same method", '"A"')
answer("dr_vs_sid", "reversed", "content and interactions swapped", '"B"')
answer("dr_vs_sid", "hnsw", "semantic IDs need HNSW", '"C"')


@wrong("tiled_attention", "running maximum started at 0 instead of -inf (0 / 0 when every score is very negative)")
def tiled_max_from_zero(q, k, v, block_size, causal=False):
    T_q, T_k = q.shape[-2], k.shape[-2]
    running_max = torch.zeros(q.shape[:-1], dtype=q.dtype)
    running_sum = torch.zeros(q.shape[:-1], dtype=q.dtype)
    acc = torch.zeros(*q.shape[:-1], v.shape[-1], dtype=q.dtype)
    for start in range(0, T_k, block_size):
        stop = min(start + block_size, T_k)
        scores = q @ k[..., start:stop, :].transpose(-2, -1) / math.sqrt(q.shape[-1])
        if causal:
            scores = scores.masked_fill(torch.arange(start, stop)[None, :] > torch.arange(T_q)[:, None], -math.inf)
        new_max = torch.maximum(running_max, scores.amax(dim=-1))
        p = torch.exp(scores - new_max[..., None])
        correction = torch.exp(running_max - new_max)
        running_sum = running_sum * correction + p.sum(dim=-1)
        acc = acc * correction[..., None] + p @ v[..., start:stop, :]
        running_max = new_max
    return acc / running_sum[..., None]


@wrong("tiled_attention", "causal mask applied after the block maximum (nan when a future key scores highest)")
def tiled_mask_after_max(q, k, v, block_size, causal=False):
    T_q, T_k = q.shape[-2], k.shape[-2]
    running_max = torch.full(q.shape[:-1], float("-inf"), dtype=q.dtype)
    running_sum = torch.zeros(q.shape[:-1], dtype=q.dtype)
    acc = torch.zeros(*q.shape[:-1], v.shape[-1], dtype=q.dtype)
    for start in range(0, T_k, block_size):
        stop = min(start + block_size, T_k)
        scores = q @ k[..., start:stop, :].transpose(-2, -1) / math.sqrt(q.shape[-1])
        new_max = torch.maximum(running_max, scores.amax(dim=-1))
        p = torch.exp(scores - new_max[..., None])
        if causal:
            p = p.masked_fill(torch.arange(start, stop)[None, :] > torch.arange(T_q)[:, None], 0.0)
        correction = torch.exp(running_max - new_max)
        running_sum = running_sum * correction + p.sum(dim=-1)
        acc = acc * correction[..., None] + p @ v[..., start:stop, :]
        running_max = new_max
    return acc / running_sum[..., None]


@wrong("rq_kmeans", "levels after the first are initialised with rows of x, not of the current residuals")
def rq_kmeans_init_from_x(x, n_levels, codebook_size, generator):
    residual = x.clone()
    codebooks = []
    for _ in range(n_levels):
        centroids = x[torch.randperm(x.shape[0], generator=generator)[:codebook_size]].clone()
        assignment = None
        for _ in range(100):
            new_assignment = nearest_code(residual, centroids)  # noqa: F821
            if assignment is not None and torch.equal(new_assignment, assignment):
                break
            assignment = new_assignment
            sums = torch.zeros_like(centroids).index_add_(0, assignment, residual)
            counts = torch.bincount(assignment, minlength=codebook_size).to(x.dtype)
            centroids = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centroids)
        codebooks.append(centroids)
        residual = residual - centroids[nearest_code(residual, centroids)]  # noqa: F821
    return torch.stack(codebooks)


@wrong("encode_once_decode_many", "copies the memory to the beams (repeat) instead of expanding a view")
def encode_once_repeat(model, history, beam_prefixes):
    memory = model.encode(history[None]).repeat(beam_prefixes.shape[0], 1, 1)
    return torch.log_softmax(model.decode(beam_prefixes, memory)[:, -1], dim=-1)


@wrong("quantize_per_channel", "scale and zero_point computed in float64 whatever the dtype of x")
def quantize_float64_stats(x, n_bits):
    flat = x.reshape(-1, x.shape[-1]).double()
    low, high = flat.amin(dim=0), flat.amax(dim=0)
    levels = 2 ** n_bits - 1
    scale = torch.where(high > low, (high - low) / levels, torch.ones_like(high))
    zero_point = -low / scale
    q = torch.clamp(torch.round(x.double() / scale + zero_point), 0, levels).to(torch.uint8)
    return q, scale, zero_point


# --- Exercise 14: PagedKVCache ---------------------------------------------------------------


@helper
def _paged_init(self, n_blocks, block_size, n_heads, head_dim, dtype):
    self.block_size = block_size
    self.k_pool = torch.zeros(n_blocks, n_heads, block_size, head_dim, dtype=dtype)
    self.v_pool = torch.zeros_like(self.k_pool)
    self.ref_count = torch.zeros(n_blocks, dtype=torch.int64)
    self.block_table, self.length, self.bumped = {}, {}, 0


@helper
def _paged_append(self, seq_id, k, v, bug):
    """PagedKVCache.append with one switch per bug."""
    table, n, B, T = self.block_table[seq_id], self.length[seq_id], self.block_size, k.shape[1]
    copy = n % B != 0 and int(self.ref_count[table[-1]]) > 1 and bug != "no_copy_on_write"
    needed = -(-(n + T) // B) - -(-n // B) + int(copy)
    free = int((self.ref_count == 0).sum()) if bug != "bump" else self.ref_count.shape[0] - self.bumped
    if needed > free:
        raise MemoryError("pool exhausted")

    def take():
        if bug == "bump":
            block, self.bumped = self.bumped, self.bumped + 1
        else:
            block = int(torch.nonzero(self.ref_count == 0)[0])
        self.ref_count[block] = 1
        return block

    if copy:
        new = take()
        self.k_pool[new], self.v_pool[new] = self.k_pool[table[-1]], self.v_pool[table[-1]]
        self.ref_count[table[-1]] -= 1
        table[-1] = new
    for p in range(n, n + T):
        if p % B == 0:
            table.append(take())
        self.k_pool[table[-1], :, p % B] = k[:, p - n]
        self.v_pool[table[-1], :, p % B] = v[:, p - n]
    self.length[seq_id] = n + T


@helper
def _paged_gather(self, seq_id):
    table, n = self.block_table[seq_id], self.length[seq_id]
    if not table:
        shape = (self.k_pool.shape[1], 0, self.k_pool.shape[3])
        return self.k_pool.new_zeros(shape), self.v_pool.new_zeros(shape)
    return (torch.cat(list(self.k_pool[table]), dim=1)[:, :n].clone(),
            torch.cat(list(self.v_pool[table]), dim=1)[:, :n].clone())


@helper
def _paged_free(self, seq_id, bug):
    for block in self.block_table.pop(seq_id):
        self.ref_count[block] = 0 if bug == "free_all" else self.ref_count[block] - 1
    del self.length[seq_id]


@helper
def _paged_fork(self, parent_id, child_id):
    self.block_table[child_id] = list(self.block_table[parent_id])
    self.length[child_id] = self.length[parent_id]
    for block in self.block_table[child_id]:
        self.ref_count[block] += 1


@wrong("PagedKVCache", "no copy-on-write: a fork writes into the shared, partly filled block")
class PagedNoCopyOnWrite:
    def __init__(self, n_blocks, block_size, n_heads, head_dim, dtype=torch.float32):
        _paged_init(self, n_blocks, block_size, n_heads, head_dim, dtype)

    def n_free_blocks(self):
        return int((self.ref_count == 0).sum())

    def allocate(self, seq_id):
        self.block_table[seq_id], self.length[seq_id] = [], 0

    def append(self, seq_id, k, v):
        _paged_append(self, seq_id, k, v, bug="no_copy_on_write")

    def fork(self, parent_id, child_id):
        _paged_fork(self, parent_id, child_id)

    def free(self, seq_id):
        _paged_free(self, seq_id, bug=None)

    def gather(self, seq_id):
        return _paged_gather(self, seq_id)


@wrong("PagedKVCache", "a bump allocator: blocks handed out in order, freed blocks never reused")
class PagedBumpAllocator:
    def __init__(self, n_blocks, block_size, n_heads, head_dim, dtype=torch.float32):
        _paged_init(self, n_blocks, block_size, n_heads, head_dim, dtype)

    def n_free_blocks(self):
        return int((self.ref_count == 0).sum())

    def allocate(self, seq_id):
        self.block_table[seq_id], self.length[seq_id] = [], 0

    def append(self, seq_id, k, v):
        _paged_append(self, seq_id, k, v, bug="bump")

    def fork(self, parent_id, child_id):
        _paged_fork(self, parent_id, child_id)

    def free(self, seq_id):
        _paged_free(self, seq_id, bug=None)

    def gather(self, seq_id):
        return _paged_gather(self, seq_id)


@wrong("PagedKVCache", "free releases every block of the sequence, also blocks a fork still holds")
class PagedFreeIgnoresCounts:
    def __init__(self, n_blocks, block_size, n_heads, head_dim, dtype=torch.float32):
        _paged_init(self, n_blocks, block_size, n_heads, head_dim, dtype)

    def n_free_blocks(self):
        return int((self.ref_count == 0).sum())

    def allocate(self, seq_id):
        self.block_table[seq_id], self.length[seq_id] = [], 0

    def append(self, seq_id, k, v):
        _paged_append(self, seq_id, k, v, bug=None)

    def fork(self, parent_id, child_id):
        _paged_fork(self, parent_id, child_id)

    def free(self, seq_id):
        _paged_free(self, seq_id, bug="free_all")

    def gather(self, seq_id):
        return _paged_gather(self, seq_id)


answer("output_layer_params", "no_bias", "weights only, no bias",
       '{"item_ids": 512000000000, "semantic_ids": 12583936}')
answer("output_layer_params", "product_vocabulary", "one token per code tuple (8192 ** 3) instead of per code",
       '{"item_ids": 513000000000, "semantic_ids": 282024732525570}')



# --- Section 4: the Trinity questions ---------------------------------------------------------

answer("trinity_interests", "last_ten_clicks", "the last 10 clicks instead of the last session",
       '{"last_session": 1.91, "whole_history": 2.20, "every_fifth_click": 1.66, "clicked_once": 0.086, '
       '"clicked_repeatedly": 0.590}')
answer("trinity_interests", "shares_of_three", "the share of the three interests instead of their number",
       '{"last_session": 0.41, "whole_history": 0.73, "every_fifth_click": 0.55, "clicked_once": 0.086, '
       '"clicked_repeatedly": 0.590}')
answer("trinity_interests", "fifth_from_position_4", "every fifth click from position 4 (4, 9, 14, ...), not 0",
       '{"last_session": 1.22, "whole_history": 2.20, "every_fifth_click": 1.33, "clicked_once": 0.086, '
       '"clicked_repeatedly": 0.590}')
answer("trinity_interests", "repeated_per_click", "the repeated-click share weighted by clicks, not per pair",
       '{"last_session": 1.22, "whole_history": 2.20, "every_fifth_click": 1.66, "clicked_once": 0.086, '
       '"clicked_repeatedly": 0.80}')


# --- Exercise 10b: fft_filter -----------------------------------------------------------------


@wrong("fft_filter", "no n=T in the inverse transform (an odd T loses a position)")
def fft_filter_no_length(x, filter_weight):
    spectrum = torch.fft.rfft(x, dim=1, norm="ortho")
    return torch.fft.irfft(spectrum * torch.view_as_complex(filter_weight), dim=1, norm="ortho")


@wrong("fft_filter", "norm='ortho' forward, the default norm back (off by a factor sqrt(T))")
def fft_filter_mismatched_norm(x, filter_weight):
    spectrum = torch.fft.rfft(x, dim=1, norm="ortho")
    return torch.fft.irfft(spectrum * torch.view_as_complex(filter_weight), n=x.shape[1], dim=1)


@wrong("fft_filter", "transforms the feature axis (rfft's default dim=-1)")
def fft_filter_feature_axis(x, filter_weight):
    spectrum = torch.fft.rfft(x, norm="ortho")
    return torch.fft.irfft(spectrum * torch.view_as_complex(filter_weight), n=x.shape[-1], norm="ortho")


@wrong("fft_filter", "uses only the real part of the filter (gains without phases)")
def fft_filter_real_part(x, filter_weight):
    spectrum = torch.fft.rfft(x, dim=1, norm="ortho")
    return torch.fft.irfft(spectrum * filter_weight[..., 0], n=x.shape[1], dim=1, norm="ortho")


@wrong("fft_filter", "the conjugate filter (imaginary part with the wrong sign: a time-reversed kernel)")
def fft_filter_conjugate(x, filter_weight):
    spectrum = torch.fft.rfft(x, dim=1, norm="ortho")
    weight = torch.complex(filter_weight[..., 0], -filter_weight[..., 1])
    return torch.fft.irfft(spectrum * weight, n=x.shape[1], dim=1, norm="ortho")


@wrong("fft_filter", "NumPy's FFT: right values, no gradient to x or the filter")
def fft_filter_numpy(x, filter_weight):
    weight = filter_weight.detach().numpy()
    spectrum = np.fft.rfft(x.detach().numpy(), axis=1, norm="ortho") * (weight[..., 0] + 1j * weight[..., 1])
    return torch.from_numpy(np.fft.irfft(spectrum, n=x.shape[1], axis=1, norm="ortho")).to(x.dtype)


answer("filter_reach", "local_no_wrap", "local windows without the wrap-around",
       '{"lowpass": {0, 1, 2}, "smoothing": {0, 1}}')
answer("filter_reach", "forgets_wrap", "the low-pass filter is global, but the short kernel does not wrap around",
       '{"lowpass": {0, 1, 2, 3, 4, 5, 6, 7}, "smoothing": {0, 1}}')
answer("filter_reach", "frequencies_as_positions", "the kept frequencies taken for the reached positions",
       '{"lowpass": {0, 1, 2}, "smoothing": {0, 1, 2, 3}}')


# --- Section 8: a pre-trained user embedding vs SIM -------------------------------------------

answer("history_costs", "din_per_candidate", "DIN's scores for one candidate, not per request",
       '{"din": 2000, "sim": 25000, "ue_online": 0, "ue_offline": 4000000}')
answer("history_costs", "sim_scores_all", "SIM's hard search counted as scoring the whole history",
       '{"din": 1000000, "sim": 1025000, "ue_online": 0, "ue_offline": 4000000}')
answer("history_costs", "ue_online_attention", "the pre-trained embedding's attention counted online",
       '{"din": 1000000, "sim": 25000, "ue_online": 4000000, "ue_offline": 4000000}')


# --- Capstone: generative retrieval on semantic IDs (pipelines that must stay at or below their tier) ---------


@helper
def _capstone_generator(train, *, random_codes=False, use_history=True):
    codebook_size, history_length, dim, epochs = 16, 20, 64, 8
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    n_users, n_items, users, items = train["n_users"], train["n_items"], train["user"], train["item"]
    # 1. semantic IDs: two levels of residual k-means on the standardised content; colliding items by clicks
    content = torch.as_tensor(train["item_content"], dtype=torch.float32)
    residual = (content - content.mean(0)) / content.std(0)
    levels = []
    for _ in range(2):
        centres = residual[torch.randperm(n_items, generator=generator)[:codebook_size]].clone()
        for _ in range(20):
            nearest = torch.cdist(residual, centres).argmin(1)
            for k in range(codebook_size):
                if (nearest == k).any():
                    centres[k] = residual[nearest == k].mean(0)
        nearest = torch.cdist(residual, centres).argmin(1)
        if random_codes:  # the mistake: codes that ignore the content
            nearest = torch.randint(codebook_size, (n_items,), generator=generator)
        levels.append(nearest)
        residual = residual - centres[nearest]
    clicks = np.bincount(items, minlength=n_items)
    collision, taken = np.zeros(n_items, dtype=np.int64), {}
    for i in np.argsort(-clicks, kind="stable"):
        cell = (int(levels[0][i]), int(levels[1][i]))
        collision[i] = taken.get(cell, 0)
        taken[cell] = collision[i] + 1
    sid = torch.stack([levels[0], levels[1], torch.as_tensor(collision)], dim=1)  # (n_items, 3)
    n_collision = int(collision.max()) + 1
    sid_padded = torch.cat([sid, torch.tensor([[codebook_size, codebook_size, n_collision]])])  # row n_items pads
    # 2. training windows: each user's history cut into windows of history_length + 1 items
    starts = np.searchsorted(users, np.arange(n_users + 1))
    seen = [items[starts[u]:starts[u + 1]] for u in range(n_users)]
    windows = [past[max(0, end - history_length - 1):end] for past in seen
               for end in range(len(past), 1, -history_length)]
    sequences = torch.full((len(windows), history_length + 1), n_items)
    for row, window in enumerate(windows):
        sequences[row, :len(window)] = torch.as_tensor(window)
    # 3. a GRU over the items' code embeddings; the next item's codes one level at a time
    model = nn.ModuleDict({
        "code1": nn.Embedding(codebook_size + 1, dim), "code2": nn.Embedding(codebook_size + 1, dim),
        "code3": nn.Embedding(n_collision + 1, dim), "gru": nn.GRU(dim, dim, batch_first=True),
        "head1": nn.Linear(dim, codebook_size), "given1": nn.Embedding(codebook_size, dim),
        "head2": nn.Linear(dim, codebook_size), "given12": nn.Embedding(codebook_size ** 2, dim),
        "head3": nn.Linear(dim, n_collision)})

    def states(item_ids):
        tokens = sid_padded[item_ids]
        embedded = model["code1"](tokens[..., 0]) + model["code2"](tokens[..., 1]) + model["code3"](tokens[..., 2])
        return model["gru"](embedded)[0]

    def level_log_probs(h, c1, c2):  # log p(c1 = .), log p(c2 = . | c1), log p(c3 = . | c1, c2)
        return (F.log_softmax(model["head1"](h), -1),
                F.log_softmax(model["head2"](torch.tanh(h + model["given1"](c1))), -1),
                F.log_softmax(model["head3"](torch.tanh(h + model["given12"](c1 * codebook_size + c2))), -1))

    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(epochs):
        for batch in torch.randperm(len(sequences), generator=generator).split(128):
            x = sequences[batch]
            real = x[:, 1:] < n_items
            target = sid[x[:, 1:].clamp(max=n_items - 1)]
            lp1, lp2, lp3 = level_log_probs(states(x[:, :-1]), target[..., 0], target[..., 1])
            log_p = (lp1.gather(-1, target[..., :1]) + lp2.gather(-1, target[..., 1:2])
                     + lp3.gather(-1, target[..., 2:]))[..., 0]
            loss = -(log_p * real).sum() / real.sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    # 4. every user's state after their last items; every item's exact log-probability (a full-width beam)
    last = torch.full((n_users, history_length), n_items)
    for u, past in enumerate(seen):
        last[u, :min(len(past), history_length)] = torch.as_tensor(past[-history_length:])
    lengths = torch.as_tensor([max(min(len(past), history_length), 1) for past in seen])
    with torch.no_grad():
        state = states(last)[torch.arange(n_users), lengths - 1]
        if not use_history:  # the mistake: every user gets the state of an empty history
            state = states(torch.full((1, 1), n_items))[0, 0].expand(n_users, -1)
        lp1 = F.log_softmax(model["head1"](state), -1)  # (n_users, 16)
        lp2 = F.log_softmax(model["head2"](torch.tanh(state[:, None] + model["given1"].weight[None])), -1)
        lp3 = F.log_softmax(model["head3"](torch.tanh(state[:, None] + model["given12"].weight[None])), -1)
        c1, c2, c3 = sid.unbind(1)
        scores = lp1[:, c1] + lp2[:, c1, c2] + lp3[:, c1 * codebook_size + c2, c3]  # (n_users, n_items)
    return {"scores": scores.numpy(), "seen": seen}


@wrong("capstone_train", "random codes: the same generator over semantic IDs that ignore the content [max tier 1]")
def capstone_train_random_codes(train, time_budget_s):
    return _capstone_generator(train, random_codes=True)


@wrong("capstone_train", "no history: every user gets the state of an empty sequence, a popularity list by codes "
       "[max tier 0]")
def capstone_train_no_history(train, time_budget_s):
    return _capstone_generator(train, use_history=False)


@wrong("capstone_train", "popularity: the most-clicked unseen items for everybody [max tier 0]")
def capstone_train_popularity(train, time_budget_s):
    clicks = np.bincount(train["item"], minlength=train["n_items"]).astype(np.float32)
    starts = np.searchsorted(train["user"], np.arange(train["n_users"] + 1))
    seen = [train["item"][starts[u]:starts[u + 1]] for u in range(train["n_users"])]
    return {"scores": np.tile(clicks, (train["n_users"], 1)), "seen": seen}


@wrong("capstone_predict", "recommends items the user already clicked in training, which are never targets "
       "[max tier 2]")
def capstone_predict_with_seen(model, queries):
    return np.argsort(-model["scores"][queries], axis=1, kind="stable")[:, :10]
