"""Join the Rust and peer JSON lines of the tree benchmark into a markdown table with ratios.
Times are CPU seconds of the fitting thread/process (robust to other load on the machine);
wall seconds are in the JSON lines. Usage: python table.py rust.jsonl peer.jsonl"""
import json
import sys

HIGHER = {"roc_auc"}
rust = {(r["dataset"], r["model"]): r for r in map(json.loads, open(sys.argv[1])) if r.get("side") == "rust"}
peer = {(r["dataset"], r["model"]): r for r in map(json.loads, open(sys.argv[2])) if r.get("side") == "peer"}
print("| dataset | model | metric | ours | peer | metric gap | fit s ours | fit s peer | fit ratio | predict s ours | predict s peer | predict ratio | model bytes ours | peer |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for key, r in rust.items():
    p = peer.get(key)
    if p is None:
        continue
    m = r["metric"]
    gap = (r["value"] - p["value"]) / abs(p["value"]) * (1 if m in HIGHER else -1) * 100
    peer_name = p.get("tool", "")
    print(f"| {key[0]} | {key[1]} vs {peer_name} | {m} | {r['value']:.4f} | {p['value']:.4f} | {gap:+.2f} % "
          f"| {r['fit_cpu_s']:.3f} | {p['fit_cpu_s']:.3f} | {r['fit_cpu_s'] / p['fit_cpu_s']:.2f} "
          f"| {r['predict_cpu_s']:.4f} | {p['predict_cpu_s']:.4f} | {r['predict_cpu_s'] / max(p['predict_cpu_s'], 1e-9):.2f} "
          f"| {r['size_bytes']} | {p['size_bytes']} |")
print()
print("metric gap: + = ours better (AUC higher, log loss / rmse lower). Ratios: ours / peer (< 1 = ours faster).")
