"""Periodic work declared as data: (job, interval in seconds, queue, keyword arguments)."""
from __future__ import annotations

from workers.jobs import sweep_stale_declarations

PERIODIC_JOBS = [
    (sweep_stale_declarations, 60, "low", {}),
]
