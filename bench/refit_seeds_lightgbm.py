#!/usr/bin/env python3
"""Does averaging refits with different seeds help a subsampling GBDT? A reference check with
LightGBM (not automl): on each dataset's train.csv, two LightGBM configurations that sample rows
and columns are fitted with six seeds; the test score of one fit (mean over the six) is
compared with that of three fits averaged (mean over seeds 0-2 and 3-5). Categorical columns
are LightGBM categoricals; the primary metric is roc_auc (binary), log loss (multiclass) or
rmse. See docs/BENCHMARKS.md §64.

    .venv/bin/python bench/refit_seeds_lightgbm.py [DATA_DIR]   # default ../shared/bench/data
"""
import sys
import json,numpy as np,pandas as pd,lightgbm as lgb
from sklearn.metrics import roc_auc_score,mean_squared_error,log_loss
import os
D=(sys.argv[1] if len(sys.argv)>1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),'..','..','shared','bench','data'))+'/'
for ds in ['telco_churn','titanic','bikeshare','diamonds','hitters','ames','digits','diabetes']:
    m=json.load(open(D+ds+'/manifest.json')); t=m['target']; task=m['task']
    tr=pd.read_csv(D+ds+'/train.csv'); te=pd.read_csv(D+ds+'/test.csv'); tr=tr[tr[t].notna()]
    X=tr.drop(columns=[t]); Xt=te.drop(columns=[t])
    for c in X.columns:
        if not pd.api.types.is_numeric_dtype(X[c]):
            cat=pd.CategoricalDtype(sorted(set(X[c].dropna())|set(Xt[c].dropna()))); X[c]=X[c].astype(cat); Xt[c]=Xt[c].astype(cat)
    if task=='regression':
        y=tr[t].values.astype(float); yt=te[t].values.astype(float)
        M=lgb.LGBMRegressor; sc=lambda p: np.sqrt(np.mean((p-yt)**2)); pr=lambda mdl: mdl.predict(Xt)
    else:
        cls=sorted(set(tr[t])); y=tr[t].map({c:i for i,c in enumerate(cls)}).values; yt=te[t].map({c:i for i,c in enumerate(cls)}).values
        M=lgb.LGBMClassifier
        if len(cls)==2: sc=lambda p: roc_auc_score(yt,p[:,1])
        else: sc=lambda p: log_loss(yt,p,labels=list(range(len(cls))))
        pr=lambda mdl: mdl.predict_proba(Xt)
    res=[]
    for cfg in [dict(n_estimators=300,learning_rate=0.05,num_leaves=15,subsample=0.7,subsample_freq=1,colsample_bytree=0.7,min_child_samples=10),dict(n_estimators=600,learning_rate=0.03,num_leaves=31,subsample=0.6,subsample_freq=1,colsample_bytree=0.5,min_child_samples=5)]:
        ps=[pr(M(**cfg,random_state=s,verbose=-1,n_jobs=2).fit(X,y)) for s in range(6)]
        single=np.mean([sc(p) for p in ps])
        bag3=np.mean([sc(np.mean(ps[i:i+3],axis=0)) for i in (0,3)])
        res.append('single %.5g bag3 %.5g'%(single,bag3))
    print(ds,res,flush=True)
