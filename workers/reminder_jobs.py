"""Reminder jobs: the periodic sweep and the sends it queues (DESIGN §4 flow 7).

The sweep commits once per chunk and queues send batches; each send claims its reminder with
one conditional UPDATE and commits before pushing, so however many schedulers and workers run,
a reminder goes out at most once (and the push's dedupe key covers a worker dying mid-send).
"""
from __future__ import annotations

import time
from datetime import datetime

from app.extensions import db
from app.models import utcnow

SEND_JOB_TIMEOUT = 600
# A queued id is not queued again for this long: a backlog waiting in Redis must not be doubled
# by the next sweep. Longer than the sweep interval, shorter than a day's carry-over.
QUEUED_TTL = 2 * 3600


def _now(now_iso: str | None) -> datetime:
    return datetime.fromisoformat(now_iso) if now_iso else utcnow()


def sweep_reminders(now_iso: str | None = None) -> dict:
    """Evaluate every reminder rule over the district, then queue the sends that are due.

    `now_iso` (naive UTC) freezes the clock for tests and back-fills; sends then use it too.
    """
    from app.services.reminders import clock, delivery, quota, rules, sweep

    from app.metrics import observe_reminder_sweep

    now = _now(now_iso)
    s = rules.settings()
    stats = sweep.SweepStats()
    started = time.perf_counter()
    for stats in sweep.sweep(now, s):
        db.session.commit()  # one short transaction per chunk
    db.session.commit()
    observe_reminder_sweep(time.perf_counter() - started)
    result = stats.as_dict()
    result["queued"] = dispatch_due(now, s, now_iso=now_iso)
    return result


def dispatch_due(now: datetime, s, *, now_iso: str | None = None) -> int:
    """Queue send batches for due reminders, within what is left of today's quota."""
    from app.redis_conn import get_redis
    from app.services.reminders import clock, delivery, quota, rules, sweep
    from workers.queues import enqueue_now

    if clock.in_quiet_hours(now, s):
        return 0  # the first sweep after the quiet hours picks them up
    left = max(s.daily_quota - quota.quota_used(now), 0)
    queued = 0
    redis = get_redis()
    for ids in sweep.due_reminder_ids(now, limit=left):
        db.session.rollback()  # no transaction held open while talking to Redis
        with redis.pipeline(transaction=False) as pipe:
            for reminder_id in ids:
                pipe.set(f"anju:reminder:queued:{reminder_id}", 1, nx=True, ex=QUEUED_TTL)
            fresh = [i for i, new in zip(ids, pipe.execute()) if new]
        for start in range(0, len(fresh), sweep.SEND_BATCH):
            batch = fresh[start:start + sweep.SEND_BATCH]
            enqueue_now(send_reminders, batch, now_iso, queue="default",
                        job_timeout=SEND_JOB_TIMEOUT)
            queued += len(batch)
    db.session.rollback()
    return queued


def send_reminder(reminder_id: int, now_iso: str | None = None) -> str:
    """Send one reminder if it is still due: claim, commit, push, record the result, commit."""
    from app.services.reminders import clock, delivery, quota, rules, sweep

    s = rules.settings()
    now = _now(now_iso)
    outcome = delivery.claim(reminder_id, now, s)
    db.session.commit()
    if outcome != "claimed":
        return outcome
    try:
        status = delivery.deliver(reminder_id, now, s)
    except Exception:
        db.session.commit()  # deliver handed the reminder back to "pending": keep that
        raise
    db.session.commit()
    return status


def send_reminders(reminder_ids: list[int], now_iso: str | None = None) -> dict[str, int]:
    """Send a batch of reminders (what the sweep queues); returns how many ended in each state.

    One failing push does not hold up the rest of the batch; the first error is raised at the
    end so the job is retried (reminders already sent are skipped by their claim).
    """
    counts: dict[str, int] = {}
    error: Exception | None = None
    for reminder_id in reminder_ids:
        try:
            status = send_reminder(int(reminder_id), now_iso)
        except Exception as exc:  # noqa: BLE001 - re-raised below
            db.session.rollback()
            error, status = error or exc, "error"
        counts[status] = counts.get(status, 0) + 1
    if error is not None:
        raise error
    return counts
