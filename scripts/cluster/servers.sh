#!/usr/bin/env bash
# The mltrack servers of the local cluster: bash scripts/cluster/servers.sh N (called by galera-start.sh --servers N,
# which puts haproxy's `mltrack` frontend in front of them). Idempotent: a server already running with the same
# settings stays; one with other settings (another database, another token, an older build) is drained (SIGTERM) and started again;
# servers above N are drained; N=0 stops them all.
#   Server i listens on 127.0.0.1:$((MLTRACK_CLUSTER_PORT + i)) (5371, 5372, ...), runs `node dist/server/main.js`
#   (built by scripts/build-server.mjs when stale: one compiled process costs less CPU than tsx on 2 cores), logs to
#   DIR/app/s<i>.log, pid in DIR/app/s<i>.pid. All use DATABASE_URL through the database haproxy (127.0.0.1:3370,
#   database MLTRACK_CLUSTER_DB, default `mltrack`), one ARTIFACTS_DIR (default DIR/artifacts), and the admin token
#   MLTRACK_CLUSTER_TOKEN (default mltrack-cluster-admin; bootstrap creates it once, on an empty database).
#   Server i's Prometheus endpoint: http://127.0.0.1:$((MLTRACK_CLUSTER_PORT + 100 + i))/metrics (5471, ...).
# Other settings (MLTRACK_ACCESS_LOG, MLTRACK_DB_TIMEOUT_MS, MLTRACK_DRAIN_TIMEOUT_MS, ...) pass through the environment.
set -euo pipefail

N=${1:?usage: servers.sh N}
DIR=${MLTRACK_GALERA_DIR:-/tmp/mltrack-galera}
APP_PORT=${MLTRACK_CLUSTER_PORT:-5370}
DB_PORT=${MLTRACK_GALERA_PORT:-3370}
DB_NAME=${MLTRACK_CLUSTER_DB:-mltrack}
TOKEN=${MLTRACK_CLUSTER_TOKEN:-mltrack-cluster-admin}
ARTIFACTS=${ARTIFACTS_DIR:-$DIR/artifacts}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
A=$DIR/app
log() { echo "servers: $*" >&2; }
mkdir -p "$A" "$ARTIFACTS" "$A/data"

server_pid() { # pid of server i, if running
  local f=$A/s$1.pid
  [[ -s $f ]] || return 1
  local pid; pid=$(<"$f")
  kill -0 "$pid" 2>/dev/null && grep -qa 'dist/server/main.js' "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}
stop_server() { # SIGTERM: the server drains (answers what is in flight, up to MLTRACK_DRAIN_TIMEOUT_MS), then SIGKILL
  local pid
  pid=$(server_pid "$1") || { rm -f "$A/s$1.pid"; return 0; }
  kill -TERM "$pid"
  for _ in $(seq 1 140); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  rm -f "$A/s$1.pid"
  log "s$1 (pid $pid) stopped"
}
# node rather than curl: CI's image may have no curl
ready() { node -e "fetch('http://127.0.0.1:$1/ready', { signal: AbortSignal.timeout(3000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"; }

# servers above N leave first
for f in "$A"/s*.pid; do
  [[ -e $f ]] || continue
  i=${f##*/s}; i=${i%.pid}
  ((i > N)) && stop_server "$i"
done
echo "$N" >"$A/count"
if ((N == 0)); then rm -f "$A/where"; exit 0; fi

# The database and the build the servers need.
mariadb --no-defaults -uroot --socket="$DIR/n1/mysqld.sock" -e "CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4"
node "$ROOT/scripts/build-server.mjs" >&2

settings="DATABASE_URL=mysql://mltrack:mltrack@127.0.0.1:$DB_PORT/$DB_NAME ARTIFACTS_DIR=$ARTIFACTS MLTRACK_INITIAL_TOKEN=$TOKEN"
# the build's time too: a server running an older build is restarted on the new one
settings+=" MLTRACK_BUILD=$(stat -c %Y "$ROOT/dist/.build-stamp")"
settings+=" MLTRACK_ACCESS_LOG=${MLTRACK_ACCESS_LOG:-1} MLTRACK_DB_TIMEOUT_MS=${MLTRACK_DB_TIMEOUT_MS:-} MLTRACK_DRAIN_TIMEOUT_MS=${MLTRACK_DRAIN_TIMEOUT_MS:-}"
started=()
for ((i = 1; i <= N; i++)); do
  port=$((APP_PORT + i))
  if server_pid "$i" >/dev/null; then
    if [[ $(cat "$A/s$i.settings" 2>/dev/null) == "$settings" ]]; then continue; fi
    stop_server "$i"
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then log "port $port is taken by another process"; exit 1; fi
  echo "$settings" >"$A/s$i.settings"
  metrics=$((APP_PORT + 100 + i))
  # setsid: the server outlives this script and a Ctrl-C in the caller's terminal; `env` takes the settings as words
  (cd "$ROOT" && exec setsid env $settings PORT="$port" HOST=127.0.0.1 DATA_DIR="$A/data" MLTRACK_METRICS_PORT="$metrics" \
    node --enable-source-maps dist/server/main.js </dev/null >>"$A/s$i.log" 2>&1) &
  echo $! >"$A/s$i.pid"
  started+=("$i")
done
# Servers started together wait for one another's migrations (db/migrate.ts); each must answer /ready.
for i in "${started[@]}"; do
  port=$((APP_PORT + i))
  deadline=$((SECONDS + 120))
  until ready "$port"; do
    if ! server_pid "$i" >/dev/null; then log "s$i exited; see $A/s$i.log:"; tail -20 "$A/s$i.log" >&2; exit 1; fi
    ((SECONDS < deadline)) || { log "s$i not ready after 120 s; see $A/s$i.log"; exit 1; }
    sleep 0.3
  done
done
# ... and haproxy must have seen them ready (checks every second, a server is in after one success).
deadline=$((SECONDS + 30))
until ready "$APP_PORT"; do
  ((SECONDS < deadline)) || { log "haproxy on $APP_PORT does not reach a ready server"; exit 1; }
  sleep 0.3
done
{
  for ((i = 1; i <= N; i++)); do echo "servers:   s$i node pid $(server_pid "$i") http://127.0.0.1:$((APP_PORT + i)) metrics :$((APP_PORT + 100 + i)) log $A/s$i.log"; done
  echo "servers:   mltrack through haproxy: http://127.0.0.1:$APP_PORT (database $DB_NAME, artifacts $ARTIFACTS)"
  echo "servers:   export MLFLOW_TRACKING_URI=http://127.0.0.1:$APP_PORT/api/v4/projects/1/ml/mlflow MLFLOW_TRACKING_TOKEN=$TOKEN"
} >"$A/where"
((${#started[@]} == 0)) || log "started ${started[*]/#/s}"
