"""Typed addresses (手填地址): for people without a door plate to scan (DESIGN §4 flow 5).

The user picks a community and types the address; the matcher offers scored candidates to pick
from. A picked or decisively matched address is used like a scanned plate; an address that
matches nothing is kept as typed and the declaration goes to the station of the chosen
community for an officer to place, never to no one.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from app.extensions import db
from app.models import Address, Community, Declaration, House, Station
from app.services.registry.address_match import decisive, match_address
from app.services.declarations.declare import (
    Submitter, create_declaration, person_payload, upsert_declared_person, find_by_idempotency_key,
)
from app.services.declarations.self_declare import declare_self
from app.services.errors import RuleError
from app.services.declarations.ownership import address_by_token

MAX_TEXT = 128
MAX_COMMUNITIES = 50


def communities(q: str | None = None, limit: int = MAX_COMMUNITIES) -> list[dict]:
    """Communities to pick from (names repeat across stations, so each names its station)."""
    stmt = (select(Community.id, Community.name, Station.name)
            .join(Station, Station.id == Community.station_id)
            .order_by(Community.name, Community.id).limit(limit))
    q = (q or "").strip()[:32]
    if q:
        stmt = stmt.where(Community.name.contains(q, autoescape=True))
    return [{"id": cid, "name": name, "station": station}
            for cid, name, station in db.session.execute(stmt).all()]


def community(community_id, field: str = "community_id") -> Community:
    """The chosen community, or a field error in Chinese."""
    try:
        found = db.session.get(Community, int(community_id)) if community_id else None
    except (TypeError, ValueError):
        found = None
    if found is None:
        raise RuleError(field, "请选择所在社区")
    return found


def _text(address_text: str | None, field: str) -> str:
    text = (address_text or "").strip()
    if not text:
        raise RuleError(field, "请填写详细地址")
    if len(text) > MAX_TEXT:
        raise RuleError(field, f"地址不能超过{MAX_TEXT}个字")
    return text


def candidates(address_text: str | None, community_id, *, field: str = "q") -> list[dict]:
    """Scored standard-address candidates for typed text within the chosen community."""
    chosen = community(community_id)
    return [c.as_dict() for c in match_address(_text(address_text, field),
                                               community_id=chosen.id)]


def resolve(address_text: str | None, community_id, address_id=None, *,
            text_field: str = "address_text",
            id_field: str = "address_id") -> tuple[Community, Address | None, str | None]:
    """(community, address or None, text kept when nothing matched) for what the user gave:
    a picked candidate wins; else typed text that matches one address decisively."""
    chosen = community(community_id, field=text_field.replace("address_text", "community_id"))
    if address_id:
        try:
            address = db.session.get(Address, int(address_id))
        except (TypeError, ValueError):
            address = None
        if address is None or address.status != "active" or address.community_id != chosen.id:
            raise RuleError(id_field, "所选地址不在该社区，请重新选择")
        return chosen, address, None
    text = _text(address_text, text_field)
    best = decisive(match_address(text, community_id=chosen.id))
    if best is not None:
        return chosen, db.session.get(Address, best.address_id), None
    return chosen, None, text


def declare_self_typed(submitter: Submitter, me: dict, *, community_id, address_text=None,
                       address_id=None, idempotency_key: str | None = None,
                       today: date | None = None, now: datetime | None = None) -> Declaration:
    """A tenant declares themself at a typed address: at the registered house there, as from a
    door plate; otherwise to the community's station, with the address as typed."""
    existing = find_by_idempotency_key(submitter, idempotency_key)
    if existing:
        return existing
    chosen, address, text = resolve(address_text, community_id, address_id)
    house = (db.session.execute(select(House).where(House.address_id == address.id)).scalar()
             if address is not None else None)
    if house is not None:
        return declare_self(submitter, house, me, idempotency_key=idempotency_key, today=today,
                            now=now)
    if not isinstance(me.get("start_date"), date):
        raise RuleError("me.start_date", "请填写入住日期")
    person = upsert_declared_person(me, submitter, "me.")
    payload = {"community_id": chosen.id, "station_id": chosen.station_id,
               "address": address.full_text if address is not None else text,
               "tenants": [person_payload(person, start_date=me["start_date"].isoformat(),
                                           room=me.get("room"))]}
    if address is None:
        payload["address_text"] = text
    declaration = create_declaration("self", submitter, payload, idempotency_key=idempotency_key,
                          address=address)
    if address is None:  # nothing to anchor it but the community the user chose
        declaration.station_id, declaration.police_area_id = (chosen.station_id,
                                                              chosen.police_area_id)
    db.session.flush()
    return declaration


def dormitory(worker: dict, index: int) -> dict:
    """A hire's typed dormitory (text + community, or a picked candidate) made into an address
    id, or kept as typed for the officer when nothing matches."""
    prefix = f"workers.{index}."
    text, picked = worker.pop("dormitory_address_text", None), worker.pop("dormitory_address_id",
                                                                          None)
    community_id = worker.pop("dormitory_community_id", None)
    if not text and not picked:
        return worker
    chosen, address, kept = resolve(text, community_id, picked,
                                    text_field=f"{prefix}dormitory_address_text",
                                    id_field=f"{prefix}dormitory_address_id")
    if address is not None:
        worker["dormitory_address_id"] = address.id
    else:
        worker["dormitory_typed"] = {"address_text": kept, "community_id": chosen.id,
                                     "station_id": chosen.station_id}
    return worker


def hire_dormitories(workers: list[dict]) -> list[dict]:
    """Each hired worker's dormitory made into an address id: a scanned door plate's address,
    or the typed one resolved as dormitory() does (H5 and API alike)."""
    for i, worker in enumerate(workers):
        token = worker.pop("dormitory_qr_token", None)
        if token:
            worker["dormitory_address_id"] = address_by_token(
                token, field=f"workers.{i}.dormitory_qr_token").id
        else:
            dormitory(worker, i)
    return workers


def correction_dormitory(data: dict) -> dict:
    """A correction's scanned dormitory door plate made into its address id."""
    token = data.pop("dormitory_qr_token", None)
    if token:
        data["dormitory_address_id"] = address_by_token(token, field="dormitory_qr_token").id
    return data
