"""Wrong answers for 02_trees (see tests/catalogue.py)."""

import numpy as np
from scipy import stats
from sklearn.tree import DecisionTreeRegressor

from tests.wrong_answers import answer, helper, wrong

# Test cells that call a function of an earlier exercise: a bug there may fail them too.
USES_SPLIT_GAIN = ("test_best_split_missing", "test_histogram_best_split", "test_newton_boosting")
USES_SPLIT = ("test_newton_boosting",)  # the booster is built on best_split_missing

# --- Exercise 1: gini and entropy -------------------------------------------------------------


@wrong("gini", "Gini read backwards: returns sum p_k^2 (a purity, higher for purer nodes), as the notes describe")
def gini_read_backwards(y):
    p = np.unique(y, return_counts=True)[1] / len(y)
    return float(np.sum(p**2))


@wrong("gini", "misclassification error 1 - max p instead of the Gini impurity")
def gini_misclassification(y):
    p = np.unique(y, return_counts=True)[1] / len(y)
    return float(1 - p.max())


@wrong("gini", "counts with np.bincount: fails on negative labels")
def gini_bincount(y):
    p = np.bincount(y) / len(y)
    return float(1 - np.sum(p**2))


@wrong("entropy", "natural logarithm instead of log2")
def entropy_natural_log(y):
    p = np.unique(y, return_counts=True)[1] / len(y)
    return float(-np.sum(p * np.log(p)))


@wrong("entropy", "counts every label between min and max, so absent classes give 0 log 0 = nan")
def entropy_absent_classes(y):
    p = np.bincount(y - y.min()) / len(y)
    return float(-np.sum(p * np.log2(p)))


@wrong("entropy", "calls scipy.stats.entropy")
def entropy_scipy(y):
    return float(stats.entropy(np.unique(y, return_counts=True)[1], base=2))


# --- Exercise 2: which node is purer? --------------------------------------------------------

answer("purer_node", "notes_reading", "the notes' reading: lower Gini means more impure", '"A"')
answer("purer_node", "lowercase", "answers in the wrong format", '"a"')

# --- Exercise 3: best_split --------------------------------------------------------------------


@helper
def _wa_best_split(x, y, criterion, *, at_data_value=False, unweighted=False, mse=False, all_cuts=False,
                   maximise=False, last_of_ties=False):
    """The reference best_split with switches for one bug each."""
    order = np.argsort(x, kind="stable")
    xs, ys = np.asarray(x, dtype=float)[order], np.asarray(y)[order]
    n = len(xs)
    cuts = np.arange(n - 1) if all_cuts else np.flatnonzero(xs[1:] > xs[:-1])
    if cuts.size == 0:
        return np.nan, np.inf
    n_left = cuts + 1.0
    n_right = n - n_left
    if criterion == "sse":
        ys = ys.astype(float)
        s1, s2 = np.cumsum(ys), np.cumsum(ys**2)
        sse_left = s2[cuts] - s1[cuts] ** 2 / n_left
        sse_right = (s2[-1] - s2[cuts]) - (s1[-1] - s1[cuts]) ** 2 / n_right
        scores = sse_left / n_left + sse_right / n_right if mse else sse_left + sse_right
    else:
        classes, codes = np.unique(ys, return_inverse=True)
        counts = np.cumsum(np.eye(len(classes))[codes], axis=0)
        left, right = counts[cuts], counts[-1] - counts[cuts]
        gini_left = 1 - np.sum((left / n_left[:, None]) ** 2, axis=1)
        gini_right = 1 - np.sum((right / n_right[:, None]) ** 2, axis=1)
        scores = (gini_left + gini_right) / 2 if unweighted else (n_left * gini_left + n_right * gini_right) / n
    best = int(np.argmax(scores) if maximise else np.argmin(scores))
    if last_of_ties:
        best = len(scores) - 1 - int(np.argmin(scores[::-1]))
    i = cuts[best]
    threshold = xs[i] if at_data_value else (xs[i] + xs[i + 1]) / 2
    return float(threshold), float(scores[best])


@wrong("best_split", "threshold at a data value (the left one) instead of the midpoint")
def best_split_at_data_value(x, y, criterion):
    return _wa_best_split(x, y, criterion, at_data_value=True)


@wrong("best_split", "children's Gini averaged without weighting by their sizes")
def best_split_unweighted_gini(x, y, criterion):
    return _wa_best_split(x, y, criterion, unweighted=True)


@wrong("best_split", "regression score = sum of the children's mean squared errors (not their SSE)")
def best_split_mse(x, y, criterion):
    return _wa_best_split(x, y, criterion, mse=True)


@wrong("best_split", "cuts between equal feature values too")
def best_split_all_cuts(x, y, criterion):
    return _wa_best_split(x, y, criterion, all_cuts=True)


@wrong("best_split", "maximises the impurity (Gini read backwards)")
def best_split_maximises(x, y, criterion):
    return _wa_best_split(x, y, criterion, maximise=True)


@wrong("best_split", "on exact ties returns the largest threshold (a scan with <=)")
def best_split_last_of_ties(x, y, criterion):
    return _wa_best_split(x, y, criterion, last_of_ties=True)


