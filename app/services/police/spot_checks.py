"""Spot checks (抽查): who an officer finds on site at a house, whether each was registered
there before the check, and what a miss produces (an on-site declaration, a 漏登, an alert).
Plans draw a reproducible random sample of rental houses (the seed is recorded)."""
from __future__ import annotations

import random
import secrets
from datetime import datetime

from sqlalchemy import select

from app import settings
from app.crypto import mask_name
from app.extensions import db
from app.models import (
    Address, Declaration, House, Officer, Person, PoliceArea, Residence, SpotCheck,
    SpotCheckPerson, SpotCheckPlan, SpotCheckPlanItem, utcnow,
)
from app.services.accounts import audit, scoping
from app.services.declarations import declare, rentals
from app.services.declarations.declare import Submitter, local_today
from app.services.errors import RuleError, StateConflict
from app.services.police import missed
from app.services.police.registered import registration_evidence

MAX_PERSONS = 30
MAX_SAMPLE = 200


def was_registered_before(person_id: int | None, house_id: int, checked_at: datetime) -> bool:
    """Whether the person was registered at the house before checked_at (naive UTC): the one
    rule of app/services/police/registered.py, at this house, covering the local check date."""
    return registration_evidence(person_id, checked_at, local_today(checked_at),
                                 house_id=house_id) is not None


def house_by_token(token: str) -> House | None:
    """The house behind a door-plate token (unscoped: the caller scopes it)."""
    token = (token or "").strip()
    if not token or len(token) > 64:
        return None
    return db.session.execute(
        select(House).join(Address, Address.id == House.address_id)
        .where(Address.qr_token == token)).scalar_one_or_none()


def record_spot_check(officer: Officer, house: House, found: list[dict], *,
                      lat: float | None = None, lng: float | None = None,
                      note: str | None = None, plan_item: SpotCheckPlanItem | None = None,
                      now: datetime | None = None, validate_now: bool = True) -> SpotCheck:
    """Record who was found at the house. Each person unregistered before the check becomes, in
    the same action, an officer-collected move-in declaration (channel field), a 漏登 against the
    landlord and a missed_registration alert. validate_now=False leaves the declarations'
    validation to the caller's batch."""
    now = now or utcnow()
    if not found:
        raise RuleError("persons", "请至少填写一位现场人员")
    if len(found) > MAX_PERSONS:
        raise RuleError("persons", f"一次最多填写 {MAX_PERSONS} 人")
    if plan_item is not None and plan_item.spot_check_id is not None:
        raise StateConflict("该抽查任务已完成")
    check = SpotCheck(officer_id=officer.id, house_id=house.id, station_id=house.station_id,
                      checked_at=now, lat=lat, lng=lng, note=(note or None))
    db.session.add(check)
    db.session.flush()
    submitter = Submitter(role="officer", officer_id=officer.id, channel="field")
    seen: set[int] = set()
    for i, data in enumerate(found):
        prefix = f"persons.{i}."
        person = declare.named_person(data, prefix)
        if person is not None and person.id in seen:
            raise RuleError(f"{prefix}document_number", "同一人员在本次抽查中重复填写")
        registered = was_registered_before(person.id if person else None, house.id, now)
        row = SpotCheckPerson(spot_check_id=check.id, was_registered=registered,
                              room=(data.get("room") or None))
        if registered:
            row.person_id = person.id
        else:
            declaration = _collect_move_in(submitter, house, data, person, now, lat, lng, i,
                                           validate_now)
            if declaration is not None:
                row.declaration_id = declaration.id
                person_id = declaration.payload["tenants"][0]["person_id"]
            else:
                person_id = person.id
            row.person_id = person_id
        seen.add(row.person_id)
        db.session.add(row)
        db.session.flush()
        if not registered:
            _missed(check, row, house, now)
    if plan_item is not None:
        plan_item.spot_check_id = check.id
    db.session.flush()
    return check


def _collect_move_in(submitter: Submitter, house: House, data: dict, person, now: datetime,
                     lat, lng, index: int, validate_now: bool = True) -> Declaration | None:
    # A person with a live residence here that does not count yet (declared after the check, or
    # moving in later) already has a declaration on file: no second one.
    if person is not None and db.session.execute(
            select(Residence.id).where(Residence.person_id == person.id,
                                       Residence.house_id == house.id,
                                       Residence.active_slot.is_not(None))).first():
        return None
    tenant = {"document_type": data.get("document_type") or "resident_id",
              "document_number": data.get("document_number") or "",
              "name": data.get("name") or "", "room": data.get("room") or None,
              "start_date": local_today(now), "lat": lat, "lng": lng,
              "relation": data.get("relation") or "承租人"}
    try:
        declaration = rentals.declare_move_in(submitter, house, [tenant], now=now,
                                                   today=local_today(now),
                                                   validate_now=validate_now)
    except RuleError as exc:
        raise RuleError(exc.field.replace("tenants.0.", f"persons.{index}."), exc.message) \
            from None
    for residence in db.session.execute(
            select(Residence).where(Residence.declaration_id == declaration.id)).scalars():
        residence.collected_lat, residence.collected_lng = lat, lng
        residence.collected_at = now
    return declaration


def _missed(check: SpotCheck, row: SpotCheckPerson, house: House, now: datetime) -> None:
    person = db.session.get(Person, row.person_id)
    days = missed.trace_back_days(settings.config())
    missed.record_miss(
        source="spot_check", spot_check_person_id=row.id, station_id=house.station_id,
        document_type=person.document_type, blind_index=person.document_blind_index,
        house=house, days=days, now=now,
        summary=f"抽查发现未登记人员 {mask_name(person.name)}（{house.address.full_text}）")


