"""Heavy console reads (search, the review queue, CSV export) come from the read replica when one
is configured, fall back to the primary when it is down, and never hide an officer's own write.

The replica is a second real database (a second file on SQLite, a second schema on the same
MariaDB server), filled by copying the primary's rows and then made to differ, so a page proves
where it read from.
"""
from __future__ import annotations

import csv
import io
import logging

import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.engine import make_url

from app.extensions import db
from app.models import Address, Declaration, Person
from tests.console.helpers import search

BAD_REPLICA = "mysql+pymysql://root@127.0.0.1:1/anju_replica_down?charset=utf8mb4"


def _replica_url(app, tmp_path) -> str:
    primary = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if primary.get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path / 'replica.sqlite3'}"
    name = f"{primary.database}_replica"
    engine = create_engine(primary.set(database=""))
    with engine.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 "
                          "COLLATE utf8mb4_unicode_ci"))
    engine.dispose()
    return primary.set(database=name).render_as_string(hide_password=False)


def _use_replica(app, url):
    for key in ("anju_replica_engine", "anju_replica_down_until"):
        engine = app.extensions.pop(key, None)
        if hasattr(engine, "dispose"):
            engine.dispose()
    app.config["DATABASE_REPLICA_URL"] = url


@pytest.fixture()
def replica(app, world, tmp_path):
    """A replica holding a copy of the primary's rows; yields an engine to make it differ."""
    url = _replica_url(app, tmp_path)
    engine = create_engine(url)
    db.metadata.create_all(engine)
    db.session.commit()
    with db.engine.connect() as source, engine.begin() as target:
        if engine.dialect.name == "mysql":
            target.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in db.metadata.sorted_tables:
            rows = [dict(r) for r in source.execute(select(table)).mappings()]
            if rows:
                target.execute(table.insert(), rows)
    _use_replica(app, url)
    yield engine
    _use_replica(app, None)
    if engine.dialect.name == "mysql":
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{engine.url.database}`"))
    engine.dispose()


def test_console_search_reads_from_the_replica(as_officer, world, replica):
    with replica.begin() as conn:
        conn.execute(update(Person).where(Person.id == world.a.person.id)
                     .values(name="A租客副本"))
    # A name only the replica knows is found; the primary still has the old one.
    html = search(as_officer, "A租客副", "name").get_data(as_text=True)
    assert f"/console/persons/{world.a.person.id}" in html
    assert db.session.get(Person, world.a.person.id).name == "A租客甲"


def test_review_queue_lists_what_the_replica_holds(as_officer, world, replica):
    with replica.begin() as conn:
        conn.execute(update(Address).where(Address.id == world.a.address.id)
                     .values(full_text="副本里的测试路1号"))
    html = as_officer.get("/console/declarations").get_data(as_text=True)
    assert "副本里的测试路1号" in html


def test_console_home_counts_come_from_the_replica(as_officer, world, replica):
    with replica.begin() as conn:
        conn.execute(update(Declaration).where(Declaration.station_id == world.a.address.station_id)
                     .values(status="flagged"))
    html = as_officer.get("/console/").get_data(as_text=True)
    assert 'data-count="flagged">2<' in html and 'data-count="needs_review">0<' in html
    assert db.session.execute(select(Declaration.status).where(
        Declaration.id == world.a.declarations["review"].id)).scalar() == "needs_review"


def test_csv_export_reads_the_replica_and_audits_on_the_primary(as_officer, world, replica):
    from app.models import AuditLog

    with replica.begin() as conn:
        conn.execute(update(Person).where(Person.id == world.a.person.id)
                     .values(name="A租客副本"))
    resp = as_officer.post("/console/search/export", data={"q": "A租客副", "kind": "name"})
    assert resp.status_code == 200
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 2 and rows[1][0].startswith("A")
    db.session.expire_all()
    assert db.session.execute(select(AuditLog).where(AuditLog.action == "search.export")
                              ).scalar_one() is not None


def test_queue_after_an_officers_own_decision_reads_the_primary(as_officer, world, replica):
    d = world.a.declarations["review"]
    # The replica has not caught up: there the declaration still waits for review.
    resp = as_officer.post(f"/console/declarations/{d.id}/decide", data={"action": "approve"})
    assert resp.status_code == 302
    html = as_officer.get("/console/declarations", query_string={"status": "approved"}
                          ).get_data(as_text=True)
    assert f"/console/declarations/{d.id}" in html
    with replica.connect() as conn:
        assert conn.execute(select(Declaration.status).where(Declaration.id == d.id)
                            ).scalar() == "needs_review"


def test_replica_down_falls_back_to_the_primary_and_logs_once(app, as_officer, world, caplog):
    _use_replica(app, BAD_REPLICA)
    try:
        with caplog.at_level(logging.WARNING):
            for _ in range(2):
                resp = search(as_officer, "A租客", "name")
                assert resp.status_code == 200
                assert f"/console/persons/{world.a.person.id}" in resp.get_data(as_text=True)
            assert as_officer.get("/console/declarations").status_code == 200
            app.extensions["anju_replica_down_until"] = 1  # the retry is due: still down
            assert as_officer.get("/console/declarations").status_code == 200
        warnings = [r for r in caplog.records if "read replica unreachable" in r.getMessage()]
        assert len(warnings) == 1
    finally:
        _use_replica(app, None)


def test_without_a_replica_heavy_reads_use_the_primary(app, world):
    from app.db_read import read_session

    with app.test_request_context():
        with read_session() as reader:
            assert reader is db.session
