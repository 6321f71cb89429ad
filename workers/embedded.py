"""The demo's scheduler: with the embedded defaults (`make run` / `flask run` in development, no
REDIS_URL) a daemon thread runs the periodic schedule (workers/schedule.py) on its intervals,
so reminders, escalations and move-out requests appear as they would in a real deployment.

Never in tests, production, or when Redis is configured (then `flask scheduler` runs it).
"""
from __future__ import annotations

import os
import threading

from app.redis_conn import get_redis
from workers.schedule import enqueue_due_jobs

_STARTED = "anju_embedded_scheduler"


def should_start(app) -> bool:
    """Whether this process is the development server of the embedded demo."""
    return (os.environ.get("FLASK_RUN_FROM_CLI") == "true"
            and app.config.get("APP_ENV") == "development"
            and not app.config.get("TESTING")
            and not app.config.get("REDIS_URL")
            and os.environ.get("ANJU_EMBEDDED_SCHEDULER", "1") != "0")


def tick(app) -> list[str]:
    """Run every periodic job whose period is due, inline, inside the app context."""
    with app.app_context():
        return enqueue_due_jobs(get_redis())


def start(app, interval: float = 5.0) -> threading.Thread | None:
    """Start the scheduler thread once per app; None when it already runs."""
    if app.extensions.get(_STARTED):
        return None
    app.extensions[_STARTED] = True
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                for name in tick(app):
                    app.logger.info("embedded scheduler ran %s", name)
            except Exception:  # noqa: BLE001 - the demo keeps serving; next tick tries again
                app.logger.exception("embedded scheduler tick failed")
            stop.wait(interval)

    thread = threading.Thread(target=loop, name="anju-embedded-scheduler", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    return thread


def init_app(app) -> None:
    """Start the thread at the development server's first request (never in the reloader's
    watcher process, which serves none, nor in CLI commands such as `flask demo-data`)."""
    if not should_start(app):
        return

    @app.before_request
    def _start_embedded_scheduler():
        start(app)
