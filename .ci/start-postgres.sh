#!/usr/bin/env bash
# Starts a private PostgreSQL server on 127.0.0.1 for the database tests (issue 4) and prints the
# URL to export as TEST_DATABASE_URL on its last line. Idempotent: a server already running from
# the same data folder is reused. `.ci/start-postgres.sh stop` stops it.
#
#   eval "$(.ci/start-postgres.sh | tail -n 1)"   # sets TEST_DATABASE_URL
#   deno test -A tests/db_test.ts                 # now also runs the PostgreSQL variant
#
# Settings (environment): PG_PORT (5433), PG_DATA (/tmp/drl-pgdata), PG_SOCKET_DIR (/tmp),
# PG_TEST_USER (drl), PG_TEST_PASSWORD (drl), PG_TEST_DB (drl_test).
set -euo pipefail

PG_PORT="${PG_PORT:-5433}"
PG_DATA="${PG_DATA:-/tmp/drl-pgdata}"
PG_SOCKET_DIR="${PG_SOCKET_DIR:-/tmp}"
PG_TEST_USER="${PG_TEST_USER:-drl}"
PG_TEST_PASSWORD="${PG_TEST_PASSWORD:-drl}"
PG_TEST_DB="${PG_TEST_DB:-drl_test}"

find_pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

PG_BIN="$(find_pg_bin)"
if [[ -z "$PG_BIN" ]]; then
  echo "PostgreSQL is not installed; installing Debian's postgresql package" >&2
  if [[ "$(id -u)" != 0 ]]; then
    echo "error: run as root (apt-get) or install the 'postgresql' package first" >&2
    exit 2
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2
  PG_BIN="$(find_pg_bin)"
fi

# initdb and the server refuse to run as root: run them as the `postgres` user when we are root.
as_pg() {
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

if [[ "${1:-}" == "stop" ]]; then
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast stop >&2 || true
  exit 0
fi

if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
  mkdir -p "$PG_DATA"
  [[ "$(id -u)" == 0 ]] && chown postgres: "$PG_DATA"
  chmod 700 "$PG_DATA"
  # Local socket connections (for the set-up below) are trusted; TCP logins need a password, so
  # the tests exercise a real password check (and its refusal).
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >&2
fi

if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 \
    -o "-k $PG_SOCKET_DIR -p $PG_PORT -c listen_addresses=127.0.0.1" start >&2
fi

psql_admin() {
  as_pg "$PG_BIN/psql" -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
}

if [[ "$(psql_admin -c "select 1 from pg_roles where rolname = '$PG_TEST_USER'")" != 1 ]]; then
  psql_admin -c "create role \"$PG_TEST_USER\" login password '$PG_TEST_PASSWORD'" >&2
fi
if [[ "$(psql_admin -c "select 1 from pg_database where datname = '$PG_TEST_DB'")" != 1 ]]; then
  psql_admin -c "create database \"$PG_TEST_DB\" owner \"$PG_TEST_USER\"" >&2
fi

echo "export TEST_DATABASE_URL=postgres://$PG_TEST_USER:$PG_TEST_PASSWORD@127.0.0.1:$PG_PORT/$PG_TEST_DB"
