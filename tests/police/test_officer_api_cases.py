"""Officer API 漏登 trace-back tasks: list, get, close — scoped, idempotent, in the OpenAPI."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.fakedata import FakeData
from app.models import MissedRegistration
from app.services.police import cases
from app.services.police.cases_import import read_rows
from tests.police.api import auth, new_key, token_of
from tests.police.test_cases import HEADER, NOW

fake = FakeData(1214)


def _miss(world) -> MissedRegistration:
    code = world.a.jurisdiction["station"].code
    body = HEADER + f"居民身份证,{fake.resident_id()},接口案,AJ-API,2026-11-20,{code},是\n"
    cases.import_rows(read_rows("c.csv", body.encode()), now=NOW)
    db.session.commit()
    return db.session.execute(select(MissedRegistration)).scalar_one()


def test_an_officer_lists_gets_and_closes_a_task_once_per_key(client, world):
    task = _miss(world)
    token = token_of(client, "officer_a")
    listed = client.get("/api/v1/officer/missed-registrations", headers=auth(token)).get_json()
    assert [t["id"] for t in listed] == [task.id]
    one = client.get(f"/api/v1/officer/missed-registrations/{task.id}",
                     headers=auth(token)).get_json()
    assert one["source"] == "case" and one["case"]["case_number"] == "AJ-API"
    assert one["case"]["name"] == "接*案" and one["status"] == "open"
    key = new_key()
    body = {"outcome": "lied", "note": "本人称住亲戚家", "address_text": "某路2号"}
    first = client.post(f"/api/v1/officer/missed-registrations/{task.id}/close",
                        headers=auth(token, key), json=body)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["outcome"].startswith("本人谎报")
    again = client.post(f"/api/v1/officer/missed-registrations/{task.id}/close",
                        headers=auth(token, key), json=body)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    other = client.post(f"/api/v1/officer/missed-registrations/{task.id}/close",
                        headers=auth(token, new_key()), json=body)
    assert other.status_code == 409


def test_bad_input_names_the_field_in_chinese(client, world):
    task = _miss(world)
    token = token_of(client, "officer_a")
    resp = client.post(f"/api/v1/officer/missed-registrations/{task.id}/close",
                       headers=auth(token, new_key()), json={"outcome": "maybe"})
    assert resp.status_code == 400 and "追溯结果" in str(resp.get_json()["fields"]["outcome"])
    resp = client.post(f"/api/v1/officer/missed-registrations/{task.id}/close",
                       headers=auth(token, new_key()), json={"outcome": "other"})
    assert resp.status_code == 400 and "note" in resp.get_json()["fields"]


def test_another_areas_task_is_not_found(client, world):
    task = _miss(world)
    token = token_of(client, "officer_b")
    assert client.get(f"/api/v1/officer/missed-registrations/{task.id}",
                      headers=auth(token)).status_code == 404
    assert client.post(f"/api/v1/officer/missed-registrations/{task.id}/close",
                       headers=auth(token, new_key()),
                       json={"outcome": "lied"}).status_code == 404
    assert client.get("/api/v1/officer/missed-registrations",
                      headers=auth(token)).get_json() == []
    db.session.expire_all()
    assert db.session.get(MissedRegistration, task.id).status == "open"


def test_the_openapi_document_has_the_trace_back_operations(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert "get" in paths["/officer/missed-registrations"]
    assert "post" in paths["/officer/missed-registrations/{missed_id}/close"]