# --- Exercise 4: fit_tree and predict_tree -------------------------------------------------------


@helper
def _wa_fit_tree(X, y, max_depth, min_samples_leaf, *, at_data_value=False, ignore_min_leaf=False, extra_depth=0,
                 leaf_median=False, mse=False, first_feature_only=False, last_feature_of_ties=False,
                 last_threshold_of_ties=False):
    """The reference CART tree with switches for one bug each."""
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    min_leaf = 1 if ignore_min_leaf else min_samples_leaf
    node = {"value": float(np.median(y) if leaf_median else y.mean())}
    if max_depth + extra_depth == 0 or len(y) < 2 * min_leaf or np.all(y == y[0]):
        return node
    n = len(y)
    n_left = np.arange(1, n)
    best = None
    for feature in range(1 if first_feature_only else X.shape[1]):
        order = np.argsort(X[:, feature], kind="stable")
        xs, ys = X[order, feature], y[order]
        allowed = (xs[1:] > xs[:-1]) & (n_left >= min_leaf) & (n - n_left >= min_leaf)
        if not allowed.any():
            continue
        s1, s2 = np.cumsum(ys)[:-1], np.cumsum(ys**2)[:-1]
        sse_left, sse_right = s2 - s1**2 / n_left, np.sum(ys**2) - s2 - (ys.sum() - s1) ** 2 / (n - n_left)
        score = sse_left / n_left + sse_right / (n - n_left) if mse else sse_left + sse_right
        score = np.where(allowed, score, np.inf)
        i = int(np.argmin(score))
        if last_threshold_of_ties:
            i = len(score) - 1 - int(np.argmin(score[::-1]))
        if best is None or score[i] < best[2] or (last_feature_of_ties and score[i] == best[2]):
            best = (feature, float(xs[i] if at_data_value else (xs[i] + xs[i + 1]) / 2), score[i])
    if best is None:
        return node
    feature, threshold, _ = best
    left = X[:, feature] <= threshold
    switches = dict(at_data_value=at_data_value, ignore_min_leaf=ignore_min_leaf, extra_depth=0,
                    leaf_median=leaf_median, mse=mse, first_feature_only=first_feature_only,
                    last_feature_of_ties=last_feature_of_ties, last_threshold_of_ties=last_threshold_of_ties)
    node.update(feature=feature, threshold=threshold,
                left=_wa_fit_tree(X[left], y[left], max_depth + extra_depth - 1, min_samples_leaf, **switches),
                right=_wa_fit_tree(X[~left], y[~left], max_depth + extra_depth - 1, min_samples_leaf, **switches))
    return node


@wrong("fit_tree", "threshold at a data value instead of the midpoint")
def fit_tree_at_data_value(X, y, max_depth, min_samples_leaf=1):
    return _wa_fit_tree(X, y, max_depth, min_samples_leaf, at_data_value=True)


@wrong("fit_tree", "ignores min_samples_leaf")
def fit_tree_ignores_min_leaf(X, y, max_depth, min_samples_leaf=1):
    return _wa_fit_tree(X, y, max_depth, min_samples_leaf, ignore_min_leaf=True)


@wrong("fit_tree", "one level too deep (counts the root as depth 1)")
def fit_tree_too_deep(X, y, max_depth, min_samples_leaf=1):
    return _wa_fit_tree(X, y, max_depth, min_samples_leaf, extra_depth=1)


@wrong("fit_tree", "leaves predict the median")
def fit_tree_leaf_median(X, y, max_depth, min_samples_leaf=1):
    return _wa_fit_tree(X, y, max_depth, min_samples_leaf, leaf_median=True)


@wrong("fit_tree", "split score = sum of the children's mean squared errors, not weighted by their sizes")
def fit_tree_unweighted_mse(X, y, max_depth, min_samples_leaf=1):
    return _wa_fit_tree(X, y, max_depth, min_samples_leaf, mse=True)


@wrong("fit_tree", "searches the first feature only")
def fit_tree_first_feature(X, y, max_depth, min_samples_leaf=1):
    return _wa_fit_tree(X, y, max_depth, min_samples_leaf, first_feature_only=True)


@wrong("fit_tree", "on exact ties between features keeps the last one (a comparison with <=)")
def fit_tree_last_feature_of_ties(X, y, max_depth, min_samples_leaf=1):
    return _wa_fit_tree(X, y, max_depth, min_samples_leaf, last_feature_of_ties=True)


@wrong("fit_tree", "on exact ties between thresholds keeps the largest one")
def fit_tree_last_threshold_of_ties(X, y, max_depth, min_samples_leaf=1):
    return _wa_fit_tree(X, y, max_depth, min_samples_leaf, last_threshold_of_ties=True)


@wrong("predict_tree", "x < threshold goes left, and the threshold comparison uses the wrong child",
       also_fails=("test_grow_leaf_wise",))
def predict_tree_children_swapped(tree, X):
    X = np.asarray(X, dtype=float)
    out = np.empty(len(X))
    for row, x in enumerate(X):
        node = tree
        while "feature" in node:
            node = node["right"] if x[node["feature"]] <= node["threshold"] else node["left"]
        out[row] = node["value"]
    return out


