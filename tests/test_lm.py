"""course.lm: the small causal language model of 07_alignment (shapes, causality, tied head, adapters, sampling)."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from course.lm import LINEAR_NAMES, CausalLM, sample, wrap_linears


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: one thread is much faster than several competing for a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _model(seed=0, **kwargs):
    torch.manual_seed(seed)
    return CausalLM(11, 10, d_model=16, n_heads=2, n_layers=2, **kwargs)


def test_logits_shape_and_tied_head():
    model = _model()
    ids = torch.randint(0, 11, (3, 7), generator=torch.Generator().manual_seed(0))
    logits = model(ids)
    assert logits.shape == (3, 7, 11)
    torch.testing.assert_close(logits, model.head(model.hidden_states(ids)))
    torch.testing.assert_close(logits, model.hidden_states(ids) @ model.token_embedding.weight.T)
    assert not any(name.startswith("lm_head") for name, _ in model.named_parameters()), "the head is tied"
    assert model.blocks[0].ff1.out_features == 64, "d_ff defaults to 4 * d_model"


def test_causal_a_later_token_never_changes_earlier_logits():
    model = _model()
    ids = torch.randint(0, 11, (2, 9), generator=torch.Generator().manual_seed(1))
    changed = ids.clone()
    changed[:, 5:] = (changed[:, 5:] + 3) % 11
    with torch.no_grad():
        torch.testing.assert_close(model(ids)[:, :5], model(changed)[:, :5])
        assert not torch.allclose(model(ids)[:, 5:], model(changed)[:, 5:])


def test_block_matches_a_reference_attention():
    model = _model()
    block = model.blocks[0]
    x = torch.randn(2, 6, 16, generator=torch.Generator().manual_seed(2))
    q, k, v = block.attn_in(block.ln1(x)).split(16, dim=-1)
    heads = [t.reshape(2, 6, 2, 8).transpose(1, 2) for t in (q, k, v)]
    scores = heads[0] @ heads[1].transpose(-1, -2) / 8 ** 0.5
    scores = scores.masked_fill(torch.ones(6, 6, dtype=torch.bool).triu(1), float("-inf"))
    attended = (torch.softmax(scores, -1) @ heads[2]).transpose(1, 2).reshape(2, 6, 16)
    h = x + block.attn_out(attended)
    expected = h + block.ff2(F.gelu(block.ff1(block.ln2(h))))
    with torch.no_grad():
        torch.testing.assert_close(block(x), expected, atol=1e-5, rtol=1e-5)


def test_too_long_sequences_are_rejected():
    model = _model()
    try:
        model(torch.zeros(1, 11, dtype=torch.int64))
    except ValueError:
        return
    raise AssertionError("a sequence longer than max_len should raise")


def test_the_model_learns_a_simple_rule():
    model = _model()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(3)
    for _ in range(60):  # sequences counting up modulo 11: every next token is determined
        start = torch.randint(0, 11, (32, 1), generator=g)
        ids = (start + torch.arange(8)) % 11
        loss = F.cross_entropy(model(ids)[:, :-1].reshape(-1, 11), ids[:, 1:].reshape(-1))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.5


def test_wrap_linears_replaces_every_projection():
    model = _model()
    seen = []

    class Wrapper(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            seen.append(inner)

        def forward(self, x):
            return self.inner(x)

    ids = torch.randint(0, 11, (2, 5), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        before = model(ids)
    wrapped = wrap_linears(model, Wrapper)
    assert len(wrapped) == len(LINEAR_NAMES) * 2 and all(isinstance(w, Wrapper) for w in wrapped)
    assert all(isinstance(getattr(block, name), Wrapper) for block in model.blocks for name in LINEAR_NAMES)
    with torch.no_grad():
        torch.testing.assert_close(model(ids), before)


def test_sample_is_reproducible_and_keeps_the_prompt():
    model = _model()
    prompts = torch.randint(0, 11, (4, 3), generator=torch.Generator().manual_seed(5))
    a = sample(model, prompts, 4, generator=torch.Generator().manual_seed(6))
    b = sample(model, prompts, 4, generator=torch.Generator().manual_seed(6))
    assert a.shape == (4, 7) and a.dtype == torch.int64
    assert torch.equal(a, b) and torch.equal(a[:, :3], prompts)
    greedy = sample(model, prompts, 4, greedy=True)
    with torch.no_grad():
        assert torch.equal(greedy[:, 3], model(prompts)[:, -1].argmax(-1))


def test_sample_follows_the_model_distribution():
    model = _model()
    prompt = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        probs = torch.softmax(model(prompt)[0, -1], -1)
    draws = sample(model, prompt.repeat(4000, 1), 1, generator=torch.Generator().manual_seed(7))[:, -1]
    freq = torch.bincount(draws, minlength=11).double() / 4000
    # 4000 draws: standard error <= 0.008; 6 standard errors, false-failure probability < 1e-8
    assert torch.all((freq - probs.double()).abs() < 0.05)
