"""Layered fixtures: app (once per session, schema by Alembic), db (clean per test), client.

Backends: SQLite by default; MariaDB with TEST_DATABASE_URL=mysql+pymysql://…; real Redis with
TEST_REDIS_URL=redis://… (otherwise the in-process fake, as in the embedded demo).
"""
from __future__ import annotations

import base64
import os
import tempfile

import pytest
from sqlalchemy import text

from app import create_app
from app.extensions import db as _db

TEST_KEYS = {
    "SECRET_KEY": "test-secret-key-not-for-production",
    "FIELD_ENCRYPTION_KEYS": "t1:" + base64.b64encode(b"\x01" * 32).decode(),
    "FIELD_ENCRYPTION_ACTIVE_KEY_ID": "t1",
    "BLIND_INDEX_KEY": base64.b64encode(b"\x02" * 32).decode(),
}


def _database_url(tmp_dir: str) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_dir}/test.sqlite3"


def pytest_report_header(config):
    db_url = os.environ.get("TEST_DATABASE_URL", "sqlite (temporary file)")
    safe = db_url.split("@")[-1] if "@" in db_url else db_url
    return [f"anju database: {safe}", f"anju redis: {os.environ.get('TEST_REDIS_URL') or 'fakeredis'}"]


@pytest.fixture(scope="session")
def app_config(tmp_path_factory):
    tmp_dir = str(tmp_path_factory.mktemp("anju"))
    return {
        "TESTING": True,
        "APP_ENV": "testing",
        "SQLALCHEMY_DATABASE_URI": _database_url(tmp_dir),
        "REDIS_URL": os.environ.get("TEST_REDIS_URL") or None,
        "WECHAT_SANDBOX": True,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": None,
        # Pushes wait out quiet hours (22:00–08:00 Shanghai); tests that mean the night freeze
        # the clock and pass their own settings, so the wall clock never decides a result.
        "REMINDER_QUIET_START": "00:00", "REMINDER_QUIET_END": "00:00",
        **TEST_KEYS,
    }


@pytest.fixture(scope="session")
def app(app_config, tmp_path_factory):
    """The app with a schema built by Alembic (never create_all)."""
    os.environ.setdefault("ANJU_INSTANCE_PATH", str(tmp_path_factory.mktemp("instance")))
    application = create_app(app_config)
    with application.app_context():
        from flask_migrate import downgrade, upgrade

        if _db.engine.dialect.name != "sqlite":
            downgrade(revision="base")  # a previous run may have left tables behind
        upgrade()
        _db.session.remove()
    yield application


def _clean_tables() -> None:
    session = _db.session
    session.rollback()
    mysql = _db.engine.dialect.name == "mysql"
    if mysql:  # self-referencing rows (address.parent_id) cannot be deleted in one statement
        session.execute(text("SET FOREIGN_KEY_CHECKS=0"))
    for table in reversed(_db.metadata.sorted_tables):
        session.execute(table.delete())
    if mysql:
        session.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    session.commit()


@pytest.fixture()
def db(app):
    """A clean database for each test; tests may commit freely."""
    with app.app_context():
        _clean_tables()
        from app.redis_conn import get_redis

        get_redis().flushdb()
        yield _db
        _db.session.remove()


@pytest.fixture()
def client(app, db):
    return app.test_client()


@pytest.fixture()
def mariadb_only(app):
    with app.app_context():
        if _db.engine.dialect.name == "sqlite":
            pytest.skip("needs MariaDB (set TEST_DATABASE_URL)")


def database_dialect(app) -> str:
    with app.app_context():
        return _db.engine.dialect.name


def raw_dump(app) -> str:
    """Every row of every table as text, the way an attacker with a dump would see it."""
    chunks = []
    with app.app_context():
        conn = _db.session.connection()
        for table in _db.metadata.sorted_tables:
            for row in conn.execute(text(f"SELECT * FROM {table.name}")):
                chunks.append(" ".join(str(v) for v in row))
    return "\n".join(chunks)


@pytest.fixture()
def run_jobs(app):
    """Run every queued job: a real RQ SimpleWorker on real Redis; inline mode already ran them."""

    def run() -> None:
        if not app.config.get("REDIS_URL"):
            return
        from rq import SimpleWorker

        from app.redis_conn import get_redis
        from workers.queues import JOB_SERIALIZER, QUEUE_NAMES, get_queue

        _db.session.commit()
        with app.app_context():  # a fresh context, hence a fresh session, like a real worker
            worker = SimpleWorker([get_queue(n) for n in QUEUE_NAMES], connection=get_redis(),
                                  serializer=JOB_SERIALIZER)
            worker.work(burst=True)
            _db.session.remove()
        _db.session.expire_all()

    return run
