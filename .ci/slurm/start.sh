#!/usr/bin/env bash
# Start a single-node SLURM cluster with accounting on this machine, for CI and the SLURM tests:
# munged, a private MariaDB, slurmdbd, slurmctld and slurmd (2 fake GPUs). Needs root and
# Debian's packages (.ci/slurm/install.sh). Configs go to /etc/slurm, where plain sbatch/sacct
# look; all state (pids, logs, database, spool) goes to STATE_DIR, fresh on every start: job ids
# restart at 1, so never reuse a submitit folder across clusters.
#
#   .ci/slurm/start.sh [STATE_DIR]     (default: $LRTRAJ_SLURM_STATE or /tmp/lrtraj-slurm)
#   .ci/slurm/stop.sh  [STATE_DIR]     stops exactly the daemons this script started, by pid
#
# Exit status 3: SLURM cannot start here (not root, packages missing, a foreign SLURM config).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${1:-${LRTRAJ_SLURM_STATE:-/tmp/lrtraj-slurm}}
GPUS=${LRTRAJ_SLURM_GPUS:-2}
DB_PORT=${LRTRAJ_SLURM_DB_PORT:-16306}
MARKER="# lrtraj test cluster"

cannot() { echo "start.sh: cannot start SLURM: $*" >&2; exit 3; }
log() { echo "start.sh: $*" >&2; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2; shift 2
  for _ in $(seq $((limit * 4))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  log "timed out waiting for $what; logs in $STATE/log"
  tail -n 20 "$STATE"/log/*.log >&2 || true
  exit 1
}

[ "$(id -u)" = 0 ] || cannot "not root"
for cmd in munged slurmdbd slurmctld slurmd sacctmgr sbatch mariadbd mariadb-install-db; do
  command -v "$cmd" >/dev/null || PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null \
    || cannot "$cmd not installed (run .ci/slurm/install.sh)"
done
export PATH=$PATH:/usr/sbin:/sbin
for conf in slurm.conf slurmdbd.conf gres.conf; do
  if [ -e "/etc/slurm/$conf" ] && ! grep -q "^$MARKER" "/etc/slurm/$conf"; then
    cannot "/etc/slurm/$conf belongs to another SLURM installation"
  fi
done
if [ -e "$STATE/run/slurmctld.pid" ] && kill -0 "$(cat "$STATE/run/slurmctld.pid")" 2>/dev/null; then
  log "already running (state $STATE)"; exit 0
fi

NODE=$(hostname -s)
# at least 8 CPUs declared (config_overrides: slurmd believes the config), so that jobs asking for
# a paper-shaped 4 CPUs fit on a 2-core CI machine; task/none binds nothing, they share the cores
CPUS=${LRTRAJ_SLURM_CPUS:-$(( $(nproc) > 8 ? $(nproc) : 8 ))}
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
DB_PASS=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
rm -rf "$STATE"
mkdir -p "$STATE"/{ctld,spool,log,run,dev,mysql}
for i in $(seq 0 $((GPUS - 1))); do ln -s /dev/null "$STATE/dev/gpu$i"; done

# munge: the authentication every SLURM daemon and client uses (reuse a running one)
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
  [ -s /etc/munge/munge.key ] || { mungekey --create --keyfile=/etc/munge/munge.key; chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key; }
  mkdir -p /run/munge && chown munge:munge /run/munge && chmod 0755 /run/munge
  runuser -u munge -- munged
  cp /run/munge/munged.pid "$STATE/run/munged.pid"
  wait_for 20 munged sh -c 'munge -n </dev/null | unmunge'
fi

# a private MariaDB for slurmdbd, on 127.0.0.1:$DB_PORT
mariadb-install-db --no-defaults --datadir="$STATE/mysql" --user=root \
  --auth-root-authentication-method=socket --skip-test-db >"$STATE/log/mariadb-install.log" 2>&1
setsid mariadbd --no-defaults --datadir="$STATE/mysql" --user=root \
  --socket="$STATE/run/mysqld.sock" --pid-file="$STATE/run/mariadbd.pid" \
  --port="$DB_PORT" --bind-address=127.0.0.1 --log-error="$STATE/log/mariadb.log" \
  --innodb-buffer-pool-size=64M </dev/null >/dev/null 2>&1 &
wait_for 60 mariadb mariadb-admin --socket="$STATE/run/mysqld.sock" ping
mariadb --socket="$STATE/run/mysqld.sock" <<SQL
CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
SQL

render() {  # render TEMPLATE DEST MODE
  sed -e "s|@STATE@|$STATE|g" -e "s|@NODE@|$NODE|g" -e "s|@CPUS@|$CPUS|g" \
    -e "s|@MEM_MB@|$MEM_MB|g" -e "s|@GPUS@|$GPUS|g" -e "s|@LAST_GPU@|$((GPUS - 1))|g" \
    -e "s|@DB_PORT@|$DB_PORT|g" -e "s|@DB_PASS@|$DB_PASS|g" "$HERE/$1" >"$2.tmp"
  { echo "$MARKER (state $STATE)"; cat "$2.tmp"; } >"$2" && rm "$2.tmp"
  chmod "$3" "$2"
}
mkdir -p /etc/slurm
render slurmdbd.conf.in /etc/slurm/slurmdbd.conf 0600
render slurm.conf.in /etc/slurm/slurm.conf 0644
render gres.conf.in /etc/slurm/gres.conf 0644

slurmdbd
wait_for 60 slurmdbd sacctmgr --noheader list cluster
sacctmgr --immediate add cluster lrtraj >/dev/null
slurmctld
wait_for 60 slurmctld scontrol ping
slurmd
node_idle() { sinfo --noheader --nodes="$NODE" --format=%T | grep -qx idle; }
wait_for 60 "node $NODE idle" node_idle
log "SLURM is up: node $NODE, $CPUS CPUs, $MEM_MB MB, $GPUS fake GPUs (state $STATE)"
