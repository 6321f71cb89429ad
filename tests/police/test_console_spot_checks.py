"""Console spot-check pages: door-plate lookup, on-site form idempotent by its key, scoped."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.fakedata import FakeData
from app.models import House, MissedRegistration, SpotCheck
from tests.console.helpers import login
from tests.factories import make_address

fake = FakeData(2033)


def _form(world, key="form-key-1", number=None):
    return {"idempotency_key": key, "house_id": str(world.a.house.id), "lat": "24.48",
            "lng": "118.09", "name": ["李漏登", ""], "document_type": ["resident_id", "resident_id"],
            "document_number": [number or fake.resident_id(), ""], "room": ["301", ""]}


def test_a_token_finds_the_house_and_the_form_records_once_per_key(client, world):
    login(client, "officer_a")
    resp = client.get(f"/console/spot-checks?token={world.a.address.qr_token}")
    assert resp.status_code == 302 and f"house_id={world.a.house.id}" in resp.location
    page = client.get(resp.location).get_data(as_text=True)
    assert "现场抽查" in page and "data-idempotency-key" in page
    form = _form(world)
    first = client.post("/console/spot-checks", data=form)
    assert first.status_code == 303
    again = client.post("/console/spot-checks", data=form)
    assert again.status_code == 302 and again.location.endswith(first.location)
    assert db.session.execute(select(func.count(SpotCheck.id))).scalar() == 1
    assert db.session.execute(select(func.count(MissedRegistration.id))).scalar() == 1
    result = client.get(first.location).get_data(as_text=True)
    assert "未登记" in result and "李*登" in result and "301" in result


def test_another_stations_house_is_not_found_from_the_console(client, world):
    login(client, "officer_b")
    assert client.get(f"/console/spot-checks/new?house_id={world.a.house.id}").status_code == 404
    assert client.post("/console/spot-checks", data=_form(world)).status_code == 404
    page = client.get(f"/console/spot-checks?token={world.a.address.qr_token}",
                      follow_redirects=True).get_data(as_text=True)
    assert "不在您的辖区" in page
    assert db.session.execute(select(func.count(SpotCheck.id))).scalar() == 0


def test_a_bad_document_number_is_shown_in_chinese_and_records_nothing(client, world):
    login(client, "officer_a")
    resp = client.post("/console/spot-checks", data=_form(world, number="110105194912310000"))
    assert resp.status_code == 400 and "证件" in resp.get_data(as_text=True)
    assert db.session.execute(select(func.count(SpotCheck.id))).scalar() == 0


def test_a_station_admin_draws_a_plan_from_the_console(client, world):
    for _ in range(4):
        address = make_address(world.a.jurisdiction["community"])
        db.session.add(House(address_id=address.id, station_id=address.station_id,
                             police_area_id=address.police_area_id, is_rental=True))
    db.session.commit()
    login(client, "station_a")
    resp = client.post("/console/spot-check-plans", data={
        "size": "2", "seed": "77", "officer_ids": [str(world.officers["officer_a"].id)]})
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "已抽取 2 户" in page and ">77<" in page
    client.post("/console/logout")
    login(client, "officer_a")
    mine = client.get("/console/spot-checks").get_data(as_text=True)
    assert mine.count("data-plan-item=") == 2
    client.post("/console/logout")
    login(client, "officer_a")
    assert client.get("/console/spot-check-plans").status_code == 403
