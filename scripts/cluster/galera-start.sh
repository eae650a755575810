#!/usr/bin/env bash
# Start (or complete) a local 3-node MariaDB Galera cluster with haproxy in front. Idempotent; run as root.
# Usage: bash scripts/cluster/galera-start.sh [--roundrobin]
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
MODE=first
[[ ${1:-} == --roundrobin ]] && MODE=roundrobin
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
        s=$(mariadbd --defaults-file="$(node_dir "$n")/my.cnf" --user=mysql --wsrep-recover 2>&1 | grep -o 'Recovered position: .*' | awk -F: '{print $NF}' | tail -1 || true)
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
    pos=$(mariadbd --defaults-file="$(node_dir "$n")/my.cnf" --user=mysql --wsrep-recover 2>&1 | grep -o 'Recovered position: .*' | sed 's/Recovered position: //' | tail -1 || true)
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
cat >"$H/haproxy.cfg" <<CFG
global
  external-check
  insecure-fork-wanted
  stats socket $H/admin.sock mode 600 level admin
  pidfile $H/haproxy.pid
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
  default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
  server n1 127.0.0.1:3371 check
  server n2 127.0.0.1:3372 check $backup
  server n3 127.0.0.1:3373 check $backup
CFG
if [[ -s $H/haproxy.pid ]] && kill -0 "$(<"$H/haproxy.pid")" 2>/dev/null; then
  haproxy -f "$H/haproxy.cfg" -D -sf "$(<"$H/haproxy.pid")" >&2 # reload with the current mode
else
  haproxy -f "$H/haproxy.cfg" -D >&2
fi
deadline=$((SECONDS + 30))
until mariadb --no-defaults --connect-timeout=2 -h127.0.0.1 -P"$LB_PORT" -umltrack -pmltrack -N -e 'SELECT 1' >/dev/null 2>&1; do
  ((SECONDS < deadline)) || { log "haproxy on $LB_PORT does not answer"; exit 1; }
  sleep 0.5
done
{ for n in 1 2 3; do cat "$(node_dir "$n")/mysqld.pid"; done; cat "$H/haproxy.pid"; } >"$DIR/pids"
log "3 nodes Synced (size 3) on 3371-3373; haproxy ($MODE) on 127.0.0.1:$LB_PORT; pids in $DIR/pids"
echo "mysql://mltrack:mltrack@127.0.0.1:$LB_PORT/mltrack"
