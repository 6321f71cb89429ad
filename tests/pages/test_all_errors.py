"""Item 12: an H5 form names every wrong field at once, next to it, in plain words."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from app.fakedata import FakeData
from app.models import Declaration, House
from tests.factories import make_address, make_jurisdiction
from tests.h5.test_pages import house_form, sign_in

fake = FakeData(1414)


def wrong_checksum(number: str) -> str:
    return number[:-1] + ("0" if number[-1] != "0" else "1")


def field_errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'<div class="error" id="e-([\w-]+)" role="alert">([^<]+)</div>', html))


def test_house_form_with_three_wrong_fields_shows_three_messages(client, db):
    place = make_jurisdiction()
    address = make_address(place["community"])
    db.session.commit()
    sign_in(client, "房东")
    form = house_form(address, **{"owner-document_number": wrong_checksum(fake.resident_id()),
                                  "owner-phone": "12345", "rooms": "0"})
    resp = client.post(f"/h5/a/{address.qr_token}/house", data=form)
    errors = field_errors(resp.get_data(as_text=True))
    assert resp.status_code == 400
    assert errors == {"owner-document_number": "身份证号码有误，请核对最后一位",
                      "owner-phone": "手机号码有误，应为11位数字，以1开头",
                      "rooms": "房间数应在1到200之间"}
    assert db.session.execute(select(func.count()).select_from(House)).scalar_one() == 0


def test_move_in_names_every_wrong_tenant_field(client, db):
    place = make_jurisdiction()
    address = make_address(place["community"])
    db.session.commit()
    sign_in(client, "房东")
    client.post(f"/h5/a/{address.qr_token}/house", data=house_form(address))
    house = db.session.execute(select(House)).scalar_one()
    form = {"rows": "2",
            "tenants-0-name": "租客甲", "tenants-0-document_type": "resident_id",
            "tenants-0-document_number": wrong_checksum(fake.resident_id()),
            "tenants-0-start_date": "2026-11-01",
            "tenants-1-name": "租客乙", "tenants-1-document_type": "resident_id",
            "tenants-1-document_number": fake.resident_id(), "tenants-1-phone": "1380000",
            "tenants-1-start_date": "昨天"}
    resp = client.post(f"/h5/houses/{house.id}/move-in", data=form)
    errors = field_errors(resp.get_data(as_text=True))
    assert resp.status_code == 400
    assert set(errors) == {"tenants-0-document_number", "tenants-1-phone", "tenants-1-start_date"}
    assert "请核对最后一位" in errors["tenants-0-document_number"]
    kinds = db.session.execute(select(Declaration.kind)).scalars().all()
    assert "move_in" not in kinds
