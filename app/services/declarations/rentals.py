"""Landlord declarations: register a house, its agent and pledge, tenants moving in and out,
occupancy confirmed, vacancy, and corrections of a move-in."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.identity import IdentityError, check_mobile, is_foreign
from app.models import Address, Declaration, House, OwnershipClaim, Residence, WeChatUser, utcnow
from app.models.house import RENTAL_TYPES
from app.services.accounts import audit
from app.services.declarations import claims
from app.services.declarations.declare import (
    Submitter, check_date_not_future, create_declaration, deadlines, find_by_idempotency_key,
    lateness, local_today, named_person, person_payload, proposed_person, upsert_declared_person,
)
from app.services.declarations.pledge import current_pledge
from app.services.errors import RuleError
from app.services.people import people


def register_house(submitter: Submitter, address: Address, *, owner: dict, rental_type: str,
                   rooms: int, area_m2: Decimal | None = None,
                   monthly_rent: Decimal | None = None, agent: dict | None = None,
                   is_rental: bool = True, idempotency_key: str | None = None,
                   validate_now: bool = True) -> Declaration | OwnershipClaim:
    """Register the house at a door-plate address, or update it (its owner or agent only).

    Anyone else registering at an address whose house is registered files an ownership claim
    (returned instead of a declaration) and changes nothing.
    """
    existing = (find_by_idempotency_key(submitter, idempotency_key)
                or claims.find_by_idempotency_key(submitter.wechat_user_id, idempotency_key))
    if existing:
        return existing
    if address.status != "active":
        raise RuleError("address", "该地址已停用，请联系社区民警")
    if is_rental and rental_type not in RENTAL_TYPES:
        raise RuleError("rental_type", "请选择出租类型")
    if rooms is None or rooms < 1 or rooms > 200:
        raise RuleError("rooms", "房间数应在1到200之间")
    house = db.session.execute(select(House).where(House.address_id == address.id)).scalar()
    named = named_person(owner, "owner.") if house is not None else None
    if house is not None and not claims.may_update_house(
            submitter.wechat_user_id, house,
            owner_changes=named is None or named.id != house.owner_person_id):
        owner_person = proposed_person(owner, submitter, "owner.")
        agent_person = proposed_person(agent, submitter, "agent.") if agent else None
        facts = {"is_rental": is_rental, "rental_type": rental_type if is_rental else None,
                 "rooms": rooms, "area_m2": str(area_m2) if area_m2 is not None else None,
                 "monthly_rent": str(monthly_rent) if monthly_rent is not None else None,
                 "owner_as_typed": claims.typed_facts(owner),
                 "agent_as_typed": claims.typed_facts(agent) if agent else None}
        return claims.file_house_claim(
            submitter.wechat_user_id, house, owner=owner_person, agent=agent_person, facts=facts,
            channel=submitter.channel, ip=submitter.ip, idempotency_key=idempotency_key)
    owner_person = upsert_declared_person(owner, submitter, "owner.")
    agent_person = upsert_declared_person(agent, submitter, "agent.") if agent else None
    if house is None:
        house = House(address_id=address.id, station_id=address.station_id,
                      police_area_id=address.police_area_id, **submitter.collected())
        db.session.add(house)
    house.owner_person_id = owner_person.id
    # The owner WeChat user is set by the first registration (or an approved claim) only: an
    # agent updating the house does not become its owner.
    house.owner_wechat_user_id = house.owner_wechat_user_id or submitter.wechat_user_id
    if agent_person is not None:  # no agent given keeps the agent: removal is explicit
        house.agent_person_id = agent_person.id
    house.is_rental = is_rental
    house.rental_type = rental_type if is_rental else None
    house.rooms = rooms
    house.area_m2 = area_m2
    house.monthly_rent = monthly_rent
    house.status = "active"
    house.address = address
    db.session.flush()
    payload = {
        "address_id": address.id, "address": address.full_text, "is_rental": is_rental,
        "rental_type": house.rental_type, "rooms": rooms,
        "area_m2": str(area_m2) if area_m2 is not None else None,
        "monthly_rent": str(monthly_rent) if monthly_rent is not None else None,
        "owner": person_payload(owner_person),
        "agent": person_payload(agent_person) if agent_person else None,
    }
    return create_declaration("house", submitter, payload, idempotency_key=idempotency_key, house=house,
                   validate_now=validate_now)


def set_agent(submitter: Submitter, house: House, agent: dict) -> House:
    """The owner names the house's agent (托管人): name, document and phone, checked like an
    owner's; the agent's proof-linked WeChat user may then manage the house."""
    if not (agent.get("phone") or "").strip():
        raise RuleError("agent.phone", "请填写托管人手机号码")
    person = upsert_declared_person(agent, submitter, "agent.")
    previous = house.agent_person_id
    house.agent_person_id = person.id
    db.session.flush()
    audit.record(_actor(submitter), "house.agent_set", "house", house.id, ip=submitter.ip,
                 detail={"from_person_id": previous, "to_person_id": person.id})
    return house


def remove_agent(submitter: Submitter, house: House) -> House:
    """The owner removes the agent: the agent's access to the house ends at once."""
    if house.agent_person_id is None:
        raise RuleError("agent", "该房屋没有登记托管人")
    previous = house.agent_person_id
    house.agent_person_id = None
    db.session.flush()
    audit.record(_actor(submitter), "house.agent_removed", "house", house.id, ip=submitter.ip,
                 detail={"from_person_id": previous})
    return house


