"""More wrong capstone pipelines for 02_trees (run by tools/capstone_tiers.py, not by make test)."""

import numpy as np

from tests.wrong_answers import wrong


@wrong("capstone_train", "tuned boosting that drops the categorical columns [max tier 2]")
def capstone_without_categories(train, time_budget_s):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline

    categorical = train["categorical"].astype(float)
    categorical[categorical < 0] = np.nan
    features = np.hstack([train["numeric"], categorical])
    keep = ColumnTransformer([("numbers", "passthrough", list(range(train["numeric"].shape[1])))])
    booster = HistGradientBoostingClassifier(learning_rate=0.05, max_iter=300, max_leaf_nodes=15, min_samples_leaf=40,
                                             l2_regularization=1.0, early_stopping=False, random_state=0)
    return make_pipeline(keep, booster).fit(features, train["y"])


@wrong("capstone_train", "a single deep decision tree [max tier 0]")
def capstone_single_tree(train, time_budget_s):
    from sklearn.tree import DecisionTreeClassifier

    categorical = train["categorical"].astype(float)
    categorical[categorical < 0] = np.nan
    return DecisionTreeClassifier(min_samples_leaf=20, random_state=0).fit(
        np.hstack([train["numeric"], categorical]), train["y"])
