"""Field collection (警务通采集): an officer registers a house and/or its residents on site for a
landlord who cannot (elderly, no smartphone). The landlord signs the pledge on the screen; the
records are stamped with time, GPS, collector and channel "field" and validated exactly like a
WeChat declaration (through the outbox; several at once through the batch path)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.models import Address, Declaration, House, Officer, Residence
from app.outbox import jobs
from app.services.accounts import audit
from app.services.declarations import rentals
from app.services.declarations.declare import Submitter
from app.services.errors import RuleError
from app.services.police.tasks import store_photo
from app.services.accounts.scoping import scope

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_SIGNATURE_BYTES = 1024 * 1024


@dataclass
class Collected:
    house: House
    declarations: list[Declaration] = field(default_factory=list)


def store_signature(directory: str, data: bytes) -> str:
    """Keep a drawn signature: a PNG of at most 1 MB, named by its sha256; returns the name."""
    if not data:
        raise RuleError("signature", "请让房东在屏幕上签名")
    if len(data) > MAX_SIGNATURE_BYTES:
        raise RuleError("signature", "签名图片不能超过 1 MB")
    if not data.startswith(PNG_MAGIC):
        raise RuleError("signature", "签名须为 PNG 图片")
    name = store_photo(directory, data)
    assert name == f"{hashlib.sha256(data).hexdigest()}.png"
    return name


def collect(officer: Officer, address: Address, *, signer_name: str, signature: bytes,
            evidence_dir: str, owner: dict | None = None, rental_type: str | None = None,
            rooms: int | None = None, area_m2: Decimal | None = None,
            monthly_rent: Decimal | None = None, tenants: list[dict] | None = None,
            lat: float | None = None, lng: float | None = None) -> Collected:
    """Register the house (when owner is given) and/or declare tenants moving in, collected by
    the officer with the landlord's drawn signature on the pledge; each record is validated
    like a WeChat declaration."""
    submitter = Submitter(role="officer", officer_id=officer.id, channel="field")
    house = db.session.query(House).filter(House.address_id == address.id).one_or_none()
    if owner is None and house is None:
        raise RuleError("owner", "该地址尚未登记房屋，请先填写房东信息")
    if not owner and not tenants:
        raise RuleError("tenants", "请填写房屋信息或至少一位租客")
    if not (signer_name or "").strip():
        raise RuleError("signer_name", "请填写签名人姓名")
    name = store_signature(evidence_dir, signature)
    made: list[Declaration] = []
    if owner:
        result = rentals.register_house(
            submitter, address, owner={**owner, "lat": lat, "lng": lng},
            rental_type=rental_type or "", rooms=rooms, area_m2=area_m2,
            monthly_rent=monthly_rent, validate_now=False)
        if not isinstance(result, Declaration):
            raise RuleError("owner", "该房屋已有登记，无法现场变更房东")
        made.append(result)
        house = db.session.get(House, result.house_id)
        house.collected_lat, house.collected_lng = lat, lng
    rentals.sign_pledge(house, signer_name=signer_name, ip=None)
    house.pledge_signature = name
    if tenants:
        rows = [{**t, "lat": lat, "lng": lng} for t in tenants]
        move_in = rentals.declare_move_in(submitter, house, rows, validate_now=False)
        for residence in db.session.query(Residence).filter(
                Residence.declaration_id == move_in.id):
            residence.collected_lat, residence.collected_lng = lat, lng
        made.append(move_in)
    db.session.flush()
    _validate(made)
    return Collected(house, made)


def _validate(made: list[Declaration]) -> None:
    if len(made) == 1:
        jobs.after_commit("workers.jobs.validate_declaration", made[0].id)
    elif made:  # one house's declarations: one batch (workers.jobs.BATCH_SIZE is far above)
        jobs.after_commit("workers.jobs.validate_declarations_batch", [d.id for d in made],
                          queue="low")


def scoped_address(officer: Officer, token: str | None) -> Address | None:
    """The address behind a door-plate token if it lies in the officer's area (console and
    officer API alike)."""
    token = (token or "").strip()
    if not token:
        return None
    return db.session.execute(scope(Address, select(Address).where(
        Address.qr_token == token), officer)).scalar_one_or_none()


def collect_recorded(officer: Officer, address: Address, *, ip: str | None, detail: dict,
                     **fields) -> Collected:
    """collect(), with its audit row naming the declarations made (console and API alike)."""
    result = collect(officer, address, **fields)
    audit.record(officer, "field.collect", "house", result.house.id, ip=ip,
                 detail={"declarations": [d.id for d in result.declarations], **detail})
    return result

