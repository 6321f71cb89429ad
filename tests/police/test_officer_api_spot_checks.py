"""Officer API spot checks (抽查): record by door-plate token, idempotent, scoped; plans."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.fakedata import FakeData
from app.models import Declaration, House, MissedRegistration, SpotCheck
from tests.factories import make_address
from tests.police.api import auth, new_key, token_of

fake = FakeData(2032)


def _body(world, number, **extra):
    return {"qr_token": world.a.address.qr_token, "lat": 24.48, "lng": 118.09,
            "persons": [{"name": "李漏登", "document_number": number, "room": "201"}], **extra}


def test_a_spot_check_by_token_answers_at_once_and_a_resend_changes_nothing(client, world):
    token = token_of(client, "officer_a")
    key = new_key()
    body = _body(world, fake.resident_id())
    first = client.post("/api/v1/officer/spot-checks", headers=auth(token, key), json=body)
    assert first.status_code == 200, first.get_json()
    out = first.get_json()
    assert out["house_id"] == world.a.house.id and out["missed"] == 1
    person = out["persons"][0]
    assert person["was_registered"] is False and person["name"] == "李*登"
    assert person["result"].startswith("未登记") and person["declaration_id"]
    again = client.post("/api/v1/officer/spot-checks", headers=auth(token, key), json=body)
    assert again.status_code == 200 and again.get_json() == out
    assert db.session.execute(select(func.count(SpotCheck.id))).scalar() == 1
    assert db.session.execute(select(func.count(MissedRegistration.id))).scalar() == 1
    declaration = db.session.get(Declaration, person["declaration_id"])
    assert declaration.channel == "field"
    read = client.get(f"/api/v1/officer/spot-checks/{out['id']}", headers=auth(token))
    assert read.get_json()["persons"][0]["was_registered"] is False
    listed = client.get("/api/v1/officer/spot-checks", headers=auth(token)).get_json()
    assert [c["id"] for c in listed] == [out["id"]]


def test_the_registered_resident_is_reported_registered(client, world):
    from tests.console.helpers import DOCUMENTS

    token = token_of(client, "officer_a")
    body = _body(world, DOCUMENTS["A"])
    body["persons"][0]["name"] = "A租客甲"
    out = client.post("/api/v1/officer/spot-checks", headers=auth(token, new_key()),
                      json=body).get_json()
    assert out["persons"][0]["was_registered"] is True and out["missed"] == 0


def test_a_write_without_an_idempotency_key_is_refused(client, world):
    token = token_of(client, "officer_a")
    resp = client.post("/api/v1/officer/spot-checks", headers=auth(token),
                       json=_body(world, fake.resident_id()))
    assert resp.status_code == 400 and "Idempotency-Key" in resp.get_json()["fields"]
    assert db.session.execute(select(func.count(SpotCheck.id))).scalar() == 0


def test_another_stations_house_and_check_are_not_found(client, world):
    token_a = token_of(client, "officer_a")
    out = client.post("/api/v1/officer/spot-checks", headers=auth(token_a, new_key()),
                      json=_body(world, fake.resident_id())).get_json()
    token_b = token_of(client, "officer_b")
    resp = client.post("/api/v1/officer/spot-checks", headers=auth(token_b, new_key()),
                       json=_body(world, fake.resident_id()))
    assert resp.status_code == 404
    by_id = client.post("/api/v1/officer/spot-checks", headers=auth(token_b, new_key()),
                        json={**_body(world, fake.resident_id()), "qr_token": None,
                              "house_id": world.a.house.id})
    assert by_id.status_code == 404
    lookup = client.get(f"/api/v1/officer/spot-checks/house?token={world.a.address.qr_token}",
                        headers=auth(token_b))
    assert lookup.status_code == 404
    assert client.get(f"/api/v1/officer/spot-checks/{out['id']}",
                      headers=auth(token_b)).status_code == 404
    assert client.get("/api/v1/officer/spot-checks", headers=auth(token_b)).get_json() == []
    assert db.session.execute(select(func.count(SpotCheck.id))).scalar() == 1
    mine = client.get(f"/api/v1/officer/spot-checks/house?token={world.a.address.qr_token}",
                      headers=auth(token_a))
    assert mine.status_code == 200 and mine.get_json()["id"] == world.a.house.id


def test_a_bad_document_number_is_a_field_error_in_chinese(client, world):
    token = token_of(client, "officer_a")
    resp = client.post("/api/v1/officer/spot-checks", headers=auth(token, new_key()),
                       json=_body(world, "110105194912310000"))
    assert resp.status_code == 400
    fields = resp.get_json()["fields"]
    assert "persons.0.document_number" in fields


def _houses(world, n):
    for _ in range(n):
        address = make_address(world.a.jurisdiction["community"])
        db.session.add(House(address_id=address.id, station_id=address.station_id,
                             police_area_id=address.police_area_id, is_rental=True))
    db.session.commit()


def test_a_station_admin_plans_and_the_officer_completes_the_item(client, world):
    _houses(world, 6)
    admin = token_of(client, "station_a")
    officer_id = world.officers["officer_a"].id
    plan = client.post("/api/v1/officer/spot-check-plans", headers=auth(admin, new_key()),
                       json={"size": 3, "seed": 99, "officer_ids": [officer_id]})
    assert plan.status_code == 200, plan.get_json()
    plan = plan.get_json()
    assert plan["seed"] == 99 and len(plan["items"]) == 3
    same = client.post("/api/v1/officer/spot-check-plans", headers=auth(admin, new_key()),
                       json={"size": 3, "seed": 99, "officer_ids": [officer_id]}).get_json()
    assert [i["house_id"] for i in same["items"]] == [i["house_id"] for i in plan["items"]]
    token = token_of(client, "officer_a")
    items = client.get("/api/v1/officer/spot-check-plan-items", headers=auth(token)).get_json()
    assert len(items) == 6
    item = items[0]
    done = client.post("/api/v1/officer/spot-checks", headers=auth(token, new_key()),
                       json={"plan_item_id": item["id"], "persons": [
                           {"name": "李漏登", "document_number": fake.resident_id()}]})
    assert done.status_code == 200 and done.get_json()["house_id"] == item["house_id"]
    left = client.get("/api/v1/officer/spot-check-plan-items", headers=auth(token)).get_json()
    assert item["id"] not in [i["id"] for i in left]
    twice = client.post("/api/v1/officer/spot-checks", headers=auth(token, new_key()),
                        json={"plan_item_id": item["id"], "persons": [
                            {"name": "李漏登", "document_number": fake.resident_id()}]})
    assert twice.status_code == 409


def test_a_plain_officer_cannot_plan_and_another_station_cannot_use_the_item(client, world):
    _houses(world, 2)
    officer_id = world.officers["officer_a"].id
    token = token_of(client, "officer_a")
    refused = client.post("/api/v1/officer/spot-check-plans", headers=auth(token, new_key()),
                          json={"size": 1, "officer_ids": [officer_id]})
    assert refused.status_code == 400
    admin = token_of(client, "station_a")
    plan = client.post("/api/v1/officer/spot-check-plans", headers=auth(admin, new_key()),
                       json={"size": 1, "seed": 1, "officer_ids": [officer_id]}).get_json()
    token_b = token_of(client, "officer_b")
    resp = client.post("/api/v1/officer/spot-checks", headers=auth(token_b, new_key()),
                       json={"plan_item_id": plan["items"][0]["id"], "persons": [
                           {"name": "李漏登", "document_number": fake.resident_id()}]})
    assert resp.status_code == 404


def test_spot_check_endpoints_are_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert "post" in doc["paths"]["/officer/spot-checks"]
    params = doc["paths"]["/officer/spot-checks"]["post"]["parameters"]
    assert any(p["name"] == "Idempotency-Key" for p in params)
    assert "/officer/spot-check-plans" in doc["paths"]
