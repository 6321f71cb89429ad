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

from workers.jobs import escalate_unconfirmed_self_declarations, sweep_stale_declarations
from workers.kpi_jobs import generate_due_kpi_reports, refresh_kpi_aggregates
from workers.reminder_jobs import sweep_reminders

PERIODIC_JOBS = [
    (sweep_stale_declarations, 60, "low", {}),
    (sweep_reminders, 3600, "low", {"job_timeout": 3000}),  # hourly: 08:00 ends quiet hours
    # Self-declarations the landlord left unanswered past SELF_DECLARATION_CONFIRM_DAYS.
    (escalate_unconfirmed_self_declarations, 3600, "low", {}),
    # KPI report of the half-month just ended: made on the first run after local midnight of the
    # 16th and the 1st; the unique report key makes every later run a no-op.
    (generate_due_kpi_reports, 3600, "low", {"job_timeout": 1800}),
    # Address KPI aggregates (地址标注率, 房屋采集率), recounted where addresses/houses changed.
    (refresh_kpi_aggregates, 600, "low", {"job_timeout": 1800}),
]

_LOCK_KEY = "anju:schedule:{name}:{period}"


def enqueue_due_jobs(connection, now: float | None = None, owner: str | None = None) -> list[str]:
    """Enqueue every periodic job whose current period nobody has enqueued yet; return names."""
    from workers.queues import enqueue_now

    now = time.time() if now is None else now
    owner = owner or f"{socket.gethostname()}:{os.getpid()}"
    enqueued = []
    for func, interval, queue, kwargs in PERIODIC_JOBS:
        period = int(now // interval)
        key = _LOCK_KEY.format(name=func.__name__, period=period)
        # The key outlives its period so a late scheduler cannot take the same period again.
        if connection.set(key, owner, nx=True, ex=interval * 2):
            enqueue_now(func, queue=queue, **kwargs)
            enqueued.append(func.__name__)
    return enqueued


def run_scheduler(connection, tick: float = 1.0, stop=lambda: False, log=print) -> None:
    """Loop forever (until `stop()`): enqueue due periodic jobs every tick; Redis errors wait."""
    while not stop():
        try:
            for name in enqueue_due_jobs(connection):
                log(f"scheduled {name}")
        except Exception as exc:  # noqa: BLE001 - Redis down: try again next tick
            log(f"scheduler: {type(exc).__name__}: {exc}")
        time.sleep(tick)
