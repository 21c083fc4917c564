"""The Python call against the CLI on the same search (docs/BENCHMARKS.md, "Python package").

    python python/bench_overhead.py AUTOML_BIN DATA.csv TARGET [--trials N] [--runs R] [--jobs J]

Each run: `automl fit DATA.csv --target TARGET --seed 0 --max-trials N --jobs J --store TMP
--quiet` (the process's wall time), then in this process `pd.read_csv` + `AutoML(...).fit` with
the same seed, trials and jobs, once on a store directory (as the CLI) and once on the default
in-memory store; the DataFrame -> Arrow IPC conversion is timed apart. Prints one markdown row
per run and checks that both found the same best trial.
"""

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd

from automl import AutoML, _ipc_bytes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("automl_bin")
    ap.add_argument("data")
    ap.add_argument("target")
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    print("| run | CLI fit | Python fit (store dir) | Python fit (memory) | read_csv | to Arrow IPC |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for run in range(1, a.runs + 1):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            subprocess.run(
                [a.automl_bin, "fit", a.data, "--target", a.target, "--seed", "0",
                 "--max-trials", str(a.trials), "--jobs", str(a.jobs), "--store",
                 str(Path(tmp) / "cli"), "--quiet"],
                check=True,
                capture_output=True,
            )
            cli = time.perf_counter() - t0
            times = []
            models = []
            for store in (Path(tmp) / "py", None):
                t0 = time.perf_counter()
                df = pd.read_csv(a.data)
                read = time.perf_counter() - t0
                m = AutoML(time_budget=None, max_trials=a.trials, seed=0, jobs=a.jobs,
                           store=store).fit(df, a.target)
                times.append(time.perf_counter() - t0)
                models.append(m)
            t0 = time.perf_counter()
            _ipc_bytes(df)
            ipc = time.perf_counter() - t0
            assert models[0].best_params_ == models[1].best_params_
        print(f"| {run} | {cli:.2f} s | {times[0]:.2f} s | {times[1]:.2f} s | {read * 1000:.0f} ms "
              f"| {ipc * 1000:.0f} ms |", flush=True)


if __name__ == "__main__":
    main()
