# ruff: noqa: F821 - entries call the chapter's other functions, defined in the notebook they run in
"""Right answers for 02_trees (see tests/catalogue.py): each must keep full marks.

Written from the task text, not from the reference solution: brute-force scans instead of running sums, loops
instead of vectorised code, other tie-safe orderings (a heap, explicit strict comparisons), other library calls.
"""

import numpy as np
from sklearn.tree import DecisionTreeRegressor

from tests.right_answers import answer, helper, right

# --- Exercise 1: gini and entropy --------------------------------------------------------------------------------


@right("gini", "class counts from collections.Counter, Gini as sum p (1 - p)")
def gini_counter(y):
    from collections import Counter

    counts = np.array(list(Counter(np.asarray(y).tolist()).values()), dtype=float)
    p = counts / counts.sum()
    return float(np.sum(p * (1 - p)))


@right("entropy", "class counts from collections.Counter, natural log divided by log 2")
def entropy_counter(y):
    from collections import Counter

    counts = np.array(list(Counter(np.asarray(y).tolist()).values()), dtype=float)
    p = counts / counts.sum()
    return float(-np.sum(p * np.log(p)) / np.log(2))


# --- Exercise 3: best_split --------------------------------------------------------------------------------------


@right("best_split", "brute force: every midpoint scored from masks, thresholds in increasing order, strict <")
def best_split_brute_force(x, y, criterion):
    x, y = np.asarray(x, dtype=float), np.asarray(y)
    values = np.unique(x)
    best_threshold, best_score = np.nan, np.inf
    for threshold in (values[:-1] + values[1:]) / 2:
        left = x <= threshold
        parts = [y[left], y[~left]]
        if criterion == "sse":
            score = sum(float(np.sum((part - part.mean()) ** 2)) for part in parts)
        else:
            score = 0.0
            for part in parts:
                p = np.unique(part, return_counts=True)[1] / len(part)
                score += len(part) / len(y) * (1 - np.sum(p**2))
        if score < best_score:
            best_threshold, best_score = float(threshold), float(score)
    return best_threshold, best_score


# --- Exercise 4: fit_tree and predict_tree -----------------------------------------------------------------------


@helper
def _ra_best_node_split(X, y, min_samples_leaf):
    """(feature, threshold) with the lowest child SSE, scanned feature by feature and threshold by threshold."""
    best, best_sse = None, np.inf
    for feature in range(X.shape[1]):
        values = np.unique(X[:, feature])
        for threshold in (values[:-1] + values[1:]) / 2:
            left = X[:, feature] <= threshold
            if min(left.sum(), (~left).sum()) < min_samples_leaf:
                continue
            sse = np.sum((y[left] - y[left].mean()) ** 2) + np.sum((y[~left] - y[~left].mean()) ** 2)
            if sse < best_sse:
                best, best_sse = (feature, float(threshold)), sse
    return best


@right("fit_tree", "brute-force node split from masks, explicit stopping checks, strict < keeps the first of ties")
def fit_tree_brute_force(X, y, max_depth, min_samples_leaf=1):
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    leaf = {"value": float(np.mean(y))}
    if max_depth <= 0 or len(y) < 2 * min_samples_leaf or np.ptp(y) == 0:
        return leaf
    split = _ra_best_node_split(X, y, min_samples_leaf)
    if split is None:
        return leaf
    feature, threshold = split
    left = X[:, feature] <= threshold
    return {"value": leaf["value"], "feature": feature, "threshold": threshold,
            "left": fit_tree(X[left], y[left], max_depth - 1, min_samples_leaf),
            "right": fit_tree(X[~left], y[~left], max_depth - 1, min_samples_leaf)}


@right("predict_tree", "one row at a time down the tree")
def predict_tree_row_by_row(tree, X):
    out = []
    for row in np.asarray(X, dtype=float):
        node = tree
        while "feature" in node:
            node = node["left"] if row[node["feature"]] <= node["threshold"] else node["right"]
        out.append(node["value"])
    return np.array(out, dtype=float)


# --- Exercise 5: gradient boosting -------------------------------------------------------------------------------


