"""Hand-built rows for KPI tests: houses, spot checks, case checks, control tasks, alerts."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from app import crypto
from app.extensions import db
from app.models import (
    Address, Alert, CaseCheck, ControlTask, House, Officer, Person, SpotCheck, SpotCheckPerson,
    Watch,
)
from tests.factories import make_address, make_person

_seq = itertools.count(1)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(n: int) -> str:
    """A checksum-valid resident ID number, distinct for each n below 28,000."""
    body = f"110105198001{1 + (n // 1000) % 28:02d}{n % 1000:03d}"
    total = sum(int(c) * w for c, w in zip(body, _WEIGHTS))
    return body + "10X98765432"[total % 11]


def beijing(y, m, d, hh=12, mm=0) -> datetime:
    """Naive UTC instant of a Beijing wall-clock time."""
    return datetime(y, m, d, hh, mm) - timedelta(hours=8)


def person() -> Person:
    return make_person(resident_id(next(_seq) + 500), name="李小四")


def officer(station, area=None) -> Officer:
    n = next(_seq)
    o = Officer(username=f"kpi{n}", password_hash="x", name="民警", badge_number=f"K{n:05d}",
                role="officer", branch_id=station.branch_id, station_id=station.id,
                police_area_id=area.id if area else None)
    db.session.add(o)
    db.session.flush()
    return o


def house(address: Address, collected_at: datetime | None = None, **fields) -> House:
    h = House(address_id=address.id, station_id=address.station_id,
              police_area_id=address.police_area_id, is_rental=True,
              collected_at=collected_at or datetime(2026, 1, 1), **fields)
    db.session.add(h)
    db.session.flush()
    return h


def address(community, **fields) -> Address:
    fields.setdefault("created_at", datetime(2026, 1, 1))
    return make_address(community, **fields)


def spot_check(h: House, checked_at: datetime, registered: list[bool], by=None) -> SpotCheck:
    by = by or officer(_station_of(h))
    sc = SpotCheck(officer_id=by.id, house_id=h.id, station_id=h.station_id,
                   checked_at=checked_at)
    db.session.add(sc)
    db.session.flush()
    for was in registered:
        db.session.add(SpotCheckPerson(spot_check_id=sc.id, person_id=person().id,
                                       was_registered=was))
    db.session.flush()
    return sc


def _station_of(h: House):
    from app.models import Station

    return db.session.get(Station, h.station_id)


def case_check(station, case_date, registered: bool, floating: bool = True,
               person_obj: Person | None = None) -> CaseCheck:
    n = next(_seq)
    number = resident_id(n + 700)
    enc, blind, masked = crypto.protect_document("resident_id", number)
    c = CaseCheck(document_type="resident_id", document_number_enc=enc,
                  document_blind_index=blind, document_masked=masked, name="王小五",
                  case_number=f"AJ{n:06d}", case_date=case_date, station_id=station.id,
                  person_id=person_obj.id if person_obj else None, is_floating=floating,
                  registered_before_case=registered)
    db.session.add(c)
    db.session.flush()
    return c


def control_task(station, deadline: datetime, status="open", completed_at=None, area=None,
                 house_obj: House | None = None) -> ControlTask:
    p = person()
    w = Watch(document_type=p.document_type, document_blind_index=p.document_blind_index,
              category="涉稳", source="测试")
    db.session.add(w)
    db.session.flush()
    t = ControlTask(watch_id=w.id, person_id=p.id, station_id=station.id,
                    police_area_id=area.id if area else None,
                    house_id=house_obj.id if house_obj else None, checklist=[],
                    deadline=deadline, status=status, completed_at=completed_at)
    db.session.add(t)
    db.session.flush()
    return t


def alert(station, raised_at: datetime, closed: bool, area=None) -> Alert:
    a = Alert(kind="watch_hit", station_id=station.id,
              police_area_id=area.id if area else None, object_type="person", object_id=1,
              summary="关注人员入住", raised_at=raised_at,
              status="closed" if closed else "open",
              closed_at=raised_at + timedelta(hours=1) if closed else None)
    db.session.add(a)
    db.session.flush()
    return a
