"""The outbox: what a commit promises is a row of the same transaction, relayed to RQ after it,
and handed over by the periodic relay when that failed (Redis down, the process died).

These run in both passes in queue mode (REDIS_URL set): on the real Redis of the second pass, on
an in-process fake Redis in the first. An outage is a real client pointed at a closed port.
"""
from __future__ import annotations

import os
import socket
import time
from datetime import date, datetime, timedelta

import pytest
import redis as redis_lib
from sqlalchemy import func, select

from app import create_app
from app.extensions import db as _db
from app.fakedata import FakeData
from app.models import Declaration, House, OutboxJob, PushMessage, WeChatUser, utcnow
from app.services.declarations import declare, rentals
from tests.factories import make_address, make_jurisdiction
from tests.test_migrations import scratch_database_url  # noqa: F401  (fixture)
from wechat.sandbox import store

TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 10, 0)
fake = FakeData(1818)
VALIDATE = "workers.jobs.validate_declaration"
NOTIFY = "workers.jobs.notify_declaration_status"


def _working_redis():
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        return redis_lib.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    import fakeredis

    return fakeredis.FakeRedis()


def _dead_redis():
    """A real client for a port nobody listens on: every command fails to connect."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return redis_lib.Redis(port=port, socket_connect_timeout=0.2, socket_timeout=0.2)


class Queued:
    """The test database with jobs going to a queue (not inline); Redis can be taken away."""

    def __init__(self, app):
        self.app = app
        self.redis = _working_redis()
        self.up()

    def up(self) -> None:
        self.app.extensions["anju_redis"] = self.redis
        self.app.extensions.pop("anju_wechat_clients", None)

    def down(self) -> None:
        self.app.extensions["anju_redis"] = _dead_redis()
        self.app.extensions.pop("anju_wechat_clients", None)

    def work(self) -> None:
        """Run every queued job with a real RQ SimpleWorker, in a fresh app context."""
        from rq import SimpleWorker

        from workers.queues import JOB_SERIALIZER, QUEUE_NAMES, get_queue

        _db.session.commit()
        with self.app.app_context():
            SimpleWorker([get_queue(n) for n in QUEUE_NAMES], connection=self.redis,
                         serializer=JOB_SERIALIZER).work(burst=True)
            _db.session.remove()
        _db.session.expire_all()

    def jobs(self, func_name: str | None = None) -> list:
        from workers.queues import QUEUE_NAMES, get_queue

        found = [job for name in QUEUE_NAMES for job in get_queue(name).jobs]
        return [j for j in found if func_name is None or j.func_name == func_name]


@pytest.fixture()
def queued(app, app_config, db):
    application = create_app(dict(app_config, REDIS_URL="redis://queue-mode.invalid:6379/0"))
    with application.app_context():
        q = Queued(application)
        q.redis.flushdb()
        yield q
        _db.session.remove()
        _db.engine.dispose()


def _house_with_landlord() -> tuple[House, declare.Submitter, WeChatUser]:
    place = make_jurisdiction()
    address = make_address(place["community"])
    sandbox_user = store.create_user("房东", subscribed=True)
    user = WeChatUser(openid=sandbox_user["openid"], source="official_account", subscribed=True)
    _db.session.add(user)
    _db.session.flush()
    house = House(address_id=address.id, station_id=address.station_id,
                  police_area_id=address.police_area_id, is_rental=True, rental_type="whole",
                  rooms=2, owner_wechat_user_id=user.id)
    _db.session.add(house)
    _db.session.commit()
    return house, declare.Submitter(role="landlord", wechat_user_id=user.id), user


def _tenant() -> dict:
    return {"name": fake.name(), "document_type": "resident_id",
            "document_number": fake.resident_id(), "start_date": TODAY}


def _rows(job: str | None = None) -> list[OutboxJob]:
    _db.session.expire_all()
    stmt = select(OutboxJob).order_by(OutboxJob.id)
    if job:
        stmt = stmt.where(OutboxJob.job == job)
    return list(_db.session.execute(stmt).scalars())


def _later(seconds: int = 10) -> str:
    """An instant a little ahead, so rows just written count as left behind by the relay."""
    return (utcnow() + timedelta(seconds=seconds)).isoformat()


def _sent_status_pushes(user: WeChatUser) -> list[dict]:
    return [m for m in store.sent_messages(user.openid)
            if m["data"]["first"]["value"] == "申报办理进度"]


def test_a_promise_is_written_with_the_declaration_and_relayed_after_commit(queued):
    house, landlord, user = _house_with_landlord()
    decl = rentals.declare_move_in(landlord, house, [_tenant()], today=TODAY, now=NOW)
    [row] = _db.session.execute(select(OutboxJob)).scalars().all()  # same transaction
    assert (row.job, row.args, row.enqueued_at) == (VALIDATE, [decl.id], None)
    assert queued.jobs() == []
    _db.session.commit()

    [job] = queued.jobs(VALIDATE)
    assert job.id == f"outbox-{row.id}" and list(job.args) == [decl.id]
    [row] = _rows(VALIDATE)
    assert row.enqueued_at is not None and row.attempts == 1 and row.done_at is None

    queued.work()
    assert _db.session.get(Declaration, decl.id).status == "verified"
    assert all(r.done_at is not None for r in _rows())
    assert [r.args for r in _rows(NOTIFY)] == [[decl.id, "verified"]]
    assert len(_sent_status_pushes(user)) == 1


def test_a_second_promise_in_a_transaction_relays_nothing_before_the_commit(queued):
    house, landlord, user = _house_with_landlord()
    decl = rentals.declare_move_in(landlord, house, [_tenant()], today=TODAY, now=NOW)
    from app.outbox import jobs

    jobs.after_commit(NOTIFY, decl.id, "verified")  # its SAVEPOINT release fires after_commit
    assert queued.jobs() == []  # the validation promised first is not handed over early
    _db.session.rollback()
    assert queued.jobs() == [] and _rows() == []


def test_two_promises_in_one_transaction_are_both_relayed_after_the_commit(queued):
    house, landlord, user = _house_with_landlord()
    decl = rentals.declare_move_in(landlord, house, [_tenant()], today=TODAY, now=NOW)
    from app.outbox import jobs

    jobs.after_commit(NOTIFY, decl.id, "verified")
    _db.session.commit()
    assert sorted(j.func_name for j in queued.jobs()) == [NOTIFY, VALIDATE]


def test_a_rollback_promises_and_enqueues_nothing(queued):
    house, landlord, _user = _house_with_landlord()
    rentals.declare_move_in(landlord, house, [_tenant()], today=TODAY, now=NOW)
    _db.session.rollback()
    assert _rows() == [] and queued.jobs() == []
    _db.session.commit()  # a later, empty commit relays nothing left over either
    assert queued.jobs() == []


def test_the_same_promise_twice_is_one_row_and_one_job(queued):
    from app.outbox import jobs

    house, landlord, _user = _house_with_landlord()
    decl = rentals.declare_move_in(landlord, house, [_tenant()], today=TODAY, now=NOW)
    jobs.after_commit(VALIDATE, decl.id)
    _db.session.commit()
    assert len(_rows(VALIDATE)) == 1 and len(queued.jobs(VALIDATE)) == 1


def test_declaration_accepted_while_redis_is_unreachable_is_enqueued_once_by_the_relay(
        queued, caplog, monkeypatch):
    from workers.outbox import relay_outbox

    # Alembic's fileConfig (migrations/env.py) disables loggers that existed before it ran.
    monkeypatch.setattr(queued.app.logger, "disabled", False)

    house, landlord, user = _house_with_landlord()
    queued.down()
    decl = rentals.declare_move_in(landlord, house, [_tenant()], today=TODAY, now=NOW)
    _db.session.commit()  # accepted: the enqueue fails after the commit, not the commit
    assert "left for the relay" in caplog.text
    [row] = _rows(VALIDATE)
    assert row.enqueued_at is None and row.done_at is None
    with pytest.raises(redis_lib.ConnectionError):
        relay_outbox(_later())  # still down: the periodic job fails and runs again next period

    queued.up()
    assert relay_outbox(_later())["enqueued"] == 1
    assert relay_outbox(_later())["enqueued"] == 0  # once
    assert len(queued.jobs(VALIDATE)) == 1
    queued.work()
    assert _db.session.get(Declaration, decl.id).status == "verified"
    assert all(r.done_at is not None for r in _rows())
    assert len(_sent_status_pushes(user)) == 1


def test_a_crash_between_commit_and_enqueue_is_recovered_by_the_relay(queued, monkeypatch):
    import workers.outbox
    from workers.outbox import relay_outbox

    house, landlord, _user = _house_with_landlord()
    with monkeypatch.context() as m:  # the process dies right after its commit
        m.setattr(workers.outbox, "relay_promised", lambda promised: 0)
        decl = rentals.declare_move_in(landlord, house, [_tenant()], today=TODAY, now=NOW)
        _db.session.commit()
    assert queued.jobs() == [] and _rows(VALIDATE)[0].enqueued_at is None
    # Not before the grace period: the after-commit relay may still be at work.
    assert relay_outbox(utcnow().isoformat())["enqueued"] == 0
    assert relay_outbox(_later())["enqueued"] == 1
    queued.work()
    assert _db.session.get(Declaration, decl.id).status == "verified"


def test_worker_dying_after_the_outcome_commit_still_sends_the_push_exactly_once(
        queued, monkeypatch):
    import workers.outbox
    from workers.outbox import enqueue_row, relay_outbox

    house, landlord, user = _house_with_landlord()
    decl = rentals.declare_move_in(landlord, house, [_tenant()], today=TODAY, now=NOW)
    _db.session.commit()
    with monkeypatch.context() as m:  # the worker commits the verdict, then dies
        m.setattr(workers.outbox, "relay_promised", lambda promised: 0)
        queued.work()
    assert _db.session.get(Declaration, decl.id).status == "verified"
    [notify] = _rows(NOTIFY)
    assert notify.enqueued_at is None and _sent_status_pushes(user) == []

    assert relay_outbox(_later())["enqueued"] == 1
    enqueue_row(notify.id, notify.job, notify.args, notify.queue)  # and once more, by mistake
    queued.work()
    assert len(_sent_status_pushes(user)) == 1
    assert _db.session.execute(select(func.count()).select_from(PushMessage)).scalar() == 1
    assert _rows(NOTIFY)[0].done_at is not None


def test_relay_re_enqueues_what_redis_lost_and_closes_what_finished(queued):
    from workers.outbox import relay_outbox

    house, landlord, _user = _house_with_landlord()
    decl = rentals.declare_move_in(landlord, house, [_tenant()], today=TODAY, now=NOW)
    _db.session.commit()
    queued.redis.flushdb()  # Redis restarted empty: the handed-over job is gone
    assert relay_outbox(_later(30))["requeued"] == 0  # too early to ask
    counts = relay_outbox(_later(120))
    assert counts["requeued"] == 1 and len(queued.jobs(VALIDATE)) == 1
    queued.work()
    assert _db.session.get(Declaration, decl.id).status == "verified"
    assert relay_outbox(_later(300))["requeued"] == 0


def test_rows_done_a_week_ago_are_forgotten(queued):
    from workers.outbox import relay_outbox

    _db.session.add(OutboxJob(job=VALIDATE, args=[1], queue="default", dedupe_key="old",
                              created_at=utcnow() - timedelta(days=9),
                              enqueued_at=utcnow() - timedelta(days=9),
                              done_at=utcnow() - timedelta(days=8), attempts=1))
    _db.session.commit()
    relay_outbox(_later())
    assert _rows() == []


def test_services_promise_jobs_by_name_without_importing_workers():
    import ast
    from pathlib import Path

    services = Path(__file__).resolve().parents[1] / "app" / "services"
    offenders = []
    # The modules this test read before issue 15 moved them into domain folders (police/ and
    # kpis/ are held by the import-linter contract of tests/test_architecture.py).
    for path in (p for p in services.rglob("*.py") if p.parent.name not in ("police", "kpis")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                    [a.name for a in node.names]
                if any(n == "workers" or n.startswith("workers.") for n in names):
                    offenders.append(path.name)
    assert offenders == []


def test_relay_hands_dead_workers_jobs_to_their_retry_at_once(queued):
    """A job whose worker died (its started-registry entry expired) is retried by the next
    relay run, not at RQ's 10-minute maintenance."""
    from rq.job import JobStatus
    from rq.registry import StartedJobRegistry

    from workers.outbox import recover_abandoned_jobs
    from workers.queues import get_queue

    house, landlord, _user = _house_with_landlord()
    rentals.declare_move_in(landlord, house, [_tenant()], today=TODAY, now=NOW)
    _db.session.commit()
    queue = get_queue("default")
    job = queue.dequeue_any([queue], None, connection=queued.redis,
                            serializer=queue.serializer)[0]
    from rq.executions import Execution

    with queued.redis.pipeline() as pipe:  # a worker took it, then died: no more heartbeats
        Execution.create(job, ttl=1, pipeline=pipe)
        pipe.execute()
    registry = StartedJobRegistry(queue=queue)
    assert job.id in registry.get_job_ids(cleanup=False)
    time.sleep(2.1)
    assert recover_abandoned_jobs() == 1
    assert job.id not in registry.get_job_ids(cleanup=False)
    job.refresh()
    assert job.get_status() == JobStatus.QUEUED  # now, not after the back-off
    assert job.retries_left == 2 and job.id in queue.job_ids
    queued.work()
    assert _db.session.get(Declaration, int(job.args[0])).status == "verified"


