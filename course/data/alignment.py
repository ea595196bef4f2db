"""Slate recommendation as a language-modelling task with a known reward (07_alignment).

The alignment chapter needs a task in which a language model writes a response, and a **true
reward** of every response can be computed, so that SFT, RLHF (reward model + PPO) and DPO can be
judged against the truth. It is built on the interaction log of ``interaction_log()``:

* **Tokens.** ``PAD = 0``, ``BOS = 1``, ``SEP = 2``, and one token per item category:
  category ``c`` is token ``c + N_SPECIAL``.
* **Prompt.** ``[BOS, c_1, ..., c_H, SEP]``: the categories of a user's last ``history_len``
  training-period events, oldest first.
* **Response.** A *slate* (推荐列表) of ``slate_len`` category tokens: what to show the user next.
* **True reward** (the hidden preference). The user's planted next-item distribution
  (``InteractionLog.true_item_probs``) gives ``relevance[u, c]``, the probability that the user's
  next item is in category ``c``. Slot ``k`` of a slate showing category ``c`` for the ``m``-th time
  (``m = 1, 2, ...``) is worth ``relevance[u, c] * decay ** (m - 1)``: repeating a category has
  diminishing returns (边际收益递减), so a good slate covers the user's interests in proportion to
  their strength. A slot holding a special token is worth 0. The reward is the slate's value divided
  by the value of the best slate for that user, so it lies in ``[0, 1]`` and equals 1 for the best
  slate.
* **Simulated annotators** compare two slates for a user with the Bradley–Terry model of the true
  rewards: ``P(a preferred) = sigmoid((R_a - R_b) / temperature)``.

``slate_task(log)`` returns a :class:`SlateTask` with these pieces and the data sets the chapter
trains on (a pretraining corpus of category sequences, SFT demonstrations, prompts).
"""

from dataclasses import dataclass

import numpy as np

from course.data.common import rng
from course.data.interactions import InteractionLog, interaction_log

PAD, BOS, SEP = 0, 1, 2
N_SPECIAL = 3