# --- Exercise 5: gradient boosting -----------------------------------------------------------------


@helper
def _wa_boost(X, y, n_estimators, learning_rate, max_depth, *, init="mean", target="residual", tree_depth=None):
    y = np.asarray(y, dtype=float)
    start = {"mean": float(y.mean()), "zero": 0.0, "median": float(np.median(y))}[init]
    prediction = np.full(len(y), start)
    trees = []
    for _ in range(n_estimators):
        goal = {"residual": y - prediction, "gradient": prediction - y, "y": y}[target]
        tree = DecisionTreeRegressor(max_depth=tree_depth or max_depth, random_state=0).fit(X, goal)
        prediction = prediction + learning_rate * tree.predict(X)
        trees.append(tree)
    return {"init": start, "learning_rate": learning_rate, "trees": trees}


@wrong("gradient_boosting_fit", "boosting starts from 0 instead of the mean")
def boosting_init_zero(X, y, n_estimators, learning_rate, max_depth):
    return _wa_boost(X, y, n_estimators, learning_rate, max_depth, init="zero")


@wrong("gradient_boosting_fit", "starts from the median (the best constant for the absolute loss)")
def boosting_init_median(X, y, n_estimators, learning_rate, max_depth):
    return _wa_boost(X, y, n_estimators, learning_rate, max_depth, init="median")


@wrong("gradient_boosting_fit", "fits the gradient F - y instead of the negative gradient (the notes' sign slip)")
def boosting_fits_gradient(X, y, n_estimators, learning_rate, max_depth):
    return _wa_boost(X, y, n_estimators, learning_rate, max_depth, target="gradient")


@wrong("gradient_boosting_fit", "every tree fits y instead of the pseudo-residuals")
def boosting_fits_targets(X, y, n_estimators, learning_rate, max_depth):
    return _wa_boost(X, y, n_estimators, learning_rate, max_depth, target="y")


@wrong("gradient_boosting_fit", "hard-codes max_depth=2 for the trees")
def boosting_fixed_depth(X, y, n_estimators, learning_rate, max_depth):
    return _wa_boost(X, y, n_estimators, learning_rate, max_depth, tree_depth=2)


@wrong("gradient_boosting_predict", "forgets the learning rate at prediction time")
def boosting_predict_without_rate(model, X):
    prediction = np.full(len(X), model["init"])
    for tree in model["trees"]:
        prediction = prediction + tree.predict(X)
    return prediction


# --- Exercise 6: logistic_grad_hess -----------------------------------------------------------------


@wrong("logistic_grad_hess", "hessian not p(1-p): constant 1, as for the squared loss",
       also_fails=("test_newton_boosting",))
def grad_hess_unit_hessian(y, raw):
    p = np.exp(-np.logaddexp(0.0, -np.asarray(raw, dtype=float)))
    return p - y, np.ones_like(p)


@wrong("logistic_grad_hess", "hessian not p(1-p): p", also_fails=("test_newton_boosting",))
def grad_hess_hessian_p(y, raw):
    p = np.exp(-np.logaddexp(0.0, -np.asarray(raw, dtype=float)))
    return p - y, p


@wrong("logistic_grad_hess", "g = y - p (the negative gradient)", also_fails=("test_newton_boosting",))
def grad_hess_negative_gradient(y, raw):
    p = np.exp(-np.logaddexp(0.0, -np.asarray(raw, dtype=float)))
    return y - p, p * (1 - p)


@wrong("logistic_grad_hess", "naive sigmoid exp(raw) / (1 + exp(raw)): nan for large raw")
def grad_hess_naive_sigmoid(y, raw):
    with np.errstate(over="ignore", invalid="ignore"):
        p = np.exp(raw) / (1 + np.exp(raw))
    return p - y, p * (1 - p)


@wrong("logistic_grad_hess", "negates raw in place to reuse its buffer (modifies the caller's scores)",
       also_fails=("test_newton_boosting",))
def grad_hess_in_place(y, raw):
    raw = np.asarray(raw, dtype=float)
    np.negative(raw, out=raw)
    p = np.exp(-np.logaddexp(0.0, raw))
    return p - y, p * (1 - p)


# --- Exercise 7: leaf_weight and split_gain ---------------------------------------------------------


@wrong("leaf_weight", "forgets the minus sign", also_fails=("test_newton_boosting",))
def leaf_weight_no_minus(g, h, reg_lambda):
    return float(np.sum(g) / (np.sum(h) + reg_lambda))


@wrong("leaf_weight", "lambda added to every example's hessian (H + n lambda)", also_fails=("test_newton_boosting",))
def leaf_weight_lambda_per_example(g, h, reg_lambda):
    return float(-np.sum(g) / np.sum(h + reg_lambda))


@wrong("leaf_weight", "means instead of sums", also_fails=("test_newton_boosting",))
def leaf_weight_means(g, h, reg_lambda):
    return float(-np.mean(g) / (np.mean(h) + reg_lambda))


