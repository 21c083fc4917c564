#!/usr/bin/env bash
# Tree-engine benchmark: our GBDT / RF / ET vs LightGBM and scikit-learn, single-threaded, same
# hyperparameters, same machine, one run. Prints a markdown table. See README.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data="${DATA:-$root/../shared/bench/data}"
py="${PYTHON:-$root/.venv/bin/python}"
reps="${REPS:-3}"
datasets="${DATASETS:-telco_churn rodents diamonds digits}"
out="${OUT:-$here/results}"
mkdir -p "$out"
# The example's path as cargo reports it (the repo's target/, or CARGO_TARGET_DIR when set).
bench_bin="$(cd "$root" && cargo build --release -q -p automl-trees --example bench \
  --message-format=json-render-diagnostics |
  grep '"name":"bench"' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)"
[ -x "$bench_bin" ] || { echo "cannot find the built bench example (got \`$bench_bin\`)" >&2; exit 1; }
: > "$out/rust.jsonl"; : > "$out/peer.jsonl"
# forests are random: their metric is averaged over SEEDS on both sides (GBDT here has no
# subsampling, so it is deterministic and runs with the first seed only)
seeds="${SEEDS:-0 1 2 3}"
for d in $datasets; do
  # the two sides alternate per dataset so that background load hits both alike
  first=1
  for s in $seeds; do
    if [ "$first" = 1 ]; then models=gbdt,rf,et; first=0; else models=rf,et; fi
    OMP_NUM_THREADS=1 "$bench_bin" --data "$data" --reps "$reps" --seed "$s" --models "$models" "$d" | tee -a "$out/rust.jsonl" >&2
    OMP_NUM_THREADS=1 "$py" "$here/peer.py" --data "$data" --reps "$reps" --seed "$s" --models "$models" "$d" | tee -a "$out/peer.jsonl" >&2
  done
done
"$py" "$here/table.py" "$out/rust.jsonl" "$out/peer.jsonl" | tee "$out/table.md"
