"""Make K random 75/25 re-splits of a bench dataset (train.csv + test.csv pooled), each a
dataset folder with the original manifest, so both sides of the tree benchmark can be compared
over several test sets instead of the one fixed split (where a few rows can decide a
log-loss comparison).

    python bench/trees/resplit.py DATASET_DIR OUT_DIR [K]      # OUT_DIR/NAME_0 .. NAME_{K-1}
    cargo run --release -p automl-trees --example bench -- --data OUT_DIR --models gbdt NAME_0 ...
    python bench/trees/peer.py --data OUT_DIR --models gbdt NAME_0 ...
"""
import json
import os
import sys

import numpy as np
import pandas as pd


def main():
    src, out = sys.argv[1], sys.argv[2]
    k = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    name = os.path.basename(os.path.normpath(src))
    read = lambda f: pd.read_csv(os.path.join(src, f), dtype=str, keep_default_na=False)  # noqa: E731
    df = pd.concat([read("train.csv"), read("test.csv")], ignore_index=True)
    manifest = json.load(open(os.path.join(src, "manifest.json")))
    for i in range(k):
        idx = np.random.default_rng(i).permutation(len(df))
        n = int(len(df) * 0.75)
        d = os.path.join(out, f"{name}_{i}")
        os.makedirs(d, exist_ok=True)
        df.iloc[idx[:n]].to_csv(os.path.join(d, "train.csv"), index=False)
        df.iloc[idx[n:]].to_csv(os.path.join(d, "test.csv"), index=False)
        json.dump(dict(manifest, name=f"{name}_{i}"), open(os.path.join(d, "manifest.json"), "w"))
        print(d)


if __name__ == "__main__":
    main()
