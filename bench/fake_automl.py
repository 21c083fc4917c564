#!/usr/bin/env python3
"""Stand-in for the `automl` binary, used as the self-test of bench/run_bench.py.

It implements the CLI contract of the three subcommands the harness calls, with a
constant predictor (class priors, shrunk towards uniform by a seeded amount, or the train
mean plus seeded noise), and fakes a search by recording a number of trials that grows with
--jobs and stops at --max-trials or half the --time-budget:

    fake_automl.py fit TRAIN.csv [--target COL] [--task T] [--time-budget S] [--max-trials N]
                                 [--store DIR] [--seed N] [--jobs N] [--strategy S] [...]
    fake_automl.py predict --store DIR INPUT.csv --output PREDS.csv [--trial ID]
    fake_automl.py leaderboard --store DIR [--format json|table]

Fault injection (to test the harness's error handling):
    FAKE_AUTOML_FAIL=fit|predict|leaderboard|hang   make that step fail (hang = fit never ends)
    FAKE_AUTOML_FAIL_ON=SUBSTRING                   only when the input path contains SUBSTRING

Standard library only.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import sys
import time

FAMILIES = ["logistic", "naive_bayes", "knn", "decision_tree", "gbdt", "random_forest", "extra_trees"]
MODEL_FILE = "fake-model.json"


def maybe_fail(step: str, path: str) -> None:
    want = os.environ.get("FAKE_AUTOML_FAIL", "")
    on = os.environ.get("FAKE_AUTOML_FAIL_ON", "")
    if want and (not on or on in path):
        if want == "hang" and step == "fit":
            while True:
                time.sleep(1)
        if want == step:
            sys.exit(f"error: injected {step} failure (FAKE_AUTOML_FAIL={want}) for {path}")


def read_csv(path: str) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        sys.exit(f"error: {path}: empty file (expected a header row)")
    return rows[0], rows[1:]


def infer_task(values: list[str]) -> str:
    distinct = set(values)
    try:
        [float(v) for v in values]
        numeric = True
    except ValueError:
        numeric = False
    if numeric and len(distinct) > 20:
        return "regression"
    return "binary" if len(distinct) == 2 else "multiclass"


def cmd_fit(a) -> int:
    maybe_fail("fit", a.train)
    t0 = time.monotonic()
    header, rows = read_csv(a.train)
    target = a.target or header[-1]
    if target not in header:
        sys.exit(f"error: {a.train}: no column {target!r} (columns: {', '.join(header)})")
    ti = header.index(target)
    y = [r[ti] for r in rows if ti < len(r) and r[ti] != ""]
    task = a.task or infer_task(y)
    rng = random.Random(f"{a.seed}-{a.strategy or 'auto'}")
    model: dict = {"task": task, "target": target, "n_train": len(y)}
    if task == "regression":
        vals = [float(v) for v in y]
        mean = sum(vals) / len(vals)
        sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / max(1, len(vals) - 1))
        model["mean"] = mean + rng.gauss(0.0, 0.05 * sd)
    else:
        classes = sorted(set(y))
        alpha = rng.random() * 0.3  # shrink towards uniform: a worse-or-equal constant
        k = len(classes)
        model["classes"] = classes
        model["priors"] = {c: (1 - alpha) * y.count(c) / len(y) + alpha / k for c in classes}
    # fake search: ~20 trials per second per job, until max-trials or half the budget
    trials = []
    per_trial = 0.05 / max(1, a.jobs)
    limit = a.time_budget * 0.5
    while (a.max_trials is None or len(trials) < a.max_trials) and time.monotonic() - t0 < limit:
        time.sleep(per_trial)
        failed = rng.random() < 0.1
        trials.append({
            "trial_id": len(trials),
            "family": rng.choice(FAMILIES),
            "state": "failed" if failed else "complete",
            "mean": None if failed else round(rng.uniform(0.5, 1.0), 5),
            "std": None if failed else round(rng.uniform(0.0, 0.05), 5),
            "fit_time_s": round(per_trial, 4),
            "metric": {"binary": "roc_auc", "multiclass": "log_loss"}.get(task, "rmse"),
        })
    model["trials"] = trials
    os.makedirs(a.store, exist_ok=True)
    with open(os.path.join(a.store, MODEL_FILE), "w") as f:
        json.dump(model, f)
    if not a.quiet:
        ok = sum(t["state"] == "complete" for t in trials)
        print(f"fake automl: task {task}, target {target}, {len(trials)} trials ({ok} complete) "
              f"in {time.monotonic() - t0:.2f}s, store {a.store}")
    return 0


def load_model(store: str) -> dict:
    p = os.path.join(store, MODEL_FILE)
    if not os.path.exists(p):
        sys.exit(f"error: {store}: no fitted study here (missing {MODEL_FILE}); run `fit --store {store}` first")
    with open(p) as f:
        return json.load(f)


def cmd_predict(a) -> int:
    maybe_fail("predict", a.input)
    m = load_model(a.store)
    if a.trial is not None and not any(t["trial_id"] == a.trial and t["state"] == "complete" for t in m["trials"]):
        sys.exit(f"error: {a.store}: no complete trial {a.trial}")
    _header, rows = read_csv(a.input)
    with open(a.output, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        if m["task"] == "regression":
            w.writerow(["prediction"])
            for _ in rows:
                w.writerow([repr(m["mean"])])
        else:
            classes = m["classes"]
            pri = m["priors"]
            best = max(classes, key=lambda c: pri[c])
            w.writerow(["prediction"] + [f"proba_{c}" for c in classes])
            for _ in rows:
                w.writerow([best] + [repr(pri[c]) for c in classes])
    return 0


def cmd_leaderboard(a) -> int:
    maybe_fail("leaderboard", a.store)
    m = load_model(a.store)
    rows = sorted(m["trials"], key=lambda t: (t["mean"] is None, -(t["mean"] or 0.0)))
    # like automl: `final` marks the trial the final model was refit from (here the best)
    rows = [dict(t, final=(i == 0)) for i, t in enumerate(rows)]
    if a.format == "json":
        print(json.dumps(rows))
    else:
        print(f"{'trial':>5}  {'family':<14} {'state':<9} {'mean':>8} {'std':>8}")
        for t in rows:
            print(f"{t['trial_id']:>5}  {t['family']:<14} {t['state']:<9} {t['mean'] or '':>8} {t['std'] or '':>8}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(prog="fake_automl", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version="fake_automl 0 (harness self-test)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit")
    f.add_argument("train")
    f.add_argument("--target")
    f.add_argument("--task", choices=["binary", "multiclass", "regression"])
    f.add_argument("--metric")
    f.add_argument("--time-budget", type=float, default=60.0)
    f.add_argument("--max-trials", type=int)
    f.add_argument("--store", default="automl.db")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--jobs", type=int, default=1)
    f.add_argument("--space")
    f.add_argument("--strategy")
    f.add_argument("--name")
    f.add_argument("--portfolio")
    f.add_argument("--quiet", action="store_true")
    p = sub.add_parser("predict")
    p.add_argument("--store", default="automl.db")
    p.add_argument("input")
    p.add_argument("--output", required=True)
    p.add_argument("--trial", type=int)
    lb = sub.add_parser("leaderboard")
    lb.add_argument("--store", default="automl.db")
    lb.add_argument("--format", choices=["json", "table"], default="table")
    a = ap.parse_args()
    return {"fit": cmd_fit, "predict": cmd_predict, "leaderboard": cmd_leaderboard}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
