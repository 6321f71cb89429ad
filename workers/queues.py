"""Queue names and the one enqueue helper: jobs are enqueued only after the commit."""
from __future__ import annotations

from flask import current_app
from rq import Queue
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db
from app.redis_conn import get_redis

QUEUE_NAMES = ("high", "default", "low")
_PENDING = "anju_pending_jobs"


def get_queue(name: str = "default") -> Queue:
    """An RQ queue on the app's Redis; synchronous (inline) when REDIS_URL is unset."""
    inline = not current_app.config.get("REDIS_URL")
    return Queue(name, connection=get_redis(), is_async=not inline)


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


@event.listens_for(Session, "after_commit")
def _flush_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    for func, args, queue, options in pending:
        try:
            enqueue_now(func, *args, queue=queue, **options)
        except Exception:  # Redis down: the sweeper re-enqueues from the database
            current_app.logger.warning("enqueue of %s failed; left for the sweeper", func.__name__)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
