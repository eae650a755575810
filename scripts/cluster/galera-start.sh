#!/usr/bin/env bash
# Start (or complete) a local 3-node MariaDB Galera cluster with haproxy in front, and optionally N mltrack servers
# behind a second haproxy frontend. Idempotent; run as root.
# Usage: bash scripts/cluster/galera-start.sh [--roundrobin] [--servers N]
#   --servers N: N mltrack servers (scripts/cluster/servers.sh: ports 5371.., one database through haproxy, one shared
#   ARTIFACTS_DIR) behind haproxy on 127.0.0.1:5370 (MLTRACK_CLUSTER_PORT), which sends a request only to a server
#   whose GET /ready answers 200. Without --servers, the servers already running stay as they are; --servers 0 stops them.
#   DIR (MLTRACK_GALERA_DIR, default /tmp/mltrack-galera) holds n1..n3 (my.cnf, data/, err.log, sock) and haproxy/.
#   Ports: node N: mysql 337N, gcomm 466N, IST 467N, SST 468N; haproxy: 3370 (MLTRACK_GALERA_PORT).
#   With nothing running it bootstraps the node grastate.dat marks safe_to_bootstrap, else the most advanced one
#   (its position recovered with --wsrep-recover); a node that is down rejoins by IST. Waits until all three are
#   Synced with cluster size 3. The last line on stdout is the URL through haproxy:
#     export MLTRACK_TEST_GALERA_URL=$(bash scripts/cluster/galera-start.sh | tail -1)
# Why each setting: shared/reference/galera.md (mariadbd runs as `mysql`, so rsync SST can enter the datadirs;
# wsrep_mode makes a table without a primary key fail loudly).
set -euo pipefail

DIR=${MLTRACK_GALERA_DIR:-/tmp/mltrack-galera}
LB_PORT=${MLTRACK_GALERA_PORT:-3370}
APP_PORT=${MLTRACK_CLUSTER_PORT:-5370}
MODE=first
SERVERS=
while (($#)); do
  case $1 in
    --roundrobin) MODE=roundrobin ;;
    --servers) SERVERS=${2:?--servers needs a number}; shift ;;
    --servers=*) SERVERS=${1#--servers=} ;;
    *) echo "galera-start: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[[ -z $SERVERS || $SERVERS =~ ^[0-9]+$ ]] || { echo "galera-start: --servers takes a number" >&2; exit 2; }
