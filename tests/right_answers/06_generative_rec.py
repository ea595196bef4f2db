"""Right answers for 06_generative_rec (see tests/catalogue.py): each must keep full marks."""

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from tests.right_answers import helper, right


@right("nearest_code", "broadcast differences (N, K, D) instead of the expanded square")
def nearest_code_broadcast(x, codebook):
    return ((x[:, None, :] - codebook[None, :, :]) ** 2).sum(dim=-1).argmin(dim=1)


@right("residual_quantize", "subtracts each codeword from the running residual; reconstruction = x - residual")
def residual_quantize_subtract(x, codebooks):
    residual = x.clone()
    codes = []
    for level in range(len(codebooks)):
        code = nearest_code(residual, codebooks[level])  # noqa: F821  (defined in the notebook)
        residual = residual - codebooks[level][code]
        codes.append(code)
    return torch.stack(codes, dim=1), x - residual


@right("rq_kmeans", "multinomial draw of the initial rows, centroids updated in a loop, stop when they stop moving")
def rq_kmeans_multinomial(x, n_levels, codebook_size, generator):
    residual = x.clone()
    levels = []
    for _ in range(n_levels):
        rows = torch.multinomial(torch.ones(residual.shape[0]), codebook_size, replacement=False, generator=generator)
        centroids = residual[rows].clone()
        for _ in range(100):
            assignment = nearest_code(residual, centroids)  # noqa: F821
            updated = centroids.clone()
            for k in range(codebook_size):
                members = residual[assignment == k]
                if len(members):
                    updated[k] = members.mean(dim=0)
            if torch.equal(updated, centroids):
                break
            centroids = updated
        levels.append(centroids)
        residual = residual - centroids[nearest_code(residual, centroids)]  # noqa: F821
    return torch.stack(levels)


@right("semantic_ids", "vectorised: group equal rows with np.unique, rank within a group by a stable sort")
def semantic_ids_vectorised(codes):
    if codes.shape[0] == 0:
        return torch.zeros(0, codes.shape[1] + 1, dtype=torch.int64)
    _, group = np.unique(codes.numpy(), axis=0, return_inverse=True)
    group = group.reshape(-1)
    order = np.argsort(group, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(group[order])) + 1]
    first_of_group = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    suffix = np.empty(len(group), dtype=np.int64)
    suffix[order] = np.arange(len(order)) - first_of_group
    return torch.cat([codes, torch.as_tensor(suffix)[:, None]], dim=1)


@right("codebook_usage", "numpy counts and scipy-free entropy")
def codebook_usage_numpy(codes, codebook_size):
    counts = np.bincount(codes.numpy().ravel(), minlength=codebook_size)
    p = counts[counts > 0] / counts.sum()
    return float(np.mean(counts > 0)), float(np.exp(-np.sum(p * np.log(p))))


@right("ema_codebook_update", "index_add for the statistics; one draw per dead code, in a loop")
def ema_codebook_update_loop(codebook, cluster_size, embed_sum, x, codes, decay, eps, generator):
    K = codebook.shape[0]
    counts = torch.zeros(K, dtype=x.dtype).index_add_(0, codes, torch.ones(len(codes), dtype=x.dtype))
    sums = torch.zeros_like(embed_sum).index_add_(0, codes, x)
    new_size = cluster_size * decay + counts * (1 - decay)
    new_sum = embed_sum * decay + sums * (1 - decay)
    total = new_size.sum()
    new_codebook = new_sum / ((new_size + eps) / (total + K * eps) * total).unsqueeze(1)
    if generator is not None:
        for k in range(K):
            if new_size[k] < 1.0:
                row = x[int(torch.randint(0, x.shape[0], (1,), generator=generator))]
                new_codebook[k] = row
                new_sum[k] = row
                new_size[k] = 1.0
    return new_codebook, new_size, new_sum


@right("vq_straight_through", "z_q = e + (z - sg[z]); losses written out")
def vq_straight_through_alt(z, codebook, beta):
    distances = torch.cdist(z.detach(), codebook.detach())
    e = codebook[distances.argmin(dim=1)]
    z_q = e.detach() + (z - z.detach())
    return z_q, ((e - z.detach()) ** 2).mean() + beta * ((z - e.detach()) ** 2).mean()


