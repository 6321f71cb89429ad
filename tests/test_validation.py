"""Validation: every declaration checked against the registry and the rules, idempotently."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.fakedata import FakeData
from app.models import (
    Alert, CaseCheck, ControlTask, Declaration, House, MissedRegistration, Reminder, Residence,
    Watch,
)
from app.services.declarations import declare, rentals
from app.services.registry.address_match import match_address, normalise_address, scope_cache
from app.services.people.people import document_blind_index
from app.services.declarations.validation import public_reasons, validate
from tests.factories import make_address, make_jurisdiction

fake = FakeData(77)
TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 10, 0)
LANDLORD = declare.Submitter(role="landlord")


def tenant(**over):
    data = {"name": fake.name(), "document_type": "resident_id",
            "document_number": fake.resident_id(), "start_date": TODAY}
    data.update(over)
    return data


@pytest.fixture()
def place(db):
    return make_jurisdiction()



def house_of(db, place, rooms=2):
    address = make_address(place["community"])
    decl = rentals.register_house(LANDLORD, address, rental_type="whole", rooms=rooms, owner=tenant())
    db.session.commit()
    return db.session.get(House, decl.house_id)


def test_clean_move_in_verifies_and_activates_residences(db, place, run_jobs):
    house = house_of(db, place)
    decl = rentals.declare_move_in(LANDLORD, house, [tenant()], today=TODAY, now=NOW)
    db.session.commit()
    run_jobs()
    db.session.refresh(decl)
    assert decl.status == "verified"
    assert [e.to_status for e in decl.events] == ["received", "validating", "verified"]
    assert db.session.execute(select(Residence.status)).scalars().all() == ["active"]


def test_validation_twice_changes_nothing_the_second_time(db, place, run_jobs):
    house = house_of(db, place)
    decl = rentals.declare_move_in(LANDLORD, house, [tenant()], today=TODAY, now=NOW)
    db.session.commit()
    run_jobs()
    events = len(decl.events)
    assert validate(decl) is False
    assert len(decl.events) == events


def test_watch_listed_tenant_creates_control_task_silently(db, place, run_jobs):
    house = house_of(db, place)
    listed = tenant()
    db.session.add(Watch(document_type="resident_id", category="重点人员", source="测试",
                         document_blind_index=document_blind_index("resident_id",
                                                                   listed["document_number"])))
    db.session.commit()
    run_jobs()
    decl = rentals.declare_move_in(LANDLORD, house, [listed], today=TODAY, now=NOW)
    db.session.commit()
    run_jobs()
    db.session.refresh(decl)
    assert decl.status == "needs_review"
    assert public_reasons(decl) == []  # the landlord never learns why
    tasks = db.session.execute(select(ControlTask).order_by(ControlTask.id)).scalars().all()
    assert [t.template.name for t in tasks] == ["五见", "四知"]  # one task per template
    assert {t.declaration_id for t in tasks} == {decl.id}
    assert [len(t.checklist) for t in tasks] == [5, 4]
    assert db.session.execute(select(Alert.kind)).scalar_one() == "watch_hit"
    assert db.session.execute(select(Residence.status)).scalar_one() == "pending"


def test_tenant_live_elsewhere_asks_the_old_landlord_to_confirm_move_out(db, place, run_jobs):
    old, new = house_of(db, place), house_of(db, place)
    t = tenant()
    rentals.declare_move_in(LANDLORD, old, [t], today=TODAY, now=NOW)
    db.session.commit()
    run_jobs()
    decl = rentals.declare_move_in(LANDLORD, new, [dict(t)], today=TODAY, now=NOW)
    db.session.commit()
    run_jobs()
    db.session.refresh(decl)
    reminder = db.session.execute(select(Reminder)).scalar_one()
    assert reminder.rule == "move_out_confirm" and reminder.target_type == "residence"
    # Two live residences need a human look: never "verified", so never bulk-approvable.
    assert decl.status == "needs_review"
    assert "原房东确认退租" in decl.reasons[0]["message"]


def test_more_people_than_rooms_can_hold_needs_review(db, place, run_jobs):
    house = house_of(db, place, rooms=1)
    decl = rentals.declare_move_in(LANDLORD, house, [tenant(), tenant(), tenant()], today=TODAY,
                               now=NOW)
    db.session.commit()
    run_jobs()
    db.session.refresh(decl)
    assert decl.status == "needs_review"
    assert decl.reasons[0]["field"] == "rooms" and "超过" in decl.reasons[0]["message"]


def test_open_missed_registration_is_resolved_by_the_declaration(db, place, run_jobs):
    from app import crypto

    house = house_of(db, place)
    t = tenant()
    enc, blind, masked = crypto.protect_document("resident_id", t["document_number"])
    case = CaseCheck(document_type="resident_id", document_number_enc=enc,
                     document_blind_index=blind, document_masked=masked, name=t["name"],
                     case_number="A2026-1", case_date=TODAY, station_id=place["station"].id)
    db.session.add(case)
    db.session.flush()
    miss = MissedRegistration(case_check_id=case.id, station_id=place["station"].id,
                              document_type="resident_id", document_blind_index=blind,
                              deadline=NOW + timedelta(days=7))
    db.session.add(miss)
    db.session.commit()
    run_jobs()
    decl = rentals.declare_move_in(LANDLORD, house, [t], today=TODAY, now=NOW)
    db.session.commit()
    run_jobs()
    db.session.refresh(miss)
    assert miss.status == "resolved" and decl.receipt_code in miss.outcome


@pytest.mark.parametrize("typed, canonical", [
    ("安居路８８号３栋２单元５０４室", "安居路88号3幢2单元504室"),
    ("安居路八十八号三号楼二单元五〇四", "安居路88号3幢2单元504"),
    ("安居路 88号 3座 2单元 504房", "安居路88号3幢2单元504室"),
])
def test_address_text_is_normalised(typed, canonical):
    assert normalise_address(typed) == normalise_address(canonical)


def test_free_text_address_is_matched_within_the_community(db, place, run_jobs):
    scope_cache.clear()
    target = make_address(place["community"], full_text="安居路88号3幢2单元504室")
    make_address(place["community"], full_text="安居路88号3幢2单元503室")
    make_address(place["community"], full_text="和谐路12号1幢1单元101室")
    db.session.commit()
    run_jobs()
    candidates = match_address("安居路八十八号三栋二单元504", community_id=place["community"].id)
    assert candidates[0].address_id == target.id and candidates[0].score > 90
    assert candidates[1].full_text.endswith("503室")


def test_ambiguous_free_text_goes_to_review_with_candidates(db, place, run_jobs):
    scope_cache.clear()
    make_address(place["community"], full_text="安居路88号3幢2单元504室")
    make_address(place["community"], full_text="安居路88号3幢2单元505室")
    db.session.commit()
    run_jobs()
    decl = Declaration(kind="self", status="received", submitter_role="tenant",
                       receipt_code="TESTCODE", station_id=place["station"].id,
                       payload={"address_text": "安居路88号3幢2单元50室",
                                "community_id": place["community"].id, "tenants": []})
    db.session.add(decl)
    db.session.commit()
    run_jobs()
    validate(decl)
    db.session.commit()
    run_jobs()
    assert decl.status == "needs_review" and len(decl.candidates) >= 2
    assert decl.reasons[0]["field"] == "address"


def test_job_runs_through_a_real_queue_and_worker(app, db, place, run_jobs):
    if not app.config.get("REDIS_URL"):
        pytest.skip("needs real Redis (TEST_REDIS_URL)")
    from rq import SimpleWorker

    from app.redis_conn import get_redis
    from workers.queues import JOB_SERIALIZER, get_queue

    house = house_of(db, place)
    decl = rentals.declare_move_in(LANDLORD, house, [tenant()], today=TODAY, now=NOW)
    db.session.commit()
    assert db.session.get(Declaration, decl.id).status == "received"  # queued, not yet run
    db.session.rollback()  # end the read snapshot before the worker writes
    with app.app_context():
        SimpleWorker([get_queue("default")], connection=get_redis(),
                     serializer=JOB_SERIALIZER).work(burst=True)
    assert db.session.get(Declaration, decl.id).status == "verified"


def test_sweeper_reenqueues_declarations_left_in_received(db, place, run_jobs):
    from workers.jobs import sweep_stale_declarations

    house = house_of(db, place)
    decl = Declaration(kind="move_in", status="received", submitter_role="landlord",
                       receipt_code="STALE001", house_id=house.id, address_id=house.address_id,
                       station_id=house.station_id, payload={"tenants": []},
                       updated_at=datetime.utcnow() - timedelta(hours=1))
    db.session.add(decl)
    db.session.commit()
    assert sweep_stale_declarations() == 1
    run_jobs()
    assert db.session.get(Declaration, decl.id).status == "verified"
    assert sweep_stale_declarations() == 0  # nothing left behind


def test_officer_approval_activates_and_rejection_withdraws_proposed_residences(db, place,
                                                                                run_jobs):
    from app.services.declarations import review
    from app.services.accounts.officers import create_officer

    officer = create_officer(username="rev", password="pw-123456", name="审核员",
                             badge_number="R1", role="station_admin",
                             branch_id=place["branch"].id, station_id=place["station"].id)
    house = house_of(db, place, rooms=1)
    crowded = rentals.declare_move_in(LANDLORD, house, [tenant(), tenant(), tenant()], today=TODAY,
                                  now=NOW)
    db.session.commit()
    run_jobs()
    db.session.refresh(crowded)
    assert crowded.status == "needs_review"
    review.approve(crowded, officer)
    db.session.commit()
    assert {r.status for r in db.session.execute(select(Residence).where(
        Residence.declaration_id == crowded.id)).scalars()} == {"active"}
    other = house_of(db, place, rooms=1)
    refused = rentals.declare_move_in(LANDLORD, other, [tenant(), tenant(), tenant()], today=TODAY,
                                  now=NOW)
    db.session.commit()
    run_jobs()
    db.session.refresh(refused)
    review.reject(refused, officer, "人数与实际不符")
    db.session.commit()
    rows = db.session.execute(select(Residence).where(
        Residence.declaration_id == refused.id)).scalars().all()
    assert {(r.status, r.active_slot) for r in rows} == {("ended", None)}
