"""Declarations (申报): every submission by a landlord, tenant or employer, and its rules.

Each function stores a Declaration in `received` together with the domain rows it proposes, in
the caller's transaction, and arranges the validation job to be enqueued after the commit.
Payloads keep what was submitted, except that document and phone numbers are replaced by their
masked form and the person's id: the plaintext lives only encrypted on the Person row. What a
declaration says about an existing person is a proposal (app.services.people.people), never an
overwrite; and no declaration links the submitting WeChat user to a person
(app.services.people.linking does, on proof only).

The parts: the common core here (submitters, receipts, deadlines, persons), rentals.py
(houses, agents, move-in/out, vacancy, corrections), self_declare.py (tenants declaring
themselves, the landlord's confirmation), employers.py (employers, hires, leaves).
"""
from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.extensions import db
from app.identity import DOCUMENT_TYPES, IdentityError, check_mobile
from app.models import Address, Declaration, DeclarationEvent, Employer, House, Person, utcnow
from app.outbox import jobs
from app.services import ports
from app.services.errors import RuleError
from app.services.people import people
from app.services.people.people import find_person, upsert_person


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
    config = ports.config() if config is None else config
    if config is None:
        return Deadlines()
    default = Deadlines()
    return Deadlines(
        move_in_days=int(config.get("DECLARE_MOVE_IN_DAYS") or default.move_in_days),
        foreign_hours=int(config.get("DECLARE_FOREIGN_HOURS") or default.foreign_hours),
        move_out_days=int(config.get("DECLARE_MOVE_OUT_DAYS") or default.move_out_days))


def _local_tz():
    try:
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


def create_declaration(kind: str, submitter: Submitter, payload: dict, *, idempotency_key: str | None,
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


def person_payload(person: Person, **extra) -> dict:
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


def upsert_declared_person(data: dict, submitter: Submitter, prefix: str) -> Person:
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


def named_person(data: dict, prefix: str) -> Person | None:
    """The existing person whose document the input names (checked first), or None if new."""
    document_type = data.get("document_type") or "resident_id"
    if document_type not in DOCUMENT_TYPES:
        raise RuleError(f"{prefix}document_type", "证件类型无效")
    try:
        if data.get("phone"):
            check_mobile(data["phone"])
        return find_person(document_type, data.get("document_number") or "")
    except IdentityError as exc:
        raise RuleError(f"{prefix}{exc.field}", exc.message) from None


def proposed_person(data: dict, submitter: Submitter, prefix: str) -> Person:
    """The person an ownership claim names, created when new; an existing person is returned as
    stored, since a claim proposes facts and never overwrites them."""
    found = named_person(data, prefix)
    return found if found is not None else upsert_declared_person(data, submitter, prefix)


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


def check_date_not_future(value: date, field: str, today: date) -> None:
    if value > today + timedelta(days=MAX_DAYS_IN_FUTURE):
        raise RuleError(field, f"日期不能晚于{(today + timedelta(days=MAX_DAYS_IN_FUTURE)).isoformat()}")


def residence_permit_date(start: date) -> date:
    """When a 居住证 may be applied for: 6 months after residence registration."""
    return add_months(start, 6)


def add_months(start: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Aug + 6 months = 28/29 Feb)."""
    month = start.month + months
    year = start.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")