@helper
def _wa_gain(GL, HL, GR, HR, lam, gamma, *, half=0.5, with_gamma=True, gamma_inside=False, parent_lambda=True):
    parent = (GL + GR) ** 2 / (HL + HR + (lam if parent_lambda else 0.0))
    inner = GL**2 / (HL + lam) + GR**2 / (HR + lam) - parent
    if gamma_inside:
        return half * (inner - gamma)
    return half * inner - (gamma if with_gamma else 0.0)


@wrong("split_gain", "gain without the 1/2", also_fails=USES_SPLIT_GAIN)
def split_gain_without_half(g_left, h_left, g_right, h_right, reg_lambda, gamma):
    return _wa_gain(g_left, h_left, g_right, h_right, reg_lambda, gamma, half=1.0)


@wrong("split_gain", "gain without gamma", also_fails=USES_SPLIT_GAIN)
def split_gain_without_gamma(g_left, h_left, g_right, h_right, reg_lambda, gamma):
    return _wa_gain(g_left, h_left, g_right, h_right, reg_lambda, gamma, with_gamma=False)


@wrong("split_gain", "gamma inside the 1/2", also_fails=USES_SPLIT_GAIN)
def split_gain_gamma_inside(g_left, h_left, g_right, h_right, reg_lambda, gamma):
    return _wa_gain(g_left, h_left, g_right, h_right, reg_lambda, gamma, gamma_inside=True)


@wrong("split_gain", "no lambda in the parent's term", also_fails=USES_SPLIT_GAIN)
def split_gain_parent_without_lambda(g_left, h_left, g_right, h_right, reg_lambda, gamma):
    return _wa_gain(g_left, h_left, g_right, h_right, reg_lambda, gamma, parent_lambda=False)


# --- Exercise 8: best_split_missing ------------------------------------------------------------------


@helper
def _wa_missing(x, g, h, lam, gamma, *, directions=(True, False), drop_missing=False, at_data_value=False,
                prefer_right=False, all_cuts=False, last_of_ties=False):
    x, g, h = np.asarray(x, dtype=float), np.asarray(g, dtype=float), np.asarray(h, dtype=float)
    missing = np.isnan(x)
    if drop_missing:
        x, g, h, missing = x[~missing], g[~missing], h[~missing], missing[~missing]
    present = np.flatnonzero(~missing)
    order = present[np.argsort(x[present], kind="stable")]
    xs = x[order]
    cuts = np.arange(len(xs) - 1) if all_cuts else np.flatnonzero(xs[1:] > xs[:-1])
    if cuts.size == 0:
        return np.nan, -np.inf, True
    GL, HL = np.cumsum(g[order])[cuts], np.cumsum(h[order])[cuts]
    G, H, Gm, Hm = g.sum(), h.sum(), g[missing].sum(), h[missing].sum()
    best = None
    for default_left in (directions[::-1] if prefer_right else directions):
        gl, hl = (GL + Gm, HL + Hm) if default_left else (GL, HL)
        gains = 0.5 * (gl**2 / (hl + lam) + (G - gl) ** 2 / (H - hl + lam) - G**2 / (H + lam)) - gamma
        i = len(gains) - 1 - int(np.argmax(gains[::-1])) if last_of_ties else int(np.argmax(gains))
        if best is None or gains[i] > best[1]:
            best = (i, gains[i], default_left)
    i, gain, default_left = best
    k = cuts[i]
    threshold = xs[k] if at_data_value else (xs[k] + xs[k + 1]) / 2
    return float(threshold), float(gain), bool(default_left)


@wrong("best_split_missing", "missing values always go left (no learned direction)", also_fails=USES_SPLIT)
def missing_always_left(x, g, h, reg_lambda, gamma):
    return _wa_missing(x, g, h, reg_lambda, gamma, directions=(True,))


@wrong("best_split_missing", "drops the rows with missing values from the node", also_fails=USES_SPLIT)
def missing_dropped(x, g, h, reg_lambda, gamma):
    return _wa_missing(x, g, h, reg_lambda, gamma, drop_missing=True)


@wrong("best_split_missing", "threshold at a data value instead of the midpoint", also_fails=USES_SPLIT)
def missing_at_data_value(x, g, h, reg_lambda, gamma):
    return _wa_missing(x, g, h, reg_lambda, gamma, at_data_value=True)


@wrong("best_split_missing", "on ties (nothing missing) reports default_left=False", also_fails=USES_SPLIT)
def missing_prefers_right(x, g, h, reg_lambda, gamma):
    return _wa_missing(x, g, h, reg_lambda, gamma, prefer_right=True)


@wrong("best_split_missing", "cuts between equal feature values too", also_fails=USES_SPLIT)
def missing_all_cuts(x, g, h, reg_lambda, gamma):
    return _wa_missing(x, g, h, reg_lambda, gamma, all_cuts=True)


@wrong("best_split_missing", "on exact ties between thresholds returns the largest one", also_fails=USES_SPLIT)
def missing_last_of_ties(x, g, h, reg_lambda, gamma):
    return _wa_missing(x, g, h, reg_lambda, gamma, last_of_ties=True)


