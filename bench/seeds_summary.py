#!/usr/bin/env python3
"""Summarise several `run_bench.py` runs of the same budget with different seeds (their --jsonl
files) against the peers, as a markdown table: per dataset our mean, min and max test score
over the seeds, the peers' scores (one run each, seed 0, from the peers file the runs read),
and whether we are at least as good as each peer on the mean, on every seed, and beyond the
noise of our seeds (the peer outside our min..max range, on the wrong side of it).

    python3 bench/seeds_summary.py RUN_S0.jsonl RUN_S1.jsonl RUN_S2.jsonl [--peers ag60,flaml60,flaml10]

Standard library only.
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_bench import at_least_as_good, lower_is_better  # noqa: E402

PEER_NAMES = {"flaml10": "FLAML@10", "flaml60": "FLAML@60", "ag60": "AG@60", "rf": "sk-RF",
              "hgb": "sk-HGB"}


def fmt(v) -> str:
    if v is None:
        return "–"
    if abs(v) >= 100:
        return f"{v:.1f}"
    return f"{v:.4f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run_bench.py --jsonl files (default mode), one per seed")
    ap.add_argument("--peers", default="flaml60,ag60", help="peer columns to compare with")
    a = ap.parse_args()
    peers = [p for p in a.peers.split(",") if p]
    rows: dict = {}
    order = []
    budgets = set()
    for path in a.runs:
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                if r.get("mode") != "bench" or "dataset" not in r:
                    continue
                d = r["dataset"]
                if d not in rows:
                    rows[d] = []
                    order.append(d)
                rows[d].append(r)
                budgets.add(r.get("budget_s"))
    head = ["dataset", "metric", "seeds", "ours mean", "ours min..max", "budget kept"]
    for p in peers:
        head += [PEER_NAMES.get(p, p), f"≥ {PEER_NAMES.get(p, p)} mean / every seed / beyond noise"]
    print(f"budget(s): {sorted(b for b in budgets if b is not None)}; runs: {len(a.runs)}\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    counts = {p: [0, 0, 0, 0] for p in peers}  # mean, every, beyond noise (better), worse beyond noise
    kept_total = kept = 0
    for d in order:
        rs = rows[d]
        metric = rs[0]["metric"]
        vals = [r["ours"] for r in rs if r.get("ours") is not None]
        kept += sum(1 for r in rs if r.get("budget_kept"))
        kept_total += len(rs)
        if not vals:
            print(f"| {d} | {metric} | {len(rs)} | – | – | – |" + " – | – |" * len(peers))
            continue
        mean = statistics.fmean(vals)
        lo, hi = min(vals), max(vals)
        best, worst = (lo, hi) if lower_is_better(metric) else (hi, lo)
        cells = [d, metric, str(len(vals)), fmt(mean), f"{fmt(lo)}..{fmt(hi)}",
                 f"{sum(1 for r in rs if r.get('budget_kept'))}/{len(rs)}"]
        for p in peers:
            pv = rs[0].get(p)
            if pv is None:
                cells += ["–", "–"]
                continue
            m_ok = at_least_as_good(metric, mean, pv)
            every = all(at_least_as_good(metric, v, pv) for v in vals)
            beyond = at_least_as_good(metric, worst, pv) and worst != pv
            worse_beyond = not at_least_as_good(metric, best, pv)
            counts[p][0] += m_ok
            counts[p][1] += every
            counts[p][2] += beyond
            counts[p][3] += worse_beyond
            tag = "better beyond noise" if beyond else ("worse beyond noise" if worse_beyond else "within noise")
            cells += [fmt(pv), f"{'yes' if m_ok else 'no'} / {'yes' if every else 'no'} / {tag}"]
        print("| " + " | ".join(cells) + " |")
    print()
    n = len(order)
    for p in peers:
        c = counts[p]
        print(f"- ≥ {PEER_NAMES.get(p, p)}: on the mean {c[0]}/{n}, on every seed {c[1]}/{n}; "
              f"better beyond noise {c[2]}/{n}, worse beyond noise {c[3]}/{n}")
    print(f"- budget kept: {kept}/{kept_total} runs")


if __name__ == "__main__":
    main()
