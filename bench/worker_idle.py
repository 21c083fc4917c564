#!/usr/bin/env python3
"""How busy the workers of finished `run_bench.py` runs were: per dataset, the searched trials'
wall-clock spans (`started_at_ms`..`ended_at_ms` from `automl show`, ensemble and stacking
meta-trials left out), the search window (first start to last end), the worker-seconds spent
in trials, their share of JOBS × the window, and the worker-seconds idle (JOBS minus the
trials running, integrated over the window).

    python3 bench/worker_idle.py --binary target/release/automl RUN_OUT_DIR [DATASET ...] [--jobs 2]

RUN_OUT_DIR is a run's --out directory (its stores are RUN_OUT_DIR/bench/DATASET/store);
without datasets, every dataset found there. Standard library only.
"""
import argparse
import json
import os
import subprocess


def automl_json(binary: str, *args: str):
    out = subprocess.run([binary, *args, "--format", "json"], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def spans(binary: str, store: str) -> list:
    out = []
    for t in automl_json(binary, "leaderboard", "--store", store):
        if t["family"] in ("ensemble", "stacking"):
            continue
        s = automl_json(binary, "show", str(t["trial_id"]), "--store", store)
        if s.get("started_at_ms") and s.get("ended_at_ms"):
            out.append((s["started_at_ms"], s["ended_at_ms"]))
    return out


def idle_worker_seconds(spans_ms: list, jobs: int) -> float:
    events = sorted([(a, 1) for a, _ in spans_ms] + [(b, -1) for _, b in spans_ms])
    running, last, idle = 0, events[0][0], 0.0
    for t, step in events:
        idle += max(0, jobs - running) * (t - last)
        running += step
        last = t
    return idle / 1000.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("out_dir")
    ap.add_argument("datasets", nargs="*")
    a = ap.parse_args()
    root = os.path.join(a.out_dir, "bench")
    names = a.datasets or sorted(os.listdir(root))
    print("| run | dataset | trials | search s | busy worker-s | busy share | idle worker-s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for ds in names:
        s = spans(a.binary, os.path.join(root, ds, "store"))
        if not s:
            continue
        t0, t1 = min(x for x, _ in s), max(y for _, y in s)
        busy = sum(y - x for x, y in s) / 1000.0
        window = (t1 - t0) / 1000.0
        print(f"| {os.path.basename(os.path.normpath(a.out_dir))} | {ds} | {len(s)} | "
              f"{window:.1f} | {busy:.1f} | {busy / (a.jobs * window):.2f} | "
              f"{idle_worker_seconds(s, a.jobs):.1f} |")


if __name__ == "__main__":
    main()
