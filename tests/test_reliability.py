"""Nothing accepted is lost: real worker processes, a private Redis that stops, SIGKILL mid-job.

These run only in the MariaDB + Redis pass (TEST_DATABASE_URL=mysql…, TEST_REDIS_URL=…) and need
`redis-server` on PATH. They never touch the shared Redis: each test starts its own redis-server
on a free port and kills it at the end.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app import create_app
from app.extensions import db as _db
from app.fakedata import FakeData
from app.models import Declaration, DeclarationEvent, House, Residence, WeChatUser
from app.services.declarations import declare, rentals
from tests.conftest import TEST_KEYS
from tests.factories import make_address, make_jurisdiction

ROOT = Path(__file__).resolve().parents[1]
TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 10, 0)
fake = FakeData(5150)

pytestmark = [
    pytest.mark.skipif(not (os.environ.get("TEST_DATABASE_URL") or "").startswith("mysql"),
                       reason="needs MariaDB (TEST_DATABASE_URL=mysql+pymysql://…)"),
    pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"),
                       reason="needs real Redis (TEST_REDIS_URL)"),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


class PrivateRedis:
    """A redis-server of our own on a free port, that a test may stop and start again."""

    def __init__(self, workdir: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture()
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def private_app(app, app_config, db, private_redis):
    """The test database, but jobs on the private Redis; its context is pushed for the test."""
    application = create_app(dict(app_config, REDIS_URL=private_redis.url))
    with application.app_context():
        yield application
        _db.session.remove()
        _db.engine.dispose()


def _worker_env(app_config, redis_url: str, tmp_path: Path) -> dict:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": redis_url,
        "ANJU_INSTANCE_PATH": str(tmp_path / "worker-instance"), "APP_ENV": "testing",
        "PYTHONPATH": str(ROOT), **TEST_KEYS,
    })
    return env


def start_worker(app_config, redis_url: str, tmp_path: Path, *args: str) -> subprocess.Popen:
    """`python -m workers …` as its own process, logging to a file in tmp_path."""
    log = open(tmp_path / f"worker-{time.monotonic_ns()}.log", "w")
    return subprocess.Popen([sys.executable, "-m", "workers", *args], cwd=ROOT,
                            env=_worker_env(app_config, redis_url, tmp_path),
                            stdout=log, stderr=subprocess.STDOUT)


def descendants(pid: int) -> list[int]:
    """Every process below pid (the work-horse, RQ's scheduler), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def status_of(declaration_id: int) -> str:
    _db.session.rollback()  # a fresh snapshot: the worker commits in another process
    return _db.session.execute(
        select(Declaration.status).where(Declaration.id == declaration_id)).scalar_one()


def notification_jobs(redis_conn, declaration_id: int, status: str) -> list[str]:
    """Ids of every notification job ever queued for this declaration and status."""
    from rq.job import Job

    from workers.queues import JOB_SERIALIZER

    found = []
    for key in redis_conn.scan_iter("rq:job:*"):
        job_id = key.decode().split(":", 2)[2]
        if ":" in job_id:  # rq:job:<id>:dependents and similar
            continue
        try:
            job = Job.fetch(job_id, connection=redis_conn, serializer=JOB_SERIALIZER)
            if (job.func_name == "workers.jobs.notify_declaration_status"
                    and list(job.args) == [declaration_id, status]):
                found.append(job.id)
        except Exception:  # noqa: BLE001 - a key that is not a job
            continue
    return found


def house_with_landlord(private_app) -> tuple[House, declare.Submitter]:
    place = make_jurisdiction()
    address = make_address(place["community"])
    user = WeChatUser(openid=f"reliability-{time.monotonic_ns()}", source="sandbox")
    _db.session.add(user)
    _db.session.flush()
    house = House(address_id=address.id, station_id=address.station_id,
                  police_area_id=address.police_area_id, is_rental=True, rental_type="whole",
                  rooms=2, owner_wechat_user_id=user.id)
    _db.session.add(house)
    _db.session.commit()
    return house, declare.Submitter(role="landlord", wechat_user_id=user.id)


def tenant() -> dict:
    return {"name": fake.name(), "document_type": "resident_id",
            "document_number": fake.resident_id(), "start_date": TODAY}


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM a worker or scheduler, SIGKILL it and its children if it does not go."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        for pid in [proc.pid, *descendants(proc.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(10)


def test_declaration_submitted_while_redis_is_down_is_final_seconds_after_it_returns(
        private_app, private_redis, app_config, tmp_path, caplog, monkeypatch):
    from app.redis_conn import get_redis

    # Alembic's fileConfig (migrations/env.py) disables loggers that existed before it ran.
    monkeypatch.setattr(private_app.logger, "disabled", False)

    house, landlord = house_with_landlord(private_app)
    private_redis.stop()

    decl = rentals.declare_move_in(landlord, house, [tenant()], today=TODAY, now=NOW)
    _db.session.commit()  # the submission succeeds although the job cannot be queued
    declaration_id = decl.id
    assert "left for the relay" in caplog.text
    assert status_of(declaration_id) == "received"

    private_redis.start()  # an empty Redis: whatever was queued before is gone too
    back = time.monotonic()
    scheduler = start_worker(app_config, private_redis.url, tmp_path, "--scheduler")
    worker = start_worker(app_config, private_redis.url, tmp_path)
    try:
        # No staleness rule: the relay runs every 5 s (it took 331 s with the old sweeper).
        wait_for(lambda: status_of(declaration_id) == "verified", 60, "the declaration to be final")
        took = time.monotonic() - back
        wait_for(lambda: notification_jobs(get_redis(), declaration_id, "verified"), 30,
                 "the notification job")
    finally:
        stop(scheduler)
        stop(worker)
    assert took < 60
    assert _db.session.execute(select(Residence.status).where(
        Residence.declaration_id == declaration_id)).scalar_one() == "active"
    assert len(notification_jobs(get_redis(), declaration_id, "verified")) == 1


def test_worker_killed_mid_job_still_brings_the_declaration_to_one_final_status(
        private_app, private_redis, app_config, tmp_path):
    from rq.registry import StartedJobRegistry

    from app.redis_conn import get_redis
    from workers.queues import get_queue

    house, landlord = house_with_landlord(private_app)
    decl = rentals.declare_move_in(landlord, house, [tenant()], today=TODAY, now=NOW)
    _db.session.commit()  # validate_declaration is now queued on the private Redis
    declaration_id = decl.id
    redis_conn = get_redis()
    started = StartedJobRegistry(queue=get_queue("default"))

    # Hold the declaration's row lock, so the job blocks inside its SELECT … FOR UPDATE.
    blocker = _db.engine.connect()
    blocker.execute(text("SELECT id FROM declaration WHERE id = :id FOR UPDATE"),
                    {"id": declaration_id})
    worker = start_worker(app_config, private_redis.url, tmp_path)
    try:
        job_id = wait_for(lambda: (started.get_job_ids() or [None])[0], 60, "the job to start")
        with _db.engine.connect() as probe:
            wait_for(lambda: probe.execute(text(
                "SELECT COUNT(*) FROM information_schema.innodb_trx t "
                "JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id "
                "WHERE t.trx_state = 'LOCK WAIT' AND p.db = DATABASE()")).scalar(),
                30, "the job to wait on the lock")
        victims = descendants(worker.pid)  # the work-horse and RQ's scheduler process
        assert victims, "the forking worker should run the job in a work-horse"
        for pid in [worker.pid, *victims]:
            os.kill(pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        blocker.rollback()
        blocker.close()
        if worker.poll() is None:
            worker.kill()

    # Nothing committed: the killed job's transaction dies with its connection.
    wait_for(lambda: status_of(declaration_id) == "received", 30, "the killed job's rollback")
    killed = time.monotonic()

    from rq.job import Job, JobStatus

    from workers.queues import JOB_SERIALIZER

    # No simulated clock: the job's heartbeat lapses (10 s + 20 s grace), the relay (every 5 s)
    # hands it back to its queue, and a new worker runs it.
    scheduler = start_worker(app_config, private_redis.url, tmp_path, "--scheduler")
    worker = start_worker(app_config, private_redis.url, tmp_path)
    try:
        wait_for(lambda: status_of(declaration_id) == "verified", 90, "validation to finish")
        took = time.monotonic() - killed
        wait_for(lambda: Job.fetch(job_id, connection=redis_conn, serializer=JOB_SERIALIZER)
                 .get_status() == JobStatus.FINISHED, 60, "the abandoned job to finish")
        wait_for(lambda: notification_jobs(redis_conn, declaration_id, "verified"), 30,
                 "the notification job")
    finally:
        stop(scheduler)
        stop(worker)

    assert took < 75, f"a dead worker's job took {took:.0f} s to be retried"
    assert job_id not in started.get_job_ids()
    assert status_of(declaration_id) == "verified"
    history = _db.session.execute(select(DeclarationEvent.to_status).where(
        DeclarationEvent.declaration_id == declaration_id).order_by(DeclarationEvent.id)
    ).scalars().all()
    assert history == ["received", "validating", "verified"]
    assert len(notification_jobs(redis_conn, declaration_id, "verified")) == 1