def test_upgrade_promises_validation_for_declarations_already_waiting(app_config,
                                                                      scratch_database_url):
    from flask_migrate import upgrade
    from sqlalchemy import text

    scratch = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": scratch_database_url})
    with scratch.app_context():
        upgrade(revision="a78d102ad5e3")
        for n, status in enumerate(("received", "validating", "verified"), start=1):
            _db.session.execute(text(
                "INSERT INTO declaration (id, kind, status, submitter_role, channel, "
                "receipt_code, payload, is_late, created_at, updated_at) VALUES (:id, 'house', "
                ":status, 'landlord', 'wechat_h5', :code, '{}', 0, :now, :now)"),
                {"id": n, "status": status, "code": f"MIGR{n}", "now": NOW})
        _db.session.commit()
        upgrade(revision="r18outbox001")
        rows = _db.session.execute(select(OutboxJob).order_by(OutboxJob.id)).scalars().all()
        assert [(r.job, r.args, r.enqueued_at, r.done_at) for r in rows] == [
            (VALIDATE, [1], None, None), (VALIDATE, [2], None, None)]
        from app.outbox import default_dedupe_key

        assert rows[0].dedupe_key == default_dedupe_key(VALIDATE, [1])
        _db.session.remove()
        _db.engine.dispose()
