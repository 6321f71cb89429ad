"""Corrections (更正): every declaration an officer can reject or flag can be corrected.

A correction is a declaration of kind "correction" linked to the original (corrects_id) whose
payload keeps the facts before and after. The corrected facts apply to the house, employer,
residence or employment at once, as the original's did; the rows a rejected declaration had
proposed (withdrawn by the rejection) are proposed again by the correction, so its validation
or an officer's decision on it settles them. The caller commits.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from app import crypto
from app.extensions import db
from app.identity import IdentityError, check_mobile
from app.models import Declaration, Employer, Employment, House, Residence
from app.models.house import RENTAL_TYPES
from app.services.declarations import claims
from app.services.declarations.declare import (
    Submitter, check_date_not_future, create_declaration, person_payload, find_by_idempotency_key,
    local_today,
)
from app.services.declarations.employers import _dormitory_house
from app.services.declarations.rentals import correct_move_in
from app.services.errors import RuleError

# Kinds whose facts a correction can re-submit; move-ins and self-declarations at any time
# (as before), the others once an officer rejected or flagged them.
CORRECTABLE_KINDS = ("house", "move_in", "self", "move_out", "employer", "hire", "leave")
ALWAYS_CORRECTABLE = ("move_in", "self")
NEEDS_CORRECTION = ("rejected", "flagged")
_ROW_KEYS = ("residence_id", "employment_id")


def correctable(declaration: Declaration) -> bool:
    """Whether the declaration's page offers a correction (the same rule the service enforces)."""
    if declaration.kind not in CORRECTABLE_KINDS:
        return False
    return declaration.kind in ALWAYS_CORRECTABLE or declaration.status in NEEDS_CORRECTION


def correct(submitter: Submitter, original: Declaration, changes: dict, *,
            idempotency_key: str | None = None, today: date | None = None) -> Declaration:
    """Re-submit corrected facts of any correctable declaration as a linked correction."""
    existing = find_by_idempotency_key(submitter, idempotency_key)
    if existing:
        return existing
    if not correctable(original):
        raise RuleError("declaration", "该申报当前无需更正")
    changes = {k: v for k, v in changes.items() if v is not None and v != ""}
    if not [k for k in changes if k not in _ROW_KEYS]:
        raise RuleError("_schema", "请至少填写一项要更正的内容")
    today = today or local_today()
    handler = _HANDLERS[original.kind]
    return handler(submitter, original, changes, idempotency_key, today)


def _repropose(original: Declaration, row, correction: Declaration, live_clause) -> None:
    """A row the rejection withdrew is proposed again, now by the correction."""
    if original.status != "rejected" or row.status != "ended" or row.end_date is not None:
        return
    if db.session.execute(select(type(row).id).where(live_clause,
                                                     type(row).active_slot.is_not(None))).first():
        raise RuleError("_schema", "该人员已另有登记，无需更正")
    row.status, row.active_slot, row.declaration_id = "pending", 1, correction.id
    db.session.flush()


def _tenancy(submitter, original, changes, key, today) -> Declaration:
    residence_id = changes.pop("residence_id", None)
    if residence_id is None:
        raise RuleError("residence_id", "请选择要更正的租客")
    if len(changes.get("name") or "") > 64:
        raise RuleError("name", "姓名长度应在1到64个字之间")
    correction = correct_move_in(submitter, original, residence_id, changes,
                                 idempotency_key=key, today=today)
    residence = db.session.get(Residence, residence_id)
    _repropose(original, residence, correction,
               (Residence.person_id == residence.person_id)
               & (Residence.house_id == residence.house_id) & (Residence.id != residence.id))
    # The person is named so validation checks them again (watch list, live elsewhere).
    correction.payload = {**correction.payload, "tenants": [
        person_payload(residence.person, residence_id=residence.id)]}
    db.session.flush()
    return correction


def _house_facts(house: House) -> dict:
    return {"is_rental": house.is_rental, "rental_type": house.rental_type, "rooms": house.rooms,
            "area_m2": str(house.area_m2) if house.area_m2 is not None else None,
            "monthly_rent": str(house.monthly_rent) if house.monthly_rent is not None else None}


def _house(submitter, original, changes, key, today) -> Declaration:
    house = db.session.get(House, original.house_id) if original.house_id else None
    if house is None:
        raise RuleError("declaration", "该申报没有对应的房屋")
    if not claims.may_update_house(submitter.wechat_user_id, house):
        raise RuleError("declaration", "您已不能更改该房屋的登记信息")
    before = _house_facts(house)
    if "is_rental" in changes:
        house.is_rental = bool(changes["is_rental"])
    if "rental_type" in changes:
        if changes["rental_type"] not in RENTAL_TYPES:
            raise RuleError("rental_type", "请选择出租类型")
        house.rental_type = changes["rental_type"]
    if "rooms" in changes:
        if not 1 <= int(changes["rooms"]) <= 200:
            raise RuleError("rooms", "房间数应在1到200之间")
        house.rooms = int(changes["rooms"])
    for name in ("area_m2", "monthly_rent"):
        if name in changes:
            setattr(house, name, Decimal(str(changes[name])))
    if not house.is_rental:
        house.rental_type = None
    db.session.flush()
    payload = {"house_id": house.id, "corrects": original.receipt_code, "before": before,
               "after": _house_facts(house)}
    return create_declaration("correction", submitter, payload, idempotency_key=key, house=house,
                   corrects=original)