@right("gradient_boosting_fit", "explicit squared_error criterion, predictions rebuilt as init + lr * sum of trees")
def gradient_boosting_sum_of_trees(X, y, n_estimators, learning_rate, max_depth):
    y = np.asarray(y, dtype=float)
    trees, tree_sum = [], np.zeros(len(y))
    for _ in range(n_estimators):
        negative_gradient = y - (y.mean() + learning_rate * tree_sum)
        tree = DecisionTreeRegressor(criterion="squared_error", max_depth=max_depth, random_state=0)
        trees.append(tree.fit(X, negative_gradient))
        tree_sum += tree.predict(X)
    return {"init": float(y.mean()), "learning_rate": learning_rate, "trees": trees}


@right("gradient_boosting_predict", "the trees' predictions stacked and summed, then scaled once")
def gradient_boosting_predict_stacked(model, X):
    init, rate, trees = model["init"], model["learning_rate"], model["trees"]
    if not trees:
        return np.full(len(X), init)
    return init + rate * np.sum([tree.predict(X) for tree in trees], axis=0)


# --- Exercises 6 and 7: gradients, hessians, leaf weight, gain ------------------------------------------------------


@right("logistic_grad_hess", "scipy.special.expit, h = sigma(raw) * sigma(-raw)")
def logistic_grad_hess_expit(y, raw):
    from scipy.special import expit

    raw = np.asarray(raw, dtype=float)
    p = expit(raw)
    return p - np.asarray(y, dtype=float), p * expit(-raw)


@right("leaf_weight", "sums with np.add.reduce, the minus sign applied last")
def leaf_weight_reduce(g, h, reg_lambda):
    return -float(np.add.reduce(g) / (np.add.reduce(h) + reg_lambda))


@right("split_gain", "as the drop of the regularised objective: parent minus children at their optimal weights")
def split_gain_objective(g_left, h_left, g_right, h_right, reg_lambda, gamma):
    def objective(G, H):
        return -0.5 * G * G / (H + reg_lambda)

    return objective(g_left + g_right, h_left + h_right) - objective(g_left, h_left) - objective(g_right, h_right) \
        - gamma


# --- Exercise 8: best_split_missing ------------------------------------------------------------------------------


@right("best_split_missing", "per distinct value sums (np.unique + bincount), direction outer (left first), thresholds "
                             "inner, strict > between directions")
def best_split_missing_by_value(x, g, h, reg_lambda, gamma):
    x, g, h = np.asarray(x, dtype=float), np.asarray(g, dtype=float), np.asarray(h, dtype=float)
    missing = np.isnan(x)
    values, which = np.unique(x[~missing], return_inverse=True)
    best = (np.nan, -np.inf, True)
    if len(values) < 2:
        return best
    g_value = np.bincount(which, weights=g[~missing], minlength=len(values))
    h_value = np.bincount(which, weights=h[~missing], minlength=len(values))
    g_all, h_all, g_missing, h_missing = g.sum(), h.sum(), g[missing].sum(), h[missing].sum()
    for default_left in (True, False):
        g_left = np.cumsum(g_value)[:-1] + (g_missing if default_left else 0.0)
        h_left = np.cumsum(h_value)[:-1] + (h_missing if default_left else 0.0)
        gains = split_gain(g_left, h_left, g_all - g_left, h_all - h_left, reg_lambda, gamma)
        k = int(np.argmax(gains))  # the first of equal gains: the smallest threshold
        if gains[k] > best[1]:
            best = (float((values[k] + values[k + 1]) / 2), float(gains[k]), default_left)
    return best


# --- Exercise 9: histograms ----------------------------------------------------------------------------------------


@right("build_histogram", "np.add.at into zero arrays")
def build_histogram_add_at(bin_index, g, h, n_bins):
    hist_g, hist_h = np.zeros(n_bins), np.zeros(n_bins)
    np.add.at(hist_g, bin_index, g)
    np.add.at(hist_h, bin_index, h)
    return hist_g, hist_h


