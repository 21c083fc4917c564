"""Peer side of the tree-engine benchmark: LightGBM (GBDT) and scikit-learn RandomForest /
ExtraTrees, single-threaded, with the same hyperparameters and encoding as
crates/trees/examples/bench.rs. Prints one JSON line per (dataset, model).

Encoding (same as the Rust side):
- a column is categorical when some non-empty train cell is not a number; its levels are the
  sorted distinct train strings, coded 0..n-1 in that order; unseen test levels and empty cells
  are missing;
- LightGBM gets categorical columns as pandas `category` (native categorical splits), numeric
  columns as float with NaN;
- scikit-learn forests get the ordinal codes, with every missing cell (numeric or categorical)
  imputed as -1 (the Rust forests route missing values natively instead);
- binary: manifest.positive_class is class 1; multiclass: sorted label strings -> 0..k-1.

Usage: python peer.py [--data DIR] [--reps N] [--models gbdt,rf,et] DATASET...
"""
import argparse
import json
import os
import time

import numpy as np
import pandas as pd
import lightgbm as lgb
from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.metrics import log_loss, mean_squared_error, roc_auc_score


def is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def load(d):
    man = json.load(open(os.path.join(d, "manifest.json")))
    rd = lambda f: pd.read_csv(os.path.join(d, f), dtype=str, keep_default_na=False)
    tr, te = rd("train.csv"), rd("test.csv")
    feats = list(tr.columns[:-1])
    target = tr.columns[-1]
    cats = [c for c in feats if any(v != "" and not is_number(v) for v in tr[c])]
    levels = {c: sorted({v for v in tr[c] if v != ""}) for c in cats}

    def enc(df):
        out = {}
        for c in feats:
            if c in cats:
                out[c] = pd.Categorical(df[c].where(df[c] != "", None), categories=levels[c])
            else:
                out[c] = pd.to_numeric(df[c].replace("", np.nan)).astype(float)
        return pd.DataFrame(out)

    task = man["task"]
    if task == "binary":
        pos = man["positive_class"]
        ymap = lambda s: (s == pos).astype(int).to_numpy()
        k = 2
    elif task == "multiclass":
        labels = sorted(set(tr[target]))
        idx = {l: i for i, l in enumerate(labels)}
        ymap = lambda s: s.map(idx).to_numpy().astype(int)
        k = len(labels)
    else:
        ymap = lambda s: s.astype(float).to_numpy()
        k = 0
    return task, k, cats, enc(tr), ymap(tr[target]), enc(te), ymap(te[target])


def ordinal(df, cats):
    x = df.copy()
    for c in cats:
        x[c] = x[c].cat.codes.astype(float).replace(-1, np.nan)
    return x.fillna(-1.0).to_numpy(dtype=float)


def metric(task, k, y, p):
    if task == "binary":
        return "roc_auc", roc_auc_score(y, p[:, 1])
    if task == "multiclass":
        return "log_loss", log_loss(y, p, labels=list(range(k)))
    return "rmse", float(np.sqrt(mean_squared_error(y, p)))


def clocks():
    return time.perf_counter(), time.process_time()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../../shared/bench/data"))
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--models", default="gbdt,rf,et")
    ap.add_argument("--seed", type=int, default=0, help="random_state of the forests, LightGBM seed")
    ap.add_argument("datasets", nargs="+")
    a = ap.parse_args()
    for name in a.datasets:
        task, k, cats, xtr, ytr, xte, yte = load(os.path.join(a.data, name))
        for model in a.models.split(","):
            best = None
            for _ in range(a.reps):
                w0, c0 = clocks()
                if model == "gbdt":
                    obj = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}[task]
                    params = dict(objective=obj, num_leaves=31, learning_rate=0.1, max_bin=255,
                                  min_data_in_leaf=20, min_sum_hessian_in_leaf=1e-3,
                                  num_threads=1, verbose=-1, deterministic=True, seed=a.seed)
                    if task == "multiclass":
                        params["num_class"] = k
                    ds = lgb.Dataset(xtr, label=ytr, categorical_feature="auto", free_raw_data=False)
                    m = lgb.train(params, ds, num_boost_round=200)
                    w1, c1 = clocks()
                    p = m.predict(xte)
                    w2, c2 = clocks()
                    if task == "binary":
                        p = np.column_stack([1 - p, p])
                    size = len(m.model_to_string())
                else:
                    xo, xto = ordinal(xtr, cats), ordinal(xte, cats)
                    cls = {("rf", True): RandomForestClassifier, ("et", True): ExtraTreesClassifier,
                           ("rf", False): RandomForestRegressor, ("et", False): ExtraTreesRegressor}[(model, k > 0)]
                    kw = dict(criterion="gini") if k > 0 else {}
                    m = cls(n_estimators=100, max_features=0.5, min_samples_leaf=1, n_jobs=1, random_state=a.seed, **kw)
                    w0, c0 = clocks()
                    m.fit(xo, ytr)
                    w1, c1 = clocks()
                    p = m.predict_proba(xto) if k > 0 else m.predict(xto)
                    w2, c2 = clocks()
                    import pickle
                    size = len(pickle.dumps(m))
                mname, value = metric(task, k, yte, p)
                rec = dict(side="peer", dataset=name, model=model, fit_s=w1 - w0, predict_s=w2 - w1,
                           fit_cpu_s=c1 - c0, predict_cpu_s=c2 - c1, metric=mname, value=value, size_bytes=size,
                           seed=a.seed,
                           tool=("lightgbm " + lgb.__version__) if model == "gbdt" else "sklearn")
                if best is None or rec["fit_cpu_s"] < best["fit_cpu_s"]:
                    best = rec
            print(json.dumps(best), flush=True)


if __name__ == "__main__":
    main()
