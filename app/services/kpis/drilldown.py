"""The records behind a KPI's misses, for one area and period: scoped, masked, keyset-paginated."""
from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import aliased

from app.crypto import mask_name
from app.extensions import db
from app.models import (
    Address, Alert, CaseCheck, ControlTask, House, Officer, Person, SpotCheck, SpotCheckPerson,
    Station, utcnow,
)
from app.services.accounts import scoping
from app.services.errors import NotFound, RuleError
from app.services.kpis import compute as kc
from app.services.kpis import counts as kpi_counts
from app.services.kpis.periods import Period

PAGE_SIZE = 50
MISS_LABELS = {
    "address_labelling": "未发放门牌的地址",
    "house_collection": "未采集房屋的末级地址",
    "spot_check_registration": "抽查发现的未登记人员",
    "pre_case_registration": "案前未登记的涉案流动人员",
    "control_timeliness": "未按时完成的管控任务",
    "alert_handling": "未处置的预警",
}


def _area_filter(level: str, area_id: int, station_col, area_col, community_col=None):
    if level == "station":
        return station_col == area_id
    if level == "police_area":
        return area_col == area_id
    if level == "community":
        return community_col == area_id if community_col is not None else None
    return station_col.in_(select(Station.id).where(Station.branch_id == area_id))


def drill_down(kpi: str, period: Period, level: str, area_id, officer: Officer, *,
               after: int | None = None, limit: int = PAGE_SIZE, as_of=None,
               plate_levels=kpi_counts.DEFAULT_PLATE_LEVELS) -> dict:
    """One page of the records a KPI counts as missed in the area: {"rows", "next"}; an area
    outside the officer's scope is not found (404), exactly like any other object."""
    if kpi not in kpi_counts.KPIS:
        raise RuleError("kpi", "没有这个指标")
    try:
        area_id = int(area_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    if area_id not in {a[0] for a in kc.scoped_areas(level, officer)}:
        raise NotFound()
    after = int(after) if after else 0
    rows = _MISSES[kpi](period, level, area_id, officer, after, limit + 1, as_of=as_of,
                        plate_levels=plate_levels)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"kpi": kpi, "label": MISS_LABELS[kpi], "rows": rows,
            "next": rows[-1]["id"] if more else None}


def _address_rows(stmt, after, limit):
    stmt = stmt.where(Address.id > after).order_by(Address.id).limit(limit)
    return [{"id": a.id, "code": a.code, "full_text": a.full_text, "level": a.level,
             "plate_issued_at": a.plate_issued_at}
            for a in db.session.execute(stmt).scalars()]


def _unplated(period, level, area_id, officer, after, limit, plate_levels, **_):
    end = period.utc_end
    stmt = scoping.scope_addresses(select(Address), officer).where(
        Address.status == "active", Address.level.in_(tuple(plate_levels)),
        Address.created_at < end,
        or_(Address.plate_issued_at.is_(None), Address.plate_issued_at >= end),
        _area_filter(level, area_id, Address.station_id, Address.police_area_id,
                     Address.community_id))
    return _address_rows(stmt, after, limit)


def _without_house(period, level, area_id, officer, after, limit, **_):
    end = period.utc_end
    # Anti-joins, not NOT EXISTS: MariaDB turns those NOT EXISTS into materialised NOT IN sets
    # over every child address and every house (hundreds of ms at a million addresses), where
    # the joins probe ix_address_parent_id / uq_house_address_id only for this page's rows.
    # Same rows as kpi_counts.leaf_address_clause + house_collected_clause (tests/test_kpis.py).
    child = aliased(Address)
    stmt = (scoping.scope_addresses(select(Address), officer)
            .outerjoin(child, and_(child.parent_id == Address.id, child.status == "active",
                                   child.created_at < end))
            .outerjoin(House, and_(House.address_id == Address.id, House.status == "active",
                                   House.collected_at < end))
            .where(child.id.is_(None), House.id.is_(None), Address.status == "active",
                   Address.created_at < end,
                   _area_filter(level, area_id, Address.station_id, Address.police_area_id,
                                Address.community_id)))
    return _address_rows(stmt, after, limit)


