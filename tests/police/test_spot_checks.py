"""Spot checks (抽查): registered-before-check rule, misses become a declaration + 漏登 + alert,
seeded plans."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.fakedata import FakeData
from app.models import (
    Alert, Declaration, House, MissedRegistration, Residence, SpotCheckPerson, utcnow,
)
from app.services.errors import RuleError
from app.services.police import spot_checks
from tests.console.helpers import make_declaration
from tests.factories import make_address, make_person

fake = FakeData(2031)
CHECK = datetime(2026, 11, 20, 4, 0)  # 12:00 local on 2026-11-20


def _declared(world, number, *, created_at, start=date(2026, 11, 1), end=None,
              decl_status="verified", house=None):
    """A person with a residence at the house, declared at created_at."""
    house = house or world.a.house
    person = make_person(number, name="王抽查")
    d = make_declaration(house.address, decl_status, house_id=house.id)
    d.created_at = created_at
    db.session.add(Residence(person_id=person.id, house_id=house.id, start_date=start,
                             end_date=end, declared_by="landlord", status="active",
                             active_slot=None if end else 1, declaration_id=d.id))
    db.session.flush()
    return person


def _found(number, name="王抽查", room="101"):
    return {"document_type": "resident_id", "document_number": number, "name": name,
            "room": room}


def test_declared_before_the_check_counts_as_registered(world):
    number = fake.resident_id()
    person = _declared(world, number, created_at=CHECK - timedelta(days=2))
    assert spot_checks.was_registered_before(person.id, world.a.house.id, CHECK)


def test_a_declaration_made_after_the_check_is_a_miss_even_with_an_earlier_move_in(world):
    number = fake.resident_id()
    person = _declared(world, number, created_at=CHECK + timedelta(minutes=5),
                       start=date(2026, 10, 1))
    assert not spot_checks.was_registered_before(person.id, world.a.house.id, CHECK)


def test_a_rejected_declaration_does_not_count(world):
    number = fake.resident_id()
    person = _declared(world, number, created_at=CHECK - timedelta(days=2),
                       decl_status="rejected")
    assert not spot_checks.was_registered_before(person.id, world.a.house.id, CHECK)


def test_an_ended_stay_does_not_count(world):
    number = fake.resident_id()
    person = _declared(world, number, created_at=CHECK - timedelta(days=30),
                       start=date(2026, 10, 1), end=date(2026, 11, 19))
    assert not spot_checks.was_registered_before(person.id, world.a.house.id, CHECK)
    # ...but a stay ending on the check date itself still covers it
    other = _declared(world, fake.resident_id(), created_at=CHECK - timedelta(days=30),
                      start=date(2026, 10, 1), end=date(2026, 11, 20))
    assert spot_checks.was_registered_before(other.id, world.a.house.id, CHECK)


def test_a_move_in_after_the_check_date_does_not_count(world):
    person = _declared(world, fake.resident_id(), created_at=CHECK - timedelta(days=1),
                       start=date(2026, 11, 21))
    assert not spot_checks.was_registered_before(person.id, world.a.house.id, CHECK)


def test_registered_at_another_house_is_a_miss_here(world):
    other_house = House(address_id=world.a.other_address.id, station_id=world.a.house.station_id,
                        police_area_id=world.a.house.police_area_id, is_rental=True)
    db.session.add(other_house)
    db.session.flush()
    person = _declared(world, fake.resident_id(), created_at=CHECK - timedelta(days=2),
                       house=other_house)
    assert spot_checks.was_registered_before(person.id, other_house.id, CHECK)
    assert not spot_checks.was_registered_before(person.id, world.a.house.id, CHECK)


def test_an_unregistered_person_becomes_a_field_declaration_a_miss_and_an_alert(world):
    officer = world.officers["officer_a"]
    landlord = make_person(fake.resident_id(), name="赵房东")
    world.a.house.owner_person_id = landlord.id
    registered = fake.resident_id()
    _declared(world, registered, created_at=utcnow() - timedelta(days=2))
    newcomer = fake.resident_id()
    check = spot_checks.record_spot_check(
        officer, world.a.house, [_found(registered), _found(newcomer, "李漏登", "102")],
        lat=24.48, lng=118.09)
    rows = db.session.execute(select(SpotCheckPerson).where(
        SpotCheckPerson.spot_check_id == check.id).order_by(SpotCheckPerson.id)).scalars().all()
    assert [r.was_registered for r in rows] == [True, False]
    assert rows[0].declaration_id is None
    declaration = db.session.get(Declaration, rows[1].declaration_id)
    assert declaration.kind == "move_in" and declaration.channel == "field"
    assert declaration.submitter_role == "officer"
    assert declaration.submitter_officer_id == officer.id
    residence = db.session.execute(select(Residence).where(
        Residence.declaration_id == declaration.id)).scalar_one()
    assert residence.room == "102" and residence.collected_channel == "field"
    assert (residence.collected_lat, residence.collected_lng) == (24.48, 118.09)
    missed = db.session.execute(select(MissedRegistration)).scalar_one()
    assert missed.source == "spot_check" and missed.spot_check_person_id == rows[1].id
    assert missed.case_check_id is None and missed.house_id == world.a.house.id
    assert missed.landlord_person_id == landlord.id
    alert = db.session.execute(select(Alert).where(Alert.kind == "missed_registration")
                               ).scalar_one()
    assert alert.object_type == "missed_registration" and alert.object_id == missed.id
    assert alert.police_area_id == world.a.house.police_area_id
    assert "李*登" in alert.summary


def test_an_invalid_document_is_refused_and_records_nothing(world):
    with pytest.raises(RuleError) as exc:
        spot_checks.record_spot_check(world.officers["officer_a"], world.a.house,
                                      [_found("110105194912310000")])
    assert exc.value.field == "persons.0.document_number"
    db.session.rollback()
    assert db.session.execute(select(func.count(MissedRegistration.id))).scalar() == 0


def _rental_houses(world, n):
    ids = []
    for _ in range(n):
        address = make_address(world.a.jurisdiction["community"])
        house = House(address_id=address.id, station_id=address.station_id,
                      police_area_id=address.police_area_id, is_rental=True)
        db.session.add(house)
        db.session.flush()
        ids.append(house.id)
    return ids


def test_a_plan_samples_reproducibly_by_seed_and_assigns_officers(world):
    _rental_houses(world, 12)
    admin = world.officers["station_admin_a"]
    officer = world.officers["officer_a"]
    first = spot_checks.create_plan(admin, size=5, officers=[officer], seed=4242)
    again = spot_checks.create_plan(admin, size=5, officers=[officer], seed=4242)
    other = spot_checks.create_plan(admin, size=5, officers=[officer], seed=7)
    assert first.seed == 4242 and len(first.items) == 5
    assert [i.house_id for i in first.items] == [i.house_id for i in again.items]
    assert [i.house_id for i in first.items] != [i.house_id for i in other.items]
    assert {i.officer_id for i in first.items} == {officer.id}
    station = world.a.house.station_id
    assert all(db.session.get(House, i.house_id).station_id == station for i in first.items)
    assert len(spot_checks.plan_items_for(officer)) == 15
    unseeded = spot_checks.create_plan(admin, size=2, officers=[officer])
    assert unseeded.seed is not None


def test_only_a_station_admin_plans_and_only_with_own_officers(world):
    with pytest.raises(RuleError):
        spot_checks.create_plan(world.officers["officer_a"], size=2,
                                officers=[world.officers["officer_a"]], seed=1)
    with pytest.raises(RuleError) as exc:
        spot_checks.create_plan(world.officers["station_admin_a"], size=2,
                                officers=[world.officers["officer_b"]], seed=1)
    assert exc.value.field == "officer_ids"


def test_completing_a_plan_item_links_the_check(world):
    _rental_houses(world, 3)
    officer = world.officers["officer_a"]
    plan = spot_checks.create_plan(world.officers["station_admin_a"], size=1,
                                   officers=[officer], seed=3)
    item = plan.items[0]
    house = db.session.get(House, item.house_id)
    check = spot_checks.record_spot_check(officer, house, [_found(fake.resident_id())],
                                          plan_item=item)
    assert item.spot_check_id == check.id
    assert spot_checks.plan_items_for(officer) == []


def test_the_collected_declaration_is_validated_through_the_outbox_unless_batched(world):
    from app.models import OutboxJob

    officer = world.officers["officer_a"]
    check = spot_checks.record_spot_check(officer, world.a.house, [_found(fake.resident_id())])
    declaration_id = check.persons[0].declaration_id
    jobs = db.session.execute(select(OutboxJob).where(
        OutboxJob.job == "workers.jobs.validate_declaration")).scalars().all()
    assert [j.args for j in jobs] == [[declaration_id]]
    batched = spot_checks.record_spot_check(officer, world.a.house,
                                            [_found(fake.resident_id())], validate_now=False)
    assert batched.persons[0].declaration_id
    assert db.session.execute(select(func.count(OutboxJob.id)).where(
        OutboxJob.job == "workers.jobs.validate_declaration")).scalar() == 1
