#!/usr/bin/env bash
# Starts the production stack on one machine: migrations and static files, then graphserver (for the
# embedded store), the web process (scripts/web.sh: granian) and the job worker under honcho. Ctrl-C or
# SIGTERM stops every process.
# Needs SECRET_KEY and ALLOWED_HOSTS in the environment (production settings refuse to start without them).
set -euo pipefail
cd "$(dirname "$0")/.."
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-journeyhub.settings.production}"
: "${SECRET_KEY:?SECRET_KEY must be set (production settings)}"
: "${ALLOWED_HOSTS:?ALLOWED_HOSTS must be set, e.g. ALLOWED_HOSTS=hub.example.com}"
export WEB_PORT="${WEB_PORT:-8000}" GRAPH_PORT="${GRAPH_PORT:-8182}"
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-var/prometheus}"
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
python manage.py migrate --noinput
python manage.py collectstatic --noinput >/dev/null
procfile=Procfile
case "${GRAPH_URL:-embedded://}" in
  embedded://*) ;;
  *) procfile=Procfile.remote ;;
esac
exec honcho --no-colour start -f "$procfile"
