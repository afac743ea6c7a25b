#!/usr/bin/env bash
# The production web process (Procfile, Procfile.remote): granian by default, gunicorn with WEB_SERVER=gunicorn.
# granian parses HTTP and manages connections in Rust, outside the GIL: 0.25-0.45 ms less CPU per request
# than gunicorn's gthread worker, which at the decision endpoints is a fifth to a third of a request's
# cost (benchmarks/README.md, "Contact-centre decisions"). Both read the same variables: WEB_HOST,
# WEB_PORT, WEB_WORKERS (2), WEB_THREADS (the threads per worker that run Django: 2 under granian,
# 8 under gunicorn); WEB_TIMEOUT is gunicorn's, WEB_HEADER_TIMEOUT and WEB_BACKPRESSURE granian's (below).
# Either runs on the malloc MEMORY_ALLOCATOR names (scripts/with_allocator.sh; glibc's by default).
# Two threads, because a decision's graph read lets go of the GIL while the engine runs it, so two
# keep the interpreter busy; more only wait on each other for it (one process offered 1,000 decisions/s:
# 2 threads answered at 1.14 ms of CPU each with p99 60 ms, 4 threads 1.50 ms and p99 331 ms, 8 threads
# 1.45 ms and p99 235 ms).
set -euo pipefail
cd "$(dirname "$0")/.."
host="${WEB_HOST:-127.0.0.1}" port="${WEB_PORT:-8000}"
case "${WEB_SERVER:-granian}" in
  granian)
    # --respawn-failed-workers: a worker that dies is started again, as gunicorn's arbiter does;
    # --workers-kill-timeout: a worker that does not stop within 20 s of SIGTERM is killed (gunicorn's
    # graceful_timeout). The access log (WEB_ACCESS_LOG=false turns it off) costs each request a little
    # Python: off is for the busiest hubs. Its `id=` is the request's X-Request-ID header as it came in
    # (granian reads request headers only): the id the hub answers with when the proxy in front sets one,
    # `-` otherwise (the id the hub then makes up is in the app's log lines and the response).
    access=(--access-log --access-log-fmt \
      '%(addr)s "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).1fms id=%(header{x-request-id})s')
    case "${WEB_ACCESS_LOG:-true}" in false|0|no|off) access=(--no-access-log) ;; esac
    # granian has no per-request deadline (gunicorn's WEB_TIMEOUT); what it has is wired here:
    # WEB_HEADER_TIMEOUT (s, 1-60, default 30) closes a connection whose request headers have not all
    # arrived (a slow or stalled client); WEB_BACKPRESSURE caps the requests a worker takes at once
    # (default: granian's, the backlog over the workers); more wait in the listen backlog.
    header_timeout="${WEB_HEADER_TIMEOUT:-30}"
    if ! [[ "$header_timeout" =~ ^[0-9]+$ ]] || (( header_timeout < 1 || header_timeout > 60 )); then
      echo "WEB_HEADER_TIMEOUT=${header_timeout}: give whole seconds from 1 to 60" >&2
      exit 2
    fi
    limits=(--http1-header-read-timeout "$((header_timeout * 1000))")
    if [[ -n "${WEB_BACKPRESSURE:-}" ]]; then
      if ! [[ "$WEB_BACKPRESSURE" =~ ^[1-9][0-9]*$ ]]; then
        echo "WEB_BACKPRESSURE=${WEB_BACKPRESSURE}: give a whole number of requests, 1 or more" >&2
        exit 2
      fi
      limits+=(--backpressure "$WEB_BACKPRESSURE")
    fi
    if [[ -n "${WEB_TIMEOUT:-}" ]]; then
      echo "WEB_TIMEOUT applies to gunicorn only (WEB_SERVER=gunicorn): granian has no per-request timeout" >&2
    fi
    exec ./scripts/with_allocator.sh python -m granian --interface wsgi --host "$host" --port "$port" \
      --workers "${WEB_WORKERS:-2}" --blocking-threads "${WEB_THREADS:-2}" --runtime-threads 1 --no-ws \
      --respawn-failed-workers --workers-kill-timeout 20 "${limits[@]}" "${access[@]}" journeyhub.wsgi:application ;;
  gunicorn)
    exec ./scripts/with_allocator.sh gunicorn journeyhub.wsgi --config journeyhub/gunicorn.conf.py ;;
  *)
    echo "WEB_SERVER=${WEB_SERVER}: use granian or gunicorn" >&2
    exit 2 ;;
esac
