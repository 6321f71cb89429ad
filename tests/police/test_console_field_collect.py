"""Console field collection: a house and tenant registered on site with a drawn signature."""
from __future__ import annotations

import base64

from sqlalchemy import func, select

from app.extensions import db
from app.fakedata import FakeData
from app.models import Declaration, House
from tests.console.helpers import login

fake = FakeData(2035)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x02" * 64


def _form(world, **extra):
    return {"idempotency_key": "collect-1", "qr_token": world.a.other_address.qr_token,
            "lat": "24.48", "lng": "118.09", "rental_type": "whole", "rooms": "2",
            "o_document_type": "resident_id", "o_document_number": fake.resident_id(),
            "o_name": "张老伯", "t_name": ["刘租客"], "t_document_number": [fake.resident_id()],
            "t_document_type": ["resident_id"], "t_room": ["1"], "t_start_date": ["2026-11-01"],
            "signer_name": "张老伯",
            "signature_png": "data:image/png;base64," + base64.b64encode(PNG).decode(), **extra}


def test_the_phone_form_collects_a_house_and_tenant_once_per_key(client, world):
    login(client, "officer_a")
    page = client.get(f"/console/field-collect?token={world.a.other_address.qr_token}")
    assert page.status_code == 200 and "data-signature-pad" in page.get_data(as_text=True)
    form = _form(world)
    first = client.post("/console/field-collect", data=form)
    assert first.status_code == 303, first.get_data(as_text=True)
    again = client.post("/console/field-collect", data=form)
    assert again.status_code == 302
    house = db.session.execute(select(House).where(
        House.address_id == world.a.other_address.id)).scalar_one()
    assert house.pledge_signature and house.collected_channel == "field"
    assert db.session.execute(select(func.count(Declaration.id)).where(
        Declaration.channel == "field")).scalar() == 2


def test_without_a_signature_nothing_is_collected(client, world):
    login(client, "officer_a")
    resp = client.post("/console/field-collect", data=_form(world, signature_png=""))
    assert resp.status_code == 400 and "签名" in resp.get_data(as_text=True)
    assert db.session.execute(select(func.count(Declaration.id)).where(
        Declaration.channel == "field")).scalar() == 0


def test_another_stations_address_is_not_found(client, world):
    login(client, "officer_b")
    assert client.get(
        f"/console/field-collect?token={world.a.other_address.qr_token}").status_code == 404
    assert client.post("/console/field-collect", data=_form(world)).status_code == 404
