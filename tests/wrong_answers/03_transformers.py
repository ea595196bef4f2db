"""Wrong answers for 03_transformers (see tests/catalogue.py)."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from tests.wrong_answers import answer, helper, wrong

ATTENTION_USERS = ("test_multi_head_attention", "test_transformer_block")

# --- Exercise 1: rnn_forward ------------------------------------------------------------------


@wrong("rnn_forward", "ignores h0 and starts from zeros")
def rnn_forward_ignores_h0(x, h0, W_ih, W_hh, b_ih, b_hh):
    h = torch.zeros_like(h0)
    states = []
    for x_t in x:
        h = torch.tanh(x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        states.append(h)
    return torch.stack(states)


@wrong("rnn_forward", "torch.stack of an empty list: crashes for an empty sequence (T = 0)")
def rnn_forward_empty_crashes(x, h0, W_ih, W_hh, b_ih, b_hh):
    h = h0
    states = []
    for x_t in x:
        h = torch.tanh(x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        states.append(h)
    return torch.stack(states)


@wrong("rnn_forward", "recurrent weights not transposed (h @ W_hh)")
def rnn_forward_untransposed(x, h0, W_ih, W_hh, b_ih, b_hh):
    h = h0
    states = []
    for x_t in x:
        h = torch.tanh(x_t @ W_ih.T + b_ih + h @ W_hh + b_hh)
        states.append(h)
    return torch.stack(states)


@wrong("rnn_forward", "forgets the recurrent bias b_hh")
def rnn_forward_no_b_hh(x, h0, W_ih, W_hh, b_ih, b_hh):
    h = h0
    states = []
    for x_t in x:
        h = torch.tanh(x_t @ W_ih.T + b_ih + h @ W_hh.T)
        states.append(h)
    return torch.stack(states)


@wrong("rnn_forward", "returns h_0 .. h_{T-1} (the states before each step)")
def rnn_forward_off_by_one(x, h0, W_ih, W_hh, b_ih, b_hh):
    h = h0
    states = []
    for x_t in x:
        states.append(h)
        h = torch.tanh(x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
    return torch.stack(states)


@wrong("rnn_forward", "ReLU instead of tanh")
def rnn_forward_relu(x, h0, W_ih, W_hh, b_ih, b_hh):
    h = h0
    states = []
    for x_t in x:
        h = torch.relu(x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        states.append(h)
    return torch.stack(states)


@wrong("rnn_forward", "computes in float32 whatever the input dtype")
def rnn_forward_float32(x, h0, W_ih, W_hh, b_ih, b_hh):
    h = h0.float()
    states = []
    for x_t in x.float():
        h = torch.tanh(x_t @ W_ih.float().T + b_ih.float() + h @ W_hh.float().T + b_hh.float())
        states.append(h)
    return torch.stack(states)


@wrong("rnn_forward", "calls torch's RNN kernel")
def rnn_forward_calls_torch(x, h0, W_ih, W_hh, b_ih, b_hh):
    out, _ = torch.rnn_tanh(x, h0[None], [W_ih, W_hh, b_ih, b_hh], True, 1, 0.0, False, False, False)
    return out


# --- Exercise 2: lstm_cell --------------------------------------------------------------------


@helper
def _lstm(x, h, c, W_ih, W_hh, b_ih, b_hh, *, order="ifgo", forget_h=False, tanh_c=True, use_c=True):
    z = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh
    chunks = dict(zip(order, z.chunk(4, dim=-1), strict=True))
    i, f, o = torch.sigmoid(chunks["i"]), torch.sigmoid(chunks["f"]), torch.sigmoid(chunks["o"])
    g = torch.tanh(chunks["g"])
    previous = h if forget_h else c
    c_new = (f * previous if use_c else 0) + i * g
    h_new = o * (torch.tanh(c_new) if tanh_c else c_new)
    return h_new, c_new


@wrong("lstm_cell", "gate order i, f, o, g (as in some papers) instead of PyTorch's i, f, g, o")
def lstm_cell_wrong_order(x, h, c, W_ih, W_hh, b_ih, b_hh):
    return _lstm(x, h, c, W_ih, W_hh, b_ih, b_hh, order="ifog")


@wrong("lstm_cell", "the forget gate multiplies h instead of the cell state c")
def lstm_cell_forgets_h(x, h, c, W_ih, W_hh, b_ih, b_hh):
    return _lstm(x, h, c, W_ih, W_hh, b_ih, b_hh, forget_h=True)


@wrong("lstm_cell", "h_new = o * c_new (no tanh on the cell state)")
def lstm_cell_no_tanh(x, h, c, W_ih, W_hh, b_ih, b_hh):
    return _lstm(x, h, c, W_ih, W_hh, b_ih, b_hh, tanh_c=False)


@wrong("lstm_cell", "ignores the previous cell state (c_new = i * g)")
def lstm_cell_ignores_c(x, h, c, W_ih, W_hh, b_ih, b_hh):
    return _lstm(x, h, c, W_ih, W_hh, b_ih, b_hh, use_c=False)


@wrong("lstm_cell", "returns (c_new, h_new)")
def lstm_cell_swapped_outputs(x, h, c, W_ih, W_hh, b_ih, b_hh):
    h_new, c_new = _lstm(x, h, c, W_ih, W_hh, b_ih, b_hh)
    return c_new, h_new


# --- Exercise 3: gru_cell ---------------------------------------------------------------------


@helper
def _gru(x, h, W_ih, W_hh, b_ih, b_hh, *, swap_z=False, bias_outside=False, reset_before=False, order="rzn"):
    gi = dict(zip(order, (x @ W_ih.T + b_ih).chunk(3, dim=-1), strict=True))
    gh = dict(zip(order, (h @ W_hh.T + b_hh).chunk(3, dim=-1), strict=True))
    r = torch.sigmoid(gi["r"] + gh["r"])
    z = torch.sigmoid(gi["z"] + gh["z"])
    H = h.shape[-1]
    W_hn, b_hn = W_hh[2 * H:], b_hh[2 * H:]
    if reset_before:
        n = torch.tanh(gi["n"] + (r * h) @ W_hn.T + b_hn)
    elif bias_outside:
        n = torch.tanh(gi["n"] + r * (h @ W_hn.T) + b_hn)
    else:
        n = torch.tanh(gi["n"] + r * gh["n"])
    return z * n + (1 - z) * h if swap_z else (1 - z) * n + z * h


@wrong("gru_cell", "z and 1 - z swapped: h_new = z * n + (1 - z) * h")
def gru_cell_swapped_update(x, h, W_ih, W_hh, b_ih, b_hh):
    return _gru(x, h, W_ih, W_hh, b_ih, b_hh, swap_z=True)


@wrong("gru_cell", "b_hn added outside the reset gate: r * (h W_hn^T) + b_hn")
def gru_cell_bias_outside_reset(x, h, W_ih, W_hh, b_ih, b_hh):
    return _gru(x, h, W_ih, W_hh, b_ih, b_hh, bias_outside=True)


@wrong("gru_cell", "original-paper variant: reset applied to h before the matrix product")
def gru_cell_reset_before_matmul(x, h, W_ih, W_hh, b_ih, b_hh):
    return _gru(x, h, W_ih, W_hh, b_ih, b_hh, reset_before=True)


@wrong("gru_cell", "chunk order z, r, n")
def gru_cell_wrong_order(x, h, W_ih, W_hh, b_ih, b_hh):
    return _gru(x, h, W_ih, W_hh, b_ih, b_hh, order="zrn")


# --- Exercise 4: scaled_dot_product_attention ---------------------------------------------------


@wrong("scaled_dot_product_attention", "forgot the 1/sqrt(d_k) scale", also_fails=ATTENTION_USERS)
def sdpa_no_scale(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return weights @ v, weights


@wrong("scaled_dot_product_attention", "softmax over the wrong axis (the queries, dim=-2)",
       also_fails=ATTENTION_USERS)
def sdpa_softmax_wrong_axis(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-2).nan_to_num(0.0)
    return weights @ v, weights


@wrong("scaled_dot_product_attention", "mask applied after the softmax (weights zeroed, not renormalised)",
       also_fails=ATTENTION_USERS)
def sdpa_mask_after_softmax(q, k, v, mask=None):
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    if mask is not None:
        weights = weights * mask
    return weights @ v, weights


@wrong("scaled_dot_product_attention", "nn.MultiheadAttention's polarity: True = NOT allowed",
       also_fails=ATTENTION_USERS)
def sdpa_mha_polarity(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.masked_fill(mask, 0.0)
    return weights @ v, weights


@wrong("scaled_dot_product_attention", "fully masked rows give NaN (softmax of all -inf)",
       also_fails=ATTENTION_USERS)
def sdpa_nan_rows(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


@wrong("scaled_dot_product_attention", "masks with -1e9: fully masked rows attend uniformly to everything",
       also_fails=ATTENTION_USERS)
def sdpa_large_negative(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, -1e9)
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


@wrong("scaled_dot_product_attention", "scales by sqrt(d_v) instead of sqrt(d_k)", also_fails=ATTENTION_USERS)
def sdpa_scale_dv(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(v.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights.masked_fill(~mask, 0.0)
    return weights @ v, weights


@wrong("scaled_dot_product_attention", "naive softmax exp(s) / sum exp(s): overflows for large scores",
       also_fails=ATTENTION_USERS)
def sdpa_naive_softmax(q, k, v, mask=None):
    e = torch.exp(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]))
    if mask is not None:
        e = e * mask
    weights = (e / e.sum(dim=-1, keepdim=True)).nan_to_num(0.0)
    return weights @ v, weights


@wrong("scaled_dot_product_attention", "calls torch's scaled_dot_product_attention", also_fails=ATTENTION_USERS)
def sdpa_calls_torch(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask), weights


# --- Exercise 5: why sqrt(d_k) ------------------------------------------------------------------

answer("why_sqrt_dk", "notes_sigmoid", "the notes' answer: a saturating sigmoid", '"B"')
answer("why_sqrt_dk", "normalisation", "confuses the scale with the softmax normalisation", '"C"')

# --- Exercise 6: causal_mask and padding_mask ---------------------------------------------------


@wrong("causal_mask", "strict lower triangle: a position may not attend to itself", also_fails=ATTENTION_USERS)
def causal_mask_strict(T):
    return torch.ones(T, T, dtype=torch.bool).tril(-1)


@wrong("causal_mask", "upper triangle: attends to the future instead of the past", also_fails=ATTENTION_USERS)
def causal_mask_future(T):
    return torch.ones(T, T, dtype=torch.bool).triu()


@wrong("causal_mask", "returns 0/1 floats instead of a bool mask", also_fails=ATTENTION_USERS)
def causal_mask_float(T):
    return torch.ones(T, T).tril()


@wrong("padding_mask", "nn.MultiheadAttention's polarity: True at padding")
def padding_mask_inverted(lengths, T):
    return torch.arange(T) >= lengths[:, None]


@wrong("padding_mask", "uses lengths.max() as the width instead of T")
def padding_mask_max_length(lengths, T):
    return torch.arange(int(lengths.max())) < lengths[:, None]


@wrong("padding_mask", "off by one: t <= length")
def padding_mask_off_by_one(lengths, T):
    return torch.arange(T) <= lengths[:, None]


# --- Exercise 7: multi_head_attention -----------------------------------------------------------


@helper
def _mha(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads, key_padding_mask=None,
         causal=False, *, no_transpose=False, scale_dim=None, padding_polarity=True, use_causal=True,
         causal_upper=False, average=False, out_proj=True):
    N, T, E = x.shape
    hd = E // n_heads
    q, k, v = (x @ in_proj_weight.T + in_proj_bias).chunk(3, dim=-1)

    def split(t):
        if no_transpose:
            return t.reshape(N, n_heads, T, hd)
        return t.reshape(N, T, n_heads, hd).transpose(1, 2)

    def merge(t):
        if no_transpose:
            return t.reshape(N, T, E)
        return t.transpose(1, 2).reshape(N, T, E)

    allowed = torch.ones(N, 1, T, T, dtype=torch.bool)
    if key_padding_mask is not None:
        keep = key_padding_mask if padding_polarity else ~key_padding_mask
        allowed = allowed & keep[:, None, None, :]
    if causal and use_causal:
        tri = torch.ones(T, T, dtype=torch.bool)
        allowed = allowed & (tri.triu() if causal_upper else tri.tril())
    scores = split(q) @ split(k).transpose(-2, -1) / math.sqrt(scale_dim or hd)
    weights = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1).nan_to_num(0.0)
    out = merge(weights @ split(v))
    if out_proj:
        out = out @ out_proj_weight.T + out_proj_bias
    return out, weights.mean(dim=1) if average else weights


@wrong("multi_head_attention", "splits heads with reshape(N, heads, T, head_dim), no transpose",
       also_fails=("test_transformer_block",))
def mha_no_transpose(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads,
                     key_padding_mask=None, causal=False):
    return _mha(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads, key_padding_mask, causal,
                no_transpose=True)


@wrong("multi_head_attention", "scales by sqrt(E) instead of sqrt(head_dim)", also_fails=("test_transformer_block",))
def mha_scale_model_dim(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads,
                        key_padding_mask=None, causal=False):
    return _mha(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads, key_padding_mask, causal,
                scale_dim=x.shape[-1])


@wrong("multi_head_attention", "key_padding_mask read with nn.MultiheadAttention's polarity (True = ignore)",
       also_fails=("test_transformer_block",))
def mha_padding_polarity(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads,
                         key_padding_mask=None, causal=False):
    return _mha(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads, key_padding_mask, causal,
                padding_polarity=False)


@wrong("multi_head_attention", "ignores causal=True", also_fails=("test_transformer_block",))
def mha_ignores_causal(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads,
                       key_padding_mask=None, causal=False):
    return _mha(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads, key_padding_mask, causal,
                use_causal=False)


@wrong("multi_head_attention", "causal mask on the wrong triangle (queries see the future)",
       also_fails=("test_transformer_block",))
def mha_causal_upper(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads,
                     key_padding_mask=None, causal=False):
    return _mha(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads, key_padding_mask, causal,
                causal_upper=True)


@wrong("multi_head_attention", "returns the weights averaged over heads", also_fails=("test_transformer_block",))
def mha_averaged_weights(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads,
                         key_padding_mask=None, causal=False):
    return _mha(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads, key_padding_mask, causal,
                average=True)


@wrong("multi_head_attention", "forgets the output projection", also_fails=("test_transformer_block",))
def mha_no_out_proj(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads,
                    key_padding_mask=None, causal=False):
    return _mha(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, n_heads, key_padding_mask, causal,
                out_proj=False)


# --- Exercise 8: heads and shared projections ---------------------------------------------------

answer("head_facts", "more_params", "believes more heads add parameters", '{"more_params", "own_softmax"}')
answer("head_facts", "only_softmax", "misses that the parameter count is unchanged", '{"own_softmax"}')
answer("head_facts", "a_list", "answers with a list instead of a set", '["same_params", "own_softmax"]')
answer("shared_qk", "nothing_changes", "thinks the value projection alone matters", '"B"')
answer("shared_qk", "half_params", "thinks the problem is the parameter count", '"C"')

# --- Exercise 9: sinusoidal_positions and shift_matrix ------------------------------------------


@helper
def _pe(T, d, *, by_position=False, swap=False, concat=False, exponent_i=False, dtype=torch.float64):
    t = torch.arange(T, dtype=dtype)[:, None]
    i = torch.arange(d // 2, dtype=dtype)
    omega = 10000.0 ** (-(i if exponent_i else 2 * i) / d)
    angles = t * (10000.0 ** (-2 * t / d) if by_position else omega)
    angles = angles.expand(T, d // 2)
    first, second = (torch.cos(angles), torch.sin(angles)) if swap else (torch.sin(angles), torch.cos(angles))
    if concat:
        return torch.cat([first, second], dim=-1).to(torch.float64)
    return torch.stack([first, second], dim=-1).reshape(T, d).to(torch.float64)


@wrong("sinusoidal_positions", "the notes' formula: frequency indexed by the position, sin(w_t t)")
def pe_frequency_by_position(T, d):
    return _pe(T, d, by_position=True)


@wrong("sinusoidal_positions", "cosine in even columns, sine in odd ones")
def pe_sin_cos_swapped(T, d):
    return _pe(T, d, swap=True)


@wrong("sinusoidal_positions", "concatenated [sin | cos] halves instead of interleaved pairs")
def pe_concatenated(T, d):
    return _pe(T, d, concat=True)


@wrong("sinusoidal_positions", "exponent i/d instead of 2i/d")
def pe_exponent_i(T, d):
    return _pe(T, d, exponent_i=True)


@wrong("sinusoidal_positions", "angles computed in float32, then cast")
def pe_float32(T, d):
    return _pe(T, d, dtype=torch.float32)


@helper
def _shift(k, d, *, transpose=False, angle_k=True):
    omega = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    angle = k * omega if angle_k else omega
    M = torch.zeros(d, d, dtype=torch.float64)
    M[0::2, 0::2] = torch.diag(torch.cos(angle))
    M[0::2, 1::2] = torch.diag(torch.sin(angle))
    M[1::2, 0::2] = torch.diag(-torch.sin(angle))
    M[1::2, 1::2] = torch.diag(torch.cos(angle))
    return M.T if transpose else M


@wrong("shift_matrix", "rotation transposed (shifts by -k)")
def shift_matrix_transposed(k, d):
    return _shift(k, d, transpose=True)


@wrong("shift_matrix", "rotation angle w_i instead of k * w_i (right for k = 1 only)")
def shift_matrix_ignores_k(k, d):
    return _shift(k, d, angle_k=False)


# --- Exercise 10: apply_rope --------------------------------------------------------------------


@helper
def _rope(x, positions, base, *, interleaved=False, sign=1.0, exponent_i=False, use_positions=True,
          no_sin_second=False):
    d = x.shape[-1]
    i = torch.arange(d // 2, dtype=x.dtype)
    theta = base ** (-(i if exponent_i else 2 * i) / d)
    pos = positions.to(x.dtype) if use_positions else torch.arange(x.shape[-2], dtype=x.dtype)
    angles = pos[:, None] * theta
    cos, sin = torch.cos(angles), sign * torch.sin(angles)
    if interleaved:
        x1, x2 = x[..., 0::2], x[..., 1::2]
        return torch.stack([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1).reshape(x.shape)
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    second = x2 * cos if no_sin_second else x2 * cos + x1 * sin
    return torch.cat([x1 * cos - x2 * sin, second], dim=-1)


@wrong("apply_rope", "rotates adjacent pairs (2i, 2i+1) instead of half-split pairs (i, i + d/2)")
def rope_interleaved(x, positions, base=10000.0):
    return _rope(x, positions, base, interleaved=True)


@wrong("apply_rope", "rotates the other way (x1*cos + x2*sin)")
def rope_reversed(x, positions, base=10000.0):
    return _rope(x, positions, base, sign=-1.0)


@wrong("apply_rope", "frequencies base^(-i/d) instead of base^(-2i/d)")
def rope_exponent_i(x, positions, base=10000.0):
    return _rope(x, positions, base, exponent_i=True)


@wrong("apply_rope", "uses arange(T) instead of the given positions")
def rope_ignores_positions(x, positions, base=10000.0):
    return _rope(x, positions, base, use_positions=False)


@wrong("apply_rope", "ignores the base argument (always 10000)")
def rope_ignores_base(x, positions, base=10000.0):
    return _rope(x, positions, 10000.0)


@wrong("apply_rope", "forgets the sine term of the second half")
def rope_no_sin_second(x, positions, base=10000.0):
    return _rope(x, positions, base, no_sin_second=True)


@wrong("apply_rope", "rotates x in place")
def rope_in_place(x, positions, base=10000.0):
    out = _rope(x, positions, base)
    x.copy_(out)
    return x


# --- Exercise 11: mlm_mask ----------------------------------------------------------------------


@helper
def _mlm(tokens, mask_id, vocab_size, special_mask, p, generator, *, label_all=False, label_inputs=False,
         mask_share=0.8, use_special=True, random_everywhere=False, fixed_p=None, ignore_value=-100,
         random_low=0, random_high=None):
    g = generator
    selected = torch.rand(tokens.shape, generator=g) < (fixed_p if fixed_p is not None else p)
    if use_special:
        selected = selected & ~special_mask
    to_mask = selected & (torch.rand(tokens.shape, generator=g) < mask_share)
    coin = torch.rand(tokens.shape, generator=g) < 0.5
    to_random = (~to_mask & coin) if random_everywhere else (selected & ~to_mask & coin)
    high = vocab_size if random_high is None else random_high(vocab_size)
    random_ids = torch.randint(random_low, high, tokens.shape, generator=g, dtype=tokens.dtype)
    inputs = torch.where(to_mask, torch.full_like(tokens, mask_id), tokens)
    inputs = torch.where(to_random, random_ids, inputs)
    source = inputs if label_inputs else tokens
    labels = source.clone() if label_all else torch.where(selected, source, torch.full_like(tokens, ignore_value))
    return inputs, labels


@wrong("mlm_mask", "MLM labels on unselected tokens too (labels = tokens everywhere)")
def mlm_labels_everywhere(tokens, mask_id, vocab_size, special_mask, p=0.15, generator=None):
    return _mlm(tokens, mask_id, vocab_size, special_mask, p, generator, label_all=True)


@wrong("mlm_mask", "labels are the corrupted inputs ([MASK] ids) instead of the originals")
def mlm_labels_from_inputs(tokens, mask_id, vocab_size, special_mask, p=0.15, generator=None):
    return _mlm(tokens, mask_id, vocab_size, special_mask, p, generator, label_inputs=True)


@wrong("mlm_mask", "every selected token becomes [MASK] (no 10% random / 10% unchanged)")
def mlm_always_mask(tokens, mask_id, vocab_size, special_mask, p=0.15, generator=None):
    return _mlm(tokens, mask_id, vocab_size, special_mask, p, generator, mask_share=1.0)


@wrong("mlm_mask", "special tokens can be selected")
def mlm_selects_special(tokens, mask_id, vocab_size, special_mask, p=0.15, generator=None):
    return _mlm(tokens, mask_id, vocab_size, special_mask, p, generator, use_special=False)


@wrong("mlm_mask", "random replacement applied to unselected tokens too")
def mlm_random_everywhere(tokens, mask_id, vocab_size, special_mask, p=0.15, generator=None):
    return _mlm(tokens, mask_id, vocab_size, special_mask, p, generator, random_everywhere=True)


@wrong("mlm_mask", "p hard-coded to 0.15")
def mlm_fixed_p(tokens, mask_id, vocab_size, special_mask, p=0.15, generator=None):
    return _mlm(tokens, mask_id, vocab_size, special_mask, p, generator, fixed_p=0.15)


@wrong("mlm_mask", "ignores the generator (global random state)")
def mlm_ignores_generator(tokens, mask_id, vocab_size, special_mask, p=0.15, generator=None):
    return _mlm(tokens, mask_id, vocab_size, special_mask, p, None)


@wrong("mlm_mask", "label -1 instead of -100 at unselected positions")
def mlm_ignore_minus_one(tokens, mask_id, vocab_size, special_mask, p=0.15, generator=None):
    return _mlm(tokens, mask_id, vocab_size, special_mask, p, generator, ignore_value=-1)


@wrong("mlm_mask", "random replacements never use the special ids 0-4 (drawn from [5, vocab_size))")
def mlm_random_skips_special_ids(tokens, mask_id, vocab_size, special_mask, p=0.15, generator=None):
    return _mlm(tokens, mask_id, vocab_size, special_mask, p, generator, random_low=5)


@wrong("mlm_mask", "random replacements from [0, vocab_size - 1): the last id is never drawn")
def mlm_random_off_by_one(tokens, mask_id, vocab_size, special_mask, p=0.15, generator=None):
    return _mlm(tokens, mask_id, vocab_size, special_mask, p, generator, random_high=lambda v: v - 1)


@wrong("mlm_mask", "random replacement = a random token of the same batch (not uniform over the vocabulary)")
def mlm_random_from_batch(tokens, mask_id, vocab_size, special_mask, p=0.15, generator=None):
    selected = (torch.rand(tokens.shape, generator=generator) < p) & ~special_mask
    u = torch.rand(tokens.shape, generator=generator)
    inputs = torch.where(selected & (u < 0.8), torch.full_like(tokens, mask_id), tokens)
    pool = tokens[~special_mask]
    picks = pool[torch.randint(len(pool), tokens.shape, generator=generator)]
    inputs = torch.where(selected & (u >= 0.8) & (u < 0.9), picks, inputs)
    return inputs, torch.where(selected, tokens, torch.full_like(tokens, -100))


# --- Exercise 12: wordpiece_tokenize ------------------------------------------------------------


@helper
def _wordpiece(word, vocab, unk, *, shortest=False, prefix="##", first_prefix="", partial_unk=False):
    pieces, start = [], 0
    while start < len(word):
        ends = range(start + 1, len(word) + 1) if shortest else range(len(word), start, -1)
        piece = None
        for end in ends:
            candidate = (first_prefix if start == 0 else prefix) + word[start:end]
            if candidate in vocab:
                piece = candidate
                break
        if piece is None:
            return pieces + [unk] if partial_unk else [unk]
        pieces.append(piece)
        start = end
    return pieces


@wrong("wordpiece_tokenize", "shortest match first")
def wordpiece_shortest(word, vocab, unk="[UNK]"):
    return _wordpiece(word, vocab, unk, shortest=True)


@wrong("wordpiece_tokenize", "continuation pieces looked up without '##'")
def wordpiece_no_prefix(word, vocab, unk="[UNK]"):
    return _wordpiece(word, vocab, unk, prefix="")


@wrong("wordpiece_tokenize", "'##' on the first piece too")
def wordpiece_prefix_first(word, vocab, unk="[UNK]"):
    return _wordpiece(word, vocab, unk, first_prefix="##")


@wrong("wordpiece_tokenize", "keeps the pieces found so far and appends [UNK] (BERT maps the whole word)")
def wordpiece_partial_unk(word, vocab, unk="[UNK]"):
    return _wordpiece(word, vocab, unk, partial_unk=True)


@wrong("wordpiece_tokenize", "ignores the unk argument")
def wordpiece_fixed_unk(word, vocab, unk="[UNK]"):
    return _wordpiece(word, vocab, "[UNK]")


# --- Exercise 13: mean_pool ---------------------------------------------------------------------


@wrong("mean_pool", "averages over all T positions, padding included")
def mean_pool_includes_padding(hidden, attention_mask):
    return (hidden * attention_mask.to(hidden.dtype)[:, :, None]).sum(dim=1) / hidden.shape[1]


@wrong("mean_pool", "sums without dividing by the number of tokens")
def mean_pool_sum(hidden, attention_mask):
    return (hidden * attention_mask.to(hidden.dtype)[:, :, None]).sum(dim=1)


@wrong("mean_pool", "an all-padding row gives NaN (0 / 0)")
def mean_pool_nan_row(hidden, attention_mask):
    weights = attention_mask.to(hidden.dtype)[:, :, None]
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1)


@wrong("mean_pool", "returns float32 whatever the input dtype")
def mean_pool_float32(hidden, attention_mask):
    weights = attention_mask.float()[:, :, None]
    return (hidden.float() * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


# --- Exercise 14: BERT sentence pair ------------------------------------------------------------

answer("cls_index", "first_word", "classifies on the first word instead of [CLS]", "1")
answer("segment_ids", "all_zero", "forgets the segment embedding of sentence B", "(0, 0, 0, 0, 0, 0, 0, 0)")
answer("segment_ids", "sep_in_b", "puts the first [SEP] into segment 1", "(0, 0, 0, 1, 1, 1, 1, 1)")
answer("nsp_negative", "shuffled", "thinks negatives are shuffled sentences", '"A"')
answer("nsp_negative", "previous", "thinks negatives are the previous sentence (that is ALBERT's SOP)", '"C"')

# --- Exercise 15: TransformerBlock --------------------------------------------------------------


@helper
def _block_class(post_ln=False, relu=False, tanh_gelu=False, ignore_padding=False, ignore_causal=False,
                 no_ffn_residual=False, one_norm=False, no_store=False):
    """The reference block with switches for one bug each (each mutant below builds one)."""

    class Block(nn.Module):
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

        def _attend(self, x, key_padding_mask, causal):
            out, weights = multi_head_attention(  # noqa: F821  (defined in the notebook)
                x, self.attn_in.weight, self.attn_in.bias, self.attn_out.weight, self.attn_out.bias, self.n_heads,
                key_padding_mask=None if ignore_padding else key_padding_mask, causal=causal and not ignore_causal)
            if not no_store:
                self.attention_weights = weights.detach()
            return out

        def _ffn(self, x):
            hidden = self.ff1(x)
            hidden = torch.relu(hidden) if relu else F.gelu(hidden, approximate="tanh" if tanh_gelu else "none")
            return self.ff2(hidden)

        def forward(self, x, key_padding_mask=None, causal=False):
            ln2 = self.ln1 if one_norm else self.ln2
            if post_ln:
                x = self.ln1(x + self._attend(x, key_padding_mask, causal))
                return ln2(x + self._ffn(x))
            x = x + self._attend(self.ln1(x), key_padding_mask, causal)
            return self._ffn(ln2(x)) if no_ffn_residual else x + self._ffn(ln2(x))

    return Block


@wrong("TransformerBlock", "post-LN (the original Transformer) instead of pre-LN")
def BlockPostLN(d_model, n_heads, d_ff):
    return _block_class(post_ln=True)(d_model, n_heads, d_ff)


@wrong("TransformerBlock", "ReLU instead of GELU in the FFN")
def BlockReLU(d_model, n_heads, d_ff):
    return _block_class(relu=True)(d_model, n_heads, d_ff)


@wrong("TransformerBlock", "tanh-approximated GELU")
def BlockTanhGELU(d_model, n_heads, d_ff):
    return _block_class(tanh_gelu=True)(d_model, n_heads, d_ff)


@wrong("TransformerBlock", "does not pass key_padding_mask on")
def BlockIgnoresPadding(d_model, n_heads, d_ff):
    return _block_class(ignore_padding=True)(d_model, n_heads, d_ff)


@wrong("TransformerBlock", "does not pass causal on")
def BlockIgnoresCausal(d_model, n_heads, d_ff):
    return _block_class(ignore_causal=True)(d_model, n_heads, d_ff)


@wrong("TransformerBlock", "no residual connection around the FFN")
def BlockNoFFNResidual(d_model, n_heads, d_ff):
    return _block_class(no_ffn_residual=True)(d_model, n_heads, d_ff)


@wrong("TransformerBlock", "uses ln1 for both sub-layers")
def BlockOneNorm(d_model, n_heads, d_ff):
    return _block_class(one_norm=True)(d_model, n_heads, d_ff)


@wrong("TransformerBlock", "does not store the attention weights")
def BlockNoStore(d_model, n_heads, d_ff):
    return _block_class(no_store=True)(d_model, n_heads, d_ff)


# --- Exercise 16: FFN share and decoder mask ----------------------------------------------------

answer("ffn_share", "half", "guesses one half", "0.5")
answer("ffn_share", "notes_sixty", "the notes' rule of thumb, 60%", "0.6")
answer("ffn_share", "percent", "answers in percent instead of a fraction", "66.6")
answer("decoder_mask_prevents", "padding", "confuses the causal mask with the padding mask", '"A"')
answer("decoder_mask_prevents", "itself", "thinks a position may not see itself", '"B"')


# --- Exercise 1b: vanish_steps, explode_steps ---------------------------------------------------

answer("vanish_steps", "floor", "rounds log(1e-3) / log(0.9) down (65: the ratio is still above 1e-3)", "65")
answer("vanish_steps", "float", "answers with the unrounded float", "math.log(1e-3) / math.log(0.9)")
answer("explode_steps", "floor", "rounds log(1e3) / log(1.1) down (72: the ratio is still below 1000)", "72")

# --- Exercise 5b: additive_floats, dot_floats ---------------------------------------------------

answer("additive_floats", "projections_only", "counts the projected queries and keys, not the per-pair tensor",
       "2 * 512 * 64")
answer("dot_floats", "with_head_size", "multiplies the score matrix by the head size", "512 * 512 * 64")
answer("additive_floats", "float", "answers with a float", "float(512 * 512 * 64)")

# --- Exercise 10b: relative_encodings -----------------------------------------------------------

answer("relative_encodings", "rope_only", "misses the score biases of T5 and ALiBi", '{"rope"}')
answer("relative_encodings", "sinusoids_too", "believes added sinusoids give offset-only scores",
       '{"rope", "t5_bias", "alibi", "sinusoidal_added"}')
answer("relative_encodings", "a_list", "answers with a list", '["rope", "t5_bias", "alibi"]')

# --- Exercise 14b: roberta_changes, macbert_expected_ngram, n_windows, bottom_layer_lr ----------

answer("roberta_changes", "sop", "attributes ALBERT's sentence-order prediction to RoBERTa",
       '{"dynamic_masking", "no_nsp", "more_data_bigger_batches", "byte_level_bpe", "sentence_order_prediction"}')
answer("macbert_expected_ngram", "uniform", "averages 1..4 uniformly", "2.5")
answer("n_windows", "no_overlap", "forgets the overlap: ceil(1300 / 510)", "3")
answer("bottom_layer_lr", "twelve_powers", "decays 12 times instead of 11", "2e-5 * 0.9 ** 12")
answer("n_windows", "float", "answers with a float", "5.0")

# --- Exercise 17: next_item_loss ----------------------------------------------------------------


@wrong("next_item_loss", "no shift: the logits at t are trained on the item at t (the current, not the next)")
def next_item_loss_no_shift(logits, items, pad_id):
    targets = items.masked_fill(items == pad_id, -100)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)


@wrong("next_item_loss", "padding targets counted (the model is trained to predict the padding id)")
def next_item_loss_counts_padding(logits, items, pad_id):
    targets = items[:, 1:].clamp(max=logits.shape[-1] - 1)
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1))


@wrong("next_item_loss", "mean per session, then over sessions (short sessions weigh as much as long ones)")
def next_item_loss_per_session(logits, items, pad_id):
    losses = []
    for row_logits, row in zip(logits, items, strict=True):
        targets = row[1:].masked_fill(row[1:] == pad_id, -100)
        losses.append(F.cross_entropy(row_logits[:-1], targets, ignore_index=-100))
    return torch.stack(losses).mean()


@wrong("next_item_loss", "sums instead of averaging over targets")
def next_item_loss_sum(logits, items, pad_id):
    targets = items[:, 1:].masked_fill(items[:, 1:] == pad_id, -100)
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100,
                           reduction="sum")


# --- Exercise 18: CausalSASRec ------------------------------------------------------------------


@helper
def _sasrec_modules(self, n_items, max_len, d_model, n_heads, n_layers, norm_first=True):
    self.item_emb = nn.Embedding(n_items + 1, d_model, padding_idx=n_items)
    self.pos_emb = nn.Embedding(max_len, d_model)
    self.layers = nn.ModuleList([
        nn.TransformerEncoderLayer(d_model, n_heads, 2 * d_model, dropout=0.0, activation="gelu", batch_first=True,
                                   norm_first=norm_first) for _ in range(n_layers)])
    self.ln = nn.LayerNorm(d_model)


@wrong("CausalSASRec", "no causal mask: every position sees the item it must predict")
class CausalSASRecNoMask(nn.Module):
    def __init__(self, n_items, max_len, d_model, n_heads, n_layers):
        super().__init__()
        self.n_items = n_items
        _sasrec_modules(self, n_items, max_len, d_model, n_heads, n_layers)

    def forward(self, items):
        h = self.item_emb(items) + self.pos_emb.weight[: items.shape[1]]
        for layer in self.layers:
            h = layer(h)
        return self.ln(h) @ self.item_emb.weight[: self.n_items].T


@wrong("CausalSASRec", "the course's mask polarity (True = allowed) given to nn.TransformerEncoderLayer: "
                       "sees only the future")
class CausalSASRecPolarity(nn.Module):
    def __init__(self, n_items, max_len, d_model, n_heads, n_layers):
        super().__init__()
        self.n_items = n_items
        _sasrec_modules(self, n_items, max_len, d_model, n_heads, n_layers)

    def forward(self, items):
        T = items.shape[1]
        h = self.item_emb(items) + self.pos_emb.weight[:T]
        allowed = torch.ones(T, T, dtype=torch.bool).tril()  # the course's convention, read by nn as "forbidden"
        for layer in self.layers:
            h = layer(h, src_mask=allowed)
        return self.ln(h) @ self.item_emb.weight[: self.n_items].T


@wrong("CausalSASRec", "a separate output layer instead of the tied item embeddings")
class CausalSASRecUntied(nn.Module):
    def __init__(self, n_items, max_len, d_model, n_heads, n_layers):
        super().__init__()
        self.n_items = n_items
        _sasrec_modules(self, n_items, max_len, d_model, n_heads, n_layers)
        self.out = nn.Linear(d_model, n_items, bias=False)

    def forward(self, items):
        T = items.shape[1]
        h = self.item_emb(items) + self.pos_emb.weight[:T]
        for layer in self.layers:
            h = layer(h, src_mask=torch.ones(T, T, dtype=torch.bool).triu(1))
        return self.out(self.ln(h))


@wrong("CausalSASRec", "post-LN layers (norm_first=False)")
class CausalSASRecPostLN(nn.Module):
    def __init__(self, n_items, max_len, d_model, n_heads, n_layers):
        super().__init__()
        self.n_items = n_items
        _sasrec_modules(self, n_items, max_len, d_model, n_heads, n_layers, norm_first=False)

    def forward(self, items):
        T = items.shape[1]
        h = self.item_emb(items) + self.pos_emb.weight[:T]
        for layer in self.layers:
            h = layer(h, src_mask=torch.ones(T, T, dtype=torch.bool).triu(1))
        return self.ln(h) @ self.item_emb.weight[: self.n_items].T


@wrong("CausalSASRec", "no position embeddings added")
class CausalSASRecNoPositions(nn.Module):
    def __init__(self, n_items, max_len, d_model, n_heads, n_layers):
        super().__init__()
        self.n_items = n_items
        _sasrec_modules(self, n_items, max_len, d_model, n_heads, n_layers)

    def forward(self, items):
        T = items.shape[1]
        h = self.item_emb(items)
        for layer in self.layers:
            h = layer(h, src_mask=torch.ones(T, T, dtype=torch.bool).triu(1))
        return self.ln(h) @ self.item_emb.weight[: self.n_items].T


# --- Exercise 19: sequence_family, order_blind --------------------------------------------------

answer("sequence_family", "notes_autoint", "the notes' taxonomy: AutoInt as an attention-based sequence model",
       '{"YouTube DNN": "pooling", "DIN": "attention", "BST": "attention", "DSIN": "attention", '
       '"GRU4Rec": "sequential", "AutoInt": "attention"}')
answer("sequence_family", "bst_sequential", "files BST (a Transformer) under sequential",
       '{"YouTube DNN": "pooling", "DIN": "attention", "BST": "sequential", "DSIN": "attention", '
       '"GRU4Rec": "sequential", "AutoInt": "feature_interaction"}')
answer("order_blind", "attention_is_ordered", "believes any attention model sees the order",
       '{"mean_pooling"}')
answer("order_blind", "sasrec_blind", "forgets SASRec's position embeddings and causal mask",
       '{"mean_pooling", "din_target_attention", "sasrec"}')

# --- Exercise 20: the capstone ------------------------------------------------------------------


@helper
def _capstone_sorter(use_mask=True, use_positions=True):
    torch.manual_seed(0)

    class Sorter(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 32)
            self.position = nn.Embedding(12, 32)
            layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(32, 10)

        def forward(self, tokens, lengths):
            padding = torch.arange(tokens.shape[1]) >= lengths[:, None]
            h = self.embed(tokens) + (self.position.weight[: tokens.shape[1]] if use_positions else 0.0)
            return self.head(self.encoder(h, src_key_padding_mask=padding if use_mask else None))

    return Sorter()


@helper
def _capstone_fit(model, inputs, targets, lengths, steps=300, batch_size=64, lr=3e-3):
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps, pct_start=0.1)
    order = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(0))
    for step in range(steps):
        batch = order[(step * batch_size) % len(inputs):][:batch_size]
        loss = F.cross_entropy(model(inputs[batch], lengths[batch]).reshape(-1, 10), targets[batch].reshape(-1),
                               ignore_index=-100)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return model.eval()


@wrong("capstone_train", "no padding mask: the leftover symbols are sorted in [max tier 0]")
def capstone_train_no_mask(train, time_budget_s):
    inputs, targets, lengths = train
    return _capstone_fit(_capstone_sorter(use_mask=False), inputs, targets, lengths)


@wrong("capstone_train", "no position information: every output position is the same function of the set [max tier 0]")
def capstone_train_no_positions(train, time_budget_s):
    inputs, targets, lengths = train
    return _capstone_fit(_capstone_sorter(use_positions=False), inputs, targets, lengths)


@wrong("gru_cell", "computes in float32 whatever the input dtype")
def gru_cell_float32(x, h, W_ih, W_hh, b_ih, b_hh):
    x32, h32 = x.float(), h.float()
    a_r, a_z, a_n = (x32 @ W_ih.float().T + b_ih.float()).chunk(3, dim=-1)
    b_r, b_z, b_n = (h32 @ W_hh.float().T + b_hh.float()).chunk(3, dim=-1)
    r, z = torch.sigmoid(a_r + b_r), torch.sigmoid(a_z + b_z)
    n = torch.tanh(a_n + r * b_n)
    return ((1 - z) * n + z * h32).to(x.dtype)


@wrong("next_item_loss", "computes in float32 whatever the dtype of the logits")
def next_item_loss_float32(logits, items, pad_id):
    targets = items[:, 1:].masked_fill(items[:, 1:] == pad_id, -100)
    return F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)


@wrong("capstone_train", "tuned to the validation split: hard-codes its secret order, learns nothing [max tier 0]")
def capstone_train_validation_order(train, time_budget_s):
    from course.data.common import torch_generator

    rank = torch.randperm(10, generator=torch_generator(0))  # the validation split's order, read off by hand

    def sorter(tokens, lengths):
        keys = rank[tokens].masked_fill(torch.arange(tokens.shape[1]) >= lengths[:, None], 10)
        ordered = torch.gather(tokens, 1, keys.sort(dim=1, stable=True).indices)
        return nn.functional.one_hot(ordered, 10).double()

    return sorter