def _actor(submitter: Submitter):
    if submitter.wechat_user_id is not None:
        return db.session.get(WeChatUser, submitter.wechat_user_id)
    return submitter.actor


def sign_pledge(house: House, *, signer_name: str, ip: str | None) -> House:
    """Sign the current 治安责任保证书 version: typed name, time and IP are kept."""
    if not signer_name or not signer_name.strip():
        raise RuleError("signer_name", "请输入您的姓名以签署保证书")
    pledge = current_pledge()
    house.pledge_version_id = pledge.id
    house.pledge_signer_name = signer_name.strip()
    house.pledge_signed_at = utcnow()
    house.pledge_ip = ip
    db.session.flush()
    return house


def declare_move_in(submitter: Submitter, house: House, tenants: list[dict], *,
                    idempotency_key: str | None = None, today: date | None = None,
                    now: datetime | None = None, validate_now: bool = True) -> Declaration:
    """Declare one or more tenants moving in; late declarations are accepted and marked late.
    validate_now=False leaves validation to the caller (a batch of several collected at once)."""
    existing = find_by_idempotency_key(submitter, idempotency_key)
    if existing:
        return existing
    today = today or local_today()
    now = now or utcnow()
    if not tenants:
        raise RuleError("tenants", "请至少填写一位租客")
    seen: set[int] = set()
    entries, late_hours = [], []
    for i, data in enumerate(tenants):
        prefix = f"tenants.{i}."
        start = data.get("start_date")
        if not isinstance(start, date):
            raise RuleError(f"{prefix}start_date", "请填写入住日期")
        check_date_not_future(start, f"{prefix}start_date", today)
        person = upsert_declared_person(data, submitter, prefix)
        if person.id in seen:
            raise RuleError(f"{prefix}document_number", "同一人员在本次申报中重复填写")
        seen.add(person.id)
        live = db.session.execute(
            select(Residence.id).where(Residence.person_id == person.id,
                                       Residence.house_id == house.id,
                                       Residence.active_slot.is_not(None))
        ).first()
        if live:
            raise RuleError(f"{prefix}document_number", "该人员已在本房屋登记居住，无需重复申报")
        foreign = is_foreign(person.document_type, person.nationality)
        late, hours = lateness(start, now, foreign)
        if late:
            late_hours.append(hours)
        residence = Residence(person_id=person.id, house_id=house.id, room=data.get("room"),
                              declared_name=data["name"].strip(),
                              start_date=start, declared_by=submitter.role,
                              channel=submitter.channel, status="pending", active_slot=1,
                              relation_to_landlord=data.get("relation") or "承租人",
                              **submitter.collected())
        db.session.add(residence)
        entries.append((residence, person, foreign, late, hours))
    db.session.flush()
    payload = {"house_id": house.id, "address": house.address.full_text, "tenants": [
        person_payload(p, residence_id=r.id, start_date=r.start_date.isoformat(), room=r.room,
                        relation=r.relation_to_landlord, foreign=f, late=late, late_hours=h)
        for r, p, f, late, h in entries
    ]}
    declaration = create_declaration("move_in", submitter, payload, idempotency_key=idempotency_key,
                          house=house, validate_now=validate_now)
    declaration.is_late = bool(late_hours)
    declaration.late_hours = max(late_hours) if late_hours else None
    for residence, *_ in entries:
        residence.declaration_id = declaration.id
    db.session.flush()
    return declaration


