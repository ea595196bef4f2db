"""Wrong answers for 07_alignment (see tests/catalogue.py)."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from tests.wrong_answers import answer, helper, wrong

# --- Exercise 1: build_sft_example ------------------------------------------------------------


@wrong("build_sft_example", "the completion mask also covers the prompt")
def build_sft_example_mask_prompt(prompt_ids, response_ids, pad_id, max_len):
    keep = max_len - len(response_ids)
    prompt_ids = prompt_ids[max(0, len(prompt_ids) - keep):]
    ids = torch.full((max_len,), pad_id, dtype=torch.int64)
    n = len(prompt_ids) + len(response_ids)
    ids[:n] = torch.cat([prompt_ids, response_ids])
    mask = torch.zeros(max_len, dtype=torch.bool)
    mask[:n] = True
    return ids, mask


@wrong("build_sft_example", "pads on the left")
def build_sft_example_left_pad(prompt_ids, response_ids, pad_id, max_len):
    keep = max_len - len(response_ids)
    prompt_ids = prompt_ids[max(0, len(prompt_ids) - keep):]
    body = torch.cat([prompt_ids, response_ids])
    ids = torch.cat([torch.full((max_len - len(body),), pad_id, dtype=torch.int64), body])
    mask = torch.zeros(max_len, dtype=torch.bool)
    mask[max_len - len(response_ids):] = True
    return ids, mask


@wrong("build_sft_example", "too long: cuts the end of the sequence (the response), not the start of the prompt")
def build_sft_example_cut_end(prompt_ids, response_ids, pad_id, max_len):
    body = torch.cat([prompt_ids, response_ids])[:max_len]
    ids = torch.full((max_len,), pad_id, dtype=torch.int64)
    ids[:len(body)] = body
    mask = torch.zeros(max_len, dtype=torch.bool)
    mask[len(prompt_ids):len(body)] = True
    return ids, mask


@wrong("build_sft_example", "too long: drops the most recent prompt tokens (the end of the prompt)")
def build_sft_example_keep_prompt_start(prompt_ids, response_ids, pad_id, max_len):
    if len(response_ids) > max_len:
        raise ValueError("response too long")
    prompt_ids = prompt_ids[:max_len - len(response_ids)]
    ids = torch.full((max_len,), pad_id, dtype=torch.int64)
    n = len(prompt_ids)
    ids[:n] = prompt_ids
    ids[n:n + len(response_ids)] = response_ids
    mask = torch.zeros(max_len, dtype=torch.bool)
    mask[n:n + len(response_ids)] = True
    return ids, mask


@wrong("build_sft_example", "the mask is found by value (token != pad_id), so a response token equal to pad_id is lost")
def build_sft_example_mask_by_value(prompt_ids, response_ids, pad_id, max_len):
    if len(response_ids) > max_len:
        raise ValueError("response too long")
    prompt_ids = prompt_ids[max(0, len(prompt_ids) - (max_len - len(response_ids))):]
    ids = torch.full((max_len,), pad_id, dtype=torch.int64)
    n = len(prompt_ids)
    ids[:n] = prompt_ids
    ids[n:n + len(response_ids)] = response_ids
    mask = (ids != pad_id) & (torch.arange(max_len) >= n)
    return ids, mask


@wrong("build_sft_example", "the old contract: the response may fill max_len, leaving no prompt token (position 0)")
def build_sft_example_no_prompt_token(prompt_ids, response_ids, pad_id, max_len):
    if len(response_ids) > max_len:
        raise ValueError("response too long")
    prompt_ids = prompt_ids[max(0, len(prompt_ids) - (max_len - len(response_ids))):]
    ids = torch.full((max_len,), pad_id, dtype=torch.int64)
    n = len(prompt_ids)
    ids[:n] = prompt_ids
    ids[n:n + len(response_ids)] = response_ids
    mask = torch.zeros(max_len, dtype=torch.bool)
    mask[n:n + len(response_ids)] = True
    return ids, mask


@wrong("build_sft_example", "checks that the response leaves room for a prompt token, but accepts an empty prompt")
def build_sft_example_empty_prompt(prompt_ids, response_ids, pad_id, max_len):
    if len(response_ids) >= max_len:
        raise ValueError("no room for a prompt token")
    prompt_ids = prompt_ids[max(0, len(prompt_ids) - (max_len - len(response_ids))):]
    ids = torch.full((max_len,), pad_id, dtype=torch.int64)
    n = len(prompt_ids)
    ids[:n] = prompt_ids
    ids[n:n + len(response_ids)] = response_ids
    mask = torch.zeros(max_len, dtype=torch.bool)
    mask[n:n + len(response_ids)] = True
    return ids, mask


@wrong("build_sft_example", "no ValueError for a response longer than max_len (it is silently cut)")
def build_sft_example_no_error(prompt_ids, response_ids, pad_id, max_len):
    response_ids = response_ids[:max_len]
    prompt_ids = prompt_ids[max(0, len(prompt_ids) - (max_len - len(response_ids))):]
    ids = torch.full((max_len,), pad_id, dtype=torch.int64)
    n = len(prompt_ids)
    ids[:n] = prompt_ids
    ids[n:n + len(response_ids)] = response_ids
    mask = torch.zeros(max_len, dtype=torch.bool)
    mask[n:n + len(response_ids)] = True
    return ids, mask


# --- Exercise 2: sequence_logprob -------------------------------------------------------------


@wrong("sequence_logprob", "no shift: the logits at position t are scored against token t")
def sequence_logprob_no_shift(logits, input_ids, completion_mask):
    taken = torch.log_softmax(logits, dim=-1).gather(-1, input_ids[..., None]).squeeze(-1)
    return (taken * completion_mask.to(taken.dtype)).sum(-1)


@wrong("sequence_logprob", "mean over the completion tokens instead of the sum")
def sequence_logprob_mean(logits, input_ids, completion_mask):
    taken = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    m = completion_mask[:, 1:].to(taken.dtype)
    return (taken * m).sum(-1) / m.sum(-1)


@wrong("sequence_logprob", "the mask is not shifted with the tokens (completion_mask[:, :-1])")
def sequence_logprob_unshifted_mask(logits, input_ids, completion_mask):
    taken = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    return (taken * completion_mask[:, :-1].to(taken.dtype)).sum(-1)


@wrong("sequence_logprob", "log of softmax: -inf for large logits")
def sequence_logprob_log_softmax_naive(logits, input_ids, completion_mask):
    taken = torch.log(torch.softmax(logits[:, :-1], dim=-1)).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    return (taken * completion_mask[:, 1:].to(taken.dtype)).sum(-1)


@wrong("sequence_logprob", "sums the prompt tokens too (ignores the mask)")
def sequence_logprob_with_prompt(logits, input_ids, completion_mask):
    taken = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    return taken.sum(-1)


@wrong("sequence_logprob", "always returns float32")
def sequence_logprob_float32(logits, input_ids, completion_mask):
    taken = torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    return (taken * completion_mask[:, 1:].float()).sum(-1)


# --- Exercise 3: sft_loss ---------------------------------------------------------------------


@wrong("sft_loss", "averages per sequence, then over sequences (short responses weigh as much as long ones)")
def sft_loss_per_sequence(logits, input_ids, completion_mask):
    taken = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    m = completion_mask[:, 1:].to(taken.dtype)
    return (-(taken * m).sum(-1) / m.sum(-1)).mean()


@wrong("sft_loss", "no shift")
def sft_loss_no_shift(logits, input_ids, completion_mask):
    taken = torch.log_softmax(logits, dim=-1).gather(-1, input_ids[..., None]).squeeze(-1)
    m = completion_mask.to(taken.dtype)
    return -(taken * m).sum() / m.sum()


@wrong("sft_loss", "loss on every token, prompt included")
def sft_loss_all_tokens(logits, input_ids, completion_mask):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), input_ids[:, 1:].reshape(-1))


@wrong("sft_loss", "sum over tokens instead of the mean")
def sft_loss_sum(logits, input_ids, completion_mask):
    taken = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    return -(taken * completion_mask[:, 1:].to(taken.dtype)).sum()


@wrong("sft_loss", "log of softmax: inf for large logits")
def sft_loss_naive_log(logits, input_ids, completion_mask):
    taken = torch.log(torch.softmax(logits[:, :-1], dim=-1)).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    m = completion_mask[:, 1:].to(taken.dtype)
    return -(taken * m).sum() / m.sum()


# --- Exercise 4: LoRALinear -------------------------------------------------------------------


@helper
def _lora_setup(module, base, r, alpha, a_init="kaiming", b_init="zeros", freeze=True, scaling=None, dtype=None):
    """LoRALinear's __init__ with switches for one bug each (the classes below use it)."""
    module.base = base
    if freeze:
        for p in base.parameters():
            p.requires_grad_(False)
    dtype = dtype or base.weight.dtype
    A = torch.empty(r, base.in_features, dtype=dtype)
    B = torch.zeros(base.out_features, r, dtype=dtype)
    if a_init == "kaiming":
        nn.init.kaiming_uniform_(A, a=math.sqrt(5))
    elif a_init == "normal":
        A.normal_()
    else:
        A.zero_()
    if b_init == "kaiming":
        nn.init.kaiming_uniform_(B, a=math.sqrt(5))
    module.lora_A, module.lora_B = nn.Parameter(A), nn.Parameter(B)
    module.scaling = alpha / r if scaling is None else scaling