# --- Exercise 9: histograms ------------------------------------------------------------------------


@wrong("build_histogram", "np.bincount without minlength: too short when the last bins are empty")
def histogram_without_minlength(bin_index, g, h, n_bins):
    return np.bincount(bin_index, weights=g).astype(float), np.bincount(bin_index, weights=h).astype(float)


@wrong("build_histogram", "counts rows instead of summing the hessians")
def histogram_counts(bin_index, g, h, n_bins):
    return (np.bincount(bin_index, weights=g, minlength=n_bins).astype(float),
            np.bincount(bin_index, minlength=n_bins).astype(float))


@helper
def _wa_hist_split(hist_g, hist_h, lam, gamma, *, include_all_left=False, shift=0, single_bin=False):
    GL = np.asarray(hist_g, dtype=float) if single_bin else np.cumsum(hist_g)
    HL = np.asarray(hist_h, dtype=float) if single_bin else np.cumsum(hist_h)
    if not include_all_left:
        GL, HL = GL[:-1], HL[:-1]
    G, H = np.sum(hist_g), np.sum(hist_h)
    gains = 0.5 * (GL**2 / (HL + lam) + (G - GL) ** 2 / (H - HL + lam) - G**2 / (H + lam)) - gamma
    b = int(np.argmax(gains))
    return b + shift, float(gains[b])


@wrong("histogram_best_split", "also tries the cut that keeps every bin on the left")
def histogram_split_all_left(hist_g, hist_h, reg_lambda, gamma):
    return _wa_hist_split(hist_g, hist_h, reg_lambda, gamma, include_all_left=True)


@wrong("histogram_best_split", "off by one: reports the first bin of the right child")
def histogram_split_off_by_one(hist_g, hist_h, reg_lambda, gamma):
    return _wa_hist_split(hist_g, hist_h, reg_lambda, gamma, shift=1)


@wrong("histogram_best_split", "left child = a single bin (no cumulative sum)")
def histogram_split_single_bin(hist_g, hist_h, reg_lambda, gamma):
    return _wa_hist_split(hist_g, hist_h, reg_lambda, gamma, single_bin=True)


# --- Exercise 10: newton boosting ------------------------------------------------------------------


@helper
def _wa_newton_fit(X, y, n_estimators, learning_rate, max_depth, reg_lambda, gamma, *, base="log_odds",
                   shrink=True, split_if_negative=False, unit_hessian=False, stumps=False, last_feature_of_ties=False):
    """A self-contained second-order booster with switches for one bug each."""
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    rate = learning_rate if shrink else 1.0

    def best_feature_split(rows, g, h):
        best = None
        for feature in range(X.shape[1]):
            x = X[rows, feature]
            missing = np.isnan(x)
            present = np.flatnonzero(~missing)
            order = present[np.argsort(x[present], kind="stable")]
            xs = x[order]
            cuts = np.flatnonzero(xs[1:] > xs[:-1])
            if cuts.size == 0:
                continue
            gr, hr = g[rows], h[rows]
            GL, HL = np.cumsum(gr[order])[cuts], np.cumsum(hr[order])[cuts]
            G, H, Gm, Hm = gr.sum(), hr.sum(), gr[missing].sum(), hr[missing].sum()
            for default_left in (True, False):
                gl, hl = (GL + Gm, HL + Hm) if default_left else (GL, HL)
                gains = 0.5 * (gl**2 / (hl + reg_lambda) + (G - gl) ** 2 / (H - hl + reg_lambda)
                               - G**2 / (H + reg_lambda)) - gamma
                i = int(np.argmax(gains))
                better = best is None or gains[i] > best[1] or (last_feature_of_ties and gains[i] == best[1]
                                                                and feature != best[0])
                if (gains[i] > 0 or split_if_negative) and better:
                    best = (feature, gains[i], (xs[cuts[i]] + xs[cuts[i] + 1]) / 2, default_left)
        return best

    def grow(rows, depth, g, h):
        node = {"value": rate * -g[rows].sum() / (h[rows].sum() + reg_lambda)}
        if depth >= (1 if stumps else max_depth) or len(rows) < 2:
            return node
        best = best_feature_split(rows, g, h)
        if best is None:
            return node
        feature, _, threshold, default_left = best
        x = X[rows, feature]
        left = (x <= threshold) | (np.isnan(x) & default_left)
        node.update(feature=feature, threshold=threshold, default_left=default_left,
                    left=grow(rows[left], depth + 1, g, h), right=grow(rows[~left], depth + 1, g, h))
        return node

    def values(tree):
        out = np.empty(len(X))
        for row, x in enumerate(X):
            node = tree
            while "feature" in node:
                value = x[node["feature"]]
                go_left = value <= node["threshold"] or (np.isnan(value) and node["default_left"])
                node = node["left"] if go_left else node["right"]
            out[row] = node["value"]
        return out

    start = {"log_odds": float(np.log(y.mean() / (1 - y.mean()))), "zero": 0.0, "mean": float(y.mean())}[base]
    raw = np.full(len(y), start)
    trees = []
    for _ in range(n_estimators):
        p = 1 / (1 + np.exp(-raw))
        g, h = p - y, (np.ones_like(p) if unit_hessian else p * (1 - p))
        tree = grow(np.arange(len(y)), 0, g, h)
        raw = raw + values(tree)
        trees.append(tree)
    return {"base": start, "trees": trees}


