"""Catalogues of plausible wrong answers, one module per chapter (``<chapter>.py``).

Every entry must fail its exercise's tests while every other test cell it could affect still
passes; see ``tests/catalogue.py`` for the decorators and ``tests/test_answer_catalogues.py``.

    @wrong("dropout", "survivors are not rescaled by 1/(1-p)")
    def dropout_without_rescale(x, p, training, generator=None):
        ...
"""

from tests.catalogue import Mutant, answer, helper  # noqa: F401 - the catalogues import them from here
from tests.catalogue import entry as wrong  # noqa: F401
from tests.catalogue import load as _load


def load(chapter):
    """The wrong answers of ``chapter`` (an empty list if it has no catalogue yet)."""
    return _load("wrong_answers", chapter)[0]
