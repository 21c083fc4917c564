"""Join the Rust and peer JSON lines of the tree benchmark into a markdown table with ratios.
Times are CPU seconds of the fitting thread/process (robust to other load on the machine);
wall seconds are in the JSON lines. A (dataset, model) measured with several seeds (the forests)
shows the mean test metric over the seeds, and the spread (min..max) in its own columns; times and
sizes are means over the seeds too. Usage: python table.py rust.jsonl peer.jsonl"""
import json
import statistics
import sys
from collections import defaultdict

HIGHER = {"roc_auc"}


def grouped(path, side):
    g = defaultdict(list)
    for r in map(json.loads, open(path)):
        if r.get("side") == side:
            g[(r["dataset"], r["model"])].append(r)
    return g


def mean(rs, k):
    return statistics.mean(r[k] for r in rs)


def spread(rs):
    v = [r["value"] for r in rs]
    return f"{min(v):.4f}..{max(v):.4f}" if len(v) > 1 else "—"


rust, peer = grouped(sys.argv[1], "rust"), grouped(sys.argv[2], "peer")
print("| dataset | model | metric | seeds | ours (mean) | peer (mean) | metric gap | ours min..max | peer min..max "
      "| fit s ours | fit s peer | fit ratio | predict s ours | predict s peer | predict ratio "
      "| model bytes ours | peer |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for key, rs in rust.items():
    ps = peer.get(key)
    if not ps:
        continue
    m = rs[0]["metric"]
    ov, pv = mean(rs, "value"), mean(ps, "value")
    gap = (ov - pv) / abs(pv) * (1 if m in HIGHER else -1) * 100
    of, pf = mean(rs, "fit_cpu_s"), mean(ps, "fit_cpu_s")
    op, pp = mean(rs, "predict_cpu_s"), mean(ps, "predict_cpu_s")
    print(f"| {key[0]} | {key[1]} vs {ps[0].get('tool', '')} | {m} | {len(rs)}/{len(ps)} | {ov:.4f} | {pv:.4f} "
          f"| {gap:+.2f} % | {spread(rs)} | {spread(ps)} "
          f"| {of:.3f} | {pf:.3f} | {of / pf:.2f} | {op:.4f} | {pp:.4f} | {op / max(pp, 1e-9):.2f} "
          f"| {mean(rs, 'size_bytes'):.0f} | {mean(ps, 'size_bytes'):.0f} |")
print()
print("metric gap: + = ours better (AUC higher, log loss / rmse lower), on the means over seeds. "
      "Ratios: ours / peer (< 1 = ours faster).")
