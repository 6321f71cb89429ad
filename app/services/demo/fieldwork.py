"""Demo police field work: a watch list with hits, control tasks, alerts, spot checks."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select

from app import crypto
from app.extensions import db
from app.fakedata import FakeData
from app.models import House, Officer, Person, Residence, Watch
from app.services.errors import RuleError
from app.services.police import spot_checks, tasks as task_service


WATCH_CATEGORIES = ["重点人员", "涉毒人员", "前科人员", "在逃人员"]


def demo_field_work(rng: random.Random, area_id: int, now: datetime) -> None:
    """A watch list with hits (mostly in the demo officer's area), control tasks open and
    overdue, a few items done with GPS, and the alerts they raise."""
    live = db.session.execute(
        select(Person).join(Residence, Residence.person_id == Person.id)
        .join(House, House.id == Residence.house_id)
        .where(Residence.status == "active", House.police_area_id == area_id)
        .order_by(Person.id).limit(60)).scalars().all()
    elsewhere = db.session.execute(
        select(Person).join(Residence, Residence.person_id == Person.id)
        .join(House, House.id == Residence.house_id)
        .where(Residence.status == "active", House.police_area_id != area_id)
        .order_by(Person.id).limit(60)).scalars().all()
    chosen = rng.sample(live, min(6, len(live))) + rng.sample(elsewhere, min(3, len(elsewhere)))
    officer = db.session.execute(select(Officer).where(Officer.role == "officer")).scalar()
    for n, person in enumerate(chosen):
        # Listed 2, 5 or 10 days ago: the last are overdue (items are due in 7 days).
        listed = now - timedelta(days=(2, 5, 10)[n % 3], hours=rng.randint(0, 20))
        watch = Watch(document_type=person.document_type,
                      document_blind_index=person.document_blind_index, name=person.name,
                      category=rng.choice(WATCH_CATEGORIES), source="市局下发（演示）",
                      listed_at=listed, list_reason="演示数据")
        db.session.add(watch)
        db.session.flush()
        created = task_service.match_watch(watch, now=listed)
        if n % 3 == 1 and created and officer is not None \
                and created[0].police_area_id == officer.police_area_id:
            for item in created[0].checklist[:2]:
                task_service.complete_item(
                    created[0], item["key"], officer, lat=24.48 + rng.random() / 100,
                    lng=118.09 + rng.random() / 100, note="演示：已上门", channel="field",
                    now=listed + timedelta(days=1))
    for _ in range(3):  # listed persons not (yet) living or working in the district
        db.session.add(Watch(document_type="resident_id",
                             document_blind_index=crypto.blind_index(
                                 "doc:resident_id", FakeData(rng.randint(1, 10**6)).resident_id()),
                             name=FakeData(rng.randint(1, 10**6)).name(),
                             category=rng.choice(WATCH_CATEGORIES), source="市局下发（演示）",
                             listed_at=now - timedelta(days=20)))
    db.session.flush()
    task_service.sweep_overdue(now)


def demo_spot_checks(rng: random.Random, area_id: int, now: datetime) -> list[int]:
    """A seeded spot-check plan in the demo officer's area: some houses still to check, some
    checked, with registered residents and a few unregistered persons (漏登 and alerts); returns
    the ids of the declarations collected on site, for batch validation."""
    admin = db.session.execute(select(Officer).where(Officer.role == "station_admin")).scalar()
    officer = db.session.execute(select(Officer).where(Officer.role == "officer")).scalar()
    if admin is None or officer is None:
        return []
    try:
        plan = spot_checks.create_plan(admin, size=8, officers=[officer],
                                       police_area_id=area_id, seed=rng.randint(1, 10**6),
                                       note="演示抽查计划")
    except RuleError:
        return []
    collected: list[int] = []
    fake = FakeData(rng.randint(1, 10**6))
    for n, item in enumerate(plan.items[:4]):
        found = [{"document_type": p.document_type, "name": p.name, "room": r.room,
                  "document_number": crypto.decrypt(p.document_number_enc)}
                 for r, p in db.session.execute(
                     select(Residence, Person).join(Person, Person.id == Residence.person_id)
                     .where(Residence.house_id == item.house_id, Residence.status == "active",
                            Residence.active_slot.is_not(None))
                     .order_by(Residence.id).limit(2)).all()]
        if n % 2 == 0 or not found:  # someone living there who was never declared
            found.append({"document_type": "resident_id", "document_number": fake.resident_id(),
                          "name": fake.name(), "room": f"{rng.randint(1, 6)}0{rng.randint(1, 4)}"})
        house = db.session.get(House, item.house_id)
        check = spot_checks.record_spot_check(
            officer, house, found, lat=24.48 + rng.random() / 100,
            lng=118.09 + rng.random() / 100, plan_item=item, note="演示：现场抽查",
            validate_now=False)
        collected += [row.declaration_id for row in check.persons if row.declaration_id]
    db.session.flush()
    return collected