def _unregistered_found(period, level, area_id, officer, after, limit, **_):
    stmt = (select(SpotCheckPerson.id, SpotCheck.checked_at, Address.full_text, Person.name,
                   Person.document_masked, SpotCheck.house_id)
            .join(SpotCheck, SpotCheck.id == SpotCheckPerson.spot_check_id)
            .join(House, House.id == SpotCheck.house_id)
            .join(Address, Address.id == House.address_id)
            .join(Person, Person.id == SpotCheckPerson.person_id)
            .where(scoping.area_clause(officer, Address.station_id, Address.police_area_id),
                   SpotCheckPerson.was_registered.is_(False),
                   SpotCheck.checked_at >= period.utc_start, SpotCheck.checked_at < period.utc_end,
                   _area_filter(level, area_id, Address.station_id, Address.police_area_id,
                                Address.community_id),
                   SpotCheckPerson.id > after)
            .order_by(SpotCheckPerson.id).limit(limit))
    return [{"id": r.id, "checked_at": r.checked_at, "address": r.full_text,
             "name": mask_name(r.name), "document": r.document_masked, "house_id": r.house_id}
            for r in db.session.execute(stmt)]


def _case_unregistered(period, level, area_id, officer, after, limit, **_):
    base = (select(CaseCheck)
            .where(scoping.area_clause(officer, CaseCheck.station_id, CaseCheck.station_id)
                   if officer.role != "officer" else CaseCheck.station_id == officer.station_id,
                   kpi_counts.case_rows_clause(period), CaseCheck.registered_before_case.is_(False))
            .order_by(CaseCheck.id))
    if level in ("station", "branch"):
        stmt = base.where(_area_filter(level, area_id, CaseCheck.station_id, None),
                          CaseCheck.id > after).limit(limit)
        cases = list(db.session.execute(stmt).scalars())
    else:
        # Below the station a case counts where the residence covering its date lies (only when
        # in the same station), exactly as the KPI attributes it.
        cases = [c for c in db.session.execute(base.where(CaseCheck.id > after)).scalars()]
        homes = kpi_counts.residence_areas({(c.person_id, c.case_date) for c in cases if c.person_id})
        index = 2 if level == "community" else 1
        cases = [c for c in cases
                 if (h := homes.get((c.person_id, c.case_date))) and h[0] == c.station_id
                 and h[index] == area_id][:limit]
    return [{"id": c.id, "case_number": c.case_number, "case_date": c.case_date,
             "name": mask_name(c.name), "document": c.document_masked} for c in cases]


def _late_tasks(period, level, area_id, officer, after, limit, as_of=None, **_):
    as_of = as_of or utcnow()
    stmt = (select(ControlTask.id, ControlTask.deadline, ControlTask.status,
                   ControlTask.completed_at, Person.name, Person.document_masked)
            .join(Person, Person.id == ControlTask.person_id)
            .outerjoin(House, House.id == ControlTask.house_id)
            .outerjoin(Address, Address.id == House.address_id)
            .where(scoping.area_clause(officer, ControlTask.station_id,
                                       ControlTask.police_area_id),
                   kpi_counts.control_due_clause(period, as_of), ~kpi_counts.control_on_time_clause(),
                   _area_filter(level, area_id, ControlTask.station_id,
                                ControlTask.police_area_id, Address.community_id),
                   ControlTask.id > after)
            .order_by(ControlTask.id).limit(limit))
    return [{"id": r.id, "deadline": r.deadline, "status": r.status,
             "completed_at": r.completed_at, "name": mask_name(r.name),
             "document": r.document_masked} for r in db.session.execute(stmt)]


def _open_alerts(period, level, area_id, officer, after, limit, **_):
    clause = _area_filter(level, area_id, Alert.station_id, Alert.police_area_id)
    if clause is None:  # alerts carry no community: nothing is attributed there
        return []
    stmt = (select(Alert)
            .where(scoping.area_clause(officer, Alert.station_id, Alert.police_area_id),
                   Alert.raised_at >= period.utc_start, Alert.raised_at < period.utc_end,
                   Alert.status != "closed", clause, Alert.id > after)
            .order_by(Alert.id).limit(limit))
    return [{"id": a.id, "kind": a.kind, "summary": a.summary, "raised_at": a.raised_at,
             "status": a.status} for a in db.session.execute(stmt).scalars()]


_MISSES = {
    "address_labelling": _unplated,
    "house_collection": _without_house,
    "spot_check_registration": _unregistered_found,
    "pre_case_registration": _case_unregistered,
    "control_timeliness": _late_tasks,
    "alert_handling": _open_alerts,
}
