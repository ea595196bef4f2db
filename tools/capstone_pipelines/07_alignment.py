"""More wrong capstone pipelines for 07_alignment (run by tools/capstone_tiers.py, not by make test)."""

import torch
import torch.nn.functional as F

from tests.wrong_answers import wrong


@wrong("capstone_train", "reward hacking: RLHF without a KL term (a Bradley-Terry reward model fitted on the pairs, "
                         "then 60 steps of REINFORCE on its standardised score with no KL penalty): over the KL budget "
                         "on most worlds [max tier 1]")
def capstone_train_no_kl(train, time_budget_s):
    import copy

    n_prompt = train.prompt_len
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    reward_model = RewardModel(copy.deepcopy(train.sft_policy).requires_grad_(True))  # noqa: F821 - Section 4's
    optimizer = torch.optim.Adam(reward_model.parameters(), lr=1e-3)
    for _ in range(100):
        rows = torch.randint(len(train.chosen), (128,), generator=g)
        loss = -F.logsigmoid(reward_model(train.chosen[rows]) - reward_model(train.rejected[rows])).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    reward_model.requires_grad_(False)
    policy = copy.deepcopy(train.sft_policy).requires_grad_(True)
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-3)
    for _ in range(60):
        prompts = train.prompts[torch.randint(len(train.prompts), (128,), generator=g)]
        with torch.no_grad():
            ids = sample(policy, prompts, train.slate_len, generator=g)  # noqa: F821 - course.lm.sample
            scores = reward_model(ids)
            advantages = (scores - scores.mean()) / (scores.std() + 1e-8)
        log_probs = torch.log_softmax(policy(ids)[:, n_prompt - 1:-1], dim=-1)
        slate_logp = log_probs.gather(-1, ids[:, n_prompt:, None]).squeeze(-1).sum(-1)
        loss = -(advantages * slate_logp).mean()  # the mistake: no KL penalty towards the SFT policy
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return policy.requires_grad_(False)
