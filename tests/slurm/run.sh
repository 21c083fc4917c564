#!/usr/bin/env bash
# The Slurm recipe, end to end, on the one-node cluster of tests/slurm/start-cluster.sh:
#   1. the cluster runs a 3-task array job (`hostname`) to completion;
#   2. a throwaway PostgreSQL (tests/slurm/pg-server.sh) with the roles of
#      deploy/postgres/roles.sql; `automl fit --store postgres://automl_owner@… --remote-workers
#      --max-trials 12 --seed 7` is the coordinator, and deploy/slurm/automl-worker.sbatch runs
#      3 workers as an array job, connected as the least-privileged automl_worker role;
#   3. the study is finished, its 12 trials complete, each once; the leaderboard read from
#      PostgreSQL equals the one of the same fit on a sled store (trial, family, params, state,
#      mean), i.e. remote workers change nothing.
# Needs: AUTOML_BIN (the built binary), SLURM_CONF (the running cluster), python3, root (for
# runuser). Every wait is bounded; the server, the job and the temp dir are removed at exit.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
: "${AUTOML_BIN:?set AUTOML_BIN to the automl binary}"
: "${SLURM_CONF:?set SLURM_CONF (start the cluster with tests/slurm/start-cluster.sh DIR)}"
AUTOML_BIN="$(cd "$(dirname "$AUTOML_BIN")" && pwd)/$(basename "$AUTOML_BIN")"
export SLURM_CONF
data="$root/examples/data/flowers.csv"
trials=12
seed=7
deadline_s=900

work="$(mktemp -d)"
chmod 711 "$work"   # user postgres must reach the server's directory inside it
job=""
coord=""
cleanup() {
  local rc=$?
  if [ -n "$job" ]; then scancel "$job" 2>/dev/null || true; fi
  if [ -n "$coord" ] && kill -0 "$coord" 2>/dev/null; then kill "$coord" 2>/dev/null || true; fi
  bash "$here/pg-server.sh" stop "$work/pg" || true
  if [ "$rc" != 0 ]; then
    for f in "$work"/*.log "$work"/*.out; do
      [ -f "$f" ] || continue
      echo "--- $(basename "$f") (last 40 lines)" >&2
      tail -n 40 "$f" >&2
    done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "slurm test: FAILED: $*" >&2; exit 1; }

# 1. The cluster runs an array job.
cd "$work"
timeout 120 sbatch --quiet --wait --array=1-3 --time=2 -o "$work/hello-%a.txt" --wrap 'hostname; sleep 1' ||
  fail "the 3-task hostname array job did not complete"
for i in 1 2 3; do
  grep -qx "$(hostname -s)" "$work/hello-$i.txt" 2>/dev/null || fail "array task $i wrote no host name"
done
echo "slurm test: a 3-task array job ran on $(hostname -s)"

# 2. PostgreSQL with the documented roles, on a free loopback port.
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
bash "$here/pg-server.sh" start "$work/pg" "$port"
owner_pw="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
worker_pw="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
AUTOML_OWNER_PASSWORD="$owner_pw" AUTOML_WORKER_PASSWORD="$worker_pw" \
  runuser -u postgres --preserve-environment -- \
  psql -X -q -v ON_ERROR_STOP=1 -h "$work/pg" -p "$port" -U postgres -d postgres \
  -f "$root/deploy/postgres/roles.sql" >"$work/roles.log" 2>&1 || fail "deploy/postgres/roles.sql"
owner_url="postgres://automl_owner:$owner_pw@127.0.0.1:$port/automl?sslmode=disable"
worker_url="postgres://automl_worker:$worker_pw@127.0.0.1:$port/automl?sslmode=disable"

# The coordinator: asks, enqueues, tells, builds the ensemble; evaluates nothing itself.
timeout "$deadline_s" "$AUTOML_BIN" fit "$data" --store "$owner_url" --remote-workers \
  --max-trials "$trials" --seed "$seed" --quiet >"$work/coordinator.log" 2>&1 &
coord=$!

# Its study, read as the worker role (a reader needs no more rights than a worker).
study=""
for _ in $(seq 120); do
  if study="$("$AUTOML_BIN" studies --store "$worker_url" 2>"$work/studies.log" | awk 'NR > 1 && $1 ~ /^[0-9]+$/ {print $1}' | tail -n 1)" &&
    [ -n "$study" ]; then
    break
  fi
  kill -0 "$coord" 2>/dev/null || fail "the coordinator exited before its study appeared"
  sleep 1
done
[ -n "$study" ] || fail "no study in the store after 120 s ($(tail -n 1 "$work/studies.log"))"
echo "slurm test: coordinator pid $coord, study $study, PostgreSQL on 127.0.0.1:$port"

# The workers: the recipe's array job, 3 tasks of 1 CPU (the URL goes in the environment).
job="$(AUTOML_STORE="$worker_url" AUTOML_STUDY="$study" AUTOML_BIN="$AUTOML_BIN" \
  sbatch --parsable --array=1-3 --cpus-per-task=1 --mem-per-cpu=1G --time=15 \
  -o "$work/worker-%a.out" "$root/deploy/slurm/automl-worker.sbatch")"
job="${job%%;*}"
# Until every task has left the queue (a task ends when the study ends).
for _ in $(seq "$deadline_s"); do
  [ -z "$(squeue -h -j "$job" -o %i 2>/dev/null)" ] && break
  sleep 1
done
[ -z "$(squeue -h -j "$job" -o %i 2>/dev/null)" ] || fail "worker job $job still queued or running after ${deadline_s} s"
job=""
for i in 1 2 3; do
  [ -f "$work/worker-$i.out" ] || fail "worker task $i left no output"
done
wait "$coord" || fail "the coordinator exited with $?"
coord=""
echo "slurm test: the coordinator and 3 workers finished"

# 3. Every trial complete exactly once, and the same leaderboard as one process on sled.
"$AUTOML_BIN" studies --store "$worker_url" >"$work/studies.log"
awk -v s="$study" 'NR > 1 && $1 == s' "$work/studies.log" | grep -qw finished ||
  fail "study $study is not finished: $(cat "$work/studies.log")"
"$AUTOML_BIN" leaderboard --store "$worker_url" --study "$study" --format json >"$work/pg.json"
timeout "$deadline_s" "$AUTOML_BIN" fit "$data" --store "$work/sled" \
  --max-trials "$trials" --seed "$seed" --quiet >"$work/sled-fit.log" 2>&1 || fail "the sled fit"
"$AUTOML_BIN" leaderboard --store "$work/sled" --format json >"$work/sled.json"
python3 "$here/check_leaderboards.py" "$work/pg.json" "$work/sled.json" "$trials"
echo "slurm test: passed"