@helper
def _wa_newton_values(tree, X, *, ignore_default=False):
    out = np.empty(len(X))
    for row, x in enumerate(np.asarray(X, dtype=float)):
        node = tree
        while "feature" in node:
            value = x[node["feature"]]
            go_left = value <= node["threshold"] or (np.isnan(value) and node["default_left"] and not ignore_default)
            node = node["left"] if go_left else node["right"]
        out[row] = node["value"]
    return out


@wrong("newton_boosting_fit", "boosting init 0 instead of the log-odds of the mean label")
def newton_init_zero(X, y, n_estimators, learning_rate, max_depth, reg_lambda, gamma):
    return _wa_newton_fit(X, y, n_estimators, learning_rate, max_depth, reg_lambda, gamma, base="zero")


@wrong("newton_boosting_fit", "init = the mean label (a probability) used as a raw score")
def newton_init_mean(X, y, n_estimators, learning_rate, max_depth, reg_lambda, gamma):
    return _wa_newton_fit(X, y, n_estimators, learning_rate, max_depth, reg_lambda, gamma, base="mean")


@wrong("newton_boosting_fit", "leaf values without the learning rate")
def newton_without_shrinkage(X, y, n_estimators, learning_rate, max_depth, reg_lambda, gamma):
    return _wa_newton_fit(X, y, n_estimators, learning_rate, max_depth, reg_lambda, gamma, shrink=False)


@wrong("newton_boosting_fit", "splits even when the gain is not positive (gamma never prunes)")
def newton_splits_negative_gain(X, y, n_estimators, learning_rate, max_depth, reg_lambda, gamma):
    return _wa_newton_fit(X, y, n_estimators, learning_rate, max_depth, reg_lambda, gamma, split_if_negative=True)


@wrong("newton_boosting_fit", "first order: hessian 1 instead of p(1-p)")
def newton_unit_hessian(X, y, n_estimators, learning_rate, max_depth, reg_lambda, gamma):
    return _wa_newton_fit(X, y, n_estimators, learning_rate, max_depth, reg_lambda, gamma, unit_hessian=True)


@wrong("newton_boosting_fit", "always grows stumps whatever max_depth (the tree stops after the root's split)")
def newton_stumps_only(X, y, n_estimators, learning_rate, max_depth, reg_lambda, gamma):
    return _wa_newton_fit(X, y, n_estimators, learning_rate, max_depth, reg_lambda, gamma, stumps=True)


@wrong("newton_boosting_fit", "on exact ties between features keeps the last one")
def newton_last_feature_of_ties(X, y, n_estimators, learning_rate, max_depth, reg_lambda, gamma):
    return _wa_newton_fit(X, y, n_estimators, learning_rate, max_depth, reg_lambda, gamma, last_feature_of_ties=True)


@wrong("newton_boosting_predict", "returns raw scores instead of probabilities")
def newton_predict_raw(model, X):
    raw = np.full(len(X), model["base"])
    for tree in model["trees"]:
        raw = raw + _wa_newton_values(tree, X)
    return raw


@wrong("newton_boosting_predict", "missing values always go right at prediction time")
def newton_predict_ignores_default(model, X):
    raw = np.full(len(X), model["base"])
    for tree in model["trees"]:
        raw = raw + _wa_newton_values(tree, X, ignore_default=True)
    return 1 / (1 + np.exp(-raw))


# --- Exercise 11: which knob does what? -----------------------------------------------------------

answer("shrinks_leaf_values", "with_gamma", "thinks gamma shrinks leaf values",
       '{"learning_rate", "reg_lambda", "gamma"}')
answer("can_block_a_split", "only_gamma", "forgets that lambda lowers the gain too", '{"gamma"}')
answer("can_block_a_split", "a_list", "answers with a list", '["reg_lambda", "gamma"]')

# --- Exercise 12: bootstrap and random forest ---------------------------------------------------


@wrong("bootstrap_indices", "draws without replacement (a permutation)")
def bootstrap_permutation(n, generator):
    return generator.permutation(n)


@wrong("bootstrap_indices", "ignores the generator (a fixed seed)")
def bootstrap_fixed_seed(n, generator):
    return np.random.default_rng(0).integers(0, n, size=n)


@wrong("bootstrap_indices", "indices 1..n instead of 0..n-1")
def bootstrap_one_based(n, generator):
    return generator.integers(1, n + 1, size=n)


@helper
def _wa_forest(X, y, n_trees, max_features, generator, *, seed_first=False, bootstrap=True, use_max_features=True):
    forest = []
    for _ in range(n_trees):
        if seed_first:
            seed = int(generator.integers(2**31 - 1))
        rows = generator.integers(0, len(y), size=len(y)) if bootstrap else np.arange(len(y))
        if not seed_first:
            seed = int(generator.integers(2**31 - 1))
        tree = DecisionTreeRegressor(max_features=max_features if use_max_features else None, random_state=seed)
        forest.append(tree.fit(X[rows], y[rows]))
    return forest


