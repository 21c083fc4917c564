"""Does bin resolution explain a forest gap? Fits scikit-learn's forest twice per seed: on the raw
features (as peer.py does) and on the same features quantized to the tree engine's bins, each
value replaced by the mean of the training values in its bin (the Rust engine's numeric
binning rule, `FeatureBins::numeric` in crates/trees/src/binning.rs: one bin per distinct value
when there are at most 255, else greedy quantile bins of at least 3 rows; categorical codes
have fewer than 255 levels here and are kept). If the binned peer lands where ours does, the
gap is the 255-bin resolution, not the forest code.

Usage: python binned_peer.py [--data DIR] [--model et|rf] [--seeds 0,1,2,3] DATASET
Prints one JSON line per (seed, features).
"""
import argparse
import json
import os

import numpy as np
from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor,
                              RandomForestClassifier, RandomForestRegressor)

from peer import load, metric, ordinal

MAX_BINS = 255
MIN_DATA_IN_BIN = 3


def bin_uppers(col):
    """Upper bounds of the bins of one training column (NaN ignored), as binning.rs."""
    v = np.sort(col[~np.isnan(col)])
    d, c = np.unique(v, return_counts=True)
    upper, cur = [], 0
    if len(d) <= MAX_BINS:
        for i in range(len(d) - 1):
            cur += c[i]
            if cur >= MIN_DATA_IN_BIN:
                upper.append((d[i] + d[i + 1]) / 2)
                cur = 0
    else:
        rest, left = len(v), MAX_BINS
        for i in range(len(d) - 1):
            cur += c[i]
            target = max(-(-rest // left), MIN_DATA_IN_BIN)
            next_big = c[i + 1] >= target
            if left > 1 and (cur >= target or (next_big and cur >= MIN_DATA_IN_BIN)):
                upper.append((d[i] + d[i + 1]) / 2)
                rest -= cur
                left -= 1
                cur = 0
    upper.append(np.inf)
    return np.array(upper)


def quantize(xtr, xte):
    """Each value -> the mean of the training values in its bin (missing, coded -1, kept)."""
    xtr, xte = xtr.copy(), xte.copy()
    for j in range(xtr.shape[1]):
        miss_tr, miss_te = xtr[:, j] == -1.0, xte[:, j] == -1.0
        col = np.where(miss_tr, np.nan, xtr[:, j])
        u = bin_uppers(col)
        btr = np.searchsorted(u, xtr[:, j])
        bte = np.minimum(np.searchsorted(u, xte[:, j]), len(u) - 1)
        means = np.array([col[(btr == b) & ~miss_tr].mean() if ((btr == b) & ~miss_tr).any() else np.nan
                          for b in range(len(u))])
        means = np.where(np.isnan(means), u - 0.5, means)
        xtr[:, j] = np.where(miss_tr, -1.0, means[btr])
        xte[:, j] = np.where(miss_te, -1.0, means[bte])
    return xtr, xte


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../../shared/bench/data"))
    ap.add_argument("--model", default="et", choices=["et", "rf"])
    ap.add_argument("--seeds", default="0,1,2,3")
    ap.add_argument("dataset")
    a = ap.parse_args()
    task, k, cats, xtr, ytr, xte, yte = load(os.path.join(a.data, a.dataset))
    raw = (ordinal(xtr, cats), ordinal(xte, cats))
    binned = quantize(*raw)
    cls = {("rf", True): RandomForestClassifier, ("et", True): ExtraTreesClassifier,
           ("rf", False): RandomForestRegressor, ("et", False): ExtraTreesRegressor}[(a.model, k > 0)]
    kw = dict(criterion="gini") if k > 0 else {}
    for seed in [int(s) for s in a.seeds.split(",")]:
        for name, (xa, xb) in [("raw", raw), ("binned", binned)]:
            m = cls(n_estimators=100, max_features=0.5, min_samples_leaf=1, n_jobs=1, random_state=seed, **kw)
            m.fit(xa, ytr)
            p = m.predict_proba(xb) if k > 0 else m.predict(xb)
            mname, value = metric(task, k, yte, p)
            print(json.dumps(dict(dataset=a.dataset, model=a.model, seed=seed, features=name,
                                  metric=mname, value=value)), flush=True)


if __name__ == "__main__":
    main()
