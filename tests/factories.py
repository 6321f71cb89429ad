"""Small factories for tests: a jurisdiction, addresses, persons, officers."""
from __future__ import annotations

import itertools
from datetime import date

from app import crypto
from app.extensions import db
from app.models import Address, Branch, Community, Person, PoliceArea, Station

_seq = itertools.count(1)


def make_jurisdiction(prefix: str = "T") -> dict:
    """A branch with one station, one police area and one community; returns them by name."""
    n = next(_seq)
    branch = db.session.execute(db.select(Branch).where(Branch.code == "B-TEST")).scalar()
    if branch is None:
        branch = Branch(code="B-TEST", name="测试分局", region_code="350303")
        db.session.add(branch)
        db.session.flush()
    station = Station(branch_id=branch.id, code=f"{prefix}S{n}", name=f"测试派出所{n}")
    db.session.add(station)
    db.session.flush()
    area = PoliceArea(station_id=station.id, code=f"{prefix}A{n}", name=f"第{n}警务区")
    db.session.add(area)
    db.session.flush()
    community = Community(police_area_id=area.id, station_id=station.id,
                          code=f"{prefix}C{n}", name=f"测试社区{n}")
    db.session.add(community)
    db.session.flush()
    return {"branch": branch, "station": station, "police_area": area, "community": community}


def make_address(community: Community, **fields) -> Address:
    n = next(_seq)
    values = dict(
        code=f"ADDR{n:08d}", level="room", community_id=community.id,
        police_area_id=community.police_area_id, station_id=community.station_id,
        road="测试路", number=f"{n}号", building="1幢", unit="1单元", floor="1", room=f"{n}室",
        full_text=f"测试路{n}号1幢1单元{n}室",
    )
    values.update(fields)
    address = Address(**values)
    db.session.add(address)
    db.session.flush()
    return address


def make_person(number: str, name: str = "张小三", document_type: str = "resident_id",
                phone: str | None = None, **fields) -> Person:
    enc, blind, masked = crypto.protect_document(document_type, number)
    person = Person(document_type=document_type, document_number_enc=enc,
                    document_blind_index=blind, document_masked=masked, name=name,
                    birth_date=fields.pop("birth_date", date(1990, 1, 1)), **fields)
    if phone:
        person.phone_enc, person.phone_blind_index, person.phone_masked = crypto.protect_phone(phone)
    db.session.add(person)
    db.session.flush()
    return person
