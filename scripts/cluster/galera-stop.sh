#!/usr/bin/env bash
# Stop what galera-start.sh started: the mltrack servers first (SIGTERM: each drains what is in flight), then haproxy,
# then the Galera nodes (clean shutdown: the last node stopped is marked safe_to_bootstrap, so the next start
# bootstraps it and the others rejoin by IST). Idempotent.
set -uo pipefail
DIR=${MLTRACK_GALERA_DIR:-/tmp/mltrack-galera}
log() { echo "galera-stop: $*" >&2; }
if [[ -d $DIR/app ]]; then MLTRACK_GALERA_DIR=$DIR bash "$(dirname "$0")/servers.sh" 0; fi
if [[ -s $DIR/haproxy/haproxy.pid ]] && kill "$(<"$DIR/haproxy/haproxy.pid")" 2>/dev/null; then log "haproxy stopped"; fi
for n in 3 2 1; do
  f=$DIR/n$n/mysqld.pid
  [[ -s $f ]] || continue
  pid=$(<"$f")
  kill -0 "$pid" 2>/dev/null || continue
  kill "$pid"
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  log "n$n stopped"
done
exit 0
