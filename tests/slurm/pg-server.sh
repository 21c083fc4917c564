#!/usr/bin/env bash
# A throwaway PostgreSQL server for the distributed tests and for pgbench, on a temp dir and a
# loopback port, run as the `postgres` user (the server refuses to run as root).
#   bash tests/slurm/pg-server.sh start DIR PORT   # initdb + start; prints nothing on success
#   bash tests/slurm/pg-server.sh stop DIR         # fast shutdown; safe when not running
# The cluster's superuser is `postgres`, reached through the Unix socket in DIR (peer auth);
# TCP on 127.0.0.1 asks for a password (scram-sha-256). Binaries: PG_BIN, default
# /usr/lib/postgresql/15/bin (Debian's postgresql-15).
set -euo pipefail
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
cmd="${1:?usage: pg-server.sh start DIR PORT | stop DIR}"
dir="${2:?usage: pg-server.sh start DIR PORT | stop DIR}"
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }
case "$cmd" in
  start)
    port="${3:?usage: pg-server.sh start DIR PORT}"
    mkdir -p "$dir"
    chown postgres: "$dir"
    chmod 700 "$dir"
    if ! as_pg test -w "$dir"; then
      echo "pg-server.sh: user postgres cannot reach $dir (a parent directory is not searchable by it)" >&2
      exit 1
    fi
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # Loopback only; the socket in DIR so several servers never share /run/postgresql.
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null ||
      { cat "$dir/server.log" >&2; exit 1; }
    ;;
  stop)
    [ -f "$dir/data/postmaster.pid" ] || exit 0
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null || true
    ;;
  *) echo "usage: pg-server.sh start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
