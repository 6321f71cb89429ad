"""漏登 trace-back tasks (MissedRegistration), from the pre-case cross-check and from spot checks
alike: a deadline for the station, where the person actually lived, the outcome, the landlord
and house; a later registration is shown on the task, which an officer still has to close."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from app.crypto import mask_name
from app.extensions import db
from app.models import Address, Alert, CaseCheck, Declaration, House, MissedRegistration, utcnow
from app.services.accounts.scoping import scope
from app.services.errors import RuleError, StateConflict
from app.services.police.alerts import raise_alert
from app.services.registry.address_match import decisive, match_address

DEFAULT_TRACE_BACK_DAYS = 7  # DESIGN §5: "the plan"
OUTCOMES = {
    "landlord": "房东未申报",
    "lied": "本人谎报",
    "not_rental": "非出租房屋",
    "not_found": "查无此人",
    "other": "其他",
}
SOURCES = {"case": "案前比对", "spot_check": "抽查"}
MAX_NOTE = 2000


def trace_back_days(config=None) -> int:
    """TRACE_BACK_DAYS from the given config mapping; the DESIGN default without one."""
    return int((config or {}).get("TRACE_BACK_DAYS") or DEFAULT_TRACE_BACK_DAYS)


def record_miss(*, source: str, station_id: int, document_type: str, blind_index: str,
                summary: str, days: int, now: datetime, house: House | None = None,
                police_area_id: int | None = None, case_check_id: int | None = None,
                spot_check_person_id: int | None = None) -> MissedRegistration:
    """A new 漏登 task for the station, due in `days`, and its missed_registration alert (so
    预警处置率 counts it)."""
    miss = MissedRegistration(
        source=source, case_check_id=case_check_id, spot_check_person_id=spot_check_person_id,
        station_id=station_id, document_type=document_type, document_blind_index=blind_index,
        deadline=now + timedelta(days=days), status="open",
        house_id=house.id if house else None,
        landlord_person_id=house.owner_person_id if house else None)
    db.session.add(miss)
    db.session.flush()
    raise_alert("missed_registration", "missed_registration", miss.id, station_id=station_id,
                police_area_id=police_area_id or (house.police_area_id if house else None),
                summary=summary, now=now, due_days=days)
    return miss


def open_for_case(check: CaseCheck, *, days: int, now: datetime,
                  fresh: bool = False) -> MissedRegistration:
    """The 漏登 of a case person not registered before the case (once per case person; `fresh`:
    the case person was just stored, so there is none yet to look for)."""
    found = None if fresh else task_for_case(check)
    if found is not None:
        return found
    return record_miss(source="case", station_id=check.station_id,
                       document_type=check.document_type, blind_index=check.document_blind_index,
                       case_check_id=check.id, days=days, now=now,
                       summary=f"案前比对漏登 {mask_name(check.name)}（案件 {check.case_number}）")


def task_for_case(check: CaseCheck) -> MissedRegistration | None:
    """The 漏登 task of a case person, if the miss made one."""
    return db.session.execute(select(MissedRegistration).where(
        MissedRegistration.case_check_id == check.id)).scalar()


def note_registration(miss: MissedRegistration, declaration: Declaration,
                      now: datetime | None = None) -> None:
    """已补登: the first declaration registering the person after the miss is shown on the task;
    the task stays open until an officer closes it."""
    if miss.registered_declaration_id is None:
        miss.registered_declaration_id = declaration.id
        miss.registered_at = now or utcnow()
        if miss.house_id is None and declaration.house_id is not None:
            miss.house_id = declaration.house_id


def misses_for(officer, *, status: str = "open", source: str | None = None,
               overdue: bool = False, now: datetime | None = None, page: int = 1,
               per_page: int = 50) -> tuple[list[MissedRegistration], bool]:
    """漏登 tasks in the officer's area (scoping), nearest deadline first: (rows, has_next)."""
    stmt = scope(MissedRegistration, select(MissedRegistration), officer)
    if status in ("open", "resolved"):
        stmt = stmt.where(MissedRegistration.status == status)
    if source in SOURCES:
        stmt = stmt.where(MissedRegistration.source == source)
    if overdue:
        stmt = stmt.where(MissedRegistration.status == "open",
                          MissedRegistration.deadline < (now or utcnow()))
    stmt = stmt.order_by(MissedRegistration.status, MissedRegistration.deadline,
                         MissedRegistration.id)
    rows = db.session.execute(
        stmt.offset((max(page, 1) - 1) * per_page).limit(per_page + 1)).scalars().all()
    return rows[:per_page], len(rows) > per_page


def _matched_address(miss: MissedRegistration, text: str) -> Address | None:
    best = decisive(match_address(text, station_id=miss.station_id))
    return db.session.get(Address, best.address_id) if best is not None else None


def close(miss: MissedRegistration, officer, *, outcome: str, note: str | None = None,
          address_text: str | None = None, now: datetime | None = None) -> MissedRegistration:
    """Close a trace-back: the outcome (OUTCOMES; 其他 needs the text), where the person actually
    lived (typed, matched to the registry within the station when it matches decisively: the
    house there and its owner are linked), and the missed_registration alert closes with it."""
    if miss.status != "open":
        raise StateConflict("该漏登任务已办结")
    if outcome not in OUTCOMES:
        raise RuleError("outcome", "请选择追溯结果")
    note = (note or "").strip()
    if outcome == "other" and not note:
        raise RuleError("note", "结果为“其他”时请填写情况说明")
    if len(note) > MAX_NOTE:
        raise RuleError("note", f"情况说明不超过 {MAX_NOTE} 字")
    address_text = (address_text or "").strip()
    if len(address_text) > 128:
        raise RuleError("address_text", "实际居住地址不超过 128 字")
    now = now or utcnow()
    if address_text:
        miss.actual_address_text = address_text
        address = _matched_address(miss, address_text)
        if address is not None:
            miss.actual_address_id = address.id
            house = db.session.execute(select(House).where(
                House.address_id == address.id).limit(1)).scalar()
            if house is not None and miss.house_id is None:
                miss.house_id = house.id
    if miss.house_id is not None and miss.landlord_person_id is None:
        miss.landlord_person_id = db.session.get(House, miss.house_id).owner_person_id
    miss.outcome_code = outcome
    miss.outcome = OUTCOMES[outcome] + (f"：{note}" if note else "")
    miss.status, miss.resolved_at, miss.resolved_by_officer_id = "resolved", now, officer.id
    alert = db.session.execute(select(Alert).where(
        Alert.object_type == "missed_registration", Alert.object_id == miss.id,
        Alert.status == "open")).scalar()
    if alert is not None:
        alert.status, alert.closed_at, alert.closed_by_officer_id = "closed", now, officer.id
        alert.outcome, alert.close_note = "漏登追溯办结", miss.outcome
    db.session.flush()
    return miss
