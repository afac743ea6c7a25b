#!/usr/bin/env bash
# Stops the throwaway PostgreSQL server scripts/start_postgres.sh started (same PGTEST_DIR), if it is
# running; its data directory stays, so the next start is quick. Nothing to do when none runs.
set -euo pipefail
DIR="${PGTEST_DIR:-/tmp/journeyhub-postgres}"
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$PG_BIN" ] || [ ! -f "$DIR/PG_VERSION" ]; then
  exit 0
fi
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if as_owner "$PG_BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
  as_owner "$PG_BIN/pg_ctl" -D "$DIR" -m fast -w -t 60 stop >/dev/null
fi