@helper
def _lora_forward(module, x):
    A, B = module.lora_A.to(x.dtype), module.lora_B.to(x.dtype)
    return module.base(x) + module.scaling * (x @ A.T) @ B.T


@helper
def _lora_merge(module):
    base = module.base
    merged = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None, dtype=base.weight.dtype)
    with torch.no_grad():
        merged.weight.copy_(base.weight + module.scaling * (module.lora_B @ module.lora_A).to(base.weight.dtype))
        if base.bias is not None:
            merged.bias.copy_(base.bias)
    return merged


@wrong("LoRALinear", "B initialised at random like A (the update is not zero at the start)")
class LoRALinearRandomB(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        _lora_setup(self, base, r, alpha, b_init="kaiming")

    def forward(self, x):
        return _lora_forward(self, x)

    def merge(self):
        return _lora_merge(self)


@wrong("LoRALinear", "scaling r / alpha instead of alpha / r")
class LoRALinearInverseScaling(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        _lora_setup(self, base, r, alpha, scaling=r / alpha)

    def forward(self, x):
        return _lora_forward(self, x)

    def merge(self):
        return _lora_merge(self)


@wrong("LoRALinear", "the base layer is not frozen")
class LoRALinearNotFrozen(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        _lora_setup(self, base, r, alpha, freeze=False)

    def forward(self, x):
        return _lora_forward(self, x)

    def merge(self):
        return _lora_merge(self)


@wrong("LoRALinear", "A drawn from a standard normal (far too large), not kaiming_uniform_(a=sqrt(5))")
class LoRALinearNormalA(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        _lora_setup(self, base, r, alpha, a_init="normal")

    def forward(self, x):
        return _lora_forward(self, x)

    def merge(self):
        return _lora_merge(self)


@wrong("LoRALinear", "A zero and B random (the roles swapped): the update is zero, but B would never be zero")
class LoRALinearSwappedInit(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        _lora_setup(self, base, r, alpha, a_init="zeros", b_init="kaiming")

    def forward(self, x):
        return _lora_forward(self, x)

    def merge(self):
        return _lora_merge(self)


@wrong("LoRALinear", "merge() writes the update into the base layer and returns it")
class LoRALinearMergeInPlace(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        _lora_setup(self, base, r, alpha)

    def forward(self, x):
        return _lora_forward(self, x)

    def merge(self):
        with torch.no_grad():
            self.base.weight += self.scaling * self.lora_B @ self.lora_A
        return self.base


@wrong("LoRALinear", "merge() hands the base's bias Parameter to the merged layer (shared, not copied)")
class LoRALinearMergeSharesBias(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        _lora_setup(self, base, r, alpha)

    def forward(self, x):
        return _lora_forward(self, x)

    def merge(self):
        merged = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None,
                           dtype=self.base.weight.dtype)
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.scaling * self.lora_B @ self.lora_A)
        if self.base.bias is not None:
            merged.bias = self.base.bias
        return merged


@wrong("LoRALinear", "A and B always float32, whatever the base layer's dtype")
class LoRALinearFloat32(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        _lora_setup(self, base, r, alpha, dtype=torch.float32)

    def forward(self, x):
        return _lora_forward(self, x)

    def merge(self):
        return _lora_merge(self)


answer("first_step_grads", "both_zero_trains", "thinks both matrices train from zero (a gradient needs the other "
       "matrix to be non-zero)",
       '{"both_zero": {"A", "B"}, "peft": {"A", "B"}, "both_random": {"A", "B"}}\n'
       'starts_at_pretrained = {"both_zero", "peft"}')
answer("first_step_grads", "A_trains_first", "thinks A (the random one) gets the first gradient",
       '{"both_zero": set(), "peft": {"A"}, "both_random": {"A", "B"}}\nstarts_at_pretrained = {"both_zero", "peft"}')
answer("first_step_grads", "random_starts_at_pretrained", "thinks every initialisation starts at the pre-trained model",
       '{"both_zero": set(), "peft": {"B"}, "both_random": {"A", "B"}}\n'
       'starts_at_pretrained = {"both_zero", "peft", "both_random"}')

answer("lora_budget", "only_A", "counts A only", "8 * 4096\nlora_share = lora_budget / 4096**2")
answer("lora_budget", "full_matrix", "counts the full update matrix B @ A", "4096 * 4096\nlora_share = 1.0")
answer("lora_budget", "share_percent", "gives the share in percent",
       "8 * (4096 + 4096)\nlora_share = 100 * lora_budget / 4096**2")

# --- Exercise 5: reward_model_loss --------------------------------------------------------------


@wrong("reward_model_loss", "chosen and rejected swapped")
def reward_model_loss_swapped(r_chosen, r_rejected):
    return -F.logsigmoid(r_rejected - r_chosen).mean()


@wrong("reward_model_loss", "log of sigmoid: inf for a margin of -200 in float32")
def reward_model_loss_naive(r_chosen, r_rejected):
    return -torch.log(torch.sigmoid(r_chosen - r_rejected)).mean()


@wrong("reward_model_loss", "sum over pairs instead of the mean")
def reward_model_loss_sum(r_chosen, r_rejected):
    return -F.logsigmoid(r_chosen - r_rejected).sum()


@wrong("reward_model_loss", "computes in float32 whatever the inputs' dtype")
def reward_model_loss_float32(r_chosen, r_rejected):
    return -F.logsigmoid((r_chosen - r_rejected).float()).mean()


@wrong("reward_model_loss", "minimises -sigmoid(margin) instead of -log sigmoid(margin)")
def reward_model_loss_sigmoid(r_chosen, r_rejected):
    return -torch.sigmoid(r_chosen - r_rejected).mean()


# --- Exercise 6: kl_penalised_rewards -----------------------------------------------------------


@wrong("kl_penalised_rewards", "the score goes to the first token")
def kl_penalised_rewards_first(rewards, logp_policy, logp_ref, beta):
    out = -beta * (logp_policy - logp_ref)
    out[:, 0] += rewards
    return out


@wrong("kl_penalised_rewards", "the KL penalty with the wrong sign (a bonus for moving away)")
def kl_penalised_rewards_sign(rewards, logp_policy, logp_ref, beta):
    out = beta * (logp_policy - logp_ref)
    out[:, -1] += rewards
    return out


@wrong("kl_penalised_rewards", "the score added at every token")
def kl_penalised_rewards_every_token(rewards, logp_policy, logp_ref, beta):
    return -beta * (logp_policy - logp_ref) + rewards[:, None]


@wrong("kl_penalised_rewards", "the whole sequence's KL charged at the last token only")
def kl_penalised_rewards_sequence_kl(rewards, logp_policy, logp_ref, beta):
    out = torch.zeros_like(logp_policy)
    out[:, -1] = rewards - beta * (logp_policy - logp_ref).sum(-1)
    return out


@wrong("kl_penalised_rewards", "computes in place, overwriting logp_policy")
def kl_penalised_rewards_in_place(rewards, logp_policy, logp_ref, beta):
    out = logp_policy.sub_(logp_ref).mul_(-beta)
    out[:, -1] += rewards
    return out


# --- Exercise 7: gae ----------------------------------------------------------------------------


@wrong("gae", "bootstraps the last step from values[:, -1] instead of 0 (the episode has ended)")
def gae_bootstrap_last_value(rewards, values, gamma, lam):
    T = rewards.shape[1]
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(T)):
        next_value = values[:, t + 1] if t < T - 1 else values[:, -1]
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + gamma * lam * last
        advantages[:, t] = last
    return advantages, advantages + values


@wrong("gae", "next values by torch.roll: the last step bootstraps from V(s_0)")
def gae_roll(rewards, values, gamma, lam):
    T = rewards.shape[1]
    deltas = rewards + gamma * torch.roll(values, -1, dims=1) - values
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(T)):
        last = deltas[:, t] + gamma * lam * last
        advantages[:, t] = last
    return advantages, advantages + values


@wrong("gae", "lambda without gamma in the recursion")
def gae_no_gamma_in_recursion(rewards, values, gamma, lam):
    T = rewards.shape[1]
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(T)):
        next_value = values[:, t + 1] if t < T - 1 else torch.zeros_like(values[:, 0])
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + lam * last
        advantages[:, t] = last
    return advantages, advantages + values


@wrong("gae", "returns = advantages (values not added back)")
def gae_returns_without_values(rewards, values, gamma, lam):
    T = rewards.shape[1]
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(T)):
        next_value = values[:, t + 1] if t < T - 1 else torch.zeros_like(values[:, 0])
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + gamma * lam * last
        advantages[:, t] = last
    return advantages, advantages.clone()


@wrong("gae", "runs the recursion forwards in time")
def gae_forwards(rewards, values, gamma, lam):
    T = rewards.shape[1]
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])
    for t in range(T):
        next_value = values[:, t + 1] if t < T - 1 else torch.zeros_like(values[:, 0])
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + gamma * lam * last
        advantages[:, t] = last
    return advantages, advantages + values