@right("histogram_best_split", "a loop over the cuts with running sums, strict > keeps the smallest cut of a tie")
def histogram_best_split_loop(hist_g, hist_h, reg_lambda, gamma):
    G, H = float(np.sum(hist_g)), float(np.sum(hist_h))
    best_b, best_gain, GL, HL = 0, -np.inf, 0.0, 0.0
    for b in range(len(hist_g) - 1):
        GL, HL = GL + hist_g[b], HL + hist_h[b]
        gain = float(split_gain(GL, HL, G - GL, H - HL, reg_lambda, gamma))
        if gain > best_gain:
            best_b, best_gain = b, gain
    return best_b, best_gain


# --- Exercise 10: newton boosting --------------------------------------------------------------------------------


@right("newton_boosting_fit", "trees grown breadth-first from a queue of nodes, features scanned with a strict >")
def newton_boosting_breadth_first(X, y, n_estimators, learning_rate, max_depth, reg_lambda, gamma):
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    base = float(np.log(np.mean(y)) - np.log(1 - np.mean(y)))
    raw = np.full(len(y), base)
    trees = []
    for _ in range(n_estimators):
        g, h = logistic_grad_hess(y, raw)
        root = {}
        queue = [(root, np.arange(len(y)), 0)]
        while queue:
            node, rows, depth = queue.pop(0)
            best = None
            if depth < max_depth and len(rows) >= 2:
                for feature in range(X.shape[1]):
                    threshold, gain, default_left = best_split_missing(X[rows, feature], g[rows], h[rows], reg_lambda,
                                                                       gamma)
                    if gain > 0 and (best is None or gain > best[1]):
                        best = (feature, gain, threshold, default_left)
            if best is None:
                node["value"] = learning_rate * leaf_weight(g[rows], h[rows], reg_lambda)
                continue
            feature, _, threshold, default_left = best
            column = X[rows, feature]
            go_left = (column <= threshold) | (np.isnan(column) & default_left)
            node.update(feature=feature, threshold=threshold, default_left=default_left, left={}, right={})
            queue += [(node["left"], rows[go_left], depth + 1), (node["right"], rows[~go_left], depth + 1)]
        for i, row in enumerate(X):
            node = root
            while "feature" in node:
                value = row[node["feature"]]
                go = value <= node["threshold"] or (np.isnan(value) and node["default_left"])
                node = node["left"] if go else node["right"]
            raw[i] += node["value"]
        trees.append(root)
    return {"base": base, "trees": trees}


@right("newton_boosting_predict", "row by row, expit of the summed raw score")
def newton_boosting_predict_rows(model, X):
    from scipy.special import expit

    out = []
    for row in np.asarray(X, dtype=float):
        score = model["base"]
        for tree in model["trees"]:
            node = tree
            while "feature" in node:
                value = row[node["feature"]]
                go = value <= node["threshold"] or (np.isnan(value) and node["default_left"])
                node = node["left"] if go else node["right"]
            score += node["value"]
        out.append(expit(score))
    return np.array(out)


# --- Exercise 11: which knob does what? ----------------------------------------------------------------------------

answer("shrinks_leaf_values", "frozenset", "a frozenset in another order", 'frozenset(["reg_lambda", "learning_rate"])')

# --- Exercise 12: random forests ---------------------------------------------------------------------------------


@right("bootstrap_indices", "generator.integers(n, size=n) (low defaults to 0: the same draws)")
def bootstrap_high_only(n, generator):
    return generator.integers(n, size=n)


@right("random_forest_fit", "the stated draw order, written with integers(0, 2**31 - 1) in a while loop")
def random_forest_explicit_low(X, y, n_trees, max_features, generator):
    forest = []
    while len(forest) < n_trees:
        rows = bootstrap_indices(len(y), generator)
        seed = int(generator.integers(0, 2**31 - 1))
        tree = DecisionTreeRegressor(max_features=max_features, random_state=seed)
        forest.append(tree.fit(X[rows], y[rows]))
    return forest


@right("random_forest_predict", "a running sum divided by the number of trees")
def random_forest_predict_running_sum(forest, X):
    total = np.zeros(len(X))
    for tree in forest:
        total = total + tree.predict(X)
    return total / len(forest)


# --- Exercise 14: grow_leaf_wise ----------------------------------------------------------------------------------


