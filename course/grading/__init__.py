"""Hardened grading: the pieces ``nbgrader_config.py`` puts into nbgrader's own pipelines.

The protection holds for plain ``nbgrader autograde``, the formgrader and ``python -m course``
alike, because all three read the course's ``nbgrader_config.py``:

- ``preprocessors``  autograde steps: locked cells restored (``OverwriteCells``), resilient
  execution in a contained kernel (``Execute``), the integrity check (``IntegrityCheck``);
- ``sandbox``        the contained kernel: memory, process, file, network and time limits
                     (``cgroups`` per kernel, ``launch.py`` starts it);
- ``feedback``       what students get back never shows the hidden tests' code, and reads well;
- ``parallel``       ``python -m course autograde``: a class graded concurrently.
"""

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import GetGrades

from course.grading.feedback import FeedbackExporter, HideHiddenTests, ReadableFeedback
from course.grading.formgrader import quiet_dialogs as quiet_formgrader_dialogs
from course.grading.preprocessors import (
    AUTOGRADE_PREPROCESSORS,
    CLEARED_MARKER,
    FLAG_MARKER,
    SANITIZE_PREPROCESSORS,
    Execute,
    IntegrityCheck,
    OverwriteCells,
    unflag,
)

# nbgrader generate_feedback: its defaults, then the hidden tests taken out, then the page made readable
# (message first, index by exercise, MathML); FeedbackExporter finishes the page.
FEEDBACK_PREPROCESSORS = [GetGrades, HideHiddenTests, ReadableFeedback, CSSHTMLHeaderPreprocessor]

__all__ = [
    "AUTOGRADE_PREPROCESSORS", "CLEARED_MARKER", "FEEDBACK_PREPROCESSORS", "FLAG_MARKER",
    "SANITIZE_PREPROCESSORS", "Execute", "FeedbackExporter", "HideHiddenTests", "ReadableFeedback",
    "IntegrityCheck", "OverwriteCells", "quiet_formgrader_dialogs", "unflag",
]
