"""Prometheus metrics at /metrics, safe under gunicorn's many processes.

Per-process events (requests, callbacks) are prometheus-client counters; with
PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py) every process writes its own file and a scrape
adds them up. Events in jobs (pushes, reminder sweeps) happen in forked RQ work-horses on many
hosts, so they are counted in one Redis hash instead. State (declarations by status, queue
depths, failed jobs) is read at scrape time. Scrapes are served only to clients in
METRICS_ALLOW (default loopback), and only with the METRICS_TOKEN bearer when one is set.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.exposition import choose_encoder
from rq.registry import (DeferredJobRegistry, FailedJobRegistry, ScheduledJobRegistry,
                         StartedJobRegistry)
from sqlalchemy import func, select

from app.extensions import db
from app.models import Declaration
from app.redis_conn import get_redis
from workers.queues import QUEUE_NAMES, get_queue

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

REQUESTS = Counter("anju_http_requests_total", "HTTP requests answered, by endpoint and status.",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("anju_http_request_duration_seconds", "Time to answer, by endpoint.",
                    ["endpoint"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
CALLBACKS = Counter("anju_wechat_callbacks_total",
                    "WeChat callback POSTs by outcome: handled, duplicate (a retry answered "
                    "from the first delivery), refused (signature, replay, format), error.",
                    ["outcome"])

# Job-side counters live in one Redis hash: field "<name>|<label>|<label>" → number.
REDIS_COUNTERS = "anju:metrics:counters"
DEFAULT_ALLOW = "127.0.0.1/32,::1/128"


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request and its duration."""
    REQUESTS.labels(endpoint, method, str(status)).inc()
    LATENCY.labels(endpoint).observe(seconds)


def count_callback(outcome: str) -> None:
    CALLBACKS.labels(outcome).inc()


def count_in_redis(name: str, *labels: str, amount: float = 1) -> None:
    """Add to a cluster-wide counter kept in Redis; never fails the caller."""
    try:
        get_redis().hincrbyfloat(REDIS_COUNTERS, "|".join((name, *labels)), amount)
    except Exception as exc:  # noqa: BLE001 - metrics must not break a push or a sweep
        log.warning("metrics counter %s not recorded: %s", name, type(exc).__name__)


def count_push(channel: str, result: str) -> None:
    count_in_redis("push", channel, result)


def observe_reminder_sweep(seconds: float) -> None:
    count_in_redis("reminder_sweep_count")
    count_in_redis("reminder_sweep_seconds", amount=seconds)

    try:
        get_redis().hset(REDIS_COUNTERS, "reminder_sweep_last_seconds", seconds)
    except Exception:  # noqa: BLE001
        pass


# --- the scrape -------------------------------------------------------------------------------

def _allowed() -> bool:
    config = current_app.config
    try:
        client = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    networks = [n.strip() for n in (config.get("METRICS_ALLOW") or DEFAULT_ALLOW).split(",")]
    if not any(client in ipaddress.ip_network(n, strict=False) for n in networks if n):
        return False
    token = config.get("METRICS_TOKEN")
    if not token:
        return True
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header.lower().startswith("bearer ") else ""
    return hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8"))


class _Families:
    """A collector that yields metric families built for this one scrape."""

    def __init__(self, families):
        self.families = families

    def collect(self):
        return iter(self.families)


class _Default:
    """The process's own registry (single-process mode: the development server, tests)."""

    def collect(self):
        return REGISTRY.collect()


def _state_families() -> list:
    families, errors = [], GaugeMetricFamily(
        "anju_metrics_source_up", "1 when this scrape could read the source.", labels=["source"])
    for source, build in (("database", _database_families), ("redis", _redis_families)):
        try:
            families.extend(build())
            errors.add_metric([source], 1)
        except Exception as exc:  # noqa: BLE001 - a scrape reports a dead source, never 500s
            log.warning("metrics: %s unreadable: %s", source, type(exc).__name__)
            if source == "database":
                db.session.rollback()
            errors.add_metric([source], 0)
    families.append(errors)
    return families


def _database_families() -> list:
    gauge = GaugeMetricFamily("anju_declarations", "Declarations by status.", labels=["status"])
    rows = db.session.execute(select(Declaration.status, func.count()).group_by(Declaration.status))
    for status, count in rows:
        gauge.add_metric([status], count)
    db.session.rollback()  # end the read transaction
    return [gauge]


def _redis_families() -> list:
    connection = get_redis()
    depth = GaugeMetricFamily("anju_queue_jobs", "Jobs per queue and state (queued, started, "
                              "scheduled, deferred, failed).", labels=["queue", "state"])
    failed = GaugeMetricFamily("anju_jobs_failed", "Jobs in the failed registry (after their "
                               "retries), per queue.", labels=["queue"])
    for name in QUEUE_NAMES:
        queue = get_queue(name, connection)
        depth.add_metric([name, "queued"], queue.count)
        for state, registry in (("started", StartedJobRegistry), ("scheduled", ScheduledJobRegistry),
                                ("deferred", DeferredJobRegistry)):
            depth.add_metric([name, state], registry(queue=queue).count)
        failed_count = FailedJobRegistry(queue=queue).count
        depth.add_metric([name, "failed"], failed_count)
        failed.add_metric([name], failed_count)

    raw = {k.decode(): float(v) for k, v in (connection.hgetall(REDIS_COUNTERS) or {}).items()}
    pushes = CounterMetricFamily("anju_pushes", "Pushes by channel and result (sent, failed, "
                                 "deferred, unreachable, duplicate, no_recipient, error).",
                                 labels=["channel", "result"])
    for key, value in sorted(raw.items()):
        parts = key.split("|")
        if parts[0] == "push" and len(parts) == 3:
            pushes.add_metric(parts[1:], value)
    sweep = SummaryMetricFamily("anju_reminder_sweep_duration_seconds",
                                "Reminder sweeps run and their total duration.",
                                count_value=raw.get("reminder_sweep_count", 0),
                                sum_value=raw.get("reminder_sweep_seconds", 0))
    last = GaugeMetricFamily("anju_reminder_sweep_last_duration_seconds",
                             "Duration of the latest reminder sweep.",
                             value=raw.get("reminder_sweep_last_seconds", 0))
    return [depth, failed, pushes, sweep, last]


@bp.get("/metrics")
def metrics():
    """Prometheus text format; 403 for clients outside METRICS_ALLOW or without the token."""
    if not _allowed():
        abort(403)
    started = time.perf_counter()
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Default())
    families = _state_families()
    families.append(GaugeMetricFamily("anju_metrics_scrape_seconds", "Time to read the state.",
                                      value=time.perf_counter() - started))
    registry.register(_Families(families))
    # Negotiated: Prometheus asks for OpenMetrics or the classic text format (0.0.4).
    encoder, content_type = choose_encoder(request.headers.get("Accept"))
    return Response(encoder(registry), content_type=content_type)
