#!/bin/sh
# One image (or one host install), one role per process:
#   entrypoint.sh web [gunicorn args…]       gunicorn with deploy/gunicorn.conf.py
#   entrypoint.sh worker [QUEUE…]            an RQ worker (default: high default low); queues may
#                                            also come as one "high:default" word (systemd %i)
#   entrypoint.sh scheduler                  the periodic schedule (workers/schedule.py)
#   entrypoint.sh migrate                    flask db upgrade, then exit
#   entrypoint.sh check-web|ready|check-worker|check-scheduler   health checks (exit 0 = healthy)
#   entrypoint.sh flask …                    any other flask command (jobs failed, addresses import…)
# PYTHON is the interpreter (default: python3 on PATH; a host install sets its virtualenv's).
set -eu

ANJU_HOME="${ANJU_HOME:-$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)}"
PYTHON="${PYTHON:-python3}"
cd "$ANJU_HOME"

role="${1:-web}"
[ "$#" -gt 0 ] && shift
# Only gunicorn's processes share a metrics directory; other roles count nothing there (their
# job-side counters go to Redis, app/metrics.py).
if [ "$role" != web ]; then
    unset PROMETHEUS_MULTIPROC_DIR
fi

# The address the health checks call: gunicorn's bind, with 0.0.0.0 reached on loopback.
health_url() {
    bind="${GUNICORN_BIND:-127.0.0.1:8000}"
    port="${bind##*:}"
    printf 'http://127.0.0.1:%s%s' "$port" "$1"
}

http_check() {
    exec "$PYTHON" -c '
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as answer:
        sys.exit(0 if answer.status == 200 else 1)
except Exception as exc:
    print(f"unhealthy: {exc}", file=sys.stderr)
    sys.exit(1)' "$1"
}

case "$role" in
    web)
        if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
            mkdir -p "$PROMETHEUS_MULTIPROC_DIR"  # emptied by gunicorn.conf.py's on_starting
        fi
        exec "$PYTHON" -m gunicorn -c deploy/gunicorn.conf.py "$@" wsgi:app
        ;;
    worker)
        queues=""
        for word in "$@"; do
            # "high:default.2" → "high default": the ".N" suffix only tells instances apart.
            word="${word%.[0-9]*}"
            queues="$queues $(printf '%s' "$word" | tr ':' ' ')"
        done
        # shellcheck disable=SC2086  # the queue names are words
        exec "$PYTHON" -m workers $queues
        ;;
    scheduler)
        exec "$PYTHON" -m workers --scheduler "$@"
        ;;
    migrate)
        exec "$PYTHON" -m flask --app wsgi db upgrade "$@"
        ;;
    check-web)
        http_check "$(health_url /healthz)"
        ;;
    ready)
        http_check "$(health_url /readyz)"
        ;;
    check-worker)
        exec "$PYTHON" -m workers --check workers
        ;;
    check-scheduler)
        exec "$PYTHON" -m workers --check scheduler
        ;;
    flask)
        exec "$PYTHON" -m flask --app wsgi "$@"
        ;;
    *)
        echo "usage: $0 web|worker [QUEUE…]|scheduler|migrate|check-web|ready|check-worker|check-scheduler|flask …" >&2
        exit 64
        ;;
esac
