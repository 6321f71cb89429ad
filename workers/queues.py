"""Queue names, per-job options and the one enqueue helper: jobs are enqueued only after commit."""
from __future__ import annotations

import threading

from flask import current_app
from rq import Queue, Retry
from rq.serializers import JSONSerializer
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db
from app.redis_conn import get_redis

QUEUE_NAMES = ("high", "default", "low")
# Job arguments and results travel as JSON: jobs take ids and plain values, never objects, so a
# job survives a deploy that changes a class and can be read (and requeued) by an administrator.
JOB_SERIALIZER = JSONSerializer
_PENDING = "anju_pending_jobs"

# Timeouts and retries, in one place. Retries back off 10 s, 30 s, 60 s: long enough to ride out
# a database failover or a lock wait, short enough that a submitter hears back within minutes.
# A job that still fails stays in the failed registry for 30 days (see workers/admin.py).
_BACKOFF = {"max": 3, "interval": [10, 30, 60]}
FAILURE_TTL = 30 * 24 * 3600
JOB_OPTIONS: dict[str, dict] = {
    "validate_declaration": {"job_timeout": 120, "retry": _BACKOFF, "failure_ttl": FAILURE_TTL},
    "validate_declarations_batch": {"job_timeout": 1800, "retry": _BACKOFF,
                                    "failure_ttl": FAILURE_TTL},
    "notify_declaration_status": {"job_timeout": 60, "retry": _BACKOFF,
                                  "failure_ttl": FAILURE_TTL},
    "sweep_stale_declarations": {"job_timeout": 300, "failure_ttl": FAILURE_TTL},
}


def job_options(func, **overrides) -> dict:
    """The enqueue options of a job: its entry in JOB_OPTIONS, a fresh Retry, then overrides."""
    options = dict(JOB_OPTIONS.get(func.__name__, {}))
    retry = options.pop("retry", None)
    if retry is not None:
        options["retry"] = Retry(max=retry["max"], interval=list(retry["interval"]))
    options.update(overrides)
    return options


def is_inline() -> bool:
    """Without REDIS_URL (the embedded demo) jobs run in-process, synchronously."""
    return not current_app.config.get("REDIS_URL")


def get_queue(name: str = "default", connection=None) -> Queue:
    """An RQ queue on the app's Redis; synchronous (is_async=False) when REDIS_URL is unset."""
    return Queue(name, connection=connection or get_redis(), is_async=not is_inline(),
                 serializer=JOB_SERIALIZER)


def enqueue_now(func, *args, queue: str = "default", **overrides):
    """Enqueue immediately with the job's options; use only outside a database transaction."""
    from app.logs import current_request_id

    request_id = current_request_id()
    if request_id:  # the job's log lines carry the id of the request that caused it
        overrides["meta"] = {**(overrides.get("meta") or {}), "request_id": request_id}
    return get_queue(queue).enqueue(func, *args, **job_options(func, **overrides))


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