# without --servers: keep the count that runs now (servers.sh records it)
[[ -z $SERVERS ]] && SERVERS=$(cat "$DIR/app/count" 2>/dev/null || echo 0)
export DEBIAN_FRONTEND=noninteractive PATH="$PATH:/usr/sbin:/sbin"
log() { echo "galera-start: $*" >&2; }
node_dir() { echo "$DIR/n$1"; }
node_pid() { # pid of node N's mariadbd, if running
  local f; f="$(node_dir "$1")/mysqld.pid"
  [[ -s $f ]] || return 1
  local pid; pid=$(<"$f")
  kill -0 "$pid" 2>/dev/null && grep -qa mariadbd "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}
sql() { # sql N 'statement' → tab-separated rows, as root over the node's socket
  mariadb --no-defaults -uroot --socket="$(node_dir "$1")/mysqld.sock" -N -B -e "$2" 2>/dev/null
}
state() { sql "$1" "SHOW STATUS LIKE 'wsrep_local_state'" | cut -f2; }
size() { sql "$1" "SHOW STATUS LIKE 'wsrep_cluster_size'" | cut -f2; }

# 1. Packages: MariaDB with galera-4 and rsync for state transfers, haproxy in front.
need=()
command -v mariadbd >/dev/null || need+=(mariadb-server)
[[ -e /usr/lib/galera/libgalera_smm.so ]] || need+=(galera-4)
command -v rsync >/dev/null || need+=(rsync)
command -v haproxy >/dev/null || need+=(haproxy)
command -v socat >/dev/null || need+=(socat)
command -v ss >/dev/null || need+=(iproute2) # wsrep_sst_rsync looks for its port with ss (or lsof)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  made_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1; fi
  rc=0
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >&2 || rc=$?
  [[ -n $made_policy ]] && rm -f /usr/sbin/policy-rc.d
  ((rc)) && { log "apt-get failed ($rc)"; exit "$rc"; }
fi

# 2. Per-node configuration.
mkdir -p "$DIR"
for n in 1 2 3; do
  d=$(node_dir "$n")
  mkdir -p "$d/data"
  cat >"$d/my.cnf" <<CNF
[mariadbd]
user=mysql
datadir=$d/data
socket=$d/mysqld.sock
pid-file=$d/mysqld.pid
log-error=$d/err.log
port=337$n
bind-address=127.0.0.1
skip-name-resolve
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
innodb-buffer-pool-size=128M
innodb-flush-log-at-trx-commit=2
max-connections=300
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider=/usr/lib/galera/libgalera_smm.so
wsrep_cluster_name=mltrack
wsrep_cluster_address=gcomm://127.0.0.1:4661,127.0.0.1:4662,127.0.0.1:4663
wsrep_node_name=n$n
wsrep_node_address=127.0.0.1:466$n
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:466$n;ist.recv_addr=127.0.0.1:467$n;gcache.size=64M"
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:468$n
wsrep_mode=REQUIRED_PRIMARY_KEY,STRICT_REPLICATION
CNF
  chown -R mysql:mysql "$d"
  if [[ ! -d $d/data/mysql ]]; then
    log "initialising n$n"
    mariadb-install-db --defaults-file="$d/my.cnf" --auth-root-authentication-method=socket >/dev/null 2>&1
    chown -R mysql:mysql "$d"
  fi
done

start_node() { # start_node N [extra mariadbd args…]
  local n=$1; shift
  local d; d=$(node_dir "$n")
  log "starting n$n $*"
  mariadbd --defaults-file="$d/my.cnf" "$@" >>"$d/err.log" 2>&1 &
}
wait_synced() { # wait_synced N seconds
  local n=$1 deadline=$((SECONDS + $2))
  until [[ $(state "$n") == 4 ]]; do
    ((SECONDS < deadline)) || { log "n$n not Synced after $2 s; see $(node_dir "$n")/err.log"; tail -20 "$(node_dir "$n")/err.log" >&2; exit 1; }
    sleep 0.5
  done
}
# The position InnoDB holds after a crash (uuid:seqno), as Debian's galera_recovery finds it: my.cnf sends the log to
# err.log, so --wsrep-recover gets a log file of its own (reading its stderr found nothing: the node then rejoined
# by a full SST instead of IST).
recover() {
  local f; f=$(mktemp /tmp/mltrack-galera-recover.XXXXXX); chown mysql "$f"
  mariadbd --defaults-file="$(node_dir "$1")/my.cnf" --user=mysql --log-error="$f" --wsrep-recover >/dev/null 2>&1 || true
  grep -o 'Recovered position: .*' "$f" | sed 's/Recovered position: //' | tail -1 || true
  rm -f "$f"
}
seqno() { awk '/^seqno:/ {print $2}' "$(node_dir "$1")/data/grastate.dat" 2>/dev/null || echo -1; }

# 3. Bootstrap when no node runs: the one marked safe_to_bootstrap, else the most advanced.
running=()
for n in 1 2 3; do node_pid "$n" >/dev/null && running+=("$n"); done
if ((${#running[@]} == 0)); then
  boot=
  for n in 1 2 3; do grep -q '^safe_to_bootstrap: 1' "$(node_dir "$n")/data/grastate.dat" 2>/dev/null && boot=$n && break; done
  if [[ -z $boot ]]; then
    best=-2
    for n in 1 2 3; do
      s=$(seqno "$n")
      if [[ $s == -1 || -z $s ]]; then # crashed: recover the position from InnoDB
        s=$(recover "$n" | awk -F: '{print $NF}')
        s=${s:--1}
      fi
      if ((s > best)); then best=$s; boot=$n; fi
    done
    [[ -f $(node_dir "$boot")/data/grastate.dat ]] && sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$(node_dir "$boot")/data/grastate.dat"
  fi
  start_node "$boot" --wsrep-new-cluster
  wait_synced "$boot" 60
  running+=("$boot")
fi

# 4. The others join (IST when their position is known, else a full SST by rsync).
for n in 1 2 3; do
  node_pid "$n" >/dev/null && continue
  s=$(seqno "$n")
  if [[ $s == -1 ]]; then
    pos=$(recover "$n")
    log "n$n crashed; recovered position ${pos:-none}"
    [[ $pos == *:-1 ]] && pos= # nothing recovered: a full state transfer
    if [[ -n $pos ]]; then start_node "$n" --wsrep_start_position="$pos"; else start_node "$n"; fi
  else
    start_node "$n"
  fi
done
for n in 1 2 3; do wait_synced "$n" 120; done
deadline=$((SECONDS + 60))
until [[ $(size 1) == 3 && $(size 2) == 3 && $(size 3) == 3 ]]; do
  ((SECONDS < deadline)) || { log "cluster size is not 3"; exit 1; }
  sleep 0.5
done

# 5. The application's database and user (replicated to every node), and haproxy's check user.
sql 1 "CREATE DATABASE IF NOT EXISTS mltrack CHARACTER SET utf8mb4;
  CREATE USER IF NOT EXISTS 'mltrack'@'127.0.0.1' IDENTIFIED BY 'mltrack';
  GRANT ALL ON *.* TO 'mltrack'@'127.0.0.1';
  CREATE USER IF NOT EXISTS 'haproxy_check'@'127.0.0.1';" || { log "could not create the mltrack user"; exit 1; }

# 6. haproxy in front: up only when a node is Synced; one writer (n1, others backups) or round-robin.
H=$DIR/haproxy
mkdir -p "$H"
cat >"$H/check.sh" <<'CHK'
#!/usr/bin/env bash
# haproxy external check: $3 = address, $4 = port. Up only when the node is ready and Synced (wsrep_local_state 4).
out=$(mariadb --no-defaults --connect-timeout=1 -h"$3" -P"$4" -uhaproxy_check -N -B -e "SHOW STATUS WHERE Variable_name IN ('wsrep_ready','wsrep_local_state')" 2>/dev/null)
grep -q $'wsrep_ready\tON' <<<"$out" && grep -q $'wsrep_local_state\t4' <<<"$out"
CHK
chmod +x "$H/check.sh"
backup=backup
[[ $MODE == roundrobin ]] && backup=
# haproxy's own answers (no server ready: 503; a server died mid-request: 502; no answer in time: 504) in MLflow's
# form, all as 503 TEMPORARILY_UNAVAILABLE: the MLflow client retries a 503, and a 502 is not a client mistake.
mkdir -p "$H/errors"
body='{"error_code":"TEMPORARILY_UNAVAILABLE","message":"No mltrack server could answer (load balancer); try again later."}'
printf 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: %d\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n%s' "${#body}" "$body" >"$H/errors/503.http"
{
  cat <<CFG
global
  external-check
  insecure-fork-wanted
  stats socket $H/admin.sock mode 600 level admin
  pidfile $H/haproxy.pid
  # a reload (another mode, another server count) lets the old process finish its connections for 30 s at most
  hard-stop-after 30s
defaults
  mode tcp
  timeout connect 3s
  timeout client 1h
  timeout server 1h
listen galera
  bind 127.0.0.1:$LB_PORT
  balance roundrobin
  option external-check
  external-check command $H/check.sh
  # haproxy runs the check with an empty PATH unless told: without it the check never finds \`mariadb\`
  external-check path "/usr/bin:/bin:/usr/sbin:/sbin"
  # a new connection to a node that just died (not yet marked down) goes to another node
  option redispatch 1
  retries 2
  default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
  server n1 127.0.0.1:3371 check
  server n2 127.0.0.1:3372 check $backup
  server n3 127.0.0.1:3373 check $backup
CFG
  if ((SERVERS > 0)); then
    # The mltrack servers: HTTP, a request goes only to a server whose /ready answers 200 (checked every second,
    # out after 2 failures). A connection refused by a server that died or is draining is retried on another one
    # (redispatch); a request already sent is not re-sent (the client retries, as MLflow's does on 503 and resets).
    cat <<CFG
listen mltrack
  bind 127.0.0.1:$APP_PORT
  mode http
  balance roundrobin
  option httpchk GET /ready
  http-check expect status 200
  option redispatch 1
  retries 3
  timeout client 90s
  timeout server 90s
  timeout http-keep-alive 10s
  # /ready waits up to 8 s for the database (server/readiness.ts): a Galera stall is not a reason to leave the pool
  timeout check 10s
  default-server inter 1s fall 2 rise 1
  errorfile 502 $H/errors/503.http
  errorfile 503 $H/errors/503.http
  errorfile 504 $H/errors/503.http
CFG
    for ((i = 1; i <= SERVERS; i++)); do echo "  server s$i 127.0.0.1:$((APP_PORT + i)) check"; done
  fi
} >"$H/haproxy.cfg.new"
if [[ -s $H/haproxy.pid ]] && kill -0 "$(<"$H/haproxy.pid")" 2>/dev/null; then
  # reload only when the configuration changed: a reload hands the clients' open connections to a dying process
  if ! cmp -s "$H/haproxy.cfg.new" "$H/haproxy.cfg"; then
    mv "$H/haproxy.cfg.new" "$H/haproxy.cfg"
    haproxy -f "$H/haproxy.cfg" -D -sf "$(<"$H/haproxy.pid")" >&2
  fi
else
  mv "$H/haproxy.cfg.new" "$H/haproxy.cfg"
  haproxy -f "$H/haproxy.cfg" -D >&2
fi
rm -f "$H/haproxy.cfg.new"
# haproxy counts a server up until its checks fail: wait until the checks passed for all three (op_state 2)
galera_up() { echo "show servers state galera" | socat - "$H/admin.sock" 2>/dev/null | awk '$4 ~ /^n[123]$/ && $6 == 2' | wc -l; }
deadline=$((SECONDS + 30))
until [[ $(galera_up) == 3 ]] && mariadb --no-defaults --connect-timeout=2 -h127.0.0.1 -P"$LB_PORT" -umltrack -pmltrack -N -e 'SELECT 1' >/dev/null 2>&1; do
  ((SECONDS < deadline)) || { log "haproxy on $LB_PORT does not see the 3 nodes up"; echo "show servers state galera" | socat - "$H/admin.sock" >&2; exit 1; }
  sleep 0.5
done
{ for n in 1 2 3; do cat "$(node_dir "$n")/mysqld.pid"; done; cat "$H/haproxy.pid"; } >"$DIR/pids"
log "3 nodes Synced (size 3) on 3371-3373; haproxy ($MODE) on 127.0.0.1:$LB_PORT; pids in $DIR/pids"
# 7. The mltrack servers behind the second frontend (started, restarted with new settings, or stopped as needed).
MLTRACK_GALERA_DIR=$DIR MLTRACK_CLUSTER_PORT=$APP_PORT MLTRACK_GALERA_PORT=$LB_PORT bash "$(dirname "$0")/servers.sh" "$SERVERS" >&2
log "what runs where:"
for n in 1 2 3; do log "  n$n mariadbd pid $(node_pid "$n") mysql 127.0.0.1:337$n (gcomm 466$n, IST 467$n, SST 468$n) log $(node_dir "$n")/err.log"; done
log "  haproxy pid $(<"$H/haproxy.pid"): galera ($MODE) 127.0.0.1:$LB_PORT$( ((SERVERS > 0)) && echo ", mltrack http://127.0.0.1:$APP_PORT")"
((SERVERS > 0)) && cat "$DIR/app/where" >&2
echo "mysql://mltrack:mltrack@127.0.0.1:$LB_PORT/mltrack"
