"""Tabular data for chapter 02 (trees): why LR wants binned features, and the capstone's loan book.

Both are planted: the label is drawn from a known logistic model, so what helps (bins, crosses,
categorical handling, missing-value indicators) is known in advance and the experiments can show it.
"""

import numpy as np

from course.data.common import rng

BINNING_CASES = ("u_shaped", "outliers", "linear", "interaction")
SENTINEL_AGE = 999.0  # how the "outliers" case records an unknown age (a placeholder value, not a real age)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def lr_binning_case(case, seed=0, n=4000):
    """One of four two-feature binary tasks for logistic regression on raw vs binned features.

    Feature 0 is an age-like value in [18, 80], feature 1 a standard normal score. The log-odds are

    * ``"u_shaped"``: ``1.5 ((age - 49) / 15)^2 - 1.2 + 0.8 score`` (risk high at both ends: not monotone);
    * ``"outliers"``: ``(age - 49) / 12 + 0.8 score``, but 2 % of the ages (train and test) are recorded as
      the placeholder 999 (the label still follows the true age);
    * ``"linear"``: ``(age - 49) / 12 + 0.8 score`` with clean ages;
    * ``"interaction"``: ``2.5 sign(age - 49) sign(score)`` (an XOR: neither feature matters alone).

    Returns ``(X_train, y_train, X_test, y_test)``: float arrays ``(n // 2, 2)``, int labels ``(n // 2,)``.
    """
    if case not in BINNING_CASES:
        raise ValueError(f"case must be one of {BINNING_CASES}, got {case!r}")
    g = rng(seed)
    age, score = g.uniform(18, 80, size=n), g.normal(size=n)
    if case == "u_shaped":
        logit = 1.5 * ((age - 49) / 15) ** 2 - 1.2 + 0.8 * score
    elif case == "interaction":
        logit = 2.5 * np.sign(age - 49) * np.sign(score)
    else:
        logit = (age - 49) / 12 + 0.8 * score
    y = (g.uniform(size=n) < _sigmoid(logit)).astype(np.int64)
    X = np.column_stack([age, score])
    if case == "outliers":
        X[g.uniform(size=n) < 0.02, 0] = SENTINEL_AGE
    half = n // 2
    return X[:half], y[:half], X[half:], y[half:]


LOAN_NUMERIC = ("age", "income", "debt_ratio", "late_payments", "tenure_months", "utilisation",
                "noise_1", "noise_2", "noise_3", "noise_4")
LOAN_CATEGORICAL = ("region", "channel", "product")
LOAN_CATEGORIES = (200, 4, 6)  # number of levels of each categorical column


def loan_book(n, seed=0):
    """A planted credit-default table with missing values and categorical columns (the capstone of 02).

    Returns a dict with

    * ``"numeric"``: ``(n, 10)`` float array, ``np.nan`` where a value is missing (columns ``LOAN_NUMERIC``);
    * ``"categorical"``: ``(n, 3)`` int64 array of codes ``0 .. k - 1`` (``LOAN_CATEGORIES``), ``-1`` where missing;
    * ``"y"``: ``(n,)`` int64 labels, 1 = default (about 30 %);
    * ``"p"``: ``(n,)`` the planted default probability of every row (the oracle; never for the student).

    What drives the default (the truth the tiers are measured against): a U-shaped age effect, log income
    (missing more often for risky borrowers), a debt ratio that saturates (and a placeholder 99 for 1 % of
    rows), late payments, an interaction of the sales channel with tenure, utilisation above a threshold, a
    random effect per region (200 regions of Zipf-like sizes, codes in no meaningful order) and per product.
    The four noise columns carry nothing.
    """
    g = rng(seed)
    age = g.uniform(18, 80, size=n)
    income = np.exp(g.normal(10.3, 0.6, size=n))
    debt_ratio = g.gamma(2.0, 0.25, size=n)
    late = g.poisson(0.6, size=n).astype(float)
    tenure = g.uniform(0, 120, size=n)
    utilisation = g.beta(2, 3, size=n)
    noise = g.normal(size=(n, 4))
    region_sizes = 1 / np.arange(1, LOAN_CATEGORIES[0] + 1) ** 0.8
    region = g.choice(LOAN_CATEGORIES[0], size=n, p=region_sizes / region_sizes.sum())
    region = g.permutation(LOAN_CATEGORIES[0])[region]  # codes carry no order
    channel = g.integers(0, LOAN_CATEGORIES[1], size=n)
    product = g.integers(0, LOAN_CATEGORIES[2], size=n)
    # The planted effects of the categories come from a generator of their own: the same for every seed.
    effects = rng(20_260_001)
    region_effect = effects.normal(0, 1.0, size=LOAN_CATEGORIES[0])
    product_effect = effects.normal(0, 0.5, size=LOAN_CATEGORIES[2])
    channel_slope = np.array([-1.2, 0.0, 0.6, 1.4])  # the effect of tenure differs by channel

    logit = (-4.2 + 1.1 * ((age - 45) / 16) ** 2 - 0.9 * (np.log(income) - 10.3) / 0.6
             + 1.6 * np.tanh(1.5 * debt_ratio) + 0.7 * late
             + channel_slope[channel] * (tenure - 60) / 60 + 1.5 * (utilisation > 0.6)
             + region_effect[region] + product_effect[product])
    y = (g.uniform(size=n) < _sigmoid(logit)).astype(np.int64)

    numeric = np.column_stack([age, income, debt_ratio, late, tenure, utilisation, noise])
    risky = _sigmoid(logit)
    numeric[g.uniform(size=n) < 0.05, 0] = np.nan  # age: missing at random
    numeric[g.uniform(size=n) < 0.05 + 0.3 * risky, 1] = np.nan  # income: missing more often when risky
    numeric[g.uniform(size=n) < 0.01, 2] = 99.0  # debt ratio: a placeholder value
    numeric[g.uniform(size=n) < 0.10, 4] = np.nan  # tenure: missing at random
    noise_block = numeric[:, 6:]
    noise_block[g.uniform(size=(n, 4)) < 0.05] = np.nan
    categorical = np.column_stack([region, channel, product]).astype(np.int64)
    categorical[g.uniform(size=n) < 0.05, 0] = -1
    return {"numeric": numeric, "categorical": categorical, "y": y, "p": risky}
