#!/bin/bash
# 30-minute search on the largest bench dataset (diamonds, 37,500 training rows) with --jobs 2:
# samples the process's resident memory every 10 s and the store size every 60 s, and keeps
# /usr/bin/time -v's report (peak RSS, CPU). See docs/BENCHMARKS.md ("30-minute run").
#   bench/longrun.sh [BINARY] [OUT_DIR] [BUDGET_S]
set -u
bin="$(realpath "${1:-target/release/automl}")"
out="${2:-bench-out/longrun}"
budget="${3:-1800}"
data="$(realpath "$(dirname "$0")/../../shared/bench/data/diamonds/train.csv")"
mkdir -p "$out" && cd "$out" || exit 1
rm -rf store
/usr/bin/time -v "$bin" fit "$data" --target price --store store --time-budget "$budget" \
    --jobs 2 --seed 0 > fit.log 2> time.log &
pid=$!
sleep 1
child=$(pgrep -P $pid -f "fit" || echo $pid)
: > rss.log
i=0
while kill -0 $pid 2>/dev/null; do
  rss=$(awk '/VmRSS/{print $2}' /proc/$child/status 2>/dev/null)
  if [ $((i % 6)) -eq 0 ]; then st=$(du -sk store 2>/dev/null | cut -f1); else st=""; fi
  echo "$(date +%s) rss_kb=$rss store_kb=$st" >> rss.log
  i=$((i+1))
  sleep 10
done
wait $pid
echo "exit=$?" >> rss.log
grep -E "Maximum resident|Elapsed|Exit status" time.log
du -sh store
