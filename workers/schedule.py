"""Periodic work declared as data, and the scheduler that enqueues it once per period.

Each entry is (job, interval in seconds, queue, keyword arguments). Periods are aligned to the
epoch (period n covers [n·interval, (n+1)·interval)), so every scheduler process computes the same
period number, and a Redis `SET NX` on (job, period) lets exactly one of them enqueue it: running
two schedulers by mistake (or during a deploy) never double-runs a period.
"""
from __future__ import annotations

import os
import socket
import time

from wechat.jobs import retry_pushes
from workers.jobs import escalate_unconfirmed_self_declarations
from workers.outbox import relay_outbox
from workers.police_jobs import sweep_control_tasks
from workers.kpi_jobs import generate_due_kpi_reports, refresh_kpi_aggregates
from workers.outage import REDIS_ERRORS, RedisOutage
from workers.queues import enqueue_now
from workers.reminder_jobs import sweep_reminders
from workers.retention_jobs import anonymise_ended_stays, purge_audit_logs

PERIODIC_JOBS = [
    # Every few seconds: whatever a commit promised and nobody enqueued (Redis was down, the
    # process died) is on its queue moments after Redis is back; dead workers' jobs are retried.
    (relay_outbox, 5, "high", {}),
    # Pushes left pending (quiet hours, quota, a worker that died) or stuck in "sending".
    (retry_pushes, 60, "default", {}),
    (sweep_reminders, 3600, "low", {"job_timeout": 3000}),  # hourly: 08:00 ends quiet hours
    # Self-declarations the landlord left unanswered past SELF_DECLARATION_CONFIRM_DAYS.
    (escalate_unconfirmed_self_declarations, 3600, "low", {}),
    (purge_audit_logs, 86400, "low", {"job_timeout": 3600}),  # daily (docs/DEPLOY.md 数据保留)
    (anonymise_ended_stays, 86400, "low", {"job_timeout": 3600}),
    (sweep_control_tasks, 3600, "low", {}),  # hourly: overdue 五见/四知 items → alerts
    # KPI report of the half-month just ended: made on the first run after local midnight of the
    # 16th and the 1st; the unique report key makes every later run a no-op.
    (generate_due_kpi_reports, 3600, "low", {"job_timeout": 1800}),
    # Address KPI aggregates (地址标注率, 房屋采集率), recounted where addresses/houses changed.
    (refresh_kpi_aggregates, 600, "low", {"job_timeout": 1800}),
]

_LOCK_KEY = "anju:schedule:{name}:{period}"


def enqueue_due_jobs(connection, now: float | None = None, owner: str | None = None) -> list[str]:
    """Enqueue every periodic job whose current period nobody has enqueued yet; return names."""
    now = time.time() if now is None else now
    owner = owner or f"{socket.gethostname()}:{os.getpid()}"
    enqueued = []
    for func, interval, queue, kwargs in PERIODIC_JOBS:
        period = int(now // interval)
        key = _LOCK_KEY.format(name=func.__name__, period=period)
        # The key outlives its period so a late scheduler cannot take the same period again.
        if connection.set(key, owner, nx=True, ex=interval * 2):
            enqueue_now(func, queue=queue, **kwargs)  # options from JOB_OPTIONS, then kwargs
            enqueued.append(func.__name__)
    return enqueued


def run_scheduler(connection, tick: float = 1.0, stop=lambda: False, log=print,
                  sleep=time.sleep) -> None:
    """Loop forever (until `stop()`): enqueue due periodic jobs every tick. A Redis outage is
    logged once when it starts and once when it ends, with back-off between attempts."""
    outage = RedisOutage(log=lambda message: log(f"scheduler: {message}"))
    while not stop():
        try:
            names = enqueue_due_jobs(connection)
        except REDIS_ERRORS as exc:
            outage.down(exc)
            sleep(max(tick, outage.delay()))
            continue
        except Exception as exc:  # noqa: BLE001 - one bad tick must not end the schedule
            log(f"scheduler: {type(exc).__name__}: {exc}")
        else:
            outage.up()
            for name in names:
                log(f"scheduled {name}")
        sleep(tick)
