#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for trying `moduli sweep --emit slurm` without a real
# cluster (and for the sweep's Slurm test). Needs root; no systemd, no cgroups.
#   Tools/slurm-local.sh install   install Debian's packages when sbatch or munged is missing
#   Tools/slurm-local.sh start     write the configuration, start munged, slurmctld and slurmd (installs nothing)
#   Tools/slurm-local.sh stop      stop the daemons this script started
#   Tools/slurm-local.sh status    print the node and partition (sinfo)
# After `start`, point the Slurm commands at this cluster:  export SLURM_CONF=$DIR/slurm.conf
# DIR is $MODULI_SLURM_DIR (default /tmp/moduli-slurm). Ports: $MODULI_SLURM_PORT and the next one
# (default 16817, 16818, away from a real installation's 6817 and 6818).
set -euo pipefail
DIR=${MODULI_SLURM_DIR:-/tmp/moduli-slurm}
PORT=${MODULI_SLURM_PORT:-16817}
CONF=$DIR/slurm.conf
PACKAGES=(slurmctld slurmd slurm-client munge)

# Close every descriptor above stderr that the caller passed down: the daemons would inherit them
# and keep them open for their lifetime (a caller waiting for a pipe or socket to close would hang).
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
done

die() { echo "slurm-local: $*" >&2; exit 1; }

find_daemon() {  # munged and the Slurm daemons live in /usr/sbin, which a non-login PATH may lack
  command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || return 1
}

install() {
  if command -v sbatch >/dev/null && find_daemon munged >/dev/null && find_daemon slurmctld >/dev/null && find_daemon slurmd >/dev/null; then
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "installing Slurm needs root: apt-get install -y --no-install-recommends ${PACKAGES[*]}"
  command -v apt-get >/dev/null || die "no apt-get here: install slurmctld, slurmd, the Slurm client commands and munge yourself"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || true  # an old package list may name removed versions
  apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null || die "apt-get install ${PACKAGES[*]} failed"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_config() {
  local cpus memory
  cpus=$(nproc)
  memory=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/munge"
  chmod 700 "$DIR" "$DIR/munge"
  cat > "$CONF" <<EOF
# A one-node cluster on localhost, written by Tools/slurm-local.sh.
ClusterName=moduli-local
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
MinJobAge=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
  if ! command -v sbatch >/dev/null || ! find_daemon munged >/dev/null || ! find_daemon slurmctld >/dev/null || ! find_daemon slurmd >/dev/null; then
    die "Slurm is not installed: run '$0 install' (or 'make test-deps') first"
  fi
  [ "$(id -u)" = 0 ] || die "starting the daemons needs root"
  local munged slurmctld slurmd
  munged=$(find_daemon munged) || die "munged not found"
  slurmctld=$(find_daemon slurmctld) || die "slurmctld not found"
  slurmd=$(find_daemon slurmd) || die "slurmd not found"
  write_config
  if ! pid_alive "$DIR/munge/munged.pid"; then
    [ -f "$DIR/munge/munge.key" ] || { dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 2>/dev/null; chmod 400 "$DIR/munge/munge.key"; }
    "$munged" --force --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" \
      --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" --seed-file="$DIR/munge/munged.seed" \
      </dev/null >/dev/null 2>&1 || die "munged did not start (see $DIR/munge/munged.log)"
  fi
  # The daemons get no terminal and no pipe of the caller (which would wait for them to close it).
  pid_alive "$DIR/slurmctld.pid" || "$slurmctld" -f "$CONF" </dev/null >/dev/null 2>&1 || die "slurmctld did not start (see $DIR/slurmctld.log)"
  pid_alive "$DIR/slurmd.pid" || "$slurmd" -f "$CONF" -N localhost </dev/null >/dev/null 2>&1 || die "slurmd did not start (see $DIR/slurmd.log)"
  # Wait until the node takes jobs.
  export SLURM_CONF=$CONF
  for _ in $(seq 1 60); do
    state=$(sinfo -h -n localhost -o %t 2>/dev/null || true)
    case "$state" in idle*|mix*|alloc*) echo "slurm-local: up (SLURM_CONF=$CONF)"; return 0 ;; esac
    if [[ "$state" == drain* || "$state" == down* ]]; then scontrol update NodeName=localhost State=RESUME 2>/dev/null || true; fi
    sleep 0.5
  done
  die "the node did not become idle (state '${state:-unknown}'; see $DIR/slurmctld.log and $DIR/slurmd.log)"
}

stop_one() {  # pid file, name
  if pid_alive "$1"; then
    local pid; pid=$(cat "$1")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

stop() {
  stop_one "$DIR/slurmd.pid"
  stop_one "$DIR/slurmctld.pid"
  stop_one "$DIR/munge/munged.pid"
  echo "slurm-local: stopped"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) SLURM_CONF=$CONF sinfo ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 64 ;;
esac
