"""Employers (实有单位): register one by its USCC, declare hires (dormitory residences included)
and leaves."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app import crypto
from app.extensions import db
from app.identity import IdentityError, check_mobile, check_uscc
from app.models import Address, Declaration, Employer, Employment, House, OwnershipClaim, WeChatUser
from app.services.declarations import claims
from app.services.declarations.declare import (
    Submitter, check_date_not_future, create_declaration, find_by_idempotency_key, local_today,
    person_payload, upsert_declared_person,
)
from app.services.errors import RuleError


def register_employer(submitter: Submitter, *, name: str, uscc: str, address: Address,
                      contact_name: str, contact_phone: str,
                      idempotency_key: str | None = None) -> Declaration | OwnershipClaim:
    """Register an employer (实有单位) by its 统一社会信用代码, at a standard address.

    An existing USCC is updated only by the WeChat user linked to it; anyone else files an
    ownership claim (returned instead of a declaration) and changes nothing.
    """
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
    return create_declaration("employer", submitter, payload, idempotency_key=idempotency_key,
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
        check_date_not_future(start, f"{prefix}start_date", today)
        person = upsert_declared_person(data, submitter, prefix)
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
        person_payload(p, employment_id=e.id, start_date=e.start_date.isoformat(), job=e.job,
                        dormitory_house_id=e.dormitory_house_id,
                        **({"dormitory_typed": typed} if typed else {}))
        for e, p, typed in entries]}
    declaration = create_declaration("hire", submitter, payload, idempotency_key=idempotency_key,
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
    check_date_not_future(end_date, "end_date", today)
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
        dict(person_payload(e.person, employment_id=e.id), name=e.shown_name)
        for e in employments]}
    return create_declaration("leave", submitter, payload, idempotency_key=idempotency_key,
                   employer=employer)