def _employer_facts(employer: Employer) -> dict:
    return {"name": employer.name, "contact_name": employer.contact_name,
            "contact_phone_masked": employer.contact_phone_masked}


def _employer(submitter, original, changes, key, today) -> Declaration:
    employer = db.session.get(Employer, original.employer_id) if original.employer_id else None
    if employer is None:
        raise RuleError("declaration", "该申报没有对应的单位")
    if not claims.may_update_employer(submitter.wechat_user_id, employer):
        raise RuleError("declaration", "您已不能更改该单位的登记信息")
    before = _employer_facts(employer)
    if "name" in changes:
        employer.name = changes["name"].strip()
    if "contact_name" in changes:
        employer.contact_name = changes["contact_name"].strip()
    if "contact_phone" in changes:
        try:
            phone = check_mobile(changes["contact_phone"], field="contact_phone")
        except IdentityError as exc:
            raise RuleError(exc.field, exc.message) from None
        (employer.contact_phone_enc, employer.contact_phone_blind_index,
         employer.contact_phone_masked) = crypto.protect_phone(phone)
    db.session.flush()
    payload = {"employer_id": employer.id, "corrects": original.receipt_code, "before": before,
               "after": _employer_facts(employer)}
    return create_declaration("correction", submitter, payload, idempotency_key=key, employer=employer,
                   corrects=original)


def _employment_facts(employment: Employment) -> dict:
    return {"start_date": employment.start_date.isoformat(), "job": employment.job,
            "dormitory_house_id": employment.dormitory_house_id}


def _hire(submitter, original, changes, key, today) -> Declaration:
    employment = (db.session.get(Employment, changes.get("employment_id"))
                  if changes.get("employment_id") else None)
    if employment is None or employment.declaration_id != original.id:
        raise RuleError("employment_id", "要更正的员工不在这份申报中")
    before = _employment_facts(employment)
    if "start_date" in changes:
        check_date_not_future(changes["start_date"], "start_date", today)
        if employment.end_date and changes["start_date"] > employment.end_date:
            raise RuleError("start_date", "入职日期不能晚于离职日期")
        employment.start_date = changes["start_date"]
    if "job" in changes:
        employment.job = changes["job"]
    if "dormitory_address_id" in changes:
        dorm = _dormitory_house(changes["dormitory_address_id"], submitter, "dormitory_qr_token")
        employment.dormitory_house_id = dorm.id
    db.session.flush()
    payload = {"employment_id": employment.id, "corrects": original.receipt_code,
               "before": before, "after": _employment_facts(employment),
               "workers": [person_payload(employment.person, employment_id=employment.id)]}
    employer = db.session.get(Employer, employment.employer_id)
    correction = create_declaration("correction", submitter, payload, idempotency_key=key,
                         employer=employer, corrects=original)
    _repropose(original, employment, correction,
               (Employment.person_id == employment.person_id)
               & (Employment.employer_id == employment.employer_id)
               & (Employment.id != employment.id))
    return correction


def _ending(submitter, original, changes, key, today) -> Declaration:
    """Move-outs and leaves: the end date of every row the original ended."""
    end_date = changes.get("end_date")
    if not isinstance(end_date, date):
        raise RuleError("end_date", "请填写更正后的日期")
    check_date_not_future(end_date, "end_date", today)
    residents = original.kind == "move_out"
    model, id_key = (Residence, "residence_id") if residents else (Employment, "employment_id")
    ids = [item.get(id_key) for item in (original.payload or {}).get(
        "tenants" if residents else "workers") or []]
    rows = db.session.execute(select(model).where(model.id.in_([i for i in ids if i] or [-1]))
                              ).scalars().all()
    if not rows:
        raise RuleError("declaration", "这份申报没有可更正的人员")
    before = original.payload.get("end_date")
    for row in rows:
        if end_date < row.start_date:
            raise RuleError("end_date", ("退租日期不能早于入住日期" if residents
                                         else "离职日期不能早于入职日期")
                            + f"（{row.start_date.isoformat()}）")
        row.end_date = end_date
    db.session.flush()
    payload = {"corrects": original.receipt_code, "before": {"end_date": before},
               "after": {"end_date": end_date.isoformat()}}
    house = db.session.get(House, original.house_id) if original.house_id else None
    employer = db.session.get(Employer, original.employer_id) if original.employer_id else None
    return create_declaration("correction", submitter, payload, idempotency_key=key, house=house,
                   employer=employer, corrects=original)


_HANDLERS = {"move_in": _tenancy, "self": _tenancy, "house": _house, "employer": _employer,
             "hire": _hire, "move_out": _ending, "leave": _ending}
