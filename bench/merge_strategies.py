#!/usr/bin/env python3
"""Merge the --jsonl files of several `run_bench.py --strategies` runs (e.g. the datasets split
over two processes) into one strategy table: mean rank per strategy over every
(dataset, seed) group, wins, and mean rank / mean test metric per dataset.

    python3 bench/merge_strategies.py A.jsonl B.jsonl ... > strategies.md
    python3 bench/merge_strategies.py --cv BINARY OUT_DIR[,OUT_DIR...] A.jsonl ...

With --cv, each run's store (OUT_DIR/strategies/NAME-sSEED-STRATEGY/store, as run_bench.py
leaves it) is read with `BINARY leaderboard` and a second table ranks the strategies on the best
cross-validated score of their searched trials (what a strategy optimises; rows written by a
newer harness carry it as `best_cv` already).

Ranks are computed within each (dataset, seed) group on the test primary metric, as
run_bench.py does (direction-aware, ties averaged, a failed run ranks last). Standard library only.
"""
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench as rb  # noqa: E402


def cv_of(binary, outs, r):
    for out in outs:
        store = os.path.join(out, "strategies", f"{r['dataset']}-s{r['seed']}-{r['strategy']}", "store")
        if os.path.isdir(store):
            p = subprocess.run([binary, "leaderboard", "--store", store, "--format", "json"],
                               capture_output=True, text=True, timeout=120)
            if p.returncode == 0:
                return rb.best_searched_cv(json.loads(p.stdout))
    return None


def table(rows, strategies, datasets, key, title):
    g = rb.rank_groups(rows, strategies, key)
    ranks, wins, per_ds, scores, complete = g["ranks"], g["wins"], g["per_ds"], g["scores"], g["complete"]
    max_trials = rows[0].get("max_trials")
    seeds = sorted({r["seed"] for r in rows})
    print(f"### {title}: --max-trials {max_trials}, {len(datasets)} datasets x {len(seeds)} seeds, "
          f"{complete} complete groups\n")
    print("| strategy | mean rank (1 = best) | groups | wins |")
    print("|---|---:|---:|---:|")
    for s in sorted(strategies, key=lambda s: statistics.mean(ranks[s]) if ranks[s] else 99):
        print(f"| {s} | {statistics.mean(ranks[s]):.2f} | {len(ranks[s])} | {wins[s]:.1f} |")
    print("\nMean rank per dataset (over seeds) / mean score:\n")
    print("| dataset | metric | " + " | ".join(strategies) + " |")
    print("|---|---|" + "|".join("---:" for _ in strategies) + "|")
    for name in datasets:
        metric = next(r["metric"] for r in rows if r["dataset"] == name)
        cells = []
        for s in strategies:
            rk, sc = per_ds.get((name, s), []), scores.get((name, s), [])
            cells.append(f"{statistics.mean(rk):.2f} / {rb.fmt_num(statistics.mean(sc))}" if rk and sc else "—")
        print(f"| {name} | {metric} | " + " | ".join(cells) + " |")
    print()


def main() -> None:
    args = sys.argv[1:]
    cv = None
    if args[:1] == ["--cv"]:
        cv = (args[1], args[2].split(","))
        args = args[3:]
    rows = []
    for path in args:
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                if r.get("mode") == "strategies" and r.get("dataset") and r.get("strategy"):
                    rows.append(r)
    if not rows:
        sys.exit("no strategies rows in the given files")
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    table(rows, strategies, datasets, "ours", "Test score (the peers' scorer on test.csv)")
    if cv:
        for r in rows:
            if r.get("best_cv") is None:
                r["best_cv"] = cv_of(cv[0], cv[1], r)
    if cv or any(r.get("best_cv") is not None for r in rows):
        table(rows, strategies, datasets, "best_cv",
              "Best cross-validated score of the searched trials (what the strategy optimises)")


if __name__ == "__main__":
    main()
