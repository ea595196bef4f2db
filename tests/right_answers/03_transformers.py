"""Right answers for 03_transformers (see tests/catalogue.py): each must keep full marks.

Written from the task texts, not from the reference solutions: other random-draw orders and kinds,
equivalent formulas, loops instead of vectorised code, another initialisation order.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from tests.right_answers import answer, right

# --- Exercise 1: rnn_forward ------------------------------------------------------------------


@right("rnn_forward", "preallocated output filled step by step, input projections of all steps at once")
def rnn_forward_preallocated(x, h0, W_ih, W_hh, b_ih, b_hh):
    T, N = x.shape[0], h0.shape[0]
    out = x.new_empty(T, N, W_hh.shape[0])
    inputs = x @ W_ih.T + b_ih  # (T, N, H): every step's input part in one product
    h = h0
    for t in range(T):
        h = torch.tanh(inputs[t] + F.linear(h, W_hh, b_hh))
        out[t] = h
    return out


@right("rnn_forward", "addmm per step, states collected in a list (an empty T handled explicitly)")
def rnn_forward_addmm(x, h0, W_ih, W_hh, b_ih, b_hh):
    if x.shape[0] == 0:
        return torch.zeros(0, h0.shape[0], h0.shape[1], dtype=x.dtype)
    states, h = [], h0
    for step in range(x.shape[0]):
        pre = torch.addmm(b_ih + b_hh, x[step], W_ih.t()) + torch.mm(h, W_hh.t())
        h = pre.tanh()
        states.append(h)
    return torch.stack(states, dim=0)


# --- Exercise 2: lstm_cell --------------------------------------------------------------------


@right("lstm_cell", "one weight slice per gate instead of chunking the stacked product")
def lstm_cell_sliced(x, h, c, W_ih, W_hh, b_ih, b_hh):
    H = h.shape[1]

    def gate(k):
        rows = slice(k * H, (k + 1) * H)
        return x @ W_ih[rows].T + b_ih[rows] + h @ W_hh[rows].T + b_hh[rows]

    i, f, g, o = torch.sigmoid(gate(0)), torch.sigmoid(gate(1)), torch.tanh(gate(2)), torch.sigmoid(gate(3))
    c_new = f * c + i * g
    return o * torch.tanh(c_new), c_new


@right("lstm_cell", "weights concatenated into one (4H, D + H) matrix applied to [x, h]")
def lstm_cell_concatenated(x, h, c, W_ih, W_hh, b_ih, b_hh):
    z = torch.cat([x, h], dim=1) @ torch.cat([W_ih, W_hh], dim=1).T + (b_ih + b_hh)
    i, f, g, o = torch.split(z, h.shape[1], dim=1)
    c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h_new = o.sigmoid() * c_new.tanh()
    return h_new, c_new


# --- Exercise 3: gru_cell ---------------------------------------------------------------------


@right("gru_cell", "one weight slice per gate, h' written as h + (1 - z)(n - h)")
def gru_cell_sliced(x, h, W_ih, W_hh, b_ih, b_hh):
    H = h.shape[1]
    r_rows, z_rows, n_rows = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)
    r = torch.sigmoid(F.linear(x, W_ih[r_rows], b_ih[r_rows]) + F.linear(h, W_hh[r_rows], b_hh[r_rows]))
    z = torch.sigmoid(F.linear(x, W_ih[z_rows], b_ih[z_rows]) + F.linear(h, W_hh[z_rows], b_hh[z_rows]))
    n = torch.tanh(F.linear(x, W_ih[n_rows], b_ih[n_rows]) + r * F.linear(h, W_hh[n_rows], b_hh[n_rows]))
    return h + (1 - z) * (n - h)


# --- Exercise 4: scaled_dot_product_attention -------------------------------------------------


@right("scaled_dot_product_attention", "queries scaled before the product, softmax by hand (max subtracted), "
                                       "fully masked rows detected by counting allowed keys")
def sdpa_by_hand(q, k, v, mask=None):
    scores = (q / q.shape[-1] ** 0.5) @ k.transpose(-1, -2)
    if mask is None:
        mask = torch.ones_like(scores, dtype=torch.bool)
    mask = mask.expand_as(scores)
    scores = torch.where(mask, scores, torch.tensor(float("-inf"), dtype=scores.dtype))
    row_max = scores.amax(dim=-1, keepdim=True)
    row_max = torch.where(torch.isfinite(row_max), row_max, torch.zeros_like(row_max))
    exp = torch.exp(scores - row_max)  # exp(-inf) = 0 at masked keys
    total = exp.sum(dim=-1, keepdim=True)
    weights = torch.where(mask.any(dim=-1, keepdim=True), exp / total.clamp(min=torch.finfo(exp.dtype).tiny),
                          torch.zeros_like(exp))
    return weights @ v, weights


@right("scaled_dot_product_attention", "the dtype's most negative number instead of -inf, then fully masked "
                                       "rows zeroed")
def sdpa_finfo_min(q, k, v, mask=None):
    d_k = q.size(-1)
    scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    weights = F.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights * mask.any(dim=-1, keepdim=True)  # a row with no allowed key: uniform -> 0
    return torch.matmul(weights, v), weights


@right("scaled_dot_product_attention", "softmax with -inf, then NaN rows replaced by nan_to_num")
def sdpa_nan_to_num(q, k, v, mask=None):
    scores = torch.einsum("...qd,...kd->...qk", q, k) * (1.0 / math.sqrt(k.shape[-1]))
    if mask is not None:
        scores = scores.masked_fill(mask.logical_not(), -math.inf)
    weights = scores.softmax(dim=-1).nan_to_num(nan=0.0)
    return torch.einsum("...qk,...kd->...qd", weights, v), weights


# --- Exercise 6: causal_mask and padding_mask -------------------------------------------------


@right("causal_mask", "comparison of two aranges")
def causal_mask_arange(T):
    positions = torch.arange(T)
    return positions[None, :] <= positions[:, None]


@right("causal_mask", "ones minus the strictly upper triangle")
def causal_mask_triu(T):
    return ~torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)


@right("padding_mask", "loop over the rows")
def padding_mask_loop(lengths, T):
    mask = torch.zeros(len(lengths), T, dtype=torch.bool)
    for row, length in enumerate(lengths.tolist()):
        mask[row, :length] = True
    return mask


# --- Exercise 7: multi_head_attention ---------------------------------------------------------


@right("multi_head_attention", "a loop over heads with sliced projection weights, heads concatenated")
def mha_head_loop(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads, key_padding_mask=None,
                  causal=False):
    N, T, E = x.shape
    d = E // n_heads
    W_q, W_k, W_v = in_proj_weight[:E], in_proj_weight[E:2 * E], in_proj_weight[2 * E:]
    b_q, b_k, b_v = in_proj_bias[:E], in_proj_bias[E:2 * E], in_proj_bias[2 * E:]
    mask = torch.ones(N, T, T, dtype=torch.bool)
    if key_padding_mask is not None:
        mask = mask & key_padding_mask[:, None, :]
    if causal:
        mask = mask & causal_mask(T)  # noqa: F821  (defined in the notebook)
    outputs, weights = [], []
    for head in range(n_heads):
        cols = slice(head * d, (head + 1) * d)
        q = x @ W_q[cols].T + b_q[cols]
        k = x @ W_k[cols].T + b_k[cols]
        v = x @ W_v[cols].T + b_v[cols]
        out, w = scaled_dot_product_attention(q, k, v, mask)  # noqa: F821  (defined in the notebook)
        outputs.append(out)
        weights.append(w)
    concatenated = torch.cat(outputs, dim=-1)
    return concatenated @ out_proj_weight.T + out_proj_bias, torch.stack(weights, dim=1)


@right("multi_head_attention", "view/permute instead of reshape/transpose, mask built as (N, 1, T, T) up front")
def mha_permute(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads, key_padding_mask=None,
                causal=False):
    N, T, E = x.shape
    qkv = F.linear(x, in_proj_weight, in_proj_bias).view(N, T, 3, n_heads, E // n_heads)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (N, heads, T, head_dim)
    keep = torch.ones(N, 1, T, T, dtype=torch.bool)
    if key_padding_mask is not None:
        keep = keep & key_padding_mask.view(N, 1, 1, T)
    if causal:
        keep = keep & causal_mask(T).view(1, 1, T, T)  # noqa: F821  (defined in the notebook)
    use_mask = key_padding_mask is not None or causal
    out, weights = scaled_dot_product_attention(q, k, v, keep if use_mask else None)  # noqa: F821  (defined in the notebook)
    out = out.permute(0, 2, 1, 3).contiguous().view(N, T, E)
    return F.linear(out, out_proj_weight, out_proj_bias), weights


# --- Exercise 9: sinusoidal_positions and shift_matrix ----------------------------------------


@right("sinusoidal_positions", "frequencies as exp(-2i log(10000) / d), sin and cos stacked then flattened")
def sinusoidal_positions_stacked(T, d):
    i = torch.arange(d // 2, dtype=torch.float64)
    omega = torch.exp(-2 * i * math.log(10000.0) / d)
    angles = torch.outer(torch.arange(T, dtype=torch.float64), omega)
    return torch.stack([angles.sin(), angles.cos()], dim=-1).reshape(T, d)


@right("sinusoidal_positions", "plain Python loops with math.sin and math.cos")
def sinusoidal_positions_loops(T, d):
    pe = torch.empty(T, d, dtype=torch.float64)
    for t in range(T):
        for i in range(d // 2):
            angle = t / 10000 ** (2 * i / d)
            pe[t, 2 * i] = math.sin(angle)
            pe[t, 2 * i + 1] = math.cos(angle)
    return pe


@right("shift_matrix", "block_diag of 2 x 2 rotation blocks")
def shift_matrix_blocks(k, d):
    blocks = []
    for i in range(d // 2):
        angle = k * 10000.0 ** (-2 * i / d)
        c, s = math.cos(angle), math.sin(angle)
        blocks.append(torch.tensor([[c, s], [-s, c]], dtype=torch.float64))
    return torch.block_diag(*blocks)


# --- Exercise 10: apply_rope ------------------------------------------------------------------


@right("apply_rope", "rotate_half with cos and sin repeated over both halves")
def apply_rope_rotate_half(x, positions, base=10000.0):
    d = x.shape[-1]
    inv_freq = 1.0 / base ** (torch.arange(0, d, 2).to(x.dtype) / d)
    angles = torch.outer(positions.to(x.dtype), inv_freq)
    cos, sin = torch.cat([angles, angles], dim=-1).cos(), torch.cat([angles, angles], dim=-1).sin()
    rotated = torch.cat([-x[..., d // 2:], x[..., : d // 2]], dim=-1)
    return x * cos + rotated * sin


@right("apply_rope", "the halves as the real and imaginary parts of complex numbers, multiplied by e^{i m theta}")
def apply_rope_complex(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = base ** (-torch.arange(d // 2, dtype=x.dtype) * 2 / d)
    rotation = torch.polar(torch.ones(len(positions), d // 2, dtype=x.dtype), positions.to(x.dtype)[:, None] * theta)
    z = torch.complex(x[..., : d // 2], x[..., d // 2:]) * rotation
    return torch.cat([z.real, z.imag], dim=-1)


# --- Exercise 11: mlm_mask --------------------------------------------------------------------


@right("mlm_mask", "Hugging Face's collator: bernoulli draws for selection, [MASK] and random, then randint")
def mlm_mask_bernoulli(tokens, mask_id, vocab_size, special_mask, p=0.15, generator=None):
    labels = tokens.clone()
    probability = torch.full(tokens.shape, p, dtype=torch.float32)
    probability.masked_fill_(special_mask, 0.0)
    selected = torch.bernoulli(probability, generator=generator).bool()
    labels[~selected] = -100
    inputs = tokens.clone()
    replaced = torch.bernoulli(torch.full(tokens.shape, 0.8), generator=generator).bool() & selected
    inputs[replaced] = mask_id
    randomised = torch.bernoulli(torch.full(tokens.shape, 0.5), generator=generator).bool() & selected & ~replaced
    random_words = torch.randint(vocab_size, tokens.shape, dtype=torch.long, generator=generator)
    inputs[randomised] = random_words[randomised]
    return inputs, labels


@right("mlm_mask", "one uniform per selected token splits 80/10/10; random ids only for the chosen subset, "
                   "drawn as floor(u * vocab_size)")
def mlm_mask_one_uniform(tokens, mask_id, vocab_size, special_mask, p=0.15, generator=None):
    selected = ~special_mask & (torch.rand(tokens.shape, generator=generator) < p)
    u = torch.rand(int(selected.sum()), generator=generator)  # one draw per selected token, row-major
    inputs = tokens.clone()
    values = inputs[selected]
    values[u < 0.8] = mask_id
    random_rows = (u >= 0.8) & (u < 0.9)
    n_random = int(random_rows.sum())
    random_ids = (torch.rand(n_random, generator=generator, dtype=torch.float64) * vocab_size).long()
    values[random_rows] = random_ids.clamp(max=vocab_size - 1)
    inputs[selected] = values
    labels = torch.full_like(tokens, -100)
    labels[selected] = tokens[selected]
    return inputs, labels


@right("mlm_mask", "torch.multinomial over the three outcomes, random ids drawn in a second pass")
def mlm_mask_multinomial(tokens, mask_id, vocab_size, special_mask, p=0.15, generator=None):
    flat_tokens = tokens.reshape(-1)
    flat_special = special_mask.reshape(-1)
    inputs = flat_tokens.clone()
    labels = torch.full_like(flat_tokens, -100)
    chosen = torch.nonzero((torch.rand(flat_tokens.numel(), generator=generator) < p) & ~flat_special).flatten()
    labels[chosen] = flat_tokens[chosen]
    if len(chosen):
        outcome = torch.multinomial(torch.tensor([0.8, 0.1, 0.1]), len(chosen), replacement=True,
                                    generator=generator)  # 0 = [MASK], 1 = random, 2 = unchanged
        inputs[chosen[outcome == 0]] = mask_id
        to_random = chosen[outcome == 1]
        inputs[to_random] = torch.randint(0, vocab_size, (len(to_random),), generator=generator)
    return inputs.reshape(tokens.shape), labels.reshape(tokens.shape)


# --- Exercise 12: wordpiece_tokenize ----------------------------------------------------------


@right("wordpiece_tokenize", "inner loop grows the end and remembers the longest match")
def wordpiece_forward_scan(word, vocab, unk="[UNK]"):
    pieces, start = [], 0
    while start < len(word):
        best_end = None
        for end in range(start + 1, len(word) + 1):
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                best_end = end
        if best_end is None:
            return [unk]
        pieces.append(word[start:best_end] if start == 0 else "##" + word[start:best_end])
        start = best_end
    return pieces


# --- Exercise 13: mean_pool -------------------------------------------------------------------


@right("mean_pool", "masked_fill of the padding, einsum sums, division where the count is positive")
def mean_pool_einsum(hidden, attention_mask):
    real = attention_mask.bool()
    totals = torch.einsum("nte,nt->ne", hidden.masked_fill(~real[..., None], 0.0), real.to(hidden.dtype))
    counts = real.sum(dim=1, keepdim=True).to(hidden.dtype)
    return torch.where(counts > 0, totals / counts.clamp(min=1), torch.zeros_like(totals))


# --- Exercise 15: TransformerBlock ------------------------------------------------------------


@right("TransformerBlock", "sub-modules created in another order (FFN first), F.linear and F.layer_norm calls")
class TransformerBlockOtherOrder(nn.Module):
    def __init__(self, d_model, n_heads, d_ff):
        super().__init__()
        self.n_heads = n_heads
        self.ff1 = nn.Linear(d_model, d_ff)
        self.ff2 = nn.Linear(d_ff, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.attn_out = nn.Linear(d_model, d_model)
        self.attn_in = nn.Linear(d_model, 3 * d_model)
        self.ln1 = nn.LayerNorm(d_model)
        self.attention_weights = None

    def forward(self, x, key_padding_mask=None, causal=False):
        normed = F.layer_norm(x, self.ln1.normalized_shape, self.ln1.weight, self.ln1.bias, self.ln1.eps)
        attended, weights = multi_head_attention(normed, self.attn_in.weight, self.attn_in.bias,  # noqa: F821  (defined in the notebook)
                                                 self.attn_out.weight, self.attn_out.bias, self.n_heads,
                                                 key_padding_mask=key_padding_mask, causal=causal)
        self.attention_weights = weights.detach()
        h = x + attended
        hidden = F.gelu(F.linear(self.ln2(h), self.ff1.weight, self.ff1.bias), approximate="none")
        return h + F.linear(hidden, self.ff2.weight, self.ff2.bias)


@right("TransformerBlock", "sub-modules in the order of use, the sub-layers as helper methods")
class TransformerBlockMethods(nn.Module):
    def __init__(self, d_model, n_heads, d_ff):
        super().__init__()
        self.n_heads = n_heads
        self.ln1 = nn.LayerNorm(d_model)
        self.attn_in = nn.Linear(d_model, 3 * d_model)
        self.attn_out = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.ff1 = nn.Linear(d_model, d_ff)
        self.ff2 = nn.Linear(d_ff, d_model)
        self.attention_weights = None

    def _attention(self, x, key_padding_mask, causal):
        out, self.attention_weights = multi_head_attention(  # noqa: F821  (defined in the notebook)
            self.ln1(x), self.attn_in.weight, self.attn_in.bias, self.attn_out.weight, self.attn_out.bias,
            self.n_heads, key_padding_mask, causal)
        self.attention_weights = self.attention_weights.detach()
        return out

    def _feed_forward(self, x):
        return self.ff2(F.gelu(self.ff1(self.ln2(x))))

    def forward(self, x, key_padding_mask=None, causal=False):
        x = x + self._attention(x, key_padding_mask, causal)
        return x + self._feed_forward(x)


# --- Exercise 16: ffn_share -------------------------------------------------------------------

answer("ffn_share", "counted_by_hand",
       "the parameter counts written out: FFN weights and biases over attention + FFN + two LayerNorms",
       "(2 * 512 * 2048 + 2048 + 512) / (4 * 512 * 512 + 4 * 512 + 2 * 512 * 2048 + 2048 + 512 + 4 * 512)")


# --- Exercise 17: next_item_loss ----------------------------------------------------------------


@right("next_item_loss", "log_softmax and gather over a boolean selection of the real targets")
def next_item_loss_gather(logits, items, pad_id):
    log_probs = torch.log_softmax(logits[:, :-1], dim=-1)
    nxt = items[:, 1:]
    real = nxt != pad_id
    picked = log_probs.gather(-1, nxt.clamp(max=logits.shape[-1] - 1)[..., None])[..., 0]
    return -(picked[real]).sum() / real.sum()


# --- Exercise 18: CausalSASRec ------------------------------------------------------------------


@right("CausalSASRec", "sub-modules created in another order, a float -inf causal mask, F.embedding lookups")
class CausalSASRecOther(nn.Module):
    def __init__(self, n_items, max_len, d_model, n_heads, n_layers):
        super().__init__()
        self.ln = nn.LayerNorm(d_model)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward=2 * d_model, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True) for _ in range(n_layers))
        self.pos_emb = nn.Embedding(max_len, d_model)
        self.item_emb = nn.Embedding(n_items + 1, d_model, padding_idx=n_items)
        self.n_items = n_items

    def forward(self, items):
        T = items.shape[1]
        positions = torch.arange(T)
        h = self.item_emb(items) + self.pos_emb(positions)[None]
        future = torch.full((T, T), float("-inf"), dtype=h.dtype).triu(1)
        for layer in self.layers:
            h = layer(h, src_mask=future)
        table = self.item_emb.weight[:-1]
        return torch.einsum("ntd,id->nti", self.ln(h), table)


# --- Exercise 20: the capstone ------------------------------------------------------------------


@right("capstone_train", "a GRU-free recipe written differently: Adam, 3 layers of d = 48, sinusoidal positions, "
                         "cosine schedule, own batching")
def capstone_train_other(train, time_budget_s):
    inputs, targets, lengths = train
    torch.manual_seed(1)
    d_model = 48
    angles = torch.arange(12)[:, None] * 10000.0 ** (-torch.arange(0, d_model, 2) / d_model)
    table = torch.stack([angles.sin(), angles.cos()], dim=-1).reshape(12, d_model)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, d_model)
            self.layers = nn.TransformerEncoder(
                nn.TransformerEncoderLayer(d_model, 4, 96, dropout=0.0, batch_first=True, norm_first=True), 3,
                enable_nested_tensor=False)
            self.out = nn.Linear(d_model, 10)

        def forward(self, tokens, lengths):
            ignore = torch.arange(tokens.shape[1])[None, :] >= lengths[:, None]
            return self.out(self.layers(self.embed(tokens) + table[: tokens.shape[1]], src_key_padding_mask=ignore))

    model = Model()
    steps = 300
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        batch = torch.randint(0, len(inputs), (64,), generator=generator)
        loss = F.cross_entropy(model(inputs[batch], lengths[batch]).flatten(0, 1), targets[batch].flatten(),
                               ignore_index=-100)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    model.eval()
    return model
