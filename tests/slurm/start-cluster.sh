#!/usr/bin/env bash
# Start a one-node Slurm cluster on this machine, without systemd, for the Slurm recipe's test.
#   bash tests/slurm/start-cluster.sh DIR
# DIR (created if missing, normally a fresh temp dir) receives everything: the munge key, socket
# and logs, slurm.conf, slurmctld's state, slurmd's spool, the logs and the pid files. Nothing
# under /etc is changed: clients find the cluster through SLURM_CONF=DIR/slurm.conf (written to
# DIR/slurm.env for `source`). Stop it with tests/slurm/stop-cluster.sh DIR.
# Installs Debian's slurm-wlm and munge when missing (needs root for that, and to run slurmd).
# Ports: AUTOML_SLURMCTLD_PORT (default 6817) and AUTOML_SLURMD_PORT (default 6818).
set -euo pipefail
dir="${1:?usage: start-cluster.sh DIR}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
chmod 700 "$dir"

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# munge: our own key, socket, pid and log in DIR, so a system munged (if any) is left alone.
# munged refuses to run as root without --force.
mkdir -p "$dir/munge"
chmod 700 "$dir/munge"
if [ ! -s "$dir/munge/munge.key" ]; then
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
fi
munged --force \
  --key-file="$dir/munge/munge.key" \
  --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munge/munged.pid" \
  --log-file="$dir/munge/munged.log" \
  --seed-file="$dir/munge/munged.seed"
for _ in $(seq 50); do [ -S "$dir/munge/munge.socket" ] && break; sleep 0.1; done
if ! munge --socket="$dir/munge/munge.socket" -n </dev/null | unmunge --socket="$dir/munge/munge.socket" >/dev/null; then
  echo "munged did not start (log: $dir/munge/munged.log)" >&2
  cat "$dir/munge/munged.log" >&2 || true
  exit 1
fi

# The node: this machine under its short host name, reached on loopback. RealMemory a little
# below the machine's total, as slurmd drains a node that reports less than configured.
node="$(hostname -s)"
cpus="$(nproc)"
mem_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) * 95 / 100 / 1024 ))
ctld_port="${AUTOML_SLURMCTLD_PORT:-6817}"
slurmd_port="${AUTOML_SLURMD_PORT:-6818}"
mkdir -p "$dir/state" "$dir/spool" "$dir/log"
cat >"$dir/slurm.conf" <<CONF
# One-node test cluster written by tests/slurm/start-cluster.sh.
ClusterName=automl-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups, no systemd: processes are tracked through /proc, tasks are not bound.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
# Short timeouts: a test cluster should settle in seconds.
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=30
KillWait=5
Waittime=0
MailProg=/bin/true
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
echo "export SLURM_CONF=$dir/slurm.conf" >"$dir/slurm.env"
export SLURM_CONF="$dir/slurm.conf"

# -c: a clean state (no jobs from an earlier cluster in DIR). Both daemonise and write pid files.
slurmctld -c -f "$SLURM_CONF"
slurmd -N "$node" -f "$SLURM_CONF"

# Ready when the node is idle (it registers within a second or two; a drained node is an error).
for i in $(seq 60); do
  state="$(sinfo -h -N -n "$node" -o '%t' 2>/dev/null || true)"
  case "$state" in
    idle) echo "slurm: node $node idle ($cpus CPUs, ${mem_mb} MB), SLURM_CONF=$SLURM_CONF"; exit 0 ;;
    drain*|down*|fail*|inval*)
      if [ "$i" -gt 10 ]; then
        echo "slurm: node $node is $state" >&2
        scontrol show node "$node" >&2 || true
        break
      fi ;;
  esac
  sleep 1
done
echo "slurm: node $node did not become idle (state: ${state:-none}); logs in $dir/log" >&2
tail -n 30 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
exit 1
