"""Declaration services: rules at submission, rows proposed in the same transaction."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.fakedata import FakeData
from app.models import Declaration, Employment, House, Residence
from app.services.declarations import declare, employers, rentals
from app.services.errors import RuleError
from tests.conftest import raw_dump
from tests.factories import make_address, make_jurisdiction

fake = FakeData(2024)
TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 10, 0)
LANDLORD = declare.Submitter(role="landlord", wechat_user_id=None, channel="wechat_h5")


def tenant(**over):
    data = {"name": fake.name(), "document_type": "resident_id",
            "document_number": fake.resident_id(), "phone": fake.mobile(),
            "start_date": TODAY - timedelta(days=1), "room": "主卧"}
    data.update(over)
    return data


@pytest.fixture()
def house(db):
    place = make_jurisdiction()
    address = make_address(place["community"])
    declaration = rentals.register_house(
        LANDLORD, address, rental_type="shared", rooms=2,
        owner={"name": "房东甲", "document_type": "resident_id",
               "document_number": fake.resident_id(), "phone": fake.mobile()})
    db.session.commit()
    return db.session.get(House, declaration.house_id)


def test_register_house_creates_house_and_declaration_in_received(db, house):
    declaration = db.session.execute(select(Declaration).where(Declaration.kind == "house")).scalar_one()
    assert house.is_rental and house.rental_type == "shared" and house.owner.name == "房东甲"
    assert declaration.status in ("received", "verified")  # inline jobs validate at once
    assert declaration.events[0].to_status == "received"
    assert len(declaration.receipt_code) == 8


def test_move_in_of_two_tenants_proposes_two_pending_or_active_residences(db, house):
    decl = rentals.declare_move_in(LANDLORD, house, [tenant(), tenant()], today=TODAY, now=NOW)
    db.session.commit()
    residences = db.session.execute(select(Residence).where(Residence.declaration_id == decl.id)).scalars().all()
    assert len(residences) == 2
    assert not decl.is_late


def test_payload_never_holds_plaintext_documents_or_phones(app, db, house):
    t = tenant()
    rentals.declare_move_in(LANDLORD, house, [t], today=TODAY, now=NOW)
    db.session.commit()
    dump = raw_dump(app)
    assert t["document_number"] not in dump and t["phone"] not in dump


def test_move_in_more_than_a_day_ahead_is_refused_naming_the_field(db, house):
    with pytest.raises(RuleError) as err:
        rentals.declare_move_in(LANDLORD, house, [tenant(start_date=TODAY + timedelta(days=2))],
                            today=TODAY, now=NOW)
    assert err.value.field == "tenants.0.start_date"
    db.session.rollback()


def test_invalid_id_names_the_tenant_field_in_chinese(db, house):
    bad = fake.resident_id()
    bad = bad[:-1] + ("1" if bad[-1] != "1" else "2")
    with pytest.raises(RuleError) as err:
        rentals.declare_move_in(LANDLORD, house, [tenant(), tenant(document_number=bad)],
                            today=TODAY, now=NOW)
    assert err.value.field == "tenants.1.document_number" and "核对最后一位" in err.value.message
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Residence)).scalar_one() == 0


def test_person_cannot_be_active_twice_in_one_house(db, house):
    t = tenant()
    rentals.declare_move_in(LANDLORD, house, [t], today=TODAY, now=NOW)
    db.session.commit()
    with pytest.raises(RuleError, match="已在本房屋登记居住"):
        rentals.declare_move_in(LANDLORD, house, [dict(t)], today=TODAY, now=NOW)
    db.session.rollback()


def test_late_move_in_is_accepted_and_marked_with_hours_late(db, house):
    decl = rentals.declare_move_in(LANDLORD, house, [tenant(start_date=TODAY - timedelta(days=5))],
                               today=TODAY, now=NOW)
    db.session.commit()
    # Deadline: local midnight of 11-22 (11-21 16:00 UTC) + 3 days; NOW is 11-27 10:00 UTC.
    assert decl.is_late and decl.late_hours == 2 * 24 + 18


def test_foreign_tenant_has_24_hours(db, house):
    foreigner = tenant(document_type="passport", document_number=fake.passport(),
                       nationality="USA", start_date=TODAY - timedelta(days=1))
    decl = rentals.declare_move_in(LANDLORD, house, [foreigner], today=TODAY, now=NOW)
    assert decl.is_late and decl.late_hours == 18  # from 11-26 00:00 Beijing = 11-25 16:00 UTC
    assert decl.payload["tenants"][0]["foreign"] is True


def test_move_out_before_move_in_is_refused_and_after_it_ends_the_residence(db, house):
    decl = rentals.declare_move_in(LANDLORD, house, [tenant(start_date=TODAY - timedelta(days=1))],
                               today=TODAY, now=NOW)
    db.session.commit()
    rid = decl.payload["tenants"][0]["residence_id"]
    with pytest.raises(RuleError) as err:
        rentals.declare_move_out(LANDLORD, house, [rid], TODAY - timedelta(days=3), today=TODAY)
    assert err.value.field == "end_date"
    db.session.rollback()
    rentals.declare_move_out(LANDLORD, house, [rid], TODAY, today=TODAY)
    db.session.commit()
    residence = db.session.get(Residence, rid)
    assert residence.status == "ended" and residence.active_slot is None


def test_same_idempotency_key_gives_the_same_declaration_and_no_duplicate_rows(db, house):
    from app.models import WeChatUser

    user = WeChatUser(openid="o-idem-test")
    db.session.add(user)
    db.session.commit()
    me = declare.Submitter(role="landlord", wechat_user_id=user.id)
    t = tenant()
    first = rentals.declare_move_in(me, house, [t], idempotency_key="k-1", today=TODAY, now=NOW)
    db.session.commit()
    second = rentals.declare_move_in(me, house, [dict(t)], idempotency_key="k-1", today=TODAY, now=NOW)
    assert second.id == first.id
    assert db.session.execute(select(func.count()).select_from(Residence)).scalar_one() == 1


def test_correction_changes_the_residence_and_proposes_the_name_until_verified(db, house,
                                                                            run_jobs):
    decl = rentals.declare_move_in(LANDLORD, house, [tenant()], today=TODAY, now=NOW)
    db.session.commit()
    rid = decl.payload["tenants"][0]["residence_id"]
    fix = rentals.correct_move_in(LANDLORD, decl, rid, {"room": "次卧", "name": "改名字"}, today=TODAY)
    assert db.session.get(Residence, rid).person.name != "改名字"  # proposed, not written
    db.session.commit()
    assert fix.kind == "correction" and fix.corrects_id == decl.id
    assert fix.payload["before"]["room"] == "主卧" and fix.payload["after"]["room"] == "次卧"
    assert fix.payload["after"]["name"] == "改名字"
    run_jobs()  # the correction is validated: its proposal is applied, with history
    db.session.expire_all()
    assert db.session.get(Residence, rid).person.name == "改名字"


def test_employer_registration_validates_the_uscc(db):
    place = make_jurisdiction()
    address = make_address(place["community"], level="building")
    with pytest.raises(RuleError) as err:
        employers.register_employer(LANDLORD, name="某公司", uscc="91350200MA12345678",
                              address=address, contact_name="联系人", contact_phone=fake.mobile())
    assert err.value.field == "uscc"
    decl = employers.register_employer(declare.Submitter(role="employer"), name="某公司", uscc=fake.uscc(),
                                 address=address, contact_name="联系人",
                                 contact_phone=fake.mobile())
    db.session.commit()
    assert decl.kind == "employer" and decl.employer_id


def test_hire_with_dormitory_then_leave(db):
    place = make_jurisdiction()
    office = make_address(place["community"], level="building")
    dorm = make_address(place["community"])
    boss = declare.Submitter(role="employer")
    employer_decl = employers.register_employer(boss, name="宿舍公司", uscc=fake.uscc(), address=office,
                                          contact_name="王", contact_phone=fake.mobile())
    db.session.commit()
    from app.models import Employer

    employer = db.session.get(Employer, employer_decl.employer_id)
    hire = employers.declare_hire(boss, employer, [dict(tenant(), job="厨师",
                                                  dormitory_address_id=dorm.id)], today=TODAY)
    db.session.commit()
    employment = db.session.execute(select(Employment)).scalar_one()
    assert employment.dormitory_house.address_id == dorm.id
    employers.declare_leave(boss, employer, [employment.id], TODAY, today=TODAY)
    db.session.commit()
    assert employment.status == "ended" and hire.kind == "hire"


def test_residence_permit_date_is_six_months_later():
    assert declare.residence_permit_date(date(2026, 8, 31)) == date(2027, 2, 28)
    assert declare.residence_permit_date(date(2026, 1, 15)) == date(2026, 7, 15)


def test_move_in_deadline_runs_from_local_midnight_not_utc(db, house):
    # 12-04 01:00 Beijing is 12-03 17:00 UTC: an hour past 12-01 00:00 Beijing + 3 days.
    decl = rentals.declare_move_in(LANDLORD, house, [tenant(start_date=date(2026, 12, 1))],
                               today=date(2026, 12, 4), now=datetime(2026, 12, 3, 17, 0))
    assert decl.is_late and decl.late_hours == 1
    on_time = rentals.declare_move_in(LANDLORD, house, [tenant(start_date=date(2026, 12, 1))],
                                  today=date(2026, 12, 3), now=datetime(2026, 12, 3, 15, 59))
    assert not on_time.is_late


def test_declaration_deadlines_are_settings(app, db, house):
    app.config.update(DECLARE_MOVE_IN_DAYS=7, DECLARE_FOREIGN_HOURS=48, DECLARE_MOVE_OUT_DAYS=1)
    try:
        xiamen = rentals.declare_move_in(LANDLORD, house, [tenant(start_date=TODAY - timedelta(days=5))],
                                     today=TODAY, now=NOW)
        assert not xiamen.is_late
        foreigner = tenant(document_type="passport", document_number=fake.passport(),
                           nationality="USA", start_date=TODAY - timedelta(days=1))
        assert not rentals.declare_move_in(LANDLORD, house, [foreigner], today=TODAY,
                                       now=NOW).is_late
        rid = xiamen.payload["tenants"][0]["residence_id"]
        out = rentals.declare_move_out(LANDLORD, house, [rid], TODAY - timedelta(days=2),
                                   today=TODAY, now=NOW)
        # 11-25 00:00 Beijing + 1 day = 11-25 16:00 UTC; NOW is 11-27 10:00 UTC.
        assert out.is_late and out.late_hours == 42
    finally:
        app.config.update(DECLARE_MOVE_IN_DAYS=3, DECLARE_FOREIGN_HOURS=24,
                          DECLARE_MOVE_OUT_DAYS=3)
