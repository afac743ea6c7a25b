#!/usr/bin/env bash
# The production web process (Procfile, Procfile.remote): granian by default, gunicorn with WEB_SERVER=gunicorn.
# granian parses HTTP and manages connections in Rust, outside the GIL: 0.25-0.45 ms less CPU per request
# than gunicorn's gthread worker, which at the decision endpoints is a fifth to a third of a request's
# cost (benchmarks/README.md, "Contact-centre decisions"). Both read the same variables: WEB_HOST,
# WEB_PORT, WEB_WORKERS (2), WEB_THREADS (8, the threads per worker that run Django).
set -euo pipefail
cd "$(dirname "$0")/.."
host="${WEB_HOST:-127.0.0.1}" port="${WEB_PORT:-8000}"
case "${WEB_SERVER:-granian}" in
  granian)
    # --respawn-failed-workers: a worker that dies is started again, as gunicorn's arbiter does;
    # --workers-kill-timeout: a worker that does not stop within 20 s of SIGTERM is killed (gunicorn's
    # graceful_timeout). The access log (WEB_ACCESS_LOG=false turns it off) carries no request id (the
    # JSON app log's lines do) and costs each request a little Python: off is for the busiest hubs.
    access=(--access-log --access-log-fmt '%(addr)s "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).1fms')
    case "${WEB_ACCESS_LOG:-true}" in false|0|no|off) access=(--no-access-log) ;; esac
    exec python -m granian --interface wsgi --host "$host" --port "$port" \
      --workers "${WEB_WORKERS:-2}" --blocking-threads "${WEB_THREADS:-8}" --runtime-threads 1 --no-ws \
      --respawn-failed-workers --workers-kill-timeout 20 "${access[@]}" journeyhub.wsgi:application ;;
  gunicorn)
    exec gunicorn journeyhub.wsgi --config journeyhub/gunicorn.conf.py ;;
  *)
    echo "WEB_SERVER=${WEB_SERVER}: use granian or gunicorn" >&2
    exit 2 ;;
esac