@wrong("gae", "TD error without the discount on the next value")
def gae_undiscounted_delta(rewards, values, gamma, lam):
    T = rewards.shape[1]
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(T)):
        next_value = values[:, t + 1] if t < T - 1 else torch.zeros_like(values[:, 0])
        delta = rewards[:, t] + next_value - values[:, t]
        last = delta + gamma * lam * last
        advantages[:, t] = last
    return advantages, advantages + values


# --- Exercise 8: ppo_clip_objective -------------------------------------------------------------


@wrong("ppo_clip_objective", "the clipped term only, without the min with the unclipped one")
def ppo_clip_objective_no_min(logp_new, logp_old, advantages, clip_eps):
    ratio = torch.exp(logp_new - logp_old)
    return (torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * advantages).mean()


@wrong("ppo_clip_objective", "max instead of min (an optimistic bound)")
def ppo_clip_objective_max(logp_new, logp_old, advantages, clip_eps):
    ratio = torch.exp(logp_new - logp_old)
    return torch.max(ratio * advantages, torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * advantages).mean()


@wrong("ppo_clip_objective", "no clipping at all (the plain importance-weighted objective)")
def ppo_clip_objective_unclipped(logp_new, logp_old, advantages, clip_eps):
    return (torch.exp(logp_new - logp_old) * advantages).mean()


