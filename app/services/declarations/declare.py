"""Declarations (申报): every submission by a landlord, tenant or employer, and its rules.

Each function stores a Declaration in `received` together with the domain rows it proposes, in
the caller's transaction, and arranges the validation job to be enqueued after the commit.
Payloads keep what was submitted, except that document and phone numbers are replaced by their
masked form and the person's id: the plaintext lives only encrypted on the Person row. What a
declaration says about an existing person is a proposal (app.services.people.people), never an overwrite;
and no declaration links the submitting WeChat user to a person (app.services.people.linking does, on
proof only).
"""
from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.identity import IdentityError, check_mobile, check_uscc, is_foreign
from app.models import (
    Address,
    Declaration,
    DeclarationEvent,
    Employer,
    Employment,
    House,
    OwnershipClaim,
    Person,
    Residence,
    WeChatUser,
    utcnow,
)
from app.models.house import RENTAL_TYPES
from app.models.person import DOCUMENT_TYPES
from app.outbox import jobs
from app.services.people import people
from app.services.errors import RuleError
from app.services.people.people import upsert_person
from app.services.declarations.pledge import current_pledge

RECEIPT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O/1/I: read aloud over the phone
MAX_DAYS_IN_FUTURE = 1
# Move-in and move-out dates are local dates: their deadlines run from local midnight.
LOCAL_TZ = "Asia/Shanghai"


@dataclass(frozen=True)
class Deadlines:
    """DESIGN §5 declaration deadlines (DECLARE_* settings in app/config.py)."""

    move_in_days: int = 3  # 户口登记条例 第十五条
    foreign_hours: int = 24  # 出境入境管理法 第三十九条
    move_out_days: int = 3


def deadlines(config=None) -> Deadlines:
    """The deadlines from the app config; the DESIGN defaults outside an app."""
    if config is None:
        from flask import current_app, has_app_context

        if not has_app_context():
            return Deadlines()
        config = current_app.config
    default = Deadlines()
    return Deadlines(
        move_in_days=int(config.get("DECLARE_MOVE_IN_DAYS") or default.move_in_days),
        foreign_hours=int(config.get("DECLARE_FOREIGN_HOURS") or default.foreign_hours),
        move_out_days=int(config.get("DECLARE_MOVE_OUT_DAYS") or default.move_out_days))


def _local_tz():
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(LOCAL_TZ)
    except Exception:  # noqa: BLE001 - no tz database: China has had no DST since 1991
        return timezone(timedelta(hours=8))


def local_today(now: datetime | None = None) -> date:
    """Today's date in Asia/Shanghai (the dates people type are local dates)."""
    now = now or utcnow()
    return now.replace(tzinfo=timezone.utc).astimezone(_local_tz()).date()


