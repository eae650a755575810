#!/usr/bin/env bash
# Start (or reuse) a throwaway MariaDB for mltrack's tests. Idempotent; run as root.
# Progress goes to stderr; the only line on stdout is the test URL, so callers can do:
#   export MLTRACK_TEST_MYSQL_URL=$(bash scripts/db/mysql-start.sh | tail -1)
set -euo pipefail

DIR=${MLTRACK_MYSQL_DIR:-/tmp/mltrack-mariadb}
PORT=${MLTRACK_MYSQL_PORT:-3306}
DATA=$DIR/data
SOCK=$DIR/mysqld.sock
PIDF=$DIR/mysqld.pid
LOG=$DIR/mysqld.log
URL="mysql://mltrack:mltrack@127.0.0.1:$PORT/mltrack_test"
export DEBIAN_FRONTEND=noninteractive
export PATH="$PATH:/usr/sbin:/sbin"

log() { echo "mysql-start: $*" >&2; }
ensure_dbs_as_mltrack() {
  mariadb --no-defaults --connect-timeout=3 --protocol=TCP -h127.0.0.1 -P"$PORT" -umltrack -pmltrack \
    -e 'CREATE DATABASE IF NOT EXISTS mltrack_test; CREATE DATABASE IF NOT EXISTS mltrack_bench;' 2>/dev/null
}
our_pid() { # pid of the server running on our datadir, if any
  [[ -s $PIDF ]] || return 1
  local pid; pid=$(<"$PIDF")
  kill -0 "$pid" 2>/dev/null && grep -qa mariadbd "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

# 1. Something already answers on the port with our credentials: reuse it.
if command -v mariadb >/dev/null && ensure_dbs_as_mltrack; then
  log "reusing server on 127.0.0.1:$PORT"
  echo "$URL"; exit 0
fi

# 2. Install the server if missing (without letting the package start its own instance).
if ! command -v mariadbd >/dev/null; then
  log "installing mariadb-server"
  made_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1
  fi
  rc=0
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends mariadb-server; } >&2 || rc=$?
  if [[ -n $made_policy ]]; then rm -f /usr/sbin/policy-rc.d; fi
  if ((rc)); then log "apt-get failed ($rc)"; exit "$rc"; fi
fi

# 3. Start our own server unless it is already running.
mkdir -p "$DIR"
chown mysql:mysql "$DIR"
if pid=$(our_pid); then
  log "server already running (pid $pid), finishing setup"
else
  if port_busy; then
    log "port $PORT is taken by something that does not accept mltrack/mltrack; set MLTRACK_MYSQL_PORT"
    exit 1
  fi
  if [[ ! -d $DATA/mysql ]]; then
    log "initialising $DATA"
    rm -rf "$DATA"; mkdir -p "$DATA"; chown mysql:mysql "$DATA"
    mariadb-install-db --no-defaults --user=mysql --datadir="$DATA" \
      --auth-root-authentication-method=normal --skip-test-db >"$DIR/install.log" 2>&1 \
      || { cat "$DIR/install.log" >&2; exit 1; }
  fi
  chown -R mysql:mysql "$DIR"
  rm -f "$SOCK" "$PIDF"
  log "starting mariadbd on 127.0.0.1:$PORT (log: $LOG)"
  setsid mariadbd --no-defaults --user=mysql --datadir="$DATA" --socket="$SOCK" --pid-file="$PIDF" \
    --port="$PORT" --bind-address=127.0.0.1 --skip-name-resolve --log-error="$LOG" \
    --innodb-flush-log-at-trx-commit=2 --innodb-buffer-pool-size=512M --max-connections=500 \
    --sql-mode=STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    </dev/null >>"$LOG" 2>&1 &
  spid=$!
  for ((i = 0; i < 300; i++)); do # ~60 s
    mariadb-admin --no-defaults --socket="$SOCK" -uroot ping >/dev/null 2>&1 && break
    if ! kill -0 "$spid" 2>/dev/null; then log "mariadbd exited:"; tail -30 "$LOG" >&2; exit 1; fi
    sleep 0.2
  done
  mariadb-admin --no-defaults --socket="$SOCK" -uroot ping >/dev/null 2>&1 \
    || { log "mariadbd did not answer within 60 s:"; tail -30 "$LOG" >&2; exit 1; }
fi

# 4. Databases, user, grants (idempotent).
mariadb --no-defaults --socket="$SOCK" -uroot <<'SQL'
CREATE DATABASE IF NOT EXISTS mltrack_test;
CREATE DATABASE IF NOT EXISTS mltrack_bench;
CREATE USER IF NOT EXISTS 'mltrack'@'127.0.0.1' IDENTIFIED BY 'mltrack';
CREATE USER IF NOT EXISTS 'mltrack'@'localhost' IDENTIFIED BY 'mltrack';
ALTER USER 'mltrack'@'127.0.0.1' IDENTIFIED BY 'mltrack';
ALTER USER 'mltrack'@'localhost' IDENTIFIED BY 'mltrack';
GRANT ALL PRIVILEGES ON `mltrack\_%`.* TO 'mltrack'@'127.0.0.1';
GRANT ALL PRIVILEGES ON `mltrack\_%`.* TO 'mltrack'@'localhost';
FLUSH PRIVILEGES;
SQL

ensure_dbs_as_mltrack || { log "cannot log in as mltrack over TCP on 127.0.0.1:$PORT"; exit 1; }
log "ready: $(mariadb --no-defaults --socket="$SOCK" -uroot -N -e 'select version()')"
echo "$URL"
