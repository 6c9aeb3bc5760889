#!/usr/bin/env bash
# Stop the test cluster started by start.sh: each daemon by the pid it recorded in STATE_DIR/run
# (never by name), then remove the configs start.sh wrote to /etc/slurm.
#   .ci/slurm/stop.sh [STATE_DIR]
set -uo pipefail
STATE=${1:-${LRTRAJ_SLURM_STATE:-/tmp/lrtraj-slurm}}
MARKER="# lrtraj test cluster"

stop_pid() {  # stop_pid NAME: SIGTERM, wait up to 30 s, then SIGKILL
  local file="$STATE/run/$1.pid" pid
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$file"
}

# slurmd first: its job steps end with it; the database last
for daemon in slurmd slurmctld slurmdbd mariadbd munged; do stop_pid "$daemon"; done
for conf in slurm.conf slurmdbd.conf gres.conf; do
  if [ -e "/etc/slurm/$conf" ] && grep -q "^$MARKER" "/etc/slurm/$conf"; then
    rm -f "/etc/slurm/$conf"
  fi
done
echo "stop.sh: stopped the test cluster (state $STATE)" >&2
