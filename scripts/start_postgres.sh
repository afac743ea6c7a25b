#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on loopback for the test suite (installs Debian's package when
# missing; needs root, as on CI). Idempotent: a server already running from an earlier call is reused.
# Prints the DATABASE_URL to use.
set -euo pipefail
PORT="${PGTEST_PORT:-54329}"
DIR="${PGTEST_DIR:-/tmp/journeyhub-postgres}"
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/pg_ctl" ]; then
  "$(dirname "$0")/apt_install.sh" PostgreSQL "the suite also runs on PostgreSQL" postgresql
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ ! -f "$DIR/PG_VERSION" ]; then
  mkdir -p "$DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DIR"
  as_owner "$PG_BIN/initdb" -D "$DIR" -U postgres --auth=trust -E UTF8 >/dev/null
fi
if ! as_owner "$PG_BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
  as_owner "$PG_BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null
fi
echo "postgres://postgres@127.0.0.1:$PORT/journeyhub"
