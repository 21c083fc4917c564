#!/usr/bin/env python3
"""Build the zero-shot portfolio from a score matrix and measure it leave-one-dataset-out.

Run from the repository root (a release build first; pandas only for run_bench's scorer):

    python3 bench/portfolio_loo.py --out bench-out/portfolio --search-trials 40

Steps (every fit has a trial budget and no time budget, so the whole pipeline is
deterministic and does not depend on the machine's load):
  1. search: `automl fit --strategy bayes --max-trials N` on each dataset's training set
     (bayes, not auto: the shipped portfolio must not seed the pool it is rebuilt from);
  2. pool:   `automl portfolio SEARCH_STORES --per-study K` -> pool.toml, each configuration
     with its `origin` (the dataset it was found on);
  3. matrix: `automl fit --portfolio pool.toml --max-trials M` on each dataset, M = the pool's
     configurations for its task, so every configuration is cross-validated on every dataset
     of its task (no ensemble, no seed variance, no successive halving);
  4. select: `automl portfolio MATRIX_STORES --select pool.toml --leave-one-out loo/
     --max-fit-seconds 20` writes
     the portfolio (greedy by normalised regret, per task) and, per dataset, the portfolio
     built without it, and prints the in-sample and held-out regrets.
The held-out portfolios are then used end to end by
`bench/run_bench.py --portfolio-dir OUT/loo` (a time-budgeted run: measure on a quiet machine).
Test scores are never read.
"""
from __future__ import annotations

import argparse
import glob
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench as rb  # noqa: E402


def count_for_task(pool_path: str, task: str) -> int:
    """Configurations of the pool that apply to `task` (entries without tasks apply to all)."""
    import tomllib
    with open(pool_path, "rb") as f:
        doc = tomllib.load(f)
    return sum(1 for c in doc.get("config", []) if not c.get("tasks") or task in c["tasks"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default="target/release/automl")
    ap.add_argument("--data", default=rb.DEFAULT_DATA)
    ap.add_argument("--datasets", default=",".join(rb.ALL_DATASETS))
    ap.add_argument("--out", default="bench-out/portfolio")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--search-trials", type=int, default=40, help="trials of each search (step 1)")
    ap.add_argument("--per-study", type=int, default=4, help="configurations taken from each search")
    ap.add_argument("--size", type=int, default=12, help="portfolio size per task")
    ap.add_argument("--max-fit-seconds", type=float, default=20.0,
                    help="a configuration whose CV fits took longer on a dataset counts as failed there "
                         "(a 60 s run would time it out); 0 = no bound")
    ap.add_argument("--output", default=None, help="portfolio file (default OUT/portfolio.toml)")
    ap.add_argument("--skip-search", action="store_true", help="reuse OUT/search stores")
    ap.add_argument("--skip-matrix", action="store_true", help="reuse OUT/matrix stores")
    a = ap.parse_args(argv)
    names = [n for n in a.datasets.split(",") if n]
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    pool = os.path.join(out, "pool.toml")
    output = os.path.abspath(a.output or os.path.join(out, "portfolio.toml"))

    def harness(extra: str):
        return rb.Harness(rb.parse_args([
            "--binary", a.binary, "--data", a.data, "--out", out, "--budget", "900",
            "--extra-args", extra]))

    binary = harness("").binary
    if not a.skip_search:
        h = harness("--strategy bayes --seed-variance 0 --no-ensemble -q")
        for name in names:
            man = rb.load_manifest(h.data_dir, name)
            work = h.fresh_dir("search", name)
            _, r = h.fit(name, man, work, None, a.jobs, a.seed, max_trials=a.search_trials)
            rb.log(f"search {name}: {'ok' if r.ok else r.describe_failure('fit')} in {r.wall_s:.0f} s")
    stores = [os.path.join(out, "search", n, "store") for n in names]
    r = rb.run_cmd(binary + ["portfolio", *stores, "--per-study", str(a.per_study), "--size", "1000",
                             "-o", pool], 600, os.path.join(out, "pool.log"))
    if not r.ok:
        print(r.describe_failure("portfolio (pool)"), file=sys.stderr)
        return 1
    if not a.skip_matrix:
        for name in names:
            man = rb.load_manifest(rb.DEFAULT_DATA if a.data is None else os.path.abspath(a.data), name)
            n = count_for_task(pool, man["task"])
            h = harness(f"--portfolio {pool} --multi-fidelity off --seed-variance 0 --no-ensemble -q")
            work = h.fresh_dir("matrix", name)
            _, r = h.fit(name, man, work, None, a.jobs, a.seed, max_trials=n)
            rb.log(f"matrix {name}: {n} configurations, {'ok' if r.ok else r.describe_failure('fit')} "
                   f"in {r.wall_s:.0f} s")
    stores = [os.path.join(out, "matrix", n, "store") for n in names]
    loo = os.path.join(out, "loo")
    shutil.rmtree(loo, ignore_errors=True)
    bound = ["--max-fit-seconds", str(a.max_fit_seconds)] if a.max_fit_seconds > 0 else []
    r = rb.run_cmd(binary + ["portfolio", *stores, "--select", pool, "--size", str(a.size),
                             "--leave-one-out", loo, "-o", output, *bound], 600,
                   os.path.join(out, "select.log"))
    print(r.stdout)
    if not r.ok:
        print(r.describe_failure("portfolio --select"), file=sys.stderr)
        return 1
    print(f"held-out portfolios: {sorted(glob.glob(os.path.join(loo, '*.toml')))[:3]} ...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