@right("grow_leaf_wise", "a heap keyed on (-reduction, creation number): another tie-safe order")
def grow_leaf_wise_heap(X, y, max_leaves, min_samples_leaf=1):
    import heapq

    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)

    def candidate(node, rows, number):
        if len(rows) < 2 * min_samples_leaf or np.all(y[rows] == y[rows[0]]):
            return None
        split = best_node_split(X[rows], y[rows], min_samples_leaf)
        return None if split is None else (-split[2], number, split[0], split[1], node, rows)

    root = {"value": float(y.mean())}
    created, leaves, heap = 1, 1, []
    first = candidate(root, np.arange(len(y)), 0)
    if first is not None:
        heapq.heappush(heap, first[:2] + (first[2:],))
    while heap and leaves < max_leaves:
        _, _, (feature, threshold, node, rows) = heapq.heappop(heap)
        left = X[rows, feature] <= threshold
        node.update(feature=feature, threshold=threshold)
        for side, part in (("left", rows[left]), ("right", rows[~left])):
            node[side] = {"value": float(y[part].mean())}
            entry = candidate(node[side], part, created)
            created += 1
            if entry is not None:
                heapq.heappush(heap, entry[:2] + (entry[2:],))
        leaves += 1
    return root


# --- Exercise 16: quantile_bin_edges and one_hot_bins --------------------------------------------------------------


@right("quantile_bin_edges", "np.percentile at 100 k / n_bins, repeats dropped with a diff mask")
def edges_from_percentiles(x, n_bins):
    if n_bins == 1:
        return np.array([])
    values = np.percentile(np.asarray(x, dtype=float), 100 * np.arange(1, n_bins) / n_bins)
    return values[np.r_[True, np.diff(values) > 0]]


@right("one_hot_bins", "comparisons against every edge, then rows of an identity matrix")
def one_hot_from_comparisons(x, edges):
    x, edges = np.asarray(x, dtype=float), np.asarray(edges, dtype=float)
    return np.eye(len(edges) + 1)[(x[:, None] > edges[None, :]).sum(axis=1)]


# --- Capstone ------------------------------------------------------------------------------------------------------


@right("capstone_train", "smoothed out-of-fold target encoding of the categories, then boosting on numbers only "
                         "(the model takes the reference's feature matrix)")
def capstone_target_encoding(train, time_budget_s):
    from sklearn.ensemble import HistGradientBoostingClassifier

    y = train["y"].astype(float)
    prior, smoothing = y.mean(), 20.0
    n_numeric = train["numeric"].shape[1]

    def table(codes, target):
        found, inverse = np.unique(codes, return_inverse=True)
        sums, counts = np.bincount(inverse, weights=target), np.bincount(inverse)
        return dict(zip(found.tolist(), ((sums + smoothing * prior) / (counts + smoothing)).tolist(), strict=True))

    codes = np.where(train["categorical"] < 0, -1, train["categorical"])
    folds = np.random.default_rng(0).integers(0, 5, size=len(y))
    encoded = np.empty(codes.shape)
    for fold in range(5):
        inside, outside = folds == fold, folds != fold
        for j in range(codes.shape[1]):
            fitted = table(codes[outside, j], y[outside])
            encoded[inside, j] = [fitted.get(c, prior) for c in codes[inside, j].tolist()]
    tables = [table(codes[:, j], y) for j in range(codes.shape[1])]
    booster = HistGradientBoostingClassifier(learning_rate=0.05, max_iter=300, max_leaf_nodes=15, min_samples_leaf=40,
                                             l2_regularization=1.0, early_stopping=False, random_state=0)
    booster.fit(np.hstack([train["numeric"], encoded]), y)

    class TargetEncodedBooster:
        """Takes [numeric, category codes as floats with NaN] like the reference's model."""

        def predict_proba(self, features):
            numbers, raw_codes = features[:, :n_numeric], features[:, n_numeric:]
            raw_codes = np.where(np.isnan(raw_codes), -1, raw_codes).astype(int)
            columns = [[tables[j].get(c, prior) for c in raw_codes[:, j].tolist()] for j in range(raw_codes.shape[1])]
            return booster.predict_proba(np.hstack([numbers, np.column_stack(columns)]))

    return TargetEncodedBooster()
