"""Check a distributed study's leaderboard against a one-process run.

usage: check_leaderboards.py DISTRIBUTED.json REFERENCE.json TRIALS

Both files are `automl leaderboard --format json` output. Checks that the distributed study has
exactly TRIALS search trials (the meta-trials aside: the ensemble, the stacking), each trial id once and every one complete,
and that both leaderboards agree row by row on trial id, family, params, state and mean score.
Exits 1 with the differences otherwise.
"""

import json
import sys

KEYS = ("trial_id", "family", "params", "state", "mean")
META = ("ensemble", "stacking")


def rows(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, list):
        sys.exit(f"{path}: expected a JSON array of trials")
    return sorted(data, key=lambda r: r["trial_id"])


def main():
    dist_path, ref_path, trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
    dist, ref = rows(dist_path), rows(ref_path)
    problems = []
    ids = [r["trial_id"] for r in dist]
    if len(ids) != len(set(ids)):
        problems.append(f"trial ids repeated: {ids}")
    search = [r for r in dist if r["family"] not in META]
    if len(search) != trials:
        problems.append(f"{len(search)} search trials, expected {trials}")
    for r in search:
        if r["state"] != "complete":
            problems.append(f"trial {r['trial_id']} is {r['state']}: {r.get('error')}")
    a = [{k: r.get(k) for k in KEYS} for r in dist]
    b = [{k: r.get(k) for k in KEYS} for r in ref]
    if a != b:
        problems.append("leaderboards differ from the one-process run:")
        for x, y in zip(a, b):
            if x != y:
                problems.append(f"  distributed {json.dumps(x, sort_keys=True)}")
                problems.append(f"  one process {json.dumps(y, sort_keys=True)}")
        if len(a) != len(b):
            problems.append(f"  {len(a)} rows vs {len(b)} rows")
    if problems:
        print("slurm test: FAILED:", *problems, sep="\n", file=sys.stderr)
        sys.exit(1)
    print(f"slurm test: {len(search)} trials complete once each; leaderboard equals the one-process run")


if __name__ == "__main__":
    main()
