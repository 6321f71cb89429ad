"""Queue names and the one enqueue helper: jobs are enqueued only after the commit."""
from __future__ import annotations

import threading

from flask import current_app
from rq import Queue
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db
from app.redis_conn import get_redis

QUEUE_NAMES = ("high", "default", "low")
_PENDING = "anju_pending_jobs"


def is_inline() -> bool:
    """Without REDIS_URL (the embedded demo) jobs run in-process, synchronously."""
    return not current_app.config.get("REDIS_URL")


def get_queue(name: str = "default") -> Queue:
    """An RQ queue on the app's Redis; synchronous (is_async=False) when REDIS_URL is unset."""
    return Queue(name, connection=get_redis(), is_async=not is_inline())


def enqueue_now(func, *args, queue: str = "default", **job_options):
    """Enqueue immediately; use only outside a database transaction."""
    return get_queue(queue).enqueue(func, *args, **job_options)


def enqueue_after_commit(func, *args, queue: str = "default", **job_options) -> None:
    """Enqueue once the current transaction commits, so the worker sees the rows; dropped on rollback.

    If Redis is unreachable at that moment the job is simply not queued: the periodic sweeper
    finds the rows still waiting and enqueues them again, so nothing accepted is lost.
    """
    session = db.session()
    session.info.setdefault(_PENDING, []).append((func, args, queue, job_options))


def _run_inline(app, func, args, queue, options) -> None:
    # A committed Session cannot emit SQL inside its own after_commit hook, so an inline job runs
    # in a fresh app context (hence a fresh scoped session) on a helper thread, joined at once.
    def target():
        with app.app_context():
            try:
                enqueue_now(func, *args, queue=queue, **options)
            except Exception:  # noqa: BLE001 - a failed job must not fail the request
                app.logger.exception("inline job %s failed; the sweeper will retry", func.__name__)
            finally:
                db.session.remove()

    thread = threading.Thread(target=target, name=f"inline-{func.__name__}")
    thread.start()
    thread.join()


@event.listens_for(Session, "after_commit")
def _flush_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    app = current_app._get_current_object()
    for func, args, queue, options in pending:
        if is_inline():
            _run_inline(app, func, args, queue, options)
            continue
        try:
            enqueue_now(func, *args, queue=queue, **options)
        except Exception:  # noqa: BLE001 - Redis down: the sweeper re-enqueues from the database
            app.logger.warning("enqueue of %s failed; left for the sweeper", func.__name__)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
