"""gunicorn settings for Anju's web role: `gunicorn -c deploy/gunicorn.conf.py wsgi:app`.

Every value can be overridden from the environment (GUNICORN_*), so one file serves the image,
the systemd unit and the tests. Run it behind the buffering nginx (deploy/nginx.conf): nginx
holds slow clients, gunicorn only ever talks to nginx.
"""
import json
import logging
import multiprocessing
import os
from datetime import datetime, timezone


def _int(name, default):
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


# Loopback by default: nobody may reach gunicorn past the proxy with a forged X-Forwarded-For.
# In a container set GUNICORN_BIND=0.0.0.0:8000 (the container network is private).
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# gthread: each process serves `threads` requests at once, so a request waiting up to 10 s on
# WeChat's API does not hold a whole process. gevent/eventlet are not used: they monkey-patch
# sockets under PyMySQL, redis and RQ. Size threads to the database pool (pool_size 5 +
# max_overflow 10 per process by default).
worker_class = "gthread"
workers = _int("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8))
threads = _int("GUNICORN_THREADS", 8)

# A worker whose request has not answered in 30 s is killed and replaced; nginx's
# proxy_read_timeout (35 s) is a little longer, so the client gets nginx's 502, never a hang.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)  # nginx's upstream keepalive reuses connections

# Recycle each process after about max_requests answers (jitter spreads the restarts so the
# processes never all restart at once): bounds slow leaks.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)

# Bounded request lines and headers: nginx already refuses larger ones; this is the second wall.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# The app writes its own one-line-per-request log (app/logs.py); gunicorn's access log would
# print the raw URL with its query string, so it is off. Errors go to stderr (journald/docker).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
capture_output = False


class _JsonLines(logging.Formatter):
    """gunicorn's own lines (boot, worker exits, timeouts) in the app's JSON shape."""

    def format(self, record):
        return json.dumps({
            "ts": datetime.fromtimestamp(record.created, timezone.utc)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(), "logger": record.name,
            "msg": record.getMessage()}, ensure_ascii=False)


def _json_logs():
    chosen = os.environ.get("LOG_FORMAT", "").strip().lower()
    return chosen == "json" or (chosen != "text" and os.environ.get("APP_ENV") == "production")


if _json_logs():  # LOG_FORMAT / APP_ENV as in app/logs.py: one log shape on stderr
    # gunicorn merges this over its defaults key by key: every handler, logger and the root
    # it names are given here.
    _stderr = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": _JsonLines}},
        "handlers": {"console": dict(_stderr), "error_console": dict(_stderr)},
        "root": {"level": "INFO", "handlers": []},  # the app installs its own (app/logs.py)
        "loggers": {
            "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error_console"],
                               "propagate": False, "qualname": "gunicorn.error"},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False,
                                "qualname": "gunicorn.access"},
        },
    }

# Trust X-Forwarded-* only through the app's ProxyFix (TRUSTED_PROXIES), not gunicorn's.
forwarded_allow_ips = "127.0.0.1"

# The app is created in each worker after fork (no shared DB sockets between processes).
preload_app = False

# Temporary files on a RAM disk if present: the heartbeat file must not stall on a slow disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None


def on_starting(server):
    """Prometheus multiprocess mode: empty the metrics directory left by a previous run."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    """A dead worker's live gauges stop counting (its counters keep adding up)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