def local_midnight_utc(day: date) -> datetime:
    """The naive UTC instant at which `day` begins in Asia/Shanghai."""
    begin = datetime.combine(day, time(0, 0), _local_tz())
    return begin.astimezone(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class Submitter:
    """Who submits, through which channel; exactly one of wechat_user_id / officer_id is set."""

    role: str  # landlord / tenant / employer / officer
    wechat_user_id: int | None = None
    officer_id: int | None = None
    channel: str = "wechat_h5"  # wechat_h5 / miniapp / console / field / import
    ip: str | None = None

    @property
    def actor(self) -> str:
        who = self.wechat_user_id if self.wechat_user_id is not None else self.officer_id
        return f"{self.role}:{who}"

    def collected(self) -> dict:
        return {
            "collected_by_type": self.role,
            "collected_by_id": self.officer_id if self.officer_id else self.wechat_user_id,
            "collected_channel": self.channel,
        }


def new_receipt_code() -> str:
    """A short, unguessable receipt verification code (8 chars, ~40 bits)."""
    return "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(8))


def find_by_idempotency_key(submitter: Submitter, key: str | None) -> Declaration | None:
    """The declaration this submitter already made with this key: same key, same result."""
    if not key or submitter.wechat_user_id is None:
        return None
    return db.session.execute(
        select(Declaration).where(
            Declaration.submitter_wechat_user_id == submitter.wechat_user_id,
            Declaration.idempotency_key == key,
        )
    ).scalar_one_or_none()


def find_by_receipt_code(code: str) -> Declaration | None:
    """The declaration behind a receipt code (case-insensitive)."""
    return db.session.execute(
        select(Declaration).where(Declaration.receipt_code == code.strip().upper())
    ).scalar_one_or_none()


def _create(kind: str, submitter: Submitter, payload: dict, *, idempotency_key: str | None,
            address: Address | None = None, house: House | None = None,
            employer: Employer | None = None, corrects: Declaration | None = None,
            validate_now: bool = True) -> Declaration:
    where = house.address if house is not None else address
    anchor = house or employer or where
    declaration = Declaration(
        kind=kind, status="received", submitter_role=submitter.role,
        submitter_wechat_user_id=submitter.wechat_user_id,
        submitter_officer_id=submitter.officer_id, channel=submitter.channel,
        idempotency_key=idempotency_key, receipt_code=new_receipt_code(), payload=payload,
        address_id=where.id if where is not None else None,
        house_id=house.id if house is not None else None,
        employer_id=employer.id if employer is not None else None,
        corrects_id=corrects.id if corrects is not None else None,
        station_id=anchor.station_id if anchor is not None else None,
        police_area_id=anchor.police_area_id if anchor is not None else None,
    )
    declaration.events.append(
        DeclarationEvent(from_status=None, to_status="received", actor=submitter.actor))
    db.session.add(declaration)
    db.session.flush()
    people.attach_proposals(declaration.id)
    if validate_now:  # else the caller queues it in a batch (enqueue_validation_batches)
        _enqueue_validation(declaration)
    return declaration


def _enqueue_validation(declaration: Declaration) -> None:
    jobs.after_commit("workers.jobs.validate_declaration", declaration.id)


def _person_payload(person: Person, **extra) -> dict:
    # What the submitter said: for an existing person the proposed values (phones masked), with
    # "proposed" naming the fields that differ from the record and wait for verification.
    proposed = {c.field: c.new_value for c in people.unattached_proposals(person)}
    payload = {"person_id": person.id, "name": proposed.get("name", person.name),
               "document_type": person.document_type, "document_masked": person.document_masked,
               "phone_masked": proposed.get("phone", person.phone_masked),
               "nationality": proposed.get("nationality", person.nationality), **extra}
    if proposed:
        payload["proposed"] = sorted(proposed)
    return payload


def _upsert_person(data: dict, submitter: Submitter, prefix: str) -> Person:
    document_type = data.get("document_type") or "resident_id"
    if document_type not in DOCUMENT_TYPES:
        raise RuleError(f"{prefix}document_type", "证件类型无效")
    if not (data.get("name") or "").strip():
        raise RuleError(f"{prefix}name", "请填写姓名")
    try:
        return upsert_person(
            document_type=document_type, document_number=data.get("document_number") or "",
            name=data["name"], phone=data.get("phone") or None,
            nationality=data.get("nationality") or "CHN", lat=data.get("lat"),
            lng=data.get("lng"), **{
                "collected_by_type": submitter.role,
                "collected_by_id": submitter.officer_id or submitter.wechat_user_id,
                "channel": submitter.channel,
            })
    except IdentityError as exc:
        raise RuleError(f"{prefix}{exc.field}", exc.message) from None


def _named_person(data: dict, prefix: str) -> Person | None:
    """The existing person whose document the input names (checked first), or None if new."""
    from app.services.people.people import find_person

    document_type = data.get("document_type") or "resident_id"
    if document_type not in DOCUMENT_TYPES:
        raise RuleError(f"{prefix}document_type", "证件类型无效")
    try:
        if data.get("phone"):
            check_mobile(data["phone"])
        return find_person(document_type, data.get("document_number") or "")
    except IdentityError as exc:
        raise RuleError(f"{prefix}{exc.field}", exc.message) from None


def _proposed_person(data: dict, submitter: Submitter, prefix: str) -> Person:
    """The person an ownership claim names, created when new; an existing person is returned as
    stored, since a claim proposes facts and never overwrites them."""
    found = _named_person(data, prefix)
    return found if found is not None else _upsert_person(data, submitter, prefix)


def lateness(start: date, submitted_at: datetime, foreign: bool, *,
             within: timedelta | None = None) -> tuple[bool, int | None]:
    """Whether a declaration for a move on local date `start`, made at submitted_at (naive UTC),
    is late, and by how many whole hours; the deadline runs from local midnight of `start`."""
    limits = deadlines()
    if within is None:
        within = (timedelta(hours=limits.foreign_hours) if foreign
                  else timedelta(days=limits.move_in_days))
    overdue = submitted_at - (local_midnight_utc(start) + within)
    if overdue <= timedelta(0):
        return False, None
    return True, math.ceil(overdue.total_seconds() / 3600)


def _check_date_not_future(value: date, field: str, today: date) -> None:
    if value > today + timedelta(days=MAX_DAYS_IN_FUTURE):
        raise RuleError(field, f"日期不能晚于{(today + timedelta(days=MAX_DAYS_IN_FUTURE)).isoformat()}")


# -- landlords ----------------------------------------------------------------------------------

def register_house(submitter: Submitter, address: Address, *, owner: dict, rental_type: str,
                   rooms: int, area_m2: Decimal | None = None,
                   monthly_rent: Decimal | None = None, agent: dict | None = None,
                   is_rental: bool = True, idempotency_key: str | None = None,
                   validate_now: bool = True) -> Declaration | OwnershipClaim:
    """Register the house at a door-plate address, or update it (its owner or agent only).

    Anyone else registering at an address whose house is registered files an ownership claim
    (returned instead of a declaration) and changes nothing.
    """
    from app.services.declarations import claims

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
    named = _named_person(owner, "owner.") if house is not None else None
    if house is not None and not claims.may_update_house(
            submitter.wechat_user_id, house,
            owner_changes=named is None or named.id != house.owner_person_id):
        owner_person = _proposed_person(owner, submitter, "owner.")
        agent_person = _proposed_person(agent, submitter, "agent.") if agent else None
        facts = {"is_rental": is_rental, "rental_type": rental_type if is_rental else None,
                 "rooms": rooms, "area_m2": str(area_m2) if area_m2 is not None else None,
                 "monthly_rent": str(monthly_rent) if monthly_rent is not None else None,
                 "owner_as_typed": claims.typed_facts(owner),
                 "agent_as_typed": claims.typed_facts(agent) if agent else None}
        return claims.file_house_claim(
            submitter.wechat_user_id, house, owner=owner_person, agent=agent_person, facts=facts,
            channel=submitter.channel, ip=submitter.ip, idempotency_key=idempotency_key)
    owner_person = _upsert_person(owner, submitter, "owner.")
    agent_person = _upsert_person(agent, submitter, "agent.") if agent else None
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
        "owner": _person_payload(owner_person),
        "agent": _person_payload(agent_person) if agent_person else None,
    }
    return _create("house", submitter, payload, idempotency_key=idempotency_key, house=house,
                   validate_now=validate_now)


