#!/usr/bin/env python3
"""Which regression loss for a GBDT on non-negative, skewed targets? A reference check with
LightGBM (not automl), before the `gbdt`'s `objective = tweedie` was added: on each regression
dataset's train.csv, two LightGBM configurations are fitted with squared error, Poisson,
Tweedie (variance power 1.1 ... 1.9), gamma, and squared error on log1p(y) and on sqrt(y)
(predictions transformed back); 5-fold CV RMSE on train.csv and RMSE on test.csv are printed.
Categorical columns are LightGBM categoricals. See docs/BENCHMARKS.md §65.

    .venv/bin/python bench/tweedie_lightgbm.py [DATA_DIR] [DATASETS]
    # defaults: ../shared/bench/data, bikeshare,diamonds,ames,hitters,diabetes
"""
import os
import sys
import json
import numpy as np
import pandas as pd
import lightgbm as lgb
from sklearn.model_selection import KFold

D = (sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'bench', 'data')) + '/'
DATASETS = (sys.argv[2] if len(sys.argv) > 2 else 'bikeshare,diamonds,ames,hitters,diabetes').split(',')
CONFIGS = [
    dict(n_estimators=400, learning_rate=0.05, num_leaves=31, min_child_samples=20),
    dict(n_estimators=800, learning_rate=0.03, num_leaves=15, subsample=0.8, subsample_freq=1,
         colsample_bytree=0.7, min_child_samples=10),
]
LOSSES = [('l2', {}, None, None), ('poisson', dict(objective='poisson'), None, None)]
LOSSES += [('tweedie%.1f' % p, dict(objective='tweedie', tweedie_variance_power=p), None, None)
           for p in (1.1, 1.3, 1.5, 1.7, 1.9)]
LOSSES += [('gamma', dict(objective='gamma'), None, None),
           ('log1p', {}, np.log1p, np.expm1), ('sqrt', {}, np.sqrt, np.square)]


def rmse(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2)))


for ds in DATASETS:
    m = json.load(open(D + ds + '/manifest.json'))
    t = m['target']
    tr = pd.read_csv(D + ds + '/train.csv')
    te = pd.read_csv(D + ds + '/test.csv')
    tr = tr[tr[t].notna()]
    X = tr.drop(columns=[t])
    Xt = te.drop(columns=[t])
    for c in X.columns:
        if not pd.api.types.is_numeric_dtype(X[c]):
            cat = pd.CategoricalDtype(sorted(set(X[c].dropna()) | set(Xt[c].dropna())))
            X[c] = X[c].astype(cat)
            Xt[c] = Xt[c].astype(cat)
    y = tr[t].values.astype(float)
    yt = te[t].values.astype(float)
    print(ds, 'min y', y.min(), 'skew %.2f' % pd.Series(y).skew(), flush=True)
    for i, cfg in enumerate(CONFIGS):
        out = []
        for name, kw, tf, inv in LOSSES:
            if name == 'gamma' and y.min() <= 0:
                continue
            cv = np.zeros(len(y))
            for a, b in KFold(5, shuffle=True, random_state=0).split(X):
                mdl = lgb.LGBMRegressor(**cfg, **kw, random_state=0, verbose=-1, n_jobs=2)
                mdl.fit(X.iloc[a], tf(y[a]) if tf else y[a])
                p = mdl.predict(X.iloc[b])
                cv[b] = inv(p) if inv else p
            mdl = lgb.LGBMRegressor(**cfg, **kw, random_state=0, verbose=-1, n_jobs=2)
            mdl.fit(X, tf(y) if tf else y)
            p = mdl.predict(Xt)
            p = inv(p) if inv else p
            out.append('%s cv %.5g test %.5g' % (name, rmse(cv, y), rmse(p, yt)))
        print('  config %d: ' % (i + 1) + ' | '.join(out), flush=True)
