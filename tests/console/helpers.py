"""Console test helpers: officers with a known password, declarations with history, and one
station's worth of objects (address, house, person, residence, declarations)."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date

from app.extensions import db as _db
from app.models import Declaration, DeclarationEvent, House, Officer, Residence, utcnow
from app.services.accounts.officers import hash_password
from tests.factories import make_address, make_jurisdiction, make_person

PASSWORD = "Zhengque-mima-2026"
_HASH: list[str] = []


def create_officer(*, password: str, **fields) -> Officer:
    """An officer row with the known password; argon2 runs once per session, not per account."""
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    assert password == PASSWORD
    officer = Officer(password_hash=_HASH[0], password_changed_at=utcnow(), **fields)
    _db.session.add(officer)
    _db.session.flush()
    return officer


_receipts = itertools.count(1)
DOCUMENTS = {"A": "11010519491231002X", "B": "110105194912310037"}


@dataclass
class Area:
    """One station's worth of objects."""

    jurisdiction: dict
    address: object
    other_address: object
    house: object
    person: object
    residence: object
    declarations: dict = field(default_factory=dict)


def make_declaration(address, status="needs_review", kind="move_in", payload=None, **fields):
    """A declaration at the address, with a received → status history."""
    n = next(_receipts)
    d = Declaration(kind=kind, status="received", submitter_role="landlord",
                    receipt_code=f"RC{n:06d}", payload=payload or {"start_date": "2026-11-01"},
                    address_id=address.id, station_id=address.station_id,
                    police_area_id=address.police_area_id, **fields)
    _db.session.add(d)
    _db.session.flush()
    d.events.append(DeclarationEvent(from_status=None, to_status="received", actor="landlord"))
    if status != "received":
        d.transition(status, actor="worker")
    _db.session.flush()
    return d


def make_area(prefix: str, phone: str) -> Area:
    j = make_jurisdiction(prefix)
    address = make_address(j["community"])
    other = make_address(j["community"])
    house = House(address_id=address.id, station_id=address.station_id,
                  police_area_id=address.police_area_id, is_rental=True, rooms=2)
    _db.session.add(house)
    _db.session.flush()
    person = make_person(DOCUMENTS[prefix], name=f"{prefix}租客甲", phone=phone)
    residence = Residence(person_id=person.id, house_id=house.id, start_date=date(2026, 3, 1),
                          declared_by="landlord", status="active")
    _db.session.add(residence)
    _db.session.flush()
    area = Area(j, address, other, house, person, residence)
    area.declarations["review"] = make_declaration(
        address, "needs_review",
        payload={"person_id": person.id, "document_number": "110105194912310088",
                 "phone": phone, "name": f"{prefix}租客甲", "start_date": "2026-11-01"},
        candidates=[{"address_id": other.id, "full_text": other.full_text, "score": 91}],
        reasons=[{"field": "address", "message": "地址与标准地址不完全一致"}])
    area.declarations["verified"] = make_declaration(address, "verified")
    residence.declaration_id = area.declarations["review"].id
    return area


def login(client, username: str, password: str = PASSWORD):
    """Sign the test client in as the given officer."""
    return client.post("/console/login", data={"username": username, "password": password})


def search(client, q: str, kind: str = "auto"):
    """Run a console search as the form does: POST, then follow to the opaque result page."""
    return client.post("/console/search", data={"q": q, "kind": kind}, follow_redirects=True)
