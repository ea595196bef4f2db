"""A small causal Transformer language model for 07_alignment (nanoGPT-style, no KV cache).

``CausalLM`` is deliberately plain: token embeddings plus **learned** position embeddings, a stack of
pre-LayerNorm blocks (causal multi-head self-attention, then a GELU feed-forward network, each in a
residual branch), a final LayerNorm and an output head **tied** to the token embedding (GPT-2's
choice: one matrix reads and writes tokens). Every projection is an ``nn.Linear`` with a fixed name
(``attn_in``, ``attn_out``, ``ff1``, ``ff2``), so adapters such as LoRA can wrap them in place
(``wrap_linears``). There is no padding mask: sequences are right-padded, and with a causal mask a
padded position can never influence a real one before it.

Generation recomputes the whole prefix at every step (``sample``): fine for the chapter's 14-token
sequences. Caching keys and values is chapter 06's exercise.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

LINEAR_NAMES = ("attn_in", "attn_out", "ff1", "ff2")


class Block(nn.Module):
    """Pre-LN Transformer block with causal self-attention: x + MHA(LN(x)), then x + FFN(LN(x))."""

    def __init__(self, d_model, n_heads, d_ff):
        super().__init__()
        self.n_heads = n_heads
        self.ln1 = nn.LayerNorm(d_model)
        self.attn_in = nn.Linear(d_model, 3 * d_model)
        self.attn_out = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.ff1 = nn.Linear(d_model, d_ff)
        self.ff2 = nn.Linear(d_ff, d_model)

    def forward(self, x):
        N, T, E = x.shape
        q, k, v = self.attn_in(self.ln1(x)).split(E, dim=-1)
        q, k, v = (t.reshape(N, T, self.n_heads, E // self.n_heads).transpose(1, 2) for t in (q, k, v))
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn_out(attended.transpose(1, 2).reshape(N, T, E))
        return x + self.ff2(F.gelu(self.ff1(self.ln2(x))))


class CausalLM(nn.Module):
    """A GPT-style language model: ``forward(input_ids)`` -> next-token logits ``(N, T, vocab_size)``.

    Args:
        vocab_size: number of token ids.
        max_len: longest sequence (number of learned positions).
        d_model, n_heads, n_layers: width, heads per layer, number of blocks.
        d_ff: hidden width of the feed-forward networks (default ``4 * d_model``).
    """

    def __init__(self, vocab_size, max_len, d_model=64, n_heads=4, n_layers=2, d_ff=None):
        super().__init__()
        self.max_len = max_len
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.position_embedding = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList([Block(d_model, n_heads, d_ff or 4 * d_model) for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.apply(_init_weights)

    def hidden_states(self, input_ids):
        """(N, T) int64 -> (N, T, d_model) final hidden states (after the last LayerNorm)."""
        T = input_ids.shape[1]
        if T > self.max_len:
            raise ValueError(f"sequence of length {T} is longer than max_len={self.max_len}")
        h = self.token_embedding(input_ids) + self.position_embedding.weight[:T]
        for block in self.blocks:
            h = block(h)
        return self.ln_f(h)

    def head(self, hidden):
        """(..., d_model) hidden states -> (..., vocab_size) logits (the output head, tied to the embedding)."""
        return hidden @ self.token_embedding.weight.T

    def forward(self, input_ids):
        """(N, T) int64 token ids -> (N, T, vocab_size) logits; position t predicts token t + 1."""
        return self.head(self.hidden_states(input_ids))


def _init_weights(module):
    # GPT-2's initialisation: N(0, 0.02) for weights and embeddings, zero biases.
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def wrap_linears(model, wrap, names=LINEAR_NAMES):
    """Replace every ``nn.Linear`` attribute called one of ``names`` inside ``model`` by ``wrap(linear)``.

    Returns the list of the new modules (for example LoRA adapters around the frozen projections).
    """
    wrapped = []
    for module in list(model.modules()):
        for name in names:
            child = getattr(module, name, None)
            if isinstance(child, nn.Linear):
                new = wrap(child)
                setattr(module, name, new)
                wrapped.append(new)
    return wrapped


@torch.no_grad()
def sample(model, prompts, n_new, generator=None, temperature=1.0, greedy=False):
    """Continue each row of ``prompts`` ``(N, T0)`` by ``n_new`` tokens drawn from ``model``.

    Every step runs the model on the whole prefix (no cache). Returns ``(N, T0 + n_new)`` int64.
    With ``greedy=True`` each step takes the most likely token instead of sampling.
    """
    ids = prompts
    for _ in range(n_new):
        logits = model(ids)[:, -1] / temperature
        if greedy:
            token = logits.argmax(-1, keepdim=True)
        else:
            token = torch.multinomial(torch.softmax(logits.float(), dim=-1), 1, generator=generator)
        ids = torch.cat([ids, token], dim=1)
    return ids
