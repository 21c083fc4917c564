#!/usr/bin/env python3
"""Is the ensemble, when `automl` chooses it, ever worse on the test set than the best single
model by more than noise? Reads the output of a `run_bench.py` time-budget run
(OUT/bench/NAME/{store,preds.csv}, as the harness leaves them) and, for every dataset whose final
model is the ensemble (the study has an `ensemble` trial: one is stored only when chosen; it
need not be rank 1, since its score is cross-validated selection and is compared with the
cross-validated pick of a single trial, not with the best trial's own score):

1. the best single model = the best-ranked complete, full-fidelity trial that is not an
   ensemble; its fold models predict test.csv (`automl predict --trial ID`), the ensemble's
   predictions are the run's own preds.csv;
2. both are scored on the test primary metric with the peers' scorer code (run_peer.score);
3. noise = a paired bootstrap over test rows (B resamples, the same rows for both models): the
   95 % interval of (ensemble - single), signed so that + means the ensemble is better.
   "Worse by more than noise" = the whole interval is below 0.

Note: the single model predicts with its cross-validation fold models (the average of k models
fitted on (k-1)/k of the rows), not a refit on all rows; the ensemble uses whatever the final
model is (refit members, or fold models when the budget left no time to refit, as fit prints).

    .venv/bin/python bench/ensemble_vs_single.py --binary BIN --out OUT \
        [--data ../shared/bench/data] [--boot 1000] [--markdown F]

Needs numpy, pandas and scikit-learn (the bench venv).
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
LOWER_IS_BETTER = {"rmse", "log_loss", "mae"}


def peers_dir(data):
    return os.path.join(os.path.dirname(os.path.abspath(data)), "peers")


def read_preds(path, task, labels):
    p = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"prediction": str})
    if task == "regression":
        return p["prediction"].astype(float).to_numpy(), None
    proba = np.column_stack([p[f"proba_{l}"].astype(float).to_numpy() for l in labels])
    return p["prediction"].astype(str).to_numpy(), proba


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--out", required=True, help="a run_bench.py output dir (OUT/bench/NAME/...)")
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "bench", "data"))
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--markdown")
    a = ap.parse_args()
    sys.path.insert(0, peers_dir(a.data))
    from run_peer import load, score  # noqa: E402

    rows = []
    bench = os.path.join(a.out, "bench")
    for name in sorted(os.listdir(bench)):
        d = os.path.join(bench, name)
        store, preds = os.path.join(d, "store"), os.path.join(d, "preds.csv")
        if not (os.path.isdir(store) and os.path.isfile(preds)):
            continue
        lb = subprocess.run([a.binary, "leaderboard", "--store", store, "--format", "json"],
                            capture_output=True, text=True, check=True)
        board = json.loads(lb.stdout)
        top = next((r for r in board if r.get("family") == "ensemble"), board[0])
        if top.get("family") != "ensemble":
            rows.append({"dataset": name, "chosen": top.get("family")})
            continue
        single = next(r for r in board if r.get("family") != "ensemble" and r.get("state") == "complete"
                      and (r.get("fidelity") or 1.0) >= 1.0)
        ddir = os.path.join(a.data, name)
        man, _tr, ytr, _te, yte, _cats = load(ddir)
        metric = man["metrics"]["primary"]
        task = man["task"]
        labels = None if task == "regression" else sorted(set(ytr.astype(str)))
        spath = os.path.join(d, f"preds-trial{single['trial_id']}.csv")
        subprocess.run([a.binary, "predict", "--store", store, "--trial", str(single["trial_id"]),
                        os.path.join(ddir, "test.csv"), "--output", spath],
                       capture_output=True, text=True, check=True)
        y = yte.to_numpy()
        models = {k: read_preds(p, task, labels) for k, p in (("ens", preds), ("single", spath))}

        def metric_on(idx, k):
            pred, proba = models[k]
            s = score(task, y[idx], None if proba is None else proba[idx], labels, pred[idx],
                      positive_class=man.get("positive_class"))
            return s[metric]

        every = np.arange(len(y))
        ens, sgl = metric_on(every, "ens"), metric_on(every, "single")
        sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
        rng = np.random.default_rng(a.seed)
        diffs = []
        for _ in range(a.boot):
            idx = rng.integers(0, len(y), len(y))
            if task == "binary" and len(set(y[idx].astype(str))) < 2:
                continue
            diffs.append(sign * (metric_on(idx, "ens") - metric_on(idx, "single")))
        lo, hi = np.percentile(diffs, [2.5, 97.5])
        rows.append({"dataset": name, "chosen": "ensemble", "metric": metric, "ensemble": ens,
                     "single": sgl, "single_trial": single["trial_id"], "single_family": single["family"],
                     "gain": sign * (ens - sgl), "ci_lo": float(lo), "ci_hi": float(hi),
                     "worse_beyond_noise": bool(hi < 0), "better_beyond_noise": bool(lo > 0)})
        print(json.dumps(rows[-1]), file=sys.stderr)

    md = ["| dataset | metric | final model | ensemble (test) | best single (test) | ensemble − single (+ = ensemble better) | 95 % bootstrap interval | verdict |",
          "|---|---|---|---:|---:|---:|---|---|"]
    for r in rows:
        if r["chosen"] != "ensemble":
            md.append(f"| {r['dataset']} | | {r['chosen']} (single) | | | | | ensemble not chosen |")
            continue
        verdict = ("worse beyond noise" if r["worse_beyond_noise"]
                   else "better beyond noise" if r["better_beyond_noise"] else "within noise")
        md.append(f"| {r['dataset']} | {r['metric']} | ensemble | {r['ensemble']:.4g} | "
                  f"{r['single']:.4g} ({r['single_family']} #{r['single_trial']}) | {r['gain']:+.4g} | "
                  f"{r['ci_lo']:+.4g} .. {r['ci_hi']:+.4g} | {verdict} |")
    text = "\n".join(md) + "\n"
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
