"""The outbox relay: hands promised jobs (OutboxJob rows) to RQ, and marks them done when they ran.

Two roads lead a row to the queue: right after the commit that wrote it (the session's
after-commit hook below, attached by the app factory, calls `relay_promised`), and `relay_outbox`, the periodic job, for every row the
first road missed (Redis was down, the process died between commit and enqueue) and every row
handed over long ago that RQ no longer knows (Redis lost its data). Each RQ job is named after its
row ("outbox-<id>") and marks the row done on success; jobs check their state first, so a row
handed over twice does no harm.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

from flask import current_app
from rq import Callback
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import OutboxJob, utcnow
from app.outbox import PROMISED
from app.redis_conn import get_redis
from workers.queues import JOB_SERIALIZER, QUEUE_NAMES, get_queue, is_inline, options_for

# A row the after-commit relay has not handed over within this long is handed over by the
# periodic job (which runs every few seconds: see workers/schedule.py).
RELAY_GRACE = timedelta(seconds=5)
# A row handed over this long ago and still not done is looked up in RQ: gone means re-enqueue.
CHECK_AFTER = timedelta(seconds=60)
RELAY_LIMIT = 1000  # rows per periodic run; the next run takes the rest
KEEP_DONE = timedelta(days=7)
_LOCK = "anju:outbox:relay"
_JOB_ID_PREFIX = "outbox-"


def outbox_id(job_id: str | None) -> int | None:
    """The OutboxJob id behind an RQ job id, None for jobs not from the outbox."""
    if job_id and job_id.startswith(_JOB_ID_PREFIX) and job_id[len(_JOB_ID_PREFIX):].isdigit():
        return int(job_id[len(_JOB_ID_PREFIX):])
    return None


def mark_done(job, connection, result, *args, **kwargs) -> None:
    """RQ success callback: the job behind an outbox row ran; the row is done."""
    row_id = outbox_id(job.id)
    if row_id is None:
        return
    db.session.rollback()  # whatever the job left open is not ours to commit
    db.session.execute(update(OutboxJob).where(OutboxJob.id == row_id,
                                               OutboxJob.done_at.is_(None))
                       .values(done_at=utcnow()))
    db.session.commit()


def enqueue_row(row_id: int, name: str, args: list, queue: str):
    """Put one outbox row's job on its queue (or run it at once in inline mode)."""
    return get_queue(queue).enqueue(name, *args, job_id=f"{_JOB_ID_PREFIX}{row_id}",
                                    on_success=Callback(mark_done), **options_for(name))


def _mark_enqueued(ids: list[int], now: datetime, conn=None) -> None:
    stmt = (update(OutboxJob).where(OutboxJob.id.in_(ids))
            .values(enqueued_at=now, attempts=OutboxJob.attempts + 1))
    if conn is not None:
        conn.execute(stmt)
    else:
        db.session.execute(stmt)


def relay_promised(promised: list[tuple[int, str, list, str]]) -> int:
    """After commit: enqueue what the transaction promised; failures wait for `relay_outbox`.

    Runs inside the session's after_commit hook, where the session cannot emit SQL: the rows
    are marked enqueued through a connection of their own.
    """
    handed = []
    for row_id, name, args, queue in promised:
        try:
            enqueue_row(row_id, name, args, queue)
            handed.append(row_id)
        except Exception as exc:  # noqa: BLE001 - Redis down: the periodic relay hands it over
            current_app.logger.warning(
                "enqueue of %s (outbox %s) failed, left for the relay with %d more: %s: %s",
                name, row_id, len(promised) - len(handed) - 1, type(exc).__name__, exc)
            break  # the rest would wait for the same dead Redis, each its own timeout
    if handed:
        try:
            with db.engine.begin() as conn:
                _mark_enqueued(handed, utcnow(), conn)
        except Exception as exc:  # noqa: BLE001 - the relay enqueues it again; jobs are idempotent
            current_app.logger.warning("could not mark outbox rows %s enqueued: %s",
                                       handed, exc)
    return len(handed)


def run_promised_inline(promised: list[tuple[int, str, list, str]]) -> None:
    """Inline mode (no Redis): run each promised job now, in this (fresh) app context."""
    for row_id, name, args, queue in promised:
        try:
            _mark_enqueued([row_id], utcnow())
            db.session.commit()
            enqueue_row(row_id, name, args, queue)  # synchronous: runs it and marks it done
        except Exception:  # noqa: BLE001 - a failed job must not fail the request
            db.session.rollback()
            current_app.logger.exception("inline job %s (outbox %s) failed", name, row_id)


