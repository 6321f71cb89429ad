"""Retention: audit rows purged after AUDIT_RETENTION_DAYS (never under 183), people whose stays
ended long ago anonymised; both idempotent and on the periodic schedule."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app import create_app
from app.fakedata import FakeData
from app.models import AuditLog, Declaration, House, Person, Residence
from app.services.declarations import declare, rentals
from app.services.people import retention
from app.services.people.people import upsert_person
from tests.conftest import raw_dump
from tests.factories import make_address, make_jurisdiction
from workers.retention_jobs import anonymise_ended_stays, purge_audit_logs

NOW = datetime(2026, 11, 27, 10, 0)
fake = FakeData(515)


def audit_at(db, days_ago: int, action: str = "test.action") -> None:
    db.session.add(AuditLog(at=NOW - timedelta(days=days_ago), actor_type="system",
                            action=action))


def test_audit_rows_older_than_the_period_are_purged_and_a_rerun_does_nothing(db):
    for days in (500, 401, 399, 200, 1):
        audit_at(db, days)
    db.session.commit()
    assert purge_audit_logs(NOW.isoformat()) == 2
    kept = db.session.execute(select(AuditLog.at).where(AuditLog.action == "test.action")).scalars()
    assert sorted((NOW - at).days for at in kept) == [1, 200, 399]
    [purge] = db.session.execute(select(AuditLog).where(AuditLog.action == "audit.purge")).scalars()
    assert purge.detail == {"deleted": 2, "older_than_days": 400}
    assert purge_audit_logs(NOW.isoformat()) == 0  # idempotent
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == 4


def test_a_shorter_configured_period_is_honoured_down_to_six_months(app, db, monkeypatch):
    monkeypatch.setitem(app.config, "AUDIT_RETENTION_DAYS", 183)
    for days in (200, 184, 182):
        audit_at(db, days)
    db.session.commit()
    assert purge_audit_logs(NOW.isoformat()) == 2


def test_an_audit_period_under_six_months_is_refused(app_config, monkeypatch):
    with pytest.raises(RuntimeError, match="AUDIT_RETENTION_DAYS must be at least 183"):
        create_app({**app_config, "AUDIT_RETENTION_DAYS": 90})
    with pytest.raises(ValueError):
        retention.purge_audit_chunk(NOW, 182)


def test_retention_jobs_are_on_the_daily_schedule():
    from workers.schedule import PERIODIC_JOBS

    daily = {func.__name__ for func, interval, _q, _k in PERIODIC_JOBS if interval == 86400}
    assert {"purge_audit_logs", "anonymise_ended_stays"} <= daily


def _tenant(**over):
    data = {"name": fake.name(), "document_type": "resident_id",
            "document_number": fake.resident_id(), "phone": fake.mobile(),
            "start_date": date.today() - timedelta(days=60)}
    data.update(over)
    return data


@pytest.fixture()
def stays(db):
    """A house with its owner, a tenant who moved out yesterday and one still living there."""
    place = make_jurisdiction()
    address = make_address(place["community"], full_text="保留路1号1幢101室")
    landlord = declare.Submitter(role="landlord")
    owner = _tenant()
    decl = rentals.register_house(landlord, address, rental_type="shared", rooms=3, owner=owner)
    house = db.session.get(House, decl.house_id)
    gone, staying = _tenant(), _tenant()
    rentals.declare_move_in(landlord, house, [gone, staying])
    db.session.flush()
    residences = {r.person.name: r for r in db.session.execute(select(Residence)).scalars()}
    rentals.declare_move_out(landlord, house, [residences[gone["name"]].id],
                         date.today() - timedelta(days=1))
    db.session.commit()
    return {"owner": owner, "gone": gone, "staying": staying,
            "gone_id": residences[gone["name"]].person_id}


def person_named(db, name):
    return db.session.execute(select(Person).where(Person.name == name)).scalar()


def test_a_person_whose_stay_ended_long_ago_is_anonymised_and_others_are_not(app, db, stays):
    soon = (datetime.combine(date.today(), datetime.min.time()) + timedelta(days=100)).isoformat()
    assert anonymise_ended_stays(soon) == 0  # ended 100 days "ago": kept (default 730)
    later = (datetime.combine(date.today(), datetime.min.time()) + timedelta(days=800)).isoformat()
    assert anonymise_ended_stays(later) == 1
    db.session.expire_all()
    gone = db.session.get(Person, stays["gone_id"])
    assert gone.name == retention.ANONYMISED_NAME and gone.document_number_enc == ""
    assert gone.phone_enc is None and gone.phone_masked is None and gone.birth_date is None
    assert gone.document_blind_index  # kept: see docs/DEPLOY.md
    # the owner (a house still points at them) and the live tenant keep their identity
    assert person_named(db, stays["owner"]["name"]) is not None
    assert person_named(db, stays["staying"]["name"]) is not None
    from app import crypto

    dump = raw_dump(app)
    for secret in (stays["gone"]["name"], crypto.mask_phone(stays["gone"]["phone"]),
                   crypto.mask_document(stays["gone"]["document_number"])):
        assert secret not in dump
    assert stays["staying"]["name"] in dump
    payloads = db.session.execute(select(Declaration.payload)).scalars().all()
    assert any(t.get("name") == retention.ANONYMISED_NAME
               for p in payloads for t in (p.get("tenants") or []))
    assert anonymise_ended_stays(later) == 0  # idempotent


def test_a_returning_person_gets_their_document_back_on_the_kept_record(db, stays):
    later = (datetime.combine(date.today(), datetime.min.time()) + timedelta(days=800)).isoformat()
    assert anonymise_ended_stays(later) == 1
    back = upsert_person(document_type="resident_id", document_number=stays["gone"]["document_number"],
                         name=stays["gone"]["name"])
    assert back.id == stays["gone_id"]  # found by the kept blind index
    from app import crypto

    assert crypto.decrypt(back.document_number_enc) == stays["gone"]["document_number"]
    assert back.name == stays["gone"]["name"] and "*" in back.document_masked
