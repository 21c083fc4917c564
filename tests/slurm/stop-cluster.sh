#!/usr/bin/env bash
# Stop the one-node Slurm cluster that tests/slurm/start-cluster.sh DIR started: slurmd,
# slurmctld and munged, by the pids in their pid files in DIR (never by name), waiting until
# each has gone. Safe to run when some or none of them run; always exits 0.
#   bash tests/slurm/stop-cluster.sh DIR
set -uo pipefail
dir="${1:?usage: stop-cluster.sh DIR}"
[ -d "$dir" ] || exit 0
for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
  [ -s "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || continue
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$pidfile"
done
exit 0
