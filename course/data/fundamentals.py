"""Data for 01_fundamentals."""

import numpy as np
import torch

from course.data.common import rng, torch_generator


def feature_batches(n_batches, batch_size, means, stds, seed=0, dtype=torch.float32):
    """``n_batches`` tensors of shape (batch_size, C) drawn from N(means, stds²) per channel.

    A stand-in for the activations a BatchNorm layer sees during training: a stream of small
    batches from one fixed distribution whose true mean and variance are known.
    """
    means = torch.as_tensor(means, dtype=dtype)
    stds = torch.as_tensor(stds, dtype=dtype)
    generator = torch_generator(seed)
    return [
        means + stds * torch.randn(batch_size, len(means), generator=generator, dtype=dtype)
        for _ in range(n_batches)
    ]


def imbalanced_scores(n=4000, positive_rate=0.05, separation=1.5, seed=0):
    """Scores of a classifier on an imbalanced binary problem with a planted truth.

    Labels are Bernoulli(``positive_rate``); a latent score is N(0, 1) for negatives and
    N(``separation``, 1) for positives, squashed into (0, 1) by a sigmoid centred half way between the
    two classes' means, so that every threshold in (0, 1) is a sensible operating point. Returns
    ``(scores, labels)``: float64 and int64 numpy arrays of shape (n,).
    """
    generator = rng(seed)
    labels = (generator.random(n) < positive_rate).astype(np.int64)
    latent = generator.normal(size=n) + separation * labels
    return 1 / (1 + np.exp(-(latent - separation / 2))), labels


def imbalanced_blobs(n_majority=600, n_minority=40, d=2, seed=0):
    """A planted two-class data set with a rare class that overlaps the common one at its border.

    The majority class is N(0, I); the minority class is a tighter Gaussian blob centred at distance 2
    from it along the first axis, so part of it lies in the majority's region (the "danger" zone that
    Borderline-SMOTE targets) and a few minority points sit deep inside it (noise). Returns ``(X, y)``:
    float64 (n, d) and int64 (n,) with label 1 for the minority class, rows shuffled.
    """
    generator = rng(seed)
    majority = generator.normal(size=(n_majority, d))
    centre = np.zeros(d)
    centre[0] = 2.0
    minority = centre + 0.8 * generator.normal(size=(n_minority, d))
    X = np.concatenate([majority, minority])
    y = np.concatenate([np.zeros(n_majority, dtype=np.int64), np.ones(n_minority, dtype=np.int64)])
    order = generator.permutation(len(y))
    return X[order], y[order]


def rings_classification(n, n_noise=8, label_noise=0.05, seed=0):
    """The 01 capstone's planted non-linear classification problem (three classes).

    The first two features place a point on one of three interleaved spiral arms (class = arm), with
    Gaussian jitter; ``n_noise`` further features are pure N(0, 1) noise that a model must learn to
    ignore; a share ``label_noise`` of the labels is replaced by a uniformly random class. No linear
    model can separate the arms. Returns ``(X, y)``: float32 (n, 2 + n_noise) and int64 (n,).
    """
    generator = rng(seed)
    y = generator.integers(0, 3, size=n)
    t = np.sqrt(generator.random(n)) * 2 * np.pi  # one full turn; uniform density over the disc
    angle = t + y * 2 * np.pi / 3
    radius = t / np.pi
    signal = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    signal += 0.08 * generator.normal(size=signal.shape)
    X = np.concatenate([signal, generator.normal(size=(n, n_noise))], axis=1).astype(np.float32)
    flip = generator.random(n) < label_noise
    y = np.where(flip, generator.integers(0, 3, size=n), y).astype(np.int64)
    return X, y
