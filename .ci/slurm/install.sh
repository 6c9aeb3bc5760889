#!/usr/bin/env bash
# Debian packages of the test cluster (SLURM 22.05 on bookworm, munge, MariaDB for slurmdbd).
# Daemons are not started here (start.sh does that, by hand: there is no systemd in CI).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq \
  slurmctld slurmd slurm-client slurmdbd slurm-wlm-basic-plugins slurm-wlm-mysql-plugin \
  munge mariadb-server >/dev/null
