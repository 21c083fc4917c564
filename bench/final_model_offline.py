#!/usr/bin/env python3
"""The final model refit on all rows against the fold models it was refit from, offline.

For every run directory `run_bench.py` left (OUT/bench/NAME/{store,fit.log,predict.log,
preds.csv}) whose final model was refit on all rows (single trial, ensemble or stacking members),
predict test.csv with the final trial's fold models (`automl predict --trial ID`: the meta-trial's
stored fold bags) and score both, plus blends of the two (refit share w, probabilities or values
averaged), with the peers' scorer. No run is repeated: it reads what the benchmark stored.
Runs with an active post-processing (calibration or threshold) are skipped, since `--trial`
predicts without it.

    .venv/bin/python bench/final_model_offline.py --binary BIN OUT [OUT...] \\
        [--data ../shared/bench/data] [--jsonl F]

Prints, per dataset, how often the fold models and each blend beat the refit (+ = better).
Needs numpy and pandas (the bench venv).
"""
import argparse
import collections
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import pandas as pd

HIGHER_IS_BETTER = {"roc_auc", "accuracy", "r2", "balanced_accuracy", "f1"}
BLENDS = (0.25, 0.5, 0.75)


def score(python, scorer, data_dir, name, preds):
    out = subprocess.run([python, scorer, os.path.join(data_dir, name), preds],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def one_run(args, run_dir, tmp):
    name = os.path.basename(run_dir)
    try:
        fit_log = open(os.path.join(run_dir, "fit.log")).read()
        final = int(re.search(r"\(trial (\d+)\)", open(os.path.join(run_dir, "predict.log")).read()).group(1))
        model = re.search(r"^model: (.*)$", fit_log, re.M).group(1)
        metric = re.search(r"^best: trial \d+ \S+ (\w+) =", fit_log, re.M).group(1)
    except (OSError, AttributeError):
        return None
    post = re.search(r"^post-processing: (.*)$", fit_log, re.M)
    if "refit on all" not in model or (post and not post.group(1).startswith("none")):
        return None
    fold_csv = os.path.join(tmp, "fold.csv")
    r = subprocess.run([args.binary, "predict", "--store", os.path.join(run_dir, "store"),
                        "--trial", str(final), "--no-log",
                        os.path.join(args.data, name, "test.csv"), "--output", fold_csv],
                       capture_output=True, text=True)
    if r.returncode:
        return None
    refit_csv = os.path.join(run_dir, "preds.csv")
    row = {"dir": run_dir, "dataset": name, "metric": metric, "model": model,
           "refit": score(args.python, args.scorer, args.data, name, refit_csv)[metric],
           "fold": score(args.python, args.scorer, args.data, name, fold_csv)[metric]}
    a, f = pd.read_csv(refit_csv), pd.read_csv(fold_csv)
    proba = [c for c in a.columns if c.startswith("proba_")]
    for w in BLENDS:
        b = a.copy()
        if proba:
            b[proba] = w * a[proba].values + (1 - w) * f[proba].values
            b["prediction"] = [c[len("proba_"):] for c in b[proba].idxmax(axis=1)]
        else:
            b["prediction"] = w * a["prediction"].values + (1 - w) * f["prediction"].values
        blend_csv = os.path.join(tmp, "blend.csv")
        b.to_csv(blend_csv, index=False)
        row[f"blend{w:.2f}"] = score(args.python, args.scorer, args.data, name, blend_csv)[metric]
    return row


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", nargs="+", help="run_bench.py --out directories")
    p.add_argument("--binary", required=True)
    p.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "bench", "data"))
    p.add_argument("--scorer", default=None)
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--jsonl", default=None, help="also write every run's scores here")
    args = p.parse_args()
    args.scorer = args.scorer or os.path.join(os.path.dirname(os.path.abspath(args.data)), "score_predictions.py")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for out in args.out:
            for run_dir in sorted(glob.glob(os.path.join(out, "bench", "*"))):
                row = one_run(args, run_dir, tmp)
                if row:
                    rows.append(row)
    if args.jsonl:
        with open(args.jsonl, "w") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
    keys = ["fold"] + [f"blend{w:.2f}" for w in BLENDS]
    by = collections.defaultdict(list)
    for r in rows:
        sign = 1 if r["metric"] in HIGHER_IS_BETTER else -1
        by[r["dataset"]].append({k: sign * (r[k] - r["refit"]) for k in keys})
    print("| dataset | runs | " + " | ".join(f"{k}: better / worse, mean gain" for k in keys) + " |")
    print("|---|---:|" + "---:|" * len(keys))
    total = {k: [0, 0] for k in keys}
    for name in sorted(by):
        v = by[name]
        cells = []
        for k in keys:
            w, l = sum(x[k] > 0 for x in v), sum(x[k] < 0 for x in v)
            total[k][0] += w
            total[k][1] += l
            cells.append(f"{w} / {l}, {sum(x[k] for x in v) / len(v):+.4g}")
        print(f"| {name} | {len(v)} | " + " | ".join(cells) + " |")
    print(f"| all | {len(rows)} | " + " | ".join(f"{total[k][0]} / {total[k][1]}" for k in keys) + " |")


if __name__ == "__main__":
    main()
