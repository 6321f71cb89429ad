"""Readiness, Prometheus metrics, structured request logs and request ids (issue 16)."""
from __future__ import annotations

import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from app.app_tokens import issue_app_token
from app.fakedata import FakeData
from app.logs import JsonFormatter
from app.models import WeChatUser
from tests.factories import make_address, make_jurisdiction
from tests.wechat import wx

LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}


def scrape(client, **kwargs) -> dict:
    """/metrics as {(name, frozenset(labels)): value}."""
    resp = client.get("/metrics", environ_base=kwargs.pop("environ_base", LOOPBACK), **kwargs)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.content_type.startswith("text/plain; version=0.0.4")
    series = {}
    for family in text_string_to_metric_families(resp.get_data(as_text=True)):
        for sample in family.samples:
            series[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return series


def value(series, name, **labels) -> float:
    return series.get((name, frozenset(labels.items())), 0.0)


# --- /readyz -------------------------------------------------------------------------------

@pytest.fixture()
def database_revision(app, db):
    """Set the database's Alembic revision for one test (restored afterwards)."""
    found = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def set_revision(revision):
        db.session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
        db.session.commit()

    yield set_revision
    set_revision(found)


def _an_older_revision(app) -> str:
    from app.health import _scripts, code_heads

    head = _scripts(app).get_revision(sorted(code_heads(app))[0])
    return head.down_revision if isinstance(head.down_revision, str) else head.down_revision[0]


def test_readyz_is_503_when_the_database_is_behind_the_code(app, client, database_revision):
    older = _an_older_revision(app)
    database_revision(older)
    resp = client.get("/readyz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["status"] == "unavailable"
    assert body["database"]["revision"] == [older]
    assert "flask db upgrade" in body["database"]["error"]
    assert client.get("/healthz").status_code == 200  # liveness does not care: no restart loop


def test_readyz_stays_ready_when_a_newer_release_has_migrated(client, database_revision):
    """During a rolling upgrade the old code keeps serving while the new head is in place."""
    database_revision("newer0000001")
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.get_json()["database"]["note"] == "database is at a newer revision than this code"


class DeadRedis:
    def __getattr__(self, name):
        def refuse(*args, **kwargs):
            import redis

            raise redis.ConnectionError("refused")
        return refuse


def test_readyz_is_503_naming_redis_when_redis_is_down(app, client, monkeypatch):
    monkeypatch.setitem(app.extensions, "anju_redis", DeadRedis())
    resp = client.get("/readyz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["redis"] == {"ok": False, "error": "ConnectionError"}
    assert body["database"]["ok"]


def test_readyz_stays_ready_reporting_a_down_replica(app, client, monkeypatch, tmp_path):
    # Heavy reads fall back to the primary, so a replica outage must not take web hosts out.
    monkeypatch.delitem(app.extensions, "anju_readyz_replica", raising=False)
    monkeypatch.setitem(app.config, "DATABASE_REPLICA_URL",
                        f"sqlite:///{tmp_path}/missing-dir/replica.sqlite3")
    resp = client.get("/readyz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok" and body["database"]["ok"] and body["redis"]["ok"]
    assert body["replica"]["ok"] is False and body["replica"]["error"] == "OperationalError"
    assert body["replica"]["informational"] is True
    app.extensions.pop("anju_readyz_replica").dispose()

    monkeypatch.setitem(app.config, "DATABASE_REPLICA_URL", app.config["SQLALCHEMY_DATABASE_URI"])
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.get_json()["replica"] == {"ok": True, "informational": True}
    app.extensions.pop("anju_readyz_replica").dispose()


def test_readyz_is_503_when_redis_is_down_even_with_the_replica_up(app, client, monkeypatch):
    monkeypatch.delitem(app.extensions, "anju_readyz_replica", raising=False)
    monkeypatch.setitem(app.config, "DATABASE_REPLICA_URL", app.config["SQLALCHEMY_DATABASE_URI"])
    monkeypatch.setitem(app.extensions, "anju_redis", DeadRedis())
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["replica"]["ok"] is True
    app.extensions.pop("anju_readyz_replica").dispose()


# --- /metrics ------------------------------------------------------------------------------

def test_metrics_count_requests_by_endpoint_and_status(client):
    before = scrape(client)
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    client.get("/no/such/page")
    after = scrape(client)
    key = dict(endpoint="health.healthz", method="GET", status="200")
    assert value(after, "anju_http_requests_total", **key) - \
        value(before, "anju_http_requests_total", **key) == 3
    missing = dict(endpoint="unmatched", method="GET", status="404")
    assert value(after, "anju_http_requests_total", **missing) - \
        value(before, "anju_http_requests_total", **missing) == 1
    assert value(after, "anju_http_request_duration_seconds_count", endpoint="health.healthz") - \
        value(before, "anju_http_request_duration_seconds_count", endpoint="health.healthz") == 3


def test_metrics_are_refused_to_a_client_outside_the_allow_list(client):
    resp = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert resp.status_code == 403
    assert "anju_" not in resp.get_data(as_text=True)


def test_behind_nginx_a_forged_forwarded_for_does_not_open_metrics(app, monkeypatch):
    """With TRUSTED_PROXIES=1 nginx overwrites X-Forwarded-For: the client's own 127.0.0.1 claim
    is replaced by its real address, which is not allowed."""
    from app import create_app

    monkeypatch.setenv("ANJU_INSTANCE_PATH", app.instance_path)
    proxied = create_app({**app.config, "TRUSTED_PROXIES": 1})
    # what nginx sends on: its own X-Forwarded-For with the real client address
    resp = proxied.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                                     headers={"X-Forwarded-For": "203.0.113.9"})
    assert resp.status_code == 403


def test_metrics_token_is_required_when_set(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-secret-123")
    assert client.get("/metrics", environ_base=LOOPBACK).status_code == 403
    wrong = {"Authorization": "Bearer nope"}
    assert client.get("/metrics", environ_base=LOOPBACK, headers=wrong).status_code == 403
    scrape(client, headers={"Authorization": "Bearer scrape-secret-123"})


def test_metrics_allow_list_admits_a_configured_network(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_ALLOW", "10.20.0.0/16")
    assert client.get("/metrics", environ_base=LOOPBACK).status_code == 403
    scrape(client, environ_base={"REMOTE_ADDR": "10.20.3.4"})


def test_metrics_report_declarations_by_status(client, db):
    from app.services.declarations import declare, rentals

    place = make_jurisdiction()
    fake = FakeData(77)
    for n in range(2):
        address = make_address(place["community"], full_text=f"度量路{n + 1}号101室")
        rentals.register_house(declare.Submitter(role="landlord"), address, rental_type="whole", rooms=2,
                           owner={"name": fake.name(), "document_type": "resident_id",
                                  "document_number": fake.resident_id()})
    db.session.commit()
    from sqlalchemy import func, select

    from app.models import Declaration

    expected = dict(db.session.execute(
        select(Declaration.status, func.count()).group_by(Declaration.status)).all())
    series = scrape(client)
    assert sum(expected.values()) == 2
    for status, count in expected.items():
        assert value(series, "anju_declarations", status=status) == count
    assert value(series, "anju_metrics_source_up", source="database") == 1


def test_metrics_report_queue_depth_and_failed_jobs(app, client):
    from rq import Queue
    from rq.registry import FailedJobRegistry

    from app.redis_conn import get_redis
    from workers.queues import JOB_SERIALIZER

    queue = Queue("low", connection=get_redis(), serializer=JOB_SERIALIZER)
    queue.enqueue("workers.jobs.sweep_stale_declarations")
    queue.enqueue("workers.jobs.sweep_stale_declarations")
    failed = queue.enqueue("workers.jobs.sweep_stale_declarations")
    queue.remove(failed)
    FailedJobRegistry(queue=queue).add(failed, ttl=60, exc_string="boom")
    series = scrape(client)
    assert value(series, "anju_queue_jobs", queue="low", state="queued") == 2
    assert value(series, "anju_queue_jobs", queue="high", state="queued") == 0
    assert value(series, "anju_jobs_failed", queue="low") == 1


def test_metrics_count_callback_outcomes(client):
    before = scrape(client)
    openid = wx.new_openid()
    xml = wx.text_xml(openid, "你好", msg_id=880001)
    assert wx.deliver(client, xml).status_code == 200
    assert wx.deliver(client, xml).status_code == 200  # WeChat's retry of the same message
    assert wx.post(client, {"signature": "0" * 40, "timestamp": "1", "nonce": "n"}, xml) \
        .status_code in (400, 403)
    after = scrape(client)
    for outcome in ("handled", "duplicate", "refused"):
        assert value(after, "anju_wechat_callbacks_total", outcome=outcome) - \
            value(before, "anju_wechat_callbacks_total", outcome=outcome) == 1, outcome


def test_metrics_count_pushes_sent_and_deferred(app, client, monkeypatch):
    from tests.wechat.test_push import follower, notify
    from wechat import push

    app.extensions.pop("anju_wechat_clients", None)
    from app.extensions import db

    user = follower(db)
    assert notify(user.id, key="metrics:1").status == "sent"
    monkeypatch.setattr(push, "take_quota", lambda *a, **k: False)
    assert notify(user.id, key="metrics:2").status == "deferred"
    series = scrape(client)
    assert value(series, "anju_pushes_total", channel="template", result="sent") == 1
    assert value(series, "anju_pushes_total", channel="template", result="deferred") == 1
    app.extensions.pop("anju_wechat_clients", None)


def test_metrics_report_the_reminder_sweep_duration(client, db):
    from workers.reminder_jobs import sweep_reminders

    sweep_reminders("2026-11-27T10:00:00")
    series = scrape(client)
    assert value(series, "anju_reminder_sweep_duration_seconds_count") == 1
    assert value(series, "anju_reminder_sweep_duration_seconds_sum") > 0
    assert value(series, "anju_reminder_sweep_last_duration_seconds") > 0


# --- logs and request ids --------------------------------------------------------------------

def json_lines(caplog, logger="anju.request") -> list[dict]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == logger]


def test_request_id_from_nginx_is_returned_and_logged(client, caplog):
    caplog.set_level(logging.INFO, logger="anju.request")
    resp = client.get("/healthz", headers={"X-Request-ID": "nginx-req-0123456789"})
    assert resp.headers["X-Request-ID"] == "nginx-req-0123456789"
    [line] = json_lines(caplog)
    assert line["request_id"] == "nginx-req-0123456789"
    assert line["endpoint"] == "health.healthz" and line["status"] == 200
    assert line["method"] == "GET" and line["duration_ms"] >= 0


def test_a_missing_or_unsafe_request_id_is_replaced_by_a_fresh_one(client):
    made = client.get("/healthz").headers["X-Request-ID"]
    assert len(made) == 32
    forged = client.get("/healthz", headers={"X-Request-ID": "x\" injected=1 {"}).headers
    assert forged["X-Request-ID"] != "x\" injected=1 {" and len(forged["X-Request-ID"]) == 32


def test_request_log_line_carries_no_personal_data(client, db, caplog):
    caplog.set_level(logging.INFO)
    place = make_jurisdiction()
    address = make_address(place["community"])
    user = WeChatUser(openid="o-log-landlord", source="miniapp")
    db.session.add(user)
    db.session.commit()
    fake = FakeData(99)
    phone, number, name = fake.mobile(), fake.resident_id(), fake.name()
    resp = client.post("/api/v1/houses?phone=" + phone, json={
        "qr_token": address.qr_token, "rental_type": "whole", "rooms": 2,
        "owner": {"name": name, "document_type": "resident_id", "document_number": number,
                  "phone": phone}}, headers={"Authorization": f"Bearer {issue_app_token(user.id)}"})
    assert resp.status_code == 201, resp.get_json()
    [line] = [l for l in json_lines(caplog) if l["endpoint"].startswith("api.")]
    assert line["endpoint"] == "api.register_house"
    assert line["status"] == 201 and line["wechat_user_id"] == user.id
    formatter = JsonFormatter()
    everything = "\n".join(formatter.format(r) for r in caplog.records)
    for secret in (phone, number, name, address.qr_token):
        assert secret not in everything


def test_json_format_is_the_production_default_and_text_in_development():
    from app.logs import log_format

    assert log_format({"APP_ENV": "production"}) == "json"
    assert log_format({"APP_ENV": "development"}) == "text"
    assert log_format({"APP_ENV": "production", "LOG_FORMAT": "text"}) == "text"


def test_a_job_enqueued_by_a_request_logs_that_request_id(app, db, monkeypatch, caplog):
    """The id travels in the RQ job's meta; the worker's start/finish lines carry it."""
    from app.redis_conn import get_redis
    from workers.runner import make_worker
    from workers.jobs import sweep_stale_declarations
    from workers.queues import enqueue_now

    get_redis()  # the in-process fake, now cached: queues below are asynchronous on it
    monkeypatch.setitem(app.config, "REDIS_URL", app.config.get("REDIS_URL") or "redis://fake")
    caplog.set_level(logging.INFO)
    with app.test_request_context("/console/", headers={"X-Request-ID": "req-job-000111"}):
        app.preprocess_request()
        job = enqueue_now(sweep_stale_declarations, queue="low")
    assert job.meta["request_id"] == "req-job-000111"
    worker = make_worker(app, ["low"], simple=True)
    worker.work(burst=True)
    lines = json_lines(caplog, logger="anju.job")
    assert [(l["msg"], l["request_id"]) for l in lines] == [
        ("job started", "req-job-000111"), ("job finished", "req-job-000111")]
    assert lines[1]["outcome"] == "done" and lines[1]["job"] == "sweep_stale_declarations"


# --- worker and scheduler health checks --------------------------------------------------------

def test_worker_check_is_unhealthy_only_when_jobs_wait_without_a_live_worker(app, db):
    from datetime import datetime, timedelta, timezone

    from rq import Queue, Worker

    from app.redis_conn import get_redis
    from workers.health import worker_health
    from workers.queues import JOB_SERIALIZER

    connection = get_redis()
    assert worker_health(connection)[0]  # nothing waits: healthy without workers
    Queue("default", connection=connection, serializer=JOB_SERIALIZER).enqueue(
        "workers.jobs.sweep_stale_declarations")
    ok, line = worker_health(connection)
    assert not ok and "no worker heartbeat within 60s" in line
    worker = Worker([Queue("default", connection=connection)], connection=connection,
                    name="check-test-worker")
    worker.register_birth()
    worker.heartbeat()
    try:
        assert worker_health(connection)[0]
        later = datetime.now(timezone.utc) + timedelta(seconds=90)
        assert not worker_health(connection, now=later)[0]  # its heartbeat is too old
    finally:
        worker.register_death()


def test_scheduler_check_needs_a_recent_period_taken(app, db):
    import time

    from app.redis_conn import get_redis
    from workers.health import scheduler_health
    from workers.schedule import enqueue_due_jobs

    connection = get_redis()
    assert not scheduler_health(connection)[0]
    enqueue_due_jobs(connection)
    assert scheduler_health(connection)[0]
    assert not scheduler_health(connection, now=time.time() + 300)[0]


def test_worker_check_command_exits_1_when_redis_is_down(app, monkeypatch, capsys):
    from workers.health import check

    monkeypatch.setitem(app.extensions, "anju_redis", DeadRedis())
    assert check("workers") == 1
    assert "Redis unreachable" in capsys.readouterr().out
