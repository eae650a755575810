#!/usr/bin/env bash
# Stop the MariaDB started by scripts/db/mysql-start.sh (same MLTRACK_MYSQL_DIR). Idempotent.
set -euo pipefail

DIR=${MLTRACK_MYSQL_DIR:-/tmp/mltrack-mariadb}
SOCK=$DIR/mysqld.sock
PIDF=$DIR/mysqld.pid
export PATH="$PATH:/usr/sbin:/sbin"

pid=
if [[ -s $PIDF ]]; then pid=$(<"$PIDF"); kill -0 "$pid" 2>/dev/null || pid=; fi
if [[ -z $pid ]]; then echo "mysql-stop: not running" >&2; exit 0; fi

mariadb-admin --no-defaults --socket="$SOCK" -uroot shutdown 2>/dev/null || kill "$pid" 2>/dev/null || true
for ((i = 0; i < 300; i++)); do # ~60 s
  kill -0 "$pid" 2>/dev/null || { echo "mysql-stop: stopped" >&2; exit 0; }
  sleep 0.2
done
echo "mysql-stop: pid $pid still running after 60 s" >&2
exit 1