def set_agent(submitter: Submitter, house: House, agent: dict) -> House:
    """The owner names the house's agent (托管人): name, document and phone, checked like an
    owner's; the agent's proof-linked WeChat user may then manage the house."""
    from app.services.accounts import audit

    if not (agent.get("phone") or "").strip():
        raise RuleError("agent.phone", "请填写托管人手机号码")
    person = _upsert_person(agent, submitter, "agent.")
    previous = house.agent_person_id
    house.agent_person_id = person.id
    db.session.flush()
    audit.record(_actor(submitter), "house.agent_set", "house", house.id, ip=submitter.ip,
                 detail={"from_person_id": previous, "to_person_id": person.id})
    return house


def remove_agent(submitter: Submitter, house: House) -> House:
    """The owner removes the agent: the agent's access to the house ends at once."""
    from app.services.accounts import audit

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
        _check_date_not_future(start, f"{prefix}start_date", today)
        person = _upsert_person(data, submitter, prefix)
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
        _person_payload(p, residence_id=r.id, start_date=r.start_date.isoformat(), room=r.room,
                        relation=r.relation_to_landlord, foreign=f, late=late, late_hours=h)
        for r, p, f, late, h in entries
    ]}
    declaration = _create("move_in", submitter, payload, idempotency_key=idempotency_key,
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
    _check_date_not_future(end_date, "end_date", today)
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
                   dict(_person_payload(r.person, residence_id=r.id), name=r.shown_name)
                   for r in ended]}
    declaration = _create("move_out", submitter, payload, idempotency_key=idempotency_key,
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
        _check_date_not_future(changes["start_date"], "start_date", today)
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
    return _create("correction", submitter, payload, idempotency_key=idempotency_key,
                   house=house, corrects=original)


# -- tenants ------------------------------------------------------------------------------------

def declare_self(submitter: Submitter, house: House, me: dict, *,
                 idempotency_key: str | None = None, today: date | None = None,
                 now: datetime | None = None) -> Declaration:
    """A tenant declares themself at the scanned house; it stays pending until the landlord
    (or an officer) confirms, and the landlord is told at once."""
    existing = find_by_idempotency_key(submitter, idempotency_key)
    if existing:
        return existing
    declaration = declare_move_in(submitter, house, [me], idempotency_key=idempotency_key,
                                  today=today, now=now)
    if declaration.kind == "move_in" and declaration.submitter_role == "tenant":
        declaration.kind = "self"
        declaration.landlord_confirmation = "pending"
        db.session.flush()
        _enqueue_landlord_notice(declaration)
    return declaration


def _enqueue_landlord_notice(declaration: Declaration) -> None:
    jobs.after_commit("workers.jobs.notify_landlord_of_self_declaration", declaration.id)


def confirm_declaration(declaration: Declaration, confirmer: Submitter) -> Declaration:
    """The other party confirms: the landlord a tenant's self-declaration (which then becomes
    active if its checks passed), or the tenant the landlord's; recorded in the history."""
    if declaration.kind not in ("move_in", "self"):
        raise RuleError("declaration", "该申报无需确认")
    if confirmer.role == "landlord":
        if declaration.kind != "self":
            raise RuleError("declaration", "该申报无需房东确认")
        if declaration.landlord_confirmation == "denied" or declaration.status == "rejected":
            raise RuleError("declaration", "该申报已被拒绝或退回，不能再确认")
        declaration.landlord_confirmation = "confirmed"
        declaration.landlord_answered_at = utcnow()
    note = "房东已确认" if confirmer.role == "landlord" else "租客已确认"
    declaration.transition(declaration.status, confirmer.actor, note)
    payload = dict(declaration.payload)
    payload.setdefault("confirmed_by", []).append(confirmer.role)
    declaration.payload = payload
    if confirmer.role == "landlord" and declaration.status == "verified":
        from app.services.declarations.validation import activate_proposed_rows

        activate_proposed_rows(declaration)
        people.apply_proposals(declaration.id, confirmer.actor)
    db.session.flush()
    return declaration


MAX_DENY_REASON = 200


def deny_self_declaration(declaration: Declaration, confirmer: Submitter,
                          reason: str) -> Declaration:
    """The landlord says this person does not live here: the declaration ends, with the reason
    shown to the tenant, and its residence is withdrawn."""
    if declaration.kind != "self":
        raise RuleError("declaration", "该申报无需房东确认")
    reason = (reason or "").strip()
    if not reason:
        raise RuleError("reason", "请填写不予确认的原因，租客会看到这条原因")
    if len(reason) > MAX_DENY_REASON:
        raise RuleError("reason", f"原因不能超过 {MAX_DENY_REASON} 字")
    if declaration.status in ("approved", "rejected") or declaration.landlord_confirmation in (
            "confirmed", "denied"):
        raise RuleError("declaration", "该申报已处理，不能再拒绝")
    from app.services.declarations.validation import withdraw_proposed_rows

    declaration.landlord_confirmation = "denied"
    declaration.landlord_answered_at = utcnow()
    declaration.decision_reason = f"房东未确认：{reason}"
    declaration.transition("rejected", confirmer.actor, declaration.decision_reason)
    withdraw_proposed_rows(declaration)
    people.discard_proposals(declaration.id)
    db.session.flush()
    jobs.after_commit("workers.jobs.notify_declaration_status", declaration.id, "rejected")
    return declaration


def overdue_self_declarations(submitted_before: datetime, limit: int = 1000) -> list[int]:
    """Ids of self-declarations still waiting for the landlord, submitted before the cutoff."""
    return list(db.session.execute(select(Declaration.id).where(
        Declaration.kind == "self", Declaration.landlord_confirmation == "pending",
        Declaration.status.in_(("verified", "needs_review")),
        Declaration.created_at <= submitted_before).order_by(Declaration.id).limit(limit)
    ).scalars())


def escalate_unconfirmed(declaration: Declaration) -> bool:
    """A self-declaration the landlord left unanswered goes to the area officer; False if not due."""
    if declaration.kind != "self" or declaration.landlord_confirmation != "pending":
        return False
    if declaration.status not in ("verified", "needs_review"):
        return False  # not validated yet (the sweeper sees to it), or already decided
    reason = {"field": "landlord", "message": "房东未在规定时间内确认"}
    declaration.landlord_confirmation = "escalated"
    reasons = list(declaration.reasons or [])
    if reason not in reasons:
        reasons.append(reason)
    declaration.reasons = reasons
    declaration.transition("needs_review", "system", reason["message"])
    db.session.flush()
    return True


def residence_permit_date(start: date) -> date:
    """When a 居住证 may be applied for: 6 months after residence registration."""
    month = start.month + 6
    year = start.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


# -- employers ----------------------------------------------------------------------------------

def register_employer(submitter: Submitter, *, name: str, uscc: str, address: Address,
                      contact_name: str, contact_phone: str,
                      idempotency_key: str | None = None) -> Declaration | OwnershipClaim:
    """Register an employer (实有单位) by its 统一社会信用代码, at a standard address.

    An existing USCC is updated only by the WeChat user linked to it; anyone else files an
    ownership claim (returned instead of a declaration) and changes nothing.
    """
    from app import crypto
    from app.services.declarations import claims

    existing = (find_by_idempotency_key(submitter, idempotency_key)
                or claims.find_by_idempotency_key(submitter.wechat_user_id, idempotency_key))
    if existing:
        return existing

    if not name or not name.strip():
        raise RuleError("name", "请填写单位名称")
    try:
        code = check_uscc(uscc)
        phone = check_mobile(contact_phone, field="contact_phone")
    except IdentityError as exc:
        raise RuleError(exc.field, exc.message) from None
    employer = db.session.execute(select(Employer).where(Employer.uscc == code)).scalar()
    if employer is not None and not claims.may_update_employer(submitter.wechat_user_id, employer):
        return claims.file_employer_claim(
            submitter.wechat_user_id, employer, name=name.strip(), address_id=address.id,
            contact_name=contact_name.strip(), contact_phone=phone, channel=submitter.channel,
            ip=submitter.ip, idempotency_key=idempotency_key)
    if employer is None:
        employer = Employer(uscc=code, **submitter.collected())
        db.session.add(employer)
    employer.name = name.strip()
    employer.address_id = address.id
    employer.station_id = address.station_id
    employer.police_area_id = address.police_area_id
    employer.contact_name = contact_name.strip()
    (employer.contact_phone_enc, employer.contact_phone_blind_index,
     employer.contact_phone_masked) = crypto.protect_phone(phone)
    db.session.flush()
    if submitter.wechat_user_id is not None:
        user = db.session.get(WeChatUser, submitter.wechat_user_id)
        if user is not None:
            user.employer_id = employer.id
    payload = {"name": employer.name, "uscc": code, "address_id": address.id,
               "address": address.full_text, "contact_name": employer.contact_name,
               "contact_phone_masked": employer.contact_phone_masked}
    return _create("employer", submitter, payload, idempotency_key=idempotency_key,
                   address=address, employer=employer)


def declare_hire(submitter: Submitter, employer: Employer, workers: list[dict], *,
                 idempotency_key: str | None = None, today: date | None = None) -> Declaration:
    """Declare workers hired, each with an optional dormitory address (宿舍)."""
    existing = find_by_idempotency_key(submitter, idempotency_key)
    if existing:
        return existing
    today = today or local_today()
    if not workers:
        raise RuleError("workers", "请至少填写一名员工")
    entries = []
    for i, data in enumerate(workers):
        prefix = f"workers.{i}."
        start = data.get("start_date")
        if not isinstance(start, date):
            raise RuleError(f"{prefix}start_date", "请填写入职日期")
        _check_date_not_future(start, f"{prefix}start_date", today)
        person = _upsert_person(data, submitter, prefix)
        dorm_house = None
        if data.get("dormitory_address_id"):
            dorm_house = _dormitory_house(data["dormitory_address_id"], submitter,
                                          f"{prefix}dormitory_address_id")
        live = db.session.execute(
            select(Employment.id).where(Employment.person_id == person.id,
                                        Employment.employer_id == employer.id,
                                        Employment.active_slot.is_not(None))).first()
        if live:
            raise RuleError(f"{prefix}document_number", "该员工已在本单位登记，无需重复申报")
        employment = Employment(person_id=person.id, employer_id=employer.id, start_date=start,
                                job=data.get("job"),
                                dormitory_house_id=dorm_house.id if dorm_house else None,
                                declared_name=data["name"].strip(),
                                status="pending", active_slot=1, **submitter.collected())
        db.session.add(employment)
        entries.append((employment, person, data.get("dormitory_typed")))
    db.session.flush()
    payload = {"employer_id": employer.id, "employer": employer.name, "workers": [
        _person_payload(p, employment_id=e.id, start_date=e.start_date.isoformat(), job=e.job,
                        dormitory_house_id=e.dormitory_house_id,
                        **({"dormitory_typed": typed} if typed else {}))
        for e, p, typed in entries]}
    declaration = _create("hire", submitter, payload, idempotency_key=idempotency_key,
                          employer=employer)
    for employment, _, _ in entries:
        employment.declaration_id = declaration.id
    return declaration


def _dormitory_house(address_id: int, submitter: Submitter, field: str) -> House:
    """The house at a dormitory address, registered as a dormitory when it has none yet."""
    dorm = db.session.get(Address, address_id)
    if dorm is None:
        raise RuleError(field, "宿舍地址不存在")
    dorm_house = db.session.execute(select(House).where(House.address_id == dorm.id)).scalar()
    if dorm_house is None:
        dorm_house = House(address_id=dorm.id, station_id=dorm.station_id,
                           police_area_id=dorm.police_area_id, is_rental=True,
                           rental_type="dormitory", rooms=1, **submitter.collected())
        db.session.add(dorm_house)
        db.session.flush()
    return dorm_house


def declare_leave(submitter: Submitter, employer: Employer, employment_ids: list[int],
                  end_date: date, *, idempotency_key: str | None = None,
                  today: date | None = None) -> Declaration:
    """Declare workers who left the employer."""
    existing = find_by_idempotency_key(submitter, idempotency_key)
    if existing:
        return existing
    today = today or local_today()
    _check_date_not_future(end_date, "end_date", today)
    employments = db.session.execute(
        select(Employment).where(Employment.id.in_(employment_ids or [-1]),
                                 Employment.employer_id == employer.id)).scalars().all()
    if not employments or len(employments) != len(set(employment_ids)):
        raise RuleError("employment_ids", "所选员工不在本单位登记")
    for employment in employments:
        if employment.active_slot is None:
            raise RuleError("employment_ids", f"{employment.shown_name}已登记离职")
        if end_date < employment.start_date:
            raise RuleError("end_date", "离职日期不能早于入职日期")
        employment.end_date = end_date
        employment.status = "ended"
        employment.active_slot = None
    db.session.flush()
    payload = {"employer_id": employer.id, "end_date": end_date.isoformat(), "workers": [
        dict(_person_payload(e.person, employment_id=e.id), name=e.shown_name)
        for e in employments]}
    return _create("leave", submitter, payload, idempotency_key=idempotency_key,
                   employer=employer)