# -- plans (抽查计划) ------------------------------------------------------------------------------

def draw_sample(house_ids: list[int], size: int, seed: int) -> list[int]:
    """The same seed and houses always give the same sample (ids in drawn order)."""
    pool = sorted(set(house_ids))
    return random.Random(seed).sample(pool, min(size, len(pool)))


def create_plan(admin: Officer, *, size: int, officers: list[Officer],
                police_area_id: int | None = None, seed: int | None = None,
                note: str | None = None) -> SpotCheckPlan:
    """A station admin's plan: a seeded random sample of active rental houses in the station
    (or one police area of it), assigned to the given officers in turn."""
    if admin.role != "station_admin" or not admin.station_id:
        raise RuleError("officer", "只有派出所管理员可以制定抽查计划")
    if not isinstance(size, int) or not 1 <= size <= MAX_SAMPLE:
        raise RuleError("size", f"抽查户数应为 1 到 {MAX_SAMPLE}")
    if not officers:
        raise RuleError("officer_ids", "请至少指派一位民警")
    for o in officers:
        if o.station_id != admin.station_id or o.role != "officer" or not o.is_active:
            raise RuleError("officer_ids", "只能指派本所在岗民警")
    seed = secrets.randbelow(2**31) if seed is None else seed
    if not isinstance(seed, int) or not 0 <= seed < 2**62:
        raise RuleError("seed", "随机种子应为非负整数")
    stmt = select(House.id).where(House.station_id == admin.station_id,
                                  House.is_rental.is_(True), House.status == "active")
    if police_area_id is not None:
        stmt = stmt.where(House.police_area_id == police_area_id)
    chosen = draw_sample(list(db.session.execute(stmt).scalars()), size, seed)
    if not chosen:
        raise RuleError("size", "该范围内没有可抽查的出租房屋")
    plan = SpotCheckPlan(station_id=admin.station_id, police_area_id=police_area_id,
                         created_by_officer_id=admin.id, seed=seed, sample_size=size,
                         note=(note or None))
    db.session.add(plan)
    db.session.flush()
    houses = {h.id: h for h in db.session.execute(
        select(House).where(House.id.in_(chosen))).scalars()}
    for n, house_id in enumerate(chosen):
        house = houses[house_id]
        db.session.add(SpotCheckPlanItem(
            plan_id=plan.id, house_id=house_id, station_id=house.station_id,
            police_area_id=house.police_area_id, officer_id=officers[n % len(officers)].id))
    db.session.flush()
    return plan


def plan_items_for(officer: Officer, *, status: str = "open") -> list[SpotCheckPlanItem]:
    """The plan items assigned to this officer (open: not yet checked), oldest first."""
    stmt = select(SpotCheckPlanItem).where(SpotCheckPlanItem.officer_id == officer.id)
    if status == "open":
        stmt = stmt.where(SpotCheckPlanItem.spot_check_id.is_(None))
    elif status == "done":
        stmt = stmt.where(SpotCheckPlanItem.spot_check_id.is_not(None))
    return list(db.session.execute(stmt.order_by(SpotCheckPlanItem.id).limit(200)).scalars())


def record_audited(officer: Officer, house: House, found: list[dict], *, channel: str,
                   ip: str | None, **details) -> SpotCheck:
    """record_spot_check() with its audit row (console and officer API alike)."""
    check = record_spot_check(officer, house, found, **details)
    audit.record(officer, "spot_check.record", "spot_check", check.id, ip=ip,
                 detail={"house_id": house.id, "persons": len(check.persons),
                         "missed": sum(1 for p in check.persons if not p.was_registered),
                         "gps": check.lat is not None, "channel": channel})
    return check


def create_plan_audited(admin: Officer, *, channel: str, ip: str | None, **plan) -> SpotCheckPlan:
    """create_plan() with its audit row naming the seed (console and officer API alike)."""
    made = create_plan(admin, **plan)
    audit.record(admin, "spot_check.plan", "spot_check_plan", made.id, ip=ip,
                 detail={"seed": made.seed, "size": made.sample_size, "channel": channel})
    return made


def recent_checks(officer: Officer, limit: int) -> list[SpotCheck]:
    """The latest spot checks in the officer's area, newest first."""
    return list(db.session.execute(scoping.scope(SpotCheck, select(SpotCheck), officer)
                                   .order_by(SpotCheck.id.desc()).limit(limit)).scalars())


def plan_choices(admin: Officer) -> tuple[list[PoliceArea], list[Officer]]:
    """The police areas and active officers a station admin may draw a plan over."""
    areas = db.session.execute(scoping.scope(PoliceArea, select(PoliceArea), admin)).scalars().all()
    officers = db.session.execute(select(Officer).where(
        Officer.station_id == admin.station_id, Officer.role == "officer",
        Officer.is_active.is_(True)).order_by(Officer.id)).scalars().all()
    return list(areas), list(officers)


def officers_by_ids(ids: list[int]) -> list[Officer]:
    """The officers named for a plan, by id; RuleError when any id names no officer."""
    officers = list(db.session.execute(select(Officer).where(
        Officer.id.in_(set(ids)))).scalars())
    if len(officers) != len(set(ids)):
        raise RuleError("officer_ids", "只能指派本所在岗民警")
    return sorted(officers, key=lambda o: o.id)