@dataclass(frozen=True, eq=False)
class SlateTask:
    """The slate task of ``slate_task()``; token ids are int64, rewards float64."""

    pad_id = PAD
    bos_id = BOS
    sep_id = SEP

    log: InteractionLog
    relevance: np.ndarray  # (n_users, n_categories) P(next item in category c), rows sum to 1
    histories: list  # per user: categories of the training-period events, in time order
    history_len: int
    slate_len: int
    decay: float

    @property
    def n_categories(self):
        return self.relevance.shape[1]

    @property
    def vocab_size(self):
        return N_SPECIAL + self.n_categories

    @property
    def prompt_len(self):
        return self.history_len + 2

    @property
    def seq_len(self):
        """Length of a prompt followed by a slate."""
        return self.prompt_len + self.slate_len

    def token_names(self):
        """The name of every token id: ``<pad>``, ``<bos>``, ``<sep>``, ``c0``, ``c1``, ..."""
        return ["<pad>", "<bos>", "<sep>"] + [f"c{c}" for c in range(self.n_categories)]

    def decode(self, tokens):
        """A readable string for a sequence of token ids."""
        names = self.token_names()
        return " ".join(names[int(t)] for t in tokens)

    def main_interest(self, prompts):
        """(N,) int64 token of the most frequent category among a prompt's history tokens (ties: the
        most recent of the tied categories): the label of the chapter's LoRA task."""
        labels = []
        for row in np.asarray(prompts):
            history = [int(t) for t in row if t >= N_SPECIAL]
            counts = {t: history.count(t) for t in history}
            best = max(counts.values())
            labels.append(next(t for t in reversed(history) if counts[t] == best))
        return np.array(labels, dtype=np.int64)

    def users_with_history(self):
        """The users with at least ``history_len`` training events (int64, increasing)."""
        return np.array([u for u, h in enumerate(self.histories) if len(h) >= self.history_len], dtype=np.int64)

    def prompts(self, users):
        """(len(users), prompt_len) int64: ``[BOS, last history_len categories as tokens, SEP]``."""
        rows = [[BOS, *(self.histories[u][-self.history_len:] + N_SPECIAL), SEP] for u in users]
        return np.array(rows, dtype=np.int64).reshape(len(rows), self.prompt_len)

    def demonstrations(self, users):
        """SFT demonstrations from the log: for every window of a user's training history,
        the prompt of ``history_len`` events and the categories of the next ``slate_len`` events.

        Returns ``(prompts, responses, owners)``: (n, prompt_len) and (n, slate_len) int64 tokens and
        the (n,) user of each example.
        """
        prompts, responses, owners = [], [], []
        H, L = self.history_len, self.slate_len
        for u in users:
            tokens = self.histories[u] + N_SPECIAL
            for start in range(H, len(tokens) - L + 1):
                prompts.append([BOS, *tokens[start - H:start], SEP])
                responses.append(tokens[start:start + L])
                owners.append(u)
        return (np.array(prompts, dtype=np.int64).reshape(-1, H + 2),
                np.array(responses, dtype=np.int64).reshape(-1, L), np.array(owners, dtype=np.int64))

    def pretraining_corpus(self, seq_len=None, stride=3):
        """(n, seq_len) int64 windows ``[BOS, c_1, ..., c_{seq_len - 1}]`` of every user's training
        history (category tokens), taken every ``stride`` events: plain behaviour sequences, no SEP."""
        seq_len = seq_len or self.seq_len
        windows = []
        for history in self.histories:
            tokens = history + N_SPECIAL
            for start in range(0, len(tokens) - (seq_len - 1) + 1, stride):
                windows.append([BOS, *tokens[start:start + seq_len - 1]])
        return np.array(windows, dtype=np.int64).reshape(-1, seq_len)

    def best_value(self, users):
        """(len(users),) value of the best slate (the normaliser of ``true_reward``)."""
        slot_values = self.relevance[np.asarray(users)][:, :, None] * self.decay ** np.arange(self.slate_len)
        flat = slot_values.reshape(len(users), -1)
        return -np.sort(-flat, axis=1)[:, :self.slate_len].sum(axis=1)

    def best_slates(self, users):
        """(len(users), slate_len) int64 tokens of a best slate (greedy: the slot values decrease)."""
        slot_values = self.relevance[np.asarray(users)][:, :, None] * self.decay ** np.arange(self.slate_len)
        flat = slot_values.reshape(len(users), -1)
        top = np.argsort(-flat, axis=1, kind="stable")[:, :self.slate_len] // self.slate_len
        return (top + N_SPECIAL).astype(np.int64)

    def true_reward(self, users, slates):
        """(N,) float64 true reward in [0, 1] of slate ``slates[n]`` (tokens, (N, slate_len)) for user
        ``users[n]``: the diminishing-returns value of the slate over the value of the best slate."""
        users = np.asarray(users)
        categories = np.asarray(slates) - N_SPECIAL
        n = categories.shape[0]
        valid = (categories >= 0) & (categories < self.n_categories)
        categories = np.where(valid, categories, 0)
        rows = np.arange(n)
        shown = np.zeros((n, self.n_categories))
        value = np.zeros(n)
        for k in range(categories.shape[1]):
            c = categories[:, k]
            value += np.where(valid[:, k], self.relevance[users, c] * self.decay ** shown[rows, c], 0.0)
            shown[rows, c] += valid[:, k]
        return value / self.best_value(users)

    def simulated_preferences(self, users, slates_a, slates_b, temperature=0.05, seed=0):
        """(N,) bool: does a simulated annotator prefer slate a to slate b? Drawn independently with
        ``P(a) = sigmoid((R_a - R_b) / temperature)`` (Bradley–Terry on the true rewards)."""
        margin = self.true_reward(users, slates_a) - self.true_reward(users, slates_b)
        p_a = 1.0 / (1.0 + np.exp(-margin / temperature))
        return rng(seed).random(margin.shape[0]) < p_a


def slate_task(log=None, history_len=6, slate_len=4, decay=0.5):
    """The slate task on ``log`` (default: ``interaction_log()``); see the module docstring."""
    log = interaction_log() if log is None else log
    probs = log.true_item_probs()
    relevance = np.stack([probs[:, log.item_category == c].sum(axis=1) for c in range(log.n_categories)], axis=1)
    histories = [log.item_category[items] for items in log.user_histories(log.train)]
    return SlateTask(log=log, relevance=relevance, histories=histories, history_len=int(history_len),
                     slate_len=int(slate_len), decay=float(decay))