def declare_move_out(submitter: Submitter, house: House, residence_ids: list[int],
                     end_date: date, *, idempotency_key: str | None = None,
                     today: date | None = None, now: datetime | None = None) -> Declaration:
    """Declare tenants moving out (停租/离开): their residences end on end_date; late ones
    (past DECLARE_MOVE_OUT_DAYS) are accepted and marked late."""
    existing = find_by_idempotency_key(submitter, idempotency_key)
    if existing:
        return existing
    today = today or local_today()
    if not residence_ids:
        raise RuleError("residence_ids", "请选择退租的租客")
    check_date_not_future(end_date, "end_date", today)
    residences = db.session.execute(
        select(Residence).where(Residence.id.in_(residence_ids), Residence.house_id == house.id)
    ).scalars().all()
    if len(residences) != len(set(residence_ids)):
        raise RuleError("residence_ids", "所选租客不在本房屋登记")
    ended = []
    for residence in residences:
        if residence.status == "ended":
            raise RuleError("residence_ids", f"{residence.shown_name}已登记退租")
        if end_date < residence.start_date:
            raise RuleError("end_date", "退租日期不能早于入住日期"
                            f"（{residence.start_date.isoformat()}）")
        residence.end(end_date)
        ended.append(residence)
    db.session.flush()
    payload = {"house_id": house.id, "address": house.address.full_text,
               "end_date": end_date.isoformat(), "tenants": [
                   dict(person_payload(r.person, residence_id=r.id), name=r.shown_name)
                   for r in ended]}
    declaration = create_declaration("move_out", submitter, payload, idempotency_key=idempotency_key,
                          house=house)
    declaration.is_late, declaration.late_hours = lateness(
        end_date, now or utcnow(), False, within=timedelta(days=deadlines().move_out_days))
    return declaration


def confirm_tenants_unchanged(house: House, *, now: datetime | None = None) -> House:
    """One tap: the landlord confirms the registered tenants are still current (鲜活)."""
    house.last_confirmed_at = now or utcnow()
    if db.session.execute(select(Residence.id).where(
            Residence.house_id == house.id, Residence.active_slot.is_not(None)).limit(1)).first():
        house.is_vacant = False  # a house with live tenants is not vacant, whatever it said
    db.session.flush()
    return house


def set_vacancy(house: House, vacant: bool, *, now: datetime | None = None) -> House:
    """The landlord marks the house vacant (空置: no tenant reminders) or let again."""
    if vacant and db.session.execute(select(Residence.id).where(
            Residence.house_id == house.id, Residence.active_slot.is_not(None)).limit(1)).first():
        raise RuleError("is_vacant", "该房屋仍有登记在住的租客，请先为他们申报退租")
    house.is_vacant = bool(vacant)
    house.last_confirmed_at = now or utcnow()  # saying so is a confirmation of who lives there
    db.session.flush()
    return house


def correct_move_in(submitter: Submitter, original: Declaration, residence_id: int,
                    changes: dict, *, idempotency_key: str | None = None,
                    today: date | None = None) -> Declaration:
    """Correct a move-in: date, room, relation, name or phone; documents are re-declared instead."""
    existing = find_by_idempotency_key(submitter, idempotency_key)
    if existing:
        return existing
    today = today or local_today()
    residence = db.session.get(Residence, residence_id)
    if residence is None or residence.declaration_id != original.id:
        raise RuleError("residence_id", "要更正的租客不在这份申报中")
    before = {"start_date": residence.start_date.isoformat(), "room": residence.room,
              "relation": residence.relation_to_landlord, "name": residence.shown_name,
              "phone_masked": residence.person.phone_masked}
    if "start_date" in changes:
        check_date_not_future(changes["start_date"], "start_date", today)
        if residence.end_date and changes["start_date"] > residence.end_date:
            raise RuleError("start_date", "入住日期不能晚于退租日期")
        residence.start_date = changes["start_date"]
    if "room" in changes:
        residence.room = changes["room"]
    if "relation" in changes:
        residence.relation_to_landlord = changes["relation"]
    person = residence.person
    # A corrected name or phone is a proposal like any other: applied once verified or approved.
    if changes.get("name"):
        residence.declared_name = changes["name"].strip()
        people.propose(person, "name", residence.declared_name)
    if changes.get("phone"):
        try:
            phone = check_mobile(changes["phone"])
        except IdentityError as exc:
            raise RuleError("phone", exc.message) from None
        people.propose(person, "phone", phone)
    db.session.flush()
    proposed = {c.field: c.new_value for c in people.unattached_proposals(person)}
    after = {"start_date": residence.start_date.isoformat(), "room": residence.room,
             "relation": residence.relation_to_landlord,
             "name": residence.shown_name,
             "phone_masked": proposed.get("phone", person.phone_masked)}
    payload = {"residence_id": residence.id, "corrects": original.receipt_code,
               "before": before, "after": after}
    house = db.session.get(House, residence.house_id)
    return create_declaration("correction", submitter, payload, idempotency_key=idempotency_key,
                   house=house, corrects=original)