@wrong("random_forest_fit", "draws the tree's seed before the bootstrap sample")
def forest_seed_first(X, y, n_trees, max_features, generator):
    return _wa_forest(X, y, n_trees, max_features, generator, seed_first=True)


@wrong("random_forest_fit", "no bootstrap: every tree sees all rows")
def forest_without_bootstrap(X, y, n_trees, max_features, generator):
    return _wa_forest(X, y, n_trees, max_features, generator, bootstrap=False)


@wrong("random_forest_fit", "ignores max_features (plain bagging)")
def forest_ignores_max_features(X, y, n_trees, max_features, generator):
    return _wa_forest(X, y, n_trees, max_features, generator, use_max_features=False)


@wrong("random_forest_predict", "sums the trees' predictions")
def forest_predict_sum(forest, X):
    return np.sum([tree.predict(X) for tree in forest], axis=0)


# --- Exercise 13: bagging vs boosting ----------------------------------------------------------

answer("bagging_vs_boosting", "reversed", "bias and variance swapped", '"A"')
answer("bagging_vs_boosting", "both_variance", "thinks boosting is sequential bagging", '"B"')
answer("bagging_vs_boosting", "lowercase", "answers in the wrong format", '"d"')

# --- Exercise 14: grow_leaf_wise -------------------------------------------------------------------


@helper
def _wa_leaf_wise(X, y, max_leaves, min_samples_leaf, *, first_leaf=False, extra_leaves=0, ignore_min_leaf=False,
                  largest_sse=False, leftmost=False, newest_level=False):
    """Leaves in creation order, or (leftmost=True) in left-to-right order, which breaks ties differently."""
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    min_leaf = 1 if ignore_min_leaf else min_samples_leaf

    def best_split_of(rows):
        n, total = len(rows), np.sum((y[rows] - y[rows].mean()) ** 2)
        n_left, best = np.arange(1, n), None
        for feature in range(X.shape[1]):
            order = rows[np.argsort(X[rows, feature], kind="stable")]
            xs, ys = X[order, feature], y[order]
            allowed = (xs[1:] > xs[:-1]) & (n_left >= min_leaf) & (n - n_left >= min_leaf)
            if not allowed.any():
                continue
            s1, s2 = np.cumsum(ys)[:-1], np.cumsum(ys**2)[:-1]
            sse = np.where(allowed, s2 - s1**2 / n_left + np.sum(ys**2) - s2 - (ys.sum() - s1) ** 2 / (n - n_left),
                           np.inf)
            i = int(np.argmin(sse))
            if best is None or total - sse[i] > best[2]:
                best = (feature, (xs[i] + xs[i + 1]) / 2, total - sse[i], total)
        return best

    root = {"value": float(y.mean())}
    leaves = [(root, np.arange(len(y)))]
    newest = {id(root)}  # the leaves created by the last split: the notes' "每一层" reading
    while len(leaves) < max_leaves + extra_leaves:
        best = None
        for position, (node, rows) in enumerate(leaves):
            if newest_level and id(node) not in newest:
                continue
            if len(rows) < 2 * min_leaf or np.all(y[rows] == y[rows[0]]):
                continue
            split = best_split_of(rows)
            if split is None:
                continue
            key = split[3] if largest_sse else split[2]
            if best is None or key > best[2]:
                best = (position, split, key)
            if first_leaf:
                break
        if best is None:
            break
        position, (feature, threshold, _, _), _ = best
        node, rows = leaves.pop(position)
        left = X[rows, feature] <= threshold
        node.update(feature=feature, threshold=threshold, left={"value": float(y[rows[left]].mean())},
                    right={"value": float(y[rows[~left]].mean())})
        children = [(node["left"], rows[left]), (node["right"], rows[~left])]
        newest = {id(node["left"]), id(node["right"])}
        if leftmost:
            leaves[position:position] = children
        else:
            leaves += children
    return root


@wrong("grow_leaf_wise", "splits the first splittable leaf (depth-first order) instead of the best one")
def leaf_wise_first_leaf(X, y, max_leaves, min_samples_leaf=1):
    return _wa_leaf_wise(X, y, max_leaves, min_samples_leaf, first_leaf=True, leftmost=True)


@wrong("grow_leaf_wise", "on ties splits the leftmost leaf instead of the one created first")
def leaf_wise_leftmost_of_ties(X, y, max_leaves, min_samples_leaf=1):
    return _wa_leaf_wise(X, y, max_leaves, min_samples_leaf, leftmost=True)


@wrong("grow_leaf_wise", "the notes' 'per layer' reading: only the two leaves of the last split are candidates")
def leaf_wise_per_level(X, y, max_leaves, min_samples_leaf=1):
    return _wa_leaf_wise(X, y, max_leaves, min_samples_leaf, newest_level=True)


@wrong("grow_leaf_wise", "one leaf too many")
def leaf_wise_extra_leaf(X, y, max_leaves, min_samples_leaf=1):
    return _wa_leaf_wise(X, y, max_leaves, min_samples_leaf, extra_leaves=1)


