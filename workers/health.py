"""`python -m workers --check [workers|scheduler]`: exit 0 when healthy, 1 otherwise (systemd,
compose healthchecks, monitoring). One line on stdout says why."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from rq import Worker

from app.redis_conn import get_redis
from workers.queues import QUEUE_NAMES, get_queue
from workers.schedule import PERIODIC_JOBS, _LOCK_KEY

HEARTBEAT_WITHIN = 60  # seconds: RQ workers beat every few seconds while alive


def worker_health(connection, now: datetime | None = None) -> tuple[bool, str]:
    """Unhealthy when jobs are waiting and no worker has sent a heartbeat within 60 s."""
    now = now or datetime.now(timezone.utc)
    waiting = {name: get_queue(name, connection).count for name in QUEUE_NAMES}
    alive = []
    for worker in Worker.all(connection=connection):
        beat = worker.last_heartbeat
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=timezone.utc)
        if beat is not None and (now - beat).total_seconds() <= HEARTBEAT_WITHIN:
            alive.append(worker.name)
    total = sum(waiting.values())
    summary = f"waiting={waiting} live_workers={len(alive)}"
    if total and not alive:
        return False, f"unhealthy: {total} job(s) waiting and no worker heartbeat within " \
                      f"{HEARTBEAT_WITHIN}s; {summary}"
    return True, f"ok: {summary}"


def scheduler_health(connection, now: float | None = None) -> tuple[bool, str]:
    """Healthy when some scheduler took the every-minute sweep's current or previous period."""
    now = time.time() if now is None else now
    func, interval = min(((f, i) for f, i, _q, _k in PERIODIC_JOBS), key=lambda fi: fi[1])
    period = int(now // interval)
    for p in (period, period - 1):
        if connection.exists(_LOCK_KEY.format(name=func.__name__, period=p)):
            return True, f"ok: {func.__name__} scheduled for period {p}"
    return False, f"unhealthy: no scheduler has enqueued {func.__name__} in the last " \
                  f"{2 * interval}s"


def check(what: str = "workers") -> int:
    """Print the verdict; 0 healthy, 1 unhealthy or Redis unreachable."""
    try:
        connection = get_redis()
        ok, line = (scheduler_health if what == "scheduler" else worker_health)(connection)
    except Exception as exc:  # noqa: BLE001 - Redis down is unhealthy, not a traceback
        ok, line = False, f"unhealthy: Redis unreachable ({type(exc).__name__})"
    print(line, flush=True)
    return 0 if ok else 1
