"""Machine learning and recommender systems: an autograded notebook course.

The package holds what the notebooks and the grading pipeline share:

- ``course.data``      deterministic synthetic data sets,
- ``course.plotting``  small matplotlib helpers,
- ``course.bench``     best-of-n timing and largest-tensor counts for the notebooks' comparisons,
- ``course.lm``        the tiny causal language model that 07_alignment fine-tunes and aligns,
- ``course.checks``    the assertion helpers that test cells call,
- ``course.capstone``  the capstones' harness: the student's pipeline scored in tiers on an unseen split,
- ``course.grading``   hardened grading for nbgrader: contained kernels, resilient execution,
                       integrity check, feedback without hidden tests, parallel autograde,
- ``course.pipeline``  thin wrappers around the nbgrader command line,
- ``python -m course`` the command line (release, demo, autograde, prepare, check, start, unflag, timing).
"""

from pathlib import Path

__version__ = "0.1.0"

# Assignment names are fixed by the course design; a chapter exists once its source notebook does.
CHAPTERS = (
    "01_fundamentals",
    "02_trees",
    "03_transformers",
    "04_recsys_models",
    "05_recsys_retrieval",
    "06_generative_rec",
    "07_alignment",
)

ROOT = Path(__file__).resolve().parent.parent


def available_chapters(root: Path = ROOT) -> list[str]:
    """Chapters whose source notebook exists under ``root/source``, in course order."""
    return [ch for ch in CHAPTERS if (root / "source" / ch / f"{ch}.ipynb").exists()]
