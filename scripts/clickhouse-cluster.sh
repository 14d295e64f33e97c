#!/usr/bin/env bash
# A throwaway replicated ClickHouse cluster for bounced's cluster tests: one ZooKeeper
# and two ClickHouse servers forming cluster `bounced` (1 shard x 2 replicas) and, on
# the same servers, cluster `bounced_sharded` (2 shards x 1 replica; use
# clickhouse.replica_path=/clickhouse/tables/{sshard} with it), run as plain processes
# with everything (config, data, logs, pids) under one directory. It leaves
# scripts/clickhouse.sh's single server (port 19000) alone.
#
#   scripts/clickhouse-cluster.sh start    install if needed, start, wait until ready (no-op for what runs)
#   scripts/clickhouse-cluster.sh stop     stop what this script started (by pid, nothing else)
#   scripts/clickhouse-cluster.sh status   exit 0 when all three run, 3 otherwise
#   scripts/clickhouse-cluster.sh client 1|2 [args...]   clickhouse-client on replica 1 or 2
#   scripts/clickhouse-cluster.sh purge    stop and delete the whole directory
#
# Why both on two servers: `bounced` proves replication and that a member may switch
# replicas; `bounced_sharded` proves that each partition's rows land on one shard
# (partition mod shards, shards.go in sinks/clickhouse) and that Distributed reads see
# every shard. Two servers serve both: a table's ZooKeeper path names its cluster's
# macro, so the two layouts never share a replication queue.
#
# Environment:
#   BOUNCED_CHC_DIR            state directory (default <repo>/.clickhouse-cluster)
#   BOUNCED_CHC_ZK_PORT        ZooKeeper client port (default 19181)
#   BOUNCED_CHC_TCP_PORTS      native ports of replica 1 and 2 (default "19010 19011")
#   BOUNCED_CHC_HTTP_PORTS     HTTP ports (default "18133 18134")
#   BOUNCED_CHC_INTER_PORTS    interserver ports (default "19019 19020")
#   BOUNCED_CHC_START_TIMEOUT  seconds to wait for readiness (default 90)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TMPL="$REPO_ROOT/scripts/clickhouse-cluster"
DIR="${BOUNCED_CHC_DIR:-$REPO_ROOT/.clickhouse-cluster}"
case "$DIR" in /*) ;; *) DIR="$PWD/$DIR" ;; esac
ZK_PORT="${BOUNCED_CHC_ZK_PORT:-19181}"
read -r -a TCP <<<"${BOUNCED_CHC_TCP_PORTS:-19010 19011}"
read -r -a HTTP <<<"${BOUNCED_CHC_HTTP_PORTS:-18133 18134}"
read -r -a INTER <<<"${BOUNCED_CHC_INTER_PORTS:-19019 19020}"
START_TIMEOUT="${BOUNCED_CHC_START_TIMEOUT:-90}"
ZK_JAR=/usr/share/java/zookeeper.jar

log() { printf 'clickhouse-cluster.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
  have apt-get || die "missing $*, and no apt-get to install it with"
  local sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    have sudo || die "installing $* needs root: run as root or install sudo"
    sudo=(sudo)
  fi
  log "installing $* with apt-get"
  "${sudo[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "$@"
}

install() {
  local want=()
  [[ -f "$ZK_JAR" ]] || want+=(zookeeper)
  have clickhouse || have clickhouse-server || [[ -x /usr/sbin/clickhouse-server ]] || want+=(clickhouse-server clickhouse-client)
  if ((${#want[@]})); then apt_install "${want[@]}"; fi
  have java || die "ZooKeeper needs java (Debian's zookeeper package depends on a JRE)"
}

server_cmd() {
  if have clickhouse; then echo "$(command -v clickhouse) server"; return; fi
  if have clickhouse-server; then command -v clickhouse-server; return; fi
  if [[ -x /usr/sbin/clickhouse-server ]]; then echo /usr/sbin/clickhouse-server; return; fi
  die "no ClickHouse server found"
}

client_cmd() {
  if have clickhouse; then echo "$(command -v clickhouse) client"; return; fi
  if have clickhouse-client; then command -v clickhouse-client; return; fi
  die "no clickhouse-client found"
}

# zk_classpath is ZooKeeper's jar and the Debian jars it links (found by name in
# /usr/share/java, as Debian's own zkEnv.sh does through the package's classpath).
zk_classpath() {
  local cp="$DIR/etc" j
  cp+=":$ZK_JAR"
  for j in zookeeper-jute netty-buffer netty-codec netty-common netty-handler netty-resolver \
    netty-transport netty-transport-native-epoll netty-transport-native-unix-common \
    slf4j-api slf4j-log4j12 log4j-1.2 jline metrics-core commons-cli snappy-java; do
    [[ -f "/usr/share/java/$j.jar" ]] && cp+=":/usr/share/java/$j.jar"
  done
  echo "$cp"
}

pidfile() { echo "$DIR/$1.pid"; }
alive() { local f; f="$(pidfile "$1")"; [[ -f "$f" ]] && kill -0 "$(cat "$f")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

zk_ready() {
  # srvr over the 4-letter-word interface (allowed in zoo.cfg): it says
  # "Mode: standalone" only once the server takes sessions. ruok answers
  # imok earlier, while ZooKeeper still loads a large transaction log from
  # an earlier run, and a ClickHouse server that starts then cannot load
  # its Replicated tables and exits.
  local out
  out="$( (exec 3<>"/dev/tcp/127.0.0.1/$ZK_PORT" && printf srvr >&3 && timeout 2 cat <&3) 2>/dev/null || true)"
  [[ "$out" == *"Mode: standalone"* ]]
}

ch_ready() {
  # Ready means it answers and its ZooKeeper session works.
  local i=$1
  if have curl; then
    curl -sf --max-time 2 "http://127.0.0.1:${HTTP[$i]}/" --data-binary "SELECT count() FROM system.zookeeper WHERE path = '/'" >/dev/null 2>&1
  else
    local client; client="$(client_cmd)"
    # shellcheck disable=SC2086
    $client --host 127.0.0.1 --port "${TCP[$i]}" --query "SELECT count() FROM system.zookeeper WHERE path = '/'" >/dev/null 2>&1
  fi
}

fill() {
  # fill TEMPLATE OUT KEY=VALUE...: replace @KEY@ in the template.
  local in=$1 out=$2; shift 2
  local s; s="$(cat "$in")"
  local kv
  for kv in "$@"; do s="${s//@${kv%%=*}@/${kv#*=}}"; done
  printf '%s\n' "$s" >"$out"
}

server_major() {
  local client; client="$(client_cmd 2>/dev/null)" || return 0
  # shellcheck disable=SC2086
  $client --version 2>/dev/null | grep -oE 'version [0-9]+' | grep -oE '[0-9]+' | head -1
}

write_config() {
  mkdir -p "$DIR/etc" "$DIR/zookeeper/data" "$DIR/zookeeper/log"
  fill "$TMPL/zoo.cfg.tmpl" "$DIR/etc/zoo.cfg" DIR="$DIR" ZK_PORT="$ZK_PORT"
  printf 'log4j.rootLogger=INFO, F\nlog4j.appender.F=org.apache.log4j.FileAppender\nlog4j.appender.F.File=%s/zookeeper/log/zookeeper.log\nlog4j.appender.F.layout=org.apache.log4j.PatternLayout\nlog4j.appender.F.layout.ConversionPattern=%%d %%p [%%t] %%c: %%m%%n\n' "$DIR" >"$DIR/etc/log4j.properties"
  local lc="" major; major="$(server_major)"
  if [[ -n "$major" && "$major" -lt 19 ]]; then
    lc='<allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>'
  fi
  fill "$TMPL/users.xml.tmpl" "$DIR/etc/users.xml" LC="$lc"
  fill "$TMPL/remote_servers.xml.tmpl" "$DIR/etc/remote_servers.xml" TCP_PORT_1="${TCP[0]}" TCP_PORT_2="${TCP[1]}"
  local i
  for i in 0 1; do
    local name="replica$((i + 1))"
    mkdir -p "$DIR/$name"/{data,tmp,user_files,format_schemas,log}
    fill "$TMPL/config.xml.tmpl" "$DIR/etc/$name.xml" NAME="$name" DIR="$DIR" TCP_PORT="${TCP[$i]}" \
      HTTP_PORT="${HTTP[$i]}" INTERSERVER_PORT="${INTER[$i]}" REPLICA="$name" SSHARD="0$((i + 1))" ZK_PORT="$ZK_PORT"
  done
}

wait_for() {
  # wait_for NAME CHECK...: until CHECK passes, the process lives and the deadline holds.
  local name=$1; shift
  local deadline=$(($(date +%s) + START_TIMEOUT))
  until "$@"; do
    alive "$name" || die "$name exited during start-up; logs under $DIR"
    (($(date +%s) <= deadline)) || die "$name not ready after ${START_TIMEOUT}s; logs under $DIR (stop with '$0 stop')"
    sleep 0.2
  done
}

start() {
  local t0; t0=$(date +%s.%N)
  install
  write_config
  if alive zookeeper; then
    log "zookeeper already running: pid $(cat "$(pidfile zookeeper)")"
  else
    port_open "$ZK_PORT" && die "port 127.0.0.1:$ZK_PORT is in use by a program this script did not start; set BOUNCED_CHC_ZK_PORT"
    # setsid: own session, so it outlives the calling shell; $! is the JVM itself.
    setsid java -Xmx256m -Dzookeeper.log.dir="$DIR/zookeeper/log" -Dlog4j.configuration="file:$DIR/etc/log4j.properties" \
      -cp "$(zk_classpath)" org.apache.zookeeper.server.quorum.QuorumPeerMain "$DIR/etc/zoo.cfg" \
      >"$DIR/zookeeper/log/stdout.log" 2>&1 </dev/null &
    echo $! >"$(pidfile zookeeper)"
  fi
  wait_for zookeeper zk_ready
  local server; server="$(server_cmd)"
  local i
  for i in 0 1; do
    local name="replica$((i + 1))"
    if alive "$name"; then
      log "$name already running: pid $(cat "$(pidfile "$name")")"
      continue
    fi
    local p
    for p in "${TCP[$i]}" "${HTTP[$i]}" "${INTER[$i]}"; do
      port_open "$p" && die "port 127.0.0.1:$p is in use by a program this script did not start; set BOUNCED_CHC_*_PORTS"
    done
    # shellcheck disable=SC2086
    setsid $server --config-file="$DIR/etc/$name.xml" >"$DIR/$name/log/stdout.log" 2>&1 </dev/null &
    echo $! >"$(pidfile "$name")"
  done
  for i in 0 1; do wait_for "replica$((i + 1))" ch_ready "$i"; done
  printf 'clickhouse clusters `bounced` and `bounced_sharded` ready in %.1fs: replicas tcp 127.0.0.1:%s and 127.0.0.1:%s, zookeeper 127.0.0.1:%s, dir %s\n' \
    "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{print a-b}')" "${TCP[0]}" "${TCP[1]}" "$ZK_PORT" "$DIR"
}

stop_one() {
  local name=$1 f; f="$(pidfile "$1")"
  if ! alive "$name"; then rm -f "$f"; return 0; fi
  local pid; pid="$(cat "$f")"
  kill -TERM "$pid"
  local _
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) did not stop within 30s, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
  echo "$name stopped (pid $pid)"
}

stop() {
  stop_one replica1
  stop_one replica2
  stop_one zookeeper
}

status() {
  local rc=0 name
  for name in zookeeper replica1 replica2; do
    if alive "$name"; then echo "$name running: pid $(cat "$(pidfile "$name")")"; else echo "$name stopped"; rc=3; fi
  done
  echo "dir $DIR; replicas tcp 127.0.0.1:${TCP[0]} 127.0.0.1:${TCP[1]}; zookeeper 127.0.0.1:$ZK_PORT"
  return $rc
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
start) start ;;
stop) stop ;;
status) status ;;
client)
  n="${1:-1}"; [[ $# -gt 0 ]] && shift
  [[ "$n" == 1 || "$n" == 2 ]] || die "client: want replica 1 or 2, got $n"
  client="$(client_cmd)"
  # shellcheck disable=SC2086
  exec $client --host 127.0.0.1 --port "${TCP[$((n - 1))]}" "$@"
  ;;
purge)
  stop
  rm -rf "$DIR"
  echo "removed $DIR"
  ;;
*)
  echo "usage: $0 start|stop|status|client 1|2 [args...]|purge" >&2
  exit 2
  ;;
esac
