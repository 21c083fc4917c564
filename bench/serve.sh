#!/usr/bin/env bash
# `automl serve` vs FastAPI + uvicorn (2 workers) + scikit-learn HistGradientBoosting on the
# same data (examples/data/churn.csv), loopback, with wrk: requests/s and p50/p99 at batch 1
# and batch 100, and the shadow's overhead. Two cores: wrk runs on CPU 0, the server on CPU 1
# (taskset), so load generator and server never share a core.
#
#   bench/serve.sh            # needs: wrk (apt-get install wrk), a release build, python3
#
# The peer's Python packages come from the repo's .venv when it has them, else from a venv
# made under /tmp (pip install fastapi uvicorn scikit-learn pandas).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DUR=${DUR:-10s}
CONNS=${CONNS:-16}
BIN=${AUTOML_BIN:-$ROOT/target/release/automl}
[ -x "$BIN" ] || cargo build --release --bin automl
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
PY=$ROOT/.venv/bin/python
if ! { [ -x "$PY" ] && "$PY" -c 'import fastapi, uvicorn, sklearn, pandas' 2>/dev/null; }; then
  VENV=${PEER_VENV:-/tmp/automl-serve-peer-venv}
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -c 'import fastapi, uvicorn, sklearn, pandas' 2>/dev/null ||
    "$VENV/bin/pip" install -q fastapi uvicorn scikit-learn pandas
  PY=$VENV/bin/python
fi
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
DATA=$ROOT/examples/data/churn.csv

# A gbdt model (the peer's model family) and a second trial for the shadow.
"$BIN" fit "$DATA" --store "$WORK/db" --max-trials 8 --space fast --seed 1 --quiet >/dev/null
GBDT=$("$BIN" leaderboard --store "$WORK/db" --family gbdt --format json --top 2 |
  "$PY" -c 'import json,sys; r=json.load(sys.stdin); print(r[0]["trial_id"], r[-1]["trial_id"])')
read -r TRIAL SHADOW <<<"$GBDT"

# Request bodies: row 1 alone, rows 1..100 (features only).
"$PY" - "$DATA" "$WORK" <<'PYEOF'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def conv(v):
    try: return float(v)
    except ValueError: return v
recs = [{k: conv(v) for k, v in r.items() if k != "churned"} for r in rows]
for n in (1, 100):
    body = json.dumps(recs[:n])
    with open(f"{sys.argv[2]}/post{n}.lua", "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
        f.write("wrk.body = " + json.dumps(body) + "\n")
PYEOF

wait_port() { for _ in $(seq 1 300); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }
run_wrk() { # NAME PORT BATCH [CONNECTIONS]
  local out c=${4:-$CONNS}
  out=$(taskset -c 0 wrk -t1 -c"$c" -d"$DUR" --latency -s "$WORK/post$3.lua" "http://127.0.0.1:$2/predict")
  local rps p50 p99 errs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {print $4}' <<<"$out")
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$3" "$c" "$rps" "$p50" "$p99" "${errs:-0}"
}
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }

echo "| server | batch | connections | requests/s | p50 | p99 | non-2xx |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
taskset -c 1 "$BIN" serve --store "$WORK/db" --trial "$TRIAL" --port 18081 --workers 1 --no-log >/dev/null &
P=$!; PIDS+=("$P"); wait_port 18081
for b in 1 100; do run_wrk "automl serve (trial $TRIAL, gbdt)" 18081 "$b"; done
# One connection: the server is not saturated, so this is the latency a shadow would add.
run_wrk "automl serve (trial $TRIAL, gbdt)" 18081 1 1
stop "$P"
taskset -c 1 "$BIN" serve --store "$WORK/db" --trial "$TRIAL" --shadow "$SHADOW" --port 18082 --workers 1 --no-log >/dev/null &
P=$!; PIDS+=("$P"); wait_port 18082
run_wrk "automl serve + shadow (trial $SHADOW)" 18082 1
run_wrk "automl serve + shadow (trial $SHADOW)" 18082 1 1
curl -s http://127.0.0.1:18082/metrics | grep -E '^automl_(shadow_dropped_total|requests_total)' >&2 || true
stop "$P"
(cd "$ROOT/bench" && PEER_DATA=$DATA exec taskset -c 1 "$PY" -m uvicorn serve_peer:app --workers 2 --port 18083 --log-level warning) &
P=$!; PIDS+=("$P"); wait_port 18083; sleep 2
for b in 1 100; do run_wrk "FastAPI + uvicorn (2 workers) + HistGradientBoosting" 18083 "$b"; done
stop "$P"
