#!/usr/bin/env bash
# Throwaway ClickHouse server for bounced's tests and local demo: no systemd, no
# system config touched, everything (config, data, logs, pid) under one directory.
#
#   scripts/clickhouse.sh start    install if needed, start, wait until ready (no-op if already running)
#   scripts/clickhouse.sh stop     stop the server this script started (by its pid, nothing else)
#   scripts/clickhouse.sh status   exit 0 when running, 3 when stopped
#   scripts/clickhouse.sh client [args...]   clickhouse-client connected to it
#   scripts/clickhouse.sh purge    stop and delete the whole directory (all data)
#
# Environment:
#   BOUNCED_CH_DIR        state directory (default <repo>/.clickhouse)
#   BOUNCED_CH_TCP_PORT   native protocol port, what bounced uses (default 19000)
#   BOUNCED_CH_HTTP_PORT  HTTP port, used for the readiness ping (default 18123)
#   BOUNCED_CH_BIN        server command override (default: `clickhouse server`, else `clickhouse-server`)
#   BOUNCED_CH_START_TIMEOUT  seconds to wait for readiness (default 60)
#
# The server listens on 127.0.0.1 only, user `default` without a password.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CH_DIR="${BOUNCED_CH_DIR:-$REPO_ROOT/.clickhouse}"
case "$CH_DIR" in /*) ;; *) CH_DIR="$PWD/$CH_DIR" ;; esac
TCP_PORT="${BOUNCED_CH_TCP_PORT:-19000}"
HTTP_PORT="${BOUNCED_CH_HTTP_PORT:-18123}"
START_TIMEOUT="${BOUNCED_CH_START_TIMEOUT:-60}"
PIDFILE="$CH_DIR/clickhouse.pid"

log() { printf 'clickhouse.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

have() { command -v "$1" >/dev/null 2>&1; }

# install uses Debian's packages (18.16 on this distribution) when no ClickHouse
# is on PATH at all; a modern single `clickhouse` binary on PATH wins over it.
install() {
  if have clickhouse || have clickhouse-server; then return 0; fi
  have apt-get || die "no ClickHouse on PATH and no apt-get: install ClickHouse (https://clickhouse.com/docs/install) or set BOUNCED_CH_BIN"
  local sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    have sudo || die "installing ClickHouse needs root: run as root or install sudo"
    sudo=(sudo)
  fi
  log "installing clickhouse-server and clickhouse-client with apt-get"
  "${sudo[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends clickhouse-server clickhouse-client
}

server_cmd() {
  if [[ -n "${BOUNCED_CH_BIN:-}" ]]; then echo "$BOUNCED_CH_BIN"; return; fi
  if have clickhouse; then echo "$(command -v clickhouse) server"; return; fi
  if have clickhouse-server; then command -v clickhouse-server; return; fi
  # Debian puts the server in /usr/sbin, which is not on every user's PATH.
  if [[ -x /usr/sbin/clickhouse-server ]]; then echo /usr/sbin/clickhouse-server; return; fi
  die "no ClickHouse server found; run '$0 start' as a user that can install packages"
}

client_cmd() {
  if have clickhouse; then echo "$(command -v clickhouse) client"; return; fi
  if have clickhouse-client; then command -v clickhouse-client; return; fi
  die "no clickhouse-client found"
}

running() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

# ping reports whether something answers as ClickHouse on our ports.
ping() {
  if have curl; then
    curl -sf --max-time 2 "http://127.0.0.1:$HTTP_PORT/ping" 2>/dev/null | grep -q Ok
  else
    local client; client="$(client_cmd 2>/dev/null)" || return 1
    # shellcheck disable=SC2086
    $client --host 127.0.0.1 --port "$TCP_PORT" --query 'SELECT 1' >/dev/null 2>&1
  fi
}

# port_busy reports whether anything at all listens on one of our ports, so a
# foreign non-ClickHouse listener is also a clear error instead of a bind failure.
port_busy() {
  local p
  for p in "$TCP_PORT" "$HTTP_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

server_major() {
  local client; client="$(client_cmd 2>/dev/null)" || return 0
  # shellcheck disable=SC2086
  $client --version 2>/dev/null | grep -oE 'version [0-9]+' | grep -oE '[0-9]+' | head -1
}

write_config() {
  mkdir -p "$CH_DIR"/{etc,data,tmp,user_files,format_schemas,log}
  # 18.x refuses LowCardinality columns unless allow_experimental_low_cardinality_type=1;
  # 19.x+ need nothing and current releases reject the name as an unknown setting, so
  # the profile carries it only for 18.x. (bounced also sets it per connection.)
  local lc=""
  local major; major="$(server_major)"
  if [[ -n "$major" && "$major" -lt 19 ]]; then
    lc=$'\n      <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>'
  fi
  # Root element: 18.x documents <yandex>, modern <clickhouse>; both accept either.
  cat >"$CH_DIR/etc/config.xml" <<XML
<clickhouse>
  <logger>
    <level>information</level>
    <log>$CH_DIR/log/clickhouse-server.log</log>
    <errorlog>$CH_DIR/log/clickhouse-server.err.log</errorlog>
    <size>50M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>$TCP_PORT</tcp_port>
  <http_port>$HTTP_PORT</http_port>
  <path>$CH_DIR/data/</path>
  <tmp_path>$CH_DIR/tmp/</tmp_path>
  <user_files_path>$CH_DIR/user_files/</user_files_path>
  <format_schema_path>$CH_DIR/format_schemas/</format_schema_path>
  <users_config>$CH_DIR/etc/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <mlock_executable>false</mlock_executable>
</clickhouse>
XML
  cat >"$CH_DIR/etc/users.xml" <<XML
<clickhouse>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>$lc
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval>
    </default>
  </quotas>
</clickhouse>
XML
}

start() {
  if running; then
    echo "clickhouse already running: pid $(cat "$PIDFILE") tcp 127.0.0.1:$TCP_PORT dir $CH_DIR"
    return 0
  fi
  rm -f "$PIDFILE"
  local busy
  if busy="$(port_busy)"; then
    if ping; then
      die "a ClickHouse server that this script did not start (no live pid in $PIDFILE) already answers on 127.0.0.1:$busy; stop it, or pick other ports with BOUNCED_CH_TCP_PORT / BOUNCED_CH_HTTP_PORT (and clickhouse.addr)"
    fi
    die "port 127.0.0.1:$busy is already in use by another program; pick other ports with BOUNCED_CH_TCP_PORT / BOUNCED_CH_HTTP_PORT"
  fi
  install
  local server; server="$(server_cmd)"
  write_config
  # setsid: own session, so the server outlives the calling shell; no --daemon, so
  # $! is the server's pid and `stop` can end exactly that process.
  # shellcheck disable=SC2086
  setsid $server --config-file="$CH_DIR/etc/config.xml" >"$CH_DIR/log/stdout.log" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local deadline=$(($(date +%s) + START_TIMEOUT))
  until ping; do
    if ! running; then
      log "server exited during start-up; logs in $CH_DIR/log/"
      tail -n 20 "$CH_DIR/log/stdout.log" "$CH_DIR/log/clickhouse-server.err.log" >&2 2>/dev/null || true
      rm -f "$PIDFILE"
      exit 1
    fi
    if (($(date +%s) > deadline)); then
      log "not ready after ${START_TIMEOUT}s; stopping it; logs in $CH_DIR/log/"
      stop >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "clickhouse ready: pid $(cat "$PIDFILE") tcp 127.0.0.1:$TCP_PORT http 127.0.0.1:$HTTP_PORT dir $CH_DIR"
}

stop() {
  if ! running; then
    rm -f "$PIDFILE"
    echo "clickhouse not running"
    return 0
  fi
  local pid; pid="$(cat "$PIDFILE")"
  kill -TERM "$pid"
  local _
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid did not stop within 30s, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  echo "clickhouse stopped (pid $pid)"
}

status() {
  if running; then
    echo "clickhouse running: pid $(cat "$PIDFILE") tcp 127.0.0.1:$TCP_PORT http 127.0.0.1:$HTTP_PORT dir $CH_DIR"
    return 0
  fi
  echo "clickhouse stopped (dir $CH_DIR)"
  return 3
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
start) start ;;
stop) stop ;;
status) status ;;
client)
  client="$(client_cmd)"
  # shellcheck disable=SC2086
  exec $client --host 127.0.0.1 --port "$TCP_PORT" "$@"
  ;;
purge)
  stop
  rm -rf "$CH_DIR"
  echo "removed $CH_DIR"
  ;;
*)
  echo "usage: $0 start|stop|status|client [args...]|purge" >&2
  exit 2
  ;;
esac