@right("SIDTrie", "a tree of nested dicts")
class SIDTrieNested:
    def __init__(self):
        self.root = {}

    @classmethod
    def from_ids(cls, ids):
        trie = cls()
        for row in ids.tolist() if torch.is_tensor(ids) else ids:
            node = trie.root
            for token in row:
                node = node.setdefault(int(token), {})
        return trie

    def allowed_next(self, prefix):
        node = self.root
        for token in (prefix.tolist() if torch.is_tensor(prefix) else prefix):
            node = node.get(int(token))
            if node is None:
                return []
        return sorted(node)


@right("constrained_beam_search", "vectorised: disallowed tokens at -inf, one topk over all beams x tokens")
def constrained_beam_search_topk(step_logprobs_fn, trie, beam_size, n_levels):
    prefixes = torch.zeros(1, 0, dtype=torch.int64)
    scores = torch.zeros(1, dtype=torch.float64)
    for _ in range(n_levels):
        logprobs = step_logprobs_fn(prefixes).double()
        allowed = torch.zeros_like(logprobs, dtype=torch.bool)
        for row in range(len(prefixes)):
            allowed[row, trie.allowed_next(prefixes[row])] = True
        total = torch.where(allowed, scores[:, None] + logprobs, -math.inf)
        n_keep = min(beam_size, int(allowed.sum()))
        best = torch.topk(total.reshape(-1), n_keep).indices
        rows, tokens = best // logprobs.shape[1], best % logprobs.shape[1]
        prefixes = torch.cat([prefixes[rows], tokens[:, None]], dim=1)
        scores = total.reshape(-1)[best]
    return prefixes, scores


@right("constrained_beam_search", "heapq.nlargest over the candidates")
def constrained_beam_search_heap(step_logprobs_fn, trie, beam_size, n_levels):
    import heapq

    beams = [(0.0, ())]
    for _ in range(n_levels):
        logprobs = step_logprobs_fn(torch.tensor([b for _, b in beams], dtype=torch.int64).reshape(len(beams), -1))
        candidates = [(s + float(logprobs[i, t]), b + (t,)) for i, (s, b) in enumerate(beams)
                      for t in trie.allowed_next(b)]
        beams = heapq.nlargest(beam_size, candidates, key=lambda c: c[0])
    return (torch.tensor([b for _, b in beams], dtype=torch.int64).reshape(len(beams), n_levels),
            torch.tensor([s for s, _ in beams], dtype=torch.float64))


@helper
def _manual_block(d_model):
    block = nn.Module()
    block.ff2 = nn.Linear(4 * d_model, d_model)
    block.ff1 = nn.Linear(d_model, 4 * d_model)
    block.ln2 = nn.LayerNorm(d_model)
    block.attn_out = nn.Linear(d_model, d_model)
    block.attn_in = nn.Linear(d_model, 3 * d_model)
    block.ln1 = nn.LayerNorm(d_model)
    return block


