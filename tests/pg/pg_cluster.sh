#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the tests: a primary and one streaming replica
# (pg_basebackup -R) on 127.0.0.1, in a temp dir, run as the `postgres` user (the server refuses
# root). Installs postgresql-15 with apt when missing (as root).
#
#   tests/pg/pg_cluster.sh start     # idempotent; prints the export lines for the URLs
#   tests/pg/pg_cluster.sh stop      # stops both servers and removes the dir
#   tests/pg/pg_cluster.sh env       # prints the export lines
#   tests/pg/pg_cluster.sh primary|replica stop|start   # one server (failure tests)
#
# Settings: TAMS_PG_DIR (default /tmp/tams-pg-cluster), TAMS_PG_PORT (primary, default 55432;
# the replica uses the next port).
set -euo pipefail

BIN=/usr/lib/postgresql/15/bin
DIR=${TAMS_PG_DIR:-/tmp/tams-pg-cluster}
PORT=${TAMS_PG_PORT:-55432}
REPLICA_PORT=$((PORT + 1))
OWNER=postgres

die() { echo "pg_cluster: $*" >&2; exit 1; }

as_owner() {
  if [ "$(id -un)" = "$OWNER" ]; then "$@"; else runuser -u "$OWNER" -- "$@"; fi
}

install_server() {
  [ -x "$BIN/initdb" ] && [ -x "$BIN/pg_basebackup" ] && command -v psql >/dev/null && return
  [ "$(id -u)" -eq 0 ] || die "postgresql-15 is missing; run: sudo apt-get install -y postgresql-15"
  echo "pg_cluster: installing postgresql-15" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y --no-install-recommends postgresql-15 postgresql-client-15 >/dev/null
}

# The packaged cluster (main, port 5432) is not ours; the Debian package starts it at install in
# a normal system, and nothing here needs it.
running() { as_owner "$BIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }

ready() {  # port
  as_owner "$BIN/pg_isready" -q -h 127.0.0.1 -p "$1"
}

wait_ready() {  # port what
  for _ in $(seq 1 300); do
    ready "$1" && return 0
    sleep 0.1
  done
  die "$2 on port $1 did not become ready"
}

print_env() {
  echo "export TAMS_TEST_PG_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
  echo "export TAMS_TEST_PG_REPLICA_URL=postgres://postgres@127.0.0.1:$REPLICA_PORT/postgres"
  echo "export TAMS_TEST_PG_DIR=$DIR"
}

start_server() {  # datadir port what
  running "$1" && return 0
  as_owner "$BIN/pg_ctl" -D "$1" -l "$1.log" -o "-p $2" -w -t 60 start >/dev/null ||
    { tail -20 "$1.log" >&2; die "$3 did not start"; }
  wait_ready "$2" "$3"
}

stop_server() {  # datadir [mode]
  [ -d "$1" ] || return 0
  running "$1" || return 0
  as_owner "$BIN/pg_ctl" -D "$1" -m "${2:-fast}" -w -t 60 stop >/dev/null
}

start() {
  install_server
  if [ -d "$DIR/primary" ] && [ -d "$DIR/replica" ]; then
    start_server "$DIR/primary" "$PORT" primary
    start_server "$DIR/replica" "$REPLICA_PORT" replica
    print_env
    return
  fi
  stop
  mkdir -p "$DIR"
  chown "$OWNER" "$DIR"
  chmod 700 "$DIR"
  as_owner "$BIN/initdb" -D "$DIR/primary" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
  # Trust auth on loopback only; fsync off: a test cluster trades crash safety for speed (tams
  # still asks for synchronous_commit, which this does not change).
  cat >>"$DIR/primary/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
wal_level = replica
max_wal_senders = 5
hot_standby = on
fsync = off
full_page_writes = off
max_connections = 300
wal_keep_size = 256MB
CONF
  start_server "$DIR/primary" "$PORT" primary
  as_owner "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U postgres -D "$DIR/replica" -R \
    -X stream >/dev/null
  echo "port = $REPLICA_PORT" >>"$DIR/replica/postgresql.auto.conf"
  start_server "$DIR/replica" "$REPLICA_PORT" replica
  [ "$(as_owner psql -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres -tAc 'SELECT pg_is_in_recovery()')" = t ] ||
    die "the replica is not in recovery"
  print_env
}

stop() {  # the data is thrown away: no need for a clean shutdown
  stop_server "$DIR/replica" immediate
  stop_server "$DIR/primary" immediate
  rm -rf "$DIR"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  primary|replica)
    datadir="$DIR/$1"
    port=$PORT
    [ "$1" = replica ] && port=$REPLICA_PORT
    case "${2:-}" in
      start) start_server "$datadir" "$port" "$1" ;;
      stop) stop_server "$datadir" ;;
      *) die "usage: $0 $1 start|stop" ;;
    esac
    ;;
  *) die "usage: $0 start|stop|env|primary start|stop|replica start|stop" ;;
esac
