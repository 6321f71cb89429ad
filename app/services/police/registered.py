"""The one "registered before" rule (DESIGN §6, docs/KPIS.md) behind spot checks (抽查登记率)
and the pre-case cross-check (案前管控登记率), returning the evidence that decided it.

A person was registered before a moment when a residence (or, for cases, an employment) in the
place asked about was declared before that moment — the declaration not rejected or withdrawn —
and its stay covers the local day asked about. The stated move-in date does not count on its
own: a late declaration made afterwards with an earlier move-in is a miss. A residence recorded
without a declaration (officer, import) counts from when it was recorded.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, or_, select

from app.extensions import db
from app.models import Declaration, Employer, Employment, House, Residence

NOT_COUNTING = ("rejected", "withdrawn")


@dataclass(frozen=True)
class Evidence:
    kind: str  # residence / employment
    record_id: int
    declaration_id: int | None
    submitted_at: datetime  # naive UTC: the declaration's submission, or the record's creation


def _first(model, place_clause, person_id: int, before: datetime, day: date) -> Evidence | None:
    submitted = db.session.execute(
        select(model.id, Declaration.id, Declaration.created_at, model.created_at)
        .outerjoin(Declaration, Declaration.id == model.declaration_id)
        .where(model.person_id == person_id, place_clause,
               model.start_date <= day,
               or_(model.end_date.is_(None), model.end_date >= day),
               or_(and_(Declaration.id.is_(None), model.created_at < before),
                   and_(Declaration.created_at < before,
                        Declaration.status.not_in(NOT_COUNTING))))
        .order_by(model.id).limit(1)).first()
    if submitted is None:
        return None
    record_id, declaration_id, declared_at, created_at = submitted
    kind = "residence" if model is Residence else "employment"
    return Evidence(kind, record_id, declaration_id, declared_at or created_at)


def registration_evidence(person_id: int | None, before: datetime, day: date, *,
                          house_id: int | None = None, station_ids=None,
                          with_employment: bool = False) -> Evidence | None:
    """The registration proving the person was registered before `before` (naive UTC, exclusive)
    with a stay covering local `day`: at one house (house_id), or anywhere in the given stations
    (a list or subquery of station ids), there also as an employee when with_employment. None
    when the person was not registered: that is a 漏登."""
    if person_id is None:
        return None
    if house_id is not None:
        return _first(Residence, Residence.house_id == house_id, person_id, before, day)
    houses = select(House.id).where(House.station_id.in_(station_ids))
    found = _first(Residence, Residence.house_id.in_(houses), person_id, before, day)
    if found is None and with_employment:
        employers = select(Employer.id).where(Employer.station_id.in_(station_ids))
        found = _first(Employment, Employment.employer_id.in_(employers), person_id, before, day)
    return found
