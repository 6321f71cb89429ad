"""Workers: the batched validation path, job options, the periodic scheduler, failed-job admin."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from app import crypto
from app.fakedata import FakeData
from app.models import (
    Alert, CaseCheck, ControlTask, Declaration, House, MissedRegistration, Reminder, Residence,
    Watch, WeChatUser,
)
from app.services.declarations import declare, rentals
from app.services.registry.address_match import scope_cache
from app.services.people.people import document_blind_index
from tests.conftest import _clean_tables
from tests.factories import make_address, make_jurisdiction

TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 10, 0)


@pytest.fixture()
def held_jobs(monkeypatch):
    """Record every job promised after commit (by its short name) instead of promising it."""
    from app.outbox import jobs

    held: list[tuple[str, tuple]] = []
    monkeypatch.setattr(jobs, "after_commit",
                        lambda name, *args, **_: held.append((name.rsplit(".", 1)[-1], args)))
    return held


def _mixed_declarations(db) -> list[int]:
    """One of each outcome: clean, overcrowded, watch hit, live elsewhere, 漏登 resolved,
    ambiguous and exact free text, move-out; some submitted by WeChat users, some not."""
    fake = FakeData(4242)
    scope_cache.clear()
    place = make_jurisdiction()
    community = place["community"]

    def person(**over):
        data = {"name": fake.name(), "document_type": "resident_id",
                "document_number": fake.resident_id(), "start_date": TODAY}
        data.update(over)
        return data

    users = []
    for n in range(2):
        user = WeChatUser(openid=f"batch-openid-{n}", source="sandbox")
        db.session.add(user)
        users.append(user)
    db.session.flush()
    wechat = declare.Submitter(role="landlord", wechat_user_id=users[0].id)
    officer_import = declare.Submitter(role="landlord", channel="import")

    houses = []
    for n, rooms in enumerate((2, 1, 3)):
        address = make_address(community, full_text=f"幸福路{n + 1}号1幢1单元101室")
        decl = rentals.register_house(wechat, address, rental_type="whole", rooms=rooms,
                                  owner=person())
        houses.append(db.session.get(House, decl.house_id))
    h1, h2, h3 = houses
    listed, missed, mover = person(), person(), person()
    db.session.add(Watch(document_type="resident_id", category="重点人员", source="测试",
                         document_blind_index=document_blind_index(
                             "resident_id", listed["document_number"])))
    enc, blind, masked = crypto.protect_document("resident_id", missed["document_number"])
    case = CaseCheck(document_type="resident_id", document_number_enc=enc,
                     document_blind_index=blind, document_masked=masked, name=missed["name"],
                     case_number="A2026-9", case_date=TODAY, station_id=place["station"].id)
    db.session.add(case)
    db.session.flush()
    db.session.add(MissedRegistration(case_check_id=case.id, station_id=place["station"].id,
                                      document_type="resident_id", document_blind_index=blind,
                                      deadline=NOW + timedelta(days=7)))
    make_address(community, full_text="安居路88号3幢2单元504室")
    make_address(community, full_text="安居路88号3幢2单元505室")
    make_address(community, full_text="和谐路12号1幢1单元101室")

    first = rentals.declare_move_in(wechat, h1, [mover], today=TODAY, now=NOW)
    rentals.declare_move_in(officer_import, h2, [person(), person(), person()], today=TODAY, now=NOW)
    rentals.declare_move_in(wechat, h3, [listed], today=TODAY, now=NOW)
    rentals.declare_move_in(officer_import, h3, [dict(mover)], today=TODAY, now=NOW)
    rentals.declare_move_in(wechat, h1, [missed], today=TODAY, now=NOW)
    for n, text in enumerate(("安居路88号3幢2单元50室", "和谐路十二号一栋一单元101室")):
        db.session.add(Declaration(
            kind="self", status="received", submitter_role="tenant",
            submitter_wechat_user_id=users[1].id, receipt_code=f"BATCHFT{n}",
            station_id=place["station"].id, payload={"address_text": text,
                                                     "community_id": community.id,
                                                     "tenants": []}))
    residence = db.session.execute(select(Residence).where(
        Residence.declaration_id == first.id)).scalar_one()
    rentals.declare_move_out(wechat, h1, [residence.id], TODAY, today=TODAY)
    db.session.commit()
    return list(db.session.execute(select(Declaration.id).order_by(Declaration.id)).scalars())


def _outcome(db, held) -> dict:
    """Everything validation decides, with database ids replaced by positions and texts."""
    db.session.expire_all()
    declarations = db.session.execute(select(Declaration).order_by(Declaration.id)).scalars().all()
    position = {d.id: n for n, d in enumerate(declarations)}
    return {
        "declarations": [
            (d.kind, d.status, d.reasons,
             [(c["full_text"], c["score"]) for c in d.candidates or []],
             d.address_id is not None, [(e.from_status, e.to_status, e.actor.split(":")[0], e.note)
                                        for e in d.events])
            for d in declarations],
        "residences": sorted((r.status, r.active_slot) for r in
                             db.session.execute(select(Residence)).scalars()),
        "control_tasks": [(position[t.declaration_id], t.status) for t in
                          db.session.execute(select(ControlTask)).scalars()],
        "reminders": sorted((r.rule, r.status) for r in
                            db.session.execute(select(Reminder)).scalars()),
        "alerts": sorted((a.kind, a.status) for a in db.session.execute(select(Alert)).scalars()),
        "missed": [m.status for m in db.session.execute(select(MissedRegistration)).scalars()],
        "notifications": sorted((position[args[0]], args[1]) for name, args in held
                                if name == "notify_declaration_status"),
    }


def test_batch_validation_decides_exactly_what_one_job_per_declaration_decides(db, held_jobs):
    from workers.jobs import validate_declaration, validate_declarations_batch

    ids = _mixed_declarations(db)
    held_jobs.clear()
    for declaration_id in ids:
        validate_declaration(declaration_id)
    one_by_one = _outcome(db, held_jobs)

    _clean_tables()
    held_jobs.clear()
    ids = _mixed_declarations(db)
    held_jobs.clear()
    assert validate_declarations_batch(ids[::-1])  # order of the ids given does not matter
    batched = _outcome(db, held_jobs)

    assert batched == one_by_one
    statuses = {status for _kind, status, *_ in batched["declarations"]}
    assert statuses == {"verified", "needs_review"}
    assert batched["control_tasks"] and batched["reminders"] and batched["missed"] == ["resolved"]
    assert batched["notifications"]  # WeChat submitters are told; import submissions are not


def test_batch_validation_twice_changes_nothing_the_second_time(db, held_jobs):
    from workers.jobs import validate_declarations_batch

    ids = _mixed_declarations(db)
    first = validate_declarations_batch(ids)
    before = _outcome(db, held_jobs)
    again = validate_declarations_batch(ids)
    assert again == {"unchanged": len(ids)} and sum(first.values()) == len(ids)
    assert _outcome(db, held_jobs) == before


def test_declarations_are_queued_in_batches_grouped_by_station(db, held_jobs):
    from workers.jobs import enqueue_validation_batches

    ids = _mixed_declarations(db)
    held_jobs.clear()
    assert enqueue_validation_batches(ids + ids, size=4) == 3
    batches = [args[0] for name, args in held_jobs if name == "validate_declarations_batch"]
    assert sorted(i for batch in batches for i in batch) == sorted(ids)
    assert [len(b) for b in batches] == [4, 4, len(ids) - 8]


def test_batches_run_through_a_real_queue_and_worker(app, db, held_jobs, monkeypatch, run_jobs):
    from workers.jobs import enqueue_validation_batches

    ids = _mixed_declarations(db)
    monkeypatch.undo()  # from here on jobs really go to the queue (or run inline without Redis)
    assert enqueue_validation_batches(ids, size=3) == 4
    db.session.commit()
    run_jobs()
    db.session.expire_all()
    statuses = db.session.execute(select(Declaration.status).order_by(Declaration.id)).scalars()
    assert set(statuses) == {"verified", "needs_review"}
    # one task per checklist template (五见, 四知)
    assert [t.status for t in db.session.execute(select(ControlTask)).scalars()] == ["open"] * 2


def test_validation_and_notification_jobs_retry_with_backoff_and_time_out(app, db):
    from workers.jobs import notify_declaration_status, sweep_stale_declarations, \
        validate_declaration, validate_declarations_batch
    from workers.queues import job_options

    for func in (validate_declaration, validate_declarations_batch, notify_declaration_status):
        options = job_options(func)
        assert options["retry"].max == 3 and options["retry"].intervals == [10, 30, 60]
        assert options["job_timeout"] > 0
    assert "retry" not in job_options(sweep_stale_declarations)
    assert job_options(validate_declaration, job_timeout=5)["job_timeout"] == 5


def test_jobs_carry_their_arguments_as_json(app, db):
    from workers.jobs import validate_declarations_batch
    from workers.queues import get_queue

    with app.test_request_context():
        queue = get_queue("low")
        if not queue.is_async:
            pytest.skip("inline mode runs jobs at once; the JSON payload is checked on Redis")
        job = queue.enqueue(validate_declarations_batch, [1, 2, 3])
        raw = queue.connection.hget(job.key, "data")
        import zlib

        assert b'"workers.jobs.validate_declarations_batch"' in zlib.decompress(raw)
        with pytest.raises(TypeError):
            queue.enqueue(validate_declarations_batch, {1, 2})  # a set is not JSON


def test_two_schedulers_enqueue_each_period_once(app, db):
    from workers.schedule import enqueue_due_jobs
    from app.redis_conn import get_redis

    redis = get_redis()
    t = 1_800_000_000.0  # a fixed instant: the period number is the same for both schedulers
    assert enqueue_due_jobs(redis, now=t, owner="a") == [
        "relay_outbox", "retry_pushes", "sweep_reminders", "escalate_unconfirmed_self_declarations",
        "purge_audit_logs", "anonymise_ended_stays", "sweep_control_tasks",
        "generate_due_kpi_reports", "refresh_kpi_aggregates"]
    assert enqueue_due_jobs(redis, now=t + 1, owner="b") == []
    assert enqueue_due_jobs(redis, now=t + 61, owner="b") == ["relay_outbox", "retry_pushes"]


def test_sweeper_does_not_queue_the_same_declaration_twice_while_it_waits(app, db):
    from workers.jobs import sweep_stale_declarations

    place = make_jurisdiction()
    address = make_address(place["community"])
    db.session.add(Declaration(kind="house", status="received", submitter_role="landlord",
                               receipt_code="SWEPT001", address_id=address.id,
                               station_id=place["station"].id, payload={},
                               updated_at=NOW - timedelta(days=1)))
    db.session.commit()
    if app.config.get("REDIS_URL"):
        assert sweep_stale_declarations() == 1
        assert sweep_stale_declarations() == 0  # still queued: not queued again
    else:  # inline: the first sweep already validated it
        assert sweep_stale_declarations() == 1
        assert sweep_stale_declarations() == 0
        assert db.session.get(Declaration, db.session.execute(
            select(Declaration.id)).scalar_one()).status == "verified"


def test_failed_job_is_listed_for_administrators_and_can_be_requeued(app, db):
    if not app.config.get("REDIS_URL"):
        pytest.skip("needs real Redis (TEST_REDIS_URL)")
    from rq import SimpleWorker

    from app.redis_conn import get_redis
    from workers.admin import list_failed_jobs, requeue_failed_job
    from workers.jobs import notify_declaration_status
    from workers.queues import JOB_SERIALIZER, get_queue

    job = get_queue("high").enqueue(notify_declaration_status, 10**9, "bogus-status",
                                    job_timeout=5)
    # A job naming a function that no longer exists (say, after a deploy) fails in the worker.
    job_bad = get_queue("high").enqueue("workers.jobs.no_such_job", 7)
    SimpleWorker([get_queue("high")], connection=get_redis(),
                 serializer=JOB_SERIALIZER).work(burst=True)
    failed = list_failed_jobs()
    assert [f.id for f in failed] == [job_bad.id]
    row = failed[0]
    assert row.function == "workers.jobs.no_such_job" and row.args == [7]
    assert "no_such_job" in row.exception and row.failed_at is not None
    assert job.id not in [f.id for f in failed]
    assert requeue_failed_job(job_bad.id) is True
    assert list_failed_jobs() == []
    assert get_queue("high").job_ids == [job_bad.id]
    assert requeue_failed_job("no-such-id") is False


def test_jobs_cli_lists_failed_jobs_in_chinese(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "failed"])
    assert result.exit_code == 0 and "共 0 个失败任务" in result.output
    result = runner.invoke(args=["jobs", "requeue", "missing"])
    assert result.exit_code != 0 and "没有找到失败任务" in result.output


class FlakyRedis:
    """A Redis that refuses `down` calls in a row, then answers like the real one."""

    def __init__(self, real, down: int):
        self.real, self.down = real, down

    def __getattr__(self, name):
        import redis

        if self.down > 0:
            self.down -= 1
            raise redis.exceptions.ConnectionError("Error 111 connecting: Connection refused")
        return getattr(self.real, name)


def test_scheduler_rides_out_a_redis_outage_and_says_so_once(app, db):
    from app.redis_conn import get_redis
    from workers.schedule import run_scheduler

    lines, waits = [], []
    flaky = FlakyRedis(get_redis(), down=12)
    rounds = iter(range(20))
    run_scheduler(flaky, stop=lambda: next(rounds, None) is None, log=lines.append,
                  sleep=waits.append)
    assert [line for line in lines if "unreachable" in line] == [lines[0]]
    assert sum("reachable again" in line for line in lines) == 1
    assert "scheduled sweep_reminders" in lines  # it carried on once Redis was back
    assert max(waits) == 5.0 and waits[:4] == [1.0, 1.0, 2.0, 4.0]  # backs off, capped


def test_worker_rides_out_a_redis_outage_and_says_so_once(app, db, monkeypatch):
    import redis

    from workers import runner as entry

    lines, runs = [], []

    class LosesRedisOnce:
        _stop_requested = False

        def work(self, burst=False, with_scheduler=False):
            runs.append(burst)
            if len(runs) == 1:  # RQ quits, and its own teardown fails on the dead connection
                raise redis.exceptions.ConnectionError("Connection closed by server.")

    pings = iter([redis.exceptions.ConnectionError("refused")] * 3 + [True])

    class Connection:
        def ping(self):
            answer = next(pings)
            if isinstance(answer, Exception):
                raise answer
            return answer

    monkeypatch.setattr(entry, "make_worker", lambda *a, **k: LosesRedisOnce())
    monkeypatch.setattr(entry, "get_redis", lambda: Connection())
    monkeypatch.setattr(entry.RedisOutage, "wait", _instant_wait(entry.RedisOutage.wait))
    assert entry.run_worker(app, ["default"], burst=True, log=lines.append) == 0
    assert runs == [True, True]  # a fresh worker after the outage
    assert sum("Redis unreachable" in line for line in lines) == 1
    assert sum("reachable again" in line for line in lines) == 1


def _instant_wait(wait):
    def instant(self, connection, stop=lambda: False, sleep=None):
        return wait(self, connection, stop=stop, sleep=lambda seconds: None)

    return instant


def test_rq_lines_for_each_reconnect_attempt_are_folded_into_one(app):
    import logging

    from workers.outage import OncePerOutage, RedisOutage

    lines = []
    outage = RedisOutage(log=lines.append)
    quiet = OncePerOutage(outage)
    logger = logging.getLogger("rq.worker")
    record = logger.makeRecord("rq.worker", logging.ERROR, __file__, 1,
                               "Worker %s: could not connect to Redis instance: %s retrying in "
                               "%d seconds...", ("w1", "refused", 2), None)
    assert [quiet.filter(record) for _ in range(30)] == [False] * 30
    assert len(lines) == 1 and "Redis unreachable" in lines[0]
    other = logger.makeRecord("rq.worker", logging.INFO, __file__, 1, "Job OK", (), None)
    assert quiet.filter(other) is True
