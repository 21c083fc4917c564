#!/usr/bin/env bash
# Throughput of one distributed search on this machine: `automl fit --remote-workers` on a
# throwaway PostgreSQL server with 1, 2 and 4 `automl worker` processes (one lane each), beside
# the one-process run on a sled store with --jobs 2, all with the same budget: SECONDS (a time
# budget), or tN (`--max-trials N`: the same N trials in every run, whatever the number of
# workers, so the wall times compare the same work). For each run:
# searched trials, trials per minute, and what the database did per trial (commits, rows
# inserted and updated, from pg_stat_database), the figures behind docs/BENCHMARKS.md §12.
#
#   bash bench/distributed.sh DATA.csv TARGET [SECONDS|tN] [WORKER_COUNTS...]
#   e.g. bash bench/distributed.sh ../shared/bench/data/telco_churn/train.csv churn t120 1 2 4
#
# Needs root (the server runs as user postgres through runuser) and a release build
# (`cargo build --release`). Prints a markdown table on stdout, progress on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
data="$(realpath "${1:?usage: distributed.sh DATA.csv TARGET [SECONDS] [WORKERS...]}")"
target="${2:?usage: distributed.sh DATA.csv TARGET [SECONDS] [WORKERS...]}"
budget="${3:-60}"
shift $(( $# < 3 ? $# : 3 ))
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1 2 4)
case "$budget" in
  t*) budget_args=(--max-trials "${budget#t}") ;;
  *) budget_args=(--time-budget "$budget") ;;
esac
bin="$PWD/target/release/automl"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }

work="$(mktemp -d)"
chmod 711 "$work"
port=$(( 20000 + RANDOM % 20000 ))
cleanup() { bash tests/slurm/pg-server.sh stop "$work/pg" || true; rm -rf "$work"; }
trap cleanup EXIT
bash tests/slurm/pg-server.sh start "$work/pg" "$port"
psql_pg() { runuser -u postgres -- psql -h "$work/pg" -p "$port" -U postgres -qAt -v ON_ERROR_STOP=1 "$@"; }
password="bench-$RANDOM$RANDOM"
psql_pg -c "CREATE ROLE bench LOGIN PASSWORD '$password'" >/dev/null

wal() { # the server's WAL position, bytes
  psql_pg -d postgres -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"
}
stats() { # commits inserted updated deleted of one database
  psql_pg -d postgres -c "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted
    FROM pg_stat_database WHERE datname = '$1'" | tr '|' ' '
}
searched() { # searched (non-meta) trials of the store's study 1
  "$bin" leaderboard --store "$1" --format json |
    python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin) if r["family"] not in ("ensemble","stacking")))'
}

echo "| run | searched trials | trials/min (wall, from start to the final model) | commits/trial | tuples inserted/trial (TOAST pieces of ~2 kB included) | tuples updated/trial | WAL MB/trial |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"

# The one-process reference on sled.
start=$(date +%s.%N)
"$bin" fit "$data" --target "$target" "${budget_args[@]}" --jobs 2 --store "$work/sled" -q >/dev/null
wall=$(echo "$(date +%s.%N) - $start" | bc)
n=$(searched "$work/sled")
echo "sled, --jobs 2: $n trials in ${wall}s" >&2
printf '| sled, one process, --jobs 2 | %s | %.1f | - | - | - | - |\n' "$n" "$(echo "$n * 60 / $wall" | bc -l)"

for w in "${counts[@]}"; do
  db="w$w"
  psql_pg -c "CREATE DATABASE $db OWNER bench" >/dev/null
  url="postgres://bench:$password@127.0.0.1:$port/$db?sslmode=disable"
  # Let the statistics collector settle before the first reading.
  sleep 1
  read -r c0 i0 u0 _ < <(stats "$db")
  w0=$(wal)
  start=$(date +%s.%N)
  AUTOML_STORE="$url" "$bin" fit "$data" --target "$target" "${budget_args[@]}" \
    --remote-workers -q >"$work/coord-$w.out" 2>"$work/coord-$w.err" &
  coord=$!
  pids=()
  for i in $(seq 1 "$w"); do
    AUTOML_STORE="$url" "$bin" worker --study 1 --jobs 1 -q >"$work/worker-$w-$i.out" 2>&1 &
    pids+=("$!")
  done
  wait "$coord" || { cat "$work/coord-$w.err" >&2; exit 1; }
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  for p in "${pids[@]}"; do wait "$p" || true; done
  sleep 1
  read -r c1 i1 u1 _ < <(stats "$db")
  w1=$(wal)
  n=$(AUTOML_STORE="$url" searched "$url")
  echo "$w workers: $n trials in ${wall}s" >&2
  printf '| PostgreSQL, %s worker%s x 1 lane | %s | %.1f | %.1f | %.1f | %.1f | %.2f |\n' "$w" \
    "$([ "$w" = 1 ] && echo "" || echo s)" "$n" "$(echo "$n * 60 / $wall" | bc -l)" \
    "$(echo "($c1 - $c0) / $n" | bc -l)" "$(echo "($i1 - $i0) / $n" | bc -l)" \
    "$(echo "($u1 - $u0) / $n" | bc -l)" "$(echo "($w1 - $w0) / $n / 1000000" | bc -l)"
done