@wrong("grow_leaf_wise", "ignores min_samples_leaf")
def leaf_wise_ignores_min_leaf(X, y, max_leaves, min_samples_leaf=1):
    return _wa_leaf_wise(X, y, max_leaves, min_samples_leaf, ignore_min_leaf=True)


@wrong("grow_leaf_wise", "splits the leaf with the largest SSE, not the largest SSE reduction")
def leaf_wise_largest_sse(X, y, max_leaves, min_samples_leaf=1):
    return _wa_leaf_wise(X, y, max_leaves, min_samples_leaf, largest_sse=True)


# --- Exercise 15: why can XGBoost train in parallel? -------------------------------------------

answer("why_parallel", "parallel_trees", "thinks the boosted trees are independent", '"A"')
answer("why_parallel", "parallel_rounds", "thinks the rounds share the initial gradients", '"B"')
answer("why_parallel", "cannot", "thinks boosting cannot use several cores", '"D"')
answer("why_parallel", "lowercase", "answers in the wrong format", '"c"')


# --- Exercise 16: quantile_bin_edges and one_hot_bins ----------------------------------------------


@wrong("quantile_bin_edges", "includes the 0 and 1 quantiles (the minimum and the maximum) as edges")
def edges_with_extremes(x, n_bins):
    return np.unique(np.quantile(np.asarray(x, dtype=float), np.linspace(0, 1, n_bins + 1)))


@wrong("quantile_bin_edges", "keeps repeated quantiles (no np.unique)")
def edges_with_repeats(x, n_bins):
    return np.quantile(np.asarray(x, dtype=float), np.arange(1, n_bins) / n_bins)


@wrong("quantile_bin_edges", "equal-width edges between the minimum and the maximum instead of quantiles")
def edges_equal_width(x, n_bins):
    x = np.asarray(x, dtype=float)
    return np.unique(np.linspace(x.min(), x.max(), n_bins + 1)[1:-1])


@wrong("quantile_bin_edges", "returns a Python list (sorted(set(...))) instead of an array")
def edges_as_list(x, n_bins):
    return sorted(set(np.quantile(np.asarray(x, dtype=float), np.arange(1, n_bins) / n_bins).tolist()))


@wrong("one_hot_bins", "a value equal to an edge goes to the upper bin (np.digitize, side='right')")
def one_hot_upper_bin(x, edges):
    bins = np.digitize(np.asarray(x, dtype=float), np.asarray(edges, dtype=float))
    encoded = np.zeros((len(bins), len(edges) + 1))
    encoded[np.arange(len(bins)), bins] = 1.0
    return encoded


@wrong("one_hot_bins", "values above the last edge are clipped into the last interior bin (m columns)")
def one_hot_m_columns(x, edges):
    bins = np.minimum(np.searchsorted(np.asarray(edges, dtype=float), np.asarray(x, dtype=float)), len(edges) - 1)
    return np.eye(max(len(edges), 1))[np.maximum(bins, 0)]


@wrong("one_hot_bins", "an integer array instead of float64")
def one_hot_integers(x, edges):
    bins = np.searchsorted(np.asarray(edges, dtype=float), np.asarray(x, dtype=float), side="left")
    return np.eye(len(edges) + 1, dtype=np.int64)[bins]


# --- Exercise 17: when does binning pay? ---------------------------------------------------------

answer("binning_helps", "shape_only", "forgets that bins cap the placeholder ages", '{"u_shaped"}')
answer("binning_helps", "thinks_bins_cross", "thinks bins alone model the interaction",
       '{"u_shaped", "outliers", "interaction"}')
answer("binning_helps", "a_list", "answers with a list", '["u_shaped", "outliers"]')


# --- Capstone: wrong pipelines (more in tools/capstone_pipelines/02_trees.py) ---------------------------------
# The reference capstone_predict feeds the model [numeric, categorical codes as floats, NaN where missing]; each
# wrong capstone_train returns a scikit-learn estimator that takes that matrix.


@wrong("capstone_train", "logistic regression on median-imputed, standardised numbers and one-hot categories "
                         "[max tier 0]")
def capstone_logistic_regression(train, time_budget_s):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical = train["categorical"].astype(float)
    categorical[categorical < 0] = np.nan
    features = np.hstack([train["numeric"], categorical])
    n_numeric = train["numeric"].shape[1]
    columns = ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), list(range(n_numeric))),
        ("codes", OneHotEncoder(handle_unknown="ignore"), list(range(n_numeric, features.shape[1]))),
    ])
    return make_pipeline(columns, LogisticRegression(max_iter=2000)).fit(features, train["y"])


@wrong("capstone_train", "HistGradientBoostingClassifier with its defaults, category codes used as numbers "
                         "[max tier 2]")
def capstone_boosting_defaults(train, time_budget_s):
    from sklearn.ensemble import HistGradientBoostingClassifier

    categorical = train["categorical"].astype(float)
    categorical[categorical < 0] = np.nan
    return HistGradientBoostingClassifier(random_state=0).fit(np.hstack([train["numeric"], categorical]), train["y"])