@wrong("ppo_clip_objective", "clips the ratio only from above (torch.clamp(ratio, max=1 + eps))")
def ppo_clip_objective_upper_only(logp_new, logp_old, advantages, clip_eps):
    ratio = torch.exp(logp_new - logp_old)
    return torch.min(ratio * advantages, torch.clamp(ratio, max=1 + clip_eps) * advantages).mean()


@wrong("ppo_clip_objective", "ratio of log-probabilities instead of probabilities")
def ppo_clip_objective_log_ratio(logp_new, logp_old, advantages, clip_eps):
    ratio = logp_new / logp_old
    return torch.min(ratio * advantages, torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * advantages).mean()


@wrong("ppo_clip_objective", "ratio inverted: exp(logp_old - logp_new)")
def ppo_clip_objective_inverted(logp_new, logp_old, advantages, clip_eps):
    ratio = torch.exp(logp_old - logp_new)
    return torch.min(ratio * advantages, torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * advantages).mean()


@wrong("ppo_clip_objective", "sum instead of the mean")
def ppo_clip_objective_sum(logp_new, logp_old, advantages, clip_eps):
    ratio = torch.exp(logp_new - logp_old)
    return torch.min(ratio * advantages, torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * advantages).sum()


# --- Exercise 9: dpo_loss -----------------------------------------------------------------------