@right("TinyDecoder", "own block class (sub-modules created in reverse order), attention written out with softmax")
class TinyDecoderManual(nn.Module):
    def __init__(self, vocab_size, d_model, n_heads, n_layers, max_len):
        super().__init__()
        self.head = nn.Linear(d_model, vocab_size)
        self.ln_f = nn.LayerNorm(d_model)
        self.layers = nn.ModuleList([_manual_block(d_model) for _ in range(n_layers)])
        self.pos = nn.Embedding(max_len, d_model)
        self.embed = nn.Embedding(vocab_size, d_model)
        self.n_heads = n_heads

    def forward(self, tokens, kv_cache=None):
        N, T = tokens.shape
        past = 0 if kv_cache is None else kv_cache[0][0].shape[-2]
        h = self.embed(tokens) + self.pos.weight[past:past + T]
        future = torch.arange(past + T)[None, :] > (past + torch.arange(T))[:, None]
        cache = []
        for i, block in enumerate(self.layers):
            qkv = block.attn_in(block.ln1(h)).view(N, T, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            if kv_cache is not None:
                k, v = torch.cat((kv_cache[i][0], k), -2), torch.cat((kv_cache[i][1], v), -2)
            cache.append((k, v))
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
            weights = torch.softmax(scores.masked_fill(future, -math.inf), dim=-1)
            h = h + block.attn_out((weights @ v).transpose(1, 2).reshape(N, T, -1))
            h = h + block.ff2(F.gelu(block.ff1(block.ln2(h))))
        return self.head(self.ln_f(h)), cache


@right("sid_sequence", "session changes found with a vectorised comparison, one torch.cat")
def sid_sequence_vectorised(items, sessions, item_tokens, bos, sep):
    items, sessions = torch.as_tensor(items), torch.as_tensor(sessions)
    out = [torch.tensor([bos], dtype=torch.int64)]
    starts = torch.ones(len(items), dtype=torch.bool)
    if len(items):
        starts[1:] = sessions[1:] != sessions[:-1]
        starts[0] = False
    for position, item in enumerate(items.tolist()):
        if starts[position]:
            out.append(torch.tensor([sep], dtype=torch.int64))
        out.append(item_tokens[item].to(torch.int64))
    return torch.cat(out)


@right("generate_with_cache", "expands the cache with explicit sizes and takes logits - logsumexp")
def generate_with_cache_repeat(model, prefix, trie, beam_size, n_levels):
    with torch.no_grad():
        logits, cache = model(prefix.reshape(1, -1))
        last = logits[:, -1]

        def step(generated):
            n = generated.shape[0]
            if generated.shape[1] == 0:
                return (last - torch.logsumexp(last, dim=-1, keepdim=True)).expand(n, -1)
            copies = [(k.expand(n, *k.shape[1:]), v.expand(n, *v.shape[1:])) for k, v in cache]
            out = model(generated, copies)[0][:, -1]
            return out - torch.logsumexp(out, dim=-1, keepdim=True)

        return constrained_beam_search(step, trie, beam_size, n_levels)  # noqa: F821


@right("tiled_attention", "keeps the output normalised after every block (divide as you go)")
def tiled_attention_normalised(q, k, v, block_size, causal=False):
    T_q, T_k = q.shape[-2], k.shape[-2]
    m = torch.full(q.shape[:-1], -math.inf, dtype=q.dtype)
    ell = torch.zeros(q.shape[:-1], dtype=q.dtype)
    out = torch.zeros(*q.shape[:-1], v.shape[-1], dtype=q.dtype)
    rows = torch.arange(T_q).unsqueeze(1)
    for start in range(0, T_k, block_size):
        block_k, block_v = k[..., start:start + block_size, :], v[..., start:start + block_size, :]
        s = torch.matmul(q, block_k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
        if causal:
            cols = torch.arange(start, start + block_k.shape[-2]).unsqueeze(0)
            s = torch.where(cols <= rows, s, torch.tensor(-math.inf, dtype=s.dtype))
        m_new = torch.maximum(m, s.max(dim=-1).values)
        p = torch.exp(s - m_new.unsqueeze(-1))
        ell_new = ell * torch.exp(m - m_new) + p.sum(-1)
        out = (out * (ell * torch.exp(m - m_new) / ell_new).unsqueeze(-1) +
               torch.matmul(p, block_v) / ell_new.unsqueeze(-1))
        m, ell = m_new, ell_new
    return out


@right("sliding_window_mask", "tril minus a shifted tril")
def sliding_window_tril(T, window):
    ones = torch.ones(T, T, dtype=torch.bool)
    return ones.tril() & ~ones.tril(diagonal=-window)


@right("quantize_per_channel", "floor(v + 0.5) rounding and min/max via values")
def quantize_floor_half(x, n_bits):
    flat = x.reshape(-1, x.shape[-1])
    low, high = flat.min(dim=0).values, flat.max(dim=0).values
    scale = (high - low) / (2 ** n_bits - 1)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    zero_point = -low / scale
    q = torch.floor((x - low) / scale + 0.5).clamp(0, 2 ** n_bits - 1).to(torch.uint8)
    return q, scale, zero_point


@right("dequantize", "q * scale - zero_point * scale")
def dequantize_expanded(q, scale, zero_point):
    return q.to(scale.dtype) * scale - zero_point * scale


@right("topk_moe", "softmax over all experts, then the top-k renormalised (the same weights)")
def topk_moe_renormalised(x, gate_weight, experts, k):
    router_logits = torch.matmul(x, gate_weight.t())
    probs = torch.softmax(router_logits, dim=-1)
    top_probs, expert_index = probs.topk(k, dim=-1)
    weights = top_probs / top_probs.sum(dim=-1, keepdim=True)
    parts = []
    for e, expert in enumerate(experts):
        mask = expert_index == e
        token = mask.any(dim=1).nonzero().reshape(-1)
        if len(token):
            weight = (weights * mask).sum(dim=1)[token]
            parts.append((token, expert(x[token]) * weight[:, None]))
    out = torch.zeros(x.shape[0], parts[0][1].shape[-1], dtype=parts[0][1].dtype)
    for token, values in parts:
        out = out.index_add(0, token, values)
    return out, router_logits, expert_index


@right("load_balancing_loss", "one-hot mean over tokens and slots")
def load_balancing_loss_one_hot(router_logits, expert_index, n_experts):
    fraction = F.one_hot(expert_index, n_experts).to(router_logits.dtype).mean(dim=(0, 1))
    return n_experts * torch.dot(fraction, torch.softmax(router_logits, dim=-1).mean(dim=0))


@right("encode_once_decode_many", "expand with explicit sizes; logits minus logsumexp")
def encode_once_explicit(model, history, beam_prefixes):
    memory = model.encode(history.unsqueeze(0))
    shared = memory.expand(beam_prefixes.shape[0], memory.shape[1], memory.shape[2])
    logits = model.decode(beam_prefixes, shared)[:, -1, :]
    return logits - torch.logsumexp(logits, dim=-1, keepdim=True)


@right("make_preference_pairs", "a loop over users with first-max and first-min by hand")
def make_preference_pairs_loop(candidates, reward_scores, margin):
    index, chosen, rejected = [], [], []
    for u in range(reward_scores.shape[0]):
        scores = reward_scores[u].tolist()
        best = scores.index(max(scores))
        worst = scores.index(min(scores))
        if scores[best] != scores[worst] and scores[best] - scores[worst] >= margin:
            index.append(u)
            chosen.append(candidates[u, best])
            rejected.append(candidates[u, worst])
    L = candidates.shape[2]
    if not index:
        return torch.zeros(0, dtype=torch.int64), torch.zeros(0, L, dtype=torch.int64), \
            torch.zeros(0, L, dtype=torch.int64)
    return torch.tensor(index), torch.stack(chosen), torch.stack(rejected)


@right("load_balancing_loss", "the hint's float32 shares: bincount / numel, then times the float64 mean probabilities")
def load_balancing_loss_float32_shares(router_logits, expert_index, n_experts):
    shares = torch.bincount(expert_index.reshape(-1), minlength=n_experts) / expert_index.numel()
    return n_experts * (shares * torch.softmax(router_logits, dim=-1).mean(dim=0)).sum()


@right("generate_with_cache", "Hugging Face style: one cache per generated prefix, only the newest token fed")
def generate_incremental(model, prefix, trie, beam_size, n_levels):
    with torch.no_grad():
        logits, cache = model(prefix[None])
        state = {(): (torch.log_softmax(logits[0, -1], dim=-1), cache)}

        def step(generated):
            rows = [tuple(r) for r in generated.tolist()]
            if generated.shape[1] == 0:
                return state[()][0][None].expand(len(rows), -1)
            parents = [state[r[:-1]][1] for r in rows]
            batched = [(torch.cat([p[layer][0].expand(1, -1, -1, -1) for p in parents]),
                        torch.cat([p[layer][1].expand(1, -1, -1, -1) for p in parents]))
                       for layer in range(len(cache))]
            out, new_cache = model(generated[:, -1:], batched)
            logprobs = torch.log_softmax(out[:, -1], dim=-1)
            for i, r in enumerate(rows):
                state[r] = (logprobs[i], [(k[i:i + 1], v[i:i + 1]) for k, v in new_cache])
            return logprobs

        return constrained_beam_search(step, trie, beam_size, n_levels)  # noqa: F821



@right("PagedKVCache", "a heap of free blocks, position-by-position writes, gather by index_select")
class PagedKVCacheHeap:
    def __init__(self, n_blocks, block_size, n_heads, head_dim, dtype=torch.float32):
        import heapq

        self._heapq = heapq
        self.block_size = block_size
        self.k_pool = torch.zeros((n_blocks, n_heads, block_size, head_dim), dtype=dtype)
        self.v_pool = torch.zeros((n_blocks, n_heads, block_size, head_dim), dtype=dtype)
        self.ref_count = torch.zeros(n_blocks, dtype=torch.int64)
        self._free = list(range(n_blocks))
        self.block_table, self.length = {}, {}

    def n_free_blocks(self):
        return len(self._free)

    def _take(self):
        block = self._heapq.heappop(self._free)
        self.ref_count[block] = 1
        return block

    def _release(self, block):
        self.ref_count[block] -= 1
        if int(self.ref_count[block]) == 0:
            self._heapq.heappush(self._free, block)

    def allocate(self, seq_id):
        self.block_table[seq_id] = []
        self.length[seq_id] = 0

    def append(self, seq_id, k, v):
        table, n, B = self.block_table[seq_id], self.length[seq_id], self.block_size
        partial_shared = n % B > 0 and int(self.ref_count[table[-1]]) > 1
        new_blocks = math.ceil((n + k.shape[1]) / B) - math.ceil(n / B)
        if new_blocks + partial_shared > len(self._free):
            raise MemoryError("not enough free blocks")
        if partial_shared:
            old, new = table[-1], self._take()
            self.k_pool[new].copy_(self.k_pool[old])
            self.v_pool[new].copy_(self.v_pool[old])
            self._release(old)
            table[-1] = new
        for t in range(k.shape[1]):
            position = n + t
            if position // B == len(table):
                table.append(self._take())
            self.k_pool[table[position // B], :, position % B] = k[:, t]
            self.v_pool[table[position // B], :, position % B] = v[:, t]
        self.length[seq_id] = n + k.shape[1]

    def fork(self, parent_id, child_id):
        self.block_table[child_id] = self.block_table[parent_id][:]
        self.length[child_id] = self.length[parent_id]
        for block in self.block_table[child_id]:
            self.ref_count[block] += 1

    def free(self, seq_id):
        for block in self.block_table.pop(seq_id):
            self._release(block)
        self.length.pop(seq_id)

    def gather(self, seq_id):
        index = torch.tensor(self.block_table[seq_id], dtype=torch.int64)
        n_heads, head_dim = self.k_pool.shape[1], self.k_pool.shape[3]
        k = self.k_pool.index_select(0, index).permute(1, 0, 2, 3).reshape(n_heads, -1, head_dim)
        v = self.v_pool.index_select(0, index).permute(1, 0, 2, 3).reshape(n_heads, -1, head_dim)
        return k[:, :self.length[seq_id]].clone(), v[:, :self.length[seq_id]].clone()


@right("fft_filter", "the default norm on both transforms (the product of the scalings is the same 1/T)")
def fft_filter_default_norm(x, filter_weight):
    weight = torch.complex(filter_weight[..., 0], filter_weight[..., 1])
    return torch.fft.irfft(torch.fft.rfft(x, dim=1) * weight, n=x.shape[1], dim=1)


@right("fft_filter", "an explicit circular convolution with the kernel h = irfft(W)")
def fft_filter_circular_convolution(x, filter_weight):
    T = x.shape[1]
    kernel = torch.fft.irfft(torch.view_as_complex(filter_weight), n=T, dim=0)  # (T, d)
    positions = torch.arange(T)
    lags = (positions[:, None] - positions[None, :]) % T  # lags[t, s] = (t - s) mod T
    return torch.einsum("tsd,bsd->btd", kernel[lags], x)


@right("fft_filter", "the full complex FFT with the Hermitian extension of the filter, real part of the inverse")
def fft_filter_full_spectrum(x, filter_weight):
    T = x.shape[1]
    half = torch.view_as_complex(filter_weight)  # (T // 2 + 1, d)
    mirrored = torch.conj(half[1:(T + 1) // 2]).flip(0)  # W_{T-k} = conj(W_k) for 0 < k < T / 2
    full = torch.cat([half, mirrored], dim=0)  # (T, d)
    return torch.fft.ifft(torch.fft.fft(x.to(half.dtype), dim=1) * full, dim=1).real.to(x.dtype)


# --- Capstone: generative retrieval on semantic IDs ------------------------------------------


@right("capstone_train", "another recipe: numpy k-means with 24 codewords per level, a bag-of-history state (mean of "
       "the last 30 items and of the last 3, through an MLP), AdamW on single positions")
def capstone_train_bag_of_history(train, time_budget_s):
    # Another recipe: two levels of 24 codewords fitted by Lloyd's algorithm in numpy, a bag-of-history state (the
    # mean of the last 30 items and of the last 3, through an MLP), AdamW on single positions; every item scored.
    K, dim, epochs = 24, 64, 6
    rng = np.random.default_rng(5)
    torch.manual_seed(5)
    n_items, n_users = train["n_items"], train["n_users"]
    x = (train["item_content"] - train["item_content"].mean(0)) / train["item_content"].std(0)
    levels = []
    for _ in range(2):
        centres = x[rng.choice(n_items, K, replace=False)]
        for _ in range(25):
            label = ((x[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
            centres = np.stack([x[label == k].mean(0) if (label == k).any() else centres[k] for k in range(K)])
        label = ((x[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
        levels.append(label)
        x = x - centres[label]
    clicks = np.bincount(train["item"], minlength=n_items)
    rank = {}
    third = np.zeros(n_items, dtype=np.int64)
    for item in np.argsort(-clicks, kind="stable"):
        key = (levels[0][item], levels[1][item])
        third[item] = rank.setdefault(key, 0)
        rank[key] += 1
    C = int(third.max()) + 1
    a, b, c = (torch.as_tensor(v, dtype=torch.int64) for v in (levels[0], levels[1], third))
    embed_a, embed_b, embed_c = nn.Embedding(K, dim), nn.Embedding(K, dim), nn.Embedding(C, dim)
    state_net = nn.Sequential(nn.Linear(2 * dim, 2 * dim), nn.ReLU(), nn.Linear(2 * dim, dim))
    head_a, head_b, head_c = nn.Linear(dim, K), nn.Linear(2 * dim, K), nn.Linear(3 * dim, C)
    parts = [embed_a, embed_b, embed_c, state_net, head_a, head_b, head_c]
    params = [p for m in parts for p in m.parameters()]
    item_vec = lambda: embed_a(a) + embed_b(b) + embed_c(c)  # noqa: E731

    def state_of(long_mean, short_mean):
        return state_net(torch.cat([long_mean, short_mean], -1))

    def item_log_probs(state, ia, ib, ic):  # log p(a) + log p(b | a) + log p(c | a, b)
        ea, eb = embed_a(ia), embed_b(ib)
        return (F.log_softmax(head_a(state), -1).gather(-1, ia[:, None])[:, 0]
                + F.log_softmax(head_b(torch.cat([state, ea], -1)), -1).gather(-1, ib[:, None])[:, 0]
                + F.log_softmax(head_c(torch.cat([state, ea, eb], -1)), -1).gather(-1, ic[:, None])[:, 0])

    per_user = np.split(train["item"], np.searchsorted(train["user"], np.arange(1, n_users)))
    window = 30
    histories, targets = [], []
    for h in per_user:
        for t in range(1, len(h)):
            past = h[max(0, t - window):t]
            histories.append(np.concatenate([np.full(window - len(past), n_items), past]))  # left padding
            targets.append(h[t])
    histories = torch.as_tensor(np.array(histories), dtype=torch.int64)
    targets = torch.as_tensor(np.array(targets), dtype=torch.int64)
    optimiser = torch.optim.AdamW(params, lr=4e-3, weight_decay=1e-4)

    def means(vectors, hist):
        padded = torch.cat([vectors, torch.zeros(1, dim)])[hist]  # (B, window, dim)
        real = (hist < n_items).float()
        long_mean = padded.sum(1) / real.sum(1, keepdim=True).clamp(min=1)
        short_mean = padded[:, -3:].sum(1) / real[:, -3:].sum(1, keepdim=True).clamp(min=1)
        return long_mean, short_mean

    for _ in range(epochs):
        for batch in torch.as_tensor(rng.permutation(len(targets))).split(512):
            target = targets[batch]
            state = state_of(*means(item_vec(), histories[batch]))
            loss = -item_log_probs(state, a[target], b[target], c[target]).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        vectors = item_vec()
        last = torch.as_tensor(np.array([np.concatenate([np.full(window - len(h[-window:]), n_items), h[-window:]])
                                         for h in per_user]), dtype=torch.int64)
        state = state_of(*means(vectors, last))
        scores = torch.stack([item_log_probs(s.expand(n_items, -1), a, b, c) for s in state]).numpy()
    return {"scores": scores, "seen": per_user}
