#!/usr/bin/env python3
"""Search throughput next to FLAML's: completed trials per minute of a `run_bench.py` run
(its --jsonl file) against the configurations FLAML tried at the same budget
(`n_configs_tried` in the peers file), per dataset, as a markdown table.

    python3 bench/trials_vs_flaml.py RUN_10.jsonl RUN_30.jsonl RUN_60.jsonl \
        [--peers ../shared/bench/results/peers-public.jsonl --peers FLAML_30.jsonl]

Beside the counts, the best CV score each side reached (ours: the best trial's cross-validated
score; FLAML: its best validation loss as a score), so tiny trials cannot game the count.

A trial of ours is one configuration cross-validated (5 folds, or a 20 % holdout on big data,
possibly on a subsample under successive halving); FLAML's count is its configurations tried
(holdout or CV as FLAML chooses, also with sample-size growth). Both ran with 2 jobs.
Standard library only.
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_bench import flaml_validation_score  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PEERS = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "bench", "results",
                                              "peers-public.jsonl"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run_bench.py --jsonl files (default mode), e.g. 10, 30 and 60 s")
    ap.add_argument("--peers", action="append", default=None,
                    help=f"a peers file with FLAML rows; repeat to add more, e.g. a 30 s run (default {DEFAULT_PEERS})")
    a = ap.parse_args()
    flaml = {}
    for path in a.peers or [DEFAULT_PEERS]:
        with open(path) as f:
            for line in f:
                if not line.strip():
                    continue
                r = json.loads(line)
                if r.get("tool") == "flaml" and r.get("n_configs_tried") is not None:
                    flaml[(r["dataset"], float(r["budget_s"]))] = r
    rows = []
    for path in a.runs:
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                if r.get("mode") == "bench" and "dataset" in r and r.get("budget_s") is not None:
                    rows.append(r)
    print("| dataset | budget s | our trials (complete / total) | our fit s | our trials/min | "
          "FLAML configs | FLAML fit s | FLAML configs/min | ratio ours/FLAML | our best CV | "
          "FLAML best validation |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ratios = []
    for r in rows:
        p = flaml.get((r["dataset"], float(r["budget_s"])))
        ours = None
        if r.get("trials_total") is not None and r.get("fit_wall_s"):
            ours = r["trials_total"] / (r["fit_wall_s"] / 60.0)
        theirs = None
        if p is not None and p.get("fit_wall_s"):
            theirs = p["n_configs_tried"] / (p["fit_wall_s"] / 60.0)
        ratio = ours / theirs if ours and theirs else None
        if ratio is not None:
            ratios.append(ratio)
        cell = lambda v, f="{:.0f}": "—" if v is None else f.format(v)  # noqa: E731
        print(f"| {r['dataset']} | {r['budget_s']:g} | {cell(r.get('trials_complete'))} / "
              f"{cell(r.get('trials_total'))} | {cell(r.get('fit_wall_s'), '{:.1f}')} | {cell(ours)} | "
              f"{cell(p and p['n_configs_tried'])} | {cell(p and p.get('fit_wall_s'), '{:.1f}')} | "
              f"{cell(theirs)} | {cell(ratio, '{:.2f}')} | {cell(r.get('best_cv'), '{:.4g}')} | "
              f"{cell(p and flaml_validation_score(p, r['metric']), '{:.4g}')} |")
    if ratios:
        print(f"\nmedian ratio of trials per minute (ours / FLAML): {statistics.median(ratios):.2f} "
              f"over {len(ratios)} datasets; trials/min counts every trial (failed and timed-out too).")


if __name__ == "__main__":
    main()
