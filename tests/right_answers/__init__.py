"""Catalogues of independently written correct answers, one module per chapter (``<chapter>.py``).

Every entry must keep full marks: all test cells of its exercise (visible and hidden) and every
other test cell it could affect pass. Write them from the task text, not by editing the reference:
another order or kind of random draws, an equivalent formula, float32 instead of float64, loops
instead of vectorised code, another tie-safe sort, another initialisation order of an ``nn.Module``.

    @right("dropout", "one uniform draw per element compared with p (not bernoulli)")
    def dropout_uniform(x, p, training, generator=None):
        ...

Exercises whose correct answers can differ (randomness, a tie rule, sorting, an ``nn.Module``) need
at least one entry; a module may exempt an exercise with a reason in ``EXEMPT = {name: reason}``
(e.g. a concept question with a single right letter).
"""

from tests.catalogue import answer, helper  # noqa: F401 - the catalogues import them from here
from tests.catalogue import entry as right  # noqa: F401
from tests.catalogue import load as _load


def load(chapter):
    """The right answers of ``chapter`` and its ``EXEMPT`` dict (empty if it has no catalogue yet)."""
    entries, module = _load("right_answers", chapter)
    return entries, dict(getattr(module, "EXEMPT", {}))
