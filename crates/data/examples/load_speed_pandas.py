"""Load-speed reference: pandas.read_csv on a file. Prints the best wall time of N runs and the
mean CPU time per run (time.process_time), like examples/load_speed.rs.

Usage: python load_speed_pandas.py [FILE] [N]
(default FILE: shared/bench/data/diamonds/train.csv beside the repository, N = 20)
"""
import os
import sys
import time

import pandas as pd

here = os.path.dirname(os.path.abspath(__file__))
default = os.path.join(here, "..", "..", "..", "..", "shared", "bench", "data", "diamonds", "train.csv")
path = os.path.normpath(sys.argv[1] if len(sys.argv) > 1 else default)
n = int(sys.argv[2]) if len(sys.argv) > 2 else 20
best = float("inf")
rows = 0
cpu0 = time.process_time()
for _ in range(n):
    t = time.perf_counter()
    df = pd.read_csv(path)
    best = min(best, (time.perf_counter() - t) * 1e3)
    rows = len(df)
cpu = (time.process_time() - cpu0) * 1e3 / n
print(f"pandas {pd.__version__} read_csv: {path} ({rows} rows): best of {n}: {best:.2f} ms wall; mean CPU {cpu:.2f} ms")
