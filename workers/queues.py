"""Queue names, per-job options, and enqueueing (now, or after commit through the outbox)."""
from __future__ import annotations

from flask import current_app
from rq import Queue, Retry
from rq.serializers import JSONSerializer

from app.logs import current_request_id
from app.outbox import jobs
from app.redis_conn import get_redis

QUEUE_NAMES = ("high", "default", "low")
# Job arguments and results travel as JSON: jobs take ids and plain values, never objects, so a
# job survives a deploy that changes a class and can be read (and requeued) by an administrator.
JOB_SERIALIZER = JSONSerializer

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
    "notify_claim": {"job_timeout": 60, "retry": _BACKOFF, "failure_ttl": FAILURE_TTL},
    "sweep_stale_declarations": {"job_timeout": 300, "failure_ttl": FAILURE_TTL},
    "send_reminders": {"job_timeout": 600, "retry": _BACKOFF, "failure_ttl": FAILURE_TTL},
    "record_template_delivery": {"job_timeout": 60, "retry": _BACKOFF, "failure_ttl": FAILURE_TTL},
    "send_push": {"job_timeout": 60, "retry": _BACKOFF, "failure_ttl": FAILURE_TTL},
    # Periodic: cheap, frequent, never worth keeping once the next period has come.
    "relay_outbox": {"job_timeout": 120, "ttl": 30, "result_ttl": 60, "failure_ttl": 3600},
    "retry_pushes": {"job_timeout": 300, "ttl": 120, "result_ttl": 300, "failure_ttl": 3600},
}


def options_for(name: str, **overrides) -> dict:
    """The enqueue options of a job by name (dotted or bare): JOB_OPTIONS, a fresh Retry, overrides."""
    options = dict(JOB_OPTIONS.get(name.rsplit(".", 1)[-1], {}))
    retry = options.pop("retry", None)
    if retry is not None:
        options["retry"] = Retry(max=retry["max"], interval=list(retry["interval"]))
    options.update(overrides)
    return options


def job_options(func, **overrides) -> dict:
    """The enqueue options of a job function: its entry in JOB_OPTIONS, a fresh Retry, overrides."""
    return options_for(func.__name__, **overrides)


def job_name(func) -> str:
    """The dotted path RQ imports a job function by."""
    return f"{func.__module__}.{func.__qualname__}"


def is_inline() -> bool:
    """Without REDIS_URL (the embedded demo) jobs run in-process, synchronously."""
    return not current_app.config.get("REDIS_URL")


def get_queue(name: str = "default", connection=None) -> Queue:
    """An RQ queue on the app's Redis; synchronous (is_async=False) when REDIS_URL is unset."""
    return Queue(name, connection=connection or get_redis(), is_async=not is_inline(),
                 serializer=JOB_SERIALIZER)


def enqueue_now(func, *args, queue: str = "default", **overrides):
    """Enqueue immediately with the job's options; use only outside a database transaction."""
    request_id = current_request_id()
    if request_id:  # the job's log lines carry the id of the request that caused it
        overrides["meta"] = {**(overrides.get("meta") or {}), "request_id": request_id}
    return get_queue(queue).enqueue(func, *args, **job_options(func, **overrides))


def enqueue_after_commit(func, *args, queue: str = "default") -> None:
    """Promise `func(*args)` in the current transaction's outbox; enqueued once it commits.

    A rollback promises nothing; if Redis is unreachable at commit, the periodic relay
    (workers/outbox.py) enqueues it a few seconds later, so nothing committed is lost.
    """
    jobs.after_commit(job_name(func), *args, queue=queue)