def relay_outbox(now_iso: str | None = None) -> dict[str, int]:
    """Periodic: enqueue rows nobody handed over, re-enqueue rows RQ lost, recover dead workers'
    jobs, and forget rows done a week ago; returns counts."""
    redis = get_redis()
    if not redis.set(_LOCK, 1, nx=True, ex=30):  # short: a lock left by a crash blocks little
        return {"busy": 1}  # another relay is running; the next period tries again
    try:
        now = datetime.fromisoformat(now_iso) if now_iso else utcnow()
        counts = {"enqueued": _relay_unsent(now), "requeued": 0, "done": 0}
        counts.update(_check_handed_over(now))
        counts["abandoned"] = recover_abandoned_jobs()
        old = list(db.session.execute(select(OutboxJob.id).where(
            OutboxJob.done_at < now - KEEP_DONE).limit(RELAY_LIMIT)).scalars())
        if old:  # a bounded delete: the first run after a long pause takes a few periods
            db.session.execute(delete(OutboxJob).where(OutboxJob.id.in_(old)))
        db.session.commit()
        return counts
    finally:
        redis.delete(_LOCK)


def _relay_unsent(now: datetime) -> int:
    rows = db.session.execute(
        select(OutboxJob.id, OutboxJob.job, OutboxJob.args, OutboxJob.queue)
        .where(OutboxJob.done_at.is_(None), OutboxJob.enqueued_at.is_(None),
               OutboxJob.created_at <= now - RELAY_GRACE)
        .order_by(OutboxJob.id).limit(RELAY_LIMIT)).tuples().all()
    db.session.rollback()  # no transaction held open while talking to Redis
    for row_id, name, args, queue in rows:
        enqueue_row(row_id, name, args, queue)  # Redis down: the job fails, the next run retries
        _mark_enqueued([row_id], now)
        db.session.commit()
    return len(rows)


def _check_handed_over(now: datetime) -> dict[str, int]:
    """Rows handed over CHECK_AFTER ago and not done: RQ has finished them (the callback's
    commit was lost), still holds them (checked again later), or lost them (enqueued again)."""
    rows = db.session.execute(
        select(OutboxJob.id, OutboxJob.job, OutboxJob.args, OutboxJob.queue)
        .where(OutboxJob.done_at.is_(None), OutboxJob.enqueued_at <= now - CHECK_AFTER)
        .order_by(OutboxJob.enqueued_at).limit(RELAY_LIMIT)).tuples().all()
    db.session.rollback()
    counts = {"requeued": 0, "done": 0}
    for row_id, name, args, queue in rows:
        try:
            status = Job.fetch(f"{_JOB_ID_PREFIX}{row_id}", connection=get_redis(),
                               serializer=JOB_SERIALIZER).get_status()
        except NoSuchJobError:
            status = None
        if status == JobStatus.FINISHED:
            db.session.execute(update(OutboxJob).where(OutboxJob.id == row_id)
                               .values(done_at=now))
            counts["done"] += 1
        elif status is None:
            enqueue_row(row_id, name, args, queue)
            _mark_enqueued([row_id], now)
            counts["requeued"] += 1
        else:  # queued, started, scheduled for a retry, or failed (an administrator's call)
            db.session.execute(update(OutboxJob).where(OutboxJob.id == row_id)
                               .values(enqueued_at=now))
        db.session.commit()
    return counts


def recover_abandoned_jobs() -> int:
    """Retry, now, the jobs whose worker died (their heartbeat lapsed): RQ would find them at its
    10-minute maintenance and wait out the retry back-off, which is for failing jobs, not dead
    workers. Returns how many were handed back to their queue."""
    found = 0
    for name in QUEUE_NAMES:
        queue = get_queue(name)
        registry = StartedJobRegistry(queue=queue)
        expired = registry.get_expired_job_ids()
        if not expired:
            continue
        registry.cleanup()  # RQ's own handling: a retry (scheduled after its back-off) or failed
        scheduled = ScheduledJobRegistry(queue=queue)
        for job in Job.fetch_many(list(dict.fromkeys(expired)), connection=queue.connection,
                                  serializer=queue.serializer):
            if job is not None and job.get_status() == JobStatus.SCHEDULED:
                scheduled.remove(job)
                queue.enqueue_job(job)
                found += 1
    return found


# -- the session hooks: after commit, relay what the transaction promised ----------------------

def _run_inline(app, promised) -> None:
    # A committed Session cannot emit SQL inside its own after_commit hook, so inline jobs run
    # in a fresh app context (hence a fresh scoped session) on a helper thread, joined at once.
    def target():
        with app.app_context():
            try:
                run_promised_inline(promised)
            finally:
                db.session.remove()

    thread = threading.Thread(target=target, name="inline-jobs")
    thread.start()
    thread.join()


def _flush_pending(session: Session) -> None:
    # SQLAlchemy fires after_commit for a released SAVEPOINT too (the outbox itself uses one per
    # promise): only the outermost commit makes the promises true, so relay nothing before it.
    if session.get_nested_transaction() is not None:
        return
    promised = session.info.pop(PROMISED, None)
    if not promised:
        return
    if is_inline():
        _run_inline(current_app._get_current_object(), promised)
        return
    relay_promised(promised)


def _drop_pending(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a SAVEPOINT rolled back: the outer transaction's promises still stand
    session.info.pop(PROMISED, None)


def attach_session_listeners() -> None:
    """Relay each commit's promises (and drop a rollback's): called by the app factory, once per
    process however many apps it builds."""
    for name, listener in (("after_commit", _flush_pending), ("after_rollback", _drop_pending)):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
