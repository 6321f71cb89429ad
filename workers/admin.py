"""Failed jobs for administrators: list them and requeue one (`flask jobs failed|requeue`).

Job arguments are ids and plain values (JSON), never personal data, so they may be shown.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from app.redis_conn import get_redis
from workers.queues import JOB_SERIALIZER, QUEUE_NAMES, get_queue


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    function: str
    args: list
    kwargs: dict
    exception: str  # the last line of the traceback: type and message
    failed_at: datetime | None

    def as_dict(self) -> dict:
        data = asdict(self)
        data["failed_at"] = self.failed_at.isoformat() if self.failed_at else None
        return data


def _summary(job: Job) -> str:
    result = job.latest_result()
    text = (result.exc_string if result is not None else None) or ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else "未知错误"


def _registry(queue_name: str) -> FailedJobRegistry:
    return FailedJobRegistry(queue=get_queue(queue_name))


def list_failed_jobs(limit: int = 100) -> list[FailedJob]:
    """Failed jobs of every queue, newest first: id, function, args, exception and when."""
    connection = get_redis()
    found: list[FailedJob] = []
    for name in QUEUE_NAMES:
        ids = _registry(name).get_job_ids(desc=True)
        for job in Job.fetch_many(ids, connection=connection, serializer=JOB_SERIALIZER):
            if job is None:  # expired between the two reads
                continue
            try:
                function, args, kwargs = job.func_name, list(job.args), dict(job.kwargs)
            except Exception:  # noqa: BLE001 - a job written by another serializer
                function, args, kwargs = "（无法读取）", [], {}
            found.append(FailedJob(id=job.id, queue=name, function=function, args=args,
                                   kwargs=kwargs, exception=_summary(job),
                                   failed_at=job.ended_at))
    found.sort(key=lambda j: j.failed_at or datetime.min, reverse=True)
    return found[:limit]


def requeue_failed_job(job_id: str) -> bool:
    """Put one failed job back on its queue; False when no queue holds it as failed."""
    for name in QUEUE_NAMES:
        registry = _registry(name)
        if job_id in registry:
            try:
                registry.requeue(job_id)
            except (InvalidJobOperation, NoSuchJobError):
                return False
            return True
    return False