@wrong("dpo_loss", "chosen and rejected swapped")
def dpo_loss_swapped(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    chosen_logratio = pi_chosen - ref_chosen
    rejected_logratio = pi_rejected - ref_rejected
    loss = -F.logsigmoid(beta * (rejected_logratio - chosen_logratio)).mean()
    return loss, (beta * chosen_logratio).detach(), (beta * rejected_logratio).detach()


@wrong("dpo_loss", "beta outside the log-sigmoid")
def dpo_loss_beta_outside(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    chosen_logratio = pi_chosen - ref_chosen
    rejected_logratio = pi_rejected - ref_rejected
    loss = -beta * F.logsigmoid(chosen_logratio - rejected_logratio).mean()
    return loss, (beta * chosen_logratio).detach(), (beta * rejected_logratio).detach()


@wrong("dpo_loss", "the implicit rewards are not detached")
def dpo_loss_not_detached(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    chosen_logratio = pi_chosen - ref_chosen
    rejected_logratio = pi_rejected - ref_rejected
    loss = -F.logsigmoid(beta * (chosen_logratio - rejected_logratio)).mean()
    return loss, beta * chosen_logratio, beta * rejected_logratio


@wrong("dpo_loss", "log of sigmoid: inf for a margin of -200 in float32")
def dpo_loss_naive(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    chosen_logratio = pi_chosen - ref_chosen
    rejected_logratio = pi_rejected - ref_rejected
    loss = -torch.log(torch.sigmoid(beta * (chosen_logratio - rejected_logratio))).mean()
    return loss, (beta * chosen_logratio).detach(), (beta * rejected_logratio).detach()


@wrong("dpo_loss", "log-ratios the wrong way round (reference minus policy)")
def dpo_loss_reversed_ratio(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    chosen_logratio = ref_chosen - pi_chosen
    rejected_logratio = ref_rejected - pi_rejected
    loss = -F.logsigmoid(beta * (chosen_logratio - rejected_logratio)).mean()
    return loss, (beta * chosen_logratio).detach(), (beta * rejected_logratio).detach()


@wrong("dpo_loss", "rewards without beta")
def dpo_loss_rewards_without_beta(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    chosen_logratio = pi_chosen - ref_chosen
    rejected_logratio = pi_rejected - ref_rejected
    loss = -F.logsigmoid(beta * (chosen_logratio - rejected_logratio)).mean()
    return loss, chosen_logratio.detach(), rejected_logratio.detach()


@wrong("dpo_loss", "sum over pairs instead of the mean")
def dpo_loss_sum(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta):
    chosen_logratio = pi_chosen - ref_chosen
    rejected_logratio = pi_rejected - ref_rejected
    loss = -F.logsigmoid(beta * (chosen_logratio - rejected_logratio)).sum()
    return loss, (beta * chosen_logratio).detach(), (beta * rejected_logratio).detach()


# --- Concept checks of Section 7 ----------------------------------------------------------------

answer("beta_kls", "kl_the_wrong_way", "computes KL(pi_ref || pi*) instead of KL(pi* || pi_ref)",
       "[float((TOY_REF * (TOY_REF / (TOY_REF * torch.exp(TOY_REWARD / b) / "
       "(TOY_REF * torch.exp(TOY_REWARD / b)).sum())).log()).sum()) for b in TOY_BETAS]")
answer("beta_kls", "reward_times_beta", "puts beta in the numerator: pi_ref * exp(beta * r)",
       "[float(((TOY_REF * torch.exp(b * TOY_REWARD)) / (TOY_REF * torch.exp(b * TOY_REWARD)).sum() * "
       "((TOY_REF * torch.exp(b * TOY_REWARD)) / (TOY_REF * torch.exp(b * TOY_REWARD)).sum() / TOY_REF).log()).sum()) "
       "for b in TOY_BETAS]")
answer("beta_kls", "unnormalised", "forgets the normaliser Z",
       "[float((TOY_REF * torch.exp(TOY_REWARD / b) * torch.exp(TOY_REWARD / b).log()).sum()) for b in TOY_BETAS]")

answer("kl_penalty_reason", "momentum", "thinks the penalty speeds up PPO", '"A"')
answer("kl_penalty_reason", "normalisation", "thinks the penalty normalises the scores", '"B"')
answer("kl_penalty_reason", "perfect_rm", "thinks the penalty matters only for a perfect reward model", '"C"')

answer("onerec_pairs", "notes_first_statement", "the notes' first statement: DPO trains with a reward model", '"B"')
answer("onerec_pairs", "no_reference", "thinks the reward model replaces the reference", '"C"')
answer("onerec_pairs", "ppo", "thinks OneRec uses PPO", '"D"')

answer("regime_data", "rlhf_dpo_swapped", "swaps the data of RLHF and DPO",
       '{"CPT": "C", "SFT": "A", "RLHF": "D", "DPO": "B"}\ndpo_needs = {"reference_model", "preference_pairs"}')
answer("regime_data", "dpo_needs_reward_model", "the notes' first statement: DPO needs a reward model",
       '{"CPT": "C", "SFT": "A", "RLHF": "B", "DPO": "D"}\n'
       'dpo_needs = {"reward_model", "reference_model", "preference_pairs"}')
answer("regime_data", "dpo_samples", "thinks DPO samples from the policy while training",
       '{"CPT": "C", "SFT": "A", "RLHF": "B", "DPO": "D"}\n'
       'dpo_needs = {"reference_model", "preference_pairs", "policy_samples"}')

answer("llm_rec_kind", "reranking_view", "calls generation enhanced",
       '{"item_text_embeddings": "enhanced", "generate_items": "enhanced", "fill_attributes": "enhanced", '
       '"conversation": "centric"}')
answer("llm_rec_kind", "all_centric", "thinks any use of an LLM makes it LLM-centric",
       '{"item_text_embeddings": "centric", "generate_items": "centric", "fill_attributes": "centric", '
       '"conversation": "centric"}')

answer("pretraining_targets", "no_shift", "takes the whole sequence as its own targets (no shift by one)",
       'corpus[0].clone()\npretraining_teaches = {"next_tokens"}')
answer("pretraining_targets", "inputs_as_targets", "takes the inputs (all but the last token) as the targets",
       'corpus[0, :-1].clone()\npretraining_teaches = {"next_tokens"}')
answer("pretraining_targets", "format_from_pretraining", "thinks pre-training also teaches the prompt format",
       'corpus[0, 1:].clone()\npretraining_teaches = {"next_tokens", "demonstrations"}')

# --- Exercise 10: MoELoRALinear -----------------------------------------------------------------


@helper
def _moe_setup(module, base, n_experts, r, alpha, rank=None, a_init="uniform", scaling=None):
    """MoELoRALinear's __init__ with switches for one bug each (the classes below use it)."""
    module.base = base
    for p in base.parameters():
        p.requires_grad_(False)
    rank = r // n_experts if rank is None else rank
    A = torch.empty(n_experts, rank, base.in_features, dtype=base.weight.dtype)
    if a_init == "uniform":
        A.uniform_(-1 / math.sqrt(base.in_features), 1 / math.sqrt(base.in_features))
    else:
        nn.init.kaiming_uniform_(A, a=math.sqrt(5))
    module.lora_A = nn.Parameter(A)
    module.lora_B = nn.Parameter(torch.zeros(n_experts, base.out_features, rank, dtype=base.weight.dtype))
    module.gate = nn.Linear(base.in_features, n_experts, dtype=base.weight.dtype)
    module.scaling = alpha / r if scaling is None else scaling
    module.last_gate = None


@helper
def _moe_forward(module, x, gate):
    module.last_gate = gate.detach()
    low = torch.einsum("...i,kri->...kr", x, module.lora_A) * gate[..., :, None]
    return module.base(x) + module.scaling * torch.einsum("...kr,kor->...o", low, module.lora_B)


@wrong("MoELoRALinear", "every expert gets the full rank r")
class MoELoRALinearFullRank(nn.Module):
    def __init__(self, base, n_experts, r, alpha):
        super().__init__()
        _moe_setup(self, base, n_experts, r, alpha, rank=r)

    def forward(self, x, gate_input=None):
        return _moe_forward(self, x, torch.softmax(self.gate(x if gate_input is None else gate_input), dim=-1))


@wrong("MoELoRALinear", "kaiming_uniform_ on the whole 3-D tensor (fan-in r_e * d_in: A far too small)")
class MoELoRALinearKaiming3D(nn.Module):
    def __init__(self, base, n_experts, r, alpha):
        super().__init__()
        _moe_setup(self, base, n_experts, r, alpha, a_init="kaiming_3d")

    def forward(self, x, gate_input=None):
        return _moe_forward(self, x, torch.softmax(self.gate(x if gate_input is None else gate_input), dim=-1))


@wrong("MoELoRALinear", "the gate always reads x, ignoring gate_input")
class MoELoRALinearIgnoresGateInput(nn.Module):
    def __init__(self, base, n_experts, r, alpha):
        super().__init__()
        _moe_setup(self, base, n_experts, r, alpha)

    def forward(self, x, gate_input=None):
        return _moe_forward(self, x, torch.softmax(self.gate(x), dim=-1))


@wrong("MoELoRALinear", "no gate: the experts are averaged with equal weights")
class MoELoRALinearUniform(nn.Module):
    def __init__(self, base, n_experts, r, alpha):
        super().__init__()
        _moe_setup(self, base, n_experts, r, alpha)

    def forward(self, x, gate_input=None):
        n_experts = self.lora_A.shape[0]
        return _moe_forward(self, x, torch.full((*x.shape[:-1], n_experts), 1.0 / n_experts, dtype=x.dtype))


@wrong("MoELoRALinear", "softmax over the batch axis instead of the experts")
class MoELoRALinearSoftmaxAxis(nn.Module):
    def __init__(self, base, n_experts, r, alpha):
        super().__init__()
        _moe_setup(self, base, n_experts, r, alpha)

    def forward(self, x, gate_input=None):
        return _moe_forward(self, x, torch.softmax(self.gate(x if gate_input is None else gate_input), dim=0))


@wrong("MoELoRALinear", "scaling alpha / r_e with the per-expert rank")
class MoELoRALinearExpertScaling(nn.Module):
    def __init__(self, base, n_experts, r, alpha):
        super().__init__()
        _moe_setup(self, base, n_experts, r, alpha, scaling=alpha / (r // n_experts))

    def forward(self, x, gate_input=None):
        return _moe_forward(self, x, torch.softmax(self.gate(x if gate_input is None else gate_input), dim=-1))


@wrong("MoELoRALinear", "last_gate stored without detach (it keeps the graph)")
class MoELoRALinearAttachedGate(nn.Module):
    def __init__(self, base, n_experts, r, alpha):
        super().__init__()
        _moe_setup(self, base, n_experts, r, alpha)

    def forward(self, x, gate_input=None):
        gate = torch.softmax(self.gate(x if gate_input is None else gate_input), dim=-1)
        out = _moe_forward(self, x, gate)
        self.last_gate = gate
        return out


@wrong("MoELoRALinear", "one A drawn once and copied into every expert")
class MoELoRALinearCopiedA(nn.Module):
    def __init__(self, base, n_experts, r, alpha):
        super().__init__()
        _moe_setup(self, base, n_experts, r, alpha)
        with torch.no_grad():
            self.lora_A.copy_(self.lora_A[:1].expand_as(self.lora_A))

    def forward(self, x, gate_input=None):
        return _moe_forward(self, x, torch.softmax(self.gate(x if gate_input is None else gate_input), dim=-1))


# --- Capstone (at most three pipelines here; more in tools/capstone_pipelines/07_alignment.py) ---------------


@wrong("capstone_train", "returns the SFT policy untrained [max tier 0]")
def capstone_train_untrained(train, time_budget_s):
    return train.sft_policy


@wrong("capstone_train", "no training: the SFT policy sampled at temperature 0.5 [max tier 1]")
def capstone_train_temperature(train, time_budget_s):
    class Tempered(nn.Module):
        def __init__(self, policy):
            super().__init__()
            self.policy = policy

        def forward(self, ids):
            return self.policy(ids) / 0.5

    return Tempered(train.sft_policy)


@wrong("capstone_train", "DPO with chosen and rejected swapped [max tier 0]")
def capstone_train_swapped(train, time_budget_s):
    import copy

    n_prompt, beta = train.prompt_len, 0.5

    def slate_logprob(model, ids):
        log_probs = torch.log_softmax(model(ids)[:, n_prompt - 1:-1], dim=-1)
        return log_probs.gather(-1, ids[:, n_prompt:, None]).squeeze(-1).sum(-1)

    good, bad = train.rejected, train.chosen  # the mistake
    with torch.no_grad():
        ref_good, ref_bad = slate_logprob(train.sft_policy, good), slate_logprob(train.sft_policy, bad)
    policy = copy.deepcopy(train.sft_policy).requires_grad_(True)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-3, weight_decay=0.0)
    order = torch.Generator().manual_seed(0)
    for _ in range(150):
        rows = torch.randint(len(good), (64,), generator=order)
        logps = slate_logprob(policy, torch.cat([good[rows], bad[rows]]))
        margin = (logps[:64] - ref_good[rows]) - (logps[64:] - ref_bad[rows])
        loss = -F.logsigmoid(beta * margin).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return policy.requires_grad_(False)
