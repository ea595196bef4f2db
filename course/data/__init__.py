"""Deterministic synthetic data for the notebooks and tests.

Every function takes a ``seed`` and returns the same data for the same arguments on every
machine, so figures, numbers in the text and tests agree run to run.

The data sets live in one module per chapter; everything is importable from ``course.data``:

- ``common``        ``rng``, ``torch_generator``, ``float32_exact``
- ``fundamentals``  ``feature_batches``, ``imbalanced_scores``, ``imbalanced_blobs``, ``rings_classification`` (01)
- ``sequences``     ``digit_reversal``, ``digit_sorting``, ``next_item_sessions`` (03)
- ``clicks``        ``click_log`` (04)
- ``interactions``  ``interaction_log`` (05, 06, 07): users, items and their interactions with a planted truth
- ``alignment``     ``slate_task`` (07): slate recommendation as a language-modelling task with a known reward
"""

from course.data.alignment import SlateTask, slate_task
from course.data.clicks import CLICK_LOG_FIELDS, click_log
from course.data.common import float32_exact, rng, torch_generator
from course.data.fundamentals import feature_batches, imbalanced_blobs, imbalanced_scores, rings_classification
from course.data.interactions import InteractionLog, interaction_log
from course.data.sequences import PAD_DIGIT, digit_reversal, digit_sorting, next_item_sessions

__all__ = [
    "CLICK_LOG_FIELDS", "PAD_DIGIT", "InteractionLog", "SlateTask", "click_log", "digit_reversal", "digit_sorting",
    "feature_batches", "float32_exact", "imbalanced_blobs", "imbalanced_scores", "interaction_log",
    "next_item_sessions", "rings_classification", "rng", "slate_task", "torch_generator",
]
