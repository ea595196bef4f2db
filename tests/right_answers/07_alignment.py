"""Right answers for 07_alignment (see tests/catalogue.py): each must keep full marks."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from tests.right_answers import answer, right

EXEMPT = {
    "first_step_grads": "a concept question with one right pair of sets",
    "self_supervised": "one right tensor and one right set",
    "kl_penalty_reason": "a concept question with one right letter",
    "onerec_pairs": "a concept question with one right letter",
    "regime_answers": "a concept question with one right mapping and set",
    "llm_rec_kind": "a concept question with one right mapping",
}


@right("build_sft_example", "torch.cat of prompt, response and padding, lists for the mask")
def build_sft_example_cat(prompt_ids, response_ids, pad_id, max_len):
    if prompt_ids.numel() < 1 or response_ids.numel() + 1 > max_len:
        raise ValueError("at least one prompt token and the whole response must fit")
    room = max_len - response_ids.numel()
    prompt = prompt_ids[-room:] if room > 0 else prompt_ids[:0]
    padding = torch.full((max_len - prompt.numel() - response_ids.numel(),), pad_id, dtype=torch.int64)
    ids = torch.cat([prompt.to(torch.int64), response_ids.to(torch.int64), padding])
    mask = torch.tensor([False] * prompt.numel() + [True] * response_ids.numel() + [False] * padding.numel())
    return ids, mask


@right("sequence_logprob", "F.cross_entropy with ignore_index on the shifted labels, negated")
def sequence_logprob_cross_entropy(logits, input_ids, completion_mask):
    labels = torch.where(completion_mask[:, 1:].bool(), input_ids[:, 1:], torch.full_like(input_ids[:, 1:], -100))
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), labels, ignore_index=-100, reduction="none")
    return -nll.sum(dim=1)


@right("sequence_logprob", "logits minus logsumexp, a Python loop over positions")
def sequence_logprob_loop(logits, input_ids, completion_mask):
    total = torch.zeros(logits.shape[0], dtype=logits.dtype)
    for t in range(1, logits.shape[1]):
        step = logits[:, t - 1]
        chosen = step.gather(-1, input_ids[:, t:t + 1]).squeeze(-1) - torch.logsumexp(step, dim=-1)
        total = total + torch.where(completion_mask[:, t].bool(), chosen, torch.zeros_like(chosen))
    return total


@right("sft_loss", "F.cross_entropy with ignore_index=-100 (TRL's completion-only labels)")
def sft_loss_cross_entropy(logits, input_ids, completion_mask):
    labels = torch.where(completion_mask[:, 1:].bool(), input_ids[:, 1:], torch.full_like(input_ids[:, 1:], -100))
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


@right("LoRALinear", "A from torch.rand (another random draw), B created first, F.linear in forward, merge via addmm")
class LoRALinearAlternative(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        self.scaling = float(alpha) / float(r)
        self.lora_B = nn.Parameter(base.weight.new_zeros(base.out_features, r))
        bound = 1.0 / math.sqrt(base.in_features)
        self.lora_A = nn.Parameter((torch.rand(r, base.in_features, dtype=base.weight.dtype) * 2 - 1) * bound)
        base.weight.requires_grad = False
        if base.bias is not None:
            base.bias.requires_grad = False
        self.base = base

    def forward(self, x):
        return self.base(x) + F.linear(F.linear(x, self.lora_A), self.lora_B) * self.scaling

    def merge(self):
        merged = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        merged = merged.to(self.base.weight.dtype)
        with torch.no_grad():
            merged.weight.copy_(torch.addmm(self.base.weight, self.lora_B, self.lora_A, alpha=self.scaling))
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged


@right("reward_model_loss", "softplus of the negative margin")
def reward_model_loss_softplus(r_chosen, r_rejected):
    return F.softplus(r_rejected - r_chosen).mean()


@right("kl_penalised_rewards", "torch.cat of the penalties and the last column with the score")
def kl_penalised_rewards_cat(rewards, logp_policy, logp_ref, beta):
    penalty = -beta * (logp_policy - logp_ref)
    return torch.cat([penalty[:, :-1], (penalty[:, -1] + rewards)[:, None]], dim=1)


@right("gae", "deltas first, then a discounted reverse cumulative sum by a (T, T) matrix")
def gae_matrix(rewards, values, gamma, lam):
    T = rewards.shape[1]
    next_values = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], dim=1)
    deltas = rewards + gamma * next_values - values
    steps = torch.arange(T)
    power = (steps[None, :] - steps[:, None]).to(rewards.dtype)  # [t, l] = l - t
    weights = torch.where(power >= 0, (gamma * lam) ** power.clamp(min=0), torch.zeros_like(power))
    advantages = deltas @ weights.T
    return advantages, advantages + values


@right("ppo_clip_objective", "TRL's form: minus the mean of the max of the two negated terms")
def ppo_clip_objective_trl(logp_new, logp_old, advantages, clip_eps):
    ratio = (logp_new - logp_old).exp()
    losses = -advantages * ratio
    losses_clipped = -advantages * ratio.clamp(1.0 - clip_eps, 1.0 + clip_eps)
    return -torch.max(losses, losses_clipped).mean()


@right("dpo_loss", "softplus of the negative margin, rewards computed first")
def dpo_loss_softplus(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    with torch.no_grad():
        chosen_rewards = beta * (pi_chosen - ref_chosen)
        rejected_rewards = beta * (pi_rejected - ref_rejected)
    margin = beta * ((pi_chosen - pi_rejected) - (ref_chosen - ref_rejected))
    return F.softplus(-margin).mean(), chosen_rewards, rejected_rewards


@right("MoELoRALinear", "kaiming_uniform_ on each expert's A, a loop over experts, gate by F.linear")
class MoELoRALinearLoop(nn.Module):
    def __init__(self, base, n_experts, r, alpha):
        super().__init__()
        self.base = base
        base.requires_grad_(False)
        rank = r // n_experts
        self.gate = nn.Linear(base.in_features, n_experts).to(base.weight.dtype)
        self.lora_A = nn.Parameter(torch.empty(n_experts, rank, base.in_features, dtype=base.weight.dtype))
        for k in range(n_experts):
            nn.init.kaiming_uniform_(self.lora_A.data[k], a=math.sqrt(5))
        self.lora_B = nn.Parameter(torch.zeros(n_experts, base.out_features, rank, dtype=base.weight.dtype))
        self.scaling = alpha / r
        self.last_gate = None

    def forward(self, x, gate_input=None):
        source = x if gate_input is None else gate_input
        gate = F.softmax(F.linear(source, self.gate.weight, self.gate.bias), dim=-1)
        self.last_gate = gate.detach()
        out = self.base(x)
        for k in range(self.lora_A.shape[0]):
            out = out + self.scaling * gate[..., k:k + 1] * ((x @ self.lora_A[k].T) @ self.lora_B[k].T)
        return out


@right("MoELoRALinear", "the gate broadcast to every token before it is stored (last_gate of shape (N, T, K))")
class MoELoRALinearBroadcastGate(nn.Module):
    def __init__(self, base, n_experts, r, alpha):
        super().__init__()
        for p in base.parameters():
            p.requires_grad = False
        self.base = base
        d_in, d_out, rank = base.in_features, base.out_features, r // n_experts
        bound = 1 / math.sqrt(d_in)
        self.lora_A = nn.Parameter(torch.empty(n_experts, rank, d_in, dtype=base.weight.dtype).uniform_(-bound, bound))
        self.lora_B = nn.Parameter(torch.zeros(n_experts, d_out, rank, dtype=base.weight.dtype))
        self.gate = nn.Linear(d_in, n_experts, dtype=base.weight.dtype)
        self.scaling = alpha / r
        self.last_gate = None

    def forward(self, x, gate_input=None):
        logits = self.gate(x if gate_input is None else gate_input)
        gate = torch.softmax(logits, dim=-1).expand(*x.shape[:-1], logits.shape[-1])
        self.last_gate = gate.detach().clone()
        paths = torch.stack([(x @ self.lora_A[k].T) @ self.lora_B[k].T for k in range(self.lora_A.shape[0])], dim=-2)
        return self.base(x) + self.scaling * (gate[..., None] * paths).sum(dim=-2)


answer("lora_budget", "three_figures", "the share written to three significant figures",
       "65536\nlora_share = 0.00391")
answer("beta_kls", "log_space", "the optimum in log space (log_softmax of log pi_ref + r / beta), a loop",
       "[]\nfor _b in TOY_BETAS:\n    _log_opt = torch.log_softmax(TOY_REF.log() + TOY_REWARD / _b, dim=0)\n"
       "    beta_kls.append(float((_log_opt.exp() * (_log_opt - TOY_REF.log())).sum()))")
answer("pretraining_targets", "list_of_ints", "the targets built from a list, and a frozenset",
       "torch.tensor(corpus[0].tolist()[1:])\npretraining_teaches = frozenset(['next_tokens'])")


@right("capstone_train", "DPO written differently: a fresh CausalLM loaded with the SFT weights, log-probabilities "
                         "by cross_entropy, a softplus loss, eval mode (the reference's recipe: Adam, beta 0.4, 100 "
                         "steps of 128 pairs)")
def capstone_train_adam(train, time_budget_s):
    from course.lm import CausalLM

    sft = train.sft_policy
    policy = CausalLM(train.vocab_size, train.prompt_len + train.slate_len, d_model=32, n_heads=2, n_layers=2, d_ff=64)
    policy.load_state_dict(sft.state_dict())
    policy.requires_grad_(True)
    start = train.prompt_len - 1

    def logp(model, ids):
        logits = model(ids)[:, start:-1]
        nll = F.cross_entropy(logits.transpose(1, 2), ids[:, start + 1:], reduction="none")
        return -nll.sum(dim=1)

    with torch.no_grad():
        ref = logp(sft, torch.cat([train.chosen, train.rejected]))
    n = len(train.chosen)
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1)
    for _ in range(100):
        rows = torch.randperm(n, generator=g)[:128]
        both = torch.cat([train.chosen[rows], train.rejected[rows]])
        lp = logp(policy, both) - torch.cat([ref[:n][rows], ref[n:][rows]])
        loss = F.softplus(-0.4 * (lp[:128] - lp[128:])).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    policy.eval()
    return policy


@right("capstone_train", "another pipeline: an ensemble of three DPO policies (beta 0.25, different batch orders) "
                         "mixed geometrically with the SFT policy, the mixing weight set by bisection so that the "
                         "KL measured on the training prompts is 0.85 nats (the budget spent per world)")
def capstone_train_kl_calibrated(train, time_budget_s):
    import copy

    from course.lm import sample

    sft, start, beta, kl_target = train.sft_policy, train.prompt_len - 1, 0.25, 0.85 * train.kl_budget

    def slate_logprob(model, ids):
        log_probs = torch.log_softmax(model(ids)[:, start:-1], dim=-1)
        return log_probs.gather(-1, ids[:, start + 1:, None]).squeeze(-1).sum(-1)

    with torch.no_grad():
        ref_margin = slate_logprob(sft, train.chosen) - slate_logprob(sft, train.rejected)

    def dpo_member(seed):
        member = copy.deepcopy(sft).requires_grad_(True)
        optimizer = torch.optim.Adam(member.parameters(), lr=1e-3)
        shuffle = torch.Generator().manual_seed(seed)
        for _ in range(100):
            rows = torch.randperm(len(train.chosen), generator=shuffle)[:128]
            margin = slate_logprob(member, train.chosen[rows]) - slate_logprob(member, train.rejected[rows])
            loss = F.softplus(-beta * (margin - ref_margin[rows])).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return member.requires_grad_(False)

    class Mixture(nn.Module):
        """log pi_sft + weight * (mean member log-probabilities - log pi_sft): weight 1 is the ensemble."""

        def __init__(self, members):
            super().__init__()
            self.sft, self.members, self.weight = sft, nn.ModuleList(members), 1.0

        def forward(self, ids):
            base = torch.log_softmax(self.sft(ids), dim=-1)
            mean = torch.stack([torch.log_softmax(m(ids), dim=-1) for m in self.members]).mean(0)
            return base + self.weight * (mean - base)

    @torch.no_grad()
    def kl_on_training_prompts(policy):
        ids = sample(policy, train.prompts, train.slate_len, generator=torch.Generator().manual_seed(5))
        log_p = torch.log_softmax(policy(ids)[:, start:-1].double(), dim=-1)
        log_q = torch.log_softmax(sft(ids)[:, start:-1].double(), dim=-1)
        return float((log_p.exp() * (log_p - log_q)).sum(dim=(1, 2)).mean())

    policy = Mixture([dpo_member(seed) for seed in (1, 2, 3)])
    low, high = 0.0, 2.0
    for _ in range(6):
        policy.weight = (low + high) / 2
        if kl_on_training_prompts(policy) > kl_target:
            high = policy.weight
        else:
            low = policy.weight
    policy.weight = low
    return policy.eval()
